"""bench/record/json_record.py: a dataclass's fields are its JSON keys, both ways, tolerant on the way in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    extra: dict[str, Any] = field(default_factory=dict)


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
    assert w.pair == (1, None) and isinstance(w.pair[0], int)
    assert Part.from_json({"n": True}).n is None  # a bool is not a number


def test_what_a_file_lacked_stays_out_and_unknown_keys_stay_in():
    data = {"name": "w", "future": [1, 2]}
    w = Whole.from_json(data)
    assert w.extra == {"future": [1, 2]} and w.to_json() == data
    assert w.computed == "here" and "computed" not in w.to_json()
