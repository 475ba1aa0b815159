"""sessions.json (`bench sessions`, docs/results-format.md): its schema, its writer, its loader and the
folder as readers see it.

bench/load/sessions.py measures and hands each configuration to `SessionsRecord`, which rewrites the file after
every one (an interrupted run keeps what it finished); reports read it only through `load_sessions` /
`SessionsRun`, which upgrade files written before the schema number existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.record.errors import UserError
from bench.record.files import now_iso, read_record, record_path, write_json
from bench.record.run_folder import RunFolder
from bench.record.schema import Upgrade
from bench.record.schema import upgrade as upgrade_schema
from bench.record.values import dig, lst, num

FILE = "sessions.json"
KIND = "sessions"
SCHEMA = 1
UNVERSIONED = 0  # files written before sessions.json had a "schema": read as version 0


def _upgrade_0(data: dict[str, Any]) -> dict[str, Any]:
    # Version 0 is version 1 without the number (and, when stopped early, without "finished").
    return {"finished": None} | data | {"schema": 1}


UPGRADES: dict[int, Upgrade] = {UNVERSIONED: _upgrade_0}


class SessionsRecord:
    """sessions.json while `bench sessions` runs: the header at the start, one result per configuration."""

    def __init__(self, run_dir: Path, *, clients: int, visit_requests: int, seed: int, requests: int,
                 settings: dict[str, Any], environment: dict[str, Any]):
        self.path = run_dir / FILE
        self.data: dict[str, Any] = {
            "schema": SCHEMA, "kind": KIND, "run_id": run_dir.name, "created": now_iso(), "finished": None,
            "complete": False, "clients": clients, "visit_requests": visit_requests, "seed": seed,
            "requests_per_endpoint": requests, "settings": settings, "environment": environment, "results": []}
        self.write()

    def write(self) -> None:
        write_json(self.path, self.data)

    def add_result(self, result: dict[str, Any]) -> None:
        """One configuration (process count x keep-alive mode), on disk the moment it is measured."""
        self.data["results"].append(result)
        self.write()

    def finish(self) -> None:
        self.data["complete"] = True
        self.data["finished"] = now_iso()
        self.write()


def is_sessions_folder(path: Path | str) -> bool:
    """A `bench sessions` folder: sessions.json and no results.json."""
    p = Path(path)
    return p.is_dir() and (p / FILE).is_file() and not (p / "results.json").exists()


def load_sessions(path: Path | str) -> dict[str, Any]:
    """Read and check sessions.json; `path` is the folder or the file. One-line UserError when unusable."""
    data = read_record(path, FILE)
    source = record_path(path, FILE)
    if "schema" not in data:
        data = data | {"schema": UNVERSIONED}
    data = upgrade_schema(data, "sessions", SCHEMA, UPGRADES, source)
    if data.get("kind") != KIND:
        raise UserError(f"damaged {source}: \"kind\" is {data.get('kind')!r}, expected {KIND!r}")
    if not isinstance(data.get("results"), list) or not all(isinstance(r, dict) for r in data["results"]):
        raise UserError(f"damaged {source}: \"results\" must be a list of objects")
    return data


@dataclass(frozen=True)
class Store:
    """One endpoint's figures in one configuration: /session/process (module global) or /session/shared."""

    forgotten_rate: float | None
    unknown_rate: float | None
    pids_seen: float | None
    server_ms_p50: float | None

    @classmethod
    def of(cls, s: Any) -> Store:
        return cls(*(num(dig(s, k)) for k in ("forgotten_rate", "unknown_rate", "pids_seen", "server_ms_p50")))


@dataclass(frozen=True)
class SessionsResult:
    """One configuration of sessions.json (a process count x keep-alive mode), checked once."""

    raw: dict[str, Any]
    processes: float | None
    keepalive: bool
    expected_forgotten_rate: float | None  # 1 - 1/N
    shared_extra_ms: float | None
    process: Store
    shared: Store

    @classmethod
    def of(cls, r: dict[str, Any]) -> SessionsResult:
        return cls(r, num(r.get("processes")), bool(r.get("keepalive")), num(r.get("expected_forgotten_rate")),
                   num(r.get("shared_extra_ms")), Store.of(r.get("process")), Store.of(r.get("shared")))

    @property
    def mode(self) -> str:
        """The keep-alive mode in words: "on" or "off"."""
        return "on" if self.keepalive else "off"


class SessionsRun(RunFolder):
    """A `bench sessions` folder: one result per process count and keep-alive mode."""

    @staticmethod
    def load(run_dir: Path | str) -> dict[str, Any]:
        return load_sessions(run_dir)

    @property
    def results(self) -> list[SessionsResult]:
        """The measured configurations that name their process count, in the order run."""
        return self.results_of(self.data)

    def client(self) -> list[tuple[str, float | None]]:
        """How the client ran, checked: (field, value) for clients, visit_requests, requests_per_endpoint, seed."""
        return [(k, num(self.data.get(k))) for k in ("clients", "visit_requests", "requests_per_endpoint", "seed")]

    @property
    def settings(self) -> dict[str, Any] | None:
        """The stack settings (processes and keep-alive are set per result), or None."""
        settings = self.data.get("settings")
        return settings if isinstance(settings, dict) else None

    @classmethod
    def results_of(cls, data: dict[str, Any]) -> list[SessionsResult]:
        """The results of a sessions.json dict already read (the writer's `data`), typed."""
        return [SessionsResult.of(r) for r in lst(data.get("results"))
                if isinstance(r, dict) and num(r.get("processes"))]

    def require_results(self) -> None:
        if not self.results:
            raise UserError(f"no measurement in {self.dir / FILE}: nothing to report; was `bench sessions` stopped "
                            "before its first configuration ended?")


def read_sessions(path: Path | str) -> list[SessionsResult]:
    """The measured configurations of a `bench sessions` folder (or its sessions.json), typed; what the terminal
    prints (bench.console.sessions_table). One-line UserError when the file is unusable."""
    return SessionsRun.open(Path(path).parent if Path(path).is_file() else path).results
