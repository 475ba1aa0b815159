"""Secrets: redacting DSNs, generating passwords, libpq passfiles, SCRAM verifiers.

A DSN password never reaches a run folder, a report, a world-readable state file or the terminal: every
place that records or prints a DSN goes through redact_dsn(). What the handlers need reaches them through
a 0600 passfile owned by the Apache user (libpq's `passfile=` parameter), never inline in httpd.conf.
"""

import base64
import hashlib
import hmac
import os
import re
import secrets as _random
from pathlib import Path

import psycopg2.extensions

REDACTED = "***"
# key=value form: password=secret or password='se cret' (libpq quoting with \' and \\).
_KV_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
# URL form: scheme://user:secret@host and ?password=secret in the query string.
_URL_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://[^/@:?#]*:)([^@/?#]*)(@)", re.IGNORECASE)
_URL_QUERY = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)


def redact_dsn(dsn: str | None) -> str | None:
    """The DSN with any password replaced by ***, in key=value or URL form."""
    if dsn is None:
        return None
    if "://" in dsn:
        return _URL_QUERY.sub(rf"\g<1>{REDACTED}", _URL_USERINFO.sub(rf"\g<1>{REDACTED}\g<3>", dsn))
    return _KV_PASSWORD.sub(rf"\g<1>{REDACTED}", dsn)


def new_password() -> str:
    """A random password: 32 URL-safe characters (no ':' or '\\', so passfile lines need no escaping)."""
    return _random.token_urlsafe(24)


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of a password (what pg_authid stores).

    Sent instead of the password in CREATE ROLE, so the secret cannot reach the server's log either.
    """
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _escape(field: str) -> str:
    return field.replace("\\", "\\\\").replace(":", "\\:")


def _split_passfile_line(line: str) -> list[str]:
    fields: list[str] = []
    cur, i = "", 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            cur += line[i + 1]
            i += 2
            continue
        if c == ":" and len(fields) < 4:
            fields.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    fields.append(cur)
    return fields


def write_private(path: Path, text: str, owner: tuple[int, int] | None = None) -> None:
    """Write a file that only its owner can read (0600 from creation, never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    if owner is not None:
        os.chown(path, *owner)


def passfile_line(password: str, user: str = "*") -> str:
    """A libpq passfile line matching any host, port and database for user."""
    return f"*:*:*:{_escape(user)}:{_escape(password)}\n"


def _passfile_lookup(path: Path, params: dict) -> str | None:
    """The password libpq would take from a passfile for these connection parameters (or None)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    host = params.get("host") or "localhost"
    if host.startswith("/"):
        host = "localhost"  # libpq matches a Unix socket against "localhost"
    want = [host, params.get("port") or "5432", params.get("dbname") or params.get("user") or "",
            params.get("user") or os.environ.get("PGUSER", "")]
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = _split_passfile_line(line)
        if len(fields) == 5 and all(f == "*" or f == w for f, w in zip(fields[:4], want, strict=True)):
            return fields[4]
    return None


def find_password(dsn: str) -> str | None:
    """The password libpq would use for dsn: password=, else PGPASSWORD, else passfile / PGPASSFILE / ~/.pgpass."""
    params = psycopg2.extensions.parse_dsn(dsn)
    if params.get("password"):
        return params["password"]
    if os.environ.get("PGPASSWORD"):
        return os.environ["PGPASSWORD"]
    passfile = params.get("passfile") or os.environ.get("PGPASSFILE") or str(Path.home() / ".pgpass")
    return _passfile_lookup(Path(passfile), params)


def without_password(dsn: str, passfile: Path | None = None) -> str:
    """dsn in key=value form with its password and passfile removed (and passfile= set when given)."""
    params = psycopg2.extensions.parse_dsn(dsn)
    params.pop("password", None)
    params.pop("passfile", None)
    if passfile is not None:
        params["passfile"] = str(passfile)
    return psycopg2.extensions.make_dsn(**params)
