"""`bench run`: plan -> stack -> load -> raw files in a run folder -> results.json (-> report).

Each trial starts from a fresh Apache start (new parent and children: cold pools and template caches;
a graceful restart would carry over the parent's memory growth), runs Locust for the trial's duration,
and is written to disk the moment it ends. Warm-up is excluded from every steady-state figure by one
window shared by client and server.

Here: the run (pre-flight checks, the plan loop, the context every trial shares). The trial itself is
bench/load/trial.py; what is printed on the terminal is bench/console.py.
"""

import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import console, paths, stack
from bench.errors import UserError
from bench.load import machine, offered_rate, saturation, slo_search, wrk
from bench.load.locust_master import Master
from bench.load.plan import Plan
from bench.load.trial import Trial, use_server
from bench.record.files import write_json
from bench.record.results import RunRecord
from bench.stack import cpus, postgres
from bench.stack.knobs import StackSettings
from bench.vocabulary import request_headers, url_path


def new_run_dir(label: str = "") -> Path:
    """A new run folder (named by bench.paths.new_run_folder) with its empty trials/."""
    run_dir = paths.new_run_folder(label)
    (run_dir / "trials").mkdir()
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


def cell_name(step: dict) -> str:
    """workload/variant, and under --servers the server: how progress lines name a cell."""
    return f"{step['workload']}/{step['variant']}" + (f" on {step['server']}" if step.get("server") else "")


def prime(base_url: str, plan: Plan, requests: int = 200, settings: StackSettings | None = None) -> None:
    """Warm what outlives Apache restarts before trial 1 (PostgreSQL's buffers, the OS page cache), so
    the first trial is not measured on a cold machine. Nothing here is recorded. A user's application
    (settings.app) has none of the suite's endpoints: it warms in its own trials' warm-up instead."""
    import http.client
    from urllib.parse import urlsplit

    if settings is not None and settings.app is not None:
        return

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
    app = settings.app if settings is not None else None
    for path in app.paths if app else ():  # a user's app: what it answers is measured and reported, not refused
        try:
            status, headers = probe(base_url + path.replace("{n}", "1"))
        except UserError:
            checks.append(f"GET {path} did not answer within 5 s")
            continue
        checks.append(f"GET {path} answered HTTP {status}")
        server_header = headers.get("Server", server_header)
    for cell in {(c["workload"], c["variant"]): c for c in plan.cells()}.values() if app is None else ():
        path = url_path(cell["workload"], cell["variant"])
        status, headers = probe(base_url + path, request_headers(cell["workload"]))
        if status != 200:
            raise UserError(f"{base_url}{path} answered HTTP {status}: the server does not serve the handlers "
                            "(expected 200)")
        server_header = headers.get("Server", server_header)
    if settings is not None:
        # StackSettings.validate() already refused a budget that does not fit; say what was checked.
        # In budget_text's words: with --threads a process holds pool_per_process and one per thread.
        checks.append(f"PostgreSQL connections: {settings.budget_text} + 3 = {settings.connections_needed} "
                      f"<= max_connections {settings.pg_max_connections}: ok")
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


class Context:
    """What every trial of a run shares, and the trial under way (to stop it on interrupt)."""

    def __init__(self, run_dir: Path, plan: Plan, base_url: str, live: stack.Stack | None,
                 monitor: postgres.Monitor | None, partition: cpus.Partition, log):
        self.run_dir, self.plan, self.base_url, self.live = run_dir, plan, base_url, live
        self.monitor, self.partition, self.log = monitor, partition, log
        self.current: Trial | None = None
        self.master: Master | None = None  # --workers: one Locust master for the whole run

    def trial(self, step: dict, rel: str | None = None, users: int | None = None) -> dict:
        self.current = Trial(self.run_dir, self.plan, step, self.base_url, self.live, self.monitor,
                             rel=rel, partition=self.partition, users=users, master=self.master)
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
    ctx.log(console.ceiling_line(out))
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
        ctx.log(console.saturation_line(workload, variant, users, t))
        reason = saturation.stop_reason(steps, plan.max_p99_ms)
        if reason:
            break
    knee = saturation.knee(steps, plan.max_p99_ms)
    return {"workload": workload, "variant": variant, **({"server": server} if server else {}), "steps": steps,
            "dirs": dirs, "stop": reason, "knee_users": knee["users"]}


def search_slo(ctx: Context, record: RunRecord) -> dict[tuple[str, str, str | None], float]:
    """--saturate --slo: each cell's capacity at the SLO (bench/load/slo_search.py); returns the rate per cell."""
    plan = ctx.plan
    entries, rates = [], {}
    for cell in plan.cells():
        key = (cell["workload"], cell["variant"], cell.get("server"))
        ctx.log(f"SLO search {cell_name(cell)}: {plan.slo} (doubling, then bisecting the offered rate)")
        entry = slo_search.search_cell(ctx, *key, plan.slo)
        entries.append(entry)
        record.set_extra("slo", {"text": plan.slo, "p99_ms": slo_search.slo_p99_ms(plan.slo), "cells": entries})
        ctx.log("    " + slo_search.summary_line(entry))
        if entry["capacity_rps"]:
            rates[key] = entry["capacity_rps"]
    return rates


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
                          "measure their contention (docs/run.md: 'Why the generator gets its own CPU')")
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
        prime(base_url, plan, settings=settings)
        log(f"run folder: {run_dir}")
        ctx = Context(run_dir, plan, base_url, live, monitor, partition, log)
        if plan.workers:
            ctx.master = Master(plan, base_url, run_dir / "locust-master.log", cpus=partition.generator)
            log(f"Locust master on {plan.master_bind}:{plan.master_port}: waiting up to {plan.workers_wait_s:g} s "
                f"for {plan.workers} worker(s)")
            ready = ctx.master.wait_for_workers(plan.workers_wait_s)
            log(f"{len(ready)} Locust worker(s) connected: {', '.join(sorted(ready))}")
        if plan.cross_check:
            record.set_extra("generator_ceiling", generator_ceiling(ctx))
        knees: dict[tuple[str, str, str | None], int] = {}
        slo_rates: dict[tuple[str, str, str | None], float] = {}
        if plan.slo:
            slo_rates = search_slo(ctx, record)
        if plan.saturate and not plan.slo:
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
            key = (step["workload"], step["variant"], step.get("server"))
            if key in slo_rates:  # --slo: the cell's trials run at its capacity, measured again
                step = {**step, "rate": slo_rates[key]}
            result = ctx.trial(step, users=knees.get(key))
            record.add_trial(result)
            if plan.rates or slo_rates:  # the open model: its figures per cell and rate, beside the cells
                record.set_extra("offered_rate", offered_rate.table(record.data["results"]))
            log(console.trial_line(result))
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
        if ctx is not None and ctx.master is not None:
            ctx.master.stop()
        if monitor is not None:
            monitor.close()
        if live is not None:
            stack.down(live.state)
