"""The tune report's figures: plain data (named tuples of str/float) in, a matplotlib Figure out.

Same rules as figures.py: no pyplot, the Agg canvas, the shared STYLE, and what is given is drawn (an
empty input gives an empty, labelled figure). MaxConnectionsPerChild N goes on a log axis; N = 0 (never
recycle) has no place on it, so it gets a narrow panel of its own at the right and a dotted reference
line across the log axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from reports.kit.fmt import fmt_num, fmt_signed_pct
from reports.kit.style import new_figure, short, styled

MODE_COLORS = {"on": "#00798c", "off": "#d1495b"}
CHILD_COLORS = ["#00798c", "#edae49", "#8e6cc7", "#d1495b", "#30638e", "#6a994e"]
_OTHER = "#30638e"


def mode_color(mode: str) -> str:
    return MODE_COLORS.get(mode, _OTHER)


class NPoint(NamedTuple):
    """A measured value at MaxConnectionsPerChild `n` (0: never recycled); lo/hi: its 95% interval."""

    mode: str
    n: int
    value: float
    lo: float | None = None
    hi: float | None = None


class Curve(NamedTuple):
    """The model's prediction for one keep-alive mode, on N > 0."""

    mode: str
    n: Sequence[float]
    value: Sequence[float]


class Mark(NamedTuple):
    """The recommended N of one mode and the model's value there (None: drawn as a vertical line only)."""

    mode: str
    n: int
    value: float | None


class CheckPoint(NamedTuple):
    """`error`: signed (predicted - measured) / measured, as a fraction."""

    mode: str
    n: int
    measured: float
    predicted: float
    error: float


class ChildLife(NamedTuple):
    """One Apache child's RSS samples; `t` in seconds since Apache started."""

    pid: str
    t: Sequence[float]
    rss_mb: Sequence[float]


class ChildPanel(NamedTuple):
    title: str
    mode: str
    children: Sequence[ChildLife]
    window: tuple[float, float] | None = None  # steady window, seconds since Apache started


def _n_axes(fig: Figure) -> tuple[Axes, Axes]:
    """A log-N axis and, sharing its y, a narrow panel for N = 0."""
    ax, ax0 = fig.subplots(1, 2, sharey=True, width_ratios=[7, 1])
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt_num(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("MaxConnectionsPerChild N (log scale)")
    ax.grid(True, which="major", axis="both", alpha=0.3)
    ax0.set_xlim(-0.6, 0.6)
    ax0.set_xticks([0], ["N = 0\n(never)"])
    ax0.tick_params(axis="y", labelleft=False)
    ax0.grid(True, axis="y", alpha=0.3)
    return ax, ax0


def _modes(*groups: Sequence[tuple]) -> list[str]:
    return list(dict.fromkeys(str(item[0]) for g in groups for item in g))


def _draw_points(ax: Axes, ax0: Axes, points: Sequence[NPoint], modes: list[str], *, hollow: bool = False,
                 marker: str = "o", reference: bool = False) -> None:
    offsets = {m: (i - (len(modes) - 1) / 2) * 0.22 for i, m in enumerate(modes)}
    for mode in modes:
        color = mode_color(mode)
        style: dict[str, Any] = {"color": color, "marker": marker, "linestyle": "none", "markersize": 6.5, "zorder": 4,
                 "markerfacecolor": "white" if hollow else color, "markeredgewidth": 1.4, "capsize": 3,
                 "elinewidth": 1.1}
        for axis, mine, xs in (
            (ax, [p for p in points if p.mode == mode and p.n > 0], None),
            (ax0, [p for p in points if p.mode == mode and p.n == 0], offsets[mode]),
        ):
            if not mine:
                continue
            x = [p.n for p in mine] if xs is None else [xs] * len(mine)
            y = [p.value for p in mine]
            err = None
            if any(p.lo is not None for p in mine):
                err = [[max(p.value - p.lo, 0) if p.lo is not None else 0 for p in mine],
                       [max(p.hi - p.value, 0) if p.hi is not None else 0 for p in mine]]
            axis.errorbar(x, y, yerr=err, **style)
        if reference:
            for p in points:
                if p.mode == mode and p.n == 0:
                    # The never-recycled level, carried across the log axis as a reference.
                    ax.axhline(p.value, color=color, linewidth=0.8, linestyle=":", zorder=2)


def _draw_curves(ax: Axes, curves: Sequence[Curve]) -> None:
    for c in curves:
        if len(c.n):
            ax.plot(c.n, c.value, color=mode_color(c.mode), linewidth=1.3, linestyle="--", alpha=0.85, zorder=3)


def _draw_marks(ax: Axes, marks: Sequence[Mark], unit: str) -> None:
    for i, m in enumerate(marks):
        color = mode_color(m.mode)
        ax.axvline(m.n, color=color, linewidth=0.9, alpha=0.5, zorder=1)
        label: dict[str, Any] = {
            "fontsize": 7.5, "color": color, "ha": "left", "va": "top", "textcoords": "offset points",
            "bbox": {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}}
        if m.value is None:
            ax.annotate(f"recommended {m.n}", (m.n, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(4, -4 - 14 * i), **label)
            continue
        ax.plot([m.n], [m.value], marker="*", markersize=15, color=color, markeredgecolor="#222222",
                markeredgewidth=0.7, linestyle="none", zorder=5)
        # Below and right of the star: the curve there is flat (throughput) or above it (memory).
        ax.annotate(f"recommended {m.n}\n{fmt_num(m.value)}{unit}", (m.n, m.value), xytext=(7, -9), zorder=6,
                    **label)


def _legend(fig: Figure, modes: list[str], extra: list[Line2D]) -> None:
    handles = [Line2D([], [], color=mode_color(m), marker="o", linestyle="none", label=f"keep-alive {short(m)}")
               for m in modes] + extra
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6))


