"""The confirmation step of `bench tune` (MaxConnectionsPerChild): measure the recommended value before
printing it as one.

The chosen N is measured against N = 0, interleaved (0, N, 0, N ...; at least 2 trials each), each trial long
enough that every slot recycles at least 3 times at the rate the sweep measured (capped by
--confirm-max-duration, which is said and recorded). The measured loss and its 95% interval (a bootstrap of
the ratio of medians, bench.record.stats.ratio_ci) stand beside the predicted one, with the end-of-life RSS and
PSS measured at that N. When the measurement misses the prediction or the limit, the recommendation comes from
what was measured: a smaller confirmed neighbour, or a larger N confirmed in one more round, or, when memory
forbids a larger N, the value memory allows with its measured loss. A value printed as the recommendation
has always been measured here.

Recycling is observable only where a child's life fits in a trial. With keep-alive on, N connections are about
N x 100 requests and a life at N = 5000 lasts minutes: a capped trial there replaces no child, so its difference
from N = 0 is noise, not recycling. Then the step measures the largest grid value below N whose lives fit the
cap instead: recycling less often costs no more (every exit costs about the same, and there are fewer), so
that value's measured loss bounds N's ("at most X%, measured at M"). When no such value meets the limit, or
none fits, the value stays the model's and is printed UNCONFIRMED with the --confirm-max-duration that would
measure it. A value whose trials replaced no child after all (the rate was lower than predicted) is marked
"not observed" and never counted as a measured loss.

The pure parts (which values, how long, the verdict) are functions of plain numbers, tested without servers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.record.tune import TuneRecord
from bench.record.tune_conclusions import Confirmation, ConfirmResult, ConfirmRound, ConfirmStatus, ModeConclusion
from bench.record.tune_points import PointTrial
from bench.tune import model as tune_model

LIVES = 3                 # every slot recycles at least this often in a confirmation trial
REPLACEMENT_GAP_S = 2.0   # prefork replaces an exited child 1-2 s after its exit (bench.tune.prefork_sim)
DEFAULT_MAX_DURATION_S = 120.0
MIN_TRIALS = 2
MAX_ROUNDS = 2            # the first measurement, and one more with a larger N
LIFE_MARGIN = 1.5         # a life counts as observable in a trial only when 1.5 of them fit


def neighbours(n: int, grid: list[int] = tune_model.GRID) -> list[int]:
    """The candidates on each side of n on the model's grid."""
    below = [g for g in grid if g < n]
    above = [g for g in grid if g > n]
    return ([below[-1]] if below else []) + ([above[0]] if above else [])


def values_to_confirm(model: tune_model.Model, n: int, predicted_loss: float, max_loss: float,
                      budget_mb: float | None, scope: str) -> list[int]:
    """n, and its grid neighbours that fit the memory budget when the predicted loss is within half of
    --max-loss of the limit (there the measurement may well fall on the other side)."""
    values = [n]
    if abs(predicted_loss - max_loss) <= max_loss / 2:
        values += [v for v in neighbours(n) if tune_model.fits_budget(model.rss_end_mb(v), budget_mb, scope,
                                                                        model.processes)]
    return sorted(values)


def trial_duration(values: list[int], requests_per_connection: float, per_process_rps: float, warmup_s: float,
                   floor_s: float, cap_s: float) -> tuple[float, float, bool]:
    """(seconds per trial, seconds needed, capped): the warm-up plus LIVES lives of a child at the largest
    value (requests per child / requests per second per process, plus prefork's replacement gap)."""
    life = life_s(max(values), requests_per_connection, per_process_rps)
    needed = max(floor_s, warmup_s + LIVES * life)
    needed = math.ceil(needed)
    return (min(needed, cap_s), needed, needed > cap_s)


def life_s(value: int, requests_per_connection: float, per_process_rps: float) -> float:
    """How long one child lives at `value` (its requests / requests per second per process), plus prefork's
    replacement gap."""
    return value * requests_per_connection / max(per_process_rps, 1e-9) + REPLACEMENT_GAP_S


