"""build_report / `python -m reports RUN`: outputs, numbers equal to results.json, caveats, escaping.

The number checks run over every run folder in tests/fixtures/runs/, so real run folders dropped in
there later are checked the same way as the synthetic ones.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from reports_helpers import copy_folder, edit_json, fixtures

from reports.build import build_report
from reports.cli import main
from reports.run.charts import FIGURES
from reports.tune.section import tune_sections

TESTS = Path(__file__).resolve().parent.parent
FIXTURE_RUNS = sorted(p for p in (TESTS / "fixtures" / "runs").iterdir() if (p / "results.json").is_file())
PAYLOAD = '<script>alert("This should not be displayed in a browser alert box.");</script>'
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def all_built(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Every fixture run, copied to a temporary folder (fixtures stay clean) and built once."""
    out = {}
    for src in FIXTURE_RUNS:
        run = tmp_path_factory.mktemp("built") / src.name
        shutil.copytree(src, run)
        html_path = build_report(run)
        report = html_path.parent
        out[src.name] = {
            "run": run,
            "results": json.loads((run / "results.json").read_text()),
            "html": html_path.read_text(),
            "md": (report / "report.md").read_text(),
            "summary": json.loads((report / "summary.json").read_text()),
            "out": report,
        }
    return out


@pytest.fixture(params=[p.name for p in FIXTURE_RUNS])
def built(request, all_built) -> dict[str, Any]:
    return all_built[request.param]


def _copy(tmp_path: Path, run_id: str | None = None) -> Path:
    return copy_folder(TESTS / "fixtures" / "runs" / (run_id or fixtures().EMBEDDED_ID), tmp_path)


def _edit(run: Path, fn) -> None:
    edit_json(run / "results.json", fn)


def _build(run: Path) -> tuple[str, str, dict]:
    out = build_report(run).parent
    return (out / "report.html").read_text(), (out / "report.md").read_text(), \
        json.loads((out / "summary.json").read_text())


# --- reading numbers back out of the Markdown ---------------------------------------------------
def md_tables(md: str) -> list[tuple[list[str], list[list[str]]]]:
    tables, lines = [], md.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("| ") and i + 1 < len(lines) and re.match(r"^\| (-{3}:?|:?-{3})", lines[i + 1]):
            headers = [c.strip() for c in lines[i].strip("|").split(" | ")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("| "):
                rows.append([html.unescape(c.strip()) for c in lines[i].strip().strip("|").split(" | ")])
                i += 1
            tables.append((headers, rows))
        else:
            i += 1
    return tables


def table(md: str, *first_headers: str, key: int = 2) -> dict[Any, dict[str, str]]:
    """The Markdown table whose headers start with `first_headers`, rows keyed by their first `key` cells."""
    for headers, rows in md_tables(md):
        if headers[: len(first_headers)] == list(first_headers):
            return {(tuple(r[:key]) if key > 1 else r[0]): dict(zip(headers, r, strict=True)) for r in rows}
    raise AssertionError(f"no table starting with {first_headers}")


def shows(text: str, value: float | None) -> bool:
    """True when `text` is `value` as displayed: equal up to the digits shown."""
    if value is None:
        return text == "–"
    t = text.replace(",", "").removesuffix("x").removesuffix("%")
    decimals = len(t.split(".")[1]) if "." in t else 0
    return math.isclose(float(t), value, abs_tol=0.5 * 10 ** -decimals + 1e-9)


def ci_parts(text: str) -> list[str]:
    return [p.removesuffix("x") for p in text.split("–")]


# --- outputs -------------------------------------------------------------------------------------
@pytest.mark.report
@pytest.mark.slow(80)
def test_outputs_exist(built) -> None:
    out = built["out"]
    for name in ("report.html", "report.md", "summary.json"):
        assert (out / name).stat().st_size > 0
    for name, entry in built["summary"]["figures"].items():
        assert name in FIGURES
        if "skipped" in entry:
            assert entry["skipped"] and not (out / f"{name}.png").exists()
            continue
        assert (out / entry["png"]).read_bytes()[:8] == PNG_MAGIC
        svg = (out / entry["svg"]).read_text()
        assert svg.startswith("<?xml") and "<svg" in svg


@pytest.mark.report
def test_html_is_self_contained(built) -> None:
    page = built["html"]
    assert "<script" not in page.lower()
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs, "expected images and section links"
    for ref in refs:
        assert ref.startswith(("#", "data:image/png;base64,")), ref
    for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page):
        assert base64.b64decode(data)[:8] == PNG_MAGIC
    drawn = [n for n, e in built["summary"]["figures"].items() if "png" in e]
    assert page.count("<img ") == len(drawn)
    assert "Content-Security-Policy" in page


