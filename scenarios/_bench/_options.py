"""The suite's own Locust options: --queries, --close-connection, --bench-warmup, --bench-out, and the open
model's --bench-rate, --bench-arrival, --bench-open-out, with the pass/fail --bench-fail-on.

They are registered through `events.init_command_line_parser`, so Locust's configargparse parser
handles them like its own: on the command line, as environment variables (LOCUST_QUERIES,
LOCUST_CLOSE_CONNECTION, LOCUST_BENCH_WARMUP, LOCUST_BENCH_OUT) and in a config file
(`queries = 50`, `close-connection = true`, `bench-warmup = 5`, `bench-out = per_pid.json` in
locust.conf, or the same keys under `[tool.locust]` in pyproject.toml). They also show up in the web
UI's "Custom parameters", and Locust forwards them to workers with every spawn message, so values read
at test start are the ones the master used.
"""

from __future__ import annotations

from argparse import SUPPRESS
from dataclasses import dataclass
from typing import Any

from locust import events

DEFAULT_QUERIES = 20
ARRIVALS = ("constant", "poisson")


@events.init_command_line_parser.add_listener
def add_bench_arguments(parser: Any, **_kwargs: Any) -> None:
    """Register the options (called by Locust each time it builds its parser)."""
    # parser.add_argument (not an argument group): only arguments added this way appear in the web UI
    parser.add_argument(
        "--queries",
        type=int,
        default=DEFAULT_QUERIES,
        metavar="N",
        env_var="LOCUST_QUERIES",
        help="Rows per request for the queries and updates workloads (?queries=N; server clamps to 1..500)",
    )
    parser.add_argument(
        "--close-connection",
        action="store_true",
        default=False,
        env_var="LOCUST_CLOSE_CONNECTION",
        help="Send 'Connection: close' with every request, so each request opens a new connection "
        "(measures without keep-alive)",
    )
    parser.add_argument(
        "--bench-warmup",
        type=float,
        default=0.0,
        metavar="SECONDS",
        env_var="LOCUST_BENCH_WARMUP",
        help="Leave out requests completed in the first SECONDS of the test from the per-PID steady-state numbers",
    )
    parser.add_argument(
        "--bench-out",
        type=str,
        default=None,
        metavar="PATH",
        env_var="LOCUST_BENCH_OUT",
        help="Write the per-PID steady-state JSON here when the test stops (default: only print a table)",
    )
    parser.add_argument(
        "--bench-rate",
        type=float,
        default=0.0,
        metavar="REQ_PER_S",
        env_var="LOCUST_BENCH_RATE",
        help="Open model: offer this many requests per second on a schedule that does not wait for answers "
        "(latency from the intended start; -u is the number of connections). 0: closed loop (default)",
    )
    parser.add_argument(
        "--bench-arrival",
        choices=ARRIVALS,
        default="constant",
        env_var="LOCUST_BENCH_ARRIVAL",
        help="With --bench-rate: constant gaps of 1/rate, or poisson (exponential gaps, seeded)",
    )
    parser.add_argument(
        "--bench-open-out",
        type=str,
        default=None,
        metavar="PATH",
        env_var="LOCUST_BENCH_OPEN_OUT",
        help="With --bench-rate: write the open model's summary and HdrHistogram (JSON) here",
    )
    parser.add_argument(
        "--bench-fail-on",
        type=str,
        default=None,
        metavar="THRESHOLDS",
        env_var="LOCUST_BENCH_FAIL_ON",
        help="Exit 3 when a threshold is broken, e.g. 'p99<50ms,failures=0,rps>1000' (see _thresholds)",
    )
    # internal: the master names each test here; Locust forwards custom options to workers at spawn
    parser.add_argument("--bench-run-id", default=None, help=SUPPRESS, include_in_web_ui=False)
    # internal: the master's test start (epoch s), so every worker's warm-up ends at the same moment
    parser.add_argument("--bench-t0", default=None, help=SUPPRESS, include_in_web_ui=False)


@dataclass(frozen=True)
class BenchOptions:
    """The suite's options with defaults, also when Locust runs without parsed options (as a library)."""

    queries: int = DEFAULT_QUERIES
    close_connection: bool = False
    warmup_s: float = 0.0
    out: str | None = None
    rate: float = 0.0  # the open model's offered req/s; 0: closed loop
    arrival: str = "constant"
    open_out: str | None = None
    fail_on: str | None = None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None  # the web UI sends an empty text field as ""


def bench_options(environment: Any) -> BenchOptions:
    """Read the options from `environment.parsed_options` (the web UI may have changed them)."""
    opts = getattr(environment, "parsed_options", None)
    if opts is None:
        return BenchOptions()
    out = getattr(opts, "bench_out", None)
    queries = getattr(opts, "queries", None)
    return BenchOptions(
        # 0 or 600 are passed on as given: checking the server's clamping is a legitimate test
        queries=DEFAULT_QUERIES if queries in (None, "") else int(queries),
        close_connection=bool(getattr(opts, "close_connection", False)),
        warmup_s=max(0.0, float(getattr(opts, "bench_warmup", 0.0) or 0.0)),
        # the web UI sends an empty text field as ""
        out=str(out) if out not in (None, "") else None,
        rate=max(0.0, float(getattr(opts, "bench_rate", 0.0) or 0.0)),
        arrival=str(getattr(opts, "bench_arrival", None) or "constant"),
        open_out=_text(getattr(opts, "bench_open_out", None)),
        fail_on=_text(getattr(opts, "bench_fail_on", None)),
    )
