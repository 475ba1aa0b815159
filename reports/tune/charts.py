"""Which figures a tune run gets: pull plain data out of tune.json and the trial folders, draw it
(tune_figures.py), save PNG and SVG. Each `chart_*` returns a FigureBlock (drawn, or a skip note) and the
notes to show next to it; missing data never raises.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from matplotlib.figure import Figure

from bench.record.tune import MODEL_TOLERANCE, BudgetScope
from bench.record.tune_conclusions import CurvePoint
from bench.record.tune_folder import TuneRun
from bench.record.tune_points import Point, mode_label
from reports.kit.document import FigureBlock
from reports.kit.files import save_figure
from reports.kit.fmt import fmt_num
from reports.tune import figures as TF

FIGURES = {
    "tune1-throughput": "Figure 1: requests/s against MaxConnectionsPerChild",
    "tune2-memory": "Figure 2: a child's memory at the end of its life",
    "tune3-model-check": "Figure 3: the model against the measurement",
    "tune4-child-memory": "Figure 4: each child's RSS over its life",
}
PLOT_LIMIT = 1e12
CURVE_SPAN = (5.0, 50.0)  # the model's curve: from min(N) / 5 to max(N) x 50, enough to show its shape


def sane(value: float | None) -> float | None:
    """A value a figure can place: finite numbers beyond any real rate, size or N (a damaged file) are
    left out, since matplotlib overflows computing limits and ticks for them."""
    return value if value is not None and abs(value) < PLOT_LIMIT else None


def _skip(name: str, why: str) -> FigureBlock:
    return FigureBlock(name, FIGURES[name], skipped=why)


def _save(fig: Figure, name: str, out_dir: Path, caption: str) -> FigureBlock:
    return save_figure(fig, out_dir, name, FIGURES[name], caption)


def _span(run: TuneRun) -> tuple[float, float] | None:
    """The N range the model's curves are drawn over: the measured and recommended N, widened."""
    ns = [p.n for p in run.points if p.n > 0 and sane(p.n)]
    ns += [n for m in run.modes if (n := _rec_n(run, m)) and sane(n)]
    if not ns:
        return None
    return min(ns) / CURVE_SPAN[0], max(ns) * CURVE_SPAN[1]


def _rec_n(run: TuneRun, mode: str) -> int | None:
    rec = run.conclusion(mode).recommended
    return None if rec is None else rec.value


def _curve_rows(run: TuneRun, mode: str) -> list[CurvePoint]:
    """The model's curve of `mode`, by N."""
    model = run.conclusion(mode).model
    return sorted((c for c in (model.curve if model else ()) if c.value is not None), key=lambda c: c.value or 0)


def _curve(run: TuneRun, mode: str, field: Callable[[CurvePoint], float | None]) -> TF.Curve:
    span = _span(run)
    xs, ys = [], []
    for row in _curve_rows(run, mode):
        n, value = row.value or 0, sane(field(row))
        if n > 0 and sane(n) and value is not None and (span is None or span[0] <= n <= span[1]):
            xs.append(n)
            ys.append(value)
    return TF.Curve(mode, xs, ys)


def _curve_at(run: TuneRun, mode: str, n: int, field: Callable[[CurvePoint], float | None]) -> float | None:
    return next((field(row) for row in _curve_rows(run, mode) if row.value == n), None)


def _rps(c: CurvePoint) -> float | None:
    return c.rps


def _rss(c: CurvePoint) -> float | None:
    return c.rss_end_mb


