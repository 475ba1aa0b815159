"""The page of a `bench run` folder: runs/<id>/report/{report.html, report.md, summary.json, fig*.png, fig*.svg}.

Reads nothing but the run folder (docs/design.md: a report can be rebuilt years later on another machine).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from bench.record.attribution import FACTORS
from bench.record.bottleneck import Bottleneck
from bench.record.run_folder import Cell, Run
from bench.record.run_rows import Ceiling, Speedup
from reports.kit.document import Block, Bullets, Document, FigureBlock, KeyValues, Para, Pre, Section, Table
from reports.kit.figures import Drawn, draw
from reports.kit.fmt import DASH, dash_or, fmt_ci, fmt_num, fmt_ratio, fmt_share, setting_text
from reports.kit.page import (
    bullets,
    caveat_note,
    environment_blocks,
    figure_files,
    kv,
    meta_line,
    prepare_out,
    write_report,
)
from reports.run import charts
from reports.run.analysis import (
    Analysis,
    CapacityRow,
    analyze,
    cpu_ms_per_request,
)
from reports.run.connections import connections_section
from reports.run.generator import generator_section
from reports.run.ladder import ladder_section
from reports.run.narrative import (
    capacity_sentences,
    caveats,
    cost_row,
    cost_sentences,
    cross_check_sentences,
    headline_rows,
    headline_text,
    limited_by,
    memory_sentences,
    rate_sentence,
    saturation_sentences,
    split_method,
    split_sentences,
    step_sentences,
    trial_flags,
)
from reports.run.servers import auth_section, auth_summary, servers_section, servers_summary
from reports.run.threads import gil_sentences, process_rows, process_table

SUMMARY_SCHEMA = 1


def build_run_report(run_dir: Path, extra: Sequence[Section] = ()) -> Path:
    """Write the report of the run in `run_dir` into `run_dir/report/`; returns the report.html path.

    `extra` sections are appended at the end (reports.build adds the tune section of a tune.json found
    beside results.json). Raises UserError when the run folder or its results.json cannot be used.
    """
    run = Run.open(run_dir)
    out = prepare_out(run, charts.FIGURES)
    an = analyze(run)
    drawn = draw(charts.REGISTRY, run, an, out)
    cav = caveats(run, an)  # after the figures: they record unreadable trial files in run.problems
    doc = compose(run, an, drawn, cav)
    doc.sections += extra
    return write_report(out, doc, summary(run, an, drawn.blocks, cav))


# --- tables --------------------------------------------------------------------------------------
def _heads(multi: bool, *rest: str) -> list[str]:
    """workload, variant (and server in a --servers run), then the table's own columns."""
    return ["workload", "variant", *(["server"] if multi else []), *rest]


class KeyedRow(Protocol):
    """A row of a table keyed by its cell (a Cell, a speedup, a capacity or cross-check row)."""

    @property
    def workload(self) -> str | None: ...
    @property
    def variant(self) -> str | None: ...
    @property
    def server(self) -> str | None: ...


def _keys(multi: bool, row: KeyedRow) -> list[str]:
    """The key cells of a row of any table (a Cell or a row with workload/variant/server)."""
    return [str(row.workload), str(row.variant), *([row.server or DASH] if multi else [])]


def throughput_table(an: Analysis) -> Table:
    rows = []
    for c in an.cells:
        s = c.summary
        lo, hi = s.rps_ci95 or (None, None)
        rows.append([
            *_keys(an.multi_server, c), fmt_num(s.trials or len(c.trials)), fmt_num(s.rps),
            fmt_ci(lo, hi), fmt_num(s.failures) if s.failures is not None else DASH,
            c.limit_or_bound or DASH, fmt_share(s.server_util), fmt_share(s.busiest_generator),
        ])
    return Table(_heads(an.multi_server, "trials", "req/s", "95% CI", "failures", "limited by", "server CPU",
                        "busiest Locust"), rows,
                 "Steady-state requests/s, median over trials (Locust). Limited by: server (a capacity), "
                 "generator or shared (Locust's limit), load (too few users): all but server are lower bounds. "
                 "Server CPU: share of the server's CPUs its processes used; busiest Locust: one process, "
                 "share of a core")


