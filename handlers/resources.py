"""The resource strategies: the only thing that differs between the variants.

| variant    | connection                       | template                          |
|------------|----------------------------------|-----------------------------------|
| naive      | new per request, always closed   | read + parsed + compiled per request |
| pool-only  | per-process pool                 | read + parsed + compiled per request |
| cache-only | new per request, always closed   | compiled once per process         |
| pooled     | per-process pool                 | compiled once per process         |
| prepared   | per-process pool                 | compiled once per process         |
| bouncer    | new per request, to PgBouncer    | compiled once per process         |
| prepared-bouncer | per-process pool, to PgBouncer | compiled once per process       |

bouncer connects per request like cache-only, but to the stack's private PgBouncer instead of PostgreSQL: the
pooler keeps the server connections, the process keeps nothing (Django's CONN_MAX_AGE = 0 behind PgBouncer). Its
DSN (no password inside: passfile= names the Apache user's 0600 passfile) is read once per process from the file
that bench.pooler_dsn_file names, readable by the Apache user only; no file means no pooler in this stack, and
such a request fails like a database that is down (503).

prepared also keeps the workloads' statements prepared on the pooled connection (see Resources.execute);
prepared-bouncer does the same with a pool of connections to PgBouncer (a pool per route), which bench serves in
session mode only: there each client connection keeps its server connection, and its statements with it.

The authentication phase (workload auth) follows the same split: naive and cache-only connect per request
for the credential check, pool-only and pooled use the pool, and cache-only and pooled also keep verified
credentials in a per-process cache (auth.CredentialCache, 60 s TTL) that skips the database on a hit.

Templates are mod_python PSP files. We call the PSP parser (`_psp.parsestring`) and `compile`
ourselves, because `mod_python.psp.PSP` caches compiled code by file name + mtime and by the
template string: a per-request variant built on it would be silently cached.

Prepared statements. psycopg2 has no client API for server-side prepared statements, so the prepared
variant sends SQL: `PREPARE name AS <the workload's SQL with $1..$n>` the first time a connection runs a
statement, then `EXECUTE name (...)` (psycopg2 quotes the values as it would for the plain query). Autocommit
sessions keep them until the session ends. Which names a connection has prepared is kept per connection
object in a WeakKeyDictionary, so:
- it is safe with the pool: a connection, and the statements on it, is only ever used by the request that
  holds it (prefork serves one request at a time; under threads the pool hands a connection to one thread at a
  time), and each process has its own pool; the dictionary itself is shared by the threads of a process, so
  its lookups and inserts (and the removals its weak references trigger) run under a lock;
- a reconnect re-prepares: a connection discarded after an OperationalError (a PostgreSQL restart) takes its
  entry with it (the key is gone), and its replacement is a new object with no names;
- a session that lost its statements while the object lived (DISCARD ALL, a pooler in between) answers
  "prepared statement does not exist": the statement is prepared again and executed once more.
The non-prepared variants run the very same SQL with ordinary parameters, so only this object differs.

Threads (worker/event MPM, mod_wsgi daemons with threads=N): the T threads of a process share its pool, its
compiled templates and its credential cache. The pool is psycopg2's ThreadedConnectionPool (getconn/putconn
under its own lock) of `pool_size` connections, which bench sizes to at least the threads, all opened with the
pool (psycopg2 closes a returned connection beyond minconn, so minconn = the threads keeps them); its getconn
raises PoolError when every connection is out instead of waiting, so a semaphore of the same size makes a
thread wait for a connection rather than fail. The pool is built once, lazily, in the child after fork, under
a lock (two threads of a cold process must not build two pools); a template is compiled once per process
under a lock, the second thread waiting for the first's code object.
"""

import os
import re
import threading
import weakref

import auth
import psycopg2
import psycopg2.errors
import psycopg2.pool
from mod_python import _psp  # importable outside Apache too: the WSGI adapter uses the same parser

# A copy of bench.vocabulary's table (this module runs in mod_python's interpreter), pinned by
# tests/bench/test_vocabulary.py: each factor is a keyword of Resources, each variant the factors it keeps.
FACTORS = ("pooled_connection", "cached_template", "prepared_statements", "pooler_route")
VARIANT_FACTORS = {
    "naive": (),
    "pool-only": ("pooled_connection",),
    "cache-only": ("cached_template",),
    "pooled": ("pooled_connection", "cached_template"),
    "prepared": ("pooled_connection", "cached_template", "prepared_statements"),
    "bouncer": ("cached_template", "pooler_route"),
    "prepared-bouncer": ("pooled_connection", "cached_template", "prepared_statements", "pooler_route"),
}
VARIANTS = tuple(VARIANT_FACTORS)

