"""bench compare on requests per server CPU-second: its verdict beside req/s and p99, its own rule between
runs offered the same rate, the rule named on every verdict. Trial values are those measured on the real
stack (docs/open-model.md, "Comparing on req/CPU-s")."""

from __future__ import annotations

import json
from pathlib import Path

from reports_helpers import fixtures

from reports.cli import main
from reports.compare import CPU_MIN_CHANGE, CPU_RUN_NOISE, DEFAULT_MIN_CHANGE, DEFAULT_RUN_NOISE
from reports.compare.page import compare_runs

# pooled db at --rate 300, 3 trials of 20 s (an A/A pair of one commit, measured one after the other)
A1 = [1280.94, 1325.7, 1381.79]
A2 = [1298.0, 1377.97, 1337.4]


def _run(tmp_path: Path, run_id: str, cpu: list[float], rates: list[float] | None) -> Path:
    run = fixtures().make_run(tmp_path, run_id=run_id, trials=3, workloads=("db",), variants=("naive", "pooled"))
    data = json.loads((run / "results.json").read_text())
    data["plan"]["rates"] = rates
    for cell in data["results"]:
        if cell["variant"] == "pooled":
            for t, v in zip(cell["trials"], cpu, strict=True):
                t["requests_per_cpu_second"] = v
            cell["summary"]["requests_per_cpu_second"] = sorted(cpu)[1]
    (run / "results.json").write_text(json.dumps(data))
    return run


def _cpu(result, variant: str = "pooled"):
    return next(c for c in result.changes if c.metric == "requests_per_cpu_second" and c.variant == variant)


def test_an_aa_pair_at_one_rate_is_not_a_regression(tmp_path: Path) -> None:
    a, b = _run(tmp_path, "20261203-000001", A1, [300]), _run(tmp_path, "20261203-000002", A2, [300])
    result = compare_runs([a, b])
    c = _cpu(result)
    # Noise 0.02 gives an interval of at least +-5.5%: wider than the 5% threshold, so never "no change".
    assert c.verdict == "inconclusive" and result.exit_code == 4 and not result.regressions
    assert (c.run_noise, c.min_change) == (CPU_RUN_NOISE, CPU_MIN_CHANGE)  # its own rule, named
    assert c.noise_source == "req/CPU-s's own rule between runs offered the same rate"
    assert c.detectable is not None and not c.detectable.reachable


def test_a_15_percent_slower_handler_is_a_regression_on_req_per_cpu_s(tmp_path: Path, capsys) -> None:
    a = _run(tmp_path, "20261203-000001", A1, [300])
    slow = _run(tmp_path, "20261203-000002", [round(v * 0.85, 2) for v in A2], [300])
    code = main(["compare", str(a), str(slow), "--out", str(tmp_path / "cmp")])
    assert code == 3
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith("db pooled req/CPU-s: "))
    assert "regression: " in line and f"beyond +-{CPU_MIN_CHANGE:g}%" in line
    assert f"(noise {CPU_RUN_NOISE:g}, min {CPU_MIN_CHANGE:g}%)" in printed
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [c["verdict"] for c in data["cpu_changes"] if c["variant"] == "pooled"] == ["regression"]
    assert all(c["metric"] in ("rps", "p99_ms") for c in data["changes"])  # req/s and p99 as before


def test_closed_loop_runs_judge_req_per_cpu_s_with_the_default_rule(tmp_path: Path) -> None:
    a = _run(tmp_path, "20261203-000001", A1, None)
    slow = _run(tmp_path, "20261203-000002", [round(v * 0.9, 2) for v in A2], None)
    c = _cpu(compare_runs([a, slow]))
    assert (c.run_noise, c.min_change) == (DEFAULT_RUN_NOISE, DEFAULT_MIN_CHANGE)
    assert c.verdict == "inconclusive"  # a closed loop's req/CPU-s drifts with its throughput: not called
