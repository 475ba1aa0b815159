"""Threaded servers on the real stack: mod_python under the worker MPM (2 processes x 4 threads) and mod_wsgi
daemons with threads=4 pass every TechEmpower check (tests/techempower.py), hold 8 requests in flight at
once, and the pooled variant opens at most processes x threads connections (counted by PostgreSQL); a cold
threaded process compiles its template once under 16 concurrent first requests."""

import base64
import threading
import time

import psycopg2
import pytest
from conftest import get, make_state_dir, remove_state_dir

# The TechEmpower checks, collected again here against the threaded stacks (server_stack below overrides
# conftest's for this module only).
from techempower import (  # noqa: F401
    test_db,
    test_fortunes,
    test_plaintext_and_json,
    test_query_count_clamping,
    test_server_status_loopback,
    test_unknown_paths_404,
    test_updates_are_persisted,
)

from bench import stack
from bench.stack import cpus, procs
from bench.stack.knobs import StackSettings
from bench.vocabulary import AUTH_PASSWORD, AUTH_USER

pytestmark = pytest.mark.integration

THREADED = {
    "mod_python-worker": dict(server="mod_python", mpm="worker", threads=4, processes=2),
    "mod_wsgi-threads": dict(server="mod_wsgi", threads=4, processes=2),
}


def _up(**settings):
    state = make_state_dir()
    s = stack.up(StackSettings(port=procs.free_port(), server_cpus=cpus.partition().server_list,
                               test_sleep=True, **settings).validate(), state=state)
    return state, s


@pytest.fixture(scope="module", params=list(THREADED))
def server_stack(request):
    state, s = _up(**THREADED[request.param])
    yield s
    remove_state_dir(state)


def _in_parallel(n: int, url: str, headers: dict | None = None) -> list:
    """n GETs started together; their (status, headers, body) in order."""
    out: list = [None] * n
    go = threading.Barrier(n)

    def one(i: int) -> None:
        go.wait()
        out[i] = get(url, headers=headers, timeout=30)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def _handler_sessions(s, query_like: str | None = None) -> int:
    """Client backends of the handlers' role (the unprivileged one of s.dsn), as PostgreSQL counts them."""
    role = psycopg2.extensions.parse_dsn(s.dsn)["user"]
    sql = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename = %s"
    params: tuple = (role,)
    if query_like is not None:
        sql, params = sql + " AND query LIKE %s AND state = 'active'", (role, query_like)
    conn = psycopg2.connect(s.admin_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()[0]
    finally:
        conn.close()


def _peak_while(s, query_like: str, busy: threading.Thread, timeout: float = 10) -> int:
    """The most handler sessions running `query_like` seen while `busy` runs."""
    peak, deadline = 0, time.monotonic() + timeout
    while busy.is_alive() and time.monotonic() < deadline:
        peak = max(peak, _handler_sessions(s, query_like))
        time.sleep(0.05)
    return peak


def test_eight_requests_in_flight_and_pool_bounded(server_stack):
    s = server_stack
    results: list = []
    # 16 requests on 8 slots: 8 run while the other 8 wait for a thread (in the listen backlog).
    load = threading.Thread(target=lambda: results.extend(_in_parallel(16, s.url + "/pooled/sleep?ms=1500")))
    load.start()
    peak = _peak_while(s, "SELECT pg_sleep%", load)
    load.join(60)
    assert peak == 8, f"{peak} pg_sleep queries ran at once, expected 8 (2 processes x 4 threads)"
    assert [r[0] for r in results] == [200] * 16
    slots = {(r[1]["X-Bench-Pid"], r[1]["X-Bench-Thread"]) for r in results}
    assert len({pid for pid, _ in slots}) == 2 and len(slots) == 8
    # The pooled connections stay open after the requests: at most 2 pools x 4.
    assert 2 <= _handler_sessions(s) <= 8


def test_naive_opens_one_connection_per_request_per_thread(server_stack):
    s = server_stack
    results: list = []
    # 2.5 s each: the 8 sleeps overlap even when a busy machine spreads their connections' starts
    load = threading.Thread(target=lambda: results.extend(_in_parallel(8, s.url + "/naive/sleep?ms=2500")))
    before = _handler_sessions(s)
    load.start()
    peak = _peak_while(s, "SELECT pg_sleep%", load)
    load.join(60)
    assert [r[0] for r in results] == [200] * 8
    assert peak == 8
    # every per-request connection was closed (a backend leaves pg_stat_activity shortly after its client)
    deadline = time.monotonic() + 10
    while (now := _handler_sessions(s)) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert now == before


def test_concurrent_auth_on_a_threaded_process(server_stack):
    auth = {"Authorization": "Basic " + base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode()}
    for variant in ("pooled", "naive"):
        results = _in_parallel(16, f"{server_stack.url}/{variant}/auth", headers=auth)
        assert [r[0] for r in results] == [200] * 16, variant


@pytest.fixture(scope="module")
def cold_process():
    """One mod_python worker process of 8 threads."""
    state, s = _up(server="mod_python", mpm="worker", threads=8, processes=1)
    yield s
    remove_state_dir(state)


def test_cold_threaded_process_compiles_once(cold_process):
    s = cold_process
    s.apache.restart()  # a cold process: no pool, no compiled template
    status, headers, _ = get(s.url + "/pooled/db")  # builds the pool (the same, only process)
    assert status == 200 and headers["X-Bench-Cold"] == "1"
    results = _in_parallel(16, s.url + "/pooled/fortunes")
    assert [r[0] for r in results] == [200] * 16
    assert len({r[2] for r in results}) == 1
    assert len({r[1]["X-Bench-Pid"] for r in results}) == 1
    cold = [r for r in results if r[1].get("X-Bench-Cold") == "1"]
    assert len(cold) == 1, f"{len(cold)} of 16 concurrent first requests compiled the template"
    served = sorted(int(r[1]["X-Bench-Served"]) for r in results)
    # The per-process counter counted every request once (the start's probes came before).
    assert served == list(range(served[0], served[0] + 16))


def test_served_headers_name_threads(cold_process):
    results = _in_parallel(8, cold_process.url + "/pooled/db")
    assert len({r[1]["X-Bench-Thread"] for r in results}) >= 2


def test_cold_children_serve_concurrent_first_requests(server_stack):
    """Fresh children hit by 16 requests at once: every one 200 (mod_python imports the handlers at child start
    under threads, bench.stack.servers.Server.preload; without it a thread saw psycopg2 half-imported, HTTP 500)."""
    server_stack.apache.restart()
    results = _in_parallel(16, server_stack.url + "/pooled/db")
    assert [r[0] for r in results] == [200] * 16
