"""`bench run --rate R[,R2,...]`: the open model in a run: parsing the rates, the trial's open figures, and
the per-rate table of results.json (`offered_rate`).

The load itself is `scenarios/_bench/_open.py` (requests started on a schedule, latency from the intended
start, HdrHistogram); a trial with a rate writes its summary to open.json in the trial folder, and
`trial_figures` turns it into trial.json's `open` (without the encoded histogram, which stays in
open.json). A results.json cell summarises its trials over all rates; the figures per rate are in the
run's `offered_rate` section, built here from the trials (medians over the trials of a cell and rate).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.record import stats
from bench.record.bottleneck import GENERATOR_SIDE
from bench.record.run_rows import CellRecord, cells_of
from bench.record.trial import TrialRecord

MAX_RATE = 1_000_000.0
ARRIVALS = ("constant", "poisson")
OPEN_FILE = "open.json"
# What a trial.json's `open` keeps (open.json keeps everything, the HdrHistogram too).
FIGURES = ("model", "arrival", "rate", "connections", "offered", "offered_rps", "started", "requests", "failures",
           "dropped", "late", "unfinished", "rps", "late_ms", "backlog", "latency_from", "p50_ms", "p90_ms",
           "p99_ms", "p999_ms", "max_ms", "mean_ms", "send_delay_p99_ms", "schedule_lag_p99_ms",
           "generator_behind", "generator_reason", "timeline")
# Below this share of the rate answered, the offered rate was not met.
MET_SHARE = 0.95


def parse_rates(text: str | None) -> list[float] | None:
    """`300` or `100,200,400` -> rates in req/s; None without --rate; UserError naming a bad one."""
    if text is None:
        return None
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise UserError("--rate is empty: give requests per second, e.g. --rate 300 or --rate 100,200,400")
    rates = []
    for item in items:
        try:
            rate = float(item)
        except ValueError:
            raise UserError(f"--rate {item!r} is not a number: give requests per second, e.g. 300") from None
        if not math.isfinite(rate) or not 0 < rate <= MAX_RATE:
            raise UserError(f"--rate {item} is not allowed: use requests per second > 0 and at most {MAX_RATE:g}")
        rates.append(rate)
    return list(dict.fromkeys(rates))


def check_arrival(arrival: str) -> str:
    if arrival not in ARRIVALS:
        raise UserError(f"--arrival {arrival!r} is not allowed: use {' or '.join(ARRIVALS)}")
    return arrival


def trial_figures(trial_dir: Path) -> dict[str, Any] | None:
    """trial.json's `open` from the trial's open.json; None when Locust wrote none."""
    path = trial_dir / OPEN_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return {k: data.get(k) for k in FIGURES}


def verdict(figures: dict[str, Any], bottleneck: str | None) -> tuple[bool, str | None]:
    """(met, why not): was the offered rate met, and if not, was it the generator that could not offer it."""
    if figures.get("generator_behind") or bottleneck in GENERATOR_SIDE:
        why = figures.get("generator_reason") or f"the trial was limited by the {bottleneck}"
        return False, f"the generator could not offer this rate ({figures['rate']:g} req/s): {why}"
    answered = figures.get("rps") or 0
    # A count over a window can be one request off at each edge: at a few requests per second in a short
    # window, that alone is more than the 5% MET_SHARE allows, so one request of slack is given.
    window_s = (figures.get("requests") or 0) / answered if answered else 0
    slack = 1 / window_s if window_s else 0
    if figures.get("dropped") or figures.get("unfinished", 0) > figures.get("connections", 0) \
            or answered < MET_SHARE * figures["rate"] - slack:
        return False, (f"the server did not keep up with {figures['rate']:g} req/s: {answered:g} req/s answered, "
                       f"{figures.get('dropped') or 0} dropped, {figures.get('late') or 0} late, "
                       f"{figures.get('unfinished') or 0} unfinished")
    return True, None


def flags(figures: dict[str, Any], bottleneck: str | None) -> list[str]:
    """The trial's flags of the open model."""
    met, why = verdict(figures, bottleneck)
    return [] if met or why is None else [why]  # not met: verdict always says why


def _med(rows: list[dict], key: str, digits: int = 3) -> float | None:
    return stats.median([r.get(key) for r in rows], digits)


def table(results: Sequence[CellRecord | dict]) -> list[dict[str, Any]]:
    """One row per cell and rate: medians over its trials of the open figures (latency from intended start),
    the closed-loop-free server figures beside them, and whether the rate was met in every trial."""
    groups: dict[tuple, list[TrialRecord]] = {}
    for cell in cells_of(results):
        for t in cell.trials:
            if t.open is not None and t.open.to_json():
                groups.setdefault((cell.workload, cell.variant, cell.server, t.open.rate), []).append(t)
    rows = []
    for (workload, variant, server, rate), trials in groups.items():
        opens = [t.open.to_json() for t in trials if t.open is not None]
        row: dict[str, Any] = {"workload": workload, "variant": variant, **({"server": server} if server else {}),
                               "rate": rate, "arrival": opens[0].get("arrival"), "trials": len(trials),
                               "latency_model": "open", "latency_from": "intended start"}
        for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"):
            row[key] = _med(opens, key)
        for key in ("offered", "dropped", "late", "unfinished"):
            row[key] = int(sum(o.get(key) or 0 for o in opens))
        row["server_p99_ms"] = stats.median([t.server.p99_ms if t.server else None for t in trials], 3)
        row["requests_per_cpu_second"] = stats.median([t.requests_per_cpu_second for t in trials], 1)
        row["slots"] = trials[0].slots
        limits = [t.limit for t in trials]
        verdicts = [verdict(o, limit) for o, limit in zip(opens, limits, strict=True)]
        row["met"] = all(v[0] for v in verdicts)
        row["why"] = next((v[1] for v in verdicts if v[1]), None)
        row["generator_could_not_offer"] = any("generator could not" in (v[1] or "") for v in verdicts)
        rows.append(row)
    return sorted(rows, key=lambda r: (r["workload"], r["variant"], r.get("server") or "", r["rate"]))
