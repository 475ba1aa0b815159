"""Sentences written from the data: the headline, the 2x2 split, capacity, cost and the caveats.

Every sentence is built from numbers of this run and only appears when its data is there; nothing here
is boilerplate that would read the same for any run.
"""

from __future__ import annotations

from bench.record.attribution import FACTORS, Square
from bench.record.bottleneck import LIMITED_BY, Bottleneck
from bench.record.run_folder import Run
from bench.record.run_rows import Speedup, TrialRow
from reports.kit.fmt import dash_or, fmt_ci, fmt_num, fmt_ratio
from reports.run.analysis import Analysis, CapacityRow, cpu_ms_per_request, server_groups

ACCESS_LOG_TOLERANCE = 0.02  # access log vs Locust counts: above this, say so
BUSY_MACHINE = 0.10  # others_util from here on: say the machine was busy (bench run flags the same)
NOT_PARTITIONED = ("Not partitioned: Locust shared the CPUs with the server, so the client-side rates measure "
                   "their contention, not the server alone (requests per server CPU-second do not depend on it).")


def limited_by(label: str | None) -> str:
    """A bottleneck label in words: "the server", "too few users" ..."""
    return dash_or(label, lambda v: "the server" if v == Bottleneck.SERVER else LIMITED_BY.get(v, v))


def headline_rows(run: Run, an: Analysis) -> list[Speedup]:
    """Per workload (and server), the speedup of `pooled` over naive (or the largest one when pooled is absent)."""
    out = []
    for workload, server in server_groups(run):
        rows = [r for r in an.speedups if r.workload == workload and r.server == server and r.baseline == an.baseline]
        if not rows:
            continue
        pooled = [r for r in rows if r.variant == an.top]
        # rows read by Speedup.of: the ratio is set
        out.append(pooled[0] if pooled else max(rows, key=lambda r: r.ratio or 0.0))
    return out


def _ci_words(run: Run, row: Speedup) -> str:
    new, base = run.cell(row.workload, row.variant, row.server), run.cell(row.workload, row.baseline, row.server)
    single = any(c is not None and len(c.trials) < 2 for c in (new, base))
    if row.lo is None:
        return "no interval: fewer than 2 trials"
    if single:
        return f"95% CI {fmt_ci(row.lo, row.hi)}, from a single trial: no real interval"
    return f"95% CI {fmt_ci(row.lo, row.hi)}"


def headline_text(run: Run, row: Speedup, an: Analysis | None = None) -> str:
    """The speedup as it may honestly be stated (what limited each side), and beside it the cost ratio."""
    ci = _ci_words(run, row)
    if row.text:
        text = f"Requests/s, {row.variant} over {row.baseline} on {row.where}: {row.text} ({ci})"
    else:  # older folders: no labels, only generator_bound
        text = (f"{row.variant} served {fmt_ratio(row.ratio)} the requests/s of {row.baseline} "
                f"on {row.where} ({ci})")
        cell = run.cell(row.workload, row.variant, row.server)
        if cell is not None and cell.summary.generator_bound:
            text += f"; the {row.variant} trials were generator-bound, so the server's true ratio is likely higher"
    cost = cost_row(an, row) if an is not None else None
    if cost is not None:
        cost_ci = f" (95% CI {fmt_ci(cost.lo, cost.hi)})" if cost.lo is not None else ""
        text += (f". Per server CPU-second, {row.variant} did {fmt_ratio(cost.ratio)}{cost_ci} the work of "
                 f"{row.baseline}: a cost ratio that does not depend on the load generator")
    return text + "."


def cost_row(an: Analysis, row: Speedup) -> Speedup | None:
    return next((r for r in an.cpu_speedups if (r.workload, r.variant, r.baseline, r.server)
                 == (row.workload, row.variant, row.baseline, row.server)), None)


def rate_sentence(run: Run, row: Speedup) -> str | None:
    new, base = run.cell(row.workload, row.variant, row.server), run.cell(row.workload, row.baseline, row.server)
    if new is None or base is None or new.summary.rps is None or base.summary.rps is None:
        return None
    return (f"On {row.where}: {row.variant} {fmt_num(new.summary.rps)} req/s, "
            f"{row.baseline} {fmt_num(base.summary.rps)} req/s (medians over trials).")


