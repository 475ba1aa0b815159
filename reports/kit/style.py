"""The figure style every report shares: rcParams, a figure on the Agg canvas, label shortening.

No pyplot: figures are built on the Agg canvas directly, so there is no global state and no display.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType  # the names rc_context accepts

STYLE: dict[RcKeyType, Any] = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.alpha": 0.35,
    "grid.linewidth": 0.6,
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.labelcolor": "#333333",
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "figure.dpi": 100,
    "savefig.dpi": 144,
    "svg.hashsalt": "modpython-bench",  # stable SVG ids: same data, same file
    "text.parse_math": False,  # labels come from run data: a "$" must be a dollar, not mathtext
}


P = ParamSpec("P")


def styled(fn: Callable[P, Figure]) -> Callable[P, Figure]:
    """Draw `fn`'s figure under STYLE (rcParams are read when artists are created, so the style must wrap
    the whole drawing)."""
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def short(label: str, limit: int = 32) -> str:
    # Labels come from run data; a very long one would squeeze the plot to nothing.
    return label if len(label) <= limit else label[: limit - 1] + "…"
