"""The `bench` command: up, status, down, run, tune, sessions, report, compare."""

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias, overload

from bench import interrupts, stack
from bench.load import plan
from bench.record.errors import Parser, UserError
from bench.stack import app, cpus, knobs, servers
from bench.vocabulary import DEFAULT_VARIANTS, DEFAULT_WORKLOADS, VARIANTS, WORKLOADS

if TYPE_CHECKING:  # the tune record's classes load with a sweep, not with `bench --help`
    from bench.record.tune import TuneData

# What build_parser's add_subparsers returns (generic in typeshed only: a string, not subscripted at run time).
Subcommands: TypeAlias = "argparse._SubParsersAction[Parser]"

DEFAULT_USERS = 4
# command -> option -> (full, quick): every default that --quick changes, in one table.
DEFAULTS: dict[str, dict[str, tuple[float, float]]] = {
    "run": {"trials": (3, 2), "duration": (25.0, 10.0), "warmup": (5.0, 3.0)},
    "tune": {"trials": (2, 1), "duration": (20.0, 8.0), "warmup": (4.0, 2.0)},
}  # each tune knob's --values defaults are its own (bench.tune.knobs.Knob.default_values)


@overload
def _default(args: argparse.Namespace, command: str, option: Literal["trials"]) -> int: ...


@overload
def _default(args: argparse.Namespace, command: str, option: Literal["duration", "warmup"]) -> float: ...


def _default(args: argparse.Namespace, command: str, option: str) -> float:
    """The option's value: as given, else the full or quick default of `command` (trials: an int)."""
    given = getattr(args, option)
    return given if given is not None else DEFAULTS[command][option][1 if args.quick else 0]


def _defaults_text(command: str, option: str) -> str:
    return _full_quick_text(DEFAULTS[command][option])


def _full_quick_text(defaults: tuple[float | str, float | str]) -> str:
    full, quick = (format(v, "g") if isinstance(v, float) else v for v in defaults)
    return f"default {full}; quick {quick}"


def _up(args: argparse.Namespace) -> int:
    settings = knobs.settings_from_args(args)
    s = stack.up(settings, seed=args.seed, owned=False)
    print(f"stack up: {s.url}  (state {s.state})")
    if s.pooler_dsn:
        print(f"  PgBouncer ({settings.pooler_mode} mode, pool {settings.pooler_pool}): {s.pooler_dsn}")
    shown = (*settings.app.served_paths, "/server-status") if settings.app else \
        ("/plaintext", "/json", "/pooled/db", "/naive/fortunes", "/server-status")
    for path in shown:
        print(f"  {s.url}{path}")
    return 0


def _status(args: argparse.Namespace) -> int:
    info = stack.load().status()
    print(json.dumps(info, indent=2) if args.json else _format_status(info))
    return 0


def _format_status(info: dict) -> str:
    a, p = info["apache"], info["postgres"]
    lines = [f"url       {info['url']}",
             f"apache    pid {a['pid']} {'running' if a['alive'] else 'NOT running'}, children {a['children']}",
             "postgres  " + (f"pid {p['pid']} {'running' if p['alive'] else 'NOT running'}, port {p['port']}"
                              if "pid" in p else f"external {p['dsn']}"),
             "settings  " + ", ".join(f"{k}={v}" for k, v in info["settings"].items())]
    if info.get("pooler"):
        b = info["pooler"]
        lines.insert(3, f"pgbouncer pid {b['pid']} {'running' if b['alive'] else 'NOT running'}, port {b['port']}, "
                        f"{b['mode']} mode, pool {b['pool_size']}")
    if a.get("orphans"):
        lines.append(f"ORPHANS   apache children {a['orphans']} still serve without their parent: run `bench down`")
    if info.get("owner") and info["owner"]["alive"] is False:
        lines.append(f"owner     bench process {info['owner']['pid']} is gone: run `bench down` to stop its stack")
    return "\n".join(lines)


