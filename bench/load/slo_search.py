"""`bench run --saturate --slo 'p99<50ms'`: the largest offered rate that meets an SLO, per cell and per process.

Per cell: one closed-loop probe at --users (the rate a closed loop reaches, for comparison), then open-model
probes (bench/load/offered_rate.py) starting at half that rate, doubling until the SLO or the rate itself is
broken, then bisecting between the last rate that met it and the first that did not, until the two are
within RESOLUTION of each other or MAX_PROBES open probes ran. The SLO is a threshold list in --fail-on's
grammar (bench/load/thresholds.py), judged on the open model's figures (latency from the intended start);
besides it, a rate is only met when it was offered and answered (bench.load.offered_rate.verdict: no drops, 95%
answered, the generator able to offer it). A rate the generator could not offer bounds the search like a
broken one (the bisection goes on below it), and when it is the lowest rate above the capacity, the capacity
is a lower bound ("at least"): the server met the SLO at every rate the generator could offer.

The capacity is that rate; per process it is divided by the Apache processes of the trial, with the
bottleneck of the probe at that rate. A probe the generator could not offer is repeated once. The plan's
trials of the cell then run at the capacity, so it is measured again over trials. Probes are kept in slo/
of the run folder, the search in results.json `slo`.
"""

from __future__ import annotations

from typing import Any

from bench import console
from bench.load.offered_rate import verdict as rate_verdict
from bench.load.thresholds import grammar, parse

RESOLUTION = 0.10
MAX_PROBES = 10
MIN_RATE = 5.0


def check_slo(text: str | None, saturate: bool) -> None:
    """--slo needs --saturate and a valid threshold list; UserError otherwise (before anything starts)."""
    from bench.errors import UserError

    if text is None:
        return
    if not saturate:
        raise UserError(f"--slo {text!r} is the target of the --saturate search: add --saturate")
    if not parse(text, "--slo"):
        raise UserError(f"--slo {text!r} names no threshold: e.g. 'p99<50ms'")


def slo_p99_ms(text: str) -> float | None:
    """The p99 bound of an SLO (for the report's line), or None when it has none."""
    return next((t.value for t in parse(text) if t.metric == "p99" and t.op in ("<", "<=")), None)


def judge(slo: list[Any], figures: dict[str, Any] | None, bottleneck: str | None) -> tuple[bool, str | None, bool]:
    """(met, why not, the generator could not offer it) of one open probe."""
    if not figures:
        return False, "the probe wrote no open-model figures", False
    ok, why = rate_verdict(figures, bottleneck)
    generator = not ok and "generator could not" in (why or "")
    if not ok:
        return False, why, generator
    g = grammar()
    broken = g.evaluate(slo, {**figures, "model": "open"})
    if broken:
        return False, "; ".join(g.describe(b) for b in broken), False
    return True, None, False


def next_rate(probes: list[dict]) -> float | None:
    """Doubling while every probe met the SLO, then bisecting below the lowest rate that did not (broken, or
    more than the generator could offer); None when the search is done."""
    met = [p["rate"] for p in probes if p["met"]]
    broken = [p["rate"] for p in probes if not p["met"]]
    if len(probes) >= MAX_PROBES:
        return None
    if not broken:
        return max(met) * 2
    hi = min(broken)
    lo = max((r for r in met if r < hi), default=None)
    if lo is None:
        return hi / 2 if hi / 2 >= MIN_RATE else None
    if (hi - lo) / lo <= RESOLUTION:
        return None
    return round((lo + hi) / 2, 1)


