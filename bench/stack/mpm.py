"""The Apache MPM of the generated httpd.conf: prefork (one request per process) or worker/event
(ThreadsPerChild requests per process), always as a fixed pool, and which server runs under which.

Facts measured on this Debian 12 machine (Apache 2.4.71, mod_python 3.5.0+git20211031, mod_wsgi 4.9.4,
tests/test_threads_stack.py):
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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.errors import UserError

if TYPE_CHECKING:
    from bench.stack.knobs import StackSettings

MPMS = ("prefork", "worker", "event")
THREADED = ("worker", "event")
MAX_THREADS = 64  # ThreadLimit's compiled-in ceiling is 20000; past 64 a process is one GIL with a long queue
# server -> the MPMs it runs its Python under (measured, see above).
SUPPORTED: dict[str, tuple[str, ...]] = {"mod_python": MPMS, "mod_wsgi": MPMS}


def check(settings: StackSettings) -> None:
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


def daemon(settings: StackSettings) -> bool:
    """The Python runs in mod_wsgi daemons, not in the Apache children."""
    return settings.server == "mod_wsgi" and settings.wsgi_mode == "daemon"


def python_threads(settings: StackSettings) -> int:
    """Requests one Python process serves at once: its threads (1 under prefork)."""
    return settings.threads


def front_slots(settings: StackSettings) -> tuple[int, int]:
    """(Apache children, threads per child) of the front: under mod_wsgi daemon mode the children only relay,
    one request per slot, so they need processes x threads slots in all."""
    p, t = settings.processes, settings.threads
    if settings.mpm == "prefork":
        return (p * t, 1) if daemon(settings) else (p, 1)
    return (p, t)


def python_preload(settings: StackSettings) -> str:
    """mod_python under worker/event: import the handlers at child start, before its threads take requests.
    Measured: a cold child's first concurrent requests each import handler_entry, and one thread sees
    psycopg2 half-initialised by another ("ImportError: cannot import name 'encodings' from '_psycopg'", HTTP
    500 until the child exits). PythonImport runs in the child's init, one thread, in the interpreter the
    requests use (named after ServerName, 127.0.0.1). Prefork keeps importing on the first request (its cold
    start is part of what bench tune measures)."""
    if settings.server != "mod_python" or settings.mpm not in THREADED:
        return ""
    from pathlib import Path

    from bench.stack.servers import SERVERS

    module = Path(SERVERS[settings.server].entry_point).stem
    return ("# Import the handlers at child start, before its threads take requests (bench.mpm.python_preload).\n"
            f"PythonImport {module} 127.0.0.1")


def lines(settings: StackSettings, modules: str) -> dict[str, str]:
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