def cell_key(entry: dict) -> tuple:
    """(workload, variant), and in a --servers run (cells with "server") the server too."""
    return (entry["workload"], entry["variant"], *([entry["server"]] if entry.get("server") else []))


def key_headers(res: dict) -> tuple[str, ...]:
    """The key columns of the run report's cell tables: a --servers run adds "server"."""
    return ("workload", "variant", *(["server"] if any(e.get("server") for e in res["results"]) else []))


@pytest.mark.report
def test_summary_json_equals_results_json(built) -> None:
    res, summ = built["results"], built["summary"]
    cells = {cell_key(c): c for c in summ["cells"]}
    assert len(cells) == len(res["results"])
    for entry in res["results"]:
        mine = cells[cell_key(entry)]
        for key, value in entry["summary"].items():
            if key in mine:
                assert mine[key] == value, (entry["workload"], entry["variant"], key)
    # bench also writes "cpu_speedups" (metric requests_per_cpu_second) beside the format's "speedups".
    speedups = {(*cell_key(s), s["baseline"], s.get("metric", "rps")): s
                for s in res.get("speedups", []) + res.get("cpu_speedups", [])}
    for s in summ["speedups"]:
        if s["from"] == "results.json":
            src = speedups[(*cell_key(s), s["baseline"], s["metric"])]
            assert s["ratio"] == src["ratio"] and s["ci95"] == src["ci95"]
    assert {k for k in speedups if k[-1] == "rps"} <= {
        (*cell_key(s), s["baseline"], s["metric"]) for s in summ["speedups"]}
    for h in summ["headline"]:
        src = speedups[(*cell_key(h), h["baseline"], "rps")]
        assert h["ratio"] == src["ratio"] and h["ci95"] == src["ci95"]
    assert summ["run_id"] == res["run_id"] and summ["complete"] == res["complete"]


@pytest.mark.report
def test_markdown_tables_show_results_json_numbers(built) -> None:
    res, md = built["results"], built["md"]
    heads = key_headers(res)
    thr = table(md, *heads, "trials", "req/s", key=len(heads))
    lat = table(md, *heads, "p50 ms", key=len(heads))
    for entry in res["results"]:
        s = entry["summary"]
        key = cell_key(entry)
        row = thr[key]
        assert shows(row["req/s"], s["rps"]), (key, row["req/s"], s["rps"])
        lo, hi = ci_parts(row["95% CI"])
        assert shows(lo, s["rps_ci95"][0]) and shows(hi, s["rps_ci95"][1])
        assert shows(row["trials"], s["trials"])
        assert shows(row["failures"], s["failures"])
        # Newer folders name the bottleneck; older ones only say generator-bound (-> "generator").
        assert row["limited by"] == (s.get("bottleneck") or ("generator" if s["generator_bound"] else "–"))
        assert shows(row["server CPU"], None if s.get("server_util") is None else 100 * s["server_util"])
        for col, k in (("p50 ms", "p50_ms"), ("p90 ms", "p90_ms"), ("p99 ms", "p99_ms"), ("max ms", "max_ms")):
            assert shows(lat[key][col], s[k]), (key, col)
    if res.get("speedups"):
        sp = table(md, *heads, "baseline", "speedup", key=len(heads))
        for s in res["speedups"]:
            if s.get("metric", "rps") != "rps":
                continue
            row = sp[cell_key(s)]
            assert shows(row["speedup"], s["ratio"])
            if s["ci95"] is None:  # a single trial on either side: no interval
                assert row["95% CI"] == "–"
                continue
            lo, hi = ci_parts(row["95% CI"])
            assert shows(lo, s["ci95"][0]) and shows(hi, s["ci95"][1])


