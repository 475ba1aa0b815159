"""A figure is one registry entry plus its chart function: the page draws it and closes its section with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reports_helpers import copy_folder, fixtures

from reports.build import build_report
from reports.kit.document import FigureBlock
from reports.kit.figures import FigureSpec
from reports.run import charts

pytestmark = pytest.mark.report


def chart_extra(run, an, out_dir: Path) -> FigureBlock:
    return FigureBlock("fig10-extra", "Figure 10: an extra figure", skipped=f"{len(an.cells)} cells, nothing drawn.")


def test_a_registered_figure_reaches_its_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = FigureSpec("fig10-extra", "Figure 10: an extra figure", chart_extra, "latency")
    monkeypatch.setattr(charts, "REGISTRY", [*charts.REGISTRY, spec])
    run = copy_folder(fixtures().RUNS / fixtures().EMBEDDED_ID, tmp_path)
    out = build_report(run).parent
    md = (out / "report.md").read_text()
    latency = md.split("## Latency", 1)[1].split("\n## ", 1)[0]
    assert "Figure 3: latency percentiles" in latency
    assert latency.index("Figure 10: an extra figure") > latency.index("Figure 3: latency percentiles")
    assert json.loads((out / "summary.json").read_text())["figures"]["fig10-extra"] == {
        "skipped": "4 cells, nothing drawn."}


def test_every_registered_figure_is_placed_once(tmp_path: Path) -> None:
    run = copy_folder(fixtures().RUNS / fixtures().EMBEDDED_ID, tmp_path)
    md = (build_report(run).parent / "report.md").read_text()
    for spec in charts.REGISTRY:
        if spec.section in ("saturation", "servers"):  # sections this run has not
            continue
        assert md.count(spec.title) == 1, spec.name
