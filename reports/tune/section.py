"""Extra report sections that depend on optional files in a `bench run` folder.

A folder written by `bench tune` (tune.json, no results.json) gets a report of its own (reports.tune.page).
When a tune.json sits next to a results.json (copied there by hand), the run report gains a short section
on the swept knob: its recommendation as that knob's report shows it (reports.tune.page.REPORTS).
build_report appends whatever this returns to both the HTML and the Markdown.
"""

from __future__ import annotations

from pathlib import Path

from bench.record.errors import UserError
from bench.record.tune import FILE as TUNE_FILE
from bench.record.tune_folder import TuneRun
from reports.kit.document import Para, Section
from reports.tune.page import knob_report


def tune_sections(run_dir: Path) -> list[Section]:
    """Sections for optional run files (tune.json); none when there is no usable one."""
    if not (Path(run_dir) / TUNE_FILE).is_file():
        return []
    try:
        run = TuneRun.open(run_dir)
        report = knob_report(run)
    except UserError:
        # The run report is about results.json: an optional file it cannot read must not stop it.
        # `python -m reports` on the tune folder itself reports what is wrong with tune.json.
        return []
    blocks = report.recommendation(run)
    if not blocks:
        return []
    blocks.append(Para(f"From {TUNE_FILE} (bench tune run {run.run_id}); its full report has the sweep, the "
                       "model's check and the figures.", "note"))
    return [Section("tune", report.section_title, blocks)]
