"""The record core: the formats of a run folder and the statistics over them, nothing else.

No matplotlib, psycopg2 or Locust here: `reports` reads run folders through this package alone, and
`bench` writes them through it alone.

| module | job |
|---|---|
| `errors.py` | `UserError`, the one user-facing error type, and `Parser` (argparse raising it) |
| `files.py` | the one atomic writer (`write_atomic`, `write_json`) and the one record reader (`read_record`) |
| `schema.py` | the schema gate: upgrade known old versions on load, refuse unknown ones in one line |
| `stats.py` | median, bootstrap intervals, ratio of medians, the 2x2 split, Theil-Sen, trial verdicts |
| `results.py` | results.json: `SCHEMA`, typed shapes, `summarize`, `speedups`, `RunRecord`, `load_results` |
| `tune.py` | tune.json: `SCHEMA`, typed shapes, `summarize_point`, `TuneRecord`, `load_tune` |
| `values.py` | defensive accessors (`num`, `dig`, `pair`, ...) for records written by older or interrupted runs |
| `run_folder.py` | `Run`: a `bench run` folder read tolerantly (cells, trials, timeline.json, samples.jsonl) |
| `tune_folder.py` | `TuneRun`: a `bench tune` folder read tolerantly (points, per-mode conclusions) |
"""

from bench.record.errors import UserError
from bench.vocabulary import BASELINE, VARIANTS

__all__ = ["BASELINE", "VARIANTS", "UserError"]
