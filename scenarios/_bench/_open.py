"""The open model: requests started on a schedule at an offered rate (`--bench-rate R`), not in a closed loop.

Closed loop (the default): U users each wait for their answer before asking again, so a stalled server
stalls the load and the stall is hidden from the latency (coordinated omission). Open model: one schedule
per Locust process emits intended start times at R per second, `constant` (every 1/R s) or `poisson`
(exponential gaps of mean 1/R, seeded, so two runs offer the same sequence), and never waits for answers.
The users are the connections: each takes the next intended start, sends at once (or at its time), and its
latency is measured from the **intended** start, so time spent waiting for a free connection counts.

Requests that could not start on time are counted, never skipped:
- late: sent more than LATE_MS after its intended start (every connection was busy, or the generator was
  behind); it is still sent and its latency still counts from the intended start;
- dropped: the schedule's backlog (tickets waiting for a connection) was full, BACKLOG_S seconds of the
  rate (at least MIN_BACKLOG); fired through Locust's `request` event as a failure with no response time
  (request type DROPPED, exception `Dropped`), so Locust's tables and --csv show them;
- unfinished: waiting for a connection or in flight when the test stopped (never answered in the window).

"The generator could not offer this rate": the schedule itself emitted tickets late (its own lag, not a
connection's), p99 over LATE_MS and at least half the p99 latency: this Locust process is too busy to keep
time, and the figures then describe the generator. The summary says so (`generator_behind`, with the
reason). A smaller lag stays in `schedule_lag_p99_ms`; it is part of every latency from the intended start.

Latencies go to an HdrHistogram (`hdrhistogram` on PyPI, microseconds, 3 significant digits: within 0.1%)
whose encoded form is written with the summary (`--bench-open-out PATH`), so any percentile can be read
again later. Only tickets intended inside the steady window (after --bench-warmup, before the stop) count
in `offered`; a send or an answer counts by its own time (so under overload the answers of the window are
those of tickets intended earlier, and their latency grows with the run, as a user's would). The open model
runs in one Locust process: with --processes or --master/--worker it refuses to start (each process would
offer the whole rate).

The summary (JSON at --bench-open-out):
    {"model": "open", "arrival": "constant", "rate": 300.0, "connections": 4, "window": [t0, t1],
     "offered": 3000, "offered_rps": 300.0, "started": 2980, "requests": 2975, "failures": 0,
     "dropped": 0, "late": 12, "unfinished": 25, "rps": 297.5, "late_ms": 10, "backlog": 3000,
     "latency_from": "intended start", "p50_ms": .., "p90_ms": .., "p99_ms": .., "p999_ms": .., "max_ms": ..,
     "mean_ms": .., "send_delay_p99_ms": .., "schedule_lag_p99_ms": .., "generator_behind": false,
     "generator_reason": null, "timeline": [[0, 300, 2.1, 9.8], ...], "hdr_unit": "us",
     "hdr": "<base64 HdrHistogram>"}
"""

from __future__ import annotations

import logging
import random
import sys
import time
from typing import Any

import gevent
from gevent.queue import Empty, Full, Queue
from hdrh.histogram import HdrHistogram
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from ._files import write_json
from ._options import bench_options

logger = logging.getLogger(__name__)
console = logging.getLogger("locust.stats_logger")

LATE_MS = 10.0
BACKLOG_S = 2.0  # tickets waiting for a connection: at most 2 s of the rate, then dropped
MIN_BACKLOG = 64
HDR_MAX_US = 3_600_000_000  # one hour
SEED = 19


class Dropped(Exception):
    """A scheduled request that never started: every connection was busy and the backlog was full."""


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, HDR_MAX_US, 3)


def percentiles(h: HdrHistogram, prefix: str = "") -> dict[str, float | None]:
    """p50..p999, max, mean in milliseconds from a microsecond histogram (None when empty)."""
    names = {"p50": 50, "p90": 90, "p99": 99, "p999": 99.9}
    if h.get_total_count() == 0:
        return {f"{prefix}{k}_ms": None for k in (*names, "max", "mean")}
    out = {f"{prefix}{k}_ms": round(h.get_value_at_percentile(q) / 1000, 3) for k, q in names.items()}
    out[f"{prefix}max_ms"] = round(h.get_max_value() / 1000, 3)
    out[f"{prefix}mean_ms"] = round(h.get_mean_value() / 1000, 3)
    return out


