"""Per-process CSV files beside Locust's own (`--csv PREFIX`), in Locust's CSV style.

    PREFIX_per_process.csv          one row per Apache PID, steady-state window, then "Aggregated"
    PREFIX_per_process_history.csv  with --csv-full-history: per PID per second (and "Aggregated")

Like Locust's files: a header row, `csv.writer` quoting, counts as integers, rates as plain floats,
timestamps as whole epoch seconds, and an empty cell where Locust writes "N/A" for a percentile of no
request. Response times are in ms with the per-PID histogram's resolution (0.01 ms bins below 10 ms,
reported at the bin midpoint, so three decimals).

No Locust import: tests use it directly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from ._files import write_atomic
from ._histogram import Histogram
from ._perprocess import AGGREGATED, history
from ._recorder import NO_PID, Merger, pid_sort_key

STEADY_HEADER = [
    "PID", "Variants", "Request Count", "Failure Count", "Cold Request Count", "Requests/s", "Failures/s",
    "Average Response Time", "Max Response Time", "50%", "90%", "99%", "100%",
]  # fmt: skip
HISTORY_HEADER = [
    "Timestamp", "PID", "Requests/s", "Failures/s", "Cold Requests/s",
    "Total Request Count", "Total Failure Count", "Total Cold Request Count",
]  # fmt: skip
QUANTILES = (0.50, 0.90, 0.99, 1.0)


def _ms(value: float | None) -> float | str:
    return "" if value is None else round(value, 3)


def _steady_row(pid: str, variants: str, hist: Histogram, cold: int, length: float) -> list[Any]:
    rate = (lambda n: n / length) if length > 0 else (lambda _n: 0.0)
    return [
        pid, variants, hist.requests, hist.failures, cold, rate(hist.requests), rate(hist.failures),
        _ms(hist.mean_ms), _ms(hist.max_ms if hist.requests else None), *map(_ms, hist.percentiles(QUANTILES)),
    ]  # fmt: skip


def steady_rows(merger: Merger, window: tuple[float, float], measures: str) -> list[list[Any]]:
    """The rows of PREFIX_per_process.csv (without the header); `measures` goes on the Aggregated row."""
    length = window[1] - window[0]
    total, rows = Histogram(), []
    pids = sorted((p for p in merger.pids if p != NO_PID), key=pid_sort_key)
    for pid in pids:
        live = merger.live.get(pid)
        variants = ", ".join(sorted(live.variants)) if live else ""
        rows.append(_steady_row(pid, variants, merger.pids[pid], merger.steady_cold.get(pid, 0), length))
        total.merge(merger.pids[pid])
    cold = sum(merger.steady_cold.get(pid, 0) for pid in pids)
    rows.append(_steady_row(AGGREGATED, measures, total, cold, length))
    return rows


def history_rows(merger: Merger) -> list[list[Any]]:
    """The rows of PREFIX_per_process_history.csv: per second, each PID then Aggregated, running totals."""
    totals: dict[str, list[int]] = {}
    rows = []
    for sec, pid, (n, f, c) in history(merger):
        running = totals.setdefault(pid, [0, 0, 0])
        running[0], running[1], running[2] = running[0] + n, running[1] + f, running[2] + c
        rows.append([sec, pid, n, f, c, *running])
    return rows


def to_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_files(
    prefix: str, merger: Merger, window: tuple[float, float], measures: str, full_history: bool
) -> list[str]:
    """Write PREFIX_per_process.csv (and the history with `full_history`); return the paths written."""
    paths = [f"{prefix}_per_process.csv"]
    write_atomic(paths[0], to_text(STEADY_HEADER, steady_rows(merger, window, measures)))
    if full_history:
        paths.append(f"{prefix}_per_process_history.csv")
        write_atomic(paths[1], to_text(HISTORY_HEADER, history_rows(merger)))
    return paths
