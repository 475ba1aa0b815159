"""Sentences of the tune report, written from tune.json's numbers; each appears only when its data is there."""

from __future__ import annotations

from bench.record.tune import MODEL_TOLERANCE, BudgetScope
from bench.record.tune_conclusions import ConfirmStatus, ModeConclusion, Source
from bench.record.tune_folder import TuneRun
from bench.record.tune_points import KeepAlive, Point, mode_label
from reports.kit.fmt import fmt_num

DEMO_WORKLOADS = {"leaky": "leaks memory on purpose, to show what recycling is for"}
FLAT_GROWTH_KB = 0.05  # bench.tune_model: below this growth per request a child's memory counts as flat


def pct(fraction: float | None, digits: int = 1) -> str:
    return "–" if fraction is None else f"{fraction * 100:.{digits}f}%"


def loss_text(loss: float | None, kind: str) -> str:
    if loss is None:
        return "no loss figure"
    if loss < 0:
        return f"{kind} {pct(-loss, 2)} faster than never recycling (trial-to-trial variation)"
    return f"{kind} loss {pct(loss, 2)}"


def measured_loss(run: TuneRun, p: Point) -> float | None:
    """1 - rps(N) / rps(0) of the same keep-alive mode; None without both."""
    base = run.point(p.mode, 0)
    if base is None or not base.rps or p.rps is None:
        return None
    return 1 - p.rps / base.rps


def requests_per_child_text(c: ModeConclusion, n: int) -> str:
    k = c.model.requests_per_connection if c.model else None
    if k is None:
        return f"{n} connections"
    if abs(k - 1) < 0.05:
        return f"{fmt_num(n)} requests (one per connection)"
    return f"about {fmt_num(n * k)} requests ({n} connections x {fmt_num(k)} requests per connection)"


def headline(run: TuneRun) -> str | None:
    m = run.advice_mode
    if m is None or not run.directives:
        return None
    rec = run.conclusion(m).recommended
    if rec is None or rec.value is None:
        return None
    n = rec.value
    loss, kind = rec.loss
    conf = run.confirmation
    measured = (next((r for r in conf.results if r.n == conf.measured_value), None)
                if conf.mode == m and conf.value is not None else None)
    if measured is not None and conf.value is not None:
        n = conf.value
        loss, kind = measured.measured_loss, "measured"
    text = f"Recommended: MaxConnectionsPerChild {n} with KeepAlive {m.capitalize()}"
    if loss is not None and conf.bounded and measured is not None:
        text += (f", at most {pct(loss, 2)} loss (measured at N = {measured.n}, whose children live short enough "
                 f"to be replaced within a trial; limit {pct(run.max_loss, 2)})")
    elif loss is not None:
        text += f", {loss_text(loss, kind)} (limit {pct(run.max_loss, 2)})"
        if measured is not None and measured.predicted_loss is not None:
            text += f", predicted {pct(measured.predicted_loss, 2)}"
    own = measured is not None and not conf.bounded  # a bound's memory belongs to the smaller value
    rss = measured.rss_mb_end_of_life if own and measured is not None else rec.rss_end_mb
    if rss is not None:
        text += f"; a child ends its life near {fmt_num(rss)} MB RSS" + (" (measured)" if own else "")
    if measured is None:
        text += {ConfirmStatus.SKIPPED: " (unconfirmed: --no-confirm)",
                 ConfirmStatus.NONE: " (unconfirmed: this sweep predates the confirmation step)",
                 ConfirmStatus.NOT_OBSERVABLE: " (unconfirmed: a child's life at this N outlasts the confirmation's "
                                               "trials)",
                 ConfirmStatus.NOT_OBSERVED: " (unconfirmed: its confirmation trials replaced no child)"}.get(
            conf.state, " (unconfirmed: the confirmation did not finish)")
    return text + "."


