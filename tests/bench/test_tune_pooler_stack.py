"""`bench tune --knob processes,threads` behind PgBouncer on the real stack (issue 35 item 4): at a shape whose
in-process pools pass max_connections, `pooled` is refused in one line before anything starts and `bouncer` runs,
its PostgreSQL server connections within PgBouncer's pool at every point."""

import json
from pathlib import Path

import pytest
from conftest import bench_cli, make_state_dir

from bench.stack import procs

pytestmark = pytest.mark.integration

# worker MPM, max_connections 20: pooled needs 3 x (4 + 4) + 3 = 27 and 4 x 8 + 3 = 35; bouncer PgBouncer's pool,
# min(4 x 4, 20 - 3) = 16, + 3 = 19.
SHAPE = ["--knob", "processes,threads", "--values", "3,4x4", "--mpm", "worker", "--pg-max-connections", "20",
         "--workload", "db", "--duration", "3", "--warmup", "1", "--trials", "1", "--users", "2", "--no-report"]


def test_pooled_refused_and_bouncer_within_its_pool(tmp_path: Path) -> None:
    env = {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}
    refused = bench_cli("tune", *SHAPE, "--variant", "pooled", "--port", str(procs.free_port()), env=env, timeout=60)
    message = refused.stderr.strip()
    assert refused.returncode == 1 and "\n" not in message, refused.stderr + refused.stdout
    assert "max_connections 20" in message and "the same sweep with --variant bouncer" in message
    assert not list(tmp_path.iterdir())  # refused before a run folder or a stack

    r = bench_cli("tune", *SHAPE, "--variant", "bouncer", "--port", str(procs.free_port()), env=env, timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "pool 16 server connections for every point (sized for the largest point)" in r.stdout
    record = json.loads((sorted(tmp_path.iterdir())[-1] / "tune.json").read_text())
    points = {(int(p["processes"]), int(p["threads"])): p for p in record["points"]}
    assert set(points) == {(3, 4), (4, 4)}
    for p in points.values():
        assert 1 <= p["pg_connections_peak"] <= 16, p
        assert p["pooler_cl_waiting_peak"] is not None and p["pooler_maxwait_ms_peak"] is not None
    assert "PG conns" in r.stdout and "cl wait" in r.stdout
