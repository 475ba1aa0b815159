"""A sweep's PostgreSQL connection budget: the measured alternative when the processes' own pools do not fit, and
PgBouncer's pool, which is fixed for the whole sweep (the stack, PgBouncer with it, starts once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bench.stack.knobs import StackSettings

BOUNCER_SWEEP = "the same sweep with --variant bouncer (PgBouncer's pool is then the budget)"


def bouncer_offer(settings: StackSettings) -> str:
    """"; or ..." when the in-process connections of `settings` are what binds and the bouncer variant would fit."""
    through = replace(settings, pooler=True, direct=False, pooler_pool_size=None)
    if settings.direct and through.connections_needed <= settings.pg_max_connections:
        return f"; or run {BOUNCER_SWEEP}"
    return ""


def pooler_sized(settings: StackSettings, shapes: Sequence[StackSettings]) -> StackSettings:
    """`settings` with PgBouncer's pool fixed for every point: --pooler-pool-size if given, else the pool the largest
    point would have (one server connection per request it serves at once, within max_connections), so no point
    queues for a server connection because a smaller one sized the pool."""
    if not settings.pooler or settings.pooler_pool_size is not None or not shapes:
        return settings
    return replace(settings, pooler_pool_size=max(s.pooler_pool for s in shapes))


def largest(shapes: Sequence[StackSettings]) -> StackSettings:
    """The shape serving the most requests at once: the stack starts with it, so PgBouncer admits its clients."""
    return max(shapes, key=lambda s: s.processes * s.threads)


def pool_line(settings: StackSettings, given: StackSettings) -> str | None:
    """The tune output's line on PgBouncer's pool (None without it)."""
    if not settings.pooler:
        return None
    how = "--pooler-pool-size" if given.pooler_pool_size is not None else "sized for the largest point"
    return (f"PgBouncer ({settings.pooler_mode} mode): pool {settings.pooler_pool} server connections for every "
            f"point ({how}); PostgreSQL's budget is that pool, not processes x threads")
