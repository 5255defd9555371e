"""Before/after evaluation of an intervention: odds ratio, WDQ, and the sentence for a partner.

Hand-computed cases follow the formulas as published: the odds ratio of Braga et al. (2014, 2019)
with Var(log OR) = sum of reciprocal counts (Farrington and Welsh), and Bowers and Johnson's (2003)
WDQ = (Ba/Ca - Bb/Cb) / (Ra/Ca - Rb/Cb). Planted cases draw Poisson counts with the seeds given.
"""

import math

import numpy as np
import pytest

from spatial.outcomes import AreaCounts, evaluate_intervention
from spatial.outcomes.accuracy import NotMeasurable
from spatial.outcomes.intervention import displacement_quotient, pearson_dispersion, relative_change
from spatial.outcomes.synthetic import intervention_counts, overdispersed_history


def test_odds_ratio_hand_computed():
    # target 100 -> 70, comparison 400 -> 440 (+10 % city-wide)
    change = relative_change(AreaCounts(100, 70), AreaCounts(400, 440))
    ratio = (70 / 100) / (440 / 400)  # 0.63636...
    se = math.sqrt(1 / 100 + 1 / 70 + 1 / 400 + 1 / 440)
    assert change.ratio == pytest.approx(ratio)
    # Braga et al.'s OR is the same table the other way up, above 1 for a relative fall:
    # (comparison after x target before) / (comparison before x target after)
    assert 1 / change.ratio == pytest.approx((440 * 100) / (400 * 70))
    assert change.interval.low == pytest.approx(ratio * math.exp(-1.959964 * se), rel=1e-6)
    assert change.interval.high == pytest.approx(ratio * math.exp(1.959964 * se), rel=1e-6)
    assert change.detectable_fall == pytest.approx(1 - math.exp(-(1.959964 + 0.841621) * se), rel=1e-5)
    assert change.found


def test_wdq_hand_computed_parts():
    # Bowers and Johnson's notation: R target, B buffer, C control; b before, a after
    target, buffer, control = AreaCounts(120, 80), AreaCounts(90, 105), AreaCounts(600, 500)
    wdq = displacement_quotient(target, buffer, control)
    assert wdq.success_measure == pytest.approx(80 / 500 - 120 / 600)  # -0.04
    assert wdq.displacement_measure == pytest.approx(105 / 500 - 90 / 600)  # +0.06
    assert wdq.quotient == pytest.approx(0.06 / -0.04)  # -1.5: more displaced than prevented
    assert wdq.reading == "displacement larger than the fall in the target area"
    diffusion = displacement_quotient(target, AreaCounts(90, 60), control)
    assert diffusion.quotient == pytest.approx((60 / 500 - 90 / 600) / -0.04)  # +0.75
    assert "diffusion" in diffusion.reading


def test_wdq_not_read_when_the_target_did_not_improve():
    wdq = displacement_quotient(AreaCounts(50, 60), AreaCounts(40, 40), AreaCounts(500, 500))
    assert wdq.quotient is None
    assert "did not improve" in wdq.reading


def test_planted_thirty_percent_fall_is_found():
    # 300 incidents a window in the target, 1,500 in the comparison, +5 % everywhere after: the counts
    # quote a detectable fall of about 24 %, so a 30 % fall should be found in well over 80 % of 200
    # draws (seeds 0-199; the benchmark measures 96 %)
    found = []
    for seed in range(200):
        target, buffer, comparison = intervention_counts(
            np.random.default_rng(seed), target=300, buffer=200, comparison=1500, target_change=-0.3, trend=0.05)
        evaluation = evaluate_intervention(target, comparison, buffer)
        found.append(evaluation.target_change.found and evaluation.target_change.ratio < 1)
        if found[-1]:
            assert evaluation.sentence.startswith("Crime in the target area fell")
            assert "95 % CI" in evaluation.sentence
    assert np.mean(found) >= 0.9


def test_no_change_is_claimed_at_about_the_stated_rate():
    # the same areas without an effect (a 10 % fall everywhere): claims in about 5 % of 400 draws
    claimed = []
    for seed in range(400):
        target, buffer, comparison = intervention_counts(
            np.random.default_rng(seed), target=300, buffer=200, comparison=1500, trend=-0.1)
        evaluation = evaluate_intervention(target, comparison, buffer)
        claimed.append(evaluation.target_change.found)
        if not claimed[-1]:
            assert "no effect is claimed" in evaluation.sentence
    assert 0.02 <= np.mean(claimed) <= 0.08


