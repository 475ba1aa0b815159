"""The report of a `bench tune --knob max-connections-per-child` folder: runs/<id>/report/{report.html,
report.md, summary.json, tune*.png/svg}.

Reached through reports.tune.page.build_tune_report (registered there under the knob's name). Same page,
same renderers and the same escaping as a run report; the numbers come from tune.json as written, read
through bench.record.tune_folder (summary.json repeats them unrounded); only the loss against N = 0 is
computed here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.record.tune_conclusions import ModelParameters, Recommendation
from bench.record.tune_folder import TuneRun
from bench.record.tune_points import mode_label
from reports.kit.document import (
    Block,
    Bullets,
    Code,
    Document,
    FigureBlock,
    KeyValues,
    Para,
    Pre,
    Section,
    Table,
)
from reports.kit.fmt import DASH, fmt_ci, fmt_num, fmt_signed_pct, setting_text
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
from reports.tune import charts as tune_charts
from reports.tune.narrative import (
    caveats,
    confirmation_sentences,
    headline,
    loss_sentences,
    measured_loss,
    memory_sentences,
    mode_sentence,
    model_sentences,
    pct,
    recycling_sentences,
)
from reports.tune.page import KnobPage

SUMMARY_SCHEMA = 1
SECTION_TITLE = "MaxConnectionsPerChild (bench tune)"  # in a run report (reports.tune.section)
POINT_KEYS = ("rps", "rps_ci95", "server_rps", "p99_ms", "failures", "generator_bound", "flags",
              "children_seen", "children_spawned_per_s", "requests_per_child", "requests_per_connection",
              "connections", "warmup_ms", "startup_ms", "service_ms_mean", "rss_mb_end_of_life",
              "pss_mb_end_of_life", "fresh_rss_mb", "growth_kb_per_request")


def build(run: TuneRun) -> Path:
    """Write the report of a MaxConnectionsPerChild sweep into `run.dir/report/`; returns report.html's path."""
    out = prepare_out(run, tune_charts.FIGURES)
    figs = {}
    for fn in (tune_charts.chart_throughput, tune_charts.chart_memory, tune_charts.chart_check):
        block = fn(run, out)
        figs[block.name] = block
    block, child_notes = tune_charts.chart_child_memory(run, out)
    figs[block.name] = block
    cav = caveats(run, child_notes)  # after the figures: they record unreadable trial files in run.problems
    return write_report(out, compose(run, figs, cav), summary(run, figs, cav))


def recommendation(run: TuneRun) -> list[Block]:
    """The recommendation a run report shows when this sweep's tune.json sits next to its results.json."""
    blocks: list[Block] = []
    head = headline(run)
    if head:
        blocks.append(Para(head, "headline"))
    if run.directives:
        blocks.append(Code("\n".join(run.directives), "Paste into the prefork section of httpd.conf:", "apache"))
    if run.reasoning:
        blocks.append(Para(f"Why: {run.reasoning}"))
    if run.modes:
        blocks.append(recommendation_table(run))
    return blocks


# --- tables --------------------------------------------------------------------------------------
def _n(n: int) -> str:
    return "0 (never)" if n == 0 else str(n)


def recommendation_table(run: TuneRun) -> Table:
    rows = []
    for m in run.modes:
        c = run.conclusion(m)
        rec = c.recommended or Recommendation()
        loss, kind = rec.loss
        rows.append([
            m, DASH if rec.value is None else str(rec.value), rec.source or DASH,
            DASH if loss is None else f"{pct(loss, 2)} ({kind})", fmt_num(rec.rss_end_mb),
            DASH if rec.within is None else ("yes" if rec.within else "no"),
            pct(c.oos_error) if c.oos_error is not None else (
                "not checked" if c.out_of_sample and c.out_of_sample.to_json() else f"{pct(c.max_error)} (in sample)"),
        ])
    return Table(["keep-alive", "MaxConnectionsPerChild", "from", "throughput loss", "end-of-life RSS MB",
                  "within limits", "model's error out of sample"], rows,
                 "The model's recommendation for each keep-alive mode (before the confirmation)")


