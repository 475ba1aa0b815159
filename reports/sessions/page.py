"""The page of a `bench sessions` folder: runs/<id>-sessions/report/{report.html, report.md, summary.json,
fig1-forgotten.png/.svg}. Reads nothing but sessions.json (bench.record.sessions).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from bench.record.sessions import SessionsRun
from reports.kit.document import Block, Bullets, Document, KeyValues, Para, Section, Table
from reports.kit.files import save_figure
from reports.kit.fmt import fmt_num, fmt_share
from reports.kit.page import environment_blocks, figure_files, kv, meta_line, prepare_out, write_report
from reports.kit.style import new_figure, styled

FIGURE = "fig1-forgotten"
TITLE = "Figure 1: returning requests served by another process than the one that issued the cookie"


def table(run: SessionsRun) -> Table:
    rows = []
    for r in run.results:
        rows.append([fmt_num(r.processes), r.mode, fmt_share(r.process.forgotten_rate),
                     fmt_share(r.expected_forgotten_rate), fmt_share(r.process.unknown_rate),
                     fmt_num(r.process.pids_seen), fmt_num(r.process.server_ms_p50), fmt_num(r.shared.server_ms_p50),
                     fmt_num(r.shared_extra_ms), fmt_share(r.shared.unknown_rate)])
    return Table(["processes", "keep-alive", "forgotten", "expected 1 - 1/N", "unknown", "PIDs seen",
                  "process ms", "shared ms", "shared +ms", "shared unknown"], rows,
                 "/session/process keeps the visit counter in a module global, /session/shared in PostgreSQL. "
                 "forgotten: returning requests served by another process than the one that issued the cookie; "
                 "unknown: the serving process had never seen the session; ms: median server time (%D)")


def sentences(run: SessionsRun) -> list[str]:
    out = []
    for r in run.results:
        forgotten = r.process.forgotten_rate
        if forgotten is None:
            continue
        text = (f"{fmt_num(r.processes)} process(es), keep-alive {r.mode}: a session kept in process "
                f"memory was forgotten on {fmt_share(forgotten)} of returning requests (1 - 1/N = "
                f"{fmt_share(r.expected_forgotten_rate)})")
        if r.shared_extra_ms is not None:
            text += f"; the shared store cost {fmt_num(r.shared_extra_ms)} ms of server time per request"
        out.append(text + ".")
    if out:
        out.append("The shared store (PostgreSQL) forgets no session whatever the process count; keep-alive only "
                   "hides the per-process loss within one connection (one visit).")
    return out


@styled
def forgotten_figure(run: SessionsRun) -> Figure:
    fig = new_figure(7, 4)
    ax = fig.add_subplot()
    procs = sorted({int(r.processes or 0) for r in run.results})
    ax.plot(procs, [1 - 1 / n for n in procs], linestyle=":", color="#555555", label="1 - 1/N")
    for mode, color in (("off", "#d62728"), ("on", "#1f77b4")):
        pts = sorted((int(r.processes or 0), v) for r in run.results
                     if r.mode == mode and (v := r.process.forgotten_rate) is not None)
        if pts:
            ax.plot([n for n, _ in pts], [v for _, v in pts], marker="o", color=color,
                    label=f"/session/process, keep-alive {mode}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(procs, [str(n) for n in procs])
    ax.set_ylim(-0.02, 1.02)
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f}%")
    ax.set_xlabel("Apache processes")
    ax.set_ylabel("returning requests forgotten")
    ax.legend(loc="upper left")
    return fig


def build_sessions_report(run_dir: Path | str) -> Path:
    """Write the report of a `bench sessions` folder into its report/ folder; returns report.html."""
    run = SessionsRun.open(run_dir)
    run.require_results()
    out = prepare_out(run, [FIGURE])
    caption = ("Share of returning requests to /session/process served by another process than the one that "
               "issued the cookie, by process count and keep-alive mode; dotted: 1 - 1/N.")
    fig = save_figure(forgotten_figure(run), out, FIGURE, TITLE, caption)
    words = {"clients": "clients", "visit_requests": "requests per visit",
             "requests_per_endpoint": "requests per endpoint and setting", "seed": "seed"}
    settings = [(words[k], fmt_num(v)) for k, v in run.client()]
    setup: list[Block] = [*environment_blocks(run), KeyValues(settings, "Client")]
    if run.settings is not None:
        setup.append(KeyValues(kv(run.settings), "Stack settings (processes and keep-alive set per row)"))
    lines = sentences(run)
    summary: list[Block] = [Bullets(lines)] if lines else []
    if not run.complete:
        summary.append(Para("This measurement is incomplete (interrupted): only the rows below were measured.",
                            "warning"))
    doc = Document(f"State is per process: bench sessions {run.run_id}", meta_line(run, "sessions"), [
        Section("summary", "Forgotten sessions", [*summary, table(run), fig]),
        Section("setup", "Machine and settings", setup),
    ])
    data = {"schema": 1, "run_id": run.run_id, "kind": "sessions", "complete": run.complete,
            "results": [r.raw for r in run.results], "figures": figure_files({FIGURE: fig})}
    return write_report(out, doc, data)



