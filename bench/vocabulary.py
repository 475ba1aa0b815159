"""The suite's vocabulary, defined once: workloads, variants, ceilings, Locust class names, URL shapes.

handlers/ (mod_python's interpreter) and scenarios/ (Locust's) keep their own copies because they run in
other interpreters; tests/test_vocabulary.py pins those copies to this module.
"""

from __future__ import annotations

# TechEmpower workloads that touch the database and, for fortunes, a template.
WORKLOADS = ("db", "queries", "updates", "fortunes")
# The 2x2 in a fixed reading order: baseline first, the full persistence last.
VARIANTS = ("naive", "pool-only", "cache-only", "pooled")
BASELINE = "naive"
# Served without a variant: no database, no template (the server's upper bound).
CEILINGS = ("plaintext", "json")
# Demonstration only (bench tune): /pooled/leaky answers like db but leaks memory on purpose.
DEMONSTRATIONS = ("leaky",)

DEFAULT_WORKLOADS = ("db", "fortunes")
DEFAULT_VARIANTS = ("naive", "pooled")


def class_name(workload: str, variant: str | None = None) -> str:
    """The Locust User class in scenarios/: `("db", "pool-only")` -> `"PoolOnlyDb"`; `("json", None)` -> `"Json"`."""
    words = (variant.split("-") if variant else []) + [workload]
    return "".join(word.capitalize() for word in words)


def url_path(workload: str, variant: str | None = None) -> str:
    """The endpoint: `/{variant}/{workload}`, or `/{ceiling}` for a ceiling."""
    return f"/{variant}/{workload}" if variant else f"/{workload}"
