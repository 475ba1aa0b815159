"""`bench tune` on the real stack: recycling really happens, the model's inputs come from the data."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, bench_cli, make_state_dir

from bench.load import access_log
from bench.record.tune import SCHEMA as TUNE_SCHEMA
from bench.stack import procs

pytestmark = pytest.mark.integration

COMMON = ["--duration", "5", "--warmup", "1", "--trials", "1", "--processes", "2", "--users", "2", "--no-report",
          "--confirm-max-duration", "6"]


def tune_env(tmp_path: Path) -> dict:
    return {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}


def tune_json(env: dict) -> dict:
    run = sorted(Path(env["BENCH_RUNS_DIR"]).iterdir())[-1]
    return json.loads((run / "tune.json").read_text())


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    env = tune_env(tmp_path_factory.mktemp("tune"))
    # 10 s trials (COMMON's 5, given again after it) and connections of 11 requests (MaxKeepAliveRequests 10):
    # a busy test machine must still fit whole lives in the window. At N = 1 Apache replaces one child per
    # maintenance tick (1 s) plus the new child's cold start: 1 child/s on an idle machine, one per 3 s on a
    # busy CI machine, where a 6 s window once held 2 children (and a 4.7 s one no whole 101-request life).
    r = bench_cli("tune", "--workload", "db", "--values", "0,1", "--keepalive", "on", "--max-keepalive-requests",
                  "10", "--port", str(procs.free_port()), *COMMON, "--duration", "10", env=env, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    return r, tune_json(env), env


@pytest.mark.lane("sweeps-2")  # with the other tests of `sweep`
def test_recycling_really_happened(sweep):
    _, data, env = sweep
    points = {p["value"]: p for p in data["points"]}
    assert set(points) == {0, 1} and data["complete"] and data["missing"] == []
    assert points[0]["children_seen"] == 2 and points[1]["children_seen"] >= 2
    assert points[0]["children_spawned_per_s"] == 0 and points[1]["children_spawned_per_s"] > 0
    # Over the whole trial (warm-up, window, stop), not the window alone: how many children the recycling
    # point's window holds depends on how fast the machine forks and warms them (above).
    run = next(Path(env["BENCH_RUNS_DIR"]).iterdir())
    served = {e.pid for e in access_log.read(run / points[1]["trials"][0]["dir"] / "access.log")}
    assert len(served) > 2, served
    # Apache counts connections: with keep-alive one connection carries MaxKeepAliveRequests (10) + 1
    # requests, so "1 per child" is 11 requests per child.
    assert points[1]["requests_per_connection"] == pytest.approx(11, abs=1)
    assert points[1]["requests_per_child"] == pytest.approx(11, abs=1)
    assert "MaxConnectionsPerChild 1\n" in (run / points[1]["trials"][0]["dir"] / "httpd.conf").read_text()


def test_model_inputs_are_derived_from_the_data(sweep):
    out, data, _ = sweep
    mode = data["modes"]["on"]
    points = {p["value"]: p for p in data["points"]}
    model = mode["model"]
    assert model["r0"] == points[0]["rps"]
    assert model["per_process_rps"] == pytest.approx(points[0]["rps"] / 2, rel=1e-3)
    assert model["child_max_rps"] == pytest.approx(1000 / points[0]["service_ms_mean"], rel=1e-3)
    # Warm-up: the %D excess of the new children that lived long enough to show their warm level (here
    # N = 0's: an 11-request life does not), start-up: the recycling point's.
    warm = [p["warmup_ms"] for p in points.values() if p.get("warmup_children")]
    expected_cost = float(np.median(warm)) + (points[1]["startup_ms"] or 0)
    assert model["child_cost_ms"] == pytest.approx(expected_cost, abs=1e-3)
    assert points[0]["warmup_children"] == 2 and points[0]["warmup_ms"] is not None
    assert points[1]["warmup_cold_ms"] > 0 and points[1]["startup_ms"] is not None
    assert model["requests_per_connection"] == pytest.approx(11, abs=1)
    assert {c["value"] for c in mode["check"]} == {0, 1}
    assert mode["max_error"] == max(c["error"] for c in mode["check"] if c["recycled"])
    assert [c["recycled"] for c in mode["check"]] == [False, True]
    check5 = mode["check"][1]
    assert check5["error"] == abs(check5["signed_error"])
    assert data["advice"]["directives"][0].startswith("MaxConnectionsPerChild ")
    assert "KeepAlive On" in data["advice"]["directives"]
    assert "recommended:" in out.stdout


def test_a_life_longer_than_the_cap_is_said_not_measured(sweep):
    out, data, env = sweep
    conf = data["confirmation"]
    # Keep-alive on: N connections are N x 11 requests, so at the model's N a child outlives a 6 s trial.
    # A capped trial there would replace no child and read noise as a loss: the step says so instead.
    assert conf["mode"] == "on" and conf["observable"] is False and conf["life_s"] > 6
    assert conf["status"] in ("bounded", "not observable")
    if conf["status"] == "not observable":
        assert conf["value"] is None and data["advice"]["confirmed"] is False and "UNCONFIRMED" in out.stdout
        assert f"--confirm-max-duration {conf['needed_s']:g}" in conf["sentence"]
        assert conf["sentence"] in data["advice"]["reasoning"]
    else:
        assert conf["measured_at"] < conf["value"] and "loses at most" in conf["sentence"]
    assert "recycling there cannot be observed" in out.stdout


@pytest.mark.lane("sweeps-2")
def test_confirmation_measured_the_recommended_value(tmp_path):
    env = tune_env(tmp_path)
    # Keep-alive off and a loose limit: the model's N is small enough that children are replaced inside
    # an 8 s trial (a life of about 2.5 s: the loss is about the 1-2 s empty slot per life), so the
    # confirmation observes recycling.
    r = bench_cli("tune", "--workload", "db", "--values", "0,20", "--keepalive", "off", "--max-loss", "60",
                  "--port", str(procs.free_port()), *COMMON, "--confirm-max-duration", "8", env=env, timeout=400)
    assert r.returncode == 0, r.stderr + r.stdout
    data = tune_json(env)
    conf = data["confirmation"]
    n = int(data["advice"]["directives"][0].split()[1])
    # The printed recommendation is the value the confirmation ended on: measured, or (a loaded machine, where the
    # measured N lost more than the limit) a larger N whose lives no capped trial holds, printed UNCONFIRMED.
    assert conf["mode"] == "off" and conf["value"] == n, conf
    if conf["status"] == "not observable":
        assert data["advice"]["confirmed"] is False and "UNCONFIRMED" in r.stdout, conf
    else:
        assert data["advice"]["confirmed"] is True, conf
        assert conf["status"] in ("confirmed", "smaller", "larger", "memory wins", "over the limit")
    first = conf["rounds"][0]
    assert first["values"][0] == 0 and conf["model_value"] in first["values"]
    # Interleaved 0, N (and its neighbours near the limit), 0, N ... with at least 2 trials each, each on a
    # fresh Apache with that MaxConnectionsPerChild.
    assert [t["value"] for t in first["trials"]] == first["values"] * 2
    run = next(Path(env["BENCH_RUNS_DIR"]).iterdir())
    for t in first["trials"]:
        assert t["dir"].startswith("confirm/") and t["rps"] > 0
        assert f"MaxConnectionsPerChild {t['value']}\n" in (run / t["dir"] / "httpd.conf").read_text()
    if conf["status"] == "not observable":  # what was measured is a smaller N, over the limit
        assert conf["results"] and all(r["value"] < n for r in conf["results"]), conf
        return
    result = next(r for r in conf["results"] if r["value"] == n)
    assert result["trials"] >= 2 and result["base_trials"] >= 2 and result["observed"] is True
    assert result["measured_loss"] is not None and result["predicted_loss"] is not None
    lo, hi = result["loss_ci95"]
    assert lo <= result["measured_loss"] <= hi
    assert result["rss_mb_end_of_life"] > 0 and result["pss_mb_end_of_life"] > 0
    assert f"N = {n:<6} measured loss" in r.stdout and "confirmation (keep-alive off" in r.stdout


def test_no_confirm_says_unconfirmed(tmp_path):
    env = tune_env(tmp_path)
    r = bench_cli("tune", "--workload", "db", "--values", "0", "--keepalive", "on", "--no-confirm",
                  "--port", str(procs.free_port()), *COMMON, env=env, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    data = tune_json(env)
    assert data["confirmation"] == {"status": "skipped"} and data["advice"]["confirmed"] is False
    assert "UNCONFIRMED" in r.stdout and "Unconfirmed: --no-confirm" in data["advice"]["reasoning"]
    assert [p["value"] for p in data["points"]] == [0] and data["complete"]


def test_leaky_growth_is_measured(sweep, tmp_path):
    env = tune_env(tmp_path)
    # 8 s (COMMON's 5, given again after it): the slope is fitted to the second half of the window's RSS
    # samples, and a busy machine once left fewer than the 4 it needs in a 4 s window.
    r = bench_cli("tune", "--workload", "leaky", "--values", "0", "--keepalive", "on",
                  "--port", str(procs.free_port()), *COMMON, "--duration", "8", env=env, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    leaky = tune_json(env)["points"][0]
    pooled = {p["value"]: p for p in sweep[1]["points"]}[0]
    # The leak keeps 2 KB (plus a dict entry) per request. The slope is fitted to the second half of a short
    # window (a few RSS samples), which on a busy machine once read 1.88: 1.2 still tells it from flat (pooled's
    # < 0.5 below).
    assert leaky["growth_kb_per_request"] >= 1.2
    # ... and the children end visibly bigger than they started (how much depends on how many requests this
    # machine served in the short trial: the rate above is what is asserted).
    assert leaky["rss_mb_end_of_life"] > leaky["fresh_rss_mb"] + 1
    # pooled keeps nothing per request: flat (well under the leak's 2 KB). Full-suite runs once saw ~4 KB
    # here; Apache now starts with a clean environment (issue 9 items 10 and 14).
    assert abs(pooled["growth_kb_per_request"]) < 0.5, pooled["growth_kb_per_request"]


def test_interrupted_sweep_keeps_points(tmp_path):
    env = tune_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "bench", "tune", "--workload", "db", "--values", "0,1,2",
                             "--keepalive", "on", "--port", str(procs.free_port()), "--duration", "3",
                             "--warmup", "1", "--trials", "1", "--processes", "2", "--users", "2", "--no-report"],
                            cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = list(tmp_path.iterdir())
        if runs and (runs[0] / "tune.json").exists() and json.loads((runs[0] / "tune.json").read_text())["points"]:
            break
        time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Traceback" not in err
    data = tune_json(env)
    assert data["complete"] is False
    assert 1 <= len(data["points"]) < 3
    assert {m["value"] for m in data["missing"]} == {0, 1, 2} - {p["value"] for p in data["points"]}
    assert procs.processes_mentioning(env["BENCH_STATE_DIR"]) == []


@pytest.mark.parametrize("args,message", [
    (["--workload", "nope"], "--workload 'nope' is unknown"),
    (["--variant", "fast"], "--variant 'fast' is unknown"),
    (["--values", "1,a"], "--values '1,a' is not a comma list"),
    (["--memory-budget", "lots"], "--memory-budget 'lots' is not valid"),
])
def test_bad_input_before_anything_starts(tmp_path, args, message):
    env = tune_env(tmp_path)
    r = bench_cli("tune", *args, env=env, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and message in r.stderr
    assert r.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.lane("sweeps-1")
def test_processes_sweep_recommends_max_request_workers(tmp_path):
    env = tune_env(tmp_path)
    # --max-p99 out of reach: with keep-alive on, p99 at 2 x N users is the wait for a whole kept-alive
    # connection (328 ms once on a loaded machine), which would bind the default 100 ms bound by chance. The
    # p99 bound is tests/bench/test_sizing.py's; this one checks the sweep and the knee's directive.
    r = bench_cli("tune", "--knob", "processes", "--workload", "db", "--values", "1,2", "--keepalive", "on",
                  "--max-p99", "60000", "--port", str(procs.free_port()), "--duration", "4", "--warmup", "1",
                  "--trials", "1", "--users", "2", "--no-report", env=env, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    data = tune_json(env)
    assert data["schema"] == TUNE_SCHEMA and data["plan"]["knob"] == "processes" and data["complete"]
    points = {p["value"]: p for p in data["points"]}
    assert set(points) == {1, 2}
    for n, p in points.items():
        t = p["trials"][0]
        assert t["users"] == max(2 * n, 2) and t["bottleneck"] in ("server", "generator", "shared", "load")
        assert p["pss_mb"] > 0 and p["requests_per_cpu_second"] > 0
        assert f"MaxRequestWorkers {n}\n" in (Path(env["BENCH_RUNS_DIR"]).iterdir().__next__() / t["dir"]
                                             / "httpd.conf").read_text()
    n = data["sizing"]["value"]
    assert n in (1, 2) and f"MaxRequestWorkers {n}" in data["advice"]["directives"]
    assert f"    MaxRequestWorkers {n}\n" in r.stdout and "bound it" in r.stdout
    assert procs.processes_mentioning(env["BENCH_STATE_DIR"]) == []


@pytest.mark.slow(38)
def test_processes_sweep_sizes_on_the_capacity_at_an_slo(tmp_path):
    # --slo: each count's point is an SLO search (open model) on its own fresh Apache; the knee is on capacity
    env = tune_env(tmp_path)
    # naive: a capacity (~80 req/s) far under the generator's ceiling, so no probe is repeated for the generator.
    # One count: a search is 5-8 trials (choosing between counts is tests/bench/test_sizing.py's).
    r = bench_cli("tune", "--knob", "processes", "--workload", "db", "--variant", "naive", "--values", "2",
                  "--keepalive", "off", "--slo", "p99<300ms", "--port", str(procs.free_port()), "--duration", "3",
                  "--warmup", "0.5", "--users", "2", "--trials", "1", "--no-report", env=env, timeout=400)
    assert r.returncode == 0, r.stderr + r.stdout
    data = tune_json(env)
    run = next(Path(env["BENCH_RUNS_DIR"]).iterdir())
    assert data["complete"] and data["plan"]["slo"] == "p99<300ms" and data["plan"]["latency_model"] == "open"
    assert data["plan"]["max_p99_ms"] is None
    for p in data["points"]:
        t = p["trials"][0]
        assert t["probes"] >= 2 and t["closed_rps"] > 0 and t["users"] == max(2 * p["value"], 2)
        probe = json.loads((run / t["dir"] / "trial.json").read_text())
        # the point's figures are those of the probe at its capacity: an open trial offered that rate, met it
        assert probe["latency_model"] == "open" and probe["open"]["rate"] == p["rps"] == t["rps"]
        assert probe["open"]["p99_ms"] == t["p99_ms"] < 300 and probe["open"]["dropped"] == 0
        assert t["dir"].startswith(f"trials/001-p{p['value']}/slo/")
        assert f"MaxRequestWorkers {p['value']}\n" in (run / t["dir"] / "httpd.conf").read_text()
        assert t["capacity_per_process"] == pytest.approx(p["rps"] / p["value"], rel=0.01)
    assert [p["value"] for p in data["points"]] == [2] and data["sizing"]["value"] == 2
    assert "    MaxRequestWorkers 2\n" in r.stdout
    assert "at SLO: the largest offered rate that met p99<300ms" in r.stdout
    assert "(open model, latency from the intended start) up to" in data["advice"]["reasoning"]
    assert procs.processes_mentioning(env["BENCH_STATE_DIR"]) == []