def _down(args: argparse.Namespace) -> int:
    stopped = stack.down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _plan_from_args(args: argparse.Namespace, partition: cpus.Partition | None = None) -> plan.Plan:
    from bench.load import offered_rate, slo_search, thresholds

    thresholds.parse(args.fail_on)  # a malformed threshold stops here, before anything starts
    slo_search.check_slo(args.slo, args.saturate)
    partition = partition or knobs.partition_from_args(args)
    workloads = list(WORKLOADS) if args.all else list(DEFAULT_WORKLOADS)
    variants = knobs.all_variants(getattr(args, "pooler_mode", "transaction")) if args.all else list(DEFAULT_VARIANTS)
    if args.workloads:
        workloads = plan.parse_list("--workloads", args.workloads, WORKLOADS)
    if args.variants:
        variants = plan.parse_list("--variants", args.variants, VARIANTS)
    user_app = app.from_args(knobs.app_args(args), check_code=False)  # the code is checked with the settings
    if user_app is not None:
        _refuse_with_app(args)
        workloads, variants = [plan.APP_WORKLOAD], user_app.cells  # one cell per --app-variant
    return plan.Plan(
        workloads=workloads, variants=variants, users=DEFAULT_USERS if args.users is None else args.users,
        duration_s=_default(args, "run", "duration"),
        warmup_s=_default(args, "run", "warmup"),
        trials=_default(args, "run", "trials"),
        queries=args.queries, locust_processes=args.locust_processes, url=args.url, quick=args.quick,
        connection_close=args.connection_close, generator_cpus=partition.generator_list,
        cross_check=args.cross_check, saturate=args.saturate, max_p99_ms=args.max_p99,
        workers=args.workers, master_bind=args.master_bind or "127.0.0.1", master_port=args.master_port,
        workers_wait_s=args.workers_wait, workers_min=1 if args.workers_min is None else args.workers_min,
        servers=_servers_from_args(args),
        rates=offered_rate.parse_rates(args.rate), arrival=offered_rate.check_arrival(args.arrival),
        fail_on=args.fail_on, slo=args.slo, ladder=_ladder(args),
    ).validate()


def _ladder(args: argparse.Namespace) -> bool:
    """The default load (bench/load/ladder.py): without --users, unless another search or load model decides it."""
    given = getattr(args, "users_given", args.users is not None)
    return not given and not args.saturate and not args.rate and not args.workers


def _refuse_with_app(args: argparse.Namespace) -> None:
    """What measures the suite's own handlers only, refused with --app before anything starts."""
    for option, given in (("--url", args.url), ("--servers", args.servers), ("--cross-check", args.cross_check),
                          ("--workloads", args.workloads), ("--variants", args.variants), ("--all", args.all),
                          ("--workers", args.workers)):  # remote workers run the suite's classes (-f scenarios)
        if given:
            shown = f" {given!r}" if isinstance(given, str) else ""
            raise UserError(f"{option}{shown} measures the suite's own handlers: it cannot be used with --app "
                            f"{args.app!r}")


def _servers_from_args(args: argparse.Namespace) -> list[str] | None:
    """--servers mod_python,mod_wsgi (each entry may add its MPM and shape: mod_python:worker:1x4): checked
    here, before anything starts; None without it (one server)."""
    if args.servers is None:
        return None
    entries = [servers.parse_deployment(x) for x in args.servers.split(",") if x.strip()]
    labels = list(dict.fromkeys(d.label for d in entries))  # an entry named twice is measured once
    if args.server is not None and args.server not in {d.server for d in entries}:
        raise UserError(f"--server {args.server} is not among --servers {','.join(labels)}: give one of them")
    return labels


