"""Small string-array helpers: pyarrow does the per-event work in C++."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def join(parts: list[pa.Array | str]) -> pa.Array:
    """Concatenate string arrays (and constant strings) element-wise."""
    return pc.binary_join_element_wise(*parts, "")


def take(pool: pa.Array, index: np.ndarray) -> pa.Array:
    """The values of ``pool`` at the positions ``index``."""
    return pool.take(pa.array(index, type=pa.int64()))


def assemble(n: int, parts: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """Put arrays built for disjoint subsets (given by positions) back in position order."""
    positions = np.concatenate([p for p, _ in parts]) if parts else np.zeros(0, np.int64)
    if len(positions) != n:
        raise AssertionError("subsets do not cover the events")
    if not parts:  # no events, so no subsets (a template slot over zero rows)
        return pa.array([], pa.string())
    values = pa.concat_arrays([a.cast(pa.string()) for _, a in parts])
    order = np.empty(n, np.int64)
    order[positions] = np.arange(n)
    return take(values, order)


def weighted_texts(pairs: tuple[tuple[str, int], ...]) -> tuple[pa.Array, np.ndarray]:
    """The texts of ``(text, weight)`` pairs and their cumulative probabilities."""
    texts = pa.array([t for t, _ in pairs])
    w = np.array([w for _, w in pairs], np.float64)
    return texts, np.cumsum(w / w.sum())


def draw(rng: np.random.Generator, cumulative: np.ndarray, n: int) -> np.ndarray:
    """``n`` indexes drawn with the given cumulative probabilities."""
    return np.minimum(np.searchsorted(cumulative, rng.random(n), side="right"), len(cumulative) - 1)