@pytest.mark.report
def test_markdown_cost_and_capacity_match(built) -> None:
    res, md = built["results"], built["md"]
    has_cost = any(e["summary"].get(k) is not None for e in res["results"]
                   for k in ("requests_per_cpu_second", "db_sessions_per_1000_requests"))
    if not has_cost:  # a --url run: no server-side cost, so no table of dashes
        assert "req per server CPU-s" not in md
    heads = key_headers(res)
    cost = table(md, *heads, "req per server CPU-s", key=len(heads)) if has_cost else {}
    cap_rows = {k: v for k, v in table(md, *heads, "req/s per process", key=len(heads)).items()}
    for entry in res["results"]:
        s, key = entry["summary"], cell_key(entry)
        if has_cost:
            assert shows(cost[key]["req per server CPU-s"], s["requests_per_cpu_second"])
            assert shows(cost[key]["PG sessions/1000 req"], s["db_sessions_per_1000_requests"])
            if s["requests_per_cpu_second"]:
                assert shows(cost[key]["CPU ms/request"], 1000 / s["requests_per_cpu_second"])
        if s.get("rps_per_process"):
            row = cap_rows[key]
            assert shows(row["req/s per process"], s["rps_per_process"])
            assert int(row["processes for 1000"]) == math.ceil(1000 / s["rps_per_process"])
            # PSS of the processes that served (newer folders), else of every Apache process.
            pss = s.get("pss_mb_serving") if s.get("pss_mb_serving") is not None else s.get("pss_mb_per_process")
            if pss is not None:
                expect = math.ceil(1000 / s["rps_per_process"]) * pss
                assert shows(row["MB (PSS)"], expect)
                assert shows(row["PSS MB"], pss) and shows(row["RSS MB"], s["rss_mb_per_process"])


@pytest.mark.report
def test_headline_sentence_matches_speedups(built) -> None:
    res, md, page = built["results"], built["md"], built["html"]
    pattern = re.compile(r"([\w-]+) served ([\d.,]+)x the requests/s of (\S+) on (\S+) "
                         r"\(95% CI ([\d.,]+)–([\d.,]+)[,)]")
    found = {(m[4], m[1]): m for m in pattern.finditer(md)}
    pooled = [s for s in res["speedups"] if s["variant"] == "pooled" and s["baseline"] == "naive"
              and s.get("metric", "rps") == "rps"]
    assert pooled
    for s in pooled:
        if s.get("text"):  # newer folders: the honest wording bench wrote, as it is (tests/reports/test_limits.py)
            where = s["workload"] + (f" under {s['server']}" if s.get("server") else "")
            assert f"Requests/s, pooled over naive on {where}: {s['text']} (" in html.unescape(md)
            continue
        m = found[(s["workload"], "pooled")]
        assert shows(m[2], s["ratio"]) and shows(m[5], s["ci95"][0]) and shows(m[6], s["ci95"][1])
        assert html.escape(m[0]) in page


@pytest.mark.report
def test_setup_section_shows_machine_versions_and_httpd_conf(built) -> None:
    res, page = built["results"], built["html"]
    for value in res["environment"]["machine"].values():
        assert html.escape(str(value)) in page
    for value in res["environment"]["versions"].values():
        assert html.escape(str(value)) in page
    conf = built["run"] / "httpd.conf"
    if conf.exists():
        assert "<details><summary>httpd.conf" in page
        assert html.escape(conf.read_text().splitlines()[-3]) in page


# --- the --url run -------------------------------------------------------------------------------
@pytest.mark.report
def test_url_run_skips_server_figures_with_a_note(all_built) -> None:
    b = all_built[fixtures().URL_ID]
    page, md, summ = b["html"], b["md"], b["summary"]
    figs = summ["figures"]
    assert "png" in figs["fig1-rps"] and "png" in figs["fig2-speedup"] and "png" in figs["fig3-latency"]
    for name in ("fig4a-per-process-rps", "fig4b-per-process-timeline", "fig5-memory", "fig6-cost",
                 "fig7-timeline"):
        assert "--url" in figs[name]["skipped"], name
        assert f'id="fig-{name}"' in page
    assert any("--url" in c and "client-side" in c for c in summ["caveats"])
    assert "No stack settings" in md


