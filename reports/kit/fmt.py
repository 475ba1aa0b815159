"""Number formatting shared by the HTML, Markdown and figure labels, so all three show the same digits.

Rule (documented because tests and readers rely on it): whole numbers below 1000 as they are; from 1000
on whole with thousands separators, >= 100 whole, >= 10 one decimal, >= 1 two decimals, below 1 two
significant digits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

DASH = "–"


def fmt_num(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    value = float(value)  # ints too (int.is_integer is 3.12+)
    a = abs(value)
    if value.is_integer() and a < 1000:
        return str(int(value))  # counts (trials, processes) and round values stay whole
    if a >= 999.5:  # what rounds to 1000 or more gets the separator too ("1,000", not "1000")
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    return f"{value:.2g}"


def fmt_ratio(value: float | None) -> str:
    return dash_or(value, lambda v: f"{fmt_num(v)}x")


def fmt_ci(lo: float | None, hi: float | None, unit: str = "") -> str:
    if lo is None or hi is None:
        return DASH
    return f"{fmt_num(lo)}{unit}–{fmt_num(hi)}{unit}"


def dash_or(value: Any, render: Callable[[Any], str]) -> str:
    """`render(value)`, or the dash for a missing value: the one None-to-dash rule of every table."""
    return DASH if value is None else render(value)


def fmt_share(fraction: float | None) -> str:
    """A fraction as a whole percent: 0.42 -> "42%"."""
    return dash_or(fraction, lambda f: f"{f * 100:.0f}%")


def fmt_pct(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    return f"{value:+.1f}%"


def fmt_signed_pct(fraction: float | None) -> str:
    """A signed fraction as percent, +5.1%; a tiny non-zero one keeps two decimals (-0.01%, not -0.0%)."""
    if fraction is None or not math.isfinite(fraction):
        return DASH
    if fraction != 0 and abs(fraction) < 0.0005:
        return f"{fraction * 100:+.2f}%"
    return f"{fraction * 100:+.1f}%"


def setting_text(value: Any) -> str:
    """A setting as text, exact (numbers as written in results.json)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(setting_text(v) for v in value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(value)
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, sort_keys=True)
