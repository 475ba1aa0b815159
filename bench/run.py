"""`bench run`: plan -> stack -> load -> raw files in a run folder -> results.json (-> report).

Each trial starts from a fresh Apache start (new parent and children: cold pools and template caches;
a graceful restart would carry over the parent's memory growth), runs Locust for the trial's duration,
and is written to disk the moment it ends. Warm-up is excluded from every steady-state figure by one
window shared by client and server.
"""

import json
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from bench import access_log, cpus, faults, machine, paths, postgres, saturation, stack, wrk
from bench.apache import Apache
from bench.errors import UserError
from bench.knobs import StackSettings
from bench.locust_runner import LocustProcess, command, workers_missing
from bench.plan import Plan
from bench.record import bottleneck
from bench.record.files import write_json
from bench.record.results import RunRecord, step_speedups
from bench.sampler import Sampler, memory_summary
from bench.vocabulary import BASELINE, request_headers, url_path

OTHERS_NOTICE = 0.10  # flag a trial when processes not ours used this much of the server CPUs
SESSION_FLUSH_S = 1.2  # PostgreSQL backends publish session counts at most once a second


def new_run_dir(label: str = "") -> Path:
    base = paths.check_runs_dir()
    base.mkdir(parents=True, exist_ok=True)
    name = time.strftime("%Y%m%d-%H%M%S") + (f"-{label}" if label else "")
    run_dir = base / name
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = base / f"{name}-{n}"
    (run_dir / "trials").mkdir(parents=True)
    return run_dir


