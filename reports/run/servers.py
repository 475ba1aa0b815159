"""Two sections of the run report that compare cells across a dimension other than the variant:

- the servers (a `bench run --servers` run; titled with the servers the record holds, "mod_python and
  mod_wsgi"): each variant of each workload under each server, requests/s, per-process throughput, memory
  (PSS) and latency, and every server's ratio to the first.
- "Cost of the authentication phase" (a run with the `auth` and `db` workloads): auth is db behind a
  PythonAuthenHandler, so auth vs db on the same variant (and server) is the price of the phase.

Both read nothing but the run folder (bench.record); ratios of medians come with bench.record.stats'
bootstrap interval over trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.record.run_folder import Cell, Run
from bench.record.stats import Ratio, ratio_ci
from reports.kit.document import Block, Bullets, FigureBlock, Para, Section, Table
from reports.kit.fmt import DASH, dash_or, fmt_ci, fmt_num, fmt_ratio
from reports.run.analysis import cpu_ms_per_request, server_groups, where

AUTH, PLAIN = "auth", "db"


def ratio_text(r: Ratio | None) -> str:
    """"1.52x (1.40x-1.61x)", or the ratio alone without an interval; "-" without a ratio."""
    if r is None:
        return DASH
    ci = f" ({fmt_ci(r.lo, r.hi, 'x')})" if r.lo is not None else ""
    return dash_or(r.ratio, lambda v: fmt_ratio(v) + ci)


def trial_ratio(base: Cell, new: Cell, *keys: str) -> Ratio | None:
    """median(new)/median(base) of a per-trial value, with its 95% interval (none from one trial); None: no
    ratio."""
    return ratio_ci(base.values(*keys), new.values(*keys))


def stat_ratio(a: float | None, b: float | None) -> Ratio | None:
    """b/a of a summary median that has no per-trial series worth resampling (memory, p99)."""
    return Ratio(b / a, None, None) if a and b is not None else None


# --- the servers of a --servers run -------------------------------------------------------------
def server_pairs(run: Run) -> list[tuple[Cell, Cell]]:
    """(first server's cell, another server's cell) for every workload x variant that ran under both."""
    if not run.multi_server:
        return []
    first, *others = run.servers
    pairs = []
    for workload in run.workloads:
        for variant in run.variants:
            base = run.cell(workload, variant, first)
            for server in others:
                other = run.cell(workload, variant, server)
                if base is not None and other is not None:
                    pairs.append((base, other))
    return pairs


def servers_table(run: Run) -> Table:
    rows = []
    for c in run.cells:
        rows.append([c.workload, c.variant, c.server or DASH, fmt_num(c.summary.rps),
                     fmt_num(c.summary.rps_per_process), fmt_num(c.summary.requests_per_cpu_second),
                     fmt_num(c.summary.serving_pss), fmt_num(c.summary.pss_mb_total), fmt_num(c.summary.p50_ms),
                     fmt_num(c.summary.p99_ms), fmt_num(c.summary.server_p50_ms), c.limit_or_bound or DASH])
    return Table(["workload", "variant", "server", "req/s", "req/s per process", "req per server CPU-s",
                  "PSS MB per serving process", "PSS MB all Apache processes", "p50 ms", "p99 ms",
                  "server p50 ms", "limited by"], rows,
                 "Each cell under each server, medians over trials. Serving processes: those the access log names "
                 "(X-Bench-Pid: mod_python's children, mod_wsgi's daemons); all Apache processes adds the parent "
                 "and, under mod_wsgi daemon mode, the relaying children")


def server_ratio_table(run: Run) -> Table:
    rows = []
    for base, other in server_pairs(run):
        b, o = base.summary, other.summary
        rows.append([base.workload, base.variant, f"{other.server} / {base.server}",
                     ratio_text(trial_ratio(base, other, "locust", "rps")),
                     ratio_text(stat_ratio(b.rps_per_process, o.rps_per_process)),
                     ratio_text(trial_ratio(base, other, "requests_per_cpu_second")),
                     fmt_ratio(_ratio(b.serving_pss, o.serving_pss)),
                     ratio_text(stat_ratio(b.pss_mb_total, o.pss_mb_total)),
                     ratio_text(stat_ratio(b.p99_ms, o.p99_ms))])
    return Table(["workload", "variant", "servers", "req/s", "req/s per process", "req per server CPU-s",
                  "PSS per serving process", "PSS all processes", "p99"], rows,
                 "Ratios of medians (95% bootstrap interval over trials where there are 2 or more); above 1x: "
                 "the later server has more of it")


def _ratio(a: float | None, b: float | None) -> float | None:
    return b / a if a and b is not None else None


def server_sentences(run: Run) -> list[str]:
    out = []
    for base, other in server_pairs(run):
        rps = trial_ratio(base, other, "locust", "rps")
        cost = trial_ratio(base, other, "requests_per_cpu_second")
        if rps is None:
            continue
        text = (f"{base.variant} {base.workload}: {other.server} served {ratio_text(rps)} the requests/s of "
                f"{base.server} ({fmt_num(other.summary.rps)} vs {fmt_num(base.summary.rps)})")
        if cost is not None:
            text += f", {ratio_text(cost)} the requests per server CPU-second"
        pss_b, pss_o = base.summary.serving_pss, other.summary.serving_pss
        if pss_b is not None and pss_o is not None:
            text += f"; PSS per serving process {fmt_num(pss_o)} vs {fmt_num(pss_b)} MB"
        limits = {x for x in (base.limit_or_bound, other.limit_or_bound) if x is not None}
        if limits and limits != {"server"}:
            text += f" (limited by {', '.join(sorted(limits))}: rates are lower bounds, the CPU ratio is the fairer)"
        out.append(text + ".")
    return out


def servers_section(run: Run, figure: FigureBlock) -> Section | None:
    if not run.multi_server:
        return None
    blocks: list[Block] = [*_bullets(server_sentences(run)), servers_table(run), server_ratio_table(run), figure,
                           Para("Each cell ran under every server back to back within a trial round, Apache started "
                                "afresh with that server's httpd.conf (httpd-<server>.conf in the run folder); "
                                "the handlers, workloads and resource strategies are the same code.", "note")]
    return Section("servers", servers_title(run), blocks)


def servers_title(run: Run) -> str:
    """The servers the record holds, in the plan's order: "mod_python and mod_wsgi"."""
    *rest, last = run.servers
    return f"{', '.join(rest)} and {last}" if rest else last


