"""bench.load.plan: the interleaved order, list options, validation; bench.vocabulary names."""

import re

import pytest

from bench.errors import UserError
from bench.load.plan import Plan, interleave, parse_list
from bench.vocabulary import class_name, url_path


def test_interleave_alternates_variants():
    order = interleave(["db", "fortunes"], ["naive", "pooled"], 2)
    assert [(s.trial, s.workload, s.variant) for s in order] == [
        (1, "db", "naive"), (1, "db", "pooled"), (1, "fortunes", "naive"), (1, "fortunes", "pooled"),
        (2, "db", "naive"), (2, "db", "pooled"), (2, "fortunes", "naive"), (2, "fortunes", "pooled")]
    assert [s.seq for s in order] == list(range(1, 9))


def test_class_names():
    assert class_name("db", "pool-only") == "PoolOnlyDb"
    assert class_name("fortunes", "cache-only") == "CacheOnlyFortunes"
    assert class_name("leaky", "pooled") == "PooledLeaky"
    assert class_name("json") == "Json"
    assert url_path("db", "pool-only") == "/pool-only/db" and url_path("plaintext") == "/plaintext"


def test_parse_list_rejects_unknown_with_choices():
    with pytest.raises(UserError, match="unknown 'x'; allowed a, b"):
        parse_list("--things", "a,x", ("a", "b"))
    assert parse_list("--things", "b, a,b", ("a", "b")) == ["b", "a"]


def test_plan_validation():
    with pytest.raises(UserError, match="--queries 501 is out of range"):
        Plan(queries=501).validate()
    assert Plan(trials=3).validate().order[-1].seq == 3 * 2 * 2


def test_plan_refuses_non_finite_and_huge_values():
    for kwargs, text in [({"duration_s": float("nan")}, "--duration nan"), ({"duration_s": 1e9}, "--duration 1e9"),
                         ({"warmup_s": float("inf")}, "--warmup inf"), ({"users": 10**6}, "--users 1000000"),
                         ({"max_p99_ms": 0.0}, "--max-p99 0"), ({"url": "http://[::1"}, "'http://[::1'"),
                         ({"url": "http://h:99999"}, "'http://h:99999'")]:
        with pytest.raises(UserError, match=re.escape(text)):
            Plan(**kwargs).validate()


def test_run_options_for_saturation_and_cross_check_reach_the_plan():
    from bench import cli

    args = cli.build_parser().parse_args(["run", "--saturate", "--max-p99", "250", "--cross-check"])
    p = cli._plan_from_args(args)
    assert (p.saturate, p.max_p99_ms, p.cross_check) == (True, 250.0, True)
    p = cli._plan_from_args(cli.build_parser().parse_args(["run"]))
    assert (p.saturate, p.max_p99_ms, p.cross_check) == (False, 100.0, False)
    assert {"saturate", "max_p99_ms", "cross_check"} <= set(p.to_dict())


def test_interleave_runs_each_cell_under_every_server_back_to_back():
    order = interleave(["db"], ["naive", "pooled"], 2, ["mod_python", "mod_wsgi"])
    assert [(s.trial, s.variant, s.server) for s in order] == [
        (1, "naive", "mod_python"), (1, "naive", "mod_wsgi"), (1, "pooled", "mod_python"), (1, "pooled", "mod_wsgi"),
        (2, "naive", "mod_python"), (2, "naive", "mod_wsgi"), (2, "pooled", "mod_python"), (2, "pooled", "mod_wsgi")]
    assert [s.seq for s in order] == list(range(1, 9))
    p = Plan(workloads=["db", "auth"], variants=["naive", "pooled"], trials=2,
             servers=["mod_python", "mod_wsgi"]).validate()
    assert len(p.order) == 2 * 2 * 2 * 2 and len(p.cells()) == 8
    assert {(c.workload, c.variant, c.server) for c in p.cells()} == {
        (w, v, s) for w in ("db", "auth") for v in ("naive", "pooled") for s in ("mod_python", "mod_wsgi")}


def test_plan_without_servers_is_unchanged():
    p = Plan(trials=2).validate()
    assert all("server" not in s.to_json() for s in p.order)
    assert p.servers is None and p.to_dict()["servers"] is None
    assert p.order == interleave(["db", "fortunes"], ["naive", "pooled"], 2)


def test_servers_option_is_checked_against_the_known_servers():
    from bench import cli

    def plan_of(*argv):
        return cli._plan_from_args(cli.build_parser().parse_args(["run", *argv]))

    assert plan_of("--servers", "mod_python,mod_wsgi").servers == ["mod_python", "mod_wsgi"]
    assert plan_of("--servers", "mod_wsgi, mod_wsgi").servers == ["mod_wsgi"]
    with pytest.raises(UserError, match="--servers: unknown 'uwsgi'; allowed mod_python, mod_wsgi"):
        plan_of("--servers", "mod_python,uwsgi")
    with pytest.raises(UserError, match="--servers is empty"):
        plan_of("--servers", ",")
    with pytest.raises(UserError, match="--server mod_wsgi is not among --servers mod_python"):
        plan_of("--servers", "mod_python", "--server", "mod_wsgi")
    with pytest.raises(UserError, match="--servers needs the embedded stack"):
        plan_of("--servers", "mod_python,mod_wsgi", "--url", "http://127.0.0.1:8089")