def _x_limits(ax: Axes, *groups: Sequence[float]) -> None:
    xs = [x for g in groups for x in g if x > 0]
    if xs:
        ax.set_xlim(min(xs) / 1.8, max(xs) * 1.8)


@styled
def tune_throughput_figure(points: Sequence[NPoint], curves: Sequence[Curve], marks: Sequence[Mark]) -> Figure:
    """Requests/s against MaxConnectionsPerChild: measured points with 95% intervals, the model's curve
    (dashed), the recommended N (star), N = 0 in its own panel and as a dotted line."""
    fig = new_figure(9.5, 4.6)
    ax, ax0 = _n_axes(fig)
    modes = _modes(points, curves, marks)
    _draw_curves(ax, curves)
    _draw_points(ax, ax0, points, modes, reference=True)
    _draw_marks(ax, marks, " req/s")
    _x_limits(ax, [p.n for p in points], [n for c in curves for n in c.n], [m.n for m in marks])
    ax.set_ylim(bottom=0)
    ax.margins(y=0.12)
    ax.set_ylabel("requests/s (steady window)")
    _legend(fig, modes, [
        Line2D([], [], color="#555555", linestyle="--", label="model"),
        Line2D([], [], color="#555555", linestyle=":", label="N = 0 level"),
        Line2D([], [], color="#555555", marker="*", markersize=10, linestyle="none", label="recommended"),
    ])
    fig.suptitle("Throughput against MaxConnectionsPerChild (error bars: 95% CI)", fontweight="bold",
                 fontsize=10.5)
    return fig


@styled
def tune_memory_figure(rss: Sequence[NPoint], pss: Sequence[NPoint], curves: Sequence[Curve],
                       marks: Sequence[Mark], budget_mb: float | None = None, budget_label: str = "") -> Figure:
    """End-of-life RSS (filled) and PSS (hollow) per point, the model's RSS curve (dashed), the recommended
    N and the per-child memory budget. The y axis fits the measured values, the budget and the
    recommendation: the model's curve may leave it upwards (a leak grows without bound)."""
    fig = new_figure(9.5, 4.6)
    ax, ax0 = _n_axes(fig)
    modes = _modes(rss, pss, curves, marks)
    _draw_curves(ax, curves)
    _draw_points(ax, ax0, rss, modes)
    _draw_points(ax, ax0, pss, modes, hollow=True, marker="s")
    _draw_marks(ax, marks, " MB")
    extra = [Line2D([], [], color="#555555", linestyle="--", label="model (RSS)"),
             Line2D([], [], color="#555555", marker="o", linestyle="none", label="RSS"),
             Line2D([], [], color="#555555", marker="s", markerfacecolor="white", linestyle="none", label="PSS")]
    if budget_mb is not None:
        for axis in (ax, ax0):
            axis.axhline(budget_mb, color="#b5179e", linewidth=1.2, linestyle="-.")
        extra.append(Line2D([], [], color="#b5179e", linestyle="-.", label=short(budget_label or "budget", 48)))
    _x_limits(ax, [p.n for p in [*rss, *pss]], [n for c in curves for n in c.n], [m.n for m in marks])
    shown = [p.hi if p.hi is not None else p.value for p in [*rss, *pss]]
    shown += [m.value for m in marks if m.value is not None] + ([budget_mb] if budget_mb is not None else [])
    if not shown:  # only the model: fit its curve
        shown = [v for c in curves for v in c.value]
    top = max(shown, default=1.0)
    ax.set_ylim(0, top * 1.25 if top > 0 else 1.0)
    ax.set_ylabel("MB per child at the end of its life")
    _legend(fig, modes, extra)
    fig.suptitle("Memory of a child at the end of its life against MaxConnectionsPerChild", fontweight="bold",
                 fontsize=10.5)
    return fig