def split_sentences(an: Analysis) -> list[str]:
    sq = an.square
    if sq is None:
        return []
    first, second = FACTORS[sq.first], FACTORS[sq.second]
    out = []
    for workload, s in an.splits.items():
        share = s.pooling_share
        share_txt = "" if share is None else f"; {first} is {share * 100:.0f}% of the gain on a log scale"
        out.append(
            f"On {workload}, of the {fmt_ratio(s.total.factor)} of {sq.both} over {sq.base}, {first} accounts for "
            f"{fmt_ratio(s.pooling.factor)} (95% CI {fmt_ci(s.pooling.lo, s.pooling.hi)}) and {second} "
            f"for {fmt_ratio(s.caching.factor)} (95% CI {fmt_ci(s.caching.lo, s.caching.hi)})"
            f"{share_txt}; the interaction is {fmt_ratio(s.interaction.factor)}."
        )
    return out


def split_method(sq: Square) -> str:
    """How the split is computed, in the variant names of the table's square; "pooling" and "caching" are
    the effects of its first and second factor (stats.Split's fields)."""
    b, f, s, both = (f"L[{v}]" for v in sq.variants)
    return (
        "Method: log-ratio decomposition of the 2x2 (the Shapley split of two factors). With L the log of a "
        f"cell's median requests/s, pooling = mean({f} - {b}, {both} - {s}) and "
        f"caching = mean({s} - {b}, {both} - {f}); the two add up to "
        f"{both} - {b} exactly and are shown as factors. The interaction "
        f"{both} - {f} - {s} + {b} is above 1x when the two together buy more than "
        "each alone. Intervals: 95% percentile bootstrap over trials (10,000 resamples, fixed seed)."
    )


def step_sentences(an: Analysis) -> list[str]:
    """One factor at a time, for variants outside the 2x2: "On db, prepared vs pooled: 1.20x (95% CI ...), the
    effect of prepared statements, the one factor they differ by"."""
    return [f"On {r.where}, {r.variant} vs {r.baseline}: {fmt_ratio(r.ratio)} (95% CI {fmt_ci(r.lo, r.hi)}), "
            f"{r.effect or 'the effect of a kept resource'}." for r in an.steps]


def capacity_sentences(run: Run, an: Analysis) -> tuple[list[str], str]:
    """One sentence per workload, and the sentence saying what the numbers rest on."""
    out = []
    for workload, server in server_groups(run):
        rows = {r.variant: r for r in an.capacity if r.workload == workload and r.server == server}
        if not rows:
            continue
        main = rows.get(an.top) or max(rows.values(), key=lambda r: r.rps_per_process)
        served = f" under {server}" if server else ""
        text = (f"To serve {an.target_rps} req/s of {main.variant} {workload}{served} you need {_about(main)} "
                f"{_procs(main)}")
        if main.mb_pss is not None:
            text += f", {_about(main)} {fmt_num(main.mb_pss)} MB (PSS)"
        elif main.mb_rss is not None:
            text += f", {_about(main)} {fmt_num(main.mb_rss)} MB (RSS)"
        naive = rows.get(an.baseline)
        if naive is not None and naive is not main:
            text += f"; with {an.baseline} handlers {_about(naive)} {_procs(naive)}"
            if naive.mb_pss is not None:
                text += f", {fmt_num(naive.mb_pss)} MB"
        out.append(text + "." + _capacity_basis([main] + ([naive] if naive is not None and naive is not main
                                                         else [])))
    procs = run.settings.processes if run.settings is not None else None
    users, cores = run.options.users, run.machine.get("cores")
    basis = "Per-process rates are requests/s divided by the processes serving"
    if procs is not None and cores is not None:
        basis += f", measured with {users} users on {procs} Apache processes sharing {cores} cores"
    basis += ("; on a machine with more cores per process a process can serve more. "
              "Memory is processes x median PSS per process (PSS shares common pages fairly; "
              "RSS x processes over-counts shared libraries).")
    return out, basis


def _about(row: CapacityRow) -> str:
    # Not server-bound: a process can serve more than measured, so fewer processes may do.
    return "at most" if row.limit is not None and not row.is_capacity else "about"


