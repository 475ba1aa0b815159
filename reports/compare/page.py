"""The comparison's page: compare.html, compare.md, compare.json and change.png/.svg.

Exit codes of `bench compare` (and `python -m reports compare`): 0 no regression, 3 at least one
regression, 4 inconclusive (no regression, but a verdict could not be decided), 1 user error
(reports/compare/command.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
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
    Noise,
    compare,
    setting,
)
from reports.compare.lines import change_text, detectable_lines, noise_line, verdict_line
from reports.compare.pairing import Match
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
    matches: Sequence[Match] = (),
    noise: Noise | None = None,
) -> Comparison:
    """Compare each later run with the first; write compare.html/.md/.json into `out`.

    `out` defaults to `<last run>/compare/`. Raises UserError for fewer than two runs, a bad min_change or
    run_noise, unreadable runs, runs with no workload x variant in common, a --match naming no cell, or
    (without force) runs whose machine or stack settings differ.
    """
    result, runs = compare(run_dirs, min_change=min_change, run_noise=run_noise, force=force, out=out,
                           matches=matches, noise=noise)
    return replace(result, files=_write_outputs(result, runs))


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
        ci = dash_or(c.ci95_pct, lambda v: f"{v[0]:+.1f}% to {v[1]:+.1f}%")
        detect = dash_or(c.detectable, lambda d: f"> {d.pct:.0f}%")
        rows.append([c.workload, c.cell.partition(" ")[2], c.run_id, fmt_num(c.base), fmt_num(c.value),
                     f"{c.trials[0]}/{c.trials[1]}", ratio, fmt_pct(c.pct), ci, _p(c.p_value), detect, c.verdict,
                     f"{c.why} [{label}; {_rule(c)}]"])
    return Table(["workload", "variant", "run", f"{label} ({result.run_ids[0]})", f"{label} (run)", "trials",
                  "ratio", "change", "95% CI", "p", "detectable", "verdict", "why"], rows,
                 f"{label}: each run vs {result.run_ids[0]}")


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
    noise = "calibrated run-to-run noise" if result.noise.calibrated else \
        f"run-to-run noise {result.run_noise:g} (log units)"
    band = f"+-{fmt_num(result.min_change)}%"
    return (f"a regression or improvement is significant (p < {significance.ALPHA:g}, with {noise} added to the "
            f"spread of the trials) and beyond {band}; no change: the whole 95% interval within {band}; "
            f"anything else, or fewer than {significance.MIN_TRIALS} trials per side: inconclusive")


def _counts(changes: Sequence[Change]) -> str:
    n = len([c for c in changes if c.verdict != "missing"])
    reg, imp, same, inc = (len([c for c in changes if c.verdict == v]) for v in significance.VERDICTS)
    return (f"{reg} regression{'s' if reg != 1 else ''}, {imp} improvement{'s' if imp != 1 else ''}, {same} no "
            f"change and {inc} inconclusive among {n} comparisons")


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
        label = f"{c.cell} {ALL_METRICS[c.metric][2]}"
        if len(result.run_ids) > 2:
            label += f" ({c.run_id})"
        lo, hi = c.ci95_pct if c.ci95_pct is not None else (None, None)
        points.append(F.ChangePoint(label, c.pct, lo, hi, c.verdict))
    return F.change_figure(points, result.min_change) if points else None


def chart_change(result: Comparison) -> FigureBlock:
    name, title = "change", FIGURES["change"]
    fig = _change_figure(result)
    if fig is None:
        return FigureBlock(name, title, skipped="No metric present in both runs.")
    return save_figure(
        fig, result.out_dir, name, title,
        "Percent change (geometric means over trials) with its 95% interval; red: regression, green: "
        "improvement, blue: no change, grey: inconclusive; grey band: within "
        f"±{fmt_num(result.min_change)}% (no change when the whole interval lies in it).",
    )


# The comparison's figures: (name, title, chart function, the section it closes).
REGISTRY = [FigureSpec("change", "Change vs the first run", chart_change, "rps")]
FIGURES = titles(REGISTRY)


def _summary_blocks(result: Comparison) -> list:
    """The verdict first, then each cell and metric in a line, the detectable change, the noise, warnings."""
    blocks: list = [Para(f"{summary_sentence(result)} {verdict_line(result)}.", "headline")]
    decided = [c for c in result.changes if c.verdict != "missing"]
    for verdict, style in (("regression", "warning"), ("improvement", None), ("inconclusive", None),
                           ("no change", None)):
        shown = [f"{verdict}: {c.cell} {ALL_METRICS[c.metric][2]} in {c.run_id}: {change_text(c)}: {c.why}"
                 for c in decided if c.verdict == verdict]
        if shown:
            blocks.append(Bullets(shown, style) if style else Bullets(shown))
    blocks.append(Bullets([*detectable_lines(result), noise_line(result)]))
    if result.busy or result.warnings:
        blocks.append(Bullets([*result.busy, *result.warnings], "warning"))
    if result.differences:
        blocks.append(Para("Compared with --force although these settings differ:", "warning"))
        blocks.append(Bullets(result.differences, "warning"))
    return blocks


def _method(result: Comparison) -> str:
    return (
        "Change = the geometric mean over trials of the later run / that of "
        f"{result.run_ids[0]}, with its 95% interval: a Welch-style t on the log of the trial values whose "
        "variance adds 2 x run_noise² (each run has its own level, and runs of one commit differ by more than "
        f"trials of one run do), two-sided; {rule_text(result)}. For p99 a rise is a regression. The "
        "detectable change is the smallest change the test would call with probability "
        f"{significance.POWER:g} at alpha {significance.ALPHA:g}. The default run noise comes from A/A runs of "
        "one commit on a 2-core machine (bench/record/significance.py); measure your machine's with "
        "bench compare --calibrate A A2 and pass --noise-from (docs/reports.md). Exit status: 0 no regression, "
        "3 a regression, 4 inconclusive, 1 bad input."
    )


def _write_outputs(result: Comparison, runs: Sequence[Run]) -> list[Path]:
    try:
        result.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write the comparison into {result.out_dir}: {exc.strerror or exc}") from None
    figs = draw(REGISTRY, result)
    heads = [f"runs: {', '.join(result.run_ids)}", f"threshold {fmt_num(result.min_change)}%",
             "run noise calibrated" if result.noise.calibrated else f"run noise {result.run_noise:g}",
             f"verdict {result.verdict} (exit {result.exit_code})"]
    doc = Document(
        "mod_python persistence benchmark: comparison", heads,
        [
            Section("summary", "Summary", _summary_blocks(result)),
            Section("rps", "Requests per second", [_table(result, "rps"), *figs.rest("rps")]),
            Section("p99", "p99 latency", [_table(result, "p99_ms"), *figs.rest("p99")]),
            Section("cpu", "Requests per server CPU-second", [
                Para(CPU_NOTE, "note"), _table(result, "requests_per_cpu_second"), *figs.rest("cpu")]),
            Section("settings", "Settings", [_settings_table(runs),
                                             KeyValues([(r.run_id, str(r.dir)) for r in runs], "Run folders")]),
            Section("method", "Method", [Para(_method(result), "note")]),
        ],
    )
    html_path, md_path, json_path = (result.out_dir / f"compare.{ext}" for ext in ("html", "md", "json"))
    write_atomic(html_path, render_html(doc))
    write_atomic(md_path, render_markdown(doc))
    write_atomic(json_path, json.dumps(_json(result), indent=2) + "\n")
    return [html_path, md_path, json_path]


def _json(result: Comparison) -> dict[str, Any]:
    """compare.json: the keys it always had, then the verdict, its exit code and the noise each metric assumed."""
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
        "changes": [c.to_json() for c in result.changes if c.metric in METRICS],
        "cpu_changes": [c.to_json() for c in result.changes if c.metric == CPU_METRIC],
        "no_change": len(result.no_change),
        "verdict": result.verdict,
        "exit_code": result.exit_code,
        "equivalence": "the whole 95% interval of the change within +-min_change_pct",
        "power": significance.POWER,
        "run_noise_source": result.noise.source,
        "calibrated_noise": {m: e.to_json() for m, e in result.noise.calibrated.items()} or None,
        "matches": [m.to_json() for m in result.matches],
        "warnings": result.warnings,
    }