def latency_table(an: Analysis) -> Table:
    rows = [[*_keys(an.multi_server, c), *(fmt_num(v) for v in c.summary.latencies)]
            for c in an.cells]
    return Table(_heads(an.multi_server, "p50 ms", "p90 ms", "p99 ms", "max ms"), rows,
                 "Client-side response times from the send, median over trials: a closed loop (each user waits "
                 "for its answer), or with --rate the open model's connections (Figure 10: from intended start)")


def speedup_table(rows_in: list[Speedup], caption: str = "Requests/s relative to the baseline") -> Table:
    multi = any(r.server for r in rows_in)
    rows = [[*_keys(multi, r), str(r.baseline), fmt_ratio(r.ratio), fmt_ci(r.lo, r.hi, "x"), r.origin]
            for r in rows_in]
    headers = _heads(multi, "baseline", "speedup", "95% CI", "from")
    if any(r.text for r in rows_in):  # what limited each side: how the ratio may be stated
        headers.append("stated as")
        for row, r in zip(rows, rows_in, strict=True):
            row.append(r.text or DASH)
    return Table(headers, rows, caption)


def split_table(an: Analysis) -> Table:
    """The 2x2 split; only called when the table's square ran (an.square set), in its names."""
    sq = an.square
    assert sq is not None
    rows = []
    for w, s in an.splits.items():
        share = s.pooling_share
        rows.append([
            w, fmt_ratio(s.total.factor), fmt_ratio(s.pooling.factor), fmt_ci(s.pooling.lo, s.pooling.hi, "x"),
            fmt_ratio(s.caching.factor), fmt_ci(s.caching.lo, s.caching.hi, "x"),
            fmt_ratio(s.interaction.factor), fmt_share(share),
        ])
    first, second = FACTORS[sq.first], FACTORS[sq.second]
    return Table(["workload", f"{sq.both}/{sq.base}", first, "95% CI", second, "95% CI", "interaction",
                  f"{first} share"], rows, f"Where {sq.both}'s speedup comes from (2x2 log-ratio split)")


def capacity_table(an: Analysis) -> Table:
    t = an.target_rps
    rows = [[*_keys(an.multi_server, r), fmt_num(r.rps_per_process), _rate_kind(r), fmt_num(r.rss_mb),
             fmt_num(r.pss_mb), str(r.processes), fmt_num(r.mb_pss), fmt_num(r.mb_rss)] for r in an.capacity]
    return Table(_heads(an.multi_server, "req/s per process", "rate is", "RSS MB", "PSS MB", f"processes for {t}",
                        "MB (PSS)", "MB (RSS)"), rows,
                 f"Capacity: processes and memory for {t} req/s at the measured per-process rate "
                 "(RSS/PSS: median MB per process; PSS of the processes that served requests where recorded). "
                 "The rate is a capacity only where the server was the limit; "
                 "elsewhere it is a lower bound (at least that much) and the processes an upper bound")


def _rate_kind(row: CapacityRow) -> str:
    return dash_or(row.limit,
                   lambda limit: "capacity" if row.is_capacity else f"at least (limited by {limited_by(limit)})")


def cost_table(an: Analysis) -> Table:
    rows = []
    for c in an.cells:
        rpcs = c.summary.requests_per_cpu_second
        rows.append([*_keys(an.multi_server, c), fmt_num(rpcs), fmt_num(cpu_ms_per_request(rpcs)),
                     fmt_num(c.summary.db_sessions_per_1000_requests)])
    return Table(_heads(an.multi_server, "req per server CPU-s", "CPU ms/request", "PG sessions/1000 req"), rows,
                 "Server cost per request (Apache children + PostgreSQL backends)")