def observable(value: int, requests_per_connection: float, per_process_rps: float, warmup_s: float,
               cap_s: float) -> bool:
    """Whether a trial capped at cap_s can replace a child at `value` at all: one life after the warm-up,
    with LIFE_MARGIN to spare (a confirmation trial ran at 0.7x the sweep's rate here, and a life that only
    just fits replaces no child inside the window)."""
    return warmup_s + LIFE_MARGIN * life_s(value, requests_per_connection, per_process_rps) <= cap_s


def bounding_value(n: int, requests_per_connection: float, per_process_rps: float, warmup_s: float,
                   cap_s: float, grid: list[int] = tune_model.GRID) -> int | None:
    """The largest grid value below n whose LIVES lives fit a trial of cap_s: its measured loss bounds n's."""
    fits = [g for g in grid if 0 < g < n
            and warmup_s + LIVES * life_s(g, requests_per_connection, per_process_rps) <= cap_s]
    return fits[-1] if fits else None


def prediction_interval(predicted_loss: float, model_error: float | None, max_loss: float) -> list[float]:
    """The predicted loss +- the model's out-of-sample error (a relative error of throughput is about the
    same number of percentage points of loss); +- half the limit when the model was not checked out of
    sample."""
    half = model_error if model_error is not None else max_loss / 2
    return [round(predicted_loss - half, 4), round(predicted_loss + half, 4)]


def measured_loss(base: Sequence[float | None],
                  at_n: Sequence[float | None]) -> tuple[float | None, list[float] | None]:
    """1 - median(N) / median(0) and its 95% interval."""
    from bench.record import stats  # scipy: loaded by a sweep, not by every `bench` start

    r = stats.ratio_ci(base, at_n)
    if r is None:
        return None, None
    ci = None if r.ci is None else [round(1 - r.ci[1], 4), round(1 - r.ci[0], 4)]
    return round(1 - r.ratio, 4), ci


def larger_n(n: int, loss: float, max_loss: float, grid: list[int] = tune_model.GRID) -> int | None:
    """The next N to try when N lost too much: the loss of recycling falls about as 1 / N (each exit costs
    about the same), so scale N by measured / limit, then round up to the grid; None above the grid."""
    want = n * max(loss / max_loss, 1.0) * 1.2
    return next((g for g in grid if g > n and g >= want), None)


def result(value: int, base: Sequence[float | None], at_n: Sequence[float | None], predicted: float | None,
           interval: list[float] | None, max_loss: float, rss: float | None, pss: float | None,
           budget_mb: float | None, scope: str, processes: int, round_no: int,
           observed: bool = True) -> ConfirmResult:
    """One confirmed value: measured against predicted, and whether it meets each limit. observed: some
    trial at this value replaced a child (otherwise its loss is noise, not recycling, and meets nothing)."""
    loss, ci = measured_loss(base, at_n)
    return ConfirmResult.new(
        value=value, round=round_no, trials=len(at_n), base_trials=len(base), observed=observed,
        measured_loss=loss, loss_ci95=None if ci is None else tuple(ci), predicted_loss=predicted,
        prediction_interval=None if interval is None else tuple(interval),
        within_prediction=None if loss is None or interval is None else interval[0] <= loss <= interval[1],
        meets_loss=observed and loss is not None and loss <= max_loss,
        meets_memory=tune_model.fits_budget(rss, budget_mb, scope, processes) if budget_mb is not None else True,
        rss_mb_end_of_life=rss, pss_mb_end_of_life=pss)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def describe(r: ConfirmResult) -> str:
    """`N = 5000: measured loss 11.8% (95% CI 9.0-14.1%), predicted 2.8% (2.0-3.6%)`."""
    ci = r.loss_ci95
    text = f"N = {r.value}: measured loss {_pct(r.measured_loss)}"
    text += f" (95% CI {_pct(ci[0])} to {_pct(ci[1])})" if ci else " (no interval)"
    if r.predicted_loss is not None:
        text += f", predicted {_pct(r.predicted_loss)}"
        if r.prediction_interval:
            lo, hi = r.prediction_interval
            text += f" ({_pct(lo)} to {_pct(hi)})"
    return text