# --- caveats from the data -----------------------------------------------------------------------
@pytest.mark.report
def test_caveats_follow_the_data(tmp_path: Path) -> None:
    run = _copy(tmp_path)

    def damage(data: dict) -> None:
        t1 = data["results"][0]["trials"][0]
        t1["access_vs_locust"] = 0.031
        t2 = data["results"][1]["trials"][1]
        t2["failures"] = True
        t2["locust"]["failures"] = 12
        t2["server"]["status"]["500"] = 12
        data["plan"]["connection_close"] = True
        data["plan"]["quick"] = True
        data["stack"]["keepalive"] = False

    _edit(run, damage)
    _, md, summ = _build(run)
    text = " ".join(summ["caveats"])
    assert "disagree on the request count by more than 2%" in text and "#001 db naive trial 1 (3.1%)" in text
    assert "#006 db pooled trial 2: 12 failed" in text and "status 500: 12" in text
    assert "connection_close" in text
    assert "KeepAlive was off" in text
    assert "Quick run" in text
    assert "#004 fortunes pooled trial 1" in text and "generator-bound" in text
    assert "Only 2 trial(s)" in text
    assert "generator CPU 95% &gt;= 90%" in md  # the trial flag, listed and escaped


@pytest.mark.report
def test_caveats_are_only_those_that_apply(all_built) -> None:
    text = " ".join(all_built[fixtures().EMBEDDED_ID]["summary"]["caveats"])
    assert "failed" not in text and "disagree" not in text
    assert "incomplete" not in text and "--url" not in text and "Quick run" not in text
    assert "KeepAlive was on" in text  # a fact about this run's settings, not boilerplate
    assert "1 of 8 trials was generator-bound" in text


@pytest.mark.report
def test_incomplete_run_lists_missing_trials(tmp_path: Path) -> None:
    run = fixtures().make_run(tmp_path, stop_after=5)
    page, md, summ = _build(run)
    assert summ["complete"] is False
    assert summ["missing_trials"] == ["#006 db pooled trial 2", "#007 fortunes naive trial 2",
                                      "#008 fortunes pooled trial 2"]
    text = " ".join(summ["caveats"])
    assert "incomplete" in text and "5 of 8 planned trials" in text and "#007 fortunes naive trial 2" in text
    assert "INCOMPLETE" in page


@pytest.mark.report
def test_missing_speedups_and_damaged_trial_files(tmp_path: Path) -> None:
    run = _copy(tmp_path)
    (run / "trials/001-db-naive/timeline.json").unlink()
    (run / "trials/005-db-naive/timeline.json").write_text("{not json")
    with open(run / "trials/002-db-pooled/samples.jsonl", "a") as fh:
        fh.write('{"t": 17956549')  # a torn last line, as after a crash

    def edit(d: dict) -> None:
        d.pop("speedups")
        d["results"][3]["trials"][0]["dir"] = "../../../etc"

    _edit(run, edit)
    _, md, summ = _build(run)
    text = " ".join(summ["caveats"])
    # Damaged per-trial files are notes, not crashes; the figures use what is readable.
    assert "trials/005-db-naive/timeline.json: unreadable" in text
    assert "samples.jsonl: 1 damaged line(s) skipped" in text
    assert "points outside the run folder" in text
    assert "png" in summ["figures"]["fig7-timeline"] and "png" in summ["figures"]["fig5-memory"]
    # Speedups missing from results.json are computed from the trials and marked so.
    assert {s["from"] for s in summ["speedups"]} == {"computed"}
    assert summ["headline"] and "speedups missing from results.json" in text
    db = next(s for s in summ["speedups"] if s["workload"] == "db" and s["metric"] == "rps")
    cells = {(c["workload"], c["variant"]): c for c in summ["cells"]}
    assert db["ratio"] == pytest.approx(cells[("db", "pooled")]["rps"] / cells[("db", "naive")]["rps"])


