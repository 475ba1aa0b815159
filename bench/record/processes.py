"""The per-process view of a cell: medians over its trials of each trial's median over its serving processes
(trial.json `per_process_threads`, bench.load.per_process). One computation for the terminal
(bench.console.per_process_table) and the run report (reports/run/threads.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import median

from bench.record.trial import ProcessFigures
from bench.record.values import num


@dataclass(frozen=True)
class ProcessMedians:
    """A cell's per-process figures (None: not measured): serving processes per trial, each one's requests/s,
    requests in service at once (mean, peak), CPU % (100 = one core), requests per CPU second of its own."""

    processes: float | None
    rps: float | None
    busy_threads: float | None
    busy_peak: float | None
    cpu_pct: float | None
    requests_per_cpu_s: float | None


def _median(values: list[float]) -> float | None:
    return median(values) if values else None


def _per_trial(recorded: Sequence[Sequence[ProcessFigures]], key: Callable[[ProcessFigures], float | None]
               ) -> float | None:
    """The median over trials of each trial's median over its processes."""
    return _median([m for procs in recorded
                    if (m := _median([v for p in procs if (v := num(key(p))) is not None])) is not None])


def process_medians(recorded: Sequence[Sequence[ProcessFigures] | None]) -> ProcessMedians | None:
    """The medians over the trials that recorded per-process figures (None for a trial that did not);
    None when none did."""
    have = [procs for procs in recorded if procs is not None]
    if not have:
        return None
    return ProcessMedians(
        _median([float(len(procs)) for procs in have if procs]),
        _per_trial(have, lambda p: p.rps), _per_trial(have, lambda p: p.busy_threads),
        _per_trial(have, lambda p: p.busy_peak), _per_trial(have, lambda p: p.cpu_pct),
        _per_trial(have, lambda p: p.requests_per_cpu_s))
