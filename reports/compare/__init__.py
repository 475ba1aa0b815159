"""Comparing runs: `analysis` (what changed, and whether it counts), `figures`, `page` (the files)."""

from bench.record.significance import DEFAULT_MIN_CHANGE_PCT, RUN_NOISE

DEFAULT_MIN_CHANGE = DEFAULT_MIN_CHANGE_PCT  # percent: smaller changes are never called a change
DEFAULT_RUN_NOISE = RUN_NOISE  # run-to-run standard deviation of a run's level, log units (~5.5%)
# Requests per server CPU-second does not depend on the generator (Locust's own CPU, its scheduling, the
# machine's other load move req/s but not the server's CPU per request). Between runs offered the same
# rate (--rate) its runs drift less, and it gets its own run noise and minimum change, from the A/A runs in
# docs/open-model.md ("Comparing on req/CPU-s"); in a closed loop it takes --run-noise and --min-change.
CPU_RUN_NOISE = 0.02
CPU_MIN_CHANGE = 5.0
# metric -> (run noise, minimum change %) when it has its own; the others take --run-noise / --min-change
METRIC_RULES = {"requests_per_cpu_second": (CPU_RUN_NOISE, CPU_MIN_CHANGE)}
