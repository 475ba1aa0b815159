"""Visitors of the guestbook, for `bench run/tune --app examples/guestbook ... --locustfile THIS_FILE`:
most read the front page, some page back through older entries (any page number, as a crawler does, which
is what makes the guestbook's page memo grow). Plain Locust: nothing here knows about the suite."""

import random

from locust import FastHttpUser, constant, task


class Visitor(FastHttpUser):
    wait_time = constant(0)

    @task(3)
    def front_page(self):
        self.client.get("/")

    @task
    def older_entries(self):
        self.client.get(f"/?page={random.randint(1, 1_000_000)}", name="/?page=N")
