"""Is a change between two runs real, is there none, or can this comparison not tell? A test on trial-level
values that knows runs drift, an equivalence test for "no change", and the smallest change it could call.

Trials of one run vary less than runs do: the same commit measured twice on this (shared, 2-core) machine
gave run means 7.7% and 15.4% apart (issue 8), while trials inside each run were within a few percent. A
test on trials alone (Welch, bootstrap of medians) calls those differences significant and fails CI gates
on noise. So the difference d of two runs' mean log values is tested against

    se^2 = s_a^2 / n_a + s_b^2 / n_b + 2 * run_noise^2

where the last term is the run-to-run variance of one run's level (each run draws its own offset), with a
Welch-Satterthwaite t for the within-run part (the run term taken as known, the degrees of freedom those of
the trials: conservative, since the run noise is itself an estimate). The change is exp(d) - 1 (the ratio
of the geometric means of the trials) with its 95% interval d +- t * se. The verdict, for a threshold T
(`min_change_pct`, default 10%):

- regression / improvement: significant (p < 0.05, the interval excludes 0) AND the change beyond +-T;
- no change: the whole 95% interval inside +-T (an equivalence test; two one-sided tests at 2.5% each,
  stricter than TOST's usual 90% interval, so the interval shown is the one the verdict used). A significant
  change smaller than T is "no change" only when its interval also stays inside +-T;
- inconclusive: everything else (a large change that is not significant, a significant change whose
  interval reaches past T, fewer than MIN_TRIALS trials on a side). It is never "no change".

RUN_NOISE = 0.055 (log units, ~5.5% per run) is what the 15.4% A/A pair implies at about two standard
deviations of a difference (0.143 / (2 x sqrt 2)). It is the default, not a law: `estimate_run_noise`
measures it from A/A runs (`bench compare --calibrate`). Note what it implies: the run term alone gives
se >= sqrt(2) x 0.055 = 7.8%, so an interval of at least +-15%: with the default noise and T = 10% no number
of trials can show "no change", and the smallest change callable with power 0.8 stays above 21%. Only a
smaller measured noise, a larger T, or a design where the drift cancels (both versions at once) can.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

RUN_NOISE = 0.055
RUN_NOISE_SOURCE = ("the default: an A/A pair of one commit 15.4% apart on this project's 2-core machine "
                    "(0.143 / (2 x sqrt 2))")
DEFAULT_MIN_CHANGE_PCT = 10.0
MIN_TRIALS = 3
ALPHA = 0.05        # two-sided: the 95% interval
POWER = 0.8         # of the detectable change
MAX_TRIALS = 100    # the search for the trials per side that would bring the detectable change under T
NOISE_FLOOR = 0.01  # a calibration never claims less run-to-run noise than 1%
# Both versions measured at the same time (duet benchmarking) cancel the drift between runs; the suite cannot
# do that yet, so the hint says what it would take rather than name a command that does not exist.
DUET = "a duet run (both versions measured at the same time; not yet in this suite)"
DUET_HINT = f"only {DUET} cancels the drift between runs"

VERDICTS = ("regression", "improvement", "no change", "inconclusive")


def pct_of(log_change: float) -> float:
    return 100 * math.expm1(log_change)


@dataclass(frozen=True)
class Detectable:
    """The smallest change this comparison could call (ALPHA two-sided, POWER), and what would bring it
    under the threshold."""

    pct: float                  # percent
    trials: tuple[int, int]     # trial values per side
    run_noise: float            # log units
    threshold_pct: float
    reachable: bool             # False: the run-to-run noise alone keeps it above the threshold
    trials_needed: int | None   # per side, when reachable and at most MAX_TRIALS

    def text(self) -> str:
        n = min(self.trials)
        head = (f"with {n} trial{'s' if n != 1 else ''} per side and run-to-run noise {self.run_noise:g} "
                f"({100 * self.run_noise:.1f}% per run) it could call changes larger than {self.pct:.0f}% (alpha "
                f"{ALPHA:g}, power {POWER:g})")
        if self.pct <= self.threshold_pct:
            return head
        limit = f"{self.threshold_pct:g}%"
        if not self.reachable:
            return (f"{head}; no number of trials can bring that under {limit} with run-to-run noise "
                    f"{self.run_noise:g}, which does not shrink with more trials in a run: {DUET_HINT}, or measure "
                    "this machine's noise (bench compare --calibrate)")
        if self.trials_needed is None:
            return f"{head}; more than {MAX_TRIALS} trials per side would be needed to bring that under {limit}"
        return f"{head}; {self.trials_needed} trials per side would bring that under {limit}"

    def short(self) -> str:
        """Why a comparison is undecided, in a clause: what it could call at all."""
        n = min(self.trials)
        return (f"{n} trial{'s' if n != 1 else ''} per side with run-to-run noise {100 * self.run_noise:.1f}% can "
                f"only call changes larger than {self.pct:.0f}%")

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text(), "pct": round(self.pct, 2), "trials": list(self.trials),
                "run_noise": self.run_noise, "threshold_pct": self.threshold_pct, "alpha": ALPHA, "power": POWER,
                "reachable": self.reachable, "trials_needed": self.trials_needed}


@dataclass(frozen=True)
class ChangeVerdict:
    verdict: str                               # one of VERDICTS
    ratio: float | None                        # geometric mean of new / of base, over trials
    p_value: float | None                      # two-sided, run noise included
    ci95_pct: tuple[float, float] | None       # the 95% interval of the change, percent
    why: str
    detectable: Detectable | None = None

    @property
    def pct(self) -> float | None:
        return None if self.ratio is None else 100 * (self.ratio - 1)

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "ratio": self.ratio, "change_pct": self.pct, "p_value": self.p_value,
                "ci95_pct": None if self.ci95_pct is None else [round(v, 2) for v in self.ci95_pct],
                "why": self.why, "detectable": None if self.detectable is None else self.detectable.to_json()}


def _logs(values: Sequence[float | None]) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    arr = arr[np.isfinite(arr) & (arr > 0)]
    return np.log(arr)


def _var(logs: np.ndarray) -> float:
    """The within-run variance of one side's log values (0 with fewer than two)."""
    return float(logs.var(ddof=1)) if logs.size > 1 else 0.0