def probe(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """(status, headers) of a GET; UserError when nothing answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            r.read()
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise UserError(f"--url {url} is unreachable: {reason}") from e


def use_server(live: stack.Stack | None, server: str | None) -> bool:
    """Make the stack serve through `server` (--servers); True when Apache was started afresh here.

    The same state folder, port, PostgreSQL and handler secret; only the generated httpd.conf changes (as
    `bench tune` does for a setting), so the new server starts exactly as `bench up --server` would."""
    if live is None or server is None or live.apache.settings.server == server:
        return False
    live.apache.stop()
    live.apache = Apache(live.state, replace(live.apache.settings, server=server), live.dsn)
    live.apache.prepare()
    live.apache.start()
    return True


def cell_name(step: dict) -> str:
    """workload/variant, and under --servers the server: how progress lines name a cell."""
    return f"{step['workload']}/{step['variant']}" + (f" on {step['server']}" if step.get("server") else "")


def trial_dir(step: dict) -> str:
    """trials/NNN-workload-variant[-server]: the folder of one trial (docs/results-format.md)."""
    server = f"-{step['server']}" if step.get("server") else ""
    return f"trials/{step['seq']:03d}-{step['workload']}-{step['variant']}{server}"


def prime(base_url: str, plan: Plan, requests: int = 200) -> None:
    """Warm what outlives Apache restarts before trial 1 (PostgreSQL's buffers, the OS page cache), so
    the first trial is not measured on a cold machine. Nothing here is recorded."""
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    try:
        for cell in {(c["workload"], c["variant"]): c for c in plan.cells()}.values():
            for _ in range(requests):
                conn.request("GET", f"{url.path}{url_path(cell['workload'], cell['variant'])}?queries={plan.queries}",
                             headers=request_headers(cell["workload"]))
                conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        pass  # priming is best effort; the trials report any real failure
    finally:
        conn.close()


def preflight(plan: Plan, settings: StackSettings | None, base_url: str) -> tuple[list[str], str]:
    """Checks before any load; returns the messages to show and the Server header seen."""
    checks = []
    server_header = ""
    for cell in {(c["workload"], c["variant"]): c for c in plan.cells()}.values():
        path = url_path(cell["workload"], cell["variant"])
        status, headers = probe(base_url + path, request_headers(cell["workload"]))
        if status != 200:
            raise UserError(f"{base_url}{path} answered HTTP {status}: the server does not serve the handlers "
                            "(expected 200)")
        server_header = headers.get("Server", server_header)
    if settings is not None:
        # StackSettings.validate() already refused a budget that does not fit; say what was checked.
        checks.append(f"PostgreSQL connections: {settings.processes} processes x (pool {settings.pool_size} + 1 "
                      f"per-request) + 3 = {settings.connections_needed} <= max_connections "
                      f"{settings.pg_max_connections}: ok")
        if plan.users > settings.processes:
            checks.append(f"{plan.users} users on {settings.processes} Apache processes: requests will queue in "
                          "the listen backlog and latency includes the wait")
        elif plan.users < settings.processes:
            checks.append(f"{plan.users} users on {settings.processes} Apache processes: some processes stay idle")
        else:
            checks.append(f"{plan.users} users on {settings.processes} Apache processes: one user per process")
    return checks, server_header


def other_servers(live: stack.Stack | None, plan: Plan, base_url: str, checks: list[str]) -> dict[str, str]:
    """--servers: the pre-flight probes under every server after the first (the stack was started with it);
    returns each server's generated httpd.conf. Nothing without --servers."""
    if live is None or not plan.servers:
        return {}
    confs = {}
    for server in plan.servers:
        use_server(live, server)
        if server != plan.servers[0]:
            preflight(plan, None, base_url)
        confs[server] = live.apache.conf.read_text()
    checks.append(f"servers interleaved: {', '.join(plan.servers)}; before each trial Apache is started afresh "
                  "with that server's httpd.conf (httpd-<server>.conf in the run folder)")
    return confs


class Trial:
    """One trial: load one cell for plan.duration_s and turn the raw files into a trial record."""

    def __init__(self, run_dir: Path, plan: Plan, step: dict, base_url: str, live: stack.Stack | None,
                 monitor: postgres.Monitor | None, restart: bool = True, rel: str | None = None,
                 partition: cpus.Partition | None = None, users: int | None = None):
        self.plan, self.step, self.base_url, self.live, self.monitor = plan, step, base_url, live, monitor
        self.restart = restart  # False when the caller has just started Apache afresh (bench tune)
        self.partition = partition or cpus.Partition(None, None)
        self.users = users or step.get("users") or plan.users
        self.rel = rel or trial_dir(step)
        self.dir = run_dir / self.rel
        self.dir.mkdir(parents=True, exist_ok=True)
        self.locust: LocustProcess | None = None
        self.sampler: Sampler | None = None

    def execute(self) -> dict:
        live, plan, step = self.live, self.plan, self.step
        offset = sessions_before = pg_started = None
        if live is not None:
            if self.restart and not use_server(live, step.get("server")):
                live.apache.restart()
            if step.get("server"):  # the run folder's httpd.conf is the first server's
                (self.dir / "httpd.conf").write_text(live.apache.conf.read_text())
            offset = live.apache.access_log.stat().st_size
            if self.monitor is not None:
                sessions_before = self.monitor.sessions_opened()
                pg_started = self.monitor.started_at
        t0 = time.time()
        self.locust = LocustProcess(
            command(plan, self.base_url, step["workload"], step["variant"], self.dir, users=self.users),
            self.dir / "locust.log", cpus=self.partition.generator)
        self.locust.check_cpus()
        roots = {"generator": self.locust.pid}
        if live is not None:
            roots["apache"] = live.apache.pid()
            if live.pg is not None:
                roots["postgres"] = live.pg.pid()
        self.sampler = Sampler(roots, self.dir / "samples.jsonl").start()
        try:
            self.locust.wait(timeout=plan.duration_s + 90 + (plan.workers_wait_s if plan.workers else 0))
        finally:
            self.sampler.stop()
        missing = workers_missing(self.dir / "locust.log", plan) if plan.workers else None
        if missing is not None:
            raise missing
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
        if plan.workers:
            # The load comes from workers elsewhere: their own CPU reports, the busiest one decides.
            workers = per_pid.get("workers") or {}
            trial["workers"] = workers
            used = [w["cpu_s"] for w in workers.values() if w.get("cpu_s") is not None]
            pcts = [w["cpu_pct"] for w in workers.values() if w.get("cpu_pct") is not None]
            cpu["generator_s"] = round(sum(used), 3) if used else None
            cpu["generator_pct"] = max(pcts) if pcts else None
        flags: list[str] = []
        found: list[str] = []
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
            slots = live.settings.processes
            if live.settings.max_connections_per_child == 0:
                found += faults.replaced_children(entries, t0, slots)
            trial["server"] = server
            trial["slots"] = slots
            trial["rps_per_process"] = _per(server["rps"], slots)
            trial["requests_per_cpu_second"] = _per(server["requests"], server_s)
            trial["memory"] = memory_summary(self.dir / "samples.jsonl", "apache", start, end,
                                             {p["pid"] for p in server["per_process"]})
            trial["db_sessions"] = sessions
            trial["db_sessions_per_1000_requests"] = (
                None if sessions is None or not entries else round(1000 * sessions / len(entries), 3))
            locust_n = trial["locust"]["requests"] or 0
            trial["access_vs_locust"] = (round(abs(server["requests"] - locust_n) / locust_n, 4)
                                         if locust_n else None)
            bad = {k: v for k, v in server["status"].items() if not k.startswith("2")}
            if bad:
                flags.append(f"server answered non-2xx: {bad}")
        trial["cpu"] = cpu
        trial["bottleneck"] = self._bottleneck(cpu, (start, end), trial["locust"]["mean_ms"])
        trial["generator_bound"] = trial["bottleneck"]["bottleneck"] in ("generator", "shared")
        trial["failures"] = bool(trial["locust"]["failures"])
        if trial["bottleneck"]["bottleneck"] != "server":
            flags.append(f"limited by {trial['bottleneck']['bottleneck']}: {trial['bottleneck']['reason']}")
        if (trial["bottleneck"].get("others_util") or 0) >= OTHERS_NOTICE:
            flags.append(f"other processes used {100 * trial['bottleneck']['others_util']:.0f}% of the server "
                         "CPUs: a busy machine, figures are lower than on a quiet one")
        if trial["failures"]:
            flags.append(f"{trial['locust']['failures']} failed requests")
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


def _per(numerator, denominator):
    return round(numerator / denominator, 2) if numerator is not None and denominator else None



def _fmt(v, spec=",.0f"):
    return "-" if v is None else format(v, spec)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def summary_table(results: list[dict]) -> str:
    servers = any(cell.get("server") for cell in results)  # --servers: one more column
    head = (f"{'workload':<9} {'variant':<10} " + (f"{'server':<10} " if servers else "")
            + f"{'req/s':>9} {'95% CI':>19} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'req/s/proc':>10} {'req/CPU-s':>9} {'RSS MB':>7} {'sess/1k':>8} {'limit':>9} {'srv CPU':>7}  flags")
    lines = [head, "-" * len(head)]
    for cell in results:
        s = cell["summary"]
        if not s:
            continue
        ci = s["rps_ci95"]
        flags = []
        if s.get("faults"):
            flags.append(f"{s['faults']} TRIAL(S) WITH FAULTS")
        if s["failures"]:
            flags.append(f"{s['failures']} FAILURES")
        if s.get("locust_vs_wrk") is not None:
            flags.append(f"Locust/wrk {100 * s['locust_vs_wrk']:.0f}%")
        if (s.get("others_util") or 0) >= OTHERS_NOTICE:
            flags.append(f"BUSY MACHINE (others used {100 * s['others_util']:.0f}% of the server CPUs)")
        lines.append(
            f"{cell['workload']:<9} {cell['variant']:<10} " + (f"{cell.get('server') or '-':<10} " if servers else "")
            + f"{_fmt(s['rps']):>9} "
            f"{(_fmt(ci[0]) + ' - ' + _fmt(ci[1])) if ci else '-':>19} {_fmt(s['p50_ms'], '.2f'):>7} "
            f"{_fmt(s['p99_ms'], '.2f'):>7} {_fmt(s['rps_per_process']):>10} "
            f"{_fmt(s['requests_per_cpu_second']):>9} {_fmt(s['rss_mb_per_process'], '.1f'):>7} "
            f"{_fmt(s['db_sessions_per_1000_requests'], '.1f'):>8} {s.get('bottleneck') or '-':>9} "
            f"{_pct(s.get('server_util')):>7}  {' '.join(flags)}")
    return "\n".join(lines)


def speedup_lines(data: dict) -> list[str]:
    """The headline: each speedup as it may honestly be stated, with the cost ratio beside it; then the
    one-factor steps the variant table finds among the variants that ran ("prepared vs pooled")."""
    ran = [c for c in data.get("results", []) if c.get("trials")]

    def keyed(entries: list[dict]) -> dict[tuple, dict]:
        return {(c["workload"], c["variant"], c.get("baseline") or BASELINE, c.get("server")): c for c in entries}

    cost = keyed([*data.get("cpu_speedups", []), *step_speedups(ran, "requests_per_cpu_second")])
    wrk_ = keyed([*data.get("wrk_speedups", []),
                  *(step_speedups(ran, "wrk_rps") if data.get("wrk_speedups") else [])])
    lines = []
    for s in [*data.get("speedups", []), *step_speedups(ran)]:
        text = s.get("text") or f"{s['ratio']:.2f}x"
        ci = f"95% CI {s['ci95'][0]:.2f}-{s['ci95'][1]:.2f}" if s["ci95"] else "one trial: no interval"
        on = s["workload"] + (f" under {s['server']}" if s.get("server") else "")
        line = f"{s['variant']} vs {s['baseline']} on {on}: {text} ({ci})"
        key = (s["workload"], s["variant"], s.get("baseline") or BASELINE, s.get("server"))
        if key in cost:
            line += f"; per server CPU-second {cost[key]['ratio']:.2f}x"
        if key in wrk_:
            line += f"; wrk {wrk_[key]['ratio']:.2f}x"
        lines.append(line)
    ceiling = data.get("generator_ceiling")
    if ceiling:
        lines.append(f"generator ceiling (Locust on /plaintext, {ceiling['users']} users, same CPUs): "
                     f"{_fmt(ceiling.get('rps'))} req/s"
                     + (f"; wrk {_fmt(ceiling['wrk_rps'])} req/s" if ceiling.get("wrk_rps") else ""))
    return lines


def _trial_line(result: dict) -> str:
    server = result["server"] or {}
    b = result.get("bottleneck") or {}
    text = (f"    {_fmt(result['locust']['rps'])} req/s (server {_fmt(server.get('rps'))}), "
            f"p99 {_fmt(result['locust']['p99_ms'], '.2f')} ms, {result.get('users')} users, limit "
            f"{b.get('bottleneck', '-')} (server CPUs {_pct(b.get('server_util'))} busy"
            + (f" + {_pct(b['others_util'])} by other processes" if (b.get("others_util") or 0) >= OTHERS_NOTICE
               else "")
            + f", busiest Locust process {_pct(b.get('generator_busiest'))} of a core)")
    if result.get("wrk"):
        text += f", wrk {_fmt(result['wrk'].get('rps'))} req/s"
    if result.get("workers"):
        text += ", workers " + ", ".join(f"{w.get('host')}/{w.get('pid')} {_fmt(w.get('cpu_pct'), '.0f')}% CPU"
                                         for w in result["workers"].values())
    found = result.get("faults") or []
    return text + (f"  [{'; '.join(found)}]" if found else "")


class Context:
    """What every trial of a run shares, and the trial under way (to stop it on interrupt)."""

    def __init__(self, run_dir: Path, plan: Plan, base_url: str, live: stack.Stack | None,
                 monitor: postgres.Monitor | None, partition: cpus.Partition, log):
        self.run_dir, self.plan, self.base_url, self.live = run_dir, plan, base_url, live
        self.monitor, self.partition, self.log = monitor, partition, log
        self.current: Trial | None = None

    def trial(self, step: dict, rel: str | None = None, users: int | None = None) -> dict:
        self.current = Trial(self.run_dir, self.plan, step, self.base_url, self.live, self.monitor,
                             rel=rel, partition=self.partition, users=users)
        result = self.current.execute()
        self.current = None
        return result

    def abort(self) -> None:
        if self.current is not None:
            self.current.abort()


def generator_ceiling(ctx: Context) -> dict:
    """Locust alone against /plaintext with the run's users and CPUs: what the generator can send at most."""
    step = {"seq": 0, "trial": 0, "workload": "plaintext", "variant": None}
    ctx.log(f"generator ceiling: Locust on /plaintext, {ctx.plan.users} users, {ctx.plan.duration_s:g} s")
    t = ctx.trial(step, rel="ceiling/plaintext")
    out = {"users": t["users"], "rps": t["locust"]["rps"], "dir": t["dir"],
           "generator_busiest": t["bottleneck"]["generator_busiest"], "bottleneck": t["bottleneck"]["bottleneck"],
           "wrk_rps": (t.get("wrk") or {}).get("rps")}
    ctx.log(f"    Locust {_fmt(out['rps'])} req/s" + (f", wrk {_fmt(out['wrk_rps'])} req/s" if out["wrk_rps"] else ""))
    return out


def saturate_cell(ctx: Context, workload: str, variant: str, server: str | None = None) -> dict:
    """Probe one cell at doubling users until something other than the load is the limit; returns the knee."""
    plan = ctx.plan
    tag = f"-{server}" if server else ""
    steps: list[saturation.Step] = []
    dirs = []
    reason = None
    for users in saturation.ladder(plan.users):
        step = {"seq": 0, "trial": 0, "workload": workload, "variant": variant} | ({"server": server} if server else {})
        t = ctx.trial(step, rel=f"saturation/{workload}-{variant}{tag}-u{users:03d}", users=users)
        steps.append({"users": users, "rps": t["locust"]["rps"], "p99_ms": t["locust"]["p99_ms"],
                      "bottleneck": t["bottleneck"]["bottleneck"]})
        dirs.append(t["dir"])
        ctx.log(f"    saturation {workload}/{variant} at {users} users: {_fmt(t['locust']['rps'])} req/s, "
                f"p99 {_fmt(t['locust']['p99_ms'], '.2f')} ms, limit {t['bottleneck']['bottleneck']}")
        reason = saturation.stop_reason(steps, plan.max_p99_ms)
        if reason:
            break
    knee = saturation.knee(steps, plan.max_p99_ms)
    return {"workload": workload, "variant": variant, **({"server": server} if server else {}), "steps": steps,
            "dirs": dirs, "stop": reason, "knee_users": knee["users"]}


def execute(plan: Plan, settings: StackSettings | None, seed: bool = False, label: str = "",
            log=print, partition: cpus.Partition | None = None) -> Path:
    """Run the whole plan; returns the run folder. settings None means --url (client-side data only)."""
    paths.check_runs_dir()  # before anything starts
    partition = partition or cpus.Partition(None, None)
    live = None
    monitor = None
    ctx = None
    record = None
    try:
        if plan.cross_check:
            wrk.check_installed()
        if plan.url is None:
            log(f"starting the embedded stack ({settings.processes} Apache processes, port {settings.port}"
                + (f", server CPUs {partition.server_list}, generator CPUs {partition.generator_list}"
                   if partition.server and partition.generator else ", CPUs shared with the generator") + ") ...")
            live = stack.up(settings, seed=seed)
            base_url = live.url
        else:
            base_url = plan.url.rstrip("/")
        checks, server_header = preflight(plan, settings if live else None, base_url)
        confs = other_servers(live, plan, base_url, checks)
        if not partition.server or not partition.generator:
            checks.append("no CPU partition: Locust shares CPUs with the server, so client-side figures "
                          "measure their contention (README: 'Why the generator gets its own CPU')")
        run_dir = new_run_dir(label)
        pg_version = None
        if live is not None:
            if confs:  # the first server's, as the stack was started
                (run_dir / "httpd.conf").write_text(next(iter(confs.values())))
            else:
                shutil.copy(live.apache.conf, run_dir / "httpd.conf")
            for server, text in confs.items():
                (run_dir / f"httpd-{server}.conf").write_text(text)
            pg_settings = postgres.settings(live.admin_dsn or live.dsn)
            pg_version = pg_settings.get("server_version")
            write_json(run_dir / "postgresql.conf.json", pg_settings)
            monitor = postgres.Monitor(live.admin_dsn or live.dsn)
        environment = {"machine": machine.machine(), "versions": machine.versions(server_header, pg_version)}
        stack_info = None
        if live is not None:
            stack_info = settings.to_dict() | {"pg_port": live.pg.port if live.pg else None}
        record = RunRecord(run_dir, plan.to_dict(), stack_info, environment,
                           "embedded" if live else "url", checks)
        if live is not None:
            # Also as files beside results.json; kept inline so results.json alone reproduces the setup.
            record.data["httpd_conf"] = next(iter(confs.values()), None) or live.apache.conf.read_text()
            record.data["postgres_settings"] = pg_settings
            record.write()
        if live is None:
            checks.append("--url run: only client-side data (no access log, server CPU or memory)")
        for line in checks:
            log(f"check: {line}")
        prime(base_url, plan)
        log(f"run folder: {run_dir}")
        ctx = Context(run_dir, plan, base_url, live, monitor, partition, log)
        if plan.cross_check:
            record.set_extra("generator_ceiling", generator_ceiling(ctx))
        knees: dict[tuple[str, str, str | None], int] = {}
        if plan.saturate:
            probes = []
            for cell in plan.cells():
                key = (cell["workload"], cell["variant"], cell.get("server"))
                found = saturate_cell(ctx, *key)
                probes.append(found)
                knees[key] = found["knee_users"]
                log(f"    {cell_name(cell)}: knee at {found['knee_users']} users ({found['stop']})")
                record.set_extra("saturation", probes)
        started = time.monotonic()
        for i, step in enumerate(plan.order):
            remaining = len(plan.order) - i
            per_trial = (time.monotonic() - started) / i if i else plan.duration_s + 6
            log(f"[{step['seq']}/{len(plan.order)}] trial {step['trial']} {cell_name(step)}: "
                f"{plan.duration_s:g} s (about {remaining * per_trial / 60:.1f} min left)")
            result = ctx.trial(step, users=knees.get((step["workload"], step["variant"], step.get("server"))))
            record.add_trial(result)
            log(_trial_line(result))
        record.finish(complete=True)
        return run_dir
    except BaseException as exc:
        if ctx is not None:
            ctx.abort()
        if record is not None:
            record.finish(complete=False, note=f"stopped early: {type(exc).__name__} {exc}".strip())
            log(f"kept {record.trial_count} finished trials in {record.path.parent}")
        raise
    finally:
        if monitor is not None:
            monitor.close()
        if live is not None:
            stack.down(live.state)
