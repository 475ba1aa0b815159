"""bench.tune.confirm (which values, how long, the verdict), the leave-one-out check and the slot rate,
without servers; and an old tune.json still loads with its confirmation marked as never run."""

from types import SimpleNamespace

import pytest

from bench.record.tune import SCHEMA, _upgrade_2
from bench.record.tune_conclusions import Confirmation, ModeConclusion
from bench.record.tune_points import Point, PointTrial
from bench.tune import confirm
from bench.tune import model as tune_model
from bench.tune import recycling as tune


def model(**kw):
    base = dict(r0=1600.0, child_max_rps=1000.0, child_cost_s=0.1, requests_per_connection=1.0,
                fresh_rss_mb=30.0, growth_kb_per_request=2.0, processes=4)
    return tune_model.Model(**(base | kw))


def test_trial_duration_covers_three_lives_and_is_capped():
    # N = 5000 at 400 req/s per process: a life is 12.5 s + 2 s for the replacement; 3 lives + 4 s warm-up.
    assert confirm.trial_duration([5000], 1.0, 400.0, 4.0, 8.0, 120.0) == (48, 48, False)
    seconds, needed, capped = confirm.trial_duration([20000], 1.0, 400.0, 4.0, 8.0, 120.0)
    assert (seconds, capped) == (120.0, True) and needed == 4 + 3 * 52
    # Never shorter than a sweep point.
    assert confirm.trial_duration([1], 1.0, 400.0, 1.0, 8.0, 120.0)[0] == 8.0


def test_neighbours_only_near_the_limit_and_within_memory():
    m = model()
    assert confirm.values_to_confirm(m, 1000, 0.03, 0.01, None, "child") == [1000]
    assert confirm.values_to_confirm(m, 1000, 0.012, 0.01, None, "child") == [500, 1000, 2000]
    # 2000 requests x 2 KB = 34 MB at the end of a life: over a 33 MB budget, so not measured.
    assert confirm.values_to_confirm(m, 1000, 0.009, 0.01, 33.0, "child") == [500, 1000]


def result(value, base, at_n, predicted, budget=None, rss=40.0):
    interval = confirm.prediction_interval(predicted, 0.01, 0.01)
    return confirm.result(value, base, at_n, predicted, interval, 0.01, rss, 35.0, budget, "child", 4, 1)


def test_measured_loss_has_an_interval_and_is_compared_with_the_prediction():
    r = result(5000, [1548.0, 1426.0], [1303.0, 1296.0], 0.0279)
    assert r.measured_loss == pytest.approx(1 - 1299.5 / 1487.0, abs=1e-3)
    lo, hi = r.loss_ci95
    assert lo <= r.measured_loss <= hi and hi - lo > 0.01
    assert r.prediction_interval == (0.0179, 0.0379) and r.within_prediction is False
    assert r.meets_loss is False and r.meets_memory is True


def test_verdict_confirmed_when_measured_meets_the_limits():
    v = confirm.verdict(1000, [result(1000, [1000.0, 1002.0], [998.0, 996.0], 0.004)], 0.01)
    assert v.status == "confirmed" and v.value == 1000 and v.sentence.startswith("Confirmed: N = 1000")


def test_verdict_memory_wins_says_what_to_expect():
    r = result(5000, [1548.0, 1426.0], [1303.0, 1296.0], 0.0279, budget=48.0, rss=42.0)
    v = confirm.verdict(5000, [r], 0.01, memory_blocks_larger=True)
    assert v.status == "memory wins" and v.value == 5000
    assert "outside the prediction's interval and over the 1.0% limit" in v.sentence
    assert "No value meets both limits: memory wins, expect 12.6% loss at N = 5000." in v.sentence


def test_verdict_takes_a_larger_measured_value():
    first = result(1000, [1000.0, 1000.0], [950.0, 948.0], 0.008)
    second = result(10000, [1000.0, 1000.0], [996.0, 995.0], 0.001)
    v = confirm.verdict(1000, [first, second], 0.01)
    assert v.status == "larger" and v.value == 10000
    assert "N = 10000 was measured to meet both limits" in v.sentence
    assert confirm.larger_n(1000, 0.05, 0.01) == 10000 and confirm.larger_n(10**6, 0.05, 0.01) is None


