"""What a tunable knob is: the one definition `bench tune --knob NAME` and the tune report look up by name.

A knob names itself (the --knob value, tune.json's plan "knob"), parses its --values and options before
anything starts (`parse`: a typed, frozen object of its own, or a one-line UserError naming the bad value and
what is allowed), says which httpd.conf directive(s) its recommendation writes and what predicts it (a model, or
MEASURED_ONLY), builds the task its sweep runs (`task`: its points, how a point is measured, how the sweep
concludes; bench.tune.sweep.Sweep runs it), and prints a finished sweep (`summary_text`).

Adding a knob is one module in bench/tune holding a `Knob` subclass: bench.tune finds it (every concrete
subclass, as asv finds its commands), and its report is one module in reports/tune holding a
`reports.tune.page.KnobPage` subclass.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from bench.errors import UserError
from bench.record.tune import TuneData
from bench.stack import cpus
from bench.stack.knobs import StackSettings
from bench.tune.options import SweepArgs, TuneOptions

if TYPE_CHECKING:
    from bench.tune.sweep import Log, SweepTask

MEASURED_ONLY = "measured only"


class Knob:
    """One tunable setting. A subclass that sets `name` is a knob: it fills the class attributes and the methods."""

    name: ClassVar[str]                     # --knob NAME; tune.json plan "knob"
    title: ClassVar[str]                    # what `bench tune --help` and the progress lines call it
    directives: ClassVar[tuple[str, ...]]   # the httpd.conf directive(s) its recommendation writes
    model: ClassVar[str]                    # what predicts it between measured values, or MEASURED_ONLY
    default_values: ClassVar[tuple[str, str]]  # --values without --quick, with --quick
    values_help: ClassVar[str]              # what --values means for this knob
    folder_label: ClassVar[str]             # the run folder's label (runs/<time>-<label>)
    default: ClassVar[bool] = False         # the knob `bench tune` sweeps without --knob

    def values_text(self, given: str | None, quick: bool) -> str:
        return given if given is not None else self.default_values[1 if quick else 0]

    def parse_values(self, text: str) -> list[Any]:
        """The sorted values to measure; UserError (one line: the bad value and what is allowed)."""
        raise NotImplementedError

    def parse(self, opts: TuneOptions) -> SweepArgs:
        """Every check that needs no server, before anything starts: the knob's own options, typed."""
        raise NotImplementedError

    def task(self, args: Any, settings: StackSettings, log: Log) -> SweepTask:
        """The sweep of `args` (what `parse` returned) over `settings`: the checks that need the settings first."""
        raise NotImplementedError

    def run(self, args: SweepArgs, settings: StackSettings, partition: cpus.Partition, log: Log = print) -> Path:
        """Sweep with what `parse` returned, write tune.json; returns the run folder."""
        from bench.tune.sweep import Sweep  # the measuring machinery: loaded by a sweep, not by `bench --help`

        return Sweep.run(self.task(args, settings, log), partition, log)

    def summary_text(self, record: TuneData | dict[str, Any]) -> str:
        """The terminal summary of a tune record (or of tune.json as bench.record.tune.load_tune returns it):
        points, the recommendation, its reasoning."""
        raise NotImplementedError


def as_tune_data(record: TuneData | dict[str, Any]) -> TuneData:
    """The record read into its classes, once (bench.cli passes tune.json's dict)."""
    return record if isinstance(record, TuneData) else TuneData.from_json(record)


def iter_subclasses(cls: type) -> Iterator[type]:
    """Every subclass of `cls`, depth first, in the order they were defined."""
    for sub in cls.__subclasses__():
        yield sub
        yield from iter_subclasses(sub)


def knob_classes() -> list[type[Knob]]:
    """The concrete knobs (a subclass that names itself), the default first."""
    found = [k for k in iter_subclasses(Knob) if "name" in vars(k)]
    return sorted(found, key=lambda k: not k.default)


def lookup(knobs: dict[str, Knob], name: str) -> Knob:
    if name not in knobs:
        raise UserError(f"--knob {name!r} is unknown: use {' or '.join(knobs)}")
    return knobs[name]
