"""The run report of `bench run --servers mod_python,mod_wsgi` and of a run with the auth workload, from real
run folders (tests/fixtures/runs/README.md): the server column, the "mod_python and mod_wsgi" section and the
"Cost of the authentication phase" section agree with results.json; one-server folders report as before."""

from __future__ import annotations

import html
import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from reports_helpers import copy_folder, fixtures
from test_run_report import md_tables, shows, table

from reports.build import build_report

pytestmark = [pytest.mark.report, pytest.mark.slow(36)]

RUNS = Path(__file__).resolve().parent.parent / "fixtures" / "runs"
SERVERS = "20261126-082612"  # --servers mod_python,mod_wsgi --workloads db --variants naive,pooled --trials 1
AUTH = "20261126-082715-quick"  # the same servers, --workloads db,fortunes,auth --quick
ONE_SERVER = "20261126-013457"


def _build(run: Path) -> dict[str, Any]:
    out = build_report(run).parent
    return {"md": html.unescape((out / "report.md").read_text()),
            "summary": json.loads((out / "summary.json").read_text()),
            "results": json.loads((run / "results.json").read_text()), "out": out}


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict[str, Any]]:
    return {run_id: _build(copy_folder(RUNS / run_id, tmp_path_factory.mktemp(run_id)))
            for run_id in (SERVERS, AUTH, ONE_SERVER, fixtures().EMBEDDED_ID)}


def _summaries(res: dict) -> dict[tuple[str, str, str], dict]:
    return {(c["workload"], c["variant"], c["server"]): c["summary"] for c in res["results"]}


def _trial_values(res: dict, key: tuple[str, str, str], *path: str) -> list[float]:
    cell = next(c for c in res["results"] if (c["workload"], c["variant"], c["server"]) == key)
    out = []
    for t in cell["trials"]:
        v: Any = t
        for p in path:
            v = v[p]
        out.append(v)
    return out


@pytest.mark.parametrize("run_id", [SERVERS, AUTH])
def test_every_table_names_the_server(reports, run_id: str) -> None:
    r = reports[run_id]
    rows = table(r["md"], "workload", "variant", "server", "trials", "req/s", key=3)
    assert set(rows) == set(_summaries(r["results"]))
    for key, s in _summaries(r["results"]).items():
        assert shows(rows[key]["req/s"], s["rps"])
    lat = table(r["md"], "workload", "variant", "server", "p50 ms", key=3)
    assert set(lat) == set(rows)
    speed = table(r["md"], "workload", "variant", "server", "baseline", "speedup", key=3)
    for s in r["results"]["speedups"]:
        assert shows(speed[(s["workload"], s["variant"], s["server"])]["speedup"], s["ratio"])


@pytest.mark.parametrize("run_id", [SERVERS, AUTH])
def test_servers_section_agrees_with_results(reports, run_id: str) -> None:
    r = reports[run_id]
    assert "## mod_python and mod_wsgi" in r["md"]
    cells = _summaries(r["results"])
    rows = table(r["md"], "workload", "variant", "server", "req/s", "req/s per process", key=3)
    for key, s in cells.items():
        row = rows[key]
        for col, field in (("req/s", "rps"), ("req/s per process", "rps_per_process"),
                           ("req per server CPU-s", "requests_per_cpu_second"), ("p99 ms", "p99_ms"),
                           ("PSS MB per serving process", "pss_mb_serving"), ("PSS MB all Apache processes",
                                                                               "pss_mb_total")):
            assert shows(row[col], s[field]), (key, col)
    ratios = table(r["md"], "workload", "variant", "servers", "req/s")
    for (workload, variant), row in ratios.items():
        assert row["servers"] == "mod_wsgi / mod_python"
        py, wsgi = cells[(workload, variant, "mod_python")], cells[(workload, variant, "mod_wsgi")]
        # The ratio of medians over trials; the summaries' medians are rounded to 2 decimals.
        ratio = statistics.median(_trial_values(r["results"], (workload, variant, "mod_wsgi"), "locust", "rps")) / \
            statistics.median(_trial_values(r["results"], (workload, variant, "mod_python"), "locust", "rps"))
        assert shows(row["req/s"].split(" ")[0], ratio)
        assert abs(ratio - wsgi["rps"] / py["rps"]) < 0.01
    for entry in r["summary"]["servers"]:
        assert (entry["server"], entry["against"]) == ("mod_wsgi", "mod_python")
    assert (r["out"] / "fig9-servers.png").read_bytes()[:4] == b"\x89PNG"


def test_auth_section_is_auth_against_db_on_the_same_variant_and_server(reports) -> None:
    r = reports[AUTH]
    assert "## Cost of the authentication phase" in r["md"]
    cells = _summaries(r["results"])
    rows = table(r["md"], "variant", "server", "db req/s", "auth req/s")
    assert set(rows) == {(v, s) for v in ("naive", "pooled") for s in ("mod_python", "mod_wsgi")}
    for (variant, server), row in rows.items():
        db, auth = cells[("db", variant, server)], cells[("auth", variant, server)]
        assert shows(row["db req/s"], db["rps"]) and shows(row["auth req/s"], auth["rps"])
        added = 1000 / auth["requests_per_cpu_second"] - 1000 / db["requests_per_cpu_second"]
        assert shows(row["CPU ms added per request"].lstrip("+"), added)
    by_key = {(e["variant"], e["server"]): e for e in r["summary"]["auth_phase"]}
    for (variant, server), e in by_key.items():
        assert e["db_rps"] == cells[("db", variant, server)]["rps"]
    # naive checks the password on a connection of its own: two PostgreSQL sessions per request.
    assert cells[("auth", "naive", "mod_python")]["db_sessions_per_1000_requests"] > 1500


@pytest.mark.parametrize("run_id", [ONE_SERVER, "EMBEDDED"])
def test_one_server_folders_report_as_before(reports, run_id: str) -> None:
    r = reports[fixtures().EMBEDDED_ID if run_id == "EMBEDDED" else run_id]
    assert "## mod_python and mod_wsgi" not in r["md"] and "## Cost of the authentication phase" not in r["md"]
    headers = [h for h, _ in md_tables(r["md"])]
    assert not any("server" in h[:3] for h in headers)
    assert r["summary"]["servers"] is None and r["summary"]["auth_phase"] is None
    assert "skipped" in r["summary"]["figures"]["fig9-servers"]
    assert all("server" not in c for c in r["summary"]["cells"])
