"""The `bench` command: up, status, down (and run, tune, report as they land)."""

import argparse
import json
import signal
import sys

from bench import knobs, stack
from bench.errors import UserError


def _up(args) -> int:
    settings = knobs.settings_from_args(args)
    s = stack.up(settings, seed=args.seed)
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
    return "\n".join(lines)


def _down(args) -> int:
    stopped = stack.down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up", help="start PostgreSQL and Apache in the background")
    knobs.add_stack_options(p)
    p.set_defaults(func=_up)
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
