"""The embedded stack's promises, checked on real servers: persistence, recovery, privileges, clean stop."""

import json
import os
import shutil
import socket
import time

import psutil
import psycopg2
import pytest
from conftest import bench_cli, get, make_state_dir

from bench.stack import postgres, procs


def hit_every_child(live_stack, path: str, rounds: int = 60) -> dict:
    """GET path on new connections until every Apache child answered; {pid: last headers}."""
    seen = {}
    for _ in range(rounds):
        status, headers, body = get(live_stack.url + path, headers={"Connection": "close"})
        assert status == 200, body
        seen[headers["X-Bench-Pid"]] = (headers, body)
        if len(seen) == live_stack.settings.processes:
            break
    assert len(seen) == live_stack.settings.processes, f"only children {sorted(seen)} answered"
    return seen


def sessions(live_stack) -> int:
    time.sleep(1.2)  # backends flush session counts to pg_stat at most once a second
    conn = postgres.connect(live_stack.dsn)
    try:
        return postgres.sessions_opened(conn)
    finally:
        conn.close()


def test_naive_opens_a_session_per_request_and_pooled_does_not(live_stack):
    hit_every_child(live_stack, "/pooled/db")  # every child has its pool connection now
    before = sessions(live_stack)
    for _ in range(20):
        assert get(live_stack.url + "/pooled/db")[0] == 200
    after_pooled = sessions(live_stack)
    for _ in range(20):
        assert get(live_stack.url + "/naive/db")[0] == 200
    after_naive = sessions(live_stack)
    # Each sessions() call opens one session of its own.
    assert after_pooled - before == 1
    assert after_naive - after_pooled == 20 + 1


def test_per_request_connections_are_closed(live_stack):
    for _ in range(10):
        get(live_stack.url + "/naive/db")
        get(live_stack.url + "/cache-only/fortunes")
    conn = postgres.connect(live_stack.dsn)
    try:
        # Only pooled connections (at most one per child) may remain.
        assert len(postgres.backend_pids(conn)) <= live_stack.settings.processes
    finally:
        conn.close()


def test_pooled_responses_are_warm_after_first(live_stack):
    seen = hit_every_child(live_stack, "/pooled/fortunes")
    for _ in seen:
        _status, headers, _body = get(live_stack.url + "/pooled/fortunes")
        assert "X-Bench-Cold" not in headers
    status, headers, _ = get(live_stack.url + "/naive/fortunes")
    assert headers["X-Bench-Cold"] == "1"


def test_per_request_template_is_reread_and_cached_is_not(live_stack):
    template = live_stack.apache.handlers / "templates" / "fortunes.psp"
    original = template.read_text()
    hit_every_child(live_stack, "/pooled/fortunes")
    hit_every_child(live_stack, "/cache-only/fortunes")
    try:
        template.write_text(original.replace("<title>Fortunes</title>", "<title>Changed</title>"))
        for variant in ("naive", "pool-only"):
            for _pid, (_h, body) in hit_every_child(live_stack, f"/{variant}/fortunes").items():
                assert b"<title>Changed</title>" in body, variant
        for variant in ("pooled", "cache-only"):
            for _pid, (_h, body) in hit_every_child(live_stack, f"/{variant}/fortunes").items():
                assert b"<title>Fortunes</title>" in body, variant
        live_stack.apache.graceful()
        for _pid, (_h, body) in hit_every_child(live_stack, "/pooled/fortunes").items():
            assert b"<title>Changed</title>" in body
    finally:
        template.write_text(original)
        live_stack.apache.graceful()


def test_postgres_restart_pooled_recovers_and_errors_are_503(live_stack):
    hit_every_child(live_stack, "/pooled/db")
    live_stack.pg.stop()
    try:
        status, headers, body = get(live_stack.url + "/naive/db")
        assert status == 503
        assert body == b"database unavailable\n"
        assert b"Traceback" not in body
    finally:
        live_stack.pg.start()
    # Every child's pooled connection is now broken; the first request on each must still succeed.
    hit_every_child(live_stack, "/pooled/db")
    for _ in range(10):
        assert get(live_stack.url + "/pooled/db")[0] == 200
    assert "OperationalError" in live_stack.apache.error_log.read_text()


def test_children_are_not_root(live_stack):
    children = live_stack.apache.children()
    assert len(children) == live_stack.settings.processes
    expected = 33 if os.geteuid() == 0 else os.geteuid()  # www-data when started as root
    for pid in children:
        assert psutil.Process(pid).uids().real == expected
        assert psutil.Process(pid).uids().effective != 0 or os.geteuid() != 0
    if os.geteuid() == 0:
        assert psutil.Process(live_stack.pg.pid()).username() == "postgres"


