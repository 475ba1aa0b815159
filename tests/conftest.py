"""Shared fixtures: a real embedded stack (Apache + mod_python + PostgreSQL) on free loopback ports."""

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import psutil
import pytest

from bench import stack
from bench.stack import cpus, procs
from bench.stack.knobs import StackSettings

REPO = Path(__file__).resolve().parent.parent
# Every state folder a test made: stopped and removed at the end of the session, whatever the test did.
_STATE_DIRS: list[Path] = []


def make_state_dir() -> Path:
    # /var/tmp, mode 755: the www-data and postgres accounts must reach it when we run as root.
    d = Path(tempfile.mkdtemp(prefix="modpython-bench-test-", dir="/var/tmp"))
    d.chmod(0o755)
    _STATE_DIRS.append(d)
    return d


def remove_state_dir(d: Path) -> None:
    """Stop whatever still runs from a state folder and delete it."""
    try:
        stack.down(d)
    except Exception:  # a damaged state.json must not keep the folder (or its servers) alive
        for p in procs.processes_mentioning(str(d)):
            procs.stop_tree(p.pid)
    shutil.rmtree(d, ignore_errors=True)


# What `tox -e fast` leaves out is marked, never guessed from a test's source:
# - `integration`: the test starts something real (a stack, the `bench` command, Locust, wrk, Chromium, any child
#   process): `pytestmark = pytest.mark.integration` in its module or `@pytest.mark.integration` on it. A test
#   that uses a stack fixture of this file (STACK_FIXTURES) is integration whatever its marks say.
# - `report`: it builds whole reports (every figure in PNG and SVG) from fixture run folders, seconds of CPU each.
# `_fast_starts_nothing` below fails a test that starts a server under `tox -e fast`: a missing mark shows.
STACK_FIXTURES = {"live_stack", "live_wsgi_stack", "server_stack"}
# What `tox -e fast` refuses to start: the servers, the load generators, the browser, the suite's own CLI.
_SERVERS = {"apache2", "postgres", "initdb", "pg_ctl", "pgbouncer", "locust", "wrk", "chromium", "bench"}

# Scheduling (`--dist loadgroup`, tox.ini): the tests of one file that share a module or session fixture (a
# stack, a sweep) are one xdist group, on one worker, so it starts once; every other test is a group of its own.
# `@pytest.mark.slow(SECONDS)` on a test: its group takes about that long (measured with --durations=0 on a busy
# 2-core machine); the slowest groups start first, so that no long sweep starts last and runs alone.
# `@pytest.mark.lane(NAME)` puts a test, and the tests sharing its fixtures, in a lane: one xdist group whose tests
# run one after another. The `bench tune` sweeps measure recycling, which needs the server's full rate: run
# together on the 2 cores they starve one another (children no longer recycle within a trial: seen with 3 and,
# once, with 2 at a time), so they run in two lanes, at most two at once. The lanes and their measured seconds:
LANE_SECONDS = {"sweeps-1": 350, "sweeps-2": 470}

integration, report, slow, lane = pytest.mark.integration, pytest.mark.report, pytest.mark.slow, pytest.mark.lane


def _shared_fixtures(item: pytest.Item) -> list[str]:
    """The tests' own module- or session-scoped fixtures this test uses (server_stack: the stack of its param)."""
    params = item.callspec.params if hasattr(item, "callspec") else {}
    names = []
    for name in item.fixturenames:
        defs = item._fixtureinfo.name2fixturedefs.get(name)
        if not defs or not defs[-1].baseid:  # baseid "": pytest's own fixtures (tmp_path_factory...)
            continue
        if defs[-1].scope != "function":  # one instance per param: each may go to its own worker
            names.append(f"{name}[{params[name]}]" if name in params else name)
        elif name == "server_stack":  # conftest's: it takes a session stack by name (getfixturevalue)
            names.append("live_stack" if params[name] == "mod_python" else "live_wsgi_stack")
    return sorted(set(names))


def _fixture_group(item: pytest.Item) -> str:
    shared = _shared_fixtures(item)
    return f"{item.path.relative_to(REPO)}::{'+'.join(shared)}" if shared else item.nodeid


def _lanes(items: list[pytest.Item], whole_suite: bool) -> dict[str, str]:
    """{fixture group: its lane}: a lane on one test takes its whole group (the fixture starts once). A lane
    not in LANE_SECONDS, two lanes in one group, or (collecting the whole suite) a lane without a test stops the
    collection."""
    lanes: dict[str, str] = {}
    wrong = []
    for item in items:
        if (mark := item.get_closest_marker("lane")) is None:
            continue
        name, group = mark.args[0], _fixture_group(item)
        if name not in LANE_SECONDS or lanes.get(group, name) != name:
            wrong.append(f"{item.nodeid} in lane {name!r}")
        lanes[group] = name
    if whole_suite:
        wrong += [f"lane {name!r} has no test" for name in LANE_SECONDS if name not in lanes.values()]
    if wrong:
        raise pytest.UsageError(f"tests/conftest.py lanes ({', '.join(LANE_SECONDS)}): {'; '.join(wrong)}")
    return lanes


