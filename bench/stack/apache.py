"""Apache 2.4 + one of bench.stack.servers (mod_python, mod_wsgi): the generated httpd.conf, start, graceful
restart, stop. What differs between the servers is in bench.stack.servers, not here."""

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from string import Template

import psutil

from bench import paths
from bench.errors import UserError
from bench.stack import cpus, mpm, procs, secrets
from bench.stack.knobs import StackSettings
from bench.stack.servers import DEFAULT_SERVER, SERVERS

MODULES = Path("/usr/lib/apache2/modules")
TEMPLATE = Path(__file__).with_name("httpd.conf.tmpl")
BINARY = "/usr/sbin/apache2"
EMBEDDED_PYTHON = "/usr/bin/python3"  # Debian's Python, the one libapache2-mod-python links
START_TIMEOUT_S = 30
# Error-log lines that mean the parent or a child cannot serve: stop waiting, show them.
FATAL = re.compile(r"Fatal Python error|Traceback|ImportError|ModuleNotFoundError|No module named|exit signal|"
                   r"Configuration Failed|python_init|AH00016|AH00020")


def check_installed(server: str = DEFAULT_SERVER) -> None:
    if not Path(BINARY).exists():
        raise UserError(f"Apache not found ({BINARY}): install the apache2 package")
    for name in (*SERVERS[server].needs, server):
        s = SERVERS[name]
        if not (MODULES / s.module_file).exists():
            raise UserError(f"{name} not found ({MODULES / s.module_file}): install {s.package}")


def threading_values(s: StackSettings) -> dict:
    """The server templates' ${threads} (requests one Python process serves at once) and ${pool_size}, the
    pool a process needs: at least one connection per thread."""
    return {"threads": mpm.python_threads(s), "pool_size": s.pool_per_process,
            "test_sleep": "On" if s.test_sleep else "Off", "python_preload": SERVERS[s.server].preload(s),
            "test_cpu_us": str(s.test_cpu_us)}


CHILD_GRACE_S = 2.0  # an idle child exits on SIGTERM in milliseconds


