"""`bench run --fail-on 'p99<50ms,failures=0,rps>1000'`: pass/fail on one run (exit 0 met, 3 broken, 1 malformed).

The grammar has one home, `scenarios/_bench/_thresholds.py` (stdlib only, so `locust -f scenarios
--bench-fail-on` reads the same thresholds inside Locust); it is loaded here from the scenarios folder.
A threshold without a cell holds for every cell of the run; `db/pooled:p99<5ms` for that cell only. Each
cell is judged on its summary (medians over its trials); with --rate, on each rate's row of the open model
(latency from the intended start, drops counted), so the model that produced the latency is named.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from types import ModuleType
from typing import Any

from bench import paths
from bench.errors import UserError

EXIT_BROKEN = 3


@cache
def grammar() -> ModuleType:
    """scenarios/_bench/_thresholds.py as a module."""
    import sys

    name = "_bench_thresholds"
    if name in sys.modules:
        return sys.modules[name]
    path = paths.REPO / "scenarios" / "_bench" / "_thresholds.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


def parse(text: str | None, option: str = "--fail-on") -> list[Any]:
    """The thresholds of --fail-on (empty without it); UserError in one line when one is malformed."""
    if text is None:
        return []
    try:
        return grammar().parse(text, option)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _measurements(data: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(cell "workload/variant", its label with the model, the figures to judge) of a results.json."""
    out = []
    rows = data.get("offered_rate") or []
    for row in rows:
        cell = f"{row['workload']}/{row['variant']}"
        out.append((cell, f"{cell} at {row['rate']:g} req/s (open model, latency from intended start)",
                    {**row, "model": "open", "requests": row.get("offered"), "failures": None}
                    | _failures(data, row)))
    if rows:
        return out
    for cell in data.get("results", []):
        s = cell.get("summary")
        if not s:
            continue
        name = f"{cell['workload']}/{cell['variant']}"
        requests = sum((t.get("locust") or {}).get("requests") or 0 for t in cell.get("trials", []))
        server = f" on {cell['server']}" if cell.get("server") else ""
        out.append((name, f"{name}{server} (closed loop)", {**s, "model": "closed", "requests": requests}))
    return out


def _failures(data: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """The open row's failed requests, from its trials (the answered ones that failed a check)."""
    failed = answered = 0
    for cell in data.get("results", []):
        if (cell["workload"], cell["variant"], cell.get("server")) != (row["workload"], row["variant"],
                                                                        row.get("server")):
            continue
        for t in cell.get("trials", []):
            o = t.get("open") or {}
            if o.get("rate") == row["rate"]:
                failed += o.get("failures") or 0
                answered += o.get("requests") or 0
    return {"failures": failed, "requests": answered}


def evaluate(thresholds: list[Any], data: dict[str, Any]) -> list[str]:
    """One line per broken threshold and cell it applies to (empty: all met)."""
    g = grammar()
    lines = []
    for cell, label, figures in _measurements(data):
        mine = [t for t in thresholds if t.cell in (None, cell)]
        lines += [g.describe(b, label) for b in g.evaluate(mine, figures)]
    named = {c for c, _, _ in _measurements(data)}
    for t in thresholds:
        if t.cell is not None and t.cell not in named:
            lines.append(f"{t.text} broken: the run has no cell {t.cell}")
    return lines
