"""Two machines on one: Locust workers in a network namespace drive `bench run --workers 2` over a veth pair.

The stack (Apache `--listen`) and the run's one Locust master listen on the root side of the veth; two
workers run inside the namespace, pinned to the generator CPU, started once before the run with Locust's
plain worker command (docs/distributed.md). They serve every trial and end with the run's master. Killing
one during trial 2 is a flagged fault (or, with --workers-min 2, the run stops in one line). Everything made
here is removed in `finally`.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, bench_cli, locust_masters, make_state_dir

from bench.stack import cpus, procs

pytestmark = [pytest.mark.integration, pytest.mark.slow(64),
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                 reason="needs root and iproute2 (`ip netns`)")]


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


def _worker(ns: str, master: str, port: int, cpu: int) -> subprocess.Popen:
    """Locust's own worker command; `ip netns exec` and `taskset` exec it, so its pid is the worker's."""
    locust = f"{REPO}/.venv/bin/locust"
    return subprocess.Popen(["ip", "netns", "exec", ns, "taskset", "-c", str(cpu), locust, "-f", "scenarios",
                             "--worker", "--master-host", master, "--master-port", str(port), "--loglevel", "WARNING"],
                            cwd=REPO, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=5)


def _run_args(root: str, port: int, *extra: str, duration: int = 8, variants: str = "naive,pooled",
              trials: int = 2) -> list[str]:
    return ["run", "--workers", "2", "--master-bind", root, "--master-port", str(port), "--listen", root,
            "--port", str(procs.free_port()), "--workloads", "db", "--variants", variants, "--trials", str(trials),
            "--duration", str(duration), "--warmup", "2", "--users", "4", *extra]


def _trials(runs: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(runs.glob("*/trials/*/trial.json"))]


def _nothing_left(ns: str, workers: list[subprocess.Popen], env: dict, port: int) -> None:
    # the run's master told the workers to quit: they end by themselves (bounded), exit status 0 or -9 (killed)
    for w in workers:
        w.wait(timeout=30)
    assert procs.processes_mentioning(env["BENCH_STATE_DIR"]) == []
    assert locust_masters(port) == []
    deadline = time.monotonic() + 10
    while _ip("netns", "pids", ns).stdout.strip() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ip("netns", "pids", ns).stdout.strip() == ""


def test_two_workers_started_once_serve_every_trial(namespace, tmp_path):
    ns, root, _inside = namespace
    generator = max(cpus.available())
    master_port = procs.free_port()
    env = {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}
    workers = [_worker(ns, root, master_port, generator) for _ in range(2)]
    try:
        # naive serves ~50 req/s here: 12 s of steady window, so that the few requests in flight at the
        # window's edges stay small against a trial's count
        r = bench_cli(*_run_args(root, master_port, duration=14, trials=1), env=env, timeout=600)
        _nothing_left(ns, workers, env, master_port)
    finally:
        for w in workers:
            _stop(w)
    assert r.returncode == 0, r.stderr[-3000:] + r.stdout[-3000:]
    assert f"Apache listens on {root}" in r.stderr and "locust -f scenarios --worker --master-host" in r.stderr
    assert [w.returncode for w in workers] == [0, 0]  # told to quit by the master at the run's end
    trials = _trials(tmp_path)
    assert [(t["variant"], t["trial"]) for t in trials] == [("naive", 1), ("pooled", 1)]
    pids = {w.pid for w in workers}
    for t in trials:
        print(f"{t['dir']}: access log {t['server']['requests']}, Locust {t['locust']['requests']}, "
              f"off by {t['access_vs_locust']}; workers " +
              ", ".join(f"pid {w['pid']} {w['requests']} req {w['cpu_pct']}% CPU" for w in t["workers"].values()) +
              f"; master {t['cpu']['master_pct']}% CPU")
        # the same two processes, started once, served both trials
        assert {w["pid"] for w in t["workers"].values()} == pids
        assert all(w["cpu_pct"] is not None and w["requests"] > 0 for w in t["workers"].values())
        assert sum(w["requests"] for w in t["workers"].values()) == t["locust"]["requests"]
        assert t["cpu"]["generator_pct"] == max(w["cpu_pct"] for w in t["workers"].values())
        assert t["cpu"]["master_s"] is not None
        # the workers' merged count matches the server's own access log over the same window: within 1% and
        # the requests in flight at its two edges (2 per user), as in tests/bench/test_run.py
        client, server = t["locust"]["requests"], t["server"]["requests"]
        assert server > 0 and abs(client - server) <= 0.01 * client + 2 * 4, (client, server)
        assert t["faults"] == []
    assert f"Listen {root}:" in next(Path(tmp_path).glob("*/httpd.conf")).read_text()
    # the report's generator section names each worker's CPU share
    report = next(Path(tmp_path).glob("*/report/report.md")).read_text()
    section = report[report.index("## Load generator"):]
    for pid in pids:
        assert re.search(rf"\| [^|]*{pid}[^|]* \| [0-9,]+ \| [0-9.]+% \|", section), section[:1500]


@pytest.mark.parametrize("minimum", [1, 2])
def test_a_worker_killed_during_trial_2_is_a_fault_or_stops_the_run(namespace, tmp_path, minimum):
    ns, root, _inside = namespace
    generator = max(cpus.available())
    master_port = procs.free_port()
    env = {**os.environ, "BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}
    workers = [_worker(ns, root, master_port, generator) for _ in range(2)]
    # pooled only, 3 trials: trial 1 whole, a worker killed in trial 2, trial 3 with the other worker (or none)
    args = _run_args(root, master_port, "--workers-min", str(minimum), "--no-report", variants="pooled", trials=3)
    run = subprocess.Popen([sys.executable, "-m", "bench", *args],
                           cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        # the sampler's file appears once trial 2's load began (after Apache's restart and the workers' rejoin,
        # which on a busy machine took longer than a fixed sleep after the trial's folder appeared)
        while (not list(tmp_path.glob("*/trials/002-*/samples.jsonl")) and time.monotonic() < deadline
               and run.poll() is None):
            time.sleep(0.2)
        time.sleep(3)  # into trial 2's steady window (2 s warm-up of 8 s)
        workers[0].kill()
        out, err = run.communicate(timeout=400)
        _nothing_left(ns, workers, env, master_port)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for w in workers:
            _stop(w)
    trials = _trials(tmp_path)
    lost = [f for f in trials[1]["faults"] if f.startswith("Locust worker")]
    print(f"--workers-min {minimum}: exit {run.returncode}; trial 2 flags {trials[1]['flags']}; "
          f"stderr tail {err.strip().splitlines()[-1:]}")
    assert trials[0]["faults"] == [] and len(lost) == 1 and "lost at +" in lost[0], trials[1]["faults"]
    assert sum(1 for w in trials[1]["workers"].values() if w.get("lost")) == 1
    if minimum == 1:  # the run goes on with the other worker, every later trial says so
        assert run.returncode == 0, err[-3000:]
        assert len(trials) == 3
        assert all(len([w for w in t["workers"].values() if not w.get("lost")]) == 1 for t in trials[2:])
        assert all(any("1 of 2 Locust workers" in f for f in t["faults"]) for t in trials[2:])
    else:  # one clear line, exit 1, the finished trials kept
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert run.returncode == 1 and "Traceback" not in err
        assert len(errors) == 1 and "--workers-min 2" in errors[0], err[-2000:]
        assert len(trials) == 2
