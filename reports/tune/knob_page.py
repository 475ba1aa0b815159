"""What a knob's report page is: the base class every page of reports/tune subclasses (reports.tune.page finds
them; this module imports no page, so the generic page and the registry do not import each other)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from bench.record.tune_folder import TuneRun
from reports.kit.document import Block


class KnobPage:
    """A knob's report. A subclass that names its `knobs` is a page."""

    knobs: ClassVar[tuple[str, ...]]   # tune.json plan "knob" values it reports (bench.tune's knob names)
    section_title: ClassVar[str]       # its section in a run report

    @staticmethod
    def build(run: TuneRun) -> Path:
        """The tune folder's own report; returns report.html's path."""
        raise NotImplementedError

    @staticmethod
    def recommendation(run: TuneRun) -> list[Block]:
        """Its recommendation, inside a run report."""
        raise NotImplementedError
