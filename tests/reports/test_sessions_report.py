"""The page of a `bench sessions` folder (sessions.json): its table, figure and errors."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from bench.record.errors import UserError
from reports.build import build_report


def _result(processes: int, keepalive: bool, forgotten: int, extra_ms: float) -> dict:
    store = {"requests": 100, "returning": 90, "unknown": 0, "pids_seen": processes, "server_ms_p50": 0.2}
    return {"processes": processes, "keepalive": keepalive, "expected_forgotten_rate": round(1 - 1 / processes, 4),
            "process": store | {"forgotten": forgotten, "forgotten_rate": round(forgotten / 90, 4)},
            "shared": store | {"forgotten": 0, "forgotten_rate": 0.0, "server_ms_p50": 0.2 + extra_ms},
            "shared_extra_ms": extra_ms}


def _folder(tmp_path: Path, results: list[dict], complete: bool = True) -> Path:
    run = tmp_path / "20261126-083000-sessions"
    run.mkdir()
    (run / "sessions.json").write_text(json.dumps({
        "kind": "sessions", "run_id": run.name, "created": "2026-11-26T08:30:00+00:00", "clients": 8,
        "visit_requests": 5, "seed": 11, "requests_per_endpoint": 100, "settings": {"processes": 4},
        "environment": {"machine": {"cores": 2}}, "results": results, "complete": complete}))
    return run


@pytest.mark.report
def test_sessions_folder_gets_its_page(tmp_path: Path) -> None:
    run = _folder(tmp_path, [_result(1, False, 0, 0.3), _result(4, False, 68, 0.3), _result(4, True, 20, 0.25)])
    out = build_report(run).parent
    md = html.unescape((out / "report.md").read_text())
    assert "# State is per process: bench sessions 20261126-083000-sessions" in md
    assert "| 4 | off | 76% | 75% |" in md and "| 1 | off | 0% | 0% |" in md
    assert "forgotten on 76% of returning requests (1 - 1/N = 75%)" in md
    assert (out / "fig1-forgotten.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "sessions" and len(summary["results"]) == 3


@pytest.mark.report
def test_sessions_folder_without_measurements_is_one_line_error(tmp_path: Path) -> None:
    run = _folder(tmp_path, [], complete=False)
    with pytest.raises(UserError, match=r"no measurement in .*sessions\.json: nothing to report") as exc:
        build_report(run)
    assert "\n" not in str(exc.value)


def test_compare_on_a_sessions_folder_names_the_file(tmp_path: Path) -> None:
    from bench.record.results import load_results

    run = _folder(tmp_path, [_result(2, False, 40, 0.3)])
    with pytest.raises(UserError, match=r"it is a `bench sessions` folder \(sessions\.json\)"):
        load_results(run)


def test_sessions_json_without_schema_is_upgraded_on_load(tmp_path: Path) -> None:
    from bench.record.sessions import SCHEMA, load_sessions

    run = _folder(tmp_path, [_result(2, False, 40, 0.3)], complete=False)  # written before the schema number
    data = load_sessions(run)
    assert data["schema"] == SCHEMA and data["finished"] is None and len(data["results"]) == 1


@pytest.mark.report
def test_sessions_record_writes_what_the_loader_reads(tmp_path: Path) -> None:
    from bench.record.sessions import SCHEMA, SessionsRecord, load_sessions

    run = tmp_path / "20261126-090000-sessions"
    run.mkdir()
    record = SessionsRecord(run, clients=8, visit_requests=5, seed=11, requests=100, settings={"processes": 4},
                            environment={"machine": {"cores": 2}})
    assert load_sessions(run)["results"] == [] and not load_sessions(run)["complete"]
    record.add_result(_result(4, False, 68, 0.3))
    record.finish()
    data = load_sessions(run)
    assert data["schema"] == SCHEMA and data["complete"] and data["finished"] and data["run_id"] == run.name
    assert "| 4 | off | 76% | 75% |" in html.unescape((build_report(run).parent / "report.md").read_text())


def test_sessions_json_of_a_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    from bench.record.sessions import load_sessions

    run = _folder(tmp_path, [_result(2, False, 40, 0.3)])
    data = json.loads((run / "sessions.json").read_text())
    (run / "sessions.json").write_text(json.dumps(data | {"schema": 99}))
    with pytest.raises(UserError, match=r"unsupported sessions schema 99 .*newer suite") as exc:
        load_sessions(run)
    assert "\n" not in str(exc.value)
