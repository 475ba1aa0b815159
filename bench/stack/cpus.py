"""CPU partition: the server (Apache + PostgreSQL) and the load generator (Locust) on disjoint CPUs.

A load generator that shares CPUs with the server measures their contention, not the server: on 2 cores,
shared CPUs gave pooled/naive 17x under Locust while wrk saw 45x; with the server on CPU 0 and the
generator on CPU 1, wrk 48.7x and Locust 44.4x. Affinity is set before the parents fork (children inherit
it) and checked after start.

Default (at least 2 usable CPUs): the server gets all but the last, the generator the last. One Locust
process tops out near one core, while the server is many processes that scale with cores, so the
generator gets one CPU and the server the rest (on 2 CPUs: server 0, generator 1). With one CPU, or with
--no-partition, nothing is pinned.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from bench.errors import UserError

CpuSet = frozenset[int]


def available() -> CpuSet:
    """The CPUs this process may run on (online and allowed by its affinity / cgroup cpuset)."""
    return frozenset(os.sched_getaffinity(0))


def format_cpus(cpus: CpuSet) -> str:
    """Linux CPU-list syntax: {0, 1, 2, 5} -> '0-2,5'."""
    out: list[str] = []
    run: list[int] = []
    for c in sorted(cpus):
        if run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [c]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(out)


def parse_cpus(text: str, name: str = "--server-cpus", allowed: CpuSet | None = None) -> CpuSet:
    """Parse '0', '0-2,5' into a set of CPUs, each usable here; UserError naming the bad part otherwise."""
    allowed = available() if allowed is None else allowed
    cpus: set[int] = set()
    if not text or not text.strip():
        raise UserError(f"{name} is empty: give a CPU list such as 0 or 0-2,5")
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi if sep else lo)
        except ValueError:
            raise UserError(f"{name} {text!r} is not a CPU list: {part!r} is not a number or range "
                            "(use 0 or 0-2,5)") from None
        if first < 0 or last < first:
            raise UserError(f"{name} {text!r} is not a CPU list: {part!r} is not an increasing range")
        cpus.update(range(first, last + 1))
    missing = sorted(cpus - allowed)
    if missing:
        raise UserError(f"{name} {text!r}: CPU {format_cpus(frozenset(missing))} is not online or not allowed "
                        f"here (available: {format_cpus(allowed)})")
    return frozenset(cpus)


@dataclass(frozen=True)
class Partition:
    server: CpuSet | None      # None: not pinned
    generator: CpuSet | None

    @property
    def server_list(self) -> str | None:
        return format_cpus(self.server) if self.server else None

    @property
    def generator_list(self) -> str | None:
        return format_cpus(self.generator) if self.generator else None


def partition(server: str | None = None, generator: str | None = None, no_partition: bool = False,
              allowed: CpuSet | None = None) -> Partition:
    """The CPU sets of server and generator from the options; checked before anything starts."""
    allowed = available() if allowed is None else allowed
    if no_partition:
        if server is not None or generator is not None:
            raise UserError("--no-partition cannot be combined with --server-cpus or --generator-cpus")
        return Partition(None, None)
    s = parse_cpus(server, "--server-cpus", allowed) if server is not None else None
    g = parse_cpus(generator, "--generator-cpus", allowed) if generator is not None else None
    if s is not None and g is not None:
        both = s & g
        if both:
            raise UserError(f"--server-cpus {server} and --generator-cpus {generator} overlap on CPU "
                            f"{format_cpus(both)}: the generator must not share CPUs with the server")
        return Partition(s, g)
    # One side given: the other gets the rest (or stays unpinned when nothing is left).
    if s is not None:
        rest = allowed - s
        return Partition(s, rest or None)
    if g is None:  # neither given
        if len(allowed) < 2:
            return Partition(None, None)
        last = max(allowed)
        return Partition(allowed - {last}, frozenset({last}))
    rest = allowed - g
    if not rest:
        raise UserError(f"--generator-cpus {generator} leaves no CPU for the server (available: "
                        f"{format_cpus(allowed)})")
    return Partition(rest, g)


def pin(cpus: CpuSet | None) -> Callable[[], None] | None:
    """A subprocess preexec_fn that sets the affinity before exec, so every later fork inherits it."""
    if not cpus:
        return None
    frozen = set(cpus)
    return lambda: os.sched_setaffinity(0, frozen)


def off_set(pids: list[int], cpus: CpuSet) -> dict[int, str]:
    """{pid: its CPU list} of the processes whose affinity is not within cpus (gone processes skipped)."""
    bad = {}
    for pid in pids:
        try:
            got = frozenset(os.sched_getaffinity(pid))
        except (ProcessLookupError, PermissionError):
            continue
        if not got <= cpus:
            bad[pid] = format_cpus(got)
    return bad


def check(pids: list[int], cpus: CpuSet | None, what: str) -> None:
    """Raise UserError when any of pids may run outside cpus."""
    if not cpus:
        return
    bad = off_set(pids, cpus)
    if bad:
        shown = ", ".join(f"{pid} on {lst}" for pid, lst in sorted(bad.items()))
        raise UserError(f"{what} not confined to CPUs {format_cpus(cpus)}: {shown}")


def family(pid: int | None) -> list[int]:
    """pid and all of its descendants."""
    if not pid:
        return []
    try:
        p = psutil.Process(pid)
        return [pid, *(c.pid for c in p.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []
