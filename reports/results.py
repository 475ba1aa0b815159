"""Load a run's `results.json`: the one place that knows schema versions.

Older schemas that we know how to read are upgraded on load (pyperf's habit); unknown ones, older or
newer, are refused with a one-line `UserError`, so nothing downstream ever sees a shape it does not know.
Other code (bench, the tuner) should read run folders through `load_results` too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import UserError

SCHEMA = 1
RESULTS_FILE = "results.json"

# from-version -> function turning a dict of that version into one of the next version. Empty: schema 1 is
# the first published format; schema 0 (drafts) was never written by a release, so it is refused.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def results_path(path: Path | str) -> Path:
    """The results.json for `path`, which is either a run folder or the file itself."""
    p = Path(path)
    return p / RESULTS_FILE if p.is_dir() else p


def load_results(path: Path | str) -> dict[str, Any]:
    """Read, check and upgrade a run's results.json; `path` is the run folder or the file.

    Raises UserError (one line) when the file is missing, unreadable, not JSON, or of a schema this
    version cannot read.
    """
    file = results_path(path)
    if not file.exists():
        where = Path(path)
        if not where.exists():
            raise UserError(f"no such run folder: {where}")
        if (file.parent / "tune.json").is_file():
            raise UserError(f"no {RESULTS_FILE} in {file.parent}: it is a `bench tune` folder (tune.json); "
                            "`python -m reports` builds its report, compare reads `bench run` folders only")
        raise UserError(f"no {RESULTS_FILE} in {file.parent} (is it a run folder?)")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {file}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"damaged {file}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise UserError(f"damaged {file}: expected a JSON object, found {type(data).__name__}")
    return upgrade(data, file)


def upgrade(data: dict[str, Any], source: Path | str = RESULTS_FILE) -> dict[str, Any]:
    """Bring a results dict to SCHEMA, or refuse it. `source` only names the file in messages."""
    schema = data.get("schema")
    # bool is an int in Python; `"schema": true` is damage, not schema 1.
    while isinstance(schema, int) and not isinstance(schema, bool) and schema in UPGRADES:
        data = UPGRADES[schema](data)
        schema = data.get("schema")
    if schema == SCHEMA and not isinstance(schema, bool):
        _check_shape(data, source)
        return data
    shown = "missing" if schema is None else repr(schema)
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA:
        hint = "written by a newer suite; upgrade this one to read it"
    else:
        hint = f"this suite reads schema {SCHEMA}"
    raise UserError(f"unsupported results schema {shown} in {source}: {hint}")


def _check_shape(data: dict[str, Any], source: Path | str) -> None:
    # Only what every reader relies on; extra keys are always allowed (the format grows by adding).
    results = data.get("results", [])
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise UserError(f"damaged {source}: \"results\" must be a list of objects")
    for key in ("plan", "stack", "environment"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise UserError(f"damaged {source}: \"{key}\" must be an object or null")