@dataclass(frozen=True)
class ConfirmVerdict:
    """What the measurements say: the value to recommend (None: unconfirmed), its status, one plain sentence,
    and the result it stands on."""

    value: int | None
    status: ConfirmStatus
    sentence: str
    result: ConfirmResult


def verdict(model_n: int, results: list[ConfirmResult], max_loss: float,
            memory_blocks_larger: bool = False) -> ConfirmVerdict:
    """What the measurements say: the value to recommend (measured), its status and one plain sentence.

    status: confirmed (the model's value met both limits, as predicted or not), smaller / larger (another
    measured value did and is recommended), memory wins (no measured value meets both: the one memory
    allows, with its measured loss), over the limit (no measured value met the loss limit, memory set no
    bound). `memory_blocks_larger`: a larger N than those measured would not fit the memory budget."""
    by_value = {r.n: r for r in results}
    first = by_value[model_n]
    if first.observed is False:
        return ConfirmVerdict(None, ConfirmStatus.NOT_OBSERVED, f"No trial at N = {model_n} replaced a child (a life "
                       f"outlasted the trial), so its {_pct(first.measured_loss)} against N = 0 is noise, not "
                       f"recycling: N = {model_n} is the model's value, UNCONFIRMED.", first)
    good = sorted(v for v, r in by_value.items() if r.meets_loss and r.meets_memory)
    parts = _misses(model_n, first, max_loss)
    if good:
        value = good[0]
        status = (ConfirmStatus.CONFIRMED if value == model_n else
                  ConfirmStatus.SMALLER if value < model_n else ConfirmStatus.LARGER)
        if value != model_n:
            parts.append(f"N = {value} was measured to meet both limits "
                         f"({_pct(by_value[value].measured_loss)} loss): it is the recommendation.")
        elif not parts:
            parts.append(f"Confirmed: N = {model_n} lost {_pct(first.measured_loss)} as measured, within the "
                         "prediction's interval and the limits.")
        return ConfirmVerdict(value, status, " ".join(parts), by_value[value])
    fitting = sorted(v for v, r in by_value.items() if r.meets_memory)
    if fitting and memory_blocks_larger:
        value = fitting[-1]
        parts.append(f"No value meets both limits: memory wins, expect {_pct(by_value[value].measured_loss)} "
                     f"loss at N = {value}.")
        return ConfirmVerdict(value, ConfirmStatus.MEMORY_WINS, " ".join(parts), by_value[value])
    pool = fitting or list(by_value)
    value = min(pool, key=lambda v: m if (m := by_value[v].measured_loss) is not None else math.inf)
    parts.append(f"No measured value met the {_pct(max_loss)} loss limit: the least loss was "
                 f"{_pct(by_value[value].measured_loss)} at N = {value}.")
    return ConfirmVerdict(value, ConfirmStatus.OVER_THE_LIMIT, " ".join(parts), by_value[value])


def _misses(model_n: int, first: ConfirmResult, max_loss: float) -> list[str]:
    """How the model's value missed its prediction, the loss limit or the memory budget."""
    parts = []
    miss = first.within_prediction is False
    if miss or not first.meets_loss:
        why = []
        if miss:
            why.append("outside the prediction's interval")
        if not first.meets_loss:
            why.append(f"over the {_pct(max_loss)} limit")
        parts.append(f"The measured loss at N = {model_n} was {_pct(first.measured_loss)}, "
                     + " and ".join(why) + f" (predicted {_pct(first.predicted_loss)}).")
    if not first.meets_memory:
        parts.append(f"At N = {model_n} a child ended near {first.rss_mb_end_of_life or 0:.0f} MB RSS, over the "
                     "memory budget.")
    return parts


