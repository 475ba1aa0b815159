"""bench.tune.recycling (option parsing, conclusions), bench.tune.model and bench.tune.prefork_sim, without servers."""

import math

import pytest

from bench.errors import UserError
from bench.record.tune import TuneData
from bench.record.tune_conclusions import Advice
from bench.record.tune_points import Point
from bench.tune import model as tune_model
from bench.tune import options, prefork_sim
from bench.tune import recycling as tune


@pytest.mark.parametrize("text,ok", [("0,10,100", [0, 10, 100]), ("100,10", [0, 10, 100]), ("5", [0, 5])])
def test_parse_values(text, ok):
    assert tune.parse_values(text) == ok


@pytest.mark.parametrize("text", ["", "a", "1,-2", "1.5"])
def test_parse_values_rejects(text):
    with pytest.raises(UserError, match="--values"):
        tune.parse_values(text)


def test_parse_loss_and_budget():
    assert options.parse_loss("1") == pytest.approx(0.01)
    assert options.parse_loss("2.5%") == pytest.approx(0.025)
    for bad in ("0", "100", "x", "-1"):
        with pytest.raises(UserError, match="--max-loss"):
            options.parse_loss(bad)
    assert options.parse_budget("300MB") == (300, "child")
    assert options.parse_budget("total:2GB") == (2048, "total")
    for bad in ("12XB", "each:1GB", "0MB"):
        with pytest.raises(UserError, match="--memory-budget"):
            options.parse_budget(bad)


def model(**kw):
    base = dict(r0=4000.0, child_max_rps=1000.0, child_cost_s=0.1, requests_per_connection=1.0,
                fresh_rss_mb=30.0, growth_kb_per_request=2.0, processes=4)
    return tune_model.Model(**(base | kw))


def test_model_loss_falls_with_n():
    m = model()
    assert m.rps(0) == 4000.0 and m.loss(0) == 0
    assert m.loss(1) > m.loss(10) > m.loss(100) > m.loss(1000) > m.loss(100000) >= 0
    assert m.loss(10**7) < 0.001


def test_prefork_replaces_a_child_at_the_second_pass_after_its_exit():
    # One child serving 10 requests alone at 1000/s exits at 0.11 s; the pass at 1 s cannot see it
    # (not reaped yet), the pass at 2 s replaces it: 10 requests per 2 s after the first life.
    assert prefork_sim.completed(1, 10, 1000.0, 1000.0, 0.1, 0.0, 10.0) == pytest.approx(10 * 5)
    # Without recycling, nothing is lost after the first child's cost.
    assert prefork_sim.rps(4, float("inf"), 4000.0, 1000.0, 0.1, 1.0, 5.0) == pytest.approx(4000.0)


def test_prefork_spawn_rate_doubles_and_resets():
    # Children that exit at once leave free slots at every pass: the rate doubles 1, 2, 4 ... so 8 slots
    # refill faster than one per second.
    fast = prefork_sim.completed(8, 1, 8000.0, 1000.0, 0.0, 0.0, 20.0)
    assert fast > 20 * 2


def test_model_memory_and_recommendation():
    m = model()
    assert m.rss_end_mb(0) is None  # a leak with no recycling is unbounded
    assert m.rss_end_mb(1024) == pytest.approx(30 + 2.0 * 1024 / 1024)
    rec = tune_model.recommend(m, 0.01, None, "child")
    assert m.loss(rec.value) <= 0.01 and rec.within
    smaller = [n for n in tune_model.GRID if n < rec.value]
    assert all(m.loss(n) > 0.01 for n in smaller)
    tight = tune_model.recommend(m, 0.01, 35.0, "child")  # 35 MB allows 2560 requests per child at most
    assert m.rss_end_mb(tight.value) <= 35.0
    assert not tight.within or m.loss(tight.value) <= 0.01
    total = tune_model.recommend(m, 0.5, 4 * 35.0, "total")
    assert m.rss_end_mb(total.value) * 4 <= 140.0


def test_conclude_checks_model_against_points():
    base = {"value": 0, "rps": 4000.0, "warmup_ms": 50.0, "startup_ms": 0.0, "children_spawned_per_s": 0.0,
            "requests_per_connection": 1.0, "fresh_rss_mb": 30.0, "growth_kb_per_request": 0.0,
            "rss_mb_end_of_life": 30.0, "service_ms_mean": 0.5}
    recycled = {"value": 10, "rps": 20.0, "warmup_ms": 50.0, "startup_ms": 10.0, "children_spawned_per_s": 2.0,
                "requests_per_connection": 1.0, "fresh_rss_mb": 30.0, "growth_kb_per_request": None,
                "rss_mb_end_of_life": 30.0, "service_ms_mean": 0.5}
    base["trials"] = [{"window_after_start": [2.0, 10.0], "rps": 4000.0, "children_spawned_per_s": 0.0}]
    recycled["trials"] = [{"window_after_start": [2.0, 10.0], "rps": 20.0, "children_spawned_per_s": 2.0}]
    c = tune.conclude([Point.from_json(base), Point.from_json(recycled)], 4, 0.01, None, "child")
    assert c.model.child_cost_s == pytest.approx(0.060) and c.to_json()["model"]["child_cost_ms"] == 60.0
    assert c.model.child_max_rps == pytest.approx(2000.0)
    check = {x.value: x for x in c.check}
    predicted = check[10].predicted_rps
    assert predicted == pytest.approx(tune_model.Model(4000.0, 2000.0, 0.06, 1.0, 30.0, 0.0, 4)
                                      .window_rps(10, 2.0, 10.0), abs=0.1)
    assert check[10].error == pytest.approx(abs(predicted - 20.0) / 20.0, abs=0.01)
    assert c.max_error == max(x.error for x in c.check)
    assert not math.isnan(c.max_error)


