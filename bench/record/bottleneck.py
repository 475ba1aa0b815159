"""What limited a trial: the server, the load generator, or the load itself.

A closed-loop client (Locust users that send back to back) measures the server's capacity only when the
server is what saturates. From what every trial already records (CPU seconds of the server processes and of
the generator over the steady window, the CPU sets they were pinned to, the busiest Locust process):

- `server`: the server processes used at least SERVER_BUSY of the server CPUs: the rate is a capacity.
- `generator`: a Locust process used at least GENERATOR_BUSY of a core (Locust runs one core per
  process), or the generator CPU set was that busy: the rate is a lower bound of what the server can do.
- `shared`: no CPU partition, and server plus generator together filled the CPUs they share: neither
  figure is the server's alone, the rate is a lower bound.
- `load`: neither was busy: too few users for the server's speed. In a closed loop the rate is users /
  mean latency (Little's law); the rate is a lower bound, more users would raise it.
- `unknown`: no server-side CPU data (`--url` runs) and the generator was not busy.

On a shared machine other processes can fill the server's (or the generator's) CPUs. When the CPU set was
busy (by everyone, from /proc/stat) while our processes used less, the set is still the limit: the label
is `server` (or `generator`) and `others_util` says how much went to other processes, so a report can say
the figure is the capacity on a busy machine, not on a quiet one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bench.record.json_record import JsonRecord

SERVER_BUSY = 0.90     # of the server CPU set; a few % always go to the kernel, the sampler and idle gaps
GENERATOR_BUSY = 0.90  # of one core for a Locust process, or of the generator CPU set


class Bottleneck(StrEnum):
    """What limited a trial; its value is the label written to trial.json and results.json."""

    SERVER = "server"
    GENERATOR = "generator"
    SHARED = "shared"
    LOAD = "load"
    UNKNOWN = "unknown"


LABELS = tuple(b.value for b in Bottleneck)
GENERATOR_SIDE = (Bottleneck.GENERATOR, Bottleneck.SHARED)  # the generator could not send more


@dataclass(frozen=True)
class Verdict(JsonRecord):
    """A trial's bottleneck with the utilisations that decided it (trial.json `bottleneck`)."""

    bottleneck: str | None = None
    server_util: float | None = None       # server CPU-s / (window x server CPUs)
    server_set_util: float | None = None   # the server CPUs' busy time by every process (/proc/stat)
    others_util: float | None = None       # of the server CPUs, the share used by processes not ours
    generator_util: float | None = None    # generator CPU-s / (window x generator CPUs)
    generator_busiest: float | None = None  # busiest Locust process, fraction of one core
    littles_law_rps: float | None = None   # users / mean latency: what a closed loop of `users` can reach
    reason: str | None = None

    @property
    def generator_bound(self) -> bool:
        return self.bottleneck in GENERATOR_SIDE


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def classify(**kw: Any) -> dict[str, Any]:
    """`judge` in its JSON form (trial.json `bottleneck`)."""
    return judge(**kw).to_json()