def _run(args: argparse.Namespace) -> int:
    from bench import console
    from bench.load import run
    from bench.record.results import load_results

    partition = knobs.partition_from_args(args)
    the_plan = _plan_from_args(args, partition)
    if the_plan.servers:
        from bench.stack.apache import check_installed

        deployments = [servers.parse_deployment(label) for label in the_plan.servers]
        for d in deployments:  # before anything starts, not at the first trial of the second server
            check_installed(d.server)
        args.server = deployments[0].server  # the stack starts with the first; each trial switches to its own
    settings = knobs.settings_from_args(args) if the_plan.url is None else None
    if the_plan.servers and settings is not None:
        for d in deployments:
            d.apply(settings).validate()  # each shape's MPM, threads and connection budget, before anything starts
    _exposure_warnings(the_plan, settings)
    run_dir = run.execute(the_plan, settings, seed=args.seed, label="quick" if args.quick else "",
                          partition=partition)
    data = load_results(run_dir)
    print()
    print(console.run_table(data["results"]))
    print()
    for line in console.speedup_lines(data):
        print(line)
    _per_process_lines(run_dir)
    for line in console.open_lines(data):
        print(line)
    from bench.load.slo_search import summary_line

    for entry in (data.get("slo") or {}).get("cells", []):  # --saturate --slo: each cell's capacity
        print(summary_line(entry))
    if not args.no_report:
        _build_report(run_dir)
    print(f"run folder: {run_dir}")
    return _fail_on(args.fail_on, data)


def _fail_on(text: str | None, data: dict) -> int:
    """--fail-on: 0 when every threshold is met, 3 naming each broken one."""
    from bench.load import thresholds

    found = thresholds.parse(text)
    if not found:
        return 0
    broken = thresholds.evaluate(found, data)
    for line in broken:
        print(f"fail-on: {line}")
    if not broken:
        print(f"fail-on: met: {text}")
    return thresholds.EXIT_BROKEN if broken else 0


def _per_process_lines(run_dir: Path) -> None:
    """Per Python process: busy threads, CPU, req/CPU-s (bench.load.per_process), from the trials."""
    from bench import console
    from bench.load.per_process import recorded_trials

    text = console.per_process_table(recorded_trials(run_dir))
    if text:
        print()
        print(text)


def _exposure_warnings(the_plan: plan.Plan, settings: knobs.StackSettings | None) -> None:
    """Say what listens beyond loopback, and how to start the workers."""
    from bench.load.locust_runner import worker_command

    if settings is not None and settings.listen != "127.0.0.1":
        print(f"warning: Apache listens on {settings.listen}, port {settings.port} (reachable from that network); "
              "PostgreSQL stays on 127.0.0.1", file=sys.stderr)
    if the_plan.workers:
        if the_plan.master_bind != "127.0.0.1":
            print(f"warning: the Locust master listens on {the_plan.master_bind}, port {the_plan.master_port} "
                  "(workers connect there)", file=sys.stderr)
        print(f"the run's Locust master waits up to {the_plan.workers_wait_s:g} s, once, for {the_plan.workers} "
              f"worker(s); on the load machine(s) run: {worker_command(the_plan)}", file=sys.stderr)


def _build_report(run_dir: Path) -> None:
    from reports.build import build_report

    print(f"report: {build_report(run_dir)}")


def _tune(args: argparse.Namespace) -> int:
    from bench.tune import knob
    from bench.tune.options import TuneOptions

    k = knob(args.knob)
    if getattr(args, "app_variant", None):
        raise UserError(f"--app-variant {args.app_variant[0]!r}: bench tune sweeps one environment; tune the "
                        "application as its WSGI file sets it (or with --app-option), and compare variants with "
                        "bench run")
    if args.users is None:  # bench tune has no ladder: its default load is DEFAULT_USERS
        args.users = DEFAULT_USERS
    if args.slo is not None and k.name != "processes":
        raise UserError(f"--slo {args.slo!r} sizes --knob processes (its capacity at an SLO): --knob {k.name} "
                        "does not take it")
    parsed = k.parse(TuneOptions(
        values=args.values, workload=args.workload, variant=args.variant, keepalive=args.keepalive,
        max_loss=args.max_loss, max_p99=args.max_p99, slo=args.slo, memory_budget=args.memory_budget, users=args.users,
        duration=_default(args, "tune", "duration"), warmup=_default(args, "tune", "warmup"),
        trials=_default(args, "tune", "trials"), locust_processes=args.locust_processes, quick=args.quick,
        confirm=not args.no_confirm, confirm_max_duration=args.confirm_max_duration))
    args.keepalive = "on"  # the sweep sets it per point
    settings = knobs.settings_from_args(args)
    run_dir = k.run(parsed, settings, knobs.partition_from_args(args))
    return _tune_done(run_dir, k.summary_text, args)


