"""`bench run` measures the server, not the generator, and survives faults: real Apache, PostgreSQL, Locust, wrk.

- every trial names its bottleneck, and the label is what the recorded utilisations give;
- --cross-check puts wrk beside Locust on each cell and measures the generator's ceiling;
- a PostgreSQL restart and a killed Apache child during trials are recorded and flagged, the run goes on.
"""

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import bench_cli, make_state_dir

from bench import stack
from bench.record import bottleneck
from bench.stack import procs

pytestmark = [pytest.mark.integration, pytest.mark.slow(50)]

SHORT = ["--trials", "1", "--duration", "6", "--warmup", "2", "--users", "2", "--processes", "2", "--no-report"]


def run_folder(runs: Path) -> Path:
    found = sorted(runs.iterdir())
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def crosscheck_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    env = {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(runs)}
    r = bench_cli("run", "--workloads", "db", "--variants", "naive,pooled", "--cross-check",
                  "--port", str(procs.free_port()), *SHORT, env=env, timeout=400)
    assert r.returncode == 0, r.stderr + r.stdout
    run_dir = run_folder(runs)
    return r, json.loads((run_dir / "results.json").read_text())


def test_every_trial_names_its_bottleneck_from_its_utilisations(crosscheck_run):
    _, data = crosscheck_run
    server_cpus = len(data["stack"]["server_cpus"].split(",")) if data["stack"]["server_cpus"] else None
    assert data["stack"]["server_cpus"] and data["plan"]["generator_cpus"], "the default partitions 2+ CPUs"
    for cell in data["results"]:
        for t in cell["trials"]:
            b = t["bottleneck"]
            assert b["bottleneck"] in bottleneck.LABELS
            # Classify again from what the trial recorded: the stored label must follow from it.
            window = t["steady"][1] - t["steady"][0]
            again = bottleneck.classify(
                window_s=window, server_cpu_s=t["cpu"]["server_s"], server_cpus=server_cpus,
                generator_cpu_s=t["cpu"]["generator_s"], generator_cpus=1,
                generator_busiest_pct=t["cpu"]["generator_pct"], shared_cpus=False, users=t["users"],
                mean_ms=t["locust"]["mean_ms"],
                server_set_busy_s=None if b["server_set_util"] is None else b["server_set_util"] * window * server_cpus,
                generator_set_busy_s=None if b["generator_util"] is None else b["generator_util"] * window)
            assert again["bottleneck"] == b["bottleneck"], (again, b)
            if b["bottleneck"] == "server":
                assert max(b["server_util"], b["server_set_util"] or 0) >= bottleneck.SERVER_BUSY
            if b["bottleneck"] == "load":
                assert b["server_util"] < bottleneck.SERVER_BUSY and b["generator_busiest"] < bottleneck.GENERATOR_BUSY
        assert cell["summary"]["bottleneck"] in bottleneck.LABELS


def test_cross_check_and_honest_headline(crosscheck_run):
    r, data = crosscheck_run
    for cell in data["results"]:
        t = cell["trials"][0]
        assert t["wrk"]["rps"] > 0 and t["wrk"]["connections"] == 2 and t["wrk"]["errors"] == 0
        assert t["locust_vs_wrk"] == pytest.approx(t["locust"]["rps"] / t["wrk"]["rps"], rel=1e-3)
    ceiling = data["generator_ceiling"]
    assert ceiling["rps"] > 0 and ceiling["wrk_rps"] > 0 and ceiling["users"] == 2
    s = data["speedups"][0]
    assert set(s["bottlenecks"]) == {"naive", "pooled"}
    assert s["text"].endswith(")") or s["text"].endswith("x")
    if s["bottlenecks"]["pooled"] != "server" and s["bottlenecks"]["naive"] == "server":
        assert s["text"].startswith("at least")
    assert data["wrk_speedups"][0]["ratio"] > 1
    assert "pooled vs naive on db:" in r.stdout and "per server CPU-second" in r.stdout
    assert "generator ceiling" in r.stdout and "limit" in r.stdout


def _watch(runs: Path, trial_prefix: str, delay: float, action, done: threading.Event) -> threading.Thread:
    """Run `action` `delay` seconds after the load of a trial (folder `trial_prefix`...) began: its sampler
    file appears once Apache was restarted afresh and Locust started."""
    def loop():
        deadline = time.time() + 200
        while time.time() < deadline and not done.is_set():
            folders = list(runs.glob(f"*/trials/{trial_prefix}*/samples.jsonl"))
            if folders:
                time.sleep(delay)
                action()
                return
            time.sleep(0.1)
    th = threading.Thread(target=loop, daemon=True)
    th.start()
    return th


def test_postgres_restart_and_a_killed_child_are_recorded_and_the_run_goes_on(tmp_path):
    runs = tmp_path / "runs"
    state = make_state_dir()
    env = {"BENCH_STATE_DIR": str(state), "BENCH_RUNS_DIR": str(runs)}
    done = threading.Event()
    killed: list[int] = []

    def restart_postgres():
        stack.load(state).pg.restart()

    def kill_child():
        children = stack.load(state).apache.children()
        os.kill(children[0], signal.SIGKILL)
        killed.append(children[0])

    # the restart early and the trials 10 s: PostgreSQL's stop and start took up to 9 s on a busy machine, and
    # the restart is to happen inside the trial
    watchers = [_watch(runs, "001-", 1.5, restart_postgres, done), _watch(runs, "002-", 2.5, kill_child, done)]
    try:
        r = bench_cli("run", "--workloads", "db", "--variants", "pooled", "--trials", "2", "--duration", "10",
                      "--warmup", "1.5", "--users", "2", "--processes", "2", "--no-report",
                      "--port", str(procs.free_port()), env=env, timeout=300)
    finally:
        done.set()
        for w in watchers:
            w.join(timeout=5)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "Traceback" not in r.stderr
    data = json.loads((run_folder(runs) / "results.json").read_text())
    trials = data["results"][0]["trials"]
    assert len(trials) == 2 and data["complete"] is True
    first, second = trials
    assert any(f.startswith("postgres restarted at +") for f in first["faults"]), first["faults"]
    assert first["faults"][0] in first["flags"] and first["db_sessions"] is None
    assert killed, "the child was not killed"
    assert any("replaced" in f for f in second["faults"]), second["faults"]
    # Per process = per slot: the replacement does not make 2 slots look like 3 processes.
    assert second["slots"] == 2
    assert second["rps_per_process"] == pytest.approx(second["server"]["rps"] / 2, rel=1e-3)
    assert data["results"][0]["summary"]["faults"] == 2
    assert "postgres restarted" in r.stdout and "replaced" in r.stdout
