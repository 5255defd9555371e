"""Coarser H3 parents of a run's cells: the sums every kind shares (pure numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatial.grid import h3_parent_bits


@dataclass(frozen=True)
class ParentGroups:
    """A run's cells grouped under their parents at one resolution.

    ``index[i]`` is the parent of cell ``i``; ``cells`` how many run cells each parent holds;
    ``incidents`` their sum; ``published`` the sum over children with ``min_count`` or more
    (what audiences below analyst see, so a parent never bounds a hidden child)."""

    parents: np.ndarray
    index: np.ndarray
    cells: np.ndarray
    incidents: np.ndarray
    published: np.ndarray


def group_under_parents(cells: np.ndarray, incidents: np.ndarray, resolution: int, min_count: int) -> ParentGroups:
    """Group cells under their parents at ``resolution`` with the shared sums."""
    parents, index = np.unique(h3_parent_bits(cells, resolution), return_inverse=True)
    n = len(parents)
    return ParentGroups(parents, index, np.bincount(index, minlength=n),
                        np.bincount(index, weights=incidents, minlength=n),
                        np.bincount(index, weights=np.where(incidents >= min_count, incidents, 0), minlength=n))
