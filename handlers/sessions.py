"""State is per process: a visit counter kept in a module global vs in PostgreSQL.

/session/process keeps {session id: visits} in this process's memory: another Apache (or mod_wsgi daemon)
process has its own dict and does not know the client. /session/shared keeps the counter in table
bench_session through the pool, which every process sees. The client is told whether the serving
process (or the database) already knew its session: X-Bench-Session-Known: 0|1.
"""

import re
import secrets
import threading

COOKIE = "bench_session"
COOKIE_ATTRIBUTES = "Path=/session; HttpOnly; SameSite=Lax"
MAX_SESSIONS = 100000  # bounded: clients that never return cannot grow the process without limit
_VALID = re.compile(r"^[0-9a-f]{32}$")

UPSERT_SQL = ("INSERT INTO bench_session (id, visits) VALUES (%s, 1) "
              "ON CONFLICT (id) DO UPDATE SET visits = bench_session.visits + 1 RETURNING visits")

_visits = {}  # this process's sessions: exactly the state that is not shared
_visits_lock = threading.Lock()  # the threads of one process share _visits: read-modify-write under it


def session_id(cookie_header):
    """The client's session id from a Cookie header, or None when absent or not one of ours."""
    for part in (cookie_header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and _VALID.match(value.strip()):
            return value.strip()
    return None


def new_session_id():
    return secrets.token_hex(16)


def visit_process(sid):
    """(known, visits) from this process's memory."""
    with _visits_lock:
        known = sid in _visits
        if not known and len(_visits) >= MAX_SESSIONS:
            _visits.clear()
        visits = _visits[sid] = _visits.get(sid, 0) + 1
    return known, visits


def visit_shared(sid, resources):
    """(known, visits) from PostgreSQL: one upsert on a pooled connection."""
    def work(conn):
        with conn.cursor() as cur:
            cur.execute(UPSERT_SQL, (sid,))
            return cur.fetchone()[0]

    visits = resources.with_connection(work)
    return visits > 1, visits


SESSIONS = {"process": visit_process, "shared": visit_shared}
