"""Sizing behind PgBouncer (issue 35 item 4): the budget of a bouncer sweep is PgBouncer's pool, fixed for the sweep
and sized for its largest point; a refusal of an in-process variant offers the same sweep with --variant bouncer;
each point records the PostgreSQL connections its trials used (medians), and the tables show them only then."""

from dataclasses import replace

import pytest

from bench.errors import UserError
from bench.record.tune import TuneData
from bench.record.tune_points import Point, SweepTrial
from bench.stack.knobs import StackSettings
from bench.tune import connection_budget, knob, summaries
from bench.tune import processes as tune_processes
from bench.tune.options import TuneOptions
from bench.tune.threads import connections

POOLED = StackSettings(pg_max_connections=100, mpm="worker")
BOUNCER = replace(POOLED, pooler=True, direct=False)  # what --variant bouncer sets (bench.stack.knobs.pooler_from_args)


def _grid_task(settings: StackSettings, variant: str, logged: list[str]):
    k = knob("processes,threads")
    args = k.parse(TuneOptions(values="16,32x4", workload="db", variant=variant))
    return k.task(args, settings, logged.append)


def test_pooled_is_refused_in_one_line_offering_the_bouncer_sweep():
    with pytest.raises(UserError) as e:
        _grid_task(POOLED, "pooled", [])
    text = str(e.value)
    assert "\n" not in text and "max_connections 100" in text
    assert "the same sweep with --variant bouncer" in text


def test_bouncer_grid_runs_with_one_pool_sized_for_the_largest_point():
    logged: list[str] = []
    task = _grid_task(BOUNCER, "bouncer", logged)
    assert task.keep == [(16, 4), (32, 4)] and not task.dropped
    # 32 x 4 requests at once want 128 server connections; PostgreSQL leaves 100 - 3: the pool is 97 at every point
    assert task.settings.pooler_pool_size == 97
    assert all(s.pooler_pool == 97 and s.connections_needed <= 100 for s in (p.settings for p in task.points()))
    assert (task.first.processes, task.first.threads) == (32, 4)  # PgBouncer admits the largest point's clients
    assert any("pool 97 server connections for every point (sized for the largest point)" in line for line in logged)


def test_a_given_pooler_pool_size_is_kept():
    logged: list[str] = []
    task = _grid_task(replace(BOUNCER, pooler_pool_size=20), "bouncer", logged)
    assert task.settings.pooler_pool_size == 20 and "(--pooler-pool-size)" in logged[-1]


def test_dropped_process_counts_offer_the_bouncer_sweep():
    logged: list[str] = []
    kept = tune_processes.fitting_values([1, 64], replace(POOLED, mpm="prefork"), logged.append)
    assert kept == [1] and "dropped 64 processes" in logged[0] and "--variant bouncer" in logged[0]
    with pytest.raises(UserError, match="the same sweep with --variant bouncer"):
        tune_processes.fitting_values([64], replace(POOLED, mpm="prefork"), logged.append)
    assert connection_budget.bouncer_offer(BOUNCER) == ""  # already through the pooler: nothing to offer


def test_the_recommendation_counts_the_pool_not_processes_x_threads():
    assert connections(32, 4, "bouncer", 1, pooler_pool=97) == 100
    assert connections(32, 4, "bouncer", 1) == 131  # without the pool (older records): as before
    assert connections(32, 4, "pooled", 1, pooler_pool=97) == 32 * 4 + 3  # an in-process variant: its own pools


def _trial(n: int, peak: int | None, mean: float, waiting: int | None = None, maxwait: float | None = None) -> dict:
    conns = {"server_connections_peak": peak, "server_connections_mean": mean, "samples": 5}
    if waiting is not None:
        conns |= {"cl_waiting_peak": waiting, "maxwait_ms_peak": maxwait, "pool_size": 97}
    return {"dir": f"trials/{n:03d}", "locust": {"rps": 100.0 * n, "p99_ms": 5.0}, "connections": conns}


def test_point_connections_are_medians_over_its_trials():
    trials = [SweepTrial.from_json(_trial(n, peak, mean, w, mw)).point_trial(n, flags=())
              for n, peak, mean, w, mw in ((1, 40, 30.0, 0, 0.0), (2, 60, 50.0, 3, 12.0), (3, 50, 35.0, 1, 4.0))]
    point = Point.of("on", 4, trials)
    assert (point.pg_connections_peak, point.pg_connections_mean) == (50, 35.0)
    assert (point.pooler_cl_waiting_peak, point.pooler_maxwait_ms_peak) == (1, 4.0)


def test_absent_connection_figures_are_not_written():
    direct = SweepTrial.from_json(_trial(1, 12, 8.0)).point_trial(1)  # a direct variant: no PgBouncer figures
    assert direct.pg_connections_peak == 12 and "pooler_cl_waiting_peak" not in direct.to_json()
    unsampled = SweepTrial.from_json({"dir": "trials/001", "locust": {"rps": 1.0}}).point_trial(1)  # --dsn, older
    assert not {"pg_connections_peak", "pg_connections_mean"} & unsampled.to_json().keys()
    old = Point.from_json({"keepalive": "on", "value": 2, "rps": 10.0, "trials": []})
    assert old.pg_connections_peak is None and "pg_connections_peak" not in old.to_json()


def _record(points: list[dict]) -> TuneData:
    return TuneData.from_json({"plan": {"knob": "processes,threads", "variant": "bouncer"}, "points": points})


def test_threads_table_shows_connections_only_when_measured():
    shape = {"keepalive": "on", "processes": 2.0, "threads": 4.0, "rps": 500.0, "trials": []}
    old = summaries.threads_table(_record([shape]))
    assert "PG conns" not in old
    new = summaries.threads_table(_record([shape | {"pg_connections_peak": 7.0, "pg_connections_mean": 5.5,
                                                     "pooler_cl_waiting_peak": 0.0, "pooler_maxwait_ms_peak": 0.0}]))
    head, row = new.splitlines()[:2]
    assert "PG conns" in head and "cl wait" in head and " 7 " in row and "5.5" in row


def test_sizing_page_column():
    from reports.kit.document import Table
    from reports.kit.fmt import DASH
    from reports.tune.connections import with_connections

    table = Table(["processes", "req/s", "limit"], [["1", "10", "server"], ["2", "20", "server"]], "Medians")
    assert with_connections(table, [{}, {}]) is table  # an older record: the table as it was
    shown = with_connections(table, [{"pg_connections_peak": 3, "pg_connections_mean": 2.5}, {}])
    assert shown.headers == ["processes", "req/s", "PostgreSQL conns (peak)", "PostgreSQL conns (mean)", "limit"]
    assert shown.rows[0][2] != "-" and shown.rows[1][2] == DASH and "noisy" in shown.caption


def test_the_processes_recommendation_has_no_connection_cap_through_the_pooler():
    from bench.tune import sizing

    pts = [Point.from_json({"keepalive": "on", "value": n, "rps": r, "p99_ms": 5.0, "trials": []})
           for n, r in ((50, 1000.0), (120, 2000.0))]
    direct = sizing.recommend(pts, variant="bouncer", pool_size=1, max_connections=100)
    assert direct.connection_cap == 97 and direct.count == 50  # older records: one per process, as before
    pooled_out = sizing.recommend(pts, variant="bouncer", pool_size=1, max_connections=100, pooler_pool=97)
    assert pooled_out.connection_cap is None and pooled_out.count == 120
    assert "PgBouncer's pool, whatever the count" in sizing.reasoning(pooled_out, variant="bouncer", workload="db",
                                                                       max_connections=100)
