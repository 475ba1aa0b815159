"""Issue 9 items 3, 9, 10, 11 and the reconnecting Monitor, on real servers."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
from conftest import REPO, bench_cli, get, make_state_dir, remove_state_dir

from bench import paths, stack
from bench.errors import UserError
from bench.stack import apache, postgres, procs
from bench.stack.knobs import StackSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def readable_venv():
    """A throwaway virtual environment the Apache user can read, wherever the checkout lives.

    The checkout's own .venv would do only when its parents are world-searchable: in a private clone
    (mode 700, like /root) the children could not see it, and the inherited-venv failure would not happen.
    """
    d = Path(tempfile.mkdtemp(prefix="modpython-bench-test-venv-", dir="/var/tmp"))
    try:
        d.chmod(0o755)
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(d)], check=True, timeout=60)
        assert paths._reachable_by_others(d / "bin" / "python3")
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def wait(check, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def own_stack():
    """A stack of a test's own, with settings given by the test."""
    made = []

    def start(**kw):
        state = make_state_dir()
        made.append(state)
        return stack.up(StackSettings(port=procs.free_port(), processes=2, **kw).validate(), state=state)

    yield start
    for state in made:
        remove_state_dir(state)


def test_recycled_children_close_their_pool_cleanly(own_stack):
    s = own_stack(max_connections_per_child=2, keepalive=False)
    monitor = postgres.Monitor(s.admin_dsn)
    try:
        for _ in range(4):
            assert get(s.url + "/pooled/db")[0] == 200
        first = set(monitor.backend_pids())
        assert first
        # Every connection counts: 2 per child, so 20 requests replace each child several times.
        for _ in range(20):
            assert get(s.url + "/pooled/db")[0] == 200
        # The backends of the recycled children's pools end (their children said goodbye at exit).
        assert wait(lambda: not first & set(monitor.backend_pids())), first & set(monitor.backend_pids())
    finally:
        monitor.close()
    log = s.apache.error_log.read_text()
    assert "Traceback" not in log and "close_pool" not in log and "TypeError" not in log, log[-2000:]


def test_leaky_is_served_only_when_asked(live_stack, own_stack):
    assert get(live_stack.url + "/pooled/leaky")[0] == 404
    s = own_stack(leaky=True)
    assert get(s.url + "/pooled/leaky")[0] == 200


