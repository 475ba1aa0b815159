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
from pathlib import Path

from bench import access_log, machine, paths, postgres, stack
from bench.errors import UserError
from bench.knobs import StackSettings
from bench.locust_runner import LocustProcess, command
from bench.plan import Plan
from bench.record import stats
from bench.record.files import write_json
from bench.record.results import RunRecord
from bench.sampler import Sampler, memory_summary
from bench.vocabulary import request_headers, url_path

SESSION_FLUSH_S = 1.2  # PostgreSQL backends publish session counts at most once a second


def new_run_dir(label: str = "") -> Path:
    base = paths.runs_dir()
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


def prime(base_url: str, plan: Plan, requests: int = 200) -> None:
    """Warm what outlives Apache restarts before trial 1 (PostgreSQL's buffers, the OS page cache), so
    the first trial is not measured on a cold machine. Nothing here is recorded."""
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    try:
        for cell in plan.order[: len(plan.workloads) * len(plan.variants)]:
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
    for cell in plan.order[: len(plan.workloads) * len(plan.variants)]:
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


class Trial:
    """One trial: load one cell for plan.duration_s and turn the raw files into a trial record."""

    def __init__(self, run_dir: Path, plan: Plan, step: dict, base_url: str, live: stack.Stack | None,
                 monitor, restart: bool = True, rel: str | None = None):
        self.plan, self.step, self.base_url, self.live, self.monitor = plan, step, base_url, live, monitor
        self.restart = restart  # False when the caller has just started Apache afresh (bench tune)
        self.rel = rel or f"trials/{step['seq']:03d}-{step['workload']}-{step['variant']}"
        self.dir = run_dir / self.rel
        self.dir.mkdir(parents=True, exist_ok=True)
        self.locust: LocustProcess | None = None
        self.sampler: Sampler | None = None

    def execute(self) -> dict:
        live, plan, step = self.live, self.plan, self.step
        if live is not None:
            if self.restart:
                live.apache.restart()
            offset = live.apache.access_log.stat().st_size
            sessions_before = postgres.sessions_opened(self.monitor) if self.monitor else None
        t0 = time.time()
        self.locust = LocustProcess(command(plan, self.base_url, step["workload"], step["variant"], self.dir),
                                    self.dir / "locust.log")
        roots = {"generator": self.locust.pid}
        if live is not None:
            roots["apache"] = live.apache.pid()
            if live.pg is not None:
                roots["postgres"] = live.pg.pid()
        self.sampler = Sampler(roots, self.dir / "samples.jsonl").start()
        try:
            self.locust.wait(timeout=plan.duration_s + 90)
        finally:
            self.sampler.stop()
        per_pid = self._per_pid()
        start, end = per_pid.get("window") or [t0 + plan.warmup_s, t0 + plan.duration_s]
        trial = {**step, "dir": self.rel, "started": round(t0, 3), "steady": [round(start, 3), round(end, 3)],
                 "locust": {k: per_pid.get(k) for k in
                            ("requests", "failures", "rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms")},
                 "pids_seen_by_client": len(per_pid.get("pids", {}))}
        generator_s = self.sampler.cpu_between("generator", start, end)
        cpu = {"apache_s": None, "postgres_s": None, "server_s": None,
               "generator_s": None if generator_s is None else round(generator_s, 3),
               "generator_pct": self.sampler.busiest_pct("generator", start, end)}
        flags = []
        if live is None:
            trial["server"] = None
            trial["rps_per_process"] = _per(trial["locust"]["rps"], trial["pids_seen_by_client"])
            trial["requests_per_cpu_second"] = None
            trial["memory"] = {"rss_mb_per_process": None, "pss_mb_per_process": None}
            trial["db_sessions"] = trial["db_sessions_per_1000_requests"] = None
            trial["access_vs_locust"] = None
        else:
            offset = access_log.copy_slice(live.apache.access_log, offset, self.dir / "access.log")
            time.sleep(SESSION_FLUSH_S)
            sessions = postgres.sessions_opened(self.monitor) - sessions_before if self.monitor else None
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
            trial["server"] = server
            trial["rps_per_process"] = _per(server["rps"], server["processes"])
            trial["requests_per_cpu_second"] = _per(server["requests"], server_s)
            trial["memory"] = memory_summary(self.dir / "samples.jsonl", "apache", start, end)
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
        trial["generator_bound"] = stats.generator_bound(cpu["generator_pct"])
        trial["failures"] = bool(trial["locust"]["failures"])
        if trial["generator_bound"]:
            flags.append(f"generator CPU {cpu['generator_pct']:.0f}% >= {stats.GENERATOR_BOUND_PCT:.0f}%: "
                         "client-side rps understates the server")
        if trial["failures"]:
            flags.append(f"{trial['locust']['failures']} failed requests")
        trial["flags"] = flags
        write_json(self.dir / "trial.json", trial)
        return trial

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


