"""What limited each figure, in the run report: bottlenecks, the honest headline, capacity vs lower bound,
the wrk cross-check, saturation, the CPU partition, faults and a busy machine.

Built from two real run folders (tests/fixtures/runs/README.md): 20261126-071721 (--cross-check, every cell
limited by the load) and 20261126-071852 (--saturate, every cell server-bound on a busy machine).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest
from reports_helpers import copy_folder, edit_json, fixtures
from test_run_report import PNG_MAGIC, md_tables, shows, table

from reports.build import build_report

pytestmark = pytest.mark.report

RUNS = Path(__file__).resolve().parent.parent / "fixtures" / "runs"
CROSS = "20261126-071721"
SATURATE = "20261126-071852"


def _build(run: Path) -> dict[str, Any]:
    out = build_report(run).parent
    return {"md": html.unescape((out / "report.md").read_text()), "html": (out / "report.html").read_text(),
            "summary": json.loads((out / "summary.json").read_text()),
            "results": json.loads((run / "results.json").read_text()), "out": out}


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict[str, Any]]:
    return {run_id: _build(copy_folder(RUNS / run_id, tmp_path_factory.mktemp(run_id)))
            for run_id in (CROSS, SATURATE, fixtures().EMBEDDED_ID)}


def _partition(md: str) -> dict[str, str]:
    """The settings table that holds the CPU partition (every settings table has setting | value)."""
    for headers, rows in md_tables(md):
        found = {r[0]: r[1] for r in rows if headers == ["setting", "value"]}
        if "server CPUs" in found:
            return found
    raise AssertionError("no CPU partition table")


def _cells(res: dict) -> dict[tuple[str, str], dict]:
    return {(c["workload"], c["variant"]): c["summary"] for c in res["results"]}


# --- 1. the bottleneck of every cell and every trial ------------------------------------------------
@pytest.mark.parametrize("run_id", [CROSS, SATURATE])
def test_throughput_table_names_the_limit(reports, run_id: str) -> None:
    r = reports[run_id]
    rows = table(r["md"], "workload", "variant", "trials", "req/s")
    for key, s in _cells(r["results"]).items():
        row = rows[key]
        assert row["limited by"] == s["bottleneck"]
        assert shows(row["server CPU"], 100 * s["server_util"])
        assert shows(row["busiest Locust"], 100 * s["generator_busiest"])
    assert "generator-bound" not in rows[("db", "naive")]


def test_trials_table_names_each_trials_limit(reports) -> None:
    r = reports[CROSS]
    rows = table(r["md"], "#", "workload", "variant", key=1)
    for cell in r["results"]["results"]:
        for t in cell["trials"]:
            row = rows[str(t["seq"])]
            assert row["limited by"] == t["bottleneck"]["bottleneck"] == "load"
            assert shows(row["server CPU"], 100 * t["bottleneck"]["server_util"])
            assert row["users"] == str(t["users"])


def test_old_folders_fall_back_to_generator_bound(reports) -> None:
    r = reports[fixtures().EMBEDDED_ID]
    rows = table(r["md"], "workload", "variant", "trials", "req/s")
    for key, s in _cells(r["results"]).items():
        assert rows[key]["limited by"] == ("generator" if s["generator_bound"] else "–")
        assert rows[key]["server CPU"] == "–"
    assert "## Cross-check" not in r["md"] and "## Saturation" not in r["md"]
    assert "skipped" in r["summary"]["figures"]["fig8-saturation"]
    assert r["summary"]["cross_check"] is None and r["summary"]["saturation"] is None
    assert "served" in r["summary"]["headline"][0]["text"]  # the older sentence, unchanged
    text = " ".join(r["summary"]["caveats"])
    assert "predates bottleneck labels" in text and "No CPU partition recorded" in text


# --- 2. the honest headline -------------------------------------------------------------------------
@pytest.mark.parametrize("run_id", [CROSS, SATURATE])
def test_headline_carries_both_limits_and_the_cost_ratio(reports, run_id: str) -> None:
    r = reports[run_id]
    sp, cost = r["results"]["speedups"][0], r["results"]["cpu_speedups"][0]
    head = r["summary"]["headline"][0]
    assert head["stated_as"] == sp["text"] and head["bottlenecks"] == sp["bottlenecks"]
    assert head["cost_ratio"] == cost["ratio"]
    assert f"Requests/s, pooled over naive on db: {sp['text']} (no interval: fewer than 2 trials)" in head["text"]
    assert f"Per server CPU-second, pooled did {cost['ratio']:.1f}x the work of naive" in head["text"]
    assert head["text"] in r["md"]
    speedups = table(r["md"], "workload", "variant", "baseline", "speedup")
    assert speedups[("db", "pooled")]["stated as"] == sp["text"]


def test_headline_says_about_when_neither_side_is_server_bound(reports) -> None:
    text = reports[CROSS]["summary"]["headline"][0]["text"]
    assert "about 34.41x (pooled limited by too few users; naive limited by too few users)" in text


def test_speedup_computed_by_the_report_is_worded_like_benchs(tmp_path: Path) -> None:
    run = copy_folder(RUNS / CROSS, tmp_path)
    original = json.loads((run / "results.json").read_text())["speedups"][0]
    edit_json(run / "results.json", lambda d: d.pop("speedups"))  # as in a run interrupted before the line
    sp = next(s for s in _build(run)["summary"]["speedups"] if s["metric"] == "rps")
    assert sp["from"] == "computed" and sp["bottlenecks"] == original["bottlenecks"]
    assert sp["text"] == original["text"]


def test_per_process_rate_is_a_capacity_only_when_server_bound(reports) -> None:
    load, server = reports[CROSS], reports[SATURATE]
    rows = table(load["md"], "workload", "variant", "req/s per process")
    assert rows[("db", "pooled")]["rate is"] == "at least (limited by too few users)"
    assert "at least 386 req/s per process (a lower bound: limited by too few users)" in load["md"]
    assert "you need at most 3 processes" in load["md"]
    rows = table(server["md"], "workload", "variant", "req/s per process")
    assert {r["rate is"] for r in rows.values()} == {"capacity"}
    assert "150 req/s per process (capacity: the server was the limit)" in server["md"]
    assert "you need about 7 processes" in server["md"]
    assert {c["rate_is_capacity"] for c in server["summary"]["cells"]} == {True}
    assert {c["rate_is_capacity"] for c in load["summary"]["cells"]} == {False}


# --- 3. the cross-check -----------------------------------------------------------------------------
def test_cross_check_tables_show_both_instruments(reports) -> None:
    r = reports[CROSS]
    res = r["results"]
    rows = table(r["md"], "workload", "variant", "Locust req/s", "wrk req/s")
    for key, s in _cells(res).items():
        assert shows(rows[key]["Locust req/s"], s["rps"]) and shows(rows[key]["wrk req/s"], s["wrk_rps"])
        assert shows(rows[key]["Locust/wrk"], 100 * s["locust_vs_wrk"])
    ratios = table(r["md"], "workload", "variant", "baseline", "Locust speedup")[("db", "pooled")]
    assert shows(ratios["Locust speedup"], res["speedups"][0]["ratio"])
    assert shows(ratios["wrk speedup"], res["wrk_speedups"][0]["ratio"])
    ceiling = res["generator_ceiling"]
    row = table(r["md"], "users", "Locust req/s", "wrk req/s", key=1)[str(ceiling["users"])]
    assert shows(row["Locust req/s"], ceiling["rps"]) and shows(row["wrk req/s"], ceiling["wrk_rps"])
    assert row["limited by"] == ceiling["bottleneck"]
    cc = r["summary"]["cross_check"]
    assert cc["generator_ceiling"] == ceiling
    assert cc["speedups"] == [{"workload": "db", "variant": "pooled", "baseline": "naive",
                               "locust": res["speedups"][0]["ratio"], "wrk": res["wrk_speedups"][0]["ratio"]}]
    assert {(c["workload"], c["variant"]): c["wrk_rps"] for c in cc["cells"]} == {
        k: s["wrk_rps"] for k, s in _cells(res).items()}
    assert "## Cross-check" not in reports[SATURATE]["md"]


# --- 4. saturation ----------------------------------------------------------------------------------
def test_saturation_section_figure_and_table(reports) -> None:
    r = reports[SATURATE]
    probes = r["results"]["saturation"]
    assert "## Saturation" in r["md"]
    fig = r["summary"]["figures"]["fig8-saturation"]
    assert (r["out"] / fig["png"]).read_bytes()[:8] == PNG_MAGIC and (r["out"] / fig["svg"]).is_file()
    rows = table(r["md"], "workload", "variant", "users", "req/s", "p99 ms", key=3)
    for p in probes:
        for step in p["steps"]:
            row = rows[(p["workload"], p["variant"], str(step["users"]))]
            assert shows(row["req/s"], step["rps"]) and shows(row["p99 ms"], step["p99_ms"])
            assert row["limited by"] == step["bottleneck"]
            assert row["knee"] == ("knee" if step["users"] == p["knee_users"] else "")
        assert rows[(p["workload"], p["variant"], str(p["steps"][-1]["users"]))]["stopped because"] == p["stop"]
    summ = {(s["workload"], s["variant"]): s for s in r["summary"]["saturation"]}
    for p in probes:
        mine = summ[(p["workload"], p["variant"])]
        assert mine["knee_users"] == p["knee_users"] and mine["stop"] == p["stop"]
        assert mine["knee_rps"] == next(s["rps"] for s in p["steps"] if s["users"] == p["knee_users"])
    assert "skipped" in reports[CROSS]["summary"]["figures"]["fig8-saturation"]


# --- 5. settings and caveats ------------------------------------------------------------------------
def test_settings_show_the_cpu_partition(reports) -> None:
    r = reports[CROSS]
    rows = _partition(r["md"])
    assert rows["server CPUs"] == r["results"]["stack"]["server_cpus"]
    assert rows["generator CPUs"] == r["results"]["plan"]["generator_cpus"]
    assert r["summary"]["cpu_partition"] == {"server CPUs": "0", "generator CPUs": "1"}
    assert not any("partition" in c.lower() for c in r["summary"]["caveats"])


def test_not_partitioned_faults_and_a_busy_machine_are_caveats(tmp_path: Path) -> None:
    run = copy_folder(RUNS / SATURATE, tmp_path)

    def edit(d: dict) -> None:
        d["stack"]["server_cpus"] = None
        d["plan"]["generator_cpus"] = None
        d["results"][0]["trials"][0]["faults"] = ["postgres restarted at +3.2s"]

    edit_json(run / "results.json", edit)
    r = _build(run)
    text = " ".join(r["summary"]["caveats"])
    assert "Not partitioned: Locust shared the CPUs with the server" in text
    assert "Faults during trials" in text and "#001 db naive trial 1: postgres restarted at +3.2s" in text
    assert "A busy machine" in text and "#002 db pooled trial 1 (67%)" in text
    assert _partition(r["md"])["server CPUs"] == "not partitioned: Locust shared the CPUs with the server"


def test_lower_bound_caveat_lists_trials_not_limited_by_the_server(reports) -> None:
    text = " ".join(reports[CROSS]["summary"]["caveats"])
    assert "2 of 2 trials were not limited by the server (too few users: #001 db naive trial 1, " \
           "#002 db pooled trial 1)" in text
    assert "generator-bound" not in text
    assert not any("not limited by the server" in c for c in reports[SATURATE]["summary"]["caveats"])


# --- 6. summary.json --------------------------------------------------------------------------------
@pytest.mark.parametrize("run_id", [CROSS, SATURATE])
def test_summary_json_has_the_new_fields(reports, run_id: str) -> None:
    r = reports[run_id]
    cells = {(c["workload"], c["variant"]): c for c in r["summary"]["cells"]}
    for key, s in _cells(r["results"]).items():
        mine = cells[key]
        assert mine["bottleneck"] == s["bottleneck"]
        for k in ("server_util", "generator_busiest", "wrk_rps", "locust_vs_wrk"):
            assert mine[k] == s[k]
        assert mine["faulty_trials"] == s["faults"]
    rps = [s for s in r["summary"]["speedups"] if s["metric"] == "rps"]
    assert rps[0]["text"] == r["results"]["speedups"][0]["text"]
