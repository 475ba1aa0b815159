"""The run report's figures: each function takes plain data (named tuples of str/float) and returns a Figure.

No pyplot: figures are built on the Agg canvas directly, so there is no global state, no display is
needed, and a test can call any function with a few literal values. Callers decide what to do with
missing data; these functions draw what they are given (an empty input gives an empty, labelled figure).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from bench.record import VARIANTS
from bench.record.attribution import FACTORS, Square, square
from reports.kit.fmt import fmt_num
from reports.kit.style import new_figure, short, styled

# The variant table's variants in its order take these; a variant past them takes _FALLBACK.
VARIANT_COLORS = dict(zip(VARIANTS, ("#d1495b", "#edae49", "#8e6cc7", "#00798c"), strict=False))


def split_labels(sq: Square) -> tuple[str, str, str]:
    """The split panel's series: the first factor's effect, the second's, the total ("total (pooled)")."""
    return FACTORS[sq.first], FACTORS[sq.second], f"total ({sq.both})"


def split_colors(sq: Square | None) -> dict[str, str]:
    """Same colours as the single-factor variants and the full one, so both panels read alike."""
    if sq is None:
        return {}
    return dict(zip(split_labels(sq), (variant_color(v) for v in sq.variants[1:]), strict=True))


_FALLBACK = ["#30638e", "#003d5b", "#6a994e", "#bc4749", "#7f5539", "#577590"]



class Bar(NamedTuple):
    """One bar: `group` on the x axis (a workload), `series` its colour (a variant); lo/hi = 95% CI."""

    group: str
    series: str
    value: float
    lo: float | None = None
    hi: float | None = None


class Latency(NamedTuple):
    workload: str
    variant: str
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class PidPoint(NamedTuple):
    workload: str
    variant: str
    pid: str
    rps: float


class Series(NamedTuple):
    label: str
    x: Sequence[float]
    y: Sequence[float]


class Panel(NamedTuple):
    """One small multiple: a title, its lines, and the steady window (seconds from 0) if known.

    Before `warmup_s` is shaded as warm-up; after `end_s` (Locust stopping) is shaded lighter.
    """

    title: str
    series: Sequence[Series]
    warmup_s: float | None = None
    color: str | None = None
    end_s: float | None = None


class MemSeries(NamedTuple):
    """One Apache process's memory over the run; x in minutes since the run's first sample."""

    variant: str
    pid: str
    minutes: Sequence[float]
    rss_mb: Sequence[float]
    pss_mb: Sequence[float | None]


class SaturationCurve(NamedTuple):
    """One cell's saturation probe: its steps (users doubling) and the knee (the users its trials used)."""

    workload: str
    variant: str
    users: Sequence[int]
    rps: Sequence[float | None]
    p99_ms: Sequence[float | None]
    knee_users: int | None = None
    server: str | None = None  # --servers runs: the server the cell ran under (its marker)


def variant_color(variant: str, order: Sequence[str] = ()) -> str:
    if variant in VARIANT_COLORS:
        return VARIANT_COLORS[variant]
    extra = [v for v in order if v not in VARIANT_COLORS]
    i = extra.index(variant) if variant in extra else abs(hash(variant))
    return _FALLBACK[i % len(_FALLBACK)]


