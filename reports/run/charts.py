"""Which figures a run gets: pull plain data out of the run, draw it (figures.py), save PNG and SVG.

Each `chart_*` function returns a FigureBlock: either a drawn figure with a caption written from the
data, or a skip note saying what data was missing. Missing data never raises.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from matplotlib.figure import Figure

from bench.record.run_folder import Run
from bench.record.run_rows import Timeline, TrialRow
from reports.kit.document import FigureBlock
from reports.kit.figures import FigureSpec, titles
from reports.kit.files import save_figure
from reports.kit.fmt import fmt_num, fmt_ratio
from reports.run import figures as F
from reports.run import open_model
from reports.run.analysis import Analysis, cpu_ms_per_request

URL_NOTE = "This is a --url run: the server side (access log, /proc samples) was not measured."


# The figures are registered at the end of this module (REGISTRY); FIGURES: name -> title, from it.


def _skip(name: str, why: str) -> FigureBlock:
    return FigureBlock(name, FIGURES[name], skipped=why)


def _save(fig: Figure, name: str, out_dir: Path, caption: str) -> FigureBlock:
    return save_figure(fig, out_dir, name, FIGURES[name], caption)


# --- figure 1 ------------------------------------------------------------------------------------
def chart_rps(run: Run, an: Analysis, out_dir: Path) -> FigureBlock:
    name = "fig1-rps"
    bars = []
    for c in an.cells:
        rps = c.summary.rps
        if rps is not None:
            lo, hi = c.summary.rps_ci95 or (None, None)
            bars.append(F.Bar(c.workload, c.series, rps, lo, hi))
    if not bars:
        return _skip(name, "No workload/variant has a requests/s summary yet.")
    best = max(bars, key=lambda b: b.value)
    worst = min(bars, key=lambda b: b.value)
    caption = (f"Median steady-state requests/s over trials (Locust's count), with 95% intervals. "
               f"Highest: {best.series} on {best.group}, {fmt_num(best.value)} req/s; "
               f"lowest: {worst.series} on {worst.group}, {fmt_num(worst.value)} req/s.")
    bound = [c.label for c in an.cells if c.summary.generator_bound]
    if bound:
        caption += f" Generator-bound (Locust's limit, not Apache's): {', '.join(bound)}."
    return _save(F.rps_figure(bars), name, out_dir, caption)


# --- figure 2 ------------------------------------------------------------------------------------
def split_bars(an: Analysis) -> list[F.Bar]:
    bars: list[F.Bar] = []
    if an.square is None:
        return bars
    labels = F.split_labels(an.square)
    for workload, s in an.splits.items():
        for label, eff in zip(labels, (s.pooling, s.caching, s.total), strict=True):
            bars.append(F.Bar(workload, label, eff.factor, eff.lo, eff.hi))
    return bars


def chart_speedup(run: Run, an: Analysis, out_dir: Path) -> FigureBlock:
    name = "fig2-speedup"
    bars = [F.Bar(str(r.workload), str(r.variant) if r.server is None else f"{r.variant} {r.server}", r.ratio,
                  r.lo, r.hi)
            for r in an.speedups if r.baseline == an.baseline and r.ratio is not None]  # Speedup.of: ratio set
    if not bars:
        why = (f"No {an.baseline} baseline in this run, so no speedup." if an.baseline not in run.variants
               else f"Only the {an.baseline} variant has results, so there is nothing to compare it with.")
        return _skip(name, why)
    best = max(bars, key=lambda b: b.value)
    caption = (f"Requests/s of each variant divided by {an.baseline}'s, with 95% intervals (log scale). Largest: "
               f"{best.series} on {best.group}, {fmt_ratio(best.value)}.")
    split = split_bars(an)
    if split and an.square is not None:  # split_bars is empty without a square
        first, second, _ = F.split_labels(an.square)
        caption += (f" Right: the 2x2 split of {an.square.both}/{an.square.base} into {first} and {second} "
                    "(log-ratio decomposition; see the Throughput section for the method).")
    return _save(F.speedup_figure(bars, split, an.baseline), name, out_dir, caption)


# --- figure 3 ------------------------------------------------------------------------------------
def chart_latency(run: Run, an: Analysis, out_dir: Path) -> FigureBlock:
    name = "fig3-latency"
    rows = []
    for c in an.cells:
        vals = c.summary.latencies
        if any(v is not None for v in vals):
            rows.append(F.Latency(c.workload, c.series, *vals))
    if not rows:
        return _skip(name, "No latency percentiles in the summaries.")
    p99 = [(r.p99_ms, r) for r in rows if r.p99_ms is not None]
    caption = "Client-side (Locust) response-time percentiles, medians over trials, log scale."
    if p99:
        lo, hi = min(p99, key=lambda x: x[0]), max(p99, key=lambda x: x[0])
        caption += (f" p99 ranges from {fmt_num(lo[0])} ms ({lo[1].variant} {lo[1].workload}) to "
                    f"{fmt_num(hi[0])} ms ({hi[1].variant} {hi[1].workload}).")
    zero = [r for r in rows if any(v is not None and v <= 0 for v in r[2:])]
    if zero:
        caption += " Percentiles of 0 ms (rounded by Locust) cannot be drawn on a log axis and are left out."
    return _save(F.latency_figure(rows), name, out_dir, caption)


# --- figure 4a/4b --------------------------------------------------------------------------------
def chart_per_process_rps(run: Run, an: Analysis, out_dir: Path) -> FigureBlock:
    name = "fig4a-per-process-rps"
    points = []
    for c in an.cells:
        for t in c.trials:
            points += [F.PidPoint(c.workload, c.series, p.pid, p.rps) for p in t.per_process]
    if not points:
        return _skip(name, URL_NOTE if run.source == "url" else "No trial has server.per_process data.")
    parts = []
    for c in an.cells:
        mine = sorted(p.rps for p in points if p.workload == c.workload and p.variant == c.series)
        if mine:
            parts.append(f"{c.label} {fmt_num(statistics.median(mine))} "
                         f"({fmt_num(mine[0])}–{fmt_num(mine[-1])})")
    caption = ("Steady-state requests/s of each Apache process (access log, one dot per PID per trial); "
               "median (range): " + "; ".join(parts) + ".")
    return _save(F.per_process_rps_figure(points), name, out_dir, caption)


def chart_per_process_timeline(run: Run, an: Analysis, out_dir: Path) -> FigureBlock:
    name = "fig4b-per-process-timeline"
    panels = []
    for c in an.cells:
        trial = c.representative
        tl = run.timeline(trial) if trial else None
        if not tl or not tl.per_pid or trial is None:
            continue
        series = [F.Series(pid, tl.seconds, vals) for pid, vals in sorted(tl.per_pid.items())]
        warm, end = steady_offsets(run, trial, tl)
        panels.append(F.Panel(f"{c.label} (trial {trial.trial})", series, warm, end_s=end))
    if not panels:
        return _skip(name, URL_NOTE if run.source == "url" else "No timeline.json with per_pid data.")
    caption = ("Requests each Apache process completed per second (access log), for the trial with the "
               "median requests/s of each workload and variant; grey: warm-up, light grey: after the window. "
               "Even lines mean the processes shared the load evenly.")
    return _save(F.per_process_timeline_figure(panels), name, out_dir, caption)


def steady_offsets(run: Run, trial: TrialRow, tl: Timeline | None) -> tuple[float | None, float | None]:
    """The steady window as seconds from the start of load: (warm-up end, window end).

    TRIAL.steady is authoritative (bench may move it, e.g. to Locust's own window); without it, the
    plan's warmup_s and duration_s, where duration_s counts from the start of load (warm-up included),
    as in the format's example (started + 5 .. started + 20 for warmup 5, duration 20).
    """
    t0 = trial.started
    if t0 is None and tl:
        t0 = tl.t0
    window = trial.steady
    if window is not None and t0 is not None:
        return window[0] - t0, window[1] - t0
    warm = tl.warmup_s if tl else None
    dur = tl.duration_s if tl else None
    return (warm if warm is not None else run.options.warmup_s,
            dur if dur is not None else run.options.duration_s)


# --- figure 5 ------------------------------------------------------------------------------------
def chart_memory(run: Run, an: Analysis, out_dir: Path) -> tuple[FigureBlock, list[str]]:
    """Also returns sentences about growth (what MaxConnectionsPerChild is for)."""
    name = "fig5-memory"
    per_proc: dict[tuple[str, str], list[tuple[float, float, float | None]]] = defaultdict(list)
    variant_of: dict[tuple[str, str], str] = {}
    windows: dict[str, tuple[float, float] | None] = {}
    for c in an.cells:
        for t in c.trials:
            seq = t.seq_text
            windows[seq] = t.steady
            for s in run.apache_samples(t):
                key = (seq, s.pid)
                per_proc[key].append((s.t, s.rss_kb / 1024, None if s.pss_kb is None else s.pss_kb / 1024))
                variant_of[key] = c.series
    if not per_proc:
        return _skip(name, URL_NOTE if run.source == "url" else "No Apache samples (samples.jsonl)."), []
    t0 = min(p[0] for pts in per_proc.values() for p in pts)
    series = []
    growth = []
    for key, pts in sorted(per_proc.items()):
        pts.sort()
        series.append(F.MemSeries(variant_of[key], key[1], [(p[0] - t0) / 60 for p in pts],
                                  [p[1] for p in pts], [p[2] for p in pts]))
        # Growth inside the steady window only: a new child's first seconds (imports, first
        # connection) are start-up, not the creep that MaxConnectionsPerChild exists for.
        window = windows.get(key[0])
        inside = [p for p in pts if window is None or window[0] <= p[0] <= window[1]]
        if len(inside) >= 2:
            growth.append((inside[-1][1] - inside[0][1], key, inside[-1][0] - inside[0][0]))
    has_pss = any(p[2] is not None for pts in per_proc.values() for p in pts)
    caption = ("RSS and PSS of every Apache process, sampled every 0.5 s from /proc, over the whole run "
               "(Apache restarts between trials, so each trial has its own PIDs); colour: the trial's variant.")
    if not has_pss:
        caption += " No PSS values were recorded (smaps_rollup not readable), so the PSS panel is empty."
    notes = []
    if growth:
        g, key, span = max(growth)
        if g > 0:
            notes.append(f"The largest RSS growth of one Apache process within a steady window was "
                         f"{fmt_num(g)} MB (PID {key[1]}, {variant_of[key]}, over {fmt_num(span)} s).")
        else:
            notes.append("No Apache process grew in RSS within its steady window.")
    return _save(F.memory_figure(series), name, out_dir, caption), notes


# --- figure 6 ------------------------------------------------------------------------------------
def chart_cost(run: Run, an: Analysis, out_dir: Path) -> FigureBlock:
    name = "fig6-cost"
    cpu, sessions = [], []
    for c in an.cells:
        ms = cpu_ms_per_request(c.summary.requests_per_cpu_second)
        if ms is not None:
            cpu.append(F.Bar(c.workload, c.series, ms))
        s = c.summary.db_sessions_per_1000_requests
        if s is not None:
            sessions.append(F.Bar(c.workload, c.series, s))
    if not cpu and not sessions:
        return _skip(name, URL_NOTE if run.source == "url" else "No CPU or PostgreSQL session data.")
    caption = ("Left: server CPU time (Apache children + PostgreSQL backends) per request, "
               "1000 / requests_per_cpu_second; it does not depend on the load generator. "
               "Right: new PostgreSQL sessions per 1000 requests (symlog scale).")
    return _save(F.cost_figure(cpu, sessions), name, out_dir, caption)


# --- figure 7 ------------------------------------------------------------------------------------
def chart_timeline(run: Run, an: Analysis, out_dir: Path) -> tuple[FigureBlock, list[str]]:
    """Also returns a sentence on how steady the steady window was."""
    name = "fig7-timeline"
    panels = []
    worst: tuple[float, str] | None = None
    for c in an.cells:
        series = []
        window: tuple[float | None, float | None] = (None, None)
        for t in c.trials:
            tl = run.timeline(t)
            if not tl:
                continue
            series.append(F.Series(t.trial, tl.seconds, tl.requests))
            warm, end = steady_offsets(run, t, tl)
            window = window if window[0] is not None else (warm, end)
            # Whole seconds inside the steady window only: the partial first/last ones are not steady.
            steady = [r for s, r in zip(tl.seconds, tl.requests, strict=True)
                      if s >= (warm or 0) and (end is None or s + 1 <= end)]
            if len(steady) >= 3 and statistics.mean(steady) > 0:
                cv = statistics.pstdev(steady) / statistics.mean(steady)
                if worst is None or cv > worst[0]:
                    worst = (cv, t.label)
        if series:
            panels.append(F.Panel(c.label, series, window[0], F.variant_color(c.variant), window[1]))
    if not panels:
        return _skip(name, URL_NOTE if run.source == "url" else "No timeline.json in the trial folders."), []
    caption = ("Requests completed per second (Apache access log), one line per trial; grey: warm-up, "
               "light grey: after the steady window (Locust stopping).")
    notes = []
    if worst is not None:
        notes.append(f"Within the steady window the per-second rate varied by at most {worst[0] * 100:.1f}% "
                     f"(coefficient of variation over whole seconds, worst trial: {worst[1]}).")
    return _save(F.timeline_figure(panels), name, out_dir, caption), notes


# --- figure 8 ------------------------------------------------------------------------------------
def chart_saturation(run: Run, an: Analysis, out_dir: Path) -> FigureBlock:
    name = "fig8-saturation"
    curves = [F.SaturationCurve(c.workload, c.variant, [s.users for s in c.steps], [s.rps for s in c.steps],
                                [s.p99_ms for s in c.steps], c.knee_users, c.server) for c in an.saturation if c.steps]
    if not curves:
        return _skip(name, "This run did not probe saturation (bench run --saturate).")
    bound = run.options.max_p99_ms
    caption = ("Requests/s (left) and client-side p99 (right) of each cell as its users doubled, log2 users axis; "
               "ringed: the knee, the users its trials then ran with. A probe stops when the server is the "
               "bottleneck, the generator saturates")
    caption += f" or p99 passes {fmt_num(bound)} ms (dotted)." if bound else " or p99 passes its bound."
    return _save(F.saturation_figure(curves, bound), name, out_dir, caption)


# --- figure 9 ------------------------------------------------------------------------------------
def chart_servers(run: Run, an: Analysis, out_dir: Path) -> FigureBlock:
    name = "fig9-servers"
    if not run.multi_server:
        return _skip(name, "This run measured one server (bench run --servers mod_python,mod_wsgi compares two).")
    rps, cpu, pss = [], [], []
    for c in an.cells:
        group, server = f"{c.workload}\n{c.variant}", c.server or "-"
        if (v := c.summary.rps) is not None:
            lo, hi = c.summary.rps_ci95 or (None, None)
            rps.append(F.Bar(group, server, v, lo, hi))
        if (v := c.summary.requests_per_cpu_second) is not None:
            cpu.append(F.Bar(group, server, v))
        if (v := c.summary.serving_pss) is not None:
            pss.append(F.Bar(group, server, v))
    if not rps:
        return _skip(name, "No cell has a requests/s summary yet.")
    caption = ("Each workload and variant under each server, medians over trials. Left: the client's requests/s; "
               "middle: requests per server CPU-second (Apache + PostgreSQL, independent of the generator); right: "
               "PSS of each process that served requests (mod_python's children, mod_wsgi's daemons).")
    return _save(F.servers_figure(rps, cpu, pss), name, out_dir, caption)


# --- the registry: one entry per figure, in the report's order -------------------------------------
# (name, title, chart function, the id of the section it closes; the page may place it earlier in it)
REGISTRY = [
    FigureSpec("fig1-rps", "Figure 1: requests/s by workload and variant", chart_rps, "throughput"),
    FigureSpec("fig2-speedup", "Figure 2: speedup over naive", chart_speedup, "throughput"),
    FigureSpec("fig3-latency", "Figure 3: latency percentiles", chart_latency, "latency"),
    FigureSpec("fig4a-per-process-rps", "Figure 4a: requests/s per Apache process", chart_per_process_rps,
               "capacity"),
    FigureSpec("fig4b-per-process-timeline", "Figure 4b: requests per process over time",
               chart_per_process_timeline, "capacity"),
    FigureSpec("fig5-memory", "Figure 5: memory per Apache process", chart_memory, "memory"),
    FigureSpec("fig6-cost", "Figure 6: server CPU and PostgreSQL sessions per request", chart_cost, "cost"),
    FigureSpec("fig7-timeline", "Figure 7: requests/s over time", chart_timeline, "over-time"),
    FigureSpec("fig8-saturation", "Figure 8: requests/s and p99 against users (saturation)", chart_saturation,
               "saturation"),
    FigureSpec("fig9-servers", "Figure 9: each server, cell by cell", chart_servers, "servers"),
    FigureSpec(open_model.NAME, open_model.TITLE, open_model.chart_offered_rate, "latency"),
]
FIGURES = titles(REGISTRY)