def venv_env(state: Path, venv: Path) -> dict:
    """An activated virtual environment, as `source .venv/bin/activate` leaves it."""
    return {"BENCH_STATE_DIR": str(state), "VIRTUAL_ENV": str(venv),
            "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "PYTHONPATH": str(REPO)}


def test_bench_up_from_an_activated_venv(readable_venv):
    state = make_state_dir()
    env = venv_env(state, readable_venv)
    port = procs.free_port()
    try:
        r = bench_cli("up", "--port", str(port), "--processes", "2", env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        for path in ("/pooled/db", "/naive/fortunes", "/plaintext"):
            assert get(f"http://127.0.0.1:{port}{path}")[0] == 200, path
        s = stack.load(state)
        servers = s.apache.processes() + s.pg.processes()
        for pid in servers:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert not [e for e in environ if e.startswith((b"VIRTUAL_ENV=", b"PYTHONPATH=", b"PYTHONHOME="))]
            assert str(readable_venv).encode() not in b"".join(environ), pid
        for pid in s.apache.children():
            maps = Path(f"/proc/{pid}/maps").read_text()
            # The children run Debian's Python and psycopg2, nothing of the venv (issue 9 item 14).
            assert str(readable_venv) not in maps and ".tox" not in maps
            if "_psycopg" in maps:
                assert "/usr/lib/python3/dist-packages/psycopg2/" in maps
    finally:
        bench_cli("down", env={"BENCH_STATE_DIR": str(state)})
        remove_state_dir(state)


def test_children_that_cannot_serve_fail_fast_with_the_error_log(monkeypatch, readable_venv):
    """What an inherited venv did before the clean environment: every request fails. Stop in seconds, say why."""
    clean = procs.clean_env
    path = f"{readable_venv / 'bin'}:/usr/bin:/bin"
    monkeypatch.setattr(procs, "clean_env", lambda user=None: {**clean(user), "PATH": path})
    # Apache's own start is timed, not PostgreSQL's initdb before it (which 5 parallel tests slow down):
    # failing fast means well before the start's timeout, which a wait for a healthy answer would reach.
    spent: list[float] = []
    start = apache.Apache.start

    def timed_start(self, *args, **kwargs):
        began = time.monotonic()
        try:
            return start(self, *args, **kwargs)
        finally:
            spent.append(time.monotonic() - began)

    monkeypatch.setattr(apache.Apache, "start", timed_start)
    state = make_state_dir()
    with pytest.raises(UserError, match=r"Apache started but cannot serve .*No module named 'mod_python'") as err:
        stack.up(StackSettings(port=procs.free_port(), processes=2).validate(), state=state)
    assert len(spent) == 1 and spent[0] < apache.START_TIMEOUT_S / 2, spent
    assert "\n" not in str(err.value)
    assert procs.processes_mentioning(str(state)) == []
    remove_state_dir(state)


def test_orphaned_children_are_reported_and_killed():
    state = make_state_dir()
    env = {"BENCH_STATE_DIR": str(state)}
    port = procs.free_port()
    try:
        assert bench_cli("up", "--port", str(port), "--processes", "2", env=env, timeout=120).returncode == 0
        s = stack.load(state)
        children = s.apache.children()
        os.kill(s.apache.pid(), signal.SIGKILL)
        assert wait(lambda: not procs.alive(s.apache.pid()))
        assert get(f"http://127.0.0.1:{port}/plaintext")[0] == 200  # the orphans still answer
        r = bench_cli("status", env=env)
        assert "NOT running" in r.stdout and f"ORPHANS   apache children {sorted(children)}" in r.stdout
        r = bench_cli("up", "--port", str(procs.free_port()), env=env)
        assert r.returncode == 1 and "run `bench down`" in r.stderr
        r = bench_cli("down", env=env, timeout=120)
        assert f"orphaned apache children {sorted(children)}" in r.stdout
        assert procs.processes_mentioning(str(state)) == [] and not procs.port_in_use(port)
    finally:
        bench_cli("down", env=env)
        remove_state_dir(state)


OWNER = """
import sys, time
from pathlib import Path
from bench.stack import procs
from bench import stack
from bench.stack.knobs import StackSettings
stack.up(StackSettings(port=procs.free_port(), processes=1).validate(), state=Path(sys.argv[1]))
print("up", flush=True)
time.sleep(600)
"""


def test_a_dead_owner_is_named():
    state = make_state_dir()
    env = {"BENCH_STATE_DIR": str(state)}
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(state)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "up"
        owner.kill()  # like `kill -9` of a bench run: its stack stays up
        owner.wait(timeout=10)
        r = bench_cli("status", env=env)
        assert f"owner     bench process {owner.pid} is gone" in r.stdout
        r = bench_cli("up", "--port", str(procs.free_port()), env=env)
        assert r.returncode == 1 and r.stderr.count("\n") == 1
        assert f"the bench process that started it (pid {owner.pid}) is gone: run `bench down`" in r.stderr
        assert bench_cli("down", env=env, timeout=120).returncode == 0
        assert procs.processes_mentioning(str(state)) == []
    finally:
        owner.kill()
        owner.wait(timeout=10)
        remove_state_dir(state)


def test_monitor_survives_a_postgres_restart(own_stack):
    s = own_stack()
    monitor = postgres.Monitor(s.admin_dsn)
    try:
        before = monitor.sessions_opened()
        assert isinstance(before, int) and monitor.restarts == []
        s.pg.restart()
        after = monitor.sessions_opened()  # the old connection is dead: reconnects once, answers
        assert isinstance(after, int) and len(monitor.restarts) == 1
        assert isinstance(monitor.backend_pids(), list)
        s.pg.stop()
        assert monitor.sessions_opened() is None and monitor.backend_pids() is None
        s.pg.start()
        assert isinstance(monitor.sessions_opened(), int) and len(monitor.restarts) == 2
    finally:
        monitor.close()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(s.admin_dsn.replace("passfile=", "passfile=/nonexistent"))
