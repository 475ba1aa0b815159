"""A user's own application (`--app DIR --app-handler MODULE[::FUNCTION]` or `--app DIR --app-wsgi FILE`):
its definition, what load it gets (`--paths` or `--locustfile`), and the checks made before anything starts.

The user's code is served as it is: the suite copies DIR into its state folder (so Apache's unprivileged
user can read it, even from a 0700 home) and takes its per-process figures from the access log, never from
headers the application would have to set.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import UserError
from bench.stack import app_variants
from bench.stack.app_variants import AppVariant

EMBEDDED_PYTHON = "/usr/bin/python3"  # Debian's Python: the one mod_python and mod_wsgi embed
CHECK_TIMEOUT_S = 30
# The server each kind of application runs under (entries of bench.stack.servers.SERVERS).
SERVER_OF = {"handler": "mod_python", "wsgi": "mod_wsgi"}
_OPTION_KEY = re.compile(r"[A-Za-z0-9_.:-]+")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_FUNCTION = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
# --app-name: what a run calls the application (its cell's variant, a part of its trial folders' names).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
APP_NAME_HELP = ("what the run calls the application (its cell in results.json, what `bench compare` matches); "
                 "default: the handler's module (--app-handler site.pages -> site.pages) or the WSGI file's name "
                 "without .py/.wsgi (--app-wsgi wsgi.py -> wsgi), the same in every checkout")

# Imports the handler module (or runs the WSGI file) as the embedded interpreter would, outside Apache:
# mod_python's `_apache` exists only inside Apache, so a stand-in answers its names (constants 0, functions
# returning 1, SERVER_RETURN an exception) well enough for `from mod_python import apache` to import.
_CHECK = r"""
import importlib, importlib.machinery, importlib.util, json, sys, types
class _Stub(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "SERVER_RETURN":
            value = type(name, (Exception,), {})
        elif name.isupper():
            value = 0
        else:
            def value(*args, **kwargs):
                return 1
        setattr(self, name, value)
        return value
sys.modules["_apache"] = _Stub("_apache")
kind, app_dir, target, attr, site_dir = sys.argv[1:6]
if site_dir:  # --app-venv: as the server adds it (site.addsitedir: .pth files and editable installs work)
    import site
    site.addsitedir(site_dir)
sys.path.insert(0, app_dir)
try:
    if kind == "handler":
        obj = importlib.import_module(target)
    else:
        loader = importlib.machinery.SourceFileLoader("bench_user_wsgi", target)
        spec = importlib.util.spec_from_loader("bench_user_wsgi", loader)
        obj = importlib.util.module_from_spec(spec)
        loader.exec_module(obj)
    for part in attr.split("."):
        obj = getattr(obj, part, None)
    print(json.dumps({"ok": callable(obj)}))
except BaseException as exc:
    print(json.dumps({"ok": None, "error": f"{type(exc).__name__}: {exc}"[:300]}))
"""


@dataclass(frozen=True)
class App:
    """The user's application as the stack serves it; stored in StackSettings (state.json, results.json)."""

    dir: str                                  # absolute path of --app as given (copied at `prepare`)
    handler: str | None = None                # MODULE[::FUNCTION], as PythonHandler takes it
    wsgi: str | None = None                   # the WSGI file, relative to dir
    options: tuple[tuple[str, str], ...] = ()  # --app-option KEY=VALUE -> PythonOption (SetEnv under mod_wsgi)
    paths: tuple[str, ...] = ()               # --paths: the requests, round-robin
    locustfile: str | None = None             # --locustfile: the user's own User classes (absolute path)
    # --app-name, else default_name(): never the folder's name, so v1/ and v2/ of one application compare.
    name: str = ""
    venv: str | None = None                   # --app-venv: a virtualenv of the embedded Python (absolute)
    conf: str | None = None                   # --app-conf: the application's own Apache lines (absolute)
    mount: str = "/"                          # --mount: where it is served (SCRIPT_NAME); --paths are under it
    data: tuple[str, ...] = ()                # --app-data: folders made writable for the serving user
    variants: tuple[AppVariant, ...] = ()     # --app-variant: each its own cell, daemon group and environment

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", default_name(self.handler, self.wsgi))

    @property
    def kind(self) -> str:
        return "handler" if self.handler else "wsgi"

    @property
    def server(self) -> str:
        return SERVER_OF[self.kind]

    @property
    def module(self) -> str:
        return (self.handler or "").partition("::")[0]

    @property
    def function(self) -> str:
        return (self.handler or "").partition("::")[2] or "handler"

    def to_dict(self) -> dict:
        return {"dir": self.dir, "handler": self.handler, "wsgi": self.wsgi,
                "options": [list(kv) for kv in self.options], "paths": list(self.paths),
                "locustfile": self.locustfile, "name": self.name, "venv": self.venv, "conf": self.conf,
                "mount": self.mount, "data": list(self.data), "variants": [v.to_dict() for v in self.variants]}

    @classmethod
    def from_dict(cls, d: dict) -> App:
        return cls(dir=d["dir"], handler=d.get("handler"), wsgi=d.get("wsgi"),
                   options=tuple(tuple(kv) for kv in d.get("options") or ()),
                   paths=tuple(d.get("paths") or ()), locustfile=d.get("locustfile"), name=d.get("name") or "",
                   venv=d.get("venv"), conf=d.get("conf"), mount=d.get("mount") or "/",
                   data=tuple(d.get("data") or ()),
                   variants=tuple(AppVariant.from_dict(v) for v in d.get("variants") or ()))

    @property
    def cells(self) -> list[str]:
        """The run's variants of the `app` workload: one per --app-variant, else the application's name."""
        return [v.name for v in self.variants] or [self.name]

    def paths_of(self, cell: str | None) -> tuple[str, ...]:
        """The requests of a cell: --paths, under the variant's own mount when it is one of --app-variant."""
        if cell not in {v.name for v in self.variants}:
            return self.paths
        base = self.mount.rstrip("/")
        return tuple(app_variants.mount(self.mount, str(cell)) + p.removeprefix(base) for p in self.paths)

    @property
    def served_paths(self) -> tuple[str, ...]:
        """Every request path the stack serves: each variant's, or --paths."""
        return tuple(p for v in self.cells for p in self.paths_of(v))

    @property
    def site_packages(self) -> str | None:
        """The venv's site-packages, what the server adds with site.addsitedir (None without --app-venv)."""
        return str(Path(self.venv) / site_packages_of(embedded_version())) if self.venv else None

    def check_code(self) -> None:
        """Import the handler module (run the WSGI file) with the embedded interpreter, in a clean environment:
        UserError when it does not import or lacks its callable."""
        if self.kind == "handler":
            target, attr, what = self.module, self.function, f"--app-handler {self.handler!r}"
        else:
            assert self.wsgi is not None  # kind "wsgi": no handler, so a WSGI file (from_args checks one is given)
            target, attr, what = str(Path(self.dir) / self.wsgi), "application", f"--app-wsgi {self.wsgi!r}"
        # mod_wsgi's python-home= isolates the daemons as the venv's own python does (no Debian dist-packages);
        # mod_python's interpreter keeps them and adds the venv's site-packages, as the check then does.
        own = Path(self.venv) / "bin" / "python3" if self.venv else None
        isolated = own is not None and self.kind == "wsgi" and own.exists()
        python, site_dir = (str(own), "") if isolated else (EMBEDDED_PYTHON, self.site_packages or "")
        try:
            done = subprocess.run([python, "-B", "-c", _CHECK, self.kind, self.dir, target, attr, site_dir],
                                  capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, cwd="/",
                                  env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"})
        except subprocess.TimeoutExpired:
            raise UserError(f"{what}: importing it with {EMBEDDED_PYTHON} took over {CHECK_TIMEOUT_S} s") from None
        except FileNotFoundError:
            raise UserError(f"{EMBEDDED_PYTHON} not found: install python3 (the interpreter Apache embeds)") from None
        lines = done.stdout.strip().splitlines()
        result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else \
            {"ok": None, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
        if result["ok"] is None:
            venv = f" and --app-venv {self.venv}" if self.venv else ""
            hint = "" if self.venv or not str(result["error"]).startswith("ModuleNotFoundError") else \
                " (installed in a virtualenv? give it with --app-venv DIR)"
            raise UserError(f"{what} does not import from --app {self.dir}{venv} with {EMBEDDED_PYTHON}: "
                            f"{result['error']}{hint}")
        if not result["ok"]:
            if self.kind == "handler":
                raise UserError(f"{what} has no callable {attr}: give the module a function {attr}(req)")
            raise UserError(f"{what} defines no `application`: a WSGI script must define a callable `application`")


@functools.cache
def embedded_version() -> str:
    """The embedded interpreter's version, e.g. 3.11.2."""
    try:
        out = subprocess.run([EMBEDDED_PYTHON, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, timeout=CHECK_TIMEOUT_S).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    if not re.fullmatch(r"\d+\.\d+\.\d+", out):
        raise UserError(f"{EMBEDDED_PYTHON} does not run: install python3 (the interpreter Apache embeds)")
    return out


def site_packages_of(version: str) -> str:
    """A venv's site-packages, relative to it, for a Python version (3.11.2 -> lib/python3.11/site-packages)."""
    return f"lib/python{'.'.join(version.split('.')[:2])}/site-packages"


def check_venv(text: str) -> str:
    """--app-venv, checked: a virtualenv made from the interpreter Apache embeds, with its site-packages."""
    venv = Path(text).expanduser()
    make = f"make the virtualenv with {EMBEDDED_PYTHON} -m venv"
    if not venv.is_dir():
        raise UserError(f"--app-venv {text!r} is not a directory: give a virtualenv ({make})")
    venv = venv.resolve()
    cfg = venv / "pyvenv.cfg"
    if not cfg.is_file():
        raise UserError(f"--app-venv {text} is not a virtualenv (no pyvenv.cfg): {make}")
    values = dict(line.partition("=")[::2] for line in cfg.read_text(errors="replace").splitlines())
    values = {k.strip(): v.strip() for k, v in values.items()}
    version = values.get("version") or values.get("version_info") or ""
    embedded = embedded_version()
    minor = ".".join(embedded.split(".")[:2])
    if ".".join(version.split(".")[:2]) != minor:
        given = ".".join(version.split(".")[:2]) or "unknown"
        raise UserError(f"--app-venv {text} is Python {given} (pyvenv.cfg version {version or 'missing'}); Apache "
                        f"embeds Python {minor} ({EMBEDDED_PYTHON}): {make}")
    if not (venv / site_packages_of(embedded)).is_dir():
        raise UserError(f"--app-venv {text} has no {site_packages_of(embedded)}: {make}")
    return str(venv)


def parse_mount(text: str) -> str:
    """--mount, checked: / or /a/b (no trailing slash, no spaces or quotes): the application's SCRIPT_NAME."""
    if text == "/":
        return text
    if not re.fullmatch(r"(/[A-Za-z0-9_.~%+-]+)+", text):
        raise UserError(f"--mount {text!r} is not a mount point: give / or a path such as /tracker (letters, "
                        "digits and _.~%+- between slashes, no trailing slash)")
    return text


def default_name(handler: str | None, wsgi: str | None) -> str:
    """The handler's module, or the WSGI file's name without its suffix: what stays the same when the same
    application is run from two checkouts (v1/, v2/), unlike the folder's name."""
    if handler:
        base = handler.partition("::")[0]
    else:
        base = Path(wsgi or "").name
        for suffix in (".py", ".wsgi"):
            base = base.removesuffix(suffix)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.") or "app"


def check_name(text: str) -> str:
    """--app-name, checked: letters, digits and _.- (it becomes part of folder names)."""
    if not _NAME.fullmatch(text):
        raise UserError(f"--app-name {text!r} is not a name: use up to 64 letters, digits and _.- , starting with a "
                        "letter or digit (e.g. guestbook)")
    return text


def parse_paths(text: str) -> tuple[str, ...]:
    paths = tuple(p.strip() for p in text.split(",") if p.strip())
    if not paths:
        raise UserError(f"--paths {text!r} is empty: give one or more request paths, e.g. /,/entries?page=2")
    for p in paths:
        if not p.startswith("/") or any(c.isspace() for c in p):
            raise UserError(f"--paths {text!r}: {p!r} is not a request path: each must start with / and hold no "
                            "spaces (e.g. /entries?page=2)")
    return paths


def parse_option(text: str) -> tuple[str, str]:
    key, eq, value = text.partition("=")
    if not eq or not _OPTION_KEY.fullmatch(key) or "\n" in value or '"' in value:
        raise UserError(f"--app-option {text!r} is not KEY=VALUE: a key of letters, digits and ._:- and a "
                        "value without quotes or newlines")
    return key, value


@dataclass
class AppArgs:
    """The app options as given on the command line."""

    app: str | None = None
    app_handler: str | None = None
    app_wsgi: str | None = None
    app_option: list[str] = field(default_factory=list)
    paths: str | None = None
    locustfile: str | None = None
    app_name: str | None = None
    app_venv: str | None = None
    app_conf: str | None = None
    mount: str | None = None
    app_data: list[str] = field(default_factory=list)
    app_variant: list[str] = field(default_factory=list)


def _deployment(given: AppArgs) -> dict:
    """--app-venv, --app-conf, --mount and --app-data, checked: App's fields."""
    from bench.stack import app_conf, app_data  # below this module: they import nothing of it

    return {"venv": check_venv(given.app_venv) if given.app_venv is not None else None,
            "conf": app_conf.check_file(given.app_conf) if given.app_conf is not None else None,
            "mount": parse_mount(given.mount) if given.mount is not None else "/",
            "data": app_data.check_dirs(given.app_data)}


def _variants(given: AppArgs) -> tuple[AppVariant, ...]:
    """--app-variant, checked: only for a WSGI application (mod_wsgi's daemon groups keep variants in processes
    of their own; mod_python's children serve every Location, so os.environ would be shared) with --paths."""
    if not given.app_variant:
        return ()
    variants = app_variants.parse_all(given.app_variant)
    if given.app_handler is not None:
        raise UserError(f"--app-variant {given.app_variant[0]!r} with --app-handler: variants need mod_wsgi's "
                        "daemon groups (--app-wsgi FILE); mod_python's children serve every variant in one process")
    if given.locustfile is not None:
        raise UserError(f"--app-variant {given.app_variant[0]!r} with --locustfile: variants are served under "
                        "/NAME and need --paths (requested under each variant's mount)")
    return variants


def _wsgi_file(text: str, app_dir: Path) -> str:
    """--app-wsgi, checked: a file inside the application's folder, relative to it."""
    f = Path(text)
    f = f if f.is_absolute() else app_dir / f
    try:
        wsgi = str(f.resolve().relative_to(app_dir))
    except ValueError:
        raise UserError(f"--app-wsgi {text!r} is not inside --app {app_dir}: the WSGI script "
                        "must be in the application's folder") from None
    if not f.is_file():
        raise UserError(f"--app-wsgi {text!r}: no such file in {app_dir}")
    return wsgi


def from_args(given: AppArgs, check_code: bool = True) -> App | None:
    """The App the options describe, every check made (UserError, one line); None without --app."""
    if given.app is None:
        for opt, value in (("--app-handler", given.app_handler), ("--app-wsgi", given.app_wsgi),
                           ("--paths", given.paths), ("--locustfile", given.locustfile),
                           ("--app-name", given.app_name), ("--app-venv", given.app_venv),
                           ("--app-conf", given.app_conf), ("--mount", given.mount)):
            if value is not None:
                raise UserError(f"{opt} {value!r} needs --app DIR (the folder holding the application)")
        if given.app_variant:
            raise UserError(f"--app-variant {given.app_variant[0]!r} needs --app DIR and --app-wsgi FILE")
        if given.app_data:
            raise UserError(f"--app-data {given.app_data[0]!r} needs --app DIR (the folder holding the application)")
        if given.app_option:
            raise UserError(f"--app-option {given.app_option[0]!r} needs --app DIR and --app-handler or --app-wsgi")
        return None
    app_dir = Path(given.app).expanduser()
    if not app_dir.is_dir():
        raise UserError(f"--app {given.app!r} is not a directory: give the folder holding the application")
    app_dir = app_dir.resolve()
    if given.app_handler and given.app_wsgi:
        raise UserError(f"--app-handler {given.app_handler!r} and --app-wsgi {given.app_wsgi!r} together: give one "
                        "(a mod_python handler or a WSGI script)")
    if not given.app_handler and not given.app_wsgi:
        raise UserError(f"--app {given.app}: say what to serve with --app-handler MODULE[::FUNCTION] or "
                        "--app-wsgi FILE")
    wsgi = None
    if given.app_handler is not None:
        module, _, function = given.app_handler.partition("::")
        if not _MODULE.fullmatch(module) or (function and not _FUNCTION.fullmatch(function)):
            raise UserError(f"--app-handler {given.app_handler!r} is not MODULE[::FUNCTION] (e.g. guestbook or "
                            "site.pages::handler)")
    else:
        assert given.app_wsgi is not None  # no handler: the checks above refused a missing --app-wsgi
        wsgi = _wsgi_file(given.app_wsgi, app_dir)
    if given.paths is not None and given.locustfile is not None:
        raise UserError(f"--paths {given.paths!r} and --locustfile {given.locustfile!r} together: give one (the "
                        "requests, or your own User classes)")
    if given.paths is None and given.locustfile is None:
        raise UserError(f"--app {given.app!r} needs its load: --paths /a,/b?x=1 (requests sent round-robin) or "
                        "--locustfile FILE")
    deployment = _deployment(given)
    variants = _variants(given)
    mount = deployment["mount"].rstrip("/")
    paths = tuple(mount + p for p in parse_paths(given.paths)) if given.paths is not None else ()
    locustfile = None
    if given.locustfile is not None:
        lf = Path(given.locustfile).expanduser()
        if not lf.is_file() or lf.suffix != ".py":
            raise UserError(f"--locustfile {given.locustfile!r} is not a .py file: give a locustfile with "
                            "your User classes")
        locustfile = str(lf.resolve())
    app = App(dir=str(app_dir), handler=given.app_handler, wsgi=wsgi,
              options=tuple(parse_option(o) for o in given.app_option), paths=paths, locustfile=locustfile,
              name=check_name(given.app_name) if given.app_name is not None else "", variants=variants,
              **deployment)
    if check_code:
        app.check_code()
    return app
