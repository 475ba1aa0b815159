"""Stack settings (the knobs of `bench up`), validated before anything starts."""

from dataclasses import asdict, dataclass

from bench.errors import UserError


def parse_on_off(name: str, value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    if value.lower() in ("on", "true", "yes", "1"):
        return True
    if value.lower() in ("off", "false", "no", "0"):
        return False
    raise UserError(f"{name} {value!r} is not valid: use on or off")


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

    def validate(self) -> "StackSettings":
        _check_range("--port", self.port, 1, 65535)
        _check_range("--processes", self.processes, 1, 256)
        _check_range("--max-connections-per-child", self.max_connections_per_child, 0, 10**9)
        _check_range("--keepalive-timeout", self.keepalive_timeout, 1, 3600)
        _check_range("--max-keepalive-requests", self.max_keepalive_requests, 0, 10**9)
        _check_range("--pool-size", self.pool_size, 1, 100)
        _check_range("--pg-max-connections", self.pg_max_connections, 10, 10000)
        if self.dsn is None:
            self.check_connection_budget()
        return self

    @property
    def connections_needed(self) -> int:
        """Each process may hold its pool and, serving a connect-per-request variant, one more; +3 for us."""
        return self.processes * (self.pool_size + 1) + 3

    def check_connection_budget(self) -> None:
        """The worst case must fit PostgreSQL's max_connections, or naive requests meet "too many clients"."""
        if self.connections_needed > self.pg_max_connections:
            raise UserError(
                f"--processes {self.processes} x (--pool-size {self.pool_size} + 1 per-request connection) needs "
                f"{self.connections_needed} PostgreSQL connections but max_connections is "
                f"{self.pg_max_connections}: lower one or raise --pg-max-connections"
            )

    def to_dict(self) -> dict:
        return asdict(self)


def add_stack_options(parser, keepalive: bool = True) -> None:
    """The options of `bench up`, shared by `bench run` and `bench tune` (which sweeps keep-alive itself)."""
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
    parser.add_argument("--dsn", default=None, help="use an existing PostgreSQL instead of the embedded one")
    parser.add_argument("--seed", action="store_true",
                        help="with --dsn: create and fill the tables even in a database the user does not own")


def settings_from_args(args) -> StackSettings:
    return StackSettings(
        port=args.port,
        processes=args.processes,
        max_connections_per_child=args.max_connections_per_child,
        keepalive=parse_on_off("--keepalive", getattr(args, "keepalive", "on")),
        keepalive_timeout=args.keepalive_timeout,
        max_keepalive_requests=args.max_keepalive_requests,
        pool_size=args.pool_size,
        pg_max_connections=args.pg_max_connections,
        dsn=args.dsn,
    ).validate()
