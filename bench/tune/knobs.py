"""What a tunable knob is: the one definition `bench tune --knob NAME` and the tune report look up by name.

A knob names itself (the --knob value, tune.json's plan "knob"), parses its --values and options before
anything starts (`parse`: a one-line UserError naming the bad value and what is allowed), says which
httpd.conf directive(s) its recommendation writes, what predicts it (a model, or MEASURED_ONLY), sweeps
(`run`), and turns a finished sweep into its recommendation: directive lines and reasoning in tune.json's
"advice", printed by `summary_text`. Adding a knob is one module holding a `Knob` subclass plus its entry
in bench.tune.KNOBS; its name joins tune.json's list (bench.record.tune.KNOBS) and its report is one module
plus an entry in reports.tune.page.REPORTS (tests/bench/test_tune_units.py pins the three lists equal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from bench.errors import UserError
from bench.record.tune import TuneData
from bench.stack import cpus
from bench.stack.knobs import StackSettings
from bench.tune.options import TuneOptions

MEASURED_ONLY = "measured only"


class Knob:
    """One tunable setting. Subclasses fill the class attributes and the three methods."""

    name: ClassVar[str]                     # --knob NAME; tune.json plan "knob"
    title: ClassVar[str]                    # what `bench tune --help` and the progress lines call it
    directives: ClassVar[tuple[str, ...]]   # the httpd.conf directive(s) its recommendation writes
    model: ClassVar[str]                    # what predicts it between measured values, or MEASURED_ONLY
    default_values: ClassVar[tuple[str, str]]  # --values without --quick, with --quick
    values_help: ClassVar[str]              # what --values means for this knob
    folder_label: ClassVar[str]             # the run folder's label (runs/<time>-<label>)

    def values_text(self, given: str | None, quick: bool) -> str:
        return given if given is not None else self.default_values[1 if quick else 0]

    def parse_values(self, text: str) -> list[int]:
        """The sorted values to measure; UserError (one line: the bad value and what is allowed)."""
        raise NotImplementedError

    def parse(self, opts: TuneOptions) -> dict[str, Any]:
        """Every check that needs no server, before anything starts: the arguments of `run`."""
        raise NotImplementedError

    def run(self, parsed: dict[str, Any], settings: StackSettings, partition: cpus.Partition) -> Path:
        """Sweep with what `parse` returned, write tune.json; returns the run folder."""
        raise NotImplementedError

    def summary_text(self, record: TuneData | dict[str, Any]) -> str:
        """The terminal summary of a tune record (or of tune.json as bench.record.tune.load_tune returns it):
        points, the recommendation, its reasoning."""
        raise NotImplementedError


def as_tune_data(record: TuneData | dict[str, Any]) -> TuneData:
    """The record read into its classes, once (bench.cli passes tune.json's dict)."""
    return record if isinstance(record, TuneData) else TuneData.from_json(record)


def lookup(knobs: dict[str, Knob], name: str) -> Knob:
    if name not in knobs:
        raise UserError(f"--knob {name!r} is unknown: use {' or '.join(knobs)}")
    return knobs[name]