def judge(*, window_s: float, server_cpu_s: float | None, server_cpus: int | None,
             generator_cpu_s: float | None, generator_cpus: int | None, generator_busiest_pct: float | None,
             shared_cpus: bool, users: int | None, mean_ms: float | None,
             server_set_busy_s: float | None = None, generator_set_busy_s: float | None = None) -> Verdict:
    """The bottleneck of one trial, with the utilisations that decided it (fractions, rounded to 0.001).

    server_set_busy_s / generator_set_busy_s: busy seconds of each CPU set by every process (optional).
    """
    server_util = _ratio(server_cpu_s, window_s * server_cpus if server_cpus else None)
    generator_util = _ratio(generator_cpu_s, window_s * generator_cpus if generator_cpus else None)
    set_util = _ratio(server_set_busy_s, window_s * server_cpus if server_cpus else None)
    others = None if set_util is None or server_util is None or shared_cpus else max(set_util - server_util, 0.0)
    if not shared_cpus and generator_set_busy_s is not None and generator_cpus:
        # The generator set's busy time by everyone: Locust plus whatever else runs there.
        generator_util = max(generator_util or 0.0, generator_set_busy_s / (window_s * generator_cpus))
    busiest = None if generator_busiest_pct is None else generator_busiest_pct / 100
    little = None if not users or not mean_ms else users / (mean_ms / 1000)
    generator_busy = max(busiest or 0.0, generator_util or 0.0) >= GENERATOR_BUSY

    if shared_cpus and server_cpu_s is not None and generator_cpu_s is not None and server_cpus:
        together = (server_cpu_s + generator_cpu_s) / (window_s * server_cpus)
        if together >= SERVER_BUSY:
            label = Bottleneck.SHARED
            reason = (f"server and generator share the CPUs and used {100 * together:.0f}% of them "
                      f"(server {100 * (server_util or 0):.0f}%)")
            return _out(label, server_util, generator_util, busiest, little, reason, set_util, others)
    if server_util is not None and server_util >= SERVER_BUSY:
        label = Bottleneck.SERVER
        reason = f"server processes used {100 * server_util:.0f}% of their {server_cpus} CPU(s)"
    elif server_util is not None and set_util is not None and set_util >= SERVER_BUSY and not shared_cpus:
        label = Bottleneck.SERVER
        reason = (f"the server CPU(s) were {100 * set_util:.0f}% busy: {100 * server_util:.0f}% by the server, "
                  f"{100 * (others or 0):.0f}% by other processes on this machine")
    elif generator_busy:
        label = Bottleneck.GENERATOR
        reason = (f"busiest Locust process at {100 * (busiest or 0):.0f}% of a core"
                  + (f", generator CPUs {100 * generator_util:.0f}% busy" if generator_util is not None else "")
                  + (f"; server CPUs {100 * server_util:.0f}%" if server_util is not None else ""))
    elif server_util is None:
        label = Bottleneck.UNKNOWN
        reason = "no server CPU data and the generator was not busy"
    else:
        label = Bottleneck.LOAD
        reason = (f"server CPUs {100 * server_util:.0f}% and busiest Locust process "
                  f"{100 * (busiest or 0):.0f}% busy: too few users"
                  + (f" ({users} users / {mean_ms:.2f} ms = {little:,.0f} req/s)" if little else ""))
    return _out(label, server_util, generator_util, busiest, little, reason, set_util, others)


def _out(label: str, server_util: float | None, generator_util: float | None, busiest: float | None,
         little: float | None, reason: str, set_util: float | None = None,
         others: float | None = None) -> Verdict:
    def r(v: float | None, digits: int = 3) -> float | None:
        return None if v is None else round(v, digits)

    return Verdict(bottleneck=Bottleneck(label).value, server_util=r(server_util), server_set_util=r(set_util),
                      others_util=r(others), generator_util=r(generator_util), generator_busiest=r(busiest),
                      littles_law_rps=r(little, 1), reason=reason)


def is_capacity(label: str | None) -> bool:
    """A rate is the server's capacity only when the server was the limit."""
    return label == Bottleneck.SERVER


def cell_label(labels: list[str | None]) -> str | None:
    """One label for a cell's trials: the most common one (ties: the least flattering for capacity)."""
    seen = [x for x in labels if x]
    if not seen:
        return None
    order = {name.value: i for i, name in enumerate((Bottleneck.GENERATOR, Bottleneck.SHARED, Bottleneck.LOAD,
                                                     Bottleneck.UNKNOWN, Bottleneck.SERVER))}
    return max(set(seen), key=lambda x: (seen.count(x), -order.get(x, 0)))


LIMITED_BY: dict[str, str] = {
    Bottleneck.GENERATOR: "the generator", Bottleneck.SHARED: "CPUs shared with the generator",
    Bottleneck.LOAD: "too few users", Bottleneck.UNKNOWN: "an unknown limit"}


def speedup_phrase(ratio: float, fast: str, fast_label: str | None, slow: str, slow_label: str | None) -> str:
    """A speedup as it may honestly be stated, given what limited each side.

    A ratio of two capacities needs both sides server-bound. The faster side held back by something else:
    its capacity is higher, so the true ratio is "at least" this. The slower side held back: the true
    ratio is "at most" this. Both: neither bound holds. No label (old run folders): the plain ratio.
    """
    fast_cap = fast_label is None or is_capacity(fast_label)
    slow_cap = slow_label is None or is_capacity(slow_label)
    notes = [f"{name} limited by {LIMITED_BY.get(label, label)}"
             for name, label, cap in ((fast, fast_label, fast_cap), (slow, slow_label, slow_cap))
             if not cap and label is not None]
    prefix = {(True, True): "", (False, True): "at least ", (True, False): "at most "}.get((fast_cap, slow_cap),
                                                                                         "about ")
    return f"{prefix}{ratio:.2f}x" + (f" ({'; '.join(notes)})" if notes else "")