def bound_verdict(model_n: int, bound: ConfirmResult, max_loss: float, needed_s: float) -> ConfirmVerdict:
    """The verdict when N's lives outlast the cap and the largest value whose lives fit was measured instead:
    its loss bounds N's when it met the limit; otherwise N stays the model's value, unconfirmed."""
    m = bound.value
    if bound.observed is not False and bound.meets_loss:
        return ConfirmVerdict(model_n, ConfirmStatus.BOUNDED,
                       f"A child lives too long at N = {model_n} to be replaced within a trial, so N = {m} "
                       f"(the largest value whose lives fit) was measured instead: "
                       f"{_pct(bound.measured_loss)} loss. Recycling less often costs no more, so "
                       f"N = {model_n} loses at most that (predicted {_pct(bound.bounds_predicted)}).", bound)
    why = ("replaced no child either" if bound.observed is False
           else f"lost {_pct(bound.measured_loss)}, over the {_pct(max_loss)} limit, so it bounds nothing")
    return ConfirmVerdict(None, ConfirmStatus.NOT_OBSERVABLE,
                   f"A child lives too long at N = {model_n} to be replaced within a trial, and N = {m} {why}: "
                   f"N = {model_n} is the model's value, UNCONFIRMED (predicted "
                   f"{_pct(bound.bounds_predicted)}). To measure it, run with "
                   f"--confirm-max-duration {needed_s:g}.", bound)


Measure = Callable[[int, float, str], PointTrial]  # (value, seconds, folder) -> the trial on a fresh Apache


@dataclass(frozen=True)
class Limits:
    """What the confirmation measures against: the limits of the sweep and how long its trials may be."""

    max_loss: float
    budget_mb: float | None
    scope: str
    processes: int
    warmup_s: float
    floor_s: float   # a confirmation trial is never shorter than a sweep point
    cap_s: float     # --confirm-max-duration
    trials: int


class _Confirming:
    """The confirmation under way: rewritten into tune.json after every trial, so an interrupted one keeps what
    it measured."""

    def __init__(self, record: TuneRecord, conf: Confirmation):
        self.record, self.conf = record, conf
        self.write()

    def set(self, **changes: Any) -> None:
        self.conf = self.conf.having(**changes)
        self.write()

    def add_trial(self, trial: PointTrial) -> None:
        last = self.conf.rounds[-1]
        self.set(rounds=(*self.conf.rounds[:-1], last.having(trials=(*last.trials, trial))))

    def write(self) -> None:
        self.record.update(confirmation=self.conf)


def run(measure: Measure, record: TuneRecord, mode: str, conclusion: ModeConclusion, limits: Limits,
        log: Callable[[str], None] = print) -> Confirmation:
    """Measure the recommendation of `mode` against N = 0; returns tune.json's "confirmation" (also written
    into `record` after every trial). `measure(value, duration_s, rel)` runs one trial on a fresh Apache."""
    assert conclusion.model is not None and conclusion.recommended is not None
    model = tune_model.Model.of(conclusion.model, limits.processes)
    model_n = conclusion.recommended.value or 0
    trials = max(limits.trials, MIN_TRIALS)
    k, rate = model.requests_per_connection, model.per_process_rps
    step = _Confirming(record, Confirmation.new(
        status=ConfirmStatus.INCOMPLETE, mode=mode, model_value=model_n, cap_s=limits.cap_s,
        trials_per_value=trials, lives=LIVES, rounds=(), results=(), life_s=round(life_s(model_n, k, rate), 1)))
    values = values_to_confirm(model, model_n, model.loss(model_n), limits.max_loss, limits.budget_mb, limits.scope)
    bound: int | None = None
    if model_n > 0 and not observable(model_n, k, rate, limits.warmup_s, limits.cap_s):
        bound = _bound(step, model, model_n, limits, log)
        if bound is None:
            return step.conf
        values = [bound]
    v, blocked, round_no = _rounds(step, measure, model, model_n, values, bound, limits, trials, mode,
                                   conclusion.oos_error, log)
    step.set(status=v.status, value=v.value, sentence=v.sentence, measured_loss=v.result.measured_loss,
             loss_ci95=v.result.loss_ci95, measured_at=v.result.value,
             # Bounded: the memory measured belongs to the smaller value, not to N (N's stays predicted).
             rss_mb_end_of_life=None if bound is not None else v.result.rss_mb_end_of_life,
             pss_mb_end_of_life=None if bound is not None else v.result.pss_mb_end_of_life,
             capped=any(r.capped for r in step.conf.rounds))
    if v.status == ConfirmStatus.OVER_THE_LIMIT and not blocked and round_no == MAX_ROUNDS:
        step.set(sentence=f"{step.conf.sentence} The confirmation stops after one more round: measure larger "
                          "values with --values.")
    return step.conf


