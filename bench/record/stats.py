"""The statistics of the suite, in one place: used by the writer (summaries, speedups in results.json),
the tuner, the reports and the comparison.

Trials are few (typically 2-5), so an interval is a percentile bootstrap of medians with a fixed seed:
the same run folder always gives the same numbers. numpy's resampling is used rather than
`scipy.stats.bootstrap`: with 2-3 values its default BCa interval degenerates (NaN and a warning), and the
percentile method is three lines of numpy whose numbers earlier reports already showed.

Per-trial verdicts (generator-bound today; server/generator/load bottleneck next) and significance tests
for comparisons belong here too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

SEED = 20261126  # fixed: the same run folder always gives the same intervals
RESAMPLES = 10_000


def clean(values: Sequence[float | None]) -> np.ndarray:
    """The finite numbers of `values` (None, NaN and inf dropped) as a float array."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


def median(values: Sequence[float | None], digits: int | None = None) -> float | None:
    """Median of the finite values, None when there are none; rounded to `digits` when given."""
    arr = clean(values)
    if arr.size == 0:
        return None
    m = float(np.median(arr))
    return m if digits is None else round(m, digits)


def bootstrap_medians(arr: np.ndarray, rng: np.random.Generator, resamples: int = RESAMPLES) -> np.ndarray:
    """Medians of `resamples` resamples (with replacement) of `arr`."""
    idx = rng.integers(0, arr.size, size=(resamples, arr.size))
    return np.median(arr[idx], axis=1)


def median_ci(values: Sequence[float | None], *, seed: int = SEED,
              resamples: int = RESAMPLES) -> tuple[float, float] | None:
    """95% interval of the median over trials: bootstrap for 3 or more values, [min, max] below that
    (a bootstrap of 1-2 values says nothing)."""
    arr = clean(values)
    if arr.size == 0:
        return None
    if arr.size < 3:
        return float(arr.min()), float(arr.max())
    meds = bootstrap_medians(arr, np.random.default_rng(seed), resamples)
    return float(np.percentile(meds, 2.5)), float(np.percentile(meds, 97.5))


@dataclass(frozen=True)
class Ratio:
    """new/base as a factor; lo/hi are None when there are too few trials for an interval."""

    ratio: float
    lo: float | None
    hi: float | None

    @property
    def pct(self) -> float:
        return (self.ratio - 1.0) * 100.0

    @property
    def ci(self) -> tuple[float, float] | None:
        return None if self.lo is None or self.hi is None else (self.lo, self.hi)

    def excludes_one(self) -> bool:
        return self.lo is not None and self.hi is not None and (self.lo > 1.0 or self.hi < 1.0)


def ratio_ci(base: Sequence[float | None], new: Sequence[float | None], *, seed: int = SEED,
             resamples: int = RESAMPLES) -> Ratio | None:
    """median(new)/median(base) with a 95% bootstrap interval (each side resampled independently).

    With a single trial on either side there is no spread to resample, so no interval: a one-trial
    ratio must never be called significant.
    """
    a, b = clean(base), clean(new)
    if a.size == 0 or b.size == 0:
        return None
    med_a = float(np.median(a))
    if med_a <= 0:
        return None
    ratio = float(np.median(b)) / med_a
    if a.size < 2 or b.size < 2:
        return Ratio(ratio, None, None)
    rng = np.random.default_rng(seed)
    boot_a = bootstrap_medians(a, rng, resamples)
    boot_b = bootstrap_medians(b, rng, resamples)
    ok = boot_a > 0
    ratios = boot_b[ok] / boot_a[ok]
    return Ratio(ratio, float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5)))


@dataclass(frozen=True)
class Effect:
    """A multiplicative effect (factor) with its 95% interval."""

    factor: float
    lo: float | None
    hi: float | None


@dataclass(frozen=True)
class Split:
    """pooled/naive split into what pooling and what template caching contribute.

    Method (log-ratio decomposition, the Shapley split of a 2x2): with L = log(median requests/s),
      pooling = mean(L[pool-only] - L[naive], L[pooled] - L[cache-only])
      caching = mean(L[cache-only] - L[naive], L[pooled] - L[pool-only])
    so pooling + caching = L[pooled] - L[naive] exactly; the interaction
      L[pooled] - L[pool-only] - L[cache-only] + L[naive]
    is > 0 when the two together buy more than the product of each alone. Reported as factors exp(.).
    """

    total: Effect
    pooling: Effect
    caching: Effect
    interaction: Effect

    @property
    def pooling_share(self) -> float | None:
        """Fraction of log(pooled/naive) due to pooling (None when the total is ~1x)."""
        total = math.log(self.total.factor)
        if abs(total) < 1e-12:
            return None
        return math.log(self.pooling.factor) / total


def _effects(n: np.ndarray, po: np.ndarray, co: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
    ln, lpo, lco, lp = np.log(n), np.log(po), np.log(co), np.log(p)
    pooling = 0.5 * ((lpo - ln) + (lp - lco))
    caching = 0.5 * ((lco - ln) + (lp - lpo))
    return lp - ln, pooling, caching, lp - lpo - lco + ln


def decompose_2x2(naive: Sequence[float], pool_only: Sequence[float], cache_only: Sequence[float],
                  pooled: Sequence[float], *, seed: int = SEED, resamples: int = RESAMPLES) -> Split | None:
    """Split the pooled/naive speedup (requests/s per trial of each cell) into pooling and caching."""
    cells = [clean(x) for x in (naive, pool_only, cache_only, pooled)]
    if any(c.size == 0 or (c <= 0).any() for c in cells):
        return None
    point = _effects(*(np.array([np.median(c)]) for c in cells))
    bounds: list[tuple[float | None, float | None]]
    if all(c.size >= 2 for c in cells):
        rng = np.random.default_rng(seed)
        boots = _effects(*(bootstrap_medians(c, rng, resamples) for c in cells))
        bounds = [(float(np.exp(np.percentile(b, 2.5))), float(np.exp(np.percentile(b, 97.5)))) for b in boots]
    else:
        bounds = [(None, None)] * 4  # a single trial in a cell: no interval
    effects = [Effect(float(np.exp(pt[0])), lo, hi) for pt, (lo, hi) in zip(point, bounds, strict=True)]
    return Split(*effects)


def theil_sen(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """(slope, intercept) of the Theil-Sen line: a steady trend shows in every pair of points, a one-off
    step in few. (0, median y) when x does not vary."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.size < 2 or np.ptp(xa) == 0:
        return 0.0, float(np.median(ya)) if ya.size else 0.0
    # theilslopes also computes a confidence band we do not use; on a flat series its sqrt of a negative
    # variance warns on the terminal (seen during `bench tune` confirmations): silence only that.
    with np.errstate(invalid="ignore"):
        slope, intercept, _, _ = sps.theilslopes(ya, xa, method="joint")  # intercept: median(y - slope x)
    return float(slope), float(intercept)


def percentiles_ms(micros: Sequence[int] | np.ndarray, points: Sequence[int] = (50, 90, 99)) -> dict:
    """Percentiles of service times given in microseconds, as milliseconds."""
    arr = np.asarray(micros, dtype=float)
    if arr.size == 0:
        return {f"p{p}_ms": None for p in points} | {"max_ms": None}
    out = {f"p{p}_ms": round(float(np.percentile(arr, p)) / 1000, 3) for p in points}
    out["max_ms"] = round(float(arr.max()) / 1000, 3)
    return out

