"""Attribution read from the variant table: the 2x2 square and the one-factor steps ("X vs Y")."""

from bench.record.attribution import Square, Step, square, steps
from bench.vocabulary import FACTORS, VARIANT_FACTORS

# A hypothetical third factor and a variant that adds it to pooled (not a real variant of the suite).
MORE_FACTORS = (*FACTORS, "prepared_statements")
MORE_VARIANTS = {**VARIANT_FACTORS, "prepared": ("pooled_connection", "cached_template", "prepared_statements")}


def test_the_square_is_found_from_the_factors():
    assert square() == Square("naive", "pool-only", "cache-only", "pooled", "pooled_connection", "cached_template")
    assert square(MORE_VARIANTS, MORE_FACTORS) == square()  # one more factor leaves the 2x2 as it is


def test_the_2x2_has_no_steps_of_its_own():
    # Its edges are in the split, its steps up from naive in the speedup table: nothing to add.
    assert steps(("naive", "pool-only", "cache-only", "pooled")) == []
    assert steps(("naive", "pooled")) == []  # two factors apart: no step


def test_a_variant_outside_the_2x2_is_reported_against_its_neighbour():
    got = steps(("naive", "pool-only", "cache-only", "pooled", "prepared"), MORE_VARIANTS, MORE_FACTORS)
    assert got == [Step("prepared", "pooled", "prepared_statements")]
    assert got[0].label == "prepared vs pooled"
    # Without the full square, an edge of it is a step too (here pooled vs pool-only: the caching effect).
    got = steps(("naive", "pool-only", "pooled", "prepared"), MORE_VARIANTS, MORE_FACTORS)
    assert [s.label for s in got] == ["pooled vs pool-only", "prepared vs pooled"]


def test_a_table_without_the_square():
    assert square({"naive": (), "pooled": ("a", "b")}, ("a", "b")) is None
    assert steps(("naive", "x", "y"), {"naive": (), "x": ("a",), "y": ("a", "b")}, ("a", "b")) == \
        [Step("y", "x", "b")]


def test_a_swap_of_the_connections_route_is_a_step_that_says_so():
    found = {(s.new, s.base): s for s in steps(["cache-only", "bouncer", "pooled"])}
    swap, added = found[("pooled", "bouncer")], found[("bouncer", "cache-only")]
    assert (swap.factor, swap.replaces) == ("pooled_connection", "pooler_route")
    assert swap.effect == "the effect of pooling in the process instead of an external pooler (PgBouncer)"
    assert added.replaces is None and added.effect.endswith("the one factor they differ by")
