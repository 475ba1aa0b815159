"""The authentication phase (/{variant}/auth): the 401/200 rules, no credentials in any log, and the
per-process credential cache really avoids the database (lookups counted by PostgreSQL)."""

import base64
import http.client
import os
import sys
import time
from urllib.parse import urlsplit

import psycopg2
import pytest
from conftest import REPO, get

from bench.stack import postgres, procs
from bench.vocabulary import AUTH_ITERATIONS, AUTH_PASSWORD, AUTH_USER, through_pooler
from bench.vocabulary import VARIANTS as ALL_VARIANTS

# The variants the shared stacks serve (no PgBouncer there): the pooler's in tests/stack/test_pgbouncer.py.
VARIANTS = [v for v in ALL_VARIANTS if not through_pooler(v)]

sys.path.insert(0, str(REPO / "handlers"))
import auth  # noqa: E402  (handlers/auth.py: standard library only, importable here)

pytestmark = pytest.mark.slow(28)  # the tests of its live_stack

WRONG = "Wr0ng-Secret-91x"  # distinctive: grep-able in the logs
OTHER_USER, OTHER_PASSWORD, NEW_PASSWORD = "alice", "Alice-Pass-3c7e", "Alice-New-8d2f"


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# ---- handlers/auth.py on its own -------------------------------------------------------------------

@pytest.mark.parametrize("header,expected", [
    (None, None), ("", None), ("Bearer abc", None), ("Basic", None), ("Basic !!!", None),
    ("Basic " + base64.b64encode(b"nocolon").decode(), None),
    ("Basic " + base64.b64encode(b":pw").decode(), None),
    ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), None),
    ("Basic " + base64.b64encode(b"u:p:w").decode(), ("u", "p:w")),
    ("basic " + base64.b64encode(b"u:").decode(), ("u", "")),
])
def test_parse_basic(header, expected):
    assert auth.parse_basic(header) == expected


def test_hash_matches_the_seeded_form_and_verifies():
    assert auth.ITERATIONS == AUTH_ITERATIONS
    salt = os.urandom(16)
    row = (salt, postgres.password_hash("pw", salt))
    assert auth.verify(row, "pw") and not auth.verify(row, "pW") and not auth.verify(None, "pw")


def test_cache_expires_after_its_ttl():
    now = [1000.0]
    cache = auth.CredentialCache(ttl=60, clock=lambda: now[0])
    assert not cache.hit("u", "p")
    cache.remember("u", "p")
    assert cache.hit("u", "p") and not cache.hit("u", "q") and not cache.hit("v", "p")
    now[0] += 59.9
    assert cache.hit("u", "p")
    now[0] += 0.2
    assert not cache.hit("u", "p")  # a changed password takes effect at the latest here
    assert all(b"p" != k for k in cache._until)  # keys are HMACs, never the password


def test_cache_is_bounded():
    cache = auth.CredentialCache(max_entries=3)
    for i in range(10):
        cache.remember("u", str(i))
    assert len(cache._until) <= 3


# ---- on the real stack -----------------------------------------------------------------------------

