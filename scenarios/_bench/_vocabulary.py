"""The suite's vocabulary inside Locust: the variants, workloads, ceilings and sessions, and the User class
names built from them. A copy of bench.vocabulary (Locust's interpreter cannot import bench), pinned by
tests/bench/test_vocabulary.py. Standard library only: the listener and the class-selection guard read it
without the User classes."""

from __future__ import annotations

# A copy of bench.vocabulary's variant table (Locust's interpreter), pinned by tests/bench/test_vocabulary.py.
VARIANT_FACTORS = {
    "naive": (),
    "pool-only": ("pooled_connection",),
    "cache-only": ("cached_template",),
    "pooled": ("pooled_connection", "cached_template"),
    "prepared": ("pooled_connection", "cached_template", "prepared_statements"),
    "bouncer": ("cached_template", "pooler_route"),
    "prepared-bouncer": ("pooled_connection", "cached_template", "prepared_statements", "pooler_route"),
}
VARIANTS = tuple(VARIANT_FACTORS)
WORKLOADS = ("db", "queries", "updates", "fortunes", "auth")
# Served behind the authentication phase (HTTP Basic with the seeded account, bench/bench).
AUTHENTICATED = ("auth",)
AUTH_USER = "bench"
AUTH_PASSWORD = "bench"
# State is per process: /session/process (module global) vs /session/shared (PostgreSQL).
SESSIONS = ("process", "shared")
SESSION_TAG = "session"
CEILINGS = ("plaintext", "json")
# Demonstration only (bench tune): /pooled/leaky answers like db but leaks memory on purpose.
DEMONSTRATIONS = ("leaky",)
CEILING_TAG = "ceiling"


def class_name(workload: str, variant: str | None = None) -> str:
    """`("db", "pool-only")` -> `"PoolOnlyDb"`; `("json", None)` -> `"Json"`."""
    words = (variant.split("-") if variant else []) + [workload]
    return "".join(word.capitalize() for word in words)


def session_class_name(store: str) -> str:
    """`"process"` -> `"ProcessSession"`."""
    return store.capitalize() + "Session"
