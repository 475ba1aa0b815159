"""Writing and reading the files of a run folder: one atomic writer, one reader of records.

Records (results.json, tune.json) and report files are rewritten while someone may read them (after
every trial; a report being rebuilt): every write goes to a temporary file in the same folder and is
renamed over the old one, so a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.record.errors import UserError


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path` atomically; UserError naming the path when it cannot be written."""
    path = Path(path)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: str | None) -> None:
    if tmp is not None:
        try:
            Path(tmp).unlink(missing_ok=True)
        except OSError:
            pass  # the folder became unwritable: nothing more to clean


def check_writable(folder: Path | str, hint: str = "") -> Path:
    """UserError unless files can be created in `folder` (or, when it does not exist yet, in the nearest
    existing folder above it, where it would be made). Probes with a real file, because root passes every
    permission check but still meets immutable folders (chattr +i) and read-only mounts."""
    folder = Path(folder).resolve()
    probe_in = folder
    while not probe_in.exists() and probe_in != probe_in.parent:
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise UserError(f"cannot write into {folder}: {probe_in} is not a folder{hint}")
    try:
        fd, tmp = tempfile.mkstemp(dir=probe_in, prefix=".bench-write-check.")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise UserError(f"cannot write into {folder}: {probe_in} is not writable ({exc.strerror or exc}){hint}") \
            from None
    return folder


def write_json(path: Path, data: Any) -> None:
    """A JSON file of the run folder (a record, trial.json, timeline.json, summary.json), atomically."""
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False))


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
