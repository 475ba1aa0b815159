"""SIGTERM during `bench run --workers`: the run's master ends, its worker is told to quit, nothing is left.

The worker is Locust's plain worker command on loopback (the network-namespace form is
tests/bench/test_workers_netns.py); the run uses the real embedded stack.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, locust_masters, make_state_dir

from bench.stack import procs

pytestmark = pytest.mark.integration


def test_sigterm_mid_run_ends_the_master_and_its_workers(tmp_path):
    port = procs.free_port()
    env = {**os.environ, "BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}
    worker = subprocess.Popen([sys.executable, "-m", "locust", "-f", "scenarios", "--worker", "--master-host",
                               "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"],
                              cwd=REPO, start_new_session=True, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = subprocess.Popen([sys.executable, "-m", "bench", "run", "--workers", "1", "--master-port", str(port),
                            "--workloads", "db", "--variants", "pooled", "--trials", "4", "--duration", "4",
                            "--warmup", "1", "--users", "2", "--processes", "2", "--port", str(procs.free_port()),
                            "--no-report"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        deadline = time.monotonic() + 180
        while not list(tmp_path.glob("*/trials/002-*")) and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
        time.sleep(1)  # inside trial 2
        run.send_signal(signal.SIGTERM)
        _out, err = run.communicate(timeout=90)
        worker_exit = worker.wait(timeout=40)  # told to quit by the master on its way out
    finally:
        for p in (run, worker):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert run.returncode != 0 and "Traceback" not in err, err[-2000:]
    assert worker_exit == 0
    data = json.loads(next(tmp_path.glob("*/results.json")).read_text())
    assert data["complete"] is False and len(data["results"][0]["trials"]) == 1
    assert procs.processes_mentioning(env["BENCH_STATE_DIR"]) == []
    assert locust_masters(port) == []
    assert procs.processes_mentioning(str(tmp_path)) == []
