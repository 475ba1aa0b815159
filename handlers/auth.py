"""HTTP Basic credentials checked against table bench_user(name, salt, hash), and the per-process cache.

The hash is PBKDF2-HMAC-SHA256 with a per-user random salt and a fixed ITERATIONS. 1,000 iterations is far
below what a real password store should use (OWASP asks for 600,000): chosen so that hashing (~0.3 ms here)
does not drown what this workload compares, the cost of getting a connection for the check. Do not copy
the count into a real application.

The cache (cache-only and pooled variants) keeps, per process, which (user, password) pairs were verified
and until when: an HMAC of the pair under a key made in this process, never the password itself. A hit
skips the database and the hash. Entries live CACHE_TTL_S seconds, so a changed or removed password stops
working within that time; failed checks are never cached. Under a threaded server (worker/event, mod_wsgi
threads=N) the threads of a process share the cache: a lock keeps an expiry (get, then del) and a clear from
racing another thread's lookup.
"""

import base64
import binascii
import hashlib
import hmac
import os
import threading
import time

# Pinned to bench.vocabulary by tests/bench/test_vocabulary.py (the suite seeds the table with them).
ITERATIONS = 1000
REALM = "bench"
CACHE_TTL_S = 60.0
CACHE_MAX_ENTRIES = 4096  # bounded: random credentials from a client cannot grow the process without limit
CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'

LOOKUP_SQL = "SELECT salt, hash FROM bench_user WHERE name = %s"
_DUMMY_SALT = b"\0" * 16


def parse_basic(header):
    """(user, password) from an Authorization header value, or None when missing or malformed."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep or not user or len(user) > 256 or len(password) > 1024:
        return None
    return user, password


def hash_password(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes(salt), ITERATIONS)


def verify(row, password):
    """row: (salt, hash) from bench_user, or None for an unknown user (hashed anyway: same cost either way)."""
    if row is None:
        hash_password(password, _DUMMY_SALT)
        return False
    salt, expected = row
    return hmac.compare_digest(hash_password(password, salt), bytes(expected))


class CredentialCache:
    """Verified credentials of this process, each valid for CACHE_TTL_S seconds."""

    def __init__(self, ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, clock=time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._key = os.urandom(32)
        self._until = {}
        self._lock = threading.Lock()

    def _digest(self, user, password):
        return hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()

    def hit(self, user, password):
        digest = self._digest(user, password)
        with self._lock:
            until = self._until.get(digest)
            if until is None:
                return False
            if until <= self.clock():
                del self._until[digest]
                return False
            return True

    def remember(self, user, password):
        digest = self._digest(user, password)
        with self._lock:
            if len(self._until) >= self.max_entries:
                self._until.clear()
            self._until[digest] = self.clock() + self.ttl
