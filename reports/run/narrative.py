"""Sentences written from the data: the headline, the 2x2 split, capacity, cost and the caveats.

Every sentence is built from numbers of this run and only appears when its data is there; nothing here
is boilerplate that would read the same for any run.
"""

from __future__ import annotations

from typing import Any

from bench.record.run_folder import Run
from bench.record.values import dig, lst, num, obj
from reports.kit.fmt import fmt_ci, fmt_num, fmt_ratio
from reports.run.analysis import Analysis, CapacityRow, SpeedupRow, cpu_ms_per_request, trial_label

ACCESS_LOG_TOLERANCE = 0.02  # access log vs Locust counts: above this, say so


def headline_rows(run: Run, an: Analysis) -> list[SpeedupRow]:
    """Per workload, the speedup of `pooled` over naive (or the largest one when pooled is absent)."""
    out = []
    for workload in run.workloads:
        rows = [r for r in an.speedups if r.workload == workload and r.baseline == "naive"]
        if not rows:
            continue
        pooled = [r for r in rows if r.variant == "pooled"]
        out.append(pooled[0] if pooled else max(rows, key=lambda r: r.ratio))
    return out


def headline_text(run: Run, row: SpeedupRow) -> str:
    new, base = run.cell(row.workload, row.variant), run.cell(row.workload, row.baseline)
    single = any(c is not None and len(c.trials) < 2 for c in (new, base))
    if row.lo is None:
        ci = "no interval: fewer than 2 trials"
    elif single:
        ci = f"95% CI {fmt_ci(row.lo, row.hi)}, from a single trial: no real interval"
    else:
        ci = f"95% CI {fmt_ci(row.lo, row.hi)}"
    text = (f"{row.variant} served {fmt_ratio(row.ratio)} the requests/s of {row.baseline} "
            f"on {row.workload} ({ci})")
    cell = new
    if cell is not None and cell.summary.get("generator_bound") is True:
        text += f"; the {row.variant} trials were generator-bound, so the server's true ratio is likely higher"
    return text + "."


def rate_sentence(run: Run, row: SpeedupRow) -> str | None:
    new, base = run.cell(row.workload, row.variant), run.cell(row.workload, row.baseline)
    if new is None or base is None or new.stat("rps") is None or base.stat("rps") is None:
        return None
    return (f"On {row.workload}: {row.variant} {fmt_num(new.stat('rps'))} req/s, "
            f"{row.baseline} {fmt_num(base.stat('rps'))} req/s (medians over trials).")


def split_sentences(an: Analysis) -> list[str]:
    out = []
    for workload, s in an.splits.items():
        share = s.pooling_share
        share_txt = "" if share is None else f"; pooling is {share * 100:.0f}% of the gain on a log scale"
        out.append(
            f"On {workload}, of the {fmt_ratio(s.total.factor)} of pooled over naive, pooling accounts for "
            f"{fmt_ratio(s.pooling.factor)} (95% CI {fmt_ci(s.pooling.lo, s.pooling.hi)}) and template "
            f"caching for {fmt_ratio(s.caching.factor)} (95% CI {fmt_ci(s.caching.lo, s.caching.hi)})"
            f"{share_txt}; the interaction is {fmt_ratio(s.interaction.factor)}."
        )
    return out


SPLIT_METHOD = (
    "Method: log-ratio decomposition of the 2x2 (the Shapley split of two factors). With L the log of a "
    "cell's median requests/s, pooling = mean(L[pool-only] - L[naive], L[pooled] - L[cache-only]) and "
    "caching = mean(L[cache-only] - L[naive], L[pooled] - L[pool-only]); the two add up to "
    "L[pooled] - L[naive] exactly and are shown as factors. The interaction "
    "L[pooled] - L[pool-only] - L[cache-only] + L[naive] is above 1x when the two together buy more than "
    "each alone. Intervals: 95% percentile bootstrap over trials (10,000 resamples, fixed seed)."
)


