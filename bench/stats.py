"""Statistics over trials: medians with bootstrap 95% confidence intervals, ratios of medians."""

import numpy as np

SEED = 20261126  # fixed: the same run folder always gives the same intervals
RESAMPLES = 5000


def median(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.median(vals)) if vals else None


def median_ci(values: list[float]) -> list[float] | None:
    """95% bootstrap interval of the median; [min, max] with fewer than 3 values."""
    vals = np.asarray([v for v in values if v is not None], dtype=float)
    if vals.size == 0:
        return None
    if vals.size < 3:
        return [float(vals.min()), float(vals.max())]
    rng = np.random.default_rng(SEED)
    meds = np.median(rng.choice(vals, size=(RESAMPLES, vals.size), replace=True), axis=1)
    return [float(np.percentile(meds, 2.5)), float(np.percentile(meds, 97.5))]


def ratio_ci(numerator: list[float], denominator: list[float]) -> tuple[float, list[float]] | None:
    """Ratio of medians and its 95% bootstrap interval (independent resampling of both groups)."""
    a = np.asarray([v for v in numerator if v is not None], dtype=float)
    b = np.asarray([v for v in denominator if v is not None], dtype=float)
    if a.size == 0 or b.size == 0 or np.median(b) == 0:
        return None
    ratio = float(np.median(a) / np.median(b))
    if a.size < 2 or b.size < 2:
        return ratio, [ratio, ratio]
    rng = np.random.default_rng(SEED)
    ma = np.median(rng.choice(a, size=(RESAMPLES, a.size), replace=True), axis=1)
    mb = np.median(rng.choice(b, size=(RESAMPLES, b.size), replace=True), axis=1)
    ratios = ma / np.where(mb == 0, np.nan, mb)
    return ratio, [float(np.nanpercentile(ratios, 2.5)), float(np.nanpercentile(ratios, 97.5))]


def percentiles_ms(micros: list[int] | np.ndarray, points=(50, 90, 99)) -> dict:
    """Percentiles of service times given in microseconds, as milliseconds."""
    arr = np.asarray(micros, dtype=float)
    if arr.size == 0:
        return {f"p{p}_ms": None for p in points} | {"max_ms": None}
    out = {f"p{p}_ms": round(float(np.percentile(arr, p)) / 1000, 3) for p in points}
    out["max_ms"] = round(float(arr.max()) / 1000, 3)
    return out