def per_process_words(row: CapacityRow) -> str:
    """Requests/s per process, called a capacity only when the server was the limit."""
    if row.limit is None:
        return f"{fmt_num(row.rps_per_process)} req/s per process"
    if row.is_capacity:
        return f"{fmt_num(row.rps_per_process)} req/s per process (capacity: the server was the limit)"
    return (f"at least {fmt_num(row.rps_per_process)} req/s per process (a lower bound: limited by "
            f"{limited_by(row.limit)})")


def _capacity_basis(rows: list[CapacityRow]) -> str:
    if all(r.limit is None for r in rows):
        return ""
    return " " + "; ".join(f"{r.variant}: {per_process_words(r)}" for r in rows) + "."


def _procs(row: CapacityRow) -> str:
    return f"{row.processes} process" + ("" if row.processes == 1 else "es")


def cost_sentences(run: Run, an: Analysis) -> list[str]:
    out = []
    for workload, server in server_groups(run):
        parts = []
        for variant in run.variants:
            cell = run.cell(workload, variant, server)
            if cell is None:
                continue
            ms = cpu_ms_per_request(cell.summary.requests_per_cpu_second)
            sess = cell.summary.db_sessions_per_1000_requests
            if ms is None and sess is None:
                continue
            bits = []
            if ms is not None:
                bits.append(f"{fmt_num(ms)} ms of server CPU")
            if sess is not None:
                bits.append(f"{fmt_num(sess)} PostgreSQL sessions per 1000 requests")
            parts.append(f"{variant} {' and '.join(bits)}")
        if parts:
            text = f"Per request on {workload}{f' under {server}' if server else ''}: " + "; ".join(parts) + "."
            eff = [r for r in an.cpu_speedups
                   if r.workload == workload and r.server == server and r.variant == "pooled"]
            if eff:
                r = eff[0]
                ci = f" (95% CI {fmt_ci(r.lo, r.hi)})" if r.lo is not None else ""
                text += (f" Per server CPU-second, pooled did {fmt_ratio(r.ratio)}{ci} the work of "
                         f"{r.baseline}.")
            out.append(text)
    return out


def memory_sentences(run: Run, an: Analysis) -> list[str]:
    parts = []
    for cell in an.cells:
        rss, pss = cell.summary.rss_mb_per_process, cell.summary.pss_mb_per_process
        if rss is None and pss is None:
            continue
        parts.append(f"{cell.label} RSS {fmt_num(rss)} MB / PSS {fmt_num(pss)} MB")
    if not parts:
        return []
    return ["Median memory per Apache process: " + "; ".join(parts) + "."]


def caveats(run: Run, an: Analysis) -> list[str]:
    """The caveats that apply to this run, most serious first."""
    trials = run.trials()
    out = [*url_caveat(run), *incomplete_caveat(run, trials), *limit_caveats(run, trials),
           *generator_bound_caveat(run, trials), *failure_caveat(trials), *access_log_caveat(trials),
           *connection_caveats(run), *sample_caveats(an)]
    if run.notes:
        out.append("Notes recorded with the run: " + "; ".join(run.notes) + ".")
    if an.computed:
        out.append("Computed by this report because results.json lacks them: " + "; ".join(an.computed) + ".")
    if run.problems:
        out.append("Some trial files could not be used: " + "; ".join(dict.fromkeys(run.problems)) + ".")
    return out


def url_caveat(run: Run) -> list[str]:
    if run.source != "url":
        return []
    url = run.options.url
    return [f"This run drove an existing server{f' at {url}' if url else ''} (--url): only client-side data "
            "(Locust) exists. Server-side numbers (access log, per-process rates, CPU, memory, PostgreSQL "
            "sessions) are absent, and per-process rates, where shown, divide the client's rate by the PIDs seen."]


def incomplete_caveat(run: Run, trials: list[TrialRow]) -> list[str]:
    if run.complete:
        return []
    planned = len(run.options.order)
    missing = run.missing_trials()
    text = "This run is incomplete (interrupted or crashed"
    text += ", no finish time)" if run.finished is None else ")"
    if planned:
        text += f": {len(trials)} of {planned} planned trials have results"
    if missing:
        shown = [m.label for m in missing[:20]]
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        text += ". Missing: " + "; ".join(shown) + more
    return [text + ". Intervals and speedups use the trials present."]


