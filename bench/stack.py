"""The embedded stack: PostgreSQL + Apache started together, recorded in state.json, stopped together."""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench import paths, postgres, procs
from bench.apache import Apache, check_installed
from bench.errors import UserError
from bench.knobs import StackSettings


@dataclass
class Stack:
    state: Path
    settings: StackSettings
    apache: Apache
    pg: postgres.EmbeddedPostgres | None  # None with --dsn
    dsn: str

    @property
    def url(self) -> str:
        return self.apache.url

    def status(self) -> dict:
        return {
            "url": self.url,
            "state_dir": str(self.state),
            "apache": {"pid": self.apache.pid(), "alive": procs.alive(self.apache.pid()),
                       "children": self.apache.children(), "conf": str(self.apache.conf)},
            "postgres": ({"pid": self.pg.pid(), "alive": procs.alive(self.pg.pid()), "port": self.pg.port,
                          "data": str(self.pg.data)} if self.pg else {"dsn": self.dsn, "embedded": False}),
            "settings": self.settings.to_dict(),
        }


def _state_file(state: Path) -> Path:
    return state / "state.json"


def up(settings: StackSettings, seed: bool = False, state: Path | None = None) -> Stack:
    """Start PostgreSQL (unless --dsn) and Apache; on any failure stop what was started."""
    state = state or paths.state_dir()
    check_installed()
    _refuse_existing(state)
    if procs.port_in_use(settings.port):
        raise UserError(f"port {settings.port} on 127.0.0.1 is in use: choose another with --port")
    state.mkdir(parents=True, exist_ok=True)
    pg = None
    stack = None
    try:
        if settings.dsn is None:
            pg = postgres.EmbeddedPostgres(state, procs.free_port(), settings.pg_max_connections)
            pg.init()
            pg.start()
            dsn = pg.dsn
        else:
            dsn = settings.dsn
        postgres.ensure_tables(dsn, seed=seed or pg is not None)
        stack = Stack(state, settings, Apache(state, settings, dsn), pg, dsn)
        stack.apache.prepare()
        _state_file(state).write_text(json.dumps(_record(stack), indent=2))
        stack.apache.start()
        return stack
    except BaseException:
        if stack is not None:
            stack.apache.stop()
        if pg is not None:
            pg.stop()
        _state_file(state).unlink(missing_ok=True)
        raise


def _record(stack: Stack) -> dict:
    return {"settings": stack.settings.to_dict(), "dsn": stack.dsn,
            "pg_port": stack.pg.port if stack.pg else None}


def _refuse_existing(state: Path) -> None:
    f = _state_file(state)
    if not f.exists():
        return
    stack = load(state)
    if procs.alive(stack.apache.pid()) or (stack.pg and procs.alive(stack.pg.pid())):
        raise UserError(f"a stack is already running from {state} ({stack.url}): run `bench down` first")
    raise UserError(f"stale state folder {state} (its servers are not running): run `bench down` to clean it")


def load(state: Path | None = None) -> Stack:
    """The stack recorded in the state folder (running or not)."""
    state = state or paths.state_dir()
    f = _state_file(state)
    if not f.exists():
        raise UserError(f"no stack recorded in {state}: start one with `bench up`")
    try:
        record = json.loads(f.read_text())
        settings = StackSettings(**record["settings"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"damaged state file {f}: remove the folder {state}") from exc
    pg = None
    if record.get("pg_port"):
        pg = postgres.EmbeddedPostgres(state, record["pg_port"], settings.pg_max_connections)
    return Stack(state, settings, Apache(state, settings, record["dsn"]), pg, record["dsn"])


def down(state: Path | None = None) -> list[str]:
    """Stop exactly what `up` started, leave no process behind. Returns what was stopped."""
    state = state or paths.state_dir()
    stopped = []
    if _state_file(state).exists():
        stack = load(state)
        if procs.alive(stack.apache.pid()):
            stopped.append(f"apache {stack.apache.pid()}")
        stack.apache.stop()
        if stack.pg is not None:
            if procs.alive(stack.pg.pid()):
                stopped.append(f"postgres {stack.pg.pid()}")
            try:
                stack.pg.stop()
            except UserError:
                pass
    # Leftovers of a crashed run: anything whose command line names our state folder.
    for p in procs.processes_mentioning(str(state)):
        stopped.append(f"leftover {p.pid}")
        procs.stop_tree(p.pid)
    _state_file(state).unlink(missing_ok=True)
    if (state / "postgres").exists():
        shutil.rmtree(state / "postgres", ignore_errors=True)
    return stopped
