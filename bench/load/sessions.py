"""`bench sessions`: state kept in a module global is per process; how often is a returning client forgotten?

For every process count and keep-alive mode the stack is started afresh and a small bounded client drives
returning clients: each client comes back for visits of VISIT_REQUESTS requests (one connection per visit
with keep-alive on, a new connection per request with keep-alive off), to /session/process (a visit counter
in a module global) and then to /session/shared (the counter in PostgreSQL through the pool).

Two rates per configuration, over the returning requests (those that sent the cookie):
- forgotten: served by another process than the one that issued the cookie, where a session kept in
  process memory (a login) lives. About 1 - 1/N when requests spread over N processes.
- unknown: X-Bench-Session-Known: 0, the serving process had never seen the session at all (lower than
  forgotten: a process learns the session on the first visit it serves).
/session/shared never forgets (the store is shared); its cost per request is the extra server time (%D
from the access log, medians) over /session/process.

The client is our own http.client loop rather than Locust: the figure is a per-request count of a header,
not a rate, and it must be exact and repeatable (a seeded choice of which client returns next).
"""

import http.client
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import paths, stack
from bench.errors import UserError
from bench.load import access_log, machine
from bench.record.sessions import SessionsRecord
from bench.stack.knobs import StackSettings
from bench.vocabulary import SESSION_COOKIE, SESSIONS

CLIENTS = 8
VISIT_REQUESTS = 5
SEED = 11
TIMEOUT_S = 10


def parse_processes(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--processes {text!r} is not a comma list of numbers such as 1,2,4,8") from None
    if not values or any(not 1 <= v <= 64 for v in values):
        raise UserError(f"--processes {text!r}: give process counts in 1..64, such as 1,2,4,8")
    return list(dict.fromkeys(values))


def parse_keepalive(text: str) -> list[bool]:
    modes = {"on": [True], "off": [False], "both": [False, True]}
    if text not in modes:
        raise UserError(f"--keepalive {text!r} is not valid: use on, off or both")
    return modes[text]


class _Client:
    """One returning client: its cookie, the pid that issued it, and what it saw."""

    def __init__(self) -> None:
        self.cookie: str | None = None
        self.creator: str | None = None


def _get(conn: http.client.HTTPConnection, path: str, cookie: str | None, close: bool) -> tuple[int, dict]:
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
    if close:
        headers["Connection"] = "close"
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}


def drive(url: str, store: str, requests: int, keepalive: bool, clients: int = CLIENTS,
          visit: int = VISIT_REQUESTS, seed: int = SEED) -> dict:
    """Send `requests` requests to /session/{store} as returning clients; count forgotten and unknown."""
    host, port = url.removeprefix("http://").split(":")
    rng = random.Random(seed)
    people = [_Client() for _ in range(clients)]
    returning = forgotten = unknown = 0
    pids: set[str] = set()
    sent = 0
    while sent < requests:
        person = rng.choice(people)
        n = min(visit, requests - sent)
        kept = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT_S) if keepalive else None
        conn = kept
        try:
            for _ in range(n):
                conn = kept if kept is not None else http.client.HTTPConnection(host, int(port), timeout=TIMEOUT_S)
                status, headers = _get(conn, f"/session/{store}", person.cookie, close=kept is None)
                if kept is None:
                    conn.close()
                if status != 200:
                    raise UserError(f"/session/{store} answered HTTP {status}")
                pid = headers.get("x-bench-pid", "")
                pids.add(pid)
                if person.cookie is None:
                    cookie = headers.get("set-cookie", "").split(";", 1)[0].partition("=")[2]
                    if not cookie:
                        raise UserError(f"/session/{store} set no {SESSION_COOKIE} cookie for a new client")
                    person.cookie, person.creator = cookie, pid
                else:
                    returning += 1
                    forgotten += pid != person.creator
                    unknown += headers.get("x-bench-session-known") == "0"
                sent += 1
        finally:
            if conn is not None:
                conn.close()
    return {"requests": sent, "returning": returning, "forgotten": forgotten, "unknown": unknown,
            "forgotten_rate": round(forgotten / returning, 4) if returning else None,
            "unknown_rate": round(unknown / returning, 4) if returning else None,
            "pids_seen": len(pids)}


def _server_ms(entries: list[access_log.Entry], path: str) -> float | None:
    times = [e.micros / 1000 for e in entries if e.path == path and e.status == 200]
    return round(statistics.median(times), 3) if times else None


def measure_one(base: StackSettings, processes: int, keepalive: bool, requests: int, state: Path) -> dict:
    """Start the stack afresh with these settings, drive both endpoints, stop it."""
    settings = replace(base, processes=processes, keepalive=keepalive).validate()
    live = stack.up(settings, state=state)
    try:
        offset = live.apache.access_log.stat().st_size
        result: dict[str, Any] = {"processes": processes, "keepalive": keepalive,
                                  "expected_forgotten_rate": round(1 - 1 / processes, 4)}
        for store in SESSIONS:
            result[store] = drive(live.url, store, requests, keepalive)
        time.sleep(0.2)  # the last access-log lines
        slice_file = state / "sessions-access.log"
        access_log.copy_slice(live.apache.access_log, offset, slice_file)
        entries = access_log.read(slice_file)
        for store in SESSIONS:
            result[store]["server_ms_p50"] = _server_ms(entries, f"/session/{store}")
        p, s = result["process"]["server_ms_p50"], result["shared"]["server_ms_p50"]
        result["shared_extra_ms"] = round(s - p, 3) if p is not None and s is not None else None
        return result
    finally:
        stack.down(state)


def execute(base: StackSettings, processes: list[int], keepalive: list[bool], requests: int,
            state: Path | None = None, log: Callable[[str], object] = print) -> Path:
    """Every (process count, keep-alive mode); returns the run folder holding sessions.json."""
    if requests < 2 * VISIT_REQUESTS:
        raise UserError(f"--requests {requests} is too few: use at least {2 * VISIT_REQUESTS}")
    state = state or paths.state_dir()
    run_dir = paths.new_run_folder("sessions")
    record = SessionsRecord(run_dir, clients=CLIENTS, visit_requests=VISIT_REQUESTS, seed=SEED, requests=requests,
                            settings=base.to_dict(), environment={"machine": machine.machine()})
    for n_proc in processes:
        for ka in keepalive:
            log(f"{n_proc} processes, keep-alive {'on' if ka else 'off'}: {requests} requests per endpoint ...")
            record.add_result(measure_one(base, n_proc, ka, requests, state))
    record.finish()
    return run_dir
