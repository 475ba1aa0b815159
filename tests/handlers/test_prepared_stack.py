"""The prepared variant prepares its statements once per connection and again after a PostgreSQL restart, on
the real stack (one process, so every request meets the same pooled connection), under both servers.

Two witnesses. The handler's own: X-Bench-Prepared (statements it prepared for this request) and X-Bench-Cold.
PostgreSQL's: with log_statement = 'all' its log names every PREPARE with the backend pid that ran it
(log_line_prefix '%m [%p] '). pg_prepared_statements would be the other PostgreSQL view, but it is per session:
only the handler's own session sees it, so reading it would mean a query in the handler that no variant makes.
pg_stat_statements needs shared_preload_libraries, which the suite's cluster does not load. A later request
that answers 200 with X-Bench-Prepared: 0 ran EXECUTE alone: PostgreSQL refuses EXECUTE of a name the session
has not prepared, so it is PostgreSQL that vouches the statement was still there.
"""

import re
import time

import psycopg2
import pytest
from conftest import get, make_state_dir, remove_state_dir

from bench import stack
from bench.stack import procs
from bench.stack.knobs import StackSettings

pytestmark = pytest.mark.integration

PREPARE = re.compile(r"\[(\d+)\].*statement: PREPARE (\w+) AS")


@pytest.fixture(params=["mod_python", "mod_wsgi"])
def one_process_stack(request):
    state = make_state_dir()
    s = stack.up(StackSettings(port=procs.free_port(), processes=1, server=request.param).validate(), state=state)
    try:
        conn = psycopg2.connect(s.admin_dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("ALTER SYSTEM SET log_statement = 'all'")
            cur.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] '")
            cur.execute("SELECT pg_reload_conf()")
        conn.close()
        # the reload is a signal to the postmaster: wait until a new backend has the setting
        deadline = time.monotonic() + 20
        while _setting(s.admin_dsn, "log_statement") != "all":
            assert time.monotonic() < deadline, "PostgreSQL did not reload log_statement = 'all'"
            time.sleep(0.1)
        yield s
    finally:
        remove_state_dir(state)


def _setting(dsn: str, name: str) -> str:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting(%s)", (name,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def prepares(s) -> list[tuple[int, str]]:
    """(backend pid, statement name) of every PREPARE PostgreSQL logged, in order."""
    return [(int(m[1]), m[2]) for m in PREPARE.finditer(s.pg.log.read_text(errors="replace"))]


def fetch(s, path: str) -> tuple[int, int, bool]:
    """(status, X-Bench-Prepared, cold) of one request."""
    status, headers, _ = get(s.url + path)
    return status, int(headers.get("X-Bench-Prepared", "-1")), headers.get("X-Bench-Cold") == "1"


def logged(s, want: int, timeout: float = 20) -> list[tuple[int, str]]:
    """PostgreSQL writes its log asynchronously to the request: wait until `want` PREPAREs are there."""
    deadline = time.monotonic() + timeout
    while len(found := prepares(s)) < want and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_prepared_once_per_connection_and_again_after_a_restart(one_process_stack):
    s = one_process_stack
    assert fetch(s, "/prepared/db") == (200, 1, True)  # first request of the connection: prepares
    for _ in range(5):
        assert fetch(s, "/prepared/db") == (200, 0, False)  # later ones EXECUTE only
    assert fetch(s, "/prepared/fortunes") == (200, 1, True)  # a new statement (and the template compiled)
    assert fetch(s, "/prepared/fortunes") == (200, 0, False)
    assert fetch(s, "/prepared/queries?queries=3") == (200, 0, False)  # world_by_id is there already
    assert fetch(s, "/prepared/updates?queries=2") == (200, 1, True)  # update_worlds_2
    assert fetch(s, "/prepared/updates?queries=2") == (200, 0, False)
    # The non-prepared variants run the same SQL as ordinary queries: no PREPARE, no header.
    status, headers, _ = get(s.url + "/pooled/db")
    assert status == 200 and "X-Bench-Prepared" not in headers

    before = logged(s, 3)
    assert [name for _, name in before] == ["world_by_id", "all_fortunes", "update_worlds_2"]
    assert len({pid for pid, _ in before}) == 1  # all on one session: the pooled connection

    s.pg.restart()  # the pooled connection's session is gone; the object still looks open
    assert fetch(s, "/prepared/db") == (200, 1, True)  # reconnects, prepares again, answers
    assert fetch(s, "/prepared/db") == (200, 0, False)
    after = logged(s, 4)[len(before):]
    assert [name for _, name in after] == ["world_by_id"]
    assert after[0][0] != before[0][0]  # on the new session
