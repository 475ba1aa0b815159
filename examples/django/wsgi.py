"""The site's WSGI entry (bench: --app-wsgi wsgi.py), as mod_wsgi serves it.

Django reads its settings module and its database at the first request, from os.environ:
DJANGO_SETTINGS_MODULE (default the all-kept `mysite.settings_pooled`; each `--app-variant` sets its own) and
BENCH_DSN, the database. Under the suite, the DSN comes from the request's `bench.dsn` (Apache's SetEnv: the
suite's PostgreSQL or --dsn, a passfile and never a password), copied into os.environ before Django starts.
"""

import os
import threading

_lock = threading.Lock()
_django = None


def application(environ, start_response):
    global _django
    if _django is None:
        with _lock:
            if _django is None:
                if environ.get("bench.dsn"):
                    os.environ.setdefault("BENCH_DSN", environ["bench.dsn"])
                os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings_pooled")
                from django.core.wsgi import get_wsgi_application

                _django = get_wsgi_application()
    return _django(environ, start_response)
