"""bench.record.results.load_results: the schema gate every reader goes through."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.record import results
from bench.record.errors import UserError
from bench.record.results import load_results

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "runs" / "20261126-010203"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    dest = tmp_path / "run"
    shutil.copytree(FIXTURE, dest)
    return dest


def _rewrite(run: Path, **changes) -> None:
    data = json.loads((run / "results.json").read_text())
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    (run / "results.json").write_text(json.dumps(data))


def _one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


def test_loads_a_run_folder_and_the_file_itself(run: Path) -> None:
    a = load_results(run)
    b = load_results(run / "results.json")
    assert a == b
    assert a["schema"] == 1 and a["run_id"] == "20261126-010203"


def test_extra_keys_are_tolerated(run: Path) -> None:
    _rewrite(run, future_field={"anything": [1, 2]})
    assert load_results(run)["future_field"] == {"anything": [1, 2]}


@pytest.mark.parametrize("schema", [0, ..., None, "1", True, 1.5, -1])
def test_old_missing_or_odd_schema_is_refused(run: Path, schema) -> None:
    _rewrite(run, schema=schema)
    with pytest.raises(UserError) as excinfo:
        load_results(run)
    msg = _one_line_error(excinfo)
    assert msg.startswith("unsupported results schema ")
    assert "reads schema 1" in msg


def test_missing_schema_message_says_missing(run: Path) -> None:
    _rewrite(run, schema=...)
    with pytest.raises(UserError, match=r"^unsupported results schema missing in .*results\.json"):
        load_results(run)


def test_newer_schema_asks_for_an_upgrade(run: Path) -> None:
    _rewrite(run, schema=2)
    with pytest.raises(UserError, match="unsupported results schema 2 .*newer suite"):
        load_results(run)


def test_upgrade_hook_upgrades_an_older_schema(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The hook other code relies on: register an upgrader and old files load as the current schema.
    _rewrite(run, schema=0, old_name="x")

    def from_0(data: dict) -> dict:
        data = dict(data, schema=1, renamed=data.pop("old_name"))
        return data

    monkeypatch.setitem(results.UPGRADES, 0, from_0)
    data = load_results(run)
    assert data["schema"] == 1 and data["renamed"] == "x"


def test_damaged_json_is_a_one_line_user_error(run: Path) -> None:
    (run / "results.json").write_text('{"schema": 1, "results": [')
    with pytest.raises(UserError) as excinfo:
        load_results(run)
    msg = _one_line_error(excinfo)
    assert msg.startswith("damaged ") and "not valid JSON" in msg and "results.json" in msg


@pytest.mark.parametrize("content", ['[1, 2]', '"text"', '{"schema": 1, "results": {"a": 1}}',
                                     '{"schema": 1, "results": [], "plan": [1]}'])
def test_wrong_shape_is_a_user_error(run: Path, content: str) -> None:
    (run / "results.json").write_text(content)
    with pytest.raises(UserError, match="^damaged "):
        load_results(run)


def test_binary_garbage_is_a_user_error(run: Path) -> None:
    (run / "results.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UserError):
        load_results(run)


def test_missing_folder_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such run folder"):
        load_results(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no results.json in .*empty"):
        load_results(tmp_path / "empty")


def test_a_tune_folder_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "tune.json").write_text("{}")
    with pytest.raises(UserError, match="it is a `bench tune` folder"):
        load_results(tmp_path)