def capacity_sentences(run: Run, an: Analysis) -> tuple[list[str], str]:
    """One sentence per workload, and the sentence saying what the numbers rest on."""
    out = []
    for workload in run.workloads:
        rows = {r.variant: r for r in an.capacity if r.workload == workload}
        if not rows:
            continue
        main = rows.get("pooled") or max(rows.values(), key=lambda r: r.rps_per_process)
        text = f"To serve {an.target_rps} req/s of {main.variant} {workload} you need about {_procs(main)}"
        if main.mb_pss is not None:
            text += f", about {fmt_num(main.mb_pss)} MB (PSS)"
        elif main.mb_rss is not None:
            text += f", about {fmt_num(main.mb_rss)} MB (RSS)"
        naive = rows.get("naive")
        if naive is not None and naive is not main:
            text += f"; with naive handlers about {_procs(naive)}"
            if naive.mb_pss is not None:
                text += f", {fmt_num(naive.mb_pss)} MB"
        out.append(text + ".")
    stack = run.stack or {}
    procs, users, cores = stack.get("processes"), run.plan.get("users"), run.machine.get("cores")
    basis = "Per-process rates are requests/s divided by the processes serving"
    if procs is not None and cores is not None:
        basis += f", measured with {users} users on {procs} Apache processes sharing {cores} cores"
    basis += ("; on a machine with more cores per process a process can serve more. "
              "Memory is processes x median PSS per process (PSS shares common pages fairly; "
              "RSS x processes over-counts shared libraries).")
    return out, basis


def _procs(row: CapacityRow) -> str:
    return f"{row.processes} process" + ("" if row.processes == 1 else "es")


def cost_sentences(run: Run, an: Analysis) -> list[str]:
    out = []
    for workload in run.workloads:
        parts = []
        for variant in run.variants:
            cell = run.cell(workload, variant)
            if cell is None:
                continue
            ms = cpu_ms_per_request(cell.stat("requests_per_cpu_second"))
            sess = cell.stat("db_sessions_per_1000_requests")
            if ms is None and sess is None:
                continue
            bits = []
            if ms is not None:
                bits.append(f"{fmt_num(ms)} ms of server CPU")
            if sess is not None:
                bits.append(f"{fmt_num(sess)} PostgreSQL sessions per 1000 requests")
            parts.append(f"{variant} {' and '.join(bits)}")
        if parts:
            text = f"Per request on {workload}: " + "; ".join(parts) + "."
            eff = [r for r in an.cpu_speedups if r.workload == workload and r.variant == "pooled"]
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
        rss, pss = cell.stat("rss_mb_per_process"), cell.stat("pss_mb_per_process")
        if rss is None and pss is None:
            continue
        parts.append(f"{cell.label} RSS {fmt_num(rss)} MB / PSS {fmt_num(pss)} MB")
    if not parts:
        return []
    return ["Median memory per Apache process: " + "; ".join(parts) + "."]


def _order_label(entry: dict[str, Any]) -> str:
    return trial_label(entry)


