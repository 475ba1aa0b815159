"""Files written so that a reader never sees half of one (the per-PID JSON, the open model's JSON, the
per-process CSV). Standard library only: tests use it directly."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder, then rename it."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: str, data: dict[str, Any]) -> None:
    """`data` as indented JSON, atomically."""
    write_atomic(path, json.dumps(data, indent=2) + "\n")