def _ordered(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _times_formatter() -> FuncFormatter:
    return FuncFormatter(lambda v, _pos: f"{v:g}x")


def _grouped_bars(
    ax: Axes, bars: Sequence[Bar], *, log: bool = False, suffix: str = "", symlog: bool = False,
    colors: dict[str, str] | None = None,
) -> None:
    groups = _ordered([b.group for b in bars])
    series = _ordered([b.series for b in bars])
    width = 0.8 / max(len(series), 1)
    for i, name in enumerate(series):
        mine = {b.group: b for b in bars if b.series == name}
        xs, ys, err_lo, err_hi, has_err = [], [], [], [], False
        for gi, group in enumerate(groups):
            if group not in mine:
                continue
            b = mine[group]
            xs.append(gi - 0.4 + width * (i + 0.5))
            ys.append(b.value)
            if b.lo is not None and b.hi is not None:
                err_lo.append(max(b.value - b.lo, 0.0))
                err_hi.append(max(b.hi - b.value, 0.0))
                has_err = True
            else:
                err_lo.append(0.0)
                err_hi.append(0.0)
        color = (colors or {}).get(name) or variant_color(name, series)
        # On a log axis a ratio's bar starts at 1x (no change), so it grows up or down from there.
        base = 1.0 if log else 0.0
        ax.bar(
            xs, [y - base for y in ys], width * 0.92, bottom=base, label=short(name), color=color,
            yerr=[err_lo, err_hi] if has_err else None,
            error_kw={"ecolor": "#222222", "elinewidth": 1, "capsize": 3},
        )
        for x, y, up in zip(xs, ys, err_hi, strict=True):
            ax.annotate(
                f"{fmt_num(y)}{suffix}", (x, y + up), xytext=(0, 2), textcoords="offset points",
                ha="center", va="bottom", fontsize=7.5, color="#333333",
            )
    ax.set_xticks(range(len(groups)), [short(g) for g in groups])
    if symlog:
        ax.set_yscale("symlog", linthresh=1.0)
        # The symlog formatter writes mathtext ($\mathdefault{10^{3}}$), which the style shows raw
        # (text.parse_math off: labels come from run data): plain numbers instead.
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.set_ylim(bottom=0)
    elif log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
        ax.margins(y=0.12)
    if series:
        # Long names ("pooled mod_wsgi" under --servers) in 4 columns would squeeze the axes to nothing.
        wide = max(len(short(s)) for s in series) > 12
        ax.legend(ncols=min(len(series), 2 if wide else 4), loc="upper left", bbox_to_anchor=(0, 1.0))


@styled
def rps_figure(bars: Sequence[Bar]) -> Figure:
    """Figure 1: requests/s per workload (group) and variant (series), with 95% CI error bars."""
    fig = new_figure(9, 4.2)
    ax = fig.add_subplot()
    _grouped_bars(ax, bars)
    ax.set_ylabel("requests/s (median over trials)")
    ax.set_title("Requests per second by workload and variant (error bars: 95% CI)")
    top = max((b.hi if b.hi is not None else b.value for b in bars), default=1.0)
    ax.set_ylim(0, top * 1.25 if top > 0 else 1.0)  # room for the legend and value labels
    return fig


@styled
def speedup_figure(speedups: Sequence[Bar], split: Sequence[Bar] = (), baseline: str = "naive") -> Figure:
    """Figure 2: speedup over naive (series = variant) and, when given, the 2x2 split per workload.

    `split` bars use the series names of `split_labels` ("pooling", "template caching", "total (pooled)").
    """
    fig = new_figure(10 if split else 8, 4.2)
    axes = fig.subplots(1, 2 if split else 1, squeeze=False)[0]
    _ratio_bars(axes[0], speedups, f"requests/s relative to {baseline} (log scale)",
                f"Speedup over {baseline} (95% CI)")
    if split:
        _ratio_bars(axes[1], split, "factor (log scale)", "Where the speedup comes from (2x2 log-ratio split)",
                    colors=split_colors(square()))
    return fig


def _ratio_bars(ax: Axes, bars: Sequence[Bar], ylabel: str, title: str, colors: dict[str, str] | None = None) -> None:
    """Ratios as bars on a log axis, growing up or down from the dashed 1x line."""
    _grouped_bars(ax, bars, log=True, suffix="x", colors=colors)
    ax.axhline(1.0, color="#555555", linewidth=0.8, linestyle="--")
    ax.yaxis.set_major_formatter(_times_formatter())
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _pad_log(ax, bars)


def _pad_log(ax: Axes, bars: Sequence[Bar]) -> None:
    vals = [v for b in bars for v in (b.value, b.lo, b.hi) if v is not None and v > 0] + [1.0]
    lo, hi = min(vals), max(vals)
    ax.set_ylim(lo / 1.3, hi * (3.0 if hi / lo > 3 else 1.8))


@styled
def latency_figure(rows: Sequence[Latency]) -> Figure:
    """Figure 3: p50/p90/p99/max per variant, one panel per workload, log scale.

    Non-positive values (Locust rounds sub-millisecond times to 0) cannot sit on a log axis and are left
    out of the line; the caller says so in the text.
    """
    workloads = _ordered([r.workload for r in rows]) or [""]
    variants = _ordered([r.variant for r in rows])
    fig = new_figure(min(4.2 * len(workloads), 12), 3.8)
    axes = fig.subplots(1, len(workloads), squeeze=False, sharey=True)[0]
    names = ["p50", "p90", "p99", "max"]
    for ax, workload in zip(axes, workloads, strict=True):
        for row in rows:
            if row.workload != workload:
                continue
            ys = [row.p50_ms, row.p90_ms, row.p99_ms, row.max_ms]
            ys = [y if y is not None and y > 0 else np.nan for y in ys]
            ax.plot(names, ys, marker="o", label=short(row.variant), color=variant_color(row.variant, variants))
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g} ms"))
        ax.set_title(short(workload))
        ax.grid(True, which="major", axis="both", alpha=0.3)
    axes[0].set_ylabel("response time (ms, log scale)")
    handles = [Line2D([], [], color=variant_color(v, variants), marker="o", label=short(v)) for v in variants]
    if handles:
        axes[0].legend(handles=handles, loc="upper left")
    fig.suptitle("Latency percentiles (client side, median over trials)", fontweight="bold", fontsize=10.5)
    return fig


