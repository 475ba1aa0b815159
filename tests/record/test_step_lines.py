"""`bench run` prints the variant table's one-factor steps ("prepared vs pooled") after the speedups, with their
interval and cost ratio; results.json keeps only the speedups over the baseline (a report computes the steps)."""

from __future__ import annotations

import pytest

from bench.console import speedup_lines
from bench.record.results import speedups, step_speedups
from bench.record.run_rows import cells_of

RPS = {"naive": 500.0, "pooled": 5000.0, "prepared": 6000.0, "cache-only": 520.0, "bouncer": 900.0}


def _cell(variant: str, workload: str = "db") -> dict:  # a cell of results.json
    trials = [{"locust": {"rps": RPS[variant] + i}, "requests_per_cpu_second": 2 * (RPS[variant] + i)}
              for i in range(3)]
    return {"workload": workload, "variant": variant, "trials": trials, "summary": {}}


def test_prepared_vs_pooled_is_printed_with_its_interval():
    cells = [_cell("pooled"), _cell("prepared"), _cell("pooled", "queries"), _cell("prepared", "queries")]
    records = cells_of(cells)
    data = {"results": cells, "speedups": speedups(records),
            "cpu_speedups": speedups(records, "requests_per_cpu_second")}
    assert data["speedups"] == []  # no naive baseline ran
    lines = speedup_lines(data)
    assert [line.split(":")[0] for line in lines] == [
        "prepared vs pooled on db (the effect of prepared statements, the one factor they differ by)",
        "prepared vs pooled on queries (the effect of prepared statements, the one factor they differ by)"]
    assert all("95% CI" in line and "per server CPU-second 1.20x" in line for line in lines)


def test_steps_come_after_the_speedups_and_keep_their_own_cost_ratio():
    cells = [_cell("naive"), _cell("pooled"), _cell("prepared")]
    records = cells_of(cells)
    data = {"results": cells, "speedups": speedups(records),
            "cpu_speedups": speedups(records, "requests_per_cpu_second")}
    lines = speedup_lines(data)
    assert [line.split(":")[0] for line in lines] == [
        "pooled vs naive on db", "prepared vs naive on db",
        "prepared vs pooled on db (the effect of prepared statements, the one factor they differ by)"]
    assert "per server CPU-second 11.98x" in lines[1] and "per server CPU-second 1.20x" in lines[2]
    assert [(s.variant, s.baseline) for s in step_speedups(records)] == [("prepared", "pooled")]


@pytest.mark.integration
def test_a_cross_checked_step_prints_wrks_ratio_without_a_baseline():
    """--variants pooled,prepared --cross-check: no speedup over naive exists, yet the step shows wrk's ratio."""
    cells = [_cell("pooled"), _cell("prepared")]
    for cell in cells:
        for t in cell["trials"]:
            t["wrk"] = {"rps": 1.1 * t["locust"]["rps"]}
    records = cells_of(cells)
    data = {"results": cells, "speedups": speedups(records), "wrk_speedups": speedups(records, "wrk_rps")}
    assert data["wrk_speedups"] == []
    assert speedup_lines(data)[0].endswith("; wrk 1.20x")


def test_the_pooler_steps_say_what_they_measure():
    cells = [_cell("cache-only"), _cell("bouncer"), _cell("pooled")]
    lines = speedup_lines({"results": cells, "speedups": [], "cpu_speedups": []})
    heads = {line.split(":")[0] for line in lines}
    assert ("pooled vs bouncer on db (the effect of pooling in the process instead of an external pooler "
            "(PgBouncer))") in heads
    assert ("bouncer vs cache-only on db (the effect of an external pooler (PgBouncer), the one factor they differ "
            "by)") in heads
