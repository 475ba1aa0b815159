"""One trial: a fresh Apache start, Locust on one cell for the plan's duration, the raw files of the trial
folder turned into a trial record (trial.json, docs/results-format.md).

`bench run` runs its plan through `Trial`, and so does every `bench tune` sweep (bench/sweep.py), so both
measure the same way: the steady window shared by client and server, CPU from the process trees, the
bottleneck verdict, the faults seen.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import stack
from bench.console import busy
from bench.errors import UserError
from bench.load import access_log, faults, offered_rate, per_process, pooler_stats, wrk
from bench.load.accept_queue import AcceptQueueSampler, queue_time, read_samples
from bench.load.accept_queue import summary as queue_summary
from bench.load.locust_master import Master, MasterTrial
from bench.load.locust_runner import LocustProcess, command
from bench.load.plan import Plan
from bench.load.sampler import Sampler, memory_summary
from bench.record import bottleneck
from bench.record.bottleneck import Bottleneck, Verdict
from bench.record.files import write_json
from bench.record.trial import (
    AcceptQueue,
    ClientFigures,
    ConnectionFigures,
    CpuFigures,
    LatencyModel,
    MemoryFigures,
    OpenFigures,
    PlanStep,
    ProcessFigures,
    QueueTime,
    ServerFigures,
    TrialRecord,
    WorkerFigures,
    WrkFigures,
)
from bench.stack import cpus, postgres
from bench.stack.apache import Apache
from bench.stack.servers import parse_deployment
from bench.vocabulary import class_name, through_pooler, url_path

SESSION_FLUSH_S = 1.2  # PostgreSQL backends publish session counts at most once a second
SERVER_ROLES = ("apache", "postgres", "pgbouncer")  # the server's CPU: every process of the stack


def use_server(live: stack.Stack | None, server: str | None) -> bool:
    """Make the stack serve through `server`, an entry of --servers ("mod_wsgi", "mod_python:worker:1x4");
    True when Apache was started afresh here.

    The same state folder, port, PostgreSQL and handler secret; only the generated httpd.conf changes (as
    `bench tune` does for a setting), so the new server starts exactly as `bench up --server` would. What
    the entry does not name (MPM, processes, threads) is the run's own setting (`live.settings`), not the
    previous entry's; what the serving Apache runs with is `live.apache.settings`, read by the trial."""
    if live is None or server is None:
        return False
    target = parse_deployment(server).apply(live.settings)
    if live.apache.settings == target:
        return False
    live.apache.stop()
    live.apache = Apache(live.state, target, live.dsn)
    live.apache.prepare()
    live.apache.start()
    return True


def trial_dir(step: PlanStep | dict) -> str:
    """trials/NNN-workload-variant[-server][-rRATE]: the folder of one trial (docs/results-format.md)."""
    return PlanStep.of(step).dir


CLIENT_KEYS = ClientFigures.keys()


@dataclass
class Before:
    """What the trial reads before the load starts, to take the trial's share of it afterwards."""

    log_offset: int | None = None
    error_offset: int = 0
    sessions: int | None = None
    pg_started: float | None = None


@dataclass
class Notes:
    """The faults (a restart, a replaced child ...) and the other flags, in the order the collectors found them;
    trial.json lists the faults first."""

    faults: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ServerSide:
    """What the server side recorded (the access log, /proc, PostgreSQL); all None in a --url run."""

    server: ServerFigures | None
    slots: int | None
    rps_per_process: float | None
    requests_per_cpu_second: float | None
    memory: MemoryFigures
    db_sessions: int | None
    threads: int | None
    per_process_threads: tuple[ProcessFigures, ...] | None
    db_sessions_per_1000_requests: float | None
    access_vs_locust: float | None