def confirmation_table(run: TuneRun) -> Table:
    conf = run.confirmation
    rows = []
    for r in conf.results:
        ci, pi = r.loss_ci95, r.prediction_interval
        rows.append([
            conf.mode or DASH, str(r.n), fmt_num(r.round), fmt_num(r.trials),
            pct(r.predicted_loss, 2), DASH if pi is None else f"{pct(pi[0], 2)} to {pct(pi[1], 2)}",
            pct(r.measured_loss, 2), DASH if ci is None else f"{pct(ci[0], 2)} to {pct(ci[1], 2)}",
            DASH if r.within_prediction is None else ("yes" if r.within_prediction else "no"),
            "yes" if r.meets_loss else "no", "yes" if r.meets_memory else "no",
            fmt_num(r.rss_mb_end_of_life), fmt_num(r.pss_mb_end_of_life),
            "yes" if r.n == conf.value else "",
        ])
    return Table(["keep-alive", "N", "round", "trials", "predicted loss", "prediction interval", "measured loss",
                  "95% CI", "within prediction", "meets loss limit", "meets memory budget", "end-of-life RSS MB",
                  "end-of-life PSS MB", "recommended"], rows,
                 "Predicted against measured at the confirmed value(s): each measured against N = 0, interleaved")


def points_table(run: TuneRun) -> Table:
    rows = []
    for p in run.points:
        lo, hi = p.ci or (None, None)
        loss = measured_loss(run, p)
        rows.append([
            p.mode, _n(p.n), str(len(p.trials)), fmt_num(p.rps), fmt_ci(lo, hi),
            DASH if loss is None or p.n == 0 else f"{-loss * 100:+.1f}%", fmt_num(p.server_rps),
            fmt_num(p.p99_ms), fmt_num(p.failures or 0.0), "yes" if p.generator_bound else "no",
            "; ".join(p.flags),
        ])
    return Table(["keep-alive", "N", "trials", "req/s", "95% CI", "vs N = 0", "req/s (log)", "p99 ms",
                  "failures", "generator-bound", "flags"], rows,
                 "Measured points: steady-state requests/s, medians over trials (Locust; \"log\": the access log)")


def check_table(run: TuneRun) -> Table:
    rows = []
    for m in run.modes:
        for c in run.conclusion(m).checks:
            signed = c.signed
            rows.append([m, _n(c.n), fmt_num(c.measured_rps), fmt_num(c.predicted_rps),
                         DASH if signed is None else fmt_signed_pct(signed),
                         fmt_num(c.held_out_predicted_rps), pct(c.held_out_error)])
    return Table(["keep-alive", "N", "measured req/s", "predicted req/s", "error (in sample)",
                  "held-out prediction", "error out of sample"], rows,
                 "The model's requests/s for each point's window against the measurement: fitted to every point "
                 "(in sample, not a check), and from a model fitted without that point (leave-one-out)")


def model_table(run: TuneRun) -> Table | None:
    params: list[tuple[Callable[[ModelParameters], float | None], str]] = [
        (lambda x: x.r0, "requests/s without recycling (R0)"), (lambda x: x.per_process_rps, "requests/s per process"),
        (lambda x: x.child_max_rps, "one child alone, requests/s (1 / service time)"),
        (lambda x: x.child_cost_ms, "cost of a new child, ms (start-up + warm-up)"),
        (lambda x: x.requests_per_connection, "requests per connection (k)"),
        (lambda x: x.fresh_rss_mb, "fresh child RSS, MB"),
        (lambda x: x.growth_kb_per_request, "RSS growth per request, KB")]
    models = {m: model for m in run.modes if (model := run.conclusion(m).model) and model.to_json()}
    if not models:
        return None
    rows = [[label, *(fmt_num(param(model)) for model in models.values())] for param, label in params]
    modes = list(models)
    return Table(["model input", *(mode_label(m) for m in modes)], rows,
                 "What the model was fitted to (measured at N = 0 and at the points that replaced children)")


