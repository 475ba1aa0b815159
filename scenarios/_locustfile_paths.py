"""AppPaths: the User of `bench --app ... --paths /a,/b?x=1`: GET each path in turn (round-robin, every user
starting at its own offset), closed loop, each request named by its path as given. `{n}` in a path is
replaced by a number that grows with every request of this Locust process (`/?page={n}`: keys that never
repeat, as a crawler's); the request name keeps `{n}`. A response is a failure when its status is not 2xx or
3xx; nothing else is expected of a user's application."""

from __future__ import annotations

import itertools

from _bench._options import bench_options
from _locustfile_app import paths_of
from locust import FastHttpUser, constant, task


class AppPaths(FastHttpUser):
    wait_time = constant(0)  # closed loop, as the suite's own classes
    _started = itertools.count()
    _numbers = itertools.count(1)  # {n}: one series per Locust process, shared by its users

    def on_start(self) -> None:
        paths = paths_of(self.environment) or ["/"]
        offset = next(self._started) % len(paths)
        self._paths = itertools.cycle(paths[offset:] + paths[:offset])
        close = bench_options(self.environment).close_connection
        self._headers = {"Connection": "close"} if close else None

    @task
    def get_path(self) -> None:
        path = next(self._paths)
        url = path.replace("{n}", str(next(self._numbers))) if "{n}" in path else path
        with self.client.get(url, name=path, headers=self._headers, catch_response=True) as resp:
            if resp.status_code == 0:
                return  # connection error: Locust records the exception as the failure
            if 200 <= resp.status_code < 400:
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}")