@pytest.mark.report
def test_run_without_trials_is_an_error_not_a_report(tmp_path: Path, capsys) -> None:
    # Stopped before its first trial ended (issue 9 item 5): nothing to report, exit 1, one line.
    run = _copy(tmp_path)
    shutil.rmtree(run / "trials")
    _edit(run, lambda d: d.update(results=[], complete=False, finished=None))
    assert main([str(run)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: no trials in {run / 'results.json'}") and err.count("\n") == 1
    assert not (run / "report").exists()
    from bench import cli  # bench report: the same error

    assert cli.main(["report", str(run)]) == 1 and "error: no trials" in capsys.readouterr().err


def test_no_results_or_environment_keys_is_an_error(tmp_path: Path, capsys) -> None:
    # The stored speedups (17x) must not become a headline beside 0 trials.
    run = _copy(tmp_path)
    _edit(run, lambda d: [d.pop("results"), d.pop("environment")])
    assert main([str(run)]) == 1
    assert "no 'results' or 'environment' key" in capsys.readouterr().err


@pytest.mark.report
def test_speedups_only_from_cells_that_are_there(tmp_path: Path) -> None:
    # One naive trial left, pooled gone: the stored pooled/naive speedup is not shown anywhere.
    run = _copy(tmp_path)

    def keep_naive(d: dict) -> None:
        d["results"] = [r for r in d["results"] if r["variant"] == "naive"]

    _edit(run, keep_naive)
    page, md, summ = _build(run)
    assert not summ["speedups"] and "x faster" not in md.lower()
    assert not re.search(r"\b\d+(\.\d+)?x\b", md.split("## ")[1]), md.split("## ")[1]


# --- the 2x2 split -------------------------------------------------------------------------------
@pytest.mark.report
def test_2x2_split_decomposes_the_speedup(tmp_path: Path) -> None:
    run = fixtures().make_run(tmp_path, variants=("naive", "pool-only", "cache-only", "pooled"))
    page, md, summ = _build(run)
    rps = {(c["workload"], c["variant"]): c["rps"] for c in summ["cells"]}
    splits = {s["workload"]: s for s in summ["split"]}
    assert set(splits) == {"db", "fortunes"}
    for w, s in splits.items():
        n, po, co, p = (rps[(w, v)] for v in ("naive", "pool-only", "cache-only", "pooled"))
        assert s["total"]["factor"] == pytest.approx(p / n)
        assert s["pooling"]["factor"] == pytest.approx(math.sqrt((po / n) * (p / co)))
        assert s["caching"]["factor"] == pytest.approx(math.sqrt((co / n) * (p / po)))
        assert s["pooling"]["factor"] * s["caching"]["factor"] == pytest.approx(s["total"]["factor"])
        assert s["interaction"]["factor"] == pytest.approx(p * n / (po * co))
        lo, hi = s["pooling"]["ci95"]
        assert lo <= s["pooling"]["factor"] <= hi
    # The synthetic db gains mostly from pooling: the text must say so with the numbers.
    assert splits["db"]["pooling_share"] > 0.8
    assert "pooling accounts for" in md and "log-ratio decomposition" in md
    split_rows = table(md, "workload", "pooled/naive", "pooling", key=1)
    for w, s in splits.items():
        assert shows(split_rows[w]["pooled/naive"], s["total"]["factor"])
        assert shows(split_rows[w]["pooling"], s["pooling"]["factor"])
        assert shows(split_rows[w]["template caching"], s["caching"]["factor"])
    assert "png" in summ["figures"]["fig2-speedup"]


# --- escaping ------------------------------------------------------------------------------------
@pytest.mark.report
def test_values_from_the_run_are_escaped(tmp_path: Path) -> None:
    run = _copy(tmp_path)

    def inject(data: dict) -> None:
        data["results"][0]["trials"][0]["flags"].append(PAYLOAD)
        data["environment"]["versions"]["apache"] = PAYLOAD
        data["environment"]["machine"]["cpu_model"] = PAYLOAD
        data["checks"].append(PAYLOAD)
        data["stack"]["dsn"] = PAYLOAD
        data["run_id"] = PAYLOAD

    _edit(run, inject)
    # Workload names reach the figures too (axis labels): "$" must not become matplotlib mathtext.
    hostile = PAYLOAD + " $x$ $"
    text = (run / "results.json").read_text().replace('"fortunes"', json.dumps(hostile))
    (run / "results.json").write_text(text)
    (run / "httpd.conf").write_text(f"# {PAYLOAD}\nListen 127.0.0.1:8081\n```\n</details>\n")
    (run / "postgresql.conf.json").write_text(json.dumps({"application_name": PAYLOAD}))
    page, md, summ = _build(run)
    assert PAYLOAD not in page and "<script" not in page.lower()
    assert page.count(html.escape(PAYLOAD)) >= 7
    # Config files are shown as code in Markdown (literal by definition); everywhere else it is escaped.
    outside_code = re.sub(r"(`{3,})[^\n]*\n.*?\n\1\n", "", md, flags=re.S)
    assert PAYLOAD not in outside_code and "&lt;script&gt;" in outside_code
    assert "\n````\n" in md  # the fence grew past the ``` inside httpd.conf, so it cannot be closed early
    assert "png" in summ["figures"]["fig1-rps"]


# --- entry points --------------------------------------------------------------------------------
@pytest.mark.report
def test_cli_builds_and_a_rebuild_drops_stale_figures(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = _copy(tmp_path)
    assert main([str(run)]) == 0
    out = run / "report"
    assert capsys.readouterr().out.strip() == str(out / "report.html")
    assert (out / "fig5-memory.png").exists()
    for samples in run.glob("trials/*/samples.jsonl"):
        samples.unlink()
    build_report(run)
    assert not (out / "fig5-memory.png").exists() and not (out / "fig5-memory.svg").exists()


@pytest.mark.parametrize("setup,expect", [
    ("missing", "error: no such run folder"),
    ("schema0", "error: unsupported results schema 0"),
    ("noschema", "error: unsupported results schema missing"),
    ("damaged", "error: damaged "),
    ("option", "error: unrecognized arguments"),
])
def test_cli_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture, setup: str, expect: str) -> None:
    run = _copy(tmp_path)
    args = [str(run)]
    if setup == "missing":
        args = [str(tmp_path / "nope")]
    elif setup == "schema0":
        _edit(run, lambda d: d.update(schema=0))
    elif setup == "noschema":
        _edit(run, lambda d: d.pop("schema"))
    elif setup == "damaged":
        (run / "results.json").write_text("{")
    elif setup == "option":
        args.append("--bogus")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(expect) and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.integration
def test_python_dash_m_reports_exits_1_without_traceback(tmp_path: Path) -> None:
    run = _copy(tmp_path)
    (run / "results.json").write_text('{"schema": 1, "results": [}')
    proc = subprocess.run([sys.executable, "-m", "reports", str(run)], capture_output=True, text=True,
                          timeout=300, cwd=TESTS.parent)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: damaged ") and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_tune_sections_stub(tmp_path: Path) -> None:
    assert tune_sections(tmp_path) == []
    (tmp_path / "tune.json").write_text("{}")
    assert tune_sections(tmp_path) == []


def test_synthetic_fixtures_are_present_and_current(tmp_path: Path) -> None:
    # Without the committed fixtures the parametrized tests above would silently run on nothing.
    fx = fixtures()
    for run_id, kwargs in ((fx.EMBEDDED_ID, {}), (fx.URL_ID, {"source": "url"})):
        committed = TESTS / "fixtures" / "runs" / run_id / "results.json"
        assert committed.is_file(), (
            f"{committed} is missing: run `python tests/fixtures/make_fixtures.py` and commit it "
            "(.gitignore's `runs/` also matches tests/fixtures/runs/: use `/runs/` or `git add -f`)")
        fresh = fx.make_run(tmp_path, run_id=run_id, **kwargs) / "results.json"
        assert committed.read_text() == fresh.read_text(), f"{run_id}: rerun tests/fixtures/make_fixtures.py"
