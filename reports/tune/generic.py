"""The report of a knob without a page of its own: its measured points and its advice.

A new knob (one module in bench/tune) is reported by this page until it gets one (a `KnobPage` subclass in a
module of reports/tune): reports.tune.page.knob_report falls back to it.
"""

from __future__ import annotations

from pathlib import Path

from bench.record.tune_folder import TuneRun
from reports.kit.document import Block, Code, Document, KeyValues, Para, Section, Table
from reports.kit.fmt import fmt_num
from reports.kit.page import environment_blocks, kv, meta_line, prepare_out, write_report
from reports.tune.knob_page import KnobPage

SUMMARY_SCHEMA = 1


def points_table(run: TuneRun) -> Table:
    rows = [[p.mode, str(p.n), str(len(p.trials)), fmt_num(p.rps), fmt_num(p.p99_ms), "/".join(p.bottlenecks)]
            for p in run.points]
    return Table(["keep-alive", "value", "trials", "req/s", "p99 ms", "limit"], rows,
                 "Measured points: medians over each point's trials")


def recommendation(run: TuneRun) -> list[Block]:
    head: list[Block] = []
    if run.directives:
        head.append(Code("\n".join(run.directives), "Paste into httpd.conf:", "apache"))
    return [*head, Para(f"Why: {run.reasoning or 'the sweep stopped before the tuner concluded'}")]


def build(run: TuneRun) -> Path:
    out = prepare_out(run, ())
    sections = [
        Section("recommendation", "Recommendation", recommendation(run)),
        Section("points", "Measured points", [points_table(run)]),
        Section("setup", "Machine, versions and settings",
                [*environment_blocks(run), KeyValues(kv(run.plan), "Plan (bench tune options)")]),
    ]
    doc = Document(f"{run.server} {run.knob} tuning: run {run.run_id}",
                   meta_line(run, "tune", f"{run.variant}/{run.workload}", f"{len(run.points)} points"), sections)
    summary = {"schema": SUMMARY_SCHEMA, "kind": "tune", "knob": run.knob, "run_id": run.run_id,
               "complete": run.complete, "directives": run.directives, "reasoning": run.reasoning,
               "points": [p.to_json() | {"trials": len(p.trials)} for p in run.points], "figures": {}}
    return write_report(out, doc, summary)


class GenericPage(KnobPage):
    """Any knob without a page of its own (it names no knob: knob_report falls back to it)."""

    section_title = "bench tune"
    build = staticmethod(build)
    recommendation = staticmethod(recommendation)
