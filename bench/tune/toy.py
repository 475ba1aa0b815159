"""`bench tune --knob keepalive-timeout`: a toy knob, measured only: each KeepAliveTimeout on a fresh Apache, the
fastest recommended. It shows what a knob is: this one module (its report is the generic page)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bench.errors import UserError
from bench.record.tune import TuneData, TunePlan, TuneRecord
from bench.record.tune_conclusions import Advice
from bench.record.tune_points import Point, PointTrial, SweepTrial
from bench.stack.knobs import StackSettings
from bench.tune import summaries
from bench.tune.knobs import MEASURED_ONLY, Knob, as_tune_data
from bench.tune.options import SweepArgs, TuneOptions, check_workload
from bench.tune.sweep import Log, SweepPoint, SweepTask

NAME = "keepalive-timeout"


@dataclass(frozen=True)
class ToyArgs(SweepArgs):
    values: tuple[int, ...]


def recommend(points: list[Point]) -> Advice:
    """The value that served the most requests/s."""
    measured = [p for p in points if p.rps]
    if not measured:
        return Advice.new(directives=(), reasoning="no point was measured")
    best = max(measured, key=lambda p: p.rps or 0)
    return Advice.new(directives=(f"KeepAliveTimeout {best.n}",),
                      reasoning=f"KeepAliveTimeout {best.n} served the most: {best.rps:,.0f} req/s.")


class ToyTask(SweepTask):
    label = "tune-keepalive-timeout"

    def __init__(self, args: ToyArgs, settings: StackSettings, log: Log):
        check_workload(args.workload, args.variant)
        self.args, self.plan, self.log, self.settings = args, args.load_plan(), log, replace(settings, keepalive=True)

    def points(self) -> list[SweepPoint]:
        return [SweepPoint("on", v, t, replace(self.settings, keepalive_timeout=v), f"kat{v}")
                for t in range(1, self.args.trials + 1) for v in self.args.values]

    def record_plan(self, generator_cpus: Any) -> TunePlan:
        a = self.args
        return TunePlan.new(knob=NAME, values=a.values, workload=a.workload, variant=a.variant, keepalive=("on",),
                            users=a.users, duration_s=a.duration, warmup_s=a.warmup, trials=a.trials,
                            generator_cpus=generator_cpus)

    def describe(self, point: SweepPoint, i: int, total: int) -> str:
        return f"KeepAliveTimeout {point.value}, trial {point.trial}: {self.args.duration:g} s"

    def figures(self, result: SweepTrial, point: SweepPoint) -> PointTrial:
        return result.point_trial(point.trial, failures=result.client.failures, generator_bound=result.generator_bound,
                                  bottleneck=result.limit, flags=result.flags)

    def progress(self, trial: PointTrial) -> str:
        return f"{trial.rps or 0:,.0f} req/s, p99 {trial.p99_ms or 0:.2f} ms"

    def conclude(self, record: TuneRecord, complete: bool) -> None:
        record.finish({}, recommend(list(record.data.points)), complete)


class ToyKnob(Knob):
    """KeepAliveTimeout: how long an idle kept-alive connection holds its child."""

    name = NAME
    title = "KeepAliveTimeout (a toy knob)"
    directives = ("KeepAliveTimeout",)
    model = MEASURED_ONLY
    default_values = ("1,5,15", "1,5")
    values_help = "KeepAliveTimeout seconds"
    folder_label = ToyTask.label

    def parse_values(self, text: str) -> list[int]:
        try:
            values = sorted({int(x) for x in text.split(",") if x.strip()})
        except ValueError:
            values = []
        if not values or values[0] < 1:
            raise UserError(f"--values {text!r} is not a comma list of seconds >= 1 (e.g. 1,5,15)")
        return values

    def parse(self, opts: TuneOptions) -> ToyArgs:
        values = self.parse_values(self.values_text(opts.values, opts.quick))
        return ToyArgs(**ToyArgs.common(opts), values=tuple(values))

    def task(self, args: ToyArgs, settings: StackSettings, log: Log) -> ToyTask:
        return ToyTask(args, settings, log)

    def summary_text(self, record: TuneData | dict[str, Any]) -> str:
        data = as_tune_data(record)
        return "\n".join([f"{p.n:>6} {p.rps or 0:>9,.0f} req/s" for p in data.points] + summaries.advice_lines(data))
