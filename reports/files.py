"""Writing report files: atomically, so a report being rebuilt is never seen half-written."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from matplotlib.figure import Figure

from reports.document import FigureBlock
from reports.figures import STYLE


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_figure(fig: Figure, out_dir: Path, name: str, title: str, caption: str) -> FigureBlock:
    """Write <name>.png and <name>.svg; return the block that embeds the PNG in the HTML."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})  # no version string: stable bytes
    png = buf.getvalue()
    (out_dir / f"{name}.png").write_bytes(png)
    # The PNG's draw already placed everything; freezing that layout saves redoing it for the SVG.
    fig.set_layout_engine("none")
    with open(out_dir / f"{name}.svg", "wb") as fh:
        fig.savefig(fh, format="svg", metadata={"Date": None})
    w, h = fig.canvas.get_width_height(physical=True)
    scale = STYLE["savefig.dpi"] / fig.dpi
    return FigureBlock(name, title, caption, png, (round(w * scale), round(h * scale)),
                       [f"{name}.png", f"{name}.svg"])
