"""The comparison's figure: plain data in, matplotlib Figure out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from reports.kit.style import new_figure, short, styled


class ChangePoint(NamedTuple):
    """One comparison row: percent change of a metric with its 95% interval (percent) and the verdict."""

    label: str
    pct: float
    lo_pct: float | None
    hi_pct: float | None
    verdict: str


VERDICT_COLORS = {"regression": "#d1495b", "improvement": "#2a9d4b", "no change": "#3b6ea5"}


@styled
def change_figure(points: Sequence[ChangePoint], min_change: float) -> Figure:
    """The comparison's forest plot: % change vs the first run, with intervals and the min-change band."""
    fig = new_figure(8, max(2.2, 0.32 * len(points) + 1.2))
    ax = fig.add_subplot()
    ax.axvspan(-min_change, min_change, color="#999999", alpha=0.15, linewidth=0)
    ax.axvline(0, color="#555555", linewidth=0.8)
    for i, p in enumerate(points):
        y = len(points) - 1 - i
        color = VERDICT_COLORS.get(p.verdict, "#555555")
        if p.lo_pct is not None and p.hi_pct is not None:
            ax.plot([p.lo_pct, p.hi_pct], [y, y], color=color, linewidth=2, solid_capstyle="round")
        ax.plot([p.pct], [y], "o", color=color)
    ax.set_yticks(range(len(points)), [short(p.label, 60) for p in reversed(points)])
    ax.set_ylim(-0.7, len(points) - 0.3)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:+.0f}%"))
    ax.grid(True, axis="x", alpha=0.3)
    ax.grid(False, axis="y")
    ax.set_xlabel("change vs the first run (95% CI)")
    return fig