def summary_table(results: list[dict]) -> str:
    head = (f"{'workload':<9} {'variant':<10} {'req/s':>9} {'95% CI':>19} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'req/s/proc':>10} {'req/CPU-s':>9} {'RSS MB':>7} {'sess/1k':>8}  flags")
    lines = [head, "-" * len(head)]
    for cell in results:
        s = cell["summary"]
        if not s:
            continue
        ci = s["rps_ci95"]
        flags = []
        if s["generator_bound"]:
            flags.append("GENERATOR-BOUND")
        if s["failures"]:
            flags.append(f"{s['failures']} FAILURES")
        lines.append(
            f"{cell['workload']:<9} {cell['variant']:<10} {_fmt(s['rps']):>9} "
            f"{(_fmt(ci[0]) + ' - ' + _fmt(ci[1])) if ci else '-':>19} {_fmt(s['p50_ms'], '.2f'):>7} "
            f"{_fmt(s['p99_ms'], '.2f'):>7} {_fmt(s['rps_per_process']):>10} "
            f"{_fmt(s['requests_per_cpu_second']):>9} {_fmt(s['rss_mb_per_process'], '.1f'):>7} "
            f"{_fmt(s['db_sessions_per_1000_requests'], '.1f'):>8}  {' '.join(flags)}")
    return "\n".join(lines)


def speedup_lines(speedups: list[dict]) -> list[str]:
    return [f"{s['variant']} vs {s['baseline']} on {s['workload']}: {s['ratio']:.2f}x "
            + (f"(95% CI {s['ci95'][0]:.2f}-{s['ci95'][1]:.2f})" if s["ci95"] else "(one trial: no interval)")
            for s in speedups]


def execute(plan: Plan, settings: StackSettings | None, seed: bool = False, label: str = "",
            log=print) -> Path:
    """Run the whole plan; returns the run folder. settings None means --url (client-side data only)."""
    live = None
    monitor = None
    trial = None
    record = None
    try:
        if plan.url is None:
            log(f"starting the embedded stack ({settings.processes} Apache processes, port {settings.port}) ...")
            live = stack.up(settings, seed=seed)
            base_url = live.url
        else:
            base_url = plan.url.rstrip("/")
        checks, server_header = preflight(plan, settings if live else None, base_url)
        run_dir = new_run_dir(label)
        pg_version = None
        if live is not None:
            shutil.copy(live.apache.conf, run_dir / "httpd.conf")
            pg_settings = postgres.settings(live.dsn)
            pg_version = pg_settings.get("server_version")
            write_json(run_dir / "postgresql.conf.json", pg_settings)
            monitor = postgres.connect(live.dsn)
        environment = {"machine": machine.machine(), "versions": machine.versions(server_header, pg_version)}
        stack_info = None
        if live is not None:
            stack_info = settings.to_dict() | {"pg_port": live.pg.port if live.pg else None}
        record = RunRecord(run_dir, plan.to_dict(), stack_info, environment,
                           "embedded" if live else "url", checks)
        if live is not None:
            # Also as files beside results.json; kept inline so results.json alone reproduces the setup.
            record.data["httpd_conf"] = live.apache.conf.read_text()
            record.data["postgres_settings"] = pg_settings
            record.write()
        if live is None:
            checks.append("--url run: only client-side data (no access log, server CPU or memory)")
        for line in checks:
            log(f"check: {line}")
        prime(base_url, plan)
        log(f"run folder: {run_dir}")
        started = time.monotonic()
        for i, step in enumerate(plan.order):
            remaining = len(plan.order) - i
            per_trial = (time.monotonic() - started) / i if i else plan.duration_s + 6
            log(f"[{step['seq']}/{len(plan.order)}] trial {step['trial']} {step['workload']}/{step['variant']}: "
                f"{plan.duration_s:g} s (about {remaining * per_trial / 60:.1f} min left)")
            trial = Trial(run_dir, plan, step, base_url, live, monitor)
            result = trial.execute()
            trial = None
            record.add_trial(result)
            server = result["server"] or {}
            log(f"    {_fmt(result['locust']['rps'])} req/s (server {_fmt(server.get('rps'))}), "
                f"p99 {_fmt(result['locust']['p99_ms'], '.2f')} ms, generator CPU "
                f"{_fmt(result['cpu']['generator_pct'], '.0f')}%" +
                (f"  [{'; '.join(result['flags'])}]" if result["flags"] else ""))
        record.finish(complete=True)
        return run_dir
    except BaseException as exc:
        if trial is not None:
            trial.abort()
        if record is not None:
            record.finish(complete=False, note=f"stopped early: {type(exc).__name__} {exc}".strip())
            log(f"kept {record.trial_count} finished trials in "
                f"{record.path.parent}")
        raise
    finally:
        if monitor is not None:
            monitor.close()
        if live is not None:
            stack.down(live.state)
