"""--app-conf FILE: the application's own Apache lines (a fragment: its <Location> with PythonHandler,
PythonOption, PythonInterpreter, auth handlers; SetEnv ...), included as they are after the suite's lines.

What the suite's instruments rest on stays the suite's: a directive that sets the MPM pool, recycling, the
listening address, the children's user, keep-alive or the logs the suite reads is refused, naming it. The
fragment is then checked by `apache2 -t` with the suite's generated httpd.conf (bench.stack.apache).
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.errors import UserError

# Lower-cased directive -> what the suite sets it with.
SUITE_OWNS = {
    **dict.fromkeys(("maxconnectionsperchild", "maxrequestsperchild"), "--max-connections-per-child"),
    **dict.fromkeys(("startservers", "minspareservers", "maxspareservers", "maxrequestworkers", "maxclients",
                     "serverlimit", "threadsperchild", "threadlimit", "minsparethreads", "maxsparethreads"),
                    "--processes/--threads/--mpm (the fixed pool)"),
    **dict.fromkeys(("keepalive", "keepalivetimeout", "maxkeepaliverequests"), "--keepalive"),
    **dict.fromkeys(("listen", "servername", "serverroot", "pidfile"), "--listen/--port and the state folder"),
    **dict.fromkeys(("user", "group"), "the suite (www-data as root)"),
    **dict.fromkeys(("errorlog", "customlog", "transferlog", "logformat", "loglevel"),
                    "the suite (its access and error logs are what it measures)"),
    "loadmodule": "the suite (it loads the server's modules)",
    # mod_wsgi: the suite's daemon group carries the fixed pool and the recycling (maximum-requests=).
    **dict.fromkeys(("wsgidaemonprocess", "wsgiprocessgroup", "wsgiscriptalias", "wsgipythonhome"),
                    "the suite's daemon group (--processes/--threads, maximum-requests=, --app-venv as python-home=)"),
}
_DIRECTIVE = re.compile(r"\s*<?\s*([A-Za-z][A-Za-z0-9_]*)")


def conflicts(text: str) -> list[tuple[int, str]]:
    """(line number, directive) of each line that sets something the suite owns."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        m = _DIRECTIVE.match(line)
        if m and m.group(1).lower() in SUITE_OWNS:
            found.append((number, m.group(1)))
    return found


def check_file(text: str) -> str:
    """--app-conf, checked: a readable file with no directive the suite owns; its absolute path."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise UserError(f"--app-conf {text!r} is not a file: give the application's Apache lines (a fragment, "
                        "e.g. its <Location> block)")
    try:
        body = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--app-conf {text!r} cannot be read: {exc}") from None
    if '"' in str(path.resolve()):
        raise UserError(f"--app-conf {text!r}: a path with a double quote cannot be included")
    found = conflicts(body)
    if found:
        number, name = found[0]
        raise UserError(f"--app-conf {text} line {number}: {name} is set by {SUITE_OWNS[name.lower()]}; "
                        "remove it from the fragment (allowed: the application's own lines, e.g. <Location>, "
                        "PythonHandler, PythonOption, PythonInterpreter, auth handlers, SetEnv)")
    return str(path.resolve())
