"""The recycling model of `bench tune`: what MaxConnectionsPerChild = N costs in throughput and saves in memory.

A child serves L = N * k requests (k = requests per connection: 1 without keep-alive), sharing the server's
rate R0 measured without recycling with the other serving children, after paying C seconds of start-up
(fork to first request) and warm-up (the extra %D of a new child's first requests over its own warm level,
bench.tune.recycling.warmup_excess_ms), both measured. How fast
Apache replaces exited children is not a cost we measure but a rule we know: prefork replaces them once a
second, doubling how many per pass (see bench.tune.prefork_sim). Throughput R(N) comes from simulating
that; memory at the end of a child's life is
M(N) = M_fresh + g * L, with g the RSS growth per request measured without recycling.

How much of an empty slot's share the other children absorb is measured, not assumed: `slot_rps` is what
one child served while a slot was empty, read from the access logs of the points that recycled
(bench.tune.recycling.slot_rates). A child is held for longer than its service time %D: with keep-alive it
is bound to one client connection, and in a closed loop every other child holds its own client, so the
others cannot take the empty slot's requests (measured on leaky, keep-alive off: slot_rps 97 req/s against
a share of 103, where 1 / %D = 442 claimed full absorption). Without a recycling point to read it from,
1 / %D is the bound used.

Why it predicted 2.8% where the confirmation measured 12.3% (leaky, keep-alive off, N = 5000): a new
child serves slower for hundreds of requests, not only the ones its handler flags cold (0.83 s of extra
service time, where the cold flags count 0.34 s), and simulated lives of one fixed length locked every exit to
one phase of prefork's maintenance second (1 s empty instead of 1 to 2 s). With both fixed the model
says 4.5%. The rest was not recycling: in the confirmation's first 47 s, before any child had exited and
with both servers alike, the N = 5000 trials were already 4% and 13% slower (a shared machine).
What the model still misses is caught by the confirmation step (bench.tune.confirm), which measures.

Why it then over-predicted (leaky, keep-alive off, --quick on a busy machine: 17.0% at N = 1000 where the
confirmation measured 8.6%, 95% CI 5.1-11.9%): the slot rate was the median over the recycling points, and at
N = 100 a child spends much of its 0.6 s life warming, so a serving child's rate read 110 req/s against 356 at
N = 1000 (where the other three took the whole CPU of the empty slot: 2.1 x their 168 req/s with every slot
full); and the warm-up was the median with N = 0's fresh children, four warming at once (1,020 ms, against
370 ms for the children N = 1000 replaced). Now the slot rate comes from the recycling point with the longest
lives and the warm-up from the recycling points whose lives show a warm level: 10.6%, inside the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.record.tune import BudgetScope
from bench.record.tune_conclusions import ModelParameters, Recommendation
from bench.record.tune_points import Point
from bench.tune import prefork_sim

GRID = sorted({m * 10**e for e in range(0, 7) for m in (1, 2, 5)})


@dataclass
class Model:
    r0: float                 # requests/s of the whole server without recycling (N = 0)
    child_max_rps: float      # what one child can serve alone: 1 / its mean service time
    child_cost_s: float       # C
    requests_per_connection: float  # k
    fresh_rss_mb: float | None
    growth_kb_per_request: float | None
    processes: int
    slot_rps: float | None = None   # one child's rate while a slot was empty, measured (None: not measured)
    base_p99_ms: float | None = None  # p99 without recycling (N = 0), measured
    cold_ms: float | None = None      # what a new child's first request takes, measured (its warm-up included)

    @classmethod
    def of(cls, params: ModelParameters, processes: int) -> Model:
        """The model of recorded parameters (the confirmation step uses what tune.json holds)."""
        return cls(r0=params.r0 or 0.0, child_max_rps=params.child_max_rps or 0.0,
                   child_cost_s=params.child_cost_s or 0.0,
                   requests_per_connection=params.requests_per_connection or 1.0, fresh_rss_mb=params.fresh_rss_mb,
                   growth_kb_per_request=params.growth_kb_per_request, processes=processes,
                   slot_rps=params.slot_rps, base_p99_ms=params.base_p99_ms, cold_ms=params.cold_ms)

    @property
    def per_process_rps(self) -> float:
        return self.r0 / self.processes

    @property
    def capacity_rps(self) -> float:
        """What one child serves while a slot is empty: measured when a recycling point showed it (never
        below its share R0 / processes), else the bound 1 / service time."""
        if self.slot_rps is None:
            return self.child_max_rps
        return max(self.slot_rps, self.per_process_rps)

    def requests_per_child(self, n: int) -> float:
        return math.inf if n == 0 else n * self.requests_per_connection

    def rps(self, n: int) -> float:
        """Long-run requests/s with MaxConnectionsPerChild n."""
        if n == 0:
            return self.r0
        return prefork_sim.steady_rps(self.processes, self.requests_per_child(n), self.r0, self.capacity_rps,
                                      self.child_cost_s)

    def window_rps(self, n: int, start: float, end: float) -> float:
        """Requests/s in [start, end) seconds after Apache started: what one sweep point measured."""
        if n == 0:
            return self.r0
        return prefork_sim.rps(self.processes, self.requests_per_child(n), self.r0, self.capacity_rps,
                               self.child_cost_s, start, end)

    def loss(self, n: int) -> float:
        return 1 - self.rps(n) / self.r0

    def p99_ms(self, n: int) -> float | None:
        """The p99 at N: a child's cold first request is one of every N x k requests, so once that is 1% or more
        of them (N x k <= 100) the p99 is a cold request; below, the p99 without recycling. None: unmeasured."""
        if self.base_p99_ms is None:
            return None
        if n == 0 or self.cold_ms is None or self.requests_per_child(n) > 100:
            return self.base_p99_ms
        return max(self.base_p99_ms, self.cold_ms)

    @property
    def memory_measured(self) -> bool:
        """Whether the model knows a child's memory over its life: a fresh size and a growth per request."""
        return self.fresh_rss_mb is not None and self.growth_kb_per_request is not None

    def rss_end_mb(self, n: int) -> float | None:
        """RSS at the end of a child's life; None when unbounded (N = 0 with growth) or unknown."""
        if self.fresh_rss_mb is None or self.growth_kb_per_request is None:
            return None
        if n == 0:
            return None if self.growth_kb_per_request > 0.05 else self.fresh_rss_mb
        return self.fresh_rss_mb + max(self.growth_kb_per_request, 0) * self.requests_per_child(n) / 1024


