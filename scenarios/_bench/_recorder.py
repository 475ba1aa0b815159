"""Per-PID steady-state bookkeeping, independent of Locust (so tests can import it without gevent).

`WindowRecorder` lives in every process that runs users (the local runner, or each worker). It keeps
only requests that complete inside that process's steady-state window: after `warm-up` seconds from its
own test start, and not after its test stop. `take_report()` hands over what was collected since the
previous call (a delta), which is what a worker sends with each `report_to_master`.

`Merger` adds those deltas up (on the master, or once at the end on a local runner) and produces the
per-PID JSON documented in `_listener`. Reports carry the test's run id, so a late report of a
previous test (the web UI can start tests back to back) is not mistaken for one of the current test.

Next to the steady-state histograms, both keep `PidCounts` per PID from test start to stop (the live
per-process view, `_live`), and the cold requests of the window. A stats reset (`reset`) drops what
was collected so far and moves the window start; the master numbers its resets, workers stamp their
reports with the last number they heard of, and the master drops data stamped with an older one (data
collected before the reset, still on its way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._histogram import Histogram
from ._live import PidCounts

NO_PID = ""  # key for responses without an X-Bench-Pid header (connection errors, foreign servers)


class WindowRecorder:
    """Collects per-PID histograms for the steady-state window of one Locust process."""

    def __init__(self) -> None:
        self.run: str | None = None
        self.t0: float | None = None
        self.warm_end: float | None = None
        self.stop: float | None = None
        self.pids: dict[str, Histogram] = {}
        self.steady_cold: dict[str, int] = {}
        self.live: dict[str, PidCounts] = {}
        self.reset_gen = 0  # the master's reset number this process last heard of (kept across tests)

    def begin(self, t0: float, warmup_s: float, run: str | None = None) -> None:
        """Start test `run` at epoch `t0`; requests before `t0 + warmup_s` are not counted."""
        self.run = run
        self.t0 = t0
        self.warm_end = t0 + max(0.0, warmup_s)
        self.stop = None
        self.pids, self.steady_cold, self.live = {}, {}, {}

    def reset(self, t: float, gen: int) -> None:
        """Stats reset at epoch `t` (reset number `gen`): forget what was collected, start the window anew."""
        self.pids, self.steady_cold, self.live = {}, {}, {}
        self.reset_gen = max(self.reset_gen, gen)
        if self.warm_end is not None:
            self.warm_end = max(self.warm_end, t)

    def end(self, t: float) -> None:
        """Close the window at epoch `t` (requests completing later are not counted)."""
        if self.t0 is not None and self.stop is None:
            self.stop = t

    def record(
        self, pid: str | None, ms: float, failed: bool, now: float, cold: bool = False, variant: str | None = None
    ) -> None:
        """Count one response that completed at epoch `now`: live from test start, histograms in the window."""
        if self.warm_end is None:
            return
        key = pid or NO_PID
        counts = self.live.get(key)
        if counts is None:
            counts = self.live[key] = PidCounts()
        # like Locust's own statistics, the live counts include responses that complete while users stop
        counts.add(failed, cold, now, variant)
        if now < self.warm_end or (self.stop is not None and now > self.stop):
            return
        hist = self.pids.get(key)
        if hist is None:
            hist = self.pids[key] = Histogram()
        hist.add(ms, failed)
        if cold:
            self.steady_cold[key] = self.steady_cold.get(key, 0) + 1

    def take_report(self) -> dict[str, Any]:
        """Return the window bounds and the data collected since the last call, and forget that data."""
        report = {
            "run": self.run,
            "t0": self.t0,
            "warm_end": self.warm_end,
            "stop": self.stop,
            "pids": {pid: hist.to_wire() for pid, hist in self.pids.items()},
            "cold": dict(self.steady_cold),
            "live": {pid: counts.to_wire() for pid, counts in self.live.items()},
            "reset": self.reset_gen,
        }
        self.pids, self.steady_cold, self.live = {}, {}, {}
        return report


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def pid_sort_key(pid: str) -> tuple[int, int | str]:
    return (0, int(pid)) if pid.isdigit() else (1, pid)


class Merger:
    """Adds up `WindowRecorder` reports from one or more Locust processes."""

    def __init__(self, run: str | None = None) -> None:
        self.run = run
        self.sources: dict[str, dict[str, float | None]] = {}
        self.pids: dict[str, Histogram] = {}
        self.steady_cold: dict[str, int] = {}
        self.live: dict[str, PidCounts] = {}
        self.reset_gen = 0
        self.reset_at: float | None = None
        self.source_requests: dict[str, int] = {}  # steady-window requests of each source (a worker)

    def reset(self, t: float, gen: int) -> None:
        """Stats reset at epoch `t`: drop the data, and from now on reports stamped before reset `gen`."""
        self.pids, self.steady_cold, self.live = {}, {}, {}
        self.source_requests = {}
        self.reset_gen = max(self.reset_gen, gen)
        self.reset_at = t

    def add_report(self, source: str, report: Mapping[str, Any]) -> bool:
        """Merge one report of `source` (a worker's client id); False if it belongs to another run."""
        if self.run is not None and report.get("run") != self.run:
            return False
        # the window bounds are absolute, so the latest report of a source replaces the previous one
        self.sources[source] = {key: report.get(key) for key in ("t0", "warm_end", "stop")}
        if int(report.get("reset", 0)) < self.reset_gen:
            return True  # collected before the last reset: its bounds count (a stop), its data does not
        for pid, wire in report.get("pids", {}).items():
            hist = self.pids.get(str(pid))
            if hist is None:
                hist = self.pids[str(pid)] = Histogram()
            part = Histogram.from_wire(wire)
            hist.merge(part)
            self.source_requests[source] = self.source_requests.get(source, 0) + part.requests
        for pid, cold in report.get("cold", {}).items():
            self.steady_cold[str(pid)] = self.steady_cold.get(str(pid), 0) + int(cold)
        for pid, wire in report.get("live", {}).items():
            counts = self.live.get(str(pid))
            if counts is None:
                counts = self.live[str(pid)] = PidCounts()
            counts.merge(PidCounts.from_wire(wire))
        return True

    def started_sources(self) -> list[str]:
        return [name for name, bounds in self.sources.items() if bounds.get("t0") is not None]

    def all_stopped(self, expected: Iterable[str] = ()) -> bool:
        """True when every `expected` source (default: every source heard from) has reported its stop."""
        names = set(expected) or set(self.started_sources())
        return bool(names) and all(self.sources.get(name, {}).get("stop") is not None for name in names)

    def window(self, default_start: float, default_end: float) -> tuple[float, float]:
        """The merged steady-state window: earliest warm-up end to latest stop over all processes."""
        started = [self.sources[name] for name in self.started_sources()]
        starts = [b["warm_end"] for b in started if b.get("warm_end") is not None]
        stops = [b["stop"] for b in started if b.get("stop") is not None]
        start = min(starts) if starts else default_start
        if self.reset_at is not None:
            start = max(start, self.reset_at)
        # a process that never reported its stop ran until the (master's) stop time
        end = max(stops) if stops and len(stops) == len(started) else default_end
        # a warm-up longer than the test leaves an empty window, not a negative one
        return float(start), float(max(start, end))

    def summary(self, warmup_s: float, default_start: float, default_end: float) -> dict[str, Any]:
        """Build the per-PID JSON object (see the `_listener` docstring for its shape)."""
        start, end = self.window(default_start, default_end)
        total = Histogram()
        for hist in self.pids.values():
            total.merge(hist)
        length = end - start
        p50, p90, p99 = total.percentiles((0.50, 0.90, 0.99))
        pids: dict[str, dict[str, Any]] = {}
        for pid in sorted((p for p in self.pids if p != NO_PID), key=pid_sort_key):
            hist = self.pids[pid]
            pid_p50, pid_p99 = hist.percentiles((0.50, 0.99))
            pids[pid] = {
                "requests": hist.requests,
                "failures": hist.failures,
                "p50_ms": _ms(pid_p50),
                "p99_ms": _ms(pid_p99),
                "max_ms": _ms(hist.max_ms if hist.requests else None),
            }
        no_pid = self.pids.get(NO_PID)
        return {
            "warmup_s": int(warmup_s) if float(warmup_s).is_integer() else warmup_s,
            "window": [round(start, 3), round(end, 3)],
            "requests": total.requests,
            "failures": total.failures,
            "rps": round(total.requests / length, 2) if length > 0 else 0.0,
            "p50_ms": _ms(p50),
            "p90_ms": _ms(p90),
            "p99_ms": _ms(p99),
            "max_ms": _ms(total.max_ms if total.requests else None),
            "mean_ms": _ms(total.mean_ms),
            "pids": pids,
            "no_pid": no_pid.requests if no_pid else 0,
            "generators": len(self.started_sources()),
        }
