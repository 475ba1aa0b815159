"""The pooler's settings, budget and figures without a server: what is refused, what is counted, how the raw
samples summarise."""

import argparse
import json

import pytest

from bench import vocabulary
from bench.errors import UserError
from bench.load import pooler_stats
from bench.record import attribution
from bench.stack import knobs
from bench.stack.knobs import StackSettings


def run_args(**given) -> argparse.Namespace:
    base = {"variants": None, "all": False, "pooler": False, "pooler_mode": "transaction", "pooler_pool_size": None,
            "pooler_port": None, "app": None}
    return argparse.Namespace(**(base | given))


@pytest.mark.parametrize("given,message", [
    ({"pooler_pool_size": 0}, "--pooler-pool-size 0 is out of range"),
    ({"pooler_mode": "statement"}, "--pooler-mode 'statement' is not valid: use transaction or session"),
    ({"pooler_port": 70000}, "--pooler-port 70000 is out of range"),
    ({"dsn": "host=db dbname=x"}, "with --dsn, point --dsn at your own PgBouncer"),
])
def test_bad_pooler_settings_are_refused(given, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        StackSettings(pooler=True, **given).validate()


def test_the_pool_defaults_to_the_requests_served_at_once():
    assert StackSettings(pooler=True, processes=4).validate().pooler_pool == 4
    assert StackSettings(pooler=True, processes=3, mpm="worker", threads=4).validate().pooler_pool == 12
    assert StackSettings(pooler=True, pooler_pool_size=2).validate().pooler_pool == 2
    # Kept connections to the pooler (prepared-bouncer) each hold a server connection in session mode.
    assert StackSettings(pooler=True, processes=2, pool_size=3).validate().pooler_pool == 6


def test_the_budget_counts_the_pool_and_offers_the_pooler_when_the_processes_do_not_fit():
    mixed = StackSettings(pooler=True, processes=4).validate()
    assert mixed.connections_needed == 4 * (1 + 1) + 4 + 3
    assert "PgBouncer's pool 4 + reserve 0" in mixed.budget_text
    big = {"processes": 32, "mpm": "worker", "threads": 4}
    with pytest.raises(UserError, match="--variants bouncer"):
        StackSettings(**big).validate()
    alone = StackSettings(**big, pooler=True, direct=False).validate()  # every variant through the pooler
    assert alone.connections_needed == alone.pooler_pool + 3 <= alone.pg_max_connections
    assert alone.budget_text.startswith("PgBouncer's pool")


def test_the_variants_decide_whether_a_pooler_starts():
    assert knobs.pooler_from_args(run_args())["pooler"] is False  # naive,pooled
    got = knobs.pooler_from_args(run_args(variants="naive,bouncer"))
    assert got["pooler"] is True and got["direct"] is True
    assert knobs.pooler_from_args(run_args(variants="bouncer"))["direct"] is False
    assert knobs.pooler_from_args(run_args(all=True))["pooler"] is True
    assert knobs.pooler_from_args(argparse.Namespace(variant="bouncer"))["direct"] is False  # bench tune
    assert knobs.pooler_from_args(argparse.Namespace(pooler=True))["pooler"] is True  # bench up


def test_prepared_statements_through_the_pooler_need_session_mode():
    assert vocabulary.needs_session_pooler("prepared-bouncer") and not vocabulary.needs_session_pooler("prepared")
    with pytest.raises(UserError, match="transaction mode does not carry"):
        knobs.pooler_from_args(run_args(variants="bouncer,prepared-bouncer"))
    assert knobs.pooler_from_args(run_args(variants="prepared-bouncer", pooler_mode="session"))["pooler"]
    # --all serves what the mode can: prepared-bouncer only in session mode.
    assert "prepared-bouncer" not in knobs.all_variants("transaction")
    assert knobs.all_variants("session") == list(vocabulary.VARIANTS)
    assert knobs.pooler_from_args(run_args(all=True))["pooler"]  # --all in transaction mode is not refused


def test_bouncer_is_one_factor_above_cache_only():
    assert vocabulary.through_pooler("bouncer") and not vocabulary.through_pooler("pooled")
    steps = {s.label: s.factor for s in attribution.steps(["naive", "cache-only", "bouncer", "pooled"])}
    assert steps["bouncer vs cache-only"] == "pooler_route"
    assert vocabulary.FACTORS["pooler_route"] == "an external pooler (PgBouncer)"
    # The 2x2 is unchanged: its four corners are still found from the table.
    assert attribution.square().variants == ("naive", "pool-only", "cache-only", "pooled")


def write_samples(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"t": 9')  # a torn last line


def test_summary_of_samples(tmp_path):
    path = tmp_path / "pooler.jsonl"
    pool = {"cl_active": 4, "cl_waiting": 0, "maxwait": 0, "maxwait_us": 0}
    write_samples(path, [
        {"t": 100.0, "pg": {"backends": 9, "active": 9, "sessions": 1}},  # before the window
        {"t": 101.0, "pg": {"backends": 2, "active": 1, "sessions": 10}, "pool": pool,
         "stats": {"total_xact_count": 100, "total_wait_time": 0, "avg_wait_time": 0}},
        {"t": 102.0, "pg": {"backends": 4, "active": 2, "sessions": 10},
         "pool": pool | {"cl_waiting": 2, "maxwait": 1, "maxwait_us": 500000},
         "stats": {"total_xact_count": 300, "total_wait_time": 4000, "avg_wait_time": 40}},
        {"t": 103.0, "pg": {"backends": 3, "active": 3, "sessions": 16}},  # the pooler did not answer
    ])
    got = pooler_stats.summary(path, 100.5, 103.5)
    assert got.samples == 3
    assert (got.server_connections_peak, got.server_connections_mean, got.server_active_peak) == (4, 3.0, 3)
    assert got.backend_forks_per_s == pytest.approx(3.0)  # 6 sessions in 2 s
    assert (got.client_connections_peak, got.cl_waiting_peak, got.cl_waiting_mean) == (6, 2, 1.0)
    assert got.maxwait_ms_peak == pytest.approx(1500.0)
    assert got.avg_wait_time_us_mean == pytest.approx(20.0)
    assert got.wait_per_xact_us == pytest.approx(20.0)  # 4000 us over 200 transactions


def test_summary_of_nothing_is_not_zero(tmp_path):
    got = pooler_stats.summary(tmp_path / "missing.jsonl")
    assert got.samples == 0
    assert all(v is None for k, v in got.to_json().items() if k != "samples")
