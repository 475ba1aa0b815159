"""Faults during a trial, from what the trial recorded: children replaced, PostgreSQL restarted.

A fault is recorded and flagged, never a crash: the trial is kept (its failures counted) and the report
says what happened and when, as seconds after the trial started.
"""

from __future__ import annotations

from collections.abc import Iterable

from bench.load.access_log import Entry


def replaced_children(entries: Iterable[Entry], t0: float, slots: int) -> list[str]:
    """With a fixed pool and no recycling, more PIDs than slots means children died and were replaced.

    Each PID beyond the first `slots` (in order of first request) is a replacement; the fault says when it
    began to serve. Apache's own recycling (MaxConnectionsPerChild > 0) is not a fault: callers skip this.
    """
    first: dict[int, float] = {}
    for e in entries:
        if e.pid:  # 0: Apache answered by itself (no handler, no X-Bench-Pid)
            first.setdefault(e.pid, e.t)
    if len(first) <= slots:
        return []
    late = sorted(first.values())[slots:]
    when = ", ".join(f"+{t - t0:.1f}s" for t in late[:5]) + (" ..." if len(late) > 5 else "")
    return [f"{len(late)} Apache child(ren) replaced during the trial (a child died): new PIDs at {when}"]


def postgres_restarted(before: float | None, after: float | None, t0: float) -> list[str]:
    """PostgreSQL's postmaster start time changed between the start and end of the trial."""
    if before is None or after is None or after == before:
        return []
    return [f"postgres restarted at +{max(after - t0, 0.0):.1f}s"]


def unreachable(what: str, t0: float, at: float) -> list[str]:
    return [f"{what} unreachable at +{max(at - t0, 0.0):.1f}s"]
