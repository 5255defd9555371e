"""Rates per resident and Empirical Bayes smoothing: hand computations, esda's published values, refusals.

Published values: esda 2.9 docstrings of ``smoothing.Empirical_Bayes``,
``Spatial_Empirical_Bayes`` (St Louis homicides ``stl_hom.csv``, columns 11
and 14, ``stl.gal`` contiguity, both bundled with libpysal) and
``assuncao_rate``; printed to 9 significant figures, compared to 1e-8
relative. esda's own numbers on the same data to 1e-12.
"""

import warnings

import libpysal
import numpy as np
import pytest
from esda.smoothing import Empirical_Bayes, Spatial_Empirical_Bayes, assuncao_rate
from libpysal import examples

from spatial.rates.community import RELIABLE_EVENTS, community_rates
from spatial.rates.smoothing import assuncao_reis, empirical_bayes, spatial_empirical_bayes
from spatial.weights import graph_from_csr, graph_from_libpysal, polygon_neighbours
from tests.spatial.chicago_rates_data import chicago_areas

warnings.filterwarnings("ignore", category=UserWarning)

# A small table: incidents and residents of four places.
EVENTS = np.array([2, 30, 5, 40])
RESIDENTS = np.array([200, 1000, 1000, 800])


@pytest.fixture(scope="module")
def stl():
    table = libpysal.io.open(examples.get_path("stl_hom.csv"))
    events, residents = np.array(table[:, 10]).ravel(), np.array(table[:, 13]).ravel()
    w = libpysal.io.open(examples.get_path("stl.gal")).read()
    if not w.id_order_set:
        w.id_order = range(1, len(table) + 1)
    return events, residents, w


def test_global_eb_equals_a_hand_computation():
    # By hand, in fractions: overall rate m = 77/3000; raw rates 1/100, 3/100, 1/200, 1/20;
    # s2 = sum(b (r - m)^2) / sum(b) = 1453/4,500,000; mean(b) = 750;
    # prior variance a = s2 - m/750 = 433/1,500,000; weight a / (a + m/b) = 866/1251, 866/943,
    # 866/943, 3464/3849; smoothed = m + weight (r - m).
    m = 77 / 3000
    raw = np.array([1 / 100, 3 / 100, 1 / 200, 1 / 20])
    weight = np.array([866 / 1251, 866 / 943, 866 / 943, 3464 / 3849])
    result = empirical_bayes(EVENTS, RESIDENTS)
    np.testing.assert_allclose(result.weight, weight, rtol=1e-13)
    np.testing.assert_allclose(result.rate, m + weight * (raw - m), rtol=1e-13)
    np.testing.assert_allclose(result.rate, [0.014821476152, 0.029646164723, 0.006687522093, 0.047566034468],
                               rtol=1e-10)
    assert result.prior_variance[0] == pytest.approx(433 / 1_500_000, rel=1e-13)
    # smaller places move further toward the overall rate
    assert result.weight[0] < result.weight[3] < result.weight[1]


def test_negative_prior_variance_shrinks_every_rate_to_the_overall_rate():
    # Raw rates 1/100, 1/100, 1/50, 0 vary less than Poisson noise would make them: by hand,
    # s2 = 5/147,000 and m / mean(b) = 4/73,500 = 8/147,000, so the prior variance is negative.
    events, residents = np.array([1, 4, 10, 0]), np.array([100, 400, 500, 50])
    result = empirical_bayes(events, residents)
    assert result.prior_variance[0] == 0.0
    np.testing.assert_allclose(result.rate, 15 / 1050, rtol=1e-14)
    # esda does not clip: its weights turn negative and push rates away from the mean
    esda_rates = Empirical_Bayes(events, residents).r.ravel()
    assert esda_rates[2] < 15 / 1050 < esda_rates[3]


def test_global_eb_matches_esda_published_and_computed(stl):
    events, residents, _ = stl
    published = [2.36718950e-05, 4.54539167e-05, 4.78114019e-05, 2.76907146e-05, 6.58989323e-05,
                 3.66494122e-05, 5.79952721e-05, 2.03064590e-05, 3.31152999e-05, 3.02748380e-05]
    ours = empirical_bayes(events, residents).rate
    np.testing.assert_allclose(ours[:10], published, rtol=1e-8)
    np.testing.assert_allclose(ours, Empirical_Bayes(events, residents).r.ravel(), rtol=1e-12)


def test_spatial_eb_matches_esda_published_and_computed(stl):
    events, residents, w = stl
    published = [4.01485749e-05, 3.62437513e-05, 4.93034844e-05, 5.09387329e-05, 3.72735210e-05,
                 3.69333797e-05, 5.40245456e-05, 2.99806055e-05, 3.73034109e-05, 3.47270722e-05]
    ours = spatial_empirical_bayes(events, residents, graph_from_libpysal(w)).rate
    np.testing.assert_allclose(ours[:10], published, rtol=1e-8)
    np.testing.assert_allclose(ours, Spatial_Empirical_Bayes(events, residents, w).r.ravel(), rtol=1e-12)


