"""Frozen dataclasses that write and read their own JSON: a field is declared once and both directions follow
(pyperf's Run._as_json/_json_load, Locust's StatsEntry serialize/unserialize, made generic).

`to_json` writes each field under its key, in declaration order, then the keys it did not know (`extra`), so
a record read and written again keeps everything. `from_json` is tolerant: a missing key, a null or a value of
the wrong type becomes None (never 0); a nested record is read by its own class. The key is the field's name
unless `key("from")` says otherwise; a field declared `optional()` is left out when it is None, and
`optional(with_="server")` is written (null included) whenever that other field is set. A record read from a
file remembers the keys the file lacked and leaves them out again, and the order of its keys: read and written,
a file is unchanged byte for byte.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Self

_NUMBER = (int, float)


def key(name: str, *, default: Any = None) -> Any:
    """A field written under another JSON key than its name (e.g. "from", a Python keyword)."""
    return field(default=default, metadata={"key": name})


def derived(*, default: Any = None) -> Any:
    """A field that is not in the JSON (set by whoever builds the object, e.g. a report's own computation)."""
    return field(default=default, metadata={"json": False})


def optional(*, with_: str | None = None, name: str | None = None) -> Any:
    """A field left out of the JSON when None, or with `with_`, written whenever that other field is not None."""
    meta: dict[str, Any] = {"omit": True, "with": with_}
    if name is not None:
        meta["key"] = name
    return field(default=None, metadata=meta)


@dataclass(frozen=True)
class _Kind:
    """How one field's value is read: its class (a record, a number ...), inside a tuple or a dict or not."""

    leaf: Any  # a JsonRecord subclass, a scalar type, a tuple of scalar types, or Any
    container: str | None  # "tuple", "dict" or None


def _strip_none(tp: Any) -> Any:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if all(a in _NUMBER for a in rest):
            return float
        return rest[0] if len(rest) == 1 else Any
    return tp


def _kind(tp: Any) -> _Kind:
    tp = _strip_none(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple:
        return _Kind(_strip_none(args[0]) if args else Any, "tuple")
    if origin is dict:
        return _Kind(_strip_none(args[1]) if len(args) == 2 else Any, "dict")
    return _Kind(tp, None)


def _read_leaf(leaf: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(leaf, type) and issubclass(leaf, JsonRecord):
        return leaf.from_json(value) if isinstance(value, dict) else None
    if leaf is float or leaf is int:
        # a number stays as written (an int stays an int): the file is rewritten with the same numbers
        return value if isinstance(value, _NUMBER) and not isinstance(value, bool) else None
    if leaf is str or leaf is bool:
        return value if isinstance(value, leaf) else None
    return value


def _read(kind: _Kind, value: Any) -> Any:
    if kind.container == "tuple":
        return tuple(_read_leaf(kind.leaf, v) for v in value) if isinstance(value, list | tuple) else None
    if kind.container == "dict":
        return {str(k): _read_leaf(kind.leaf, v) for k, v in value.items()} if isinstance(value, dict) else None
    return _read_leaf(kind.leaf, value)


def _write(value: Any) -> Any:
    if isinstance(value, JsonRecord):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [_write(v) for v in value]
    if isinstance(value, dict):
        return {k: _write(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class _Spec:
    name: str
    key: str
    kind: _Kind
    omit: bool
    with_: str | None


class JsonRecord:
    """Mixin of a frozen dataclass whose fields are its JSON keys. Subclasses may declare `extra: dict` to keep
    the keys they do not know (written back after their own)."""

    @classmethod
    @cache
    def _specs(cls) -> tuple[_Spec, ...]:
        hints = typing.get_type_hints(cls)
        return tuple(_Spec(f.name, f.metadata.get("key", f.name), _kind(hints[f.name]), f.metadata.get("omit", False),
                           f.metadata.get("with")) for f in fields(cls)  # type: ignore[arg-type]
                     if f.name != "extra" and f.metadata.get("json", True))

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The JSON keys this class names, in the order they are written."""
        return tuple(s.key for s in cls._specs())

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Read a dict as written by this suite, today's or an older one's: what is missing or damaged is None."""
        data = data if isinstance(data, dict) else {}
        values = {s.name: _read(s.kind, data.get(s.key)) for s in cls._specs()}
        if "extra" in {f.name for f in fields(cls)}:  # type: ignore[arg-type]
            known = set(cls.keys())
            values["extra"] = {k: v for k, v in data.items() if k not in known}
        record = cls(**values)
        # What the file did not have stays out when written again (an older folder's trial keeps its keys).
        object.__setattr__(record, "_absent", frozenset(s.key for s in cls._specs() if s.key not in data))
        object.__setattr__(record, "_order", tuple(data))  # an older suite's key order is kept too
        return record

    def to_json(self) -> dict[str, Any]:
        """The dict written to disk: each field under its key, then what `from_json` did not know."""
        out: dict[str, Any] = {}
        absent = getattr(self, "_absent", frozenset())
        for s in self._specs():
            value = getattr(self, s.name)
            if value is None and (s.key in absent or s.omit and (s.with_ is None or getattr(self, s.with_) is None)):
                continue
            out[s.key] = _write(value)
        for k, v in getattr(self, "extra", {}).items():
            out.setdefault(k, v)
        order = getattr(self, "_order", ())
        return {k: out[k] for k in order if k in out} | out if order else out
