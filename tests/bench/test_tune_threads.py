"""bench/tune/threads.py: the grid's --values, the recommendation's constraints on synthetic points, the
directives per server, and the heat map of reports/tune/threads.py."""

import pytest

from bench.errors import UserError
from bench.record.tune_points import Point
from bench.stack.knobs import StackSettings
from bench.tune import knob
from bench.tune.threads import connections, directives, parse_grid, recommend


def test_grid_values():
    assert parse_grid("1,2x1,4") == [(1, 1), (1, 4), (2, 1), (2, 4)]
    for bad in ("1,2", "0x1", "1x65", "ax1"):
        with pytest.raises(UserError, match=f"--values '{bad}'"):
            parse_grid(bad)
    assert knob("threads").parse_values("4,1") == [1, 4]


def _pt(p, t, rps, p99=10.0, pss=20.0):
    return {"processes": float(p), "threads": float(t), "rps": rps, "p99_ms": p99, "pss_mb": pss}


def _points(rows):
    return [Point.from_json(p) for p in rows]


POINTS = [_pt(1, 1, 300), _pt(1, 4, 800), _pt(2, 1, 550), _pt(2, 4, 820, p99=150.0)]


def test_knee_prefers_fewer_slots():
    rec = recommend(_points(POINTS), variant="pooled", pool_size=1, max_connections=100)
    assert rec.value == (1, 4) and rec.binding == "knee"  # 820 is within 5% of 800 with 8 slots


def test_p99_and_connections_bind():
    faster = [*POINTS[:3], _pt(2, 4, 1200, p99=150.0)]
    rec = recommend(_points(faster), variant="pooled", pool_size=1, max_connections=100, max_p99_ms=100)
    assert rec.value == (1, 4) and rec.binding == "p99"
    rec = recommend(_points(faster), variant="pooled", pool_size=1, max_connections=10)  # 2 x 4 + 3 = 11 > 10
    assert rec.value == (1, 4) and rec.binding == "connections"
    assert connections(2, 4, "naive", 1) == 11 and connections(2, 4, "pooled", 6) == 15


def test_directives_per_server():
    worker = directives(StackSettings(), 2, 4)  # mod_python, prefork given: threads need worker
    assert "ThreadsPerChild 4" in worker and "MaxRequestWorkers 8" in worker and "ServerLimit 2" in worker
    wsgi = directives(StackSettings(server="mod_wsgi"), 2, 4)
    assert wsgi[0] == "WSGIDaemonProcess bench processes=2 threads=4" and "MaxRequestWorkers 8" in wsgi


def test_heatmap_marks_the_recommendation():
    from reports.tune.threads import heatmap_figure

    fig = heatmap_figure([p | {"processes": int(p["processes"]), "threads": int(p["threads"])} for p in POINTS],
                         (1, 4))
    ax = fig.axes[0]
    assert "recommended: 1 x 4" in ax.get_title()
    assert len(ax.patches) == 1 and len(ax.texts) == 4
