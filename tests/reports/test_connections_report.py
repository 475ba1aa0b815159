"""The report's Connections section (reports/run/connections.py): a row per cell that measured its connections,
"-" for PgBouncer's figures of a direct variant, and nothing at all for an older folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.record.run_folder import Cell, Run
from bench.record.run_rows import CellSummary
from reports.kit.fmt import DASH
from reports.run.connections import connections_section

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_a_row_per_measured_cell_and_dashes_where_not_measured() -> None:
    cells = [Cell("db", "cache-only", [], CellSummary(server_connections_peak=6, server_connections_mean=3.0,
                                                      backend_forks_per_s=512.25)),
             Cell("db", "bouncer", [], CellSummary(server_connections_peak=4, server_connections_mean=4.0,
                                                   backend_forks_per_s=0.0, client_connections_peak=10,
                                                   cl_waiting_peak=6, maxwait_ms_peak=1.25,
                                                   avg_wait_time_us_mean=17.0)),
             Cell("json", "naive", [], CellSummary(rps=100.0))]
    section = connections_section(cells, multi=False)
    assert section is not None and section.id == "connections"
    table = section.blocks[0]
    assert table.headers[:3] == ["workload", "variant", "pg conns peak"]  # type: ignore[union-attr]
    assert table.rows == [  # type: ignore[union-attr]
        ["db", "cache-only", "6", "3", "512", DASH, DASH, DASH, DASH],
        ["db", "bouncer", "4", "4", "0", "10", "6", "1.25", "17"]]


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in (FIXTURES / "runs").glob("*/results.json")))
def test_older_folders_have_no_connections_section(folder: str) -> None:
    run = Run.open(FIXTURES / "runs" / folder)
    assert connections_section(run.cells, multi=False) is None