# --- the authentication phase -------------------------------------------------------------------
@dataclass
class AuthRow:
    variant: str
    server: str | None
    db: Cell
    auth: Cell
    rps: Ratio | None
    cost: Ratio | None

    @property
    def extra_cpu_ms(self) -> float | None:
        """Server CPU the phase adds per request: auth's CPU ms per request minus db's."""
        a = cpu_ms_per_request(self.auth.summary.requests_per_cpu_second)
        d = cpu_ms_per_request(self.db.summary.requests_per_cpu_second)
        return None if a is None or d is None else a - d


def auth_rows(run: Run) -> list[AuthRow]:
    rows = []
    for workload, server in server_groups(run):
        if workload != AUTH:
            continue
        for variant in run.variants:
            db, auth = run.cell(PLAIN, variant, server), run.cell(AUTH, variant, server)
            if db is None or auth is None:
                continue
            rows.append(AuthRow(variant, server, db, auth, trial_ratio(db, auth, "locust", "rps"),
                                trial_ratio(db, auth, "requests_per_cpu_second")))
    return rows


def auth_table(rows: list[AuthRow], multi: bool) -> Table:
    out = []
    for r in rows:
        out.append([r.variant, *([r.server or DASH] if multi else []), fmt_num(r.db.summary.rps),
                    fmt_num(r.auth.summary.rps), ratio_text(r.rps), fmt_num(r.db.summary.requests_per_cpu_second),
                    fmt_num(r.auth.summary.requests_per_cpu_second), ratio_text(r.cost), _signed(r.extra_cpu_ms),
                    fmt_num(r.auth.summary.db_sessions_per_1000_requests)])
    return Table(["variant", *(["server"] if multi else []), "db req/s", "auth req/s", "auth/db req/s",
                  "db req per CPU-s", "auth req per CPU-s", "auth/db per CPU-s", "CPU ms added per request",
                  "auth PG sessions/1000 req"], out,
                 "auth is db behind the authentication phase (HTTP Basic checked against bench_user); ratios of "
                 "medians with their 95% interval over trials. 1x: the phase costs nothing")