def test_fall_moved_into_the_buffer_is_reported_as_displacement():
    # the target loses 30 % of 300 (90 incidents); the 200-incident buffer gains them (+45 %):
    # the WDQ is negative in every draw, and displacement is reported in most (seeds 0-99)
    reported = []
    for seed in range(100):
        target, buffer, comparison = intervention_counts(
            np.random.default_rng(seed), target=300, buffer=200, comparison=1500, target_change=-0.3,
            buffer_change=0.45)
        evaluation = evaluate_intervention(target, comparison, buffer)
        if evaluation.displacement.quotient is not None:
            assert evaluation.displacement.quotient < 0
        reported.append("a sign of displacement" in evaluation.sentence)
        assert reported[-1] == (evaluation.buffer_change.found and evaluation.buffer_change.ratio > 1)
    assert np.mean(reported) >= 0.9


def test_small_counts_refuse_with_the_computed_reason():
    # a halving from 12 to 6 looks large but these counts cannot show it
    evaluation = evaluate_intervention(AreaCounts(12, 6), AreaCounts(400, 400))
    change = evaluation.target_change
    assert change.ratio == pytest.approx(0.5)
    assert not change.found
    detectable = 1 - math.exp(-(1.959964 + 0.841621) * math.sqrt(1 / 12 + 1 / 6 + 2 / 400))
    assert change.detectable_fall == pytest.approx(detectable, rel=1e-5)
    assert f"only a fall of about {detectable * 100:.0f} % or more" in evaluation.sentence
    assert "with 12 incidents before and 6 after in the target area" in evaluation.sentence


def test_too_few_incidents_before_are_never_claimed_in_the_target_or_the_buffer():
    # 9 -> 1 in the target and 4 -> 40 in the buffer both exclude 1 with the Wald interval, but a Wald
    # interval on fewer than 10 incidents before is not to be trusted: no effect and no displacement claimed
    evaluation = evaluate_intervention(AreaCounts(9, 1), AreaCounts(1000, 1000), AreaCounts(4, 40))
    for change in (evaluation.target_change, evaluation.buffer_change):
        assert change.interval.high < 1 or change.interval.low > 1  # the interval alone would claim it
        assert not change.found
    assert evaluation.sentence.startswith("No effect can be claimed: there were only 9 incidents in the target area")
    assert "Displacement into the surrounding cells cannot be judged: there were only 4 incidents" in evaluation.sentence
    assert "sign of displacement" not in evaluation.sentence
    assert evaluation.as_dict()["buffer_change"]["found"] is False


def test_zero_counts_cannot_be_measured():
    evaluation = evaluate_intervention(AreaCounts(0, 3), AreaCounts(400, 380), AreaCounts(10, 0))
    assert evaluation.target_change.ratio is None
    assert "No incidents in the target area before" in evaluation.sentence
    assert "No incidents in the buffer after" in evaluation.sentence
    with pytest.raises(NotMeasurable):
        AreaCounts(-1, 2)


def test_pearson_dispersion_hand_computed():
    # target 10, 20, 30 and comparison 30, 20, 10 in three earlier windows: row totals 60 and 60, window
    # totals 40 each, so every fitted value is 60 x 40 / 120 = 20 and X² = (100 + 0 + 100) / 20 x 2 = 20;
    # n = 6 cells, p = 3 window effects + 1 area effect, n - p = 2, phi = 10
    dispersion = pearson_dispersion([10, 20, 30], [30, 20, 10])
    assert dispersion.pearson == pytest.approx(20.0)
    assert dispersion.degrees_of_freedom == 2 and dispersion.phi == pytest.approx(10.0)
    # a window with no incident in either area carries nothing: out of n (2 cells) and p (its effect)
    assert pearson_dispersion([10, 0, 20, 30], [30, 0, 20, 10]) == dispersion
    # less than Poisson counts as Poisson
    assert pearson_dispersion([100, 100], [200, 200]).phi == 1.0
    assert pearson_dispersion([5], [7]) is None and pearson_dispersion([0, 0], [3, 4]) is None


def test_dispersion_scales_the_variance_and_uses_t_on_its_degrees_of_freedom():
    # earlier windows as above (phi 10 on 2 degrees of freedom): se = sqrt(10 x Poisson variance), t_2
    earlier = [(10, 30, None), (20, 20, None), (30, 10, None)]
    evaluation = evaluate_intervention(AreaCounts(100, 70), AreaCounts(100, 100), earlier=earlier)
    change = evaluation.target_change
    se = math.sqrt(10 * (1 / 100 + 1 / 70 + 2 / 100))
    t = 4.302653  # Student's t, 97.5 %, 2 degrees of freedom
    assert change.interval.low == pytest.approx(0.7 * math.exp(-t * se), rel=1e-5)
    assert change.interval.high == pytest.approx(0.7 * math.exp(t * se), rel=1e-5)
    assert change.dispersion.degrees_of_freedom == 2
    assert "in 3 earlier periods of the same length (10.0 times as much as chance alone would)" in evaluation.sentence


