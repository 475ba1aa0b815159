"""What the bench commands print on the terminal: the tables and lines of `bench run` and `bench sessions`.

Read from the records (results.json, sessions.json, trial dicts), never from live objects, so what is
printed is what was written. Every number goes through `fmt`: one rule for "not measured" ("-") and one
place for the digits. The report (reports/) has its own formatter (reports/kit/fmt.py) for HTML and
Markdown; the terminal keeps plain ASCII and fixed-width columns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bench.record import attribution
from bench.record.bottleneck import GENERATOR_SIDE, LIMITED_BY, Verdict, is_capacity
from bench.record.ladder import LadderCell, Probe, Stop
from bench.record.processes import process_medians
from bench.record.run_rows import Ceiling, CellRecord, CellSummary, OfferedRateRow, Speedup, cells_of
from bench.record.trial import LatencyModel, QueueTime, ServerFigures, TrialRecord
from bench.vocabulary import BASELINE, FACTORS

if TYPE_CHECKING:
    from bench.record.sessions import SessionsResult

DASH = "-"
OTHERS_NOTICE = 0.10  # flag a trial when processes not ours used this much of the server CPUs


def fmt(value: float | None, spec: str = ",.0f", scale: float = 1, unit: str = "") -> str:
    """`value` (times `scale`) formatted by `spec`, then `unit`; "-" when it was not measured (None)."""
    if value is None:
        return DASH
    return format(value if scale == 1 else value * scale, spec) + unit


def pct(fraction: float | None) -> str:
    """A fraction as a whole percent: 0.42 -> "42%"; "-" when not measured."""
    return fmt(fraction, ".0f", scale=100, unit="%")


def busy(others_util: float | None) -> bool:
    """True when other processes used enough of the server CPUs to say so."""
    return (others_util or 0) >= OTHERS_NOTICE


# bench run ---------------------------------------------------------------------------------------------------

def run_table(results: Sequence[CellRecord | dict[str, Any]]) -> str:
    """The table after `bench run`: one line per cell (results.json "results"), medians over its trials."""
    cells = cells_of(results)
    servers = any(cell.server for cell in cells)  # --servers: one more column
    vw = max([10, *(len(str(cell.variant)) for cell in cells)])  # an application's cell may be named at length
    head = (f"{'workload':<9} {'variant':<{vw}} " + (f"{'server':<10} " if servers else "")
            + f"{'req/s':>9} {'95% CI':>19} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'req/s/proc':>10} {'req/CPU-s':>9} {'RSS MB':>7} {'sess/1k':>8} {'limit':>9} {'srv CPU':>7}  flags")
    lines = [head, "-" * len(head)]
    for cell in cells:
        s = cell.summary
        if s is None or not s.to_json():
            continue
        ci = s.interval
        lines.append(
            f"{cell.workload:<9} {cell.variant:<{vw}} " + (f"{cell.server or DASH:<10} " if servers else "")
            + f"{fmt(s.rps):>9} "
            f"{(fmt(ci[0]) + ' - ' + fmt(ci[1])) if ci else DASH:>19} {fmt(s.p50_ms, '.2f'):>7} "
            f"{fmt(s.p99_ms, '.2f'):>7} {fmt(s.rps_per_process):>10} "
            f"{fmt(s.requests_per_cpu_second):>9} {fmt(s.rss_mb_per_process, '.1f'):>7} "
            f"{fmt(s.db_sessions_per_1000_requests, '.1f'):>8} {s.bottleneck or DASH:>9} "
            f"{pct(s.server_util):>7}  {' '.join(_cell_flags(s))}")
    spent = connections_table(cells)
    return "\n".join(lines + (["", spent] if spent else []))


CONNECTION_COLUMNS = ("workload/variant", "pg conns peak", "mean", "forks/s", "pooler clients peak",
                      "waiting peak", "max wait ms", "avg wait us")


def connections_table(results: Sequence[CellRecord | dict[str, Any]]) -> str:
    """Where the connections were spent, one line per cell (medians over its trials): PostgreSQL's server
    connections and backend forks, PgBouncer's clients and their wait ("-" for a variant not through it);
    "" when no cell measured them (a --url or --dsn run, an older folder)."""
    rows = []
    for cell in cells_of(results):
        s = cell.summary
        if s is None or s.server_connections_peak is None and s.client_connections_peak is None:
            continue
        where = f"{cell.workload}/{cell.variant}" + (f" on {cell.server}" if cell.server else "")
        rows.append([where, fmt(s.server_connections_peak, "g"), fmt(s.server_connections_mean, ".1f"),
                     fmt(s.backend_forks_per_s, ",.1f"), fmt(s.client_connections_peak, "g"),
                     fmt(s.cl_waiting_peak, "g"), fmt(s.maxwait_ms_peak, ",.1f"), fmt(s.avg_wait_time_us_mean, ",.0f")])
    if not rows:
        return ""
    return "\n".join(["connections (medians; pooler: PgBouncer, a variant through it only):",
                      *columns([list(CONNECTION_COLUMNS), *rows])])


def _cell_flags(s: CellSummary) -> list[str]:
    flags = []
    if s.faults:
        flags.append(f"{s.faults} TRIAL(S) WITH FAULTS")
    if s.failures:
        flags.append(f"{s.failures} FAILURES")
    if s.locust_vs_wrk is not None:
        flags.append(f"Locust/wrk {pct(s.locust_vs_wrk)}")
    if busy(s.others_util):
        flags.append(f"BUSY MACHINE (others used {pct(s.others_util)} of the server CPUs)")
    return flags


SpeedupKey = tuple[str | None, str | None, str, str | None]


def _keyed(entries: Sequence[Speedup]) -> dict[SpeedupKey, Speedup]:
    return {_key(s): s for s in entries}


def _key(s: Speedup) -> SpeedupKey:
    return s.workload, s.variant, s.baseline or BASELINE, s.server


def _speedups(entries: Any) -> list[Speedup]:
    """A results.json speedup list as records (records are passed through)."""
    return [s if isinstance(s, Speedup) else Speedup.from_json(s) for s in entries or []]


def speedup_lines(data: dict[str, Any]) -> list[str]:
    """The headline: each speedup as it may honestly be stated, with the cost ratio beside it; then the
    one-factor steps the variant table finds among the variants that ran ("prepared vs pooled")."""
    from bench.record.results import step_speedups  # statistics (scipy): loaded when a run prints, not at start

    ran = [c for c in cells_of(data.get("results") or []) if c.trials]
    table = attribution.of_stack(data.get("stack"))  # an --app-variant run: the application's own
    effects = {(st.new, st.base): st.effect for st in table.steps(sorted({c.key.variant for c in ran}))}
    cost = _keyed([*_speedups(data.get("cpu_speedups")), *step_speedups(ran, "requests_per_cpu_second", table)])
    cross_checked = any(t.wrk is not None for c in ran for t in c.trials)
    wrk_ = _keyed([*_speedups(data.get("wrk_speedups")),
                   *(step_speedups(ran, "wrk_rps", table) if cross_checked else [])])
    # a cell whose ladder found that more users did not raise its rate: its limit is not the users
    climbed = {(str(c.workload), str(c.variant)): c for c in LadderCell.all_of(data) if c.stop != Stop.SERVER}
    lines = []
    for s in [*_speedups(data.get("speedups")), *step_speedups(ran, variants=table)]:
        effect = effects.get((str(s.variant), str(s.baseline)))
        c = cost.get(_key(s))
        line = (f"{s.variant} vs {s.baseline} on {s.where}{f' ({effect})' if effect else ''}: "
                f"{headline(s, c, climbed.get((str(s.workload), str(s.variant))))}")
        if (w := wrk_.get(_key(s))) is not None:
            line += f"; wrk {w.ratio:.2f}x"
        lines.append(line)
    if (data.get("stack") or {}).get("app"):
        lines += split_lines(ran, table)
    ceiling = Ceiling.of(data.get("generator_ceiling"))
    if ceiling is not None:
        lines.append(f"generator ceiling (Locust on /plaintext, {fmt(ceiling.users, 'g')} users, same CPUs): "
                     f"{fmt(ceiling.rps)} req/s" + (f"; wrk {fmt(ceiling.wrk_rps)} req/s" if ceiling.wrk_rps else ""))
    return lines


def split_lines(ran: Sequence[CellRecord], table: attribution.Variants) -> list[str]:
    """An --app-variant run whose four corners ran: the all-kept over none-kept speedup split into its two
    factors (stats.decompose_2x2, as the report splits the suite's pooled vs naive)."""
    from bench.record.stats import decompose_2x2

    sq = table.square()
    if sq is None:
        return []
    lines = []
    by_key = {(c.key.workload, c.key.variant, c.key.server): c for c in ran}
    for workload, server in dict.fromkeys((c.key.workload, c.key.server) for c in ran):
        cells = [by_key.get((workload, v, server)) for v in sq.variants]
        if any(c is None for c in cells):
            continue
        split = decompose_2x2(*([v for v in c.column("rps") if v is not None] for c in cells if c is not None))
        if split is None:
            continue
        parts = [f"{FACTORS[sq.first]} {_effect(split.pooling)}", f"{FACTORS[sq.second]} {_effect(split.caching)}",
                 f"interaction {_effect(split.interaction)}"]
        lines.append(f"2x2 split of {sq.both} vs {sq.base} ({_effect(split.total)}) on {workload}: "
                     + ", ".join(parts) + f" [{sq.first_only} keeps {FACTORS[sq.first]}, {sq.second_only} "
                     f"{FACTORS[sq.second]}]")
    return lines


def _effect(e: Any) -> str:
    return f"{e.factor:.2f}x" + (f" (95% CI {e.lo:.2f}-{e.hi:.2f})" if e.lo is not None and e.hi is not None else "")


def _ci(s: Speedup) -> str:
    return f"95% CI {s.ci95[0]:.2f}-{s.ci95[1]:.2f}" if s.ci95 else "one trial: no interval"


def headline(s: Speedup, cost: Speedup | None, climbed: LadderCell | None = None) -> str:
    """A speedup in the reader's terms. Both cells server-bound: the closed-loop ratio is the capacity ratio. A cell
    bound by the generator, or whose ladder (`climbed`: the variant's cell) stopped short of a busy server (more users
    gained nothing, passed the p99 ceiling or were above the ladder's top): the generator-independent ratio (per
    server CPU-second) leads, and the closed-loop one follows with what bound it. Otherwise: the ratio as it may be
    stated."""
    labels = [label for label in (s.bottlenecks or {}).values() if label]
    closed = f"{s.text or f'{s.ratio:.2f}x'} ({_ci(s)})"
    bound = [f"{LIMITED_BY[label]} (Locust)" for label in dict.fromkeys(labels) if label in GENERATOR_SIDE]
    if not bound and climbed is not None and not is_capacity((s.bottlenecks or {}).get(str(s.variant))):
        # "too few users" would contradict the ladder: the closed loop itself (users = processes) is the limit
        closed = f"at least {s.ratio:.2f}x ({_ci(s)})"
        bound = [f"the closed loop ({climbed.stop}: {climbed.reason})"]
    if bound and cost is not None and cost.ratio is not None:
        return (f"{cost.ratio:.2f}x per server CPU-second ({_ci(cost)}); closed loop {closed}, "
                f"bound by {' and '.join(bound)}")
    if labels and all(is_capacity(label) for label in labels) and len(labels) == 2:
        closed = f"{closed}, capacity ratio (both cells server-bound)"
    return closed + (f"; per server CPU-second {cost.ratio:.2f}x" if cost is not None else "")


def trial_line(trial: TrialRecord | dict[str, Any]) -> str:
    """The progress line under each trial of `bench run`."""
    t = TrialRecord.of(trial)
    server, b = t.server or ServerFigures(), t.bottleneck or Verdict()
    text = (f"    {fmt(t.client.rps)} req/s (server {fmt(server.rps)}), "
            f"p99 {fmt(t.client.p99_ms, '.2f')} ms, {t.users} users, limit "
            f"{b.bottleneck or DASH} (server CPUs {pct(b.server_util)} busy"
            + (f" + {pct(b.others_util)} by other processes" if busy(b.others_util) else "")
            + f", busiest Locust process {pct(b.generator_busiest)} of a core)")
    if t.wrk is not None:
        text += f", wrk {fmt(t.wrk.rps)} req/s"
    if t.workers:
        text += ", workers " + ", ".join(f"{w.host}/{w.pid} {fmt(w.cpu_pct, '.0f')}% CPU"
                                         + (" (lost)" if w.lost else "") for w in t.workers.values())
        if t.cpu is not None and t.cpu.master_pct is not None:
            text += f", master {fmt(t.cpu.master_pct, '.0f')}% CPU"
    text += model_text(t) + connections_text(t)
    return text + (f"  [{'; '.join(t.faults)}]" if t.faults else "")


def model_text(trial: TrialRecord | dict[str, Any]) -> str:
    """The trial line's tail: the load model of its latency, the open figures, the hidden queue."""
    t = TrialRecord.of(trial)
    o = t.open
    text = ""
    if t.latency_model == LatencyModel.OPEN and o is not None:
        text += (f"; OPEN MODEL {fmt(o.rate, 'g')} req/s offered ({o.arrival}): p99 from intended start "
                 f"{fmt(o.p99_ms, '.2f')} ms, {o.dropped} dropped, {o.late} late, {o.unfinished} "
                 f"unfinished (the p99 above is from the send)")
    elif t.latency_model == LatencyModel.CLOSED:
        text += "; closed loop"
    q, qt = t.accept_queue, t.queue_time or QueueTime()
    if q is not None and q.samples:
        text += (f"; accept queue median {fmt(q.median, 'g')} max {fmt(q.max, 'g')}, time outside a child "
                 f"p50 {fmt(qt.p50_ms, '.2f')} ms")
    return text


def connections_text(trial: TrialRecord | dict[str, Any]) -> str:
    """The trial line's tail: PostgreSQL connections and forks, and through PgBouncer its clients' wait."""
    c = TrialRecord.of(trial).connections
    if c is None or c.server_connections_peak is None:
        return ""
    text = f"; pg conns peak {fmt(c.server_connections_peak, 'g')}, forks {fmt(c.backend_forks_per_s, ',.1f')}/s"
    if c.client_connections_peak is not None:
        text += (f", pooler {fmt(c.client_connections_peak, 'g')} clients, {fmt(c.cl_waiting_peak, 'g')} waiting, "
                 f"max wait {fmt(c.maxwait_ms_peak, ',.1f')} ms")
    return text


def open_lines(data: dict[str, Any]) -> list[str]:
    """After `bench run`: which load model produced the latencies above, and with --rate the table per rate."""
    rows = OfferedRateRow.rows(data)
    if not rows:
        return ["latencies above: closed loop (each user waits for its answer; stalls are hidden), "
                "client p50/p99 from the send"]
    head = (f"{'workload':<9} {'variant':<10} {'offered':>8} {'answered':>9} {'p50 ms':>9} {'p99 ms':>9} "
            f"{'p99.9 ms':>9} {'dropped':>8} {'late':>7} {'%D p99':>7} {'req/CPU-s':>9}  verdict")
    lines = ["", "open model (--rate): latency from the intended start (HdrHistogram), medians over trials",
             head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.workload:<9} {r.variant:<10} {fmt(r.rate, 'g'):>8} {fmt(r.rps):>9} "
                     f"{fmt(r.p50_ms, '.2f'):>9} {fmt(r.p99_ms, '.2f'):>9} {fmt(r.p999_ms, '.2f'):>9} "
                     f"{fmt(r.dropped, 'g'):>8} {fmt(r.late, 'g'):>7} {fmt(r.server_p99_ms, '.2f'):>7} "
                     f"{fmt(r.requests_per_cpu_second):>9}  {'met' if r.met else r.why}")
    lines.append("latencies of the table above the speedups: from the send, by the open model's connections")
    return lines


