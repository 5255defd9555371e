"""H3 neighbour graph: symmetry, islands, components, the sea between islands."""

import h3
import numpy as np
import pytest

from spatial.weights import NeighbourGraph, graph_from_libpysal, h3_neighbours, to_libpysal

from .conftest import NEVIS_PARISHES


def _edges(graph: NeighbourGraph):
    rows = np.repeat(np.arange(graph.n), graph.cardinalities)
    return rows, graph.indices


def test_graph_is_symmetric_sorted_and_has_no_self_links(kna_graph):
    rows, cols = _edges(kna_graph)
    assert np.all(rows != cols)
    forward = set(zip(rows.tolist(), cols.tolist()))
    assert forward == {(j, i) for i, j in forward}
    for i in range(0, kna_graph.n, 97):
        nb = kna_graph.neighbours_of(i)
        assert np.all(np.diff(nb) > 0)
    assert kna_graph.cardinalities.max() == 6


def test_neighbours_are_grid_disk_members_that_are_in_the_grid(kna_grid, kna_graph):
    cells = kna_grid.cells
    member = set(cells.tolist())
    for i in range(0, len(cells), 211):
        disk = {h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(int(cells[i])), 1)}
        expected = sorted((disk & member) - {int(cells[i])})
        assert cells[kna_graph.neighbours_of(i)].tolist() == expected


def test_st_kitts_and_nevis_are_separate_components(kna_parishes, kna_grid, kna_graph):
    _, names = kna_parishes
    on_nevis = np.array([names[c] in NEVIS_PARISHES for c in kna_grid.community])
    rows, cols = _edges(kna_graph)
    # The Narrows (~3 km) is far wider than a res-9 cell (~0.35 km across):
    # no neighbour link crosses the sea.
    assert not np.any(on_nevis[rows] != on_nevis[cols])
    assert kna_graph.n_components >= 2
    for label in np.unique(kna_graph.components):
        in_component = kna_graph.components == label
        assert on_nevis[in_component].all() or not on_nevis[in_component].any()
    assert len(np.unique(kna_graph.components[on_nevis])) >= 1
    assert set(kna_graph.components[on_nevis]).isdisjoint(kna_graph.components[~on_nevis])


def test_isolated_cells_are_islands_with_their_own_component():
    a = h3.str_to_int(h3.latlng_to_cell(17.30, -62.75, 9))
    disk = [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(a), 1)]
    lonely = h3.str_to_int(h3.latlng_to_cell(17.15, -62.60, 9))
    cells = np.array(sorted(disk + [lonely]), dtype=np.int64)
    graph = h3_neighbours(cells)
    lonely_pos = int(np.flatnonzero(cells == lonely)[0])
    assert graph.islands.tolist() == [lonely_pos]
    assert graph.n_components == 2
    centre = int(np.flatnonzero(cells == a)[0])
    assert graph.cardinalities[centre] == 6


def test_k2_reaches_the_second_ring():
    a = h3.str_to_int(h3.latlng_to_cell(17.30, -62.75, 9))
    cells = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(a), 3)))
    centre = int(np.flatnonzero(cells == a)[0])
    assert h3_neighbours(cells, k=1).cardinalities[centre] == 6
    assert h3_neighbours(cells, k=2).cardinalities[centre] == 18
    with pytest.raises(ValueError):
        h3_neighbours(cells, k=0)


def test_to_libpysal_keeps_neighbours_islands_and_transform(kna_graph):
    w = to_libpysal(kna_graph, "r")
    assert w.n == kna_graph.n
    assert w.transform.lower() == "r"
    np.testing.assert_allclose(np.asarray(w.sparse.sum(axis=1)).ravel(), 1.0)
    back = graph_from_libpysal(w)
    np.testing.assert_array_equal(back.indptr, kna_graph.indptr)
    np.testing.assert_array_equal(back.indices, kna_graph.indices)
    wb = to_libpysal(kna_graph, "b")
    assert set(np.unique(wb.sparse.data)) == {1.0}
    with pytest.raises(ValueError):
        to_libpysal(kna_graph, "v")


def test_to_libpysal_with_an_island():
    a = h3.str_to_int(h3.latlng_to_cell(17.30, -62.75, 9))
    far = h3.str_to_int(h3.latlng_to_cell(17.15, -62.60, 9))
    cells = np.array(sorted([a, far]
                            + [h3.str_to_int(c) for c in h3.grid_ring(h3.int_to_str(a), 1)]))
    w = to_libpysal(h3_neighbours(cells), "r")
    assert w.islands == [int(np.flatnonzero(cells == far)[0])]
