"""graph: the weighted account graph in python-igraph, with the id mapping."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import igraph as ig
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.config import key_column
from sybilgraph.engines.base import Engine
from sybilgraph.stages.link import RELATION_KEYS
from sybilgraph.stages.tables import LinkTables

__all__ = [
    "AccountGraph",
    "build_graph",
    "graph_bytes",
    "graph_links",
    "lone_links",
    "pair_key",
    "read_graph",
    "warn_light_keys",
]

log = logging.getLogger(__name__)

#: link weights are rounded to this many decimals before detection
_DECIMALS = 9


@dataclass
class AccountGraph:
    """Accounts that have at least one link, as an undirected weighted graph.

    Vertex ``i`` is account ``ids[i]``; ``ids`` is sorted, so the same links always give
    the same vertex numbering (and so the same Leiden result for a given seed).
    """

    graph: ig.Graph
    ids: np.ndarray
    #: each link's end vertices, in the graph's edge order
    src: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False)
    dst: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False)
    #: each link's weight (the graph's ``weight`` attribute), in edge order
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    #: per key (ip, payment, prompt, ...), each link's weight on it, in edge order;
    #: empty when the links came without their ``<key>_weight`` columns
    key_weights: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _index: dict[str, int] | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"AccountGraph({self.graph.vcount()} accounts, {self.graph.ecount()} links)"

    def vertex(self, account_id: str) -> int | None:
        if self._index is None:
            self._index = {str(a): i for i, a in enumerate(self.ids)}
        return self._index.get(account_id)


def build_graph(links: pa.Table, *, min_weight: float = 0.0) -> AccountGraph:
    """Build the graph from a links table (a, b, weight), from numpy arrays.

    Links lighter than ``min_weight`` are left out, but for a relation between the two
    accounts (a ``<key>_weight`` column of ``RELATION_KEYS`` above 0: control passes
    along a relation however thin). Accounts without links are not
    vertices. Weights are rounded to 9 decimals, so sums taken in another order give
    the same graph. Columns ``<key>_weight`` (as ``links`` has them) are kept per edge
    in ``key_weights``.
    """
    weight = np.asarray(links.column("weight").to_numpy(zero_copy_only=False), dtype=float)
    # a link's weight is a sum, and engines (or one engine's threads) may add in another
    # order, changing the last bits; Leiden must see the same graph either way
    weight = np.round(weight, _DECIMALS)
    keep = (weight >= min_weight) | _related(links)
    weight = weight[keep]
    # the ends alone are filtered: the whole table's copy took 0.6 s of 4.6M links
    ids, src, dst = _numbered(links.select(["a", "b"]).filter(pa.array(keep)))
    # edges in a fixed order too: engines return links in any order (each pair once,
    # so one key per link: a tenth the time of a lexsort of 4.6M)
    order = np.argsort(pair_key(src, dst, len(ids)))
    src, dst, weight = src[order], dst[order], weight[order]
    graph = ig.Graph(n=len(ids), directed=False)
    # as a numpy array of (src, dst) rows: python-igraph 1.0 reads it as fast as a list
    # of pairs of Python ints, without making one (the realistic benchmark log's 1.6M
    # links: 0.64 s against 0.60 s, and 0.18 GB less at the graph's peak; 5.1M random
    # links: 1.4 s against 1.6 s; the same graph)
    graph.add_edges(np.column_stack([src, dst]))
    graph.es["weight"] = weight.tolist()
    key_weights = {}
    for name in links.column_names:
        if name.endswith("_weight") and name != "weight":
            column = links.column(name).to_numpy(zero_copy_only=False)
            values = np.nan_to_num(np.asarray(column, dtype=np.float64)[keep][order])
            key_weights[name.removesuffix("_weight")] = values.astype(np.float32)
    return AccountGraph(
        graph=graph,
        ids=ids,
        src=src.astype(np.int32),
        dst=dst.astype(np.int32),
        weight=weight,
        key_weights=key_weights,
    )


def pair_key(first: np.ndarray, second: np.ndarray, n: int) -> np.ndarray:
    """One number per pair of vertices of a graph of ``n`` that sorts as the pairs do,
    ``first`` then ``second``."""
    return first.astype(np.int64) * n + second


def _numbered(links: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The accounts of ``links`` (a, b), sorted, and each link's two ends as their
    positions. Arrow's hash kernels number millions of ids in a tenth of a second,
    where sorting and searching them as numpy text took three (2M links); ids sort by
    their UTF-8 bytes, the order of their code points."""
    if links.num_rows == 0:
        empty = np.zeros(0, dtype=np.int64)
        return np.array([], dtype=str), empty, empty.copy()
    a, b = links.column("a"), links.column("b")
    unique = pc.unique(pa.chunked_array([*a.chunks, *b.chunks], type=a.type))
    unique = unique.take(pc.sort_indices(unique))
    ids = np.asarray(unique.to_pylist(), dtype=str)
    src = pc.index_in(a, value_set=unique).to_numpy().astype(np.int64)
    dst = pc.index_in(b, value_set=unique).to_numpy().astype(np.int64)
    return ids, src, dst


