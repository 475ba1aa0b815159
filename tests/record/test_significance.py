"""The verdict rule of bench compare (bench/record/significance.py): regression and improvement need a
significant change beyond the threshold, "no change" needs the whole 95% interval inside it, everything else
is inconclusive; the detectable change and the trials that would bring it under the threshold; the run-to-run
noise measured from A/A runs."""

import math

import pytest

from bench.record import significance as S


@pytest.mark.parametrize("pct, ci, p, higher, verdict", [
    (-30.0, (-40.0, -18.0), 0.001, True, "regression"),       # big and significant
    (+30.0, (+18.0, +40.0), 0.001, True, "improvement"),
    (+30.0, (+18.0, +40.0), 0.001, False, "regression"),      # p99 rose 30%
    (-30.0, (-55.0, +5.0), 0.09, True, "inconclusive"),       # big, not significant
    (-15.7, (-31.0, +3.9), 0.10, True, "inconclusive"),       # the issue's figures: never "no change"
    (+1.0, (-4.0, +6.0), 0.70, True, "no change"),            # tight interval inside +-10%
    (-6.0, (-9.0, -3.0), 0.001, True, "no change"),           # significant but small, interval inside
    (-6.0, (-13.0, -0.5), 0.04, True, "inconclusive"),        # significant, small, interval reaches past -10%
    (+2.0, (-16.0, +24.0), 0.80, True, "inconclusive"),       # the default noise's A/A: too wide to say
    (-10.0, (-10.0, -10.0), 0.0, True, "no change"),          # exactly at the threshold is not beyond it
])
def test_the_verdict_table(pct, ci, p, higher, verdict):
    got, why = S.decide(pct, ci, p, 10.0, higher_is_better=higher)
    assert got == verdict, why


def test_the_issue_case_says_why():
    verdict, why = S.decide(-15.7, (-31.0, 3.9), 0.10, 10.0, higher_is_better=True)
    assert verdict == "inconclusive"
    assert why == ("-15.7% is not significant (p = 0.100) and its 95% CI -31.0% to +3.9% reaches past +-10%: it can "
                   "exclude neither 0 nor a change past +-10%")


# The issue's runs: A 984 (979-1,015) and B 829 (815-830) req/s, 3 trials each.
A = [979.0, 984.0, 1015.0]
B = [815.0, 829.0, 830.0]


def test_the_issues_runs_are_inconclusive_with_the_trials_that_would_decide():
    v = S.change_test(A, B, higher_is_better=True)
    assert v.verdict == "inconclusive" and v.p_value == pytest.approx(0.10, abs=0.01)
    assert v.pct == pytest.approx(-16.9, abs=0.1) and v.ci95_pct[0] < -16.9 < v.ci95_pct[1]
    assert v.ci95_pct[0] < -10 and v.ci95_pct[1] > 0
    d = v.detectable
    assert d.trials == (3, 3) and d.pct > 30 and not d.reachable and d.trials_needed is None
    assert "no number of trials can bring that under 10% with run-to-run noise 0.055" in d.text()
    assert "duet run" in d.text() and "can only call changes larger than" in v.why
    # With the noise this machine measured in the issue's A/A pair (3% apart), 3 trials decide it.
    quiet = S.change_test(A, B, higher_is_better=True, run_noise=0.015)
    assert quiet.verdict == "regression"


def test_the_detectable_change_shrinks_with_trials_until_the_run_noise_stops_it():
    var = 0.05 ** 2  # 5% spread within a run
    few = S.detectable(var, var, (3, 3), 0.0, 10.0)
    assert few.reachable and few.pct == pytest.approx(16.4, abs=0.1) and few.trials_needed == 6
    assert few.text().endswith("(alpha 0.05, power 0.8); 6 trials per side would bring that under 10%")
    many = S.detectable(var, var, (8, 8), 0.0, 10.0)
    assert many.pct < 10 and many.text().endswith("(alpha 0.05, power 0.8)")
    assert S.detectable(var, var, (3, 3), 0.022, 10.0).trials_needed == 33  # the run noise adds its floor
    # (1.96 + 0.84) x sqrt(2) x noise >= ln 1.1: no number of trials can.
    limit = math.log(1.1) / ((1.959964 + 0.841621) * math.sqrt(2))
    assert not S.detectable(var, var, (3, 3), limit * 1.01, 10.0).reachable
    close = S.detectable(var, var, (3, 3), limit * 0.98, 10.0)
    assert close.reachable and close.trials_needed is None  # reachable only past MAX_TRIALS
    assert f"more than {S.MAX_TRIALS} trials per side" in close.text()


def test_the_verdict_records_to_json():
    v = S.change_test(A, B, higher_is_better=True)
    data = v.to_json()
    assert data["verdict"] == "inconclusive" and data["change_pct"] == pytest.approx(v.pct)
    assert data["ci95_pct"] == [round(x, 2) for x in v.ci95_pct]
    assert data["detectable"]["reachable"] is False and data["detectable"]["power"] == 0.8


def test_run_noise_from_a_a_runs():
    # Three runs of one commit, two cells, trials ~1% apart, run levels 0, +5%, -5%.
    levels = [1.0, 1.05, 0.95]
    cells = [[[base * lv * f for f in (0.99, 1.0, 1.01)] for lv in levels] for base in (1000.0, 50.0)]
    est = S.estimate_run_noise(cells)
    assert est.df == 4 and est.cells == 2 and est.runs == 3
    assert est.measured == pytest.approx(0.05, abs=0.005) and est.run_noise == est.measured
    assert est.upper90 > est.measured
    assert S.NoiseEstimate.of(est.to_json()).df == 4
    # Identical runs: measured 0, used at the floor.
    same = S.estimate_run_noise([[[10.0, 10.1, 9.9], [10.0, 10.1, 9.9]]])
    assert same.measured == 0 and same.run_noise == S.NOISE_FLOOR
    assert S.estimate_run_noise([[[10.0, 11.0], []]]) is None