def fits_budget(rss_mb: float | None, budget_mb: float | None, scope: str, processes: int) -> bool:
    """Whether a size fits the budget. Memory constrains N only from a measured figure: an unknown size
    (growth not measured) fits, and the recommendation says that memory was not measured."""
    if budget_mb is None or rss_mb is None:
        return True
    total = rss_mb * processes if scope == BudgetScope.TOTAL else rss_mb
    return total <= budget_mb


def recommend(model: Model, max_loss: float, budget_mb: float | None, scope: str,
              candidates: list[int] | None = None, measured: dict[int, float] | None = None) -> Recommendation:
    """The smallest N whose predicted loss <= max_loss and whose memory fits the budget.

    measured: the loss measured at the values that recycled. A value measured over the limit is never
    recommended while a larger one (measured or predicted) meets it: the model's curve is a fit, the
    measurement is what happened.
    """
    grid = sorted(set(candidates or GRID) | set(measured or {}))
    over = {n for n, loss in (measured or {}).items() if loss > max_loss}

    def pick(n: int, within: bool) -> Recommendation:
        rec = Recommendation.new(value=n, predicted_loss=round(model.loss(n), 4), rss_end_mb=_r(model.rss_end_mb(n)),
                                 within=within)
        return rec.having(measured_loss=round(measured[n], 4)) if measured and n in measured else rec

    for n in grid:
        if n not in over and model.loss(n) <= max_loss and fits_budget(model.rss_end_mb(n), budget_mb, scope,
                                                                  model.processes):
            return pick(n, True)
    # Nothing meets both: memory wins (a server that swaps is worse than a slower one); say what it costs.
    fitting = [n for n in grid if fits_budget(model.rss_end_mb(n), budget_mb, scope, model.processes)]
    return pick(fitting[-1] if fitting else grid[0], False)


def recommend_measured(points: list[Point], r0: float, max_loss: float, budget_mb: float | None, scope: str,
                       processes: int) -> Recommendation | None:
    """Fallback when the model is off: the smallest measured N that met the loss and memory limits. Only
    points where a child was replaced inside the window count: elsewhere the loss read is noise, not
    recycling."""
    for p in sorted((p for p in points if p.n > 0 and p.children_spawned_per_s and p.rps is not None),
                    key=lambda p: p.n):
        loss = 1 - (p.rps or 0.0) / r0
        if loss <= max_loss and fits_budget(p.rss_mb_end_of_life, budget_mb, scope, processes):
            return Recommendation.new(value=p.value, measured_loss=round(loss, 4), rss_end_mb=p.rss_mb_end_of_life,
                                      within=True)
    return None


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)
