"""Two machines on one: Locust workers in a network namespace drive `bench run --workers 2` over a veth pair.

The stack (Apache `--listen`) and the Locust master listen on the root side of the veth; two workers run
inside the namespace, pinned to the generator CPU, in the restart loop the suite tells users to run (the
master of each trial tells its workers to quit). Everything made here is removed in `finally`.
"""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, bench_cli, make_state_dir

from bench import cpus, procs

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="needs root and iproute2 (`ip netns`)")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


@pytest.fixture
def namespace():
    """(name, root-side address, inside address); the namespace and the veth are gone afterwards."""
    n = os.getpid() % 16000  # one /30 per test process, so parallel sessions do not collide
    net = 4 * n
    root, inside = f"10.231.{net >> 8}.{(net & 255) + 1}", f"10.231.{net >> 8}.{(net & 255) + 2}"
    name, veth, peer = f"mpb-{n}", f"mpb{n}a", f"mpb{n}b"
    try:
        _ip("netns", "add", name)
        _ip("link", "add", veth, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", name)
        _ip("addr", "add", f"{root}/30", "dev", veth)
        _ip("link", "set", veth, "up")
        for cmd in (["addr", "add", f"{inside}/30", "dev", peer], ["link", "set", peer, "up"],
                    ["link", "set", "lo", "up"]):
            _ip("netns", "exec", name, "ip", *cmd)
        yield name, root, inside
    finally:
        _ip("netns", "del", name, check=False)
        _ip("link", "del", veth, check=False)  # gone with its peer already, unless the move failed
        assert name not in _ip("netns", "list").stdout
        assert _ip("link", "show", veth, check=False).returncode != 0


def _worker_loop(ns: str, master: str, port: int, cpu: int) -> subprocess.Popen:
    locust = f"{REPO}/.venv/bin/locust"
    loop = (f"while :; do ip netns exec {ns} taskset -c {cpu} {locust} -f scenarios --worker "
            f"--master-host {master} --master-port {port} --loglevel WARNING; sleep 0.5; done")
    return subprocess.Popen(["bash", "-c", loop], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def test_two_workers_in_a_namespace_drive_the_run(namespace, tmp_path):
    ns, root, _inside = namespace
    generator = max(cpus.available())
    master_port = procs.free_port()
    env = {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}
    loops = [_worker_loop(ns, root, master_port, generator) for _ in range(2)]
    try:
        r = bench_cli("run", "--workers", "2", "--master-bind", root, "--master-port", str(master_port),
                      "--listen", root, "--port", str(procs.free_port()), "--workloads", "db", "--variants",
                      "pooled", "--trials", "1", "--duration", "8", "--warmup", "2", "--users", "4", "--no-report",
                      env=env, timeout=400)
    finally:
        for loop in loops:
            _stop(loop)
    assert r.returncode == 0, r.stderr[-3000:] + r.stdout[-3000:]
    assert f"Apache listens on {root}" in r.stderr and "--worker --master-host" in r.stderr
    trial = json.loads(next(Path(tmp_path).glob("*/trials/*/trial.json")).read_text())
    workers = trial["workers"]
    assert len(workers) == 2 and all(w["cpu_pct"] is not None for w in workers.values())
    assert trial["cpu"]["generator_pct"] == max(w["cpu_pct"] for w in workers.values())
    # the workers' merged count matches the server's own access log over the same window
    assert trial["server"]["requests"] > 0 and trial["access_vs_locust"] <= 0.01, trial["access_vs_locust"]
    assert f"Listen {root}:" in next(Path(tmp_path).glob("*/httpd.conf")).read_text()
    assert procs.processes_mentioning(env["BENCH_STATE_DIR"]) == []
    # The workers are gone with their loops: a loop's leader is reaped first, a loaded machine may take a moment
    # longer to end the worker it ran (bounded wait, then the same assertion).
    deadline = time.monotonic() + 10
    while _ip("netns", "pids", ns).stdout.strip() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ip("netns", "pids", ns).stdout.strip() == ""