def test_assuncao_reis_matches_esda_docstring():
    e = np.array([30, 25, 25, 15, 33, 21, 30, 20])
    b = np.array([100, 100, 110, 90, 100, 90, 110, 90])
    np.testing.assert_allclose(assuncao_reis(e, b)[:4], [1.03843594, -0.04099089, -0.56250375, -1.73061861],
                               atol=5e-9)  # printed to 8 decimals
    np.testing.assert_allclose(assuncao_reis(e, b), assuncao_rate(e, b), rtol=1e-14)


def test_chicago_rates_per_1000_from_incidents_counted_here():
    chicago = chicago_areas()
    graph = polygon_neighbours(chicago.polygons)
    rates = community_rates(chicago.incidents, chicago.population, per=1000, graph=graph, names=chicago.names)
    # the computation, in the test: incidents counted by point in polygon, per 1,000 residents
    np.testing.assert_allclose(rates.raw, chicago.incidents / chicago.population * 1000, rtol=1e-14)
    assert rates.overall == pytest.approx(chicago.incidents.sum() / chicago.population.sum() * 1000, rel=1e-14)
    np.testing.assert_allclose(rates.smoothed / 1000,
                               Empirical_Bayes(chicago.incidents, chicago.population).r.ravel(), rtol=1e-12)
    w = libpysal.weights.Queen.from_iterable(chicago.polygons, ids=list(range(len(chicago.polygons))))
    w.id_order = list(range(len(chicago.polygons)))
    np.testing.assert_allclose(rates.spatial_smoothed / 1000, Spatial_Empirical_Bayes(
        chicago.incidents, chicago.population, w).r.ravel(), rtol=1e-12)
    per_10000 = community_rates(chicago.incidents, chicago.population, per=10000)
    np.testing.assert_allclose(per_10000.raw, rates.raw * 10, rtol=1e-14)
    # Burnside (2,527 residents) expects about 9 incidents in these 45 days: flagged; Austin is not
    small = {name for name, flag in zip(chicago.names, rates.small_population) if flag}
    assert "Burnside" in small and "Austin" not in small
    expected = chicago.population * chicago.incidents.sum() / chicago.population.sum()
    np.testing.assert_array_equal(rates.small_population, expected < RELIABLE_EVENTS)


def test_missing_zero_and_negative_populations_are_refused_with_a_reason():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero, no invalid value
        rates = community_rates([3, 5, 2, 7, None, 40], [1000, 0, None, -5, 800, float("nan")],
                                names=["Basseterre", "Empty", "Unknown", "Typo", "No count", "Blank"])
    assert rates.refused == [None, "its population is zero", "its population is missing",
                             "its population is negative", "its incident count is missing",
                             "its population is missing"]
    assert rates.raw[0] == pytest.approx(3.0) and np.isnan(rates.raw[1:]).all()
    assert np.isnan(rates.smoothed[1:]).all() and not rates.small_population[1:].any()
    assert rates.verdicts[1] == "No rate for Empty: its population is zero."
    # the refused places take no part in the overall rate
    assert rates.overall == pytest.approx(3.0)
    np.testing.assert_array_equal(rates.has_rate, [True, False, False, False, False, False])


def test_verdict_in_plain_words_when_incidents_and_residents_are_few():
    rates = community_rates([1, 400, 3000], [300, 100_000, 1_000_000], per=10000,
                            names=["Village", "Town", "City"])
    assert rates.raw[0] == pytest.approx(1 / 300 * 10000)  # "33 per 10,000"
    assert rates.small_population.tolist() == [True, False, False]
    assert rates.verdicts[0].startswith("Too few to say from the raw rate of Village: 1 incidents among 300 "
                                        "residents, where about 0.9 would be expected")
    assert "read the smoothed rate" in rates.verdicts[0]
    assert rates.verdicts[1:] == [None, None]


def test_spatial_eb_leaves_refused_neighbours_out():
    # a chain 0 - 1 - 2: place 1 has no population, so 0 and 2 are neighbourhoods of one
    chain = graph_from_csr(np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]), 3)
    rates = community_rates([5, 1, 9], [1000, 0, 3000], graph=chain)
    np.testing.assert_allclose(rates.spatial_smoothed[[0, 2]], rates.raw[[0, 2]], rtol=1e-14)
    assert np.isnan(rates.spatial_smoothed[1])


def test_rate_unit_and_shapes_are_checked():
    with pytest.raises(ValueError, match="per 1,000 or per 10,000"):
        community_rates([1], [10], per=100)
    with pytest.raises(ValueError, match="same places"):
        community_rates([1, 2], [10])
    with pytest.raises(ValueError, match="positive"):
        empirical_bayes([1, 2], [10, 0])
