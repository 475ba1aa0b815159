"""Open the generated reports in real headless Chromium and check what a person would see.

Driven through the DevTools protocol with a minimal stdlib WebSocket client (no extra packages): the page
must load, every image must decode (naturalWidth > 0), there must be no console error, no uncaught
exception and no network request. A screenshot of the first screen is kept in tests/artifacts/.

Chromium is required (Debian package `chromium`): without it this test FAILS, it does not skip.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest
from chromium import Page, browser
from reports_helpers import fixtures

from reports.build import build_report
from reports.compare.page import compare_runs

pytestmark = pytest.mark.integration

TESTS = Path(__file__).resolve().parent.parent
ARTIFACTS = TESTS / "artifacts"
FIXTURE_RUNS = TESTS / "fixtures" / "runs"




CHECK_JS = """
(async () => {
  const imgs = [...document.images];
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return {
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    h1: (document.querySelector('h1') || {}).textContent || '',
    sections: document.querySelectorAll('section').length,
    text: document.body.innerText.length,
    scripts: document.scripts.length,
    width: document.documentElement.scrollWidth,
  };
})()
"""


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    with browser(tmp_path_factory.mktemp("chromium-profile"), 1280, 900) as page:
        yield page


@pytest.fixture(scope="module")
def reports_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-runs")
    for run in FIXTURE_RUNS.iterdir():
        if (run / "results.json").is_file():
            shutil.copytree(run, root / run.name)
    return root


def _check_page(page: Page, path: Path, min_images: int) -> dict[str, Any]:
    page.open(path.as_uri())
    result = page.evaluate(CHECK_JS)
    problems = page.problems()
    assert not problems, f"{path.name}: {problems}"
    assert result["images"] >= min_images, result
    assert result["broken"] == [], f"images that did not load: {result['broken']}"
    assert result["sections"] >= 3 and result["text"] > 500, result
    assert result["scripts"] == 0, "the report must not need JavaScript"
    assert result["width"] <= 1280, f"page wider than the window: {result['width']} px"
    return result


def test_report_renders_in_chromium(chromium: Page, reports_dir: Path) -> None:
    run = reports_dir / fixtures().EMBEDDED_ID
    html = build_report(run)
    result = _check_page(chromium, html, min_images=8)
    assert fixtures().EMBEDDED_ID in result["h1"]
    shot = chromium.call("Page.captureScreenshot", {"format": "png"})
    ARTIFACTS.mkdir(exist_ok=True)
    png = base64.b64decode(shot["data"])
    (ARTIFACTS / "report-first-screen.png").write_bytes(png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_url_run_report_renders_in_chromium(chromium: Page, reports_dir: Path) -> None:
    html = build_report(reports_dir / fixtures().URL_ID)
    _check_page(chromium, html, min_images=3)


def test_compare_page_renders_in_chromium(chromium: Page, reports_dir: Path, tmp_path: Path) -> None:
    fx = fixtures()
    base = reports_dir / fx.EMBEDDED_ID
    other = fx.make_run(tmp_path, run_id="20261127-000000", scale={("db", "pooled"): 0.7})
    result = compare_runs([base, other], out=tmp_path / "cmp")
    page = _check_page(chromium, result.files[0], min_images=1)
    assert "comparison" in page["h1"]


def test_checker_catches_a_broken_page(chromium: Page, tmp_path: Path) -> None:
    # The checks above are only worth something if they can fail: a page with a broken image and a
    # console error must be caught.
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><h1>bad</h1><img src="data:image/png;base64,AAAA" alt="broken">'
                   '<script>console.error("deliberate")</script></body></html>')
    chromium.open(bad.as_uri())
    result = chromium.evaluate(CHECK_JS)
    assert result["broken"] == ["broken"]
    assert any("deliberate" in p for p in chromium.problems())
