"""Writing a figure as PNG and SVG into a report folder (text files go through bench.record.files.write_atomic)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from reports.kit.document import FigureBlock
from reports.kit.style import STYLE


def save_figure(fig: Figure, out_dir: Path, name: str, title: str, caption: str) -> FigureBlock:
    """Write <name>.png and <name>.svg; return the block that embeds the PNG in the HTML."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})  # no version string: stable bytes
    png = buf.getvalue()
    (out_dir / f"{name}.png").write_bytes(png)
    # The PNG's draw already placed everything; freezing that layout saves redoing it for the SVG.
    fig.set_layout_engine("none")
    # The SVG's ids are drawn at save time, outside the style's rc_context: the salt must be set here too.
    with open(out_dir / f"{name}.svg", "wb") as fh, matplotlib.rc_context({"svg.hashsalt": STYLE["svg.hashsalt"]}):
        fig.savefig(fh, format="svg", metadata={"Date": None})
    w, h = fig.canvas.get_width_height(physical=True)
    scale = STYLE["savefig.dpi"] / fig.dpi
    return FigureBlock(name, title, caption, png, (round(w * scale), round(h * scale)),
                       [f"{name}.png", f"{name}.svg"])