def confirmation_sentences(run: TuneRun) -> list[str]:
    """What the confirmation step measured at the recommended value, in plain words."""
    conf = run.confirmation
    if conf.state == ConfirmStatus.NONE:
        return ["This sweep predates the confirmation step: its recommendation was never measured against "
                "N = 0. Run `bench tune` again to confirm it."]
    if conf.state == ConfirmStatus.SKIPPED:
        return ["The confirmation was skipped (--no-confirm): the recommended value is unconfirmed."]
    out = []
    for r in conf.results:
        ci = r.loss_ci95
        pi = r.prediction_interval
        text = (f"At N = {r.n} ({mode_label(conf.mode or '?')}, {r.trials or 0} trials against N = 0, interleaved) "
                f"the measured loss was {pct(r.measured_loss)}"
                + (f" (95% CI {pct(ci[0])} to {pct(ci[1])})" if ci else "")
                + f" against a predicted {pct(r.predicted_loss)}"
                + (f" ({pct(pi[0])} to {pct(pi[1])})" if pi else ""))
        if r.within_prediction is not None:
            text += ": " + ("within" if r.within_prediction else "outside") + " the prediction's interval"
        rss, pss = r.rss_mb_end_of_life, r.pss_mb_end_of_life
        if rss is not None:
            text += f"; a child ended near {fmt_num(rss)} MB RSS" + (f", {fmt_num(pss)} MB PSS" if pss else "")
        out.append(text + ".")
    if conf.sentence:
        out.append(conf.sentence)
    if conf.capped and conf.cap_s is not None:
        out.append(f"Confirmation trials were capped at {fmt_num(conf.cap_s)} s (--confirm-max-duration): a slot "
                   "recycled fewer than 3 times in them.")
    if not conf.results:
        out.append(f"The confirmation is {conf.state}: nothing was measured at the recommended value.")
    return out


def mode_sentence(run: TuneRun, mode: str) -> str:
    """The recommendation of one keep-alive mode: its value, where it comes from, what it costs."""
    c = run.conclusion(mode)
    rec = c.recommended
    label = mode_label(mode).capitalize()
    if rec is None or rec.value is None:
        why = c.reason or ("the sweep stopped before the tuner concluded" if mode not in run.record.modes else
                           "no value could be recommended")
        return f"{label}: no recommendation ({why})."
    n = rec.value
    text = f"{label}: MaxConnectionsPerChild {n}, from the {rec.source or 'model'}"
    # The tolerance is judged on the out-of-sample error when there is one (bench.tune.recycling.conclude).
    oos = c.oos_error
    err, ok = (oos if oos is not None else c.max_error), c.model_ok
    if rec.source == Source.MEASURED:
        text += (f": the model was off by up to {pct(err)} (over the {pct(MODEL_TOLERANCE, 0)} tolerance), so the "
                 "tuner took the smallest measured N that met the limits")
    elif ok is False:
        text += (f" although it was off by up to {pct(err)} (over the {pct(MODEL_TOLERANCE, 0)} tolerance): no "
                 "measured point met the limits, so treat this value with care")
    elif oos is not None:
        text += f" (its error out of sample: {pct(oos)})"
    elif c.fitted_to:
        text += " (not checked out of sample)"
    elif err is not None:
        text += f" (its largest error on the measured points: {pct(err)}, within the {pct(MODEL_TOLERANCE, 0)} " \
                "tolerance)"
    loss, kind = rec.loss
    text += f"; {loss_text(loss, kind)}; a child serves {requests_per_child_text(c, n)}"
    rss = rec.rss_end_mb
    if rss is not None:
        text += f" and ends near {fmt_num(rss)} MB RSS"
    if rec.within is False:
        text += ". No value met both the loss limit and the memory budget: this one keeps memory within the budget"
    elif rec.within is True:
        budget = run.memory_budget_mb
        text += "; it meets the loss limit" + (" and the memory budget" if budget is not None else "")
    return text + "."


def loss_sentences(run: TuneRun) -> list[str]:
    out = []
    for m in run.modes:
        base = run.point(m, 0)
        if base is None or base.rps is None:
            continue
        parts = [f"never recycled {fmt_num(base.rps)} req/s"]
        for p in run.mode_points(m):
            if p.n > 0 and p.rps is not None:
                loss = measured_loss(run, p)
                parts.append(f"N = {p.n} {fmt_num(p.rps)} req/s ({-loss * 100:+.1f}%)" if loss is not None
                             else f"N = {p.n} {fmt_num(p.rps)} req/s")
        out.append(f"{mode_label(m).capitalize()}: " + "; ".join(parts) + ".")
    return out


