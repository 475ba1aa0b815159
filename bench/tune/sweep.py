"""The loop every `bench tune` sweep shares, whatever its knob: `Sweep.run(task)`.

Stack up once; one run folder and its tune.json (bench.record.tune.TuneRecord, rewritten after every trial);
priming; a monitoring connection that survives a PostgreSQL restart; per point a fresh Apache started with that
point's settings (not a graceful restart: after one, prefork holds its respawn rate at one child per second for
ten passes, which is not how a long-running server behaves) and one trial through `bench.load.trial.Trial`, the
same trial `bench run` measures with; on any exit (an interrupt too) the trial under way stopped, the sweep
concluded from what was measured, the monitor closed and the stack stopped.

What differs between knobs is a `SweepTask` (bench.tune.knobs.Knob.task builds one from the parsed options, as
each of pyperf's bench_* builds a task for one `_main`): its points, how a point is measured, how the sweep
concludes, and what follows (the confirmation of max-connections-per-child).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import paths, stack
from bench.load.plan import Plan
from bench.record.tune import TunePlan, TuneRecord
from bench.record.tune_points import Missing, PointTrial, SweepTrial
from bench.stack import cpus, postgres
from bench.stack.knobs import StackSettings

Log = Callable[[str], None]


@dataclass(frozen=True)
class SweepPoint:
    """One planned trial: the point (keep-alive mode, value), the trial's number, its settings and folder."""

    mode: str
    value: int
    trial: int
    settings: StackSettings
    folder: str            # under trials/, e.g. "kaon-n100"
    users: int | None = None  # None: the plan's


class SweepTask:
    """What a knob supplies to the sweep. Subclasses fill the attributes and override the hooks they need."""

    label: str                 # the run folder's label (runs/<time>-<label>)
    settings: StackSettings    # the sweep's settings as recorded and primed with (each point sets its own)
    first: StackSettings | None = None  # the stack's first Apache, when not `settings`
    plan: Plan                 # the load of one trial
    dropped: tuple[str, ...] | None = None  # values not measured, each with why (None: the knob records none)
    log: Log = print

    def points(self) -> list[SweepPoint]:
        """The trials in the order they run (interleaved: every point once, then every point again)."""
        raise NotImplementedError

    def record_plan(self, generator_cpus: Any) -> TunePlan:
        """tune.json's "plan"."""
        raise NotImplementedError

    def describe(self, point: SweepPoint, i: int, total: int) -> str:
        """The progress line before a trial."""
        raise NotImplementedError

    def measure(self, sweep: Sweep, point: SweepPoint, step: dict[str, Any]) -> PointTrial:
        """One trial of `point` on a fresh Apache with its settings (a knob may measure a point otherwise)."""
        result, _ = sweep.point(self.plan, step, point.settings, f"trials/{step['seq']:03d}-{point.folder}",
                                point.users)
        return self.figures(result, point)

    def figures(self, result: SweepTrial, point: SweepPoint) -> PointTrial:
        """The point-trial a knob records of a trial."""
        raise NotImplementedError

    def progress(self, trial: PointTrial) -> str:
        """The line after a trial."""
        raise NotImplementedError

    def skips(self, point: SweepPoint) -> bool:
        """Whether a planned trial is skipped (what the trials so far ruled out)."""
        return False

    def measured(self, record: TuneRecord, trial: PointTrial, log: Log) -> None:
        """After each trial (e.g. drop the values a measured memory rules out)."""

    def conclude(self, record: TuneRecord, complete: bool) -> None:
        """Conclude from what was measured, also after an interrupt: write the conclusions into `record`."""
        raise NotImplementedError

    def after(self, sweep: Sweep, record: TuneRecord, complete: bool, log: Log) -> None:
        """What follows the sweep on the same stack (the confirmation)."""