def _point(value, rps, slot=None, spawned=1.0):
    return Point.from_json({
        "keepalive": "off", "value": value, "rps": rps, "warmup_ms": 20.0, "startup_ms": 10.0,
        "children_spawned_per_s": spawned, "requests_per_connection": 1.0, "fresh_rss_mb": 30.0,
        "growth_kb_per_request": 0.0, "service_ms_mean": 1.0, "slot_rps": slot,
        "trials": [{"window_after_start": [2.0, 10.0], "rps": rps, "children_spawned_per_s": spawned}]})


def test_model_error_is_out_of_sample_only():
    base = _point(0, 1600.0, spawned=0.0)
    one = tune.conclude([base, _point(100, 900.0, 400.0)], 4, 0.01, None, "child").to_json()
    # One recycling point: nothing to hold out, said so, and no held-out error anywhere.
    assert one["out_of_sample"]["max_error"] is None
    assert one["out_of_sample"]["text"] == "not checked out of sample (fewer than 2 recycling points)"
    assert all(c["held_out_error"] is None for c in one["check"]) and one["fitted_to"] == [0, 100]
    two = tune.conclude([base, _point(100, 900.0, 400.0), _point(1000, 1500.0, 400.0)], 4, 0.01, None,
                        "child").to_json()
    held = {c["value"]: c for c in two["check"]}
    assert two["out_of_sample"]["method"] == "leave-one-out"
    assert two["out_of_sample"]["max_error"] == pytest.approx(max(held[100]["held_out_error"],
                                                                  held[1000]["held_out_error"]), abs=1e-4)
    assert held[0]["held_out_error"] is None


def test_an_in_sample_residual_does_not_overrule_the_model():
    # One recycling point (the model is fitted to it) and a point that replaced no child in its window: the
    # model is not judged (nothing out of sample), and a point without recycling is never a measured answer.
    points = [_point(0, 3566.0, spawned=0.0), _point(10, 1050.0, 400.0), _point(1000, 3540.0, 400.0, spawned=0.0)]
    c = tune.conclude(points, 4, 0.01, None, "child").to_json()
    assert c["model_ok"] is True and c["recommendation"]["source"] == "model"
    assert tune_model.recommend_measured(points, 3566.0, 0.01, None, "child", 4) is None


def test_measured_slot_rate_replaces_the_service_time_bound():
    # 1 / %D = 1000 req/s per child would let 3 children absorb all of 1600 req/s; measured, a child kept
    # serving its 400 while a slot was empty: the empty slot's share is lost.
    absorbing, bound = model(), model(slot_rps=400.0)
    assert bound.capacity_rps == 400.0 and absorbing.capacity_rps == 1000.0
    assert bound.loss(5000) > 2 * absorbing.loss(5000) and bound.loss(5000) > 0.08
    assert model(slot_rps=100.0).capacity_rps == 400.0  # never below its share R0 / processes


def test_slot_rates_from_the_access_log():
    e = SimpleNamespace
    # Two children at 100 req/s each for 4 s; the second exits at 2 s and its slot stays empty.
    a = [e(t=i / 100, micros=1000) for i in range(1, 400)]
    b = [e(t=i / 100, micros=1000) for i in range(1, 200)]
    short, full = tune.slot_rates({1: a, 2: b}, 0.0, 4.0, 2)
    assert short == pytest.approx(100, rel=0.05) and full == pytest.approx(100, rel=0.05)


def test_schema_2_is_upgraded_with_no_confirmation():
    old = {"schema": 2, "modes": {"on": {"model": {"r0": 1.0}, "check": []}}}
    new = _upgrade_2(old)
    assert new["schema"] == SCHEMA == 3 and new["confirmation"] == {"status": "none"}
    assert new["modes"]["on"]["out_of_sample"]["max_error"] is None


# --- recycling that a capped trial cannot observe (keep-alive on: a life lasts minutes) ---

class _Record:
    def __init__(self):
        self.confirmation, self.writes = None, 0

    def update(self, confirmation):
        self.confirmation, self.writes = confirmation, self.writes + 1


