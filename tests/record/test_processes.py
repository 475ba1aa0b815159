"""bench/record/processes.py: one computation of the per-process medians for the terminal and the report."""

from __future__ import annotations

from bench.record.processes import process_medians
from bench.record.trial import ProcessFigures


def _procs(*rps: float, peak: int = 2) -> tuple[ProcessFigures, ...]:
    return tuple(ProcessFigures(pid=i, requests=10, rps=r, busy_threads=0.5, busy_peak=peak, cpu_pct=None,
                                requests_per_cpu_s=None) for i, r in enumerate(rps))


def test_medians_over_trials_of_each_trials_median():
    m = process_medians([_procs(10, 20, 30), _procs(40, 50), None])
    assert m is not None
    assert m.processes == 2.5  # 3 and 2 processes
    assert m.rps == (20 + 45) / 2  # the trials' medians 20 and 45
    assert m.busy_peak == 2.0 and isinstance(m.busy_peak, float)  # counts as floats, as the report shows them
    assert m.cpu_pct is None and m.requests_per_cpu_s is None  # not measured: None, never 0


def test_no_trial_with_figures_is_none():
    assert process_medians([None, None]) is None and process_medians([]) is None
