"""Faults during a trial, from what the trial recorded: children replaced, PostgreSQL restarted.

A fault is recorded and flagged, never a crash: the trial is kept (its failures counted) and the report
says what happened and when, as seconds after the trial started.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from bench.load.access_log import Entry


class FaultKind(StrEnum):
    """What a fault of trial.json `faults` is; the value is how its text says it (the JSON keeps the text)."""

    CHILD_REPLACED = "Apache child(ren) replaced"
    POSTGRES_RESTARTED = "postgres restarted"
    UNREACHABLE = "unreachable"


def kind(fault: str) -> FaultKind | None:
    """The kind of a recorded fault's text; None for one this suite does not name (a lost Locust worker ...)."""
    return next((k for k in FaultKind if k.value in fault), None)

# The children of a fixed pool are all forked within this of each other at Apache's start; one born later
# replaced a child that died.
POOL_START_SPREAD_S = 1.0


def replaced_children(entries: Iterable[Entry], t0: float, slots: int,
                      started: dict[int, float] | None = None) -> list[str]:
    """With a fixed pool and no recycling, children born after the pool's start, or more PIDs serving than
    slots, mean children died and were replaced.

    From the access log, each PID beyond the first `slots` (in order of first request) is a replacement, but
    a child killed before it served anything in the trial leaves no PID there. `started` (the sampler's start
    time per child) sees it: its replacement was born after the pool and after the trial began (`t0`; one
    born earlier replaced a child before this trial). The larger count wins, and the fault
    says when the replacements began. Apache's own recycling (MaxConnectionsPerChild > 0) is not a fault:
    callers skip this.
    """
    first: dict[int, float] = {}
    for e in entries:
        if e.pid:  # 0: Apache answered by itself (no handler, no X-Bench-Pid)
            first.setdefault(e.pid, e.t)
    by_log = sorted(first.values())[slots:]
    born = min(started.values()) if started else 0.0
    by_birth = sorted(t for t in (started or {}).values() if t > max(born + POOL_START_SPREAD_S, t0))
    late = by_birth if len(by_birth) >= len(by_log) else by_log
    if not late:
        return []
    when = ", ".join(f"+{t - t0:.1f}s" for t in late[:5]) + (" ..." if len(late) > 5 else "")
    return [f"{len(late)} {FaultKind.CHILD_REPLACED.value} during the trial (a child died): new PIDs at {when}"]


def postgres_restarted(before: float | None, after: float | None, t0: float) -> list[str]:
    """PostgreSQL's postmaster start time changed between the start and end of the trial."""
    if before is None or after is None or after == before:
        return []
    return [f"{FaultKind.POSTGRES_RESTARTED.value} at +{max(after - t0, 0.0):.1f}s"]


def unreachable(what: str, t0: float, at: float) -> list[str]:
    return [f"{what} {FaultKind.UNREACHABLE.value} at +{max(at - t0, 0.0):.1f}s"]