def _se_df(var_a: float, var_b: float, n_a: int, n_b: int, run_noise: float) -> tuple[float, float]:
    """The standard error of the difference of mean logs, and the Welch-Satterthwaite degrees of freedom of
    its within-run part (inf when the trials do not vary)."""
    va, vb = var_a / n_a, var_b / n_b
    within = va + vb
    se = math.sqrt(within + 2 * run_noise**2)
    parts = (va**2 / (n_a - 1) if n_a > 1 else 0.0) + (vb**2 / (n_b - 1) if n_b > 1 else 0.0)
    return se, (within**2 / parts if within > 0 and parts > 0 else math.inf)


def _t(q: float, df: float) -> float:
    from scipy import stats as sps  # half a second to import: only when a verdict is computed

    return float(sps.t.ppf(q, df)) if math.isfinite(df) else float(sps.norm.ppf(q))


def _p(t: float, df: float) -> float:
    from scipy import stats as sps

    return float(2 * (sps.t.sf(abs(t), df) if math.isfinite(df) else sps.norm.sf(abs(t))))


def _mde(var_a: float, var_b: float, n_a: int, n_b: int, run_noise: float, alpha: float) -> float:
    se, df = _se_df(var_a, var_b, n_a, n_b, run_noise)
    return (_t(1 - alpha / 2, df) + _t(POWER, df)) * se


def detectable(var_a: float, var_b: float, trials: tuple[int, int], run_noise: float, threshold_pct: float,
               alpha: float = ALPHA) -> Detectable:
    """The detectable change with these trials, and the trials per side (same within-run spreads) that would
    bring it under threshold_pct; unreachable when the run noise alone keeps it above (normal quantiles)."""
    n_a, n_b = trials
    pct = pct_of(_mde(var_a, var_b, n_a, n_b, run_noise, alpha))
    limit = math.log1p(threshold_pct / 100)
    floor = (_t(1 - alpha / 2, math.inf) + _t(POWER, math.inf)) * math.sqrt(2) * run_noise
    reachable = floor < limit
    needed = None
    if reachable:
        needed = next((n for n in range(max(2, MIN_TRIALS), MAX_TRIALS + 1)
                       if _mde(var_a, var_b, n, n, run_noise, alpha) < limit), None)
    return Detectable(pct, trials, run_noise, threshold_pct, reachable, needed)


def decide(pct: float, ci95_pct: tuple[float, float], p: float, threshold_pct: float, *, higher_is_better: bool,
           alpha: float = ALPHA) -> tuple[str, str]:
    """(verdict, why) from the change, its 95% interval and p, all in percent: the rule of the module doc."""
    lo, hi = ci95_pct
    band = f"+-{threshold_pct:g}%"
    shown_p = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    interval = f"95% CI {lo:+.1f}% to {hi:+.1f}%"
    if p < alpha and abs(pct) > threshold_pct:
        worse = pct < 0 if higher_is_better else pct > 0
        return ("regression" if worse else "improvement"), f"{pct:+.1f}% is significant ({shown_p}) and beyond {band}"
    if -threshold_pct <= lo and hi <= threshold_pct:
        why = f"the whole {interval} lies within {band}"
        if p < alpha:
            why += f" (significant, {shown_p}, but smaller than {threshold_pct:g}%)"
        return "no change", why
    if p < alpha:
        return "inconclusive", (f"{pct:+.1f}% is significant ({shown_p}) but not beyond {band}, and its {interval} "
                                f"reaches past {band}: neither no change nor a change past {band} is shown")
    return "inconclusive", (f"{pct:+.1f}% is not significant ({shown_p}) and its {interval} reaches past {band}: "
                            f"it can exclude neither 0 nor a change past {band}")