def trials_table(run: Run) -> Table:
    multi = run.multi_server
    rows = []
    for t in run.trials():
        rows.append([
            fmt_num(t.seq), t.workload, t.variant, *([t.server or DASH] if multi else []), t.trial,
            fmt_num(t.users), fmt_num(t.locust_rps), fmt_num(t.server_rps), fmt_num(t.p99_ms), fmt_num(t.failures),
            t.limit or DASH, fmt_share(t.server_util), dash_or(t.generator_pct, lambda g: f"{g:.0f}%"),
            fmt_num(t.processes), "; ".join(t.flags),
        ])
    return Table(["#", *_heads(multi, "trial", "users"), "req/s (Locust)", "req/s (access log)", "p99 ms",
                  "failures", "limited by", "server CPU", "generator CPU", "processes", "flags"], rows,
                 collapsed=f"Every trial ({len(rows)}), in the order run")


def cross_check_table(an: Analysis) -> Table:
    rows = [[*_keys(an.multi_server, r), fmt_num(r.locust_rps), fmt_num(r.wrk_rps), fmt_share(r.locust_vs_wrk)]
            for r in an.cross_check]
    return Table(_heads(an.multi_server, "Locust req/s", "wrk req/s", "Locust/wrk"), rows,
                 "Each cell measured by Locust and, right after, by wrk (same connections, same generator CPUs)")


def cross_speedup_table(an: Analysis) -> Table:
    wrk = {(w.workload, w.variant, w.baseline, w.server): w for w in an.wrk_speedups}
    rows = []
    for s in an.speedups:
        w = wrk.get((s.workload, s.variant, s.baseline, s.server))
        if w is None:
            continue
        both = None if s.ratio is None or w.ratio is None else s.ratio / w.ratio  # read by Speedup.of: both set
        rows.append([*_keys(an.multi_server, s), str(s.baseline), fmt_ratio(s.ratio), fmt_ratio(w.ratio),
                     fmt_ratio(both)])
    return Table(_heads(an.multi_server, "baseline", "Locust speedup", "wrk speedup", "Locust/wrk"), rows,
                 "The speedup as each instrument measured it")


def ceiling_table(ceiling: Ceiling) -> Table:
    row = [fmt_num(ceiling.users), fmt_num(ceiling.rps), fmt_num(ceiling.wrk_rps), fmt_share(ceiling.generator_busiest),
           ceiling.bottleneck or DASH]
    return Table(["users", "Locust req/s", "wrk req/s", "busiest Locust", "limited by"], [row],
                 "Generator ceiling: Locust (and wrk) alone on /plaintext, same users and CPUs")


def saturation_table(an: Analysis) -> Table:
    servers = any(cell.server for cell in an.saturation)  # --servers: each cell was probed under each server
    rows = []
    for cell in an.saturation:
        for i, step in enumerate(cell.steps):
            last = i == len(cell.steps) - 1
            rows.append([cell.workload, cell.variant, *([cell.server or DASH] if servers else []), str(step.users),
                         fmt_num(step.rps), fmt_num(step.p99_ms), step.bottleneck or DASH,
                         "knee" if step.users == cell.knee_users else "", (cell.stop or DASH) if last else ""])
    heads = ["workload", "variant", *(["server"] if servers else []), "users", "req/s", "p99 ms", "limited by", "knee",
             "stopped because"]
    return Table(heads, rows,
                 "Saturation (--saturate): each cell at doubling users; the knee is the users the trials ran with")


# --- document ------------------------------------------------------------------------------------
def compose(run: Run, an: Analysis, figs: Drawn,
            cav: list[str]) -> Document:
    cap, cap_basis = capacity_sentences(run, an)
    # Figures 1, 2, 8 and 9 sit among their section's tables; every other figure closes its section.
    throughput = throughput_blocks(an, figs)
    sections = [
        Section("summary", "Summary", summary_blocks(run, an, cap, cav)),
        Section("throughput", "Throughput", throughput + figs.rest("throughput")),
        *(s for s in (ladder_section(run),) if s is not None),
        *extra_sections(an, figs),
        *(s for s in (servers_section(run, figs.take("fig9-servers")), auth_section(run),
                      connections_section(an.cells, an.multi_server)) if s is not None),
        Section("latency", "Latency", [latency_table(an), *figs.rest("latency")]),
        Section("capacity", "Per process and capacity", capacity_blocks(an, cap, cap_basis) + figs.rest("capacity")),
        Section("memory", "Memory", bullets(memory_sentences(run, an) + figs.notes["fig5-memory"])
                + figs.rest("memory")),
        Section("cost", "Cost per request", cost_blocks(run, an) + figs.rest("cost")),
        Section("over-time", "Over time", bullets(figs.notes["fig7-timeline"]) + figs.rest("over-time")),
        *(s for s in (generator_section(run),) if s is not None),
        Section("caveats", "Caveats", caveat_blocks(run, cav)),
        Section("setup", "Machine, versions and settings", setup_blocks(run)),
    ]
    meta = meta_line(run, "run", f"source: {run.source}", f"{len(run.trials())} trials")
    return Document(f"mod_python persistence benchmark: run {run.run_id}", meta, sections)


