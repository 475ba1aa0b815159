"""What `bench tune` prints when a sweep ends: each knob's table, read from the tune record's classes
(bench.record.tune.TuneData), numbers through bench.console.fmt ("-" for not measured)."""

from __future__ import annotations

from bench.console import DASH, fmt
from bench.record.tune import TuneData
from bench.record.tune_conclusions import Check, Confirmation, ConfirmStatus
from bench.record.tune_points import Point


def recycling_table(record: TuneData) -> str:
    """The table after `bench tune` (MaxConnectionsPerChild): measured points, the model's check (out of
    sample only: a point the model was fitted to says "fitted"), the confirmation, the directive lines."""
    lines = [f"{'keepalive':<9} {'N':>6} {'req/s':>9} {'p99 ms':>7} {'children/s':>10} {'req/child':>9} "
             f"{'req/conn':>8} {'RSS MB':>7}  model"]
    for mode, c in record.modes.items():
        checks = {x.value: x for x in c.check}
        for p in record.mode_points(mode):
            lines.append(
                f"{mode:<9} {p.n:>6} {p.rps or 0:>9,.0f} {p.p99_ms or 0:>7.2f} "
                f"{p.children_spawned_per_s or 0:>10.2f} {fmt(p.requests_per_child, ',.0f'):>9} "
                f"{fmt(p.requests_per_connection, '.1f'):>8} {fmt(p.rss_mb_end_of_life, '.1f'):>7}  "
                + _check_text(checks.get(p.value)) + _p99_text(checks.get(p.value)))
    if record.missing:
        lines.append("not measured: " + ", ".join(f"N={m.value} keepalive {m.keepalive} trial {m.trial}"
                                                  for m in record.missing))
    for mode, c in record.modes.items():
        oos = c.out_of_sample
        if c.model and oos is not None and oos.to_json():
            fitted = ", ".join(str(v) for v in c.fitted_to)
            err = oos.max_error
            lines.append(f"model, keep-alive {mode}: fitted to N = {fitted or DASH}; error out of sample: "
                         + (f"{100 * err:.1f}% ({oos.text})" if err is not None else str(oos.text)))
    return "\n".join(lines + confirmation_lines(record.confirmation) + advice_lines(record))


def _check_text(chk: Check | None) -> str:
    if chk is None:
        return DASH
    has_held_out = "held_out_error" not in chk.absent  # absent: a record from before the check
    if chk.held_out_error is not None:
        return f"{chk.held_out_predicted_rps:,.0f} ({100 * chk.held_out_error:.1f}% off, held out)"
    if has_held_out and chk.recycled:
        return f"{chk.predicted_rps:,.0f} (fitted to it: not a check)"
    if chk.error is not None and not has_held_out:
        return f"{chk.predicted_rps:,.0f} ({100 * chk.error:.1f}% off, in sample)"
    return DASH


def _p99_text(chk: Check | None) -> str:
    """The model's p99 beside its rate at a point that recycled (records from before it: nothing)."""
    if chk is None or chk.predicted_p99_ms is None or not chk.recycled:
        return ""
    return f"; p99 {chk.predicted_p99_ms:,.0f} ms"


def confirmation_lines(conf: Confirmation | None) -> list[str]:
    state = conf.state if conf is not None else ConfirmStatus.NONE
    if conf is None or state == ConfirmStatus.NONE:
        return []
    if state == ConfirmStatus.SKIPPED:
        return ["", "confirmation: skipped (--no-confirm): the recommended value is UNCONFIRMED"]
    if conf.value is None:
        return ["", f"confirmation: {state}: the recommended value is UNCONFIRMED"] + (
            [f"    {conf.sentence}"] if conf.sentence else [])
    lines = ["", f"confirmation (keep-alive {conf.mode}, measured against N = 0, interleaved, "
             f"{conf.trials_per_value if conf.trials_per_value is not None else DASH} trials each):"]
    for r in conf.rounds:
        lines.append(f"    round {r.round}: N = {', '.join(str(v) for v in r.values)}, {r.duration_s:g} s "
                     "per trial" + (f" (CAPPED: {r.needed_s:g} s were needed for {conf.lives or 3} lives "
                                    f"per slot; --confirm-max-duration {conf.cap_s:g})" if r.capped else ""))
    for x in conf.results:
        ci, pi = x.loss_ci95, x.prediction_interval
        lines.append(f"    N = {x.value:<6} measured loss {fmt(x.measured_loss, '.1%')} "
                     f"(95% CI {fmt(ci[0], '.1%') if ci else DASH} to {fmt(ci[1], '.1%') if ci else DASH})  "
                     f"predicted {fmt(x.predicted_loss, '.1%')} "
                     f"({fmt(pi[0], '.1%') if pi else DASH} to {fmt(pi[1], '.1%') if pi else DASH})  "
                     f"end-of-life RSS {fmt(x.rss_mb_end_of_life, '.1f')} MB, "
                     f"PSS {fmt(x.pss_mb_end_of_life, '.1f')} MB"
                     + ("  (no child was replaced in its trials: noise, not recycling)" if x.observed is False else ""))
    lines.append(f"    {conf.sentence or ''}")
    return lines


