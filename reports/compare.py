"""Compare runs side by side: per workload and variant, the change in requests/s and p99 vs the first run.

A change is the ratio of medians over trials (later run / first run) with a 95% bootstrap interval
(numpy, fixed seed). It is called a regression or an improvement only when the interval excludes 1 AND
the change exceeds `min_change` percent (pyperf's rule: significant and large enough to matter).

Runs are only comparable on the same machine and stack settings; otherwise `compare_runs` refuses,
naming what differs, unless `force=True`.

Exit codes of `python -m reports compare`: 0 no regression, 3 at least one regression, 1 user error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from bench.errors import UserError
from reports import figures as F
from reports.document import (
    Bullets,
    Document,
    FigureBlock,
    KeyValues,
    Para,
    Section,
    Table,
    render_html,
    render_markdown,
)
from reports.files import save_figure, write_atomic
from reports.fmt import DASH, fmt_num, fmt_pct
from reports.narrative import setting_text
from reports.run import Cell, Run, num
from reports.stats import N_BOOT, Ratio, ratio_of_medians

EXIT_OK = 0
EXIT_REGRESSION = 3
DEFAULT_MIN_CHANGE = 5.0
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


def _setting(run: Run, where: str, key: str) -> Any:
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
            a, b = _setting(first, where, key), _setting(other, where, key)
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


def compare_runs(
    run_dirs: Sequence[Path | str],
    *,
    min_change: float = DEFAULT_MIN_CHANGE,
    force: bool = False,
    out: Path | str | None = None,
) -> Comparison:
    """Compare each later run with the first; write compare.html/.md/.json into `out`.

    `out` defaults to `<last run>/compare/`. Raises UserError for fewer than two runs, a negative
    min_change, unreadable runs, or (without force) runs whose machine or stack settings differ.
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
    result = Comparison([r.run_id for r in runs], min_change, changes, diffs, force, out_dir)
    _write_outputs(result, runs)
    return result


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
                    ratio = ratio_of_medians(_values(a, metric), _values(b, metric))
                changes.append(Change(workload, variant, metric, other.run_id, base, value, ratio,
                                      verdict(ratio, higher, min_change)))
    return changes


# --- output --------------------------------------------------------------------------------------
def _table(result: Comparison, metric: str) -> Table:
    label = METRICS[metric][2]
    rows = []
    for c in result.changes:
        if c.metric != metric:
            continue
        r = c.ratio
        ci = DASH if r is None or r.lo is None else f"{fmt_pct((r.lo - 1) * 100)} to {fmt_pct((r.hi - 1) * 100)}"
        rows.append([c.workload, c.variant, c.run_id, fmt_num(c.base), fmt_num(c.value), fmt_pct(c.pct), ci,
                     c.verdict])
    return Table(["workload", "variant", "run", f"{label} ({result.run_ids[0]})", f"{label} (run)", "change",
                  "95% CI", "verdict"], rows, f"{label}: each run vs {result.run_ids[0]}")


def _settings_table(runs: Sequence[Run]) -> Table:
    rows = [[label, *(setting_text(_setting(r, where, key)) for r in runs)] for where, key, label in SETTINGS]
    return Table(["setting", *(r.run_id for r in runs)], rows, "Settings that must match")


def _summary_sentence(result: Comparison) -> str:
    n = len([c for c in result.changes if c.verdict != "missing"])
    reg, imp = len(result.regressions), len(result.improvements)
    text = (f"{reg} regression{'s' if reg != 1 else ''} and {imp} improvement{'s' if imp != 1 else ''} "
            f"among {n} comparisons (a change counts when its 95% CI excludes 0% and it exceeds "
            f"{fmt_num(result.min_change)}%).")
    return text


def _change_figure(result: Comparison) -> Figure | None:
    points = []
    for c in result.changes:
        if c.ratio is None:
            continue
        lo = None if c.ratio.lo is None else (c.ratio.lo - 1) * 100
        hi = None if c.ratio.hi is None else (c.ratio.hi - 1) * 100
        label = f"{c.workload} {c.variant} {METRICS[c.metric][2]}"
        if len(result.run_ids) > 2:
            label += f" ({c.run_id})"
        points.append(F.ChangePoint(label, c.ratio.pct, lo, hi, c.verdict))
    return F.change_figure(points, result.min_change) if points else None


def _write_outputs(result: Comparison, runs: Sequence[Run]) -> None:
    try:
        result.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write the comparison into {result.out_dir}: {exc.strerror or exc}") from None
    fig = _change_figure(result)
    if fig is None:
        fig_block = FigureBlock("change", "Change vs the first run", skipped="No metric present in both runs.")
    else:
        fig_block = save_figure(
            fig, result.out_dir, "change", "Change vs the first run",
            "Percent change with 95% interval; red: regression, green: improvement, grey band: "
            f"within ±{fmt_num(result.min_change)}%.",
        )
    summary_blocks = [Para(_summary_sentence(result), "headline")]
    if result.regressions:
        summary_blocks.append(Bullets([
            f"regression: {c.workload} {c.variant} {METRICS[c.metric][2]} {fmt_pct(c.pct)} in {c.run_id}"
            for c in result.regressions
        ], "warning"))
    if result.improvements:
        summary_blocks.append(Bullets([
            f"improvement: {c.workload} {c.variant} {METRICS[c.metric][2]} {fmt_pct(c.pct)} in {c.run_id}"
            for c in result.improvements
        ]))
    if result.differences:
        summary_blocks.append(Para("Compared with --force although these settings differ:", "warning"))
        summary_blocks.append(Bullets(result.differences, "warning"))
    method = (
        f"Change = median over trials of the later run / median of {result.run_ids[0]}, minus 1. 95% interval: "
        f"percentile bootstrap of that ratio of medians, each run's trials resampled independently "
        f"({N_BOOT:,} resamples, fixed seed). With one trial on either side there is no interval and no verdict. "
        "For p99 a rise is a regression."
    )
    doc = Document(
        "mod_python persistence benchmark: comparison", [f"runs: {', '.join(result.run_ids)}",
                                                          f"min change {fmt_num(result.min_change)}%"],
        [
            Section("summary", "Summary", summary_blocks),
            Section("rps", "Requests per second", [_table(result, "rps"), fig_block]),
            Section("p99", "p99 latency", [_table(result, "p99_ms")]),
            Section("settings", "Settings", [_settings_table(runs),
                                             KeyValues([(r.run_id, str(r.dir)) for r in runs], "Run folders")]),
            Section("method", "Method", [Para(method, "note")]),
        ],
    )
    html_path, md_path, json_path = (result.out_dir / f"compare.{ext}" for ext in ("html", "md", "json"))
    write_atomic(html_path, render_html(doc))
    write_atomic(md_path, render_markdown(doc))
    write_atomic(json_path, json.dumps(_json(result), indent=2) + "\n")
    result.files = [html_path, md_path, json_path]


def _json(result: Comparison) -> dict[str, Any]:
    return {
        "runs": result.run_ids,
        "min_change_pct": result.min_change,
        "forced": result.forced,
        "differences": result.differences,
        "regressions": len(result.regressions),
        "changes": [
            {"workload": c.workload, "variant": c.variant, "metric": c.metric, "run": c.run_id,
             "base": c.base, "value": c.value, "ratio": None if c.ratio is None else c.ratio.ratio,
             "ci95": None if c.ratio is None or c.ratio.lo is None else [c.ratio.lo, c.ratio.hi],
             "change_pct": c.pct, "verdict": c.verdict}
            for c in result.changes
        ],
    }
