"""CompStat trends per community (spatial/trends.py) against independent references.

- the conditional test of two Poisson counts against ``scipy.stats.binomtest`` (p = 1/2, two-sided);
- the rate ratio's interval against binomtest's Clopper-Pearson interval and a hand computation;
- the negative-binomial (beta-binomial) version against a direct sum over ``scipy.stats.betabinom``;
- Mann-Kendall against ``pymannkendall.original_test``, Sen's slope against ``pymannkendall.sens_slope``;
- calibration on seeded Poisson series with no change (share significant at 0.05 at most 5 %).
Seeds are fixed; tolerances 1e-12 unless said.
"""

from __future__ import annotations

import numpy as np
import pymannkendall
import pytest
from scipy import stats as sps

from spatial import trends


@pytest.mark.parametrize(("before", "after"), [(3, 6), (30, 60), (0, 7), (12, 4), (5, 5), (1, 0), (100, 131)])
def test_change_test_is_scipys_binomial_test(before, after):
    ours = trends.change_test(np.array([before]), np.array([after]))
    reference = sps.binomtest(after, before + after, 0.5)
    assert ours.p[0] == pytest.approx(reference.pvalue, abs=1e-12)
    interval = reference.proportion_ci(confidence_level=0.95, method="exact")
    expected_low = interval.low / (1 - interval.low)
    expected_high = np.inf if interval.high == 1 else interval.high / (1 - interval.high)
    assert ours.ratio_low[0] == pytest.approx(expected_low, rel=1e-9)
    assert ours.ratio_high[0] == pytest.approx(expected_high, rel=1e-9)


def test_rate_ratio_interval_by_hand():
    # 30 -> 60: pi = 60/90. Clopper-Pearson: pi_L is the Beta(60, 31) 2.5 % point, pi_U the Beta(61, 30)
    # 97.5 % point; the rate ratio is pi / (1 - pi), 2.0 at the estimate.
    ours = trends.change_test(np.array([30]), np.array([60]))
    pi_low, pi_high = sps.beta.ppf(0.025, 60, 31), sps.beta.ppf(0.975, 61, 30)
    assert ours.ratio_low[0] == pytest.approx(pi_low / (1 - pi_low), rel=1e-12)
    assert ours.ratio_high[0] == pytest.approx(pi_high / (1 - pi_high), rel=1e-12)
    assert ours.ratio_low[0] < 60 / 30 < ours.ratio_high[0]
    assert ours.ratio_low[0] > 1  # significant at 5 %: the interval leaves out "no change"
    # p by hand: 2 * P(Bin(90, 1/2) <= 30)
    assert ours.p[0] == pytest.approx(2 * sum(sps.binom.pmf(k, 90, 0.5) for k in range(31)), rel=1e-9)


def test_three_to_six_is_within_normal_variation_and_thirty_to_sixty_is_not():
    ours = trends.change_test(np.array([3, 30]), np.array([6, 60]))
    assert ours.verdict[0] == "up 100 %, within normal variation (p = 0.51)"
    assert ours.verdict[1] == "up 100 %, unlikely to be chance (p = 0.0021)"
    assert ours.significant.tolist() == [False, True]
    down = trends.change_test(np.array([50]), np.array([40]))
    assert down.verdict[0].startswith("down 20 %, within normal variation")


def test_too_few_incidents_is_said_and_the_threshold_is_exact():
    # 2 * 0.5**n < 0.05 first at n = 6 (0.031); n = 5 gives 0.0625: no split of 5 can be significant.
    ours = trends.change_test(np.array([0, 0, 2, 0, 0]), np.array([0, 5, 3, 6, 1]))
    assert ours.smallest_p[1] == pytest.approx(0.0625) and ours.smallest_p[3] == pytest.approx(0.03125)
    assert ours.verdict[0] == "no incidents in either month"
    assert "too few incidents to tell" in ours.verdict[1] and ours.verdict[1].startswith("up from 0 to 5")
    assert "too few incidents to tell" in ours.verdict[2] and "(2 to 3)" in ours.verdict[2]
    assert ours.verdict[3] == "up from 0 to 6, unlikely to be chance (p = 0.031)"
    assert np.isnan(ours.p[0]) and not ours.significant[0]
    for n in range(1, 12):
        splits = [sps.binomtest(k, n, 0.5).pvalue for k in range(n + 1)]
        assert (min(splits) < 0.05) == (trends.change_test(np.array([0]), np.array([n])).smallest_p[0] < 0.05)


def test_unknown_counts_are_not_tested():
    ours = trends.change_test(np.array([np.nan, 4.0]), np.array([9.0, np.nan]))
    assert np.isnan(ours.p).all() and not ours.significant.any()
    assert all(v.startswith("cannot be compared") for v in ours.verdict)


def test_over_dispersed_test_is_the_beta_binomial_and_milder():
    before, after, phi = np.array([30.0]), np.array([60.0]), np.array([2.5])
    ours = trends.change_test(before, after, phi)
    r = 45.0 / 1.5  # mu / (phi - 1), mu = n / 2
    tail = sum(sps.betabinom.pmf(k, 90, r, r) for k in range(31))
    assert ours.p[0] == pytest.approx(2 * tail, rel=1e-9)
    assert ours.p[0] > trends.change_test(before, after).p[0]
    # phi under 1 or unknown: the plain Poisson test
    plain = trends.change_test(np.array([30.0, 30.0]), np.array([60.0, 60.0]), np.array([0.4, np.nan]))
    assert plain.p == pytest.approx(trends.change_test(before, after).p[0], abs=1e-15)


