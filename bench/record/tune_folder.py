"""A `bench tune` run folder as readers see it: tune.json read once into its classes, plus the per-trial files.

tune.json passes `bench.record.tune.load_tune` (schema gate, shape check) and is then read once into
`bench.record.tune.TuneData` (each part tolerantly, by its class's `from_json`: a missing key, a null or a wrong
type is None, which is not 0). The report reads `TuneRun` and the parts it hands out (`Point`, `PointTrial`,
`ModeConclusion`, `Confirmation`, `Sizing` ...), not tune.json's dicts. Unreadable per-trial files are recorded
in `TuneRun.problems` (bench.record.run_folder.RunFolder), never raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from bench.record.run_folder import RunFolder
from bench.record.tune import MODES as MODE_ORDER
from bench.record.tune import TuneData, TunePlan, TuneStack, load_tune
from bench.record.tune_conclusions import Advice, Confirmation, ModeConclusion, Sizing
from bench.record.tune_points import Missing, Point, PointTrial, mode_label
from bench.record.values import num, obj, pair

__all__ = ["ApacheSamples", "TuneRun", "mode_label"]


@dataclass
class ApacheSamples:
    """A trial's Apache memory over time (its samples.jsonl) and its clock (its trial.json)."""

    rss_kb: list[tuple[str, float, float]]  # (pid, epoch seconds, RSS KB) of each Apache sample with an RSS
    first_t: float | None                   # the earliest sample of any role
    started: float | None                   # when Apache started
    steady: tuple[float, float] | None      # the steady window, epoch seconds


class TuneRun(RunFolder):
    """A `bench tune` folder: tune.json (`record`, read once) plus the per-trial files."""

    @staticmethod
    def load(run_dir: Path | str) -> dict[str, Any]:
        return load_tune(run_dir)

    @cached_property
    def record(self) -> TuneData:
        return TuneData.from_json(self.data)

    # --- top level -------------------------------------------------------------------------------
    @property
    def knob(self) -> str:
        """The swept knob (tune.json plan "knob"; schema 1 knew only max-connections-per-child)."""
        return self.record.knob

    @property
    def tune_plan(self) -> TunePlan:
        return self.record.plan or TunePlan.from_json({})

    @property
    def tune_stack(self) -> TuneStack:
        return self.record.stack or TuneStack.from_json({})

    @property
    def stack(self) -> dict[str, Any]:
        """The stack settings as recorded, for the settings table."""
        return obj(self.data.get("stack"))

    @property
    def server(self) -> str:
        """The Apache module the sweep ran under (older records: mod_python, the only one then)."""
        return self.tune_stack.server or "mod_python"

    @property
    def max_keepalive_requests(self) -> int | None:
        return self.tune_stack.max_keepalive_requests

    @property
    def max_loss(self) -> float | None:
        return self.tune_plan.max_loss

    @property
    def max_p99_ms(self) -> float | None:
        return self.tune_plan.max_p99_ms

    @property
    def slo(self) -> str | None:
        """--knob processes --slo: the SLO each count's capacity was searched at (its rps is that capacity)."""
        return self.tune_plan.slo or None

    @property
    def memory_budget_mb(self) -> float | None:
        return self.tune_plan.memory_budget_mb

    @property
    def memory_budget_scope(self) -> str | None:
        return self.tune_plan.memory_budget_scope or None

    @property
    def finished(self) -> str | None:
        return self.record.finished or None

    @property
    def concluded(self) -> bool:
        """Whether tune.json holds the per-mode conclusions (model, check, recommendation)."""
        return bool(self.record.modes)

    @property
    def workload(self) -> str:
        return self.tune_plan.workload or "?"

    @property
    def variant(self) -> str:
        return self.tune_plan.variant or "?"

    @property
    def processes(self) -> int | None:
        return self.tune_stack.processes

    @property
    def advice(self) -> Advice:
        return self.record.advice or Advice.from_json({})

    @property
    def directives(self) -> list[str]:
        return list(self.advice.directives)

    @property
    def reasoning(self) -> str | None:
        return self.advice.reasoning or None

    @property
    def sizing(self) -> Sizing:
        return self.record.sizing or Sizing.from_json({})

    @property
    def dropped(self) -> list[str]:
        """Values the sweep did not measure, each with why (the processes knob)."""
        return list(self.record.dropped)

    @property
    def advice_mode(self) -> str | None:
        m = self.advice.mode
        return m if m in MODE_ORDER else None

    @property
    def confirmation(self) -> Confirmation:
        return self.record.confirmation or Confirmation.from_json({})

    @property
    def missing(self) -> list[Missing]:
        return list(self.record.missing)

    # --- points and modes ------------------------------------------------------------------------
    @cached_property
    def points(self) -> list[Point]:
        return sorted(self.record.points, key=lambda p: (MODE_ORDER.index(p.mode), p.n))

    @property
    def modes(self) -> list[str]:
        """The keep-alive modes in a fixed order: planned, measured or concluded."""
        seen = set(self.tune_plan.keepalive) | {p.mode for p in self.points} | set(self.record.modes)
        return [m for m in MODE_ORDER if m in seen]

    def mode_points(self, mode: str) -> list[Point]:
        return [p for p in self.points if p.mode == mode]

    def point(self, mode: str, n: int) -> Point | None:
        return next((p for p in self.points if p.mode == mode and p.n == n), None)

    def conclusion(self, mode: str) -> ModeConclusion:
        """The conclusion of `mode`; an empty one (every part None) when the sweep did not conclude it."""
        return self.record.modes.get(mode) or ModeConclusion.from_json({})

    # --- files -----------------------------------------------------------------------------------
    def apache_samples(self, trial: PointTrial) -> ApacheSamples | None:
        """The trial's Apache samples and clock; None when its samples.jsonl is missing."""
        rows = self.samples(trial.to_json())
        if rows is None:
            return None
        info = self.trial_json(trial) or {}
        rss = [(str(r.get("pid")), float(r["t"]), kb) for r in rows
               if r.get("role") == "apache" and (kb := num(r.get("rss_kb"))) is not None]
        return ApacheSamples(rss, min((float(r["t"]) for r in rows), default=None), num(info.get("started")),
                             pair(info.get("steady")))

    def trial_json(self, trial: PointTrial) -> dict[str, Any] | None:
        base = self.trial_path(trial.to_json())
        data = None if base is None else self.read_json(base / "trial.json")
        return data if isinstance(data, dict) else None

    def httpd_conf(self) -> tuple[str, str] | None:
        """(trial dir, text) of the first trial folder that kept its generated httpd.conf."""
        for p in self.points:
            for t in p.trials:
                base = self.trial_path(t.to_json())
                if base is not None and (base / "httpd.conf").is_file():
                    try:
                        return self.rel(base), (base / "httpd.conf").read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        continue
        return None
