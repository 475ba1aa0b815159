"""The report of a `bench tune` run folder, built from a real sweep kept in tests/fixtures/tune/.

The fixture is a real `bench tune --workload leaky --values 0,20,200 --keepalive both --trials 1` run,
trimmed to tune.json plus each trial's trial.json and samples.jsonl (the access logs and Locust files are
dropped to keep it small). Every test builds into a temporary copy, so the fixture stays clean.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from reports_helpers import copy_folder, edit_json, load_module

from reports.build import build_report
from reports.cli import main
from reports.tune import figures as TF
from reports.tune.charts import FIGURES
from reports.tune.section import tune_sections

TESTS = Path(__file__).resolve().parent.parent
FIXTURE = next(p for p in sorted((TESTS / "fixtures" / "tune").iterdir()) if (p / "tune.json").is_file())
PAYLOAD = '<script>alert("This should not be displayed in a browser alert box.");</script>'
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# The run report's browser test holds the Chromium fixture and the page checks.
browser = load_module("reports_test_browser", TESTS / "reports" / "test_browser.py")
chromium = browser.chromium  # the headless Chromium fixture, used by test_tune_report_renders_in_chromium


def _copy(tmp_path: Path) -> Path:
    return copy_folder(FIXTURE, tmp_path)


def _edit(run: Path, fn) -> None:
    edit_json(run / "tune.json", fn)


def _build(run: Path) -> dict[str, Any]:
    out = build_report(run).parent
    return {"out": out, "html": (out / "report.html").read_text(), "md": (out / "report.md").read_text(),
            "summary": json.loads((out / "summary.json").read_text())}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Any]:
    run = _copy(tmp_path_factory.mktemp("tune"))
    return {"run": run, "tune": json.loads((run / "tune.json").read_text()), **_build(run)}


def _md_pct(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


# --- the fixture itself ----------------------------------------------------------------------------
def test_fixture_is_a_small_real_sweep() -> None:
    size = sum(f.stat().st_size for f in FIXTURE.rglob("*") if f.is_file())
    assert size < 1_000_000, f"the tune fixture is {size} bytes: keep it under 1 MB"
    tune = json.loads((FIXTURE / "tune.json").read_text())
    assert tune["schema"] == 1 and tune["kind"] == "tune" and tune["complete"] is True
    assert tune["plan"]["workload"] == "leaky" and {p["keepalive"] for p in tune["points"]} == {"on", "off"}
    assert not (FIXTURE / "report").exists() and not (FIXTURE / "results.json").exists()
    kept = {f.name for f in (FIXTURE / "trials").rglob("*") if f.is_file()}
    assert kept == {"samples.jsonl", "trial.json"}


# --- numbers ---------------------------------------------------------------------------------------
@pytest.mark.report
def test_outputs_exist(built: dict[str, Any]) -> None:
    out = built["out"]
    for name in FIGURES:
        assert (out / f"{name}.png").read_bytes()[:8] == PNG_MAGIC
        svg = (out / f"{name}.svg").read_text()
        assert "<svg" in svg and "</svg>" in svg
        assert built["summary"]["figures"][name] == {"png": f"{name}.png", "svg": f"{name}.svg"}
    assert built["html"].count('src="data:image/png;base64,') == len(FIGURES)
    assert built["html"].startswith("<!DOCTYPE html>") and "Content-Security-Policy" in built["html"]


@pytest.mark.report
def test_directives_and_reasoning(built: dict[str, Any]) -> None:
    tune, md, summ = built["tune"], built["md"], built["summary"]
    directives = tune["advice"]["directives"]
    assert directives and summ["directives"] == directives and summ["mode"] == tune["advice"]["mode"]
    # The lines to paste, together and in order, in a code block of the Markdown and a <pre> of the HTML.
    assert "```apache\n" + "\n".join(directives) + "\n```" in md
    assert '<pre class="directives">' + html.escape("\n".join(directives)) + "</pre>" in built["html"]
    assert tune["advice"]["reasoning"] in md and summ["reasoning"] == tune["advice"]["reasoning"]
    # The directives come first: before the first figure and the measured points.
    assert md.index(directives[0]) < md.index("## Throughput")


@pytest.mark.report
def test_recommendation_per_mode(built: dict[str, Any]) -> None:
    tune, md, summ = built["tune"], built["md"], built["summary"]
    for mode, c in tune["modes"].items():
        rec = c["recommendation"]
        assert summ["modes"][mode]["recommendation"] == rec
        assert summ["modes"][mode]["max_error"] == c["max_error"] and summ["modes"][mode]["model_ok"] == c["model_ok"]
        row = f"| {mode} | {rec['value']} | {rec['source']} | {rec['predicted_loss'] * 100:.2f}% (predicted)"
        assert row in md, row
        assert f"Keep-alive {mode}: MaxConnectionsPerChild {rec['value']}, from the {rec['source']}" in md
        # The model's worst error, as the report writes it, and what it means for the recommendation.
        assert f"Keep-alive {mode}: the model's largest error was {_md_pct(c['max_error'])}" in md
        assert c["model_ok"] is True and "within the 10% tolerance: the recommendation comes from the model" in md
    head = tune["modes"][tune["advice"]["mode"]]["recommendation"]
    assert f"**Recommended: MaxConnectionsPerChild {head['value']} with KeepAlive On" in md


@pytest.mark.report
def test_growth_and_demonstration(built: dict[str, Any]) -> None:
    tune, md, summ = built["tune"], built["md"], built["summary"]
    for mode, c in tune["modes"].items():
        g = c["model"]["growth_kb_per_request"]
        assert summ["modes"][mode]["model"]["growth_kb_per_request"] == g
        assert f"keep-alive {mode} {g:.2f} KB" in md
    assert "`leaky` workload, a demonstration that leaks memory on purpose" in md
    assert "No memory budget was set" in md


@pytest.mark.report
def test_points_and_measured_facts(built: dict[str, Any]) -> None:
    tune, md, summ = built["tune"], built["md"], built["summary"]
    assert len(summ["points"]) == len(tune["points"])
    by_key = {(p["keepalive"], p["value"]): p for p in summ["points"]}
    for p in tune["points"]:
        s = by_key[(p["keepalive"], p["value"])]
        for key in ("rps", "rps_ci95", "warmup_ms", "startup_ms", "children_spawned_per_s",
                    "requests_per_connection", "requests_per_child", "rss_mb_end_of_life", "growth_kb_per_request"):
            assert s[key] == p[key], (key, p["keepalive"], p["value"])
        if p["value"]:
            base = next(b for b in tune["points"] if b["keepalive"] == p["keepalive"] and b["value"] == 0)
            assert s["loss_vs_never"] == pytest.approx(1 - p["rps"] / base["rps"])
    assert "Requests per connection actually seen" in md and "Apache counts connections, not requests" in md
    assert "from fork to its first request (start-up)" in md and "(warm-up)" in md
    # Single-trial points: bench writes [x, x]; the report shows no interval and says why.
    assert "Every point has a single trial" in md
    # Points whose window saw no new child did not measure recycling; the report says which.
    quiet = [p for p in tune["points"] if p["value"] and p["children_spawned_per_s"] == 0]
    for p in quiet:
        assert f"At N = {p['value']} (keep-alive {p['keepalive']}) no new child started" in md


@pytest.mark.report
def test_setup_is_shown(built: dict[str, Any]) -> None:
    tune, md = built["tune"], built["md"]
    for value in (tune["environment"]["machine"]["cpu_model"], tune["environment"]["versions"]["apache"],
                  tune["environment"]["versions"]["mod_python"], tune["run_id"]):
        assert value in md
    assert "| max_keepalive_requests | 100 |" in md and "| workload | leaky |" in md


def test_figure_functions_take_plain_data() -> None:
    # Each figure is a function of literal values, and an empty input still gives a labelled figure.
    pts = [TF.NPoint("on", 0, 3800.0, 3700.0, 3900.0), TF.NPoint("on", 20, 1400.0), TF.NPoint("off", 200, 220.0)]
    curves = [TF.Curve("on", [5, 10, 20, 50], [500.0, 1000.0, 2000.0, 3300.0])]
    marks = [TF.Mark("on", 2000, 3780.0), TF.Mark("off", 20000, None)]
    figs = [
        TF.tune_throughput_figure(pts, curves, marks), TF.tune_throughput_figure([], [], []),
        TF.tune_memory_figure(pts, pts, curves, marks, 300.0, "budget: 300 MB per child"),
        TF.tune_memory_figure([], [], [], []),
        TF.tune_check_figure([TF.CheckPoint("on", 20, 1438.0, 1511.0, 0.0509)]), TF.tune_check_figure([]),
        TF.tune_child_memory_figure([TF.ChildPanel("N = 0", "on", [TF.ChildLife("1", [0, 0.5], [30.0, 31.0])],
                                                   (1.5, 6.0))]),
        TF.tune_child_memory_figure([]),
    ]
    for fig in figs:
        fig.canvas.draw()
        assert fig.get_axes()


# --- robustness ------------------------------------------------------------------------------------
@pytest.mark.report
def test_everything_from_tune_json_is_escaped(tmp_path: Path) -> None:
    run = _copy(tmp_path)

    def hostile(d: dict) -> None:
        d["points"][1]["flags"] = [PAYLOAD]
        d["points"][1]["trials"][0]["flags"] = [PAYLOAD]
        d["plan"]["variant"] = PAYLOAD
        d["environment"]["machine"]["cpu_model"] = PAYLOAD
        d["advice"]["reasoning"] += " " + PAYLOAD

    _edit(run, hostile)
    r = _build(run)
    for text in (r["html"], r["md"]):
        assert "<script" not in text.lower()
        assert "&lt;script&gt;" in text
    assert any(PAYLOAD in c for c in r["summary"]["caveats"])  # flags are called out, as data


@pytest.mark.report
def test_missing_raw_files_are_a_note(tmp_path: Path) -> None:
    run = _copy(tmp_path)
    first = sorted((run / "trials").iterdir())[0]
    (first / "samples.jsonl").unlink()
    r = _build(run)
    assert (r["out"] / "tune4-child-memory.png").is_file()  # drawn from the points that still have samples
    assert f"{first.relative_to(run)}/samples.jsonl is missing" in r["md"]
    for f in (run / "trials").rglob("samples.jsonl"):
        f.unlink()
    shutil.rmtree(sorted((run / "trials").iterdir())[-1])  # a whole trial folder gone
    r = _build(run)
    assert "skipped" in r["summary"]["figures"]["tune4-child-memory"]
    assert not (r["out"] / "tune4-child-memory.png").exists()  # no stale figure from the build before
    assert "Figure 4: each child's RSS over its life: skipped" in r["md"]
    for name in ("tune1-throughput", "tune2-memory", "tune3-model-check"):
        assert (r["out"] / f"{name}.png").is_file()


@pytest.mark.report
def test_torn_samples_line_is_tolerated(tmp_path: Path) -> None:
    run = _copy(tmp_path)
    first = sorted((run / "trials").iterdir())[0] / "samples.jsonl"
    first.write_text(first.read_text() + '{"t": 17956564')
    r = _build(run)
    assert "damaged line(s) skipped" in r["md"]


@pytest.mark.report
def test_interrupted_sweep_says_what_is_missing(tmp_path: Path) -> None:
    run = _copy(tmp_path)

    def interrupt(d: dict) -> None:
        gone = [p for p in d["points"] if p["keepalive"] == "off" and p["value"] == 200]
        d["points"] = [p for p in d["points"] if p not in gone]
        d["missing"] = [{"keepalive": "off", "value": 200, "trial": 1}]
        d["complete"] = False
        d["finished"] = None
        d["modes"] = {}
        d.pop("advice")

    _edit(run, interrupt)
    r = _build(run)
    assert "INCOMPLETE" in r["md"]
    assert "not measured (1): N = 200 keep-alive off trial 1" in r["md"]
    assert "No directives to recommend" in r["md"] and r["summary"]["directives"] == []
    assert r["summary"]["missing"] == [{"keepalive": "off", "value": 200, "trial": 1}]
    assert "skipped" in r["summary"]["figures"]["tune3-model-check"]


@pytest.mark.report
def test_model_off_falls_back_to_measured_points(tmp_path: Path) -> None:
    run = _copy(tmp_path)

    def off(d: dict) -> None:
        c = d["modes"]["off"]
        c["max_error"], c["model_ok"] = 0.2345, False
        c["recommendation"] = {"value": 200, "measured_loss": 0.0042, "rss_end_mb": 31.5, "within": True,
                               "source": "measured points"}
        d["points"][0]["generator_bound"] = True
        d["points"][2]["failures"] = 3

    _edit(run, off)
    r = _build(run)
    md = r["md"]
    assert "Keep-alive off: the model's largest error was 23.4%" in md
    assert "over the 10% tolerance: the recommendation fell back to the measured points" in md
    assert "| off | 200 | measured points | 0.42% (measured)" in md
    assert "Generator-bound" in md and "N = 0, keep-alive on" in md
    assert "N = 200, keep-alive on: 3 failed requests" in md


@pytest.mark.report
def test_memory_budget_is_drawn_and_stated(tmp_path: Path) -> None:
    run = _copy(tmp_path)
    _edit(run, lambda d: d["plan"].update(memory_budget_mb=2048.0, memory_budget_scope="total"))
    r = _build(run)
    assert "Memory budget: 2,048 MB RSS for all children together." in r["md"]
    assert "budget: 2,048 MB total / 2 processes" in r["md"]


@pytest.mark.parametrize("setup,expect", [
    ("damaged", "error: damaged "),
    ("newer", "error: unsupported tune schema 4 "),
    ("noschema", "error: unsupported tune schema missing "),
    ("shape", "error: damaged "),
    ("kind", "error: damaged "),
])
def test_bad_tune_json_is_one_line_error(tmp_path: Path, capsys, setup: str, expect: str) -> None:
    run = _copy(tmp_path)
    if setup == "damaged":
        (run / "tune.json").write_text('{"schema": 1, "points": [')
    elif setup == "newer":
        _edit(run, lambda d: d.update(schema=4))  # one past bench.record.tune.SCHEMA
    elif setup == "noschema":
        _edit(run, lambda d: d.pop("schema"))
    elif setup == "shape":
        _edit(run, lambda d: d.update(points="all of them"))
    elif setup == "kind":
        _edit(run, lambda d: d.update(kind="run"))
    assert main([str(run)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(expect) and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.integration
def test_python_dash_m_reports_on_damaged_tune_json(tmp_path: Path) -> None:
    run = _copy(tmp_path)
    (run / "tune.json").write_text("{")
    proc = subprocess.run([sys.executable, "-m", "reports", str(run)], capture_output=True, text=True, timeout=300,
                          cwd=TESTS.parent)
    assert proc.returncode == 1
    assert re.fullmatch(r"error: damaged \S+tune\.json: not valid JSON .*\n", proc.stderr), proc.stderr
    assert not (run / "report" / "report.html").exists()


@pytest.mark.integration
def test_python_dash_m_reports_builds_a_tune_folder(tmp_path: Path) -> None:
    run = _copy(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "reports", str(run)], capture_output=True, text=True, timeout=300,
                          cwd=TESTS.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(run / "report" / "report.html")


@pytest.mark.report
def test_tune_json_next_to_results_json_adds_a_section(tmp_path: Path) -> None:
    # A run report whose folder also holds a tune.json shows the recommendation in an extra section.
    src = TESTS / "fixtures" / "runs" / "20261126-010203"
    run = tmp_path / src.name
    shutil.copytree(src, run)
    shutil.copy(FIXTURE / "tune.json", run / "tune.json")
    sections = tune_sections(run)
    assert [s.id for s in sections] == ["tune"]
    md = (build_report(run).parent / "report.md").read_text()
    tune = json.loads((FIXTURE / "tune.json").read_text())
    assert "## MaxConnectionsPerChild (bench tune)" in md and "\n".join(tune["advice"]["directives"]) in md
    (run / "tune.json").write_text("{")  # unreadable: the run report still builds, without the section
    assert tune_sections(run) == []
    assert "bench tune" not in (build_report(run).parent / "report.md").read_text()


# --- in a browser ----------------------------------------------------------------------------------
@pytest.mark.integration
def test_tune_report_renders_in_chromium(chromium, built: dict[str, Any]) -> None:
    page = browser._check_page(chromium, built["out"] / "report.html", min_images=len(FIGURES))
    assert "MaxConnectionsPerChild tuning" in page["h1"] and built["tune"]["run_id"] in page["h1"]


CONFIRMED_FIXTURE = TESTS / "fixtures" / "tune" / "20261203-131446-tune"


@pytest.mark.report
@pytest.mark.parametrize("status", ["bounded", "not observable"])
def test_a_life_longer_than_the_cap_is_said_in_the_report(tmp_path: Path, status: str) -> None:
    run = copy_folder(CONFIRMED_FIXTURE, tmp_path)

    def unobservable(d: dict) -> None:
        c = d["confirmation"]
        r = dict(c["results"][0], value=200, bounds=c["model_value"], bounds_predicted=0.004, measured_loss=0.003)
        c.update(results=[r], measured_at=200, observable=False, needed_s=1500, bound_value=200,
                 status=status, value=c["model_value"] if status == "bounded" else None,
                 sentence=f"a sentence for {status}", measured_loss=0.003)

    edit_json(run / "tune.json", unobservable)
    md = _build(run)["md"]
    assert "a sentence for " + status in md
    if status == "bounded":
        assert "at most 0.30% loss (measured at N = 200" in md
    else:
        assert "unconfirmed: a child's life at this N outlasts the confirmation's trials" in md


@pytest.mark.report
def test_a_knob_without_a_page_of_its_own_gets_the_generic_one(tmp_path: Path) -> None:
    from reports.tune.page import REPORTS

    data = {"schema": 3, "kind": "tune", "run_id": "x", "complete": True,
            "plan": {"knob": "someday", "workload": "db", "variant": "pooled", "keepalive": ["on"]},
            "points": [{"keepalive": "on", "value": 5, "rps": 1234.5, "p99_ms": 3.5,
                        "trials": [{"trial": 1, "bottleneck": "server"}]}],
            "missing": [], "modes": {}, "advice": {"directives": ["Someday 5"], "reasoning": "it served most"}}
    (tmp_path / "tune.json").write_text(json.dumps(data))
    assert "someday" not in REPORTS
    md = (build_report(tmp_path).parent / "report.md").read_text()
    assert "someday tuning" in md and "Someday 5" in md and "| on | 5 | 1 | 1,234 | 3.50 | server |" in md