# --- figure 1 ------------------------------------------------------------------------------------
def chart_throughput(run: TuneRun, out_dir: Path) -> FigureBlock:
    name = "tune1-throughput"
    points = []
    for p in run.points:
        if (rps := sane(p.rps)) is not None and sane(p.n) is not None:
            lo, hi = p.ci or (None, None)
            points.append(TF.NPoint(p.mode, p.n, rps, sane(lo), sane(hi)))
    curves = [c for m in run.modes if (c := _curve(run, m, _rps)).n]
    marks = []
    for m in run.modes:
        n = _rec_n(run, m)
        if n and sane(n):
            marks.append(TF.Mark(m, n, sane(_curve_at(run, m, n, _rps))))
    if not points and not curves:
        return _skip(name, "No point has a requests/s measurement yet.")
    caption = ("Steady-state requests/s (Locust) at each MaxConnectionsPerChild N, one colour per keep-alive mode, "
               "with 95% intervals where a point has 2 or more trials; dashed: the model's long-run prediction; "
               "star: the recommended N on the model's curve; N = 0 (never recycle) in the narrow panel at the "
               "right and as a dotted line.")
    parts = []
    for m in run.modes:
        base = run.point(m, 0)
        worst = min((p for p in run.mode_points(m) if p.n > 0 and p.rps is not None), key=lambda p: p.rps or 0,
                    default=None)
        if base is not None and base.rps and worst is not None and worst.rps is not None:
            parts.append(f"{mode_label(m)}: {fmt_num(base.rps)} req/s never recycled, {fmt_num(worst.rps)} at "
                         f"N = {worst.n}")
    if parts:
        caption += " " + "; ".join(parts) + "."
    return _save(TF.tune_throughput_figure(points, curves, marks), name, out_dir, caption)


# --- figure 2 ------------------------------------------------------------------------------------
def budget_line(run: TuneRun) -> tuple[float | None, str]:
    """The memory budget as MB per child, and its legend label; (None, "") without a budget."""
    budget = run.memory_budget_mb
    if budget is None:
        return None, ""
    if run.memory_budget_scope == BudgetScope.TOTAL:
        procs = run.processes
        if not procs:
            return None, ""
        return budget / procs, f"budget: {fmt_num(budget)} MB total / {procs} processes"
    return budget, f"budget: {fmt_num(budget)} MB per child"


def chart_memory(run: TuneRun, out_dir: Path) -> FigureBlock:
    name = "tune2-memory"
    rss = [TF.NPoint(p.mode, p.n, v) for p in run.points
           if (v := sane(p.rss_mb_end_of_life)) is not None and sane(p.n) is not None]
    pss = [TF.NPoint(p.mode, p.n, v) for p in run.points
           if (v := sane(p.pss_mb_end_of_life)) is not None and sane(p.n) is not None]
    curves = [c for m in run.modes if (c := _curve(run, m, _rss)).n]
    marks = []
    for m in run.modes:
        rec = run.conclusion(m).recommended
        if rec is not None and rec.value and sane(rec.value):
            marks.append(TF.Mark(m, rec.value, sane(rec.rss_end_mb)))
    if not rss and not pss and not curves:
        return _skip(name, "No point has end-of-life memory (no Apache samples were recorded).")
    budget, label = budget_line(run)
    budget = sane(budget)
    caption = ("RSS (filled) and PSS (hollow) of a child at the end of its life, median over the children seen "
               "(for N = 0, never recycled, and for children still alive at the end: their size at the end of the "
               "trial); dashed: the model's RSS at the end of a life of N connections, fresh size + growth x "
               "requests; star: the recommended N.")
    caption += f" Dash-dot: the memory {label}." if budget is not None else " No memory budget was set."
    if curves:
        caption += " The y axis fits the measurements; the model's curve may leave it at large N."
    return _save(TF.tune_memory_figure(rss, pss, curves, marks, budget, label), name, out_dir, caption)


# --- figure 3 ------------------------------------------------------------------------------------
def chart_check(run: TuneRun, out_dir: Path) -> FigureBlock:
    name = "tune3-model-check"
    checks = []
    for m in run.modes:
        for c in run.conclusion(m).checks:
            meas, pred, err = sane(c.measured_rps), sane(c.predicted_rps), sane(c.signed)
            if meas is not None and pred is not None and err is not None:
                checks.append(TF.CheckPoint(m, c.n, meas, pred, err))
    if not checks:
        return _skip(name, "tune.json has no model check (the sweep stopped before the model was fitted).")
    worst = max(checks, key=lambda c: abs(c.error))
    caption = (f"The model's requests/s for the window each point measured, against the measurement. Grey: within "
               f"±{MODEL_TOLERANCE * 100:.0f}%, the tuner's tolerance. Largest error: N = {worst.n}, "
               f"{mode_label(worst.mode)}, {fmt_num(worst.predicted)} predicted against {fmt_num(worst.measured)} "
               "measured. N = 0 is where the model is calibrated, so its error there is 0 by construction.")
    return _save(TF.tune_check_figure(checks, MODEL_TOLERANCE), name, out_dir, caption)