def recycling_table(run: TuneRun) -> Table:
    rows = []
    for p in run.points:
        rows.append([p.mode, _n(p.n), *(fmt_num(v) for v in (
            p.children_seen, p.children_spawned_per_s, p.requests_per_child, p.requests_per_connection,
            p.connections, p.startup_ms, p.warmup_ms, p.service_ms_mean))])
    return Table(["keep-alive", "N", "children", "new per s", "req per child", "req per conn", "connections",
                  "start-up ms", "warm-up ms", "service ms"], rows,
                 "Recycling as measured in each point's steady window: children seen, new children per second, "
                 "requests per child and per connection (access log and /proc; medians over trials)")


def memory_table(run: TuneRun) -> Table:
    rows = [[p.mode, _n(p.n), *(fmt_num(v) for v in (
        p.rss_mb_end_of_life, p.pss_mb_end_of_life, p.fresh_rss_mb, p.growth_kb_per_request))] for p in run.points]
    return Table(["keep-alive", "N", "RSS at end of life MB", "PSS at end of life MB", "fresh RSS MB",
                  "growth KB/request"], rows, "Memory per child (median over the children seen)")


def trials_table(run: TuneRun) -> Table:
    rows = []
    for p in run.points:
        for t in p.trials:
            w = t.window
            rows.append([
                p.mode, _n(p.n), str(t.trial), t.dir or DASH,
                fmt_num(t.rps), fmt_num(t.server_rps), fmt_num(t.p99_ms),
                fmt_num(t.failures), "yes" if t.generator_bound else "no",
                DASH if w is None else f"{fmt_num(w[0])}–{fmt_num(w[1])}",
                "; ".join(t.flags),
            ])
    return Table(["keep-alive", "N", "trial", "folder", "req/s", "req/s (log)", "p99 ms", "failures",
                  "generator-bound", "window s", "flags"], rows,
                 collapsed=f"Every trial ({len(rows)}; window: seconds after Apache started)")


# --- document ------------------------------------------------------------------------------------
def compose(run: TuneRun, figs: dict[str, FigureBlock], cav: list[str]) -> Document:
    head = headline(run)
    rec: list[Block] = [Para(head, "headline")] if head else []
    if run.directives:
        rec.append(Code("\n".join(run.directives), "Paste into the prefork section of httpd.conf:", "apache"))
    else:
        rec.append(Para("No directives to recommend: " + (run.reasoning
                                                           or "the sweep stopped before the tuner concluded")
                        + ".", "warning"))
    reasoning = run.reasoning
    if run.directives and reasoning:
        rec.append(Para(f"Why: {reasoning}"))
    if run.modes:
        rec += [recommendation_table(run), Bullets([mode_sentence(run, m) for m in run.modes])]
    rec += bullets(confirmation_sentences(run))
    if run.confirmation.results:
        rec.append(confirmation_table(run))
    if cav:
        rec.append(caveat_note(cav, "sweep"))

    throughput: list[Block] = [points_table(run), *bullets(loss_sentences(run)), figs["tune1-throughput"]]
    model: list[Block] = [*bullets(model_sentences(run))]
    table = model_table(run)
    if table is not None:
        model.append(table)
    if any(run.conclusion(m).checks for m in run.modes):
        model.append(check_table(run))
    model += [figs["tune3-model-check"], Para(
        "The model: a child serves N x k requests, sharing the rate measured without recycling with the other "
        "children, after paying the measured start-up and warm-up; Apache's prefork parent replaces exited "
        "children in its once-a-second maintenance pass, doubling how many it starts per pass (simulated). "
        "Memory at the end of a life is the fresh size plus the growth per request x N x k.", "note")]
    recycling: list[Block] = [*bullets(recycling_sentences(run)), recycling_table(run)]
    memory: list[Block] = [*bullets(memory_sentences(run)), memory_table(run), figs["tune2-memory"],
                           figs["tune4-child-memory"]]
    cav_blocks: list[Block] = [Bullets(cav, "warning")] if cav else [Para("None found in this sweep's data.")]

    sections = [
        Section("recommendation", "Recommendation", rec),
        Section("throughput", "Throughput against MaxConnectionsPerChild", throughput),
        Section("model", "The model and its check", model),
        Section("recycling", "What recycling costs, measured", recycling),
        Section("memory", "Memory", memory),
        Section("caveats", "Caveats", cav_blocks),
        Section("setup", "Machine, versions and settings", setup_blocks(run)),
    ]
    meta = meta_line(run, "tune", f"{run.variant}/{run.workload}", f"{len(run.points)} points")
    return Document(f"{run.server} MaxConnectionsPerChild tuning: run {run.run_id}", meta, sections)


