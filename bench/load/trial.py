"""One trial: a fresh Apache start, Locust on one cell for the plan's duration, the raw files of the trial
folder turned into a trial record (trial.json, docs/results-format.md).

`bench run` runs its plan through `Trial`, and so does every `bench tune` sweep (bench/sweep.py), so both
measure the same way: the steady window shared by client and server, CPU from the process trees, the
bottleneck verdict, the faults seen.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench import stack
from bench.console import busy
from bench.errors import UserError
from bench.load import access_log, faults, offered_rate, per_process, wrk
from bench.load.accept_queue import AcceptQueueSampler, queue_time, read_samples
from bench.load.accept_queue import summary as queue_summary
from bench.load.locust_master import Master, MasterTrial
from bench.load.locust_runner import LocustProcess, command
from bench.load.plan import Plan
from bench.load.sampler import Sampler, memory_summary
from bench.record import bottleneck
from bench.record.files import write_json
from bench.stack import cpus, postgres
from bench.stack.apache import Apache
from bench.stack.servers import parse_deployment
from bench.vocabulary import class_name, url_path

SESSION_FLUSH_S = 1.2  # PostgreSQL backends publish session counts at most once a second


def use_server(live: stack.Stack | None, server: str | None) -> bool:
    """Make the stack serve through `server`, an entry of --servers ("mod_wsgi", "mod_python:worker:1x4");
    True when Apache was started afresh here.

    The same state folder, port, PostgreSQL and handler secret; only the generated httpd.conf changes (as
    `bench tune` does for a setting), so the new server starts exactly as `bench up --server` would. What
    the entry does not name (MPM, processes, threads) is the run's own setting, not the previous entry's."""
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


def trial_dir(step: dict) -> str:
    """trials/NNN-workload-variant[-server]: the folder of one trial (docs/results-format.md)."""
    server = f"-{step['server']}" if step.get("server") else ""
    rate = f"-r{step['rate']:g}" if step.get("rate") else ""
    return f"trials/{step['seq']:03d}-{step['workload']}-{step['variant']}{server}{rate}"


class Trial:
    """One trial: load one cell for plan.duration_s and turn the raw files into a trial record."""

    def __init__(self, run_dir: Path, plan: Plan, step: dict, base_url: str, live: stack.Stack | None,
                 monitor: postgres.Monitor | None, restart: bool = True, rel: str | None = None,
                 partition: cpus.Partition | None = None, users: int | None = None, master: Master | None = None):
        self.plan, self.step, self.base_url, self.live, self.monitor = plan, step, base_url, live, monitor
        self.restart = restart  # False when the caller has just started Apache afresh (bench tune)
        self.partition = partition or cpus.Partition(None, None)
        self.users = users or step.get("users") or plan.users
        self.rel = rel or trial_dir(step)
        self.dir = run_dir / self.rel
        self.dir.mkdir(parents=True, exist_ok=True)
        self.master = master  # --workers: the run's Locust master (bench/load/locust_master.py)
        self.locust: LocustProcess | MasterTrial | None = None
        self.sampler: Sampler | None = None

    def execute(self) -> dict:
        live, plan, step = self.live, self.plan, self.step
        offset = sessions_before = pg_started = None
        error_offset = 0
        if live is not None:
            if self.restart and not use_server(live, step.get("server")):
                live.apache.restart()
            if step.get("server"):  # the run folder's httpd.conf is the first server's
                (self.dir / "httpd.conf").write_text(live.apache.conf.read_text())
            offset = live.apache.access_log.stat().st_size
            error_offset = live.apache.error_log.stat().st_size if live.apache.error_log.exists() else 0
            if self.monitor is not None:
                sessions_before = self.monitor.sessions_opened()
                pg_started = self.monitor.started_at
        t0 = time.time()
        if self.master is not None:  # the run's master and its workers, already connected
            self.locust = self.master.trial([class_name(step["workload"], step["variant"])], self.users, {
                "bench_out": str(self.dir / "per_pid.json"), "csv_prefix": str(self.dir / "locust"),
                "bench_warmup": plan.warmup_s, "queries": plan.queries, "close_connection": plan.connection_close})
        else:
            self.locust = LocustProcess(
                command(plan, self.base_url, step["workload"], step["variant"], self.dir, users=self.users,
                        app=live.settings.app if live is not None else None, rate=step.get("rate")),
                self.dir / "locust.log", cpus=self.partition.generator)
        self.locust.check_cpus()
        roots = {"generator": self.locust.pid}
        if live is not None:
            roots["apache"] = live.apache.pid()
            if live.pg is not None:
                roots["postgres"] = live.pg.pid()
        self.sampler = Sampler(roots, self.dir / "samples.jsonl").start()
        # the hidden queue: the listen socket's accept queue, sampled through the trial (bench/load/accept_queue.py)
        queue = AcceptQueueSampler(live.settings.port, self.dir / "accept_queue.jsonl").start() if live else None
        try:
            if isinstance(self.locust, MasterTrial):
                self.locust.wait(plan.duration_s)
            else:
                self.locust.wait(timeout=plan.duration_s + 90)
        finally:
            self.sampler.stop()
            if queue is not None:
                queue.stop()
        per_pid = self._per_pid()
        start, end = per_pid.get("window") or [t0 + plan.warmup_s, t0 + plan.duration_s]
        # A trial's "server" is its access-log summary (below); the module that served it is server_module.
        cell = {k: v for k, v in step.items() if k != "server"}
        if step.get("server"):
            cell["server_module"] = step["server"]
        trial = {**cell, "users": self.users, "dir": self.rel, "started": round(t0, 3),
                 "steady": [round(start, 3), round(end, 3)],
                 "locust": {k: per_pid.get(k) for k in
                            ("requests", "failures", "rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms")},
                 "pids_seen_by_client": len(per_pid.get("pids", {}))}
        generator_s = self.sampler.cpu_between("generator", start, end)
        cpu = {"apache_s": None, "postgres_s": None, "server_s": None,
               "generator_s": None if generator_s is None else round(generator_s, 3),
               "generator_pct": self.sampler.busiest_pct("generator", start, end)}
        flags: list[str] = []
        found: list[str] = []
        if isinstance(self.locust, MasterTrial):
            # The load comes from workers elsewhere: their own CPU reports, the busiest one decides; the
            # master (sampled here as "generator") is recorded beside them.
            workers = per_pid.get("workers") or {}
            for wid in self.locust.lost:
                workers.setdefault(wid, {"cpu_s": None, "cpu_pct": None})["lost"] = True
            trial["workers"] = workers
            used = [w["cpu_s"] for w in workers.values() if w.get("cpu_s") is not None]
            pcts = [w["cpu_pct"] for w in workers.values() if w.get("cpu_pct") is not None]
            cpu["master_s"], cpu["master_pct"] = cpu["generator_s"], cpu["generator_pct"]
            cpu["generator_s"] = round(sum(used), 3) if used else None
            cpu["generator_pct"] = max(pcts) if pcts else None
            found += self.locust.faults()
        if live is None:
            trial["server"] = None
            trial["slots"] = None
            trial["rps_per_process"] = _per(trial["locust"]["rps"], trial["pids_seen_by_client"])
            trial["requests_per_cpu_second"] = None
            trial["memory"] = {"rss_mb_per_process": None, "pss_mb_per_process": None}
            trial["db_sessions"] = trial["db_sessions_per_1000_requests"] = None
            trial["access_vs_locust"] = None
        else:
            access_log.copy_slice(live.apache.access_log, offset, self.dir / "access.log")
            time.sleep(SESSION_FLUSH_S)
            sessions = None
            if self.monitor is not None:
                after = self.monitor.sessions_opened()
                found += faults.postgres_restarted(pg_started, self.monitor.started_at, t0)
                if after is None:
                    found += faults.unreachable("postgres", t0, time.time())
                # Across a restart the counter is not one series: leave it out rather than guess.
                if sessions_before is not None and after is not None and not found:
                    sessions = after - sessions_before
            entries = access_log.read(self.dir / "access.log")
            server = access_log.window_summary(entries, start, end)
            write_json(self.dir / "timeline.json",
                       access_log.timeline(entries, t0, plan.warmup_s, plan.duration_s))
            for role in ("apache", "postgres"):
                used = self.sampler.cpu_between(role, start, end)
                cpu[f"{role}_s"] = None if used is None else round(used, 3)
            server_s = (cpu["apache_s"] or 0) + (cpu["postgres_s"] or 0)
            cpu["server_s"] = round(server_s, 3)
            if live.pg is None:
                flags.append("server CPU counts Apache only (PostgreSQL is external, --dsn)")
            # Per process means per slot of the fixed pool: a replaced child takes the same slot, so a kill -9
            # mid-trial does not turn 4 processes into 5 and lower the figure by a fifth.
            slots = live.apache.settings.processes  # this trial's server (--servers entries may differ)
            if live.settings.max_connections_per_child == 0:
                found += faults.replaced_children(entries, t0, slots, self.sampler.started_of("apache"))
            trial["server"] = server
            trial["slots"] = slots
            trial["rps_per_process"] = _per(server["rps"], slots)
            trial["requests_per_cpu_second"] = _per(server["requests"], server_s)
            trial["memory"] = memory_summary(self.dir / "samples.jsonl", "apache", start, end,
                                             {p["pid"] for p in server["per_process"]})
            trial["db_sessions"] = sessions
            # Threads: busy threads, CPU and req/CPU-s of each serving process (bench.load.per_process).
            trial["threads"] = live.apache.settings.threads
            trial["per_process_threads"] = per_process.figures(entries, self.dir / "samples.jsonl", start, end)
            trial["db_sessions_per_1000_requests"] = (
                None if sessions is None or not entries else round(1000 * sessions / len(entries), 3))
            locust_n = trial["locust"]["requests"] or 0
            trial["access_vs_locust"] = (round(abs(server["requests"] - locust_n) / locust_n, 4)
                                         if locust_n else None)
            bad = {k: v for k, v in server["status"].items() if not k.startswith("2")}
            if bad:
                flags.append(f"server answered non-2xx: {bad}")
            if any(k.startswith("5") for k in bad):
                flags += error_log_flags(live.apache.error_log, error_offset)
            if not server["requests"]:
                flags.append(f"no request completed in the steady window ({plan.steady_s:g} s): the server "
                             "answered slower than the trial, or not at all")
        trial["cpu"] = cpu
        trial["bottleneck"] = self._bottleneck(cpu, (start, end), trial["locust"]["mean_ms"])
        trial["generator_bound"] = trial["bottleneck"]["bottleneck"] in ("generator", "shared")
        trial["failures"] = bool(trial["locust"]["failures"])
        if trial["bottleneck"]["bottleneck"] != "server":
            flags.append(f"limited by {trial['bottleneck']['bottleneck']}: {trial['bottleneck']['reason']}")
        if busy(trial["bottleneck"].get("others_util")):
            flags.append(f"other processes used {100 * trial['bottleneck']['others_util']:.0f}% of the server "
                         "CPUs: a busy machine, figures are lower than on a quiet one")
        if trial["failures"]:
            flags.append(f"{trial['locust']['failures']} failed requests")
        # the load model of every latency above: closed loop, or the open model (latency from intended start)
        trial["latency_model"] = "open" if step.get("rate") else "closed"
        if step.get("rate"):
            trial["open"] = offered_rate.trial_figures(self.dir)
            if trial["open"] is None:
                flags.append("the open model wrote no open.json: see locust.log")
            else:
                flags += offered_rate.flags(trial["open"], trial["bottleneck"]["bottleneck"])
        if queue is not None:
            trial["accept_queue"] = queue_summary(read_samples(self.dir / "accept_queue.jsonl"), start, end)
            # from the send (not the intended start): the wait in the listen backlog, not in the client's own
            trial["queue_time"] = queue_time(trial["locust"], trial["server"])
        trial["faults"] = found
        trial["flags"] = found + flags
        if plan.cross_check:
            trial["wrk"] = self.cross_check()
            rps = trial["wrk"].get("rps")
            trial["locust_vs_wrk"] = (round(trial["locust"]["rps"] / rps, 4)
                                      if rps and trial["locust"]["rps"] is not None else None)
        write_json(self.dir / "trial.json", trial)
        return trial

    def _bottleneck(self, cpu: dict, window: tuple[float, float], mean_ms: float | None) -> bottleneck.Bottleneck:
        window_s = window[1] - window[0]
        everything = cpus.available()
        server_set = self.partition.server or everything
        generator_set = self.partition.generator or everything
        if self.plan.workers:  # remote workers: one core each as far as Locust goes, not our CPUs
            return bottleneck.classify(
                window_s=window_s, server_cpu_s=cpu["server_s"], server_cpus=len(server_set),
                generator_cpu_s=cpu["generator_s"], generator_cpus=self.plan.workers,
                generator_busiest_pct=cpu["generator_pct"], shared_cpus=False, users=self.users, mean_ms=mean_ms,
                server_set_busy_s=self.sampler.busy_between(server_set, *window) if self.live else None)
        return bottleneck.classify(
            window_s=window_s, server_cpu_s=cpu["server_s"], server_cpus=len(server_set),
            generator_cpu_s=cpu["generator_s"], generator_cpus=len(generator_set),
            generator_busiest_pct=cpu["generator_pct"], shared_cpus=bool(server_set & generator_set),
            users=self.users, mean_ms=mean_ms,
            server_set_busy_s=self.sampler.busy_between(server_set, *window) if self.live else None,
            generator_set_busy_s=self.sampler.busy_between(generator_set, *window))

    def cross_check(self) -> dict:
        """wrk on the same endpoint right after Locust: same connections, same generator CPUs."""
        seconds = max(3, min(10, round(self.plan.steady_s)))
        url = self.base_url + url_path(self.step["workload"], self.step["variant"])
        if self.step["workload"] in ("queries", "updates"):
            url += f"?queries={self.plan.queries}"
        out = wrk.measure(url, self.users, seconds, self.partition.generator, self.dir / "wrk.txt",
                          connection_close=self.plan.connection_close)
        return {k: out[k] for k in ("rps", "requests", "p50_ms", "p99_ms", "errors", "non_2xx")} | {
            "duration_s": seconds, "connections": self.users}

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


def _per(numerator, denominator):
    return round(numerator / denominator, 2) if numerator is not None and denominator else None