class Sweep:
    """One stack, one run folder, the points of a task: `run`. Also the context the points are measured in."""

    def __init__(self, settings: StackSettings, label: str, partition: cpus.Partition | None = None):
        self.settings = settings
        self.label = label
        self.partition = partition or cpus.Partition(None, None)
        self.live: stack.Stack | None = None
        self.monitor: postgres.Monitor | None = None
        self.run_dir: Path | None = None
        self._trial: Any = None
        self.seq = 0  # the trials run so far, sweep and confirmation

    @classmethod
    def run(cls, task: SweepTask, partition: cpus.Partition | None = None, log: Log = print) -> Path:
        """Run `task`'s sweep; returns the run folder, whose tune.json holds every point measured."""
        from bench.load.run import prime  # the measuring machinery: loaded by a sweep, not by `bench --help`

        with cls(task.first or task.settings, task.label, partition) as sweep:
            points = task.points()
            record = TuneRecord(sweep.folder, plan=task.record_plan(sweep.partition.generator_list),
                                stack=task.settings.to_dict(), environment=sweep.environment(),
                                todo=[Missing.new(keepalive=p.mode, value=p.value, trial=p.trial) for p in points])
            if task.dropped is not None:
                record.update(dropped=task.dropped)
            complete = False
            try:
                prime(sweep.url, task.plan, settings=task.settings)
                for i, point in enumerate(points, 1):
                    sweep.seq = i
                    if task.skips(point):
                        continue
                    log(f"[{i}/{len(points)}] {task.describe(point, i, len(points))}")
                    trial = task.measure(sweep, point, sweep.step(task.plan, point))
                    record.add_trial(point.mode, point.value, trial)
                    log(f"    {task.progress(trial)}")
                    task.measured(record, trial, log)
                complete = True
            finally:
                task.conclude(record, complete)
            task.after(sweep, record, complete, log)
        return sweep.folder

    def step(self, plan: Plan, point: SweepPoint) -> dict[str, Any]:
        """The plan step of the trial under way (bench.load.trial.Trial's cell)."""
        step = {"seq": self.seq, "trial": point.trial, "workload": plan.workloads[0], "variant": plan.variants[0]}
        return step if point.users is None else step | {"users": point.users}

    def __enter__(self) -> Sweep:
        from bench.load.run import new_run_dir

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
    def running(self) -> stack.Stack:
        """The running stack (inside the `with`)."""
        assert self.live is not None, "the sweep's stack is up only inside its `with`"
        return self.live

    @property
    def folder(self) -> Path:
        """The run folder (inside the `with`)."""
        assert self.run_dir is not None, "the sweep's run folder exists only inside its `with`"
        return self.run_dir

    @property
    def url(self) -> str:
        return self.running.url

    def environment(self) -> dict:
        """Machine facts and versions, recorded with every sweep."""
        from bench.load import machine
        from bench.load.run import probe

        live = self.running
        return {"machine": machine.machine(),
                "versions": machine.versions(probe(live.url + live.apache.probe_path)[1].get("Server"),
                                             postgres.settings(live.admin_dsn or live.dsn).get("server_version"))}

    def point(self, plan: Plan, step: dict, settings: StackSettings, rel: str,
              users: int | None = None) -> tuple[SweepTrial, float]:
        """One trial on a fresh Apache with `settings`; returns the trial as a sweep reads it and when Apache
        started."""
        started = self.start(settings)
        return self.read(self.trial(plan, step, rel, users)), started

    @staticmethod
    def read(result: dict[str, Any]) -> SweepTrial:
        """A trial's record as the sweep reads it: the one place a sweep reads bench.load.trial's trial.json."""
        return SweepTrial.from_json(result)

    def start(self, settings: StackSettings) -> float:
        """A fresh Apache with `settings` (the trials that follow measure it); returns when it started."""
        from bench.load.sampler import process_started
        from bench.stack.apache import Apache

        live = self.running
        live.apache.stop()
        # The trial reads slots and recycling from live.settings: they must be this point's.
        live.settings = settings
        live.apache = Apache(live.state, settings, live.dsn)
        live.apache.prepare()
        live.apache.start()
        pid = live.apache.pid()
        return (process_started(pid) if pid is not None else None) or time.time()

    def trial(self, plan: Plan, step: dict, rel: str, users: int | None = None) -> dict:
        """One trial on the Apache `start` started (a step with a "rate" is an open-model trial): its trial.json
        (`read` reads it)."""
        from bench.load.trial import Trial

        live = self.running
        self._trial = Trial(self.folder, plan, step, live.url, live, self.monitor, restart=False,
                            partition=self.partition, rel=rel, users=users)
        (self._trial.dir / "httpd.conf").write_text(live.apache.conf.read_text())
        result = self._trial.execute()
        self._trial = None
        return result