PROCESS_COLUMNS = ("server", "workload/variant", "processes", "req/s", "busy threads (mean, peak)", "CPU %",
                   "req/CPU-s (its own)")


def per_process_table(trials: Sequence[TrialRecord | dict[str, Any]]) -> str:
    """The per Python process table after `bench run` (trials with per_process_threads, bench.load.per_process):
    one line per cell, medians over its trials (bench.record.processes); "" when none recorded them."""
    cells: dict[tuple[str, str, str], list[TrialRecord]] = defaultdict(list)
    for t in map(TrialRecord.of, trials):
        if t.per_process_threads is not None:
            cells[(t.server_module or "", str(t.workload or "?"), str(t.variant or "?"))].append(t)
    rows = []
    for (server, workload, variant), cell in sorted(cells.items()):
        m = process_medians([t.per_process_threads for t in cell])
        if m is not None:
            rows.append([server or DASH, f"{workload}/{variant}", _count(m.processes, whole=True), _count(m.rps),
                         f"{_count(m.busy_threads)}, {_count(m.busy_peak)}", _count(m.cpu_pct),
                         _count(m.requests_per_cpu_s)])
    if not rows:
        return ""
    return "\n".join(["per Python process (medians):", *columns([list(PROCESS_COLUMNS), *rows])])


