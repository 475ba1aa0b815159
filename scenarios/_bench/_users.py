"""The User classes' shared code: one FastHttpUser per workload x variant, plus the two ceilings.

Each class runs a single task: GET its endpoint and check the response (status 200, the expected
content type, and a cheap look at the body). A failed check marks the request as a failure with a short
reason; connection errors are left to Locust, which reports the exception itself.

Tasks are built per class (not inherited) because Locust tags live on the task function: `NaiveDb`'s
task is tagged `db` and `naive`, `PooledDb`'s `db` and `pooled`, the ceilings `plaintext`/`json` and
`ceiling`.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from collections.abc import Callable
from typing import Any

from locust import FastHttpUser, constant, tag

from ._open import active as open_schedule
from ._options import bench_options
from ._vocabulary import (
    AUTH_PASSWORD,
    AUTH_USER,
    AUTHENTICATED,
    CEILING_TAG,
    CEILINGS,
    DEMONSTRATIONS,
    SESSION_TAG,
    SESSIONS,
    VARIANTS,
    WORKLOADS,
    class_name,
    session_class_name,
)

MAX_QUERIES = 500  # TechEmpower rule: N is clamped to 1..500

# A check returns None when the response is fine, else a short reason for Locust's failure table.
Check = Callable[[Any, int], "str | None"]


def expected_rows(queries: int) -> int:
    """How many rows a TechEmpower server returns for ?queries=N."""
    return min(MAX_QUERIES, max(1, queries))


@functools.lru_cache(maxsize=64)
def _media_type_of(value: str) -> str:
    # a handler sends the same few Content-Type values: parsed once each, not once per response
    return value.split(";", 1)[0].strip().lower()


def _media_type(response: Any) -> str:
    # `is None`, not `or {}`: geventhttpclient's Headers.__len__ counts every field line (~6 us a response)
    headers = response.headers
    return _media_type_of((headers.get("Content-Type") if headers is not None else None) or "")


def _status_and_type(response: Any, media_type: str) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    got = _media_type(response)
    if got != media_type:
        return f"content-type {got or 'missing'}, expected {media_type}"
    return None


def _json_body(response: Any) -> Any:
    try:
        return json.loads(response.content or b"")
    except ValueError:
        return None


def check_db(response: Any, _queries: int) -> str | None:
    reason = _status_and_type(response, "application/json")
    if reason:
        return reason
    body = _json_body(response)
    if not isinstance(body, dict) or "id" not in body:
        return "body is not a JSON row object"
    return None


def check_rows(response: Any, queries: int) -> str | None:
    reason = _status_and_type(response, "application/json")
    if reason:
        return reason
    body = _json_body(response)
    if not isinstance(body, list):
        return "body is not a JSON list"
    want = expected_rows(queries)
    if len(body) != want:
        return f"expected {want} rows, got {len(body)}"
    return None


def check_fortunes(response: Any, _queries: int) -> str | None:
    reason = _status_and_type(response, "text/html")
    if reason:
        return reason
    if b"<table" not in (response.content or b""):
        return "no <table> in body"
    return None


def check_plaintext(response: Any, _queries: int) -> str | None:
    reason = _status_and_type(response, "text/plain")
    if reason:
        return reason
    if (response.content or b"").strip() != b"Hello, World!":
        return "body is not 'Hello, World!'"
    return None


def check_json(response: Any, _queries: int) -> str | None:
    reason = _status_and_type(response, "application/json")
    if reason:
        return reason
    if _json_body(response) != {"message": "Hello, World!"}:
        return 'body is not {"message": "Hello, World!"}'
    return None


def check_session(response: Any, _queries: int) -> str | None:
    reason = _status_and_type(response, "application/json")
    if reason:
        return reason
    body = _json_body(response)
    if not isinstance(body, dict) or "pid" not in body or "count" not in body:
        return "body is not a session JSON object"
    if (response.headers or {}).get("X-Bench-Session-Known") not in ("0", "1"):
        return "no X-Bench-Session-Known header"
    return None


CHECKS: dict[str, Check] = {
    "db": check_db,
    "auth": check_db,
    "session": check_session,
    "leaky": check_db,
    "queries": check_rows,
    "updates": check_rows,
    "fortunes": check_fortunes,
    "plaintext": check_plaintext,
    "json": check_json,
}


class BenchUser(FastHttpUser):
    """Base class: closed-loop load (no think time), keep-alive unless --close-connection."""

    abstract = True
    wait_time = constant(0)  # closed loop: a user sends its next request as soon as the last one returns
    workload: str = ""
    variant: str | None = None
    path: str = ""
    keeps_cookies = False  # only the session users return a cookie; the others skip the cookie jar's work

    def on_start(self) -> None:
        if not self.keeps_cookies:
            # Locust's cookie jar costs ~7% of the generator's CPU per request (cProfile of /plaintext) and no
            # handler but /session/* sets a cookie: without it, no figure changes and the generator sends more
            self.client.cookiejar = self.client.client.cookiejar = None
        # read per user, at spawn time: the web UI may change the options between tests
        opts = bench_options(self.environment)
        self.queries = opts.queries
        headers = {"Connection": "close"} if opts.close_connection else {}
        if self.workload in AUTHENTICATED:
            token = base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self.request_headers: dict[str, str] | None = headers or None

    def fetch(self) -> None:
        """GET this class's endpoint once and check the response."""
        url = self.path
        if self.workload in ("queries", "updates"):
            url = f"{self.path}?queries={self.queries}"
        # open model (--bench-rate): wait for this request's intended start; its latency counts from there
        schedule = open_schedule()
        intended = schedule.take() if schedule is not None else None
        if intended is not None:
            schedule.sent(intended, time.time())
        failed = True
        try:
            # name= keeps one stats row per endpoint whatever N is
            with self.client.get(url, name=self.path, headers=self.request_headers, catch_response=True) as resp:
                if resp.status_code == 0:
                    return  # connection error: Locust records the exception as the failure
                reason = CHECKS[self.workload](resp, self.queries)
                if reason:
                    resp.failure(reason)
                else:
                    failed = False
                    resp.success()
        finally:
            if intended is not None:
                schedule.done(intended, time.time(), failed)


