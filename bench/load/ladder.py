"""The load of a cell, chosen by default: a short user ladder before its trials (the cheap form of --saturate).

A closed loop of U users reaches at most U / latency, so a fixed U measures the server's capacity only while U
is enough for the server's speed. Before a cell's trials `bench run` probes it at START_USERS, then doubles
(short probes on the warm server, no Apache restart between rungs) and stops at the first rung where:

- the server CPUs were at least SERVER_FULL busy (`server`; by the server, or on a busy machine by every process):
  the rate is a capacity (of what the machine left the server), the trials run at that load;
- the generator was the limit (`generator`: a Locust process or the generator CPUs full): more users cannot send
  more, the trials run at that load and their ratio is bound by the generator;
- p99 passed --max-p99 (`p99`): the trials run at the rung before (or the first, if none was below);
- doubling raised requests/s by less than MIN_GAIN (`plateau`): the trials run at the rung before;
- the ladder reached its top (`max users`: MAX_USERS, or the processes of a prefork server with keep-alive,
  `top_users`).

`--users N` fixes the load (no ladder); --saturate is the long form (full-length probes, a fresh Apache each).
"""

from __future__ import annotations

from bench.record.bottleneck import GENERATOR_BUSY, GENERATOR_SIDE, Verdict
from bench.record.ladder import Probe, Stop

START_USERS = 4
MAX_USERS = 32     # 4, 8, 16, 32: past that one Locust core is the limit long before the server on this suite
SERVER_FULL = 0.95  # of the server CPU set; the verdict's `server` starts at 0.90, a capacity wants this much
MIN_GAIN = 0.05
PROBE_S = 3.0        # each rung, warm-up included: the server is warm (primed, then the previous rung)
PROBE_WARMUP_S = 1.0


def top_users(mpm: str | None, processes: int | None, keepalive: bool, connection_close: bool) -> int:
    """The ladder's top. Under prefork with keep-alive each child holds one connection until it closes (after
    MaxKeepAliveRequests), so users above the processes wait in the listen backlog: on the 2-core machine 8 users on
    4 processes gave -8% req/s on pooled db and -49% on pooled fortunes, p99 x2 to x38. There the top is the
    processes; elsewhere (threads, event, --connection-close, --url) MAX_USERS."""
    if mpm == "prefork" and processes and keepalive and not connection_close:
        return min(MAX_USERS, processes)
    return MAX_USERS


def rungs(start: int = START_USERS, max_users: int = MAX_USERS) -> list[int]:
    """The users to try: start, 2 x start, ... up to max_users (at least one rung)."""
    out, u = [], max(1, start)
    while u <= max_users:
        out.append(u)
        u *= 2
    return out or [max_users]


def probe_of(users: int, rps: float | None, p99_ms: float | None, verdict: Verdict | None, rel: str) -> Probe:
    """A rung's record from its trial's figures."""
    v = verdict or Verdict()
    return Probe(users=users, rps=rps, p99_ms=p99_ms, server_util=v.server_util, server_set_util=v.server_set_util,
                 generator_busiest=v.generator_busiest, generator_util=v.generator_util, bottleneck=v.bottleneck,
                 dir=rel)


def stop_rule(probes: list[Probe], max_p99_ms: float, max_users: int = MAX_USERS) -> tuple[Stop, str, int] | None:
    """Why the ladder stops after its last rung, in words, and the users the trials run with; None: go on."""
    last = probes[-1]
    before = probes[-2] if len(probes) >= 2 else None
    users = last.users or 1
    if last.p99_ms is not None and last.p99_ms > max_p99_ms:
        chosen = before.users or users if before is not None else users
        return Stop.P99, f"p99 {last.p99_ms:.1f} ms at {users} users passed --max-p99 {max_p99_ms:g} ms", chosen
    if last.server_util is not None and last.server_util >= SERVER_FULL:
        return Stop.SERVER, f"server CPUs {100 * last.server_util:.0f}% busy at {users} users", users
    if last.server_set_util is not None and last.server_set_util >= SERVER_FULL:
        # a busy machine: other processes filled the server CPUs, more users cannot get more of them
        return (Stop.SERVER, f"server CPUs {100 * last.server_set_util:.0f}% busy at {users} users "
                f"({100 * (last.server_util or 0):.0f}% by the server, the rest by other processes)", users)
    generator = max(last.generator_busiest or 0.0, last.generator_util or 0.0)
    if generator >= GENERATOR_BUSY or last.bottleneck in GENERATOR_SIDE:
        return (Stop.GENERATOR, f"the generator was the limit at {users} users (busiest Locust process "
                f"{100 * (last.generator_busiest or 0):.0f}% of a core)", users)
    if before is not None and before.rps and last.rps is not None and last.rps / before.rps - 1 < MIN_GAIN:
        return (Stop.PLATEAU, f"{users} users raised requests/s by {100 * (last.rps / before.rps - 1):.1f}% "
                f"over {before.users} (less than {100 * MIN_GAIN:.0f}%)", before.users or users)
    if users * 2 > max_users:
        if max_users < MAX_USERS:  # top_users: one user per prefork process with keep-alive
            return (Stop.MAX_USERS, f"{users} users on {max_users} prefork processes with keep-alive: more would "
                    "wait in the listen backlog", users)
        return Stop.MAX_USERS, f"reached {users} users, the top of the ladder", users
    return None
