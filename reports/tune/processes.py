"""The report of a `bench tune --knob processes` folder: throughput and p99 against processes, memory
against processes, the recommended count with the constraint that bound it marked.

Reached from reports.tune.page.build_tune_report (registered there under the knob's name). Reads the
typed tune folder (bench.record.tune_folder): an interrupted sweep has fewer fields, read as None there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, ScalarFormatter

from bench.record.tune import BudgetScope
from bench.record.tune_conclusions import Sizing
from bench.record.tune_folder import TuneRun
from bench.record.tune_points import Point
from reports.kit.document import Block, Bullets, Code, Document, FigureBlock, KeyValues, Para, Section, Table
from reports.kit.files import save_figure
from reports.kit.fmt import DASH, fmt_num
from reports.kit.page import environment_blocks, figure_files, kv, meta_line, prepare_out, write_report
from reports.kit.style import new_figure, styled
from reports.tune.connections import with_connections
from reports.tune.page import KnobPage

FIGURES = {
    "sizing1-throughput": "Figure 1: requests/s and p99 against the number of processes",
    "sizing2-memory": "Figure 2: Apache memory (processes x PSS) against the number of processes",
}
SUMMARY_SCHEMA = 1
SECTION_TITLE = "Process count (bench tune --knob processes)"  # in a run report (reports.tune.section)
MARK = "#d1495b"


def _points(run: TuneRun) -> list[Point]:
    return sorted((p for p in run.points if p.n), key=lambda p: p.n)


def _gaps(values: Iterable[float | None]) -> list[float]:
    """None as NaN: matplotlib leaves a gap there."""
    return [math.nan if v is None else v for v in values]


def _n_axis(ax: Axes, xs: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(xs))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(FixedLocator([]))


def _mark(ax: Axes, rec: Sizing) -> None:
    n = rec.count
    if n:
        ax.axvline(n, color=MARK, linestyle="--", linewidth=1)
        ax.annotate(f"recommended {n:g}\n(bound by {rec.binding})", (n, 1), xycoords=("data", "axes fraction"),
                    xytext=(4, -4), textcoords="offset points", va="top", fontsize=8, color=MARK)


def chart_throughput(run: TuneRun, out: Path) -> FigureBlock:
    pts = [p for p in _points(run) if p.rps]
    if not pts:
        return FigureBlock("sizing1-throughput", FIGURES["sizing1-throughput"], skipped="no point was measured")
    if run.slo:
        caption = (f"Each point a fresh Apache with that many prefork children and max(2 x N, --users) connections; "
                   f"the solid line is the largest offered rate that met {run.slo} (open model, latency from the "
                   "intended start), the dashed one the closed loop's rate, the dotted one p99 at the capacity.")
    else:
        caption = ("Each point a fresh Apache with that many prefork children, loaded at max(2 x N, --users) "
                   "users; the dotted line is p99 and its bound.")
    return save_figure(throughput_figure(run, pts), out, "sizing1-throughput", FIGURES["sizing1-throughput"],
                       caption)


@styled
def throughput_figure(run: TuneRun, pts: list[Point]) -> Figure:
    fig = new_figure(7, 4)
    ax = fig.add_subplot()
    xs = [p.n for p in pts]
    if run.slo:
        ax.plot(xs, _gaps(p.rps for p in pts), "o-", color="#00798c", label=f"capacity at {run.slo} (open model)")
        closed = [(p.n, p.closed_rps) for p in pts if p.closed_rps]
        if closed:
            ax.plot(*zip(*closed, strict=True), "^--", color="#7f7f7f", label="closed loop requests/s")
    else:
        ax.plot(xs, _gaps(p.rps for p in pts), "o-", color="#00798c", label="requests/s (Locust)")
    _n_axis(ax, xs)
    ax.set_xlabel("Apache processes (MaxRequestWorkers)")
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    p99 = [(p.n, p.p99_ms) for p in pts if p.p99_ms is not None]
    if p99:
        ax2.plot(*zip(*p99, strict=True), "s:", color="#edae49",
                 label="p99 ms at the capacity (from intended start)" if run.slo else "p99 ms")
    bound = run.max_p99_ms
    if bound:
        ax2.axhline(bound, color="#edae49", linewidth=0.8, alpha=0.6)
    ax2.set_ylabel("p99 ms")
    ax2.set_ylim(bottom=0)
    _mark(ax, run.sizing)
    fig.legend(loc="lower right", fontsize=8)
    return fig


def chart_memory(run: TuneRun, out: Path) -> FigureBlock:
    pts = [p for p in _points(run) if p.pss_mb]
    if not pts:
        return FigureBlock("sizing2-memory", FIGURES["sizing2-memory"], skipped="no PSS was sampled")
    return save_figure(memory_figure(run, pts), out, "sizing2-memory", FIGURES["sizing2-memory"],
                       "PSS per child (median over children, from the sampler) times the number of children.")


@styled
def memory_figure(run: TuneRun, pts: list[Point]) -> Figure:
    fig = new_figure(7, 3.5)
    ax = fig.add_subplot()
    xs = [p.n for p in pts]
    ax.plot(xs, _gaps(p.pss_mb_total for p in pts), "o-", color="#8e6cc7", label="processes x PSS (MB)")
    budget = run.memory_budget_mb
    if budget and run.memory_budget_scope == BudgetScope.TOTAL:
        ax.axhline(budget, color=MARK, linewidth=0.8, label="--memory-budget")
    _n_axis(ax, xs)
    ax.set_xlabel("Apache processes")
    ax.set_ylabel("MB")
    ax.set_ylim(bottom=0)
    _mark(ax, run.sizing)
    ax.legend(fontsize=8)
    return fig


def points_table(run: TuneRun) -> Table:
    rec_n = run.sizing.count
    rows = []
    for p in _points(run):
        rows.append([f"{p.n}" + (" (recommended)" if p.n == rec_n else ""),
                     fmt_num(p.rps), fmt_num(p.p99_ms), fmt_num(p.requests_per_cpu_second),
                     fmt_num(p.pss_mb), fmt_num(p.pss_mb_total if p.pss_mb else None),
                     fmt_num(p.db_sessions_per_1000_requests), "/".join(p.bottlenecks)])
    if run.slo:
        for row, p in zip(rows, _points(run), strict=True):
            row[3:3] = [fmt_num(p.closed_rps)]
        return Table(["processes", f"req/s at {run.slo}", "p99 ms at it", "closed-loop req/s", "req/CPU-s", "PSS MB",
                      "N x PSS MB", "sessions/1k req", "limit"], rows,
                     "Medians over each point's trials; req/s at the SLO: the largest offered rate (open model) "
                     "whose latency from the intended start met it; limit: the bottleneck at that rate")
    table = Table(["processes", "req/s", "p99 ms", "req/CPU-s", "PSS MB", "N x PSS MB", "sessions/1k req",
                   "limit"], rows, "Medians over each point's trials; limit: the bottleneck of each trial")
    return with_connections(table, [p.to_json() for p in _points(run)])


POINT_KEYS = ("value", "rps", "p99_ms", "closed_rps", "requests_per_cpu_second", "pss_mb")  # summary.json
BOUND_NAMES = {"knee": "knee of throughput", "p99": "p99 within bound up to", "memory": "memory budget allows",
               "connections": "connection budget allows"}


def bounds_table(rec: Sizing) -> Table:
    rows = [[BOUND_NAMES[key] + (" (binding)" if key == rec.binding else ""), DASH if value is None else str(value)]
            for key, value in rec.bounds]
    return Table(["constraint", "processes"], rows, "The tightest constraint sets MaxRequestWorkers")


def recommendation(run: TuneRun) -> list[Block]:
    """The directives, the reasoning and the bounds: the head of this report, and what a run report shows
    when this sweep's tune.json sits next to its results.json."""
    head: list[Block] = []
    if run.directives:
        head.append(Code("\n".join(run.directives), "Paste into the prefork section of httpd.conf:", "apache"))
    reasoning = run.reasoning or "the sweep stopped before the tuner concluded"
    return [*head, Para(f"Why: {reasoning}"), bounds_table(run.sizing)]


