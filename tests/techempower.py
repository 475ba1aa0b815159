"""The TechEmpower verification rules as tests of a `server_stack` fixture, every workload x variant: collected
by each module that imports them against its own stacks (tests/handlers/test_handlers_tfb.py: mod_python and
mod_wsgi; tests/stack/test_threads_stack.py: the threaded servers). Not a test module itself."""

import html
import json
import re

import pytest
from conftest import get

from bench import vocabulary

# Every variant of the table, the prepared one too; those through the pooler need a stack with a PgBouncer:
# tests/stack/test_pgbouncer.py runs these rules on one.
VARIANTS = [v for v in vocabulary.VARIANTS if not vocabulary.through_pooler(v)]
FORTUNES = [
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (8, "A list is only as strong as its weakest link. — Donald Knuth"),
    (0, "Additional fortune added at request time."),
    (3, "After enough decimal places, nobody gives a damn."),
    (7, "Any program that runs right is obsolete."),
    (10, "Computers make very fast, very accurate mistakes."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"),
    (9, "Feature: A bug with seniority."),
    (1, "fortune: No such file or directory"),
    (12, "フレームワークのベンチマーク"),
]


def check_common_headers(headers, body: bytes, content_type: str) -> None:
    assert headers["Content-Type"] == content_type
    assert int(headers["Content-Length"]) == len(body)
    assert headers["Server"] and headers["Date"]
    assert int(headers["X-Bench-Pid"]) > 0
    assert int(headers["X-Bench-Served"]) >= 1


def check_world(obj) -> None:
    assert set(obj) == {"id", "randomNumber"}
    assert 1 <= obj["id"] <= 10000 and 1 <= obj["randomNumber"] <= 10000


def test_plaintext_and_json(server_stack):
    status, headers, body = get(server_stack.url + "/plaintext")
    assert status == 200 and body == b"Hello, World!"
    check_common_headers(headers, body, "text/plain")
    status, headers, body = get(server_stack.url + "/json")
    assert status == 200 and json.loads(body) == {"message": "Hello, World!"}
    check_common_headers(headers, body, "application/json")


@pytest.mark.parametrize("variant", VARIANTS)
def test_db(server_stack, variant):
    status, headers, body = get(f"{server_stack.url}/{variant}/db")
    assert status == 200
    check_common_headers(headers, body, "application/json")
    check_world(json.loads(body))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("workload", ["queries", "updates"])
@pytest.mark.parametrize("arg,count", [("2", 2), ("0", 1), ("foo", 1), ("", 1), ("501", 500), (None, 1)])
def test_query_count_clamping(server_stack, variant, workload, arg, count):
    query = "" if arg is None else f"?queries={arg}"
    status, headers, body = get(f"{server_stack.url}/{variant}/{workload}{query}")
    assert status == 200
    check_common_headers(headers, body, "application/json")
    rows = json.loads(body)
    assert isinstance(rows, list) and len(rows) == count
    for row in rows:
        check_world(row)


def test_updates_are_persisted(server_stack):
    import psycopg2

    _, _, body = get(f"{server_stack.url}/pooled/updates?queries=5")
    conn = psycopg2.connect(server_stack.dsn)
    with conn.cursor() as cur:
        for row in json.loads(body):
            cur.execute("SELECT randomnumber FROM world WHERE id = %s", (row["id"],))
            # Two rows may share an id in one request; the last write wins, so check membership.
            assert cur.fetchone()[0] in {r["randomNumber"] for r in json.loads(body) if r["id"] == row["id"]}
    conn.close()


def parse_fortunes(body: str) -> list[tuple[int, str]]:
    rows = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", body)
    return [(int(i), html.unescape(m)) for i, m in rows]


@pytest.mark.parametrize("variant", VARIANTS)
def test_fortunes(server_stack, variant):
    status, headers, body = get(f"{server_stack.url}/{variant}/fortunes")
    assert status == 200
    check_common_headers(headers, body, "text/html; charset=utf-8")
    text = body.decode("utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<tr><th>id</th><th>message</th></tr>" in text
    assert parse_fortunes(text) == FORTUNES
    # Escaping: the <script> fortune must never appear raw.
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;This should not be displayed" in text


@pytest.mark.parametrize("path", ["/nope", "/naive/nope", "/pooled", "/other/db", "/naive/plaintext", "/a/b/c"])
def test_unknown_paths_404(server_stack, path):
    status, headers, _ = get(server_stack.url + path)
    assert status == 404
    assert "X-Bench-Pid" not in headers


def test_server_status_loopback(server_stack):
    status, _, body = get(server_stack.url + "/server-status?auto")
    assert status == 200 and b"BusyWorkers" in body