def summary_blocks(run: Run, an: Analysis, cap: list[str], cav: list[str]) -> list[Block]:
    """The headline, the sentences that say what it means, the capacity and a pointer to the caveats."""
    heads = headline_rows(run, an)
    blocks: list[Block] = [Para(headline_text(run, r, an), "headline") for r in heads]
    if not an.cells:
        blocks.append(Para("This run has no results yet.", "warning"))
    elif not heads:
        best = max((c for c in an.cells if c.summary.rps is not None), key=lambda c: c.summary.rps or 0,
                   default=None)
        if best is not None:
            blocks.append(Para(f"No {an.baseline} baseline to compare with; the highest rate was {best.variant} on "
                               f"{best.workload}, {fmt_num(best.summary.rps)} req/s.", "headline"))
    lines = [s for r in heads if (s := rate_sentence(run, r))]
    lines += split_sentences(an)
    blocks += bullets(lines + cap)
    if cav:
        blocks.append(caveat_note(cav, "run"))
    return blocks


def throughput_blocks(an: Analysis, figs: Drawn) -> list[Block]:
    """The rates, the speedups over the baseline, their split over the 2x2 and the one-factor steps."""
    throughput: list[Block] = [throughput_table(an), figs.take("fig1-rps")]
    if an.speedups:
        throughput.append(speedup_table(an.speedups))
    throughput.append(figs.take("fig2-speedup"))
    if an.splits and an.square:
        throughput += [split_table(an), Bullets(split_sentences(an)), Para(split_method(an.square), "note")]
    elif an.speedups and an.square:
        first, second = FACTORS[an.square.first], FACTORS[an.square.second]
        throughput.append(Para(f"The split into {first} and {second} needs all four variants "
                               f"({', '.join(an.square.variants)}) of a workload; this run has not.", "note"))
    if an.steps:
        throughput += [speedup_table(an.steps, "One factor at a time: requests/s of X relative to Y, variants "
                                               "that differ by one kept resource"), Bullets(step_sentences(an))]
    return throughput


def capacity_blocks(an: Analysis, cap: list[str], cap_basis: str) -> list[Block]:
    per_process: list[Block] = []
    if cap:
        per_process += [Bullets(cap), capacity_table(an), Para(cap_basis, "note")]
    threaded = process_rows(an.cells)  # none in folders from before per_process_threads
    if threaded:
        per_process += [process_table(threaded, an.multi_server), *bullets(gil_sentences(threaded))]
    return per_process


def cost_blocks(run: Run, an: Analysis) -> list[Block]:
    cost = bullets(cost_sentences(run, an))
    table = cost_table(an)
    if any(cell != DASH for row in table.rows for cell in row[2:]):  # a --url run has none of it
        cost.append(table)
    if an.cpu_speedups:
        cost.append(speedup_table(an.cpu_speedups, "Requests per server CPU-second relative to the baseline "
                                                   "(the efficiency view: independent of the load generator)"))
    return cost


def caveat_blocks(run: Run, cav: list[str]) -> list[Block]:
    blocks: list[Block] = [Bullets(cav, "warning")] if cav else [Para("None found in this run's data.")]
    flags = trial_flags(run)
    if flags:
        blocks += [Para("Flags recorded on trials:"), Bullets(flags)]
    return blocks


