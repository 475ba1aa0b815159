"""The schema gate every record goes through on load (pyperf's habit): known old versions are upgraded
step by step, unknown ones (older or newer) are refused with a one-line UserError, so nothing downstream
ever sees a shape it does not know. The versions themselves live next to each format
(bench.record.results.SCHEMA, bench.record.tune.SCHEMA).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

from bench.record.errors import UserError

Upgrade = Callable[[dict[str, Any]], dict[str, Any]]


def is_schema(value: Any) -> TypeGuard[int]:
    # bool is an int in Python; `"schema": true` is damage, not schema 1.
    return isinstance(value, int) and not isinstance(value, bool)


def unsupported_schema(what: str, schema: Any, supported: int, source: Path | str) -> UserError:
    """The error for a record of a schema this suite cannot read (`what`: "results", "tune")."""
    shown = "missing" if schema is None else repr(schema)
    if is_schema(schema) and schema > supported:
        hint = "written by a newer suite; upgrade this one to read it"
    else:
        hint = f"this suite reads schema {supported}"
    return UserError(f"unsupported {what} schema {shown} in {source}: {hint}")


def upgrade(data: dict[str, Any], what: str, current: int, upgrades: Mapping[int, Upgrade],
            source: Path | str) -> dict[str, Any]:
    """Bring a record to `current` through `upgrades` (from-version -> function to the next version),
    or refuse it. `source` only names the file in messages."""
    schema = data.get("schema")
    while is_schema(schema) and schema in upgrades:
        data = upgrades[schema](data)
        schema = data.get("schema")
    if schema == current and is_schema(schema):
        return data
    raise unsupported_schema(what, schema, current, source)
