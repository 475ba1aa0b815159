"""The second instrument: `wrk` against the endpoint a Locust trial just measured, same connections and CPUs.

wrk is a C event loop that sends far more requests per core than Locust: where the two agree the figure is
the server's; where wrk is much faster, Locust was the limit. It checks Locust, never replaces it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from bench.errors import UserError

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def check_installed() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise UserError("--cross-check needs wrk: install the Debian package wrk (scripts/bootstrap.sh does)")
    return path


def command(url: str, connections: int, duration_s: int, connection_close: bool = False) -> list[str]:
    # One thread: the generator CPU set is usually one core, and one thread per core is wrk's own advice.
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", "--timeout", "10s"]
    if connection_close:
        cmd += ["-H", "Connection: close"]
    return [*cmd, url]


def _ms(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse(output: str) -> dict:
    """Requests/s, requests, errors and latency percentiles from wrk's --latency output."""
    out: dict = {"rps": None, "requests": None, "errors": 0, "non_2xx": 0, "p50_ms": None, "p99_ms": None}
    if m := re.search(r"Requests/sec:\s+([0-9.]+)", output):
        out["rps"] = round(float(m.group(1)), 2)
    if m := re.search(r"(\d+) requests in", output):
        out["requests"] = int(m.group(1))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        out["non_2xx"] = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        out["errors"] = sum(int(x) for x in m.groups())
    for p in ("50", "99"):
        if m := re.search(rf"^\s+{p}(?:\.000)?%\s+(\S+)", output, re.M):
            out[f"p{p}_ms"] = round(_ms(m.group(1)), 3)
    return out


def measure(url: str, connections: int, duration_s: int, cpus: frozenset[int] | None, out_file: Path,
            connection_close: bool = False) -> dict:
    """Run wrk (pinned to `cpus` when given), keep its raw output in `out_file`, return the parsed figures."""
    check_installed()
    cmd = command(url, connections, duration_s, connection_close)
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 30, preexec_fn=pin,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"})
    except subprocess.TimeoutExpired as exc:
        raise UserError(f"wrk did not finish within {duration_s + 30} s against {url}") from exc
    out_file.write_text(" ".join(cmd) + "\n" + done.stdout + done.stderr)
    figures = parse(done.stdout)
    figures["command"] = cmd
    figures["exit"] = done.returncode
    return figures
