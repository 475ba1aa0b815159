"""The figure registry a report page iterates: adding a figure is one `FigureSpec` entry plus its chart function.

A chart function takes the report's inputs (the run report: run, analysis, output folder) and returns a
FigureBlock (drawn, or a skip note), or (FigureBlock, notes) when it also has sentences for its section.
The page draws every entry, puts each at the end of its section, except the few a section places itself
among its tables (`Drawn.take`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from reports.kit.document import Block, FigureBlock

ChartResult = FigureBlock | tuple[FigureBlock, list[str]]


@dataclass(frozen=True)
class FigureSpec:
    """One figure: files <name>.png and <name>.svg, its title, the function drawing it, its section's id."""

    name: str
    title: str
    chart: Callable[..., ChartResult]
    section: str


def titles(registry: Sequence[FigureSpec]) -> dict[str, str]:
    """name -> title, in the registry's order."""
    return {spec.name: spec.title for spec in registry}


@dataclass
class Drawn:
    """The figures of one report, drawn; remembers which a section placed itself."""

    registry: Sequence[FigureSpec]
    blocks: dict[str, FigureBlock]
    notes: dict[str, list[str]]  # figure name -> sentences its chart function wrote for the section
    taken: set[str] = field(default_factory=set)

    def take(self, name: str) -> FigureBlock:
        """A figure a section places among its own blocks (not at its end)."""
        self.taken.add(name)
        return self.blocks[name]

    def rest(self, section: str) -> list[Block]:
        """The section's figures it did not place itself, in registry order: they close the section."""
        return [self.blocks[s.name] for s in self.registry if s.section == section and s.name not in self.taken]


def draw(registry: Sequence[FigureSpec], *inputs: object) -> Drawn:
    """Call every entry's chart function with `inputs`."""
    blocks: dict[str, FigureBlock] = {}
    notes: dict[str, list[str]] = {}
    for spec in registry:
        result = spec.chart(*inputs)
        block, notes[spec.name] = result if isinstance(result, tuple) else (result, [])
        blocks[spec.name] = block
    return Drawn(registry, blocks, notes)