def extra_sections(an: Analysis, figs: Drawn) -> list[Section]:
    """The cross-check (--cross-check) and saturation (--saturate) sections, when the run has them."""
    out = []
    if an.cross_check or an.ceiling:
        blocks: list[Block] = bullets(cross_check_sentences(an))
        if an.cross_check:
            blocks.append(cross_check_table(an))
        if an.wrk_speedups:
            blocks.append(cross_speedup_table(an))
        if an.ceiling:
            blocks.append(ceiling_table(an.ceiling))
        out.append(Section("cross-check", "Cross-check with wrk", blocks))
    if an.saturation:
        out.append(Section("saturation", "Saturation", [*bullets(saturation_sentences(an)),
                                                        figs.take("fig8-saturation"), saturation_table(an)]))
    return out


def partition_rows(run: Run) -> list[tuple[str, str]]:
    """Where the server and the generator ran (null: not partitioned, they shared every CPU)."""
    stack, plan = run.settings, run.options
    if stack is None and not plan.partition_recorded:
        return []
    server = stack.server_cpus if stack is not None else None
    generator = plan.generator_cpus
    shared = "not partitioned: Locust shared the CPUs with the server"
    return [("server CPUs", str(server) if server else shared),
            ("generator CPUs", str(generator) if generator else shared)]


def setup_blocks(run: Run) -> list[Block]:
    blocks = environment_blocks(run)
    cpus = partition_rows(run)
    if cpus:
        blocks.append(KeyValues(cpus, "CPU partition (server: Apache and PostgreSQL; generator: Locust)"))
    plan = kv(run.plan, skip=("order",))
    if plan:
        blocks.append(KeyValues(plan, "Plan (bench run options)"))
    if run.stack is not None:
        blocks.append(KeyValues(kv(run.stack), "Stack (generated Apache and PostgreSQL settings)"))
    else:
        blocks.append(Para("No stack settings: this run measured a server it did not start (--url).", "note"))
    if run.checks:
        blocks += [Para("Pre-flight checks:"), Bullets(run.checks)]
    recorded = dict(run.recorded("created", "finished", "complete", "kind", "schema"))
    top = [("run_id", run.run_id), *((k, setting_text(recorded[k])) for k in ("created", "finished", "complete")),
           ("source", run.source), ("kind", setting_text(recorded["kind"])),
           ("results schema", setting_text(recorded["schema"]))]
    blocks.append(KeyValues(top, "Run"))
    if run.trials():
        blocks.append(trials_table(run))
    conf = run.httpd_conf()
    if conf is not None:
        blocks.append(Pre("httpd.conf (the generated Apache configuration)", conf, "apache"))
    pg = run.postgresql_conf()
    if pg:
        text = "\n".join(f"{k} = {setting_text(v)}" for k, v in pg.items())
        blocks.append(Pre("PostgreSQL settings (postgresql.conf.json)", text))
    return blocks


# --- summary.json --------------------------------------------------------------------------------
def _effect(e: Any) -> dict[str, Any]:
    return {"factor": e.factor, "ci95": None if e.lo is None else [e.lo, e.hi]}


def _headline(run: Run, an: Analysis, r: Speedup) -> dict[str, Any]:
    cost = cost_row(an, r)
    return {"workload": r.workload, "variant": r.variant, **({"server": r.server} if r.server else {}),
            "baseline": r.baseline, "ratio": r.ratio, "ci95": None if r.lo is None else [r.lo, r.hi],
            "stated_as": r.text, "bottlenecks": r.bottlenecks or None,
            "cost_ratio": None if cost is None else cost.ratio,
            "cost_ci95": None if cost is None or cost.lo is None else [cost.lo, cost.hi],
            "text": headline_text(run, r, an)}


def _cross_check(an: Analysis) -> dict[str, Any] | None:
    if not an.cross_check and not an.ceiling:
        return None
    wrk = {(w.workload, w.variant, w.baseline, w.server): w.ratio for w in an.wrk_speedups}
    return {
        "cells": [vars(r) for r in an.cross_check],
        "speedups": [{"workload": s.workload, "variant": s.variant, "baseline": s.baseline, "locust": s.ratio,
                      "wrk": wrk[(s.workload, s.variant, s.baseline, s.server)]}
                     for s in an.speedups if (s.workload, s.variant, s.baseline, s.server) in wrk],
        "generator_ceiling": an.ceiling.raw if an.ceiling else None,
    }


