"""PostgreSQL: the embedded private cluster (initdb in the state folder) or an existing server (--dsn)."""

import glob
import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2.extensions import connection, cursor

from bench import vocabulary
from bench.errors import UserError
from bench.stack import cpus, procs, secrets

SEED_SQL = Path(__file__).with_name("seed.sql")
DB_NAME = "bench"
ADMIN_ROLE = "bench_admin"  # the suite's own superuser: setup and monitoring, never the handlers
APP_ROLE = "bench_app"      # the handlers' role: read world/fortune/bench_user, update world and bench_session
# Settings worth recording with every run.
RECORDED = ("server_version", "max_connections", "shared_buffers", "work_mem", "fsync",
            "synchronous_commit", "wal_level", "max_wal_size", "listen_addresses", "port")


def bindir() -> Path:
    """The newest installed PostgreSQL server binaries (Debian keeps them off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise UserError("PostgreSQL server not found (/usr/lib/postgresql/*/bin): install the postgresql package")
    return Path(found[-1]).parent


class EmbeddedPostgres:
    """A private cluster listening on 127.0.0.1:port and a Unix socket in the state folder.

    scram-sha-256 password authentication for every connection (no trust, no peer): the passwords are
    generated per `bench up` and kept in libpq passfiles in state/secrets (mode 700, files 600, the
    invoking user's). The handlers get their own copy through Apache (readable by the Apache user only).
    """

    def __init__(self, state: Path, port: int, max_connections: int, cpus: frozenset[int] | None = None):
        self.root = state / "postgres"
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.secrets = state / "secrets"
        self.port = port
        self.max_connections = max_connections
        self.cpus = cpus
        self.user = procs.service_user("postgres")  # initdb and postgres refuse to run as root

    def _dsn(self, role: str, dbname: str = DB_NAME) -> str:
        return (f"host=127.0.0.1 port={self.port} dbname={dbname} user={role} "
                f"passfile={self.secrets / (role + '.pgpass')}")

    @property
    def admin_dsn(self) -> str:
        """The suite's superuser connection (setup, monitoring); no secret inside, it names a 0600 passfile."""
        return self._dsn(ADMIN_ROLE)

    @property
    def dsn(self) -> str:
        """The handlers' unprivileged connection (no secret inside, it names a 0600 passfile)."""
        return self._dsn(APP_ROLE)

    def _pg(self, tool: str, *args: str, timeout: float = 90, cpus: frozenset[int] | None = None) -> str:
        return procs.run([str(bindir() / tool), *args], user=self.user, timeout=timeout, cwd="/", cpus=cpus)

    def init(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        self.root.chmod(0o700)
        owner = (self.user.pw_uid, self.user.pw_gid) if self.user is not None else None
        if owner is not None:
            os.chown(self.root, *owner)
        self.secrets.mkdir(mode=0o700, exist_ok=True)
        self.secrets.chmod(0o700)
        admin_password = secrets.new_password()
        secrets.write_private(self.secrets / f"{ADMIN_ROLE}.pgpass", secrets.passfile_line(admin_password))
        secrets.write_private(self.secrets / f"{APP_ROLE}.pgpass", secrets.passfile_line(secrets.new_password()))
        # initdb reads the superuser's password from a file only it can read; removed right after.
        pwfile = self.root / "pwfile"
        secrets.write_private(pwfile, admin_password + "\n", owner)
        try:
            self._pg("initdb", "-D", str(self.data), "-U", ADMIN_ROLE, "-A", "scram-sha-256",
                     f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-sync")
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# modpython-bench: private cluster, loopback only\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                f"max_connections = {self.max_connections}\n"
                "password_encryption = 'scram-sha-256'\n"
                "logging_collector = off\n"
            )

    def start(self) -> None:
        # pg_ctl runs with a clean environment, on the server CPUs: the postmaster and every backend inherit.
        try:
            self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start", cpus=self.cpus)
        except UserError as exc:
            why = self._log_tail()
            if "could not bind" not in why and "already in use" not in why:
                raise UserError(f"{exc}; postgres.log: {why or 'empty'}") from None
            # The free port was taken between choosing it and the postmaster's bind (other servers start on
            # free ports too): take another, once.
            self.port = procs.free_port()
            conf = self.data / "postgresql.conf"
            conf.write_text(conf.read_text() + f"port = {self.port}  # the first port was taken at start\n")
            self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start", cpus=self.cpus)
        self.create_database()

    def _log_tail(self, lines: int = 3) -> str:
        """The server log's last lines, in one line (why a start failed)."""
        try:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return ""
        return " | ".join(t.strip() for t in tail)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60", "restart",
                 cpus=self.cpus)

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def create_database(self) -> None:
        conn = psycopg2.connect(self._dsn(ADMIN_ROLE, "postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {DB_NAME} OWNER {ADMIN_ROLE}")
                # Only our roles may connect anywhere: no other role gets CONNECT or TEMP by default.
                cur.execute(f"REVOKE ALL ON DATABASE {DB_NAME}, postgres, template1 FROM PUBLIC")
        conn.close()

    def create_app_role(self) -> None:
        """The handlers' role: log in, read world, fortune and bench_user, update world, insert and update
        bench_session; nothing else. Once the tables exist."""
        password = secrets.find_password(self.dsn)
        if password is None:  # init() has just written it: missing only if the state folder was tampered with
            raise UserError(f"no password for the {APP_ROLE} role in {self.secrets / (APP_ROLE + '.pgpass')}")
        conn = psycopg2.connect(self.admin_dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            # A SCRAM verifier, not the password: the statement cannot leak it into a log.
            cur.execute(f"{verb} ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
                        "NOREPLICATION NOBYPASSRLS PASSWORD %s", (secrets.scram_verifier(password),))
            cur.execute(f"GRANT CONNECT ON DATABASE {DB_NAME} TO {APP_ROLE}")
            cur.execute(f"GRANT SELECT ON world, fortune TO {APP_ROLE}")
            cur.execute(f"GRANT UPDATE ON world TO {APP_ROLE}")
            # The auth phase reads the accounts; /session/shared upserts its counter (SELECT: the upsert
            # reads the old count and RETURNs the new one).
            cur.execute(f"GRANT SELECT ON bench_user TO {APP_ROLE}")
            cur.execute(f"GRANT SELECT, INSERT, UPDATE ON bench_session TO {APP_ROLE}")
        conn.close()

    def processes(self) -> list[int]:
        """The postmaster and every process it forked (backends, background workers)."""
        return cpus.family(self.pid())


def _one_row(cur: cursor) -> tuple[Any, ...]:
    """The row of a query that always returns exactly one (an aggregate, current_setting)."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"no row from {cur.query!r}")
    return row


def connect(dsn: str) -> connection:
    try:
        conn = psycopg2.connect(dsn, connect_timeout=10)
    except psycopg2.Error as exc:
        reason = secrets.redact_dsn(str(exc).strip().splitlines()[0])
        raise UserError(f"cannot connect to PostgreSQL {secrets.redact_dsn(dsn)!r}: {reason}") from exc
    conn.autocommit = True
    return conn


def ensure_tables(dsn: str, seed: bool) -> str:
    """Create and fill world/fortune (and bench_user/bench_session) when missing. Returns what was done.

    Tables are created only in a database the connecting role owns, or when told --seed; existing
    tables are never dropped or changed.
    """
    conn = connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_get_userbyid(datdba) = current_user FROM pg_database "
                        "WHERE datname = current_database()")
            allowed = _one_row(cur)[0] or seed
            cur.execute("SELECT to_regclass('world') IS NOT NULL, to_regclass('fortune') IS NOT NULL")
            have_world, have_fortune = _one_row(cur)
            if have_world and have_fortune:
                cur.execute("SELECT (SELECT count(*) FROM world), (SELECT count(*) FROM fortune)")
                worlds, fortunes = _one_row(cur)
                if worlds < 10000 or fortunes < 12:
                    raise UserError(f"tables world ({worlds} rows) and fortune ({fortunes} rows) exist but are "
                                    "not the TechEmpower data set (10000 and 12 rows); the suite will not change them")
                done = "tables present"
            else:
                if have_world or have_fortune:
                    raise UserError("only one of the tables world and fortune exists; the suite will not touch it")
                if not allowed:
                    raise UserError("the database of --dsn is not owned by its user and has no world/fortune "
                                    "tables: pass --seed to create them there")
                cur.execute(SEED_SQL.read_text(encoding="utf-8"))
                cur.execute("ANALYZE world; ANALYZE fortune")
                done = "tables created"
            if allowed:
                _ensure_auth_and_session_tables(cur)
            return done
    finally:
        conn.close()


def _ensure_auth_and_session_tables(cur: cursor) -> None:
    """bench_user (the auth workload's accounts, seeded with AUTH_USER) and bench_session (/session/shared),
    created when missing; an existing bench_user row is left as it is."""
    cur.execute("CREATE TABLE IF NOT EXISTS bench_user (name text PRIMARY KEY, salt bytea NOT NULL, "
                "hash bytea NOT NULL)")
    cur.execute("CREATE TABLE IF NOT EXISTS bench_session (id text PRIMARY KEY, visits integer NOT NULL)")
    salt = os.urandom(16)
    digest = password_hash(vocabulary.AUTH_PASSWORD, salt)
    cur.execute("INSERT INTO bench_user (name, salt, hash) VALUES (%s, %s, %s) ON CONFLICT (name) DO NOTHING",
                (vocabulary.AUTH_USER, salt, digest))


def password_hash(password: str, salt: bytes) -> bytes:
    """The stored form of a bench_user password (handlers/auth.py checks it the same way)."""
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, vocabulary.AUTH_ITERATIONS)


def settings(dsn: str) -> dict:
    conn = connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                        (list(RECORDED),))
            return dict(cur.fetchall())
    finally:
        conn.close()


def sessions_opened(conn: connection) -> int:
    """Cumulative sessions opened in the current database (pg_stat_database.sessions, PG >= 14)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(_one_row(cur)[0])


def backend_pids(conn: connection) -> list[int]:
    """PIDs of the client backends connected to the current database (not our own)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        return [r[0] for r in cur.fetchall()]


def check_connection_budget(dsn: str, needed: int, what: str) -> None:
    """The worst case of the stack must fit what the server of --dsn really has free right now:
    max_connections - superuser_reserved_connections - connections in use (ours excepted)."""
    conn = connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('max_connections')::int, "
                        "current_setting('superuser_reserved_connections')::int, "
                        "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') - 1")
            max_conn, reserved, in_use = _one_row(cur)
    finally:
        conn.close()
    free = max_conn - reserved - in_use
    if needed > free:
        raise UserError(f"{what} needs {needed} PostgreSQL connections but the server of --dsn has {free} free "
                        f"(max_connections {max_conn} - superuser_reserved_connections {reserved} - {in_use} in "
                        "use): lower --processes or --pool-size")


class Monitor:
    """The suite's monitoring connection, which survives a PostgreSQL restart.

    A query that fails on a dead connection reconnects once and retries; when the server is down the
    answer is None instead of an exception. `restarts` holds the wall-clock times at which a new
    pg_postmaster_start_time() was seen (a restart happened since the previous query).
    """

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.conn: connection | None = None
        self.started_at: float | None = None  # pg_postmaster_start_time() as a Unix time
        self.restarts: list[float] = []

    def _connect(self) -> connection:
        self.close()
        self.conn = conn = psycopg2.connect(self.dsn, connect_timeout=5)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT extract(epoch FROM pg_postmaster_start_time())::float8")
            (started,) = _one_row(cur)
        if self.started_at is not None and abs(started - self.started_at) > 1e-3:
            self.restarts.append(time.time())
        self.started_at = started
        return conn

    def _query(self, sql: str) -> list[tuple] | None:
        for attempt in (1, 2):
            try:
                conn = self._connect() if self.conn is None or self.conn.closed else self.conn
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_stat_clear_snapshot()")
                    cur.execute(sql)
                    return cur.fetchall()
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self.close()
                if attempt == 2:
                    return None
        return None

    def sessions_opened(self) -> int | None:
        """Cumulative sessions opened in the database (PG >= 14); None while the server is unreachable."""
        rows = self._query("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return None if not rows else int(rows[0][0])

    def backend_pids(self) -> list[int] | None:
        """Client backends of the database (not ours); None while the server is unreachable."""
        rows = self._query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                           "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        return None if rows is None else [r[0] for r in rows]

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
            self.conn = None
