"""Figure 10 (latency against offered rate): the drawing from plain data, the knee, the skip note of a
closed-loop run, and the rows read from a run folder's results.json."""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.figure import Figure
from reports_helpers import fixtures

from bench.record.run_folder import Run
from bench.record.run_rows import OfferedRateRow
from reports.run import open_model


def test_knee_is_the_largest_rate_met_before_the_first_miss() -> None:
    pts = [open_model.RatePoint("db", "pooled", r, 1.0, p99, met)
           for r, p99, met in ((100, 2.0, True), (200, 5.0, True), (400, 80.0, False), (300, 9.0, True))]
    assert open_model.knee(pts).rate == 300
    assert open_model.knee([open_model.RatePoint("db", "naive", 50, 1.0, 900.0, False)]) is None


def test_hockey_stick_draws_each_variant_and_the_slo_line() -> None:
    pts = [open_model.RatePoint("db", v, r, r / 100, r / 10, r < 400) for v in ("naive", "pooled") for r in (100, 400)]
    fig = open_model.hockey_stick_figure(pts, slo_ms=50.0)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert any(line.get_label() == "SLO p99 50 ms" for line in ax.get_lines())
    assert {line.get_label() for line in ax.get_lines()} >= {"naive p99", "pooled p50"}


def test_closed_loop_run_skips_with_a_note_and_rows_come_from_the_record(tmp_path: Path) -> None:
    run_dir = fixtures().make_run(tmp_path, run_id="20261203-000001", trials=1)
    block = open_model.chart_offered_rate(Run.open(run_dir), None, tmp_path)
    assert block.skipped and "closed-loop" in block.skipped
    data = json.loads((run_dir / "results.json").read_text())
    data["offered_rate"] = [{"workload": "db", "variant": "pooled", "rate": 300, "p50_ms": 2.0, "p99_ms": 9.0,
                             "met": True}, {"workload": "db", "variant": "pooled", "rate": "bad"}]
    (run_dir / "results.json").write_text(json.dumps(data))
    rows = OfferedRateRow.rows(Run.open(run_dir).data)
    assert [(r.rate, r.p99_ms, r.met, r.dropped) for r in rows] == [(300.0, 9.0, True, None)]
    block = open_model.chart_offered_rate(Run.open(run_dir), None, tmp_path)
    assert not block.skipped and "met up to 300 req/s" in block.caption
