"""`bench tune --quick` on the real stack with an application whose first request costs a second
(tests/apps/heavy): the model's cost of a new child comes from that cold first request, and a memory budget
with no measured growth does not choose N = 1."""

import json
from pathlib import Path

import pytest
from conftest import REPO, bench_cli, make_state_dir

from bench.stack import procs

pytestmark = pytest.mark.integration

HEAVY = REPO / "tests" / "apps" / "heavy"


def test_heavy_warm_up_is_the_cost_of_a_new_child(tmp_path: Path):
    env = {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}
    r = bench_cli("tune", "--app", str(HEAVY), "--app-handler", "heavy", "--app-option", "heavy.warmup_s=1.0",
                  "--app-option", "heavy.request_ms=10", "--paths", "/", "--values", "0,10", "--keepalive", "off",
                  "--memory-budget", "100MB", "--quick", "--no-confirm", "--processes", "2", "--users", "2",
                  "--no-report", "--port", str(procs.free_port()), env=env, timeout=240)
    assert r.returncode == 0, r.stderr + r.stdout
    data = json.loads((next(tmp_path.iterdir()) / "tune.json").read_text())
    points = {p["value"]: p for p in data["points"]}
    assert points[10]["children_spawned_per_s"] > 0  # the --quick trial was long enough to recycle
    cold = [p["warmup_cold_ms"] for p in points.values() if p.get("warmup_cold_ms")]
    assert cold and min(cold) >= 900  # the handler computes for 1 s on its first request
    mode = data["modes"]["off"]
    cost = mode["model"]["child_cost_ms"]
    assert max(cold) / 2 <= cost <= 2 * min(cold), (cost, cold)
    rec = mode["recommendation"]
    assert rec["value"] > 1 and rec["within"] is True, rec
    if mode["model"]["growth_kb_per_request"] is None:
        assert "not measured" in rec["memory_unmeasured"]
        assert "Memory did not constrain N" in data["advice"]["reasoning"]
    # The model predicts the p99 of N = 10, where one request in ten is a child's cold one.
    check = {c["value"]: c for c in mode["check"]}
    assert check[10]["predicted_p99_ms"] >= 900 and check[10]["measured_p99_ms"] >= 900
