"""--bench-fail-on for `locust -f scenarios`: exit 3 when a threshold is broken, naming it; 1 when malformed.

The thresholds (`_thresholds`) are checked at init, so a malformed one stops Locust before a request
is sent: one line `error: ...` and exit 1. At the end of a test they are evaluated against the open model's
summary (`_open`, latency from the intended start) when --bench-rate is set, else against the per-PID
steady-state summary (`_listener`, closed loop); each broken one is printed with its value and Locust's
exit code becomes 3. This module is imported after `_listener`, so its test_stop listener runs after
the listener has merged its figures.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from locust import events
from locust.runners import WorkerRunner

from . import _listener, _open
from ._options import bench_options
from ._thresholds import describe, evaluate, parse

console = logging.getLogger("locust.stats_logger")
EXIT_BROKEN = 3


def _thresholds(environment: Any):
    text = bench_options(environment).fail_on
    return parse(text, "--bench-fail-on") if text else []


@events.init.add_listener
def _on_init(environment: Any, **_kwargs: Any) -> None:
    try:
        _thresholds(environment)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


def closed_summary() -> dict[str, Any] | None:
    """The listener's steady-state summary of the last test (its merger is complete after finalize)."""
    st = _listener.state
    if not st.started:
        return None
    stop = st.stop_time or st.start_time
    return st.merger.summary(st.warmup_s, st.start_time + st.warmup_s, stop)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_kwargs: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    thresholds = _thresholds(environment)
    if not thresholds:
        return
    summary = _open.last_summary() if bench_options(environment).rate else closed_summary()
    model = "open model, latency from intended start" if bench_options(environment).rate else "closed loop"
    broken = evaluate(thresholds, summary or {})
    for item in broken:
        console.info(f"threshold {describe(item)} ({model})")
    if broken:
        environment.process_exit_code = EXIT_BROKEN
    else:
        console.info(f"thresholds met ({model}): {', '.join(t.text for t in thresholds)}")