def build_user(workload: str, variant: str | None, module: str) -> type[BenchUser]:
    """Create the User class for one endpoint, named as `class_name` says, defined in `module`."""
    if variant is None:
        assert workload in CEILINGS, workload
        path, tags = f"/{workload}", (workload, CEILING_TAG)
    else:
        assert workload in WORKLOADS + DEMONSTRATIONS and variant in VARIANTS, (workload, variant)
        path, tags = f"/{variant}/{workload}", (workload, variant)
        if workload in DEMONSTRATIONS:
            # Not tagged with its variant: `--tags pooled` must never pull the leak into a measurement.
            tags = (workload, "demonstration")
    name = class_name(workload, variant)

    def task(user: BenchUser) -> None:
        user.fetch()

    task.__name__ = task.__qualname__ = f"get_{workload}"
    doc = f"GET {path}" + ("?queries=N (--queries)" if workload in ("queries", "updates") else "")
    cls = type(
        name,
        (BenchUser,),
        {
            "__module__": module,
            "__qualname__": name,
            "__doc__": f"{doc}; tags: {', '.join(tags)}.",
            "workload": workload,
            "variant": variant,
            "path": path,
            "tasks": [tag(*tags)(task)],
        },
    )
    return cls


def build_session_user(store: str, module: str) -> type[BenchUser]:
    """The User class of /session/{store}: each user keeps its bench_session cookie (FastHttpUser's cookie
    jar), so it is a returning client; X-Bench-Session-Known says whether the serving process knew it."""
    assert store in SESSIONS, store
    name = session_class_name(store)
    path = f"/session/{store}"

    def task(user: BenchUser) -> None:
        user.fetch()

    task.__name__ = task.__qualname__ = f"get_session_{store}"
    return type(name, (BenchUser,), {
        "__module__": module, "__qualname__": name, "__doc__": f"GET {path} keeping the cookie; tags: session, "
        f"{store}.", "workload": "session", "variant": None, "path": path, "keeps_cookies": True,
        "tasks": [tag(SESSION_TAG, store)(task)],
    })