def _conclusion(n, k=100.0, r0=4000.0):
    return ModeConclusion.from_json({
        "model": {"r0": r0, "child_max_rps": 1000.0, "child_cost_ms": 100.0, "requests_per_connection": k,
                  "fresh_rss_mb": 30.0, "growth_kb_per_request": 0.0, "slot_rps": None},
            "recommendation": {"value": n}, "out_of_sample": {"max_error": 0.02}})


def _run(n, rps_at, spawned=0.5, cap=120.0, k=100.0, max_loss=0.01):
    """confirm.run with a measure function of plain numbers: rps_at(value, trial_no) per trial."""
    calls = []

    def measure(value, seconds, rel):
        calls.append((value, seconds))
        return PointTrial.new(rps=rps_at(value, len(calls)), children_spawned_per_s=spawned if value else 0.0,
                              rss_mb_end_of_life=40.0, pss_mb_end_of_life=30.0)

    limits = confirm.Limits(max_loss=max_loss, budget_mb=None, scope="child", processes=4, warmup_s=4.0, floor_s=8.0,
                            cap_s=cap, trials=2)
    record = _Record()
    conf = confirm.run(measure, record, "on", _conclusion(n, k), limits, log=lambda *_: None)
    assert record.confirmation == conf and record.writes > 0
    return conf, calls


def test_a_life_longer_than_the_cap_is_bounded_by_the_largest_value_that_fits():
    # 100 requests per connection at 1,000 req/s per process: a life at N = 5000 is 502 s, over 120 s.
    # 3 lives of N = 200 (3 x 22 s + 4 s) fit, N = 500 (3 x 52 s) does not: 200 is measured instead.
    # Each exit empties a slot for 1-2 s, so 200 is predicted to lose a few percent: a 10% limit.
    assert confirm.bounding_value(5000, 100.0, 1000.0, 4.0, 120.0) == 200
    conf, calls = _run(5000, lambda v, i: 1000.0 if v == 0 else 980.0, max_loss=0.1)
    assert sorted({v for v, _ in calls}) == [0, 200] and conf.observable is False
    assert conf.status == "bounded" and conf.value == 5000 and conf.measured_at == 200
    assert "N = 5000 loses at most" in conf.sentence and conf.rss_mb_end_of_life is None


def test_a_bound_over_the_limit_leaves_the_value_unconfirmed_with_the_cap_that_would_measure_it():
    conf, calls = _run(5000, lambda v, i: 1000.0 if v == 0 else 850.0, max_loss=0.1)
    assert {v for v, _ in calls} == {0, 200}
    assert conf.status == "not observable" and conf.value is None and "lost 15.0%" in conf.sentence
    assert "UNCONFIRMED" in conf.sentence and f"--confirm-max-duration {conf.needed_s:g}" in conf.sentence
    assert conf.needed_s >= 3 * 500


def test_a_bound_the_model_expects_over_the_limit_is_not_measured():
    # At a 1% limit, N = 200 (a 22 s life, 1-2 s of empty slot per exit) is predicted well over it.
    conf, calls = _run(5000, lambda v, i: 1000.0)
    assert calls == [] and conf.status == "not observable" and conf.bound_value is None
    assert "N = 200, the largest value whose lives fit, is predicted to lose" in conf.sentence


def test_nothing_fits_the_cap_so_nothing_is_measured():
    conf, calls = _run(5000, lambda v, i: 1000.0, cap=10.0)
    assert calls == [] and conf.status == "not observable" and conf.value is None
    assert "no smaller value's lives fit" in conf.sentence


def test_trials_that_replaced_no_child_are_not_a_measured_loss():
    # N = 100 at 1 request per connection is observable on paper, but the trials replaced no child.
    conf, calls = _run(100, lambda v, i: 1000.0 if v == 0 else 900.0, spawned=0.0, k=1.0)
    assert conf.status == "not observed" and conf.value is None
    assert conf.results[0].observed is False and conf.results[0].meets_loss is False
    assert len(conf.rounds) == 1  # no second round with a larger N: it would measure noise too
    r = Confirmation.from_json({"status": conf.status.value, "mode": "on", "sentence": conf.sentence, "value": None})
    assert tune._confirmation_sentences(r, "on") == [conf.sentence]
