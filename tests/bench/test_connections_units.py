"""Connections where they are spent, without a stack: the route split of pooler_stats.summary, the trial's
`connections` and `cpu.pgbouncer_s` in trial.json, the cell summary's medians (None, never 0, where not
measured), and what the terminal prints of them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import console
from bench.load import pooler_stats
from bench.load.plan import Plan
from bench.load.trial import Trial
from bench.record.results import summarize
from bench.record.run_rows import CellRecord, CellSummary
from bench.record.trial import ConnectionFigures, CpuFigures, PlanStep, TrialRecord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
POOL = {"cl_active": 4, "cl_waiting": 3, "maxwait": 0, "maxwait_us": 2500}
STATS = {"total_xact_count": 100, "total_wait_time": 1000, "avg_wait_time": 10}


def _samples(path: Path) -> Path:
    """A pooler left 2 idle server connections (pooler_backends) while 3 direct backends served a trial."""
    lines = [{"t": 10.0 + i, "pg": {"backends": 5, "active": 3, "sessions": 100 + 50 * i, "pooler_backends": 2,
                                    "pooler_active": 0}, "pool": POOL, "stats": STATS} for i in range(3)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_direct_trial_counts_its_own_backends_and_no_pooler_figures(tmp_path: Path) -> None:
    got = pooler_stats.summary(_samples(tmp_path / "p.jsonl"), through_pooler=False)
    assert (got.server_connections_peak, got.server_connections_mean, got.server_active_peak) == (3, 3.0, 3)
    assert got.backend_forks_per_s == pytest.approx(50.0)
    pooler = ("client_connections_peak", "client_connections_mean", "cl_waiting_peak", "cl_waiting_mean",
              "maxwait_ms_peak", "avg_wait_time_us_mean", "wait_per_xact_us")
    assert all(got.to_json()[k] is None for k in pooler)  # not measured for this route: None, not 0


def test_a_trial_through_the_pooler_counts_the_pooler_backends_and_its_clients(tmp_path: Path) -> None:
    got = pooler_stats.summary(_samples(tmp_path / "p.jsonl"), through_pooler=True)
    assert (got.server_connections_peak, got.server_active_peak) == (2, 0)
    assert (got.client_connections_peak, got.cl_waiting_peak) == (7, 3)
    assert got.maxwait_ms_peak == pytest.approx(2.5) and got.avg_wait_time_us_mean == 10


def test_a_sample_without_the_split_counts_every_backend(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"t": 1.0, "pg": {"backends": 5, "active": 1, "sessions": 1}}) + "\n")
    assert pooler_stats.summary(path, through_pooler=False).server_connections_peak == 5


def _trial(connections: dict | None, **cpu: float) -> TrialRecord:
    data = {"seq": 1, "trial": 1, "workload": "db", "variant": "bouncer", "users": 4, "locust": {"rps": 100.0},
            "server": {"requests": 10, "rps": 100.0}, "cpu": {"apache_s": 1.0, "postgres_s": 0.5, **cpu},
            "connections": connections}
    return TrialRecord.from_json(data)


def _connections(peak: int, forks: float, clients: int | None = None) -> dict:
    figures = {k: None for k in ConnectionFigures.keys()}
    return figures | {"samples": 10, "server_connections_peak": peak, "server_connections_mean": peak / 2,
                      "backend_forks_per_s": forks, "client_connections_peak": clients,
                      "cl_waiting_peak": None if clients is None else clients - peak,
                      "maxwait_ms_peak": None if clients is None else 1.25}


def test_trial_json_keeps_connections_and_pgbouncer_cpu_and_an_older_trial_gains_nothing() -> None:
    t = _trial(_connections(4, 0.0, 10), pgbouncer_s=0.25, server_s=1.75)
    assert t.connections is not None and t.connections.server_connections_peak == 4
    assert t.cpu == CpuFigures(apache_s=1.0, postgres_s=0.5, server_s=1.75, pgbouncer_s=0.25)
    assert TrialRecord.from_json(t.to_json()).to_json() == t.to_json()
    older = json.loads((FIXTURES / "runs" / "20261126-010203" / "trials" / "001-db-naive" / "trial.json").read_text())
    again = TrialRecord.from_json(older)
    assert again.connections is None and again.cpu is not None and again.cpu.pgbouncer_s is None
    assert again.to_json() == older  # no "connections": null, no "pgbouncer_s" added
    assert "pgbouncer_s" not in CpuFigures(apache_s=1.0).to_json()  # written only where a PgBouncer ran


def test_cell_summary_takes_medians_and_leaves_unmeasured_figures_none() -> None:
    pooled = summarize([_trial(_connections(p, f, c)) for p, f, c in ((4, 0.0, 10), (3, 0.5, 12), (4, 0.25, 9))])
    assert (pooled.server_connections_peak, pooled.backend_forks_per_s, pooled.client_connections_peak) == (4, 0.25, 10)
    assert pooled.server_connections_mean == 2.0 and pooled.cl_waiting_peak == 6 and pooled.maxwait_ms_peak == 1.25
    assert pooled.avg_wait_time_us_mean is None  # no trial measured it
    direct = summarize([_trial(_connections(9, 120.0)), _trial(_connections(7, 100.0))])
    assert (direct.server_connections_peak, direct.backend_forks_per_s) == (8, 110.0)
    assert direct.client_connections_peak is None and direct.cl_waiting_peak is None  # not 0
    none = summarize([_trial(None)])
    assert none.server_connections_peak is None and "server_connections_peak" not in none.to_json()
    assert CellSummary.from_json(direct.to_json()) == direct


def test_the_terminal_prints_a_line_per_cell_and_the_trial_tail() -> None:
    cells = [CellRecord("db", variant, trials=(t,), summary=summarize([t])).to_json() for variant, t in (
        ("cache-only", _trial(_connections(6, 512.0))), ("bouncer", _trial(_connections(4, 0.0, 10))))]
    lines = console.run_table(cells).splitlines()
    at = lines.index("connections (medians; pooler: PgBouncer, a variant through it only):")
    assert lines[at + 1].split() == ["workload/variant", "pg", "conns", "peak", "mean", "forks/s", "pooler", "clients",
                                     "peak", "waiting", "peak", "max", "wait", "ms", "avg", "wait", "us"]
    assert lines[at + 2].split() == ["db/cache-only", "6", "3.0", "512.0", "-", "-", "-", "-"]
    assert lines[at + 3].split() == ["db/bouncer", "4", "2.0", "0.0", "10", "6", "1.2", "-"]
    assert max(len(line) for line in lines[at:]) <= len(lines[0])  # no wider than the main table
    tail = console.connections_text(cells[1]["trials"][0])
    assert tail == "; pg conns peak 4, forks 0.0/s, pooler 10 clients, 6 waiting, max wait 1.2 ms"
    assert console.connections_text(cells[0]["trials"][0]) == "; pg conns peak 6, forks 512.0/s"


def _collector(tmp_path: Path, variant: str, pooler: bool, app: object = None) -> ConnectionFigures | None:
    """Trial._connections on a written pooler.jsonl, the stack faked: the route decides what is measured."""
    trial = Trial(tmp_path, Plan(), PlanStep(1, 1, "db", variant), "http://127.0.0.1:1",
                  SimpleNamespace(pooler=SimpleNamespace(pool_size=2, mode="transaction") if pooler else None,
                                  settings=SimpleNamespace(app=app)), None)  # type: ignore[arg-type]
    trial.connections = pooler_stats.PoolerSampler(_samples(tmp_path / "pooler.jsonl"), "dbname=unused")
    return trial._connections(0.0, 100.0)


def test_the_trial_measures_the_pooler_for_its_variants_only(tmp_path: Path) -> None:
    bouncer = _collector(tmp_path, "bouncer", pooler=True)
    assert bouncer is not None and (bouncer.server_connections_peak, bouncer.client_connections_peak) == (2, 7)
    assert (bouncer.pool_size, bouncer.pooler_mode) == (2, "transaction")
    direct = _collector(tmp_path, "cache-only", pooler=True)
    assert direct is not None and direct.server_connections_peak == 3 and direct.client_connections_peak is None
    assert "pool_size" not in direct.to_json()
    app = _collector(tmp_path, "app", pooler=True, app=object())  # --app --pooler: the route is not known
    assert app is not None and (app.server_connections_peak, app.client_connections_peak) == (5, 7)
    url = Trial(tmp_path, Plan(), PlanStep(1, 1, "db", "naive"), "http://127.0.0.1:1", None, None)
    assert url._connections(0.0, 100.0) is None  # --url: nothing of PostgreSQL's


def test_the_samplers_own_sessions_are_not_the_trials(tmp_path: Path) -> None:
    """pg_stat_database.sessions counts the sampler's connection too: a trial's session count leaves it out
    (naive read 1001 sessions per 1000 requests before)."""
    trial = Trial(tmp_path, Plan(), PlanStep(1, 1, "db", "naive"), "http://127.0.0.1:1", None, None)
    trial.monitor = SimpleNamespace(sessions_opened=lambda: 1102, started_at=5.0)  # type: ignore[assignment]
    trial.connections = pooler_stats.PoolerSampler(tmp_path / "pooler.jsonl", "dbname=unused")
    trial.connections.pg.opened = 1
    before = SimpleNamespace(sessions=100, pg_started=5.0)
    assert trial._db_sessions(before, 10.0, SimpleNamespace(faults=[])) == 1001  # type: ignore[arg-type]
