"""Pass/fail thresholds, k6-style: `p99<50ms,failures=0,rps>1000` (stdlib only: Locust's interpreter).

A copy of bench/load/thresholds.py's grammar (this file runs inside Locust and cannot import bench), pinned to
it by tests/bench/test_open_thresholds.py. One threshold is `[CELL:]METRIC OP NUMBER[UNIT]`:

- METRIC: p50, p90, p99, p999, max, mean (latency, milliseconds unless a unit says otherwise: us, ms, s),
  rps, failures (a count), failure_rate (percent), dropped (a count), drop_rate (percent), late (a count),
  req_per_cpu_s (bench run only: requests per server CPU-second).
- OP: <, <=, >, >=, = (also ==).
- CELL (bench run only): `workload/variant` (`db/pooled:p99<5ms`); without it the threshold holds for
  every cell.

`parse` raises ValueError with one line naming the bad piece and what is allowed; `evaluate` returns the
broken thresholds, each with the value that broke it. A metric that was not measured (None) breaks its
threshold: "not measured" is never a pass.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

LATENCY = ("p50", "p90", "p99", "p999", "max", "mean")
COUNTS = ("rps", "failures", "failure_rate", "dropped", "drop_rate", "late", "req_per_cpu_s")
METRICS = LATENCY + COUNTS
OPS = ("<=", ">=", "==", "<", ">", "=")
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_FORM = re.compile(r"^(?:(?P<cell>[a-z0-9_-]+/[a-z0-9_.-]+):)?(?P<metric>[a-z0-9_]+)\s*(?P<op><=|>=|==|<|>|=)\s*"
                   r"(?P<value>[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(?P<unit>[a-z%]*)$")


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str
    value: float  # milliseconds for a latency, percent for a rate, else as given
    text: str     # as the user wrote it
    cell: str | None = None  # "workload/variant", or None: every cell

    def holds(self, measured: float | None) -> bool:
        if measured is None or (isinstance(measured, float) and math.isnan(measured)):
            return False
        return {"<": measured < self.value, "<=": measured <= self.value, ">": measured > self.value,
                ">=": measured >= self.value, "=": measured == self.value, "==": measured == self.value}[self.op]


def parse(text: str, option: str = "--fail-on") -> list[Threshold]:
    """`p99<50ms,failures=0` -> thresholds; ValueError (one line) naming what is wrong."""
    pieces = [p.strip() for p in (text or "").split(",")]
    if not any(pieces):
        raise ValueError(f"{option} is empty: give e.g. 'p99<50ms,failures=0,rps>1000'")
    out = []
    for piece in pieces:
        if not piece:
            raise ValueError(f"{option} {text!r} has an empty threshold (two commas in a row?)")
        m = _FORM.match(piece.lower())
        if m is None:
            raise ValueError(f"{option}: {piece!r} is not a threshold: use METRIC OP NUMBER[UNIT], e.g. p99<50ms "
                             f"(metrics {', '.join(METRICS)}; ops <, <=, >, >=, =)")
        metric, unit = m["metric"], m["unit"]
        if metric not in METRICS:
            raise ValueError(f"{option}: unknown metric {metric!r} in {piece!r}; allowed {', '.join(METRICS)}")
        value = float(m["value"])
        if metric in LATENCY:
            if unit not in ("", *UNITS):
                raise ValueError(f"{option}: unit {unit!r} in {piece!r} is not a time unit: use us, ms or s")
            value *= UNITS.get(unit or "ms", 1.0)
        elif metric in ("failure_rate", "drop_rate"):
            if unit not in ("", "%"):
                raise ValueError(f"{option}: {metric} in {piece!r} is a percentage: write e.g. {metric}<1%")
        elif unit:
            raise ValueError(f"{option}: {metric} in {piece!r} takes a plain number, not {unit!r}")
        out.append(Threshold(metric, "=" if m["op"] == "==" else m["op"], value, piece, m["cell"]))
    return out


def figures(summary: dict[str, Any]) -> dict[str, float | None]:
    """The metrics of one measurement from a summary with p50_ms..., rps, requests, failures, dropped, ..."""
    requests, failures = summary.get("requests"), summary.get("failures")
    offered, dropped = summary.get("offered"), summary.get("dropped")
    out: dict[str, float | None] = {m: summary.get(f"{m}_ms") for m in LATENCY}
    out.update({
        "rps": summary.get("rps"), "failures": failures, "dropped": dropped, "late": summary.get("late"),
        "failure_rate": round(100 * failures / requests, 4) if requests and failures is not None else None,
        "drop_rate": round(100 * dropped / offered, 4) if offered and dropped is not None else None,
        "req_per_cpu_s": summary.get("requests_per_cpu_second"),
    })
    if out["failure_rate"] is None and requests == 0 and failures == 0:
        out["failure_rate"] = 0.0
    if dropped is None and summary.get("model") != "open":
        out["dropped"] = out["drop_rate"] = out["late"] = 0  # a closed loop never drops: it waits
    return out


def evaluate(thresholds: list[Threshold], summary: dict[str, Any]) -> list[tuple[Threshold, float | None]]:
    """The thresholds `summary` breaks, each with the measured value (None: not measured)."""
    values = figures(summary)
    return [(t, values.get(t.metric)) for t in thresholds if not t.holds(values.get(t.metric))]


def describe(broken: tuple[Threshold, float | None], where: str = "") -> str:
    """One line: "p99<50ms broken: 812.4 ms" (with the cell)."""
    t, value = broken
    unit = " ms" if t.metric in LATENCY else ("%" if t.metric.endswith("_rate") else "")
    shown = "not measured" if value is None else f"{value:g}{unit}"
    return f"{t.text} broken{' in ' + where if where else ''}: {shown}"
