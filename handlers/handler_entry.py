"""mod_python entry point: routes /{variant}/{workload} and the ceilings /plaintext and /json.

Configured by the generated httpd.conf with PythonOption bench.dsn, bench.pool_size and
bench.template_dir. Every response carries X-Bench-Pid, X-Bench-Served (requests this process has
served: a module global, exactly the persistence the suite measures) and X-Bench-Cold: 1 when the
request had to build a resource.
"""

import os
import urllib.parse

import psycopg2
import resources
import workloads
from mod_python import apache

_served = 0
_configured = False
_leaky = False  # PythonOption bench.leaky On: serve the memory-leak demonstration
_PID = str(os.getpid())


def _configure(req):
    global _configured, _PID, _leaky
    options = req.get_options()
    _leaky = options.get("bench.leaky", "Off").lower() == "on"
    resources.configure(
        dsn=options.get("bench.dsn", ""),
        pool_size=int(options.get("bench.pool_size", "1")),
        template_dir=options.get("bench.template_dir", ""),
    )
    # Module import may have happened in the parent before fork: take the pid in the child.
    _PID = str(os.getpid())
    # Close pooled connections when this child exits (recycling, SIGTERM); atexit is unreliable here.
    apache.register_cleanup(resources.close_pool)
    _configured = True


def _route(uri):
    """(function, variant) for a path, or None for 404."""
    parts = uri.strip("/").split("/")
    if len(parts) == 1:
        return (workloads.CEILINGS.get(parts[0]), None)
    if len(parts) == 2 and parts[0] in resources.VARIANTS:
        func = workloads.DATABASE_WORKLOADS.get(parts[1])
        if func is None and _leaky:
            func = workloads.DEMONSTRATIONS.get(parts[1])
        return (func, parts[0])
    return (None, None)


def handler(req):
    global _served
    if not _configured:
        _configure(req)
    func, variant = _route(req.uri)
    if func is None:
        return apache.HTTP_NOT_FOUND
    _served += 1
    res = resources.for_variant(variant or "pooled")
    params = urllib.parse.parse_qs(req.args or "", keep_blank_values=True)
    try:
        content_type, body = func(params, res)
        status = apache.HTTP_OK
    except psycopg2.Error as exc:
        # Short body to the client, details to the error log; never a traceback.
        req.log_error(f"bench: {req.uri} {type(exc).__name__}: {str(exc).strip()}", apache.APLOG_ERR)
        content_type, body, status = "text/plain", b"database unavailable\n", apache.HTTP_SERVICE_UNAVAILABLE
    req.status = status
    req.content_type = content_type
    req.headers_out["X-Bench-Pid"] = _PID
    req.headers_out["X-Bench-Served"] = str(_served)
    if res.cold:
        req.headers_out["X-Bench-Cold"] = "1"
    req.set_content_length(len(body))
    req.write(body, 0)
    return apache.OK