def test_knobs_are_looked_up_by_name_in_every_registry():
    from bench.record.tune import FIRST_KNOB
    from bench.tune import DEFAULT_KNOB, KNOBS, knob
    from bench.tune.knobs import MEASURED_ONLY, Knob, knob_classes
    from reports.tune.page import REPORTS

    # Both registries are derived (every Knob subclass, every KnobPage subclass): every page reports a knob (a knob
    # without a page of its own gets the generic one), and the default is the knob of schema 1's records.
    assert REPORTS and set(REPORTS) <= set(KNOBS) and DEFAULT_KNOB == FIRST_KNOB == next(iter(KNOBS))
    assert [type(k) for k in KNOBS.values()] == knob_classes()
    for name, k in KNOBS.items():
        assert k.name == name and k.directives and k.model and k.folder_label
        for text in k.default_values:
            assert k.parse_values(text)
        with pytest.raises(UserError, match=r"--values 'x'") as exc:
            k.parse_values("x")
        assert "\n" not in str(exc.value)
    assert KNOBS["processes"].model == MEASURED_ONLY and KNOBS[DEFAULT_KNOB].model != MEASURED_ONLY
    with pytest.raises(UserError, match="--knob 'bogus' is unknown: use max-connections-per-child or processes"):
        knob("bogus")

    class Another(Knob):  # a new subclass that names itself is a knob; one that does not is not
        name = "another"

    class Base(Knob):
        pass

    assert Another in knob_classes() and Base not in knob_classes()


def test_parse_returns_each_knobs_typed_options():
    from dataclasses import FrozenInstanceError

    from bench.tune import KNOBS
    from bench.tune.options import SweepArgs, TuneOptions

    opts = TuneOptions(values=None, workload="db", variant="pooled", memory_budget="300MB", quick=True)
    for name, k in KNOBS.items():
        args = k.parse(opts)
        assert isinstance(args, SweepArgs) and (args.workload, args.variant, args.users) == ("db", "pooled", 4), name
        with pytest.raises(FrozenInstanceError):
            args.workload = "leaky"  # type: ignore[misc]
    recycling = KNOBS["max-connections-per-child"].parse(opts)
    assert recycling.values == (0, 10, 1000) and recycling.budget_mb == 300.0 and recycling.scope == "child"
    assert KNOBS["processes"].parse(opts).scope == "total"  # sizing the pool: a bare size is for all children


def test_advice_names_the_servers_recycling_directive():
    point = {"keepalive": "on", "value": 0, "rps": 1000.0, "trials": []}
    modes = {"on": {"recommendation": {"value": 1000, "predicted_loss": 0.001, "source": "model"},
                    "model": {"r0": 1000.0, "requests_per_connection": 1.0, "child_cost_ms": 50.0,
                              "growth_kb_per_request": None}, "model_ok": True}}
    record = {"points": [point], "modes": modes, "stack": {"max_keepalive_requests": 100},
              "plan": {"variant": "pooled", "workload": "db", "max_loss": 0.01}}

    def advice(data: dict) -> Advice:
        typed = TuneData.from_json(data)
        return tune.advice(typed, typed.modes)

    assert advice(record).directives[0] == "MaxConnectionsPerChild 1000"
    assert "maximum-requests" not in (advice(record).reasoning or "")
    wsgi = record | {"stack": {"max_keepalive_requests": 100, "server": "mod_wsgi", "wsgi_mode": "daemon"}}
    assert "WSGIDaemonProcess maximum-requests, which counts requests" in (advice(wsgi).reasoning or "")
    # Under daemon mode the directive to paste is the daemons' own, counted in requests (no "x k requests").
    assert advice(wsgi).directives[0] == "WSGIDaemonProcess maximum-requests=1000"
    assert "requests per connection" not in (advice(wsgi).reasoning or "")
    # A user's own application is named as such, not as the suite's variant/workload.
    app = record | {"stack": {"max_keepalive_requests": 100, "app": {"dir": "/srv/site", "handler": "site"}}}
    assert "Without recycling your application (site from /srv/site) served" in (advice(app).reasoning or "")