# Per-process state. Apache forks the children before any request, so these are built lazily in
# the child and never shared across processes.
_settings = {"dsn": None, "pool_size": 1, "template_dir": None, "threads": 1, "pooler_dsn_file": None}
_pooler_dsn = []  # [the pooler's DSN] once read: the file does not change while Apache runs
_pools = {}  # route (through the pooler?) -> its pool
_pool_slots = {}  # route -> a BoundedSemaphore of pool_size: a thread waits for a free connection
_pool_lock = threading.Lock()
_compiled = {}
_compile_lock = threading.Lock()
_prepared_lock = threading.Lock()
_credentials = auth.CredentialCache()
# connection -> names of the statements prepared in its session; an entry dies with its connection.
_prepared = weakref.WeakKeyDictionary()
# name -> (PREPARE text, EXECUTE text with psycopg2 placeholders); the SQL of a name never changes.
_statement_texts = {}
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def configure(dsn, pool_size, template_dir, threads=1, pooler_dsn_file=None):
    """pool_size: the most connections the pool opens (bench writes at least the process's threads);
    pooler_dsn_file: where the stack's PgBouncer DSN is (the bouncer variant)."""
    _settings.update(dsn=dsn, pool_size=pool_size, template_dir=template_dir, threads=threads,
                     pooler_dsn_file=pooler_dsn_file)
    del _pooler_dsn[:]


def _pooler():
    """The pooler's DSN, read once per process (a list append is atomic: two threads read the same file)."""
    if not _pooler_dsn:
        path = _settings["pooler_dsn_file"]
        try:
            with open(path or "", encoding="utf-8") as f:
                dsn = f.read().strip()
        except OSError:
            dsn = ""
        if not dsn:
            raise psycopg2.OperationalError(f"no PgBouncer in this stack ({path or 'bench.pooler_dsn_file unset'}): "
                                            "start the stack with --pooler or a pooler variant")
        _pooler_dsn.append(dsn)
    return _pooler_dsn[0]


def _connect(through_pooler=False):
    conn = psycopg2.connect(_pooler() if through_pooler else _settings["dsn"])
    conn.autocommit = True
    return conn


def _compile(name):
    path = os.path.join(_settings["template_dir"], name)
    with open(path, "rb") as f:
        source = _psp.parsestring(f.read())
    return compile(source, path, "exec")


def _statement_text(name, sql):
    texts = _statement_texts.get(name)
    if texts is None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a statement name: {name!r}")
        parts = sql.split("%s")
        numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
        args = f" ({', '.join(['%s'] * (len(parts) - 1))})" if len(parts) > 1 else ""
        texts = _statement_texts[name] = (f"PREPARE {name} AS {numbered}", f"EXECUTE {name}{args}")
    return texts


def _getconn(pool):
    conn = pool.getconn()
    # Same session mode as a per-request connection; otherwise putconn() would roll back updates.
    if not conn.autocommit:
        conn.autocommit = True
    return conn


def _get_pool(through_pooler=False):
    """(the pool of this route, whether this call built it): one pool per route a variant takes, straight to
    PostgreSQL or to the stack's PgBouncer (prepared-bouncer keeps its connections to the pooler)."""
    pool = _pools.get(through_pooler)
    if pool is not None:
        return pool, False
    with _pool_lock:
        pool = _pools.get(through_pooler)
        if pool is not None:
            return pool, False
        size = max(int(_settings["pool_size"]), 1)
        _pool_slots[through_pooler] = threading.BoundedSemaphore(size)
        # minconn = the threads: psycopg2's pools close a returned connection when minconn are already idle,
        # so with minconn=1 every thread beyond the first would reconnect per request. Opened now, in the
        # child, on its first request (never before fork); prefork: one, as before threads.
        keep = min(max(int(_settings["threads"]), 1), size)
        dsn = _pooler() if through_pooler else _settings["dsn"]
        pool = _pools[through_pooler] = psycopg2.pool.ThreadedConnectionPool(keep, size, dsn=dsn)
        return pool, True


