"""Helpers the report tests share: modules loaded by path, and run folders copied and edited."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

TESTS = Path(__file__).resolve().parent


def load_module(name: str, path: Path) -> ModuleType:
    """The module in `path`, loaded once under `name`. By path, so it works whatever pytest's import mode;
    the same module object when it was already imported under that name."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def fixtures() -> ModuleType:
    """tests/fixtures/make_fixtures.py: the synthetic run folders' ids and `make_run`."""
    return load_module("reports_test_fixtures", TESTS / "fixtures" / "make_fixtures.py")


def copy_folder(src: Path, into: Path) -> Path:
    """A copy of the run folder `src` inside `into`, so the committed fixture stays clean."""
    dest = into / src.name
    shutil.copytree(src, dest)
    return dest


def edit_json(file: Path, fn: Callable[[Any], None]) -> None:
    """Let `fn` change the JSON in `file` in place, and write it back."""
    data = json.loads(file.read_text())
    fn(data)
    file.write_text(json.dumps(data))
