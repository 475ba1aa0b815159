"""The "Load generator" section of a run page, for `bench run --workers` runs: each Locust worker's requests and
CPU share in every trial, the master's CPU, and the busiest process named where the generator was the limit.

Reads the typed trial rows only (`TrialRow.workers`, `master_pct`); runs without workers have no section.
"""

from __future__ import annotations

from bench.record.bottleneck import GENERATOR_SIDE
from bench.record.run_folder import Run
from bench.record.run_rows import GeneratorProcess, TrialRow
from reports.kit.document import Block, Bullets, Section, Table
from reports.kit.fmt import DASH, fmt_num


def _name(w: GeneratorProcess) -> str:
    return f"worker {w.host or '?'}/pid {w.pid or '?'}"


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{value:.0f}%"


def _busiest(t: TrialRow) -> GeneratorProcess | None:
    measured = [w for w in t.workers or () if w.cpu_pct is not None]
    return max(measured, key=lambda w: w.cpu_pct or 0.0, default=None)


def generator_table(trials: list[TrialRow]) -> Table:
    rows = []
    for t in trials:
        total = sum(w.requests or 0 for w in t.workers or ())
        for w in t.workers or ():
            share = DASH if not total or w.requests is None else f"{100 * w.requests / total:.0f}%"
            rows.append([f"{t.workload}/{t.variant} #{t.trial}", _name(w), fmt_num(w.requests), _pct(w.cpu_pct),
                         share, "lost during the trial" if w.lost else ""])
        rows.append([f"{t.workload}/{t.variant} #{t.trial}", "master (this machine)", DASH, _pct(t.master_pct),
                     DASH, ""])
    return Table(["trial", "Locust process", "requests", "CPU (% of a core)", "share of requests", "note"], rows,
                 "Each Locust worker in the steady window, from its own reports to the master (CPU seconds over "
                 "the window); the master sends no requests")


def generator_sentences(trials: list[TrialRow]) -> list[str]:
    ids = {w.id for t in trials for w in t.workers or ()}
    pids = {(w.host, w.pid) for t in trials for w in t.workers or ()}
    lines = [f"The load came from {len(ids)} Locust worker(s) through one master for the whole run; "
             + ("the same processes served every trial." if len(pids) == len(ids) else
                "workers changed during the run (see the notes).")]
    for t in trials:
        busiest = _busiest(t)
        if t.bottleneck in GENERATOR_SIDE and busiest is not None:
            lines.append(f"{t.workload}/{t.variant} #{t.trial} was limited by the generator: its busiest process "
                         f"was {_name(busiest)} at {_pct(busiest.cpu_pct)} of a core.")
        lost = [w for w in t.workers or () if w.lost]
        if lost:
            lines.append(f"{t.workload}/{t.variant} #{t.trial} lost {', '.join(_name(w) for w in lost)}: its rate "
                         "is not comparable with the other trials.")
    return lines


def generator_section(run: Run) -> Section | None:
    trials = [t for t in run.trials() if t.workers]
    if not trials:
        return None
    blocks: list[Block] = [Bullets(generator_sentences(trials)), generator_table(trials)]
    return Section("generator", "Load generator", blocks)