def setup_blocks(run: TuneRun) -> list[Block]:
    blocks = environment_blocks(run)
    if run.plan:
        blocks.append(KeyValues(kv(run.plan), "Plan (bench tune options)"))
    if run.stack:
        blocks.append(KeyValues(kv(run.stack), "Stack (Apache and PostgreSQL settings; the sweep sets KeepAlive "
                                                "and MaxConnectionsPerChild per point)"))
    r = run.record
    top = [(k, setting_text(v)) for k, v in (("run_id", r.run_id), ("kind", r.kind), ("created", r.created),
                                             ("finished", r.finished), ("complete", r.complete))]
    top.append(("tune schema", setting_text(r.schema)))
    blocks.append(KeyValues(top, "Run"))
    if any(p.trials for p in run.points):
        blocks.append(trials_table(run))
    conf = run.httpd_conf()
    if conf is not None:
        blocks.append(Pre(f"httpd.conf of {conf[0]} (the generated Apache configuration)", conf[1], "apache"))
    return blocks


# --- summary.json --------------------------------------------------------------------------------
def summary(run: TuneRun, figs: dict[str, FigureBlock], cav: list[str]) -> dict[str, Any]:
    """What the report shows, machine-readable; values are tune.json's, unrounded."""
    modes = {}
    for m in run.modes:
        c = run.conclusion(m)
        modes[m] = {
            "recommendation": c.recommended.to_json() if c.recommended else None, "max_error": c.max_error,
            "model_ok": c.model_ok,
            "model": {k: v for k, v in (c.model.to_json() if c.model else {}).items() if k != "curve"} or None,
            "check": [x.to_json() for x in c.checks], "reason": c.reason,
            "out_of_sample": (c.out_of_sample.to_json() if c.out_of_sample else {}) or None,
            "fitted_to": list(c.fitted_to),
        }
    points = []
    for p in run.points:
        entry: dict[str, Any] = {"keepalive": p.mode, "value": p.n, "trials": len(p.trials)}
        entry |= {k: p.to_json().get(k) for k in POINT_KEYS}
        entry["loss_vs_never"] = None if p.n == 0 else measured_loss(run, p)  # computed here: 1 - rps / rps(N=0)
        points.append(entry)
    return {
        "schema": SUMMARY_SCHEMA,
        "kind": "tune",
        "run_id": run.run_id,
        "complete": run.complete,
        "workload": run.workload,
        "variant": run.variant,
        "directives": run.directives,
        "reasoning": run.reasoning,
        "mode": run.advice_mode,
        "modes": modes,
        "points": points,
        "missing": [m.to_json() for m in run.missing],
        "confirmation": run.confirmation.to_json() or None,
        "caveats": cav,
        "figures": figure_files(figs),
    }


class RecyclingPage(KnobPage):
    knobs = ("max-connections-per-child",)
    section_title = SECTION_TITLE
    build = staticmethod(build)
    recommendation = staticmethod(recommendation)
