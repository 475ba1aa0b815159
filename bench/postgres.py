"""PostgreSQL: the embedded private cluster (initdb in the state folder) or an existing server (--dsn)."""

import glob
import os
import shutil
from pathlib import Path

import psycopg2

from bench import procs
from bench.errors import UserError

SEED_SQL = Path(__file__).with_name("seed.sql")
DB_NAME = "bench"
ROLE = "bench"
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
    """A private cluster listening on 127.0.0.1:port and a Unix socket in the state folder."""

    def __init__(self, state: Path, port: int, max_connections: int):
        self.root = state / "postgres"
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = port
        self.max_connections = max_connections
        self.user = procs.service_user("postgres")  # initdb and postgres refuse to run as root

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={DB_NAME} user={ROLE}"

    def _pg(self, tool: str, *args: str, timeout: float = 90) -> str:
        return procs.run([str(bindir() / tool), *args], user=self.user, timeout=timeout, cwd="/")

    def init(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._pg("initdb", "-D", str(self.data), "-U", ROLE, "-A", "trust", "-E", "UTF8",
                 "--locale=C", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# modpython-bench: private cluster, loopback only\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                f"max_connections = {self.max_connections}\n"
                "logging_collector = off\n"
            )

    def start(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self.create_database()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60", "restart")

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def create_database(self) -> None:
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, dbname="postgres", user=ROLE)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {DB_NAME} OWNER {ROLE}")
        conn.close()


def connect(dsn: str):
    try:
        conn = psycopg2.connect(dsn, connect_timeout=10)
    except psycopg2.Error as exc:
        raise UserError(f"cannot connect to PostgreSQL {dsn!r}: {str(exc).strip().splitlines()[0]}") from exc
    conn.autocommit = True
    return conn


def ensure_tables(dsn: str, seed: bool) -> str:
    """Create and fill world/fortune when missing. Returns what was done.

    Tables are created only in a database the connecting role owns, or when told --seed; existing
    tables are never dropped or changed.
    """
    conn = connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('world') IS NOT NULL, to_regclass('fortune') IS NOT NULL")
            have_world, have_fortune = cur.fetchone()
            if have_world and have_fortune:
                cur.execute("SELECT (SELECT count(*) FROM world), (SELECT count(*) FROM fortune)")
                worlds, fortunes = cur.fetchone()
                if worlds < 10000 or fortunes < 12:
                    raise UserError(f"tables world ({worlds} rows) and fortune ({fortunes} rows) exist but are "
                                    "not the TechEmpower data set (10000 and 12 rows); the suite will not change them")
                return "tables present"
            if have_world or have_fortune:
                raise UserError("only one of the tables world and fortune exists; the suite will not touch it")
            cur.execute("SELECT pg_get_userbyid(datdba) = current_user FROM pg_database "
                        "WHERE datname = current_database()")
            owns = cur.fetchone()[0]
            if not (owns or seed):
                raise UserError("the database of --dsn is not owned by its user and has no world/fortune tables: "
                                "pass --seed to create them there")
            cur.execute(SEED_SQL.read_text(encoding="utf-8"))
            cur.execute("ANALYZE world; ANALYZE fortune")
            return "tables created"
    finally:
        conn.close()


def settings(dsn: str) -> dict:
    conn = connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                        (list(RECORDED),))
            return dict(cur.fetchall())
    finally:
        conn.close()


def sessions_opened(conn) -> int:
    """Cumulative sessions opened in the current database (pg_stat_database.sessions, PG >= 14)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cur.fetchone()[0])


def backend_pids(conn) -> list[int]:
    """PIDs of the client backends connected to the current database (not our own)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        return [r[0] for r in cur.fetchall()]
