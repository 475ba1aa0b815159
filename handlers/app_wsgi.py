"""The suite's thin wrapper around a user's WSGI application (bench --app DIR --app-wsgi FILE), under mod_wsgi.

It loads the user's script once per process (as mod_wsgi would: lazily, at the first request), calls its
`application` unchanged and adds one response header, X-Bench-Pid: the pid of the process that ran it.
Under daemon mode that is the daemon, which the access log cannot name by itself (%P is the relaying
prefork child); the access log records the header. Nothing else in the request or response is touched.
The script's path comes from httpd.conf (SetEnv bench.app_wsgi).

With --app-variant each variant runs in its own daemon group, and its KEY=VALUEs arrive as SetEnv bench.env.KEY
on its mount: they are copied into os.environ before the script is imported, where settings such as
DJANGO_SETTINGS_MODULE are read (SetEnv alone reaches only the request's environ, never os.environ).
"""

import importlib.machinery
import importlib.util
import os
import threading

_lock = threading.Lock()
_user_app = None
_ENV_PREFIX = "bench.env."  # bench.stack.app_variants.ENV_PREFIX


def _load(path):
    loader = importlib.machinery.SourceFileLoader("bench_user_wsgi", path)
    spec = importlib.util.spec_from_loader("bench_user_wsgi", loader)
    module = importlib.util.module_from_spec(spec)
    module.__file__ = path
    loader.exec_module(module)
    return module.application


def application(environ, start_response):
    global _user_app
    if _user_app is None:
        with _lock:
            if _user_app is None:
                for key, value in environ.items():
                    if key.startswith(_ENV_PREFIX):
                        os.environ[key[len(_ENV_PREFIX):]] = value
                _user_app = _load(environ["bench.app_wsgi"])
    pid = ("X-Bench-Pid", str(os.getpid()))

    def start(status, headers, exc_info=None):
        return start_response(status, [*headers, pid], exc_info) if exc_info else \
            start_response(status, [*headers, pid])

    return _user_app(environ, start)
