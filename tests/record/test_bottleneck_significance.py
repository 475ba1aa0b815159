"""Bottleneck classification, compare significance, saturation rules and wrk parsing on synthetic data."""

import pytest

from bench.record import bottleneck, significance


def classify(**kw):
    base = dict(window_s=10.0, server_cpu_s=None, server_cpus=1, generator_cpu_s=None, generator_cpus=1,
                generator_busiest_pct=None, shared_cpus=False, users=4, mean_ms=1.0)
    return bottleneck.classify(**(base | kw))


@pytest.mark.parametrize("kw, label", [
    (dict(server_cpu_s=9.6, generator_cpu_s=6.0, generator_busiest_pct=60), "server"),
    (dict(server_cpu_s=7.0, generator_cpu_s=9.5, generator_busiest_pct=95), "generator"),
    (dict(server_cpu_s=7.0, generator_cpu_s=9.4, generator_busiest_pct=50), "generator"),  # the set is busy
    (dict(server_cpu_s=3.0, generator_cpu_s=2.0, generator_busiest_pct=20), "load"),
    (dict(server_cpu_s=None, generator_cpu_s=2.0, generator_busiest_pct=20), "unknown"),
    (dict(server_cpu_s=None, generator_cpu_s=9.8, generator_busiest_pct=98), "generator"),
    # no partition: 2 shared CPUs, server 12 CPU-s + generator 7 CPU-s of 20
    (dict(server_cpu_s=12.0, server_cpus=2, generator_cpu_s=7.0, generator_cpus=2, generator_busiest_pct=70,
          shared_cpus=True), "shared"),
    (dict(server_cpu_s=19.0, server_cpus=2, generator_cpu_s=0.5, generator_cpus=2, generator_busiest_pct=5,
          shared_cpus=True), "shared"),
    (dict(server_cpu_s=4.0, server_cpus=2, generator_cpu_s=2.0, generator_cpus=2, generator_busiest_pct=20,
          shared_cpus=True), "load"),
    (dict(server_cpu_s=8.9, generator_cpu_s=8.9, generator_busiest_pct=89), "load"),  # just under both
])
def test_classification(kw, label):
    out = classify(**kw)
    assert out["bottleneck"] == label, out
    assert label in bottleneck.LABELS
    if kw.get("server_cpu_s") is not None:
        assert out["server_util"] == pytest.approx(kw["server_cpu_s"] / (10 * kw.get("server_cpus", 1)), abs=1e-3)


def test_labels_agree_with_utilisations():
    out = classify(server_cpu_s=9.6, generator_cpu_s=6.0, generator_busiest_pct=60)
    assert out["server_util"] >= bottleneck.SERVER_BUSY and "96%" in out["reason"]
    out = classify(server_cpu_s=3.0, generator_cpu_s=2.0, generator_busiest_pct=20, users=4, mean_ms=0.5)
    assert out["littles_law_rps"] == pytest.approx(8000)


def test_cell_label_majority_and_ties():
    assert bottleneck.cell_label(["server", "server", "generator"]) == "server"
    assert bottleneck.cell_label(["server", "generator"]) == "generator"  # a tie never claims capacity
    assert bottleneck.cell_label([None, None]) is None


@pytest.mark.parametrize("fast, slow, text", [
    ("server", "server", "40.00x"),
    ("generator", "server", "at least 40.00x (pooled limited by the generator)"),
    ("server", "load", "at most 40.00x (naive limited by too few users)"),
    ("generator", "load", "about 40.00x"),
    (None, None, "40.00x"),
])
def test_speedup_phrase(fast, slow, text):
    assert bottleneck.speedup_phrase(40.0, "pooled", fast, "naive", slow).startswith(text)


# Trial-level requests/s shaped like real runs (3 trials per cell, ~1% spread inside a run): two runs of one
# commit whose levels differ by 7.7% (the A/A gap issue 8 measured), and a 2x slowdown.
A_RUN = [8510.2, 8611.9, 8420.7]
A_RUN_AGAIN = [7902.5, 8004.1, 7788.0]  # the next run of the same commit: 7.7% lower, every trial


def test_a_a_is_never_a_regression():
    v = significance.change_test(A_RUN, A_RUN_AGAIN, higher_is_better=True)
    # The default run noise (5.5% per run) gives an interval of at least +-15%: not "no change" within 10%.
    assert v.verdict == "inconclusive", v
    # A trial-only test would call it: the spread within each run is ~1%.
    from scipy import stats
    assert stats.ttest_ind(A_RUN, A_RUN_AGAIN, equal_var=False).pvalue < 0.01


def test_two_x_slowdown_is_a_regression():
    v = significance.change_test(A_RUN, [x / 2 for x in A_RUN_AGAIN], higher_is_better=True)
    assert v.verdict == "regression" and v.ratio == pytest.approx(0.46, abs=0.01)
    v = significance.change_test([1.0, 1.1, 0.9], [2.0, 2.2, 1.9], higher_is_better=False)  # p99 doubled
    assert v.verdict == "regression"
    v = significance.change_test(A_RUN, [x * 2 for x in A_RUN], higher_is_better=True)
    assert v.verdict == "improvement"


def test_few_trials_are_inconclusive():
    v = significance.change_test(A_RUN[:2], [x / 2 for x in A_RUN[:2]], higher_is_better=True)
    assert v.verdict == "inconclusive" and "2 trials" in v.why
    assert significance.change_test([], A_RUN, higher_is_better=True).verdict == "inconclusive"


def test_significant_but_small_is_no_change():
    v = significance.change_test(A_RUN, A_RUN_AGAIN, higher_is_better=True, run_noise=0.0)
    assert v.verdict == "no change" and "smaller than 10%" in v.why


def test_a_server_cpu_filled_by_other_processes_is_still_the_server_limit():
    out = classify(server_cpu_s=7.5, server_set_busy_s=9.8, generator_cpu_s=1.0, generator_busiest_pct=10)
    assert out["bottleneck"] == "server" and out["others_util"] == pytest.approx(0.23)
    assert "other processes" in out["reason"]
    # A generator CPU kept busy by others counts as a busy generator set.
    out = classify(server_cpu_s=3.0, generator_cpu_s=2.0, generator_busiest_pct=20, generator_set_busy_s=9.7)
    assert out["bottleneck"] == "generator"
