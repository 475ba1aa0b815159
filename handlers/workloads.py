"""The TechEmpower workloads, each written once as a function of (params, resources).

A workload never opens a connection or compiles a template itself: it asks `resources`, which is
the only thing that differs between the variants. Rows are never cached, only connections,
compiled templates and prepared statements.

Each query is named and its SQL written once here; a workload runs it with
`resources.execute(cur, name, sql, params)`, which prepares it (the prepared variant) or runs it as an
ordinary parameterised query (every other variant): the same SQL either way.
"""

import html
import json
import random

WORLD_ROWS = 10000
EXTRA_FORTUNE = "Additional fortune added at request time."

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain"


def query_count(params):
    """TechEmpower clamping: missing or non-numeric -> 1, otherwise 1..500."""
    try:
        n = int(params.get("queries", ["1"])[0])
    except (ValueError, IndexError):
        return 1
    return min(max(n, 1), 500)


def _random_id():
    return random.randint(1, WORLD_ROWS)


WORLD_BY_ID = "SELECT id, randomnumber FROM world WHERE id = %s"
ALL_FORTUNES = "SELECT id, message FROM fortune"


def update_worlds(n):
    """(name, SQL) of the batched UPDATE of n rows. A statement per batch size (as TechEmpower entries that
    prepare do): at most 500 names, and a run uses one or a few sizes. The casts give the VALUES their type
    when PostgreSQL prepares the statement (an untyped $n in VALUES would be text)."""
    values = ",".join(["(%s::int, %s::int)"] * n)
    return (f"update_worlds_{n}",
            f"UPDATE world SET randomnumber = v.r FROM (VALUES {values}) AS v(i, r) WHERE world.id = v.i")


def _read_world(cur, resources, world_id):
    resources.execute(cur, "world_by_id", WORLD_BY_ID, (world_id,))
    row = cur.fetchone()
    return {"id": row[0], "randomNumber": row[1]}


def db(params, resources):
    def work(conn):
        with conn.cursor() as cur:
            return _read_world(cur, resources, _random_id())

    return JSON_TYPE, json.dumps(resources.with_connection(work)).encode()


def queries(params, resources):
    n = query_count(params)

    def work(conn):
        with conn.cursor() as cur:
            return [_read_world(cur, resources, _random_id()) for _ in range(n)]

    return JSON_TYPE, json.dumps(resources.with_connection(work)).encode()


def updates(params, resources):
    n = query_count(params)

    def work(conn):
        with conn.cursor() as cur:
            worlds = [_read_world(cur, resources, _random_id()) for _ in range(n)]
            for world in worlds:
                world["randomNumber"] = _random_id()
            # One batched UPDATE, rows in id order so concurrent requests cannot deadlock.
            pairs = sorted((w["id"], w["randomNumber"]) for w in worlds)
            name, sql = update_worlds(len(pairs))
            resources.execute(cur, name, sql, [x for pair in pairs for x in pair])
            return worlds

    return JSON_TYPE, json.dumps(resources.with_connection(work)).encode()


class _Buffer:
    """Collects what a compiled PSP template writes (PSP code calls req.write(text, flush))."""

    def __init__(self):
        self.parts = []

    def write(self, text, flush=0):
        self.parts.append(text)


def fortunes(params, resources):
    def work(conn):
        with conn.cursor() as cur:
            resources.execute(cur, "all_fortunes", ALL_FORTUNES)
            return cur.fetchall()

    rows = resources.with_connection(work)
    rows.append((0, EXTRA_FORTUNE))
    rows.sort(key=lambda row: row[1])
    code = resources.template("fortunes.psp")
    out = _Buffer()
    exec(code, {"req": out, "fortunes": rows, "escape": html.escape})
    return HTML_TYPE, "".join(out.parts).encode("utf-8")


def plaintext(params, resources):
    return TEXT_TYPE, b"Hello, World!"


def json_ceiling(params, resources):
    return JSON_TYPE, json.dumps({"message": "Hello, World!"}).encode()


# auth answers like db, behind the authentication phase (the entry points check the credentials first).
DATABASE_WORKLOADS = {"db": db, "queries": queries, "updates": updates, "fortunes": fortunes, "auth": db}
AUTHENTICATED = ("auth",)
CEILINGS = {"plaintext": plaintext, "json": json_ceiling}


# Demonstration only: the classic accidental leak, an unbounded module-level cache keyed per request.
# It grows by about LEAK_BYTES per request for the life of the child, so `bench tune` can show the
# memory side of recycling. Never use it to judge a variant.
LEAK_BYTES = 2048
_leak = {}


def leaky(params, resources):
    content_type, body = db(params, resources)
    _leak[len(_leak)] = body + b" " * LEAK_BYTES
    return content_type, body


DEMONSTRATIONS = {"leaky": leaky}

# Tests only (StackSettings.test_sleep, no CLI option): hold a connection for ?ms= milliseconds (at most 5 s)
# with pg_sleep, so a test can keep N requests in flight at once and count the server's connections.
SLEEP_SQL = "SELECT pg_sleep(%s)"


def sleep(params, resources):
    try:
        ms = min(max(int(params.get("ms", ["100"])[0]), 0), 5000)
    except (ValueError, IndexError):
        ms = 100

    def work(conn):
        with conn.cursor() as cur:
            resources.execute(cur, "test_sleep", SLEEP_SQL, (ms / 1000,))
            return {"slept_ms": ms}

    return JSON_TYPE, json.dumps(resources.with_connection(work)).encode()


TEST_ONLY = {"sleep": sleep}
