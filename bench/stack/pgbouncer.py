"""The private PgBouncer: an external pooler in front of the embedded PostgreSQL (the `bouncer` variant,
`--pooler`).

Like the embedded PostgreSQL it is unprivileged (PgBouncer refuses root: as root it runs as the `postgres`
account), listens on 127.0.0.1 and on a Unix socket in its own 0700 folder of the state folder only, and keeps
its config, log and pidfile there. A PgBouncer already running on the machine (Debian's own on 6432) is never
touched: ours is found by its pidfile and by the config path on its command line.

Authentication is SCRAM end to end without a password in any of its files. Its auth_file holds the handlers'
role's SCRAM verifier exactly as pg_authid stores it: PgBouncer checks the client's SCRAM proof against it and,
because the verifier is the server's own (same salt and iterations), logs in to PostgreSQL with the ClientKey it
recovered from that proof (SCRAM pass-through; a different verifier of the same password fails). The suite reads
the admin console as a stats-only user that exists in the auth_file alone (no PostgreSQL role, so it can log in
nowhere else), its password in a 0600 passfile in state/secrets.
"""

import os
import signal
import time
from pathlib import Path

import psycopg2

from bench.errors import UserError
from bench.stack import procs, secrets

BINARY = Path("/usr/sbin/pgbouncer")
MODES = ("transaction", "session")
# reserve_pool_size: 0, so the pool is all PgBouncer ever opens (the connection budget counts pool + reserve).
RESERVE_POOL = 0
STATS_USER = "bench_pooler_stats"
DATABASE = "bench"
START_TIMEOUT_S = 15


