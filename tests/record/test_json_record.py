"""bench/record/json_record.py: a dataclass's fields are its JSON keys, both ways, tolerant on the way in."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bench.record.json_record import JsonRecord, derived, key, optional


@dataclass(frozen=True)
class Part(JsonRecord):
    n: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class Whole(JsonRecord):
    name: str | None = None
    source: str | None = key("from")
    part: Part | None = None
    parts: tuple[Part, ...] | None = None
    named: dict[str, Part] | None = None
    pair: tuple[float, float] | None = None
    flag: bool | None = None
    note: str | None = optional()
    when_part: float | None = optional(with_="part")
    computed: str = derived(default="here")


def test_fields_are_written_in_order_under_their_keys():
    w = Whole("w", "x", Part(1, "a"), (Part(2),), {"k": Part(3)}, (1.0, 2.5), True)
    assert list(w.to_json()) == ["name", "from", "part", "parts", "named", "pair", "flag", "when_part"]
    assert w.to_json()["parts"] == [{"n": 2, "label": None}] and w.to_json()["pair"] == [1.0, 2.5]
    assert Whole.from_json(w.to_json()) == w
    assert Whole.keys() == ("name", "from", "part", "parts", "named", "pair", "flag", "note", "when_part")


def test_optional_fields_are_left_out_when_unset():
    assert "note" not in Whole().to_json() and "when_part" not in Whole().to_json()
    assert Whole(note="n").to_json()["note"] == "n"
    assert Whole(part=Part()).to_json()["when_part"] is None  # written with the field it goes with


def test_wrong_types_are_none_and_numbers_keep_their_type():
    w = Whole.from_json({"name": 3, "part": "x", "parts": {"n": 1}, "pair": [1, "b"], "flag": 1})
    assert (w.name, w.part, w.parts, w.flag) == (None, None, None, None)
    assert w.pair is None  # a fixed tuple reads only when every item does
    assert Whole.from_json({"pair": [1, 2.5]}).pair == (1, 2.5)
    assert isinstance(Whole.from_json({"pair": [1, 2.5]}).pair[0], int)  # a number stays as written
    assert Part.from_json({"n": True}).n is None  # a bool is not a number


def test_what_a_file_lacked_stays_out_and_unknown_keys_stay_in():
    data = {"name": "w", "future": [1, 2]}
    w = Whole.from_json(data)
    assert w.extra == {"future": [1, 2]} and w.to_json() == data
    assert w.computed == "here" and "computed" not in w.to_json()


@dataclass(frozen=True)
class Plain(JsonRecord):
    items: tuple[Part, ...] = ()
    table: dict[str, int] = field(default_factory=dict)
    count: int | None = None
    ms: float | None = key("seconds_ms", scale=1000, digits=1)


def test_containers_that_do_not_allow_none_read_empty_and_bad_items_are_skipped():
    p = Plain.from_json({"items": [{"n": 1}, "x"], "table": "y"})
    assert p.items == (Part(1),) and p.table == {}
    assert Plain.from_json({}).items == () and Plain.from_json({}).to_json() == {}


def test_a_whole_float_is_a_count_and_a_fraction_is_not():
    assert Plain.from_json({"count": 3.0}).count == 3 and Plain.from_json({"count": 3.5}).count is None


def test_a_field_in_another_unit_is_converted_both_ways():
    p = Plain.from_json({"seconds_ms": 1500})
    assert p.ms == 1.5 and p.to_json() == {"seconds_ms": 1500.0}


def test_new_writes_only_what_it_was_given_and_having_adds_a_field():
    p = Plain.new(count=2)
    assert p.to_json() == {"count": 2}
    assert p.having(items=()).to_json() == {"count": 2, "items": []}


def test_an_absent_field_set_later_is_written():
    w = Whole.from_json({"name": "w"})
    assert replace(w, flag=True).to_json() == {"name": "w", "flag": True}
