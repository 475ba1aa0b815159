"""The guestbook under mod_python: `PythonHandler guestbook` (bench: --app-handler guestbook)."""

from urllib.parse import parse_qs

import book
from mod_python import apache


def handler(req):
    if req.uri != "/":
        return apache.HTTP_NOT_FOUND
    page = parse_qs(req.args or "").get("page", ["1"])[0]
    body = book.render(page).encode("utf-8")
    req.content_type = "text/html; charset=utf-8"
    req.set_content_length(len(body))
    req.write(body)
    return apache.OK
