"""What the suite adds to the load of a user's own application (bench --app): the per-process listener, the
suite's options and the fine latency buckets, and no User class and no class-selection guard, so that
`locust -f scenarios/_locustfile_app.py,THEIR_LOCUSTFILE` picks the user's classes exactly as Locust picks them.

Also registers --bench-paths (the requests of `--paths`, for `_locustfile_paths.AppPaths`).
"""

from __future__ import annotations

from typing import Any

from _bench import (
    _bucketing,
    _listener,  # noqa: F401  (registers the per-PID event listeners and writes --bench-out)
    _options,  # noqa: F401  (registers --bench-warmup, --bench-out, --close-connection)
    _selection,
)
from locust import events

_bucketing.install()
# The listener imports the selection guard, which keeps the suite's 29 classes from running all at once; the
# user's own classes are run as Locust runs them, so the guard is taken off again.
events.init.remove_listener(_selection.guard_selection)


@events.init_command_line_parser.add_listener
def _add_paths_argument(parser: Any, **_kwargs: Any) -> None:
    parser.add_argument("--bench-paths", default="", metavar="LIST", env_var="LOCUST_BENCH_PATHS",
                        help="Comma list of request paths AppPaths sends round-robin (bench --paths)")


def paths_of(environment: Any) -> list[str]:
    """The --bench-paths list of this test (Locust forwards custom options to workers with the spawn)."""
    text = getattr(environment.parsed_options, "bench_paths", "") or ""
    return [p for p in text.split(",") if p]