@pytest.mark.parametrize("ratio", [1.0, 0.8])
def test_interval_covers_the_true_ratio_on_overdispersed_counts(ratio):
    # negative binomial counts (variance mean + mean²/100): target 300, comparison 1,500 a window, four
    # earlier windows (phi on 3 degrees of freedom), 2,000 draws seeded [2026, i]. The 95 % interval must
    # cover the true ratio about 95 % of the time (measured: 95 % with no change, 97 % with a 20 % fall,
    # where the fall shrinks the target's Poisson share of the variance that phi scales); the Poisson
    # interval, which ignores the over-dispersion, covers it little more than half the time.
    covered, poisson = [], []
    for i in range(2000):
        target, comparison, earlier = overdispersed_history(np.random.default_rng([2026, i]), target=300,
                                                            comparison=1500, dispersion=100, earlier=4, ratio=ratio)
        covered.append(evaluate_intervention(target, comparison, earlier=earlier).target_change.interval.contains(ratio))
        poisson.append(evaluate_intervention(target, comparison).target_change.interval.contains(ratio))
    assert 0.93 <= np.mean(covered) <= 0.98
    assert np.mean(poisson) < 0.7


def test_overdispersed_nulls_are_claimed_at_about_the_stated_rate_with_earlier_windows():
    # no change, the same counts: the Poisson interval claims an effect in about 40 % of 400 draws; with
    # four earlier windows, at most about the stated 5 %
    plain, allowed = [], []
    for seed in range(400):
        target, comparison, earlier = overdispersed_history(np.random.default_rng(seed), target=300,
                                                            comparison=1500, dispersion=100, earlier=4)
        plain.append(evaluate_intervention(target, comparison).target_change.found)
        allowed.append(evaluate_intervention(target, comparison, earlier=earlier).target_change.found)
    assert np.mean(plain) > 0.25
    assert np.mean(allowed) <= 0.075


def test_the_wdq_is_rounded_once_from_the_full_value():
    # Bowers and Johnson's WDQ of target 29 -> 10, buffer 34 -> 50, comparison 200 -> 180:
    # success 10/180 - 29/200 = -0.0894444..., displacement 50/180 - 34/200 = 0.1077777...,
    # WDQ = -1.204968...: "-1.20". Rounded first to 4 decimals (-1.205) and then to 2, it read "-1.21".
    evaluation = evaluate_intervention(AreaCounts(29, 10), AreaCounts(200, 180), AreaCounts(34, 50))
    figures = evaluation.as_dict()["displacement"]
    assert figures["quotient"] == pytest.approx((50 / 180 - 34 / 200) / (10 / 180 - 29 / 200), rel=1e-12)
    assert figures["quotient_shown"] == "-1.20" == f"{figures['quotient']:.2f}"
    assert "weighted displacement quotient -1.20" in evaluation.sentence


def test_percent_changes_are_computed_from_the_unrounded_ratio():
    # target 150 -> 97, comparison 300 -> 300: ratio 97/150 = 0.646666..., a fall of 35.333... %
    # ("35 %"); the API's change_percent is the same unrounded figure, not (round(ratio, 4) - 1) x 100
    evaluation = evaluate_intervention(AreaCounts(150, 97), AreaCounts(300, 300))
    figures = evaluation.as_dict()["target_change"]
    assert figures["change_percent"] == pytest.approx((97 / 150 - 1) * 100, rel=1e-12)
    assert figures["ratio"] == pytest.approx(97 / 150, rel=1e-12)
    assert evaluation.sentence.startswith("Crime in the target area fell 35 % more than in the comparison area")


def test_the_wdq_is_not_read_when_the_fall_in_the_target_is_not_found():
    # target 100 -> 95 against a flat comparison (1,000 -> 1,000): a 5 % fall that cannot be told from
    # chance, so a success measure of -0.005; a buffer 100 -> 130 would give WDQ (0.13 - 0.10) / -0.005 = -6,
    # "displacement larger than the fall", of a fall that was not found
    evaluation = evaluate_intervention(AreaCounts(100, 95), AreaCounts(1000, 1000), AreaCounts(100, 130))
    assert not evaluation.target_change.found
    wdq = evaluation.displacement
    assert wdq.success_measure == pytest.approx(-0.005) and wdq.displacement_measure == pytest.approx(0.03)
    assert wdq.quotient is None and wdq.reading.startswith("Not read: the fall in the target area cannot be told")
    assert "weighted displacement quotient" not in evaluation.sentence
    # read as before once the fall is found
    found = evaluate_intervention(AreaCounts(300, 200), AreaCounts(1000, 1000), AreaCounts(100, 130))
    assert found.target_change.found and found.displacement.quotient == pytest.approx((0.13 - 0.10) / (0.2 - 0.3))
