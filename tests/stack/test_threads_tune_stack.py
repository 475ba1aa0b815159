"""`bench tune` on threaded servers, through the real CLI against real Apache (worker MPM) and PostgreSQL:
MaxConnectionsPerChild tuning counts connections by client port (a process serves several at once), and the
threads knobs (`--knob threads`, `--knob processes,threads`) print a directive with its binding constraint;
the 2-D sweep's report has the heat map with the recommendation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import bench_cli, make_state_dir

from bench.stack import procs

pytestmark = pytest.mark.integration

SHORT = ["--duration", "4", "--warmup", "1", "--trials", "1", "--no-confirm"]


def _env(tmp_path: Path) -> dict:
    return {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}


def _folder(env: dict) -> Path:
    return sorted(Path(env["BENCH_RUNS_DIR"]).iterdir())[-1]


@pytest.mark.lane("sweeps-1")
def test_recycling_under_the_worker_mpm_counts_connections_per_port(tmp_path: Path) -> None:
    env = _env(tmp_path)
    r = bench_cli("tune", "--mpm", "worker", "--threads", "2", "--processes", "2", "--users", "4",
                  "--workload", "db", "--values", "0,20", "--keepalive", "on", "--no-report",
                  # 31-request connections in 7 s trials: a busy test machine must still fit whole ones in the
                  # window (101-request ones, Apache's default, were one per user there)
                  "--max-keepalive-requests", "30",
                  "--port", str(procs.free_port()), *SHORT, "--duration", "7", env=env, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    run = _folder(env)
    data = json.loads((run / "tune.json").read_text())
    points = {p["value"]: p for p in data["points"]}
    # Four users keep two connections open on each 2-thread process at once: grouped per process, their
    # runs of %k would interleave; by client port each connection is MaxKeepAliveRequests + 1 requests.
    assert points[0]["requests_per_connection"] == 31.0, points[0]
    assert points[20]["children_seen"] >= points[0]["children_seen"] == 2
    conf = (run / "trials" / "002-kaon-n20" / "httpd.conf").read_text()
    assert "ThreadsPerChild 2\n" in conf and "MaxConnectionsPerChild 20\n" in conf
    assert data["advice"]["directives"][0].startswith("MaxConnectionsPerChild ")


@pytest.mark.slow(38)
def test_threads_knob_prints_a_directive_with_its_binding_constraint(tmp_path: Path) -> None:
    env = _env(tmp_path)
    # --max-p99 out of reach: a p99 bound of a busy test machine must not be what binds here.
    r = bench_cli("tune", "--knob", "threads", "--mpm", "worker", "--processes", "1", "--values", "1,2",
                  "--workload", "db", "--no-report", "--max-p99", "100000", "--port", str(procs.free_port()),
                  *SHORT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "recommended (binding: " in r.stdout and "binding: -" not in r.stdout
    data = json.loads((_folder(env) / "tune.json").read_text())
    assert {p["value"] for p in data["points"]} == {1, 2}
    assert any(d.startswith("ThreadsPerChild ") for d in data["advice"]["directives"]), data["advice"]


@pytest.mark.slow(58)
def test_processes_by_threads_sweep_has_a_heat_map_with_the_recommendation(tmp_path: Path) -> None:
    env = _env(tmp_path)
    # --max-p99 out of reach: with keep-alive, p99 at 2 x slots users is the wait for a kept-alive connection
    # (104-959 ms once on a busy machine, every point over the default 100 ms, so nothing was recommended).
    r = bench_cli("tune", "--knob", "processes,threads", "--mpm", "worker", "--values", "1,2x1,2",
                  "--workload", "db", "--max-p99", "100000", "--port", str(procs.free_port()), *SHORT, env=env,
                  timeout=400)
    assert r.returncode == 0, r.stderr + r.stdout
    run = _folder(env)
    data = json.loads((run / "tune.json").read_text())
    assert len(data["points"]) == 4
    directives = data["advice"]["directives"]
    assert any(d.startswith("ServerLimit ") for d in directives) and any(
        d.startswith("ThreadsPerChild ") for d in directives), directives
    report = next(run.glob("**/report.md")).read_text()
    assert "Figure 1: requests/s (and p99) by processes x threads" in report
    assert any(p.name.startswith("threads1-heatmap") for p in run.glob("**/*.png"))
