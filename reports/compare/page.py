"""The comparison's page: compare.html, compare.md, compare.json and change.png/.svg.

Exit codes of `bench compare` (and `python -m reports compare`): 0 no regression, 3 at least one
regression, 1 user error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from bench.record.errors import UserError
from bench.record.files import write_atomic
from bench.record.run_folder import Run
from bench.record.stats import RESAMPLES
from reports.compare import DEFAULT_MIN_CHANGE
from reports.compare import figures as F
from reports.compare.analysis import (
    METRICS,
    SETTINGS,
    Comparison,
    compare,
    setting,
)
from reports.kit.document import (
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
from reports.kit.files import save_figure
from reports.kit.fmt import DASH, fmt_num, fmt_pct, setting_text


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
    result, runs = compare(run_dirs, min_change=min_change, force=force, out=out)
    _write_outputs(result, runs)
    return result


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
    rows = [[label, *(setting_text(setting(r, where, key)) for r in runs)] for where, key, label in SETTINGS]
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
        f"({RESAMPLES:,} resamples, fixed seed). With one trial on either side there is no interval and no verdict. "
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
