"""mod_wsgi beside mod_python: daemon processes that serve the handlers as www-data, pinned to the server CPUs,
listening on nothing but loopback, and named in the access log; embedded mode; the settings record."""

import os
import pwd

import psutil
import pytest
from conftest import bench_cli, get, make_state_dir

from bench import stack
from bench.load import access_log
from bench.stack import cpus, procs
from bench.stack.knobs import StackSettings


def serving_pids(live, path: str = "/pooled/db", rounds: int = 30) -> set[int]:
    return {int(get(live.url + path, headers={"Connection": "close"})[1]["X-Bench-Pid"]) for _ in range(rounds)}


def test_daemon_processes_serve_not_the_children(live_wsgi_stack):
    live = live_wsgi_stack
    pids = serving_pids(live)
    family = set(live.apache.processes())
    assert pids <= family and live.apache.pid() not in pids
    # The daemons are forked by the parent, and they are not the (relaying) prefork children that answer
    # the connection: every request of one keep-alive connection reaches a daemon, whichever child relays.
    for pid in pids:
        p = psutil.Process(pid)
        assert p.ppid() == live.apache.pid()
        if os.geteuid() == 0:
            assert p.uids().real == pwd.getpwnam("www-data").pw_uid != 0
    conf = live.apache.conf.read_text()
    assert "WSGIDaemonProcess bench processes=2 threads=1" in conf and "mod_python.so" not in conf


def test_every_process_pinned_and_loopback_only(live_wsgi_stack):
    live = live_wsgi_stack
    serving_pids(live, rounds=5)
    family = live.apache.processes()
    assert len(family) >= 1 + 2 * live.settings.processes  # parent, relaying children, daemons
    if live.apache.cpus:
        assert cpus.off_set(family, live.apache.cpus) == {}
    for pid in family:
        for conn in psutil.Process(pid).net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                assert conn.laddr.ip == "127.0.0.1", (pid, conn)


def test_access_log_names_the_daemon(live_wsgi_stack):
    live = live_wsgi_stack
    offset = live.apache.access_log.stat().st_size
    pids = serving_pids(live, rounds=10)
    procs.wait_for(lambda: live.apache.access_log.stat().st_size > offset, 10, "access-log lines")
    with open(live.apache.access_log) as f:
        f.seek(offset)
        logged = {e.pid for e in map(access_log.parse_line, f) if e and e.path == "/pooled/db"}
    assert logged and logged <= pids


def test_settings_record_the_server(live_wsgi_stack):
    assert live_wsgi_stack.status()["settings"]["server"] == "mod_wsgi"
    assert StackSettings().to_dict()["server"] == "mod_python"


def test_servers_table_holds_what_differs():
    from pathlib import Path

    from bench.stack.servers import SERVERS

    wsgi, python = SERVERS["mod_wsgi"], SERVERS["mod_python"]
    assert wsgi.needs == ("mod_python",) and wsgi.template.is_file() and python.template.is_file()
    assert (python.serving_process(), wsgi.serving_process("daemon")) == ("the prefork child", "the daemon process")
    assert wsgi.recycling("daemon").counts == "requests" and python.recycling().counts == "connections"
    recycled = StackSettings(server="mod_wsgi", max_connections_per_child=50)
    lines = wsgi.conf_lines(recycled, Path("/h"), None)
    assert "WSGIDaemonProcess bench processes=4 threads=1 maximum-requests=50" in lines
    assert wsgi.conf_lines(StackSettings(server="mod_wsgi", wsgi_mode="embedded"), Path("/h"), None) == \
        'WSGIPythonPath "/h"'
    assert python.conf_lines(StackSettings(), Path("/h"), None) == ""


@pytest.mark.integration
def test_embedded_mode_serves_in_the_children():
    state = make_state_dir()
    settings = StackSettings(port=procs.free_port(), processes=2, server="mod_wsgi", wsgi_mode="embedded",
                             server_cpus=cpus.partition().server_list).validate()
    live = stack.up(settings, state=state)
    try:
        pids = serving_pids(live, "/pooled/fortunes", rounds=10)
        assert pids <= set(live.apache.children())
        assert len(live.apache.processes()) == 1 + settings.processes  # no daemons
        status, headers, _ = get(live.url + "/pooled/auth")
        assert status == 401 and "WWW-Authenticate" in headers
    finally:
        stack.down(state)


@pytest.mark.integration
@pytest.mark.parametrize("args,message", [(["--server", "uwsgi"], "--server 'uwsgi'"),
                                          (["--server", "mod_wsgi", "--wsgi-mode", "thread"], "--wsgi-mode")])
def test_bad_server_options(args, message):
    r = bench_cli("up", "--port", str(procs.free_port()), *args, env={"BENCH_STATE_DIR": "/nonexistent-x"})
    assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.integration
@pytest.mark.lane("sweeps-1")
def test_tune_under_daemon_mode_recycles_the_daemons_by_requests(tmp_path):
    """`bench tune --server mod_wsgi`: the knob is WSGIDaemonProcess maximum-requests, which counts requests
    (the relaying children are not recycled), and the recommendation says so."""
    import json
    from pathlib import Path

    from conftest import bench_cli

    env = {"BENCH_STATE_DIR": str(make_state_dir()), "BENCH_RUNS_DIR": str(tmp_path)}
    # Lives of 30 requests in 7 s trials: on a busy machine a 4 s window once held no whole 50-request life.
    r = bench_cli("tune", "--server", "mod_wsgi", "--workload", "db", "--values", "0,30", "--keepalive", "on",
                  "--duration", "7", "--warmup", "1", "--trials", "1", "--processes", "2", "--users", "2",
                  "--no-report", "--port", str(procs.free_port()), "--confirm-max-duration", "6", env=env,
                  timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    run = next(Path(env["BENCH_RUNS_DIR"]).iterdir())
    data = json.loads((run / "tune.json").read_text())
    assert data["stack"]["server"] == "mod_wsgi" and data["complete"]
    points = {p["value"]: p for p in data["points"]}
    conf = (run / points[30]["trials"][0]["dir"] / "httpd.conf").read_text()
    assert "maximum-requests=30" in conf and "MaxConnectionsPerChild 0\n" in conf
    # Requests, not connections: with keep-alive one connection carries up to 101 requests, yet a daemon
    # lives 30 requests.
    assert points[30]["children_spawned_per_s"] > 0
    assert points[30]["requests_per_child"] == pytest.approx(30, abs=2)
    assert points[0]["children_spawned_per_s"] == 0
    assert "WSGIDaemonProcess maximum-requests, which counts requests" in r.stdout
    assert "recommended:" in r.stdout
