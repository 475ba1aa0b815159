"""bench.record.stats: medians, intervals, ratios, Theil-Sen, the generator-bound verdict."""

import pytest

from bench.record import bottleneck, stats


def test_median_ci_contains_median_and_is_reproducible():
    values = [100.0, 110.0, 105.0, 98.0, 120.0]
    ci = stats.median_ci(values)
    assert ci[0] <= stats.median(values) <= ci[1]
    assert stats.median_ci(values) == ci
    assert stats.median_ci([5.0, 7.0]) == (5.0, 7.0)


def test_ratio_ci():
    r = stats.ratio_ci([100, 110, 105], [1000, 1100, 1050])
    assert r.ratio == pytest.approx(10.0)
    assert r.lo <= r.ratio <= r.hi and r.lo > 8
    one = stats.ratio_ci([100], [1000])
    assert one.ratio == pytest.approx(10.0) and one.ci is None and not one.excludes_one()


def test_median_rounds_and_skips_missing():
    assert stats.median([1.0, None, 2.0, float("nan")], 1) == 1.5
    assert stats.median([None]) is None


def test_theil_sen_ignores_a_one_off_step():
    x = list(range(20))
    y = [10.0 + 0.5 * v for v in x]
    y[3] += 100  # one outlier: a least-squares line would tilt, Theil-Sen does not
    slope, intercept = stats.theil_sen(x, y)
    assert slope == pytest.approx(0.5) and intercept == pytest.approx(10.0)
    assert stats.theil_sen([1, 1, 1], [4.0, 5.0, 6.0]) == (0.0, 5.0)


def test_generator_bound_threshold():
    # stats.generator_bound moved into the bottleneck classification: a Locust process at GENERATOR_BUSY
    # of a core is the limit, just below it is not.
    def label(busiest_pct: float | None) -> str:
        return bottleneck.classify(window_s=10, server_cpu_s=2, server_cpus=1, generator_cpu_s=None,
                                   generator_cpus=1, generator_busiest_pct=busiest_pct, shared_cpus=False,
                                   users=4, mean_ms=1.0)["bottleneck"]

    assert label(100 * bottleneck.GENERATOR_BUSY) == "generator" and label(89.9) != "generator"
    assert label(None) != "generator"


def test_theil_sen_of_a_flat_series_with_tied_x_says_nothing_on_the_terminal():
    """A child's RSS that did not move while few requests were served (ties in x): scipy's unused confidence
    band takes the sqrt of a negative variance; that warning reached `bench tune`'s output."""
    import warnings

    from bench.record import stats

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stats.theil_sen([0, 0, 1, 1, 1], [1000.0] * 5) == (0.0, 1000.0)