def _signed(ms: float | None) -> str:
    return dash_or(ms, lambda v: ("+" if v >= 0 else "") + fmt_num(v))


def auth_sentences(rows: list[AuthRow]) -> list[str]:
    out = []
    for r in rows:
        if r.rps is None:
            continue
        on = where(f"the {r.variant} variant", r.server)
        text = f"On {on}, auth served {ratio_text(r.rps)} the requests/s of db"
        if r.cost is not None:
            text += f" and {ratio_text(r.cost)} the requests per server CPU-second"
        if r.extra_cpu_ms is not None:
            text += f": the authentication phase adds {fmt_num(r.extra_cpu_ms)} ms of server CPU per request"
        out.append(text + ".")
    if out:
        out.append("naive and pool-only check the password against PostgreSQL on every request (naive opens a "
                   "second connection for it); cache-only and pooled keep verified credentials in the process for "
                   "60 s, so the phase costs them almost nothing once the cache is warm.")
    return out


def auth_section(run: Run) -> Section | None:
    rows = auth_rows(run)
    if not rows:
        if AUTH in run.workloads:
            return Section("auth", "Cost of the authentication phase",
                           [Para("The cost of the phase is auth against db on the same variant; this run has no "
                                 "db cell to compare with (run `bench run --workloads db,auth`).", "note")])
        return None
    return Section("auth", "Cost of the authentication phase",
                   [*_bullets(auth_sentences(rows)), auth_table(rows, run.multi_server)])


def _ratio_json(r: Ratio | None) -> dict[str, Any]:
    if r is None:
        return {"ratio": None, "ci95": None}
    return {"ratio": r.ratio, "ci95": None if r.lo is None else [r.lo, r.hi]}


def servers_summary(run: Run) -> list[dict[str, Any]] | None:
    """summary.json: every server against the first, per workload x variant; None for a one-server run."""
    if not run.multi_server:
        return None
    return [{"workload": b.workload, "variant": b.variant, "server": o.server, "against": b.server,
             "rps": _ratio_json(trial_ratio(b, o, "locust", "rps")),
             "rps_per_process": _ratio_json(stat_ratio(b.summary.rps_per_process, o.summary.rps_per_process))["ratio"],
             "requests_per_cpu_second": _ratio_json(trial_ratio(b, o, "requests_per_cpu_second")),
             "pss_mb_serving": [b.summary.serving_pss, o.summary.serving_pss], "pss_mb_total": [b.summary.pss_mb_total,
                                                                                 o.summary.pss_mb_total],
             "p99_ms": [b.summary.p99_ms, o.summary.p99_ms]}
            for b, o in server_pairs(run)]


def auth_summary(run: Run) -> list[dict[str, Any]] | None:
    """summary.json: auth against db per variant (and server); None without both workloads."""
    rows = auth_rows(run)
    if not rows:
        return None
    return [{"variant": r.variant, **({"server": r.server} if r.server else {}), "db_rps": r.db.summary.rps,
             "auth_rps": r.auth.summary.rps, "rps": _ratio_json(r.rps), "requests_per_cpu_second": _ratio_json(r.cost),
             "cpu_ms_added_per_request": r.extra_cpu_ms} for r in rows]


def _bullets(items: list[str]) -> list[Block]:
    return [Bullets(items)] if items else []
