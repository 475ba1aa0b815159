"""bench/console.py's tables read the typed records, and their values sit under their headers."""

from __future__ import annotations

import json
from pathlib import Path

from bench import console
from bench.record.trial import TrialRecord

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
THREADED = FIXTURES / "20261126-082715-quick"


def _trial(workload: str, variant: str, server: str | None, rps: float) -> dict:
    procs = [{"pid": 10 + i, "requests": 100, "rps": rps + i, "busy_threads": 0.5, "busy_peak": 2,
              "cpu_pct": 40.0, "requests_per_cpu_s": 250.0} for i in range(4)]
    return {"seq": 1, "trial": 1, "workload": workload, "variant": variant,
            **({"server_module": server} if server else {}), "per_process_threads": procs, "threads": 1}


def test_per_process_values_sit_under_their_headers():
    trials = [_trial("fortunes", "naive", None, 30.4), _trial("db", "pooled", "mod_wsgi:worker:1x4", 12345.6),
              _trial("db", "pooled", "mod_wsgi:worker:1x4", 12345.6)]
    lines = console.per_process_table(trials).splitlines()
    assert lines[0] == "per Python process (medians):"
    header, rows = lines[1], lines[2:]
    starts = [header.index(name) for name in console.PROCESS_COLUMNS]
    assert starts == sorted(starts) and starts[0] == 2
    assert len(rows) == 2  # one per cell, medians over its trials
    for row in rows:
        for at in starts:  # every value starts where its header starts
            assert row[at] != " " and row[at - 1] == " ", (header, row)
    plain, wsgi = rows  # sorted by server: none first
    assert wsgi[2:].startswith("mod_wsgi:worker:1x4") and plain[2] == "-"  # "-" under "server"
    assert plain.index("fortunes/naive") == header.index("workload/variant")
    assert wsgi.index("db/pooled") == header.index("workload/variant")
    assert plain.index("31.9 ") == header.index("req/s")  # median of 30.4, 31.4, 32.4, 33.4
    assert wsgi.index("12,347.1") == header.index("req/s")
    assert plain.index("0.5, 2.0") == header.index("busy threads (mean, peak)")
    assert plain.index("250.0") == header.index("req/CPU-s (its own)")


def test_per_process_table_is_empty_without_figures():
    assert console.per_process_table([{"seq": 1, "workload": "db", "variant": "naive"}]) == ""


def test_trial_line_reads_the_record_and_its_dict_alike():
    data = json.loads(next((THREADED / "trials").glob("*/trial.json")).read_text())
    line = console.trial_line(data)
    assert line == console.trial_line(TrialRecord.from_json(data))
    rps, server = console.fmt(data["locust"]["rps"]), console.fmt(data["server"]["rps"])
    assert line.startswith(f"    {rps} req/s (server {server})")
    assert f"limit {data['bottleneck']['bottleneck']} " in line


def test_a_trial_without_a_bottleneck_record_is_printed_not_raised():
    old = {"seq": 1, "trial": 1, "workload": "db", "variant": "naive", "locust": {"rps": 10.0, "p99_ms": 5.0}}
    assert console.saturation_line("db", "naive", 4, old).endswith("limit None")
    assert "limit - (server CPUs - busy" in console.trial_line(old)


def test_sessions_table_from_typed_results(tmp_path: Path):
    from bench.record.sessions import read_sessions

    record = {"schema": 1, "kind": "sessions", "results": [
        {"processes": 2, "keepalive": True, "expected_forgotten_rate": 0.5, "shared_extra_ms": 0.012,
         "process": {"forgotten_rate": 0.46, "unknown_rate": 0.0, "pids_seen": 2, "server_ms_p50": 0.5},
         "shared": {"forgotten_rate": 0.0, "unknown_rate": 0.0, "pids_seen": 2, "server_ms_p50": 0.512}}]}
    (tmp_path / "sessions.json").write_text(json.dumps(record))
    typed = console.sessions_table(read_sessions(tmp_path))
    assert typed == console.sessions_table(record)
    assert typed.splitlines()[2].split() == ["2", "on", "46%", "50%", "0%", "2", "0.500", "0.512", "+0.012", "0%"]


def test_run_table_widens_for_a_long_cell_name():
    """An application's cell may be named at length (Trac's default: its handler module): the run table's columns
    still line up under their headers."""
    cells = [{"workload": "app", "variant": "trac.web.modpython_frontend", "trials": [],
              "summary": {"rps": 28.0, "p50_ms": 140.5, "p99_ms": 175.5, "bottleneck": "server"}},
             {"workload": "app", "variant": "naive", "trials": [],
              "summary": {"rps": 93.0, "p50_ms": 41.95, "p99_ms": 57.55, "bottleneck": "server"}}]
    header, _, *rows = console.run_table(cells).splitlines()
    ends = {name: header.index(name) + len(name) for name in ("req/s", "p50 ms", "limit")}  # right-aligned columns
    for row, rps, p50 in zip(rows, ("28", "93"), ("140.50", "41.95"), strict=True):
        assert row.index(f" {rps} ") + 1 + len(rps) == ends["req/s"], (header, row)
        assert row.index(p50) + len(p50) == ends["p50 ms"], (header, row)
        assert row.index("server") + len("server") == ends["limit"], (header, row)
