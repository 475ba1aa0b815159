"""Stack settings (the knobs of `bench up`), validated before anything starts.

Above the servers and the MPMs (bench.stack.servers, bench.stack.mpm): those are data and rules that read
the settings' fields, and `validate` checks the settings against them."""

import argparse
import ipaddress
import socket
from dataclasses import asdict, dataclass, replace

import psycopg2
import psycopg2.extensions

from bench import vocabulary
from bench.errors import UserError
from bench.stack import cpus, mpm, pgbouncer, postgres
from bench.stack.app import APP_NAME_HELP, App, AppArgs
from bench.stack.app import from_args as app_from_args
from bench.stack.secrets import redact_dsn
from bench.stack.servers import DEFAULT_SERVER
from bench.stack.servers import SERVERS as SERVER_FACTS

SERVERS = tuple(SERVER_FACTS)
WSGI_MODES = SERVER_FACTS["mod_wsgi"].modes


def parse_on_off(name: str, value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    if value.lower() in ("on", "true", "yes", "1"):
        return True
    if value.lower() in ("off", "false", "no", "0"):
        return False
    raise UserError(f"{name} {value!r} is not valid: use on or off")


def check_dsn(dsn: str) -> None:
    """A DSN libpq can parse (key=value or URL) with a numeric port: refused here, not after a start."""
    shown = redact_dsn(dsn)
    try:
        params = psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "not a DSN"
        if "password" in dsn.lower() or "@" in dsn:
            reason = "libpq cannot parse it"  # its message may quote the secret
        raise UserError(f"--dsn {shown!r} is not valid: {reason}") from None
    for port in (params.get("port") or "").split(","):  # libpq allows one port per host
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise UserError(f"--dsn {shown!r}: port={port} is not a port number (1..65535)")


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise UserError(f"{name} {value} is out of range: allowed {low}..{high}")


@dataclass
class StackSettings:
    port: int = 8089
    processes: int = 4
    max_connections_per_child: int = 0
    keepalive: bool = True
    keepalive_timeout: int = 5
    max_keepalive_requests: int = 100  # Apache's default: a client reconnects every 100 requests
    pool_size: int = 1
    pg_max_connections: int = 100
    dsn: str | None = None
    server_cpus: str | None = None  # Linux CPU list for Apache and PostgreSQL; None = not pinned
    leaky: bool = False             # serve /{variant}/leaky, the memory-leak demonstration
    server: str = DEFAULT_SERVER    # one of bench.stack.servers.SERVERS: the same handlers through its entry point
    wsgi_mode: str = "daemon"       # mod_wsgi only: daemon (WSGIDaemonProcess) or embedded (in the children)
    listen: str = "127.0.0.1"       # Apache's address (--listen); PostgreSQL stays on loopback
    # Threads (bench.stack.mpm): the Apache MPM, and requests one Python process serves at once (ThreadsPerChild
    # under worker/event, WSGIDaemonProcess threads= under mod_wsgi daemon mode).
    mpm: str = "prefork"
    threads: int = 1
    test_sleep: bool = False        # tests only (no option): serve /{variant}/sleep?ms=N, a pg_sleep on a connection
    test_cpu_us: int = 0            # tests only (no option): burn this much CPU in the handler per request
    app: App | None = None          # --app: the user's application instead of the suite's handlers
    # The private PgBouncer (bench.stack.pgbouncer): started when a variant routes through it or with --pooler.
    pooler: bool = False
    pooler_mode: str = "transaction"
    pooler_pool_size: int | None = None  # None: processes x threads (pooler_pool), within PostgreSQL's budget
    pooler_port: int | None = None       # None: a free port
    direct: bool = True             # some variant connects to PostgreSQL itself (False: all through the pooler)

    def __post_init__(self) -> None:
        read: object = self.app  # as read back from state.json: a dict, whatever the annotation says
        if isinstance(read, dict):
            self.app = App.from_dict(read)

    def validate(self) -> "StackSettings":
        _check_range("--port", self.port, 1, 65535)
        _check_range("--processes", self.processes, 1, 256)
        _check_range("--max-connections-per-child", self.max_connections_per_child, 0, 10**9)
        _check_range("--keepalive-timeout", self.keepalive_timeout, 1, 3600)
        _check_range("--max-keepalive-requests", self.max_keepalive_requests, 0, 10**9)
        _check_range("--pool-size", self.pool_size, 1, 100)
        _check_range("--pg-max-connections", self.pg_max_connections, 10, 10000)
        _check_range("test_cpu_us (tests only)", self.test_cpu_us, 0, 100000)
        if self.server not in SERVERS:
            raise UserError(f"--server {self.server!r} is not valid: use {' or '.join(SERVERS)}")
        if self.app is not None and self.server != self.app.server:
            flag = "--app-handler" if self.app.kind == "handler" else "--app-wsgi"
            raise UserError(f"--server {self.server} cannot serve {flag}: {flag} runs under {self.app.server}")
        if self.wsgi_mode not in WSGI_MODES:
            raise UserError(f"--wsgi-mode {self.wsgi_mode!r} is not valid: use {' or '.join(WSGI_MODES)}")
        if self.app is not None and self.app.variants and self.wsgi_mode != "daemon":
            raise UserError(f"--wsgi-mode {self.wsgi_mode} with --app-variant: each variant needs its own daemon "
                            "group (--wsgi-mode daemon); embedded mode serves every variant in the same children")
        mpm.check(self)
        self.listen = check_listen(self.listen)
        if self.server_cpus is not None:
            self.server_cpus = cpus.format_cpus(cpus.parse_cpus(self.server_cpus, "--server-cpus"))
        self.check_pooler()
        if self.dsn is None:
            self.check_connection_budget()
        else:
            check_dsn(self.dsn)
        return self

    def check_pooler(self) -> None:
        """The pooler's options: a mode PgBouncer has, a pool of at least 1, a port; it needs the embedded
        PostgreSQL (its auth_file holds the role's SCRAM verifier, read from that cluster)."""
        if self.pooler_mode not in pgbouncer.MODES:
            raise UserError(f"--pooler-mode {self.pooler_mode!r} is not valid: use {' or '.join(pgbouncer.MODES)}")
        if self.pooler_pool_size is not None:
            _check_range("--pooler-pool-size", self.pooler_pool_size, 1, 10000)
        if self.pooler_port is not None:
            _check_range("--pooler-port", self.pooler_port, 1, 65535)
        if self.pooler and self.dsn is not None:
            raise UserError("the private PgBouncer sits in front of the embedded PostgreSQL: with --dsn, point "
                            "--dsn at your own PgBouncer instead (docs/run.md) and leave out --pooler and bouncer")
        if self.pooler and self.app is None and self.pooler_port is not None and self.pooler_port == self.port:
            raise UserError(f"--pooler-port {self.pooler_port} is Apache's --port: choose another")

    @property
    def pooler_pool(self) -> int:
        """PgBouncer's default_pool_size: --pooler-pool-size, else one server connection per request the
        Apache processes serve at once (processes x threads, or x the pool when --pool-size is larger): in
        transaction mode a request holds a server connection only for its transaction, so no client ever waits
        for one and a comparison with pooled (which keeps that many) measures the route, not a queue. Within what
        PostgreSQL has left."""
        if self.pooler_pool_size is not None:
            return self.pooler_pool_size
        left = self.pg_max_connections - 3 - pgbouncer.RESERVE_POOL - (self._in_process if self.direct else 0)
        # pool_per_process (>= threads): a process's kept connections to the pooler (prepared-bouncer), each holding
        # a server connection for its life in session mode, must all find one.
        return max(1, min(self.processes * self.pool_per_process, left))

    def check_server_budget(self) -> None:
        """With --dsn: the worst case must fit the server's real free connections (asks the server)."""
        if self.dsn is not None:
            postgres.check_connection_budget(
                self.dsn, self.connections_needed,
                f"{self.budget_text} + 3")

    @property
    def connections_needed(self) -> int:
        """Each process may hold its pool and, serving a connect-per-request variant, one more per thread
        (unless every variant goes through the pooler); the pooler its pool and reserve; +3 for us."""
        pooler = self.pooler_pool + pgbouncer.RESERVE_POOL if self.pooler else 0
        return (self._in_process if self.direct else 0) + pooler + 3

    @property
    def _in_process(self) -> int:
        return self._groups * self.processes * (self.pool_per_process + self.threads)

    @property
    def _groups(self) -> int:
        """--app-variant: each variant's daemon group holds its own connections, idle or not."""
        return len(self.app.variants) if self.app is not None and self.app.variants else 1

    @property
    def pool_per_process(self) -> int:
        """The pool one process keeps: --pool-size, and at least one connection per thread (a thread that
        finds the pool exhausted would wait for another's request)."""
        return max(self.pool_size, self.threads)

    @property
    def budget_text(self) -> str:
        """How connections_needed counts, in the options' words."""
        if self.threads == 1:
            text = f"--processes {self.processes} x (--pool-size {self.pool_size} + 1 per-request connection)"
        else:
            text = (f"--processes {self.processes} x (pool {self.pool_per_process} + --threads {self.threads} "
                    "per-request connections)")
        if self._groups > 1:
            text = f"{self._groups} --app-variant daemon groups x {text}"
        pooler = f"PgBouncer's pool {self.pooler_pool} + reserve {pgbouncer.RESERVE_POOL}"
        if not self.pooler:
            return text
        return f"{text} + {pooler}" if self.direct else pooler

    def check_connection_budget(self) -> None:
        """The worst case must fit PostgreSQL's max_connections, or naive requests meet "too many clients".
        When the processes' own connections are what does not fit, the pooler is the measured alternative."""
        if self.connections_needed > self.pg_max_connections:
            offer = ""
            if self.direct and replace(self, pooler=True, direct=False).connections_needed <= self.pg_max_connections:
                offer = (", or run the bouncer variant alone (--variants bouncer, tune --variant bouncer: "
                         "PgBouncer's pool is then the budget)")
            raise UserError(
                f"{self.budget_text} needs {self.connections_needed} PostgreSQL connections but max_connections is "
                f"{self.pg_max_connections}: lower one or raise --pg-max-connections{offer}"
            )

    def to_dict(self) -> dict:
        """For results.json, state.json, `bench status`: the DSN's password is redacted."""
        return asdict(self) | {"dsn": redact_dsn(self.dsn), "app": self.app and self.app.to_dict()}


def check_listen(addr: str) -> str:
    """An IPv4 address this machine has (Apache binds it); loopback unless the user names another."""
    try:
        ipaddress.IPv4Address(addr)
    except ValueError as exc:
        raise UserError(f"--listen {addr!r} is not an IPv4 address (e.g. 10.0.0.5)") from exc
    try:
        with socket.socket() as s:
            s.bind((addr, 0))
    except OSError as exc:
        raise UserError(f"--listen {addr}: no interface of this machine has that address ({exc.strerror})") from exc
    return addr


def add_stack_options(parser: argparse.ArgumentParser, keepalive: bool = True, generator: bool = True) -> None:
    """The options of `bench up`, shared by `bench run` and `bench tune` (which sweeps keep-alive itself);
    generator=False (bench up) leaves out --generator-cpus. The app options are among them."""
    d = StackSettings()
    parser.add_argument("--port", type=int, default=d.port, help=f"Apache port on 127.0.0.1 (default {d.port})")
    parser.add_argument("--processes", type=int, default=d.processes,
                        help=f"Apache prefork children, fixed pool (default {d.processes})")
    parser.add_argument("--max-connections-per-child", type=int, default=d.max_connections_per_child,
                        help="MaxConnectionsPerChild (alias MaxRequestsPerChild); 0 = never recycle")
    if keepalive:
        parser.add_argument("--keepalive", default="on", help="KeepAlive on|off (default on)")
    parser.add_argument("--keepalive-timeout", type=int, default=d.keepalive_timeout)
    parser.add_argument("--max-keepalive-requests", type=int, default=d.max_keepalive_requests,
                        help="MaxKeepAliveRequests (default 100, Apache's own); 0 = unlimited")
    parser.add_argument("--pool-size", type=int, default=d.pool_size,
                        help="pooled connections per Apache process (default 1: prefork serves one at a time)")
    parser.add_argument("--pg-max-connections", type=int, default=d.pg_max_connections,
                        help="max_connections of the embedded PostgreSQL (default 100)")
    parser.add_argument("--listen", default=d.listen, metavar="ADDR",
                        help="Apache's address (default 127.0.0.1); another exposes the server to that network")
    parser.add_argument("--dsn", default=None, help="use an existing PostgreSQL instead of the embedded one")
    parser.add_argument("--seed", action="store_true",
                        help="with --dsn: create and fill the tables even in a database the user does not own")
    parser.add_argument("--leaky", action="store_true",
                        help="also serve /{variant}/leaky, the memory-leak demonstration (off by default)")
    parser.add_argument("--server-cpus", metavar="LIST",
                        help="CPUs of Apache and PostgreSQL, Linux list syntax (0-2,5); default: all but the last "
                        "when there are 2 or more")
    # None: the app's server with --app, else the default (so --server mod_python --app-wsgi is refused).
    parser.add_argument("--server", default=None, help=f"{' or '.join(SERVERS)} (default {d.server}; with --app "
                        "the app's: mod_python for --app-handler, mod_wsgi for --app-wsgi)")
    parser.add_argument("--wsgi-mode", default=d.wsgi_mode,
                        help="with --server mod_wsgi: daemon (WSGIDaemonProcess, default) or embedded")
    add_threading_options(parser)
    add_pooler_options(parser)
    if generator:
        parser.add_argument("--generator-cpus", metavar="LIST",
                            help="CPUs of the Locust processes (default: the last CPU); never shared with the server")
    parser.add_argument("--no-partition", action="store_true",
                        help="do not pin the server and the load generator to separate CPUs")
    add_app_options(parser)


def add_app_options(parser: argparse.ArgumentParser) -> None:
    """--app and what goes with it: the user's own application instead of the suite's handlers."""
    g = parser.add_argument_group("your own application")
    g.add_argument("--app", metavar="DIR", help="serve your application from DIR (put on its Python path; "
                   "copied into the state folder so Apache's user can read it)")
    g.add_argument("--app-handler", metavar="MODULE[::FUNCTION]",
                   help="a mod_python content handler, as PythonHandler takes it (served by mod_python)")
    g.add_argument("--app-wsgi", metavar="FILE", help="a WSGI script in DIR defining `application` (served by "
                   "mod_wsgi, daemon mode unless --wsgi-mode embedded)")
    g.add_argument("--app-option", metavar="KEY=VALUE", action="append", default=[],
                   help="a PythonOption for the handler (SetEnv for a WSGI app); repeatable")
    g.add_argument("--paths", metavar="LIST", help="the requests to send, round-robin, e.g. /,/entries?page=2 "
                   "(each a Locust request name); {n} in a path becomes a number that grows with every request")
    g.add_argument("--locustfile", metavar="FILE",
                   help="your own Locust User classes instead of --paths (picked as Locust picks them)")
    g.add_argument("--app-name", metavar="NAME", help=APP_NAME_HELP)
    g.add_argument("--app-venv", metavar="DIR", help="the application's virtualenv, made with /usr/bin/python3 -m "
                   "venv (the Python Apache embeds): python-home= under mod_wsgi, its site-packages added with "
                   "site.addsitedir before the handler is imported under mod_python")
    g.add_argument("--app-conf", metavar="FILE", help="the application's own Apache lines (its <Location>, "
                   "PythonOption, PythonInterpreter, auth handlers, SetEnv), included as they are; checked by "
                   "apache2 -t; a directive the suite sets (pool, recycling, Listen, User, KeepAlive, logs) is refused")
    g.add_argument("--mount", metavar="PATH", help="serve the application under PATH (its SCRIPT_NAME, e.g. "
                   "/tracker; default /); --paths are requested under it")
    g.add_argument("--app-data", metavar="DIR", action="append", default=[],
                   help="a folder the application writes, made writable for the server's user while the stack "
                   "runs and given back (owners and modes) at the end, never copied; repeatable")
    g.add_argument("--app-variant", metavar="NAME[FACTOR,...]:KEY=VALUE,...", action="append", default=[],
                   help="the application again under another environment (os.environ of its own mod_wsgi daemon "
                   "group, served under --mount/NAME), one cell each; FACTORs say what it keeps across requests "
                   "(connection, template, prepared) so the run splits the speedup as for the suite's variants; "
                   "repeatable, two or more")


def app_args(args: argparse.Namespace) -> AppArgs:
    return AppArgs(**{k: getattr(args, k, None) for k in ("app", "app_handler", "app_wsgi", "paths", "locustfile",
                                                              "app_name", "app_venv", "app_conf", "mount")},
                   app_option=getattr(args, "app_option", None) or [], app_data=getattr(args, "app_data", None) or [],
                   app_variant=getattr(args, "app_variant", None) or [])


def add_pooler_options(parser: argparse.ArgumentParser) -> None:
    """The private PgBouncer (bench.stack.pgbouncer): started with --pooler or when a variant routes through it."""
    g = parser.add_argument_group("the external pooler (PgBouncer)")
    g.add_argument("--pooler", action="store_true", help="start a private PgBouncer in front of the embedded "
                   "PostgreSQL even when no variant needs it (bench up prints its DSN, e.g. for --app)")
    g.add_argument("--pooler-mode", default=StackSettings.pooler_mode,
                   help=f"PgBouncer's pool_mode: {' or '.join(pgbouncer.MODES)} (default transaction)")
    g.add_argument("--pooler-pool-size", type=int, default=None, metavar="N",
                   help="PgBouncer's default_pool_size: server connections (default processes x threads, the "
                   "requests Apache serves at once)")
    g.add_argument("--pooler-port", type=int, default=None, help="PgBouncer's port on 127.0.0.1 (default a free one)")


def all_variants(pooler_mode: str) -> list[str]:
    """--all: every variant of the table the pooler's mode can serve (prepared statements through it need
    session mode)."""
    return [v for v in vocabulary.VARIANTS if pooler_mode == "session" or not vocabulary.needs_session_pooler(v)]


def _variants_of(args: argparse.Namespace) -> list[str]:
    """The variants a command will serve: bench run's --variants/--all, bench tune's --variant; none for up."""
    if hasattr(args, "variants"):
        if getattr(args, "all", False):
            return all_variants(getattr(args, "pooler_mode", StackSettings.pooler_mode))
        given = args.variants.split(",") if args.variants else vocabulary.DEFAULT_VARIANTS
        return [v.strip() for v in given if v.strip() in vocabulary.VARIANT_FACTORS]
    variant = getattr(args, "variant", None)
    return [variant] if variant in vocabulary.VARIANT_FACTORS else []


def pooler_from_args(args: argparse.Namespace) -> dict:
    """StackSettings' pooler fields: on with --pooler or a variant through it; `direct` False when every variant
    goes through it (its pool is then the whole PostgreSQL budget). Refuses what the pooler cannot serve."""
    variants = [] if getattr(args, "app", None) else _variants_of(args)
    routed = [v for v in variants if vocabulary.through_pooler(v)]
    mode = getattr(args, "pooler_mode", StackSettings.pooler_mode)
    prepared = [v for v in routed if vocabulary.needs_session_pooler(v)]
    if prepared and mode == "transaction":
        raise UserError(f"{prepared[0]} keeps prepared statements, which PgBouncer 1.18 in transaction mode does not "
                        "carry across transactions (max_prepared_statements needs 1.21): use --pooler-mode session")
    return {"pooler": bool(getattr(args, "pooler", False) or routed), "pooler_mode": mode,
            "pooler_pool_size": getattr(args, "pooler_pool_size", None),
            "pooler_port": getattr(args, "pooler_port", None), "direct": not variants or len(routed) < len(variants)}


def add_threading_options(parser: argparse.ArgumentParser) -> None:
    """--mpm and --threads (bench.stack.mpm): requests served at once per Python process."""
    parser.add_argument("--mpm", default=StackSettings.mpm,
                        help=f"Apache MPM: {' or '.join(mpm.MPMS)} (default prefork); worker/event run --threads "
                        "per child")
    parser.add_argument("--threads", type=int, default=StackSettings.threads,
                        help="threads per Python process: ThreadsPerChild under worker/event, WSGIDaemonProcess "
                        "threads= under mod_wsgi daemon mode (default 1)")


def partition_from_args(args: argparse.Namespace) -> cpus.Partition:
    """Server and generator CPU sets from --server-cpus, --generator-cpus, --no-partition (checked here)."""
    return cpus.partition(getattr(args, "server_cpus", None), getattr(args, "generator_cpus", None),
                          getattr(args, "no_partition", False))


def settings_from_args(args: argparse.Namespace) -> StackSettings:
    app = app_from_args(app_args(args))
    server = getattr(args, "server", None) or (app.server if app else DEFAULT_SERVER)
    settings = StackSettings(
        port=args.port,
        processes=args.processes,
        max_connections_per_child=args.max_connections_per_child,
        keepalive=parse_on_off("--keepalive", getattr(args, "keepalive", "on")),
        keepalive_timeout=args.keepalive_timeout,
        max_keepalive_requests=args.max_keepalive_requests,
        pool_size=args.pool_size,
        pg_max_connections=args.pg_max_connections,
        dsn=args.dsn,
        server_cpus=partition_from_args(args).server_list,
        leaky=getattr(args, "leaky", False),
        server=server,
        wsgi_mode=getattr(args, "wsgi_mode", "daemon"),
        listen=getattr(args, "listen", "127.0.0.1"),
        mpm=getattr(args, "mpm", StackSettings.mpm),
        threads=getattr(args, "threads", StackSettings.threads),
        app=app,
        **pooler_from_args(args),
    ).validate()
    settings.check_server_budget()
    return settings
