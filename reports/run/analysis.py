"""The numbers a report shows, derived from a Run: speedups, the 2x2 split, capacity.

Numbers that results.json already holds (summaries, speedups) are taken as they are, so the report
and results.json never disagree; only what results.json lacks is computed here (and marked so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.record import attribution
from bench.record import bottleneck as bn
from bench.record.run_folder import Cell, Run
from bench.record.run_rows import Ceiling, SaturationCell, Speedup
from bench.record.stats import Split, decompose_2x2, ratio_ci
from bench.vocabulary import BASELINE

TARGET_RPS = 1000  # the capacity view's example load


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
    limit: str | None = None  # what limited the cell; the rate is a capacity only when "server"
    server: str | None = None

    @property
    def is_capacity(self) -> bool:
        return bn.is_capacity(self.limit)


@dataclass
class CrossCheckRow:
    """One cell measured by both instruments: Locust's median req/s and wrk's, right after it."""

    workload: str
    variant: str
    locust_rps: float | None
    wrk_rps: float | None
    locust_vs_wrk: float | None
    server: str | None = None


@dataclass
class Analysis:
    cells: list[Cell]
    speedups: list[Speedup]  # requests/s
    cpu_speedups: list[Speedup]  # requests per server CPU-second (does not depend on the generator)
    splits: dict[str, Split]
    capacity: list[CapacityRow]
    target_rps: int = TARGET_RPS
    computed: list[str] = field(default_factory=list)  # what this report computed itself
    cross_check: list[CrossCheckRow] = field(default_factory=list)  # --cross-check: Locust beside wrk
    wrk_speedups: list[Speedup] = field(default_factory=list)
    ceiling: Ceiling | None = None  # generator_ceiling: Locust (and wrk) on /plaintext
    saturation: list[SaturationCell] = field(default_factory=list)
    servers: list[str] = field(default_factory=list)  # --servers runs: the servers compared
    # One factor at a time outside the 2x2 ("X vs Y", baseline = Y), from the variant table.
    steps: list[Speedup] = field(default_factory=list)
    square: attribution.Square | None = field(default_factory=attribution.square)  # the 2x2 the split uses
    baseline: str = BASELINE  # what speedups are over: naive, or an --app-variant run's none-kept variant

    @property
    def top(self) -> str:
        """The variant the headline speaks of: the square's all-kept one (pooled), when there is a square."""
        return self.square.both if self.square is not None else "pooled"

    @property
    def multi_server(self) -> bool:
        return len(self.servers) > 1


def where(workload: str, server: str | None) -> str:
    """"db", or under --servers "db under mod_wsgi" (as Speedup.where)."""
    return workload if server is None else f"{workload} under {server}"


def server_groups(run: Run) -> list[tuple[str, str | None]]:
    """(workload, server) pairs in report order: one per workload without --servers."""
    servers: list[str | None] = [*run.servers] or [None]
    return [(w, s) for w in run.workloads for s in servers]


# metric name in results.json -> the per-trial value it is a ratio of
SPEEDUP_METRICS = {"rps": ("locust", "rps"), "requests_per_cpu_second": ("requests_per_cpu_second",)}


def speedup_rows(run: Run, metric: str = "rps") -> list[Speedup]:
    rows = run.speedups(metric)
    have = {(r.workload, r.variant, r.baseline, r.server) for r in rows}
    # An interrupted run may have trials for both variants but no speedup line yet: compute it.
    baseline = attribution.of_stack(run.stack).baseline
    for workload, server in server_groups(run):
        base = run.cell(workload, baseline, server)
        if base is None:
            continue
        for cell in run.cells:
            if cell.workload != workload or cell.server != server or cell.variant == baseline \
                    or (workload, cell.variant, baseline, server) in have:
                continue
            keys = SPEEDUP_METRICS[metric]
            r = ratio_ci(base.values(*keys), cell.values(*keys))
            if r is not None:
                rows.append(_computed_row(metric, base, cell, r.ratio, r.lo, r.hi))
    order_w: dict[str | None, int] = {w: i for i, w in enumerate(run.workloads)}
    order_v: dict[str | None, int] = {v: i for i, v in enumerate(run.variants)}
    order_s = {s: i for i, s in enumerate(run.servers)}
    return sorted(rows, key=lambda r: (order_w.get(r.workload, 99), order_v.get(r.variant, 99),
                                       order_s.get(r.server or "", 99), r.baseline))


