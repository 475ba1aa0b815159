"""Reading values out of a record defensively: a missing key, a null or a wrong type becomes None.

A report must still be built from an interrupted run or from an older suite that wrote fewer fields.
"""

from __future__ import annotations

import math
from typing import Any


def num(value: Any) -> float | None:
    """A finite number as float, else None (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def lst(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def dig(data: Any, *keys: str) -> Any:
    """data[k1][k2]... or None when any level is missing or not an object."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def pair(value: Any) -> tuple[float, float] | None:
    """A [lo, hi] interval of two numbers, else None."""
    if isinstance(value, list | tuple) and len(value) == 2:
        lo, hi = num(value[0]), num(value[1])
        if lo is not None and hi is not None:
            return lo, hi
    return None