def processes_table(record: TuneData) -> str:
    """The table after `bench tune --knob processes`: one line per pool size, the recommended one marked. With
    --slo, req/s is the capacity at the SLO (open model, p99 from the intended start), beside the closed loop's."""
    binding_n = record.sizing.value if record.sizing else None
    slo = record.plan.slo if record.plan else None
    rate = "at SLO" if slo else "req/s"
    closed = f" {'closed':>9}" if slo else ""
    lines = [f"{'procs':>5} {'users':>5} {rate:>9} {'p99 ms':>8}{closed} {'req/CPU-s':>9} {'PSS MB':>7} "
             f"{'N x PSS':>8}{connections_header(record)} {'limit':>9}"]
    for p in sorted(record.points, key=lambda p: p.n):
        limits = sorted({t.limit or DASH for t in p.trials})
        closed = f" {fmt(p.closed_rps, ',.0f'):>9}" if slo else ""
        users = p.trials[0].users if p.trials and p.trials[0].users is not None else DASH
        lines.append(f"{p.n:>5} {users:>5} {fmt(p.rps, ',.0f'):>9} "
                     f"{fmt(p.p99_ms, '.2f'):>8}{closed} {fmt(p.requests_per_cpu_second, ',.0f'):>9} "
                     f"{fmt(p.pss_mb, '.1f'):>7} "
                     f"{fmt(p.pss_mb * p.n if p.pss_mb else None, '.0f'):>8}{connections_cells(record, p)} "
                     f"{'/'.join(limits):>9}" + ("  <- recommended" if p.n == binding_n else ""))
    if slo:
        lines.append(f"at SLO: the largest offered rate that met {slo} (open model, p99 from the intended start); "
                     "closed: the closed loop's req/s with as many users")
    if record.missing:
        lines.append("not measured: " + ", ".join(f"{m.value} processes trial {m.trial}" for m in record.missing))
    return "\n".join(lines + advice_lines(record))


def threads_table(record: TuneData) -> str:
    """The table after `bench tune --knob threads` / `processes,threads`: one line per shape, the recommended one
    marked, then the directives with the binding constraint."""
    rec = record.sizing.shape if record.sizing else None
    lines = [f"{'procs':>5} {'threads':>7} {'users':>5} {'req/s':>9} {'p99 ms':>8} {'req/CPU-s':>9} "
             f"{'busy thr':>8} {'CPU %/proc':>10} {'PSS MB':>7}{connections_header(record)} {'limit':>9}"]
    for p in sorted(record.points, key=lambda p: (p.processes or 0, p.threads or 0)):
        users = p.trials[0].users if p.trials else None
        lines.append(f"{_whole(p.processes):>5} {_whole(p.threads):>7} {_whole(users):>5} "
                     f"{fmt(p.rps, ',.0f'):>9} {fmt(p.p99_ms, '.2f'):>8} "
                     f"{fmt(p.requests_per_cpu_second, ',.0f'):>9} {fmt(p.busy_threads, '.1f'):>8} "
                     f"{fmt(p.cpu_pct_per_process, '.0f'):>10} {fmt(p.pss_mb, '.1f'):>7}"
                     f"{connections_cells(record, p)} {'/'.join(sorted({t.limit or DASH for t in p.trials})):>9}"
                     + ("  <- recommended" if rec and (_int(p.processes), _int(p.threads)) == rec else ""))
    a = record.advice
    binding = a.binding if a is not None else None
    return "\n".join(lines + ["", f"recommended (binding: {binding or DASH}):"]
                     + [f"    {d}" for d in (a.directives if a else ())] + ["", (a.reasoning if a else None) or ""])


def _measured(record: TuneData) -> tuple[bool, bool]:
    """Whether the points carry PostgreSQL's connection figures, and PgBouncer's (older records: neither, and
    their tables stay as they were)."""
    return (any(p.pg_connections_peak is not None for p in record.points),
            any(p.pooler_cl_waiting_peak is not None for p in record.points))


def connections_header(record: TuneData) -> str:
    pg, pooler = _measured(record)
    return ((f" {'PG conns':>8} {'PG mean':>7}" if pg else "")
            + (f" {'cl wait':>7} {'maxwait ms':>10}" if pooler else ""))


def connections_cells(record: TuneData, p: Point) -> str:
    """The point's PostgreSQL server connections (peak, mean: medians over its trials) and, through PgBouncer,
    its clients' wait (peak waiting, longest wait)."""
    pg, pooler = _measured(record)
    out = f" {fmt(p.pg_connections_peak, '.0f'):>8} {fmt(p.pg_connections_mean, '.1f'):>7}" if pg else ""
    if pooler:
        out += f" {fmt(p.pooler_cl_waiting_peak, '.0f'):>7} {fmt(p.pooler_maxwait_ms_peak, '.0f'):>10}"
    return out


def _int(v: float | None) -> int | None:
    return None if v is None else int(v)


def _whole(v: float | None) -> str:
    return DASH if v is None else format(int(v), "d")


def advice_lines(record: TuneData) -> list[str]:
    a = record.advice
    return (["", "recommended:"] + [f"    {d}" for d in (a.directives if a else ())]
            + ["", (a.reasoning if a else None) or ""])