def _bound(step: _Confirming, model: tune_model.Model, model_n: int, limits: Limits,
           log: Callable[[str], None]) -> int | None:
    """N's lives outlast a capped trial: the smaller value whose loss bounds N's, or None (the confirmation
    then ends: not observable, with the --confirm-max-duration that would measure N)."""
    k, rate, cap_s = model.requests_per_connection, model.per_process_rps, limits.cap_s
    needed = trial_duration([model_n], k, rate, limits.warmup_s, limits.floor_s, math.inf)[1]
    bound = bounding_value(model_n, k, rate, limits.warmup_s, cap_s)
    # A bound the model already expects over the limit would bound nothing: not worth its trials.
    hopeless = bound is not None and model.loss(bound) > limits.max_loss
    step.set(observable=False, needed_s=needed, bound_value=None if hopeless else bound)
    life = f"A child lives about {life_s(model_n, k, rate):,.0f} s at N = {model_n}"
    over = (f"N = {bound}, the largest value whose lives fit, is predicted to lose {_pct(model.loss(bound))}, "
            "over the limit, so it would bound nothing") if bound is not None else ""
    log(f"confirmation: {life.lower()[0]}{life[1:]} ({k:g} requests per connection at {rate:,.0f} req/s per "
        f"process), longer than a {cap_s:g} s trial (--confirm-max-duration): recycling there cannot be observed"
        + ("; nothing smaller fits either" if bound is None else f"; {over}" if hopeless else
           f"; measuring N = {bound} instead, whose loss bounds it"))
    if bound is not None and not hopeless:
        return bound
    why = "no smaller value's lives fit either" if bound is None else over
    step.set(status=ConfirmStatus.NOT_OBSERVABLE, value=None, measured_loss=None, loss_ci95=None, capped=True,
             sentence=f"{life}, longer than a {cap_s:g} s trial, and {why}: N = {model_n} is the model's value, "
                      f"UNCONFIRMED (predicted {_pct(model.loss(model_n))}). To measure it, run with "
                      f"--confirm-max-duration {needed:g}.")
    return None


