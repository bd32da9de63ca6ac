"""Column helpers for the bulk writer: keys, lookups and labels, computed on whole columns.

The generator's tables name patients, encounters, practitioners and sites by their analytic
ids or by index into the world; these helpers turn them into database keys with Arrow
compute (hash lookups in C++), and compute a per-row value (a sensitivity label, an
encounter class) once per distinct combination of its inputs rather than once per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NONE = "\x00"  # stands for NULL inside a combined key (never in generated text)


@dataclass
class Keyed:
    """Analytic ids and the database keys allocated to them (one chunk's rows)."""

    ids: pa.Array
    pks: pa.Array

    def of(self, refs: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The key of each reference; NULL where it is NULL or names no row here."""
        return self.pks.take(pc.index_in(_flat(refs), value_set=self.ids))


def _flat(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def by_index(idx: pa.Array | pa.ChunkedArray, pks: list[int]) -> pa.Array:
    """``pks[i]`` for each index ``i``; NULL where the index is NULL or negative."""
    idx = _flat(idx).cast(pa.int64())
    safe = pc.if_else(pc.greater_equal(idx, 0), idx, pa.scalar(None, pa.int64()))
    return pa.array(pks, pa.int64()).take(safe)


def text(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """NULL as the empty string (the operational tables' text columns are NOT NULL)."""
    return pc.fill_null(_flat(col), "")


def per_unique(fn: Callable[..., Any], *cols: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``fn(*values)`` for every row, called once per distinct combination of ``cols``."""
    flat = [_flat(c) for c in cols]
    n = len(flat[0])
    if n == 0:
        return pa.array([], pa.string())
    parts = [pc.fill_null(c.cast(pa.string()), NONE) for c in flat]
    key = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\x1f")
    codes = pc.dictionary_encode(key).indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)  # dictionary order = first appearance
    reps = [c.take(pa.array(first)).to_pylist() for c in flat]
    values = [fn(*row) for row in zip(*reps, strict=True)]
    return pa.array(values).take(pa.array(codes))
