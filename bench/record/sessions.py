"""sessions.json (`bench sessions`, docs/results-format.md): its loader and the folder as readers see it.

bench/sessions.py writes the file (through bench.record.files.write_json) after every configuration;
reports read it only through `load_sessions` / `SessionsRun`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.record.errors import UserError
from bench.record.files import read_record, record_path
from bench.record.run_folder import RunFolder
from bench.record.values import lst, num

FILE = "sessions.json"
KIND = "sessions"


def is_sessions_folder(path: Path | str) -> bool:
    """A `bench sessions` folder: sessions.json and no results.json."""
    p = Path(path)
    return p.is_dir() and (p / FILE).is_file() and not (p / "results.json").exists()


def load_sessions(path: Path | str) -> dict[str, Any]:
    """Read and check sessions.json; `path` is the folder or the file. One-line UserError when unusable."""
    data = read_record(path, FILE)
    source = record_path(path, FILE)
    if data.get("kind") != KIND:
        raise UserError(f"damaged {source}: \"kind\" is {data.get('kind')!r}, expected {KIND!r}")
    if not isinstance(data.get("results"), list) or not all(isinstance(r, dict) for r in data["results"]):
        raise UserError(f"damaged {source}: \"results\" must be a list of objects")
    return data


class SessionsRun(RunFolder):
    """A `bench sessions` folder: one result per process count and keep-alive mode."""

    load = staticmethod(load_sessions)

    @property
    def results(self) -> list[dict[str, Any]]:
        """The measured configurations that name their process count, in the order run."""
        return [r for r in lst(self.data.get("results")) if isinstance(r, dict) and num(r.get("processes"))]

    def require_results(self) -> None:
        if not self.results:
            raise UserError(f"no measurement in {self.dir / FILE}: nothing to report; was `bench sessions` stopped "
                            "before its first configuration ended?")
