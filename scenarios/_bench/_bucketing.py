"""Finer response-time buckets for Locust's own statistics (console, CSV, web UI, HTML report).

Locust stores response times in a dict keyed by `locust.stats.bucket_response_time(ms)`, which keeps
whole milliseconds below 100 ms (stats.py, `bucket_response_time`), so every sub-millisecond response
becomes 0 or 1 ms. Since Locust 2.43.4 that function is a module-level hook that may be replaced at
runtime (its docstring says so; it is looked up on each call in `StatsEntry._log_response_time`).
There is no command-line setting for it. We install:

    < 10 ms     0.01 ms resolution   (0.2347 -> 0.23)
    < 100 ms    0.1 ms resolution
    >= 100 ms   Locust's default (about 2 significant digits)

That is at most ~2,200 keys per request name instead of ~310: still small for the stats that workers
send to the master every 3 s.

Two of Locust's outputs then still truncate to whole ms, so they are patched too, each guarded so that a
future Locust without them only logs a warning:
- `StatsCSV._percentile_fields` wraps every percentile in `int()` (the 50%..100% columns of
  *_stats.csv and *_stats_history.csv);
- `StatsEntry.percentile` prints the end-of-test percentile table with `%6d`.
The per-request console table (`StatsEntry.to_string`, `%7d`) is left alone; the per-PID table that
`_listener` prints at the end has the precise steady-state figures.

Every process (local, master, workers) imports this module with the locustfile, so all of them bucket
the same way and the master merges like with like.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import locust.stats as locust_stats

logger = logging.getLogger(__name__)

_default_bucket: Callable[[int | float], int | float] | None = getattr(locust_stats, "bucket_response_time", None)


def fine_bucket_response_time(response_time: int | float) -> int | float:
    """Bucket key for a response time in ms: 0.01 ms below 10 ms, 0.1 ms below 100 ms."""
    if response_time < 10:
        return round(response_time, 2)
    if response_time < 100:
        return round(response_time, 1)
    assert _default_bucket is not None
    return _default_bucket(response_time)


def format_ms(value: float) -> str:
    """A response time for a fixed-width table: two decimals below 10 ms, one below 100 ms."""
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"


def _csv_number(value: float) -> int | float:
    # keep integers as integers so the CSV of slow responses looks like Locust's own
    return int(value) if float(value).is_integer() else round(float(value), 2)


def _percentile_fields(self: Any, stats_entry: Any, use_current: bool = False) -> list[str] | list[int | float]:
    # same as locust.stats.StatsCSV._percentile_fields (2.47) without the int() truncation
    if not stats_entry.num_requests:
        return self.percentiles_na
    if use_current and stats_entry.use_response_times_cache:
        get = stats_entry.get_current_response_time_percentile
    else:
        get = stats_entry.get_response_time_percentile
    return [_csv_number(get(p) or 0) for p in self.percentiles_to_report]


def _percentile_line(self: Any) -> str:
    # same layout as locust.stats.StatsEntry.percentile (2.47), with decimals for sub-100 ms values
    if not self.num_requests:
        raise ValueError("Can't calculate percentile on url with no successful requests")
    values = [format_ms(self.get_response_time_percentile(p) or 0) for p in locust_stats.PERCENTILES_TO_REPORT]
    tpl = f"%-{locust_stats.STATS_TYPE_WIDTH}s %-{locust_stats.STATS_NAME_WIDTH}s %8s " + " ".join(
        ["%6s"] * len(values)
    )
    return tpl % (self.method or "", self.name, *values, self.num_requests)


def install() -> bool:
    """Install the finer bucketing (idempotent). Returns False when this Locust has no bucketing hook."""
    if _default_bucket is None:
        logger.warning(
            "locust.stats.bucket_response_time is missing (Locust < 2.43.4): sub-millisecond response times "
            "are rounded to whole ms in Locust's own statistics; use the per-PID numbers instead"
        )
        return False
    locust_stats.bucket_response_time = fine_bucket_response_time
    csv_class = getattr(locust_stats, "StatsCSV", None)
    if csv_class is not None and hasattr(csv_class, "_percentile_fields"):
        csv_class._percentile_fields = _percentile_fields
    else:
        logger.warning("StatsCSV._percentile_fields not found: CSV percentiles stay in whole ms")
    entry_class = getattr(locust_stats, "StatsEntry", None)
    if entry_class is not None and hasattr(entry_class, "percentile"):
        entry_class.percentile = _percentile_line
    else:
        logger.warning("StatsEntry.percentile not found: the console percentile table stays in whole ms")
    return True
