"""results.json of a --servers run: cells keyed by workload, variant and server; speedups within a server."""

from __future__ import annotations

from pathlib import Path

from bench.load.plan import interleave
from bench.record.results import RunRecord, load_results, speedups
from bench.record.run_folder import Run
from bench.record.run_rows import cells_of

SERVERS = ["mod_python", "mod_wsgi"]
RPS = {("naive", "mod_python"): 500.0, ("pooled", "mod_python"): 5000.0,
       ("naive", "mod_wsgi"): 400.0, ("pooled", "mod_wsgi"): 2000.0}


def _trial(step: dict) -> dict:
    rps = RPS[(step["variant"], step["server"])] + step["trial"]
    return {"seq": step["seq"], "trial": step["trial"], "workload": step["workload"], "variant": step["variant"],
            "server_module": step["server"], "dir": f"trials/{step['seq']:03d}-db-{step['variant']}-{step['server']}",
            "locust": {"requests": int(rps * 10), "failures": 0, "rps": rps, "p50_ms": 1.0, "p90_ms": 2.0,
                       "p99_ms": 3.0, "max_ms": 4.0, "mean_ms": 1.2},
            "server": {"rps": rps}, "requests_per_cpu_second": rps * 2, "generator_bound": False,
            "memory": {"rss_mb_per_process": 30.0, "pss_mb_per_process": 12.0}}


def _record(tmp_path: Path) -> Path:
    order = interleave(["db"], ["naive", "pooled"], 2, SERVERS)
    plan = {"workloads": ["db"], "variants": ["naive", "pooled"], "servers": SERVERS,
            "order": [s.to_json() for s in order]}
    record = RunRecord(tmp_path, plan, {"server": "mod_python"}, {}, "embedded", [])
    assert [(c["variant"], c["server"]) for c in record.data["results"]] == [
        ("naive", "mod_python"), ("naive", "mod_wsgi"), ("pooled", "mod_python"), ("pooled", "mod_wsgi")]
    for step in order:
        record.add_trial(_trial(step.to_json()))
    record.finish(complete=True)
    return tmp_path


def test_cells_and_speedups_are_per_server(tmp_path: Path):
    data = load_results(_record(tmp_path))
    cells = {(c["variant"], c["server"]): c for c in data["results"]}
    assert all(len(c["trials"]) == 2 for c in cells.values())
    assert cells[("pooled", "mod_wsgi")]["summary"]["rps"] == 2001.5
    by_server = {s["server"]: s for s in data["speedups"]}
    assert set(by_server) == set(SERVERS)
    assert round(by_server["mod_python"]["ratio"], 1) == 10.0 and round(by_server["mod_wsgi"]["ratio"], 1) == 5.0
    assert {s["server"] for s in data["cpu_speedups"]} == set(SERVERS)


def test_run_folder_reads_the_server_of_each_cell(tmp_path: Path):
    run = Run.open(_record(tmp_path))
    assert run.servers == SERVERS and run.multi_server
    assert [c.label for c in run.cells] == ["db naive mod_python", "db naive mod_wsgi", "db pooled mod_python",
                                            "db pooled mod_wsgi"]
    assert run.cell("db", "pooled", "mod_wsgi").stat("rps") == 2001.5
    assert run.cell("db", "pooled") is None  # no server-less cell in a --servers run
    assert len(run.speedups()) == 2
    assert run.default_trial_dir({"seq": 3, "workload": "db", "variant": "pooled", "server_module": "mod_python"}) \
        == "trials/003-db-pooled-mod_python"


def test_cells_without_server_are_as_before():
    cells = [{"workload": "db", "variant": v, "trials": [_trial({"seq": i, "trial": 1, "workload": "db",
                                                                 "variant": v, "server": "mod_python"})]}
             for i, v in enumerate(("naive", "pooled"), 1)]
    for c in cells:
        for t in c["trials"]:
            del t["server_module"]
    out = speedups(cells_of(cells))
    assert len(out) == 1 and out[0].server is None and "server" not in out[0].to_json()
