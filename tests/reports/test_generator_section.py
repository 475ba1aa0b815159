"""The run page's "Load generator" section (`reports/run/generator.py`), from trial rows with `workers`."""

from types import SimpleNamespace

from bench.record.run_rows import TrialRow
from reports.run.generator import generator_section, generator_sentences, generator_table


def _trial(seq, bottleneck="server", lost=False, master=1.5):
    workers = {"gen1_a": {"host": "gen1", "pid": 101, "requests": 3000, "cpu_pct": 92.0, "cpu_s": 9.2},
               "gen2_b": {"host": "gen2", "pid": 202, "requests": 1000, "cpu_pct": 40.0, "cpu_s": 4.0,
                          **({"lost": True} if lost else {})}}
    return TrialRow.of({"seq": seq, "trial": seq, "workload": "db", "variant": "pooled", "workers": workers,
                        "cpu": {"generator_pct": 92.0, "master_pct": master},
                        "bottleneck": {"bottleneck": bottleneck}})


def test_each_worker_gets_its_requests_and_cpu_share_and_the_master_its_cpu():
    table = generator_table([_trial(1)])
    assert table.rows[0][1:5] == ["worker gen1/pid 101", "3,000", "92%", "75%"]
    assert table.rows[1][1:5] == ["worker gen2/pid 202", "1,000", "40%", "25%"]
    assert table.rows[2][1] == "master (this machine)" and table.rows[2][3] == "2%"


def test_the_busiest_worker_is_named_when_the_generator_limited_the_trial_and_a_lost_one_is_said():
    lines = generator_sentences([_trial(1), _trial(2, bottleneck="generator", lost=True)])
    assert "2 Locust worker(s)" in lines[0]
    assert any("limited by the generator" in x and "gen1/pid 101 at 92%" in x for x in lines)
    assert any("#2 lost worker gen2/pid 202" in x for x in lines)
    assert not any("#1" in x and "limited" in x for x in lines)


def test_no_section_without_workers():
    plain = TrialRow.of({"seq": 1, "trial": 1, "workload": "db", "variant": "pooled"})
    assert plain.workers is None
    assert generator_section(SimpleNamespace(trials=lambda: [plain])) is None
    assert generator_section(SimpleNamespace(trials=lambda: [_trial(1)])).title == "Load generator"