@pytest.mark.integration
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("headers", [{}, basic(AUTH_USER, WRONG), basic("nobody", AUTH_PASSWORD),
                                     {"Authorization": "Basic !!!"}, {"Authorization": "Digest x=1"},
                                     {"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()}],
                         ids=["missing", "wrong-password", "unknown-user", "malformed", "other-scheme", "not-utf8"])
def test_refused_with_401_and_a_challenge(server_stack, variant, headers):
    status, resp_headers, _ = get(f"{server_stack.url}/{variant}/auth", headers=headers)
    assert status == 401
    assert resp_headers["WWW-Authenticate"].startswith('Basic realm="bench"')


@pytest.mark.integration
@pytest.mark.parametrize("variant", VARIANTS)
def test_right_credentials_get_the_db_response(server_stack, variant):
    for _ in range(3):
        status, headers, body = get(f"{server_stack.url}/{variant}/auth",
                                    headers=basic(AUTH_USER, AUTH_PASSWORD))
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert body.startswith(b'{"id": ') and int(headers["X-Bench-Pid"]) > 0


@pytest.fixture
def other_user(server_stack):
    conn = psycopg2.connect(server_stack.admin_dsn)
    conn.autocommit = True

    def set_password(password: str) -> None:
        salt = os.urandom(16)
        with conn.cursor() as cur:
            cur.execute("INSERT INTO bench_user VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE "
                        "SET salt = excluded.salt, hash = excluded.hash",
                        (OTHER_USER, salt, postgres.password_hash(password, salt)))

    set_password(OTHER_PASSWORD)
    yield set_password
    with conn.cursor() as cur:
        cur.execute("DELETE FROM bench_user WHERE name = %s", (OTHER_USER,))
    conn.close()


def keepalive_get(conn: http.client.HTTPConnection, path: str, headers: dict) -> tuple[int, str]:
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    resp.read()
    return resp.status, resp.getheader("X-Bench-Pid")


@pytest.mark.integration
def test_changed_password_naive_at_once_cached_within_the_ttl(server_stack, other_user):
    # Under mod_wsgi daemon mode a keep-alive connection pins an Apache child, not a daemon process, so which
    # process (and cache) answers is not ours to choose: there only what holds for every process is checked.
    pinned = server_stack.settings.server != "mod_wsgi"
    url = urlsplit(server_stack.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)  # one connection: one process
    try:
        status, pid = keepalive_get(conn, "/pooled/auth", basic(OTHER_USER, OTHER_PASSWORD))
        assert status == 200
        other_user(NEW_PASSWORD)
        assert keepalive_get(conn, "/naive/auth", basic(OTHER_USER, OTHER_PASSWORD))[0] == 401
        assert keepalive_get(conn, "/naive/auth", basic(OTHER_USER, NEW_PASSWORD))[0] == 200
        # A new password is checked against the database by every process's cache: accepted at once.
        assert keepalive_get(conn, "/pooled/auth", basic(OTHER_USER, NEW_PASSWORD))[0] == 200
        if pinned:
            # The pooled variant's process verified the old password less than 60 s ago: still accepted.
            assert keepalive_get(conn, "/pooled/auth", basic(OTHER_USER, OTHER_PASSWORD)) == (200, pid)
    finally:
        conn.close()


@pytest.mark.integration
def test_no_credentials_in_any_log(server_stack, other_user):
    for variant in VARIANTS:
        for headers in (basic(OTHER_USER, OTHER_PASSWORD), basic(OTHER_USER, WRONG), basic(WRONG, WRONG)):
            assert get(f"{server_stack.url}/{variant}/auth", headers=headers)[0] in (200, 401)
    secrets = [OTHER_PASSWORD, WRONG]
    secrets += [basic(OTHER_USER, p)["Authorization"].split()[1] for p in (OTHER_PASSWORD, WRONG)]
    for log in (server_stack.apache.access_log, server_stack.apache.error_log):
        text = log.read_text(errors="replace")
        assert "/auth" in text or log == server_stack.apache.error_log
        for secret in secrets:
            assert secret not in text, (log, secret)


def _lookups_after(live_stack, variant: str, n: int) -> tuple[int, int]:
    """(bench_user lookups, PostgreSQL sessions) caused by n authenticated requests of variant, counted by
    PostgreSQL. Apache is restarted first (cold caches) and after (its backends exit and flush their stats)."""
    admin = postgres.connect(live_stack.admin_dsn)

    def counts() -> tuple[int, int]:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute("SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                        "WHERE relname = 'bench_user'")
            scans = cur.fetchone()[0]
        return scans, postgres.sessions_opened(admin)

    def no_app_backends() -> bool:
        with admin.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (postgres.APP_ROLE,))
            return cur.fetchone()[0] == 0

    try:
        live_stack.apache.restart()
        procs.wait_for(no_app_backends, 20, "the handlers' backends to exit")
        time.sleep(1.2)  # the last backend's statistics reach pg_stat
        scans0, sessions0 = counts()
        for _ in range(n):
            assert get(f"{live_stack.url}/{variant}/auth", headers=basic(AUTH_USER, AUTH_PASSWORD))[0] == 200
        live_stack.apache.restart()
        procs.wait_for(no_app_backends, 20, "the handlers' backends to exit")
        time.sleep(1.2)
        scans1, sessions1 = counts()
    finally:
        admin.close()
    return scans1 - scans0, sessions1 - sessions0


@pytest.mark.integration
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_cache_avoids_the_database(server_stack, variant):
    n = 30
    processes = server_stack.settings.processes
    lookups, sessions = _lookups_after(server_stack, variant, n)
    if variant in ("naive", "pool-only"):
        assert lookups == n  # every request checks against bench_user
    else:
        assert 1 <= lookups <= processes  # one miss per process, then the cache answers
    if variant == "naive":
        assert sessions == 2 * n  # one connection for the auth phase, one for the content
    elif variant == "cache-only":
        assert n <= sessions <= n + processes  # the content still connects per request
    else:
        assert sessions <= processes  # the pool
