"""The record core: the formats of a run folder and the statistics over them, nothing else.

No matplotlib, psycopg2 or Locust here: `reports` reads run folders through this package alone, and
`bench` writes them through it alone.

| module | job |
|---|---|
| `errors.py` | `UserError`, the one user-facing error type, and `Parser` (argparse raising it) |
| `files.py` | the atomic writer (`write_atomic`, `write_json`), the record reader (`read_record`), `check_writable` |
| `schema.py` | the schema gate: upgrade known old versions on load, refuse unknown ones in one line |
| `values.py` | defensive accessors (`num`, `dig`, `pair`, ...) for records written by older or interrupted runs |
| `json_record.py` | `JsonRecord`: fields as JSON keys, `to_json`, a tolerant `from_json`: every record class |
| `trial.py` | the trial record (`TrialRecord`) and its parts, one class each; `PlanStep`, `CellKey`, `LatencyModel` |
| `processes.py` | the per-process medians of a cell, for the terminal and the report alike |
| `attribution.py` | from the variant table: the 2x2 `square` a speedup is split over, the one-factor `steps` |
| `stats.py` | median, bootstrap intervals, ratio of medians, the 2x2 split, Theil-Sen, trial verdicts |
| `bottleneck.py` | what limited a trial (`Bottleneck`: server, generator, shared, load): `judge` -> `Verdict` |
| `significance.py` | whether a change between two runs is real, with the run-to-run noise in the test |
| `results.py` | results.json: `SCHEMA`, `summarize`, `speedups`, `RunRecord` (the writer), `load_results` |
| `tune.py` | tune.json: `SCHEMA`, `TunePlan`, `TuneStack`, `TuneData` (the record), `TuneRecord`, `read_tune` |
| `tune_points.py` | what a sweep measures: `PointTrial`, `Point` (medians over trials), `Missing`, `SweepTrial` |
| `tune_conclusions.py` | what it concludes: `ModelParameters`, `ModeConclusion`, `Confirmation`, `Sizing`, `Advice` |
| `sessions.py` | sessions.json: `SCHEMA`, `SessionsRecord` (writer), `load_sessions`, `SessionsRun`, `SessionsResult` |
| `run_rows.py` | results.json's records (`CellRecord`, `CellSummary`, `Speedup`) and rows (`TrialRow`, `PlanRecord`) |
| `run_folder.py` | `RunFolder`; `Run`, a `bench run` folder read tolerantly (cells, trials, timeline, samples) |
| `tune_folder.py` | `TuneRun`: a `bench tune` folder, its tune.json read once into `TuneData`, plus the trial files |

Run folders are named in one place too: `bench.paths.new_run_folder(kind)`.
"""

from bench.record.errors import UserError
from bench.vocabulary import BASELINE, VARIANTS

__all__ = ["BASELINE", "VARIANTS", "UserError"]