def test_an_estimated_dispersion_refers_the_test_to_students_t():
    before, after, phi, dof = np.array([30.0]), np.array([60.0]), np.array([2.5]), np.array([14.9])
    known = trends.change_test(before, after, phi).p[0]
    estimated = trends.change_test(before, after, phi, dispersion_dof=dof)
    assert estimated.p[0] == pytest.approx(2 * sps.t.sf(sps.norm.isf(known / 2), 14.9), rel=1e-9)
    assert estimated.p[0] > known
    # the interval leaves out 1 exactly when the two-sided test at 5 % is significant, near the edge too
    for a in range(40, 80):
        row = trends.change_test(before, np.array([float(a)]), phi, dispersion_dof=dof)
        assert (row.ratio_low[0] > 1) == (row.p[0] < 0.05) or abs(row.p[0] - 0.05) < 0.01
    # phi = 1 (a history no more variable than Poisson): the exact test, no t
    plain = trends.change_test(before, after, np.array([0.8]), dispersion_dof=dof)
    assert plain.p[0] == pytest.approx(sps.binomtest(60, 90).pvalue, abs=1e-12)


def test_dispersion_is_one_for_poisson_and_large_for_negative_binomial():
    rng = np.random.default_rng(11)
    poisson = rng.poisson(20, size=(400, 36))
    mixed = rng.negative_binomial(5, 5 / (5 + 20), size=(400, 36))  # mean 20, variance 20 + 400/5 = 100: phi 5
    assert np.median(trends.dispersion_of(poisson).phi) == pytest.approx(1.0, abs=0.1)
    assert np.median(trends.dispersion_of(mixed).phi) == pytest.approx(5.0, rel=0.15)
    # a slow trend hardly moves it (the plain variance would be 1 + slope**2 * (36**2 - 1) / 12 / mean)
    trend = rng.poisson(20 + np.arange(36) * 1.0, size=(400, 36))
    assert np.median(trends.dispersion_of(trend).phi) < 1.2
    # the flag's level on Poisson histories: near 5 %
    assert np.mean(trends.dispersion_of(poisson).p < 0.05) < 0.08
    assert np.mean(trends.dispersion_of(mixed).p < 0.05) > 0.9
    short = trends.dispersion_of(poisson[:, :5])
    assert np.isnan(short.phi).all()


def test_mann_kendall_and_sens_slope_against_pymannkendall():
    rng = np.random.default_rng(5)
    series = rng.poisson(8 + np.outer(rng.uniform(-0.3, 0.3, 30), np.arange(24)).clip(-7, None), size=(30, 24))
    ours = trends.trend_of(series)
    for row in range(len(series)):
        reference = pymannkendall.original_test(series[row])
        assert ours.s[row] == reference.s
        assert ours.p[row] == pytest.approx(reference.p, abs=1e-12)
        assert ours.slope[row] == pytest.approx(pymannkendall.sens_slope(series[row]).slope, abs=1e-12)
        assert (("rising" in ours.verdict[row]) or ("falling" in ours.verdict[row])) == (reference.p < 0.05)


def test_a_short_series_has_no_trend_in_words():
    ours = trends.trend_of(np.array([[1, 5, 9, 14, 20.0], [1, 2, 3, 4, np.nan]]))
    assert ours.verdict[0] == "too short a series for a trend (5 months known; 6 needed)"
    assert ours.verdict[1].startswith("no trend given: 1 of the 5 months are hidden")
    assert np.isnan(ours.p).all()
    rising = trends.trend_of(np.array([[1, 2, 4, 5, 7, 9, 12.0]]))
    assert rising.verdict[0].startswith("rising over the 7 months, about +1.8 a month")


def test_a_series_with_hidden_months_gets_no_trend_because_hidden_months_are_the_small_ones():
    """Below analyst a month under the privacy threshold is hidden; leaving it out would bias the trend
    upward (a community falling into small counts would read "rising"), so no trend is given."""
    falling = np.array([[20, 16, 12, 9, 7, 6, np.nan, np.nan, np.nan]])
    shown = trends.trend_of(falling)
    assert np.isnan(shown.p[0]) and np.isnan(shown.slope[0])
    assert shown.verdict[0] == ("no trend given: 3 of the 9 months are hidden, and hidden months are the small "
                                "ones, so a trend over the rest would lean upward")


def test_compstat_compares_last_month_and_a_year_earlier():
    series = np.zeros((2, 14))
    series[:, -13], series[:, -2], series[:, -1] = [10, 40], [30, 3], [60, 6]
    figures = trends.compstat(series, "month")
    assert figures.last_period.before.tolist() == [30, 3] and figures.last_period.after.tolist() == [60, 6]
    assert figures.year_earlier is not None and figures.year_earlier.before.tolist() == [10, 40]
    weekly = trends.compstat(series, "week")
    assert weekly.year_earlier is None
    assert trends.compstat(series[:, :12], "month").year_earlier is None
    with pytest.raises(ValueError):
        trends.compstat(series, "fortnight")


@pytest.mark.parametrize("mean", [2, 10, 40])
def test_calibrated_on_poisson_nulls(mean):
    """No change at all: the share of 'significant' changes at 0.05 stays at or under 5 % (the exact test is
    conservative on discrete counts); 4,000 communities, seed 20261202 + mean."""
    rng = np.random.default_rng(20261202 + mean)
    figures = trends.compstat(rng.poisson(mean, size=(4000, 25)).astype(float))
    share = figures.last_period.significant.mean()
    assert share <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 4000)
    assert figures.year_earlier is not None and figures.year_earlier.significant.mean() <= 0.057
    assert (figures.trend.p < 0.05).mean() <= 0.057