@styled
def per_process_rps_figure(points: Sequence[PidPoint]) -> Figure:
    """Figure 4a: requests/s of each Apache process (one dot per PID per trial), per workload x variant."""
    cats = _ordered([f"{p.workload}\n{p.variant}" for p in points])
    variants = _ordered([p.variant for p in points])
    fig = new_figure(max(6, 1.1 * len(cats) + 2), 4.0)
    ax = fig.add_subplot()
    rng = np.random.default_rng(1)  # fixed jitter: same figure every time
    for ci, cat in enumerate(cats):
        mine = [p for p in points if f"{p.workload}\n{p.variant}" == cat]
        ys = np.array([p.rps for p in mine])
        xs = ci + rng.uniform(-0.18, 0.18, size=ys.size)
        color = variant_color(mine[0].variant, variants)
        ax.scatter(xs, ys, s=18, color=color, alpha=0.8, edgecolors="white", linewidths=0.5, zorder=3)
        med = float(np.median(ys))
        ax.plot([ci - 0.3, ci + 0.3], [med, med], color="#222222", linewidth=1.5, zorder=4)
        ax.annotate(fmt_num(med), (ci + 0.32, med), va="center", fontsize=7.5)
    ax.set_xticks(range(len(cats)), [short(c) for c in cats])
    ax.set_xlim(-0.6, len(cats) - 0.4)
    ax.set_ylim(bottom=0)
    ax.margins(y=0.1)
    ax.set_ylabel("requests/s of one process")
    ax.set_title("Requests per second per Apache process (dots: PIDs; bar: median)")
    return fig


_DASHES = ["-", "--", ":", "-."]


def _small_multiples(panels: Sequence[Panel], ylabel: str, title: str, legend_title: str | None) -> Figure:
    """A grid of per-second series. `legend_title` None: lines are not named in the legend (PIDs say
    nothing to a reader); the legend then only explains the shading."""
    n = max(len(panels), 1)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig = new_figure(min(3.2 * ncols, 13), 2.5 * nrows + 0.6)
    # y not shared: naive and pooled differ ~10x, a shared axis would flatten one of them.
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    flat = list(axes.flat)
    for pi, (ax, panel) in enumerate(zip(flat, panels, strict=False)):
        if panel.warmup_s:
            ax.axvspan(0, panel.warmup_s, color="#999999", alpha=0.25, linewidth=0, label="warm-up")
        last = max((x + 1 for s in panel.series for x in s.x), default=None)
        if panel.end_s is not None and last is not None and last > panel.end_s:
            ax.axvspan(panel.end_s, last, color="#999999", alpha=0.1, linewidth=0, label="after the window")
        many = len(panel.series) > 6
        for i, s in enumerate(panel.series):
            kwargs: dict = {"linewidth": 0.9 if many else 1.4, "alpha": 0.8 if many else 1.0}
            if panel.color and not many:
                kwargs["color"] = panel.color
                kwargs["linestyle"] = _DASHES[i % len(_DASHES)]
            if legend_title is not None:
                kwargs["label"] = short(s.label)
            # Each value counts requests completed in [s, s+1): draw it as a step over that second.
            xs = [*s.x, s.x[-1] + 1] if len(s.x) else []
            ys = [*s.y, s.y[-1]] if len(s.y) else []
            ax.plot(xs, ys, drawstyle="steps-post", **kwargs)
        ax.set_title(short(panel.title, 48), fontsize=9.5)
        ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.15)
        if pi == 0 and (panel.warmup_s or (legend_title is not None and len(panel.series) <= 6)):
            ax.legend(fontsize=7, title=legend_title, title_fontsize=7, loc="lower center")
    for ax in flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    for ax in flat[max(len(panels) - ncols, 0):len(panels)]:  # the lowest visible panel of each column
        ax.xaxis.set_tick_params(labelbottom=True)
        ax.set_xlabel("seconds since start of load")
    fig.suptitle(title, fontweight="bold", fontsize=10.5)
    return fig


