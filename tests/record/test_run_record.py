"""bench/record/results.py's RunRecord: results.json rebuilt from a run folder's trials is the one the run wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.record.results import RunRecord, load_results

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
ALL = sorted(p.name for p in RUNS.iterdir() if (p / "results.json").is_file())
# written by this suite's current summaries (older folders lack summary fields added since)
CURRENT = ["20261126-082612", "20261126-082715-quick"]


def _rebuild(folder: str, tmp_path: Path) -> tuple[dict, dict]:
    data = json.loads((RUNS / folder / "results.json").read_text())
    record = RunRecord(tmp_path, data["plan"], data.get("stack"), data.get("environment"), data.get("source"),
                       data.get("checks"))
    for trial in sorted((t for c in data["results"] for t in c["trials"]), key=lambda t: t["seq"]):
        record.add_trial(trial)
    return data, json.loads((tmp_path / "results.json").read_text())


@pytest.mark.parametrize("folder", ALL)
def test_every_trial_is_written_back_byte_for_byte(folder: str, tmp_path: Path) -> None:
    data, again = _rebuild(folder, tmp_path)
    trials = [json.dumps(t) for c in data["results"] for t in c["trials"]]
    assert trials and sorted(trials) == sorted(json.dumps(t) for c in again["results"] for t in c["trials"])


@pytest.mark.parametrize("folder", CURRENT)
def test_cells_summaries_and_speedups_are_the_ones_the_run_wrote(folder: str, tmp_path: Path) -> None:
    data, again = _rebuild(folder, tmp_path)
    for key in ("results", "speedups", "cpu_speedups"):
        assert json.dumps(again[key]) == json.dumps(data[key]), key
    assert load_results(tmp_path)["results"] == data["results"]


def test_a_trial_that_cannot_be_written_is_named_and_not_counted(tmp_path: Path, monkeypatch) -> None:
    from bench.record import results
    from bench.record.errors import UserError

    data = json.loads((RUNS / CURRENT[1] / "results.json").read_text())
    record = RunRecord(tmp_path, data["plan"], None, {}, "embedded", [])
    first = data["results"][0]["trials"][0]

    def refuse(*_args: object) -> None:
        raise UserError("disk full")

    monkeypatch.setattr(results, "write_json", refuse)
    with pytest.raises(UserError, match=f"trial {first['seq']} .*on disk but not recorded"):
        record.add_trial(first)
    assert record.trial_count == 0 and all(not c.trials for c in record.cells)
