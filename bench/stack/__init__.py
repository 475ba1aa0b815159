"""The embedded stack: PostgreSQL + Apache started together, recorded in state.json, stopped together.

In: `StackSettings` (knobs.py, the options of `bench up`, validated before anything starts). Out: a running
private PostgreSQL and an Apache on 127.0.0.1 with a generated httpd.conf, in the state folder (`up`,
`down`, `status` here), and the `Stack` the load step drives.

| module | job |
|---|---|
| `knobs.py` | `StackSettings`: every setting of the stack and its checks (the connection budget ...) |
| `servers.py` | the Apache modules as data (mod_python, mod_wsgi) and the `--servers` deployment shapes |
| `mpm.py` | the MPM (prefork, worker, event) and threads: the fixed pool's directives |
| `app.py` | a user's own application (`--app`): its definition and the checks made before it is served |
| `app_conf.py` | `--app-conf`: the application's own Apache lines, and the directives the suite keeps |
| `app_data.py` | `--app-data`: folders made writable for the serving user, given back at `down` |
| `apache.py` | the generated httpd.conf (`httpd.conf.tmpl`, `server_*.conf.tmpl`), start, stop, children |
| `postgres.py` | the private cluster (`initdb`, `seed.sql`) or an existing server (`--dsn`) |
| `pgbouncer.py` | the private PgBouncer in front of the cluster (`--pooler`, the `bouncer` variant) |
| `secrets.py` | passwords, passfiles, SCRAM verifiers, redaction of DSNs |
| `cpus.py` | the CPU partition: the server and the load generator on disjoint CPUs |
| `procs.py` | free ports, bounded waits, stopping what the suite started |
"""

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench import paths
from bench.errors import UserError
from bench.stack import app_data, cpus, pgbouncer, postgres, procs, secrets
from bench.stack.apache import Apache, check_installed
from bench.stack.knobs import StackSettings


@dataclass
class Stack:
    state: Path
    settings: StackSettings
    apache: Apache
    pg: postgres.EmbeddedPostgres | None  # None with --dsn
    dsn: str  # the handlers' connection (embedded: the unprivileged role, its password in a 0600 passfile)
    admin_dsn: str | None = None  # the suite's own superuser connection (embedded only)
    owner: dict | None = field(default=None)  # {"pid", "started"} of the bench run/tune that owns the stack
    pooler: pgbouncer.PgBouncer | None = None  # the private PgBouncer, when a variant or --pooler needs one

    @property
    def pooler_dsn(self) -> str | None:
        """What an application under Apache connects with through the pooler: the handlers' role and the Apache
        user's passfile (no secret inside), e.g. for --app-option."""
        if self.pooler is None:
            return None
        return self.pooler.dsn(postgres.APP_ROLE, self.apache.passfile)

    @property
    def url(self) -> str:
        return self.apache.url

    def owner_alive(self) -> bool | None:
        """None when the stack has no owner (`bench up`), else whether that bench process still runs."""
        if not self.owner:
            return None
        try:
            p = psutil.Process(self.owner["pid"])
            return abs(p.create_time() - self.owner["started"]) < 1 and p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def status(self) -> dict:
        return {
            "url": self.url,
            "state_dir": str(self.state),
            "apache": {"pid": self.apache.pid(), "alive": procs.alive(self.apache.pid()),
                       "children": self.apache.children(), "orphans": self.apache.orphans(),
                       "conf": str(self.apache.conf)},
            "postgres": ({"pid": self.pg.pid(), "alive": procs.alive(self.pg.pid()), "port": self.pg.port,
                          "data": str(self.pg.data)} if self.pg else
                         {"dsn": secrets.redact_dsn(self.dsn), "embedded": False}),
            "owner": self.owner and {**self.owner, "alive": self.owner_alive()},
            "pooler": self.pooler and {"pid": self.pooler.pid(), "alive": self.pooler.alive(), "port": self.pooler.port,
                                       "mode": self.pooler.mode, "pool_size": self.pooler.pool_size,
                                       "dsn": self.pooler_dsn},
            "settings": self.settings.to_dict(),
        }


def _state_file(state: Path) -> Path:
    return state / "state.json"


