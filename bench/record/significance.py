"""Is a change between two runs real? A test on trial-level values that knows runs drift.

Trials of one run vary less than runs do: the same commit measured twice on this (shared, 2-core) machine
gave run means 7.7% and 15.4% apart (issue 8), while trials inside each run were within a few percent. A
test on trials alone (Welch, bootstrap of medians) calls those differences significant and fails CI gates
on noise. So the difference of two runs' mean log values is tested against

    se^2 = s_a^2 / n_a + s_b^2 / n_b + 2 * RUN_NOISE^2

where the last term is the run-to-run variance of one run's level (each run draws its own offset), with a
Welch-Satterthwaite t for the within-run part. RUN_NOISE = 0.055 (log units, ~5.5% per run) is what the
15.4% A/A pair implies at about two standard deviations of a difference (0.143 / (2 x sqrt 2)); it is a
setting (`run_noise`) because another machine drifts differently. On top, a change is only called when it
is larger than `min_change_pct` (default 10%, above the 7.7% A/A gap and the within-run spread), pyperf's
rule of "significant and large enough to matter". With fewer than MIN_TRIALS trials on a side nothing is
called: "inconclusive".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict

import numpy as np

RUN_NOISE = 0.055
DEFAULT_MIN_CHANGE_PCT = 10.0
MIN_TRIALS = 3
ALPHA = 0.05

VERDICTS = ("regression", "improvement", "no change", "inconclusive")


class Verdict(TypedDict):
    ratio: float | None      # median(new) / median(base)
    p_value: float | None    # two-sided, run noise included
    verdict: str             # one of VERDICTS
    why: str


def _logs(values: Sequence[float | None]) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    arr = arr[np.isfinite(arr) & (arr > 0)]
    return np.log(arr)


def change_test(base: Sequence[float | None], new: Sequence[float | None], *, higher_is_better: bool,
                min_change_pct: float = DEFAULT_MIN_CHANGE_PCT, run_noise: float = RUN_NOISE,
                min_trials: int = MIN_TRIALS, alpha: float = ALPHA) -> Verdict:
    """The verdict on `new` against `base` from their trial values (e.g. requests/s of each trial)."""
    a, b = _logs(base), _logs(new)
    if a.size == 0 or b.size == 0:
        return Verdict(ratio=None, p_value=None, verdict="inconclusive", why="no trials on one side")
    ratio = float(np.exp(np.median(b) - np.median(a)))
    pct = 100 * (ratio - 1)
    if min(a.size, b.size) < min_trials:
        return Verdict(ratio=ratio, p_value=None, verdict="inconclusive",
                       why=f"inconclusive: {min(a.size, b.size)} trials (need {min_trials} per side)")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb + 2 * run_noise**2)
    within = va + vb
    # Welch-Satterthwaite degrees of freedom of the within-run part; the run term is taken as known.
    df = (within**2 / ((va**2 / (a.size - 1)) + (vb**2 / (b.size - 1)))) if within > 0 else math.inf
    diff = b.mean() - a.mean()
    if se == 0:  # identical trials and no run noise assumed: a difference is certain, none is none
        p = 1.0 if diff == 0 else 0.0
    else:
        t = diff / se
        from scipy import stats as sps  # half a second to import: only when a verdict is computed

        p = float(2 * sps.t.sf(abs(t), df)) if math.isfinite(df) else float(2 * sps.norm.sf(abs(t)))
    worse = (ratio < 1) if higher_is_better else (ratio > 1)
    if p >= alpha:
        return Verdict(ratio=ratio, p_value=p, verdict="no change",
                       why=f"{pct:+.1f}% is within run-to-run noise (p = {p:.2f})")
    if abs(pct) <= min_change_pct:
        return Verdict(ratio=ratio, p_value=p, verdict="no change",
                       why=f"{pct:+.1f}% is significant (p = {p:.3f}) but not larger than {min_change_pct:g}%")
    verdict = "regression" if worse else "improvement"
    return Verdict(ratio=ratio, p_value=p, verdict=verdict, why=f"{pct:+.1f}% (p = {p:.3g})")
