"""A small event simulation of how Apache's prefork MPM replaces children that exit (MaxConnectionsPerChild).

What it reproduces, from server/mpm/prefork/prefork.c (2.4):
- exited children are not replaced at once: the parent replaces them in its maintenance pass, run after each
  one-second sleep of its main loop (ap_wait_or_timeout, SCOREBOARD_MAINTENANCE_INTERVAL);
- the parent reaps a child that exited during a sleep only after that sleep's pass, and a slot is free only
  once reaped: a child that exits is replaced at the second pass after its exit, 1 to 2 s later;
- a pass starts at most `idle_spawn_rate` children; the rate doubles after each pass that spawned (up to
  MAX_SPAWN_RATE = 32) and falls back to 1 when a pass finds no free slot.
What it takes from measurements: the server's rate without recycling (R0), how fast one child can serve
alone (1 / its mean service time), and what a new child costs before it serves at full speed (start-up plus
warm-up, C). A child paying C takes its share of the server like the others (its imports and first
connection are real work) but completes nothing; the m children alive share min(R0, m / service time).
Every child is assumed busy: a saturating closed-loop load, as in the sweep.
"""

import functools
import math

MAX_SPAWN_RATE = 32
TICK_S = 1.0


def completed(processes: int, per_child: float, r0: float, child_max_rps: float, cost_s: float,
              start: float, end: float, tick_s: float = TICK_S) -> float:
    """Requests completed in [start, end) when all `processes` children start at t = 0."""
    ready_at = [cost_s] * processes       # when each slot's child starts serving (inf: no child)
    remaining = [per_child] * processes   # requests left before the child exits
    died = [math.inf] * processes         # exit time of the slot's last child (inf: alive)
    t, next_pass, spawn_rate, done = 0.0, tick_s, 1, 0.0
    while t < end:
        alive = [i for i in range(processes) if died[i] == math.inf]
        serving = [i for i in alive if ready_at[i] <= t]
        capacity = min(r0, len(alive) * child_max_rps)
        each = capacity / len(alive) if alive else 0.0
        total = each * len(serving)
        events = [next_pass, end]
        events += [ready_at[i] for i in range(processes) if died[i] == math.inf and ready_at[i] > t]
        if each > 0:
            events += [t + remaining[i] / each for i in serving if remaining[i] != math.inf]
        t_next = max(min(events), t)
        done += total * max(0.0, min(t_next, end) - max(t, start))
        for i in serving:
            remaining[i] -= each * (t_next - t)
            if remaining[i] <= 1e-9:
                died[i] = t_next
        t = t_next
        if t >= next_pass:
            free = [i for i in range(processes) if died[i] <= t - tick_s]
            if not free:
                spawn_rate = 1
            else:
                for i in free[:spawn_rate]:
                    ready_at[i], remaining[i], died[i] = t + cost_s, per_child, math.inf
                spawn_rate = min(2 * spawn_rate, MAX_SPAWN_RATE)
            next_pass += tick_s
    return done


def rps(processes: int, per_child: float, r0: float, child_max_rps: float, cost_s: float,
        start: float, end: float) -> float:
    return completed(processes, per_child, r0, child_max_rps, cost_s, start, end) / (end - start)


SIMULATED_LIFE_S = 60.0
PHASES = 8


@functools.lru_cache(maxsize=4096)  # a pure function, asked for the same N by the curve, the pick and the check
def steady_rps(processes: int, per_child: float, r0: float, child_max_rps: float, cost_s: float) -> float:
    """Long-run requests/s: simulate many child lives from a fresh start and measure the second half.

    Where an exit falls within the parent's one-second maintenance cycle decides how long its slot stays
    empty (1 to 2 s, more when several children exit at once and wait for the spawn rate to double). A
    simulated life of a fixed length locks that phase, so the result would swing with N (leaky: 2.8% at
    5000, 4.4% at 5010); real lives vary, so the loss is averaged over lives PHASES fractions of a second
    longer. A life longer than SIMULATED_LIFE_S loses the same slot-seconds per generation (the refill
    pattern and C do not depend on its length), so its loss is scaled from a simulated life of that length
    (the isolated-exit formula used before assumed 1.5 s empty per exit and ignored the clustered refill).
    """
    if math.isinf(per_child):
        return r0
    share = r0 / processes
    life = cost_s + per_child / share
    if life <= SIMULATED_LIFE_S:
        return _phase_averaged(processes, per_child, r0, child_max_rps, cost_s, life)
    short = max(SIMULATED_LIFE_S - cost_s, 1.0) * share
    lost = r0 - _phase_averaged(processes, short, r0, child_max_rps, cost_s, cost_s + short / share)
    return r0 - lost * (cost_s + short / share) / life


def _phase_averaged(processes: int, per_child: float, r0: float, child_max_rps: float, cost_s: float,
                    life: float) -> float:
    horizon = max(120.0, 40 * life)
    share = r0 / processes
    return sum(rps(processes, per_child + share * j / PHASES, r0, child_max_rps, cost_s, horizon / 2, horizon)
               for j in range(PHASES)) / PHASES
