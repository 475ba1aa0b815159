"""The numbers a report shows, derived from a Run: speedups, the 2x2 split, capacity.

Numbers that results.json already holds (summaries, speedups) are taken as they are, so the report
and results.json never disagree; only what results.json lacks is computed here (and marked so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.record.run_folder import Cell, Run
from bench.record.stats import Split, decompose_2x2, ratio_ci
from bench.record.values import num, pair

TARGET_RPS = 1000  # the capacity view's example load


@dataclass
class SpeedupRow:
    workload: str
    variant: str
    baseline: str
    ratio: float
    lo: float | None
    hi: float | None
    origin: str  # "results.json" or "computed" (bootstrap of trial medians, reports.stats)


@dataclass
class CapacityRow:
    workload: str
    variant: str
    rps_per_process: float
    rss_mb: float | None
    pss_mb: float | None
    processes: int  # processes needed for TARGET_RPS at the measured per-process rate
    mb_pss: float | None
    mb_rss: float | None


@dataclass
class Analysis:
    cells: list[Cell]
    speedups: list[SpeedupRow]  # requests/s
    cpu_speedups: list[SpeedupRow]  # requests per server CPU-second (does not depend on the generator)
    splits: dict[str, Split]
    capacity: list[CapacityRow]
    target_rps: int = TARGET_RPS
    computed: list[str] = field(default_factory=list)  # what this report computed itself


def rps_values(cell: Cell) -> list[float]:
    """Per-trial steady-state requests/s (Locust's, the same rate summary.rps is the median of)."""
    return cell.values("locust", "rps")


# metric name in results.json -> the per-trial value it is a ratio of
SPEEDUP_METRICS = {"rps": ("locust", "rps"), "requests_per_cpu_second": ("requests_per_cpu_second",)}


def speedup_rows(run: Run, metric: str = "rps") -> list[SpeedupRow]:
    rows: list[SpeedupRow] = []
    for s in run.speedups(metric):
        lo, hi = pair(s.get("ci95")) or (None, None)
        rows.append(SpeedupRow(
            str(s.get("workload")), str(s.get("variant")), str(s.get("baseline") or "naive"),
            float(s["ratio"]), lo, hi, "results.json",
        ))
    have = {(r.workload, r.variant, r.baseline) for r in rows}
    # An interrupted run may have trials for both variants but no speedup line yet: compute it.
    for workload in run.workloads:
        base = run.cell(workload, "naive")
        if base is None:
            continue
        for cell in run.cells:
            if cell.workload != workload or cell.variant == "naive" or (workload, cell.variant, "naive") in have:
                continue
            keys = SPEEDUP_METRICS[metric]
            r = ratio_ci(base.values(*keys), cell.values(*keys))
            if r is not None:
                rows.append(SpeedupRow(workload, cell.variant, "naive", r.ratio, r.lo, r.hi, "computed"))
    order_w = {w: i for i, w in enumerate(run.workloads)}
    order_v = {v: i for i, v in enumerate(run.variants)}
    return sorted(rows, key=lambda r: (order_w.get(r.workload, 99), order_v.get(r.variant, 99), r.baseline))


def splits(run: Run) -> dict[str, Split]:
    out = {}
    for workload in run.workloads:
        cells = [run.cell(workload, v) for v in ("naive", "pool-only", "cache-only", "pooled")]
        if any(c is None for c in cells):
            continue
        split = decompose_2x2(*(rps_values(c) for c in cells if c is not None))
        if split is not None:
            out[workload] = split
    return out


def capacity(run: Run, target: int = TARGET_RPS) -> list[CapacityRow]:
    rows = []
    for cell in run.cells:
        rpp = cell.stat("rps_per_process")
        if rpp is None or rpp <= 0:
            continue
        rss, pss = cell.stat("rss_mb_per_process"), cell.stat("pss_mb_per_process")
        procs = math.ceil(target / rpp)
        rows.append(CapacityRow(
            cell.workload, cell.variant, rpp, rss, pss, procs,
            None if pss is None else procs * pss, None if rss is None else procs * rss,
        ))
    return rows


def analyze(run: Run) -> Analysis:
    rows = speedup_rows(run)
    cpu_rows = speedup_rows(run, "requests_per_cpu_second")
    an = Analysis(run.cells, rows, cpu_rows, splits(run), capacity(run))
    # Only the format's own `speedups` count as missing; the CPU ones are an extra (their table says
    # "computed" in its "from" column).
    if any(r.origin == "computed" for r in rows):
        an.computed.append("speedups missing from results.json (bootstrap of the ratio of trial medians)")
    return an


def cpu_ms_per_request(requests_per_cpu_second: float | None) -> float | None:
    if requests_per_cpu_second is None or requests_per_cpu_second <= 0:
        return None
    return 1000.0 / requests_per_cpu_second


def trial_label(trial: dict) -> str:
    seq = num(trial.get("seq"))
    n = num(trial.get("trial"))
    head = f"#{int(seq):03d} " if seq is not None else ""
    tail = f" trial {int(n)}" if n is not None else ""
    return f"{head}{trial.get('workload')} {trial.get('variant')}{tail}"
