"""Load a run's `results.json`: the one place that knows schema versions.

Older schemas that we know how to read are upgraded on load (pyperf's habit); unknown ones, older or
newer, are refused with a one-line `UserError`, so nothing downstream ever sees a shape it does not know.
Other code (bench, the tuner) should read run folders through `load_results` too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import UserError
from reports.json_file import is_schema, read_record, record_path, unsupported_schema

SCHEMA = 1
RESULTS_FILE = "results.json"

# from-version -> function turning a dict of that version into one of the next version. Empty: schema 1 is
# the first published format; schema 0 (drafts) was never written by a release, so it is refused.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def results_path(path: Path | str) -> Path:
    """The results.json for `path`, which is either a run folder or the file itself."""
    return record_path(path, RESULTS_FILE)


def load_results(path: Path | str) -> dict[str, Any]:
    """Read, check and upgrade a run's results.json; `path` is the run folder or the file.

    Raises UserError (one line) when the file is missing, unreadable, not JSON, or of a schema this
    version cannot read.
    """
    return upgrade(read_record(path, RESULTS_FILE, _why_absent), results_path(path))


def _why_absent(folder: Path) -> str:
    if (folder / "tune.json").is_file():
        return (": it is a `bench tune` folder (tune.json); "
                "`python -m reports` builds its report, compare reads `bench run` folders only")
    return " (is it a run folder?)"


def upgrade(data: dict[str, Any], source: Path | str = RESULTS_FILE) -> dict[str, Any]:
    """Bring a results dict to SCHEMA, or refuse it. `source` only names the file in messages."""
    schema = data.get("schema")
    while is_schema(schema) and schema in UPGRADES:
        data = UPGRADES[schema](data)
        schema = data.get("schema")
    if schema == SCHEMA and not isinstance(schema, bool):
        _check_shape(data, source)
        return data
    raise unsupported_schema("results", schema, SCHEMA, source)


def _check_shape(data: dict[str, Any], source: Path | str) -> None:
    # Only what every reader relies on; extra keys are always allowed (the format grows by adding).
    results = data.get("results", [])
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise UserError(f"damaged {source}: \"results\" must be a list of objects")
    for key in ("plan", "stack", "environment"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise UserError(f"damaged {source}: \"{key}\" must be an object or null")
