"""Hit rate, PAI, PEI and RRI: worked examples, hand-computed cases, and planted histories.

Worked example: open_cp (QuantCrimAtLeeds/PredictCode, tests/evaluation_test.py, ``test_hit_rate``):
a 2×4 grid scored 1..8 with one event in each cell; covering 1 %, 2 % or 5 % of the cells flags none
(hit rate 0), 49 % flags floor(3.92) = 3 cells (3/8), 50 % flags 4 (1/2), 100 % flags all (1).
Planted histories: the H3 res-9 disk of 20 rings (1,261 cells) with a 19-cell hot spot
(:mod:`spatial.outcomes.synthetic`), seeds stated in each test.
"""

import math

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from spatial.outcomes import prediction_accuracy, top_area
from spatial.outcomes.accuracy import NotMeasurable, _bootstrap_later
from spatial.outcomes.baselines import kernel_surface
from spatial.outcomes.synthetic import disk_grid, gi_hot_cells, planted_history
from spatial.stats import gi_star_analytic

OPEN_CP_SCORES = np.array([1, 2, 3, 4, 5, 6, 7, 8])
ONE_EACH = np.ones(8, dtype=int)


@pytest.mark.parametrize(("percent", "hit_rate"), [(49, 3 / 8), (50, 0.5), (100, 1.0)])
def test_open_cp_hit_rates(percent, hit_rate):
    flagged = top_area(OPEN_CP_SCORES, math.floor(percent / 100 * len(OPEN_CP_SCORES)))
    result = prediction_accuracy(flagged, ONE_EACH, replicates=0)
    assert result.hit_rate == pytest.approx(hit_rate)
    # with one event per cell every map is as good as any other: PAI 1, and the best possible
    assert result.pai == pytest.approx(1.0)
    assert result.pei == pytest.approx(1.0)


@pytest.mark.parametrize("percent", [1, 2, 5])
def test_open_cp_tiny_coverage_flags_nothing_and_is_refused(percent):
    flagged = top_area(OPEN_CP_SCORES, math.floor(percent / 100 * len(OPEN_CP_SCORES)))
    assert flagged.sum() == 0
    with pytest.raises(NotMeasurable, match="No cell is flagged"):
        prediction_accuracy(flagged, ONE_EACH)


def test_hand_computed_case():
    # 10 cells, 20 later incidents; cells 0 and 1 flagged (a/A = 0.2) hold 6 + 4 = 10.
    later = np.array([6, 4, 7, 1, 1, 1, 0, 0, 0, 0])
    earlier = np.array([5, 5, 2, 2, 1, 0, 0, 0, 0, 0])  # flagged held 10 of 15
    flagged = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    result = prediction_accuracy(flagged, later, earlier=earlier, replicates=0)
    assert result.hit_rate == pytest.approx(10 / 20)
    assert result.pai == pytest.approx((10 / 20) / (2 / 10))  # 2.5
    # the best two cells hold 7 + 6 = 13: PAI* = (13/20)/0.2 = 3.25, PEI = 2.5/3.25 = 10/13
    assert result.best_captured == 13
    assert result.pei == pytest.approx(10 / 13)
    # RRI = (10/10) / (20/15) = 0.75 (Levine 2004): the cells kept 3/4 of their share
    assert result.recapture_rate_index == pytest.approx(0.75)


def test_best_map_with_unequal_areas_takes_the_densest_cells_first():
    later = np.array([10, 6, 3])
    area = np.array([2.0, 1.0, 1.0])  # densities 5, 6, 3
    flagged = np.array([1, 0, 0])  # area 2 flagged, 10 incidents
    result = prediction_accuracy(flagged, later, area=area, replicates=0)
    assert result.area_share == pytest.approx(0.5)
    # best area-2 map: cell 1 (6) then half of cell 0 (5) = 11
    assert result.best_captured == pytest.approx(11)
    assert result.pei == pytest.approx(10 / 11)


def test_ties_at_the_edge_share_the_remaining_area():
    weights = top_area([3, 2, 2, 2, 1], 2)
    np.testing.assert_allclose(weights, [1, 1 / 3, 1 / 3, 1 / 3, 0])
    # scored as the average of the three ways to break the tie
    later = np.array([4, 3, 0, 0, 1])
    shared = prediction_accuracy(weights, later, replicates=0).captured
    each = [prediction_accuracy(np.eye(5)[0] + np.eye(5)[k], later, replicates=0).captured for k in (1, 2, 3)]
    assert shared == pytest.approx(np.mean(each))


