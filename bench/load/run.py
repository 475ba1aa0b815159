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
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from bench import console, paths, stack
from bench.errors import UserError
from bench.load import ladder, machine, offered_rate, saturation, slo_search, wrk
from bench.load.locust_master import Master
from bench.load.plan import Plan
from bench.load.trial import Trial, use_server
from bench.record.bottleneck import Verdict
from bench.record.files import write_json
from bench.record.ladder import LadderCell, Probe
from bench.record.results import RunRecord
from bench.record.trial import CellKey, PlanStep, TrialRecord
from bench.stack import cpus, postgres
from bench.stack.knobs import StackSettings
from bench.stack.servers import parse_deployment
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


def cell_name(step: PlanStep | dict) -> str:
    """workload/variant, and under --servers the server: how progress lines name a cell."""
    return PlanStep.of(step).name


def prime(base_url: str, plan: Plan, requests: int = 200, settings: StackSettings | None = None) -> None:
    """Warm what outlives Apache restarts before trial 1 (PostgreSQL's buffers, the OS page cache), so
    the first trial is not measured on a cold machine. Nothing here is recorded. A user's application
    (settings.app) has none of the suite's endpoints: it warms in its own trials' warm-up instead."""
    import http.client
    from urllib.parse import urlsplit

    if settings is not None and settings.app is not None:
        return

    url = urlsplit(base_url)
    if url.hostname is None:  # nothing to warm: preflight refuses a URL that does not answer
        return
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    try:
        for workload, variant in dict.fromkeys(c.cell[:2] for c in plan.cells()):
            for _ in range(requests):
                conn.request("GET", f"{url.path}{url_path(workload, variant)}?queries={plan.queries}",
                             headers=request_headers(workload))
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
    for path in app.served_paths if app else ():  # a user's app: what it answers is measured and reported, not refused
        try:
            status, headers = probe(base_url + path.replace("{n}", "1"))
        except UserError:
            checks.append(f"GET {path} did not answer within 5 s")
            continue
        checks.append(f"GET {path} answered HTTP {status}")
        server_header = headers.get("Server", server_header)
    for workload, variant in dict.fromkeys(c.cell[:2] for c in plan.cells()) if app is None else ():
        path = url_path(workload, variant)
        status, headers = probe(base_url + path, request_headers(workload))
        if status != 200:
            raise UserError(f"{base_url}{path} answered HTTP {status}: the server does not serve the handlers "
                            "(expected 200)")
        server_header = headers.get("Server", server_header)
    if app is not None and app.variants and settings is not None:
        checks.append(f"{len(app.variants)} --app-variant daemon groups of {settings.processes} processes each, all "
                      "started with Apache (restarted before each trial): only the trial's group imports the "
                      "application; the idle groups' daemons hold a bare interpreter's memory (in PSS total), no CPU")
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
                 monitor: postgres.Monitor | None, partition: cpus.Partition, log: Callable[[str], None]):
        self.run_dir, self.plan, self.base_url, self.live = run_dir, plan, base_url, live
        self.monitor, self.partition, self.log = monitor, partition, log
        self.current: Trial | None = None
        self.master: Master | None = None  # --workers: one Locust master for the whole run

    def measure(self, step: PlanStep | dict, rel: str | None = None, users: int | None = None,
                plan: Plan | None = None, restart: bool = True) -> TrialRecord:
        """One trial of `step`, its record (also in its trial.json); `plan` another trial length (a ladder's
        probe), `restart` False to keep the warm Apache."""
        self.current = Trial(self.run_dir, plan or self.plan, step, self.base_url, self.live, self.monitor,
                             restart=restart, rel=rel, partition=self.partition, users=users, master=self.master)
        result = self.current.measure()
        self.current = None
        return result

    def trial(self, step: PlanStep | dict, rel: str | None = None, users: int | None = None) -> dict:
        """`measure`, as trial.json's dict (bench/load/slo_search.py reads it)."""
        return self.measure(step, rel, users).to_json()

    def abort(self) -> None:
        if self.current is not None:
            self.current.abort()