class Trial:
    """One trial: load one cell for plan.duration_s and turn the raw files into a trial record.

    `measure` runs the load, then each collector returns its part of the record (the client's figures, the
    CPU, the server side, the bottleneck, the open model, the accept queue, the cross-check); the record is
    their sum, written to trial.json."""

    def __init__(self, run_dir: Path, plan: Plan, step: PlanStep | dict, base_url: str, live: stack.Stack | None,
                 monitor: postgres.Monitor | None, restart: bool = True, rel: str | None = None,
                 partition: cpus.Partition | None = None, users: int | None = None, master: Master | None = None):
        self.step = PlanStep.of(step)
        self.plan, self.base_url, self.live, self.monitor = plan, base_url, live, monitor
        self.restart = restart  # False when the caller has just started Apache afresh (bench tune)
        self.partition = partition or cpus.Partition(None, None)
        self.users = users or self.step.users or plan.users
        self.rel = rel or self.step.dir
        self.dir = run_dir / self.rel
        self.dir.mkdir(parents=True, exist_ok=True)
        self.master = master  # --workers: the run's Locust master (bench/load/locust_master.py)
        self.locust: LocustProcess | MasterTrial | None = None
        self.sampler: Sampler | None = None
        self.connections: pooler_stats.PoolerSampler | None = None

    def execute(self) -> dict:
        """`measure`, as the dict written to trial.json (what bench/tune's sweep reads)."""
        return self.measure().to_json()

    def measure(self) -> TrialRecord:
        """Run the trial; its record, also written to trial.json."""
        before = self._prepare()
        t0 = time.time()
        queued = self._load(t0)
        per_pid = self._per_pid()
        start, end = per_pid.get("window") or [t0 + self.plan.warmup_s, t0 + self.plan.duration_s]
        notes = Notes()
        client = ClientFigures.from_json({k: per_pid.get(k) for k in CLIENT_KEYS})
        pids_seen = len(per_pid.get("pids", {}))
        workers = self._workers(per_pid, notes)
        cpu = self._cpu(workers, start, end)
        side = (self._server_side(before, t0, start, end, client, cpu, notes) if self.live is not None
                else self._client_side(client, pids_seen))
        verdict = self._bottleneck(cpu, (start, end), client.mean_ms)
        self._verdict_flags(verdict, client, notes)
        opened = self._open_model(verdict, notes)
        queue, wait = self._accept_queue(start, end, client, side.server) if queued else (None, None)
        connections = self._connections(start, end)
        wrk_ = self.cross_check() if self.plan.cross_check else None
        step = self.step
        record = TrialRecord(
            seq=step.seq, trial=step.trial, workload=step.workload, variant=step.variant, rate=step.rate,
            server_module=step.server, users=self.users, dir=self.rel, started=round(t0, 3),
            steady=(round(start, 3), round(end, 3)), locust=client, pids_seen_by_client=pids_seen,
            workers=workers, **vars(side), cpu=cpu, bottleneck=verdict, generator_bound=verdict.generator_bound,
            failures=bool(client.failures), latency_model=LatencyModel.OPEN if step.rate else LatencyModel.CLOSED,
            open=opened, accept_queue=queue, queue_time=wait, connections=connections, faults=tuple(notes.faults),
            flags=(*notes.faults, *notes.flags), wrk=wrk_,
            locust_vs_wrk=None if wrk_ is None else _ratio(client.rps, wrk_.rps), extra=step.extra)
        write_json(self.dir / "trial.json", record.to_json())
        return record

    # --- before and during the load ------------------------------------------------------------------
    def _prepare(self) -> Before:
        """A fresh Apache (this step's server), and where its logs and PostgreSQL's counters stand."""
        live, before = self.live, Before()
        if live is None:
            return before
        if self.restart and not use_server(live, self.step.server):
            live.apache.restart()
        if self.step.server:  # the run folder's httpd.conf is the first server's
            (self.dir / "httpd.conf").write_text(live.apache.conf.read_text())
        before.log_offset = live.apache.access_log.stat().st_size
        before.error_offset = live.apache.error_log.stat().st_size if live.apache.error_log.exists() else 0
        if self.monitor is not None:
            before.sessions = self.monitor.sessions_opened()
            before.pg_started = self.monitor.started_at
        return before

    def _load(self, t0: float) -> bool:
        """Locust on the cell for the plan's duration, the process trees and the accept queue sampled meanwhile;
        True when the accept queue was sampled (the embedded stack)."""
        live, plan, step = self.live, self.plan, self.step
        if self.master is not None:  # the run's master and its workers, already connected
            self.locust = self.master.trial([class_name(str(step.workload), step.variant)], self.users, {
                "bench_out": str(self.dir / "per_pid.json"), "csv_prefix": str(self.dir / "locust"),
                "bench_warmup": plan.warmup_s, "queries": plan.queries, "close_connection": plan.connection_close})
        else:
            self.locust = LocustProcess(
                command(plan, self.base_url, str(step.workload), step.variant, self.dir, users=self.users,
                        app=live.settings.app if live is not None else None, rate=step.rate),
                self.dir / "locust.log", cpus=self.partition.generator)
        self.locust.check_cpus()
        roots: dict[str, int | None] = {"generator": self.locust.pid}
        if live is not None:
            roots["apache"] = live.apache.pid()
            roots["postgres"] = live.pg.pid() if live.pg is not None else None
            # PgBouncer's CPU is the server's: the work a pooled route moved out of PostgreSQL is counted there
            roots["pgbouncer"] = live.pooler.pid() if live.pooler is not None else None
        self.sampler = Sampler({k: v for k, v in roots.items() if v}, self.dir / "samples.jsonl").start()
        # the hidden queue: the listen socket's accept queue, sampled through the trial (bench/load/accept_queue.py)
        queue = AcceptQueueSampler(live.settings.port, self.dir / "accept_queue.jsonl").start() if live else None
        # where the PostgreSQL connections are spent (bench/load/pooler_stats.py): the embedded stack only
        self.connections = pooler_stats.for_stack(live, self.dir / "pooler.jsonl") if live else None
        if self.connections is not None:
            self.connections.start()
        try:
            if isinstance(self.locust, MasterTrial):
                self.locust.wait(plan.duration_s)
            else:
                self.locust.wait(timeout=plan.duration_s + 90)
        finally:
            self.sampler.stop()
            if queue is not None:
                queue.stop()
            if self.connections is not None:
                self.connections.stop()
        return queue is not None

    # --- the collectors ----------------------------------------------------------------------------------
    def _workers(self, per_pid: dict, notes: Notes) -> dict[str, WorkerFigures] | None:
        """--workers: each worker's own report (the lost ones marked); None without workers."""
        if not isinstance(self.locust, MasterTrial):
            return None
        workers = per_pid.get("workers") or {}
        for wid in self.locust.lost:
            workers.setdefault(wid, {"cpu_s": None, "cpu_pct": None})["lost"] = True
        notes.faults += self.locust.faults()
        return {str(k): WorkerFigures.from_json(w) for k, w in workers.items()}

    def _cpu(self, workers: dict[str, WorkerFigures] | None, start: float, end: float) -> CpuFigures:
        """CPU seconds of each side in the steady window. With workers elsewhere the load's CPU is their own
        reports (the busiest decides); the master, sampled here as "generator", is recorded beside them."""
        assert self.sampler is not None
        generator_s = _rounded(self.sampler.cpu_between("generator", start, end))
        generator_pct = self.sampler.busiest_pct("generator", start, end)
        server: dict[str, Any] = {"apache_s": None, "postgres_s": None, "server_s": None}
        if self.live is not None:
            for role in SERVER_ROLES:  # pgbouncer_s None (left out) when the stack runs no PgBouncer
                server[f"{role}_s"] = _rounded(self.sampler.cpu_between(role, start, end))
            server["server_s"] = round(sum(server[f"{role}_s"] or 0 for role in SERVER_ROLES), 3)
        if workers is None:
            return CpuFigures(**server, generator_s=generator_s, generator_pct=generator_pct)
        used = [w.cpu_s for w in workers.values() if w.cpu_s is not None]
        pcts = [w.cpu_pct for w in workers.values() if w.cpu_pct is not None]
        return CpuFigures(**server, generator_s=round(sum(used), 3) if used else None,
                          generator_pct=max(pcts) if pcts else None, master_s=generator_s, master_pct=generator_pct)

    def _connections(self, start: float, end: float) -> ConnectionFigures | None:
        """PostgreSQL's server connections and forks in the steady window; PgBouncer's clients and their wait
        when this trial's variant goes through it (None otherwise: not measured, never 0). None without the
        embedded PostgreSQL (--dsn, --url). An --app run through `--pooler` takes the samples as they are: the
        suite does not know which route the application's connections take."""
        live = self.live
        if self.connections is None or live is None:
            return None
        pooled: bool | None = live.pooler is not None and through_pooler(str(self.step.variant))
        if live.pooler is not None and live.settings.app is not None:
            pooled = None
        figures = pooler_stats.summary(self.connections.path, start, end, through_pooler=pooled)
        if pooled is False or live.pooler is None:
            return figures
        return figures.having(pool_size=live.pooler.pool_size, pooler_mode=live.pooler.mode)

    def _client_side(self, client: ClientFigures, pids_seen: int) -> ServerSide:
        """A --url run: no access log, no server CPU or memory; per process means per PID the client saw."""
        memory = MemoryFigures.from_json({"rss_mb_per_process": None, "pss_mb_per_process": None})
        return ServerSide(None, None, _per(client.rps, pids_seen), None, memory, None, None, None, None, None)

    def _server_side(self, before: Before, t0: float, start: float, end: float, client: ClientFigures,
                     cpu: CpuFigures, notes: Notes) -> ServerSide:
        """The access log's slice of the trial, PostgreSQL's sessions and restarts, memory and the per-process
        figures. Per process means per slot of the fixed pool: a replaced child takes the same slot, so a kill -9
        mid-trial does not turn 4 processes into 5 and lower the figure by a fifth."""
        live = self.live
        assert live is not None and self.sampler is not None
        access_log.copy_slice(live.apache.access_log, before.log_offset or 0, self.dir / "access.log")
        time.sleep(SESSION_FLUSH_S)
        sessions = self._db_sessions(before, t0, notes)
        entries = access_log.read(self.dir / "access.log")
        server = ServerFigures.from_json(access_log.window_summary(entries, start, end))
        write_json(self.dir / "timeline.json",
                   access_log.timeline(entries, t0, self.plan.warmup_s, self.plan.duration_s))
        if live.pg is None:
            notes.flags.append("server CPU counts Apache only (PostgreSQL is external, --dsn)")
        serving = live.apache.settings  # this trial's server (--servers entries may differ from live.settings)
        if serving.max_connections_per_child == 0:
            notes.faults += faults.replaced_children(entries, t0, serving.processes, self.sampler.started_of("apache"))
        samples = self.dir / "samples.jsonl"
        memory = MemoryFigures.from_json(memory_summary(samples, "apache", start, end,
                                                        {p.pid for p in server.per_process or () if p and p.pid}))
        figures = tuple(ProcessFigures.from_json(p) for p in per_process.figures(entries, samples, start, end))
        notes.flags += self._status_flags(server, before.error_offset)
        return ServerSide(
            server, serving.processes, _per(server.rps, serving.processes), _per(server.requests, cpu.server_s),
            memory, sessions, serving.threads, figures,
            None if sessions is None or not entries else round(1000 * sessions / len(entries), 3),
            round(abs((server.requests or 0) - client.requests) / client.requests, 4) if client.requests else None)

    def _db_sessions(self, before: Before, t0: float, notes: Notes) -> int | None:
        """PostgreSQL sessions opened during the trial; None across a restart (not one series: left out rather
        than guessed) or without a monitor."""
        if self.monitor is None:
            return None
        after = self.monitor.sessions_opened()
        found = faults.postgres_restarted(before.pg_started, self.monitor.started_at, t0)
        if after is None:
            found += faults.unreachable("postgres", t0, time.time())
        notes.faults += found
        if before.sessions is not None and after is not None and not notes.faults:
            own = self.connections.own_sessions if self.connections is not None else 0
            return after - before.sessions - own
        return None

    def _status_flags(self, server: ServerFigures, error_offset: int) -> list[str]:
        """Answers other than 2xx (with the handler's traceback on a 5xx), or no answer at all."""
        assert self.live is not None
        flags = []
        bad = {k: v for k, v in (server.status or {}).items() if not k.startswith("2")}
        if bad:
            flags.append(f"server answered non-2xx: {bad}")
        if any(k.startswith("5") for k in bad):
            flags += error_log_flags(self.live.apache.error_log, error_offset)
        if not server.requests:
            flags.append(f"no request completed in the steady window ({self.plan.steady_s:g} s): the server "
                         "answered slower than the trial, or not at all")
        return flags

    def _verdict_flags(self, verdict: Verdict, client: ClientFigures, notes: Notes) -> None:
        if verdict.bottleneck != Bottleneck.SERVER:
            notes.flags.append(f"limited by {verdict.bottleneck}: {verdict.reason}")
        if busy(verdict.others_util):
            notes.flags.append(f"other processes used {100 * (verdict.others_util or 0):.0f}% of the server "
                               "CPUs: a busy machine, figures are lower than on a quiet one")
        if client.failures:
            notes.flags.append(f"{client.failures} failed requests")

    def _open_model(self, verdict: Verdict, notes: Notes) -> OpenFigures | None:
        """--rate: the open model's figures (latency from the intended start) and whether the rate was met."""
        if not self.step.rate:
            return None
        figures = offered_rate.trial_figures(self.dir)
        if figures is None:
            notes.flags.append("the open model wrote no open.json: see locust.log")
            return None
        notes.flags += offered_rate.flags(figures, verdict.bottleneck)
        return OpenFigures.from_json(figures)

    def _accept_queue(self, start: float, end: float, client: ClientFigures, server: ServerFigures | None
                      ) -> tuple[AcceptQueue, QueueTime]:
        """The listen backlog through the steady window, and the time a request spent outside a child: from the
        send (not the intended start), the wait in the listen backlog, not in the client's own."""
        summary = queue_summary(read_samples(self.dir / "accept_queue.jsonl"), start, end)
        wait = queue_time(client.to_json(), None if server is None else server.to_json())
        return AcceptQueue.from_json(summary), QueueTime.from_json(wait)

    def _bottleneck(self, cpu: CpuFigures, window: tuple[float, float], mean_ms: float | None) -> Verdict:
        assert self.sampler is not None
        window_s = window[1] - window[0]
        everything = cpus.available()
        server_set = self.partition.server or everything
        generator_set = self.partition.generator or everything
        server_busy = self.sampler.busy_between(server_set, *window) if self.live else None
        if self.plan.workers:  # remote workers: one core each as far as Locust goes, not our CPUs
            return bottleneck.judge(
                window_s=window_s, server_cpu_s=cpu.server_s, server_cpus=len(server_set),
                generator_cpu_s=cpu.generator_s, generator_cpus=self.plan.workers,
                generator_busiest_pct=cpu.generator_pct, shared_cpus=False, users=self.users, mean_ms=mean_ms,
                server_set_busy_s=server_busy)
        return bottleneck.judge(
            window_s=window_s, server_cpu_s=cpu.server_s, server_cpus=len(server_set),
            generator_cpu_s=cpu.generator_s, generator_cpus=len(generator_set),
            generator_busiest_pct=cpu.generator_pct, shared_cpus=bool(server_set & generator_set),
            users=self.users, mean_ms=mean_ms, server_set_busy_s=server_busy,
            generator_set_busy_s=self.sampler.busy_between(generator_set, *window))

    def cross_check(self) -> WrkFigures:
        """wrk on the same endpoint right after Locust: same connections, same generator CPUs."""
        seconds = max(3, min(10, round(self.plan.steady_s)))
        url = self.base_url + url_path(str(self.step.workload), self.step.variant)
        if self.step.workload in ("queries", "updates"):
            url += f"?queries={self.plan.queries}"
        out = wrk.measure(url, self.users, seconds, self.partition.generator, self.dir / "wrk.txt",
                          connection_close=self.plan.connection_close)
        return WrkFigures.from_json({k: out[k] for k in ("rps", "requests", "p50_ms", "p99_ms", "errors", "non_2xx")}
                                    | {"duration_s": seconds, "connections": self.users})

    def _per_pid(self) -> dict:
        path = self.dir / "per_pid.json"
        if not path.exists():
            tail = (self.dir / "locust.log").read_text(errors="replace").strip().splitlines()[-3:]
            raise UserError(f"Locust wrote no results for {self.rel}: {' | '.join(tail) or 'no output'}")
        return json.loads(path.read_text())

    def abort(self) -> None:
        if self.locust is not None:
            self.locust.stop()
        if self.sampler is not None and self.sampler.running:
            self.sampler.stop()
        if self.connections is not None:
            self.connections.stop()


