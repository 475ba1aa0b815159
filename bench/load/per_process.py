"""Per-process figures of a trial, for threaded servers: what one Python process did with its threads.

From what the trial already wrote: the access log (each request's end time and %D service time, the serving
process) and samples.jsonl (each Apache process's CPU seconds, sampled). For each serving process, in the
steady window:
- rps: requests it completed per second;
- busy_threads: mean requests in service at once, sum of service times / window (Little's law; 1 at most
  under prefork, up to --threads with threads);
- busy_peak: the most requests in service at the same instant (intervals [end - %D, end] overlapping);
- cpu_pct: its CPU use, 100 = one core. Under the GIL one process runs Python on one core at a time: a
  process near 100% with busy_threads well above 1 is GIL-bound, its threads queue for the interpreter;
- requests_per_cpu_s: its requests per CPU second of its own (PostgreSQL's share not included).

The medians per cell are computed once (bench.record.processes): bench.console prints them (`per_process_table`),
the run report shows them (reports/run/threads.py).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.load.access_log import Entry


def busy_peak(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at the same instant (an end before a start at equal times)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    peak = now = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def cpu_seconds(samples: Path, start: float, end: float) -> dict[int, float]:
    """CPU seconds each sampled Apache process used in [start, end], from its first and last sample inside,
    scaled to the window."""
    seen: dict[int, list[tuple[float, float]]] = defaultdict(list)
    try:
        with open(samples) as f:
            for line in f:
                s = json.loads(line)
                if s.get("role") == "apache" and "pid" in s and start <= s["t"] <= end:
                    seen[s["pid"]].append((s["t"], s["cpu_s"]))
    except (OSError, ValueError):
        return {}
    out = {}
    for pid, pts in seen.items():
        (t0, c0), (t1, c1) = pts[0], pts[-1]
        if t1 > t0:
            out[pid] = (c1 - c0) / (t1 - t0) * (end - start)
    return out


def figures(entries: list[Entry], samples: Path, start: float, end: float) -> list[dict[str, Any]]:
    """One dict per serving process (see the module docstring), by pid."""
    window = max(end - start, 1e-9)
    by_pid: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for e in entries:
        if e.pid and start <= e.t < end:
            by_pid[e.pid].append((e.t - e.micros / 1e6, e.t))
    cpu = cpu_seconds(samples, start, end)
    out = []
    for pid, spans in sorted(by_pid.items()):
        used = cpu.get(pid)
        out.append({"pid": pid, "requests": len(spans), "rps": round(len(spans) / window, 2),
                    "busy_threads": round(sum(e - s for s, e in spans) / window, 3),
                    "busy_peak": busy_peak(spans),
                    "cpu_pct": None if used is None else round(100 * used / window, 1),
                    "requests_per_cpu_s": round(len(spans) / used, 1) if used else None})
    return out


def recorded_trials(run_dir: Path) -> list[dict[str, Any]]:
    """The trial.json of each trial of a run folder that recorded per_process_threads (bench.console prints
    them); unreadable ones are skipped."""
    out = []
    for f in sorted(run_dir.glob("trials/*/trial.json")):
        try:
            t = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if t.get("per_process_threads") is not None:
            out.append(t)
    return out
