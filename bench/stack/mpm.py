"""The Apache MPM of the generated httpd.conf: prefork (one request per process) or worker/event
(ThreadsPerChild requests per process), always as a fixed pool, and which server runs under which.

Facts measured on this Debian 12 machine (Apache 2.4.71, mod_python 3.5.0+git20211031, mod_wsgi 4.9.4,
tests/stack/test_threads_stack.py):
- mod_python runs under worker: the handlers run in the children's threads, T per process ("mod_python:
  Creating 4 session mutexes based on 0 max processes and 4 max threads" at start), 8 requests in flight on
  2 x 4, every TechEmpower check passing.
- mod_python under event: it starts and serves the same way (event hands each request to a worker thread as
  worker does; only idle keep-alive connections are held by the listener instead of a thread), so it is
  allowed, not refused.
- mod_wsgi daemon mode: `WSGIDaemonProcess ... threads=T` runs T threads per daemon; the Apache children
  only relay, so the front needs processes x threads slots whatever the MPM.
- mod_wsgi embedded mode runs under worker and event too.
- worker/event log "AH00287: server is within MinSpareThreads of MaxRequestWorkers" once per start with this
  fixed pool: like prefork's "reached MaxRequestWorkers", it means nothing here (ServerLimit stops spawning).
What does not work is refused in `check` with one line, before anything starts.

A leaf of bench.stack: it reads the settings through `Shape` (bench.stack.knobs.StackSettings is one), so the
settings can validate themselves with these rules without a circle.
"""

from pathlib import Path
from typing import Protocol

from bench.errors import UserError


class Shape(Protocol):
    """What the MPM rules read of the stack settings: the server, its mode and processes x threads."""

    server: str
    wsgi_mode: str
    mpm: str
    processes: int
    threads: int


MPMS = ("prefork", "worker", "event")
THREADED = ("worker", "event")
MAX_THREADS = 64  # ThreadLimit's compiled-in ceiling is 20000; past 64 a process is one GIL with a long queue
# server -> the MPMs it runs its Python under (measured, see above).
SUPPORTED: dict[str, tuple[str, ...]] = {"mod_python": MPMS, "mod_wsgi": MPMS}


def check(settings: Shape) -> None:
    """--mpm and --threads: a known MPM the server runs under, threads only where something holds them."""
    mpm, threads = settings.mpm, settings.threads
    if mpm not in MPMS:
        raise UserError(f"--mpm {mpm!r} is not valid: use {' or '.join(MPMS)}")
    if not 1 <= threads <= MAX_THREADS:
        raise UserError(f"--threads {threads} is out of range: allowed 1..{MAX_THREADS}")
    allowed = SUPPORTED.get(settings.server, MPMS)
    if mpm not in allowed:
        raise UserError(f"--mpm {mpm} is not supported with --server {settings.server}: use {' or '.join(allowed)}")
    if threads > 1 and mpm == "prefork" and not daemon(settings):
        raise UserError(f"--threads {threads} needs --mpm worker or event with --server {settings.server}"
                        + ("" if settings.server == "mod_python" else f" --wsgi-mode {settings.wsgi_mode}")
                        + ": prefork runs one request per process")


def daemon(settings: Shape) -> bool:
    """The Python runs in mod_wsgi daemons, not in the Apache children."""
    return settings.server == "mod_wsgi" and settings.wsgi_mode == "daemon"


def python_threads(settings: Shape) -> int:
    """Requests one Python process serves at once: its threads (1 under prefork)."""
    return settings.threads


def front_slots(settings: Shape) -> tuple[int, int]:
    """(Apache children, threads per child) of the front: under mod_wsgi daemon mode the children only relay,
    one request per slot, so they need processes x threads slots in all."""
    p, t = settings.processes, settings.threads
    if settings.mpm == "prefork":
        return (p * t, 1) if daemon(settings) else (p, 1)
    return (p, t)


def lines(settings: Shape, modules: str | Path) -> dict[str, str]:
    """${mpm_load} and ${mpm_pool} of httpd.conf.tmpl."""
    mpm = settings.mpm
    load = f"LoadModule mpm_{mpm}_module {modules}/mod_mpm_{mpm}.so"
    children, threads = front_slots(settings)
    if mpm == "prefork":
        pool = (f"# A fixed pool of {children} prefork children: no spawning or reaping during a measurement.\n"
                f"StartServers {children}\nMinSpareServers {children}\nMaxSpareServers {children + 1}\n"
                f"ServerLimit {children}\nMaxRequestWorkers {children}")
    else:
        slots = children * threads
        # MinSpareThreads = every slot: never reaps an idle child; ServerLimit caps spawning at the pool, so
        # a busy pool cannot start more. MaxSpareThreads must be >= MinSpareThreads + ThreadsPerChild (Apache
        # raises it otherwise and says so at every start).
        pool = (f"# A fixed pool of {children} {mpm} children x {threads} threads: no spawning or reaping during a "
                f"measurement.\nStartServers {children}\nServerLimit {children}\nThreadLimit {threads}\n"
                f"ThreadsPerChild {threads}\nMaxRequestWorkers {slots}\nMinSpareThreads {slots}\n"
                f"MaxSpareThreads {slots + threads}")
    return {"mpm_load": load, "mpm_pool": pool}