def check_installed() -> None:
    if not BINARY.exists():
        raise UserError(f"PgBouncer not found ({BINARY}): install the pgbouncer package "
                        "(scripts/bootstrap.sh installs it)")


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class PgBouncer:
    """One PgBouncer serving the database `bench` of the embedded PostgreSQL on pg_port."""

    def __init__(self, state: Path, port: int, pg_port: int, mode: str = "transaction", pool_size: int = 4,
                 max_client_conn: int = 100, cpus: frozenset[int] | None = None):
        self.root = state / "pgbouncer"
        self.ini = self.root / "pgbouncer.ini"
        self.userlist = self.root / "userlist.txt"
        self.log = self.root / "pgbouncer.log"
        self.pidfile = self.root / "pgbouncer.pid"
        self.secrets = state / "secrets"
        self.port = port
        self.pg_port = pg_port
        self.mode = mode
        self.pool_size = pool_size
        self.max_client_conn = max_client_conn
        self.cpus = cpus  # the server CPUs, like PostgreSQL and Apache: its work is the server's, not the generator's
        self.user = procs.service_user("postgres")  # PgBouncer refuses root

    def dsn(self, role: str, passfile: Path | None = None) -> str:
        """A connection to the pooled database as role; no secret inside (passfile= names a 0600 file)."""
        text = f"host=127.0.0.1 port={self.port} dbname={DATABASE} user={role}"
        return text + (f" passfile={passfile}" if passfile else "")

    @property
    def stats_dsn(self) -> str:
        """The admin console (virtual database pgbouncer) as the stats-only user."""
        return (f"host=127.0.0.1 port={self.port} dbname=pgbouncer user={STATS_USER} "
                f"passfile={self.secrets / (STATS_USER + '.pgpass')}")

    def _owner(self) -> tuple[int, int] | None:
        return (self.user.pw_uid, self.user.pw_gid) if self.user is not None else None

    def configure(self, admin_dsn: str, roles: tuple[str, ...]) -> None:
        """Write the config and the auth_file: each role's verifier read from pg_authid, and the stats user."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        owner = self._owner()
        if owner is not None:
            os.chown(self.root, *owner)
        conn = psycopg2.connect(admin_dsn)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)", (list(roles),))
                verifiers = dict(cur.fetchall())
        finally:
            conn.close()
        missing = [r for r in roles if not (verifiers.get(r) or "").startswith("SCRAM-SHA-256$")]
        if missing:
            raise UserError(f"PgBouncer: no SCRAM verifier for {', '.join(missing)} in the embedded PostgreSQL")
        stats_password = secrets.new_password()
        self.secrets.mkdir(mode=0o700, exist_ok=True)
        secrets.write_private(self.secrets / f"{STATS_USER}.pgpass", secrets.passfile_line(stats_password))
        verifiers[STATS_USER] = secrets.scram_verifier(stats_password)
        lines = "".join(f"{_quoted(role)} {_quoted(v)}\n" for role, v in verifiers.items())
        secrets.write_private(self.userlist, lines, owner)
        secrets.write_private(self.ini, self.render(), owner)

    def render(self) -> str:
        return "\n".join([
            "; modpython-bench: private PgBouncer, loopback only",
            "[databases]",
            f"{DATABASE} = host=127.0.0.1 port={self.pg_port} dbname={DATABASE}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            f"unix_socket_dir = {self.root}",
            "unix_socket_mode = 0700",
            "auth_type = scram-sha-256",
            f"auth_file = {self.userlist}",
            f"stats_users = {STATS_USER}",
            f"pool_mode = {self.mode}",
            f"default_pool_size = {self.pool_size}",
            "min_pool_size = 0",
            f"reserve_pool_size = {RESERVE_POOL}",
            f"max_db_connections = {self.pool_size + RESERVE_POOL}",
            f"max_client_conn = {self.max_client_conn}",
            # A connection per request: logging each one would cost a write per request and flood the log.
            "log_connections = 0",
            "log_disconnections = 0",
            # avg_* of SHOW STATS over the last second, not the last minute: a trial lasts seconds.
            "stats_period = 1",
            "ignore_startup_parameters = extra_float_digits",
            f"logfile = {self.log}",
            f"pidfile = {self.pidfile}",
            "",
        ])

    def start(self) -> None:
        """Start as a daemon; wait until the admin console answers, else stop it and say why (its log's tail)."""
        check_installed()
        if procs.port_in_use(self.port):
            raise UserError(f"PgBouncer's port {self.port} on 127.0.0.1 is in use: choose another with --pooler-port")
        procs.run([str(BINARY), "-d", "-q", str(self.ini)], user=self.user, timeout=30, cwd="/", cpus=self.cpus)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.answers():
                return
            if time.monotonic() > deadline or self._gone() or any(" FATAL " in ln for ln in self.log_tail(50)):
                tail = self.log_tail()
                self.stop()
                raise UserError(f"PgBouncer did not start on 127.0.0.1:{self.port}; {self.log}: "
                                f"{' | '.join(tail) or 'nothing logged'}")
            time.sleep(0.1)

    def answers(self) -> bool:
        try:
            self.show("VERSION")
        except psycopg2.Error:
            return False
        return True

    def show(self, what: str) -> list[dict]:
        """SHOW `what` on the admin console (POOLS, STATS, ...): one dict per row."""
        conn = psycopg2.connect(self.stats_dsn, connect_timeout=3)
        conn.autocommit = True  # the console takes no BEGIN
        try:
            with conn.cursor() as cur:
                cur.execute(f"SHOW {what}")
                names = [c.name for c in cur.description or ()]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            conn.close()

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _gone(self) -> bool:
        """Its pidfile names a process that has exited. Before the pidfile, not judged: `-d` forks twice, and a
        look between the forks sees neither the first child nor the second."""
        pid = self.pid()
        return pid is not None and not procs.alive(pid) and not self._mentioning()

    def _mentioning(self) -> list:
        return procs.processes_mentioning(str(self.ini))

    def alive(self) -> bool:
        return procs.alive(self.pid()) or bool(self._mentioning())

    def stop(self) -> None:
        """SIGTERM (PgBouncer's immediate shutdown), then whatever still runs our config is killed."""
        pid = self.pid()
        if pid is not None and any(p.pid == pid for p in self._mentioning()):  # ours, not a reused pid
            procs.stop_tree(pid, signal.SIGTERM, timeout=10)
        for p in self._mentioning():
            procs.stop_tree(p.pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)

    def log_tail(self, limit: int = 3) -> list[str]:
        try:
            lines = [ln.strip() for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return []
        return [ln for ln in lines if "ERROR" in ln or "FATAL" in ln][-limit:] or lines[-limit:]