def generator_ceiling(ctx: Context) -> dict:
    """Locust alone against /plaintext with the run's users and CPUs: what the generator can send at most."""
    ctx.log(f"generator ceiling: Locust on /plaintext, {ctx.plan.users} users, {ctx.plan.duration_s:g} s")
    t = ctx.measure(PlanStep(0, 0, "plaintext", None), rel="ceiling/plaintext")
    verdict = t.bottleneck or Verdict()
    out = {"users": t.users, "rps": t.client.rps, "dir": t.dir, "generator_busiest": verdict.generator_busiest,
           "bottleneck": verdict.bottleneck, "wrk_rps": None if t.wrk is None else t.wrk.rps}
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
        step = PlanStep(0, 0, workload, variant, server=server)
        t = ctx.measure(step, rel=f"saturation/{workload}-{variant}{tag}-u{users:03d}", users=users)
        steps.append(saturation.Step(users, t.client.rps, t.client.p99_ms, t.limit))
        dirs.append(t.dir)
        ctx.log(console.saturation_line(workload, variant, users, t))
        reason = saturation.stop_reason(steps, plan.max_p99_ms)
        if reason:
            break
    knee = saturation.knee(steps, plan.max_p99_ms)
    return {"workload": workload, "variant": variant, **({"server": server} if server else {}),
            "steps": [s.to_json() for s in steps], "dirs": dirs, "stop": reason, "knee_users": knee.users}


def search_slo(ctx: Context, record: RunRecord, slo: str) -> dict[CellKey, float]:
    """--saturate --slo: each cell's capacity at the SLO (bench/load/slo_search.py); returns the rate per cell."""
    plan = ctx.plan
    entries, rates = [], {}
    for cell in plan.cells():
        key = cell.cell
        ctx.log(f"SLO search {cell.name}: {slo} (doubling, then bisecting the offered rate)")
        entry = slo_search.search_cell(ctx, *key, slo)
        entries.append(entry)
        record.set_extra("slo", {"text": slo, "p99_ms": slo_search.slo_p99_ms(slo), "cells": entries})
        ctx.log("    " + slo_search.summary_line(entry))
        if entry["capacity_rps"]:
            rates[key] = entry["capacity_rps"]
    return rates


@dataclass
class Started:
    """What a run has started so far: stopped in `execute`'s cleanup whatever step failed."""

    live: stack.Stack | None = None
    monitor: postgres.Monitor | None = None
    ctx: Context | None = None
    record: RunRecord | None = None


def execute(plan: Plan, settings: StackSettings | None, seed: bool = False, label: str = "",
            log: Callable[[str], None] = print, partition: cpus.Partition | None = None) -> Path:
    """Run the whole plan; returns the run folder. settings None means --url (client-side data only)."""
    paths.check_runs_dir()  # before anything starts
    partition = partition or cpus.Partition(None, None)
    started = Started()
    try:
        base_url = start_stack(started, plan, settings, seed, partition, log)
        run_dir = open_record(started, plan, settings, base_url, partition, label, log)
        ctx = started.ctx = Context(run_dir, plan, base_url, started.live, started.monitor, partition, log)
        record = started.record
        assert record is not None
        start_master(ctx)
        if plan.cross_check:
            record.set_extra("generator_ceiling", generator_ceiling(ctx))
        slo_rates = search_slo(ctx, record, plan.slo) if plan.slo else {}
        knees = saturate_cells(ctx, record) if plan.saturate and not plan.slo else {}
        if plan.ladder and not knees and not slo_rates:
            knees = climb_cells(ctx, record)
        run_trials(ctx, record, knees, slo_rates)
        record.finish(complete=True)
        return run_dir
    except BaseException as exc:
        if started.ctx is not None:
            started.ctx.abort()
        if started.record is not None:
            started.record.finish(complete=False, note=f"stopped early: {type(exc).__name__} {exc}".strip())
            log(f"kept {started.record.trial_count} finished trials in {started.record.path.parent}")
        raise
    finally:
        if started.ctx is not None and started.ctx.master is not None:
            started.ctx.master.stop()
        if started.monitor is not None:
            started.monitor.close()
        if started.live is not None:
            stack.down(started.live.state)


