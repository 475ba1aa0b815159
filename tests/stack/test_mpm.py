"""bench/stack/mpm.py and the thread settings: the fixed pool each MPM writes, what is refused before anything
starts, and the connection budget counted per thread."""

import importlib.util
from pathlib import Path

import pytest

from bench.errors import UserError
from bench.stack import mpm
from bench.stack.knobs import StackSettings
from bench.stack.servers import SERVERS

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"


def _lines(**kw) -> dict[str, str]:
    return mpm.lines(StackSettings(**kw), "/m")


def test_prefork_pool_is_the_old_one():
    got = _lines(processes=3)
    assert got["mpm_load"] == "LoadModule mpm_prefork_module /m/mod_mpm_prefork.so"
    assert got["mpm_pool"].splitlines()[1:] == ["StartServers 3", "MinSpareServers 3", "MaxSpareServers 4",
                                                 "ServerLimit 3", "MaxRequestWorkers 3"]


@pytest.mark.parametrize("kind", ["worker", "event"])
def test_threaded_pool_is_fixed(kind):
    got = _lines(processes=2, threads=4, mpm=kind)
    assert got["mpm_load"] == f"LoadModule mpm_{kind}_module /m/mod_mpm_{kind}.so"
    pool = dict(line.split() for line in got["mpm_pool"].splitlines()[1:])
    assert pool == {"StartServers": "2", "ServerLimit": "2", "ThreadLimit": "4", "ThreadsPerChild": "4",
                    "MaxRequestWorkers": "8", "MinSpareThreads": "8", "MaxSpareThreads": "12"}


def test_wsgi_daemon_front_relays_every_thread():
    # 2 daemons x 4 threads: the prefork front needs 8 relaying children.
    assert "MaxRequestWorkers 8" in _lines(server="mod_wsgi", processes=2, threads=4)["mpm_pool"]


@pytest.mark.parametrize("kw,message", [
    ({"threads": 0}, "--threads 0 is out of range: allowed 1..64"),
    ({"threads": 65, "mpm": "worker"}, "--threads 65 is out of range"),
    ({"mpm": "bogus"}, "--mpm 'bogus' is not valid: use prefork or worker or event"),
    ({"threads": 4}, "--threads 4 needs --mpm worker or event with --server mod_python"),
    ({"threads": 4, "server": "mod_wsgi", "wsgi_mode": "embedded"}, "--wsgi-mode embedded"),
    ({"threads": 16, "mpm": "worker", "processes": 8}, "needs 259 PostgreSQL connections but max_connections is 100"),
])
def test_refused_before_anything_starts(kw, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        StackSettings(**kw).validate()


def test_budget_counts_threads():
    s = StackSettings(processes=2, threads=4, mpm="worker")
    assert s.pool_per_process == 4 and s.connections_needed == 2 * (4 + 4) + 3
    assert StackSettings(processes=4, pool_size=2).connections_needed == 4 * (2 + 1) + 3  # as before threads


def test_handler_options_pass_threads_on():
    spec = importlib.util.spec_from_file_location("handler_options_t", HANDLERS / "options.py")
    options = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(options)
    got = options.parse({"bench.threads": "4", "bench.test_sleep": "On"})
    assert got["threads"] == 4 and got["test_sleep"] is True
    assert "threads" not in options.parse({})


@pytest.mark.parametrize(("server", "kind", "imports"), [
    ("mod_python", "worker", True), ("mod_python", "event", True), ("mod_python", "prefork", False),
    ("mod_wsgi", "worker", False)])
def test_only_threaded_mod_python_imports_the_handlers_at_child_start(server, kind, imports):
    got = SERVERS[server].preload(StackSettings(server=server, mpm=kind, threads=2, wsgi_mode="embedded"))
    assert (got.splitlines()[-1] == "PythonImport handler_entry 127.0.0.1") if imports else got == ""
