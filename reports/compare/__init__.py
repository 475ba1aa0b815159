"""Comparing runs: `analysis` (what changed, and whether it counts), `figures`, `page` (the files)."""

DEFAULT_MIN_CHANGE = 5.0  # percent: smaller changes are never called a regression or an improvement
