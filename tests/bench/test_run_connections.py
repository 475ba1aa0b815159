"""`bench run` on the real stack records where the PostgreSQL connections were spent: a direct
connect-per-request variant forks a backend per request and has no PgBouncer figures; the bouncer variant
keeps PostgreSQL within the pool, forks nothing in the steady window, and has PgBouncer's clients and wait."""

import json

import pytest
from conftest import bench_cli, make_state_dir

from bench.stack import procs
from reports.run.page import build_run_report

pytestmark = pytest.mark.integration

POOL = 2
ARGS = ["--workloads", "db", "--variants", "cache-only,bouncer", "--trials", "1", "--duration", "4", "--warmup", "1",
        "--users", "4", "--processes", "2", "--pooler-pool-size", str(POOL), "--no-report"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    env = {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(runs)}
    r = bench_cli("run", *ARGS, "--port", str(procs.free_port()), env=env, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    data = json.loads((run_dir / "results.json").read_text())
    return r, {c["variant"]: c for c in data["results"]}, run_dir


def test_a_direct_variant_has_postgresql_figures_and_no_pooler_figures(run):
    _, cells, _ = run
    (trial,) = cells["cache-only"]["trials"]
    c = trial["connections"]
    assert c["samples"] >= 5
    assert 1 <= c["server_connections_peak"] <= 2 * 4  # at most a connection per user, and some
    assert c["backend_forks_per_s"] > 10  # a backend forked per request
    pooler = ("client_connections_peak", "cl_waiting_peak", "maxwait_ms_peak", "avg_wait_time_us_mean")
    assert all(c[k] is None for k in pooler), c  # not measured, never 0
    assert trial["cpu"]["pgbouncer_s"] is not None  # the stack runs one: counted in the server's CPU
    summary = cells["cache-only"]["summary"]
    assert summary["server_connections_peak"] == c["server_connections_peak"]
    assert "client_connections_peak" not in summary


def test_the_bouncer_variant_stays_within_the_pool_and_forks_nothing(run):
    _, cells, _ = run
    (trial,) = cells["bouncer"]["trials"]
    c, cpu = trial["connections"], trial["cpu"]
    assert c["pool_size"] == POOL and c["pooler_mode"] == "transaction"
    assert 1 <= c["server_connections_peak"] <= POOL
    assert c["backend_forks_per_s"] < 1  # the pool's backends are reused
    assert c["client_connections_peak"] >= 1 and c["cl_waiting_peak"] is not None
    assert cpu["pgbouncer_s"] > 0
    assert cpu["server_s"] == pytest.approx(cpu["apache_s"] + cpu["postgres_s"] + cpu["pgbouncer_s"], abs=0.002)
    assert cells["bouncer"]["summary"]["client_connections_peak"] == c["client_connections_peak"]


def test_the_terminal_prints_the_connections(run):
    r, _, _ = run
    assert "connections (medians; pooler: PgBouncer, a variant through it only):" in r.stdout
    assert "pg conns peak" in r.stdout and "forks" in r.stdout
    print(r.stdout)


def test_the_report_has_a_connections_section(run):
    _, _, run_dir = run
    build_run_report(run_dir)
    md = (run_dir / "report" / "report.md").read_text()
    section = md[md.index("## Connections"):]
    section = section[:section.index("\n## ", 3)]
    print(section)
    rows = [line for line in section.splitlines() if line.startswith("| db ")]
    assert [row.split("|")[2].strip() for row in rows] == ["cache-only", "bouncer"]
