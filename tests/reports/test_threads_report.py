"""The run report's per-process table (per_process_threads, bench.load.per_process), from a small synthetic
results.json of a --servers run comparing a threaded and a prefork shape: medians over trials of the
processes' medians, the GIL sentence only where a process is near a full core with well over one request in
service, and nothing of it when no trial recorded the figures."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest
from test_run_report import table

from reports.build import build_report

pytestmark = pytest.mark.report

THREADED, PREFORK = "mod_python:worker:1x4", "mod_python:prefork:4x1"


def _proc(pid: int, rps: float, busy: float, peak: int, cpu: float | None) -> dict[str, Any]:
    return {"pid": pid, "requests": int(rps * 10), "rps": rps, "busy_threads": busy, "busy_peak": peak,
            "cpu_pct": cpu, "requests_per_cpu_s": None if cpu is None else round(rps / (cpu / 100), 1)}


# Per cell, per trial, its serving processes. Threaded: one process near a full core, ~3 requests in service.
PROCS = {
    THREADED: [[_proc(11, 400.0, 3.2, 4, 97.0)], [_proc(12, 420.0, 3.0, 4, 95.0)], [_proc(13, 380.0, 3.4, 4, 99.0)]],
    PREFORK: [[_proc(21, 100.0, 0.4, 1, 30.0), _proc(22, 120.0, 0.6, 1, 40.0)],
              [_proc(23, 90.0, 0.5, 1, 20.0), _proc(24, 110.0, 0.7, 1, None)],
              [_proc(25, 130.0, 0.8, 1, 50.0), _proc(26, 150.0, 0.9, 1, 60.0)]],
}
THREADS = {THREADED: 4, PREFORK: 1}


def _results(recorded: bool) -> dict[str, Any]:
    results, order, seq = [], [], 0
    for server, trials in PROCS.items():
        rows = []
        for n, procs in enumerate(trials, 1):
            seq += 1
            t = {"seq": seq, "trial": n, "workload": "db", "variant": "pooled", "server_module": server,
                 "users": 8, "locust": {"rps": sum(p["rps"] for p in procs), "p99_ms": 9.0, "failures": 0},
                 "server": {"rps": sum(p["rps"] for p in procs), "processes": len(procs)}}
            if recorded:
                t |= {"threads": THREADS[server], "per_process_threads": procs}
            rows.append(t)
            order.append({"seq": seq, "trial": n, "workload": "db", "variant": "pooled", "server_module": server})
        results.append({"workload": "db", "variant": "pooled", "server": server, "trials": rows,
                        "summary": {"trials": len(rows), "rps": sorted(r["locust"]["rps"] for r in rows)[1]}})
    return {"schema": 1, "kind": "run", "run_id": "20261203-000000", "complete": True, "source": "bench",
            "plan": {"workloads": ["db"], "variants": ["pooled"], "servers": list(PROCS), "order": order},
            "results": results}


def _build(tmp_path: Path, recorded: bool) -> tuple[str, dict[str, Any]]:
    run = tmp_path / "20261203-000000"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(_results(recorded)))
    out = build_report(run).parent
    return html.unescape((out / "report.md").read_text()), json.loads((out / "summary.json").read_text())


def test_per_process_table_is_medians_over_trials_of_the_processes_medians(tmp_path: Path) -> None:
    md, summary = _build(tmp_path, recorded=True)
    rows = table(md, "workload", "variant", "server", "processes", "threads", key=3)
    assert set(rows) == {("db", "pooled", THREADED), ("db", "pooled", PREFORK)}
    threaded, prefork = rows[("db", "pooled", THREADED)], rows[("db", "pooled", PREFORK)]
    assert (threaded["processes"], threaded["threads"]) == ("1", "4")
    assert (prefork["processes"], prefork["threads"]) == ("2", "1")
    # Threaded: one process per trial, so the medians over trials of 400/420/380, 3.2/3.0/3.4, 97/95/99.
    assert (threaded["req/s"], threaded["busy threads"], threaded["busy peak"], threaded["CPU"]) == (
        "400", "3.20", "4", "97%")
    # Prefork: per trial the median of two processes (110, 100, 140 req/s), then the median over trials: 110.
    # CPU: trial 2 has one process measured (20%): per-trial medians 35, 20, 55 -> 35.
    assert (prefork["req/s"], prefork["busy threads"], prefork["busy peak"], prefork["CPU"]) == (
        "110", "0.6", "1", "35%")
    assert threaded["req/CPU-s"] == "412" and prefork["req/CPU-s"] != "–"
    by_server = {r["server"]: r for r in summary["per_process_threads"]}
    assert by_server[THREADED]["gil_bound"] is True and by_server[PREFORK]["gil_bound"] is False
    assert by_server[PREFORK]["rps"] == 110


def test_gil_sentence_names_only_the_process_near_a_full_core_with_busy_threads(tmp_path: Path) -> None:
    md, _ = _build(tmp_path, recorded=True)
    sentences = [line for line in md.splitlines() if "GIL-bound: its threads queue for the interpreter" in line]
    assert len(sentences) == 1
    assert THREADED in sentences[0] and "97% of a core" in sentences[0] and PREFORK not in sentences[0]


def test_no_per_process_table_when_no_trial_recorded_it(tmp_path: Path) -> None:
    md, summary = _build(tmp_path, recorded=False)
    assert "busy threads" not in md and "GIL" not in md
    assert "per_process_threads" not in summary
    assert table(md, "workload", "variant", "server", "trials", key=3)  # the rest of the report is there