class Schedule:
    """Intended start times at `rate` per second from `t0`, and what became of each."""

    def __init__(self, rate: float, arrival: str, t0: float, warmup_s: float, connections: int, name: str):
        self.rate, self.arrival, self.t0 = rate, arrival, t0
        self.warm_end = t0 + warmup_s
        self.stop: float | None = None
        self.connections, self.name = connections, name
        self.backlog = max(MIN_BACKLOG, int(rate * BACKLOG_S))
        self.queue: Queue = Queue(maxsize=self.backlog)
        self.random = random.Random(SEED)
        self.latency, self.send_delay, self.lag = new_histogram(), new_histogram(), new_histogram()
        self.offered = self.started = self.completed = self.failures = self.dropped = self.late = 0
        self.in_flight = 0
        self.seconds: dict[int, list[float]] = {}  # second of the window -> [answers, latency sum, max] (ms)
        self.greenlet: Any = None

    def counted(self, t: float) -> bool:
        """Inside the steady window: a ticket by its intended start, a send and an answer by their time."""
        return t >= self.warm_end and (self.stop is None or t < self.stop)

    def gap(self) -> float:
        return self.random.expovariate(self.rate) if self.arrival == "poisson" else 1.0 / self.rate

    def run(self) -> None:
        """The schedule's greenlet: emit every ticket whose time has come, then sleep until the next."""
        due = self.t0
        while self.stop is None:
            now = time.time()
            while due <= now and self.stop is None:
                self.emit(due, now)
                due += self.gap()
            gevent.sleep(max(0.0, due - time.time()))

    def emit(self, intended: float, now: float) -> None:
        counted = self.counted(intended)
        if counted:
            self.offered += 1
            self.lag.record_value(max(1, int((now - intended) * 1e6)))
        try:
            self.queue.put_nowait(intended)
        except Full:
            if counted:
                self.dropped += 1
            events.request.fire(request_type="DROPPED", name=self.name, response_time=None, response_length=0,
                                exception=Dropped(f"backlog of {self.backlog} full, every connection busy"),
                                context={}, response=None, url=self.name)

    def take(self) -> float:
        """The next intended start for a connection (blocks; Locust kills the greenlet at stop)."""
        while True:
            try:
                intended = self.queue.get(timeout=1.0)
            except Empty:
                continue
            wait = intended - time.time()
            if wait > 0:
                gevent.sleep(wait)
            return intended

    def sent(self, intended: float, at: float) -> None:
        self.in_flight += 1
        if self.counted(at):
            self.started += 1
            self.send_delay.record_value(max(1, int((at - intended) * 1e6)))
            if (at - intended) * 1000 > LATE_MS:
                self.late += 1

    def done(self, intended: float, end: float, failed: bool) -> None:
        self.in_flight -= 1
        if self.counted(end):
            self.completed += 1
            self.failures += int(failed)
            self.latency.record_value(min(HDR_MAX_US, max(1, int((end - intended) * 1e6))))
            ms = (end - intended) * 1000
            row = self.seconds.setdefault(int(end - self.warm_end), [0, 0.0, 0.0])
            row[0], row[1], row[2] = row[0] + 1, row[1] + ms, max(row[2], ms)

    def summary(self) -> dict[str, Any]:
        stop = self.stop or time.time()
        seconds = max(1e-9, stop - self.warm_end)
        lag = percentiles(self.lag, "schedule_lag_")
        latency = percentiles(self.latency)
        lag_p99, p99 = lag["schedule_lag_p99_ms"], latency["p99_ms"]
        # behind: the schedule's own lateness is over LATE_MS and at least half the p99, so the latency
        # describes the generator; a smaller lag is only part of (and included in) a real latency
        behind = lag_p99 is not None and lag_p99 > LATE_MS and (p99 is None or lag_p99 >= 0.5 * p99)
        out: dict[str, Any] = {
            "model": "open", "arrival": self.arrival, "rate": self.rate, "connections": self.connections,
            "window": [round(self.warm_end, 3), round(stop, 3)], "offered": self.offered,
            "offered_rps": round(self.offered / seconds, 2), "started": self.started, "requests": self.completed,
            "failures": self.failures, "dropped": self.dropped, "late": self.late,
            "unfinished": self.queue.qsize() + self.in_flight,
            "rps": round(self.completed / seconds, 2), "late_ms": LATE_MS, "backlog": self.backlog,
            "latency_from": "intended start", **latency,
            "send_delay_p99_ms": percentiles(self.send_delay)["p99_ms"],
            "schedule_lag_p99_ms": lag["schedule_lag_p99_ms"], "schedule_lag_max_ms": lag["schedule_lag_max_ms"],
            "generator_behind": behind,
            "generator_reason": (f"the schedule itself ran {lag_p99:g} ms late at p99 (over {LATE_MS:g} ms and "
                                 f"half the p99): this Locust process could not offer {self.rate:g} req/s")
            if behind else None,
            # per second of the window: [second, answers, mean ms, max ms] (does the latency grow with the run?)
            "timeline": [[k, int(v[0]), round(v[1] / v[0], 3), round(v[2], 3)]
                         for k, v in sorted(self.seconds.items())],
            "hdr_unit": "us", "hdr": self.latency.encode().decode("ascii"),
        }
        return out


