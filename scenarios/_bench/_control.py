"""A control channel into a Locust master that `bench run --workers` starts once for the whole run.

With `--bench-control PATH` (a path inside a folder only the suite's user can enter, mode 0700), the master
serves Locust's own web application on a unix socket at PATH instead of a TCP port: no address anyone else
on the machine (or the network) can reach, no password to keep. Only the owner of the folder can connect,
which is the same trust as the process itself. Locust's routes (`/stats/reset`, `/stats/requests`, the
per-process tab of `_webui`) work there unchanged; this module adds:

* `GET  /bench/status`: the runner's state, the workers Locust knows (id, state, host) and whether the last
  test's results are written (`finished`, the test's number);
* `POST /bench/start` (JSON: `user_classes`, `users`, `spawn_rate`, `host`, `options`): one test, through
  `runner.start`; `options` are Locust parsed options (`bench_out`, `csv_prefix`, `bench_warmup`, `queries`,
  `close_connection`), forwarded to the workers with the spawn message as Locust does for every option;
* `POST /bench/stop`: `runner.stop()`; when the per-PID listener has written its results (after the
  workers' final reports), Locust's statistics of the test are written as PREFIX_stats.csv,
  PREFIX_failures.csv and PREFIX_exceptions.csv (`csv_prefix`), complete up to the stop.

Workers stay connected between tests: a stopped test leaves them in Locust's "ready" state for the next one.
"""

from __future__ import annotations

import csv
import logging
import os
import socket
import stat
from typing import Any

import gevent
from locust import events, stats
from locust.runners import MasterRunner, WorkerRunner

from ._listener import state as listener

logger = logging.getLogger(__name__)

FINALIZE_TIMEOUT_S = 20.0  # the listener waits at most 7 s for the workers' final reports


class _Control:
    def __init__(self) -> None:
        self.started = 0  # tests started through the channel
        self.finished = 0  # tests whose results are written
        self.csv_prefix: str | None = None


control = _Control()


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any, **_kwargs: Any) -> None:
    parser.add_argument("--bench-control", default=None, metavar="PATH", include_in_web_ui=False,
                        help="Serve the web UI's routes on a unix socket at PATH (its folder must be mode 0700), "
                        "for `bench run --workers`")


def check_folder(path: str) -> str | None:
    """Why the socket's folder is not private to this user, or None."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        info = os.stat(folder)
    except OSError as exc:
        return f"{folder}: {exc.strerror}"
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        return f"{folder} must belong to this user with mode 0700 (is {stat.S_IMODE(info.st_mode):o})"
    return None


def _serve_on_unix_socket(web_ui: Any, path: str) -> None:
    """Replace the web UI's TCP server by the same WSGI app on a unix socket (gevent serves both)."""
    from gevent import pywsgi

    def start_server() -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(16)
        web_ui.server = pywsgi.WSGIServer(sock, web_ui.app, log=None, error_log=logger)
        web_ui.server.serve_forever()

    web_ui.start_server = start_server


def workers(runner: Any) -> dict[str, dict[str, Any]]:
    """Each worker Locust knows: its state ("ready", "spawning", "running", "missing", ...) and host."""
    if not isinstance(runner, MasterRunner):
        return {}
    return {c.id: {"state": c.state, "host": c.id.rsplit("_", 1)[0]} for c in runner.clients.values()}


def _write_locust_csv(environment: Any, prefix: str) -> None:
    """Locust's own statistics of the test, written after the stop (Locust's writer closes its files only at
    quit, so a master that outlives the test writes them here)."""
    writer = stats.StatsCSV(environment, stats.PERCENTILES_TO_REPORT)
    for suffix, method in (("stats", writer.requests_csv), ("failures", writer.failures_csv),
                           ("exceptions", writer.exceptions_csv)):
        with open(f"{prefix}_{suffix}.csv", "w", newline="", encoding="utf-8") as f:
            method(csv.writer(f))


def _finish(environment: Any, number: int) -> None:
    deadline = gevent.get_hub().loop.now() + FINALIZE_TIMEOUT_S
    while not (listener.finalized and environment.runner.state == "stopped"):
        if gevent.get_hub().loop.now() > deadline:
            logger.warning("the per-PID results of test %d were not written in time", number)
            break
        gevent.sleep(0.1)
    if control.csv_prefix:
        try:
            _write_locust_csv(environment, control.csv_prefix)
        except OSError as exc:
            logger.error("could not write Locust's CSV files at %s: %s", control.csv_prefix, exc)
    control.finished = number


def install(environment: Any, web_ui: Any, path: str) -> None:
    from flask import jsonify, request

    app = web_ui.app
    runner = environment.runner

    @app.route("/bench/status")
    def bench_status() -> Any:
        return jsonify({"state": runner.state, "workers": workers(runner), "started": control.started,
                        "finished": control.finished, "user_count": runner.user_count})

    @app.route("/bench/start", methods=["POST"])
    def bench_start() -> Any:
        body = request.get_json(force=True)
        if runner.state not in ("ready", "stopped"):
            return jsonify({"ok": False, "message": f"a test is under way (state {runner.state})"}), 409
        available = environment.available_user_classes or {}
        names = list(body.get("user_classes") or [])
        unknown = [n for n in names if n not in available]
        if unknown or not names:
            return jsonify({"ok": False, "message": f"unknown user classes {unknown or names}"}), 400
        environment.user_classes = [available[n] for n in names]
        environment.host = body.get("host") or environment.host
        opts = environment.parsed_options
        for key in ("bench_out", "csv_prefix"):  # one test's files: never the previous test's
            setattr(opts, key, None)
        for key, value in (body.get("options") or {}).items():
            setattr(opts, key, value)
        opts.host = environment.host
        control.csv_prefix = getattr(opts, "csv_prefix", None)
        control.started += 1
        gevent.spawn(runner.start, int(body["users"]), float(body.get("spawn_rate") or body["users"]))
        return jsonify({"ok": True, "test": control.started})

    @app.route("/bench/stop", methods=["POST"])
    def bench_stop() -> Any:
        number = control.started
        if control.finished < number:
            if runner.state not in ("stopped", "stopping"):
                gevent.spawn(runner.stop)
            gevent.spawn(_finish, environment, number)
        return jsonify({"ok": True, "test": number})

    _serve_on_unix_socket(web_ui, path)


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, web_ui: Any = None, **_kwargs: Any) -> None:
    path = getattr(environment.parsed_options, "bench_control", None) if environment.parsed_options else None
    if not path or isinstance(runner, WorkerRunner):
        return
    problem = check_folder(path) if web_ui is not None else "--bench-control needs the web UI (not --headless)"
    if problem:
        logger.error("--bench-control %s: %s", path, problem)
        environment.process_exit_code = 1
        runner.quit()
        raise SystemExit(1)
    install(environment, web_ui, path)
