"""bench/record/trial.py: the trial record and its parts read and write today's JSON unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.record.trial import CellKey, ClientFigures, PlanStep, QueueTime, TrialRecord

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRIAL_FILES = sorted(FIXTURES.glob("**/trial.json"))
RESULTS_FILES = sorted(FIXTURES.glob("runs/*/results.json"))
NEWEST = FIXTURES / "runs" / "20261126-082715-quick"


def test_the_fixtures_hold_trials():
    assert len(TRIAL_FILES) > 20 and len(RESULTS_FILES) >= 7


@pytest.mark.parametrize("path", TRIAL_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_trial_json_reads_and_writes_back_unchanged(path):
    data = json.loads(path.read_text())
    record = TrialRecord.from_json(data)
    assert record.to_json() == data
    assert TrialRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize("path", RESULTS_FILES, ids=lambda p: p.parent.name)
def test_every_trial_of_results_json_round_trips(path):
    trials = [t for c in json.loads(path.read_text())["results"] for t in c["trials"]]
    assert trials
    for t in trials:
        assert TrialRecord.from_json(t).to_json() == t


def test_the_newest_trial_keeps_its_key_order_and_its_parts():
    data = json.loads(next((NEWEST / "trials").glob("*/trial.json")).read_text())
    record = TrialRecord.from_json(data)
    assert list(record.to_json()) == list(data)
    assert json.dumps(record.to_json()) == json.dumps(data)  # byte for byte
    assert record.locust is not None and record.locust.rps == data["locust"]["rps"]
    assert record.bottleneck is not None and record.bottleneck.bottleneck == data["bottleneck"]["bottleneck"]
    assert record.cell == CellKey(data["workload"], data["variant"], data.get("server_module"))


def test_missing_or_damaged_values_are_none_never_zero():
    record = TrialRecord.from_json({"seq": 3, "locust": {"rps": "fast", "requests": True}, "server": None,
                                    "flags": "not a list"})
    assert record.seq == 3 and record.server is None and record.flags is None and record.memory is None
    assert record.locust == ClientFigures()  # a string and a bool are not numbers
    assert record.cpu is None and record.users is None
    assert TrialRecord.from_json("not an object") == TrialRecord()


def test_a_number_stays_the_number_written():
    assert TrialRecord.from_json({"locust": {"rps": 12}}).to_json()["locust"]["rps"] == 12
    assert isinstance(TrialRecord.from_json({"locust": {"rps": 12}}).client.rps, int)


def test_a_key_that_is_a_python_keyword_is_written_under_its_json_name():
    q = QueueTime.from_json({"from": "client latency minus %D", "p50_ms": 1.5, "p99_ms": None})
    assert q.source == "client latency minus %D"
    assert q.to_json() == {"from": "client latency minus %D", "p50_ms": 1.5, "p99_ms": None}


def test_unknown_keys_are_kept_after_the_known_ones():
    data = {"seq": 1, "trial": 1, "workload": "db", "variant": "naive", "future_field": {"x": 1}}
    assert TrialRecord.from_json(data).to_json() == data


def test_optional_parts_follow_what_the_trial_has():
    closed = TrialRecord(seq=1, server=None).to_json()
    assert "open" not in closed and "accept_queue" not in closed and "wrk" not in closed and "threads" not in closed
    assert closed["server"] is None  # always written: null in a --url run
    opened = TrialRecord(seq=1, rate=50.0).to_json()
    assert opened["open"] is None and opened["rate"] == 50.0  # --rate: open is written even when Locust wrote none


def test_plan_step_names_its_cell_and_folder():
    step = PlanStep.from_json({"seq": 7, "trial": 2, "workload": "db", "variant": "pooled", "server": "mod_wsgi",
                               "rate": 50})
    assert step.cell == CellKey("db", "pooled", "mod_wsgi")
    assert step.dir == "trials/007-db-pooled-mod_wsgi-r50"
    assert step.name == "db/pooled on mod_wsgi"
    assert step.to_json() == {"seq": 7, "trial": 2, "workload": "db", "variant": "pooled", "server": "mod_wsgi",
                              "rate": 50}
    assert PlanStep(1, 1, "db", "naive").to_json() == {"seq": 1, "trial": 1, "workload": "db", "variant": "naive"}