# --- figure 4 ------------------------------------------------------------------------------------
def _candidates(run: TuneRun) -> list[Point]:
    """Points worth showing a child's life for, best first: per mode (the advice's first), N = 0 (the
    longest lives: a leak shows as a slope) and the smallest N that replaced children (lives cut short)."""
    modes = sorted(run.modes, key=lambda m: m != run.advice_mode)
    out: list[Point] = []
    for m in modes:
        pts = run.mode_points(m)
        zero = [p for p in pts if p.n == 0]
        spawning = [p for p in pts if p.n > 0 and (p.children_spawned_per_s or 0) > 0]
        out += zero + spawning[:1]
    for p in run.points:  # anything else, last
        if p not in out:
            out.append(p)
    return out


def _child_panel(run: TuneRun, point: Point) -> tuple[TF.ChildPanel | None, str | None]:
    """The panel of a point's first trial with usable samples, or why there is none."""
    why = None
    for t in point.trials:
        samples = run.apache_samples(t)
        if samples is None:
            why = f"{t.dir or 'the trial folder'}/samples.jsonl is missing"
            continue
        apache = [(pid, ts, kb) for pid, ts, kb in samples.rss_kb if sane(kb) is not None]
        if not apache:
            why = f"{t.dir}/samples.jsonl has no Apache samples"
            continue
        t0 = sane(samples.started)
        if t0 is None:  # Apache and the sampler start together: the first sample is close enough
            t0 = samples.first_t
        if t0 is None:  # no sample at all (then there are no Apache samples either)
            continue
        steady = samples.steady
        window = (steady[0] - t0, steady[1] - t0) if steady else t.window
        by_pid: dict[str, list[tuple[float, float]]] = {}
        for pid, ts, kb in apache:
            if (age := sane(ts - t0)) is not None:
                by_pid.setdefault(pid, []).append((age, kb / 1024))
        children = []
        for pid, pts in sorted(by_pid.items(), key=lambda kv: min(kv[1])):
            pts.sort()
            children.append(TF.ChildLife(pid, [p[0] for p in pts], [p[1] for p in pts]))
        title = f"N = {point.n}, {mode_label(point.mode)}" + (" (never recycled)" if point.n == 0 else "")
        return TF.ChildPanel(title, point.mode, children, window), None
    return None, why


def chart_child_memory(run: TuneRun, out_dir: Path, max_panels: int = 2) -> tuple[FigureBlock, list[str]]:
    name = "tune4-child-memory"
    panels: list[TF.ChildPanel] = []
    shown: list[Point] = []
    notes = []
    candidates = _candidates(run)
    for point in candidates:
        if len(panels) == max_panels:
            break
        panel, why = _child_panel(run, point)
        if panel is not None:
            panels.append(panel)
            shown.append(point)
        elif why and point in candidates[:max_panels]:  # only the points the figure meant to show
            notes.append(f"No child memory for {point.label}: {why}.")
    if not panels:
        return _skip(name, "No trial folder has Apache memory samples (samples.jsonl): the raw files were not "
                           "kept with this run."), notes
    growth = [p for p in shown if p.n == 0]
    caption = ("RSS of every Apache child, sampled every 0.5 s from /proc, for "
               + " and ".join(p.label for p in shown)
               + "; x: seconds since Apache started; grey: warm-up, light grey: after the steady window. ")
    if growth and (g := growth[0].growth_kb_per_request) is not None:
        caption += (f"Never recycled, the children grew {fmt_num(g)} KB per request served"
                    + (" (flat: no leak)." if abs(g) <= 0.05 else "."))
    recycled = [p for p in shown if p.n > 0]
    if recycled:
        caption += (f" At N = {recycled[0].n} each child is replaced after {recycled[0].n} connections, so its "
                    "memory starts again from a fresh child's size.")
    return _save(TF.tune_child_memory_figure(panels), name, out_dir, caption), notes
