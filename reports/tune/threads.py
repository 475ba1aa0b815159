"""The report of a `bench tune --knob threads` or `--knob processes,threads` folder: a heat map of processes x
threads -> requests/s (each cell with its p99), the recommended cell outlined, the points table and the
directives. Reads tune.json through bench.record.tune_folder.TuneRun (its points carry processes and
threads); missing figures are skipped with a note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from bench.record.tune_folder import TuneRun
from reports.kit.document import Block, Bullets, Code, Document, FigureBlock, KeyValues, Para, Section, Table
from reports.kit.files import save_figure
from reports.kit.fmt import fmt_num
from reports.kit.page import environment_blocks, figure_files, kv, meta_line, prepare_out, write_report
from reports.kit.style import new_figure, styled
from reports.tune.connections import with_connections
from reports.tune.page import KnobPage

FIGURES = {"threads1-heatmap": "Figure 1: requests/s (and p99) by processes x threads"}
SUMMARY_SCHEMA = 1
SECTION_TITLE = "Processes x threads (bench tune --knob threads / processes,threads)"
MARK = "#d1495b"


GRID_KEYS = ("processes", "threads", "rps", "p99_ms", "requests_per_cpu_second", "busy_threads",
             "cpu_pct_per_process", "pss_mb")


def grid_points(run: TuneRun) -> list[dict[str, Any]]:
    """The measured points as the figure's plain data: integer processes and threads, the figures of GRID_KEYS."""
    out = []
    for p in run.record.points:  # in the order measured
        if p.processes and p.threads:
            out.append({k: p.to_json().get(k) for k in GRID_KEYS} | {"processes": int(p.processes),
                                                                      "threads": int(p.threads)})
    return out


@styled
def heatmap_figure(points: list[dict[str, Any]], chosen: tuple[int, int] | None) -> Figure:
    """Processes (rows) x threads (columns), colour = requests/s, each cell labelled rps and p99."""
    ps = sorted({p["processes"] for p in points})
    ts = sorted({p["threads"] for p in points})
    grid = [[float("nan")] * len(ts) for _ in ps]
    for p in points:
        grid[ps.index(p["processes"])][ts.index(p["threads"])] = p.get("rps") or float("nan")
    fig = new_figure(1.6 + 1.3 * len(ts), 1.2 + 0.9 * len(ps))
    ax = fig.add_subplot()
    im = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
    fig.colorbar(im, ax=ax, label="requests/s")
    ax.set_xticks(range(len(ts)), [str(t) for t in ts])
    ax.set_yticks(range(len(ps)), [str(p) for p in ps])
    ax.set_xlabel("threads per process")
    ax.set_ylabel("processes")
    top = max((p.get("rps") or 0) for p in points)
    for p in points:
        x, y = ts.index(p["threads"]), ps.index(p["processes"])
        p99 = p.get("p99_ms")
        light = (p.get("rps") or 0) > 0.6 * top  # viridis is light at the top: dark text there
        ax.text(x, y, f"{fmt_num(p.get('rps'))}\np99 {fmt_num(p99)} ms", ha="center", va="center", fontsize=8,
                color="black" if light else "white")
    if chosen and chosen[0] in ps and chosen[1] in ts:
        x, y = ts.index(chosen[1]), ps.index(chosen[0])
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor=MARK, linewidth=3))
        ax.set_title(f"recommended: {chosen[0]} x {chosen[1]} (outlined)", fontsize=9, color=MARK)
    return fig


def chart_heatmap(run: TuneRun, out: Path) -> FigureBlock:
    pts = [p for p in grid_points(run) if p.get("rps")]
    name = "threads1-heatmap"
    if not pts:
        return FigureBlock(name, FIGURES[name], skipped="no point was measured")
    return save_figure(heatmap_figure(pts, run.sizing.shape), out, name, FIGURES[name],
                       "Each cell a fresh Apache with that many processes of that many threads, loaded at "
                       "max(2 x processes x threads, --users) users; the recommended cell is outlined.")


def points_table(run: TuneRun) -> Table:
    chosen = run.sizing.shape
    rows = []
    for p in sorted(grid_points(run), key=lambda p: (p["processes"], p["threads"])):
        mark = " (recommended)" if (p["processes"], p["threads"]) == chosen else ""
        rows.append([f"{p['processes']} x {p['threads']}{mark}", fmt_num(p.get("rps")), fmt_num(p.get("p99_ms")),
                     fmt_num(p.get("requests_per_cpu_second")), fmt_num(p.get("busy_threads")),
                     fmt_num(p.get("cpu_pct_per_process")), fmt_num(p.get("pss_mb"))])
    table = Table(["processes x threads", "req/s", "p99 ms", "req/CPU-s", "busy threads/process",
                   "CPU %/process", "PSS MB"], rows,
                  "Medians over each point's trials; CPU 100% = one core: the GIL lets a process run Python on one "
                  "core at a time")
    measured = sorted((p for p in run.record.points if p.processes and p.threads),
                      key=lambda p: (int(p.processes or 0), int(p.threads or 0)))
    return with_connections(table, [p.to_json() for p in measured], before_last=False)


def recommendation(run: TuneRun) -> list[Block]:
    advice = run.advice
    head: list[Block] = []
    if advice.directives:
        head.append(Code("\n".join(advice.directives), "Paste into httpd.conf:", "apache"))
    binding = advice.binding or "-"
    return [*head, Para(f"Binding constraint: {binding}. Why: "
                        f"{advice.reasoning or 'the sweep stopped before the tuner concluded'}")]


def build(run: TuneRun) -> Path:
    out = prepare_out(run, FIGURES)
    figs = {b.name: b for b in (chart_heatmap(run, out),)}
    dropped = run.dropped
    sections = [
        Section("recommendation", "Recommendation", recommendation(run)),
        Section("grid", "Requests/s by processes x threads", [figs["threads1-heatmap"], points_table(run)]),
        Section("notes", "Not measured", [Bullets(dropped) if dropped else Para("Nothing.")]),
        Section("setup", "Machine, versions and settings",
                [*environment_blocks(run), KeyValues(kv(run.plan), "Plan (bench tune options)"),
                 KeyValues(kv(run.stack), "Stack (the sweep sets processes and threads per point)")]),
    ]
    meta = meta_line(run, "tune", f"{run.variant}/{run.workload}", f"{len(grid_points(run))} points")
    doc = Document(f"{run.server} processes x threads: run {run.run_id}", meta, sections)
    summary = {"schema": SUMMARY_SCHEMA, "kind": "tune", "knob": run.knob, "run_id": run.run_id,
               "complete": run.complete, "recommended": run.sizing.shape,
               "advice": run.record.advice.to_json() if run.record.advice else None,
               "points": grid_points(run),
               "dropped": dropped, "figures": figure_files(figs)}
    return write_report(out, doc, summary)


class ThreadsPage(KnobPage):
    knobs = ("threads", "processes,threads")
    section_title = SECTION_TITLE
    build = staticmethod(build)
    recommendation = staticmethod(recommendation)