def _rounds(step: _Confirming, measure: Measure, model: tune_model.Model, model_n: int, values: list[int],
            bound: int | None, limits: Limits, trials: int, mode: str, oos_error: float | None,
            log: Callable[[str], None]) -> tuple[ConfirmVerdict, bool, int]:
    """The rounds of interleaved trials, each followed by its verdict: (the last verdict, whether a larger N
    was out of reach, the last round)."""
    k, rate = model.requests_per_connection, model.per_process_rps
    seqs = iter(range(1, 10**6))
    for round_no in range(1, MAX_ROUNDS + 1):
        duration, needed, capped = trial_duration(values, k, rate, limits.warmup_s, limits.floor_s, limits.cap_s)
        step.set(rounds=(*step.conf.rounds, ConfirmRound.new(round=round_no, values=(0, *values), duration_s=duration,
                                                             needed_s=needed, capped=capped, trials=())))
        if capped:
            log(f"confirmation: {LIVES} lives at N = {max(values)} need {needed:g} s per trial; capped at "
                f"{limits.cap_s:g} s (--confirm-max-duration): fewer lives per trial")
        for t in range(1, trials + 1):
            for v in [0, *values]:  # interleaved: 0, N, 0, N ... so drift hits both alike
                seq = next(seqs)
                log(f"[confirm {seq}] MaxConnectionsPerChild {v}, KeepAlive {mode}, trial {t}: {duration:g} s")
                trial = measure(v, duration, f"confirm/{seq:03d}-ka{mode}-n{v}")
                trial = trial.having(value=v, trial=t if trial.trial is None else trial.trial)
                step.add_trial(trial)
                log(f"    {trial.rps or 0:,.0f} req/s, {trial.children_spawned_per_s or 0:.1f} children/s")
        step.set(results=(*step.conf.results, *_results(step.conf.rounds, model, model_n, values, bound, limits,
                                                         oos_error, round_no)))
        latest = {r.n: r for r in step.conf.results}  # a value measured again: its latest round
        if bound is not None:
            return bound_verdict(model_n, latest[bound], limits.max_loss, step.conf.needed_s or 0.0), True, round_no
        biggest = max(latest)
        nxt = larger_n(biggest, latest[biggest].measured_loss or 0.0, limits.max_loss)
        # A larger N that cannot be observed within the cap is not worth a round: it would measure noise.
        # Only memory blocks a larger N for good ("memory wins"); one whose lives outlast the cap is the value
        # to recommend, unconfirmed, when the model says it meets the limit (never the value measured over it).
        memory_blocked = nxt is not None and not tune_model.fits_budget(model.rss_end_mb(nxt), limits.budget_mb,
                                                                        limits.scope, limits.processes)
        unobservable = nxt is not None and not observable(nxt, k, rate, limits.warmup_s, limits.cap_s)
        blocked = nxt is None or memory_blocked or unobservable
        said = verdict(model_n, list(latest.values()), limits.max_loss, memory_blocks_larger=memory_blocked)
        if said.status == ConfirmStatus.OVER_THE_LIMIT and unobservable and not memory_blocked and nxt is not None:
            said = _larger_unobservable(said, model, nxt, limits)
            step.set(needed_s=trial_duration([nxt], k, rate, limits.warmup_s, limits.floor_s, math.inf)[1])
        if said.status != ConfirmStatus.OVER_THE_LIMIT or blocked or nxt is None or round_no == MAX_ROUNDS:
            return said, blocked, round_no
        log(f"confirmation: {said.sentence} Measuring N = {nxt} (one more round).")
        values = [nxt]
    raise AssertionError("unreachable: the last round returns")


def _larger_unobservable(said: ConfirmVerdict, model: tune_model.Model, nxt: int, limits: Limits) -> ConfirmVerdict:
    """The measured values were over the limit and the next larger N's lives outlast a capped trial: that N
    when the model says it meets the limit (unconfirmed, with the trial length that would measure it)."""
    k, rate = model.requests_per_connection, model.per_process_rps
    loss = model.loss(nxt)
    needed = trial_duration([nxt], k, rate, limits.warmup_s, limits.floor_s, math.inf)[1]
    if loss > limits.max_loss:
        return said
    return ConfirmVerdict(nxt, ConfirmStatus.NOT_OBSERVABLE,
                   f"{said.sentence} N = {nxt} is predicted to lose {_pct(loss)}, within the limit, but a child lives "
                   f"about {life_s(nxt, k, rate):,.0f} s there, longer than a {limits.cap_s:g} s trial: N = {nxt} is "
                   f"recommended UNCONFIRMED (to measure it, run with --confirm-max-duration {needed:g}).", said.result)


def _results(rounds: tuple[ConfirmRound, ...], model: tune_model.Model, model_n: int, values: list[int],
             bound: int | None, limits: Limits, oos_error: float | None, round_no: int) -> list[ConfirmResult]:
    """Each value of this round against N = 0, over every trial measured so far (all rounds)."""
    from bench.record import stats  # scipy: loaded by a sweep, not by every `bench` start

    trials = [t for r in rounds for t in r.trials]
    base_rps = [t.rps for t in trials if t.value == 0]
    out = []
    for v in values:
        rows = [t for t in trials if t.value == v]
        predicted = round(model.loss(v), 4)
        r = result(v, base_rps, [x.rps for x in rows], predicted,
                   prediction_interval(predicted, oos_error, limits.max_loss), limits.max_loss,
                   stats.median([x.rss_mb_end_of_life for x in rows], 2),
                   stats.median([x.pss_mb_end_of_life for x in rows], 2),
                   limits.budget_mb, limits.scope, limits.processes, round_no,
                   observed=any(x.children_spawned_per_s for x in rows))
        if bound is not None:
            r = r.having(bounds=model_n, bounds_predicted=round(model.loss(model_n), 4))
        out.append(r)
    return out