def search_cell(ctx: Any, workload: str, variant: str, server: str | None, slo_text: str) -> dict[str, Any]:
    """Probe one cell (ctx: bench.load.run.Context) and return its entry of results.json `slo`."""
    slo = parse(slo_text)
    tag = f"-{server}" if server else ""
    base = {"seq": 0, "trial": 0, "workload": workload, "variant": variant} | ({"server": server} if server else {})
    closed = ctx.trial(base, rel=f"slo/{workload}-{variant}{tag}-closed")
    closed_rps = (closed.get("server") or {}).get("rps") or closed["locust"]["rps"]
    ctx.log(f"    closed loop, {closed['users']} users: {console.fmt(closed_rps)} req/s, p99 "
            f"{console.fmt(closed['locust']['p99_ms'], '.2f')} ms (from the send)")
    probes: list[dict] = []
    rate: float | None = max(MIN_RATE, round((closed_rps or 2 * MIN_RATE) / 2, 1))
    while rate is not None:
        for attempt in (1, 2):  # a probe the generator could not offer is repeated once (a busy moment)
            t = ctx.trial(base | {"rate": rate}, rel=f"slo/{workload}-{variant}{tag}-r{rate:g}-{attempt}")
            o = t.get("open") or {}
            met, why, generator = judge(slo, o, t["bottleneck"]["bottleneck"])
            if not generator or attempt == 2:
                break
            ctx.log(f"    {rate:g} req/s offered: {why}; once more")
        probes.append({"rate": rate, "p50_ms": o.get("p50_ms"), "p90_ms": o.get("p90_ms"), "p99_ms": o.get("p99_ms"),
                       "p999_ms": o.get("p999_ms"), "rps": o.get("rps"), "dropped": o.get("dropped"),
                       "late": o.get("late"), "met": met, "why": why, "generator": generator,
                       "bottleneck": t["bottleneck"]["bottleneck"], "slots": t.get("slots"), "dir": t["dir"]})
        ctx.log(f"    {rate:g} req/s offered: p99 {console.fmt(o.get('p99_ms'), '.2f')} ms from intended start, "
                f"{o.get('dropped')} dropped: {'met' if met else why}")
        rate = next_rate(probes)
    good = [p for p in probes if p["met"]]
    best = max(good, key=lambda p: p["rate"]) if good else None
    slots = (best or {}).get("slots") or closed.get("slots")
    # a lower bound when the first rate above the capacity was one the generator could not offer
    above = min((p for p in probes if not p["met"] and (best is None or p["rate"] > best["rate"])),
                key=lambda p: p["rate"], default=None)
    stop = above["why"] if above is not None and above.get("generator") else None
    return {"workload": workload, "variant": variant, **({"server": server} if server else {}), "slo": slo_text,
            "closed_loop": {"users": closed["users"], "rps": closed_rps, "p99_ms": closed["locust"]["p99_ms"],
                            "dir": closed["dir"]},
            "probes": probes, "capacity_rps": best["rate"] if best else None,
            "capacity_per_process": round(best["rate"] / slots, 2) if best and slots else None,
            "processes": slots, "bottleneck": best["bottleneck"] if best else None,
            "stopped": stop or ("no probed rate met the SLO" if best is None else None)}


def summary_line(entry: dict[str, Any]) -> str:
    """The terminal line of one cell's search."""
    name = f"{entry['workload']}/{entry['variant']}" + (f" on {entry['server']}" if entry.get("server") else "")
    closed = entry["closed_loop"]
    if entry["capacity_rps"] is None:
        return f"{name}: no offered rate met {entry['slo']} ({entry['stopped']})"
    ratio = closed["rps"] / entry["capacity_rps"] if closed.get("rps") else None
    # stopped by the generator: the server met the SLO at least up to there
    bound = "at least " if entry.get("stopped") else ""
    text = (f"{name}: capacity at {entry['slo']} (open model) {bound}{entry['capacity_rps']:g} req/s = "
            f"{console.fmt(entry['capacity_per_process'], '.1f')} req/s per process x {entry['processes']}, "
            f"bottleneck at that rate: {entry['bottleneck']}; the closed loop ({closed['users']} users) reached "
            f"{console.fmt(closed['rps'])} req/s")
    if ratio:
        text += (f", {ratio:.2f}x the SLO capacity, with a p99 of {console.fmt(closed['p99_ms'], '.2f')} ms "
                 "from the send")
    return text + (f"; the search stopped: {entry['stopped']}" if entry.get("stopped") else "")
