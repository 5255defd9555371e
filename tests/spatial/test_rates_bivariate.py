"""Bivariate local Moran (crime rate beside an indicator): esda's values, calibration, power.

Data: the 77 Chicago community areas (2020 population and unemployment,
GeoDa Center) and the 10k incidents of early 2012 counted per area in
``chicago_rates_data``; queen contiguity (libpysal ``Queen``, row-
standardised). Seeds are given in each test.
"""

import warnings

import esda
import numpy as np
import pytest
from scipy.stats import binom

from spatial.inference import EXACT, MONTE_CARLO
from spatial.rates.bivariate import ASSOCIATION_NOT_CAUSE, CLUSTER_TYPES, bivariate_local_moran
from spatial.rates.community import community_rates
from spatial.significance import NO_NEIGHBOURS, NOT_SIGNIFICANT
from spatial.weights import graph_from_csr, polygon_neighbours, to_libpysal
from tests.spatial.chicago_rates_data import chicago_areas

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)  # esda's notice on its future default
ALPHA = 0.05


@pytest.fixture(scope="module")
def chicago():
    areas = chicago_areas()
    graph = polygon_neighbours(areas.polygons)
    rates = community_rates(areas.incidents, areas.population, per=1000, graph=graph)
    return areas, graph, rates


def test_values_equal_esda_on_chicago_rates_and_unemployment(chicago):
    areas, graph, rates = chicago
    result = bivariate_local_moran(rates.raw, areas.unemployment, graph, seed=2012, permutations=9999)
    reference = esda.Moran_Local_BV(rates.raw, areas.unemployment, to_libpysal(graph), transformation="r",
                                    permutations=9999, seed=2012, n_jobs=1, keep_simulations=False)
    np.testing.assert_allclose(result.I, reference.Is, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(result.quadrant, reference.q)
    assert result.method == MONTE_CARLO and result.permutations == 9999
    # the same null (the community's own rate fixed, the others' unemployment shuffled over its
    # neighbours); esda folds its p and counts ties strictly, rates have no ties: two-sided p
    # agree within Monte Carlo error (standard error <= 0.01 at 9,999 permutations)
    np.testing.assert_allclose(result.p, np.minimum(1, 2 * reference.p_sim), atol=0.05)
    assert set(result.label) <= set(CLUSTER_TYPES) | {NOT_SIGNIFICANT}
    assert result.could_pass


def test_labels_follow_the_fdr_p_and_the_quadrant(chicago):
    areas, graph, rates = chicago
    result = bivariate_local_moran(rates.smoothed, areas.unemployment, graph, seed=7, permutations=9999)
    significant = result.label != NOT_SIGNIFICANT
    assert (result.p_fdr[significant] < ALPHA).all()
    names = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}
    assert all(label == names[q] for label, q in zip(result.label[significant], result.quadrant[significant]))
    unadjusted = bivariate_local_moran(rates.smoothed, areas.unemployment, graph, seed=7, permutations=9999,
                                       fdr=False)
    assert (unadjusted.label != NOT_SIGNIFICANT).sum() >= significant.sum()
    np.testing.assert_array_equal(unadjusted.p_fdr, unadjusted.p)


def test_calibrated_on_random_rates_with_no_spatial_pattern(chicago):
    """Independent random rates and indicators on the Chicago areas: the complete null.

    Per community at raw alpha 0.05 (999 permutations): 221 of 4,620
    community tests (60 maps) were labelled, a share of 0.048 against the
    stated 0.05. With Benjamini-Hochberg at 0.05 (3,999 permutations, enough
    for one community of 77 to pass): 3 maps of 40 had any labelled
    community (7.5 %; the bound allows what 40 maps at 5 % give with
    probability 0.99).
    """
    _, graph, _ = chicago
    rng = np.random.default_rng(20260417)
    labelled = 0
    for m in range(60):
        rates, indicator = rng.gamma(2.0, 2.0, graph.n), rng.normal(10.0, 3.0, graph.n)
        result = bivariate_local_moran(rates, indicator, graph, seed=m, permutations=999, fdr=False)
        labelled += int((result.label != NOT_SIGNIFICANT).sum())
    share = labelled / (60 * graph.n)
    assert share <= ALPHA, share
    maps_with_any = 0
    for m in range(40):
        rates, indicator = rng.gamma(2.0, 2.0, graph.n), rng.normal(10.0, 3.0, graph.n)
        result = bivariate_local_moran(rates, indicator, graph, seed=1000 + m, permutations=3999)
        maps_with_any += bool((result.label != NOT_SIGNIFICANT).any())
    assert maps_with_any <= binom.ppf(0.99, 40, ALPHA), maps_with_any  # at most 6 of 40


def test_a_planted_association_is_found(chicago):
    areas, graph, _ = chicago
    # a block of communities around the Loop (area 32) and its neighbours' neighbours: high
    # unemployment there, and a crime rate that rises with the neighbours' unemployment
    loop = areas.names.index("Loop")
    first = set(graph.neighbours_of(loop).tolist()) | {loop}
    planted = sorted(first | {int(j) for i in first for j in graph.neighbours_of(i)})
    in_block = np.isin(np.arange(graph.n), planted)
    rng = np.random.default_rng(99)
    indicator = 0.08 + 0.10 * in_block + rng.normal(0, 0.01, graph.n)
    crime = 3.0 + 4.0 * in_block + rng.normal(0, 0.5, graph.n)
    result = bivariate_local_moran(crime, indicator, graph, seed=5, permutations=9999)
    high_high = np.flatnonzero(result.label == "High-High")
    assert len(high_high) >= 3
    assert set(high_high.tolist()) <= set(planted)  # found only where it was planted


def test_count_indicator_uses_the_exact_test(chicago):
    _, graph, rates = chicago
    outlets = np.random.default_rng(3).poisson(2.0, graph.n)  # a count: alcohol outlets, say
    result = bivariate_local_moran(rates.raw, outlets, graph, seed=1)
    assert result.method == EXACT and result.permutations is None


def test_island_and_constant_inputs():
    # three communities, the third touching neither of the others
    graph = graph_from_csr(np.array([0, 1, 2, 2]), np.array([1, 0]), 3)
    result = bivariate_local_moran([1.0, 2.0, 3.0], [2.0, 1.0, 5.0], graph, seed=1, permutations=99)
    assert result.label[2] == NO_NEIGHBOURS and np.isnan(result.I[2]) and result.quadrant[2] == 0
    with pytest.raises(ValueError, match="same everywhere"):
        bivariate_local_moran([1.0, 1.0, 1.0], [2.0, 1.0, 5.0], graph, seed=1)
    with pytest.raises(ValueError, match="needs a crime rate"):
        bivariate_local_moran([1.0, np.nan, 1.0], [2.0, 1.0, 5.0], graph, seed=1)


def test_the_page_can_say_association_not_cause():
    assert "association, not cause" in ASSOCIATION_NOT_CAUSE
