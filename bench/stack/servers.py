"""The Apache modules the suite serves its handlers with, as data: one `Server` per `--server` value.

A server names its module file and the Debian package that installs it, the httpd.conf block it adds
(server_<name>.conf.tmpl), the handler entry point Apache calls, the conf lines that depend on its mode,
which process its handlers' X-Bench-Pid names (what the access log counts as "serving"), and what the
recycling knob is called there and what it counts. bench.stack.apache renders from it, bench.stack.knobs and the CLI
take their choices from it. Adding a server is one entry in SERVERS (plus its template and its tests).

A user's own application (bench.stack.app, `--app`) is served by the server of its kind through that server's app
template (server_<name>_app.conf.tmpl): `app_lines` writes its options, `app_pid_field` is what the access
log records as the serving process when the application itself sets no header.

Below bench.stack.knobs: a server reads the settings through `Served` (StackSettings is one) and the MPMs
from bench.stack.mpm; knobs validates the settings against both.
"""

import grp
import pwd
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from bench.errors import UserError
from bench.stack import app_variants
from bench.stack.app import App
from bench.stack.mpm import MPMS, THREADED, Shape

HERE = Path(__file__).parent


class Served(Shape, Protocol):
    """What a server's conf lines read of the stack settings, beyond the MPM's `Shape`."""

    max_connections_per_child: int
    app: App | None


class ShapedDataclass(Shape, Protocol):
    """Settings a `Deployment` copies with its shape (dataclasses.replace): a dataclass with a `Shape`."""

    __dataclass_fields__: ClassVar[dict[str, Any]]


ShapeT = TypeVar("ShapeT", bound=ShapedDataclass)


@dataclass(frozen=True)
class Recycling:
    """How a server replaces its Python processes: the directive that sets it and what it counts."""

    directive: str  # what bench's --max-connections-per-child writes
    counts: str     # "connections" or "requests"


PREFORK_RECYCLING = Recycling("MaxConnectionsPerChild", "connections")


@dataclass(frozen=True)
class Server:
    name: str                      # --server NAME; results.json's server_module
    module_file: str               # in /usr/lib/apache2/modules
    package: str                   # the Debian package that installs it
    entry_point: str               # the file under handlers/ Apache calls
    needs: tuple[str, ...] = ()    # other servers whose module it needs installed too
    modes: tuple[str, ...] = ()    # --wsgi-mode values (empty: one way to run)
    # The access log's serving-process field for a user's application: %P, the child that ran the handler.
    app_pid_field: str = "%P"
    app_option_directive: str = "PythonOption"  # how an --app-option reaches the application

    @property
    def template(self) -> Path:
        return HERE / f"server_{self.name}.conf.tmpl"

    @property
    def app_template(self) -> Path:
        return HERE / f"server_{self.name}_app.conf.tmpl"

    def conf_lines(self, settings: Served, handlers: Path, user: pwd.struct_passwd | None) -> str:
        """The lines of its block that depend on the settings (${server_lines} in its template); `handlers`
        is the folder on the Python path (the user's copied --app folder when serving an application)."""
        return ""

    def app_lines(self, settings: Served) -> str:
        """The user's --app-option KEY=VALUE lines (${app_lines} in its app template)."""
        app = settings.app
        return "\n".join(f'{self.app_option_directive} {k} "{v}"' for k, v in (app.options if app else ()))

    def app_values(self, settings: Served, app_dir: Path, handlers: Path) -> dict[str, str]:
        """${python_path}, ${mount} and ${app_conf} of the app templates: PythonPath's expression (with
        --app-venv, site.addsitedir of its site-packages first: it runs in the handler's interpreter before the
        handler is imported), the mount point, the Include of --app-conf; ${app_alias}: mod_wsgi's mount of the
        suite's wrapper (`handlers` holds it), one per --app-variant."""
        app = settings.app
        path = f"['{app_dir}'] + sys.path"
        if app is not None and app.site_packages:
            path = f"__import__('site').addsitedir('{app.site_packages}') or {path}"
        mount = app.mount if app else "/"
        # mod_wsgi's mount: the one application, or each --app-variant on its own daemon group (app_variants).
        script = f"{handlers}/app_wsgi.py"
        alias = app_variants.location_lines(mount, app.variants, script) if app is not None and app.variants \
            else f'WSGIScriptAlias {mount} "{script}"'
        return {"python_path": path, "mount": mount, "app_alias": alias,
                "app_conf": f'# --app-conf, as given:\nInclude "{app.conf}"' if app and app.conf else ""}

    def max_connections_per_child(self, settings: Served) -> int:
        """MaxConnectionsPerChild of the prefork children: the recycling knob, where they run the Python."""
        return settings.max_connections_per_child

    def preload(self, settings: Served) -> str:
        """mod_python under worker/event: import the handlers at child start, before its threads take requests.
        Measured: a cold child's first concurrent requests each import handler_entry, and one thread sees
        psycopg2 half-initialised by another ("ImportError: cannot import name 'encodings' from '_psycopg'", HTTP
        500 until the child exits). PythonImport runs in the child's init, one thread, in the interpreter the
        requests use (named after ServerName, 127.0.0.1). Prefork keeps importing on the first request (its cold
        start is part of what bench tune measures)."""
        if settings.mpm not in THREADED:
            return ""
        return ("# Import the handlers at child start, before its threads take requests (bench.stack.servers).\n"
                f"PythonImport {Path(self.entry_point).stem} 127.0.0.1")

    def serving_process(self, mode: str | None = None) -> str:
        """What the handlers' X-Bench-Pid names: the process that runs the Python."""
        return "the prefork child"

    def recycling(self, mode: str | None = None) -> Recycling:
        return PREFORK_RECYCLING