def build(run: TuneRun) -> Path:
    out = prepare_out(run, FIGURES)
    figs = {b.name: b for b in (chart_throughput(run, out), chart_memory(run, out))}
    rec = run.sizing
    directives = run.directives
    head = recommendation(run)
    dropped = run.dropped
    sections = [
        Section("recommendation", "Recommendation", head),
        Section("throughput", "Throughput and p99 against processes", [points_table(run), figs["sizing1-throughput"]]),
        Section("memory", "Memory against processes", [figs["sizing2-memory"]]),
        Section("notes", "Not measured", [Bullets(dropped) if dropped else Para("Nothing.")]),
        Section("setup", "Machine, versions and settings",
                [*environment_blocks(run), KeyValues(kv(run.plan), "Plan (bench tune options)"),
                 KeyValues(kv(run.stack), "Stack (the sweep sets the process count per point)")]),
    ]
    meta = meta_line(run, "tune", f"{run.variant}/{run.workload}", f"{len(_points(run))} process counts")
    doc = Document(f"{run.server} process-pool sizing: run {run.run_id}", meta, sections)
    summary = {"schema": SUMMARY_SCHEMA, "kind": "tune", "knob": "processes", "run_id": run.run_id,
               "complete": run.complete, "workload": run.workload, "variant": run.variant,
               "directives": directives, "reasoning": run.reasoning, "sizing": rec.to_json(), "slo": run.slo,
               "points": [{k: p.to_json().get(k) for k in POINT_KEYS} for p in _points(run)],
               "dropped": dropped, "figures": figure_files(figs)}
    return write_report(out, doc, summary)


class ProcessesPage(KnobPage):
    knobs = ("processes",)
    section_title = SECTION_TITLE
    build = staticmethod(build)
    recommendation = staticmethod(recommendation)
