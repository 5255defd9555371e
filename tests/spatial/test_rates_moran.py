"""Rate Moran's I (Assunção–Reis) against esda's published value, and its permutation test.

Published: esda ``Moran_Rate`` docstring, sids2 (SID79 / BIR79, ``sids2.gal``,
row-standardised): I = 0.1662. The data ship inside the installed libpysal
(``libpysal/examples/sids2``: sids2.dbf and sids2.gal), so nothing is
downloaded.
"""

import warnings

import libpysal
import numpy as np
import pytest
from esda.moran import Moran_Rate
from libpysal import examples

from spatial.rates.moran_rate import MIN_PLACES, rate_moran
from spatial.weights import graph_from_libpysal

warnings.filterwarnings("ignore", category=UserWarning)


@pytest.fixture(scope="module")
def sids2():
    w = libpysal.io.open(examples.get_path("sids2.gal")).read()
    table = libpysal.io.open(examples.get_path("sids2.dbf"))
    return np.array(table.by_col("SID79")), np.array(table.by_col("BIR79")), w


def test_rate_moran_matches_esda_published_value(sids2):
    events, births, w = sids2
    result = rate_moran(events, births, graph_from_libpysal(w), seed=12345, permutations=999)
    assert f"{result.I:6.4f}" == "0.1662"
    reference = Moran_Rate(events, births, w, two_tailed=False, permutations=0)
    assert result.I == pytest.approx(reference.I, abs=1e-12)
    assert result.moran.z_norm == pytest.approx(reference.z_norm, abs=1e-9)
    np.testing.assert_allclose(result.standardised, reference.y, rtol=1e-14)


def test_rate_moran_permutation_p_is_two_sided_with_ties_counted(sids2):
    events, births, w = sids2
    result = rate_moran(events, births, graph_from_libpysal(w), seed=12345, permutations=999).moran
    # two-sided, ties counted as at least as extreme both ways
    assert result.p_sim == pytest.approx(min(1.0, 2 * (min(result.larger, result.smaller) + 1) / 1000))
    assert result.larger + result.smaller >= 999
    # the clustering of SIDS rates is clear: few relabellings reach 0.1662
    assert result.p_sim < 0.05
    assert result.seed == 12345 and result.permutations == 999


def test_rate_moran_needs_enough_places_and_some_variation(sids2):
    _, _, w = sids2
    graph = graph_from_libpysal(w)
    with pytest.raises(ValueError, match=f"at least {MIN_PLACES} places"):
        rate_moran([1, 2], [100, 100], graph_from_libpysal(libpysal.weights.lat2W(1, 2)), seed=1)
    with pytest.raises(ValueError, match="rates are all 0"):
        rate_moran(np.zeros(graph.n), np.full(graph.n, 100.0), graph, seed=1)