def test_listens_on_loopback_only(live_stack):
    for pid in [live_stack.apache.pid(), live_stack.pg.pid()]:
        for c in psutil.Process(pid).net_connections(kind="inet"):
            if c.status == psutil.CONN_LISTEN:
                assert c.laddr.ip in ("127.0.0.1", "::1"), c


@pytest.mark.integration
def test_up_status_down_leaves_nothing(tmp_path):
    state = make_state_dir()
    env = {"BENCH_STATE_DIR": str(state)}
    port = procs.free_port()
    try:
        r = bench_cli("up", "--port", str(port), "--processes", "2", env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert f"http://127.0.0.1:{port}" in r.stdout
        r = bench_cli("status", env=env)
        assert "running" in r.stdout and "NOT running" not in r.stdout
        assert procs.processes_mentioning(str(state))
        # A second `up` on the same state folder is refused.
        r = bench_cli("up", "--port", str(procs.free_port()), env=env)
        assert r.returncode == 1 and "already running" in r.stderr
        secrets = sorted((state / "secrets").iterdir())
        assert secrets and all(f.stat().st_mode & 0o077 == 0 for f in secrets)  # 0600 while the stack is up
        r = bench_cli("down", env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert procs.processes_mentioning(str(state)) == []
        assert not procs.port_in_use(port)
        assert not state.exists()  # the state folder goes with the stack: nothing in it is a cache
    finally:
        bench_cli("down", env=env)
        shutil.rmtree(state, ignore_errors=True)


@pytest.mark.integration
@pytest.mark.parametrize("args,message", [
    (["--processes", "0"], "--processes 0 is out of range"),
    (["--keepalive", "maybe"], "--keepalive 'maybe' is not valid"),
    (["--pool-size", "0"], "--pool-size 0 is out of range"),
    (["--processes", "40", "--pool-size", "2"], "needs 123 PostgreSQL connections"),
    (["--processes", "49"], "needs 101 PostgreSQL connections"),
    (["--max-connections-per-child", "-1"], "--max-connections-per-child -1 is out of range"),
])
def test_bad_knobs_are_one_line_errors(args, message):
    state = make_state_dir()
    r = bench_cli("up", *args, env={"BENCH_STATE_DIR": str(state)})
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and message in r.stderr
    assert "Traceback" not in r.stderr
    assert procs.processes_mentioning(str(state)) == []
    shutil.rmtree(state, ignore_errors=True)


@pytest.mark.integration
def test_port_in_use_and_stale_state_are_one_line_errors():
    state = make_state_dir()
    env = {"BENCH_STATE_DIR": str(state)}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = bench_cli("up", "--port", str(port), env=env)
    assert r.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in r.stderr
    assert r.stderr.count("\n") == 1
    assert procs.processes_mentioning(str(state)) == []
    (state / "state.json").write_text('{"settings": {"port": 1}, "dsn": "x", "pg_port": 5}')
    r = bench_cli("up", "--port", str(procs.free_port()), env=env)
    assert r.returncode == 1 and "stale state folder" in r.stderr and r.stderr.count("\n") == 1
    assert bench_cli("down", env=env).returncode == 0
    assert not (state / "state.json").exists()
    shutil.rmtree(state, ignore_errors=True)


def test_missing_mod_python_is_a_clear_error(monkeypatch, tmp_path):
    from bench.record.errors import UserError
    from bench.stack import apache

    monkeypatch.setattr(apache, "MODULES", tmp_path)
    with pytest.raises(UserError, match="mod_python not found .* install libapache2-mod-python"):
        apache.check_installed()


def test_existing_dsn_is_used_without_dropping(live_stack):
    """--dsn against a server we did not start: tables present are used, never dropped."""
    conn = psycopg2.connect(live_stack.admin_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS keep_me (x int)")
    assert postgres.ensure_tables(live_stack.admin_dsn, seed=False) == "tables present"
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('keep_me') IS NOT NULL")
        assert cur.fetchone()[0]
        cur.execute("DROP TABLE keep_me")
    conn.close()


def test_the_app_survives_state_json(tmp_path):
    """state.json and results.json keep the user's application; `bench status`/`down` read it back."""
    from bench.stack.app import App
    from bench.stack.knobs import StackSettings

    app = App(dir=str(tmp_path), handler="site::handler", options=(("k", "v"),), paths=("/", "/?page={n}"))
    settings = StackSettings(app=app, server="mod_python")
    record = json.loads(json.dumps(settings.to_dict()))
    assert record["app"]["paths"] == ["/", "/?page={n}"] and record["app"]["handler"] == "site::handler"
    again = StackSettings(**record)
    assert again.app == app and again.app.module == "site" and again.app.function == "handler"
    assert StackSettings(**StackSettings().to_dict()).app is None
