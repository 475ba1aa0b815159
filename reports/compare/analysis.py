"""Comparing runs: which settings must match, the change of each metric per workload and variant, and
its verdict.

A change is the ratio of medians over trials (later run / first run) with a 95% bootstrap interval
(bench.record.stats.ratio_ci). It is called a regression or an improvement only when the interval
excludes 1 AND the change exceeds `min_change` percent (pyperf's rule: significant and large enough to
matter). Runs are only comparable on the same machine and stack settings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.record.errors import UserError
from bench.record.run_folder import Cell, Run
from bench.record.stats import Ratio, ratio_ci
from bench.record.values import num
from reports.compare import DEFAULT_MIN_CHANGE
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

# metric -> (trial keys, summary key, label, higher is better)
METRICS = {
    "rps": (("locust", "rps"), "rps", "req/s", True),
    "p99_ms": (("locust", "p99_ms"), "p99_ms", "p99 ms", False),
}


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
    base: float | None
    value: float | None
    ratio: Ratio | None
    verdict: str  # "regression", "improvement", "no significant change", "too few trials", "missing"

    @property
    def pct(self) -> float | None:
        return None if self.ratio is None else self.ratio.pct


@dataclass
class Comparison:
    run_ids: list[str]
    min_change: float
    changes: list[Change]
    differences: list[str]
    forced: bool
    out_dir: Path
    files: list[Path] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "regression"]

    @property
    def improvements(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "improvement"]

    @property
    def exit_code(self) -> int:
        return EXIT_REGRESSION if self.regressions else EXIT_OK


def _values(cell: Cell, metric: str) -> list[float]:
    keys, summary_key, _, _ = METRICS[metric]
    vals = cell.values(*keys)
    if not vals and cell.stat(summary_key) is not None:
        vals = [cell.stat(summary_key)]  # an older run without per-trial values: point only, no interval
    return vals


def verdict(ratio: Ratio | None, higher_is_better: bool, min_change: float) -> str:
    if ratio is None:
        return "missing"
    if ratio.lo is None:
        return "too few trials"
    if not ratio.excludes_one() or abs(ratio.pct) <= min_change:
        return "no significant change"
    better = ratio.ratio > 1 if higher_is_better else ratio.ratio < 1
    return "improvement" if better else "regression"


def _changes(runs: Sequence[Run], min_change: float) -> list[Change]:
    first = runs[0]
    changes = []
    for other in runs[1:]:
        keys = [(c.workload, c.variant) for c in first.cells]
        keys += [(c.workload, c.variant) for c in other.cells if (c.workload, c.variant) not in keys]
        for workload, variant in keys:
            a, b = first.cell(workload, variant), other.cell(workload, variant)
            for metric, (_, summary_key, _, higher) in METRICS.items():
                base = None if a is None else a.stat(summary_key)
                value = None if b is None else b.stat(summary_key)
                ratio = None
                if a is not None and b is not None:
                    ratio = ratio_ci(_values(a, metric), _values(b, metric))
                changes.append(Change(workload, variant, metric, other.run_id, base, value, ratio,
                                      verdict(ratio, higher, min_change)))
    return changes




def compare(run_dirs: Sequence[Path | str], *, min_change: float = DEFAULT_MIN_CHANGE, force: bool = False,
            out: Path | str | None = None) -> tuple[Comparison, list[Run]]:
    """The comparison of each later run with the first, and the runs read.

    Raises UserError for fewer than two runs, a negative min_change, unreadable runs, or (without force)
    runs whose machine or stack settings differ.
    """
    if len(run_dirs) < 2:
        raise UserError("compare needs at least two run folders")
    if not math.isfinite(min_change) or min_change < 0:
        raise UserError(f"--min-change must be a percentage >= 0, got {min_change}")
    runs = [Run.open(d) for d in run_dirs]
    diffs = setting_differences(runs)
    if diffs and not force:
        raise UserError("runs are not comparable (" + "; ".join(diffs) + "); pass --force to compare anyway")
    out_dir = Path(out) if out is not None else runs[-1].dir / COMPARE_DIR
    changes = _changes(runs, min_change)
    return Comparison([r.run_id for r in runs], min_change, changes, diffs, force, out_dir), runs