def cell_summary(c: Cell) -> dict[str, Any]:
    """A cell in summary.json: its summary's medians as recorded, its limit and what follows from them."""
    recorded = c.summary.recorded("rps", "rps_ci95", "p50_ms", "p90_ms", "p99_ms", "max_ms", "rps_per_process",
                                  "requests_per_cpu_second", "rss_mb_per_process", "pss_mb_per_process",
                                  "pss_mb_total", "pss_mb_serving", "db_sessions_per_1000_requests", "failures",
                                  "generator_bound", "server_util", "others_util", "generator_busiest", "wrk_rps",
                                  "locust_vs_wrk", "faults")
    limit, faults = c.limit_or_bound, recorded.pop("faults")
    return {
        "workload": c.workload, "variant": c.variant, **({"server": c.server} if c.server else {}),
        "trials": c.recorded_trials,
        **recorded,
        "bottleneck": limit,
        "rate_is_capacity": None if limit is None else limit == Bottleneck.SERVER,
        "faulty_trials": faults,
        "cpu_ms_per_request": cpu_ms_per_request(c.summary.requests_per_cpu_second),
    }


def speedup_summary(r: Speedup, metric: str) -> dict[str, Any]:
    return {"workload": r.workload, "variant": r.variant, **({"server": r.server} if r.server else {}),
            "baseline": r.baseline, "ratio": r.ratio,
            "ci95": None if r.lo is None else [r.lo, r.hi], "from": r.origin, "metric": metric,
            **({"text": r.text, "bottlenecks": r.bottlenecks} if r.text else {})}


def summary(run: Run, an: Analysis, figs: dict[str, FigureBlock], cav: list[str]) -> dict[str, Any]:
    """The headline numbers the report shows, machine-readable; values are results.json's, unrounded."""
    threaded = process_rows(an.cells)  # only folders that recorded per_process_threads get the key
    return {
        "schema": SUMMARY_SCHEMA,
        "run_id": run.run_id,
        "source": run.source,
        "complete": run.complete,
        "headline": [_headline(run, an, r) for r in headline_rows(run, an)],
        "cells": [cell_summary(c) for c in an.cells],
        "speedups": [speedup_summary(r, metric) for metric, rows in
                     (("rps", an.speedups), ("requests_per_cpu_second", an.cpu_speedups)) for r in rows],
        "cpu_partition": dict(partition_rows(run)) or None,
        "servers": servers_summary(run),
        "auth_phase": auth_summary(run),
        "cross_check": _cross_check(an),
        "saturation": [
            {"workload": c.workload, "variant": c.variant, "knee_users": c.knee_users,
             "knee_rps": c.knee.rps if c.knee else None, "knee_bottleneck": c.knee.bottleneck if c.knee else None,
             "stop": c.stop, "steps": [s.to_json() for s in c.steps]}
            for c in an.saturation
        ] or None,
        "split": [
            {"workload": w, "method": "log-ratio decomposition (Shapley) of the 2x2, medians over trials",
             "total": _effect(s.total), "pooling": _effect(s.pooling), "caching": _effect(s.caching),
             "interaction": _effect(s.interaction), "pooling_share": s.pooling_share}
            for w, s in an.splits.items()
        ],
        "capacity": {
            "target_rps": an.target_rps,
            "rows": [
                {"workload": r.workload, "variant": r.variant, **({"server": r.server} if r.server else {}),
                 "rps_per_process": r.rps_per_process,
                 "rss_mb_per_process": r.rss_mb, "pss_mb_per_process": r.pss_mb, "processes": r.processes,
                 "mb_pss": r.mb_pss, "mb_rss": r.mb_rss}
                for r in an.capacity
            ],
        },
        **({"per_process_threads": [vars(r) | {"gil_bound": r.gil_bound} for r in threaded]} if threaded else {}),
        "missing_trials": [m.label for m in run.missing_trials()],
        "caveats": cav,
        "figures": figure_files(figs),
    }
