"""Emerging hot spots end to end on arrays: the cube, space-time neighbours, Gi* against esda,
planted patterns that must be found, and null cubes that must stay quiet.

Grids are H3 covers of boxes on St Kitts (resolution 9 and 10); k = 1, time_lag = 1 unless said; every draw is seeded.
"""

import warnings

import esda
import h3
import numpy as np
import pytest
from shapely.geometry import box

from spatial.emerging import (
    MAX_BINS,
    EmergingParameters,
    SpaceTimeCube,
    category_label,
    cube_from_counts,
    emerging_hot_spots,
    space_time_graph,
)
from spatial.emerging.gi_cube import window_steps
from spatial.grid import cover_communities
from spatial.hotspots import AnalysisRefused
from spatial.weights import h3_neighbours, to_libpysal

BASSETERRE = box(-62.76, 17.27, -62.70, 17.33)


@pytest.fixture(scope="module")
def grid9():
    return cover_communities([BASSETERRE], [1], 9)


@pytest.fixture(scope="module")
def grid10():
    return cover_communities([BASSETERRE], [1], 10)


# ---------------------------------------------------------------- the cube and its neighbours


def test_cube_from_store_rows_keeps_zeros_and_drops_cells_outside(grid9):
    cells = grid9.cells
    outside = np.int64(h3.str_to_int(h3.latlng_to_cell(0.0, 0.0, 9)))
    cube = cube_from_counts(cells, np.array([cells[3], cells[3], cells[10], outside]), np.array([0, 4, 4, 4]),
                            np.array([2, 5, 1, 9]), steps=6)
    assert cube.counts.shape == (len(cells), 6)
    assert cube.counts.sum() == 8
    assert cube.counts[3, 0] == 2 and cube.counts[3, 4] == 5 and cube.counts[10, 4] == 1
    with pytest.raises(ValueError):
        cube_from_counts(cells, cells[:1], np.array([6]), np.array([1]), steps=6)


@pytest.mark.parametrize("time_lag", [0, 1, 2])
def test_space_time_neighbours(grid9, time_lag):
    spatial = h3_neighbours(grid9.cells)
    n, steps = spatial.n, 4
    graph = space_time_graph(spatial, steps, time_lag)
    assert graph.n == n * steps
    for cell in (0, n // 2, n - 1):
        ring = set(spatial.neighbours_of(cell).tolist())
        for step in range(steps):
            expected = {step * n + j for j in ring}
            for lag in range(1, min(step, time_lag) + 1):
                expected |= {(step - lag) * n + j for j in ring | {cell}}
            assert set(graph.neighbours_of(step * n + cell).tolist()) == expected
    inside = int(np.flatnonzero(spatial.cardinalities == 6)[0])
    assert graph.cardinalities[(steps - 1) * n + inside] == 6 + 7 * time_lag


def test_windows():
    assert window_steps(0, 1, 12, "neighbourhood") == (0, 0)
    assert window_steps(5, 2, 12, "neighbourhood") == (3, 5)
    assert window_steps(5, 2, 12, "cube") == (0, 11)


# ---------------------------------------------------------------- Gi* against esda


@pytest.mark.parametrize("global_window, step", [("neighbourhood", 0), ("neighbourhood", 7), ("cube", 7)])
def test_gi_star_of_a_step_equals_esda_on_the_same_space_time_weights(grid9, global_window, step):
    rng = np.random.default_rng(11)
    cube = SpaceTimeCube(grid9.cells, rng.poisson(0.8, size=(len(grid9), 10)))
    spatial = h3_neighbours(grid9.cells)
    result = emerging_hot_spots(cube, EmergingParameters(global_window=global_window), spatial=spatial)
    first, last = window_steps(step, 1, cube.steps, global_window)
    graph = space_time_graph(spatial, last - first + 1, time_lag=1)
    y = cube.counts[:, first:last + 1].T.ravel().astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = esda.G_Local(y, to_libpysal(graph, "b"), transform="B", star=True, permutations=0)
    n = len(grid9)
    focal = slice((step - first) * n, (step - first + 1) * n)
    np.testing.assert_allclose(result.gi.z[:, step], reference.Zs[focal], rtol=0, atol=1e-9)


# ---------------------------------------------------------------- planted patterns


def _cluster(grid, centre: int) -> np.ndarray:
    disk = [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(int(grid.cells[centre])), 1)]
    return np.flatnonzero(np.isin(grid.cells, disk))


def _centres(grid, spatial, how_many: int) -> list[int]:
    """Inside cells at least 5 rings apart, so planted neighbourhoods do not touch."""
    chosen: list[int] = []
    for candidate in np.flatnonzero(spatial.cardinalities == 6):
        if all(h3.grid_distance(h3.int_to_str(int(grid.cells[candidate])), h3.int_to_str(int(grid.cells[c]))) >= 5
               for c in chosen):
            chosen.append(int(candidate))
        if len(chosen) == how_many:
            return chosen
    raise AssertionError("grid too small for the planted clusters")


