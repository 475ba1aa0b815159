"""One Locust master for a whole `bench run --workers N`: started once, waits (bounded) for N workers once,
then drives every trial through them, and stops at the end of the run (Locust then tells its workers to quit).

The workers are the user's plain `locust -f scenarios --worker --master-host ...` processes, on any machine;
they stay connected between trials and across the Apache restart before each one. The suite talks to the
master through `scenarios/_bench/_control.py`: Locust's web application served on a unix socket in a
folder of mode 0700 (`tempfile.mkdtemp`), so only this user can start, stop or read a test, and nothing
listens on a TCP port for it (Locust's web UI would otherwise listen on 8089 of every interface, without a
password). A worker lost mid-trial is a fault of that trial, never a hang: every wait here is bounded.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.load.locust_runner import LocustProcess, master_command, worker_command
from bench.load.plan import Plan
from bench.stack import cpus as cpu_sets

CONNECTED = ("ready", "spawning", "running")  # Locust's worker states that can take users
STATUS_INTERVAL_S = 0.5
FINISH_TIMEOUT_S = 30.0  # the master writes a test's results within ~7 s of its stop (final reports)
# Locust's master forgets a worker when its test stops; the worker says "ready" again --stop-timeout s later.
REJOIN_TIMEOUT_S = 20.0


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Master:
    """The run's Locust master process and its control channel."""

    def __init__(self, plan: Plan, host: str, log: Path, cpus: frozenset[int] | None = None):
        self.plan = plan
        self.folder = Path(tempfile.mkdtemp(prefix="bench-master-"))  # mode 0700
        self.socket = self.folder / "control.sock"
        try:
            self.process = LocustProcess(master_command(plan, host, self.socket), log, cpus=cpus,
                                         stdin=subprocess.DEVNULL)
        except BaseException:  # the master did not start: nothing will stop() it, so its folder goes now
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self.expected: set[str] = set()  # the workers the run started with

    @property
    def pid(self) -> int:
        return self.process.pid

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 10.0) -> Any:
        """One call on the control channel; UserError when the master does not answer (it ended)."""
        try:
            return self._request(method, path, body, timeout)
        except OSError as exc:
            tail = self.process.log.read_text(errors="replace").strip().splitlines()[-2:]
            raise UserError(f"the Locust master stopped answering ({exc}): {' | '.join(tail) or 'no output'}; "
                            f"see {self.process.log}") from exc

    def _request(self, method: str, path: str, body: dict | None, timeout: float) -> Any:
        conn = _UnixHTTPConnection(str(self.socket), timeout)
        try:
            data = None if body is None else json.dumps(body)
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        try:
            return json.loads(text)
        except ValueError:
            return text

    def status(self) -> dict:
        return self.request("GET", "/bench/status")

    def connected(self, status: dict | None = None) -> dict[str, dict]:
        """The workers that can take users now."""
        workers = (status or self.status())["workers"]
        return {k: w for k, w in workers.items() if w["state"] in CONNECTED}

    def wait_for_workers(self, timeout: float) -> dict[str, dict]:
        """Block until plan.workers workers are connected; UserError naming the worker command otherwise."""
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            if self.process.proc.poll() is not None:
                tail = self.process.log.read_text(errors="replace").strip().splitlines()[-3:]
                raise UserError(f"the Locust master ended at start: {' | '.join(tail) or 'no output'}")
            try:
                status = self._request("GET", "/bench/status", None, 5.0)
            except OSError:  # not listening yet
                time.sleep(0.2)
                continue
            ready = self.connected(status)
            if len(ready) >= self.plan.workers:
                self.expected = set(ready)
                return ready
            time.sleep(STATUS_INTERVAL_S)
        seen = len(self.connected(status)) if status else 0
        raise UserError(f"{self.plan.workers} Locust worker(s) did not connect to {self.plan.master_bind}:"
                        f"{self.plan.master_port} within {timeout:g} s ({seen} did); start them on the load "
                        f"machine(s), from a checkout of this suite: {worker_command(self.plan)}")

    def ready_for_trial(self) -> tuple[dict[str, dict], list[str]]:
        """The workers ready for the next trial, after waiting (bounded) for those of the last one to rejoin;
        and the ids of those that did not."""
        deadline = time.monotonic() + REJOIN_TIMEOUT_S
        while True:
            status = self.status()
            ready = {k: w for k, w in status["workers"].items() if w["state"] == "ready"}
            if self.expected <= set(ready) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        gone = sorted(self.expected - set(ready))
        self.expected = set(ready)
        return ready, gone

    def check_cpus(self) -> None:
        cpu_sets.check(cpu_sets.family(self.pid), self.process.cpus, "the Locust master")

    def trial(self, user_classes: list[str], users: int, options: dict) -> MasterTrial:
        return MasterTrial(self, user_classes, users, options)

    def stop(self) -> None:
        """End the master (Locust tells the workers to quit) and remove the control folder.

        Locust sends "quit" only to the workers it knows, and it forgets each one between a test's stop and
        its "ready" again: wait (bounded) for them first, or they would outlive the run."""
        try:
            if self.process.proc.poll() is None and self.expected:
                try:
                    self.ready_for_trial()
                except UserError:
                    pass
            self.process.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class MasterTrial:
    """One test on the run's master; has what bench.load.trial uses of a LocustProcess (pid, wait, stop)."""

    def __init__(self, master: Master, user_classes: list[str], users: int, options: dict):
        self.master = master
        plan = master.plan
        before, self.gone = master.ready_for_trial()
        if len(before) < plan.workers_min:
            raise UserError(f"only {len(before)} of {plan.workers} Locust workers are connected, fewer than "
                            f"--workers-min {plan.workers_min}: the run stops here (finished trials are kept)")
        self.workers = before  # the workers this trial starts with
        self.lost: dict[str, float] = {}  # worker id -> epoch seconds it was seen gone
        self.t0 = time.time()
        out = master.request("POST", "/bench/start", {"user_classes": user_classes, "users": users,
                                                      "spawn_rate": users, "options": options})
        if not isinstance(out, dict) or not out.get("ok"):
            raise UserError(f"the Locust master refused the trial: {out}")
        self.test = out["test"]

    @property
    def pid(self) -> int:
        return self.master.pid

    def check_cpus(self) -> None:
        self.master.check_cpus()

    def _watch(self) -> dict:
        status = self.master.status()
        now = time.time()
        workers = status["workers"]
        for wid in self.workers:
            # Locust drops a worker that quit, and every worker once the test stops (it rejoins later)
            quit = wid not in workers and status["state"] in ("spawning", "running")
            if quit or workers.get(wid, {}).get("state") == "missing":  # or silent for 3 heartbeats
                self.lost.setdefault(wid, now)
        return status

    def wait(self, duration_s: float) -> None:
        """Run for duration_s, stop, and wait (bounded) until the master has written the results."""
        end = self.t0 + duration_s
        started = False
        while time.time() < end:
            status = self._watch()
            started = started or status["state"] in ("spawning", "running")
            if started and status["state"] == "stopped":  # the last worker went missing: Locust stopped it
                break
            time.sleep(min(STATUS_INTERVAL_S, max(0.0, end - time.time())))
        self.master.request("POST", "/bench/stop")
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        while time.monotonic() < deadline:
            status = self._watch()
            if status["finished"] >= self.test:
                self.master.expected -= set(self.lost)
                return
            time.sleep(0.2)
        raise UserError(f"the Locust master did not write the results of trial {self.test} within "
                        f"{FINISH_TIMEOUT_S:g} s; see {self.master.process.log}")

    def faults(self) -> list[str]:
        """One line per worker lost during the trial (its users stopped with it: the load was lower)."""
        n = self.master.plan.workers
        fewer = [f"{len(self.workers)} of {n} Locust workers connected at the start"] * (len(self.workers) < n)
        rejoin = [f"Locust worker {wid} did not rejoin after the previous trial" for wid in self.gone]
        return fewer + rejoin + [f"Locust worker {wid} lost at +{max(at - self.t0, 0.0):.1f}s "
                f"({len(self.workers) - len(self.lost)} of {len(self.workers)} kept the load)"
                for wid, at in sorted(self.lost.items(), key=lambda kv: kv[1])]

    def stop(self) -> None:
        """Interrupted: stop the test (the master itself is stopped by the run)."""
        try:
            self.master.request("POST", "/bench/stop", timeout=5)
        except UserError:
            pass
