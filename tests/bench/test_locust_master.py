"""One Locust master for the run (bench/load/locust_master.py): two plain workers join once and serve two tests.

The load goes to a small HTTP server in this process (the master's control is what is tested here; the real
stack with workers in a network namespace is tests/bench/test_workers_netns.py). Everything started here is
stopped in `finally`, and the test checks the workers ended with the master.
"""

import csv
import json
import os
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest
from conftest import REPO

from bench.errors import UserError
from bench.load.locust_master import Master
from bench.load.plan import Plan
from bench.stack import procs


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Apache serves the suite

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"Hello, World!"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-Bench-Pid", "1")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def target():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _worker(port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "locust", "-f", "scenarios", "--worker", "--master-host",
                             "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"],
                            cwd=REPO, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.integration
def test_workers_join_once_and_serve_every_test_of_the_run(target, tmp_path):
    plan = Plan(workers=2, master_port=procs.free_port(), warmup_s=1, duration_s=4).validate()
    master = Master(plan, target, tmp_path / "master.log")
    workers = [_worker(plan.master_port) for _ in range(2)]
    try:
        ready = master.wait_for_workers(60)
        assert len(ready) == 2
        # the channel: a unix socket only this user can reach, no TCP port
        assert stat.S_IMODE(os.stat(master.folder).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(master.socket).st_mode) == 0o600
        ports = {c.laddr.port for c in psutil.Process(master.pid).net_connections("tcp") if c.status == "LISTEN"}
        assert ports == {plan.master_port}, ports
        results = []
        for n in (1, 2):
            out = tmp_path / f"t{n}"
            trial = master.trial(["Plaintext"], 4, {"bench_out": str(out / "per_pid.json"),
                                                    "csv_prefix": str(out / "locust"), "bench_warmup": 1})
            trial.wait(4)
            assert trial.faults() == []
            results.append(json.loads((out / "per_pid.json").read_text()))
            rows = list(csv.DictReader((out / "locust_stats.csv").open()))
            assert rows[-1]["Name"] == "Aggregated" and int(rows[-1]["Request Count"]) > 0
        for summary in results:
            assert summary["requests"] > 0 and summary["generators"] == 2
            assert set(summary["workers"]) == set(ready)
            # each worker's steady-window requests add up to the merged count
            assert sum(w["requests"] for w in summary["workers"].values()) == summary["requests"]
            assert all(w["cpu_pct"] is not None for w in summary["workers"].values())
        # the same two worker processes served both tests
        pids = [{w["pid"] for w in s["workers"].values()} for s in results]
        assert pids[0] == pids[1] == {w.pid for w in workers}
        assert all(w.poll() is None for w in workers)
        # a second start while a test runs is refused, not queued
        trial = master.trial(["Plaintext"], 2, {"bench_out": str(tmp_path / "t3.json")})
        second = master.request("POST", "/bench/start", {"user_classes": ["Plaintext"], "users": 1})
        assert second["ok"] is False and "under way" in second["message"]
        trial.wait(2)
    finally:
        master.stop()
        for w in workers:
            if not _gone(w.pid, 15):
                w.kill()
    # Locust's master tells its workers to quit when it ends: nothing of this run is left
    assert [w.wait(5) for w in workers] == [0, 0]
    assert not master.folder.exists() and _gone(master.pid, 1)


@pytest.mark.integration
def test_missing_workers_are_one_line_naming_the_command(target, tmp_path):
    plan = Plan(workers=2, master_port=procs.free_port()).validate()
    master = Master(plan, target, tmp_path / "master.log")
    worker = _worker(plan.master_port)
    try:
        # first the one worker connected (two Locusts starting on a busy machine can take longer than the wait
        # below), then the wait that must fail naming it
        deadline = time.monotonic() + 60
        while not _one_connected(master):
            assert time.monotonic() < deadline, "the worker did not connect within 60 s"
            time.sleep(0.2)
        with pytest.raises(UserError) as exc:
            master.wait_for_workers(3)
    finally:
        master.stop()
    assert "(1 did)" in str(exc.value) and "locust -f scenarios --worker --master-host 127.0.0.1" in str(exc.value)
    assert worker.wait(15) == 0  # told to quit by the master


def _one_connected(master: Master) -> bool:
    try:
        return len(master.connected(master.status())) == 1
    except UserError:  # the master is not listening yet
        return False


@pytest.mark.parametrize("workers, minimum, message", [(0, 2, "with --workers"), (2, 3, "use 1..2"),
                                                        (2, 0, "use 1..2")])
def test_workers_min_is_checked_against_workers(workers, minimum, message):
    with pytest.raises(UserError, match=message):
        Plan(workers=workers, workers_min=minimum).validate()


GUESTBOOK = str(REPO / "examples" / "guestbook")


@pytest.mark.report
@pytest.mark.parametrize("argv, named", [
    (["run", "--workers", "2", "--workers-min", "3"], "--workers-min 3"),
    (["run", "--workers-min", "2"], "--workers-min 2"),
    (["run", "--app", GUESTBOOK, "--app-handler", "guestbook", "--paths", "/", "--workers", "2"], "--workers"),
])
def test_bad_worker_options_are_one_line_and_start_nothing(argv, named, tmp_path, monkeypatch, capsys):
    from bench import cli

    monkeypatch.setenv("BENCH_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BENCH_RUNS_DIR", str(tmp_path / "runs"))
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and named in err[0], err
    assert not (tmp_path / "state").exists() and not (tmp_path / "runs").exists()


@pytest.mark.integration
def test_a_master_that_died_is_one_line_not_a_traceback(target, tmp_path):
    plan = Plan(workers=1, master_port=procs.free_port()).validate()
    master = Master(plan, target, tmp_path / "master.log")
    worker = _worker(plan.master_port)
    try:
        master.wait_for_workers(60)
        os.kill(master.pid, 9)
        master.process.proc.wait(timeout=10)
        with pytest.raises(UserError, match="the Locust master stopped answering"):
            master.trial(["Plaintext"], 1, {})
    finally:
        master.stop()
        worker.kill()  # no master left to tell it to quit
        worker.wait(timeout=10)
    assert not master.folder.exists()


def test_the_guide_gives_the_command_the_run_prints():
    from bench.load.locust_runner import worker_command

    command = worker_command(Plan(master_bind="10.0.0.5", master_port=5557))
    assert command == "locust -f scenarios --worker --master-host 10.0.0.5 --master-port 5557"
    guide = (REPO / "docs" / "distributed.md").read_text()
    assert f".venv/bin/{command}" in guide and "docker compose -f docs/docker-compose.yml up" in guide
    compose = (REPO / "docs" / "docker-compose.yml").read_text()
    assert "--worker" in compose and "${MASTER_HOST:?" in compose
