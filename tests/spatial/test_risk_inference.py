"""Hot spots of risk under the Poisson–gamma null (spatial/rates/risk_inference.py): calibrated on maps
whose risk varies from cell to cell without a spatial pattern, where the former constant-risk binomial
test is not; a planted cluster still found; p equal to scipy's negative binomial.

Grid: a disk of 1,027 resolution-9 H3 cells, k-ring 1, near Basseterre. Residents either the same in every
cell of one of 35 districts (their resolution-7 parents), 2 to 60 (seeded): like populations together,
as when a community's population is spread by area; or independent per cell, uniform 20 to 200 (seeded).
Risk: 0.01 or 0.05 incidents per resident, times an iid Gamma multiplier (mean 1) where stated. Seeds
are stated in each test.
"""

import h3
import numpy as np
import pytest
from scipy.stats import binom, nbinom, norm, poisson

from spatial.hotspots import AnalysisParameters, local_statistics
from spatial.rates.areal import CellPopulation
from spatial.rates.risk import risk_null, risk_of_cells
from spatial.rates.risk_inference import POISSON_GAMMA, poisson_gamma_tails, risk_dispersion
from spatial.significance import fdr_bh
from spatial.weights import h3_neighbours

ALPHA = 0.05
CENTRE = h3.latlng_to_cell(17.30, -62.72, 9)


def _town(residents, cells, graph):
    n = len(cells)
    placed = CellPopulation(cells=cells, population=residents, incomplete=np.zeros(n, bool),
                            share_community=np.zeros(n, np.int64), share_cell=np.arange(n),
                            share_population=residents, share_area_m2=np.ones(n), refused={})
    return {"cells": cells, "residents": residents, "placed": placed, "graph": graph}


@pytest.fixture(scope="module")
def disk():
    cells = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(CENTRE, 18)), dtype=np.int64)
    return cells, h3_neighbours(cells, k=1)


@pytest.fixture(scope="module")
def districts(disk):
    cells, graph = disk
    district = np.unique([h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), 7)) for c in cells],
                         return_inverse=True)[1]
    return _town(np.random.default_rng(0).uniform(2, 60, district.max() + 1)[district], cells, graph)


@pytest.fixture(scope="module")
def scattered(disk):
    cells, graph = disk
    return _town(np.random.default_rng(1).uniform(20, 200, len(cells)), cells, graph)


def _classes(town, counts, seed=0):
    risk = risk_of_cells(town["placed"], town["cells"], counts)
    local = local_statistics(risk.standardised, town["graph"], AnalysisParameters(seed=seed, alpha=ALPHA),
                             null=risk_null(counts, risk))
    return local


def _constant_risk_spot(town, counts):
    """The former test: each neighbourhood's exact binomial p under constant risk, FDR."""
    window = town["graph"].to_sparse(self_weight=1.0)
    window.data[:] = 1.0
    observed, share = window @ counts.astype(float), window @ town["residents"] / town["residents"].sum()
    total = int(counts.sum())
    p = np.minimum(1, 2 * np.minimum(binom.sf(observed - 1, total, share), binom.cdf(observed, total, share)))
    return bool((fdr_bh(p) < ALPHA).any())


@pytest.mark.parametrize("layout, shape, risk", [("districts", None, 0.01), ("districts", 1.0, 0.05),
                                                 ("scattered", 4.0, 0.01), ("scattered", 1.0, 0.05)])
def test_maps_of_uneven_risk_without_pattern_show_a_spot_no_more_often_than_alpha(
        request, layout, shape, risk):
    town = request.getfixturevalue(layout)
    rng = np.random.default_rng(7)
    maps, ours, former = 60, 0, 0
    for seed in range(maps):
        multiplier = np.ones(len(town["cells"])) if shape is None else rng.gamma(shape, 1 / shape, len(town["cells"]))
        counts = rng.poisson(risk * multiplier * town["residents"])
        ours += bool((np.abs(_classes(town, counts, seed).fields["gi_bin"]) >= 2).any())
        former += _constant_risk_spot(town, counts)
    # at a true rate of 5 %, more than binom.ppf(0.99, 60, 0.05) = 7 maps happens with probability < 0.01
    assert ours <= binom.ppf(0.99, maps, ALPHA)
    if shape == 1.0:  # the constant-risk test calls scattered risk clustering on most such maps
        assert former >= maps // 2


