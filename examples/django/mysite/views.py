"""One page: the fortunes (one query), plus one added at request time, sorted and rendered by a template."""

import random

from django.shortcuts import render

from mysite.models import Fortune, World


def fortunes(request):
    rows = [(f.id, f.message) for f in Fortune.objects.all()]
    rows.append((0, "Additional fortune added at request time."))
    rows.sort(key=lambda row: row[1])
    return render(request, "fortunes.html", {"fortunes": rows})


def world(request):
    row = World.objects.get(id=random.randint(1, 10000))
    return render(request, "world.html", {"world": row})
