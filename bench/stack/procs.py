"""Process and socket helpers: free ports, bounded waits, stopping what we started."""

import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import psutil

from bench.errors import UserError


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll check() until true; raise after timeout seconds naming what we waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise UserError(f"{what} did not happen within {timeout:g} s")


def service_user(name: str) -> pwd.struct_passwd | None:
    """The unprivileged account a server runs as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError as exc:
        raise UserError(f"running as root needs the unprivileged account {name!r}; it does not exist") from exc


SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def clean_env(user: pwd.struct_passwd | None = None) -> dict[str, str]:
    """The whole environment of a server we start: explicit, nothing inherited from the caller.

    An activated virtual environment (PATH, VIRTUAL_ENV, PYTHONHOME, PYTHONPATH) would otherwise reach
    Apache, whose embedded Python takes its prefix from the first python3 on PATH: the children then load
    the venv's packages (psycopg2-binary instead of Debian's psycopg2) or cannot even import `encodings`.
    PG* variables would silently redirect our own psql/pg_ctl calls.
    """
    home = user.pw_dir if user is not None else "/"
    return {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", "HOME": home}


def run(cmd: list[str], user: pwd.struct_passwd | None = None, timeout: float = 60,
        cpus: frozenset[int] | None = None, **kw: Any) -> str:
    """Run a command (as `user` when given, on `cpus` when given) in a clean environment (unless env= is
    passed); raise UserError with its output on failure."""
    extra: dict[str, Any] = {}
    if user is not None:
        extra = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    if cpus:
        # Set before exec: the daemon's parent and every child it forks inherit it.
        extra["preexec_fn"] = lambda: os.sched_setaffinity(0, cpus)
    kw.setdefault("env", clean_env(user))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **extra, **kw)
    except FileNotFoundError as exc:
        raise UserError(f"{cmd[0]} not found: is the package installed? ({exc})") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise UserError(f"{' '.join(cmd[:2])} failed (exit {done.returncode}): {' | '.join(tail)}")
    return done.stdout


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_tree(pid: int, sig: int = signal.SIGTERM, timeout: float = 15, child_grace: float | None = None) -> None:
    """Signal a process, wait for it and its children to go; SIGKILL whatever remains. With child_grace,
    the children still there after that many seconds are killed first, so that the parent can finish its
    own shutdown (and release what it holds) instead of being killed with them."""
    try:
        proc = psutil.Process(pid)
        family = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    try:
        proc.send_signal(sig)
    except psutil.NoSuchProcess:
        pass
    if child_grace is not None:
        for p in wait_gone(family, child_grace):
            if p.pid != pid:
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
    left = wait_gone(family, timeout)
    for p in left:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    wait_gone(left, 5)


def wait_gone(family: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited; returns those still running after `timeout` seconds.

    An exited process counts as gone while it is a zombie: a daemon (Apache, pg_ctl's postgres) is not our
    child, so init reaps it, whenever it gets to it (a second or more in some containers, while psutil's
    own wait_procs waits for the reaping). A zombie holds no socket, file or memory any more."""
    deadline = time.monotonic() + timeout
    left = list(family)
    while True:
        left = [p for p in left if _running(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.01)


def _running(p: psutil.Process) -> bool:
    try:
        if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
            return True
    except psutil.NoSuchProcess:
        return False
    try:  # our own child: reap it (nothing else will)
        os.waitpid(p.pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return False


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Processes whose command line contains text (our config path or data folder).

    Never this process or its ancestors: the command that cleans up (a test, `bench down` from a shell
    whose command line names the state folder) must not kill itself.
    """
    me = psutil.Process()
    spared = {me.pid, *(a.pid for a in me.parents())}
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if p.info["pid"] in spared:
                continue
            if any(text in part for part in (p.info["cmdline"] or [])):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found