def _related(links: pa.Table) -> np.ndarray:
    """Per link: whether it rests in part on a relation between its accounts."""
    related = np.zeros(links.num_rows, dtype=bool)
    for key in RELATION_KEYS:
        name = f"{key_column(key)}_weight"
        if name in links.column_names:
            column = links.column(name).to_numpy(zero_copy_only=False)
            related |= np.nan_to_num(np.asarray(column, dtype=float)) > 0
    return related


def read_graph(engine: Engine, linked: LinkTables, *, min_weight: float = 0.0) -> AccountGraph:
    """The account graph of the links in the engine (see :func:`build_graph`)."""
    return build_graph(graph_links(engine, linked, min_weight=min_weight), min_weight=min_weight)


def graph_links(engine: Engine, linked: LinkTables, *, min_weight: float = 0.0) -> pa.Table:
    """The links in the engine as :func:`build_graph` reads them (a, b, weight), each
    with its weight per key too: detection joins pieces that differ only by some keys
    (cards). Warns of keys whose links are mostly too light to reach the graph."""
    per_key = [engine.dialect.quote_ident(f"{key_column(k)}_weight") for k in linked.keys]
    links = engine.arrow(f"SELECT {', '.join(['a', 'b', 'weight', *per_key])} FROM {linked.links}")
    lone = linked.lone if linked.lone is not None else lone_links(links, linked.keys, min_weight)
    warn_light_keys(lone, min_weight)
    return links


#: what reading the links, building the graph and detecting its communities hold per
#: link: at 1.5M realistic events, 1.6M links took the process 0.6 GB above what the
#: engine held (the links as read, 75 bytes each; their numbered ends and sorted
#: copies; the graph's edges and their weights as Python floats; Leiden's own)
GRAPH_BYTES_PER_LINK = 400


def graph_bytes(links: int) -> int:
    """About what :func:`graph_links`, :func:`build_graph` and detection hold for a
    graph of ``links`` links, in bytes."""
    return max(int(links), 0) * GRAPH_BYTES_PER_LINK


def lone_links(
    links: pa.Table, keys: tuple[str, ...], min_weight: float
) -> dict[str, tuple[int, int]]:
    """Per key: the links resting on it alone, and how many weigh under ``min_weight``."""
    lone: dict[str, tuple[int, int]] = {}
    if links.num_rows == 0:
        return lone
    weight = np.asarray(links.column("weight").to_numpy(zero_copy_only=False), dtype=float)
    per_key = {
        key: np.nan_to_num(
            np.asarray(
                links.column(f"{key_column(key)}_weight").to_numpy(zero_copy_only=False), float
            )
        )
        for key in keys
        if f"{key_column(key)}_weight" in links.column_names
    }
    total = sum(per_key.values(), np.zeros(links.num_rows))
    light = (weight < min_weight) & ~_related(links)
    for key, own in per_key.items():
        alone = (own > 0) & np.isclose(own, total)
        lone[key] = (int(alone.sum()), int(light[alone].sum()))
    return lone


def warn_light_keys(lone: dict[str, tuple[int, int]], min_weight: float) -> None:
    """Warn of a key most of whose links (the links resting on it alone) weigh less than
    ``min_weight`` and so never reach the graph: a key of weight w that one value of d
    holders ties weighs ``w / ln(d + hub_c)``, under 0.3 from d = 23 at w = 1."""
    if min_weight <= 0:
        return
    for key, (alone, light) in sorted(lone.items()):
        if alone >= 100 and light / alone > 0.5:
            log.warning(
                "%d of the %d links resting on %s alone weigh less than detect.min_weight "
                "(%s) and are left out of the graph; raise link.key_weights.%s or lower "
                "detect.min_weight to keep them",
                light,
                alone,
                key,
                min_weight,
                key,
            )
