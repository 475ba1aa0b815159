"""Shared fixtures: a real embedded stack (Apache + mod_python + PostgreSQL) on free loopback ports."""

import inspect
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


# What makes a test an integration test: it starts something real (a stack, the `bench` command, Locust,
# wrk, Chromium, any child process), itself or through one of its fixtures. `tox -e fast` deselects them.
_STARTS_SOMETHING = ("bench_cli(", "make_state_dir(", "stack.up(", "_session_stack(", "live_stack", "server_stack",
                     "live_wsgi_stack", "subprocess", "Popen", "run_locust", "web_locust", "chromium", "wrk",
                     "Master(")
# The slowest groups, measured with --durations=0 (seconds on a busy 2-core machine): scheduled first, so that
# no long sweep starts last and runs alone. A slow test missing here only starts later; nothing else depends on it.
_SLOW_FIRST = {
    "sweeps-2": 470,
    "sweeps-1": 350,
    "tests/bench/test_run_servers.py::": 105,
    "tests/reports/test_run_report.py::all_built": 80,
    "tests/test_workers_netns.py::": 64,
    "tests/bench/test_run.py::run_env+short_run": 60,
    "tests/test_threads_tune_stack.py::test_processes_by_threads": 58,
    "tests/bench/test_run_measuring.py::": 50,
    "tests/test_security.py::": 45,
    "tests/test_app.py::test_a_handler_that_hangs_is_bounded_by_the_trial": 38,
    "tests/bench/test_tune.py::test_processes_sweep_sizes_on_the_capacity_at_an_slo": 38,
    "tests/test_threads_tune_stack.py::test_threads_knob": 38,
    "tests/reports/test_servers_report.py::": 36,
    "tests/test_app.py::guestbook_run": 35,
    "tests/test_auth.py::": 28,
}


# What makes a test a report test: it builds whole reports (every figure in PNG and SVG) from fixture run
# folders, seconds of CPU each; `tox -e fast` leaves these to the full suite too.
_BUILDS_A_REPORT = ("build_report(", "_build(", "cli.main(")
# What `tox -e fast` refuses to start: the servers, the load generators, the browser, the suite's own CLI.
_SERVERS = {"apache2", "postgres", "initdb", "pg_ctl", "locust", "wrk", "chromium", "bench"}
# Files whose every test starts a stack through a helper the tokens above do not name.
_INTEGRATION_FILES = {"tests/test_threads_stack.py"}

# The `bench tune` sweeps measure recycling, which needs the server's full rate: run together on the 2 cores
# they starve one another (children no longer recycle within a trial: seen with 3 and, once, with 2 at a time).
# So they run in two lanes, at most two at once (a lane is one xdist group: its tests run one after another).
_LANES = {
    "tests/test_app.py::test_tune_the_example_prints_a_directive[mod_python]": "sweeps-1",
    "tests/test_mod_wsgi.py::test_tune_under_daemon_mode_recycles_the_daemons_by_requests": "sweeps-1",
    "tests/bench/test_tune.py::test_processes_sweep_recommends_max_request_workers": "sweeps-1",
    "tests/bench/test_tune.py::sweep": "sweeps-2",  # test_tune.py's module sweep and the tests that read it
    "tests/test_app.py::test_tune_the_example_prints_a_directive[mod_wsgi]": "sweeps-2",
    "tests/bench/test_tune.py::test_confirmation_measured_the_recommended_value": "sweeps-2",
    "tests/test_threads_tune_stack.py::test_recycling_under_the_worker_mpm_counts_connections_per_port": "sweeps-1",
}


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


def _source(item: pytest.Item) -> str:
    """The test's code and its own fixtures' code (not the autouse guard below)."""
    funcs = [item.function] + [d[-1].func for n in item.fixturenames
                               if n != "_fast_starts_nothing"
                               and (d := item._fixtureinfo.name2fixturedefs.get(n)) and d[-1].baseid]
    texts = []
    for f in funcs:
        try:
            texts.append(inspect.getsource(f))
        except (OSError, TypeError):
            pass
    return "\n".join(texts)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Mark integration tests, and group tests for `--dist loadgroup`: the tests of one file that share a
    module or session fixture (a stack, a sweep) run on one worker, so it starts once; every other test is a
    group of its own, free to run beside any other. The slowest groups go first."""
    weight = {}
    for item in items:
        source = _source(item)
        if str(item.path.relative_to(REPO)) in _INTEGRATION_FILES or any(t in source for t in _STARTS_SOMETHING):
            item.add_marker(pytest.mark.integration)
        elif any(t in source for t in _BUILDS_A_REPORT):
            item.add_marker(pytest.mark.report)
        shared = _shared_fixtures(item)
        group = f"{item.path.relative_to(REPO)}::{'+'.join(shared)}" if shared else item.nodeid
        group = _LANES.get(group, group)
        # pytest-xdist appends the group to the node id after an "@", and reads it back only when no "]" follows.
        group = group.replace("[", "(").replace("]", ")").replace("@", "_")
        item.add_marker(pytest.mark.xdist_group(group))
        w = max((s for k, s in _SLOW_FIRST.items() if item.nodeid.startswith(k) or group.startswith(k)), default=0)
        weight[group] = max(weight.get(group, 0), w)
    order = {g: i for i, g in enumerate(dict.fromkeys(m.args[0] for i in items
                                                        for m in i.iter_markers("xdist_group")))}
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
    """Under `tox -e fast` (BENCH_TEST_FAST=1) a test that starts a process fails, naming it: the marks above
    must call it an integration test, so the fast loop stays fast and honest."""
    if os.environ.get("BENCH_TEST_FAST") == "1":
        popen = subprocess.Popen.__init__

        def refuse_servers(self, args, *a, **kw):
            words = [args] if isinstance(args, str | os.PathLike) else list(args)
            names = {Path(str(w)).name for w in words[:1]} | {str(w) for w in words[1:3]}
            if names & _SERVERS:
                raise RuntimeError(f"{request.node.nodeid} started {args!r} under `tox -e fast`: tests/conftest.py "
                                   "must mark it integration")
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