def generator_bound_caveat(run: Run, trials: list[TrialRow]) -> list[str]:
    """Older folders only: trials that say they were generator-bound (newer ones label every limit)."""
    bound = [t for t in trials if t.generator_bound]
    if not bound or run.labelled:
        return []
    return [f"{len(bound)} of {len(trials)} trials {'was' if len(bound) == 1 else 'were'} generator-bound "
            "(Locust ran out of CPU): " + ", ".join(t.label for t in bound)
            + ". Their requests/s measure the load generator, not Apache, so speedups involving them are "
            "lower bounds; server CPU per request (figure 6) does not depend on the generator."]


def failure_caveat(trials: list[TrialRow]) -> list[str]:
    failed = []
    for t in trials:
        n_fail = t.failures or 0
        if t.failed or n_fail > 0:
            pct = f" ({n_fail / t.requests * 100:.2f}%)" if t.requests else ""
            failed.append(f"{t.label}: {fmt_num(n_fail)} failed{pct}")
        if t.error_status:
            codes = ", ".join(f"{c}: {fmt_num(v)}" for c, v in t.error_status)
            failed.append(f"{t.label}: access log status {codes}")
    return ["Some requests failed: " + "; ".join(failed) + "."] if failed else []


def access_log_caveat(trials: list[TrialRow]) -> list[str]:
    disagree = [f"{t.label} ({t.access_vs_locust * 100:.1f}%)" for t in trials
                if t.access_vs_locust is not None and t.access_vs_locust > ACCESS_LOG_TOLERANCE]
    if not disagree:
        return []
    return [f"The access log and Locust disagree on the request count by more than "
            f"{ACCESS_LOG_TOLERANCE * 100:.0f}% in: " + ", ".join(disagree)
            + ". One of the two lost or added requests; treat those trials' rates with care."]


def connection_caveats(run: Run) -> list[str]:
    """How connections were used (KeepAlive, the client closing them) and a --quick run."""
    out, plan, stack = [], run.options, run.settings
    if stack is not None and stack.keepalive is True:
        mkr = stack.max_keepalive_requests
        out.append(
            f"KeepAlive was on (timeout {stack.keepalive_timeout} s, MaxKeepAliveRequests "
            f"{'unlimited' if mkr in (0, None) else mkr}): clients reuse connections, so TCP setup is not "
            f"part of a request's cost, and MaxConnectionsPerChild "
            f"({stack.max_connections_per_child}) counts connections, not requests.")
    elif stack is not None and stack.keepalive is False:
        out.append("KeepAlive was off: every request opened a new TCP connection, which adds the same "
                   "cost to every variant and narrows the ratios.")
    if plan.connection_close:
        out.append("The client closed its connection after every request (connection_close): each request "
                   "paid for a TCP connection, as in a no-keep-alive deployment.")
    if plan.quick:
        out.append("Quick run (--quick): short trials meant as a smoke test, not for decisions.")
    return out


def sample_caveats(an: Analysis) -> list[str]:
    """Too few trials for a bootstrap interval; latencies Locust rounded to whole milliseconds."""
    out = []
    counts = [len(c.trials) for c in an.cells]
    if counts and min(counts) < 3:
        out.append(
            f"Only {min(counts)} trial(s) for some workload/variant: with fewer than 3 trials the 95% "
            "intervals of requests/s are [min, max] over trials, not bootstrap intervals.")
    lat = [v for c in an.cells for v in (c.summary.p50_ms, c.summary.p90_ms, c.summary.p99_ms) if v is not None]
    small = [v for v in lat if v < 100]
    if small and all(float(v).is_integer() for v in small):
        out.append("The latency percentiles are whole milliseconds (Locust rounds times below 100 ms), so "
                   "sub-millisecond differences between variants are invisible in them.")
    return out


