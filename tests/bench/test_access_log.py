"""bench.access_log: the line parser and the steady-window summary."""

import pytest

from bench import access_log


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
