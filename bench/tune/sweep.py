"""The skeleton every `bench tune` sweep shares, whatever its knob.

Stack up once; one run folder; a monitoring connection that survives a PostgreSQL restart; per point a fresh
Apache started with that point's settings (not a graceful restart: after one, prefork holds its respawn
rate at one child per second for ten passes, which is not how a long-running server behaves) and one trial
through `bench.load.trial.Trial`, the same trial `bench run` measures with; on any exit the trial under way
stopped, the monitor closed and the stack stopped. The caller concludes its record inside the `with`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench import paths, stack
from bench.load import machine
from bench.load.plan import Plan
from bench.load.run import new_run_dir, probe
from bench.load.sampler import process_started
from bench.load.trial import Trial
from bench.record.tune_points import SweepTrial
from bench.stack import cpus, postgres
from bench.stack.apache import Apache
from bench.stack.knobs import StackSettings


class Sweep:
    def __init__(self, settings: StackSettings, label: str, partition: cpus.Partition | None = None):
        self.settings = settings
        self.label = label
        self.partition = partition or cpus.Partition(None, None)
        self.live: stack.Stack | None = None
        self.monitor: postgres.Monitor | None = None
        self.run_dir: Path | None = None
        self._trial: Trial | None = None

    def __enter__(self) -> Sweep:
        paths.check_runs_dir()  # before anything starts
        self.live = stack.up(self.settings)
        try:
            self.run_dir = new_run_dir(self.label)
            self.monitor = postgres.Monitor(self.live.admin_dsn or self.live.dsn)
        except BaseException:
            stack.down(self.live.state)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._trial is not None:
            self._trial.abort()
        if self.monitor is not None:
            self.monitor.close()
        if self.live is not None:
            stack.down(self.live.state)

    @property
    def url(self) -> str:
        return self.live.url

    def environment(self) -> dict:
        """Machine facts and versions, recorded with every sweep."""
        live = self.live
        return {"machine": machine.machine(),
                "versions": machine.versions(probe(live.url + live.apache.probe_path)[1].get("Server"),
                                             postgres.settings(live.admin_dsn or live.dsn).get("server_version"))}

    def point(self, plan: Plan, step: dict, settings: StackSettings, rel: str,
              users: int | None = None) -> tuple[SweepTrial, float]:
        """One trial on a fresh Apache with `settings`; returns the trial as a sweep reads it and when Apache
        started."""
        started = self.start(settings)
        return SweepTrial.from_json(self.trial(plan, step, rel, users)), started

    def start(self, settings: StackSettings) -> float:
        """A fresh Apache with `settings` (the trials that follow measure it); returns when it started."""
        live = self.live
        live.apache.stop()
        # The trial reads slots and recycling from live.settings: they must be this point's.
        live.settings = settings
        live.apache = Apache(live.state, settings, live.dsn)
        live.apache.prepare()
        live.apache.start()
        return process_started(live.apache.pid()) or time.time()

    def trial(self, plan: Plan, step: dict, rel: str, users: int | None = None) -> dict:
        """One trial on the Apache `start` started (a step with a "rate" is an open-model trial)."""
        live = self.live
        self._trial = Trial(self.run_dir, plan, step, live.url, live, self.monitor, restart=False,
                            partition=self.partition, rel=rel, users=users)
        (self._trial.dir / "httpd.conf").write_text(live.apache.conf.read_text())
        result = self._trial.execute()
        self._trial = None
        return result
