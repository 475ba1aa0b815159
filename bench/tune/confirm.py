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
from typing import Any

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


def measured_loss(base: list[float], at_n: list[float]) -> tuple[float | None, list[float] | None]:
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


def result(value: int, base: list[float], at_n: list[float], predicted: float | None,
           interval: list[float] | None, max_loss: float, rss: float | None, pss: float | None,
           budget_mb: float | None, scope: str, processes: int, round_no: int,
           observed: bool = True) -> dict[str, Any]:
    """One confirmed value: measured against predicted, and whether it meets each limit. observed: some
    trial at this value replaced a child (otherwise its loss is noise, not recycling, and meets nothing)."""
    loss, ci = measured_loss(base, at_n)
    return {
        "value": value, "round": round_no, "trials": len(at_n), "base_trials": len(base), "observed": observed,
        "measured_loss": loss, "loss_ci95": ci, "predicted_loss": predicted, "prediction_interval": interval,
        "within_prediction": None if loss is None or interval is None else interval[0] <= loss <= interval[1],
        "meets_loss": observed and loss is not None and loss <= max_loss,
        "meets_memory": tune_model.fits_budget(rss, budget_mb, scope, processes) if budget_mb is not None else True,
        "rss_mb_end_of_life": rss, "pss_mb_end_of_life": pss,
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def describe(r: dict[str, Any]) -> str:
    """`N = 5000: measured loss 11.8% (95% CI 9.0-14.1%), predicted 2.8% (2.0-3.6%)`."""
    ci = r.get("loss_ci95")
    text = f"N = {r['value']}: measured loss {_pct(r['measured_loss'])}"
    text += f" (95% CI {_pct(ci[0])} to {_pct(ci[1])})" if ci else " (no interval)"
    if r.get("predicted_loss") is not None:
        text += f", predicted {_pct(r['predicted_loss'])}"
        if r.get("prediction_interval"):
            lo, hi = r["prediction_interval"]
            text += f" ({_pct(lo)} to {_pct(hi)})"
    return text


def verdict(model_n: int, results: list[dict[str, Any]], max_loss: float,
            memory_blocks_larger: bool = False) -> dict[str, Any]:
    """What the measurements say: the value to recommend (measured), its status and one plain sentence.

    status: confirmed (the model's value met both limits, as predicted or not), smaller / larger (another
    measured value did and is recommended), memory wins (no measured value meets both: the one memory
    allows, with its measured loss), over the limit (no measured value met the loss limit, memory set no
    bound). `memory_blocks_larger`: a larger N than those measured would not fit the memory budget."""
    by_value = {r["value"]: r for r in results}
    first = by_value[model_n]
    if first.get("observed") is False:
        return {"value": None, "status": "not observed", "result": first,
                "sentence": f"No trial at N = {model_n} replaced a child (a life outlasted the trial), so its "
                            f"{_pct(first['measured_loss'])} against N = 0 is noise, not recycling: N = {model_n} "
                            "is the model's value, UNCONFIRMED."}
    good = sorted(v for v, r in by_value.items() if r["meets_loss"] and r["meets_memory"])
    miss = first["within_prediction"] is False
    parts = []
    if miss or not first["meets_loss"]:
        why = []
        if miss:
            why.append("outside the prediction's interval")
        if not first["meets_loss"]:
            why.append(f"over the {_pct(max_loss)} limit")
        parts.append(f"The measured loss at N = {model_n} was {_pct(first['measured_loss'])}, "
                     + " and ".join(why) + f" (predicted {_pct(first['predicted_loss'])}).")
    if not first["meets_memory"]:
        parts.append(f"At N = {model_n} a child ended near {first['rss_mb_end_of_life'] or 0:.0f} MB RSS, over the "
                     "memory budget.")
    if good:
        value = good[0]
        status = "confirmed" if value == model_n else ("smaller" if value < model_n else "larger")
        if value != model_n:
            parts.append(f"N = {value} was measured to meet both limits "
                         f"({_pct(by_value[value]['measured_loss'])} loss): it is the recommendation.")
        elif not parts:
            parts.append(f"Confirmed: N = {model_n} lost {_pct(first['measured_loss'])} as measured, within the "
                         "prediction's interval and the limits.")
    else:
        fitting = sorted(v for v, r in by_value.items() if r["meets_memory"])
        if fitting and memory_blocks_larger:
            value, status = fitting[-1], "memory wins"
            parts.append(f"No value meets both limits: memory wins, expect {_pct(by_value[value]['measured_loss'])} "
                         f"loss at N = {value}.")
        else:
            pool = fitting or list(by_value)
            value = min(pool, key=lambda v: by_value[v]["measured_loss"] if by_value[v]["measured_loss"] is not None
                        else math.inf)
            status = "over the limit"
            parts.append(f"No measured value met the {_pct(max_loss)} loss limit: the least loss was "
                         f"{_pct(by_value[value]['measured_loss'])} at N = {value}.")
    return {"value": value, "status": status, "sentence": " ".join(parts), "result": by_value[value]}


def bound_verdict(model_n: int, bound: dict[str, Any], max_loss: float, needed_s: float) -> dict[str, Any]:
    """The verdict when N's lives outlast the cap and the largest value whose lives fit was measured instead:
    its loss bounds N's when it met the limit; otherwise N stays the model's value, unconfirmed."""
    m = bound["value"]
    if bound.get("observed") is not False and bound["meets_loss"]:
        return {"value": model_n, "status": "bounded", "result": bound,
                "sentence": f"A child lives too long at N = {model_n} to be replaced within a trial, so N = {m} "
                            f"(the largest value whose lives fit) was measured instead: "
                            f"{_pct(bound['measured_loss'])} loss. Recycling less often costs no more, so "
                            f"N = {model_n} loses at most that (predicted {_pct(bound.get('bounds_predicted'))})."}
    why = ("replaced no child either" if bound.get("observed") is False
           else f"lost {_pct(bound['measured_loss'])}, over the {_pct(max_loss)} limit, so it bounds nothing")
    return {"value": None, "status": "not observable", "result": bound,
            "sentence": f"A child lives too long at N = {model_n} to be replaced within a trial, and N = {m} {why}: "
                        f"N = {model_n} is the model's value, UNCONFIRMED (predicted "
                        f"{_pct(bound.get('bounds_predicted'))}). To measure it, run with "
                        f"--confirm-max-duration {needed_s:g}."}


def run(measure, record, mode: str, conclusion: dict[str, Any], *, max_loss: float, budget_mb: float | None,
        scope: str, processes: int, warmup_s: float, floor_s: float, cap_s: float, trials: int,
        log=print) -> dict[str, Any]:
    """Measure the recommendation of `mode` (tune.json modes[mode]) against N = 0; returns tune.json's
    "confirmation". `measure(value, duration_s, rel)` runs one trial on a fresh Apache and returns its
    point-trial dict (rps, rss_mb_end_of_life, ...); `record` (bench.record.tune.TuneRecord) is rewritten
    after every trial, so an interrupted confirmation keeps what it measured."""
    from bench.record import stats  # scipy: loaded by a sweep, not by every `bench` start

    m = conclusion["model"]
    model = tune_model.Model(r0=m["r0"], child_max_rps=m["child_max_rps"], child_cost_s=m["child_cost_ms"] / 1000,
                             requests_per_connection=m["requests_per_connection"], fresh_rss_mb=m["fresh_rss_mb"],
                             growth_kb_per_request=m["growth_kb_per_request"], processes=processes,
                             slot_rps=m.get("slot_rps"))
    model_n = conclusion["recommendation"]["value"]
    oos_error = (conclusion.get("out_of_sample") or {}).get("max_error")
    trials = max(trials, MIN_TRIALS)
    k, rate = model.requests_per_connection, model.per_process_rps
    conf: dict[str, Any] = {"status": "incomplete", "mode": mode, "model_value": model_n, "cap_s": cap_s,
                            "trials_per_value": trials, "lives": LIVES, "rounds": [], "results": [],
                            "life_s": round(life_s(model_n, k, rate), 1)}
    record.data["confirmation"] = conf
    measured: dict[int, list[dict]] = {}
    base: list[dict] = []
    values = values_to_confirm(model, model_n, model.loss(model_n), max_loss, budget_mb, scope)
    bound: int | None = None
    if model_n > 0 and not observable(model_n, k, rate, warmup_s, cap_s):
        needed = trial_duration([model_n], k, rate, warmup_s, floor_s, math.inf)[1]
        bound = bounding_value(model_n, k, rate, warmup_s, cap_s)
        # A bound the model already expects over the limit would bound nothing: not worth its trials.
        hopeless = bound is not None and model.loss(bound) > max_loss
        conf.update(observable=False, needed_s=needed, bound_value=None if hopeless else bound)
        life = f"A child lives about {life_s(model_n, k, rate):,.0f} s at N = {model_n}"
        log(f"confirmation: {life.lower()[0]}{life[1:]} ({k:g} requests per connection at {rate:,.0f} req/s per "
            f"process), longer than a {cap_s:g} s trial (--confirm-max-duration): recycling there cannot be observed"
            + ("; nothing smaller fits either" if bound is None else
               f"; N = {bound}, the largest value whose lives fit, is predicted to lose {_pct(model.loss(bound))}, "
               "over the limit, so it would bound nothing" if hopeless else
               f"; measuring N = {bound} instead, whose loss bounds it"))
        if bound is None or hopeless:
            why = ("no smaller value's lives fit either" if bound is None else
                   f"N = {bound}, the largest value whose lives fit, is predicted to lose "
                   f"{_pct(model.loss(bound))}, over the limit, so it would bound nothing")
            conf.update(status="not observable", value=None, measured_loss=None, loss_ci95=None, capped=True,
                        sentence=f"{life}, longer than a {cap_s:g} s trial, and {why}: N = "
                                 f"{model_n} is the model's value, UNCONFIRMED (predicted "
                                 f"{_pct(model.loss(model_n))}). To measure it, run with "
                                 f"--confirm-max-duration {needed:g}.")
            record.write()
            return conf
        values = [bound]
    seq = 0
    for round_no in range(1, MAX_ROUNDS + 1):
        duration, needed, capped = trial_duration(values, k, rate, warmup_s, floor_s, cap_s)
        rnd = {"round": round_no, "values": [0, *values], "duration_s": duration, "needed_s": needed,
               "capped": capped, "trials": []}
        conf["rounds"].append(rnd)
        if capped:
            log(f"confirmation: {LIVES} lives at N = {max(values)} need {needed:g} s per trial; capped at "
                f"{cap_s:g} s (--confirm-max-duration): fewer lives per trial")
        for t in range(1, trials + 1):
            for v in [0, *values]:  # interleaved: 0, N, 0, N ... so drift hits both alike
                seq += 1
                log(f"[confirm {seq}] MaxConnectionsPerChild {v}, KeepAlive {mode}, trial {t}: {duration:g} s")
                trial = measure(v, duration, f"confirm/{seq:03d}-ka{mode}-n{v}")
                trial = {"value": v, "trial": t, **trial}
                rnd["trials"].append(trial)
                (base if v == 0 else measured.setdefault(v, [])).append(trial)
                record.write()
                log(f"    {trial.get('rps') or 0:,.0f} req/s, "
                    f"{trial.get('children_spawned_per_s') or 0:.1f} children/s")
        base_rps = [x["rps"] for x in base]
        for v in values:
            rows = measured[v]
            predicted = round(model.loss(v), 4)
            r = result(v, base_rps, [x["rps"] for x in rows], predicted,
                       prediction_interval(predicted, oos_error, max_loss), max_loss,
                       stats.median([x.get("rss_mb_end_of_life") for x in rows], 2),
                       stats.median([x.get("pss_mb_end_of_life") for x in rows], 2),
                       budget_mb, scope, processes, round_no,
                       observed=any(x.get("children_spawned_per_s") for x in rows))
            if bound is not None:
                r["bounds"], r["bounds_predicted"] = model_n, round(model.loss(model_n), 4)
            conf["results"].append(r)
        record.write()
        latest = {r["value"]: r for r in conf["results"]}  # a value measured again: its latest round
        if bound is not None:
            v = bound_verdict(model_n, latest[bound], max_loss, conf["needed_s"])
            blocked = True
            break
        biggest = max(latest)
        nxt = larger_n(biggest, latest[biggest]["measured_loss"] or 0.0, max_loss)
        # A larger N that cannot be observed within the cap is not worth a round: it would measure noise.
        blocked = (nxt is None or not tune_model.fits_budget(model.rss_end_mb(nxt), budget_mb, scope, processes)
                   or not observable(nxt, k, rate, warmup_s, cap_s))
        v = verdict(model_n, list(latest.values()), max_loss, memory_blocks_larger=blocked)
        if v["status"] != "over the limit" or blocked or round_no == MAX_ROUNDS:
            break
        log(f"confirmation: {v['sentence']} Measuring N = {nxt} (one more round).")
        values = [nxt]
    conf.update(status=v["status"], value=v["value"], sentence=v["sentence"],
                measured_loss=v["result"]["measured_loss"], loss_ci95=v["result"]["loss_ci95"],
                measured_at=v["result"]["value"],
                # Bounded: the memory measured belongs to the smaller value, not to N (N's stays predicted).
                rss_mb_end_of_life=None if bound is not None else v["result"]["rss_mb_end_of_life"],
                pss_mb_end_of_life=None if bound is not None else v["result"]["pss_mb_end_of_life"],
                capped=any(r["capped"] for r in conf["rounds"]))
    if v["status"] == "over the limit" and not blocked and round_no == MAX_ROUNDS:
        conf["sentence"] += " The confirmation stops after one more round: measure larger values with --values."
    record.write()
    return conf