def _sessions(args: argparse.Namespace) -> int:
    from bench import console
    from bench.load import sessions
    from bench.record.sessions import read_sessions

    processes = sessions.parse_processes(args.processes)
    modes = sessions.parse_keepalive(args.keepalive)
    base = knobs.StackSettings(port=args.port, server_cpus=knobs.partition_from_args(args).server_list,
                               server=args.server, wsgi_mode=args.wsgi_mode).validate()
    run_dir = sessions.execute(base, processes, modes, args.requests)
    print()
    print(console.sessions_table(read_sessions(run_dir)))
    if not args.no_report:
        _build_report(run_dir)
    print(f"run folder: {run_dir}")
    return 0


def _tune_done(run_dir: Path, summary_text: Callable[["TuneData"], str], args: argparse.Namespace) -> int:
    """The end of every sweep: its terminal summary from tune.json, the report, the folder."""
    from bench.record.tune import read_tune

    print()
    print(summary_text(read_tune(run_dir)))
    if not args.no_report:
        _build_report(run_dir)
    print(f"run folder: {run_dir}")
    return 0


def _report(args: argparse.Namespace) -> int:
    _build_report(Path(args.run_dir))
    return 0


def _compare(args: argparse.Namespace) -> int:
    """0 no regression, 3 a regression, 4 inconclusive (reports/compare/command.py)."""
    from reports.compare.command import run_compare

    return run_compare(args)


def _add_trial_options(p: argparse.ArgumentParser, command: str, unit: str, trials_help: str) -> None:
    """--users, --duration, --warmup, --trials: the same for run and tune; defaults from DEFAULTS."""
    p.add_argument("--users", type=int, help=f"concurrent Locust users (default {DEFAULT_USERS}; bench run: "
                   "chosen per cell by a short ladder from 4 when not given, docs/run.md 'The load of a cell')")
    p.add_argument("--duration", type=float,
                   help=f"seconds per {unit}, warm-up included ({_defaults_text(command, 'duration')})")
    p.add_argument("--warmup", type=float,
                   help=f"seconds excluded at the start of each {unit} ({_defaults_text(command, 'warmup')})")
    p.add_argument("--trials", type=int, help=f"{trials_help} ({_defaults_text(command, 'trials')})")


def _or_list(names: Iterable[str]) -> str:
    *rest, last = names
    return f"{', '.join(rest)} or {last}" if rest else last


def _add_up(sub: Subcommands) -> None:
    p = sub.add_parser("up", help="start PostgreSQL and Apache in the background")
    knobs.add_stack_options(p, generator=False)
    p.set_defaults(func=_up)


def _add_run(sub: Subcommands) -> None:
    p = sub.add_parser("run", help="the full comparison: Locust against the variants, trials, results, report")
    p.add_argument("--workloads", help=f"comma list of {', '.join(WORKLOADS)} (default db,fortunes)")
    p.add_argument("--variants", help=f"comma list of {', '.join(VARIANTS)} (default {','.join(DEFAULT_VARIANTS)})")
    p.add_argument("--all", action="store_true", help="every workload and the 2x2 of variants")
    _add_trial_options(p, "run", "trial", "trials per workload x variant")
    p.add_argument("--quick", action="store_true", help="a short run: under 3 minutes on 2 cores")
    p.add_argument("--queries", type=int, default=20, help="queries per request for queries/updates (default 20)")
    p.add_argument("--url", help="measure an existing server instead of the embedded stack (client data only)")
    p.add_argument("--locust-processes", type=int, default=1,
                   help="Locust worker processes (Locust's --processes; -1 = one per core)")
    p.add_argument("--connection-close", action="store_true",
                   help="the client closes the connection after every request (no keep-alive)")
    _add_load_model_options(p)
    p.add_argument("--no-report", action="store_true", help="do not build the report at the end")
    p.add_argument("--cross-check", action="store_true",
                   help="also measure each cell with wrk (same connections and CPUs), and the generator's ceiling")
    _add_worker_options(p)
    p.add_argument("--servers", metavar="LIST",
                   help=f"comma list of {', '.join(servers.SERVERS)}: run every cell under each, interleaved "
                   "(default: the one --server)")
    knobs.add_stack_options(p)
    p.set_defaults(func=_run)