def up(settings: StackSettings, seed: bool = False, state: Path | None = None, owned: bool = True) -> Stack:
    """Start PostgreSQL (unless --dsn) and Apache; on any failure stop what was started.

    owned: the calling process (bench run/tune) owns the stack and is recorded in state.json, so a later
    command can tell that the stack outlived it; `bench up` passes False (the stack is meant to outlive it).
    """
    state = state or paths.state_dir()
    check_installed(settings.server)
    _refuse_existing(state)
    if procs.port_in_use(settings.port):
        raise UserError(f"port {settings.port} on 127.0.0.1 is in use: choose another with --port")
    if settings.pooler:
        pgbouncer.check_installed()
        if settings.pooler_port is not None and procs.port_in_use(settings.pooler_port):
            raise UserError(f"--pooler-port {settings.pooler_port} on 127.0.0.1 is in use: choose another")
    server_cpus = cpus.parse_cpus(settings.server_cpus, "--server-cpus") if settings.server_cpus else None
    settings.check_server_budget()
    state.mkdir(parents=True, exist_ok=True)
    pg = None
    pooler = None
    stack = None
    owner = None
    if owned:
        owner = {"pid": os.getpid(), "started": psutil.Process().create_time()}
    if settings.app is not None and settings.app.conf:
        Apache(state, settings, "dbname=bench").check_conf()  # nothing started yet
    app_data.refuse_pending(state)
    try:
        if settings.app is not None:  # recorded before changed: a crashed run's `bench down` gives them back
            app_data.grant(state, settings.app.data, procs.service_user("www-data"))
        if settings.dsn is None:
            pg = postgres.EmbeddedPostgres(state, procs.free_port(), settings.pg_max_connections, server_cpus)
            pg.init()
            pg.start()
            postgres.ensure_tables(pg.admin_dsn, seed=True)
            pg.create_app_role()
            dsn, admin_dsn = pg.dsn, pg.admin_dsn
            if settings.pooler:
                pooler = _pooler(state, settings, pg, server_cpus)
                pooler.start()
        else:
            if settings.app is None:  # a user's application brings its own tables: the suite seeds none
                postgres.ensure_tables(settings.dsn, seed=seed)
            dsn, admin_dsn = settings.dsn, None
        stack = Stack(state, settings, Apache(state, settings, dsn), pg, dsn, admin_dsn, owner, pooler)
        stack.apache.prepare()
        _write_pooler_dsn(stack)
        _write_state(state, _record(stack))
        stack.apache.start()
        if pg is not None:
            cpus.check(pg.processes(), server_cpus, "PostgreSQL processes")
        if pooler is not None:
            cpus.check(cpus.family(pooler.pid()), server_cpus, "PgBouncer")
        return stack
    except BaseException:
        try:
            if stack is not None:
                stack.apache.stop()
            if pooler is not None:
                pooler.stop()
            if pg is not None:
                pg.stop()
        finally:  # a stop that fails (a Ctrl-C during initdb) must not keep the data folders given away
            _state_file(state).unlink(missing_ok=True)
            app_data.restore(state)
        raise


def _pooler(state: Path, settings: StackSettings, pg: postgres.EmbeddedPostgres,
            server_cpus: frozenset[int] | None) -> pgbouncer.PgBouncer:
    """The private PgBouncer of these settings, configured (not started). Clients: every request Apache serves at
    once, each connecting per request, plus slack for connections still closing and the suite's own."""
    pooler = pgbouncer.PgBouncer(state, settings.pooler_port or procs.free_port(), pg.port, settings.pooler_mode,
                                 settings.pooler_pool, max_client_conn=2 * settings.processes * settings.threads + 50,
                                 cpus=server_cpus)
    pooler.configure(pg.admin_dsn, (postgres.APP_ROLE,))
    return pooler


def _write_pooler_dsn(stack: Stack) -> None:
    """The bouncer variant's DSN for the handlers (bench.pooler_dsn_file): no secret inside (the Apache user's
    passfile), and still readable by the Apache user only, like that passfile."""
    target = stack.apache.root / "pooler.dsn"
    target.unlink(missing_ok=True)
    dsn = stack.pooler_dsn  # None: no pooler
    if dsn is None:
        return
    user = stack.apache.user
    secrets.write_private(target, dsn + "\n", (user.pw_uid, user.pw_gid) if user is not None else None)


def _write_state(state: Path, record: dict) -> None:
    # 0600 and without secrets: a --dsn password is stored redacted (status and down do not need it).
    secrets.write_private(_state_file(state), json.dumps(record, indent=2))


def _record(stack: Stack) -> dict:
    return {"settings": stack.settings.to_dict(), "dsn": secrets.redact_dsn(stack.dsn),
            "admin_dsn": stack.admin_dsn, "pg_port": stack.pg.port if stack.pg else None, "owner": stack.owner,
            "pooler_port": stack.pooler.port if stack.pooler else None}


