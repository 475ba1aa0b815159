"""The per-process view of a run: what one serving Python process did with its threads (per_process_threads).

For each cell (under --servers each server entry, e.g. "mod_python:worker:1x4"), the median over its trials
of the per-process medians: requests/s, requests in service at once (busy threads: mean and peak), CPU %
(100 = one core) and requests per CPU second of its own. Under the GIL one process runs Python on one core
at a time, so a process near a full core with well over one request in service is GIL-bound. Folders from
before the figures were recorded have none: the report shows nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from bench.record.processes import process_medians
from bench.record.run_folder import Cell
from reports.kit.document import Table
from reports.kit.fmt import DASH, dash_or, fmt_num
from reports.run.analysis import where

GIL_CPU_PCT = 85.0  # "near 100% of a core": sampled CPU of a saturated process reads a little under 100
GIL_BUSY_THREADS = 1.5  # "well above 1": on average more than one request waits in the process


@dataclass(frozen=True)
class ProcessRow:
    """One cell's per-process figures, medians over its trials (None: not measured)."""

    workload: str
    variant: str
    server: str | None
    processes: float | None  # serving processes per trial
    threads: float | None  # threads per process the server ran with
    rps: float | None
    busy_threads: float | None
    busy_peak: float | None
    cpu_pct: float | None
    requests_per_cpu_s: float | None

    @property
    def gil_bound(self) -> bool:
        return (self.cpu_pct or 0) >= GIL_CPU_PCT and (self.busy_threads or 0) >= GIL_BUSY_THREADS


def process_rows(cells: list[Cell]) -> list[ProcessRow]:
    """A row per cell with at least one trial that recorded per_process_threads, in the cells' order."""
    rows = []
    for c in cells:
        m = process_medians([t.per_process_threads for t in c.trials])
        if m is None:
            continue
        threads = [t.threads for t in c.trials if t.threads is not None]
        rows.append(ProcessRow(c.workload, c.variant, c.server, m.processes, median(threads) if threads else None,
                               m.rps, m.busy_threads, m.busy_peak, m.cpu_pct, m.requests_per_cpu_s))
    return rows


def process_table(rows: list[ProcessRow], multi: bool) -> Table:
    out = [[r.workload, r.variant, *([r.server or DASH] if multi else []), fmt_num(r.processes),
            fmt_num(r.threads), fmt_num(r.rps), fmt_num(r.busy_threads), fmt_num(r.busy_peak),
            dash_or(r.cpu_pct, lambda v: f"{v:.0f}%"), fmt_num(r.requests_per_cpu_s)] for r in rows]
    return Table(["workload", "variant", *(["server"] if multi else []), "processes", "threads", "req/s",
                  "busy threads", "busy peak", "CPU", "req/CPU-s"], out,
                 "Per serving Python process, medians over trials of the processes' medians: its requests/s, "
                 "requests in service at once (busy threads: mean, and the most at one instant), its CPU "
                 "(100% = one core) and requests per CPU second of its own (PostgreSQL's share not included)")


def gil_sentences(rows: list[ProcessRow]) -> list[str]:
    """One sentence per cell whose process is near a full core with well over one request in service."""
    return [f"{r.variant} on {where(r.workload, r.server)}: a process uses {r.cpu_pct:.0f}% of a core with "
            f"{fmt_num(r.busy_threads)} requests in service on average. GIL-bound: its threads queue for the "
            "interpreter; more threads in it will not add throughput, more processes can where cores are free."
            for r in rows if r.gil_bound]