@dataclass(frozen=True)
class ModWsgi(Server):
    """mod_wsgi: daemon mode (WSGIDaemonProcess: N single-threaded daemons run the Python, the prefork children
    only relay to them over Unix sockets) or embedded mode (the children run it, as under mod_python)."""

    def conf_lines(self, settings: Served, handlers: Path, user: pwd.struct_passwd | None) -> str:
        venv = settings.app.venv if settings.app else None
        if settings.wsgi_mode == "embedded":
            home = f'WSGIPythonHome "{venv}"\n' if venv else ""
            return f'{home}WSGIPythonPath "{handlers}"'
        owner = ""
        if user is not None:  # as root: never uid 0 (mod_wsgi defaults to the Apache User anyway)
            owner = f" user={user.pw_name} group={grp.getgrgid(user.pw_gid).gr_name}"
        # maximum-requests counts requests (MaxConnectionsPerChild, for the relaying children, connections).
        n = settings.max_connections_per_child
        recycle = f" maximum-requests={n}" if n else ""
        home = f' python-home="{venv}"' if venv else ""  # --app-venv: mod_wsgi's documented way
        groups = [v.group for v in settings.app.variants] if settings.app else []
        # --app-variant: one group per variant, the same shape each, chosen by its mount (app_variants).
        daemons = "\n".join(f'WSGIDaemonProcess {group} processes={settings.processes} threads={settings.threads}'
                             f'{owner}{recycle} python-path="{handlers}"{home}' for group in groups or ["bench"])
        return (daemons + ("" if groups else "\nWSGIProcessGroup bench") + "\n"
                "# No Python in the relaying children: only the daemons run it.\n"
                "WSGIRestrictEmbedded On")

    def serving_process(self, mode: str | None = None) -> str:
        return "the prefork child" if mode == "embedded" else "the daemon process"

    def preload(self, settings: Served) -> str:
        return ""  # mod_wsgi imports the script in each process as it needs it

    def max_connections_per_child(self, settings: Served) -> int:
        # Daemon mode: the knob is the daemons' maximum-requests; recycling the relaying children as well
        # would add prefork's respawn gaps that have nothing to do with the Python processes.
        return settings.max_connections_per_child if settings.wsgi_mode == "embedded" else 0

    def recycling(self, mode: str | None = None) -> Recycling:
        return PREFORK_RECYCLING if mode == "embedded" else \
            Recycling("WSGIDaemonProcess maximum-requests", "requests")


# --server NAME -> its facts; the first is the default.
SERVERS: dict[str, Server] = {s.name: s for s in (
    Server("mod_python", "mod_python.so", "libapache2-mod-python", "handler_entry.py"),
    # The WSGI adapter still uses mod_python's PSP parser (mod_python._psp), so it needs mod_python too.
    # A user's WSGI application gets the daemon's pid from the suite's wrapper (handlers/app_wsgi.py):
    # under daemon mode %P would name the relaying child.
    ModWsgi("mod_wsgi", "mod_wsgi.so", "libapache2-mod-wsgi-py3", "wsgi_entry.py", needs=("mod_python",),
            modes=("daemon", "embedded"), app_pid_field="%{X-Bench-Pid}o", app_option_directive="SetEnv"),
)}
DEFAULT_SERVER = next(iter(SERVERS))


@dataclass(frozen=True)
class Deployment:
    """One entry of `bench run --servers`: a server, and optionally the MPM and processes x threads it runs
    with ("mod_python:worker:1x4"), so one interleaved run can compare deployment shapes at the same slots.
    What it leaves out comes from the run's own settings (--mpm, --processes, --threads)."""

    label: str                     # as results.json keys the cells: the entry, normalised
    server: str
    mpm: str | None = None
    processes: int | None = None
    threads: int | None = None

    def apply(self, settings: ShapeT) -> ShapeT:
        shape = {k: v for k, v in (("mpm", self.mpm), ("processes", self.processes), ("threads", self.threads))
                 if v is not None}
        return replace(settings, server=self.server, **shape)


def parse_deployment(text: str) -> Deployment:
    """`SERVER[:MPM][:PxT]` -> a Deployment; UserError (one line) naming the bad part and what is allowed."""
    allowed = f"SERVER[:MPM][:PROCESSESxTHREADS] with SERVER {' or '.join(SERVERS)}, MPM {' or '.join(MPMS)}"
    name, *rest = [part.strip() for part in text.strip().split(":")]
    if name not in SERVERS:
        raise UserError(f"--servers: unknown {name!r}; allowed {', '.join(SERVERS)} (an entry is "
                        "SERVER[:MPM][:PROCESSESxTHREADS], e.g. mod_python:worker:1x4)")
    mpm = processes = threads = None
    for part in rest:
        p, x, t = part.partition("x")
        if part in MPMS and mpm is None:
            mpm = part
        elif x and p.isdigit() and t.isdigit() and processes is None and int(p) > 0 and int(t) > 0:
            processes, threads = int(p), int(t)
        else:
            raise UserError(f"--servers entry {text!r}: {part!r} is not valid: {allowed} (e.g. mod_python:worker:1x4)")
    label = ":".join([name, *([mpm] if mpm else []), *([f"{processes}x{threads}"] if processes else [])])
    return Deployment(label, name, mpm, processes, threads)