@pytest.mark.parametrize("seed", [2024, 1])
def test_planted_patterns_come_out_in_their_categories(grid10, seed):
    rng = np.random.default_rng(seed)
    spatial = h3_neighbours(grid10.cells)
    steps = 12
    mean = np.full((len(grid10), steps), 2.0)  # dense enough for a cold spot to be seen
    centres = _centres(grid10, spatial, 4)
    new, intensifying, diminishing, oscillating = (_cluster(grid10, c) for c in centres)
    mean[new, -1] = 12.0                                   # hot in the last step only
    mean[intensifying] = np.linspace(8, 24, steps)         # hot throughout and growing
    mean[diminishing] = np.linspace(24, 8, steps)          # hot throughout and fading
    mean[oscillating, :3] = 0.0                            # cold first, hot now
    mean[oscillating, -1] = 12.0
    cube = SpaceTimeCube(grid10.cells, rng.poisson(mean))
    result = emerging_hot_spots(cube, spatial=spatial)
    # each cluster's centre cell
    assert result.labels()[centres].tolist() == ["New hot spot", "Intensifying hot spot", "Diminishing hot spot",
                                                 "Oscillating hot spot"]
    planted = np.concatenate([new, intensifying, diminishing, oscillating])
    elsewhere = np.setdiff1d(np.arange(len(grid10)), np.concatenate([spatial.neighbours_of(i) for i in planted]))
    # cells whose neighbourhood holds no planted cell: background only
    assert (result.category[elsewhere] == 0).mean() >= 0.97


# ---------------------------------------------------------------- null cubes


@pytest.mark.parametrize("mean, seed", [(0.2, 1), (0.5, 2), (1.0, 3)])
def test_null_cube_gives_no_pattern_almost_everywhere(grid10, mean, seed):
    """Independent Poisson counts, no clustering: BH at 0.05 over the cube allows any discovery in at
    most 5 % of such cubes, and a discovery marks only the few cells around it, so at least 99 % of
    cells must show no pattern (the share is printed with -s)."""
    rng = np.random.default_rng(seed)
    cube = SpaceTimeCube(grid10.cells, rng.poisson(mean, size=(len(grid10), 12)))
    result = emerging_hot_spots(cube)
    share = float((result.category == 0).mean())
    print(f"mean {mean}: {share:.4%} of {len(grid10)} cells no pattern; "
          f"{int((result.gi.gi_bin != 0).sum())} significant bins of {result.gi.gi_bin.size}")
    assert share >= 0.99


def test_city_wide_rise_is_not_a_hot_spot_in_the_neighbourhood_window(grid10):
    """A city-wide rise to four times the incidents in the last three steps: against their own months (the
    default window) no cell stands out; against the whole cube (ArcGIS's default) those steps are hot
    almost everywhere, and most cells become consecutive hot spots."""
    rng = np.random.default_rng(5)
    mean = np.ones((len(grid10), 12))
    mean[:, -3:] = 4.0
    cube = SpaceTimeCube(grid10.cells, rng.poisson(mean))
    neighbourhood = emerging_hot_spots(cube)
    whole = emerging_hot_spots(cube, EmergingParameters(global_window="cube"))
    assert (neighbourhood.category == 0).mean() >= 0.99
    assert (whole.gi.gi_bin[:, -1] >= 2).mean() > 0.5
    assert category_label(int(np.bincount(whole.category + 8).argmax()) - 8) == "Consecutive hot spot"


# ---------------------------------------------------------------- refusals and plain words


def test_refusals(grid9):
    counts = np.ones((len(grid9), 12), dtype=np.int64)
    with pytest.raises(AnalysisRefused, match="at least 10"):
        emerging_hot_spots(SpaceTimeCube(grid9.cells, counts[:, :9]))
    with pytest.raises(AnalysisRefused, match="at least 30"):
        emerging_hot_spots(SpaceTimeCube(grid9.cells[:29], counts[:29]))
    with pytest.raises(AnalysisRefused, match="No incidents"):
        emerging_hot_spots(SpaceTimeCube(grid9.cells, counts * 0))
    steps = MAX_BINS // len(grid9) + 1  # too many cells-and-steps: refused before any array that size is made
    with pytest.raises(AnalysisRefused, match="analyses at most 4,000,000"):
        emerging_hot_spots(SpaceTimeCube(grid9.cells, np.ones((len(grid9), steps), dtype=np.int8)))


def test_too_few_incidents_is_said_in_plain_words(grid10):
    counts = np.zeros((len(grid10), 10), dtype=np.int64)
    counts[[5, 900], [2, 7]] = 1
    result = emerging_hot_spots(SpaceTimeCube(grid10.cells, counts))
    assert (result.category == 0).all()
    assert result.message and result.message.startswith("Too few incidents")


def test_a_quiet_sparse_cube_is_not_called_empty(grid10):
    rng = np.random.default_rng(8)
    result = emerging_hot_spots(SpaceTimeCube(grid10.cells, rng.poisson(0.3, size=(len(grid10), 12))))
    assert (result.category == 0).all()
    assert "would often be missed" in result.message and "(0.30 a cell a step)" in result.message


def test_the_advice_never_asks_for_fewer_steps_than_the_minimum(grid10):
    rng = np.random.default_rng(8)
    result = emerging_hot_spots(SpaceTimeCube(grid10.cells, rng.poisson(0.3, size=(len(grid10), 12))))
    assert "times longer" not in result.message  # 12 steps, each a few times longer, would be refused
    assert "a longer period with the same time step" in result.message
