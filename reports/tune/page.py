"""The report of a `bench tune` run folder: each knob's report looked up by the knob's name.

Reached through reports.build.build_report, which sends a folder holding tune.json (and no results.json)
here. A knob's report is one module of reports/tune holding a `KnobPage` subclass: the knobs it reports
(`knobs`), `build(run) -> Path` (the full report), `recommendation(run)` (the blocks a run report shows when a
tune.json sits next to its results.json) and `section_title`. REPORTS finds every such page.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path
from typing import Any

import reports.tune
from bench.record.tune_folder import TuneRun
from reports.tune.generic import GenericPage
from reports.tune.knob_page import KnobPage

__all__ = ["KnobPage", "build_tune_report", "knob_report"]  # the page modules take KnobPage from here or knob_page


@cache
def _pages() -> dict[str, type[KnobPage]]:
    """Every page of reports/tune, by the knob it reports."""
    for module in pkgutil.iter_modules(reports.tune.__path__):
        importlib.import_module(f"reports.tune.{module.name}")
    pages: list[type[KnobPage]] = []
    todo = list(KnobPage.__subclasses__())
    while todo:
        page = todo.pop(0)
        pages.append(page)
        todo += page.__subclasses__()
    return {name: page for page in pages if "knobs" in vars(page) for name in page.knobs}


def knob_report(run: TuneRun) -> type[KnobPage]:
    """The report of the folder's knob; a knob without a page of its own gets the generic one."""
    return _pages().get(run.knob, GenericPage)


def build_tune_report(run_dir: Path) -> Path:
    """Write the report of the tune run in `run_dir` into `run_dir/report/`; returns the report.html path.

    Raises UserError when tune.json is missing, damaged or of an unknown schema.
    """
    run = TuneRun.open(run_dir)
    return knob_report(run).build(run)


def __getattr__(name: str) -> Any:
    """REPORTS, tune.json plan "knob" -> its page, found on first use (the page modules import this one)."""
    if name == "REPORTS":
        return _pages()
    raise AttributeError(name)
