"""The guestbook as a WSGI application (bench: --app-wsgi wsgi.py), for mod_wsgi or any WSGI server."""

from urllib.parse import parse_qs

import book


def application(environ, start_response):
    if environ.get("PATH_INFO", "/") != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    page = parse_qs(environ.get("QUERY_STRING", "")).get("page", ["1"])[0]
    body = book.render(page).encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]
