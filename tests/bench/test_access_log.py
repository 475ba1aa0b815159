"""bench.load.access_log: the line parser and the steady-window summary."""

import pytest

from bench.load import access_log


def test_access_log_line_and_window():
    lines = ["1000.100000 11 0 200 500 34 GET /pooled/db 1 1",
             "1000.600000 11 1 200 300 34 GET /pooled/db - 2",
             "1001.200000 12 0 503 700 21 GET /naive/db 1 1",
             "garbage"]
    entries = [e for e in map(access_log.parse_line, lines) if e]
    assert len(entries) == 3 and entries[0].cold and not entries[1].cold and entries[1].served == 2
    w = access_log.window_summary(entries, 1000.5, 1001.5)
    assert w["requests"] == 2 and w["processes"] == 2 and w["status"] == {"200": 1, "503": 1}
    assert w["rps"] == pytest.approx(2.0)
    tl = access_log.timeline(entries, 1000.0, 0.5, 2.0)
    assert tl["requests"][:2] == [2, 1] and tl["per_pid"]["11"][0] == 2


def test_connections_are_told_apart_by_client_port_under_threads():
    from bench.tune.recycling import _requests_per_connection

    # One threaded process (pid 11) serving two keep-alive connections at once: port 40001 began before the
    # window (so it is not a whole connection in it), 40002 inside it with 2 requests, interleaved.
    rows = [(999.9, 0, 40001), (1000.1, 0, 40002), (1000.2, 1, 40001), (1000.3, 2, 40001), (1000.4, 1, 40002)]
    lines = [f"{t:.6f} 11 {k} 200 500 34 GET /pooled/db 0 1 {port}" for t, k, port in rows]
    entries = [e for e in map(access_log.parse_line, lines) if e]
    assert [e.conn for e in entries[:2]] == [40001, 40002]
    assert _requests_per_connection({11: entries}, 1000.0, 1003.0) == 2.0
    # Per process (a log from before the port field) the runs mix the two connections: 4, wrong here.
    old = [access_log.parse_line(" ".join(line.split()[:10])) for line in lines]
    assert old[0].conn is None and _requests_per_connection({11: old}, 1000.0, 1003.0) == 4.0


def test_one_connection_across_mod_wsgi_daemons_is_one_connection():
    from bench.tune.recycling import _requests_per_connection

    # Under mod_wsgi daemon mode the pid field is the daemon's: one keep-alive connection (port 40005) has its
    # 4 requests served by daemons 21 and 22 in turn.
    lines = [f"{1000.1 + i / 10:.6f} {21 + i % 2} {i} 200 500 34 GET /pooled/db - - 40005" for i in range(4)]
    entries = [e for e in map(access_log.parse_line, lines) if e]
    per_pid: dict[int, list] = {}
    for e in entries:
        per_pid.setdefault(e.pid, []).append(e)
    assert _requests_per_connection(per_pid, 1000.0, 1003.0) == 4.0
