"""How the tune record classes map to JSON: a field is declared once, with its type, and both directions follow.

`JsonRecord` is the base of every class of tune.json (bench.record.tune, tune_points, tune_conclusions): a
frozen dataclass whose `from_json` reads each declared field tolerantly by its annotation (a missing key, a
null or a wrong type becomes None, never 0; a list of records skips what is not an object) and whose `to_json`
writes it back. Two things make a round trip exact, as pyperf's `Run._json_load`/`_as_json` and Locust's
`StatsEntry.serialize`/`unserialize` are:

- `absent`: the declared keys the JSON did not hold (an older record, or a knob that does not write them):
  they read as None and are not written back;
- `extra`: the keys no class declares, kept as they were (the format grows by adding keys);
- `order`: the order the keys were read in, which `to_json` keeps.

A field whose JSON key or unit differs says so in its metadata (`json_field`): e.g. the model's cost of a
new child is held in seconds and written as tune.json's `child_cost_ms`, the one conversion of that unit.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Self

from bench.record.values import num

KEY = "json_key"
SCALE = "json_scale"    # JSON value = field value x scale
DIGITS = "json_digits"  # ... rounded to this many digits when written


def json_field(key: str, scale: float = 1.0, digits: int | None = None) -> Any:
    """A field written under another key (and unit: JSON = value x scale, rounded to `digits`)."""
    return dataclasses.field(default=None, metadata={KEY: key, SCALE: scale, DIGITS: digits})


@dataclasses.dataclass(frozen=True)
class JsonRecord:
    """A frozen record of tune.json; subclasses declare fields (every one with a default, None)."""

    absent: frozenset[str] = dataclasses.field(default=frozenset(), kw_only=True, compare=False, repr=False)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, kw_only=True, compare=False, repr=False)
    order: tuple[str, ...] = dataclasses.field(default=(), kw_only=True, compare=False, repr=False)

    NOT_FIELDS: ClassVar[frozenset[str]] = frozenset({"absent", "extra", "order"})

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """The record in `data` (any JSON value: not an object reads as an empty record, every field absent)."""
        data = data if isinstance(data, dict) else {}
        values: dict[str, Any] = {}
        absent = set()
        for name, key, read, scale in _readers(cls):
            if key not in data:
                absent.add(name)
            value = read(data.get(key))
            values[name] = value / scale if scale != 1.0 and value is not None else value
        keys = {key for _, key, _, _ in _readers(cls)}
        return cls(**values, absent=frozenset(absent), extra={k: v for k, v in data.items() if k not in keys},
                   order=tuple(data))

    def to_json(self) -> dict[str, Any]:
        """The JSON object: every declared field the record holds, then the keys it kept unread."""
        out: dict[str, Any] = {}
        for f in _fields(type(self)):
            if f.name in self.absent:
                continue
            value = getattr(self, f.name)
            scale, digits = f.metadata.get(SCALE, 1.0), f.metadata.get(DIGITS)
            if value is not None and scale != 1.0:
                value = value * scale
            if value is not None and digits is not None:
                value = round(value, digits)
            out[f.metadata.get(KEY, f.name)] = write(value)
        out |= self.extra
        if self.order:  # read from JSON: written back in the order read
            rank = {k: i for i, k in enumerate(self.order)}
            out = dict(sorted(out.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        return out

    def having(self, **changes: Any) -> Self:
        """A copy with `changes`, each of them present from now on (written by to_json)."""
        return dataclasses.replace(self, absent=self.absent - changes.keys(), **changes)

    @classmethod
    def new(cls, **values: Any) -> Self:
        """A record holding exactly `values`, written in their order: the other fields are absent (a knob writes
        only its own keys)."""
        fields = {f.name: f.metadata.get(KEY, f.name) for f in _fields(cls)}
        return cls(**values, absent=frozenset(fields.keys() - values.keys()),
                   order=tuple(fields[name] for name in values))


def write(value: Any) -> Any:
    """A field's value as JSON: records by their to_json, tuples as lists, enums by their value."""
    if isinstance(value, JsonRecord):
        return value.to_json()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [write(v) for v in value]
    if isinstance(value, dict):
        return {k: write(v) for k, v in value.items()}
    return value


# --- reading by annotation -----------------------------------------------------------------------------------
Reader = Callable[[Any], Any]


_FIELDS: dict[type, tuple[dataclasses.Field, ...]] = {}
_READERS: dict[type, tuple[tuple[str, str, Reader, float], ...]] = {}


def _fields(cls: type) -> tuple[dataclasses.Field, ...]:
    if cls not in _FIELDS:
        _FIELDS[cls] = tuple(f for f in dataclasses.fields(cls) if f.name not in JsonRecord.NOT_FIELDS)
    return _FIELDS[cls]


def _readers(cls: type) -> tuple[tuple[str, str, Reader, float], ...]:
    """(field, JSON key, reader, scale) of each declared field, from the class's annotations (once per class)."""
    if cls not in _READERS:
        hints = typing.get_type_hints(cls)
        _READERS[cls] = tuple((f.name, f.metadata.get(KEY, f.name), reader(hints[f.name]),
                               f.metadata.get(SCALE, 1.0)) for f in _fields(cls))
    return _READERS[cls]


def reader(hint: Any) -> Reader:
    """How a value of type `hint` is read from JSON: None where it is not of that type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        members = [reader(a) for a in args if a is not type(None)]
        return lambda v: next((r for r in (m(v) for m in members) if r is not None), None)
    if hint is Any:
        return lambda v: v
    if origin is tuple:
        return _tuple_reader(args)
    if origin is dict:
        item = reader(args[1])
        return lambda v: {str(k): item(x) for k, x in v.items()} if isinstance(v, dict) else {}
    if isinstance(hint, type) and issubclass(hint, JsonRecord):
        return lambda v: hint.from_json(v) if isinstance(v, dict) else None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda v: _enum(hint, v)
    return _SCALARS[hint]


def _tuple_reader(args: tuple[Any, ...]) -> Reader:
    if len(args) == 2 and args[1] is Ellipsis:  # tuple[X, ...]: the items that read, () when not a list
        item = reader(args[0])
        return lambda v: tuple(x for x in map(item, v) if x is not None) if isinstance(v, list) else ()
    items = [reader(a) for a in args]  # a fixed tuple, e.g. an interval: None unless every item reads

    def fixed(v: Any) -> tuple[Any, ...] | None:
        if not isinstance(v, list | tuple) or len(v) != len(items):
            return None
        out = tuple(r(x) for r, x in zip(items, v, strict=True))
        return None if any(x is None for x in out) else out
    return fixed


def _enum(kind: type[enum.Enum], value: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    return value if num(value) is not None else None  # an int stays an int: the JSON is written back as read


def _int(value: Any) -> int | None:
    n = num(value)
    return None if n is None else int(value) if isinstance(value, int) else int(n)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


_SCALARS: dict[Any, Reader] = {float: _float, int: _int, str: _str, bool: _bool}
