"""Samples every Apache child, PostgreSQL backend and load-generator process every 0.5 s from /proc.

Per process: RSS and PSS (smaps_rollup) and cumulative CPU. Per role, a `total` line whose CPU also
counts processes that already exited: a parent's cutime/cstime holds the CPU of the children it reaped,
so the many short-lived backends of connect-per-request (each lives ~3 ms, between two ticks) are
counted too. CPU over a window is the difference of two totals.
"""

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import psutil

INTERVAL_S = 0.5


def smaps_rollup_kb(pid: int) -> tuple[int | None, int | None]:
    """(rss_kb, pss_kb) from /proc/<pid>/smaps_rollup; (None, None) when unreadable."""
    rss = pss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_started(pid: int) -> float | None:
    """Wall-clock start of a process, to 1/CLK_TCK s.

    psutil's create_time() adds the boot time, which /proc/stat gives in whole seconds: up to 1 s off.
    The age from /proc/uptime and the start tick in /proc/<pid>/stat has no such error.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - (uptime - ticks / _CLK_TCK)


def _own_cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


class Sampler:
    """Background sampler writing samples.jsonl; roots maps role -> parent pid (Apache, postmaster, Locust)."""

    def __init__(self, roots: dict[str, int], out: Path, interval: float = INTERVAL_S):
        self.roots = {role: pid for role, pid in roots.items() if pid}
        self.out = out
        self.interval = interval
        self.totals: list[dict] = []   # {"t", "<role>_cpu_s"...}
        self.procs: dict[int, list[tuple[float, float]]] = {}  # pid -> [(t, cpu_s)] for generator pct
        self.roles: dict[int, str] = {}
        self.started: dict[int, float] = {}  # pid -> process start time (epoch s), of every process seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)

    def start(self) -> "Sampler":
        self._file = open(self.out, "w")
        self._tick()
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._tick()
        self._file.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._tick()

    def _tick(self) -> None:
        now = time.time()
        total = {"t": now, "role": "total"}
        # Busy seconds of every CPU, whoever used them: on a shared machine other processes can fill the
        # server's CPUs, and the bottleneck must not call that "too few users".
        for n, c in enumerate(psutil.cpu_times(percpu=True)):
            total[f"cpu{n}_cpu_s"] = round(sum(c) - c.idle - getattr(c, "iowait", 0.0), 3)
        for role, root_pid in self.roots.items():
            try:
                root = psutil.Process(root_pid)
                rt = root.cpu_times()
                cpu = rt.user + rt.system + rt.children_user + rt.children_system
                kids = root.children(recursive=(role == "generator"))
            except psutil.NoSuchProcess:
                continue
            members = [root, *kids] if role == "generator" else kids
            for p in members:
                try:
                    own = _own_cpu(p)
                except psutil.NoSuchProcess:
                    continue
                if p.pid != root_pid:
                    cpu += own
                rss, pss = smaps_rollup_kb(p.pid)
                line = {"t": round(now, 3), "pid": p.pid, "role": role, "rss_kb": rss, "pss_kb": pss,
                        "cpu_s": round(own, 3)}
                if p.pid not in self.procs:
                    # Process start time, once per process: how long a new child took to serve (bench tune).
                    started = process_started(p.pid)
                    if started is not None:
                        line["created"] = round(started, 3)
                        self.started[p.pid] = started
                self.procs.setdefault(p.pid, []).append((now, own))
                self.roles[p.pid] = role
                self._file.write(json.dumps(line) + "\n")
            total[f"{role}_cpu_s"] = round(cpu, 3)
        self.totals.append(total)
        self._file.write(json.dumps(total) + "\n")
        self._file.flush()

    def started_of(self, role: str) -> dict[int, float]:
        """Start times of the role's processes seen so far (for Apache: its children, not the parent)."""
        return {pid: t for pid, t in self.started.items() if self.roles.get(pid) == role}

    def cpu_between(self, role: str, start: float, end: float) -> float | None:
        """CPU seconds a role used in [start, end], interpolated between ticks."""
        pts = [(s["t"], s[f"{role}_cpu_s"]) for s in self.totals if f"{role}_cpu_s" in s]
        if len(pts) < 2:
            return None
        ts, cs = np.array(pts).T
        return float(np.interp(end, ts, cs) - np.interp(start, ts, cs))

    def busy_between(self, cpus: frozenset[int] | set[int], start: float, end: float) -> float | None:
        """Busy CPU seconds of the given CPUs in [start, end], by every process on the machine."""
        used = [self.cpu_between(f"cpu{n}", start, end) for n in sorted(cpus)]
        known = [u for u in used if u is not None]
        return None if not used or len(known) < len(used) else float(sum(known))

    def busiest_pct(self, role: str, start: float, end: float) -> float | None:
        """Highest CPU% of any single process of a role over the window (one process tops at one core)."""
        best = None
        for pid, pts in self.procs.items():
            if self.roles.get(pid) != role or len(pts) < 2:
                continue
            ts, cs = np.array(pts).T
            lo, hi = max(start, ts[0]), min(end, ts[-1])
            if hi - lo < self.interval:
                continue
            pct = 100 * (np.interp(hi, ts, cs) - np.interp(lo, ts, cs)) / (hi - lo)
            best = pct if best is None else max(best, pct)
        return None if best is None else round(float(best), 1)


def memory_summary(samples: Path, role: str, start: float, end: float, serving: set[int] | None = None) -> dict:
    """Median over processes of each process's median RSS/PSS in the window, in MB; also the PSS of all
    of them together and, given the PIDs that served requests (the access log's), the median PSS of those:
    under mod_wsgi's daemon mode the relaying Apache children and the Python daemons are both Apache's."""
    rss: dict[int, list[int]] = {}
    pss: dict[int, list[int]] = {}
    with open(samples) as f:
        for line in f:
            s = json.loads(line)
            if s.get("role") == role and start <= s["t"] <= end:
                if s.get("rss_kb") is not None:
                    rss.setdefault(s["pid"], []).append(s["rss_kb"])
                if s.get("pss_kb") is not None:
                    pss.setdefault(s["pid"], []).append(s["pss_kb"])

    def med(d: dict[int, list[int]]) -> float | None:
        return round(float(np.median([np.median(v) for v in d.values()])) / 1024, 2) if d else None

    out = {"rss_mb_per_process": med(rss), "pss_mb_per_process": med(pss),
           "pss_mb_total": round(sum(float(np.median(v)) for v in pss.values()) / 1024, 2) if pss else None}
    if serving is not None:
        out["pss_mb_serving"] = med({pid: v for pid, v in pss.items() if pid in serving})
    return out