def start_stack(started: Started, plan: Plan, settings: StackSettings | None, seed: bool,
                partition: cpus.Partition, log: Callable[[str], None]) -> str:
    """The embedded stack (or nothing, for --url); returns the base URL the load goes to."""
    if plan.cross_check:
        wrk.check_installed()
    if plan.url is not None:
        return plan.url.rstrip("/")
    assert settings is not None
    log(f"starting the embedded stack ({settings.processes} Apache processes, port {settings.port}"
        + (f", server CPUs {partition.server_list}, generator CPUs {partition.generator_list}"
           if partition.server and partition.generator else ", CPUs shared with the generator") + ") ...")
    started.live = stack.up(settings, seed=seed)
    return started.live.url


def open_record(started: Started, plan: Plan, settings: StackSettings | None, base_url: str,
                partition: cpus.Partition, label: str, log: Callable[[str], None]) -> Path:
    """The pre-flight checks, the run folder with the setup's files, and results.json; returns the folder."""
    live = started.live
    checks, server_header = preflight(plan, settings if live else None, base_url)
    confs = other_servers(live, plan, base_url, checks)
    if not partition.server or not partition.generator:
        checks.append("no CPU partition: Locust shares CPUs with the server, so client-side figures "
                      "measure their contention (docs/run.md: 'Why the generator gets its own CPU')")
    run_dir = new_run_dir(label)
    pg_settings = setup_files(started, run_dir, confs)
    pg_version = None if pg_settings is None else pg_settings.get("server_version")
    environment = {"machine": machine.machine(), "versions": machine.versions(server_header, pg_version)}
    stack_info = None
    if live is not None and settings is not None:
        stack_info = settings.to_dict() | {"pg_port": live.pg.port if live.pg else None}
    record = started.record = RunRecord(run_dir, plan.to_dict(), stack_info, environment,
                                        "embedded" if live else "url", checks)
    if live is not None:
        # Also as files beside results.json; kept inline so results.json alone reproduces the setup.
        record.data["httpd_conf"] = next(iter(confs.values()), None) or live.apache.conf.read_text()
        record.data["postgres_settings"] = pg_settings
        record.write()
    else:
        checks.append("--url run: only client-side data (no access log, server CPU or memory)")
    for line in checks:
        log(f"check: {line}")
    prime(base_url, plan, settings=settings)
    log(f"run folder: {run_dir}")
    return run_dir


def setup_files(started: Started, run_dir: Path, confs: dict[str, str]) -> dict | None:
    """httpd.conf (each server's under --servers) and postgresql.conf.json in the run folder, and the PostgreSQL
    monitor; returns PostgreSQL's settings (None for --url)."""
    live = started.live
    if live is None:
        return None
    if confs:  # the first server's, as the stack was started
        (run_dir / "httpd.conf").write_text(next(iter(confs.values())))
    else:
        shutil.copy(live.apache.conf, run_dir / "httpd.conf")
    for server, text in confs.items():
        (run_dir / f"httpd-{server}.conf").write_text(text)
    pg_settings = postgres.settings(live.admin_dsn or live.dsn)
    write_json(run_dir / "postgresql.conf.json", pg_settings)
    started.monitor = postgres.Monitor(live.admin_dsn or live.dsn)
    return pg_settings


def start_master(ctx: Context) -> None:
    """--workers: the run's one Locust master, once its workers are connected."""
    plan = ctx.plan
    if not plan.workers:
        return
    ctx.master = Master(plan, ctx.base_url, ctx.run_dir / "locust-master.log", cpus=ctx.partition.generator)
    ctx.log(f"Locust master on {plan.master_bind}:{plan.master_port}: waiting up to {plan.workers_wait_s:g} s "
            f"for {plan.workers} worker(s)")
    ready = ctx.master.wait_for_workers(plan.workers_wait_s)
    ctx.log(f"{len(ready)} Locust worker(s) connected: {', '.join(sorted(ready))}")


def saturate_cells(ctx: Context, record: RunRecord) -> dict[CellKey, int]:
    """--saturate: each cell's knee, the users its trials then run with."""
    probes, knees = [], {}
    for cell in ctx.plan.cells():
        found = saturate_cell(ctx, *cell.cell)
        probes.append(found)
        knees[cell.cell] = found["knee_users"]
        ctx.log(f"    {cell.name}: knee at {found['knee_users']} users ({found['stop']})")
        record.set_extra("saturation", probes)
    return knees


