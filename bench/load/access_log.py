"""The Apache access log written by our LogFormat: server-side counts and latency no client can distort.

Line format (see httpd.conf.tmpl):
    <end epoch s.us> <serving Python process: X-Bench-Pid, "-" -> 0 when Apache answered alone>
    <keep-alive request number %k> <status> <service us %D> <bytes> <method>
    <path+query> <X-Bench-Cold or -> <X-Bench-Served or -> <client port %{remote}p>

The client port names the connection: under threaded MPMs a process serves several connections at once (and
the event MPM may hand one connection's requests to different threads), so connections are told apart by
port, not by process. Logs from before the field have 10 fields; their connections are grouped per process.

A user's application (--app) sets no X-Bench-Cold: when no line of a log carries the flag, the first
COLD_REQUESTS requests of each process count as its cold ones (the import of the handler module, its first
template and connection happen there), so the cost of a new child is measured the same way.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.record.stats import percentiles_ms

COLD_REQUESTS = 3


@dataclass
class Entry:
    t: float
    pid: int
    keepalive: int
    status: int
    micros: int
    path: str
    cold: bool
    served: int | None
    flagged: bool = True  # the line carried X-Bench-Cold (0 or 1): "-" means the server set none
    conn: int | None = None  # the client's port: which connection (None: a log from before the field)


def parse_line(line: str) -> Entry | None:
    parts = line.split()
    if len(parts) < 10:
        return None
    try:
        return Entry(t=float(parts[0]), pid=0 if parts[1] == "-" else int(parts[1]), keepalive=int(parts[2]),
                     status=int(parts[3]),
                     micros=int(parts[4]), path=parts[7], cold=parts[8] == "1",
                     served=int(parts[9]) if parts[9].isdigit() else None, flagged=parts[8] != "-",
                     conn=int(parts[10]) if len(parts) > 10 and parts[10].isdigit() else None)
    except ValueError:
        return None


def read(path: Path) -> list[Entry]:
    with open(path, encoding="utf-8", errors="replace") as f:
        entries = [e for e in map(parse_line, f) if e is not None]
    if entries and not any(e.flagged for e in entries):
        mark_first_requests_cold(entries)
    return entries


def mark_first_requests_cold(entries: list[Entry], n: int = COLD_REQUESTS) -> None:
    """Cold = each process's first n requests in the log (in the order they ended), for servers that do not
    say which requests were cold."""
    seen: Counter = Counter()
    for e in sorted(entries, key=lambda e: e.t):
        if e.pid:
            seen[e.pid] += 1
            e.cold = seen[e.pid] <= n


def copy_slice(log: Path, offset: int, dest: Path) -> int:
    """Copy what the log gained since offset into dest; returns the new offset."""
    with open(log, "rb") as src, open(dest, "wb") as out:
        src.seek(offset)
        data = src.read()
        # Only whole lines: a line still being written belongs to the next slice.
        cut = data.rfind(b"\n") + 1
        out.write(data[:cut])
    return offset + cut


def window_summary(entries: list[Entry], start: float, end: float) -> dict:
    """Requests, rps and latency in [start, end), overall and per process."""
    inside = [e for e in entries if start <= e.t < end]
    seconds = max(end - start, 1e-9)
    by_pid: dict[int, list[int]] = defaultdict(list)
    for e in inside:
        if e.pid:  # 0: answered by Apache itself, not by a handler process
            by_pid[e.pid].append(e.micros)
    per_process = [
        {"pid": pid, "requests": len(m), "rps": round(len(m) / seconds, 2)} | percentiles_ms(m, (50, 99))
        for pid, m in sorted(by_pid.items())
    ]
    overall = percentiles_ms([e.micros for e in inside], (50, 90, 99))
    return {
        "requests": len(inside),
        "rps": round(len(inside) / seconds, 2),
        **overall,
        "processes": len(by_pid),
        "per_process": per_process,
        "status": {str(k): v for k, v in sorted(Counter(e.status for e in inside).items())},
        "keepalive_max": max((e.keepalive for e in inside), default=0),
    }


def timeline(entries: list[Entry], t0: float, warmup_s: float, duration_s: float) -> dict:
    """Per-second completed requests from t0, overall and per pid (timeline.json)."""
    n = int(np.ceil(warmup_s + duration_s)) + 1
    total = np.zeros(n, dtype=int)
    per_pid: dict[int, np.ndarray] = {}
    for e in entries:
        i = int(e.t - t0)
        if 0 <= i < n:
            total[i] += 1
            per_pid.setdefault(e.pid, np.zeros(n, dtype=int))[i] += 1
    return {"t0": t0, "warmup_s": warmup_s, "duration_s": duration_s, "seconds": list(range(n)),
            "requests": total.tolist(), "per_pid": {str(p): v.tolist() for p, v in sorted(per_pid.items())}}
