"""bench.plan: the interleaved order, list options, validation; bench.vocabulary names."""

import pytest

from bench.errors import UserError
from bench.plan import Plan, interleave, parse_list
from bench.vocabulary import class_name, url_path


def test_interleave_alternates_variants():
    order = interleave(["db", "fortunes"], ["naive", "pooled"], 2)
    assert [(s["trial"], s["workload"], s["variant"]) for s in order] == [
        (1, "db", "naive"), (1, "db", "pooled"), (1, "fortunes", "naive"), (1, "fortunes", "pooled"),
        (2, "db", "naive"), (2, "db", "pooled"), (2, "fortunes", "naive"), (2, "fortunes", "pooled")]
    assert [s["seq"] for s in order] == list(range(1, 9))


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
    assert Plan(trials=3).validate().order[-1]["seq"] == 3 * 2 * 2
