"""The per-process view: one row per Apache PID, built from a `Merger` (what `/per-process` returns).

Row fields (the web UI's "Per process" tab shows the same rows):

    pid             the X-Bench-Pid value; the last row is "Aggregated" (all PIDs together)
    variants        variants this process served (from the request names); on the Aggregated row, the
                    variant(s) the selected User classes measure, with a warning when they are mixed
    requests, failures, cold
                    responses since the test started (or the stats were reset); cold = `X-Bench-Cold: 1`
    current_rps     mean req/s over the seconds [last - 12, last - 2), as Locust computes "Current RPS"
    steady_requests, steady_rps
                    responses in the steady-state window (after --bench-warmup, or after a reset, until
                    stop) and their rate over the window so far
    p50_ms, p99_ms  steady-window percentiles, 0.01 ms bins below 10 ms (null before the first response)
    last_seen       epoch seconds of the process's last response; last_seen_time: the same as HH:MM:SS

No Locust import: tests build views from recorders directly.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ._histogram import Histogram
from ._live import PidCounts
from ._recorder import NO_PID, Merger, pid_sort_key

AGGREGATED = "Aggregated"  # Locust's name for its all-rows line


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else ""


def selection_text(classes: list[str], variants: list[str]) -> tuple[str, str | None]:
    """What the selection measures, and a warning when it mixes variants (None when it does not)."""
    if not classes:
        return "no User class selected yet", None
    if len(variants) > 1:
        warning = (
            f"MIXED variants: {', '.join(variants)} ({', '.join(classes)}); the per-process figures add them up"
        )
        return warning, warning
    return f"{variants[0]} ({', '.join(classes)})", None


def _row(
    pid: str, counts: PidCounts, hist: Histogram | None, steady_cold: int, variants: str, live_start: float,
    last_response: float, window: tuple[float, float],
) -> dict[str, Any]:
    p50, p99 = hist.percentiles((0.50, 0.99)) if hist else (None, None)
    steady = hist.requests if hist else 0
    length = window[1] - window[0]
    return {
        "pid": pid,
        "variants": variants,
        "requests": counts.requests,
        "failures": counts.failures,
        "cold": counts.cold,
        "current_rps": round(counts.current_rps(last_response, live_start), 1),
        "steady_requests": steady,
        "steady_cold": steady_cold,
        "steady_rps": round(steady / length, 1) if length > 0 else 0.0,
        "p50_ms": _ms(p50),
        "p99_ms": _ms(p99),
        "last_seen": round(counts.last, 3),
        "last_seen_time": _clock(counts.last),
    }


def build_view(
    merger: Merger,
    *,
    start: float,
    warmup_s: float,
    stop: float | None,
    classes: Iterable[str],
    variants: Iterable[str],
    generators: int,
    running: bool,
) -> dict[str, Any]:
    """The `/per-process` JSON: the rows described in the module docstring, and what the run measures."""
    live = {pid: c for pid, c in merger.live.items() if pid != NO_PID}
    last_response = max((c.last for c in merger.live.values()), default=0.0)
    live_start = max(start, merger.reset_at or 0.0)
    # while running, the window ends at the latest response reported (a worker's data arrives every 3 s)
    window = merger.window(start + warmup_s, stop or last_response or start + warmup_s)
    total_counts, total_hist = PidCounts(), Histogram()
    rows = []
    for pid in sorted(live, key=pid_sort_key):
        hist = merger.pids.get(pid)
        rows.append(
            _row(pid, live[pid], hist, merger.steady_cold.get(pid, 0), ", ".join(sorted(live[pid].variants)),
                 live_start, last_response, window)
        )  # fmt: skip
        total_counts.merge(live[pid])
        if hist:
            total_hist.merge(hist)
    class_names, variant_names = sorted(classes), sorted(set(variants))
    measures, warning = selection_text(class_names, variant_names)
    total_cold = sum(n for pid, n in merger.steady_cold.items() if pid != NO_PID)
    rows.append(_row(AGGREGATED, total_counts, total_hist, total_cold, measures, live_start, last_response, window))
    no_pid = merger.live.get(NO_PID)
    return {
        "running": running,
        "classes": class_names,
        "variants": variant_names,
        "mixed": len(variant_names) > 1,
        "warning": warning,
        "warmup_s": warmup_s,
        "window": [round(window[0], 3), round(window[1], 3)],
        "rows": rows,
        "no_pid": no_pid.requests if no_pid else 0,
        "generators": generators,
    }


def history(merger: Merger) -> list[tuple[int, str, list[int]]]:
    """(epoch second, PID or "Aggregated", [requests, failures, cold]) per PID per second, in time order."""
    seconds = sorted({sec for pid, c in merger.live.items() if pid != NO_PID for sec in c.seconds})
    pids = sorted((pid for pid in merger.live if pid != NO_PID), key=pid_sort_key)
    out: list[tuple[int, str, list[int]]] = []
    for sec in seconds:
        total = [0, 0, 0]
        for pid in pids:
            values = merger.live[pid].seconds.get(sec)
            if values:
                out.append((sec, pid, list(values)))
                total = [a + b for a, b in zip(total, values, strict=True)]
        out.append((sec, AGGREGATED, total))
    return out