def columns(rows: list[list[str]]) -> list[str]:
    """Rows of values as lines, each value left-aligned in a column as wide as its widest value or header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(f"{v:<{w}}" for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _count(value: float | None, whole: bool = False) -> str:
    """A median of per-process figures: one decimal (rounded to two first, as the figures are), a count whole."""
    if value is None:
        return DASH
    return fmt(value, ",.0f") if whole else fmt(round(value, 2), ",.1f")


def ceiling_line(ceiling: dict[str, Any]) -> str:
    """The progress line after the generator-ceiling trial (results.json "generator_ceiling")."""
    c = Ceiling.of(ceiling)
    if c is None:
        return f"    Locust {DASH} req/s"
    return f"    Locust {fmt(c.rps)} req/s" + (f", wrk {fmt(c.wrk_rps)} req/s" if c.wrk_rps else "")


def probe_line(probe: Probe) -> str:
    """The progress line after one rung of a cell's ladder."""
    return (f"    probe {fmt(probe.users, 'g')} users: {fmt(probe.rps)} req/s, p99 {fmt(probe.p99_ms, '.2f')} ms, "
            f"server CPUs {pct(probe.server_util)} busy, busiest Locust process {pct(probe.generator_busiest)} "
            "of a core")


def saturation_line(workload: str, variant: str, users: int, trial: TrialRecord | dict[str, Any]) -> str:
    """The progress line after one step of a saturation probe."""
    t = TrialRecord.of(trial)
    return (f"    saturation {workload}/{variant} at {users} users: {fmt(t.client.rps)} req/s, "
            f"p99 {fmt(t.client.p99_ms, '.2f')} ms, limit {t.limit}")


