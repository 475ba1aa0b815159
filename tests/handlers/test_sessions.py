"""State is per process: /session/process forgets a client that lands on another process, /session/shared
does not; `bench sessions` measures how often, with 1 and 4 processes."""

import json

import psycopg2
import psycopg2.errors
import pytest
from conftest import get, make_state_dir

from bench import console
from bench.load import sessions
from bench.stack import cpus, procs
from bench.stack.knobs import StackSettings
from bench.vocabulary import SESSION_COOKIE

pytestmark = pytest.mark.integration


def cookie_of(headers) -> str:
    value = headers["Set-Cookie"]
    assert "Path=/session" in value and "HttpOnly" in value
    return value.split(";", 1)[0].partition("=")[2]


@pytest.mark.parametrize("store", ["process", "shared"])
def test_cookie_set_when_absent_and_counts(server_stack, store):
    url = f"{server_stack.url}/session/{store}"
    status, headers, body = get(url)
    assert status == 200 and headers["Content-Type"] == "application/json"
    sid = cookie_of(headers)
    first = json.loads(body)
    assert first["count"] == 1 and first["known"] is False and headers["X-Bench-Session-Known"] == "0"
    assert first["pid"] == int(headers["X-Bench-Pid"])
    per_pid = {first["pid"]: 1}  # what each process has seen of this session
    for n in range(2, 22):
        status, headers, body = get(url, headers={"Cookie": f"{SESSION_COOKIE}={sid}", "Connection": "close"})
        assert status == 200 and "Set-Cookie" not in headers
        data = json.loads(body)
        assert headers["X-Bench-Session-Known"] == ("1" if data["known"] else "0")
        if store == "shared":
            assert data["known"] is True and data["count"] == n  # one store for every process
        else:
            seen = per_pid.get(data["pid"], 0)
            assert data["known"] is (seen > 0) and data["count"] == seen + 1  # only this process's visits
            per_pid[data["pid"]] = seen + 1


@pytest.mark.parametrize("cookie", ["bench_session=../../etc", "bench_session=" + "A" * 32, "other=1"])
def test_foreign_cookie_gets_a_new_session(live_stack, cookie):
    status, headers, _ = get(f"{live_stack.url}/session/process", headers={"Cookie": cookie})
    assert status == 200 and len(cookie_of(headers)) == 32


def test_shared_counter_is_seen_by_every_process(server_stack):
    status, headers, _ = get(f"{server_stack.url}/session/shared")
    sid = cookie_of(headers)
    counts = []
    for _ in range(30):
        _, headers, body = get(f"{server_stack.url}/session/shared",
                               headers={"Cookie": f"{SESSION_COOKIE}={sid}", "Connection": "close"})
        data = json.loads(body)
        counts.append(data["count"])
    assert counts == list(range(2, 32))  # no visit lost, whichever process served it


def test_handlers_role_may_only_upsert_sessions(live_stack):
    conn = psycopg2.connect(live_stack.dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("INSERT INTO bench_session VALUES ('x', 1) ON CONFLICT (id) DO UPDATE SET visits = 2")
        cur.execute("SELECT count(*) FROM bench_user")
        for sql in ("DELETE FROM bench_session", "INSERT INTO bench_user VALUES ('x', '', '')",
                    "UPDATE bench_user SET hash = ''", "TRUNCATE bench_session"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(sql)
    conn.close()


def test_forgotten_rate_with_1_and_4_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_RUNS_DIR", str(tmp_path))
    base = StackSettings(port=procs.free_port(), server_cpus=cpus.partition().server_list)
    run_dir = sessions.execute(base, [1, 4], [False], requests=60, state=make_state_dir(), log=lambda _: None)
    record = json.loads((run_dir / "sessions.json").read_text())
    assert record["complete"]
    one, four = record["results"]
    assert (one["processes"], four["processes"]) == (1, 4)
    assert one["process"]["forgotten"] == 0 and one["process"]["unknown"] == 0
    assert one["process"]["returning"] > 40
    # Without keep-alive new connections spread over the 4 processes (expected about 75% forgotten).
    assert four["process"]["forgotten_rate"] > 0.2 and four["process"]["pids_seen"] >= 2
    assert four["shared"]["unknown"] == 0  # the shared store never forgets
    assert "forgotten" in console.sessions_table(record)


@pytest.mark.parametrize("args,message", [
    (["--processes", "0"], "1..64"), (["--processes", "a,b"], "comma list"),
    (["--keepalive", "maybe"], "on, off or both"), (["--requests", "3"], "too few"),
])
def test_bad_input(args, message):
    from conftest import bench_cli

    r = bench_cli("sessions", *args, "--port", str(procs.free_port()), env={"BENCH_STATE_DIR": "/nonexistent-x"})
    assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr


def test_sessions_under_mod_wsgi_daemon_mode(tmp_path):
    """`bench sessions --server mod_wsgi` end to end: the per-process state lives in the daemons."""
    from conftest import bench_cli

    env = {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}
    r = bench_cli("sessions", "--server", "mod_wsgi", "--processes", "1,3", "--keepalive", "off", "--requests", "60",
                  "--port", str(procs.free_port()), env=env, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    run_dir = next(tmp_path.iterdir())
    record = json.loads((run_dir / "sessions.json").read_text())
    assert record["complete"] and record["settings"]["server"] == "mod_wsgi"
    assert record["settings"]["wsgi_mode"] == "daemon"
    one, three = record["results"]
    assert one["process"]["forgotten"] == 0 and one["process"]["pids_seen"] == 1
    # New connections reach any of the 3 daemons (whichever child relays): a process-memory session is forgotten.
    assert three["process"]["pids_seen"] >= 2 and three["process"]["forgotten_rate"] > 0.2
    assert three["shared"]["unknown"] == 0
    assert (run_dir / "report" / "report.html").exists() and "forgotten" in r.stdout
