"""What the run, tune and sessions pages (reports.run, reports.tune, reports.sessions) share: the output folder,
the files written into it, the line under the title, the Machine/Versions blocks and small block helpers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.record.errors import UserError
from bench.record.files import write_atomic
from bench.record.run_folder import RunFolder
from reports.kit.document import Block, Bullets, Document, FigureBlock, KeyValues, Para, render_html, render_markdown
from reports.kit.fmt import DASH, setting_text

REPORT_DIR = "report"


def prepare_out(run: RunFolder, figure_names: Iterable[str]) -> Path:
    """The run's report folder, made if need be, without the figures of an earlier build (so a figure
    skipped now does not linger from before)."""
    out = run.dir / REPORT_DIR
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in figure_names:
            for ext in ("png", "svg"):
                (out / f"{name}.{ext}").unlink(missing_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write the report into {out}: {exc.strerror or exc}") from None
    return out


def write_report(out: Path, doc: Document, summary: dict[str, Any]) -> Path:
    """Write report.html, report.md and summary.json into `out`; returns the report.html path."""
    write_atomic(out / "report.html", render_html(doc))
    write_atomic(out / "report.md", render_markdown(doc))
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return out / "report.html"


def figure_files(figs: dict[str, FigureBlock]) -> dict[str, dict[str, Any]]:
    """summary.json's "figures": each figure's files, or why it was skipped."""
    return {
        name: ({"png": f"{name}.png", "svg": f"{name}.svg"} if b.png is not None else {"skipped": b.skipped})
        for name, b in figs.items()
    }


def meta_line(run: RunFolder, kind: str, *details: str) -> list[str]:
    """The parts of the line under the title: which run, when, whether complete, `details`, which suite."""
    return [f"{kind} {run.run_id}", f"created {run.data.get('created') or DASH}",
            "complete" if run.complete else "INCOMPLETE", *details,
            f"suite {run.versions.get('suite_commit') or DASH}"]


def caveat_note(cav: list[str], what: str) -> Para:
    """The summary's pointer to the Caveats section (`what`: "run", "sweep")."""
    n = len(cav)
    return Para(f"{n} caveat{'s apply' if n > 1 else ' applies'} to this {what}: see Caveats below.", "note")


def kv(data: dict[str, Any], skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [(str(k), setting_text(v)) for k, v in data.items() if k not in skip]


def bullets(lines: list[str], kind: str = "") -> list[Block]:
    return [Bullets(lines, kind)] if lines else []


def environment_blocks(run: RunFolder) -> list[Block]:
    """The setup section's first blocks: the machine and the versions, when recorded."""
    blocks: list[Block] = []
    if run.machine:
        blocks.append(KeyValues(kv(run.machine), "Machine"))
    if run.versions:
        blocks.append(KeyValues(kv(run.versions), "Versions"))
    return blocks