def _computed_row(metric: str, base: Cell, cell: Cell, ratio: float, lo: float | None,
                  hi: float | None, effect: str | None = None) -> Speedup:
    labels = {cell.variant: cell.limit, base.variant: base.limit}
    stated = metric == "rps" and any(labels.values())
    # Same wording as bench writes into results.json, so a computed row reads like a recorded one.
    return Speedup(cell.workload, cell.variant, base.variant, ratio, None if lo is None or hi is None else (lo, hi),
                   metric, cell.server, labels if stated else {},
                   phrase(ratio, cell.variant, base.variant, labels) if stated else None,
                   origin="computed", effect=effect)


def phrase(ratio: float, variant: str, baseline: str, labels: dict[str, str | None]) -> str:
    fast, slow = (variant, baseline) if ratio >= 1 else (baseline, variant)
    text = bn.speedup_phrase(max(ratio, 1 / ratio) if ratio else ratio, fast, labels.get(fast), slow,
                             labels.get(slow))
    return text if ratio >= 1 else f"{variant} is slower: {text} in favour of {baseline}"


def splits(run: Run) -> dict[str, Split]:
    """Per workload ("db", or under --servers "db under mod_wsgi"): the 2x2 split when the four variants of the
    table's square ran."""
    out: dict[str, Split] = {}
    sq = attribution.of_stack(run.stack).square()  # an --app-variant run: the application's own table
    if sq is None:
        return out
    for workload, server in server_groups(run):
        cells = [run.cell(workload, v, server) for v in sq.variants]
        if any(c is None for c in cells):
            continue
        split = decompose_2x2(*(c.rps_values for c in cells if c is not None))
        if split is not None:
            out[where(workload, server)] = split
    return out


def step_rows(run: Run) -> list[Speedup]:
    """Requests/s of each one-factor step the split and the speedup table do not show: "X vs Y"."""
    rows = []
    for workload, server in server_groups(run):
        for step in attribution.of_stack(run.stack).steps(run.variants):
            new, base = run.cell(workload, step.new, server), run.cell(workload, step.base, server)
            if new is None or base is None:
                continue
            r = ratio_ci(base.rps_values, new.rps_values)
            if r is not None:
                rows.append(_computed_row("rps", base, new, r.ratio, r.lo, r.hi, step.effect))
    return rows


def capacity(run: Run, target: int = TARGET_RPS) -> list[CapacityRow]:
    rows = []
    for cell in run.cells:
        s = cell.summary
        rpp = s.rps_per_process
        if rpp is None or rpp <= 0:
            continue
        # PSS of the processes that served (mod_wsgi: the daemons, not the relaying children) when recorded.
        rss, pss = s.rss_mb_per_process, s.serving_pss
        procs = math.ceil(target / rpp)
        rows.append(CapacityRow(
            cell.workload, cell.variant, rpp, rss, pss, procs,
            None if pss is None else procs * pss, None if rss is None else procs * rss, cell.limit_or_bound,
            cell.server,
        ))
    return rows


def cross_check(run: Run) -> list[CrossCheckRow]:
    """Cells where wrk measured too (older runs and runs without --cross-check: none)."""
    rows = []
    for c in run.cells:
        if not any(t.has_wrk for t in c.trials):
            continue
        s = c.summary
        rows.append(CrossCheckRow(c.workload, c.variant, s.rps, s.wrk_rps, s.locust_vs_wrk, c.server))
    return rows


def analyze(run: Run) -> Analysis:
    rows = speedup_rows(run)
    cpu_rows = speedup_rows(run, "requests_per_cpu_second")
    an = Analysis(run.cells, rows, cpu_rows, splits(run), capacity(run), cross_check=cross_check(run),
                  wrk_speedups=run.wrk_speedups, ceiling=run.ceiling,
                  saturation=run.saturation, servers=run.servers, steps=step_rows(run),
                  square=attribution.of_stack(run.stack).square(), baseline=attribution.of_stack(run.stack).baseline)
    # Only the format's own `speedups` count as missing; the CPU ones are an extra (their table says
    # "computed" in its "from" column).
    if any(r.origin == "computed" for r in rows):
        an.computed.append("speedups missing from results.json (bootstrap of the ratio of trial medians)")
    return an


def cpu_ms_per_request(requests_per_cpu_second: float | None) -> float | None:
    if requests_per_cpu_second is None or requests_per_cpu_second <= 0:
        return None
    return 1000.0 / requests_per_cpu_second
