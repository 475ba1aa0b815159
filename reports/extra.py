"""Extra report sections that depend on optional files in the run folder.

`tune.json` (written by `bench tune`, issue 5) will add a MaxConnectionsPerChild section here; until that
format exists this returns nothing. build_report appends whatever this returns to both the HTML and the
Markdown, so the tuner only has to fill in this function.
"""

from __future__ import annotations

from pathlib import Path

from reports.document import Section


def extra_sections(run_dir: Path) -> list[Section]:
    """Sections for optional run files (tune.json); none yet."""
    if not (Path(run_dir) / "tune.json").is_file():
        return []
    # Issue 5: read tune.json (through its own loader with a schema check) and return its section(s).
    return []