@styled
def per_process_timeline_figure(panels: Sequence[Panel]) -> Figure:
    """Figure 4b: requests per second served by each process (one line per PID) over one trial."""
    return _small_multiples(
        panels, "requests/s", "Requests per process over time (one line per PID; grey: warm-up)", None
    )


@styled
def timeline_figure(panels: Sequence[Panel]) -> Figure:
    """Figure 7: server requests/s over time, one line per trial, warm-up shaded."""
    return _small_multiples(
        panels, "requests/s", "Requests per second over time (access log; grey: warm-up)", "trial"
    )


@styled
def memory_figure(series: Sequence[MemSeries]) -> Figure:
    """Figure 5: RSS and PSS of each Apache process over the run, coloured by the trial's variant."""
    fig = new_figure(10, 4.6)
    ax_rss, ax_pss = fig.subplots(1, 2, sharex=True, sharey=True)
    variants = _ordered([s.variant for s in series])
    for s in series:
        color = variant_color(s.variant, variants)
        ax_rss.plot(s.minutes, s.rss_mb, color=color, linewidth=0.9, alpha=0.8)
        pss = [np.nan if v is None else v for v in s.pss_mb]
        if not all(np.isnan(pss)):
            ax_pss.plot(s.minutes, pss, color=color, linewidth=0.9, alpha=0.8)
    for ax, name in ((ax_rss, "RSS"), (ax_pss, "PSS")):
        ax.set_title(f"{name} per Apache process")
        ax.set_xlabel("minutes since the run's first sample")
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="both", alpha=0.3)
    ax_rss.set_ylabel("MB")
    handles = [Line2D([], [], color=variant_color(v, variants), label=short(v)) for v in variants]
    if handles:
        fig.legend(handles=handles, loc="outside upper center", ncols=len(handles), title="trial variant")
    return fig


