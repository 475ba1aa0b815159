"""Runs Locust headless as a subprocess on scenarios/ for one trial, and stops it on interrupt."""

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

from bench import paths
from bench.errors import UserError
from bench.load.plan import Plan
from bench.stack import cpus as cpu_sets
from bench.stack import procs
from bench.stack.app import App
from bench.vocabulary import class_name as user_class


def command(plan: Plan, host: str, workload: str, variant: str | None, trial_dir: Path,
            users: int | None = None, app: App | None = None, rate: float | None = None) -> list[str]:
    """The Locust command of one trial; `users` overrides the plan's (a saturation probe, a cell's knee).

    With a user's application (`app`): AppPaths on its --paths, or its own --locustfile beside the suite's
    listener (no class named: Locust picks the user's classes as it always does)."""
    users = users or plan.users
    scenarios = paths.REPO / "scenarios"
    locustfile, user_classes = str(scenarios), [user_class(workload, variant)]
    if app is not None and app.locustfile:
        locustfile, user_classes = f"{scenarios / '_locustfile_app.py'},{app.locustfile}", []
    elif app is not None:
        locustfile, user_classes = str(scenarios / "_locustfile_paths.py"), ["AppPaths"]
    cmd = [
        sys.executable, "-m", "locust", "-f", locustfile, "--headless",
        "--host", host, "-u", str(users), "-r", str(users),
        "-t", f"{math.ceil(plan.duration_s)}s", "--stop-timeout", "5",
        "--csv", str(trial_dir / "locust"), "--only-summary", "--loglevel", "WARNING",
        "--bench-warmup", f"{plan.warmup_s:g}", "--bench-out", str(trial_dir / "per_pid.json"),
        "--queries", str(plan.queries),
    ]
    if app is not None and app.paths:
        cmd += ["--bench-paths", ",".join(app.paths_of(variant))]  # an --app-variant's under its own mount
    if plan.connection_close:
        cmd.append("--close-connection")
    if rate:  # the open model (scenarios/_bench/_open.py): the users are the connections
        cmd += ["--bench-rate", f"{rate:g}", "--bench-arrival", plan.arrival,
                "--bench-open-out", str(trial_dir / "open.json")]
    if plan.locust_processes != 1:
        # Forked workers talk to their master over a port: pick a free one, not Locust's fixed 5557.
        port = str(procs.free_port())
        # Bound to loopback: Locust's default master bind host is every interface.
        cmd += ["--processes", str(plan.locust_processes), "--master-bind-host", "127.0.0.1",
                "--master-bind-port", port, "--master-host", "127.0.0.1", "--master-port", port]
    return [*cmd, *user_classes]


def master_command(plan: Plan, host: str, control: Path) -> list[str]:
    """The Locust master of a whole `bench run --workers` (bench/load/locust_master.py): not headless, so it waits
    for tests instead of running one; its web routes are served on the unix socket `control` only
    (scenarios/_bench/_control.py), and the trials are started there one by one."""
    return [
        sys.executable, "-m", "locust", "-f", str(paths.REPO / "scenarios"), "--host", host,
        "--master", "--master-bind-host", plan.master_bind, "--master-bind-port", str(plan.master_port),
        "--web-host", "127.0.0.1", "--bench-control", str(control), "--stop-timeout", "3",
        "--only-summary", "--loglevel", "INFO",
    ]


def worker_command(plan: Plan) -> str:
    """What to run on each load machine: Locust's plain worker command (the master waits for it once)."""
    host = "HOST" if plan.master_bind in ("0.0.0.0", "*") else plan.master_bind
    return f"locust -f scenarios --worker --master-host {host} --master-port {plan.master_port}"


class LocustProcess:
    def __init__(self, cmd: list[str], log: Path, cpus: frozenset[int] | None = None, stdin: int | None = None):
        """cpus: the generator's CPU set (cpus.Partition.generator), set before exec so that Locust's worker
        processes inherit it; None leaves the affinity alone. stdin: subprocess.DEVNULL for a master that
        is not headless (Locust reads keys from a terminal)."""
        self.cmd = cmd
        self.log = log
        self.cpus = cpus
        self._log_file = open(log, "w")
        # Own session: Ctrl-C reaches us, and we stop Locust (and its worker processes) ourselves.
        self.proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT, cwd=paths.REPO,
                                     stdin=stdin, start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                     preexec_fn=cpu_sets.pin(cpus))

    def check_cpus(self) -> None:
        """UserError when Locust or one of its workers may run outside the generator's CPUs."""
        cpu_sets.check(cpu_sets.family(self.proc.pid), self.cpus, "Locust processes")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.stop()
            raise UserError(f"Locust did not finish within {timeout:g} s; see {self.log}") from exc
        finally:
            self._log_file.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        self._log_file.close()