def test_a_planted_area_of_five_times_the_risk_is_found_on_uneven_background(scattered):
    town, rng = scattered, np.random.default_rng(3)
    mean = 0.01 * rng.gamma(4.0, 0.25, len(town["cells"])) * town["residents"]
    inner = np.flatnonzero(town["graph"].cardinalities == 6)
    centre = h3.int_to_str(int(town["cells"][inner[len(inner) // 3]]))
    cluster = np.searchsorted(town["cells"], [h3.str_to_int(c) for c in h3.grid_disk(centre, 2)])
    mean[cluster] *= 5.0  # 19 cells: the cell and two rings
    local = _classes(town, rng.poisson(mean), seed=5)
    hot = np.flatnonzero(local.fields["gi_bin"] >= 2)
    assert np.isin(cluster, hot).sum() >= 3
    assert all(h3.grid_distance(h3.int_to_str(int(town["cells"][i])), centre) <= 3 for i in hot)
    assert local.significance["method"] == POISSON_GAMMA
    # z and the class come from one test: every classed cell's z has the class's sign and |z| >= 1.96
    classed = local.fields["gi_bin"] != 0
    assert (np.sign(local.fields["gi_z"][classed]) == np.sign(local.fields["gi_bin"][classed])).all()
    assert (np.abs(local.fields["gi_z"][classed]) >= norm.isf(0.025) - 1e-9).all()


def test_p_is_the_negative_binomial_p_of_the_neighbourhood(scattered):
    town = scattered
    counts = np.random.default_rng(1).poisson(0.05 * np.random.default_rng(2).gamma(2.0, 0.5, 1027)
                                              * town["residents"])
    spread = risk_dispersion(counts, town["residents"])
    assert 0.2 < spread < 0.8  # Gamma shape 2: a squared coefficient of variation of 0.5
    tails = poisson_gamma_tails(counts, town["residents"], town["graph"])
    graph, b = town["graph"], town["residents"]
    m = counts.sum() / b.sum()
    for i in (0, 100, 513):
        ring = np.r_[i, graph.indices[graph.indptr[i]:graph.indptr[i + 1]]]
        observed, expected, squares = counts[ring].sum(), m * b[ring].sum(), ((m * b[ring]) ** 2).sum()
        shape = expected ** 2 / (spread * squares)
        chance = shape / (shape + expected)
        p = min(1.0, 2 * min(nbinom.sf(observed - 1, shape, chance), nbinom.cdf(observed, shape, chance)))
        assert tails.p[i] == pytest.approx(p, rel=1e-9)
        # its variance is the Poisson-gamma one: E + c * sum (m b_j)^2
        assert nbinom.var(shape, chance) == pytest.approx(expected + spread * squares, rel=1e-9)
    assert tails.permutations is None and np.isfinite(tails.p).all()


def test_without_spread_beyond_noise_the_test_is_poisson(scattered):
    town = scattered
    counts = np.rint(0.05 * town["residents"]).astype(np.int64)  # varies less than Poisson noise would
    counts[0] += 6
    assert risk_dispersion(counts, town["residents"]) == 0.0
    tails = poisson_gamma_tails(counts, town["residents"], town["graph"])
    graph, b = town["graph"], town["residents"]
    ring = np.r_[0, graph.indices[graph.indptr[0]:graph.indptr[1]]]
    expected = counts.sum() / b.sum() * b[ring].sum()
    observed = counts[ring].sum()
    assert tails.p[0] == pytest.approx(min(1, 2 * min(poisson.sf(observed - 1, expected),
                                                     poisson.cdf(observed, expected))), rel=1e-9)
