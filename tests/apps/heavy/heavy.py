"""A test application with a heavy warm-up: `bench run/tune --app tests/apps/heavy --app-handler heavy`.

Real frameworks pay seconds on a new process's first request (imports, URL maps, templates compiled, ORM
models introspected), and that cost is mostly CPU. So this handler, on its first request in a process, computes
for WARMUP_S seconds of wall-clock time, building a table of digests it then keeps: CPU work, not a sleep (a
sleep would cost a child its slot but leave the CPU to the others, which is not what a real warm-up does to a
CPU-bound server), bounded by the clock rather than by CPU seconds so that the first request costs the same
1.5 s on a shared 2-core machine as on a quiet one (four children warming at once on one CPU would otherwise
take 4 x as long and a short trial would see no request at all). Not at import: bench checks the handler by
importing it, and mod_python imports it on the first request anyway. Every later request spends REQUEST_MS
of CPU (thread time) and answers a small page. Memory: the table is built once (a few MB); nothing grows per
request, so no growth per request can be measured.

PythonOptions (--app-option): heavy.warmup_s (default 1.5, wall clock), heavy.request_ms (default 5, CPU).
Standard library only.
"""

import hashlib
import os
import time

from mod_python import apache

WARMUP_S = 1.5
REQUEST_MS = 5.0
_table: dict[int, bytes] | None = None  # built on first use in this process


def _burn(seconds: float, keep: dict[int, bytes] | None = None, clock=time.thread_time) -> int:
    """Hash until `seconds` of `clock` have passed (this thread's CPU by default); keep digests in `keep`."""
    end, n, digest = clock() + seconds, 0, b"heavy"
    while clock() < end:
        for _ in range(200):
            digest = hashlib.sha256(digest).digest()
            n += 1
            if keep is not None and len(keep) < 100_000:
                keep[n] = digest
    return n


def _option(req, name: str, default: float) -> float:
    try:
        return float(req.get_options().get(name, default))
    except ValueError:
        return default


def handler(req):
    global _table
    cold = _table is None
    if cold:
        table: dict[int, bytes] = {}
        _burn(_option(req, "heavy.warmup_s", WARMUP_S), table, clock=time.monotonic)
        _table = table
    _burn(_option(req, "heavy.request_ms", REQUEST_MS) / 1000)
    body = (f"<!doctype html><title>heavy</title><p>pid {os.getpid()}, "
            f"{len(_table)} entries, {'cold' if cold else 'warm'}</p>\n").encode()
    req.content_type = "text/html; charset=utf-8"
    req.set_content_length(len(body))
    req.write(body)
    return apache.OK