def change_test(base: Sequence[float | None], new: Sequence[float | None], *, higher_is_better: bool,
                min_change_pct: float = DEFAULT_MIN_CHANGE_PCT, run_noise: float = RUN_NOISE,
                min_trials: int = MIN_TRIALS, alpha: float = ALPHA) -> ChangeVerdict:
    """The verdict on `new` against `base` from their trial values (e.g. requests/s of each trial)."""
    a, b = _logs(base), _logs(new)
    if a.size == 0 or b.size == 0:
        return ChangeVerdict("inconclusive", None, None, None, "no trials on one side")
    diff = float(b.mean() - a.mean())
    ratio = math.exp(diff)
    var_a, var_b = _var(a), _var(b)
    found = detectable(var_a, var_b, (int(a.size), int(b.size)), run_noise, min_change_pct, alpha)
    if min(a.size, b.size) < min_trials:
        return ChangeVerdict("inconclusive", ratio, None, None,
                       f"{min(a.size, b.size)} trials on a side (need {min_trials} per side)", found)
    se, df = _se_df(var_a, var_b, int(a.size), int(b.size), run_noise)
    if se == 0:  # identical trials and no run noise assumed: a difference is certain, none is none
        p = 1.0 if diff == 0 else 0.0
        ci = (pct_of(diff), pct_of(diff))
    else:
        p = _p(diff / se, df)
        half = _t(1 - alpha / 2, df) * se
        ci = (pct_of(diff - half), pct_of(diff + half))
    verdict, why = decide(pct_of(diff), ci, p, min_change_pct, higher_is_better=higher_is_better, alpha=alpha)
    if verdict == "inconclusive":
        why += f"; {found.short()}"
    return ChangeVerdict(verdict, ratio, p, ci, why, found)


@dataclass(frozen=True)
class NoiseEstimate:
    """The run-to-run noise of one metric measured from runs of one commit (an A/A calibration)."""

    run_noise: float        # what a comparison uses: max(measured, NOISE_FLOOR), log units
    measured: float         # the pooled spread of run levels beyond what the trials explain
    upper90: float | None   # a one-sided 90% upper bound of the run levels' spread (chi-square)
    df: int                 # degrees of freedom: (runs - 1) per cell, summed
    cells: int
    runs: int

    def to_json(self) -> dict[str, Any]:
        return {"run_noise": round(self.run_noise, 5), "measured": round(self.measured, 5),
                "upper90": None if self.upper90 is None else round(self.upper90, 5), "df": self.df,
                "cells": self.cells, "runs": self.runs}

    @classmethod
    def of(cls, d: dict[str, Any]) -> NoiseEstimate:
        upper = d.get("upper90")
        return cls(float(d["run_noise"]), float(d["measured"]), None if upper is None else float(upper),
                   int(d["df"]), int(d["cells"]), int(d["runs"]))


def estimate_run_noise(cells: Sequence[Sequence[Sequence[float | None]]]) -> NoiseEstimate | None:
    """From runs of one commit: per cell, per run, the trial values. Per cell the variance of the runs' mean
    logs minus the part the trials explain (mean of s^2/n), pooled over cells by their degrees of freedom;
    None when no cell has values in two runs."""
    from scipy import stats as sps

    weighted, between, df, used, runs = 0.0, 0.0, 0, 0, 0
    for per_run in cells:
        sides = [x for x in (_logs(v) for v in per_run) if x.size]
        if len(sides) < 2:
            continue
        means = np.array([x.mean() for x in sides])
        within = float(np.mean([_var(x) / x.size for x in sides]))
        k = len(sides) - 1
        weighted += k * (float(means.var(ddof=1)) - within)
        between += k * float(means.var(ddof=1))
        df, used, runs = df + k, used + 1, max(runs, len(sides))
    if df == 0:
        return None
    measured = math.sqrt(max(weighted / df, 0.0))
    upper = math.sqrt(between / float(sps.chi2.ppf(0.10, df))) if between > 0 else None
    return NoiseEstimate(max(measured, NOISE_FLOOR), measured, upper, df, used, runs)
