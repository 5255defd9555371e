"""Border cells that hold a community's incidents join the grid; a shared one goes to one community."""

from __future__ import annotations

import h3
import numpy as np
from shapely.geometry import box

from spatial.grid import cover_communities, with_incident_cells


def test_border_cells_with_incidents_join_and_have_one_owner():
    # Two small boxes side by side on St Kitts; resolution 9 cells (~174 m edges) straddle their border.
    west, east = box(-62.74, 17.29, -62.73, 17.30), box(-62.73, 17.29, -62.72, 17.30)
    grid = cover_communities([west, east], [1, 2], 9)
    # A cell just outside both boxes (centre outside), holding 3 incidents of community 2 and 3 of community 1.
    outside = h3.str_to_int(h3.latlng_to_cell(17.3012, -62.7301, 9))
    tied = h3.str_to_int(h3.latlng_to_cell(17.2888, -62.7355, 9))
    assert outside not in grid.cells and tied not in grid.cells
    inside = int(grid.cells[0])
    cells = np.array([inside, outside, outside, tied, tied], dtype=np.int64)
    community = np.array([2, 1, 2, 2, 1], dtype=np.int64)
    incidents = np.array([4, 2, 3, 5, 5], dtype=np.int64)
    grown = with_incident_cells(grid, cells, community, incidents)
    assert len(grown) == len(grid) + 2 and np.all(np.diff(grown.cells) > 0)
    owner = dict(zip(grown.cells.tolist(), grown.community.tolist()))
    assert owner[outside] == 2  # most of its incidents
    assert owner[tied] == 1  # a tie: the lowest id
    assert owner[inside] == grid.community[0]  # a cell whose centre lies in a community keeps it
    assert with_incident_cells(grid, np.zeros(0), np.zeros(0), np.zeros(0)) is grid
