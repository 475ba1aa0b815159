"""The open model on the real stack (Apache + mod_python + PostgreSQL, Locust as a subprocess).

- `locust -f scenarios --bench-rate`: pooled db at a rate it can serve meets it; naive db offered far more
  than it can serve counts late requests and its latency from the intended start grows to seconds while
  Locust's own (from the send) stays at the service time; --bench-fail-on exits 0 met, 3 broken, 1 malformed.
- `bench run --rate ... --fail-on`: trial.json labels the load model, carries the open figures and the
  accept queue, results.json the per-rate table, and the run exits 3 naming the broken threshold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, bench_cli, make_state_dir, remove_state_dir

from bench.stack import procs

pytestmark = pytest.mark.integration

SCENARIOS = REPO / "scenarios"


def locust(url: str, cls: str, out: Path, *extra: str, seconds: int = 6, users: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "locust", "-f", str(SCENARIOS), "--headless", "--host", url, "-u", str(users),
           "-r", str(users), "-t", f"{seconds}s", "--stop-timeout", "3", "--only-summary", "--loglevel", "INFO",
           "--bench-warmup", "1", "--bench-open-out", str(out), *extra, cls]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=REPO, start_new_session=True)


def test_pooled_meets_a_rate_it_can_serve_and_passes_its_thresholds(live_stack, tmp_path: Path) -> None:
    out = tmp_path / "open.json"
    done = locust(live_stack.url, "PooledDb", out, "--bench-rate", "100", "--bench-fail-on", "p99<2s,dropped=0")
    assert done.returncode == 0, done.stderr[-2000:]
    s = json.loads(out.read_text())
    assert s["model"] == "open" and s["latency_from"] == "intended start" and s["rate"] == 100
    assert 0.8 * 100 <= s["rps"] <= 1.1 * 100, s  # answered about what was offered
    assert s["dropped"] == 0 and s["unfinished"] <= 2
    assert s["hdr"] and s["p99_ms"] is not None
    assert "thresholds met (open model, latency from intended start)" in done.stderr


def test_naive_overloaded_latency_from_intended_start_grows_and_fail_on_exits_3(live_stack, tmp_path: Path) -> None:
    out = tmp_path / "open.json"
    done = locust(live_stack.url, "NaiveDb", out, "--bench-rate", "1500", "--bench-fail-on", "p99<50ms",
                  seconds=7)
    assert done.returncode == 3, done.stderr[-2000:]
    assert "threshold p99<50ms broken:" in done.stderr
    s = json.loads(out.read_text())
    assert s["rps"] < 0.5 * 1500  # 2 naive processes cannot answer 1500 req/s
    assert s["late"] > 0 and s["unfinished"] + s["dropped"] > 100
    assert s["p99_ms"] > 500  # the wait for a connection counts from the intended start
    means = [row[2] for row in s["timeline"]]
    assert means[-1] > 2 * means[0], s["timeline"]  # and grows with the run
    assert "DROPPED" in done.stderr or s["dropped"] == 0  # drops, when any, reach Locust's own table


def test_malformed_bench_fail_on_stops_locust_with_one_line(live_stack, tmp_path: Path) -> None:
    done = locust(live_stack.url, "PooledDb", tmp_path / "o.json", "--bench-fail-on", "p99<fast", seconds=2)
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert errors == ["error: --bench-fail-on: 'p99<fast' is not a threshold: use METRIC OP NUMBER[UNIT], e.g. "
                      "p99<50ms (metrics p50, p90, p99, p999, max, mean, rps, failures, failure_rate, dropped, "
                      "drop_rate, late, req_per_cpu_s; ops <, <=, >, >=, =)"]
    assert "Traceback" not in done.stderr


def test_bench_run_rate_labels_the_model_and_fails_on_a_broken_threshold(tmp_path: Path) -> None:
    state = make_state_dir()
    env = {"BENCH_STATE_DIR": str(state), "BENCH_RUNS_DIR": str(tmp_path)}
    try:
        r = bench_cli("run", "--rate", "400", "--workloads", "db", "--variants", "naive", "--trials", "1",
                      "--duration", "6", "--warmup", "2", "--users", "2", "--processes", "2", "--no-report",
                      "--port", str(procs.free_port()), "--fail-on", "p99<50ms,failures=0", env=env, timeout=300)
    finally:
        remove_state_dir(state)
    assert r.returncode == 3, r.stderr[-2000:] + r.stdout[-2000:]
    assert "fail-on: p99<50ms broken in db/naive at 400 req/s (open model, latency from intended start)" in r.stdout
    assert "failures=0 broken" not in r.stdout
    run = sorted(tmp_path.iterdir())[-1]
    trial = json.loads(next(run.glob("trials/*/trial.json")).read_text())
    assert trial["latency_model"] == "open" and trial["open"]["rate"] == 400
    assert trial["open"]["p99_ms"] > trial["locust"]["p99_ms"]  # from the intended start vs from the send
    assert trial["accept_queue"]["samples"] >= 3 and "p50_ms" in trial["queue_time"]
    assert (run / trial["dir"] / "open.json").exists() and (run / trial["dir"] / "accept_queue.jsonl").exists()
    rows = json.loads((run / "results.json").read_text())["offered_rate"]
    assert [(x["variant"], x["rate"], x["met"]) for x in rows] == [("naive", 400, False)]
    assert "open model (--rate): latency from the intended start" in r.stdout
