"""bench/tune/summaries.py: what `bench tune` prints when a sweep ends, read from the tune record's classes."""

from pathlib import Path

from bench.record.tune import TuneData, read_tune
from bench.tune import knob, summaries

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tune"


def test_recycling_table_from_a_fixture() -> None:
    record = read_tune(FIXTURES / "20261126-012712-tune")
    lines = summaries.recycling_table(record).splitlines()
    assert lines[0].split() == ["keepalive", "N", "req/s", "p99", "ms", "children/s", "req/child", "req/conn",
                                "RSS", "MB", "model"]
    assert lines[1].split()[:3] == ["on", "0", "3,781"]
    assert len(lines) > 1 + len(record.points) and "recommended:" in lines
    assert "    MaxConnectionsPerChild 2000" in lines


def test_the_confirmation_is_printed_with_its_rounds() -> None:
    text = summaries.recycling_table(read_tune(FIXTURES / "20261203-131446-tune"))
    assert "confirmation (keep-alive off, measured against N = 0, interleaved, 2 trials each):" in text
    assert "    round 1: N = 0, 5000" in text


def test_processes_table() -> None:
    sized = TuneData.from_json({
        "points": [{"keepalive": "on", "value": 2, "rps": 2001.0, "p99_ms": None, "requests_per_cpu_second": 900.0,
                    "pss_mb": 12.25, "trials": [{"users": 8, "bottleneck": "server"}]}],
        "sizing": {"value": 2}, "missing": [], "advice": None})
    assert summaries.processes_table(sized).splitlines()[1] == (
        "    2     8     2,001        -       900    12.2       24    server  <- recommended")
    on_slo = TuneData.from_json(sized.having(points=(sized.points[0].having(closed_rps=2500.0),)).to_json()
                                | {"plan": {"slo": "p99<50ms"}})
    lines = summaries.processes_table(on_slo).splitlines()
    assert lines[0].split()[2:6] == ["at", "SLO", "p99", "ms"] and "closed" in lines[0]
    assert lines[1] == "    2     8     2,001        -     2,500       900    12.2       24    server  <- recommended"
    assert lines[2].startswith("at SLO: the largest offered rate that met p99<50ms")


def test_threads_table_marks_the_recommended_shape() -> None:
    record = TuneData.from_json({
        "points": [{"keepalive": "on", "value": i, "processes": float(p), "threads": float(t), "rps": r,
                    "trials": [{"users": 2 * p * t, "bottleneck": "server"}]}
                   for i, (p, t, r) in enumerate(((1, 1, 300.0), (1, 4, 800.0)))],
        "sizing": {"value": [1, 4]}, "advice": {"directives": ["ThreadsPerChild 4"], "binding": "knee",
                                               "reasoning": "why"}})
    lines = summaries.threads_table(record).splitlines()
    assert lines[2].endswith("<- recommended") and not lines[1].endswith("<- recommended")
    assert "recommended (binding: knee):" in lines and "    ThreadsPerChild 4" in lines and lines[-1] == "why"


def test_a_knob_summarizes_tune_json_as_the_cli_reads_it() -> None:
    from bench.record.tune import load_tune

    data = load_tune(FIXTURES / "20261126-012712-tune")
    assert knob("max-connections-per-child").summary_text(data) == summaries.recycling_table(TuneData.from_json(data))