def _median(values: list[float]) -> float | None:
    values = sorted(values)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def recycling_sentences(run: TuneRun) -> list[str]:
    """Start-up, warm-up, spawn rate, requests per connection and per child, as measured."""
    out = []
    for m in run.modes:
        pts = run.mode_points(m)
        spawning = [p for p in pts if p.n > 0 and (p.children_spawned_per_s or 0) > 0]
        use = spawning or pts
        start = _median([v for p in use if (v := p.startup_ms) is not None])
        warm = _median([v for p in use if (v := p.warmup_ms) is not None])
        model = run.conclusion(m).model
        cost = model.child_cost_ms if model else None
        bits = []
        if start is not None:
            bits.append(f"a new child took {fmt_num(start)} ms from fork to its first request (start-up)")
        if warm is not None:
            bits.append(f"its cold requests took {fmt_num(warm)} ms more than warm ones (warm-up)")
        if bits:
            where = "the points that replaced children" if spawning else "all points (none replaced children)"
            text = f"{mode_label(m).capitalize()}: " + " and ".join(bits) + f", medians over {where}"
            if cost is not None:
                text += f"; the model charges {fmt_num(cost)} ms per new child"
            out.append(text + ".")
        rates = [(p.children_spawned_per_s, p) for p in pts if p.children_spawned_per_s is not None]
        if rates:
            top, p = max(rates, key=lambda rp: rp[0] or 0)
            if top:
                out.append(f"{mode_label(m).capitalize()}: Apache started up to {fmt_num(top)} new children per "
                           f"second (N = {p.n}, {fmt_num(p.requests_per_child)} requests per child seen "
                           "in the window); the parent replaces exited children only in its once-a-second "
                           "maintenance pass, so a short life leaves its slot empty for 1 to 2 s.")
    ka = {m: _median([v for p in run.mode_points(m) if (v := p.requests_per_connection) is not None])
          for m in run.modes}
    if any(v is not None for v in ka.values()):
        seen = "; ".join(f"{mode_label(m)} {fmt_num(v)}" for m, v in ka.items() if v is not None)
        text = f"Requests per connection actually seen (median over points): {seen}."
        k_on = ka.get(KeepAlive.ON)
        if k_on is not None and k_on > 1.05:
            mkr = run.max_keepalive_requests
            text += (f" Apache counts connections, not requests: with keep-alive on a child recycled at N "
                     f"connections serves about N x {fmt_num(k_on)} requests here"
                     + (f" (MaxKeepAliveRequests {mkr})" if mkr is not None else "")
                     + ", and as many as its clients send per connection on another server.")
        out.append(text)
    return out


def memory_sentences(run: TuneRun) -> list[str]:
    out = []
    growth = {}
    for m in run.modes:
        model = run.conclusion(m).model
        g = model.growth_kb_per_request if model else None
        if g is None:
            base = run.point(m, 0)
            g = None if base is None else base.growth_kb_per_request
        if g is not None:
            growth[m] = g
    if growth:
        parts = "; ".join(f"{mode_label(m)} {fmt_num(g)} KB" for m, g in growth.items())
        flat = all(abs(g) <= FLAT_GROWTH_KB for g in growth.values())
        out.append(f"Without recycling, a child's RSS grew per request served: {parts} (slope of RSS against "
                   "requests in the steady window, median over children)"
                   + (": flat, no leak to recycle away." if flat else "."))
    else:
        out.append("No growth rate was measured (it needs the N = 0 point and enough samples per child).")
    demo = DEMO_WORKLOADS.get(run.workload)
    if demo:
        out.append(f"This sweep ran the `{run.workload}` workload, a demonstration that {demo}: its growth is "
                   "not a property of mod_python or of the pooled handlers. Run `bench tune` with your own workload "
                   "for numbers to act on.")
    fresh = {m: v for m in run.modes if (model := run.conclusion(m).model) and (v := model.fresh_rss_mb) is not None}
    if fresh:
        out.append("A fresh, warm child (its first sample in the steady window) had "
                   + "; ".join(f"{fmt_num(v)} MB RSS with {mode_label(m)}" for m, v in fresh.items()) + ".")
    budget = run.memory_budget_mb
    if budget is None:
        advised = run.advice_mode
        rec = run.conclusion(advised).recommended if advised else None
        rss = rec.rss_end_mb if rec else None
        text = "No memory budget was set (--memory-budget): the recommendation only limits the throughput loss"
        if rss is not None and advised is not None:
            text += f", and at it a child ends near {fmt_num(rss)} MB RSS"
        out.append(text + ". Set a budget to cap memory.")
    else:
        scope = run.memory_budget_scope
        where = "for all children together" if scope == BudgetScope.TOTAL else "per child"
        out.append(f"Memory budget: {fmt_num(budget)} MB RSS {where}.")
    return out


