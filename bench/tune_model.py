"""The recycling model of `bench tune`: what MaxConnectionsPerChild = N costs in throughput and saves in memory.

A child that serves L requests at r requests/s per process is busy L / r seconds and then costs C seconds of
its slot: its start-up (from fork to its first request: fork, handler import, accept) plus its warm-up (extra
service time of its cold requests over its warm median). And prefork replaces exited children only in its
once-a-second maintenance, at a rate that starts at 1 child/s and doubles per second up to 32 after ten
rounds of spawning (server/mpm/prefork/prefork.c, idle_spawn_rate, hold_off_on_exponential_spawning): at most
S children/s, so at most S * L requests/s. Hence

    R(N) = min(R0 * (L / r) / (L / r + C), S * L),   L = N * k

with k the requests per connection (1 without keep-alive). Memory at the end of a child's life is
M(N) = M_fresh + g * L, with g the RSS growth per request.
"""

from dataclasses import dataclass

GRID = sorted({m * 10**e for e in range(0, 7) for m in (1, 2, 5)})


@dataclass
class Model:
    r0: float                 # requests/s of the whole server without recycling (N = 0)
    per_process_rps: float    # r
    child_cost_s: float       # C
    spawn_rate: float         # S, children/s Apache was seen to start (inf when nothing recycled)
    requests_per_connection: float  # k
    fresh_rss_mb: float | None
    growth_kb_per_request: float | None
    processes: int

    def requests_per_child(self, n: int) -> float:
        return float("inf") if n == 0 else n * self.requests_per_connection

    def rps(self, n: int) -> float:
        if n == 0:
            return self.r0
        per_child = self.requests_per_child(n)
        busy = per_child / self.per_process_rps
        return min(self.r0 * busy / (busy + self.child_cost_s), self.spawn_rate * per_child)

    def loss(self, n: int) -> float:
        return 1 - self.rps(n) / self.r0

    def rss_end_mb(self, n: int) -> float | None:
        """RSS at the end of a child's life; None when unbounded (N = 0 with growth) or unknown."""
        if self.fresh_rss_mb is None or self.growth_kb_per_request is None:
            return None
        if n == 0:
            return None if self.growth_kb_per_request > 0 else self.fresh_rss_mb
        return self.fresh_rss_mb + max(self.growth_kb_per_request, 0) * self.requests_per_child(n) / 1024


def fits_budget(rss_mb: float | None, budget_mb: float | None, scope: str, processes: int) -> bool:
    if budget_mb is None:
        return True
    if rss_mb is None:
        return False
    total = rss_mb * processes if scope == "total" else rss_mb
    return total <= budget_mb


def recommend(model: Model, max_loss: float, budget_mb: float | None, scope: str,
              candidates: list[int] | None = None) -> dict:
    """The smallest N whose predicted loss <= max_loss and whose memory fits the budget."""
    for n in candidates or GRID:
        if model.loss(n) <= max_loss and fits_budget(model.rss_end_mb(n), budget_mb, scope, model.processes):
            return {"value": n, "predicted_loss": round(model.loss(n), 4), "rss_end_mb": _r(model.rss_end_mb(n)),
                    "within": True}
    # Nothing meets both: memory wins (the server must not swap); say what it costs.
    for n in candidates or GRID:
        if fits_budget(model.rss_end_mb(n), budget_mb, scope, model.processes):
            return {"value": n, "predicted_loss": round(model.loss(n), 4), "rss_end_mb": _r(model.rss_end_mb(n)),
                    "within": False}
    n = (candidates or GRID)[0]
    return {"value": n, "predicted_loss": round(model.loss(n), 4), "rss_end_mb": _r(model.rss_end_mb(n)),
            "within": False}


def recommend_measured(points: list[dict], max_loss: float, budget_mb: float | None, scope: str,
                       processes: int) -> dict | None:
    """Fallback when the model is off: the smallest measured N that met the loss and memory limits."""
    base = next((p for p in points if p["value"] == 0), None)
    if base is None or not base.get("rps"):
        return None
    for p in sorted((p for p in points if p["value"] > 0), key=lambda p: p["value"]):
        loss = 1 - p["rps"] / base["rps"]
        if loss <= max_loss and fits_budget(p.get("rss_mb_end_of_life"), budget_mb, scope, processes):
            return {"value": p["value"], "measured_loss": round(loss, 4), "rss_end_mb": p.get("rss_mb_end_of_life"),
                    "within": True}
    return None


def _r(x):
    return None if x is None else round(x, 2)