def test_hit_rate_interval_is_clopper_pearson_and_the_bootstrap_agrees():
    # resampling incidents with the flagged cells fixed makes n ~ Binomial(N, n/N); the interval is the
    # exact one: 30 of 100, 95 %: (0.2124, 0.3998) (beta quantiles, as scipy.stats.binomtest gives)
    later = np.array([30, 10, 20, 40])
    flagged = np.array([1, 0, 0, 0])
    result = prediction_accuracy(flagged, later, replicates=0)
    exact = binomtest(30, 100).proportion_ci(0.95, method="exact")
    assert result.hit_rate_interval.low == pytest.approx(exact.low)
    assert result.hit_rate_interval.high == pytest.approx(exact.high)
    assert result.pai_interval.low == pytest.approx(exact.low / 0.25)
    # the bootstrap draws behind PEI resample incidents the same way: their hit rates are binomial
    rng = np.random.default_rng(5)
    hits, _ = _bootstrap_later(later, flagged.astype(float), np.ones(4), 1.0, 20_000, rng)
    low, high = binom.ppf([0.025, 0.975], 100, 0.3)
    assert np.quantile(hits, [0.025, 0.975]) == pytest.approx([low, high], abs=1)


def test_nothing_captured_is_worse_than_chance_only_when_the_interval_says_so():
    # 0 of 54 in a tenth of the area: the exact upper bound 1 - 0.025**(1/54) = 0.066 < 0.1
    result = prediction_accuracy(np.eye(10)[0], [0, 6, 6, 6, 6, 6, 6, 6, 6, 6], replicates=0)
    assert result.pai_interval.low == 0 and result.pai_interval.high == pytest.approx(
        (1 - 0.025 ** (1 / 54)) / 0.1)
    assert "worse than chance" in result.verdict()
    few = prediction_accuracy(np.eye(10)[0], [0, 1, 1, 1, 1, 1, 1, 1, 1, 1], replicates=0)
    assert few.pai_interval.contains(1.0) and "cannot be told apart from chance" in few.verdict()


def test_bootstrap_is_seeded():
    later = np.random.default_rng(0).poisson(2, 200)
    flagged = top_area(later, 10)
    first = prediction_accuracy(flagged, later, seed=11)
    assert prediction_accuracy(flagged, later, seed=11) == first
    assert prediction_accuracy(flagged, later, seed=12).pei_interval != first.pei_interval


def test_bad_inputs_are_refused_in_words():
    with pytest.raises(NotMeasurable, match="no incidents in the later window"):
        prediction_accuracy([1, 0], [0, 0])
    with pytest.raises(NotMeasurable, match="one per cell"):
        prediction_accuracy([1, 0, 0], [1, 2])
    with pytest.raises(NotMeasurable, match="whole numbers"):
        prediction_accuracy([1, 0], [1, -2])


@pytest.fixture(scope="module")
def grid():
    return disk_grid()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_persistent_hot_spot_beats_chance_and_last_month(grid, seed):
    history = planted_history(grid, 7, background=0.3, hot_rate=2.0, rng=np.random.default_rng(seed))
    train, last, later = history[:6].sum(axis=0), history[5], history[6]
    hot = gi_hot_cells(train, grid.graph)
    assert hot.sum() > 0
    result = prediction_accuracy(hot, later, earlier=train, seed=seed)
    naive = prediction_accuracy(top_area(last, hot.sum()), later, seed=seed)
    assert result.pai > 2.5 and result.beats_chance
    assert result.pai > naive.pai
    assert "better than a random map" in result.verdict()


def test_null_history_pai_interval_includes_one(grid):
    # 40 null histories (seeds 100-139), three maps of the top 5 % of cells each: the Gi* z of six
    # windows (Gi* after FDR finds nothing on a null history), last window's counts, and its kernel
    # surface. A 95 % interval should include 1 in about 95 % of them; this fails below 88 %.
    covered, verdicts = [], []
    for seed in range(100, 140):
        history = planted_history(grid, 7, background=0.3, hot_rate=0.3, rng=np.random.default_rng(seed))
        train, last, later = history[:6].sum(axis=0), history[5], history[6]
        z = gi_star_analytic(train.astype(float), grid.graph)[3]
        share = math.floor(0.05 * len(z))
        for flagged in (top_area(z, share), top_area(last, share),
                        top_area(kernel_surface(grid.x, grid.y, last, grid.spacing), share)):
            result = prediction_accuracy(flagged, later, replicates=499, seed=seed)
            covered.append(result.pai_interval.contains(1.0))
            if covered[-1]:
                verdicts.append(result.verdict())
    assert 0.88 <= np.mean(covered) <= 1.0
    assert all("cannot be told apart from chance" in verdict for verdict in verdicts)
