"""The report reads the variant table: a hypothetical variant one factor past pooled is reported as
"prepared vs pooled" with its interval, while the rest of the report (and the 2x2 code) stays as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reports_helpers import fixtures

from bench import vocabulary
from reports.build import build_report

pytestmark = pytest.mark.report


@pytest.fixture
def prepared(monkeypatch: pytest.MonkeyPatch) -> None:
    """A third factor and a variant keeping it on top of pooled, for this test only (the table's dicts are
    shared by every reader, so setitem reaches them all)."""
    monkeypatch.setitem(vocabulary.FACTORS, "prepared_statements", "prepared statements")
    monkeypatch.setitem(vocabulary.VARIANT_FACTORS, "prepared",
                        ("pooled_connection", "cached_template", "prepared_statements"))
    fx = fixtures()
    for w in ("db", "fortunes"):
        monkeypatch.setitem(fx.BASE_RPS, (w, "prepared"), fx.BASE_RPS[(w, "pooled")] * 1.25)


def test_a_variant_outside_the_2x2_is_reported_as_x_vs_y(tmp_path: Path, prepared: None) -> None:
    run = fixtures().make_run(tmp_path, variants=("naive", "pool-only", "cache-only", "pooled", "prepared"),
                              trials=3)
    out = build_report(run).parent
    md = (out / "report.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert {s["workload"] for s in summary["split"]} == {"db", "fortunes"}  # the 2x2 split as before
    assert "pooling accounts for" in md
    lines = [line for line in md.splitlines() if "prepared vs pooled" in line]
    assert len(lines) == 2, md  # one sentence per workload
    assert all("1.2" in line and "95% CI" in line for line in lines), lines
    # The step names its factor as the variant table calls its effect (bench.vocabulary.FACTORS).
    assert all("the effect of prepared statements, the one factor they differ by" in line for line in lines), lines
    # ... and a row in the one-factor table: X, its baseline Y, the ratio and its interval.
    rows = [line for line in md.splitlines() if line.startswith("| db | prepared | pooled |")]
    assert rows and "x" in rows[0], md


RENAMED = {"naive": "base", "pool-only": "conn", "cache-only": "tpl", "pooled": "both"}
KEPT = {"base": [], "conn": ["pooled_connection"], "tpl": ["cached_template"],
        "both": ["pooled_connection", "cached_template"]}


def test_an_app_variant_run_is_split_over_its_own_baseline_whatever_the_names(tmp_path: Path) -> None:
    """--app-variant: the table comes from results.json's stack.app.variants (bench.record.attribution.of_stack),
    so the split, the headline and the speedup figure speak of `both` over `base`, never of naive/pooled."""
    run = fixtures().make_run(tmp_path, variants=tuple(RENAMED), trials=3)
    for f in run.rglob("*.json"):
        text = f.read_text()
        for old, new in RENAMED.items():
            text = text.replace(f'"{old}"', f'"{new}"')
        f.write_text(text)
    results = json.loads((run / "results.json").read_text())
    results["stack"]["app"] = {"name": "site", "variants": [{"name": n, "factors": k, "env": []}
                                                           for n, k in KEPT.items()]}
    (run / "results.json").write_text(json.dumps(results))
    out = build_report(run).parent
    md = (out / "report.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert {s["workload"] for s in summary["split"]} == {"db", "fortunes"}
    assert "of both over base, pooling accounts for" in md
    assert "No base baseline" not in md and "divided by base's" in md
    # Figure 2's registry title stays "speedup over naive" (a fixed title); its caption and axes name base.
