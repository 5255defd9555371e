"""Is there enough data to conclude? Plain-words verdicts on a run and its communities.

A map with no hot spot means two different things: the incidents are spread
evenly, or there are too few of them for any cell to stand out. Planners must
be told which. Two checks, both recorded:

1. *Could anything pass?* Each cell's p can be no smaller than the smallest p
   its conditional test can reach (:attr:`spatial.inference.LocalTails.smallest_p`);
   if even those best cases cannot pass Benjamini–Hochberg, no pattern of
   these counts could show a hot spot.
2. *Would a real cluster have been found?* bench/calibration.py plants
   clusters of 7 cells at 5x the background rate: at a mean of about
   ``POWER_MEAN`` incident per cell they are found in nine fields of ten or
   more; far below it, most are missed. A run or community with no hot spot
   and fewer incidents per cell than that gets a message suggesting a
   coarser grid or a longer period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spatial.grid import MIN_RESOLUTION, CommunityGrid
from spatial.inference import could_any_pass

# incidents per cell at which planted 7-cell clusters at 5x were found in >= 90 % of
# fields (bench/results/calibration.json); below it a quiet map is weak evidence
POWER_MEAN = 1.0
# each coarser H3 resolution has about 7 times the area per cell
AREA_RATIO = 7.0


@dataclass
class Evidence:
    """What the run's counts allow one to conclude.

    Attributes
    ----------
    enough_data : bool
        False when no cell could be significant, or when no hot spot was
        found and the counts are too sparse for a quiet map to mean much.
    message : str or None
        The plain-words verdict for planners, with the figures (None when hot
        spots were found or the data were dense enough for "none found" to be
        informative).
    incidents, cells : int
    mean_per_cell : float
    hot_cells, cold_cells : int
        Cells at Gi_Bin +2/+3 and -2/-3 (95 % and over).
    suggested_resolution : int or None
        The finest resolution at which the mean would reach ``POWER_MEAN``.
    suggested_period_factor : int or None
        How many times longer a period would give that mean at this resolution.
    could_pass : bool or None
        Whether any cell could have passed at all (None if not known).
    communities : dict[int, str]
        Community id -> its own message (with figures), for communities in
        the same case.
    """

    enough_data: bool
    message: str | None
    incidents: int
    cells: int
    mean_per_cell: float
    hot_cells: int
    cold_cells: int
    suggested_resolution: int | None
    suggested_period_factor: int | None
    could_pass: bool | None
    communities: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready form for provenance (community ids as strings)."""
        out = {k: v for k, v in self.__dict__.items() if k != "communities"}
        out["communities"] = {str(k): v for k, v in self.communities.items()}
        return out


def suggestion(mean: float, resolution: int) -> tuple[int | None, int | None]:
    """Coarser resolution and/or longer period that would reach ``POWER_MEAN`` per cell."""
    if mean <= 0:
        return None, None
    factor = POWER_MEAN / mean
    steps = math.ceil(math.log(factor) / math.log(AREA_RATIO)) if factor > 1 else 0
    coarser = resolution - steps if steps and resolution - steps >= MIN_RESOLUTION else None
    longer = math.ceil(factor) if factor > 1 else None
    return coarser, longer


def _advice(mean: float, resolution: int) -> str:
    coarser, longer = suggestion(mean, resolution)
    options = []
    if longer:
        options.append(f"a period about {longer} times longer")
    if coarser is not None:
        options.append(f"a coarser grid (resolution {coarser})")
    return (" Try " + " or ".join(options) + ".") if options else ""


# Below analyst the verdict may rest on published classes only (a count, a mean or "fewer than one
# incident a cell" would bound hidden counts): said wherever no 95 % hot spot is shown.
NO_HOT_SPOT_NOTE = ("No 95 % hot spot is shown. When incidents are few, that does not show there is none: "
                    "a longer period or a coarser grid may show more.")


def _reason(could_pass: bool | None) -> str:
    return (" No arrangement of so few incidents could be significant." if could_pass is False else
            " No hot spot was found, but a real cluster this sparse would often be missed, so this does "
            "not show there is none.")


def sparse_message(place: str, incidents: int, cells: int, resolution: int, could_pass: bool | None) -> str:
    """The plain-words verdict for a place with too few incidents, with its figures."""
    mean = incidents / cells if cells else 0.0
    lead = (f"Too few incidents in {place} to find hot spots: {incidents} incidents over {cells} cells "
            f"({mean:.2f} a cell) at resolution {resolution}.")
    return lead + _reason(could_pass) + _advice(mean, resolution)


def assess_evidence(grid: CommunityGrid, counts: np.ndarray, gi_bins: np.ndarray,
                    smallest_p: np.ndarray | None, *, alpha: float, fdr: bool = True,
                    names: dict[int, str] | None = None) -> Evidence:
    """The verdict on a run (and on each community in it) from its counts and classes."""
    names = names or {}
    counts = np.asarray(counts)
    gi_bins = np.asarray(gi_bins)
    incidents, cells = int(counts.sum()), len(counts)
    mean = incidents / cells if cells else 0.0
    hot, cold = int((gi_bins >= 2).sum()), int((gi_bins <= -2).sum())
    could = could_any_pass(smallest_p, alpha, fdr) if smallest_p is not None else None
    sparse = (could is False) or (hot == 0 and mean < POWER_MEAN)
    coarser, longer = suggestion(mean, grid.resolution)
    message = sparse_message("the area analysed", incidents, cells, grid.resolution, could) if sparse else None
    communities = {}
    for community_id in np.unique(grid.community):
        mask = grid.community == community_id
        c_incidents, c_cells = int(counts[mask].sum()), int(mask.sum())
        if (gi_bins[mask] >= 2).any() or (c_cells and c_incidents / c_cells >= POWER_MEAN):
            continue
        name = names.get(int(community_id), f"community {community_id}")
        communities[int(community_id)] = sparse_message(name, c_incidents, c_cells, grid.resolution,
                                                        False if could is False else None)
    return Evidence(enough_data=not sparse, message=message, incidents=incidents, cells=cells,
                    mean_per_cell=round(mean, 4), hot_cells=hot, cold_cells=cold,
                    suggested_resolution=coarser if sparse else None,
                    suggested_period_factor=longer if sparse else None, could_pass=could,
                    communities=communities)
