"""Which variants a speedup can be attributed with, read from the variant table (bench.vocabulary).

Two shapes, both found from the factors each variant keeps, never from variant names:

- the **square**: the baseline, the baseline plus the first factor, plus the second, plus both. When all four
  ran, the report splits the full speedup into the two factors (stats.decompose_2x2).
- a **step**: two variants that differ by exactly one factor, reported as "X vs Y" with its ratio. Steps that
  the square or the speedup table already shows (an edge of the square, or a step up from the baseline) are
  left out, so a variant outside the 2x2 (one more factor) gets its own line and the 2x2 reads as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.vocabulary import ALTERNATIVES, BASELINE, FACTORS, VARIANT_FACTORS

__all__ = ["FACTORS", "VARIANT_FACTORS", "Square", "Step", "of_stack", "square", "steps"]  # reports read it here

Table = Mapping[str, Sequence[str]]  # variant -> the factors it keeps


@dataclass(frozen=True)
class Square:
    """The four variants of a 2x2 over factors (first, second), in stats.decompose_2x2's argument order."""

    base: str
    first_only: str  # baseline + the first factor ("pool-only")
    second_only: str  # baseline + the second factor ("cache-only")
    both: str  # "pooled"
    first: str  # the factor names, as in FACTORS
    second: str

    @property
    def variants(self) -> tuple[str, str, str, str]:
        return self.base, self.first_only, self.second_only, self.both


@dataclass(frozen=True)
class Step:
    """`new` keeps exactly one factor more than `base`: their ratio is that factor's effect."""

    new: str
    base: str
    factor: str
    replaces: str | None = None  # the factor `base` keeps in its place (ALTERNATIVES), when it is a swap

    @property
    def label(self) -> str:
        return f"{self.new} vs {self.base}"

    @property
    def effect(self) -> str:
        """What the ratio measures, as the terminal and the report say it: "the effect of prepared statements, the
        one factor they differ by", or for a swap "the effect of pooling in the process instead of an external
        pooler (PgBouncer)"."""
        if self.replaces is None:
            return f"the effect of {FACTORS[self.factor]}, the one factor they differ by"
        return f"the effect of {FACTORS[self.factor]} in the process instead of {FACTORS[self.replaces]}"


@dataclass(frozen=True)
class Variants:
    """The variant table a run's cells are attributed with, and its baseline: the suite's (bench.vocabulary), or an
    --app run's own (`--app-variant NAME[FACTOR,...]:...`, recorded in results.json's stack.app.variants)."""

    table: Mapping[str, Sequence[str]]
    baseline: str

    def square(self) -> Square | None:
        return square(self.table, baseline=self.baseline)

    def steps(self, present: Sequence[str]) -> list[Step]:
        return steps(present, self.table, baseline=self.baseline)


def of_stack(stack: Mapping | None) -> Variants:
    """The table of a run from its stack settings (results.json `stack`): the application's variants when it ran
    --app-variant (baseline: the one keeping nothing), else the suite's."""
    app = (stack or {}).get("app") or {}
    listed = app.get("variants") or [] if isinstance(app, Mapping) else []
    if not listed:
        return Variants(VARIANT_FACTORS, BASELINE)
    table = {str(v["name"]): tuple(v.get("factors") or ()) for v in listed}
    base = next((name for name, kept in table.items() if not kept), next(iter(table)))
    return Variants(table, base)


def _by_factors(table: Table) -> dict[frozenset[str], str]:
    return {frozenset(kept): name for name, kept in table.items()}


def square(table: Table | None = None, factors: Sequence[str] | None = None,
           baseline: str = BASELINE) -> Square | None:
    """The 2x2 of the first two factors at the baseline, or None when the table lacks one of its corners.
    table and factors default to the vocabulary's, read at call time (a test may swap them)."""
    table = VARIANT_FACTORS if table is None else table
    factors = tuple(FACTORS) if factors is None else factors
    if len(factors) < 2 or baseline not in table:
        return None
    first, second = factors[0], factors[1]
    base = frozenset(table[baseline])
    named = _by_factors(table)
    a, b, ab = (named.get(base | extra) for extra in (frozenset({first}), frozenset({second}),
                                                       frozenset({first, second})))
    if a is None or b is None or ab is None:
        return None
    return Square(baseline, a, b, ab, first, second)


def steps(present: Sequence[str], table: Table | None = None, factors: Sequence[str] | None = None,
          baseline: str = BASELINE) -> list[Step]:
    """One-factor steps between variants that ran, minus those the split and the speedup table show."""
    table = VARIANT_FACTORS if table is None else table
    sq = square(table, factors, baseline)
    edges = set()
    if sq is not None and all(v in present for v in sq.variants):
        edges = {(sq.first_only, sq.base), (sq.second_only, sq.base), (sq.both, sq.first_only),
                 (sq.both, sq.second_only)}
    known = [v for v in table if v in present]
    out = []
    for new in known:
        for base in known:
            found = _one_step(set(table[new]), set(table[base]))
            if found is None or base == baseline or (new, base) in edges:
                continue
            out.append(Step(new, base, *found))
    return out


def _one_step(new: set[str], base: set[str]) -> tuple[str, str | None] | None:
    """The factor `new` keeps over `base` when that is their only difference: one factor more, or one factor in
    place of its alternative (ALTERNATIVES: the connection kept in the process instead of behind the pooler)."""
    extra, missing = new - base, base - new
    if len(extra) != 1 or len(missing) > 1:
        return None
    factor = next(iter(extra))
    replaced = next(iter(missing), None)
    if replaced is not None and ALTERNATIVES.get(factor) != replaced:
        return None
    return factor, replaced
