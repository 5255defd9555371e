"""Who a row of an incident file is: its own id, or a hash of its values numbered by occurrence."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from spatial.column_choice import ColumnMapping


class RowIdentity:
    """Ids for the rows of one file, remembering what it has seen across chunks.

    The file's own id where it has one. A row without one gets the SHA-1 of its
    values ("sha1:…", as before numbering existed, so files imported earlier are
    still recognised), and a row identical to earlier rows of the same file gets
    its occurrence number too ("sha1:…#2"): in a file without ids, identical
    rows are separate reports (six thefts at one address in one hour), kept as
    separate incidents, while re-importing the file still matches each one.
    """

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()

    def external_ids(self, frame: pd.DataFrame, mapping: ColumnMapping) -> np.ndarray:
        """One id per row of ``frame`` (every row, valid or not, so numbering does not depend on validation)."""
        if mapping.external_id:
            ids = frame[mapping.external_id].astype(str).str.strip().to_numpy(dtype=object)
            missing = ids == ""
            if missing.any():
                ids[missing] = self._numbered(row_hashes(frame[missing]))
            return ids
        return self._numbered(row_hashes(frame))

    def _numbered(self, hashes: np.ndarray) -> np.ndarray:
        result = hashes.copy()
        for i, value in enumerate(hashes.tolist()):
            self._seen[value] += 1
            if self._seen[value] > 1:
                result[i] = f"{value}#{self._seen[value]}"
        return result


def repeats_another_row(external_ids: np.ndarray) -> np.ndarray:
    """Which ids are the second or later occurrence of an identical row of the file."""
    ids = pa.array(external_ids, pa.string())
    numbered = pc.and_(pc.starts_with(ids, "sha1:"), pc.match_substring(ids, "#"))
    return numbered.to_numpy(zero_copy_only=False).astype(bool)


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A stable id for rows with no id of their own: SHA-1 of the row's values."""
    joined = frame.astype(str).agg("\x1f".join, axis=1) if len(frame.columns) else pd.Series([], dtype=str)
    return np.array(["sha1:" + hashlib.sha1(v.encode("utf-8")).hexdigest() for v in joined], dtype=object)
