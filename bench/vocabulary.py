"""The suite's vocabulary, defined once: workloads, variants, ceilings, Locust class names, URL shapes.

handlers/ (mod_python's interpreter) and scenarios/ (Locust's) keep their own copies because they run in
other interpreters; tests/bench/test_vocabulary.py pins those copies to this module.
"""

from __future__ import annotations

import base64

# TechEmpower workloads that touch the database and, for fortunes, a template; auth is db behind an
# authentication phase (HTTP Basic against bench_user).
WORKLOADS = ("db", "queries", "updates", "fortunes", "auth")
# Served behind the authentication phase.
AUTHENTICATED = ("auth",)
# What a variant may keep in the process across requests, one factor each: the name is the attribute of
# handlers/resources.Resources that switches it on, the value what a report calls its effect.
FACTORS = {"pooled_connection": "pooling", "cached_template": "template caching",
           "prepared_statements": "prepared statements", "pooler_route": "an external pooler (PgBouncer)"}
# Every variant and the factors it keeps, in a fixed reading order: baseline first, the full persistence
# last. The first two factors make the 2x2 whose speedup a report splits; any other variant one factor away
# from another is reported as "X vs Y". A new variant is one line here (and its copies, pinned by the test).
VARIANT_FACTORS = {
    "naive": (),
    "pool-only": ("pooled_connection",),
    "cache-only": ("cached_template",),
    "pooled": ("pooled_connection", "cached_template"),
    # Outside the 2x2: pooled plus server-side prepared statements, which live on the kept connection.
    "prepared": ("pooled_connection", "cached_template", "prepared_statements"),
    # Outside the 2x2: the connection's route. Connect per request, but to the stack's PgBouncer instead of
    # PostgreSQL, template cached (Django's CONN_MAX_AGE = 0 behind PgBouncer). One factor above cache-only.
    "bouncer": ("cached_template", "pooler_route"),
    # prepared with its kept connections to PgBouncer instead of PostgreSQL: its statements live on the server
    # connection PgBouncer gives it, which only session mode keeps for the client (PgBouncer 1.18).
    "prepared-bouncer": ("pooled_connection", "cached_template", "prepared_statements", "pooler_route"),
}
VARIANTS = tuple(VARIANT_FACTORS)
# Factors that stand for one another (the connection's route: kept in the process, or behind the pooler): a
# variant keeping one where another keeps the other, all else equal, is one step from it ("pooled vs bouncer").
ALTERNATIVES = {"pooled_connection": "pooler_route"}
# The factor that routes a variant's connections through the stack's private PgBouncer (bench.stack.pgbouncer).
POOLER_FACTOR = "pooler_route"
BASELINE = "naive"
# Served without a variant: no database, no template (the server's upper bound).
CEILINGS = ("plaintext", "json")
# Demonstration only (bench tune): /pooled/leaky answers like db but leaks memory on purpose.
DEMONSTRATIONS = ("leaky",)

# State is per process: /session/process (a module global) and /session/shared (PostgreSQL), no variant.
SESSIONS = ("process", "shared")
SESSION_COOKIE = "bench_session"

# The seeded account of bench_user and its hash's iteration count (handlers/auth.py keeps a pinned copy).
AUTH_USER = "bench"
AUTH_PASSWORD = "bench"
AUTH_ITERATIONS = 1000
AUTH_CACHE_TTL_S = 60.0

DEFAULT_WORKLOADS = ("db", "fortunes")
DEFAULT_VARIANTS = ("naive", "pooled")


def through_pooler(variant: str) -> bool:
    """Whether a variant's connections go through the external pooler (the stack then starts one)."""
    return POOLER_FACTOR in VARIANT_FACTORS.get(variant, ())


def needs_session_pooler(variant: str) -> bool:
    """Server-side prepared statements through the pooler: PgBouncer 1.18 carries them only in session mode."""
    kept = VARIANT_FACTORS.get(variant, ())
    return POOLER_FACTOR in kept and "prepared_statements" in kept


def class_name(workload: str, variant: str | None = None) -> str:
    """The Locust User class in scenarios/: `("db", "pool-only")` -> `"PoolOnlyDb"`; `("json", None)` -> `"Json"`."""
    words = (variant.split("-") if variant else []) + [workload]
    return "".join(word.capitalize() for word in words)


def url_path(workload: str, variant: str | None = None) -> str:
    """The endpoint: `/{variant}/{workload}`, or `/{ceiling}` for a ceiling."""
    return f"/{variant}/{workload}" if variant else f"/{workload}"


def session_class_name(store: str) -> str:
    """The Locust User class of a session endpoint: `"process"` -> `"ProcessSession"`."""
    return store.capitalize() + "Session"


def request_headers(workload: str) -> dict[str, str]:
    """Headers a client needs for an endpoint: the seeded account's HTTP Basic credentials for auth."""
    if workload not in AUTHENTICATED:
        return {}
    token = base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
