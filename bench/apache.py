"""Apache 2.4 + mod_python: the generated httpd.conf, start, graceful restart, stop."""

import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path
from string import Template

import psutil

from bench import paths, procs
from bench.errors import UserError
from bench.knobs import StackSettings

MODULES = Path("/usr/lib/apache2/modules")
TEMPLATE = Path(__file__).with_name("httpd.conf.tmpl")
BINARY = "/usr/sbin/apache2"
EMBEDDED_PYTHON = "/usr/bin/python3"  # Debian's Python, the one libapache2-mod-python links


def check_installed() -> None:
    if not Path(BINARY).exists():
        raise UserError(f"Apache not found ({BINARY}): install the apache2 package")
    if not (MODULES / "mod_python.so").exists():
        raise UserError(f"mod_python not found ({MODULES / 'mod_python.so'}): install libapache2-mod-python")


class Apache:
    def __init__(self, state: Path, settings: StackSettings, dsn: str):
        self.state = state
        self.root = state / "apache"
        self.conf = self.root / "httpd.conf"
        self.access_log = self.root / "access.log"
        self.error_log = self.root / "error.log"
        self.pidfile = self.root / "httpd.pid"
        self.handlers = state / "handlers"
        self.settings = settings
        self.dsn = dsn
        self.user = procs.service_user("www-data")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def render(self) -> str:
        s = self.settings
        user_lines = ""
        if self.user is not None:
            # As root with no User line the children would keep uid 0.
            user_lines = f"User {self.user.pw_name}\nGroup #{self.user.pw_gid}\n"
        return Template(TEMPLATE.read_text()).substitute(
            state=self.state, port=s.port, modules=MODULES, user_lines=user_lines,
            processes=s.processes, max_spare=s.processes + 1,
            max_connections_per_child=s.max_connections_per_child,
            keepalive="On" if s.keepalive else "Off", keepalive_timeout=s.keepalive_timeout,
            max_keepalive_requests=s.max_keepalive_requests, handlers=self.handlers,
            dsn=self.dsn.replace('"', '\\"'), pool_size=s.pool_size,
        )

    def prepare(self) -> None:
        """Copy the handlers where the child user can read them and write httpd.conf."""
        (self.root / "run").mkdir(parents=True, exist_ok=True)
        if self.handlers.exists():
            shutil.rmtree(self.handlers)
        shutil.copytree(paths.HANDLERS, self.handlers, ignore=shutil.ignore_patterns("__pycache__"))
        # Byte-compile with the interpreter mod_python embeds: the children (www-data) cannot write
        # __pycache__ here, and a child compiling its handlers from source would inflate every cold start.
        procs.run([EMBEDDED_PYTHON, "-m", "compileall", "-q", str(self.handlers)], timeout=60)
        for d, _, files in os.walk(self.handlers):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        self.conf.write_text(self.render())
        procs.run([BINARY, "-t", "-f", str(self.conf)], timeout=30)

    def _ctl(self, action: str) -> None:
        procs.run([BINARY, "-f", str(self.conf), "-k", action], timeout=60)

    def start(self) -> None:
        if procs.port_in_use(self.settings.port):
            raise UserError(f"port {self.settings.port} on 127.0.0.1 is in use: choose another with --port")
        self._ctl("start")
        procs.wait_for(self.answers, 30, f"Apache answering on {self.url}")

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def children(self) -> list[int]:
        pid = self.pid()
        if not procs.alive(pid):
            return []
        return [c.pid for c in psutil.Process(pid).children()]

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/plaintext", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def graceful(self) -> None:
        """Graceful restart: new children (cold pools and caches), the parent and its port stay."""
        old = set(self.children())
        pid = self.pid()
        os.kill(pid, signal.SIGUSR1)
        # Wait until the full fixed pool is made of new children and answering.
        procs.wait_for(lambda: len(set(self.children()) - old) >= self.settings.processes and self.answers(),
                       30, "Apache graceful restart")

    def restart(self) -> None:
        """A fresh start: new parent and children. Unlike a graceful restart it carries nothing over: with
        mod_python the parent grows by about 1.3 MB of RSS at every graceful restart, and the children
        inherit it."""
        self.stop()
        self.start()

    def stop(self) -> None:
        pid = self.pid()
        if procs.alive(pid):
            procs.stop_tree(pid)
        for p in procs.processes_mentioning(str(self.conf)):
            procs.stop_tree(p.pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)

    def version(self) -> str:
        out = subprocess.run([BINARY, "-v"], capture_output=True, text=True).stdout
        return out.splitlines()[0].split(":", 1)[1].strip() if out else "unknown"