def climb_cell(ctx: Context, step: PlanStep) -> LadderCell:
    """One cell's ladder (bench/load/ladder.py): short probes at doubling users on the warm server until the
    stop rule says which load its trials run at."""
    short = replace(ctx.plan, duration_s=ladder.PROBE_S, warmup_s=ladder.PROBE_WARMUP_S, cross_check=False)
    probes: list[Probe] = []
    tag = f"-{step.server}" if step.server else ""
    top = ladder_top(ctx, step)
    for users in ladder.rungs(ctx.plan.users, top):
        rel = f"ladder/{step.workload}-{step.variant}{tag}-u{users:03d}"
        # the first rung switches the server under --servers; every other rung keeps Apache warm
        t = ctx.measure(PlanStep(0, 0, step.workload, step.variant, server=step.server), rel=rel, users=users,
                        plan=short, restart=bool(step.server) and not probes)
        probes.append(ladder.probe_of(users, t.client.rps, t.client.p99_ms, t.bottleneck, rel))
        ctx.log(console.probe_line(probes[-1]))
        stopped = ladder.stop_rule(probes, ctx.plan.max_p99_ms, top)
        if stopped is not None:
            stop, reason, chosen = stopped
            return LadderCell(workload=step.workload, variant=step.variant, server=step.server, probes=tuple(probes),
                              stop=stop.value, reason=reason, users=chosen)
    raise AssertionError("the ladder's last rung always stops it")  # stop_rule: users * 2 > max_users


def ladder_top(ctx: Context, step: PlanStep) -> int:
    """The ladder's top for this cell's server (bench/load/ladder.py top_users); MAX_USERS for --url."""
    if ctx.live is None:
        return ladder.MAX_USERS
    s = parse_deployment(step.server).apply(ctx.live.settings) if step.server else ctx.live.settings
    return ladder.top_users(s.mpm, s.processes, s.keepalive, ctx.plan.connection_close)


def climb_cells(ctx: Context, record: RunRecord) -> dict[CellKey, int]:
    """The default load: each cell's ladder, kept in results.json `ladder`; returns the users per cell."""
    cells: list[LadderCell] = []
    for step in ctx.plan.cells():
        ctx.log(f"ladder {step.name}: users from {ctx.plan.users} up to {ladder_top(ctx, step)}, "
                f"{ladder.PROBE_S:g} s probes, until the server CPUs are {100 * ladder.SERVER_FULL:.0f}% busy, the "
                f"generator is the limit or p99 passes {ctx.plan.max_p99_ms:g} ms")
        cells.append(climb_cell(ctx, step))
        ctx.log(f"    {cells[-1].name}: {cells[-1].users} users ({cells[-1].stop}: {cells[-1].reason})")
        record.set_extra("ladder", [c.to_json() for c in cells])
    return {step.cell: c.users or ctx.plan.users for step, c in zip(ctx.plan.cells(), cells, strict=True)}


def run_trials(ctx: Context, record: RunRecord, knees: dict[CellKey, int], slo_rates: dict[CellKey, float]) -> None:
    """The plan's trials in order, each recorded the moment it ends."""
    plan = ctx.plan
    started = time.monotonic()
    for i, step in enumerate(plan.order):
        remaining = len(plan.order) - i
        per_trial = (time.monotonic() - started) / i if i else plan.duration_s + 6
        ctx.log(f"[{step.seq}/{len(plan.order)}] trial {step.trial} {step.name}: "
                f"{plan.duration_s:g} s (about {remaining * per_trial / 60:.1f} min left)")
        if step.cell in slo_rates:  # --slo: the cell's trials run at its capacity, measured again
            step = step.at_rate(slo_rates[step.cell])
        result = ctx.measure(step, users=knees.get(step.cell))
        record.add_trial(result)
        if plan.rates or slo_rates:  # the open model: its figures per cell and rate, beside the cells
            record.set_extra("offered_rate", offered_rate.table(record.cells))
        ctx.log(console.trial_line(result))
