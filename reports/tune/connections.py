"""The PostgreSQL connections each tune point used, as columns of the sizing and threads pages' point tables:
shown only when the record has them (older tune.json: the tables stay as they were)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports.kit.document import Table
from reports.kit.fmt import fmt_num

KEYS = ("pg_connections_peak", "pg_connections_mean", "pooler_cl_waiting_peak", "pooler_maxwait_ms_peak")
CAPTION = (" PostgreSQL conns: the handlers' server connections (pg_stat_activity, sampled; peak and mean, medians "
           "over the trials); through PgBouncer, its clients waiting for a server connection (peak) and the longest "
           "wait. Sampled figures: noisy, read as the order of magnitude.")


def with_connections(table: Table, points: Sequence[Mapping[str, Any]], before_last: bool = True) -> Table:
    """`table` with the connection columns of `points` (one per row, in the rows' order) when any point measured
    them: before its last column (the limit), or at the end."""
    pg = any(p.get("pg_connections_peak") is not None for p in points)
    if not pg:
        return table
    pooler = any(p.get("pooler_cl_waiting_peak") is not None for p in points)
    headers = ["PostgreSQL conns (peak)", "PostgreSQL conns (mean)"]
    headers += ["PgBouncer clients waiting (peak)", "PgBouncer max wait ms"] if pooler else []
    rows = []
    for row, p in zip(table.rows, points, strict=True):
        cells = [fmt_num(p.get(k)) for k in KEYS[:len(headers)]]
        rows.append(row[:-1] + cells + row[-1:] if before_last else row + cells)
    heads = table.headers[:-1] + headers + table.headers[-1:] if before_last else table.headers + headers
    return Table(heads, rows, table.caption + "." + CAPTION, table.collapsed)
