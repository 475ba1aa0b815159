"""Per-PID counters since the test started (or since the last stats reset), mergeable across processes.

`_recorder` keeps, next to the steady-state histograms, one `PidCounts` per Apache PID: requests,
failures, cold requests (`X-Bench-Cold: 1`), the time of the last response, the variants served, and
per-second counts. The per-second counts give the current req/s (the way Locust computes its own), the
req/s chart and the per-second history CSV. Like the histograms, counts travel as deltas and add up.

No Locust import here: tests use it directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Locust's StatsEntry.current_rps: the mean over the seconds [last - 12, last - 2), the last 2 s being
# incomplete; we use the same rule so the per-process figure matches Locust's "Current RPS".
CURRENT_RPS_FROM_S = 12
CURRENT_RPS_SKIP_S = 2


class PidCounts:
    """What one Apache process served, as seen by the load generator(s)."""

    __slots__ = ("requests", "failures", "cold", "last", "seconds", "variants")

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.cold = 0
        self.last = 0.0  # epoch of the last response
        self.seconds: dict[int, list[int]] = {}  # epoch second -> [requests, failures, cold]
        self.variants: set[str] = set()

    def add(self, failed: bool, cold: bool, now: float, variant: str | None) -> None:
        """Count one response that completed at epoch `now`."""
        self.requests += 1
        second = self.seconds.get(int(now))
        if second is None:
            second = self.seconds[int(now)] = [0, 0, 0]
        second[0] += 1
        if failed:
            self.failures += 1
            second[1] += 1
        if cold:
            self.cold += 1
            second[2] += 1
        if now > self.last:
            self.last = now
        if variant is not None and variant not in self.variants:
            self.variants.add(variant)

    def merge(self, other: PidCounts) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.cold += other.cold
        self.last = max(self.last, other.last)
        for sec, (n, f, c) in other.seconds.items():
            mine = self.seconds.get(sec)
            if mine is None:
                self.seconds[sec] = [n, f, c]
            else:
                mine[0] += n
                mine[1] += f
                mine[2] += c
        self.variants |= other.variants

    def to_wire(self) -> dict[str, Any]:
        """A msgpack/JSON-friendly dict (sent by workers with their stats reports)."""
        return {
            "n": self.requests,
            "f": self.failures,
            "c": self.cold,
            "last": self.last,
            "s": {int(sec): list(v) for sec, v in self.seconds.items()},
            "v": sorted(self.variants),
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> PidCounts:
        counts = cls()
        counts.requests = int(data.get("n", 0))
        counts.failures = int(data.get("f", 0))
        counts.cold = int(data.get("c", 0))
        counts.last = float(data.get("last", 0.0))
        counts.seconds = {int(sec): [int(x) for x in v] for sec, v in data.get("s", {}).items()}
        counts.variants = set(data.get("v", []))
        return counts

    def current_rps(self, last_response: float, start: float) -> float:
        """Mean req/s over [last - 12 s, last - 2 s), not before `start` (Locust's rule)."""
        first = max(int(last_response) - CURRENT_RPS_FROM_S, int(start))
        seconds = range(first, int(last_response) - CURRENT_RPS_SKIP_S)
        if not seconds:
            return 0.0
        return sum(self.seconds.get(sec, (0,))[0] for sec in seconds) / len(seconds)


def variant_of_name(name: str, variants: tuple[str, ...], ceilings: tuple[str, ...]) -> str | None:
    """The variant a request name (`/pooled/db`, `/plaintext`) measures; None for a foreign name."""
    parts = name.strip("/").split("/")
    if len(parts) == 2 and parts[0] in variants:
        return parts[0]
    if len(parts) == 1 and parts[0] in ceilings:
        return "ceiling"
    return None
