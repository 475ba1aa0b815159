"""Comparing runs: `analysis` (what changed, and whether it counts), `figures`, `page` (the files)."""

from bench.record.significance import DEFAULT_MIN_CHANGE_PCT, RUN_NOISE

DEFAULT_MIN_CHANGE = DEFAULT_MIN_CHANGE_PCT  # percent: smaller changes are never called a change
DEFAULT_RUN_NOISE = RUN_NOISE  # run-to-run standard deviation of a run's level, log units (~5.5%)
