"""detect: connected components, then Leiden inside the large ones.

Cluster ids are derived from the members, not from iteration order: a cluster is named
after the member whose id hashes lowest, so the same ring keeps its id when a few
accounts join or leave (the id changes only if that one member leaves, or a newcomer
hashes lower).
"""

from __future__ import annotations

import logging
import random

import igraph as ig
import leidenalg
import numpy as np
import pandas as pd

from sybilgraph.config import DetectConfig
from sybilgraph.graph import AccountGraph

__all__ = ["cluster_ids", "detect", "partition"]

log = logging.getLogger(__name__)

_PARTITIONS = {
    "cpm": leidenalg.CPMVertexPartition,
    "rb": leidenalg.RBConfigurationVertexPartition,
    "modularity": leidenalg.ModularityVertexPartition,
}


def partition(graph: ig.Graph, config: DetectConfig, seed: int) -> list[int]:
    """Leiden membership of each vertex of one connected graph (deterministic)."""
    if config.implementation == "igraph":
        return _igraph_partition(graph, config, seed)
    kind = _PARTITIONS[config.method]
    kwargs: dict[str, object] = {
        "weights": "weight",
        "seed": seed,
        "n_iterations": config.n_iterations,
    }
    if config.method != "modularity":
        kwargs["resolution_parameter"] = config.resolution
    result = leidenalg.find_partition(graph, kind, **kwargs)
    return list(result.membership)


def _igraph_partition(graph: ig.Graph, config: DetectConfig, seed: int) -> list[int]:
    """igraph's own Leiden, with its random numbers drawn from a generator of ``seed``.

    igraph's generator is process-wide: it is swapped for the call, then set back to
    igraph's default (the ``random`` module).
    """
    objective = "CPM" if config.method == "cpm" else "modularity"
    resolution = 1.0 if config.method == "modularity" else config.resolution
    ig.set_random_number_generator(random.Random(seed))
    try:
        result = graph.community_leiden(
            objective_function=objective,
            weights="weight",
            resolution=resolution,
            n_iterations=config.n_iterations,
        )
    finally:
        ig.set_random_number_generator(random)
    return list(result.membership)


def detect(graph: AccountGraph, config: DetectConfig, seed: int) -> pd.DataFrame:
    """Cut the account graph into clusters of two or more accounts.

    Returns
    -------
    DataFrame with ``account_id`` and ``cluster_id``, one row per clustered account,
    sorted by cluster id then account id. Accounts not in the graph, or left alone by
    Leiden, are in no cluster.
    """
    g = graph.graph
    n = g.vcount()
    if n == 0:
        return pd.DataFrame(
            {"account_id": pd.Series(dtype=str), "cluster_id": pd.Series(dtype=str)}
        )
    membership = np.full(n, -1, dtype=np.int64)
    next_label = 0
    components = g.connected_components()
    for members in components:
        if len(members) < 2:
            continue
        if len(members) <= config.leiden_min_size:
            membership[members] = next_label
            next_label += 1
            continue
        sub = g.induced_subgraph(members, implementation="create_from_scratch")
        parts = np.asarray(partition(sub, config, seed))
        membership[np.asarray(members)] = next_label + parts
        next_label += int(parts.max()) + 1
    return _name_clusters(graph.ids, membership)


def cluster_ids(account_ids: np.ndarray, membership: np.ndarray) -> np.ndarray:
    """Name each group by its member with the lowest stable hash: ``C`` + 10 hex."""
    hashes = pd.util.hash_array(np.asarray(account_ids, dtype=object)).astype(np.uint64)
    frame = pd.DataFrame({"label": membership, "h": hashes})
    lowest = frame.groupby("label")["h"].transform("min").to_numpy(dtype=np.uint64)
    return np.array([f"C{int(h) >> 24:010x}" for h in lowest], dtype=object)


def _name_clusters(ids: np.ndarray, membership: np.ndarray) -> pd.DataFrame:
    clustered = membership >= 0
    labels = membership[clustered]
    accounts = ids[clustered]
    sizes = np.bincount(labels)
    keep = sizes[labels] >= 2
    labels, accounts = labels[keep], accounts[keep]
    names = cluster_ids(accounts, labels)
    result = pd.DataFrame({"account_id": accounts.astype(str), "cluster_id": names.astype(str)})
    return result.sort_values(["cluster_id", "account_id"], ignore_index=True)