class Apache:
    def __init__(self, state: Path, settings: StackSettings, dsn: str):
        self.state = state
        self.root = state / "apache"
        self.conf = self.root / "httpd.conf"
        self.access_log = self.root / "access.log"
        self.error_log = self.root / "error.log"
        self.pidfile = self.root / "httpd.pid"
        self.handlers = state / "handlers"
        self.app_dir = state / "app"  # the copy of the user's --app folder, readable by the children's user
        # The handlers' secret: a libpq passfile only the Apache user can read (never inline in httpd.conf).
        self.passfile = self.root / "handler.pgpass"
        self.settings = settings
        self.dsn = dsn  # what the handlers connect with; may carry a password, never written anywhere as is
        self.user = procs.service_user("www-data")
        self.cpus = cpus.parse_cpus(settings.server_cpus, "--server-cpus") if settings.server_cpus else None

    @property
    def url(self) -> str:
        return f"http://{self.settings.listen}:{self.settings.port}"

    def render(self) -> str:
        s = self.settings
        user_lines = ""
        if self.user is not None:
            # As root with no User line the children would keep uid 0.
            user_lines = f"User {self.user.pw_name}\nGroup #{self.user.pw_gid}\n"
        server = SERVERS[s.server]
        python_dir = self.app_dir if s.app else self.handlers  # what goes on the Python path
        values = dict(state=self.state, port=s.port, modules=MODULES, handlers=self.handlers, server=s.server,
                      dsn=self.handler_dsn().replace('"', '\\"'), pool_size=s.pool_size,
                      leaky="On" if s.leaky else "Off", entry_point=server.entry_point,
                      entry_module=Path(server.entry_point).stem,
                      server_lines=server.conf_lines(s, python_dir, self.user),
                      app_dir=self.app_dir, app_handler=s.app.handler if s.app else "",
                      app_wsgi=(s.app.wsgi or "") if s.app else "", app_lines=server.app_lines(s),
                      **server.app_values(s, self.app_dir, self.handlers))
        values |= threading_values(s)
        template = server.app_template if s.app else server.template
        server_block = Template(template.read_text()).substitute(values)
        return Template(TEMPLATE.read_text()).substitute(
            server_block=server_block, user_lines=user_lines, listen=s.listen, **values,
            pid_field=server.app_pid_field if s.app else "%{X-Bench-Pid}o",
            processes=s.processes, max_spare=s.processes + 1,
            max_connections_per_child=server.max_connections_per_child(s),
            keepalive="On" if s.keepalive else "Off", keepalive_timeout=s.keepalive_timeout,
            max_keepalive_requests=s.max_keepalive_requests, **mpm.lines(s, str(MODULES)),
        )

    def handler_dsn(self) -> str:
        """The DSN written into httpd.conf: no password; passfile= names the Apache user's 0600 copy when the
        connection needs a password (from the DSN, PGPASSWORD, or the passfile/.pgpass libpq would read)."""
        if secrets.find_password(self.dsn) is None:
            return secrets.without_password(self.dsn)
        return secrets.without_password(self.dsn, self.passfile)

    def write_passfile(self) -> None:
        password = secrets.find_password(self.dsn)
        self.passfile.unlink(missing_ok=True)
        if password is not None:
            owner = (self.user.pw_uid, self.user.pw_gid) if self.user is not None else None
            secrets.write_private(self.passfile, secrets.passfile_line(password), owner)

    def prepare(self) -> None:
        """Copy the handlers (and the user's --app folder) where the child user can read them and write
        httpd.conf."""
        (self.root / "run").mkdir(parents=True, exist_ok=True)
        self._copy_code(paths.HANDLERS, self.handlers)
        if self.settings.app is not None:
            # A copy, not the user's folder: a checkout under a 0700 home is unreadable to www-data.
            self._copy_code(Path(self.settings.app.dir), self.app_dir, strict=False)
        self.write_passfile()
        self.conf.write_text(self.render())
        procs.run([BINARY, "-t", "-f", str(self.conf)], timeout=30)

    def check_conf(self) -> None:
        """Before anything starts: the generated httpd.conf with --app-conf's fragment, checked by `apache2 -t`;
        UserError naming the fragment with Apache's first error line."""
        (self.root / "run").mkdir(parents=True, exist_ok=True)
        check = self.root / "httpd.check.conf"
        check.write_text(self.render())
        try:
            done = subprocess.run([BINARY, "-t", "-f", str(check)], capture_output=True, text=True, timeout=30,
                                  env=procs.clean_env(None))
        finally:
            check.unlink(missing_ok=True)
        if done.returncode != 0:
            lines = [ln.strip() for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
            lines = [ln for ln in lines if "Syntax OK" not in ln] or ["no message"]
            # "AH00526: Syntax error on line 2 of FILE:" says where; the next line says what.
            first = " ".join(lines[:2]) if lines[0].endswith(":") else lines[0]
            raise UserError(f"--app-conf {self.settings.app.conf if self.settings.app else ''}: apache2 -t refuses "
                            f"it: {first}")

    @staticmethod
    def _copy_code(source: Path, dest: Path, strict: bool = True) -> None:
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", ".git", ".venv", "*.pyc"))
        # Byte-compile with the interpreter mod_python embeds: the children (www-data) cannot write
        # __pycache__ here, and a child compiling its handlers from source would inflate every cold start.
        try:
            procs.run([EMBEDDED_PYTHON, "-m", "compileall", "-q", str(dest)], timeout=60)
        except UserError:
            if strict:
                raise  # a user's file that does not compile fails at its request instead, and is reported
        for d, _, files in os.walk(dest):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)

    def _ctl(self, action: str) -> None:
        # A clean environment (procs.clean_env) and the server CPUs, set before Apache forks anything.
        procs.run([BINARY, "-f", str(self.conf), "-k", action], timeout=60, cpus=self.cpus)

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start and wait until it answers; stop at the first sign that the parent or a child cannot serve
        (parent gone, a fatal error-log line, an HTTP 5xx) with the error log's first relevant lines."""
        if procs.port_in_use(self.settings.port):
            raise UserError(f"port {self.settings.port} on 127.0.0.1 is in use: choose another with --port")
        offset = self.error_log.stat().st_size if self.error_log.exists() else 0
        self._ctl("start")
        deadline = time.monotonic() + timeout
        while True:
            status = self.probe()
            if status == 200:
                break
            problem = None
            if not procs.alive(self.pid()) and not procs.processes_mentioning(str(self.conf)):
                problem = "Apache exited during start"
            elif self.fatal_lines(offset) or (status is not None and status >= 500):
                problem = f"Apache started but cannot serve (HTTP {status})" if status else \
                    "Apache started but its children fail"
            elif time.monotonic() > deadline:
                problem = f"Apache did not answer on {self.url} within {timeout:g} s"
            if problem:
                time.sleep(0.3)  # let the failing child finish its log lines
                lines = self.fatal_lines(offset) or self.log_tail(offset)
                self.stop()
                raise UserError(f"{problem}; {self.error_log}: {' | '.join(lines) or 'nothing logged'}")
            time.sleep(0.1)
        cpus.check(self.processes(), self.cpus, "Apache processes")

    def fatal_lines(self, offset: int = 0, limit: int = 3) -> list[str]:
        return [line for line in self.log_tail(offset, 200) if FATAL.search(line)][:limit]

    def log_tail(self, offset: int = 0, limit: int = 3) -> list[str]:
        try:
            with open(self.error_log, errors="replace") as f:
                f.seek(offset)
                lines = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
        except OSError:
            return []
        return lines[:limit]

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def children(self) -> list[int]:
        pid = self.pid()
        if not procs.alive(pid):
            return []
        try:
            return [c.pid for c in psutil.Process(pid).children()]
        except psutil.NoSuchProcess:
            return []

    def orphans(self) -> list[int]:
        """Processes running our httpd.conf that are not the live parent's children: after a `kill -9` of the
        parent its children keep serving on the port until they are killed."""
        parent = self.pid() if procs.alive(self.pid()) else None
        keep = {parent, *self.children()} if parent else set()
        return sorted(p.pid for p in procs.processes_mentioning(str(self.conf)) if p.pid not in keep)

    def processes(self) -> list[int]:
        """The parent and every child."""
        return cpus.family(self.pid()) if procs.alive(self.pid()) else []

    @property
    def probe_path(self) -> str:
        """What `start` waits for: /plaintext of the handlers; for a user's application Apache's own
        /server-status, so an application that fails or hangs is measured and reported, not a failed start."""
        return "/server-status" if self.settings.app else "/plaintext"

    def probe(self) -> int | None:
        """HTTP status of the probe path, None when nothing answers."""
        try:
            with urllib.request.urlopen(self.url + self.probe_path, timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def answers(self) -> bool:
        return self.probe() == 200

    def graceful(self) -> None:
        """Graceful restart: new children (cold pools and caches), the parent and its port stay."""
        old = set(self.children())
        pid = self.pid()
        if pid is None:
            raise UserError(f"Apache is not running (no {self.pidfile}): nothing to restart gracefully")
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
        if pid is not None and procs.alive(pid):
            # A mod_python child that was running Python when the stop reached it can hang in its exit path
            # (a lock taken inside the signal handler: seen here on the child that served the start probe);
            # the parent re-signals it for 10 s before its own SIGKILL. Kill such a child after CHILD_GRACE_S.
            procs.stop_tree(pid, child_grace=CHILD_GRACE_S)
        for p in procs.processes_mentioning(str(self.conf)):
            procs.stop_tree(p.pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)

    def version(self) -> str:
        out = subprocess.run([BINARY, "-v"], capture_output=True, text=True).stdout
        return out.splitlines()[0].split(":", 1)[1].strip() if out else "unknown"
