"""`bench run --workers`: the bounded wait names the worker command; the listener's per-worker CPU."""

import os
import sys

import pytest
from conftest import REPO, bench_cli, make_state_dir

from bench.stack import procs

sys.path.insert(0, str(REPO / "scenarios"))
# Importing Locust gevent-patches the whole test process (threads become greenlets), which breaks
# pytest-xdist's workers; worker_cpu is plain arithmetic, so import it without the patch.
os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
try:
    from _bench._listener import worker_cpu  # noqa: E402
finally:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]


@pytest.mark.integration
def test_missing_workers_stop_the_run_with_the_command_to_start_them(tmp_path):
    env = {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}
    port = procs.free_port()
    r = bench_cli("run", "--workers", "1", "--master-port", str(port), "--workers-wait", "3",
                  "--port", str(procs.free_port()), "--workloads", "db", "--variants", "pooled", "--trials", "1",
                  "--duration", "4", "--warmup", "1", "--no-report", env=env, timeout=200)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "did not connect to 127.0.0.1:" in r.stderr
    assert f"locust -f scenarios --worker --master-host 127.0.0.1 --master-port {port}" in r.stderr
    assert procs.processes_mentioning(env["BENCH_STATE_DIR"]) == []


def test_worker_cpu_from_cumulative_reports():
    rows = [{"t": t, "cpu_s": c, "pid": 7, "host": "gen"} for t, c in ((9, 1.0), (12, 3.4), (15, 5.8), (18, 8.2))]
    out = worker_cpu({"w1": rows, "w2": rows[:1]}, start=10, end=14)
    # from the last report before the window (t=9) to the last within end + one interval (t=15)
    assert out["w1"] == {"host": "gen", "pid": 7, "cpu_s": 4.8, "seconds": 6, "cpu_pct": 80.0}
    assert out["w2"]["cpu_pct"] is None
