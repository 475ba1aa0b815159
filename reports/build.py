"""`build_report(run_dir)`: the report of any run folder, by its kind.

A `bench tune` folder (tune.json, no results.json) gets the tune report, a `bench sessions` folder
(sessions.json) the sessions page; a `bench run` folder the run
report, plus a short recommendation section when a tune.json was copied next to its results.json.
"""

from __future__ import annotations

from pathlib import Path

from bench.record.run_folder import Run
from bench.record.sessions import is_sessions_folder
from bench.record.tune import is_tune_folder
from reports.run.page import build_run_report
from reports.sessions.page import build_sessions_report
from reports.tune.page import build_tune_report
from reports.tune.section import tune_sections


def build_report(run_dir: Path | str) -> Path:
    """Write `run_dir/report/`; returns the report.html path. Raises UserError for an unusable folder."""
    run_dir = Path(run_dir)
    if is_tune_folder(run_dir):
        return build_tune_report(run_dir)
    if is_sessions_folder(run_dir):
        return build_sessions_report(run_dir)
    Run.open(run_dir).require_cells()  # no trials: an error, not a report of nothing
    return build_run_report(run_dir, tune_sections(run_dir))