class _State:
    schedule: Schedule | None = None
    last: dict[str, Any] | None = None


state = _State()


def active() -> Schedule | None:
    """The running schedule, or None in the closed-loop model."""
    return state.schedule


def next_start(user: Any) -> float | None:
    """For a user about to send: its intended start (waits for it), or None in the closed loop."""
    schedule = state.schedule
    return None if schedule is None else schedule.take()


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_kwargs: Any) -> None:
    opts = bench_options(environment)
    if opts.rate and isinstance(runner, MasterRunner | WorkerRunner):
        print("error: --bench-rate (the open model) runs in one Locust process: drop --processes, --master "
              "and --worker", file=sys.stderr)
        sys.exit(1)


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kwargs: Any) -> None:
    opts = bench_options(environment)
    if not opts.rate or isinstance(environment.runner, MasterRunner | WorkerRunner):
        state.schedule = None
        return
    classes = environment.user_classes or []
    name = getattr(classes[0], "path", "open") if len(classes) == 1 else "open model"
    users = getattr(environment.parsed_options, "num_users", None) or 1
    state.schedule = Schedule(opts.rate, opts.arrival, time.time(), opts.warmup_s, int(users), name)
    state.schedule.greenlet = gevent.spawn(state.schedule.run)


@events.test_stopping.add_listener
def _on_test_stopping(**_kwargs: Any) -> None:
    schedule = state.schedule
    if schedule is not None and schedule.stop is None:
        schedule.stop = time.time()


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_kwargs: Any) -> None:
    schedule = state.schedule
    if schedule is None:
        return
    schedule.stop = schedule.stop or time.time()
    if schedule.greenlet is not None:
        schedule.greenlet.kill(block=False)
    summary = schedule.summary()
    state.last = summary
    for line in format_lines(summary):
        console.info(line)
    out = bench_options(environment).open_out
    if out:
        try:
            write_json(out, summary)
        except OSError as exc:
            logger.error("Could not write --bench-open-out %s: %s", out, exc)
            environment.process_exit_code = 1


def last_summary() -> dict[str, Any] | None:
    return state.last


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_lines(s: dict[str, Any]) -> list[str]:
    """The end-of-test lines of the open model."""
    lines = [
        f"Open model ({s['arrival']} arrivals, {s['rate']:g} req/s offered, {s['connections']} connections): "
        f"{s['offered']} intended in the window, {s['requests']} answered ({s['rps']:.1f} req/s), "
        f"{s['failures']} failed, {s['dropped']} dropped, {s['late']} late (> {s['late_ms']:g} ms), "
        f"{s['unfinished']} unfinished",
        f"  latency from intended start: p50 {_ms(s['p50_ms'])}  p90 {_ms(s['p90_ms'])}  p99 {_ms(s['p99_ms'])}  "
        f"p99.9 {_ms(s['p999_ms'])}  max {_ms(s['max_ms'])} ms",
    ]
    if s["generator_behind"]:
        lines.append(f"  the generator could not offer this rate: {s['generator_reason']}")
    return [*lines, ""]
