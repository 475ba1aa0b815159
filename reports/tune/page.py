"""The report of a `bench tune` run folder: each knob's report looked up by the knob's name.

Reached through reports.build.build_report, which sends a folder holding tune.json (and no results.json)
here. A knob's report is one module with `build(run) -> Path` (the full report), `recommendation(run)`
(the blocks a run report shows when a tune.json sits next to its results.json) and `SECTION_TITLE`, and
one entry in REPORTS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.record.errors import UserError
from bench.record.tune_folder import TuneRun
from reports.kit.document import Block
from reports.tune import processes, recycling, threads


@dataclass(frozen=True)
class KnobReport:
    build: Callable[[TuneRun], Path]                 # the tune folder's own report
    recommendation: Callable[[TuneRun], list[Block]]  # its recommendation, inside a run report
    section_title: str


# tune.json plan "knob" -> its report; the names are bench.tune.KNOBS's.
REPORTS: dict[str, KnobReport] = {
    "max-connections-per-child": KnobReport(recycling.build, recycling.recommendation, recycling.SECTION_TITLE),
    "processes": KnobReport(processes.build, processes.recommendation, processes.SECTION_TITLE),
    "threads": KnobReport(threads.build, threads.recommendation, threads.SECTION_TITLE),
    "processes,threads": KnobReport(threads.build, threads.recommendation, threads.SECTION_TITLE),
}


def knob_report(run: TuneRun) -> KnobReport:
    """The report of the folder's knob; a one-line UserError for a knob no report knows."""
    if run.knob not in REPORTS:
        raise UserError(f"{run.dir / 'tune.json'}: no report for knob {run.knob!r} (known: {', '.join(REPORTS)})")
    return REPORTS[run.knob]


def build_tune_report(run_dir: Path) -> Path:
    """Write the report of the tune run in `run_dir` into `run_dir/report/`; returns the report.html path.

    Raises UserError when tune.json is missing, damaged or of an unknown schema, or its knob has no report.
    """
    run = TuneRun.open(run_dir)
    return knob_report(run).build(run)