def _refuse_existing(state: Path) -> None:
    f = _state_file(state)
    if not f.exists():
        return
    stack = load(state)
    running = (procs.alive(stack.apache.pid()) or stack.apache.orphans()
               or (stack.pg and procs.alive(stack.pg.pid())) or (stack.pooler and stack.pooler.alive()))
    if running and stack.owner and stack.owner_alive() is False:
        raise UserError(f"a stack is still running from {state} ({stack.url}) but the bench process that started "
                        f"it (pid {stack.owner['pid']}) is gone: run `bench down` to stop it")
    if running:
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
        server_cpus = cpus.parse_cpus(settings.server_cpus) if settings.server_cpus else None
        pg = postgres.EmbeddedPostgres(state, record["pg_port"], settings.pg_max_connections, server_cpus)
    pooler = None
    if record.get("pooler_port") and pg is not None:
        pooler = pgbouncer.PgBouncer(state, record["pooler_port"], pg.port, settings.pooler_mode, settings.pooler_pool)
    return Stack(state, settings, Apache(state, settings, record["dsn"]), pg, record["dsn"],
                 record.get("admin_dsn"), record.get("owner"), pooler)


# What the stack's commands make in the state folder. None of it is a cache: the next `up` writes every file again
# (the handlers' copy, httpd.conf, the cluster, new passwords) and a run keeps what it needs in its run folder
# (httpd.conf, each trial's slice of the access log). So `down` removes it all, then the folder when it is empty.
MADE_IN_STATE = ("state.json", "apache", "handlers", "app", "postgres", "pgbouncer", "secrets", "sessions-access.log")


def down(state: Path | None = None) -> list[str]:
    """Stop exactly what `up` started, leave no process behind, then remove the state folder. Returns what was
    stopped."""
    state = state or paths.state_dir()
    try:
        stopped = _stop(state)
    finally:
        restored = app_data.restore(state)
    if restored:
        stopped.append("--app-data ownership (owners and modes restored)")
    _state_file(state).unlink(missing_ok=True)
    # The cluster and every secret go with the stack, whatever else is left.
    for gone in ("postgres", "pgbouncer", "secrets"):
        shutil.rmtree(state / gone, ignore_errors=True)
    (state / "apache" / "handler.pgpass").unlink(missing_ok=True)
    (state / "apache" / "pooler.dsn").unlink(missing_ok=True)
    remove_state(state)
    return stopped


def _stop(state: Path) -> list[str]:
    stopped = []
    url = None
    if _state_file(state).exists():
        stack = load(state)
        url = stack.url
        if procs.alive(stack.apache.pid()):
            stopped.append(f"apache {stack.apache.pid()}")
        orphans = stack.apache.orphans()
        if orphans:
            stopped.append(f"orphaned apache children {orphans} (their parent was gone)")
        stack.apache.stop()
        if stack.pooler is not None:  # before PostgreSQL: its server connections close cleanly
            if stack.pooler.alive():
                stopped.append(f"pgbouncer {stack.pooler.pid()}")
            stack.pooler.stop()
        if stack.pg is not None:
            if procs.alive(stack.pg.pid()):
                stopped.append(f"postgres {stack.pg.pid()}")
            try:
                stack.pg.stop()
            except UserError:
                pass
    # Leftovers of a crashed run: anything whose command line names our state folder, or our URL (the Locust
    # of a `bench run` that was killed keeps loading the port otherwise).
    leftovers = procs.processes_mentioning(str(state))
    if url is not None:
        leftovers += [p for p in procs.processes_mentioning(url) if p.pid != os.getpid()
                      and any(a == url or a.startswith(url + "/") for a in p.info["cmdline"] or [])]
    for p in leftovers:
        stopped.append(f"leftover {p.pid}")
        procs.stop_tree(p.pid)
    return stopped


def remove_state(state: Path) -> bool:
    """Remove what the stack made in the state folder (MADE_IN_STATE), then the folder if nothing else is in it.
    Refused (False, nothing removed) while a stack is recorded there or a process still runs from it; a file
    the suite did not make is left, and the folder with it."""
    if _state_file(state).exists() or procs.processes_mentioning(str(state)):
        return False
    for name in MADE_IN_STATE:
        path = state / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    try:
        state.rmdir()
    except OSError:  # not empty (something of the user's), or already gone
        pass
    return True
