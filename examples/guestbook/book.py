"""The guestbook itself, shared by its mod_python handler (guestbook.py) and its WSGI entry (wsgi.py).

One page: the newest entries, PAGE_SIZE at a time (?page=N), rendered from templates/page.html.
One query against SQLite (the standard library's): each process loads entries.sql into its own in-memory
database when it starts, so the example needs no database server and no file the web server must write.

And one leak, of a kind real sites have: rendered pages are memoised per process, keyed by the raw `page`
parameter, and nothing ever evicts them. A crawler walking ?page=1,2,3... (or sending page=01, page=1x)
makes every process grow without bound until it is recycled.
"""

import html
import sqlite3
import threading
from pathlib import Path
from string import Template

HERE = Path(__file__).parent
PAGE_SIZE = 5
_TEMPLATE = Template((HERE / "templates" / "page.html").read_text(encoding="utf-8"))
_ROW = Template('<li><p class="message">$message</p><p class="by">$author, $created</p></li>')

_local = threading.local()  # sqlite3 connections belong to one thread
_rendered: dict[str, str] = {}  # THE LEAK: page parameter -> rendered page, never evicted


def _db() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(":memory:")
        conn.executescript((HERE / "entries.sql").read_text(encoding="utf-8"))
        _local.conn = conn
    return conn


def _page_number(raw: str) -> int:
    try:
        return max(1, min(int(raw), 10**6))
    except ValueError:
        return 1


def render(raw_page: str) -> str:
    """The HTML of ?page=<raw_page>: memoised (and leaked) by the raw parameter."""
    cached = _rendered.get(raw_page)
    if cached is not None:
        return cached
    page = _page_number(raw_page)
    rows = _db().execute("SELECT author, message, created FROM entries ORDER BY created DESC, id DESC "
                         "LIMIT ? OFFSET ?", (PAGE_SIZE, (page - 1) * PAGE_SIZE)).fetchall()
    items = "\n".join(_ROW.substitute(author=html.escape(a), message=html.escape(m), created=html.escape(c))
                      for a, m, c in rows) or "<li>No entries on this page.</li>"
    body = _TEMPLATE.substitute(page=page, entries=items, next=page + 1,
                                previous=f'<a href="/?page={page - 1}">newer</a>' if page > 1 else "")
    _rendered[raw_page] = body
    return body
