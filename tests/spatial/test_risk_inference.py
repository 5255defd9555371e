"""Hot spots of risk under the constant-risk null (spatial/rates/risk_inference.py), against permuting
smoothed rates (miscalibrated) and against a binomial test computed here with scipy.

Grid: a disk of 1,027 resolution-9 H3 cells, k-ring 1, in 35 districts (their resolution-7 parents).
Residents: the same in every cell of a district, 2 to 60 (seeded), so smoothed rates have very different
spreads from one district to the next and like spreads sit together: the case where permuting them is
wrong. Risk: 0.01 incidents per resident (0.02 to 0.6 a cell). Seeds are stated in each test.
"""

import h3
import numpy as np
import pytest
from scipy.stats import binom, binomtest

from spatial.rates.areal import CellPopulation
from spatial.rates.risk import risk_null, risk_of_cells
from spatial.rates.risk_inference import CONSTANT_RISK, constant_risk_tails
from spatial.hotspots import AnalysisParameters, local_statistics
from spatial.significance import fdr_bh
from spatial.weights import h3_neighbours

ALPHA = 0.05
CENTRE = h3.latlng_to_cell(17.30, -62.72, 9)
RISK = 0.01  # incidents per resident over the period


@pytest.fixture(scope="module")
def town():
    cells = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(CENTRE, 18)), dtype=np.int64)
    districts = np.unique([h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), 7)) for c in cells],
                          return_inverse=True)[1]
    residents = np.random.default_rng(0).uniform(2, 60, districts.max() + 1)[districts]
    n = len(cells)
    placed = CellPopulation(cells=cells, population=residents, incomplete=np.zeros(n, bool),
                            share_community=np.zeros(n, np.int64), share_cell=np.arange(n),
                            share_population=residents, share_area_m2=np.ones(n), refused={})
    return {"cells": cells, "residents": residents, "placed": placed, "graph": h3_neighbours(cells, k=1)}


def _classes(town, counts, seed, constant_risk=True):
    risk = risk_of_cells(town["placed"], town["cells"], counts)
    params = AnalysisParameters(seed=seed, alpha=ALPHA)
    null = risk_null(counts, risk) if constant_risk else None
    local = local_statistics(risk.smoothed, town["graph"], params, null=null)
    return local, risk


def test_constant_risk_maps_show_a_spot_no_more_often_than_alpha_where_permutation_does(town):
    rng = np.random.default_rng(0)
    maps = 60
    ours = permuted = 0
    for seed in range(maps):
        counts = rng.poisson(RISK * town["residents"])
        local, _ = _classes(town, counts, seed)
        ours += bool((np.abs(local.fields["gi_bin"]) >= 2).any())
        if seed < 20:
            other, _ = _classes(town, counts, seed, constant_risk=False)
            permuted += bool((np.abs(other.fields["gi_bin"]) >= 2).any())
    assert ours <= binom.ppf(0.99, maps, ALPHA)
    assert permuted >= 4  # the exchangeable-values test finds "spots" in maps with none (at 5 %: about 1 in 20)


def test_a_planted_area_of_five_times_the_risk_is_found_where_it_was_planted(town):
    rng = np.random.default_rng(3)
    mean = RISK * town["residents"]
    busy = np.flatnonzero((town["residents"] > 40) & (town["graph"].cardinalities == 6))
    centre = int(town["cells"][busy[len(busy) // 2]])
    cluster = np.searchsorted(town["cells"], [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(centre), 2)])
    mean[cluster] *= 5.0  # 19 cells: the cell and two rings
    local, risk = _classes(town, rng.poisson(mean), seed=5)
    hot = np.flatnonzero(local.fields["gi_bin"] >= 2)
    assert np.isin(cluster, hot).any()
    assert all(h3.grid_distance(h3.int_to_str(int(town["cells"][i])), h3.int_to_str(centre)) <= 3 for i in hot)
    assert local.significance["method"] == CONSTANT_RISK
    assert np.nanmin(local.smallest_p) <= ALPHA / len(town["cells"])  # one cell alone could pass FDR
    # global EB found no variation beyond noise here, so every smoothed rate is the overall rate: a test
    # on the smoothed rates could find nothing, the neighbourhood's count against its residents does
    assert np.ptp(risk.smoothed) < 1e-9 * risk.overall


def test_p_is_the_binomial_p_of_the_neighbourhood(town):
    counts = np.random.default_rng(1).poisson(RISK * town["residents"])
    tails = constant_risk_tails(counts, town["residents"], town["graph"])
    graph, total = town["graph"], int(counts.sum())
    for i in (0, 100, 513):
        ring = np.r_[i, graph.indices[graph.indptr[i]:graph.indptr[i + 1]]]
        observed, share = int(counts[ring].sum()), town["residents"][ring].sum() / town["residents"].sum()
        expected = min(1.0, 2 * min(binomtest(observed, total, share, alternative="greater").pvalue,
                                    binomtest(observed, total, share, alternative="less").pvalue))
        assert tails.p[i] == pytest.approx(expected, rel=1e-9)
    assert tails.permutations is None and np.isfinite(tails.p).all()  # exact; a disk has no island
    assert (fdr_bh(tails.p) <= 1).all()