def _add_load_model_options(p: argparse.ArgumentParser) -> None:
    """bench run's --saturate, --max-p99, --rate, --slo, --arrival, --fail-on."""
    p.add_argument("--saturate", action="store_true",
                   help="raise each cell's users (doubling from --users) until the server, the generator or "
                   "--max-p99 is the limit, and run its trials at the knee")
    p.add_argument("--max-p99", type=float, default=plan.DEFAULT_MAX_P99_MS, metavar="MS",
                   help="with --saturate: the p99 bound in milliseconds (default %(default)g)")
    p.add_argument("--rate", metavar="R[,R2,...]",
                   help="the open model: offer R requests per second to every cell (each rate in turn), started "
                   "on a schedule that does not wait for answers; latency from the intended start, drops counted; "
                   "--users is then the number of connections (docs/open-model.md)")
    p.add_argument("--slo", metavar="THRESHOLDS",
                   help="with --saturate: search each cell's largest offered rate (open model; doubling, then "
                   "bisecting) that meets this, e.g. 'p99<50ms' (the --fail-on grammar), and run its trials there")
    p.add_argument("--arrival", default="constant", help="with --rate: constant or poisson (default constant)")
    p.add_argument("--fail-on", metavar="THRESHOLDS",
                   help="exit 3 when a threshold is broken, e.g. 'p99<50ms,failures=0,rps>1000' (per cell: "
                   "'db/pooled:p99<5ms'); metrics p50 p90 p99 p999 max mean rps failures failure_rate dropped "
                   "drop_rate late req_per_cpu_s")


def _add_worker_options(p: argparse.ArgumentParser) -> None:
    """bench run's --workers and what goes with it (Locust's master/worker)."""
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="drive the load through N Locust workers started elsewhere (Locust's master/worker)")
    p.add_argument("--master-bind", metavar="ADDR", help="with --workers: the master's address (default 127.0.0.1)")
    p.add_argument("--master-port", type=int, default=5557, help="with --workers: the master's port (default 5557)")
    p.add_argument("--workers-wait", type=float, default=60.0, metavar="S",
                   help="with --workers: how long the run waits, once, for them to connect (default 60 s)")
    p.add_argument("--workers-min", type=int, default=None, metavar="N",
                   help="with --workers: stop the run before a trial when fewer than N workers remain "
                   "(default 1: go on with the rest)")


