"""bench compare's calibration (--calibrate writes calibration.json, --noise-from reads it), --match between
differently named cells, and the terminal's lines, on synthetic runs (tests/fixtures/make_fixtures.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reports_helpers import fixtures

from bench.record.errors import UserError
from reports.cli import main
from reports.compare import calibration
from reports.compare.page import compare_runs
from reports.compare.pairing import parse_matches


def _run(tmp_path: Path, run_id: str, **kwargs) -> Path:
    return fixtures().make_run(tmp_path, run_id=run_id, trials=3, **kwargs)


def _rename(run: Path, old: str, new: str) -> None:
    data = json.loads((run / "results.json").read_text())
    for cell in data["results"]:
        if cell["variant"] == old:
            cell["variant"] = new
            for t in cell["trials"]:
                t["variant"] = new
    data["plan"]["variants"] = [new if v == old else v for v in data["plan"]["variants"]]
    (run / "results.json").write_text(json.dumps(data))


def test_calibration_round_trip(tmp_path: Path, capsys) -> None:
    a, a2, a3 = (_run(tmp_path, f"A{i}", scale={("db", "pooled"): s, ("db", "naive"): s,
                                                   ("fortunes", "naive"): s, ("fortunes", "pooled"): s})
                 for i, s in ((1, 1.0), (2, 1.02), (3, 0.98)))
    out = tmp_path / "cal"
    assert main(["compare", "--calibrate", str(a), str(a2), str(a3), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    path = out / calibration.FILE_NAME
    assert f"calibration: {path}  (use: bench compare --noise-from {path} A B)" in printed
    # Run levels 2% apart, of which the trials' own 1-3% spread explains most: the floor of 1% is used.
    assert "req/s: run-to-run noise 0.010 (floored at 0.01), measured 0.009" in printed
    assert "4 cell(s) x 3 runs, 8 degree(s) of freedom" in printed
    data = json.loads(path.read_text())
    assert data["kind"] == "compare-calibration" and data["runs"] == ["A1", "A2", "A3"]
    rps = data["metrics"]["rps"]
    assert rps["measured"] < rps["run_noise"] == 0.01 and rps["df"] == 8 and rps["upper90"] > 0.02
    # Read back: the comparison uses the measured figure per metric, and says where it came from.
    cal = calibration.load(path)
    assert cal.metrics["rps"].run_noise == pytest.approx(rps["run_noise"])
    b = _run(tmp_path, "B", scale={("db", "pooled"): 0.85})
    code = main(["compare", str(a), str(b), "--noise-from", str(path), "--out", str(tmp_path / "cmp")])
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    pooled = next(c for c in result["changes"] if c["variant"] == "pooled" and c["workload"] == "db"
                  and c["metric"] == "rps")
    assert pooled["verdict"] == "regression" and code == 3  # -15%: called with a 2% noise, not with 5.5%
    assert pooled["run_noise_used"] == pytest.approx(rps["run_noise"]) and "calibrated" in pooled["noise_source"]
    assert result["calibrated_noise"]["rps"]["df"] == 8 and f"calibrated: {path}" in printed
    assert compare_runs([a, b]).regressions == []  # the default noise cannot call the same -15%


def test_noise_from_refuses_what_it_cannot_use(tmp_path: Path, capsys) -> None:
    a, b = _run(tmp_path, "A"), _run(tmp_path, "B")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "run"}))
    for args, expect in (
        (["--noise-from", str(tmp_path / "nope.json")], "no such file"),
        (["--noise-from", str(bad)], "not a calibration file"),
        (["--noise-from", str(bad), "--run-noise", "0.02"], "together: give one"),
    ):
        assert main(["compare", str(a), str(b), *args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: --noise-from") and expect in err, err


def test_match_pairs_two_names_of_one_application(tmp_path: Path, capsys) -> None:
    v1 = _run(tmp_path, "V1")
    v2 = _run(tmp_path, "V2", scale={("db", "pooled"): 0.5})
    _rename(v2, "pooled", "pooled-v2")
    result = compare_runs([v1, v2], run_noise=0.005, matches=parse_matches(["pooled=pooled-v2"]))
    pooled = [c for c in result.changes if c.variant == "pooled" and c.workload == "db"]
    assert {c.verdict for c in pooled if c.metric == "rps"} == {"regression"}
    assert all(c.matched == "pooled-v2" for c in pooled) and "missing" not in {c.verdict for c in result.changes}
    # Without the mapping the two names are two cells, each only in one run.
    unmatched = compare_runs([v1, v2], run_noise=0.005)
    assert {c.verdict for c in unmatched.changes if "pooled" in c.variant} == {"missing"}
    # A side with its workload maps one workload only; the terminal names both names.
    assert main(["compare", str(v1), str(v2), "--match", "db/pooled=db/pooled-v2", "--run-noise", "0.005"]) == 3
    printed = capsys.readouterr().out
    assert "db pooled = pooled-v2 req/s: -50.0%" in printed and "fortunes pooled req/s: -, missing" in printed


def test_match_names_no_cell_is_an_error(tmp_path: Path) -> None:
    a, b = _run(tmp_path, "A"), _run(tmp_path, "B")
    with pytest.raises(UserError, match=r"--match pooled=nope: B has no cell nope \(its cells: db/naive"):
        compare_runs([a, b], matches=parse_matches(["pooled=nope"]))
    for bad in ("pooled", "=x", "a/=b"):
        with pytest.raises(UserError, match="is not A=B"):
            parse_matches([bad])


def test_no_common_cell_suggests_match(tmp_path: Path) -> None:
    a = _run(tmp_path, "A", workloads=("db",), variants=("pooled",))
    b = _run(tmp_path, "B", workloads=("db",), variants=("pooled",))
    _rename(b, "pooled", "v2")
    with pytest.raises(UserError, match="pair them with --match A=B"):
        compare_runs([a, b])
    assert compare_runs([a, b], matches=parse_matches(["pooled=v2"])).changes[0].matched == "v2"


def test_one_line_per_cell_and_metric_then_the_detectable_change_and_the_verdict(tmp_path: Path, capsys) -> None:
    a, b = _run(tmp_path, "A"), _run(tmp_path, "B")
    assert main(["compare", str(a), str(b), "--run-noise", "0.005"]) == 0
    lines = capsys.readouterr().out.splitlines()
    cells = [x for x in lines if x.startswith(("db ", "fortunes "))]
    assert len(cells) == 12  # 2 workloads x 2 variants x (req/s, p99, req/CPU-s)
    assert all(", no change: the whole 95% CI " in x and "lies within +-10%" in x for x in cells), cells
    assert cells[0].startswith("db naive req/s: +0.0% (95% CI -")
    detectable = [x for x in lines if x.startswith("detectable change, ")]
    assert [x.split(":")[0] for x in detectable] == [
        "detectable change, req/s (the least sensitive of 4)", "detectable change, p99 ms (the least sensitive of 4)",
        "detectable change, req/CPU-s (the least sensitive of 4)"]
    assert lines[-2] == "verdict: no regression (exit 0)" and lines[-1].endswith("compare.html")
    assert any(x.startswith("run-to-run noise: 0.005 (log units, 0.5% per run), --run-noise;") for x in lines)


def test_a_calibration_sets_the_noise_of_its_metrics_only() -> None:
    from bench.record.significance import RUN_NOISE, NoiseEstimate
    from reports.compare.analysis import Noise

    noise = Noise(calibrated={"rps": NoiseEstimate(0.02, 0.02, 0.05, 4, 2, 3)}, source="calibrated: f.json")
    assert noise.rule("rps", 10.0) == (0.02, 10.0, "calibrated: f.json")
    run_noise, minimum, source = noise.rule("p99_ms", 10.0)
    assert (run_noise, minimum) == (RUN_NOISE, 10.0) and source.endswith("(the calibration has no p99_ms)")
    # req/CPU-s between runs at one offered rate: its own rule unless calibrated.
    assert noise.rule("requests_per_cpu_second", 10.0, fixed_rate=True)[:2] == (0.02, 5.0)


def test_a_calibration_from_another_machine_is_named(tmp_path: Path, capsys) -> None:
    a, a2 = _run(tmp_path, "A"), _run(tmp_path, "A2", scale={("db", "pooled"): 1.05})
    path = calibration.write(calibration.calibrate([a, a2]), tmp_path / "cal")
    data = json.loads(path.read_text())
    assert data["metrics"]["rps"]["runs"] == 2 and data["metrics"]["rps"]["df"] == 4
    data["machine"]["cores"] = 64
    path.write_text(json.dumps(data))
    assert main(["compare", str(a), str(a2), "--noise-from", str(path)]) in (0, 4)
    printed = capsys.readouterr().out
    assert "warning: the calibration was measured on another machine (64 cores" in printed
    with pytest.raises(UserError, match="nothing to calibrate"):
        calibration.calibrate([_run(tmp_path / "d", "D", workloads=("db",)),
                               _run(tmp_path / "f", "F", workloads=("fortunes",))])
