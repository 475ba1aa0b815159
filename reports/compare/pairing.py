"""Which cell of a later run is compared with which cell of the first: the same workload and variant (and
server, in a --servers run), or the pair `--match A=B` names when the names differ (two builds of one
application named differently, a variant renamed between versions of the suite).

A side of `--match` is a cell's series (its variant, "pooled mod_wsgi" under --servers), optionally after its
workload and a slash ("app/guestbook"): A names a cell of the first run, B a cell of the later one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.record.errors import UserError
from bench.record.run_folder import Cell, Run


@dataclass(frozen=True)
class Side:
    workload: str | None  # None: any workload (the mapping applies to each)
    series: str

    def fits(self, cell: Cell) -> bool:
        return cell.series == self.series and self.workload in (None, cell.workload)

    def __str__(self) -> str:
        return self.series if self.workload is None else f"{self.workload}/{self.series}"


@dataclass(frozen=True)
class Match:
    """--match A=B: cell A of the first run is compared with cell B of each later run."""

    base: Side
    new: Side

    def to_json(self) -> str:
        return f"{self.base}={self.new}"


@dataclass(frozen=True)
class Pair:
    """A cell of the first run and its counterpart in a later run (None: only in the other run)."""

    workload: str
    series: str                 # as the first run calls it (the later run's, when only there)
    base: Cell | None
    new: Cell | None
    new_series: str | None = None  # the later run's name, when a --match made it differ


def _side(text: str, whole: str) -> Side:
    workload, slash, series = text.strip().rpartition("/")
    if not series.strip() or (slash and not workload.strip()):
        raise UserError(f"--match {whole!r} is not A=B: each side is a variant (guestbook) or workload/variant "
                        "(app/guestbook)")
    return Side(workload.strip() or None, series.strip())


def parse_matches(texts: Sequence[str] | None) -> list[Match]:
    out = []
    for text in texts or ():
        a, eq, b = text.partition("=")
        if not eq:
            raise UserError(f"--match {text!r} is not A=B: name a cell of the first run, then the cell of the later "
                            "run to compare it with (e.g. --match v1=v2)")
        out.append(Match(_side(a, text), _side(b, text)))
    return out


def _check_named(match: Match, first: Run, other: Run) -> None:
    for side, run in ((match.base, first), (match.new, other)):
        if not any(side.fits(c) for c in run.cells):
            known = ", ".join(sorted({f"{c.workload}/{c.series}" for c in run.cells})) or "none"
            raise UserError(f"--match {match.to_json()}: {run.run_id} has no cell {side} (its cells: {known})")


def _target(cell: Cell, matches: Sequence[Match], other: Run) -> Cell | None:
    for m in matches:
        if m.base.fits(cell):
            workload = m.new.workload or cell.workload
            return next((c for c in other.cells if c.workload == workload and c.series == m.new.series), None)
    return next((c for c in other.cells if c.workload == cell.workload and c.series == cell.series), None)


def pairs(first: Run, other: Run, matches: Sequence[Match] = ()) -> list[Pair]:
    """Every cell of the first run with its counterpart in `other`, then the cells only `other` has."""
    for m in matches:
        _check_named(m, first, other)
    out, used = [], set()
    for cell in first.cells:
        new = _target(cell, matches, other)
        if new is not None:
            used.add(id(new))
        renamed = new.series if new is not None and new.series != cell.series else None
        out.append(Pair(cell.workload, cell.series, cell, new, renamed))
    out += [Pair(c.workload, c.series, None, c) for c in other.cells if id(c) not in used]
    return out
