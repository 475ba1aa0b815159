"""The `bench` command: up, status, down (and run, tune, report as they land)."""

import argparse
import json
import signal
import sys
from pathlib import Path

from bench import knobs, plan, stack
from bench.errors import UserError

QUICK = {"trials": 2, "duration": 10.0, "warmup": 3.0}
FULL = {"trials": 3, "duration": 25.0, "warmup": 5.0}


def _up(args) -> int:
    settings = knobs.settings_from_args(args)
    s = stack.up(settings, seed=args.seed, owned=False)
    print(f"stack up: {s.url}  (state {s.state})")
    for path in ("/plaintext", "/json", "/pooled/db", "/naive/fortunes", "/server-status"):
        print(f"  {s.url}{path}")
    return 0


def _status(args) -> int:
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
    if a.get("orphans"):
        lines.append(f"ORPHANS   apache children {a['orphans']} still serve without their parent: run `bench down`")
    if info.get("owner") and info["owner"]["alive"] is False:
        lines.append(f"owner     bench process {info['owner']['pid']} is gone: run `bench down` to stop its stack")
    return "\n".join(lines)


def _down(args) -> int:
    stopped = stack.down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _plan_from_args(args) -> plan.Plan:
    defaults = QUICK if args.quick else FULL
    workloads = list(plan.WORKLOADS) if args.all else list(plan.DEFAULT_WORKLOADS)
    variants = list(plan.VARIANTS) if args.all else list(plan.DEFAULT_VARIANTS)
    if args.workloads:
        workloads = plan.parse_list("--workloads", args.workloads, plan.WORKLOADS)
    if args.variants:
        variants = plan.parse_list("--variants", args.variants, plan.VARIANTS)
    return plan.Plan(
        workloads=workloads, variants=variants, users=args.users,
        duration_s=args.duration if args.duration is not None else defaults["duration"],
        warmup_s=args.warmup if args.warmup is not None else defaults["warmup"],
        trials=args.trials if args.trials is not None else defaults["trials"],
        queries=args.queries, locust_processes=args.locust_processes, url=args.url, quick=args.quick,
        connection_close=args.connection_close,
    ).validate()


def _run(args) -> int:
    from bench import run

    the_plan = _plan_from_args(args)
    settings = knobs.settings_from_args(args) if the_plan.url is None else None
    run_dir = run.execute(the_plan, settings, seed=args.seed, label="quick" if args.quick else "")
    data = json.loads((run_dir / "results.json").read_text())
    print()
    print(run.summary_table(data["results"]))
    print()
    for line in run.speedup_lines(data["speedups"]):
        print(line)
    if not args.no_report:
        _build_report(run_dir)
    print(f"run folder: {run_dir}")
    return 0


def _build_report(run_dir: Path) -> None:
    from reports.build import build_report

    print(f"report: {build_report(run_dir)}")


def _tune(args) -> int:
    from bench import tune

    values = tune.parse_values(args.values or ("0,10,1000" if args.quick else tune.DEFAULT_VALUES))
    modes = tune.parse_keepalive(args.keepalive)
    max_loss = tune.parse_loss(args.max_loss)
    budget = tune.parse_budget(args.memory_budget)
    duration = args.duration if args.duration is not None else (8.0 if args.quick else 20.0)
    warmup = args.warmup if args.warmup is not None else (2.0 if args.quick else 4.0)
    args.keepalive = "on"  # the sweep sets it per point
    settings = knobs.settings_from_args(args)
    run_dir = tune.execute(values, args.workload, args.variant, modes, max_loss, budget, settings,
                           users=args.users, duration=duration, warmup=warmup,
                           trials=args.trials if args.trials is not None else (1 if args.quick else 2),
                           locust_processes=args.locust_processes)
    data = json.loads((run_dir / "tune.json").read_text())
    print()
    print(tune.summary_text(data))
    if not args.no_report:
        _build_report(run_dir)
    print(f"run folder: {run_dir}")
    return 0


def _report(args) -> int:
    _build_report(Path(args.run_dir))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up", help="start PostgreSQL and Apache in the background")
    knobs.add_stack_options(p, generator=False)
    p.set_defaults(func=_up)
    p = sub.add_parser("run", help="the full comparison: Locust against the variants, trials, results, report")
    p.add_argument("--workloads", help=f"comma list of {', '.join(plan.WORKLOADS)} (default db,fortunes)")
    p.add_argument("--variants", help=f"comma list of {', '.join(plan.VARIANTS)} (default naive,pooled)")
    p.add_argument("--all", action="store_true", help="every workload and the 2x2 of variants")
    p.add_argument("--users", type=int, default=4, help="concurrent Locust users (default 4)")
    p.add_argument("--duration", type=float, help="seconds per trial, warm-up included (default 25; quick 10)")
    p.add_argument("--warmup", type=float, help="seconds excluded at the start of each trial (default 5; quick 3)")
    p.add_argument("--trials", type=int, help="trials per workload x variant (default 3; quick 2)")
    p.add_argument("--quick", action="store_true", help="a short run: under 3 minutes on 2 cores")
    p.add_argument("--queries", type=int, default=20, help="queries per request for queries/updates (default 20)")
    p.add_argument("--url", help="measure an existing server instead of the embedded stack (client data only)")
    p.add_argument("--locust-processes", type=int, default=1,
                   help="Locust worker processes (Locust's --processes; -1 = one per core)")
    p.add_argument("--connection-close", action="store_true",
                   help="the client closes the connection after every request (no keep-alive)")
    p.add_argument("--no-report", action="store_true", help="do not build the report at the end")
    knobs.add_stack_options(p)
    p.set_defaults(func=_run)
    p = sub.add_parser("tune", help="sweep MaxConnectionsPerChild and recommend a value")
    p.add_argument("--values", help="comma list of MaxConnectionsPerChild values (default 0,1,10,100,1000,10000; "
                   "quick 0,10,1000); 0 = never recycle is always measured")
    p.add_argument("--workload", default="fortunes", help="db, queries, updates, fortunes or leaky (default fortunes)")
    p.add_argument("--variant", default="pooled", help="naive, pool-only, cache-only or pooled (default pooled)")
    p.add_argument("--keepalive", default="both", help="on, off or both (default both)")
    p.add_argument("--max-loss", default="1", help="largest acceptable throughput loss in percent (default 1)")
    p.add_argument("--memory-budget", help="RSS limit per child (300MB) or for all children (total:2GB)")
    p.add_argument("--users", type=int, default=4, help="concurrent Locust users (default 4)")
    p.add_argument("--duration", type=float, help="seconds per point, warm-up included (default 20; quick 8)")
    p.add_argument("--warmup", type=float, help="seconds excluded at the start of each point (default 4; quick 2)")
    p.add_argument("--trials", type=int, help="trials per point, interleaved (default 2; quick 1)")
    p.add_argument("--quick", action="store_true", help="a sweep of a few minutes")
    p.add_argument("--locust-processes", type=int, default=1)
    p.add_argument("--no-report", action="store_true")
    knobs.add_stack_options(p, keepalive=False)
    p.set_defaults(func=_tune)
    p = sub.add_parser("report", help="build the report of a run folder")
    p.add_argument("run_dir")
    p.set_defaults(func=_report)
    p = sub.add_parser("status", help="show what runs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_status)
    p = sub.add_parser("down", help="stop what `bench up` started")
    p.set_defaults(func=_down)
    return parser


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _sigterm)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
