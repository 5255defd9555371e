"""Analytic statistics against published values and against esda.

Data are bundled with libpysal (no downloads). Tolerances: published values
to 1e-6 (as printed), esda's own numbers to 1e-9.
"""

import warnings

import esda
import libpysal
import numpy as np
import pytest
from libpysal import examples

from spatial.stats import gi_star, gi_star_analytic, local_moran, moran_global
from spatial.weights import graph_from_libpysal

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=UserWarning)

TOY_POINTS = [(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)]
TOY_Y = np.array([2, 3, 3.2, 5, 8, 7])


@pytest.fixture(scope="module")
def toy_graph():
    # esda G_Local docstring: DistanceBand(points, threshold=15), binary.
    return graph_from_libpysal(libpysal.weights.DistanceBand(TOY_POINTS, threshold=15))


@pytest.fixture(scope="module")
def stl():
    # St Louis region homicide rates 1988-93, stl.gal contiguity (78 counties).
    w = libpysal.io.open(examples.get_path("stl.gal")).read()
    y = np.array(libpysal.io.open(examples.get_path("stl_hom.txt")).by_col["HR8893"])
    return y, w


@pytest.fixture(scope="module")
def columbus_queen():
    # Columbus crime, queen contiguity built from the bundled shapefile.
    w = libpysal.weights.Queen.from_shapefile(examples.get_path("columbus.shp"))
    y = np.array(libpysal.io.open(examples.get_path("columbus.dbf")).by_col("CRIME"))
    return y, w


def test_gi_star_binary_matches_esda_docstring(toy_graph):
    # G_Local(y, w, transform='B', star=True).Zs, esda 2.9 docstring
    published = [-1.39727626, -0.28917762, 0.65064964, -0.28917762, 1.23452088, 2.02424331]
    result = gi_star(TOY_Y, toy_graph, seed=10, permutations=0, transform="b")
    np.testing.assert_allclose(result.z, published, atol=1e-6)
    assert result.transform == "b" and np.isnan(result.p_sim).all()


def test_gi_star_row_standardised_matches_esda_docstring(toy_graph):
    # G_Local(y, w, transform='R', star=True).Zs, esda 2.9 docstring
    published = [-0.62488094, -0.09144599, 0.41150696, -0.09144599, 0.24690418, 1.28024388]
    result = gi_star(TOY_Y, toy_graph, seed=10, permutations=0, transform="r")
    np.testing.assert_allclose(result.z, published, atol=1e-6)


@pytest.mark.parametrize("transform", ["b", "r"])
def test_gi_star_analytic_equals_esda(transform, columbus_queen):
    y, w = columbus_queen
    e = esda.G_Local(y, w, transform=transform.upper(), star=True, permutations=0)
    g, expected, variance, z = gi_star_analytic(y, graph_from_libpysal(w), transform)
    np.testing.assert_allclose(g, e.Gs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(expected, e.EGs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(variance, e.VGs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(z, e.Zs, rtol=0, atol=1e-9)
    result = gi_star(y, graph_from_libpysal(w), seed=1, permutations=0, transform=transform)
    # esda's local p_norm is one-sided; ours is two-sided
    np.testing.assert_allclose(result.p_norm, 2 * e.p_norm, atol=1e-12)


def test_moran_st_louis_homicides(stl):
    y, w = stl
    result = moran_global(y, graph_from_libpysal(w), seed=12345, permutations=0)
    assert result.I == pytest.approx(0.2436558, abs=1e-6)  # esda Moran docstring, stl.gal
    assert result.expected == pytest.approx(-0.012987012987012988, abs=1e-12)
    assert result.p_norm == pytest.approx(0.00027147862770937614, abs=1e-9)
    e = esda.Moran(y, w, permutations=0)
    for ours, theirs in [(result.I, e.I), (result.variance_norm, e.VI_norm),
                         (result.z_norm, e.z_norm), (result.p_norm, e.p_norm),
                         (result.variance_rand, e.VI_rand), (result.z_rand, e.z_rand),
                         (result.p_rand, e.p_rand)]:
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_moran_columbus_crime_queen(columbus_queen):
    y, w = columbus_queen
    result = moran_global(y, graph_from_libpysal(w), seed=12345, permutations=0)
    assert result.I == pytest.approx(0.500188, abs=1e-6)  # Columbus CRIME, queen, GeoDa/PySAL
    assert result.expected == pytest.approx(-1 / 48, abs=1e-12)
    e = esda.Moran(y, w, permutations=0)
    assert result.z_norm == pytest.approx(e.z_norm, abs=1e-9)
    assert result.p_norm == pytest.approx(e.p_norm, abs=1e-12)


def test_local_moran_desmith_quadrants_and_esda_values():
    # esda Moran_Local docstring: desmith.gal, transformation 'r'
    w = libpysal.io.open(examples.get_path("desmith.gal")).read()
    y = np.array(libpysal.io.open(examples.get_path("desmith.txt")).by_col["z"])
    result = local_moran(y, graph_from_libpysal(w), seed=10, permutations=0)
    np.testing.assert_array_equal(result.quadrant, [4, 4, 4, 2, 3, 3, 1, 4, 3, 3])
    e = esda.Moran_Local(y, w, transformation="r", permutations=0)
    np.testing.assert_allclose(result.I, e.Is, rtol=0, atol=1e-12)


def test_local_moran_columbus_equals_esda(columbus_queen):
    y, w = columbus_queen
    result = local_moran(y, graph_from_libpysal(w), seed=10, permutations=0)
    e = esda.Moran_Local(y, w, transformation="r", permutations=0)
    np.testing.assert_allclose(result.I, e.Is, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(result.quadrant, e.q)
