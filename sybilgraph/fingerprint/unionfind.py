"""Union-find over a numpy parent array, vectorised over many pairs at once.

Every component is kept under its smallest member, so the roots, and the group ids taken
from them, do not depend on the order in which pairs are joined.
"""

from __future__ import annotations

import numpy as np


def compress(parent: np.ndarray) -> None:
    """Point every node straight at its root."""
    while True:
        up = parent[parent]
        if np.array_equal(up, parent):
            return
        parent[:] = up


def roots(parent: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The root of each node's component."""
    found = parent[nodes]
    while True:
        up = parent[found]
        if np.array_equal(up, found):
            return found
        found = up


def union(parent: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
    """Join the components of each pair, always under the smaller root."""
    while len(left):
        root_left, root_right = roots(parent, left), roots(parent, right)
        apart = root_left != root_right
        left, right = left[apart], right[apart]
        if not len(left):
            return
        low = np.minimum(root_left[apart], root_right[apart])
        high = np.maximum(root_left[apart], root_right[apart])
        np.minimum.at(parent, high, low)
