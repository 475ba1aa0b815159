"""A fine-grained latency histogram that merges across Locust processes.

Locust's own histogram keeps whole milliseconds below 100 ms, which turns a 0.3 ms pooled response into
"0". This one uses fixed log-linear bins, identical in every process, so partial histograms from
workers add up exactly:

    [0, 10) ms        0.01 ms wide   (1000 bins)
    [10, 100) ms      0.1 ms wide    (900 bins)
    [100, 1000) ms    1 ms wide      (900 bins)
    [1, 10) s         10 ms wide     (900 bins)
    [10, 100) s       100 ms wide    (900 bins)
    >= 100 s          one overflow bin

Recording is pure Python (it runs once per request, where a numpy call per sample would cost more than
it saves); numpy is used once at the end to turn counts into percentiles.

This module must not import Locust: the tests import it directly, and importing Locust would
monkey-patch the test process with gevent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

# (segment upper bound in ms, bin width in ms); segments start where the previous one ends.
SEGMENTS: tuple[tuple[float, float], ...] = (
    (10.0, 0.01),
    (100.0, 0.1),
    (1000.0, 1.0),
    (10000.0, 10.0),
    (100000.0, 100.0),
)


def _build_bins() -> tuple[np.ndarray, np.ndarray, list[tuple[float, float, float, int]]]:
    lowers: list[np.ndarray] = []
    widths: list[np.ndarray] = []
    segments: list[tuple[float, float, float, int]] = []  # (lower, upper, width, first index)
    lower, first = 0.0, 0
    for upper, width in SEGMENTS:
        count = round((upper - lower) / width)
        # integer steps times the width, so edges do not accumulate float error
        lowers.append(lower + np.arange(count) * width)
        widths.append(np.full(count, width))
        segments.append((lower, upper, width, first))
        lower, first = upper, first + count
    return np.concatenate(lowers), np.concatenate(widths), segments


_LOWER, _WIDTH, _SEGMENT_TABLE = _build_bins()
_EPS = 1e-9
OVERFLOW = len(_LOWER)  # index of the ">= 100 s" bin
# Representative value of each bin: its midpoint (the overflow bin is represented by the observed max).
_MIDPOINT = np.append(_LOWER + _WIDTH / 2.0, np.inf)


def bin_index(ms: float) -> int:
    """Return the bin that holds a response time of `ms` milliseconds."""
    if ms < 10.0:
        # the hot path: almost every response of this suite lands here. The epsilon keeps a value
        # such as 0.29 (0.28999... * 100 in binary) in the bin that starts at 0.29.
        return int(ms * 100.0 + _EPS) if ms > 0.0 else 0
    for lower, upper, width, first in _SEGMENT_TABLE[1:]:
        if ms < upper:
            return min(first + int((ms - lower) / width + _EPS), first + round((upper - lower) / width) - 1)
    return OVERFLOW


def bin_bounds(index: int) -> tuple[float, float]:
    """Lower and upper edge (ms) of a bin; the overflow bin has an infinite upper edge."""
    if index >= OVERFLOW:
        return float(SEGMENTS[-1][0]), math.inf
    return float(_LOWER[index]), float(_LOWER[index] + _WIDTH[index])


class Histogram:
    """Counts, failures, sum, min and max of response times, mergeable by addition."""

    __slots__ = ("counts", "requests", "failures", "total_ms", "min_ms", "max_ms")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.requests = 0
        self.failures = 0
        self.total_ms = 0.0
        self.min_ms = math.inf
        self.max_ms = 0.0

    def add(self, ms: float, failed: bool = False) -> None:
        """Record one response time in milliseconds."""
        index = bin_index(ms)
        self.counts[index] = self.counts.get(index, 0) + 1
        self.requests += 1
        if failed:
            self.failures += 1
        self.total_ms += ms
        if ms < self.min_ms:
            self.min_ms = ms
        if ms > self.max_ms:
            self.max_ms = ms

    def merge(self, other: Histogram) -> None:
        """Add another histogram's samples to this one."""
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count
        self.requests += other.requests
        self.failures += other.failures
        self.total_ms += other.total_ms
        self.min_ms = min(self.min_ms, other.min_ms)
        self.max_ms = max(self.max_ms, other.max_ms)

    def to_wire(self) -> dict[str, Any]:
        """A msgpack/JSON-friendly dict (what workers send to the master)."""
        return {
            "h": {int(k): int(v) for k, v in self.counts.items()},
            "n": self.requests,
            "f": self.failures,
            "sum": self.total_ms,
            "min": None if math.isinf(self.min_ms) else self.min_ms,
            "max": self.max_ms,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Histogram:
        """Rebuild a histogram from `to_wire` output (keys may arrive as strings after JSON)."""
        hist = cls()
        hist.counts = {int(k): int(v) for k, v in data.get("h", {}).items()}
        hist.requests = int(data.get("n", 0))
        hist.failures = int(data.get("f", 0))
        hist.total_ms = float(data.get("sum", 0.0))
        low = data.get("min")
        hist.min_ms = math.inf if low is None else float(low)
        hist.max_ms = float(data.get("max", 0.0))
        return hist

    @property
    def mean_ms(self) -> float | None:
        return self.total_ms / self.requests if self.requests else None

    def percentiles(self, quantiles: Iterable[float]) -> list[float | None]:
        """Nearest-rank percentiles (quantiles in 0..1), each the midpoint of its bin.

        Values are clamped to the observed min and max, so a percentile never claims a response time
        that no request had (Locust does the same for its median).
        """
        qs = list(quantiles)
        if not self.requests or not self.counts:
            return [None] * len(qs)
        indexes = np.fromiter(self.counts.keys(), dtype=np.int64, count=len(self.counts))
        counts = np.fromiter(self.counts.values(), dtype=np.int64, count=len(self.counts))
        order = np.argsort(indexes)
        indexes, cumulative = indexes[order], np.cumsum(counts[order])
        total = int(cumulative[-1])
        result: list[float | None] = []
        for q in qs:
            if q >= 1.0:
                result.append(self.max_ms)  # the 100th percentile is the slowest request, exactly
                continue
            rank = min(total, max(1, math.ceil(q * total)))
            index = int(indexes[int(np.searchsorted(cumulative, rank))])
            value = self.max_ms if index >= OVERFLOW else float(_MIDPOINT[index])
            result.append(min(max(value, self.min_ms), self.max_ms))
        return result