@pytest.hookimpl(tryfirst=True)  # before -m deselects and pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Mark (STACK_FIXTURES: a test on a shared stack is an integration test) and group the tests for
    `--dist loadgroup`, the slowest groups first. Every other mark is the test module's own."""
    for item in items:
        if STACK_FIXTURES & set(item.fixturenames) and not item.get_closest_marker("integration"):
            item.add_marker(integration)
    lanes = _lanes(items, whole_suite=not config.args or config.args == config.getini("testpaths"))
    weight: dict[str, float] = {}
    for item in items:
        group = lanes.get(_fixture_group(item), _fixture_group(item))
        # pytest-xdist appends the group to the node id after an "@", and reads it back only when no "]" follows.
        item.add_marker(pytest.mark.xdist_group(group.replace("[", "(").replace("]", ")").replace("@", "_")))
        seconds = [m.args[0] for m in item.iter_markers("slow")]
        weight[_group_of(item)] = max(weight.get(_group_of(item), 0), LANE_SECONDS.get(group, 0), *seconds)
    order = {g: i for i, g in enumerate(dict.fromkeys(_group_of(i) for i in items))}
    items.sort(key=lambda i: (-weight[_group_of(i)], order[_group_of(i)]))


def _group_of(item: pytest.Item) -> str:
    return next(item.iter_markers("xdist_group")).args[0]


def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup, but a worker takes its next group only when it is down to its last test (which it holds
    until it knows the next one): pytest-xdist's own threshold (2 pending tests) queues a second and a third
    single-test group behind a long sweep while other workers sit idle."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class OneGroupAhead(LoadGroupScheduling):
        def _reschedule(self, node) -> None:
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            if self._pending_of(self.assigned_work[node]) <= 1:
                self._assign_work_unit(node)

    return OneGroupAhead(config, log)


@pytest.fixture(autouse=True)
def _fast_starts_nothing(request, monkeypatch):
    """Under `tox -e fast` (BENCH_TEST_FAST=1) a test that starts a server fails, naming it: it must be marked
    integration, so the fast loop stays fast and honest."""
    if os.environ.get("BENCH_TEST_FAST") == "1":
        popen = subprocess.Popen.__init__

        def refuse_servers(self, args, *a, **kw):
            words = [args] if isinstance(args, str | os.PathLike) else list(args)
            names = {Path(str(w)).name for w in words[:1]} | {str(w) for w in words[1:3]}
            if names & _SERVERS:
                raise RuntimeError(f"{request.node.nodeid} started {args!r} under `tox -e fast`: mark it "
                                   "integration (pytest.mark.integration)")
            popen(self, args, *a, **kw)
        monkeypatch.setattr(subprocess.Popen, "__init__", refuse_servers)


def pytest_sessionfinish(session, exitstatus):
    for d in _STATE_DIRS:
        remove_state_dir(d)
    left = [str(d) for d in _STATE_DIRS if d.exists()]
    if left:
        print(f"\nerror: state folders left behind: {left}")
        session.exitstatus = 1


def _session_stack(**settings):
    """A stack of 2 processes on the default CPU partition, as `bench up` would start it; removed after."""
    state = make_state_dir()
    s = stack.up(StackSettings(port=procs.free_port(), processes=2, server_cpus=cpus.partition().server_list,
                               **settings).validate(), state=state)
    try:
        yield s
    finally:
        remove_state_dir(state)


@pytest.fixture(scope="session")
def live_stack():
    yield from _session_stack()


@pytest.fixture(scope="session")
def live_wsgi_stack():
    """The same stack served by mod_wsgi in daemon mode (2 daemon processes)."""
    yield from _session_stack(server="mod_wsgi")


@pytest.fixture(params=["mod_python", "mod_wsgi"])
def server_stack(request):
    """Each test once per server: the mod_python stack and the mod_wsgi (daemon mode) stack."""
    return request.getfixturevalue("live_stack" if request.param == "mod_python" else "live_wsgi_stack")


def get(url: str, headers: dict | None = None, timeout: float = 10):
    """(status, headers, body) of a GET; errors are returned, not raised."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def bench_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real `bench` command as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=REPO)


def locust_masters(port: int) -> list:
    """The Locust masters (of any test) listening for workers on `port`: there is one per run."""
    found = []
    for p in procs.processes_mentioning("--bench-control"):
        try:
            if str(port) in p.cmdline():
                found.append(p)
        except psutil.NoSuchProcess:
            pass
    return found
