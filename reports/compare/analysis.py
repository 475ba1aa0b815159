"""Comparing runs: which settings must match, the change of each metric per workload and variant, and
its verdict.

Every verdict comes from bench.record.significance.change_test on the trial values of both runs: a test of
the log values that adds run-to-run noise (`run_noise`) to the spread within each run, plus a minimum
effect (`min_change`, percent). With fewer than 3 trials on a side a cell is "inconclusive" and never a
regression. Runs are only comparable on the same machine and stack settings, and only when at least one
workload x variant has trials in both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.record import significance
from bench.record.errors import UserError
from bench.record.run_folder import Cell, Run
from bench.record.run_rows import CellSummary, TrialRow
from bench.record.values import num
from reports.compare import DEFAULT_MIN_CHANGE, DEFAULT_RUN_NOISE, METRIC_RULES
from reports.kit.fmt import setting_text

EXIT_OK = 0
EXIT_REGRESSION = 3

COMPARE_DIR = "compare"

# What must match for two runs to be comparable: (where, key, label).
SETTINGS: list[tuple[str, str, str]] = [
    ("machine", "cores", "machine cores"),
    ("machine", "memory_gb", "machine memory_gb"),
    ("machine", "cpu_model", "machine cpu_model"),
    ("stack", "processes", "stack processes"),
    ("stack", "keepalive", "stack keepalive"),
    ("stack", "pool_size", "stack pool_size"),
    ("stack", "max_connections_per_child", "stack max_connections_per_child"),
    ("plan", "users", "plan users"),
    ("plan", "connection_close", "plan connection_close"),
    ("run", "source", "source"),
]
MEMORY_TOLERANCE = 0.02  # MemTotal moves a little between boots of the same machine

# metric -> (its per-trial value, its summary median, label, higher is better)
METRICS: dict[str, tuple[Callable[[TrialRow], float | None], Callable[[CellSummary], float | None], str, bool]] = {
    "rps": (lambda t: t.locust_rps, lambda s: s.rps, "req/s", True),
    "p99_ms": (lambda t: t.p99_ms, lambda s: s.p99_ms, "p99 ms", False),
}
# Does not depend on the generator: the verdict a CI gate on a busy or small machine can trust. Judged
# beside METRICS, counted in its own sentence, and only where both runs measured it (not --url runs).
CPU_METRIC = "requests_per_cpu_second"
ALL_METRICS = {**METRICS, CPU_METRIC: (lambda t: t.requests_per_cpu_second,
                                       lambda s: s.requests_per_cpu_second, "req/CPU-s", True)}


def rule(metric: str, min_change: float, run_noise: float, fixed_rate: bool = False) -> tuple[float, float]:
    """(run noise, minimum change %) the verdict on `metric` uses: its own (METRIC_RULES) or the options'.

    req/CPU-s has its own rule only between runs offered the same rates (--rate): in a closed loop the
    CPU per request moves with the throughput the loop happened to reach (measured here: trials of one run
    15% apart), at a fixed offered rate it does not (3%). A metric's own rule is never looser than the
    options ask."""
    own = METRIC_RULES.get(metric) if fixed_rate else None
    if own is None:
        return run_noise, min_change
    return min(own[0], run_noise), min(own[1], min_change)


def setting(run: Run, where: str, key: str) -> Any:
    if where == "machine":
        return run.machine.get(key)
    if where == "stack":
        return None if run.stack is None else run.stack.get(key)
    if where == "plan":
        return run.plan.get(key)
    return run.source


def _same(key: str, a: Any, b: Any) -> bool:
    if key == "memory_gb" and num(a) is not None and num(b) is not None:
        return math.isclose(num(a), num(b), rel_tol=MEMORY_TOLERANCE)
    return a == b


def setting_differences(runs: Sequence[Run]) -> list[str]:
    """'label: value in A vs value in B' for every comparability setting that differs from the first run."""
    first = runs[0]
    out = []
    for other in runs[1:]:
        for where, key, label in SETTINGS:
            a, b = setting(first, where, key), setting(other, where, key)
            if not _same(key, a, b):
                out.append(f"{label}: {setting_text(a)} in {first.run_id} vs {setting_text(b)} in {other.run_id}")
    return out


@dataclass
class Change:
    workload: str
    variant: str
    metric: str
    run_id: str
    base: float | None          # the cell's summary median in the first run
    value: float | None         # ... and in this run
    ratio: float | None         # median of trial values, this run / first run
    p_value: float | None
    verdict: str                # significance.VERDICTS, or "missing" (the cell is in one run only)
    why: str
    trials: tuple[int, int]     # trial values on each side
    run_noise: float | None = None   # the rule this verdict used (metric's own, or the options')
    min_change: float | None = None

    @property
    def pct(self) -> float | None:
        return None if self.ratio is None else 100 * (self.ratio - 1)


@dataclass
class Comparison:
    run_ids: list[str]
    min_change: float
    run_noise: float
    changes: list[Change]
    differences: list[str]
    forced: bool
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # cells measured while other processes held the server CPUs

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "regression"]

    @property
    def improvements(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "improvement"]

    @property
    def exit_code(self) -> int:
        return EXIT_REGRESSION if self.regressions else EXIT_OK


    @property
    def inconclusive(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "inconclusive"]


def _values(cell: Cell | None, metric: str) -> list[float]:
    if cell is None:
        return []
    of_trial, of_summary, _, _ = ALL_METRICS[metric]
    vals = [v for t in cell.trials if (v := of_trial(t)) is not None]
    median = of_summary(cell.summary)
    if not vals and median is not None:
        vals = [median]  # an older run without per-trial values: one value, inconclusive
    return vals


def _change(workload: str, variant: str, metric: str, run_id: str, a: Cell | None, b: Cell | None,
            min_change: float, run_noise: float, fixed_rate: bool = False) -> Change:
    _, of_summary, _, higher = ALL_METRICS[metric]
    base_vals, new_vals = _values(a, metric), _values(b, metric)
    base = None if a is None else of_summary(a.summary)
    value = None if b is None else of_summary(b.summary)
    if a is None or b is None:
        where = "the first run" if b is None else run_id
        return Change(workload, variant, metric, run_id, base, value, None, None, "missing",
                      f"only in {where}", (len(base_vals), len(new_vals)))
    noise, minimum = rule(metric, min_change, run_noise, fixed_rate)
    v = significance.change_test(base_vals, new_vals, higher_is_better=higher, min_change_pct=minimum,
                                 run_noise=noise)
    return Change(workload, variant, metric, run_id, base, value, v["ratio"], v["p_value"], v["verdict"],
                  v["why"], (len(base_vals), len(new_vals)), noise, minimum)


def _changes(runs: Sequence[Run], min_change: float, run_noise: float) -> list[Change]:
    first = runs[0]
    changes = []
    for other in runs[1:]:
        # --servers runs: a cell is workload x variant x server, shown as "pooled mod_wsgi" (Cell.series).
        keys = list(dict.fromkeys((c.workload, c.variant, c.server) for c in [*first.cells, *other.cells]))
        for workload, variant, server in keys:
            a, b = first.cell(workload, variant, server), other.cell(workload, variant, server)
            shown = variant if server is None else f"{variant} {server}"
            for metric in METRICS:
                changes.append(_change(workload, shown, metric, other.run_id, a, b, min_change, run_noise))
            if _values(a, CPU_METRIC) and _values(b, CPU_METRIC):
                changes.append(_change(workload, shown, CPU_METRIC, other.run_id, a, b, min_change, run_noise,
                                       same_rates(first, other)))
    return changes


def same_rates(a: Run, b: Run) -> bool:
    """Both runs offered the same rates (bench run --rate): the open model, a fixed amount of work per second."""
    rates = a.plan.get("rates")
    return bool(rates) and rates == b.plan.get("rates")


def _require_common_cells(runs: Sequence[Run]) -> None:
    """No workload x variant with trials in both runs: nothing was compared, which must not pass a gate."""
    first = runs[0]
    mine = {(c.workload, c.series) for c in first.cells if _values(c, "rps")}
    for other in runs[1:]:
        theirs = {(c.workload, c.series) for c in other.cells if _values(c, "rps")}
        if not mine & theirs:
            def cells(run: Run, keys: set) -> str:
                return ", ".join(sorted(" ".join(k) for k in keys)) or "no trials"

            raise UserError(f"no comparable cell: no workload x variant has trials in both {first.run_id} "
                            f"({cells(first, mine)}) and {other.run_id} ({cells(other, theirs)})")


def check_settings(min_change: float, run_noise: float) -> None:
    if not math.isfinite(min_change) or not 0 <= min_change < 1000:
        raise UserError(f"--min-change {min_change:g} is not allowed: use a percentage >= 0 and below 1000")
    if not math.isfinite(run_noise) or not 0 <= run_noise <= 1:
        raise UserError(f"--run-noise {run_noise:g} is not allowed: use a standard deviation in log units "
                        f"from 0 to 1 (default {significance.RUN_NOISE:g}, about 5.5%)")


def compare(run_dirs: Sequence[Path | str], *, min_change: float = DEFAULT_MIN_CHANGE,
            run_noise: float = DEFAULT_RUN_NOISE, force: bool = False,
            out: Path | str | None = None) -> tuple[Comparison, list[Run]]:
    """The comparison of each later run with the first, and the runs read.

    Raises UserError for fewer than two runs, a bad min_change or run_noise, unreadable runs, runs with no
    workload x variant in common, or (without force) runs whose machine or stack settings differ.
    """
    if len(run_dirs) < 2:
        raise UserError("compare needs at least two run folders")
    check_settings(min_change, run_noise)
    runs = [Run.open(d) for d in run_dirs]
    diffs = setting_differences(runs)
    if diffs and not force:
        raise UserError("runs are not comparable (" + "; ".join(diffs) + "); pass --force to compare anyway")
    _require_common_cells(runs)
    out_dir = Path(out) if out is not None else runs[-1].dir / COMPARE_DIR
    changes = _changes(runs, min_change, run_noise)
    return Comparison([r.run_id for r in runs], min_change, run_noise, changes, diffs, force, out_dir,
                      busy=busy_cells(runs)), runs


BUSY_NOTICE = 0.10  # of the server CPUs used by processes not the server's (bench/record/bottleneck.py)


def busy_cells(runs: Sequence[Run]) -> list[str]:
    """Cells whose trials ran while other processes used a share of the server CPUs: their rates are lower
    than on a quiet machine, and the run-to-run noise assumed by the test may not cover it."""
    out = []
    for run in runs:
        for cell in run.cells:
            share = cell.summary.others_util
            if share is not None and share >= BUSY_NOTICE:
                out.append(f"{run.run_id} {cell.label}: other processes used {100 * share:.0f}% of the server "
                           "CPUs (a busy machine: compare again on a quiet one before trusting a change)")
    return out