def _bar_panel(ax: Axes, bars: Sequence[Bar], title: str, ylabel: str, symlog: bool = False) -> None:
    """One panel of grouped bars (room above the tallest bar or interval), or a note when there is no data."""
    if bars:
        if symlog:
            _grouped_bars(ax, bars, symlog=True)
            ax.set_ylim(0, max(max(b.value for b in bars), 1.0) * 8)
        else:
            _grouped_bars(ax, bars)
            top = max(b.hi if b.hi is not None else b.value for b in bars)
            ax.set_ylim(0, top * 1.3 if top > 0 else 1.0)
    else:
        ax.text(0.5, 0.5, "no data in this run", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
    ax.set_title(title)
    ax.set_ylabel(ylabel)


@styled
def cost_figure(cpu_ms: Sequence[Bar], sessions: Sequence[Bar]) -> Figure:
    """Figure 6: server CPU per request (ms) and PostgreSQL sessions per 1000 requests."""
    fig = new_figure(10, 4.2)
    ax_cpu, ax_db = fig.subplots(1, 2)
    for ax, bars, title, ylabel, kwargs in (
        (ax_cpu, cpu_ms, "Server CPU per request", "ms of CPU (Apache + PostgreSQL)", {}),
        (ax_db, sessions, "PostgreSQL sessions per 1000 requests", "sessions (symlog)", {"symlog": True}),
    ):
        _bar_panel(ax, bars, title, ylabel, **kwargs)
    return fig


@styled
def saturation_figure(curves: Sequence[SaturationCurve], max_p99_ms: float | None = None) -> Figure:
    """Figure 8: requests/s and p99 against users (log2 x), one line per cell, the knee ringed.

    Colour: the variant; line style: the workload; marker: the server (--servers runs). `max_p99_ms`: the p99
    bound that stops a probe, dotted.
    """
    fig = new_figure(10, 4.2)
    ax_rps, ax_p99 = fig.subplots(1, 2, sharex=True)
    variants = _ordered([c.variant for c in curves])
    workloads = _ordered([c.workload for c in curves])
    servers = _ordered([c.server or "" for c in curves])
    for c in curves:
        label = f"{c.workload} {c.variant}" + (f" on {c.server}" if c.server else "")
        style = {"color": variant_color(c.variant, variants), "linestyle": _DASHES[workloads.index(c.workload) % 4],
                 "marker": "osD^v"[servers.index(c.server or "") % 5], "label": short(label)}
        for ax, ys in ((ax_rps, c.rps), (ax_p99, c.p99_ms)):
            vals = [np.nan if y is None or y <= 0 else y for y in ys]
            ax.plot(list(c.users), vals, **style)
            _mark_knee(ax, c, vals, style["color"])
    for ax, title, ylabel in ((ax_rps, "Requests/s against users", "requests/s (log scale)"),
                              (ax_p99, "p99 against users", "p99 response time (ms, log scale)")):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt_num(v)))
        ax.yaxis.set_minor_formatter(FuncFormatter(_minor_log_label))
        ax.set_xlabel("Locust users (log2 scale)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="major", axis="both", alpha=0.3)
    users = sorted({u for c in curves for u in c.users})
    if users:
        ax_rps.set_xticks(users)
        ax_rps.set_xlim(users[0] / 1.5, users[-1] * 1.5)
    if max_p99_ms:
        ax_p99.axhline(max_p99_ms, color="#555555", linewidth=0.8, linestyle=":", label=f"p99 bound {max_p99_ms:g} ms")
    if curves:
        ax_rps.legend(loc="upper left")
        ax_p99.legend(loc="upper left")
    fig.suptitle("Saturation: each cell at doubling users (ringed: the knee)", fontweight="bold", fontsize=10.5)
    return fig


def _minor_log_label(v: float, _pos: int) -> str:
    # 2x and 5x of each decade only: a short range still gets labels, a long one does not crowd.
    if v <= 0:
        return ""
    lead = round(v / 10 ** math.floor(math.log10(v)))
    return fmt_num(v) if lead in (2, 5) else ""


def _mark_knee(ax: Axes, curve: SaturationCurve, ys: Sequence[float], color: str) -> None:
    if curve.knee_users is None or curve.knee_users not in curve.users:
        return
    y = ys[list(curve.users).index(curve.knee_users)]
    if np.isnan(y):
        return
    ax.scatter([curve.knee_users], [y], s=160, facecolors="none", edgecolors=color, linewidths=1.8, zorder=5)
    ax.annotate(f"knee {curve.knee_users}", (curve.knee_users, y), xytext=(8, -10), textcoords="offset points",
                fontsize=7.5, color="#333333")


@styled
def servers_figure(rps: Sequence[Bar], cpu: Sequence[Bar], pss: Sequence[Bar]) -> Figure:
    """Figure 9: each workload x variant (group) under each server (series): requests/s, requests per server
    CPU-second and PSS per serving process."""
    fig = new_figure(13, 4.4)
    for ax, bars, title, ylabel in zip(
        fig.subplots(1, 3), (rps, cpu, pss),
        ("Requests per second (95% CI)", "Requests per server CPU-second", "PSS per serving process"),
        ("requests/s (median over trials)", "requests / (Apache + PostgreSQL CPU s)", "MB (median)"), strict=True,
    ):
        _bar_panel(ax, bars, title, ylabel)
    return fig
