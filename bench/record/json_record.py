"""Frozen dataclasses that write and read their own JSON: a field is declared once and both directions follow
(pyperf's Run._as_json/_json_load, Locust's StatsEntry serialize/unserialize, made generic). Every record class
of trial.json, results.json and tune.json derives from `JsonRecord`.

`to_json` writes each field under its key, in declaration order, then the keys it did not know (`extra`).
`from_json` is tolerant: a missing key, a null or a value of the wrong type reads as the field's empty value
(None, never 0; an empty tuple or dict where the type does not allow None); a nested record, a tuple or dict of
records and an enum are read by their class. Three things make a read and a write byte for byte the same:

- `absent`: the fields whose key the JSON did not hold (an older folder, or a knob that does not write them):
  they are not written back while they hold their empty value;
- `extra`: the keys no field names, kept as they were (the formats grow by adding keys);
- `order`: the order the keys were read in, which `to_json` keeps.

A field's metadata says what differs: `key("from")` another JSON key (and unit: `scale`, `digits`),
`optional()` left out when None (or written whenever the field named by `with_` is set), `derived()` not in
the JSON at all.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Self

Reader = Callable[[Any], Any]
_NUMBER = (int, float)


def key(name: str, *, default: Any = None, scale: float = 1.0, digits: int | None = None) -> Any:
    """A field written under another JSON key than its name (e.g. "from", a Python keyword), and in another
    unit: JSON value = field value x `scale`, rounded to `digits` when written."""
    return dataclasses.field(default=default, metadata={"key": name, "scale": scale, "digits": digits})


def derived(*, default: Any = None) -> Any:
    """A field that is not in the JSON (set by whoever builds the object, e.g. a report's own computation)."""
    return dataclasses.field(default=default, metadata={"json": False})


def optional(*, with_: str | None = None, name: str | None = None) -> Any:
    """A field left out of the JSON when None, or with `with_`, written whenever that other field is not None."""
    meta: dict[str, Any] = {"omit": True, "with": with_}
    if name is not None:
        meta["key"] = name
    return dataclasses.field(default=None, metadata=meta)


@dataclasses.dataclass(frozen=True)
class _Spec:
    """How one field maps to JSON."""

    name: str
    key: str
    read: Reader
    empty: Any  # what a missing key reads as
    omit: bool
    with_: str | None
    scale: float
    digits: int | None


@dataclasses.dataclass(frozen=True)
class JsonRecord:
    """Base of a frozen dataclass whose fields are its JSON keys (every field has a default)."""

    absent: frozenset[str] = dataclasses.field(default=frozenset(), kw_only=True, compare=False, repr=False)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, kw_only=True, compare=False, repr=False)
    order: tuple[str, ...] = dataclasses.field(default=(), kw_only=True, compare=False, repr=False)

    NOT_FIELDS: ClassVar[frozenset[str]] = frozenset({"absent", "extra", "order"})

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The JSON keys this class names, in the order they are written."""
        return tuple(s.key for s in _specs(cls))

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """The record in `data`, as written by this suite today or an older one (not an object: every field
        absent)."""
        data = data if isinstance(data, dict) else {}
        values: dict[str, Any] = {}
        for s in _specs(cls):
            value = s.read(data.get(s.key))
            values[s.name] = value / s.scale if s.scale != 1.0 and value is not None else value
        keys = set(cls.keys())
        return cls(**values, absent=frozenset(s.name for s in _specs(cls) if s.key not in data),
                   extra={k: v for k, v in data.items() if k not in keys}, order=tuple(data))

    def to_json(self) -> dict[str, Any]:
        """The dict written to disk: each field under its key, then the keys `from_json` did not know."""
        out: dict[str, Any] = {}
        for s in _specs(type(self)):
            value = getattr(self, s.name)
            if s.name in self.absent and value == s.empty:
                continue
            if value is None and s.omit and (s.with_ is None or getattr(self, s.with_) is None):
                continue
            if value is not None and s.scale != 1.0:
                value = value * s.scale
            if value is not None and s.digits is not None:
                value = round(value, s.digits)
            out[s.key] = write(value)
        for k, v in self.extra.items():
            out.setdefault(k, v)
        if not self.order:
            return out
        return {k: out[k] for k in self.order if k in out} | out  # read from JSON: written in the order read

    def having(self, **changes: Any) -> Self:
        """A copy with `changes`, each of them present from now on (written by to_json)."""
        return dataclasses.replace(self, absent=self.absent - changes.keys(), **changes)

    @classmethod
    def new(cls, **values: Any) -> Self:
        """A record holding exactly `values`, written in their order: the other fields are absent (a knob writes
        only its own keys)."""
        keys = {s.name: s.key for s in _specs(cls)}
        return cls(**values, absent=frozenset(keys.keys() - values.keys()), order=tuple(keys[n] for n in values))


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
_SPECS: dict[type, tuple[_Spec, ...]] = {}


def _specs(cls: type) -> tuple[_Spec, ...]:
    """Each JSON field's spec, from the class's annotations (once per class)."""
    if cls not in _SPECS:
        hints = typing.get_type_hints(cls)
        specs = []
        for f in dataclasses.fields(cls):
            if f.name in JsonRecord.NOT_FIELDS or not f.metadata.get("json", True):
                continue
            read = reader(hints[f.name])
            specs.append(_Spec(f.name, f.metadata.get("key", f.name), read, read(None), f.metadata.get("omit", False),
                               f.metadata.get("with"), f.metadata.get("scale", 1.0), f.metadata.get("digits")))
        _SPECS[cls] = tuple(specs)
    return _SPECS[cls]


def reader(hint: Any, nullable: bool = False) -> Reader:
    """How a value of type `hint` is read from JSON: None where it is not of that type (a container type that
    does not allow None: empty)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) > 1 and all(a in _NUMBER for a in rest):
            return _number
        members = [reader(a, nullable or len(rest) < len(args)) for a in rest]
        return members[0] if len(members) == 1 else lambda v: next(
            (r for r in (m(v) for m in members) if r is not None), None)
    if hint is Any:
        return lambda v: v
    if origin is tuple:
        return _tuple_reader(args, nullable)
    if origin is dict:
        item = reader(args[1])
        empty: dict[str, Any] | None = None if nullable else {}
        return lambda v: {str(k): item(x) for k, x in v.items()} if isinstance(v, dict) else empty
    if isinstance(hint, type) and issubclass(hint, JsonRecord):
        return lambda v: hint.from_json(v) if isinstance(v, dict) else None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda v: _enum(hint, v)
    return _SCALARS[hint]


def _tuple_reader(args: tuple[Any, ...], nullable: bool) -> Reader:
    if len(args) == 2 and args[1] is Ellipsis:  # tuple[X, ...]: the items that read
        item = reader(args[0])
        empty = None if nullable else ()
        return lambda v: tuple(x for x in map(item, v) if x is not None) if isinstance(v, list) else empty
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


def _number(value: Any) -> float | int | None:
    """A number as written (an int stays an int: the JSON is written back as read); bool is not a number."""
    return value if isinstance(value, _NUMBER) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    """An int; a float only when it is a whole number (a count written as 3.0)."""
    n = _number(value)
    if isinstance(n, float):
        return int(n) if n.is_integer() else None
    return n


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


_SCALARS: dict[Any, Reader] = {float: _number, int: _int, str: _str, bool: _bool}
