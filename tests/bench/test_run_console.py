"""What `bench run` and `bench sessions` print (bench/console.py) and how run folders are named (bench/paths.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import console, paths
from bench.record.results import load_results

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_fmt_is_the_one_rule_for_missing_and_digits() -> None:
    assert console.fmt(None) == "-" and console.fmt(None, ".2f") == "-" and console.pct(None) == "-"
    assert console.fmt(12345.6) == "12,346" and console.fmt(0.5, ".2f") == "0.50"
    assert console.pct(0.424) == "42%" and console.fmt(0.755, ".0%") == "76%"
    assert console.fmt(0.25, "+.3f") == "+0.250"


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in (FIXTURES / "runs").glob("*/results.json")))
def test_run_table_and_lines_of_every_fixture(folder: str) -> None:
    data = load_results(FIXTURES / "runs" / folder)
    table = console.run_table(data["results"]).splitlines()
    assert table[0].startswith("workload  variant") and set(table[1]) == {"-"}
    assert len({len(line) for line in table[:2]}) == 1
    for line in console.speedup_lines(data):
        assert re.search(r" vs \S+ on \S+", line) or line.startswith("generator ceiling")
    for trial in (t for cell in data["results"] for t in cell["trials"]):
        assert re.match(r"    ([\d,]+|-) req/s \(server ([\d,]+|-)\), p99 ", console.trial_line(trial))
        assert "pg conns" not in console.trial_line(trial)  # older folders measured none: nothing said
    assert console.connections_table(data["results"]) == "" and "connections" not in "\n".join(table)


def test_new_run_folder_names_by_time_and_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setattr(paths.time, "strftime", lambda _: "20261126-083000")
    first, second, plain = (paths.new_run_folder("sessions"), paths.new_run_folder("sessions"),
                            paths.new_run_folder())
    assert [p.name for p in (first, second, plain)] == [
        "20261126-083000-sessions", "20261126-083000-sessions-2", "20261126-083000"]
    assert all(p.is_dir() and not any(p.iterdir()) for p in (first, second, plain))
