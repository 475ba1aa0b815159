"""Where the PostgreSQL connections were spent: per cell, the server connections PostgreSQL kept open
(pg_stat_activity), the backends it forked per second, and for a variant through the stack's PgBouncer its
clients and their wait for a server connection. Medians over trials, from the cell summary
(bench.record.results.connection_medians); folders from before the figures were recorded have none, and the
report shows nothing of it.
"""

from __future__ import annotations

from bench.record.run_folder import Cell
from reports.kit.document import Bullets, Section, Table
from reports.kit.fmt import DASH, fmt_num

CAPTION = ("Where the connections were spent, medians over trials: PostgreSQL backends of the handlers' role "
           "(peak and mean), backends forked per second, and through PgBouncer its clients, those waiting for a "
           "server connection and the longest and mean wait (a dash: not measured, a variant not through it)")


def measured(cells: list[Cell]) -> list[Cell]:
    """The cells whose trials recorded connection figures."""
    return [c for c in cells if c.summary.server_connections_peak is not None
            or c.summary.client_connections_peak is not None]


def connections_table(cells: list[Cell], multi: bool) -> Table:
    rows = []
    for c in measured(cells):
        s = c.summary
        rows.append([c.workload, c.variant, *([c.server or DASH] if multi else []),
                     fmt_num(s.server_connections_peak), fmt_num(s.server_connections_mean),
                     fmt_num(s.backend_forks_per_s), fmt_num(s.client_connections_peak), fmt_num(s.cl_waiting_peak),
                     fmt_num(s.maxwait_ms_peak), fmt_num(s.avg_wait_time_us_mean)])
    return Table(["workload", "variant", *(["server"] if multi else []), "pg conns peak", "pg conns mean",
                  "forks/s", "pooler clients peak", "waiting peak", "max wait ms", "avg wait us"], rows, CAPTION)


def connections_section(cells: list[Cell], multi: bool) -> Section | None:
    """The section, or None when no cell measured its connections (a --url or --dsn run, an older folder)."""
    if not measured(cells):
        return None
    notes = Bullets([
        "A pool keeps its connections open whatever the load (processes x pool size, or PgBouncer's pool); "
        "connect per request straight to PostgreSQL forks a backend per request (forks/s near the request rate).",
        "Through PgBouncer, PostgreSQL sees at most its pool; clients beyond it wait (waiting, max wait). "
        "PgBouncer's CPU is counted in the server's CPU (req/CPU-s).",
    ])
    return Section("connections", "Connections", [connections_table(cells, multi), notes])