def caveats(run: Run, an: Analysis) -> list[str]:
    """The caveats that apply to this run, most serious first."""
    out: list[str] = []
    plan, stack = run.plan, run.stack
    trials = run.trials()
    if run.source == "url":
        url = plan.get("url")
        out.append(
            f"This run drove an existing server{f' at {url}' if url else ''} (--url): only client-side data "
            "(Locust) exists. Server-side numbers (access log, per-process rates, CPU, memory, PostgreSQL "
            "sessions) are absent, and per-process rates, where shown, divide the client's rate by the PIDs seen."
        )
    if not run.complete:
        planned = len(lst(plan.get("order")))
        missing = run.missing_trials()
        text = "This run is incomplete (interrupted or crashed"
        text += ", no finish time)" if run.data.get("finished") is None else ")"
        if planned:
            text += f": {len(trials)} of {planned} planned trials have results"
        if missing:
            shown = [_order_label(m) for m in missing[:20]]
            more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
            text += ". Missing: " + "; ".join(shown) + more
        out.append(text + ". Intervals and speedups use the trials present.")
    bound = [t for t in trials if t.get("generator_bound") is True]
    if bound:
        out.append(
            f"{len(bound)} of {len(trials)} trials {'was' if len(bound) == 1 else 'were'} generator-bound "
            "(Locust ran out of CPU): " + ", ".join(trial_label(t) for t in bound)
            + ". Their requests/s measure the load generator, not Apache, so speedups involving them are "
            "lower bounds; server CPU per request (figure 6) does not depend on the generator."
        )
    failed = []
    for t in trials:
        n_fail = num(dig(t, "locust", "failures")) or 0
        n_req = num(dig(t, "locust", "requests"))
        if t.get("failures") is True or n_fail > 0:
            pct = f" ({n_fail / n_req * 100:.2f}%)" if n_req else ""
            failed.append(f"{trial_label(t)}: {fmt_num(n_fail)} failed{pct}")
        other = {c: v for c, v in obj(dig(t, "server", "status")).items()
                 if not str(c).startswith(("2", "3")) and num(v)}
        if other:
            codes = ", ".join(f"{c}: {fmt_num(num(v))}" for c, v in sorted(other.items()))
            failed.append(f"{trial_label(t)}: access log status {codes}")
    if failed:
        out.append("Some requests failed: " + "; ".join(failed) + ".")
    disagree = []
    for t in trials:
        d = num(t.get("access_vs_locust"))
        if d is not None and d > ACCESS_LOG_TOLERANCE:
            disagree.append(f"{trial_label(t)} ({d * 100:.1f}%)")
    if disagree:
        out.append(
            f"The access log and Locust disagree on the request count by more than "
            f"{ACCESS_LOG_TOLERANCE * 100:.0f}% in: " + ", ".join(disagree)
            + ". One of the two lost or added requests; treat those trials' rates with care."
        )
    if stack is not None:
        ka = stack.get("keepalive")
        if ka is True:
            mkr = stack.get("max_keepalive_requests")
            out.append(
                f"KeepAlive was on (timeout {stack.get('keepalive_timeout')} s, MaxKeepAliveRequests "
                f"{'unlimited' if mkr in (0, None) else mkr}): clients reuse connections, so TCP setup is not "
                f"part of a request's cost, and MaxConnectionsPerChild "
                f"({stack.get('max_connections_per_child')}) counts connections, not requests."
            )
        elif ka is False:
            out.append("KeepAlive was off: every request opened a new TCP connection, which adds the same "
                       "cost to every variant and narrows the ratios.")
    if plan.get("connection_close") is True:
        out.append("The client closed its connection after every request (connection_close): each request "
                   "paid for a TCP connection, as in a no-keep-alive deployment.")
    if plan.get("quick") is True:
        out.append("Quick run (--quick): short trials meant as a smoke test, not for decisions.")
    counts = [len(c.trials) for c in an.cells]
    if counts and min(counts) < 3:
        out.append(
            f"Only {min(counts)} trial(s) for some workload/variant: with fewer than 3 trials the 95% "
            "intervals of requests/s are [min, max] over trials, not bootstrap intervals."
        )
    lat = [v for c in an.cells for k in ("p50_ms", "p90_ms", "p99_ms") if (v := c.stat(k)) is not None]
    small = [v for v in lat if v < 100]
    if small and all(float(v).is_integer() for v in small):
        out.append("The latency percentiles are whole milliseconds (Locust rounds times below 100 ms), so "
                   "sub-millisecond differences between variants are invisible in them.")
    notes = [str(n) for n in lst(run.data.get("notes"))]
    if notes:
        out.append("Notes recorded with the run: " + "; ".join(notes) + ".")
    if an.computed:
        out.append("Computed by this report because results.json lacks them: " + "; ".join(an.computed) + ".")
    if run.problems:
        out.append("Some trial files could not be used: " + "; ".join(dict.fromkeys(run.problems)) + ".")
    return out


def trial_flags(run: Run) -> list[str]:
    return [f"{trial_label(t)}: {flag}" for t in run.trials() for flag in lst(t.get("flags"))]
