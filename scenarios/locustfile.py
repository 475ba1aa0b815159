"""Locust scenarios for the mod_python persistence benchmark: `locust -f scenarios --host URL CLASS`.

One User class per workload x variant, plus the two ceilings and the two session classes (39 in all), and
PooledLeaky, a demonstration of a memory leak for `bench tune` (never a measurement of a variant):

    NaiveDb        PoolOnlyDb        CacheOnlyDb        PooledDb        PreparedDb        BouncerDb
    NaiveQueries   PoolOnlyQueries   CacheOnlyQueries   PooledQueries   PreparedQueries   BouncerQueries
    NaiveUpdates   PoolOnlyUpdates   CacheOnlyUpdates   PooledUpdates   PreparedUpdates   BouncerUpdates
    NaiveFortunes  PoolOnlyFortunes  CacheOnlyFortunes  PooledFortunes  PreparedFortunes  BouncerFortunes
    NaiveAuth      PoolOnlyAuth      CacheOnlyAuth      PooledAuth      PreparedAuth      BouncerAuth
    ProcessSession SharedSession                                                          /session/{process,shared}
    Plaintext      Json                                                                   /plaintext, /json

GET /{variant}/db, .../queries?queries=N, .../updates?queries=N, /{variant}/fortunes, .../auth (HTTP Basic).
The Bouncer classes need a server whose handlers reach a PgBouncer (`bench up --pooler`), and PreparedBouncer
(PreparedBouncerDb, ... PreparedBouncerAuth: prepared through the pooler) one in session mode
(`--pooler-mode session`).

Each class's task is tagged with its workload and its variant (`db`, `pooled`; the ceilings with
`plaintext`/`json` and `ceiling`). Requests are named by path without the query string
(`/pooled/queries`). All are FastHttpUsers with no wait time (closed-loop load) and keep-alive.

Selecting what to run: name the class(es) at the end of the command line, or use `--tags`. With neither,
a headless run stops with the list of classes and the web UI shows its class picker and refuses
"all classes" (see `_bench/_selection.py`), because one measurement must not mix naive and pooled.

Options (also LOCUST_* environment variables and config-file keys, see `_bench/_options.py`):
`--queries N` (default 20), `--close-connection`, `--bench-warmup SECONDS`, `--bench-out PATH`; the open
model `--bench-rate R [--bench-arrival constant|poisson] [--bench-open-out PATH]` (`_bench/_open.py`, requests
started on a schedule, latency from the intended start; -u is then the number of connections), and
`--bench-fail-on 'p99<50ms,failures=0'` (exit 3 when broken, `_bench/_gate.py`).

At the end of a test a per-PID steady-state table is printed and, with `--bench-out`, written as JSON
(shape in `_bench/_listener.py`). Locust's own statistics use 0.01 ms buckets below 10 ms
(`_bench/_bucketing.py`), so sub-millisecond percentiles are not rounded to 0 or 1 ms.

The web UI gets a "Per process" tab and the routes /per-process (JSON), /per-process/chart and
/per-process/csv (`_bench/_webui.py`); with --csv PREFIX, PREFIX_per_process.csv (and with
--csv-full-history PREFIX_per_process_history.csv) are written beside Locust's files (`_bench/_csv.py`).

Shared code lives in the package `_bench/`, its modules `_`-prefixed: given a folder, Locust loads every .py
file of the tree whose name does not start with `_` as a locustfile.
"""

from __future__ import annotations

from _bench import (
    _bucketing,
    _control,  # noqa: F401  (--bench-control: the channel `bench run --workers` drives its master through)
    _gate,  # noqa: F401  (--bench-fail-on; it imports _listener first, so its test_stop runs later)
    _listener,  # noqa: F401  (registers the per-PID event listeners)
    _open,  # noqa: F401  (the open model: --bench-rate)
    _options,  # noqa: F401  (registers the command-line options)
    _selection,  # noqa: F401  (registers the class-selection guard)
    _webui,  # noqa: F401  (registers the web UI's "Per process" tab and /per-process routes)
)
from _bench._users import build_session_user, build_user

_bucketing.install()

NaiveDb = build_user("db", "naive", __name__)
PoolOnlyDb = build_user("db", "pool-only", __name__)
CacheOnlyDb = build_user("db", "cache-only", __name__)
PooledDb = build_user("db", "pooled", __name__)
PreparedDb = build_user("db", "prepared", __name__)
BouncerDb = build_user("db", "bouncer", __name__)
PreparedBouncerDb = build_user("db", "prepared-bouncer", __name__)

NaiveQueries = build_user("queries", "naive", __name__)
PoolOnlyQueries = build_user("queries", "pool-only", __name__)
CacheOnlyQueries = build_user("queries", "cache-only", __name__)
PooledQueries = build_user("queries", "pooled", __name__)
PreparedQueries = build_user("queries", "prepared", __name__)
BouncerQueries = build_user("queries", "bouncer", __name__)
PreparedBouncerQueries = build_user("queries", "prepared-bouncer", __name__)

NaiveUpdates = build_user("updates", "naive", __name__)
PoolOnlyUpdates = build_user("updates", "pool-only", __name__)
CacheOnlyUpdates = build_user("updates", "cache-only", __name__)
PooledUpdates = build_user("updates", "pooled", __name__)
PreparedUpdates = build_user("updates", "prepared", __name__)
BouncerUpdates = build_user("updates", "bouncer", __name__)
PreparedBouncerUpdates = build_user("updates", "prepared-bouncer", __name__)

NaiveFortunes = build_user("fortunes", "naive", __name__)
PoolOnlyFortunes = build_user("fortunes", "pool-only", __name__)
CacheOnlyFortunes = build_user("fortunes", "cache-only", __name__)
PooledFortunes = build_user("fortunes", "pooled", __name__)
PreparedFortunes = build_user("fortunes", "prepared", __name__)
BouncerFortunes = build_user("fortunes", "bouncer", __name__)
PreparedBouncerFortunes = build_user("fortunes", "prepared-bouncer", __name__)

# The authentication phase (HTTP Basic, the seeded bench/bench account) in front of db.
NaiveAuth = build_user("auth", "naive", __name__)
PoolOnlyAuth = build_user("auth", "pool-only", __name__)
CacheOnlyAuth = build_user("auth", "cache-only", __name__)
PooledAuth = build_user("auth", "pooled", __name__)
PreparedAuth = build_user("auth", "prepared", __name__)
BouncerAuth = build_user("auth", "bouncer", __name__)
PreparedBouncerAuth = build_user("auth", "prepared-bouncer", __name__)

# State is per process: returning clients (they keep their cookie) of a module-global vs a shared counter.
ProcessSession = build_session_user("process", __name__)
SharedSession = build_session_user("shared", __name__)

# Demonstration for `bench tune` only: pooled db plus an unbounded per-request cache (a deliberate leak).
PooledLeaky = build_user("leaky", "pooled", __name__)

Plaintext = build_user("plaintext", None, __name__)
Json = build_user("json", None, __name__)
