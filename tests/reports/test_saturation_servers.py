"""--saturate with --servers: each cell's probe is named by its server in the table and the figure."""

from types import SimpleNamespace

import matplotlib.pyplot as plt

from bench.record.run_rows import SaturationCell
from reports.run import figures as F
from reports.run.charts import chart_saturation
from reports.run.page import saturation_table


def _entry(server=None):
    steps = [{"users": 4, "rps": 900.0, "p99_ms": 3.0, "bottleneck": "load"},
             {"users": 8, "rps": 1500.0, "p99_ms": 6.0, "bottleneck": "server"}]
    return {"workload": "db", "variant": "pooled", "steps": steps, "stop": "server", "knee_users": 8,
            **({"server": server} if server else {})}


def test_the_table_gets_a_server_column_only_for_servers_runs():
    cells = [SaturationCell.of(_entry("mod_python")), SaturationCell.of(_entry("mod_wsgi"))]
    table = saturation_table(SimpleNamespace(saturation=cells))
    assert table.headers[:4] == ["workload", "variant", "server", "users"]
    assert [r[2] for r in table.rows] == ["mod_python", "mod_python", "mod_wsgi", "mod_wsgi"]
    plain = saturation_table(SimpleNamespace(saturation=[SaturationCell.of(_entry())]))
    assert "server" not in plain.headers and len(plain.rows[0]) == len(plain.headers)


def test_the_figure_names_the_server_of_each_curve(tmp_path):
    cells = [SaturationCell.of(_entry("mod_python")), SaturationCell.of(_entry("mod_wsgi"))]
    run = SimpleNamespace(options=SimpleNamespace(max_p99_ms=100.0))
    block = chart_saturation(run, SimpleNamespace(saturation=cells), tmp_path)
    assert block.skipped is None and block.png, block
    fig = F.saturation_figure([F.SaturationCurve(c.workload, c.variant, [s.users for s in c.steps],
                                                 [s.rps for s in c.steps], [s.p99_ms for s in c.steps],
                                                 c.knee_users, c.server) for c in cells])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["db pooled on mod_python", "db pooled on mod_wsgi"]
    markers = {line.get_marker() for line in fig.axes[0].get_lines()}
    assert len(markers) == 2
    plt.close(fig)
