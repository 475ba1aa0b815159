"""Resources.execute without a server: the same SQL for every variant, PREPARE once per connection object,
again on a new one, and once more when the session lost a statement (tests/handlers/test_prepared_stack.py runs the
real thing)."""

import importlib.util
import sys
import types

import psycopg2.errors
import pytest
from conftest import REPO


@pytest.fixture
def resources(monkeypatch):
    # handlers/resources.py imports mod_python's PSP parser, absent from the test venv; no template is used here.
    psp = types.ModuleType("mod_python._psp")
    monkeypatch.setitem(sys.modules, "mod_python", types.ModuleType("mod_python"))
    monkeypatch.setitem(sys.modules, "mod_python._psp", psp)
    sys.modules["mod_python"]._psp = psp
    monkeypatch.syspath_prepend(str(REPO / "handlers"))
    spec = importlib.util.spec_from_file_location("resources_under_test", REPO / "handlers" / "resources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Connection:
    def __init__(self):
        self.sent = []
        self.session = set()  # what "PostgreSQL" has prepared in this session

    def cursor(self):
        return Cursor(self)


class Cursor:
    def __init__(self, conn):
        self.connection = conn

    def execute(self, sql, params=None):
        conn = self.connection
        conn.sent.append((sql, params))
        words = sql.split()
        if words[0] == "PREPARE":
            if words[1] in conn.session:
                raise psycopg2.errors.DuplicatePreparedStatement("already exists")
            conn.session.add(words[1])
        elif words[0] == "EXECUTE" and words[1] not in conn.session:
            raise psycopg2.errors.InvalidSqlStatementName("does not exist")


SQL = "SELECT id, randomnumber FROM world WHERE id = %s"


def test_every_other_variant_runs_the_plain_sql(resources):
    for variant in ("naive", "pool-only", "cache-only", "pooled"):
        conn = Connection()
        res = resources.for_variant(variant)
        res.execute(conn.cursor(), "world_by_id", SQL, (7,))
        assert conn.sent == [(SQL, (7,))] and res.prepared == 0


def test_prepared_once_per_connection_and_again_on_a_new_one(resources):
    conn = Connection()
    first = resources.for_variant("prepared")
    first.execute(conn.cursor(), "world_by_id", SQL, (7,))
    assert conn.sent == [("PREPARE world_by_id AS SELECT id, randomnumber FROM world WHERE id = $1", None),
                         ("EXECUTE world_by_id (%s)", (7,))]
    assert (first.prepared, first.cold) == (1, True)
    later = resources.for_variant("prepared")
    later.execute(conn.cursor(), "world_by_id", SQL, (8,))
    assert conn.sent[2:] == [("EXECUTE world_by_id (%s)", (8,))] and (later.prepared, later.cold) == (0, False)

    fresh = Connection()  # what the pool hands out after discarding a broken connection
    again = resources.for_variant("prepared")
    again.execute(fresh.cursor(), "world_by_id", SQL, (9,))
    assert [s for s, _ in fresh.sent] == ["PREPARE world_by_id AS SELECT id, randomnumber FROM world WHERE id = $1",
                                          "EXECUTE world_by_id (%s)"]
    assert again.prepared == 1


def test_a_session_that_lost_its_statement_prepares_it_once_more(resources):
    conn = Connection()
    resources.for_variant("prepared").execute(conn.cursor(), "all_fortunes", "SELECT id, message FROM fortune")
    conn.session.clear()  # DISCARD ALL behind our back
    res = resources.for_variant("prepared")
    res.execute(conn.cursor(), "all_fortunes", "SELECT id, message FROM fortune")
    assert [s for s, _ in conn.sent[2:]] == ["EXECUTE all_fortunes", "PREPARE all_fortunes AS SELECT id, message "
                                             "FROM fortune", "EXECUTE all_fortunes"]
    assert res.prepared == 1


def test_already_prepared_is_not_counted(resources):
    conn = Connection()
    conn.session.add("world_by_id")  # prepared before its name was recorded
    res = resources.for_variant("prepared")
    res.execute(conn.cursor(), "world_by_id", SQL, (1,))
    assert res.prepared == 0 and conn.sent[-1] == ("EXECUTE world_by_id (%s)", (1,))


def test_names_are_identifiers(resources):
    with pytest.raises(ValueError):
        resources.for_variant("prepared").execute(Connection().cursor(), "x; DROP TABLE world", SQL, (1,))
