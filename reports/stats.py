"""Small statistics the reports need: bootstrap intervals over trials and the 2x2 decomposition.

Trials are few (typically 3-5), so everything is a percentile bootstrap of medians with a fixed seed:
the same run folder always gives the same report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SEED = 20261126
N_BOOT = 10_000


def _clean(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


def _boot_medians(arr: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    return np.median(arr[idx], axis=1)


def median_ci(values: Sequence[float], *, seed: int = SEED, n_boot: int = N_BOOT) -> tuple[float, float] | None:
    """95% interval of the median over trials, as docs/results-format.md defines it.

    Bootstrap for 3 or more trials; [min, max] below that (a bootstrap of 1-2 values says nothing).
    """
    arr = _clean(values)
    if arr.size == 0:
        return None
    if arr.size < 3:
        return float(arr.min()), float(arr.max())
    meds = _boot_medians(arr, np.random.default_rng(seed), n_boot)
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

    def excludes_one(self) -> bool:
        return self.lo is not None and self.hi is not None and (self.lo > 1.0 or self.hi < 1.0)


def ratio_of_medians(
    base: Sequence[float], new: Sequence[float], *, seed: int = SEED, n_boot: int = N_BOOT
) -> Ratio | None:
    """median(new)/median(base) with a 95% bootstrap interval (each side resampled independently).

    With a single trial on either side there is no spread to resample, so no interval: a one-trial
    ratio must never be called significant.
    """
    a, b = _clean(base), _clean(new)
    if a.size == 0 or b.size == 0:
        return None
    med_a = float(np.median(a))
    if med_a <= 0:
        return None
    ratio = float(np.median(b)) / med_a
    if a.size < 2 or b.size < 2:
        return Ratio(ratio, None, None)
    rng = np.random.default_rng(seed)
    boot_a = _boot_medians(a, rng, n_boot)
    boot_b = _boot_medians(b, rng, n_boot)
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


def decompose_2x2(
    naive: Sequence[float],
    pool_only: Sequence[float],
    cache_only: Sequence[float],
    pooled: Sequence[float],
    *,
    seed: int = SEED,
    n_boot: int = N_BOOT,
) -> Split | None:
    """Split the pooled/naive speedup (requests/s per trial of each cell) into pooling and caching."""
    cells = [_clean(x) for x in (naive, pool_only, cache_only, pooled)]
    if any(c.size == 0 or (c <= 0).any() for c in cells):
        return None
    point = _effects(*(np.array([np.median(c)]) for c in cells))
    if all(c.size >= 2 for c in cells):
        rng = np.random.default_rng(seed)
        boots = _effects(*(_boot_medians(c, rng, n_boot) for c in cells))
        bounds = [(float(np.exp(np.percentile(b, 2.5))), float(np.exp(np.percentile(b, 97.5)))) for b in boots]
    else:
        bounds = [(None, None)] * 4
    effects = [Effect(float(np.exp(pt[0])), lo, hi) for pt, (lo, hi) in zip(point, bounds, strict=True)]
    return Split(*effects)
