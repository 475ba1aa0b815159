"""compare_runs / `python -m reports compare` on synthetic runs: verdicts from change_test, thresholds,
refusals, exit codes (0, 3, 4, 1), the terminal's lines. The same on real trial values: test_compare_real.py;
the verdict rule itself: tests/record/test_significance.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from reports_helpers import fixtures

from bench.record.errors import UserError
from reports.cli import main
from reports.compare.analysis import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION
from reports.compare.page import compare_runs

TESTS = Path(__file__).resolve().parent.parent


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """Three trials per cell (the fewest change_test judges), trials 1-3% apart."""
    return _run(tmp_path, "20261126-010203")


def _run(tmp_path: Path, run_id: str, trials: int = 3, **kwargs) -> Path:
    return fixtures().make_run(tmp_path, run_id=run_id, trials=trials, **kwargs)


def _edit(run: Path, fn) -> None:
    data = json.loads((run / "results.json").read_text())
    fn(data)
    (run / "results.json").write_text(json.dumps(data))


def _verdicts(result) -> dict[tuple[str, str, str], str]:
    return {(c.workload, c.variant, c.metric): c.verdict for c in result.changes}


def test_same_numbers_are_inconclusive_under_the_default_noise(base: Path, tmp_path: Path, capsys) -> None:
    # Runs of one commit drift by 5.5% each (the default noise): the interval of any change is at least +-15%,
    # so "no change" within 10% cannot be shown; it is inconclusive (exit 4), never a pass by default.
    other = _run(tmp_path, "20261127-000000")
    result = compare_runs([base, other])
    assert result.exit_code == EXIT_INCONCLUSIVE == 4 and not result.regressions and not result.improvements
    assert set(_verdicts(result).values()) == {"inconclusive"}
    assert result.out_dir == other / "compare"
    assert [p.name for p in result.files] == ["compare.html", "compare.md", "compare.json"]
    assert main(["compare", str(base), str(other)]) == 4
    printed = capsys.readouterr().out
    assert "no number of trials can bring that under 10% with run-to-run noise 0.055" in printed
    assert "verdict: inconclusive (exit 4)" in printed and "duet run" in printed


def test_same_numbers_with_a_small_noise_are_no_change_and_exit_0(base: Path, tmp_path: Path) -> None:
    other = _run(tmp_path, "20261127-000000")
    result = compare_runs([base, other], run_noise=0.005)
    assert set(_verdicts(result).values()) == {"no change"} and result.exit_code == EXIT_OK
    data = json.loads(result.files[2].read_text())
    assert data["verdict"] == "no regression" and data["exit_code"] == 0
    assert data["no_change"] == len(data["changes"]) + len(data["cpu_changes"]) == 12


def test_slower_run_is_a_regression_and_exits_3(base: Path, tmp_path: Path, capsys) -> None:
    slow = _run(tmp_path, "20261127-000000", scale={("db", "pooled"): 0.5})
    out = tmp_path / "cmp"
    code = main(["compare", str(base), str(slow), "--out", str(out)])
    assert code == EXIT_REGRESSION == 3
    printed = capsys.readouterr().out
    # One line per cell and metric: the change, its 95% interval, the verdict and why.
    line = next(x for x in printed.splitlines() if x.startswith("db pooled req/s: "))
    assert re.fullmatch(r"db pooled req/s: -50\.0% \(95% CI -\d+\.\d% to -\d+\.\d%\), regression: -50\.0% is "
                        r"significant \(p = 0\.0\d\d\) and beyond \+-10%", line), line
    assert "1 regression, 0 improvements, 0 no change and 7 inconclusive among 8 comparisons" in printed
    assert "verdict: regression (exit 3)" in printed
    assert printed.count("detectable change, ") == 3  # req/s, p99 and req/CPU-s
    data = json.loads((out / "compare.json").read_text())
    assert data["regressions"] == 1 and data["min_change_pct"] == 10 and data["run_noise"] == 0.055
    assert data["verdict"] == "regression" and data["exit_code"] == 3
    change = next(c for c in data["changes"] if c["variant"] == "pooled" and c["workload"] == "db"
                  and c["metric"] == "rps")
    assert change["verdict"] == "regression" and change["ratio"] == pytest.approx(0.5)
    assert change["p_value"] < 0.05 and change["trials"] == [3, 3] and change["why"].startswith("-50.0%")
    lo, hi = change["ci95_pct"]
    assert lo < -50 < hi < -10 and change["detectable"]["reachable"] is False
    assert change["detectable"]["trials"] == [3, 3] and change["noise_source"].startswith("the default")
    md = (out / "compare.md").read_text()
    assert "| db | pooled | 20261127-000000 | 5,252 | 2,626 | 3/3 | 0.500 | -50.0% |" in md
    assert (out / "change.png").exists() and (out / "change.svg").exists()


def test_faster_run_is_an_improvement(base: Path, tmp_path: Path) -> None:
    fast = _run(tmp_path, "20261127-000000", scale={("fortunes", "naive"): 1.6})
    result = compare_runs([base, fast])
    assert result.exit_code == EXIT_INCONCLUSIVE  # the other cells cannot be told apart from no change
    assert _verdicts(result)[("fortunes", "naive", "rps")] == "improvement"
    assert compare_runs([base, fast], run_noise=0.005).exit_code == EXIT_OK


def test_a_small_change_is_within_run_noise(base: Path, tmp_path: Path) -> None:
    # -12% with trials 1-3% apart: a test on the trials alone calls it (run_noise 0, --min-change 5), but
    # runs of one commit differ by that much, so with the default run noise it is not called.
    slower = _run(tmp_path, "20261127-000000", scale={("db", "naive"): 0.88})
    quiet = compare_runs([base, slower], min_change=5, run_noise=0.0)
    assert _verdicts(quiet)[("db", "naive", "rps")] == "regression"
    # With a 15% threshold the interval still reaches past -15%; with 20% it lies inside: no change.
    assert _verdicts(compare_runs([base, slower], run_noise=0.0, min_change=15))[("db", "naive", "rps")] == \
        "inconclusive"
    assert _verdicts(compare_runs([base, slower], run_noise=0.0, min_change=20))[("db", "naive", "rps")] == "no change"
    noisy = compare_runs([base, slower])
    change = next(c for c in noisy.changes if (c.workload, c.variant, c.metric) == ("db", "naive", "rps"))
    assert change.verdict == "inconclusive" and "is not significant" in change.why and noisy.exit_code == 4


def test_p99_rise_is_a_regression(base: Path, tmp_path: Path) -> None:
    other = _run(tmp_path, "20261127-000000")
    _edit(other, lambda d: [t["locust"].update(p99_ms=t["locust"]["p99_ms"] * 2)
                            for r in d["results"] if r["variant"] == "naive" for t in r["trials"]])
    v = _verdicts(compare_runs([base, other]))
    assert v[("db", "naive", "p99_ms")] == "regression" and v[("db", "naive", "rps")] == "inconclusive"


@pytest.mark.parametrize("trials", [1, 2])
def test_fewer_than_3_trials_are_never_a_verdict(tmp_path: Path, capsys, trials: int) -> None:
    a = _run(tmp_path / "a", "A", trials=trials)
    b = _run(tmp_path / "b", "B", trials=trials, scale={("db", "pooled"): 0.5})
    assert main(["compare", str(a), str(b)]) == EXIT_INCONCLUSIVE
    printed = capsys.readouterr().out
    assert f"db pooled req/s: -50.0%, inconclusive: {trials} trials on a side (need 3 per side)" in printed
    result = compare_runs([a, b])
    assert set(_verdicts(result).values()) == {"inconclusive"} and not result.regressions


def test_no_common_cell_is_an_error(base: Path, tmp_path: Path, capsys) -> None:
    empty = _run(tmp_path, "B", stop_after=0)
    assert main(["compare", str(base), str(empty)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no comparable cell: no workload x variant has trials in both")
    assert "B (no trials)" in err and "\n" not in err.strip()
    other = _run(tmp_path / "o", "C", workloads=("fortunes",))
    only_db = _run(tmp_path / "d", "D", workloads=("db",))
    with pytest.raises(UserError, match="no comparable cell"):
        compare_runs([only_db, other])


def test_refuses_different_settings_and_names_them(base: Path, tmp_path: Path, capsys) -> None:
    other = _run(tmp_path, "20261127-000000")

    def change(d: dict) -> None:
        d["stack"]["processes"] = 8
        d["environment"]["machine"]["cores"] = 4
        d["plan"]["connection_close"] = True

    _edit(other, change)
    with pytest.raises(UserError) as excinfo:
        compare_runs([base, other])
    msg = str(excinfo.value)
    assert "stack processes: 4 in 20261126-010203 vs 8 in 20261127-000000" in msg
    assert "machine cores" in msg and "plan connection_close" in msg and "--force" in msg
    assert "keepalive" not in msg and "\n" not in msg
    assert main(["compare", str(base), str(other)]) == 1
    assert capsys.readouterr().err.startswith("error: runs are not comparable")
    forced = compare_runs([base, other], force=True)
    assert forced.forced and len(forced.differences) == 3
    assert "stack processes" in (forced.out_dir / "compare.html").read_text()


def test_memory_within_tolerance_is_the_same_machine(base: Path, tmp_path: Path) -> None:
    other = _run(tmp_path, "20261127-000000")
    _edit(other, lambda d: d["environment"]["machine"].update(memory_gb=23.5))
    assert compare_runs([base, other]).differences == []


def test_three_runs_compare_with_the_first(base: Path, tmp_path: Path) -> None:
    b = _run(tmp_path, "B")
    c = _run(tmp_path, "C", scale={("db", "naive"): 0.5})
    result = compare_runs([base, b, c], out=tmp_path / "out")
    runs = {ch.run_id for ch in result.changes}
    assert runs == {"B", "C"} and [r.run_id for r in result.regressions] == ["C"]
    assert result.out_dir == tmp_path / "out"


def test_comparison_is_deterministic(base: Path, tmp_path: Path) -> None:
    other = _run(tmp_path, "20261127-000000", scale={("db", "pooled"): 0.8})
    first = (compare_runs([base, other]).files[2]).read_text()
    second = (compare_runs([base, other]).files[2]).read_text()
    assert first == second


@pytest.mark.parametrize("args,expect", [
    (["compare"], "error: the following arguments are required"),
    (["compare", "only-one"], "error: compare needs at least two run folders"),
    (["compare", "x", "y", "--min-change", "-1"], "error: --min-change -1 is not allowed"),
    (["compare", "x", "y", "--min-change", "nan"], "error: --min-change nan is not allowed"),
    (["compare", "x", "y", "--run-noise", "inf"], "error: --run-noise inf is not allowed"),
    (["compare", "x", "y", "--run-noise", "-0.1"], "error: --run-noise -0.1 is not allowed"),
    (["compare", "x", "y", "--min-change", "abc"], "error: argument --min-change"),
    (["compare", "nope-a", "nope-b"], "error: no such run folder"),
])
def test_compare_user_errors(args, expect, capsys) -> None:
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(expect) and "Traceback" not in err