def limit_caveats(run: Run, trials: list[TrialRow]) -> list[str]:
    """What limited the trials, whether the CPUs were partitioned, faults, and a busy machine."""
    out = [c for c in (partition_caveat(run), fault_caveat(trials), busy_caveat(trials)) if c]
    if not run.labelled:
        if trials:
            out.append("This run folder predates bottleneck labels: whether a rate was the server's capacity or "
                       "a lower bound held back by the generator or too few users is unknown (only "
                       "generator-bound trials were flagged).")
        return out
    held = [t for t in trials if t.limit not in ("server", None)]
    if held:
        by_label: dict[str, list[str]] = {}
        for t in held:
            by_label.setdefault(limited_by(t.limit), []).append(t.label)
        parts = "; ".join(f"{label}: {', '.join(names)}" for label, names in by_label.items())
        out.append(f"{len(held)} of {len(trials)} trials {'was' if len(held) == 1 else 'were'} not limited by the "
                   f"server ({parts}). Their requests/s are lower bounds of what the server can do, not "
                   "capacities; speedups involving them read \"at least\", \"at most\" or \"about\". Requests "
                   "per server CPU-second do not depend on the generator.")
    return out


def partition_caveat(run: Run) -> str | None:
    stack, plan = run.settings, run.options
    if run.source != "embedded" or stack is None:
        return None
    if not stack.partition_recorded and not plan.partition_recorded:
        return ("No CPU partition recorded (a run folder from before partitioning existed): Locust most likely "
                "shared the CPUs with the server.")
    return None if stack.server_cpus and plan.generator_cpus else NOT_PARTITIONED


def fault_caveat(trials: list[TrialRow]) -> str | None:
    faulty = [f"{t.label}: {'; '.join(t.faults)}" for t in trials if t.faults]
    if not faulty:
        return None
    return ("Faults during trials (their figures include the disruption): " + "; ".join(faulty) + ".")


def busy_caveat(trials: list[TrialRow]) -> str | None:
    busy = [(v, t) for t in trials if (v := t.others_util) is not None and v >= BUSY_MACHINE]
    if not busy:
        return None
    worst = max(v for v, _ in busy)
    names = ", ".join(f"{t.label} ({v * 100:.0f}%)" for v, t in busy)
    return (f"A busy machine: processes not of this benchmark used up to {worst * 100:.0f}% of the server CPUs "
            f"in {names}. Rates there are lower than on a quiet machine; \"limited by the server\" means the "
            "server's CPUs were full, not that the server alone filled them.")


def cross_check_sentences(an: Analysis) -> list[str]:
    out = []
    for r in an.cross_check:
        if r.locust_vs_wrk is None:
            continue
        out.append(f"{r.workload} {r.variant}: Locust {fmt_num(r.locust_rps)} req/s, wrk {fmt_num(r.wrk_rps)} "
                   f"req/s (Locust at {r.locust_vs_wrk * 100:.0f}% of wrk).")
    wrk = {(w.workload, w.variant, w.baseline, w.server): w for w in an.wrk_speedups}
    for s in an.speedups:
        w = wrk.get((s.workload, s.variant, s.baseline, s.server))
        if w is not None and s.ratio is not None and w.ratio is not None:  # read by Speedup.of: both set
            out.append(f"{s.variant}/{s.baseline} on {s.workload}: Locust {fmt_ratio(s.ratio)}, wrk "
                       f"{fmt_ratio(w.ratio)}; the two instruments differ by {abs(s.ratio / w.ratio - 1) * 100:.0f}%.")
    c = an.ceiling
    if c:
        text = (f"Generator ceiling: Locust alone on /plaintext with {fmt_num(c.users)} users sent "
                f"{fmt_num(c.rps)} req/s")
        if c.wrk_rps is not None:
            text += f" (wrk {fmt_num(c.wrk_rps)} req/s)"
        if c.generator_busiest is not None:
            text += f"; its busiest process used {c.generator_busiest * 100:.0f}% of a core"
        out.append(text + ". A cell whose Locust rate comes near it measures the generator, not the server.")
    return out


def saturation_sentences(an: Analysis) -> list[str]:
    out = []
    for cell in an.saturation:
        knee = cell.knee
        if knee is None:
            continue
        out.append(f"{cell.workload} {cell.variant}: knee at {knee.users} users, {fmt_num(knee.rps)} req/s, "
                   f"p99 {fmt_num(knee.p99_ms)} ms, limited by {limited_by(knee.bottleneck)}; stopped after "
                   f"{cell.steps[-1].users} users: {cell.stop or 'no reason recorded'}.")
    return out


def trial_flags(run: Run) -> list[str]:
    return [f"{t.label}: {flag}" for t in run.trials() for flag in t.flags]
