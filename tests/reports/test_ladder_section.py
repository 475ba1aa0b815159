"""The run report's "Load of each cell" section: the ladder's probes (results.json `ladder`), the users each cell's
trials ran with and why the ladder stopped; no section for runs without a ladder."""

from types import SimpleNamespace

from bench.record.ladder import LadderCell, Probe
from reports.run.ladder import ladder_section, ladder_table


def _cell(variant: str, probes: list[tuple[int, float, float]], stop: str, users: int) -> dict:
    return LadderCell(workload="db", variant=variant, stop=stop, reason=f"why {variant}", users=users, probes=tuple(
        Probe(users=u, rps=rps, p99_ms=3.0, server_util=server, generator_busiest=0.7, bottleneck="load",
              dir=f"ladder/db-{variant}-u{u:03d}") for u, rps, server in probes)).to_json()


LADDER = [_cell("naive", [(4, 146.0, 0.98)], "server", 4),
          _cell("pooled", [(4, 4206.0, 0.84), (8, 3854.0, 0.80)], "plateau", 4)]


def test_the_table_has_one_row_per_probe_and_marks_the_chosen_load():
    table = ladder_table(LadderCell.all_of({"ladder": LADDER}))
    assert [r[:3] for r in table.rows] == [["db/naive", "4", "146"], ["db/pooled", "4", "4,206"],
                                           ["db/pooled", "8", "3,854"]]
    assert [r[-2:] for r in table.rows] == [["trials", "server"], ["trials", ""], ["", "plateau"]]
    assert table.rows[0][4] == "98%"


def test_the_section_says_why_each_cell_stopped():
    section = ladder_section(SimpleNamespace(data={"ladder": LADDER}))
    assert section is not None and section.id == "ladder"
    assert section.blocks[0].items == ["db/naive: 4 users after 1 probe(s); stopped by server: why naive.",
                                       "db/pooled: 4 users after 2 probe(s); stopped by plateau: why pooled."]


def test_no_section_without_a_ladder():
    assert ladder_section(SimpleNamespace(data={})) is None
    assert ladder_section(SimpleNamespace(data={"ladder": "not a list"})) is None