@styled
def tune_check_figure(checks: Sequence[CheckPoint], tolerance: float = 0.10) -> Figure:
    """Left: predicted against measured requests/s (log-log, the diagonal and the +-tolerance band).
    Right: the signed error in % at every point, per keep-alive mode."""
    fig = new_figure(10, 4.4)
    ax, ax_err = fig.subplots(1, 2, width_ratios=[1, 1.25])
    modes = _modes(checks)
    ok = [c for c in checks if c.measured > 0 and c.predicted > 0]
    vals = [v for c in ok for v in (c.measured, c.predicted)]
    lo, hi = (min(vals) / 1.6, max(vals) * 1.6) if vals else (1.0, 10.0)
    line = np.geomspace(lo, hi, 50)
    ax.fill_between(line, line * (1 - tolerance), line * (1 + tolerance), color="#999999", alpha=0.18, linewidth=0)
    ax.plot(line, line, color="#555555", linewidth=0.8)
    for c in ok:  # not labelled: close points would overprint; the right panel names each one
        ax.plot([c.measured], [c.predicted], "o", color=mode_color(c.mode), zorder=3, alpha=0.85)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(lambda v, _p: fmt_num(v)))
        axis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", axis="both", alpha=0.3)
    ax.set_xlabel("measured requests/s")
    ax.set_ylabel("model's requests/s")
    ax.set_title(f"Predicted against measured (band: ±{tolerance * 100:.0f}%)")

    ns = sorted({c.n for c in checks})
    width = 0.8 / max(len(modes), 1)
    for i, mode in enumerate(modes):
        mine = {c.n: c for c in checks if c.mode == mode}
        xs = [ns.index(n) - 0.4 + width * (i + 0.5) for n in mine]
        ys = [c.error * 100 for c in mine.values()]
        ax_err.bar(xs, ys, width * 0.9, color=mode_color(mode), label=f"keep-alive {short(mode)}")
        for x, y in zip(xs, ys, strict=True):
            ax_err.annotate(fmt_signed_pct(y / 100), (x, y), xytext=(0, 2 if y >= 0 else -2),
                            textcoords="offset points", ha="center", va="bottom" if y >= 0 else "top", fontsize=7)
    ax_err.axhspan(-tolerance * 100, tolerance * 100, color="#999999", alpha=0.18, linewidth=0, zorder=0)
    ax_err.axhline(0, color="#555555", linewidth=0.8)
    ax_err.set_xticks(range(len(ns)), [f"N = {n}" if n else "N = 0\n(never)" for n in ns])
    top = max([abs(c.error * 100) for c in checks] + [tolerance * 100])
    ax_err.set_ylim(-top * 1.3, top * 1.3)
    ax_err.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:+.0f}%"))
    ax_err.set_ylabel("(predicted - measured) / measured")
    ax_err.set_title("The model's error at every point")
    if modes:
        ax_err.legend(loc="upper left", ncols=len(modes))
    return fig


@styled
def tune_child_memory_figure(panels: Sequence[ChildPanel]) -> Figure:
    """Each Apache child's RSS over its life (one line per PID), one panel per sweep point; light grey
    outside the steady window."""
    n = max(len(panels), 1)
    fig = new_figure(min(5.2 * n, 11), 4.0)
    axes = fig.subplots(1, n, squeeze=False, sharey=True)[0]
    for ax, panel in zip(axes, panels, strict=False):
        last = max((t for c in panel.children for t in c.t), default=0.0)
        if panel.window is not None:
            ax.axvspan(0, panel.window[0], color="#999999", alpha=0.25, linewidth=0)
            if last > panel.window[1]:
                ax.axvspan(panel.window[1], last, color="#999999", alpha=0.1, linewidth=0)
        for i, c in enumerate(panel.children):
            # Successive children in alternating colours, so where one life ends and the next begins shows.
            ax.plot(c.t, c.rss_mb, color=CHILD_COLORS[i % len(CHILD_COLORS)], linewidth=1.3, marker="o",
                    markersize=2.5, alpha=0.9)
        ax.set_title(short(panel.title, 60), fontsize=9.5, color=mode_color(panel.mode))
        ax.set_xlabel("seconds since Apache started")
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="both", alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    axes[0].set_ylabel("RSS of the child (MB)")
    fig.suptitle("RSS of each Apache child over its life (one line per child; grey: warm-up)", fontweight="bold",
                 fontsize=10.5)
    return fig