def _add_tune(sub: Subcommands) -> None:
    from bench.tune import DEFAULT_KNOB, KNOBS
    from bench.tune.options import TUNE_WORKLOADS

    p = sub.add_parser("tune", help=f"sweep a knob ({' or '.join(k.title for k in KNOBS.values())}) and "
                       "recommend a value")
    p.add_argument("--knob", default=DEFAULT_KNOB,
                   help=" or ".join(f"{name} ({k.title})" for name, k in KNOBS.items()) + f" (default {DEFAULT_KNOB})")
    p.add_argument("--values", help="comma list of the knob's values: " + "; ".join(
        f"{name}: {k.values_help} ({_full_quick_text(k.default_values)})" for name, k in KNOBS.items()))
    p.add_argument("--max-p99", type=float, metavar="MS",
                   help="with --knob processes: the largest acceptable p99 (default 100 ms)")
    p.add_argument("--slo", metavar="THRESHOLDS",
                   help="with --knob processes: size on each count's capacity at this SLO (e.g. 'p99<50ms'): the "
                   "largest offered rate (open model, latency from the intended start) that met it")
    p.add_argument("--workload", default="fortunes", help=f"{_or_list(TUNE_WORKLOADS)} (default fortunes)")
    p.add_argument("--variant", default="pooled", help=f"{_or_list(VARIANTS)} (default pooled)")
    p.add_argument("--keepalive", default="both", help="on, off or both (default both)")
    p.add_argument("--max-loss", default="1", help="largest acceptable throughput loss in percent (default 1)")
    p.add_argument("--memory-budget", help="RSS limit per child (300MB) or for all children (total:2GB); "
                   "--knob processes: PSS, and a bare size means all children")
    _add_trial_options(p, "tune", "point", "trials per point, interleaved")
    p.add_argument("--quick", action="store_true", help="a sweep of a few minutes")
    p.add_argument("--locust-processes", type=int, default=1)
    p.add_argument("--no-confirm", action="store_true",
                   help="max-connections-per-child: do not measure the recommended value against 0 (it is then "
                   "printed as unconfirmed)")
    p.add_argument("--confirm-max-duration", type=float, default=120.0, metavar="S",
                   help="seconds per confirmation trial at most (default %(default)g; said when it binds)")
    p.add_argument("--no-report", action="store_true")
    knobs.add_stack_options(p, keepalive=False)
    p.set_defaults(func=_tune)


def _add_sessions(sub: Subcommands) -> None:
    p = sub.add_parser("sessions", help="state is per process: how often a returning client is forgotten")
    p.add_argument("--processes", default="1,2,4,8", help="comma list of process counts (default 1,2,4,8)")
    p.add_argument("--keepalive", default="both", help="on, off or both (default both)")
    p.add_argument("--requests", type=int, default=200, help="requests per endpoint and setting (default 200)")
    p.add_argument("--port", type=int, default=knobs.StackSettings.port, help="Apache port on 127.0.0.1")
    p.add_argument("--server-cpus", metavar="LIST", help="CPUs of Apache and PostgreSQL (as for bench up)")
    p.add_argument("--no-partition", action="store_true", help="do not pin the server to CPUs")
    p.add_argument("--no-report", action="store_true", help="do not build the report at the end")
    p.add_argument("--server", default=servers.DEFAULT_SERVER,
                   help=f"{' or '.join(servers.SERVERS)} (default {servers.DEFAULT_SERVER}); under mod_wsgi daemon "
                   "mode a process is a daemon process")
    p.add_argument("--wsgi-mode", default="daemon", help="with --server mod_wsgi: daemon (default) or embedded")
    p.set_defaults(func=_sessions)


def _add_report(sub: Subcommands) -> None:
    p = sub.add_parser("report", help="build the report of a run folder")
    p.add_argument("run_dir")
    p.set_defaults(func=_report)


def _add_compare(sub: Subcommands) -> None:
    p = sub.add_parser("compare", help="compare later runs with the first (exit 3 on a regression, 4 inconclusive)")
    from reports.compare.command import add_compare_arguments  # argparse only: no matplotlib until there is work

    add_compare_arguments(p)
    p.set_defaults(func=_compare)


def _add_status_and_down(sub: Subcommands) -> None:
    p = sub.add_parser("status", help="show what runs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_status)
    p = sub.add_parser("down", help="stop what `bench up` started and remove its state folder (not a cache)")
    p.set_defaults(func=_down)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_up, _add_run, _add_tune, _add_sessions, _add_report, _add_compare, _add_status_and_down):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    with interrupts.delivered():
        try:
            args = build_parser().parse_args(argv)
            if getattr(args, "users", 0) is None:  # not given: the default, and `bench run` climbs a ladder from it
                args.users, args.users_given = DEFAULT_USERS, False
            return args.func(args)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            if exc.filename is None:
                raise
            # A file or folder of the user's machine (e.g. a run folder made read-only mid-run): one line.
            print(f"error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