# bench sessions ----------------------------------------------------------------------------------------------

def sessions_table(results: Sequence[SessionsResult] | dict[str, Any]) -> str:
    """The table after `bench sessions`: one line per process count and keep-alive mode (sessions.json, read by
    bench.record.sessions.read_sessions; a sessions.json dict is read here)."""
    from bench.record.sessions import SessionsRun  # with the folder reader (scipy): loaded when it prints

    rows = SessionsRun.results_of(results) if isinstance(results, dict) else results
    head = (f"{'procs':>5} {'keep-alive':>10} {'forgotten':>9} {'expected':>8} {'unknown':>8} {'pids':>4} "
            f"{'process ms':>10} {'shared ms':>9} {'shared +ms':>10} {'shared unknown':>14}")
    lines = [head, "-" * len(head)]
    for r in rows:
        p, s = r.process, r.shared
        lines.append(f"{fmt(r.processes, 'g'):>5} {r.mode:>10} "
                     f"{fmt(p.forgotten_rate, '.0%'):>9} {fmt(r.expected_forgotten_rate, '.0%'):>8} "
                     f"{fmt(p.unknown_rate, '.0%'):>8} {fmt(p.pids_seen, 'g'):>4} {fmt(p.server_ms_p50, '.3f'):>10} "
                     f"{fmt(s.server_ms_p50, '.3f'):>9} {fmt(r.shared_extra_ms, '+.3f'):>10} "
                     f"{fmt(s.unknown_rate, '.0%'):>14}")
    lines.append("forgotten: returning requests served by another process than the one that issued the cookie "
                 "(/session/process); /session/shared forgets none. ms: median server time (%D).")
    return "\n".join(lines)
