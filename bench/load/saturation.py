"""`bench run --saturate`: raise a cell's users until something other than the load is the limit.

A closed loop of U users reaches at most U / latency. Before its trials each cell is probed at U, 2U, 4U ...
(short runs, fresh Apache each) and stops at the first step where the server is the bottleneck, the
generator saturates, p99 passes the bound, doubling bought less than MIN_GAIN, or MAX_USERS is reached.
The cell's trials then run at its knee: the fewest users that reach (within MIN_GAIN) the best rate
seen within the p99 bound.
"""

from __future__ import annotations

from bench.record.bottleneck import GENERATOR_SIDE, Bottleneck
from bench.record.run_rows import SaturationStep as Step

MIN_GAIN = 0.05        # doubling the users must raise requests/s by more than this to be worth it
DEFAULT_MAX_P99_MS = 100.0
MAX_USERS = 256        # a bound on the probe, far above what one Locust core drives usefully


def ladder(start: int, max_users: int = MAX_USERS) -> list[int]:
    """The users to try: start, 2 x start, ... up to max_users."""
    out, u = [], max(1, start)
    while u <= max_users:
        out.append(u)
        u *= 2
    return out or [max_users]


def stop_reason(steps: list[Step], max_p99_ms: float, max_users: int = MAX_USERS) -> str | None:
    """Why the probe stops after the last step, or None to go on doubling."""
    last = steps[-1]
    if last.bottleneck == Bottleneck.SERVER:
        return "the server is the bottleneck"
    if last.bottleneck in GENERATOR_SIDE:
        return "the generator is saturated"
    if last.p99_ms is not None and last.p99_ms > max_p99_ms:
        return f"p99 {last.p99_ms:.1f} ms passed the bound {max_p99_ms:g} ms"
    if len(steps) >= 2 and _gain(steps[-2], last) <= MIN_GAIN:
        return f"doubling the users raised requests/s by {100 * _gain(steps[-2], last):.1f}% only"
    if last.users * 2 > max_users:
        return f"reached {last.users} users (the most the probe tries: {max_users})"
    return None


def _gain(before: Step, after: Step) -> float:
    if not before.rps or after.rps is None:
        return 0.0
    return after.rps / before.rps - 1


def knee(steps: list[Step], max_p99_ms: float) -> Step:
    """The fewest users whose rate is within MIN_GAIN of the best rate seen within the p99 bound."""
    ok = [s for s in steps if s.rps is not None and (s.p99_ms is None or s.p99_ms <= max_p99_ms)]
    if not ok:
        return steps[0]
    best = max(s.rps or 0 for s in ok)
    return min((s for s in ok if (s.rps or 0) >= best / (1 + MIN_GAIN)), key=lambda s: s.users)
