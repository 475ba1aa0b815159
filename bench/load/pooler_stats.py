"""Where the PostgreSQL connections are spent during a trial: PostgreSQL's own view (pg_stat_activity: the
handlers' server connections; pg_stat_database.sessions: backends forked) and, when the stack runs one,
PgBouncer's (its admin console: SHOW POOLS, SHOW STATS), sampled into a raw JSONL file.

    sampler = for_stack(live, trial_dir / "pooler.jsonl")   # or PoolerSampler(path, admin_dsn, stats_dsn)
    sampler.start()
    ...  # the trial
    sampler.stop()
    summary(path, start, end).to_json()   # the steady-state window's figures

One line per sample: {"t": unix time, "pg": {"backends", "active", "sessions"[, "pooler_backends",
"pooler_active"]}, "pool": {SHOW POOLS row}, "stats": {SHOW STATS row}}; a source that did not answer is left
out of that line (a restart, a stopped pooler), never written as 0. With a pooler, `pooler_backends` counts the
backends PgBouncer holds (SHOW SERVERS' remote_pid): a trial of a direct variant leaves them out of its server
connections (the pool a bouncer trial left idle is not its own), a trial through the pooler counts them alone.
The figures are None when no sample in the window had them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg2
from psycopg2.extensions import connection

from bench.record.trial import ConnectionFigures

if TYPE_CHECKING:
    from bench.stack import Stack

DEFAULT_INTERVAL_S = 0.25
N = TypeVar("N", int, float)
APP_ROLE = "bench_app"  # the handlers' role: its backends are the server connections the variants spend
DATABASE = "bench"
_PG_SQL = ("SELECT count(*) AS backends, count(*) FILTER (WHERE state = 'active') AS active, "
           "count(*) FILTER (WHERE pid = ANY(%(pooler)s)) AS pooler_backends, "
           "count(*) FILTER (WHERE pid = ANY(%(pooler)s) AND state = 'active') AS pooler_active, "
           "(SELECT sessions FROM pg_stat_database WHERE datname = %(db)s) AS sessions "
           "FROM pg_stat_activity WHERE datname = %(db)s AND usename = %(role)s "
           "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
POOL_FIELDS = ("cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login", "maxwait",
               "maxwait_us")
STATS_FIELDS = ("total_xact_count", "total_wait_time", "avg_wait_time")


def _plain(value: object) -> object:
    """JSON's numbers: PgBouncer's console answers its counters as numeric (psycopg2's Decimal)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class _Source:
    """One autocommit connection, reconnected after a failure; a failed query answers None."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.conn: connection | None = None
        self.opened = 0  # connections made: each is a session PostgreSQL counts (pg_stat_database.sessions)

    def rows(self, sql: str, params: dict | None = None) -> list[dict] | None:
        try:
            if self.conn is None or self.conn.closed:
                self.conn = psycopg2.connect(self.dsn, connect_timeout=3)
                self.opened += 1
                self.conn.autocommit = True  # PgBouncer's console takes no BEGIN; pg_stat_* fresh per statement
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                names = [c.name for c in cur.description or ()]
                return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]
        except psycopg2.Error:
            self.close()
            return None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
            self.conn = None


def _row_of(rows: list[dict] | None, fields: tuple[str, ...]) -> dict | None:
    """The row of the pooled database (the console also lists its own `pgbouncer`)."""
    for row in rows or []:
        if row.get("database") == DATABASE:
            return {f: row[f] for f in fields if f in row}
    return None


class PoolerSampler:
    """Samples every `interval` s in a thread until stop(); writes one JSON line per sample to `path`."""

    def __init__(self, path: Path, admin_dsn: str, stats_dsn: str | None = None,
                 interval: float = DEFAULT_INTERVAL_S, role: str = APP_ROLE):
        self.path = Path(path)
        self.pg = _Source(admin_dsn)
        self.pooler = _Source(stats_dsn) if stats_dsn else None
        self.interval = interval
        self.role = role
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> dict[str, Any]:
        line: dict[str, Any] = {"t": time.time()}
        servers = self.pooler.rows("SHOW SERVERS") if self.pooler is not None else None
        held = [int(r["remote_pid"]) for r in servers or [] if r.get("database") == DATABASE and r.get("remote_pid")]
        pg = self.pg.rows(_PG_SQL, {"db": DATABASE, "role": self.role, "pooler": held})
        if pg:
            line["pg"] = pg[0]
            if servers is None:  # no pooler, or it did not answer: which backends are its own is not known
                del line["pg"]["pooler_backends"], line["pg"]["pooler_active"]
        if self.pooler is not None:
            if (pool := _row_of(self.pooler.rows("SHOW POOLS"), POOL_FIELDS)) is not None:
                line["pool"] = pool
            if (stats := _row_of(self.pooler.rows("SHOW STATS"), STATS_FIELDS)) is not None:
                line["stats"] = stats
        return line

    @property
    def own_sessions(self) -> int:
        """PostgreSQL sessions the sampler itself opened: not the handlers' (a trial's session count leaves them
        out)."""
        return self.pg.opened

    def start(self) -> PoolerSampler:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, name="pooler-sampler", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        with open(self.path, "a", encoding="utf-8") as out:
            while not self._stop.is_set():
                began = time.monotonic()
                out.write(json.dumps(self.sample()) + "\n")
                out.flush()
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - began)))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.pg.close()
        if self.pooler is not None:
            self.pooler.close()


def for_stack(live: Stack, path: Path) -> PoolerSampler | None:
    """The sampler of a live stack (not started): PostgreSQL through the suite's superuser, PgBouncer's console
    when the stack runs one; None with --dsn (the suite has no monitoring role on a server it did not make)."""
    if live.admin_dsn is None:
        return None
    return PoolerSampler(path, live.admin_dsn, live.pooler.stats_dsn if live.pooler else None)


def read(path: Path, start: float | None = None, end: float | None = None) -> list[dict]:
    """The samples of a raw file within [start, end] (unix times); a torn last line is skipped."""
    out = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return []
    for line in text.splitlines():
        try:
            s = json.loads(line)
        except ValueError:
            continue
        if (start is None or s["t"] >= start) and (end is None or s["t"] <= end):
            out.append(s)
    return out


def _series(samples: list[dict], source: str, value: Callable[[dict], N]) -> list[N]:
    return [value(s[source]) for s in samples if source in s]


def _peak(values: list[N]) -> N | None:
    return max(values) if values else None


def _mean(values: list[N]) -> float | None:
    return fmean(values) if values else None


def _rate(samples: list[dict], source: str, field: str, per: str | None = None) -> float | None:
    """The growth of a cumulative counter between the window's first and last sample having it: per second,
    or per growth of the counter `per`."""
    have = [s for s in samples if source in s and s[source].get(field) is not None]
    if len(have) < 2:
        return None
    first, last = have[0], have[-1]
    if per is None:
        span = last["t"] - first["t"]
        return (last[source][field] - first[source][field]) / span if span > 0 else None
    done = last[source][per] - first[source][per]
    return (last[source][field] - first[source][field]) / done if done > 0 else None


def _own(p: dict[str, Any], field: str, through_pooler: bool | None) -> int:
    """The trial's own server connections in a sample: all the handlers' backends, or those PgBouncer holds
    (through the pooler), or the others (a direct variant); all of them when the sample could not tell."""
    total, held = p[field], p.get(f"pooler_{field}")
    if through_pooler is None or held is None:
        return int(total)
    return int(held) if through_pooler else int(total) - int(held)


def summary(path: Path, start: float | None = None, end: float | None = None,
            through_pooler: bool | None = None) -> ConnectionFigures:
    """The figures of the samples between start and end (the trial's steady state). `through_pooler`: whether
    the trial's connections went through PgBouncer; False leaves PgBouncer's figures None (its clients are
    not the trial's) and its idle server connections out; None takes the samples as they are."""
    samples = read(path, start, end)
    pooled = [s for s in samples if "pool" in s] if through_pooler is not False else []
    backends = _series(samples, "pg", lambda p: _own(p, "backends", through_pooler))
    clients = _series(pooled, "pool", lambda p: p["cl_active"] + p["cl_waiting"])
    waiting = _series(pooled, "pool", lambda p: p["cl_waiting"])
    maxwait = _series(pooled, "pool", lambda p: p["maxwait"] * 1000 + p.get("maxwait_us", 0) / 1000)
    stats = [s for s in samples if "stats" in s] if through_pooler is not False else []
    return ConnectionFigures(
        samples=len(samples),
        server_connections_peak=_peak(backends), server_connections_mean=_mean(backends),
        server_active_peak=_peak(_series(samples, "pg", lambda p: _own(p, "active", through_pooler))),
        backend_forks_per_s=_rate(samples, "pg", "sessions"),
        client_connections_peak=_peak(clients), client_connections_mean=_mean(clients),
        cl_waiting_peak=_peak(waiting), cl_waiting_mean=_mean(waiting), maxwait_ms_peak=_peak(maxwait),
        avg_wait_time_us_mean=_mean(_series(stats, "stats", lambda p: p["avg_wait_time"])),
        wait_per_xact_us=_rate(stats, "stats", "total_wait_time", per="total_xact_count"),
    )
