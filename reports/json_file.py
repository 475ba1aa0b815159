"""Reading a run folder's record (results.json, tune.json): every way it can fail is a one-line UserError.

The per-trial files are read tolerantly instead (reports.run.RunFolder): a report must still be built when
one of them is damaged, but not when the record the whole report rests on is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import UserError


def record_path(path: Path | str, name: str) -> Path:
    """The record `name` of `path`, which is either a run folder or the file itself."""
    p = Path(path)
    return p / name if p.is_dir() else p


def read_record(path: Path | str, name: str, why_absent: Callable[[Path], str] | None = None) -> dict[str, Any]:
    """The JSON object in the record `name` of `path` (the run folder or the file).

    Raises UserError when the folder or the file is missing (`why_absent(folder)` is appended to the
    latter's message), or the file is unreadable, not JSON or not a JSON object.
    """
    file = record_path(path, name)
    if not file.exists():
        where = Path(path)
        if not where.exists():
            raise UserError(f"no such run folder: {where}")
        raise UserError(f"no {name} in {file.parent}{why_absent(file.parent) if why_absent else ''}")
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
    return data


def is_schema(value: Any) -> bool:
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
