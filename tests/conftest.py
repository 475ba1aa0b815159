"""Shared fixtures: a real embedded stack (Apache + mod_python + PostgreSQL) on free loopback ports."""

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from bench import cpus, procs, stack
from bench.knobs import StackSettings

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
