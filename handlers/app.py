"""Server-neutral request handling, shared by the mod_python entry (handler_entry.py) and the WSGI adapter
(wsgi_entry.py): routing, the authentication check, sessions and the X-Bench-* headers.

Every response of a handler carries X-Bench-Pid (the serving Python process: the Apache child under
mod_python or mod_wsgi embedded mode, the daemon process under mod_wsgi daemon mode), X-Bench-Served
(requests this process has served, a module global) and X-Bench-Cold: 1 when it had to build a resource.
A variant that prepares statements adds X-Bench-Prepared: how many it had to prepare on its connection for
this request (0 once the connection has them all). X-Bench-Thread is the serving thread's id (the kernel's
tid, as Apache's %{tid}P): under a threaded server one process serves several requests at once.

Threads share this module: the served counter is counted under a lock, and configure runs once per process
(the first requests of a cold threaded process may arrive together).
"""

import json
import os
import threading
import time
import urllib.parse

import auth
import psycopg2
import resources
import sessions
import workloads

_state = {"served": 0, "leaky": False, "test_sleep": False, "pid": str(os.getpid()), "configured": False}
_lock = threading.Lock()


class Response:
    def __init__(self, status, content_type, body, headers=None):
        self.status = status
        self.content_type = content_type
        self.body = body
        self.headers = headers or []  # [(name, value)] beyond Content-Type and Content-Length


def configured():
    return _state["configured"]


def configure(dsn, pool_size, template_dir, leaky, threads=1, test_sleep=False, test_cpu_us=0, pooler_dsn_file=None):
    """Configure this process once; True for the call that did (it registers the cleanups)."""
    with _lock:
        if _state["configured"]:
            return False
        resources.configure(dsn=dsn, pool_size=pool_size, template_dir=template_dir, threads=threads,
                            pooler_dsn_file=pooler_dsn_file)
        _state["leaky"] = leaky
        _state["test_sleep"] = test_sleep
        _state["test_cpu_us"] = test_cpu_us
        _state["threads"] = threads
        # The module may have been imported before a fork: take the pid in the serving process.
        _state["pid"] = str(os.getpid())
        _state["configured"] = True
        return True


def _count():
    with _lock:
        _state["served"] += 1
        return _state["served"]


def burn_cpu(micros):
    """Tests only (bench.test_cpu_us): spend `micros` of this thread's CPU time in the handler itself, a known
    slowdown that requests per server CPU-second must see (a busy loop in another process would not)."""
    end = time.thread_time() + micros / 1e6
    while time.thread_time() < end:
        pass


def pid():
    return _state["pid"]


def _route(path):
    """(function, variant, kind) for a path; function None for 404. kind: ceiling, workload or session."""
    parts = path.strip("/").split("/")
    if len(parts) == 1:
        return workloads.CEILINGS.get(parts[0]), None, "ceiling"
    if len(parts) == 2 and parts[0] == "session":
        return sessions.SESSIONS.get(parts[1]), parts[1], "session"
    if len(parts) == 2 and parts[0] in resources.VARIANTS:
        func = workloads.DATABASE_WORKLOADS.get(parts[1])
        if func is None and _state["leaky"]:
            func = workloads.DEMONSTRATIONS.get(parts[1])
        if func is None and _state["test_sleep"]:
            func = workloads.TEST_ONLY.get(parts[1])
        return func, parts[0], "workload"
    return None, None, None


def needs_auth(path):
    """Whether path is served behind the authentication phase: /{variant}/auth."""
    parts = path.strip("/").split("/")
    return len(parts) == 2 and parts[0] in resources.VARIANTS and parts[1] in workloads.AUTHENTICATED


def _error(status, text, headers=()):
    return Response(status, "text/plain", text.encode(), [("X-Bench-Pid", pid()), *headers])


def unauthorized():
    return _error(401, "authentication required\n", [("WWW-Authenticate", auth.CHALLENGE)])


def authenticate(path, authorization, log_error):
    """The authentication phase of /{variant}/auth: (user, cold, None) when the credentials are right, else
    (None, cold, a 401 or 503 Response). The password never reaches a log: only the exception type and
    PostgreSQL's message (which never contains a parameter value) are logged."""
    credentials = auth.parse_basic(authorization)
    if credentials is None:
        return None, False, unauthorized()
    variant = path.strip("/").split("/")[0]
    res = resources.for_variant(variant)
    try:
        ok = res.check_credentials(*credentials)
    except psycopg2.Error as exc:
        log_error(f"bench: {path} authentication {type(exc).__name__}: {str(exc).strip()}")
        return None, res.cold, _error(503, "database unavailable\n")
    if not ok:
        return None, res.cold, unauthorized()
    return credentials[0], res.cold, None


def handle(path, query, cookie_header, user, log_error, cold=False):
    """The content phase. user: who the authentication phase let in (None when it did not run). Returns
    None for 404 (the server answers it, without X-Bench headers)."""
    func, variant, kind = _route(path)
    if func is None:
        return None
    if kind == "workload" and needs_auth(path) and user is None:
        return unauthorized()  # the authentication phase did not run: refuse rather than serve unprotected
    served = _count()
    if _state.get("test_cpu_us"):
        burn_cpu(_state["test_cpu_us"])
    headers = []
    try:
        if kind == "session":
            res = resources.for_variant("pooled")
            sid = sessions.session_id(cookie_header)
            if sid is None:
                sid = sessions.new_session_id()
                headers.append(("Set-Cookie", f"{sessions.COOKIE}={sid}; {sessions.COOKIE_ATTRIBUTES}"))
            known, visits = func(sid, res) if variant == "shared" else func(sid)
            headers.append(("X-Bench-Session-Known", "1" if known else "0"))
            content_type = workloads.JSON_TYPE
            body = json.dumps({"pid": int(pid()), "count": visits, "known": known}).encode()
        else:
            res = resources.for_variant(variant or "pooled")
            params = urllib.parse.parse_qs(query or "", keep_blank_values=True)
            content_type, body = func(params, res)
        status = 200
    except psycopg2.Error as exc:
        # Short body to the client, details to the error log; never a traceback.
        log_error(f"bench: {path} {type(exc).__name__}: {str(exc).strip()}")
        return _error(503, "database unavailable\n")
    headers += [("X-Bench-Pid", pid()), ("X-Bench-Served", str(served)),
                ("X-Bench-Thread", str(threading.get_native_id()))]
    if res.cold or cold:
        headers.append(("X-Bench-Cold", "1"))
    if res.prepared_statements:
        headers.append(("X-Bench-Prepared", str(res.prepared)))
    return Response(status, content_type, body, headers)
