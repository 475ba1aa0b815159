"""The tune report of a `--knob processes` folder, built from a synthetic tune.json."""

import json

import pytest

from bench.record.tune import TuneData
from bench.tune import processes as tune_processes
from reports.build import build_report

pytestmark = pytest.mark.report

CURVE = [(1, 2000, 5, 12), (2, 3600, 6, 12), (4, 4000, 9, 12), (8, 4100, 30, 12)]


def _record() -> dict:
    points = [{"keepalive": "on", "value": n, "rps": r, "p99_ms": q, "pss_mb": m, "requests_per_cpu_second": r / 2,
               "generator_bound": False, "flags": [],
               "trials": [{"trial": 1, "dir": f"trials/00{i}-p{n}", "users": 2 * n, "bottleneck": "server",
                           "flags": []}]}
              for i, (n, r, q, m) in enumerate(CURVE, 1)]
    data = {"schema": 2, "kind": "tune", "run_id": "x", "created": "2026-11-26T00:00:00Z", "complete": True,
            "plan": {"knob": "processes", "values": [1, 2, 4, 8], "workload": "db", "variant": "pooled",
                     "keepalive": ["on"], "max_p99_ms": 100, "memory_budget_mb": 40,
                     "memory_budget_scope": "total"},
            "stack": {"pool_size": 1, "pg_max_connections": 100}, "environment": {}, "points": points,
            "missing": [], "modes": {}, "dropped": ["8 processes (x 12.0 MB PSS passes --memory-budget)"]}
    sizing, advice = tune_processes.conclude(TuneData.from_json(data))
    data["sizing"], data["advice"] = sizing.to_json(), advice.to_json()
    return data


def test_processes_report_marks_the_binding_constraint(tmp_path):
    data = _record()
    assert data["sizing"]["binding"] == "memory" and data["sizing"]["value"] == 2
    (tmp_path / "tune.json").write_text(json.dumps(data))
    html = build_report(tmp_path).read_text()
    md = (tmp_path / "report" / "report.md").read_text()
    assert "MaxRequestWorkers 2" in md and "memory budget allows (binding)" in md
    assert "Memory bound it" in html and "8 processes" in md
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["knob"] == "processes" and set(summary["figures"]) == {"sizing1-throughput", "sizing2-memory"}
    assert (tmp_path / "report" / "sizing2-memory.png").exists()


def test_processes_tune_json_next_to_results_json_adds_its_own_section(tmp_path):
    import shutil
    from pathlib import Path

    from reports.tune.section import tune_sections

    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "runs" / "20261126-010203", run)
    (run / "tune.json").write_text(json.dumps(_record()))
    [section] = tune_sections(run)
    md = (build_report(run).parent / "report.md").read_text()
    assert section.title == "Process count (bench tune --knob processes)"
    assert "## Process count (bench tune --knob processes)" in md and "## MaxConnectionsPerChild" not in md
    assert "MaxRequestWorkers 2" in md and "memory budget allows (binding)" in md
    # A mod_wsgi sweep is titled so; older records, which name no server, were mod_python's.
    (tmp_path / "tune.json").write_text(json.dumps(_record() | {"stack": {"server": "mod_wsgi"}}))
    assert "mod_wsgi process-pool sizing" in build_report(tmp_path).read_text()