TRACEBACK = "Traceback (most recent call last)"


def error_log_flags(error_log: Path, offset: int) -> list[str]:
    """The first traceback the error log gained during the trial, in one line: where it was raised and the
    exception (a handler that raised)."""
    try:
        with open(error_log, errors="replace") as f:
            f.seek(offset)
            lines = f.read().splitlines()
    except OSError:
        return []
    # Each traceback line is its own error-log line behind a prefix: "[time] [module:level] [pid N] [client
    # ...] PythonHandler mod: " under mod_python. The prefix is what precedes "Traceback" on its first line.
    first = next((i for i, ln in enumerate(lines) if TRACEBACK in ln), None)
    if first is None:
        return []
    prefix = lines[first][:lines[first].index(TRACEBACK)]
    # The lines of one traceback share the prefix after its time stamp: level, pid, client, handler.
    key = prefix[prefix.find("[pid "):] if "[pid " in prefix else prefix.split("] ", 1)[-1]
    block = []
    for ln in lines[first + 1:first + 60]:
        if key not in ln:
            continue
        text = ln[ln.index(key) + len(key):]
        block.append(text.split("\\n")[0])  # mod_python writes a frame's source line after a literal \n
        if not text[:1].isspace():  # the exception itself ends the traceback
            break
    frames = [t.strip() for t in block if t.strip().startswith("File ")]  # not their source lines
    exception = block[-1].strip() if block and not block[-1][:1].isspace() else ""
    shown = [TRACEBACK + ":", *frames[-1:], exception]
    return ["error log: " + " | ".join(t for t in shown if t)]


def _per(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 2) if numerator is not None and denominator else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 4) if numerator is not None and denominator else None


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)
