"""The report of a `bench tune` run folder: each knob's report looked up by the knob's name.

Reached through reports.build.build_report, which sends a folder holding tune.json (and no results.json)
here. A new knob's report is one module with a `build(run) -> Path` and one entry in REPORTS.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.record.errors import UserError
from bench.record.tune_folder import TuneRun
from reports.tune import processes, recycling

# tune.json plan "knob" -> the function that writes its report; the names are bench.tune.KNOBS's.
REPORTS: dict[str, Callable[[TuneRun], Path]] = {
    "max-connections-per-child": recycling.build,
    "processes": processes.build,
}


def build_tune_report(run_dir: Path) -> Path:
    """Write the report of the tune run in `run_dir` into `run_dir/report/`; returns the report.html path.

    Raises UserError when tune.json is missing, damaged or of an unknown schema, or its knob has no report.
    """
    run = TuneRun.open(run_dir)
    if run.knob not in REPORTS:
        raise UserError(f"{run.dir / 'tune.json'}: no report for knob {run.knob!r} (known: {', '.join(REPORTS)})")
    return REPORTS[run.knob](run)
