"""WSGI adapter (mod_wsgi): the same workloads, resource strategies and headers as the mod_python entry,
through app.py.

Configured by the generated httpd.conf with SetEnv bench.dsn, bench.pool_size, bench.template_dir and
bench.leaky (mod_wsgi passes them in environ; parsed by options.py, as for mod_python). The authentication
phase of /{variant}/auth runs here, in the process that serves the request, before the content: mod_wsgi's
own WSGIAuthUserScript would run it in the Apache children instead of the daemon processes, so its cache and
pool would be other processes' than the content's (and the connection budget would double). Apache only
forwards the Authorization header to the application with WSGIPassAuthorization On.
"""

import atexit
import sys

import app
import options
import resources

_REASONS = {200: "200 OK", 401: "401 Unauthorized", 404: "404 Not Found", 503: "503 Service Unavailable"}


def _configure(environ):
    if app.configure(**options.parse(environ)):
        # mod_wsgi runs atexit handlers when a daemon (or embedded child) shuts down.
        atexit.register(resources.close_pool)


def _log_error(text):
    # wsgi.errors is per request; stderr reaches Apache's error log from daemon processes too.
    print(text, file=sys.stderr, flush=True)


def application(environ, start_response):
    if not app.configured():
        _configure(environ)
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    user, cold = None, False
    resp = None
    if app.needs_auth(path):
        user, cold, resp = app.authenticate(path, environ.get("HTTP_AUTHORIZATION"), _log_error)
    if resp is None:
        resp = app.handle(path, environ.get("QUERY_STRING"), environ.get("HTTP_COOKIE"), user, _log_error,
                          cold=cold)
    if resp is None:
        body = b"not found\n"
        start_response(_REASONS[404], [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    headers = [("Content-Type", resp.content_type), ("Content-Length", str(len(resp.body))), *resp.headers]
    start_response(_REASONS.get(resp.status, f"{resp.status} Status"), headers)
    return [resp.body]
