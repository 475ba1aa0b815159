"""The hidden queue: the accept queue of Apache's listening socket, sampled during a trial.

`%D` starts when a child has accepted the connection, so the time a request waits in the listen backlog
is invisible to it. For a socket in LISTEN state the kernel reports the accept queue's length as its
Recv-Q: `ss -Hltn 'sport = :PORT'` asks for the listening sockets only (used when installed: iproute2),
else the rx_queue of /proc/net/tcp and /proc/net/tcp6, which lists every socket (on a machine with
thousands in TIME_WAIT one read took ~100 ms here, against ~20 ms for ss). A thread samples every
INTERVAL_S (or ten times the CPU one read used, so it stays cheap) during the trial and appends each
sample to accept_queue.jsonl in the trial folder (the raw data beside the summary): `{"t": epoch, "queue":
n}`, n summed over the port's listening sockets (IPv4 and IPv6).

`summary` reduces the samples of the steady window to median, mean and maximum, and `queue_time` is
the client's latency minus the server's `%D` at the same percentile: the time a request spent outside a
child (the listen backlog, the client's own connection wait, the network), which tells "the server was
slow" from "the request waited for a process".
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

INTERVAL_S = 0.05
LISTEN = "0A"
TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
SS = shutil.which("ss", path="/usr/bin:/bin:/usr/sbin:/sbin")


def listen_queue(port: int) -> int | None:
    """The accept-queue length of the LISTEN sockets on `port` (summed), or None when none listens: from
    `ss` when it is installed (the kernel filters the listening sockets), else from /proc/net/tcp{,6}."""
    if SS is not None:
        try:
            out = subprocess.run([SS, "-Hltn", f"sport = :{port}"], capture_output=True, text=True, timeout=5,
                                 env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
        except (OSError, subprocess.TimeoutExpired):
            out = None
        if out is not None and out.returncode == 0:
            rows = [line.split() for line in out.stdout.splitlines() if line.strip()]
            return sum(int(r[1]) for r in rows if len(r) > 1 and r[1].isdigit()) if rows else None
    return proc_listen_queue(port)


def proc_listen_queue(port: int, tables: tuple[str, ...] = TABLES) -> int | None:
    """The same from /proc/net/tcp and tcp6 (slow with many sockets: the kernel prints every one)."""
    found, queued = False, 0
    for table in tables:
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 5 or parts[3] != LISTEN or not parts[1].endswith(f":{port:04X}"):
                continue
            found, queued = True, queued + int(parts[4].split(":")[1], 16)
    return queued if found else None


class AcceptQueueSampler:
    """Samples the accept queue of `port` into `out` (accept_queue.jsonl) until stopped."""

    def __init__(self, port: int, out: Path, interval_s: float = INTERVAL_S):
        self.port, self.out, self.interval_s = port, out, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="accept-queue", daemon=True)

    def start(self) -> AcceptQueueSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        with open(self.out, "w") as f:
            while not self._stop.is_set():
                cpu, wall = _cpu_s(), time.perf_counter()
                found = listen_queue(self.port)
                if found is not None:
                    f.write(json.dumps({"t": round(time.time(), 3), "queue": found}) + "\n")
                    f.flush()  # written as produced
                # /proc/net/tcp lists every socket (thousands in TIME_WAIT without keep-alive): keep this
                # thread under about a tenth of a core however long one read takes. The CPU a read used, not
                # its wall time: on a busy machine `ss` waits for a CPU, and pacing by that once left a 4 s
                # window with 2 samples. Capped by the wall time: the children's CPU is the whole process's,
                # and another child reaped meanwhile (Locust at the trial's end) is not this read's cost.
                used = min(_cpu_s() - cpu, time.perf_counter() - wall)
                self._stop.wait(max(self.interval_s, 10 * used))


def _cpu_s() -> float:
    """CPU seconds of this thread and of the reaped children (`ss`): what one read costs."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.thread_time() + children.ru_utime + children.ru_stime


def read_samples(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by an interrupt
    return out


def summary(samples: list[dict], start: float, end: float) -> dict:
    """Median, mean and maximum accept-queue length over the samples inside [start, end)."""
    values = np.array([s["queue"] for s in samples if start <= s["t"] < end], dtype=float)
    if not values.size:
        return {"samples": 0, "median": None, "mean": None, "max": None, "nonzero_share": None}
    return {"samples": int(values.size), "median": float(np.median(values)), "mean": round(float(values.mean()), 3),
            "max": int(values.max()), "nonzero_share": round(float((values > 0).mean()), 4)}


def queue_time(client: dict, server: dict | None) -> dict:
    """Client latency minus `%D` at p50 and p99 (ms): the time outside a child; None where either is missing."""
    out: dict = {"from": "client latency minus %D"}
    for q in ("p50", "p99"):
        c, s = client.get(f"{q}_ms"), (server or {}).get(f"{q}_ms")
        out[f"{q}_ms"] = None if c is None or s is None else round(max(0.0, c - s), 3)
    return out
