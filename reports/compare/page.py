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

from bench.record import significance
from bench.record.errors import UserError
from bench.record.files import write_atomic
from bench.record.run_folder import Run
from reports.compare import DEFAULT_MIN_CHANGE, DEFAULT_RUN_NOISE
from reports.compare import figures as F
from reports.compare.analysis import (
    ALL_METRICS,
    CPU_METRIC,
    METRICS,
    SETTINGS,
    Change,
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
from reports.kit.figures import FigureSpec, draw, titles
from reports.kit.files import save_figure
from reports.kit.fmt import dash_or, fmt_num, fmt_pct, setting_text


def compare_runs(
    run_dirs: Sequence[Path | str],
    *,
    min_change: float = DEFAULT_MIN_CHANGE,
    run_noise: float = DEFAULT_RUN_NOISE,
    force: bool = False,
    out: Path | str | None = None,
) -> Comparison:
    """Compare each later run with the first; write compare.html/.md/.json into `out`.

    `out` defaults to `<last run>/compare/`. Raises UserError for fewer than two runs, a bad min_change or
    run_noise, unreadable runs, runs with no workload x variant in common, or (without force) runs whose
    machine or stack settings differ.
    """
    result, runs = compare(run_dirs, min_change=min_change, run_noise=run_noise, force=force, out=out)
    _write_outputs(result, runs)
    return result


# --- output --------------------------------------------------------------------------------------
def _p(p: float | None) -> str:
    return dash_or(p, lambda v: "< 0.001" if v < 0.001 else f"{v:.3f}")


CPU_NOTE = ("Requests per server CPU-second (access-log requests / CPU of the Apache processes and PostgreSQL "
            "backends, from /proc) does not depend on the generator: it is the verdict to trust when Locust "
            "or the machine's other load moved req/s. Its rule has its own run noise and minimum change "
            "(reports/compare/__init__.py), shown beside each verdict.")


def _table(result: Comparison, metric: str) -> Table:
    label = ALL_METRICS[metric][2]
    rows = []
    for c in result.changes:
        if c.metric != metric:
            continue
        ratio = dash_or(c.ratio, lambda r: f"{r:.3f}")
        rows.append([c.workload, c.variant, c.run_id, fmt_num(c.base), fmt_num(c.value), f"{c.trials[0]}/{c.trials[1]}",
                     ratio, fmt_pct(c.pct), _p(c.p_value), c.verdict, f"{c.why} [{label}; {_rule(c)}]"])
    return Table(["workload", "variant", "run", f"{label} ({result.run_ids[0]})", f"{label} (run)", "trials",
                  "ratio", "change", "p", "verdict", "why"], rows, f"{label}: each run vs {result.run_ids[0]}")


def _rule(c: Change) -> str:
    """The rule of one verdict: run noise and minimum change it used."""
    if c.run_noise is None or c.min_change is None:
        return "no test"
    return f"noise {c.run_noise:g}, min {fmt_num(c.min_change)}%"


def _settings_table(runs: Sequence[Run]) -> Table:
    rows = [[label, *(setting_text(setting(r, where, key)) for r in runs)] for where, key, label in SETTINGS]
    return Table(["setting", *(r.run_id for r in runs)], rows, "Settings that must match")


def rule_text(result: Comparison) -> str:
    """The rule every verdict follows, in one sentence (page, Markdown and the CLI)."""
    return (f"a change is called when p < {significance.ALPHA:g} with run-to-run noise "
            f"{result.run_noise:g} (log units) added to the spread of the trials, and it exceeds "
            f"{fmt_num(result.min_change)}%; fewer than {significance.MIN_TRIALS} trials per side: inconclusive")


def _counts(changes: Sequence[Change]) -> str:
    n = len([c for c in changes if c.verdict != "missing"])
    reg, imp, inc = (len([c for c in changes if c.verdict == v]) for v in ("regression", "improvement", "inconclusive"))
    return (f"{reg} regression{'s' if reg != 1 else ''}, {imp} improvement{'s' if imp != 1 else ''} and "
            f"{inc} inconclusive among {n} comparisons")


def summary_sentence(result: Comparison) -> str:
    """Req/s and p99 in one sentence, then req/CPU-s (its own rule) in its own."""
    main = [c for c in result.changes if c.metric in METRICS]
    text = f"{_counts(main)} ({rule_text(result)})."
    cpu = [c for c in result.changes if c.metric == CPU_METRIC]
    if cpu:
        rules = sorted({_rule(c) for c in cpu if c.verdict != "missing"})
        text += (f" Requests per server CPU-second (does not depend on the generator): {_counts(cpu)} "
                 f"({'; '.join(rules) or 'no test'}).")
    return text


def _change_figure(result: Comparison) -> Figure | None:
    points = []
    for c in result.changes:
        if c.pct is None:
            continue
        label = f"{c.workload} {c.variant} {ALL_METRICS[c.metric][2]}"
        if len(result.run_ids) > 2:
            label += f" ({c.run_id})"
        points.append(F.ChangePoint(label, c.pct, None, None, c.verdict))
    return F.change_figure(points, result.min_change) if points else None


def chart_change(result: Comparison) -> FigureBlock:
    name, title = "change", FIGURES["change"]
    fig = _change_figure(result)
    if fig is None:
        return FigureBlock(name, title, skipped="No metric present in both runs.")
    return save_figure(
        fig, result.out_dir, name, title,
        "Percent change of the median over trials; red: regression, green: improvement, grey: no change "
        f"or inconclusive; grey band: within ±{fmt_num(result.min_change)}% (never called a change).",
    )


# The comparison's figures: (name, title, chart function, the section it closes).
REGISTRY = [FigureSpec("change", "Change vs the first run", chart_change, "rps")]
FIGURES = titles(REGISTRY)


def _write_outputs(result: Comparison, runs: Sequence[Run]) -> None:
    try:
        result.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write the comparison into {result.out_dir}: {exc.strerror or exc}") from None
    figs = draw(REGISTRY, result)
    summary_blocks = [Para(summary_sentence(result), "headline")]
    if result.regressions:
        summary_blocks.append(Bullets([
            f"regression: {c.workload} {c.variant} {ALL_METRICS[c.metric][2]} {c.why} in {c.run_id}"
            for c in result.regressions
        ], "warning"))
    if result.improvements:
        summary_blocks.append(Bullets([
            f"improvement: {c.workload} {c.variant} {ALL_METRICS[c.metric][2]} {c.why} in {c.run_id}"
            for c in result.improvements
        ]))
    if result.busy:
        summary_blocks.append(Bullets(result.busy, "warning"))
    if result.differences:
        summary_blocks.append(Para("Compared with --force although these settings differ:", "warning"))
        summary_blocks.append(Bullets(result.differences, "warning"))
    method = (
        f"Ratio = median over trials of the later run / median of {result.run_ids[0]}. Verdict: a Welch-style "
        "t-test on the log of the trial values whose variance adds 2 x run_noise² (each run has its own "
        "level, and runs of one commit differ by more than trials of one run do), two-sided; "
        f"{rule_text(result)}. For p99 a rise is a regression. The defaults come from A/A runs of one commit on "
        "a 2-core machine (bench/record/significance.py); set --run-noise to what your machine measures."
    )
    doc = Document(
        "mod_python persistence benchmark: comparison", [f"runs: {', '.join(result.run_ids)}",
                                                          f"min change {fmt_num(result.min_change)}%",
                                                          f"run noise {result.run_noise:g}"],
        [
            Section("summary", "Summary", summary_blocks),
            Section("rps", "Requests per second", [_table(result, "rps"), *figs.rest("rps")]),
            Section("p99", "p99 latency", [_table(result, "p99_ms"), *figs.rest("p99")]),
            Section("cpu", "Requests per server CPU-second", [
                Para(CPU_NOTE, "note"), _table(result, "requests_per_cpu_second"), *figs.rest("cpu")]),
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
        "busy": result.busy,
        "min_change_pct": result.min_change,
        "run_noise": result.run_noise,
        "alpha": significance.ALPHA,
        "min_trials": significance.MIN_TRIALS,
        "forced": result.forced,
        "differences": result.differences,
        "regressions": len(result.regressions),
        "improvements": len(result.improvements),
        "inconclusive": len(result.inconclusive),
        # req/s and p99 in "changes"; req/CPU-s (its own rule) in "cpu_changes"; each names its rule
        "changes": [_change_json(c) for c in result.changes if c.metric in METRICS],
        "cpu_changes": [_change_json(c) for c in result.changes if c.metric == CPU_METRIC],
    }


def _change_json(c: Change) -> dict[str, Any]:
    return {"workload": c.workload, "variant": c.variant, "metric": c.metric, "run": c.run_id,
            "base": c.base, "value": c.value, "trials": list(c.trials), "ratio": c.ratio,
            "change_pct": c.pct, "p_value": c.p_value, "verdict": c.verdict, "why": c.why,
            "run_noise_used": c.run_noise, "min_change_used": c.min_change}
