"""The "Load of each cell" section: the short user ladder `bench run` ran before each cell's trials (results.json
`ladder`, bench/load/ladder.py), what each rung reached and why the ladder stopped."""

from __future__ import annotations

from bench.record.ladder import LadderCell
from bench.record.run_folder import Run
from reports.kit.document import Block, Bullets, Section, Table
from reports.kit.fmt import DASH, fmt_num, fmt_share


def ladder_sentences(cells: list[LadderCell]) -> list[str]:
    """One sentence per cell: the users its trials ran with and why."""
    return [f"{c.name}: {fmt_num(c.users)} users after {len(c.probes)} probe(s); stopped by {c.stop or DASH}: "
            f"{c.reason or DASH}." for c in cells]


def ladder_table(cells: list[LadderCell]) -> Table:
    rows = []
    for c in cells:
        for i, p in enumerate(c.probes):
            last = i == len(c.probes) - 1
            rows.append([c.name, fmt_num(p.users), fmt_num(p.rps), fmt_num(p.p99_ms), fmt_share(p.server_util),
                         fmt_share(p.generator_busiest), p.bottleneck or DASH,
                         "trials" if p.users == c.users else "", (c.stop or DASH) if last else ""])
    heads = ["cell", "users", "req/s", "p99 ms", "server CPUs busy", "busiest Locust", "limited by", "chosen",
             "stopped by"]
    return Table(heads, rows, "The ladder: short probes at doubling users on the warm server before each cell's "
                 "trials (raw files in ladder/ of the run folder)")


def ladder_section(run: Run) -> Section | None:
    """None for runs without a ladder (--users given, --saturate, --rate, older runs)."""
    cells = LadderCell.all_of(run.data)
    if not cells:
        return None
    blocks: list[Block] = [Bullets(ladder_sentences(cells)), ladder_table(cells)]
    return Section("ladder", "Load of each cell", blocks)
