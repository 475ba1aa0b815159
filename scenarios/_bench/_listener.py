"""Per-PID steady-state statistics from X-Bench-Pid, merged across Locust processes.

Every response of the suite's handlers names the Apache process that served it (`X-Bench-Pid`). This
listener counts, per PID, the requests, failures and latency that complete inside the steady-state
window, and the same for all of them together, in the fine histogram of `_histogram` (0.01 ms
bins below 10 ms), which adds up exactly across processes.

Window: each process that runs users starts its window `--bench-warmup` seconds after the test's start
(a local runner's own `test_start`; on workers the master's, forwarded as the hidden option --bench-t0,
because Locust's master hands out users at the spawn rate and a worker's first user can come a second
after another's) and closes it at its own `test_stopping`; requests completing outside are not counted.
The merged window runs from the earliest warm-up end to the latest stop, and rps = requests / window.
(Workers start within milliseconds of the master; the bounds are epoch seconds, so remote workers
should have synchronised clocks.)

Distributed (`--processes N`, `--master`/`--worker`): each worker adds the data collected since its
last report to `report_to_master` (every 3 s), and sends the rest as a custom message at its own
`test_stop`; the master merges both. Each test gets a run id (the hidden custom option --bench-run-id,
which Locust forwards to workers with the spawn message), so late reports of an earlier test are ignored.
When a test stops, the master waits until every worker the test started with has sent a report made after
its stop (at most 7 s), then writes the result. When the master quits (the end of `-t`, Ctrl-C), Locust
sends its workers no stop and waits only 0.5 s for their last stats, so the master stops them itself
and waits for that report before Locust quits; if the process quits first anyway, it writes at Locust's
`quit` event. A local runner writes at `test_stop`.

Live view and reset: every process also keeps per-PID counters from test start (`_live`), which
`current_view` turns into the `/per-process` rows (`_perprocess`, shown by `_webui`). Locust's
reset (the web UI's button fires `reset_stats`; `--reset-stats` resets at `spawning_complete`) also
resets these figures and restarts the steady window; the master tells its workers with a custom message.
With `--csv PREFIX`, the test's end also writes PREFIX_per_process.csv (and, with --csv-full-history,
PREFIX_per_process_history.csv), see `_csv`.

Output: a short table on the console (always) and, with `--bench-out PATH`, this JSON (atomically):

    {
      "warmup_s": 5,                        # --bench-warmup
      "test_start": 1764118923.1,           # epoch seconds: the test's start (the master's, on a master)
      "window": [1764118928.1, 1764118943.1],  # epoch seconds: warm-up end, test stop
      "requests": 51234, "failures": 0,      # all responses in the window (with and without a PID)
      "rps": 3415.6,                         # requests / (window[1] - window[0])
      "p50_ms": 0.915, "p90_ms": 1.405, "p99_ms": 3.105, "max_ms": 20.3, "mean_ms": 1.02,
      "pids": {                              # one entry per X-Bench-Pid value, sorted by PID
        "1234": {"requests": 12800, "failures": 0, "p50_ms": 0.905, "p99_ms": 2.005, "max_ms": 20.3}
      },
      "no_pid": 0,                           # responses without the header (connection errors, not our server)
      "generators": 1,                       # Locust processes that ran the test (workers, or 1 if local)
      "workers": {                           # on a master only: each worker's own CPU over the window
        "host_abc123": {"host": "loadgen1", "pid": 4321, "cpu_s": 7.9, "seconds": 9.0, "cpu_pct": 87.8,
                        "requests": 25617}  # its requests in the window
      }
    }

Percentiles are nearest-rank, reported as the midpoint of their bin (so within 0.005 ms below 10 ms),
and clamped to the observed min/max; `max_ms` and `mean_ms` are exact. Failed requests count in the
latency figures too, as in Locust's own statistics. With no request in the window, the latency figures
are null and rps is 0.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Any

import gevent
from locust import events
from locust.runners import STATE_RUNNING, STATE_SPAWNING, WORKER_REPORT_INTERVAL, MasterRunner, WorkerRunner

from ._csv import write_files
from ._files import write_json
from ._live import variant_of_name
from ._options import bench_options
from ._perprocess import build_view, selection_text
from ._recorder import NO_PID, Merger, WindowRecorder
from ._selection import variants_of
from ._vocabulary import CEILINGS, VARIANTS

logger = logging.getLogger(__name__)
console = logging.getLogger("locust.stats_logger")  # Locust's plain console output (no log prefix)

PID_HEADER = "X-Bench-Pid"
COLD_HEADER = "X-Bench-Cold"
REPORT_KEY = "modpython_bench_per_pid"
CPU_KEY = "modpython_bench_cpu"  # worker -> master: the worker's own CPU seconds, with every report
RESET_MESSAGE = "modpython_bench_reset"  # master -> workers: the stats were reset
FINAL_MESSAGE = "modpython_bench_final"  # worker -> master: its data up to its stop, sent at its test_stop
STOP_MESSAGE = "modpython_bench_stop"  # master -> workers: stop now (the master is quitting, see _on_test_stop)
# A worker reports every WORKER_REPORT_INTERVAL s; two intervals and a margin cover one lost beat.
FINAL_REPORT_TIMEOUT_S = 2 * WORKER_REPORT_INTERVAL + 1


class _State:
    """What this process knows about the current (or last) test."""

    def __init__(self) -> None:
        self.local = WindowRecorder()
        self.merger = Merger()
        self.environment: Any = None
        self.started = False
        self.finalized = True
        self.start_time = 0.0
        self.stop_time: float | None = None
        self.warmup_s = 0.0
        self.generation = 0  # counts tests, so a late finalizer cannot touch the next test
        self.workers: set[str] = set()  # on the master: the workers a test started with
        self.reset_gen = 0  # resets so far (master or local runner), never reset itself
        self.variants: dict[str, str | None] = {}  # request name -> variant, cached
        self.cpu: dict[str, list[dict[str, Any]]] = {}  # on the master: each worker's CPU reports


state = _State()


def _is_master(environment: Any) -> bool:
    return isinstance(environment.runner, MasterRunner)


def _is_worker(environment: Any) -> bool:
    return isinstance(environment.runner, WorkerRunner)


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_kwargs: Any) -> None:
    state.environment = environment
    if isinstance(runner, WorkerRunner):
        runner.register_message(RESET_MESSAGE, _on_reset_message)
        runner.register_message(STOP_MESSAGE, _on_stop_message, concurrent=True)
    elif isinstance(runner, MasterRunner):
        runner.register_message(FINAL_MESSAGE, _on_final_message)


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kwargs: Any) -> None:
    if state.started and not state.finalized and not _is_worker(environment):
        finalize(environment)  # a new test started in the web UI before the last one was written
    now = time.time()
    state.generation += 1
    state.environment = environment
    run = _run_id(environment)
    now = _start_time(environment, now)
    state.warmup_s = bench_options(environment).warmup_s
    state.start_time, state.stop_time = now, None
    state.local.begin(now, state.warmup_s, run)
    state.merger = Merger(run)
    state.started, state.finalized = True, False
    runner = environment.runner
    if _is_master(environment):
        clients = runner.clients
        state.workers = {c.id for c in [*clients.ready, *clients.spawning, *clients.running]}
        state.cpu = {}


def _run_id(environment: Any) -> str | None:
    """The master (or local runner) names each test; workers get the name with the spawn message."""
    opts = environment.parsed_options
    if opts is None:
        return None
    if not _is_worker(environment):
        # a registered custom option, so Locust forwards it to the workers with every spawn message
        opts.bench_run_id = uuid.uuid4().hex
    return getattr(opts, "bench_run_id", None)


def _start_time(environment: Any, now: float) -> float:
    """The test's start: the master's (or local runner's) own, forwarded to the workers like the run id. Locust's
    master hands users out at the spawn rate, so a worker's first user (and its test_start) can come a second
    after another's: with its own start, its warm-up would end later and the merged window would count on the
    server requests this worker left out."""
    opts = environment.parsed_options
    if opts is None:
        return now
    if not _is_worker(environment):
        opts.bench_t0 = now
        return now
    try:
        return float(opts.bench_t0)
    except (TypeError, ValueError):
        return now


@events.test_stopping.add_listener
def _on_test_stopping(environment: Any, **_kwargs: Any) -> None:
    now = time.time()
    state.stop_time = state.stop_time or now
    state.local.end(now)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_kwargs: Any) -> None:
    state.local.end(time.time())  # in case test_stopping was not fired
    if not state.started:
        return
    if _is_worker(environment):
        # the data up to this stop, now: the next stats report can come 3 s later, after a quitting master
        environment.runner.send_message(FINAL_MESSAGE, {REPORT_KEY: state.local.take_report(), CPU_KEY: cpu_report()})
        return
    if not _is_master(environment):
        finalize(environment)
        return
    runner = environment.runner
    if runner.clients.running or runner.clients.spawning:
        # Quitting (the end of -t, Ctrl-C): Locust sends its workers no stop and waits 0.5 s for their last
        # report, which a busy machine misses (half of a 2-worker run once). Stop them here and wait for
        # their final data (bounded) before Locust goes on to quit.
        runner.send_message(STOP_MESSAGE)
        _finalize_after_final_reports(environment, state.generation)
    else:
        # stopped (web UI, bench's own master): the workers are stopping; wait without blocking Locust
        gevent.spawn(_finalize_after_final_reports, environment, state.generation)


def _on_stop_message(environment: Any, **_kwargs: Any) -> None:
    if environment.runner.state in (STATE_RUNNING, STATE_SPAWNING):
        environment.runner.stop()  # fires test_stop, which sends FINAL_MESSAGE


def _on_final_message(environment: Any, msg: Any, **_kwargs: Any) -> None:
    _on_worker_report(msg.node_id, msg.data)


@events.request.add_listener
def _on_request(
    response_time: float | None = None,
    exception: BaseException | None = None,
    response: Any = None,
    name: str = "",
    **_kwargs: Any,
) -> None:
    if response_time is None:
        return
    headers = getattr(response, "headers", None)
    # `is not None`, not truthiness: geventhttpclient's Headers.__len__ counts every field line, per request
    pid = headers.get(PID_HEADER) if headers is not None else None
    cold = headers is not None and headers.get(COLD_HEADER) == "1"
    variant = state.variants.get(name, "?")
    if variant == "?":
        variant = state.variants[name] = variant_of_name(name, VARIANTS, CEILINGS)
    state.local.record(pid, float(response_time), exception is not None, time.time(), cold, variant)


@events.reset_stats.add_listener
def _on_reset_stats(**_kwargs: Any) -> None:
    if state.environment is not None and not _is_worker(state.environment):
        reset(state.environment)


@events.spawning_complete.add_listener
def _on_spawning_complete(**_kwargs: Any) -> None:
    # --reset-stats: Locust resets its own statistics here (runners.py, on_spawning_complete)
    environment = state.environment
    if environment is not None and environment.reset_stats and not _is_worker(environment):
        reset(environment)


def reset(environment: Any) -> None:
    """Forget the per-process figures so far and restart the steady window (master or local runner)."""
    now = time.time()
    state.reset_gen += 1
    state.merger.reset(now, state.reset_gen)
    state.local.reset(now, state.reset_gen)
    if _is_master(environment):
        environment.runner.send_message(RESET_MESSAGE, {"t": now, "gen": state.reset_gen})


def _on_reset_message(msg: Any, **_kwargs: Any) -> None:
    state.local.reset(float(msg.data["t"]), int(msg.data["gen"]))


def selection(environment: Any) -> tuple[list[str], list[str]]:
    """The User classes the next (or current) test runs, and the variants they measure."""
    classes = list(environment.user_classes or [])
    web_ui = environment.web_ui
    runner = environment.runner
    available = environment.available_user_classes or {}
    # the class picker starts with everything selected, which _selection refuses to run
    if web_ui is not None and web_ui.userclass_picker_is_active and len(classes) >= len(available) > 1:
        if runner is None or runner.state not in (STATE_RUNNING, STATE_SPAWNING):
            return [], []
    return sorted(c.__name__ for c in classes), variants_of(classes)


def current_view(environment: Any) -> dict[str, Any]:
    """The `/per-process` JSON for the current (or last) test (see `_perprocess`)."""
    if not _is_master(environment) and state.started and not state.finalized:
        state.merger.add_report("local", state.local.take_report())  # a local runner merges as it goes
    runner = environment.runner
    running = runner is not None and runner.state in (STATE_RUNNING, STATE_SPAWNING)
    classes, variants = selection(environment)
    return build_view(
        state.merger,
        start=state.start_time,
        warmup_s=state.warmup_s,
        stop=None if running else state.stop_time,
        classes=classes,
        variants=variants,
        generators=len(state.merger.started_sources()),
        running=running,
    )


@events.report_to_master.add_listener
def _on_report_to_master(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    data[REPORT_KEY] = state.local.take_report()
    data[CPU_KEY] = cpu_report()


def cpu_report() -> dict[str, Any]:
    """This process's CPU seconds so far (user + system), on its own clock: the master turns two reports
    into a CPU share, so a worker on another machine says itself how busy it was."""
    t = os.times()
    return {"t": time.time(), "cpu_s": t.user + t.system, "pid": os.getpid(), "host": socket.gethostname()}


def worker_cpu(reports: dict[str, list[dict[str, Any]]], start: float, end: float) -> dict[str, dict[str, Any]]:
    """Per worker: CPU seconds and % of one core between its first report after `start` (or the last
    before it) and its last report up to `end` plus one report interval (the final one comes after stop)."""
    out = {}
    for client_id, rows in sorted(reports.items()):
        before = [r for r in rows if r["t"] <= start]
        inside = [r for r in rows if start < r["t"] <= end + WORKER_REPORT_INTERVAL]
        first = before[-1] if before else (inside[0] if inside else None)
        last = inside[-1] if inside else None
        if first is None or last is None or last["t"] <= first["t"]:
            out[client_id] = {"host": rows[-1]["host"], "pid": rows[-1]["pid"], "cpu_s": None, "cpu_pct": None}
            continue
        used = last["cpu_s"] - first["cpu_s"]
        out[client_id] = {"host": last["host"], "pid": last["pid"], "cpu_s": round(used, 3),
                          "seconds": round(last["t"] - first["t"], 3),
                          "cpu_pct": round(100 * used / (last["t"] - first["t"]), 1)}
    return out


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    report = data.get(REPORT_KEY)
    if report is not None:
        state.merger.add_report(client_id, report)
    cpu = data.get(CPU_KEY)
    if isinstance(cpu, dict):
        state.cpu.setdefault(client_id, []).append(cpu)


@events.quit.add_listener
def _on_quit(**_kwargs: Any) -> None:
    # the master's last chance: Locust's quit waited for the workers' final reports by now
    environment = state.environment
    if environment is not None and state.started and not state.finalized and not _is_worker(environment):
        finalize(environment)


def _finalize_after_final_reports(environment: Any, generation: int) -> None:
    deadline = time.monotonic() + FINAL_REPORT_TIMEOUT_S
    while not state.merger.all_stopped(state.workers) and time.monotonic() < deadline:
        gevent.sleep(0.1)
        if state.generation != generation:
            return  # a new test started, and finalized this one first
    if state.finalized:
        return
    if not state.merger.all_stopped(state.workers):
        logger.warning("Not every worker sent its final per-PID report in time; the per-PID numbers may be short")
    finalize(environment)


def finalize(environment: Any) -> dict[str, Any] | None:
    """Print the per-PID table and write --bench-out (once per test); return the summary."""
    if state.finalized:
        return None
    state.finalized = True
    if not _is_master(environment):
        state.merger.add_report("local", state.local.take_report())
    stop = state.stop_time or time.time()
    summary = state.merger.summary(state.warmup_s, state.start_time + state.warmup_s, stop)
    # the start the warm-up counts from, so a reader can check the window without knowing Locust's timing
    summary["test_start"] = round(state.start_time, 3)
    if _is_master(environment):
        summary["workers"] = worker_cpu(state.cpu, *summary["window"])
        for client_id, row in summary["workers"].items():  # what each worker sent in the steady window
            row["requests"] = state.merger.source_requests.get(client_id, 0)
    for line in format_table(summary):
        console.info(line)
    _write_csv(environment, summary)
    out = bench_options(environment).out
    if out:
        try:
            write_json(out, summary)
        except OSError as exc:
            logger.error("Could not write --bench-out %s: %s", out, exc)
            environment.process_exit_code = 1
        else:
            logger.info("Per-PID steady-state results written to %s", out)
    return summary


def _write_csv(environment: Any, summary: dict[str, Any]) -> None:
    """With --csv PREFIX: the per-process CSV files of this test, beside Locust's."""
    opts = environment.parsed_options
    prefix = getattr(opts, "csv_prefix", None) if opts is not None else None
    if not prefix:
        return
    measures, _warning = selection_text(*selection(environment))
    window = (summary["window"][0], summary["window"][1])
    try:
        paths = write_files(prefix, state.merger, window, measures, bool(getattr(opts, "stats_history_enabled", False)))
    except OSError as exc:
        logger.error("Could not write the per-process CSV files for --csv %s: %s", prefix, exc)
        environment.process_exit_code = 1
    else:
        logger.info("Per-process CSV written: %s", ", ".join(paths))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_table(summary: dict[str, Any]) -> list[str]:
    """The end-of-test console table."""
    start, end = summary["window"]
    lines = [
        f"Per-PID steady state (X-Bench-Pid): {end - start:.1f} s window after {summary['warmup_s']} s warm-up, "
        f"{summary['requests']} requests, {summary['failures']} failures, {summary['rps']:.1f} req/s, "
        f"{summary['generators']} Locust process(es)",
        f"  all      p50 {_fmt(summary['p50_ms'])}  p90 {_fmt(summary['p90_ms'])}  "
        f"p99 {_fmt(summary['p99_ms'])}  max {_fmt(summary['max_ms'])}  mean {_fmt(summary['mean_ms'])} ms",
        f"  {'PID':>8} {'requests':>10} {'failures':>9} {'share':>7} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}",
    ]
    total = summary["requests"] or 1
    for pid, row in summary["pids"].items():
        lines.append(
            f"  {pid:>8} {row['requests']:>10} {row['failures']:>9} {100 * row['requests'] / total:>6.1f}% "
            f"{_fmt(row['p50_ms']):>9} {_fmt(row['p99_ms']):>9} {_fmt(row['max_ms']):>9}"
        )
    if summary["no_pid"]:
        lines.append(f"  {'no PID':>8} {summary['no_pid']:>10}   (responses without {PID_HEADER})")
    if not summary["pids"] and summary["requests"]:
        lines.append(f"  no response carried {PID_HEADER}: is this the suite's server?")
    lines.append("")
    return lines


__all__ = [
    "NO_PID", "PID_HEADER", "current_view", "finalize", "format_table", "reset", "selection", "state", "write_json",
]  # fmt: skip