def model_sentences(run: TuneRun) -> list[str]:
    out = []
    for m in run.modes:
        c = run.conclusion(m)
        err = c.max_error
        if err is None:
            continue
        label = mode_label(m).capitalize()
        fitted = ", ".join(str(n) for n in c.fitted_to)
        oos = c.oos_error
        if oos is not None:
            held = [x for x in c.checks if x.held_out_error is not None]
            worst = max(held, key=lambda x: x.held_out_error or 0, default=None)
            at = f" (at N = {worst.n})" if worst is not None else ""
            out.append(f"{label}: the model's error out of sample was {pct(oos)}{at}: {c.oos_text}, each "
                       f"point predicted by a model fitted to the others (all fitted: N = {fitted})"
                       + (f", over the {pct(MODEL_TOLERANCE, 0)} tolerance" if oos > MODEL_TOLERANCE else "")
                       + ".")
            continue
        if c.fitted_to:
            out.append(f"{label}: the model was fitted to N = {fitted} and {c.oos_text or 'not checked out of sample'}"
                       f"; its residual there ({pct(err)}) is not a check.")
            continue
        checks = [x for x in c.checks if x.error is not None]
        worst = max(checks, key=lambda x: x.error or 0, default=None)
        at = f" (at N = {worst.n})" if worst is not None and err > 0 else ""
        text = f"{label}: the model's largest error was {pct(err)}{at}, on the points it was fitted to"
        if c.model_ok is False or err > MODEL_TOLERANCE:
            text += f", over the {pct(MODEL_TOLERANCE, 0)} tolerance"
            source = c.recommended.source if c.recommended else None
            text += (": the recommendation fell back to the measured points" if source == Source.MEASURED else
                     ", but no measured point met the limits, so the recommendation still comes from the model")
        else:
            text += f", within the {pct(MODEL_TOLERANCE, 0)} tolerance: the recommendation comes from the model"
        out.append(text + ".")
    return out


def caveats(run: TuneRun, notes: list[str]) -> list[str]:
    """What limits this sweep, most serious first."""
    out: list[str] = []
    missing = run.missing
    if not run.complete or missing:
        text = "The sweep is incomplete (interrupted or crashed"
        text += ", no finish time)" if run.finished is None else ")"
        if missing:
            shown = [f"N = {m.value} {mode_label(m.mode)} trial {m.trial}"
                     for m in missing[:20]]
            more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
            text += f"; not measured ({len(missing)}): " + "; ".join(shown) + more
        out.append(text + ". The model and the recommendation use the points that were measured.")
    if not run.concluded:
        out.append("tune.json holds no conclusions (model, check, recommendation): the sweep stopped before them.")
    bound = [p.label for p in run.points if p.generator_bound]
    if bound:
        out.append("Generator-bound (Locust ran out of CPU, so requests/s measure the load generator, not Apache): "
                   + "; ".join(bound) + ".")
    failed = [f"{p.label}: {fmt_num(p.failures)} failed requests" for p in run.points if (p.failures or 0) > 0]
    if failed:
        out.append("Some requests failed: " + "; ".join(failed) + ".")
    flagged = [f"{p.label}: {f}" for p in run.points for f in p.flags]
    if flagged:
        out.append("Flags recorded on points: " + "; ".join(flagged) + ".")
    for p in run.points:
        if p.n > 0 and p.children_spawned_per_s == 0:
            loss = measured_loss(run, p)
            window = p.window_s
            text = (f"At N = {p.n} ({mode_label(p.mode)}) no new child started within the steady window"
                    + (f" of {fmt_num(window)} s" if window is not None else "")
                    + ": a child's life outlasted it, so this point did not measure recycling")
            if loss is not None:
                text += f"; its {-loss * 100:+.1f}% against N = 0 is trial-to-trial variation"
            out.append(text + ".")
    trials = [len(p.trials) for p in run.points]
    if trials and min(trials) < 2:
        out.append(f"{'Every' if max(trials) < 2 else 'Some'} point has a single trial: no 95% interval of "
                   "requests/s, and differences of a few percent between points may be noise.")
    for m in run.modes:
        c = run.conclusion(m)
        if c.model_ok is False:
            oos = c.oos_error
            err = oos if oos is not None else c.max_error
            kind = "out of sample" if oos is not None else "in sample"
            out.append(f"{mode_label(m).capitalize()}: the model missed a measured point by {pct(err)} {kind} "
                       f"(tolerance {pct(MODEL_TOLERANCE, 0)}); its curve is a rough guide there.")
    out += notes
    if run.problems:
        out.append("Some trial files could not be used: " + "; ".join(dict.fromkeys(run.problems)) + ".")
    return out
