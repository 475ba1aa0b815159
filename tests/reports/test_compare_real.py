"""compare on real trial values (tests/fixtures/compare/README.md says how they were made): an A/A pair of
one commit is never a regression (inconclusive under the default noise: exit 4), a real 2x slowdown of the
server fails the gate (exit 3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reports.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compare"


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in ("a", "a-again", "busy-server-cpu"):
        out[name] = tmp_path / name
        shutil.copytree(FIXTURES / name, out[name])
    return out


def _compare(runs: dict[str, Path], other: str, tmp_path: Path) -> tuple[int, dict]:
    out = tmp_path / f"cmp-{other}"
    code = main(["compare", str(runs["a"]), str(runs[other]), "--out", str(out)])
    data = json.loads((out / "compare.json").read_text())
    return code, {c["metric"]: c for c in data["changes"]}


def test_a_a_is_not_a_regression(runs, tmp_path, capsys) -> None:
    code, changes = _compare(runs, "a-again", tmp_path)
    assert code == 4
    assert {c["verdict"] for c in changes.values()} == {"inconclusive"}
    # geometric means (a-again has a 29 req/s trial): -26.6%, p = 0.32, an interval from -68% to +70%
    assert changes["rps"]["ratio"] == pytest.approx(0.734, abs=0.01) and changes["rps"]["p_value"] > 0.05
    lo, hi = changes["rps"]["ci95_pct"]
    assert lo < -10 and hi > 10 and changes["p99_ms"]["p_value"] > 0.05
    printed = capsys.readouterr().out
    assert "0 regressions, 0 improvements, 0 no change and 2 inconclusive among 2 comparisons" in printed
    assert "verdict: inconclusive (exit 4)" in printed


def test_a_real_2x_slowdown_is_a_regression(runs, tmp_path, capsys) -> None:
    code, changes = _compare(runs, "busy-server-cpu", tmp_path)
    assert code == 3
    rps = changes["rps"]
    assert rps["verdict"] == "regression" and 0.4 < rps["ratio"] < 0.6 and rps["p_value"] < 0.05
    assert changes["p99_ms"]["verdict"] == "regression"
    assert "db naive req/s: -57.7% (95% CI -72.7% to -34.3%), regression" in capsys.readouterr().out


def test_deterministic(runs, tmp_path) -> None:
    first = _compare(runs, "busy-server-cpu", tmp_path)[1]
    assert _compare(runs, "busy-server-cpu", tmp_path)[1] == first


def test_default_runs_of_one_commit_pass_and_a_busy_machine_is_named(tmp_path, capsys) -> None:
    a, b = tmp_path / "default-a", tmp_path / "default-b"
    shutil.copytree(FIXTURES / "default-a", a)
    shutil.copytree(FIXTURES / "default-b", b)
    out = tmp_path / "cmp"
    code = main(["compare", str(a), str(b), "--out", str(out)])
    data = json.loads((out / "compare.json").read_text())
    assert code == 4  # not a regression; the disturbed run's spread leaves every verdict undecided
    assert len(data["changes"]) == 8 and {c["verdict"] for c in data["changes"]} == {"inconclusive"}
    # The second run shares its server CPU with other processes: every cell of it is named, none of the first.
    assert len(data["busy"]) == 4 and all(line.startswith(b.name) or "20261126-082759" in line
                                          for line in data["busy"])
    printed = capsys.readouterr().out
    assert printed.count("warning: 20261126-082759") == 4 and "20261126-082155" not in printed.split("0 regr")[0]
