"""mod_python entry point: routes /{variant}/{workload}, /session/{process,shared} and the ceilings
/plaintext and /json through app.py (shared with the WSGI adapter).

Configured by the generated httpd.conf with PythonOption bench.dsn, bench.pool_size, bench.template_dir and
bench.leaky (parsed by options.py, as for the WSGI adapter). `authenhandler` is the PythonAuthenHandler of
/{variant}/auth (HTTP Basic against bench_user); `handler` is the content handler.
"""

import app
import options
import resources
from mod_python import apache


def _configure(req):
    if app.configure(**options.parse(req.get_options())):
        # Close pooled connections when this child exits (recycling, SIGTERM); atexit is unreliable here.
        apache.register_cleanup(resources.close_pool)


def _logger(req):
    return lambda text: req.log_error(text, apache.APLOG_ERR)


def authenhandler(req):
    if not app.configured():
        _configure(req)
    user, cold, refusal = app.authenticate(req.uri, req.headers_in.get("Authorization"), _logger(req))
    if cold:
        req.notes["bench.cold"] = "1"
    if refusal is not None:
        # err_headers_out: kept on Apache's own error page (the challenge and the pid for the access log).
        for name, value in refusal.headers:
            req.err_headers_out[name] = value
        return refusal.status
    req.user = user
    return apache.OK


def handler(req):
    if not app.configured():
        _configure(req)
    resp = app.handle(req.uri, req.args, req.headers_in.get("Cookie"), req.user, _logger(req),
                      cold=req.notes.get("bench.cold") == "1")
    if resp is None:
        return apache.HTTP_NOT_FOUND
    req.status = resp.status
    req.content_type = resp.content_type
    for name, value in resp.headers:
        req.headers_out.add(name, value)
    req.set_content_length(len(resp.body))
    req.write(resp.body, 0)
    return apache.OK