class Resources:
    """What one request may use; `cold` records whether it had to build anything."""

    def __init__(self, pooled_connection=False, cached_template=False, prepared_statements=False,
                 pooler_route=False):
        self.pooled_connection = pooled_connection
        self.cached_template = cached_template
        self.prepared_statements = prepared_statements
        self.pooler_route = pooler_route  # connect through the stack's PgBouncer (a per-request connection)
        self.cold = False
        self.prepared = 0  # statements this request had to prepare (X-Bench-Prepared)

    @property
    def cached_credentials(self):
        # The variants that keep compiled templates in the process keep verified credentials there too.
        return self.cached_template

    def check_credentials(self, user, password):
        """True when bench_user holds this user with this password; a cache hit never touches the database."""
        if self.cached_credentials and _credentials.hit(user, password):
            return True

        def work(conn):
            with conn.cursor() as cur:
                self.execute(cur, "auth_lookup", auth.LOOKUP_SQL, (user,))
                return cur.fetchone()

        ok = auth.verify(self.with_connection(work), password)
        if ok and self.cached_credentials:
            self.cold = True  # the cache had to be filled, like a template compiled on first use
            _credentials.remember(user, password)
        return ok

    def execute(self, cur, name, sql, params=None):
        """Run the statement `name` (its SQL and psycopg2 parameters) on cur: prepared once per connection when
        this variant prepares, an ordinary parameterised query otherwise."""
        if not self.prepared_statements:
            cur.execute(sql, params)
            return
        prepare, execute = _statement_text(name, sql)
        with _prepared_lock:
            names = _prepared.setdefault(cur.connection, set())
        if name not in names:
            self._prepare(cur, prepare)
            names.add(name)
        try:
            cur.execute(execute, params)
        except psycopg2.errors.InvalidSqlStatementName:
            # The session lost it while the connection object lived: prepare again, once (autocommit, so the
            # failed EXECUTE left no transaction to roll back).
            self._prepare(cur, prepare)
            cur.execute(execute, params)

    def _prepare(self, cur, prepare):
        try:
            cur.execute(prepare)
        except psycopg2.errors.DuplicatePreparedStatement:
            return  # already in this session (prepared before its name was recorded): nothing was built
        self.cold = True  # preparing is building a resource, like compiling a template
        self.prepared += 1

    def with_connection(self, work):
        """Run work(conn) on a connection and return its result."""
        if self.pooled_connection:
            return self._with_pooled(work)
        self.cold = True
        conn = _connect(self.pooler_route)
        try:
            return work(conn)
        finally:
            conn.close()

    def _with_pooled(self, work):
        pool, built = _get_pool(self.pooler_route)
        if built:
            self.cold = True
        with _pool_slots[self.pooler_route]:
            return self._on_pooled(pool, work)

    def _on_pooled(self, pool, work):
        conn = _getconn(pool)
        try:
            result = work(conn)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            # A pooled connection looks open after a PostgreSQL restart until the first execute
            # fails: discard it and retry once on a fresh one.
            pool.putconn(conn, close=True)
            self.cold = True
            conn = _getconn(pool)
            try:
                result = work(conn)
            except BaseException:
                pool.putconn(conn, close=True)
                raise
        except BaseException:
            pool.putconn(conn)
            raise
        pool.putconn(conn)
        return result

    def template(self, name):
        """The compiled code object of a PSP template."""
        if not self.cached_template:
            self.cold = True
            return _compile(name)
        code = _compiled.get(name)
        if code is None:
            with _compile_lock:
                code = _compiled.get(name)  # another thread may have compiled it while this one waited
                if code is None:
                    self.cold = True
                    code = _compiled[name] = _compile(name)
        return code


def for_variant(variant):
    """The resources of a variant of VARIANT_FACTORS: each factor it keeps switched on, the others off."""
    kept = VARIANT_FACTORS.get(variant, ())  # an unknown name keeps nothing, as before the table
    return Resources(**{factor: factor in kept for factor in FACTORS})


def close_pool(data=None):
    """Child-exit cleanup (registered with apache.register_cleanup, which calls it with one data argument):
    close pooled connections, so PostgreSQL (or PgBouncer) sees a clean goodbye instead of a dropped socket."""
    with _pool_lock:
        for pool in _pools.values():
            pool.closeall()
        _pools.clear()
