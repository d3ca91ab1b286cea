"""detect: connected components, then Leiden inside the large ones, then Leiden's pieces
that differ only by the cards a few of their accounts share are joined again.

Cluster ids are derived from the members, not from iteration order: a cluster is named
after the member whose id hashes lowest, so the same ring keeps its id when a few
accounts join or leave (the id changes only if that one member leaves, or a newcomer
hashes lower).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random

import igraph as ig
import leidenalg
import numpy as np
import pandas as pd

from sybilgraph.config import DetectConfig
from sybilgraph.stages.graph import AccountGraph, pair_key
from sybilgraph.stages.link import IP_KEYS, RELATION_KEYS

__all__ = [
    "Edges",
    "GroupLinks",
    "cluster_ids",
    "detect",
    "edges_of",
    "group_leftovers",
    "group_links",
    "partition",
    "refine",
]

log = logging.getLogger(__name__)

_PARTITIONS = {
    "cpm": leidenalg.CPMVertexPartition,
    "rb": leidenalg.RBConfigurationVertexPartition,
    "modularity": leidenalg.ModularityVertexPartition,
}


#: the fewest accounts of a group that may be two rings (:func:`refine` cuts no smaller
#: one) or a ring of its own beside leftovers tied to it (:func:`join_pieces`)
RING_MIN_SIZE = 6


def partition(
    graph: ig.Graph, config: DetectConfig, seed: int, edges: Edges | None = None
) -> list[int]:
    """Leiden membership of each vertex of one connected graph (deterministic).

    With CPM, an account all of whose links weigh less than the resolution is alone in
    any partition that moving one account cannot improve: in a group of k others its
    links to them weigh less than k times the resolution, what CPM charges for it, so
    the group is better without it. So Leiden runs on the other accounts (with all
    their links), and each account left out is a group of its own. On the realistic
    benchmark log one component holds 20,160 accounts and 2.0M links, most on
    mid-degree IPs at 0.3 to 0.9 a link: Leiden took 7.5 s over it and left 18,230
    groups; over the 2,632 accounts with a link of 1 or more (85k links) it takes 0.1 s.
    ``edges``: the graph's (:func:`edges_of`), where the caller has them.
    """
    if config.method != "cpm" or graph.vcount() == 0:
        return _partition(graph, config, seed)
    ends, weights = edges or edges_of(graph)
    strong = weights >= config.resolution
    if strong.all():
        return _partition(graph, config, seed)
    held = np.zeros(graph.vcount(), dtype=bool)
    held[ends[strong].ravel()] = True
    core = np.flatnonzero(held)
    membership = np.empty(graph.vcount(), dtype=np.int64)
    found = 0
    if len(core):
        sub = graph.induced_subgraph(core.tolist(), implementation="create_from_scratch")
        membership[core] = _partition(sub, config, seed)
        found = int(membership[core].max()) + 1
    alone = np.flatnonzero(~held)
    membership[alone] = found + np.arange(len(alone))
    return membership.tolist()


def _partition(graph: ig.Graph, config: DetectConfig, seed: int) -> list[int]:
    """:func:`partition` by Leiden over every account of ``graph``."""
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
    leftovers: set[int] = set()  # groups of accounts Leiden left alone: never joined
    components = g.connected_components()
    of_vertex = np.asarray(components.membership, dtype=np.int64)
    sizes = np.asarray(components.sizes(), dtype=np.int64)
    linked = group_links(graph.src, graph.dst, graph.weight, of_vertex, sizes)
    whole = set() if config.cut_relations else relation_components(graph, components)
    if whole:
        log.info("%d components tied by relations between accounts alone taken whole", len(whole))
    alike = uniform_components(graph, components, config, seed) - whole
    if alike:
        log.info("%d components whose accounts are all tied alike taken whole", len(alike))
    whole |= alike
    for index, members in enumerate(components):
        if len(members) < 2:
            continue
        if len(members) <= config.leiden_min_size or index in whole:
            membership[members] = next_label
            next_label += 1
            continue
        sub = g.induced_subgraph(members, implementation="create_from_scratch")
        edges = linked.edges(index)
        found = refine(sub, np.asarray(partition(sub, config, seed, edges)), config, seed, edges)
        parts = group_leftovers(sub, found, config, edges)
        membership[np.asarray(members)] = next_label + parts
        leftovers.update(next_label + int(p) for p in np.unique(parts[parts > found.max()]))
        next_label += int(parts.max()) + 1
    membership, leftovers = join_frayed(graph, membership, components, config, leftovers)
    membership = join_pieces(graph, membership, config, leftovers)
    return _name_clusters(graph.ids, membership)


def join_frayed(
    graph: AccountGraph,
    labels: np.ndarray,
    components: ig.VertexClustering,
    config: DetectConfig,
    leftovers: set[int],
) -> tuple[np.ndarray, set[int]]:
    """Join the pieces (of two or more accounts) of one component that are linked
    across as the component is linked at all: some link across on content (keys other
    than IP and subnet); at least ``join_ratio`` of the component's share of pairs
    linked, and ``join_strength`` of its content weight per link; and on shared
    infrastructure at least ``join_ratio`` of the share of pairs linked inside either
    piece.

    A ring whose accounts each send some of the operator's templates is linked only
    where two of them share one: a third to a half of its pairs, 2 to 3 a link. Alone in
    its component, CPM at resolution 1 cuts it into the accounts that happen to share
    the most (a proxy ring of 22 on the realistic benchmark log: 7, 6, 3 and 3, and 3
    left alone), each linked to the others about as often and as strongly as the ring is
    inside (0.2 to 0.4 of pairs, against 0.39; 0.6 to 1.1 of its content weight per
    link). Nothing but chance sets those pieces apart: they are one group. The pieces
    Leiden takes are the tighter parts of the ring, so the links across weigh less than
    the ring's mean: in seed 11's W12 weekly report a proxy ring of 36 came in pieces of
    2 to 4 linked across at 0.55 a link, against 0.95 (0.58). Two groups in one
    component are linked across rarely (a stray link or two: they stay apart), or pair
    by pair on one thing they all share but weakly (two rings on one template, 0.45 a
    link against 3.0 inside, under 0.4 of the mean: apart, and :func:`join_pieces`' to
    judge). Classrooms on a school's address each that all send the class's templates
    are linked across on those, but not on the address that links every pair inside
    each: apart, even beside a piece that holds one account of each. A component in
    which two accounts are tied by shared addresses alone as much as the resolution
    (households, offices) is no candidate: there the pieces are the groups. Nor is one
    most of whose accounts Leiden left alone (a chain or sparse web of weak links): its
    density and weight per link are no group's, and a stray link between two rings it
    strings together would pass for "as often".

    A joined group takes its lowest label; every other piece keeps its own, and
    ``leftovers`` (labels of groups of accounts Leiden left alone) comes back with the
    groups joined to a piece dropped: :func:`join_pieces` knows the leftovers by label.
    """
    keys = [k for k in graph.key_weights if k not in IP_KEYS]
    if (
        config.method != "cpm"
        or min(config.join_ratio, config.join_strength) <= 0
        or not keys
        or len(graph.src) == 0
    ):
        return labels, leftovers
    if labels.max() < 1:
        return labels, leftovers
    sizes = np.asarray(components.sizes(), dtype=np.int64)
    of_vertex = np.asarray(components.membership, dtype=np.int64)
    of_edge = of_vertex[graph.src]
    content, infrastructure, housed = _content_and_housed(
        graph, of_vertex, len(sizes), config.resolution
    )
    on_address = infrastructure > 0  # links on shared infrastructure
    # each component's share of pairs linked, and its content weight per link
    pairs = sizes * (sizes - 1) / 2
    n_links = np.bincount(of_edge, minlength=len(sizes))
    density = n_links / np.maximum(pairs, 1)
    per_link = np.bincount(of_edge, content, len(sizes)) / np.maximum(n_links, 1)
    size = int(labels.max()) + 1
    counts = np.bincount(labels[labels >= 0], minlength=size)
    left, right = labels[graph.src], labels[graph.dst]
    cross = (left != right) & (left >= 0) & (right >= 0)
    cross &= (counts[np.maximum(left, 0)] >= 2) & (counts[np.maximum(right, 0)] >= 2)
    # the component's density and weight per link are a group's only where most of its
    # accounts are in pieces: a sparse web or chain of weak links, most of it left
    # alone by Leiden, would let a stray link join two rings it strings together
    grouped = (labels >= 0) & (counts[np.maximum(labels, 0)] >= 2)
    held = np.bincount(of_vertex[grouped], minlength=len(sizes)) > sizes / 2
    cross &= (sizes[of_edge] > config.leiden_min_size) & ~housed[of_edge] & held[of_edge]
    if not (cross & (content > 0)).any():
        return labels, leftovers
    a, b, index = _piece_pairs(left[cross], right[cross], size)
    n_cross = np.bincount(index)
    component = np.zeros(size, dtype=np.int64)
    component[labels[labels >= 0]] = of_vertex[labels >= 0]
    # linked across on content at all, ...
    join = np.bincount(index, content[cross] > 0, len(a)) > 0
    # ... as often as the component's pairs are linked, ...
    join &= n_cross >= config.join_ratio * density[component[a]] * counts[a] * counts[b]
    # ... about as strongly on content as its links are, ...
    strength = np.bincount(index, content[cross]) / n_cross
    join &= strength >= config.join_strength * per_link[component[a]]
    # ... and on shared infrastructure as often as inside either piece: classrooms on a
    # school's address each, all sending the class's templates, are linked across on
    # those, not on the address
    across = np.bincount(index, on_address[cross], len(a)) / (counts[a] * counts[b])
    inside = (left == right) & (left >= 0) & on_address
    within = np.bincount(left[inside], minlength=size) / np.maximum(counts * (counts - 1) / 2, 1)
    join &= across >= config.join_ratio * np.maximum(within[a], within[b])
    if not join.any():
        return labels, leftovers
    roots = _chained(size, a[join], b[join])
    # each joined group keeps its lowest label, the others keep theirs; it is leftovers
    # only if all its pieces were
    first = np.full(size, size, dtype=np.int64)
    np.minimum.at(first, roots, np.arange(size))
    kept = first[roots]
    alone = np.zeros(size, dtype=bool)
    alone[[label for label in leftovers if label < size]] = True
    mixed = np.zeros(size, dtype=bool)
    mixed[roots[~alone]] = True
    leftovers = {
        int(kept[label]) for label in leftovers if label < size and not mixed[roots[label]]
    }
    joined = labels.copy()
    joined[labels >= 0] = kept[labels[labels >= 0]]
    log.info("joined %d pairs of pieces linked across as often as their component", int(join.sum()))
    return joined, leftovers


def _content_and_housed(
    graph: AccountGraph, of_vertex: np.ndarray, components: int, resolution: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each link's weight on content (keys other than IP and subnet) and on shared
    infrastructure, and for each component whether two of its accounts are tied by
    shared infrastructure alone as much as ``resolution``: a household or an office, a
    group of its own that what its accounts all send does not merge."""
    content = np.zeros(len(graph.src))
    infrastructure = np.zeros(len(graph.src))
    for key, weights in graph.key_weights.items():
        if key in IP_KEYS:
            infrastructure += weights
        else:
            content += weights
    housed = np.zeros(components, dtype=bool)
    housed[of_vertex[graph.src[infrastructure >= resolution]]] = True
    return content, infrastructure, housed


def relation_components(graph: AccountGraph, components: ig.VertexClustering) -> set[int]:
    """The components whose links all rest on relations between accounts.

    Sharing a value is not passed on: two users of one VPN exit, and a third who shares
    a template with one of them, are not one group; so Leiden cuts a component of shared
    values along its weaker links. A relation of control is passed on: an address that
    funds another that funds a third holds all three, as do the inviter and invitees of
    one referral chain, however thinly each is tied (a funder of 30 addresses ties each
    pair at 1 / ln(30 + c)). Such a component is taken whole, as the published methods
    for transfer graphs take it; the score decides whether it is a farm. Without per-key
    weights (links given without them) no component is.
    """
    if not graph.key_weights or graph.graph.ecount() == 0:
        return set()
    of_edge = np.asarray(components.membership, dtype=np.int64)[graph.src]
    shared = np.zeros(len(of_edge), dtype=bool)
    for key, weights in graph.key_weights.items():
        if key not in RELATION_KEYS:
            shared |= weights > 0
    related = np.zeros(len(components), dtype=bool)
    related[np.unique(of_edge)] = True
    related[np.unique(of_edge[shared])] = False
    return {int(i) for i in np.flatnonzero(related)}


def uniform_components(
    graph: AccountGraph, components: ig.VertexClustering, config: DetectConfig, seed: int
) -> set[int]:
    """The components (of more than ``leiden_min_size`` accounts) that are one group
    whatever CPM's resolution: nearly every pair of accounts shares content
    (``join_density``; shared infrastructure, IP and subnet, does not make a group), and
    cut on that content at a resolution of its own (``join_ratio`` of its weight per
    pair, as :func:`refine` cuts) the component stays whole.

    CPM at resolution 1 cuts a group whose accounts are all tied under 1 a pair into
    arbitrary pieces: a proxy ring's 29 accounts on their wrapper (0.57 to 0.79 a pair,
    nothing outside) came out of a weekly report as the batches that share a few more
    tasks by chance (14, 3, 3, 3, 2, 2) and two accounts left alone. There is nothing
    outside such a group to tell it apart from, and no part of it is tied much tighter
    on content than the rest: it is one group, and the score decides. Two rings that
    share a template (0.4 a pair across, 2.1 and 2.6 inside) come apart at their own
    resolution and go on to Leiden. So does a component in which two accounts are tied
    by shared infrastructure alone as much as the resolution: offices on an IP each
    (1.0 a pair) that all send one template are offices, not one group. Without
    per-key weights, or with ``join_ratio`` 0 (no joining at all), no component is
    taken.
    """
    keys = [k for k in graph.key_weights if k not in IP_KEYS]
    if config.method != "cpm" or config.join_ratio <= 0 or not keys or len(graph.src) == 0:
        return set()
    sizes = np.asarray(components.sizes(), dtype=np.int64)
    of_vertex = np.asarray(components.membership, dtype=np.int64)
    content, _, housed = _content_and_housed(graph, of_vertex, len(sizes), config.resolution)
    held = np.flatnonzero(content > 0)
    of_edge = of_vertex[graph.src[held]]
    pairs = sizes * (sizes - 1) / 2
    linked = np.bincount(of_edge, minlength=len(sizes))
    candidates = np.flatnonzero(
        (sizes > config.leiden_min_size) & (linked >= config.join_density * pairs) & ~housed
    )
    if not len(candidates):
        return set()
    # each candidate's links on content, read in one pass: links sorted by component
    order, starts = _grouped(of_edge, len(sizes))
    held = held[order]
    local = _places(of_vertex, sizes)
    found = set()
    for index in candidates.tolist():
        mine = held[starts[index] : starts[index] + linked[index]]
        ends = np.column_stack([local[graph.src[mine]], local[graph.dst[mine]]])
        sub = ig.Graph(n=int(sizes[index]), edges=ends)
        sub.es["weight"] = content[mine].tolist()
        own = config.join_ratio * float(content[mine].sum()) / pairs[index]
        cut = partition(
            sub, dataclasses.replace(config, resolution=own), seed, (ends, content[mine])
        )
        if max(cut) == 0:
            found.add(index)
    return found


@dataclasses.dataclass(frozen=True)
class GroupLinks:
    """A graph's links inside groups of its vertices (its connected components, or
    Leiden's groups of one), grouped by group: each group's links handed on as arrays
    (:data:`Edges`), not read back from the group's induced subgraph (for the 4.0M
    links of the 30M synth log's largest component, 1.8 s a read)."""

    #: the ends (a vertex each, the lower first) and the weight of the links inside
    #: groups, group by group, each group's in the order an induced subgraph of it has
    #: them (by the higher end, then the lower)
    low: np.ndarray
    high: np.ndarray
    weight: np.ndarray
    #: where each group's links begin, and where the last ends
    bounds: np.ndarray
    #: each vertex's place in its group, as the group lists its vertices
    local: np.ndarray

    def edges(self, group: int) -> Edges:
        """The links of ``group`` as :func:`edges_of` reads them from the group's
        induced subgraph: its vertices numbered by their places in it, in its edge
        order; so Leiden's sums, and so the clusters, are those of that read."""
        mine = slice(self.bounds[group], self.bounds[group + 1])
        ends = np.column_stack([self.local[self.low[mine]], self.local[self.high[mine]]])
        return ends, self.weight[mine]


def group_links(
    src: np.ndarray, dst: np.ndarray, weight: np.ndarray, of_vertex: np.ndarray, sizes: np.ndarray
) -> GroupLinks:
    """The links (``src``, ``dst``, ``weight``) whose two ends are in one group, grouped
    by the groups ``of_vertex`` (each vertex's group, numbered from 0) and ``sizes`` give
    (see :class:`GroupLinks`)."""
    low, high = np.minimum(src, dst), np.maximum(src, dst)
    inside = np.flatnonzero(of_vertex[low] == of_vertex[high])
    by_ends = inside[np.argsort(pair_key(high[inside], low[inside], len(of_vertex)))]
    order, starts = _grouped(of_vertex[low[by_ends]], len(sizes))
    taken = by_ends[order]
    return GroupLinks(
        low[taken],
        high[taken],
        weight[taken],
        np.append(starts, len(taken)),
        _places(of_vertex, sizes),
    )


def _grouped(of_item: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The order that sorts items by their group (``of_item``), each group's in the
    order given, and where each of ``groups`` groups begins in it."""
    order = np.argsort(of_item, kind="stable")
    counts = np.bincount(of_item, minlength=groups)
    return order, np.cumsum(counts) - counts


def _places(of_vertex: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each vertex's place in its group (``of_vertex``, of ``sizes``), as the group
    lists its vertices: in the graph's vertex order."""
    by_group, starts = _grouped(of_vertex, len(sizes))
    local = np.empty(len(of_vertex), dtype=np.int64)
    local[by_group] = np.arange(len(of_vertex)) - starts[of_vertex[by_group]]
    return local


def refine(
    graph: ig.Graph,
    parts: np.ndarray,
    config: DetectConfig,
    seed: int,
    edges: Edges | None = None,
) -> np.ndarray:
    """Cut each of Leiden's groups again at a resolution of its own: ``join_ratio`` of
    its weight per pair of accounts (CPM's own measure); the pieces are then joined
    again by the same rule (:func:`join_pieces`) where they are one group after all.

    CPM at resolution 1 keeps together two rings whose every pair across is linked a
    little over 1 (two typo rings sending near-duplicates of one another's templates,
    1.04 a pair across, 3.8 and 4.7 inside each): the sum across beats the resolution.
    Cut at a resolution relative to the group's own weight per pair (2.6), they come
    apart, and join_pieces, which asks the links across for ``join_ratio`` of the links
    inside, leaves them apart; a ring whose card batches are tied tighter than the ring is cut
    along the batches and joined again (the cards are a split key). A cut is kept only
    where it gives two or more pieces of three or more accounts (the accounts of smaller
    pieces go to the piece they are most tied to) and only between pieces nearly every
    pair across which is linked (``join_density``): pieces linked here and there are
    one group that the higher resolution only frayed (a proxy ring of 17 on the
    realistic benchmark log came out as 12 and 5). ``edges``: the graph's
    (:func:`edges_of`), where the caller has them.
    """
    if config.method != "cpm" or config.join_ratio <= 0 or graph.ecount() == 0:
        return parts
    ends, weight = edges = edges or edges_of(graph)
    counts, n_in, held = _held(edges, parts)
    labels = parts.copy()
    next_label = int(parts.max()) + 1
    pairs = counts * (counts - 1) / 2
    resolutions = config.join_ratio * held / np.maximum(pairs, 1)
    cut_again = (counts >= RING_MIN_SIZE) & (n_in > 0) & (resolutions > config.resolution)
    if not cut_again.any():
        return labels
    inside = group_links(ends[:, 0], ends[:, 1], weight, parts, counts)
    for label in np.flatnonzero(cut_again):
        resolution = resolutions[label]
        members = np.flatnonzero(parts == label)
        sub = graph.induced_subgraph(members.tolist(), implementation="create_from_scratch")
        sub_ends, sub_weight = sub_edges = inside.edges(int(label))
        cut = np.asarray(
            partition(sub, dataclasses.replace(config, resolution=resolution), seed, sub_edges)
        )
        sizes = np.bincount(cut)
        big = np.flatnonzero(sizes >= 3)
        if len(big) < 2:
            continue
        small = np.flatnonzero(sizes[cut] < 3)
        if len(small):
            # each account of a small piece goes to the big piece it is most tied to
            ties = np.zeros((sub.vcount(), len(sizes)))
            np.add.at(ties, (sub_ends[:, 0], cut[sub_ends[:, 1]]), sub_weight)
            np.add.at(ties, (sub_ends[:, 1], cut[sub_ends[:, 0]]), sub_weight)
            cut[small] = big[np.argmax(ties[small][:, big], axis=1)]
        cut = _rejoin_sparse(sub_ends, cut, config.join_density)
        for piece in np.unique(cut)[1:]:
            labels[members[cut == piece]] = next_label
            next_label += 1
    return labels


def _rejoin_sparse(ends: np.ndarray, cut: np.ndarray, density: float) -> np.ndarray:
    """Pieces of a cut whose pairs across are linked, but fewer than ``density`` of
    them, are one piece again: what CPM missed is two groups linked pair by pair, a
    little, across; a group whose parts are linked here and there is one group that a
    higher resolution only frays. ``ends``: the graph's links' ends (:func:`edges_of`)."""
    left, right = cut[ends[:, 0]], cut[ends[:, 1]]
    across = left != right
    if not across.any():
        return cut
    size = int(cut.max()) + 1
    a, b, index = _piece_pairs(left[across], right[across], size)
    n_cross = np.bincount(index)
    counts = np.bincount(cut, minlength=size)
    sparse = n_cross < density * counts[a] * counts[b]
    if not sparse.any():
        return cut
    roots = _chained(size, a[sparse], b[sparse])
    return np.unique(roots[cut], return_inverse=True)[1].astype(np.int64)


#: a graph's links as arrays: each link's two ends (an (m, 2) array) and its weight
Edges = tuple[np.ndarray, np.ndarray]


def edges_of(graph: ig.Graph) -> Edges:
    """The links of ``graph`` as arrays, in its edge order. Read once per graph and
    handed on: for the 2M links of the realistic benchmark log each read took 0.5 s."""
    listed = graph.get_edgelist()
    ends = np.fromiter(
        itertools.chain.from_iterable(listed), dtype=np.int64, count=2 * len(listed)
    ).reshape(-1, 2)
    return ends, np.asarray(graph.es["weight"], dtype=float)


def _held(edges: Edges, parts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per part of ``parts``: its accounts, its links inside and their summed weight."""
    counts = np.bincount(parts)
    ends, weight = edges
    inside = parts[ends[:, 0]] == parts[ends[:, 1]]
    n_in = np.bincount(parts[ends[inside, 0]], minlength=len(counts))
    held = np.bincount(parts[ends[inside, 0]], weight[inside], len(counts))
    return counts, n_in, held


def _piece_pairs(
    left: np.ndarray, right: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of pieces (a < b) that links from ``left`` to ``right`` pieces (all
    across, labels below ``size``) join, and each link's pair."""
    low = np.minimum(left, right).astype(np.int64)
    high = np.maximum(left, right).astype(np.int64)
    pairs, index = np.unique(low * size + high, return_inverse=True)
    return pairs // size, pairs % size, index


def _chained(size: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The root of each of ``size`` pieces once pieces ``a[i]`` and ``b[i]`` are one
    (pieces joined in chains are one: components of the graph of pieces and joins)."""
    pieces = ig.Graph(n=size, edges=np.column_stack([a, b]).tolist())
    return np.asarray(pieces.connected_components().membership, dtype=np.int64)


def group_leftovers(
    graph: ig.Graph, parts: np.ndarray, config: DetectConfig, edges: Edges | None = None
) -> np.ndarray:
    """Give the accounts Leiden left alone in one component (or in a piece whose links
    do not beat CPM's resolution) a group where nearly all of their pairs are linked
    (``join_density``): three or more of them, a group of the subgraph of leftovers.

    CPM at resolution 1 keeps a group together only where its links weigh more than 1
    on average; accounts tied only by one value that many of them hold (an operator's
    instruction wrapper held by its 115 accounts: 0.42 a pair) come out of Leiden one by
    one. Accounts that all share something are a group all the same, whatever it is
    worth: the score decides (a tool's users, on its wrapper at ordinary volume, are not
    flagged). The groups Leiden found are left as they are. ``edges``: the graph's
    (:func:`edges_of`), where the caller has them.
    """
    ends, _ = edges = edges or edges_of(graph)
    counts, _, held = _held(edges, parts)
    lone = counts == 1
    if config.method == "cpm" and graph.ecount():
        # a piece whose links do not beat the resolution is no group CPM would keep (with
        # a few passes Leiden can leave a uniform clique in arbitrary pieces): its
        # accounts are leftovers too
        lone |= held <= config.resolution * counts * (counts - 1) / 2
    alone = np.flatnonzero(lone[parts])
    if len(alone) < 3:
        return parts
    rest = graph.induced_subgraph(alone.tolist(), implementation="create_from_scratch")
    # the leftovers' links, their ends numbered as in ``rest``
    place = np.full(len(parts), -1, dtype=np.int64)
    place[alone] = np.arange(len(alone))
    rest_ends = place[ends]
    rest_ends = rest_ends[(rest_ends >= 0).all(axis=1)]
    labels = parts.copy()
    next_label = int(parts.max()) + 1
    for members in _dense_groups(rest, config.join_density, rest_ends):
        labels[alone[members]] = next_label
        next_label += 1
    return labels


def _dense_groups(graph: ig.Graph, density: float, ends: np.ndarray) -> list[np.ndarray]:
    """Groups of three or more vertices of ``graph`` of which at least ``density`` of the
    pairs are linked: each connected component that is so, and each that is several
    such groups and nothing else, linked by a few stray links (:func:`_dense_parts`).

    Two operators' accounts left alone in one component, each all tied on its wrapper
    and a few of one tied to the other on a phrase both append (67 and 17 accounts,
    0.67 of their pairs linked, 3 links across), were no group at all, and neither
    operator was flagged (synth seed 1234, coordinated). A sparse web (the users of
    shared addresses, of a popular tool) gives no group, as before, even where it holds
    a dense part: the holders of one value it shares are tied more to the web than to
    each other alone. But a link whose removal parts a component (a bridge) is a stray
    whatever it ties, and is left out first (:func:`_without_bridges`): 49 of an
    operator's accounts, all tied on its wrapper, tied to a web of 2,007 users of shared
    addresses by one link, were no group and the operator was not flagged (synth seed
    8231); two operators' leftovers (70 and 36 accounts), with a carrier user and an
    account of another ring each tied to one of them by one link, were none (seed 4471);
    and one account of the public, tied to an operator's leftovers by one link, was in
    its group, flagged (seeds 5 and 3003).
    """
    graph, ends = _without_bridges(graph, ends)
    components = graph.connected_components()
    settled = _settled_components(graph, components, density, ends)
    found: list[np.ndarray] = []
    for index, members in enumerate(components):
        if len(members) < 3 or settled[index] == 0:
            continue
        ids = np.asarray(members)
        if settled[index] == 1:
            found.append(ids)
            continue
        pieces = _dense_parts(graph.induced_subgraph(members), density)
        found.extend(ids[piece] for piece in pieces or [])
    return found


def _without_bridges(graph: ig.Graph, ends: np.ndarray) -> tuple[ig.Graph, np.ndarray]:
    """``graph`` and ``ends`` without the links whose removal parts a component (a
    bridge): a group that nearly all of its pairs tie is not held by one link, so such a
    link is a stray, whatever it ties."""
    bridges = graph.bridges()
    if not bridges:
        return graph, ends
    size = graph.vcount()
    cut = np.asarray([edge.tuple for edge in graph.es[bridges]], dtype=np.int64)
    cut.sort(axis=1)
    # only links both of whose ends some bridge has can be one (few of the many)
    on = np.zeros(size, dtype=bool)
    on[cut] = True
    near = np.flatnonzero(on[ends[:, 0]] & on[ends[:, 1]])
    pairs = np.sort(ends[near], axis=1)
    kept = np.ones(len(ends), dtype=bool)
    kept[near] = ~np.isin(pairs[:, 0] * size + pairs[:, 1], cut[:, 0] * size + cut[:, 1])
    graph = graph.copy()
    graph.delete_edges(bridges)
    return graph, ends[kept]


def _settled_components(
    graph: ig.Graph, components: ig.VertexClustering, density: float, ends: np.ndarray
) -> np.ndarray:
    """Per component of ``graph`` (``ends``: its links' ends), what :func:`_dense_parts`
    makes of it where its first step decides, from counts of links alone: 1 where it is
    dense (one group), 0 where its densest core is all of it, under three vertices, or
    not dense (no group); -1 where :func:`_dense_parts` must search on. Without the
    subgraph of each component: of the 30M realistic benchmark log's leftovers, one
    component of a sparse web held most of the links (3.6 s)."""
    of_vertex = np.asarray(components.membership, dtype=np.int64)
    sizes = np.asarray(components.sizes(), dtype=np.int64)
    of_link = of_vertex[ends[:, 0]]
    links = np.bincount(of_link, minlength=len(sizes))
    dense = links >= density * sizes * (sizes - 1) / 2
    core = np.asarray(graph.coreness(), dtype=np.int64)
    top_of = np.zeros(len(sizes), dtype=np.int64)
    np.maximum.at(top_of, of_vertex, core)
    top = core == top_of[of_vertex]
    in_top = np.bincount(of_vertex[top], minlength=len(sizes))
    top_links = np.bincount(of_link[top[ends[:, 0]] & top[ends[:, 1]]], minlength=len(sizes))
    top_dense = top_links >= density * in_top * (in_top - 1) / 2
    none = (in_top < 3) | (in_top == sizes) | ~top_dense
    return np.where(dense, 1, np.where(none, 0, -1))


def _dense_parts(graph: ig.Graph, density: float) -> list[np.ndarray] | None:
    """The dense groups (``density``, three or more vertices) a connected graph falls into:
    itself where it is dense, else its densest cores (the vertices of the highest
    coreness) taken one after the other, the rest searched again without each; None
    unless every vertex is in one (so that a web with a dense part is no group)."""
    parts: list[np.ndarray] = []
    todo = [np.arange(graph.vcount())]
    while todo:
        vertices = todo.pop()
        if len(vertices) < 3:
            return None
        whole = len(vertices) == graph.vcount()
        sub = graph if whole else graph.induced_subgraph(vertices.tolist())
        if _is_dense(sub, density):
            parts.append(vertices)
            continue
        core = np.asarray(sub.coreness())
        top = core == core.max()
        k = int(top.sum())
        if k < 3 or k == len(vertices):
            return None
        if not _is_dense(sub.induced_subgraph(np.flatnonzero(top).tolist()), density):
            return None
        parts.append(vertices[top])
        rest = sub.induced_subgraph(np.flatnonzero(~top).tolist())
        todo.extend(vertices[~top][np.asarray(c)] for c in rest.connected_components())
    return parts


def _is_dense(graph: ig.Graph, density: float) -> bool:
    """Whether at least ``density`` of the pairs of ``graph``'s vertices are linked."""
    size = graph.vcount()
    return bool(graph.ecount() >= density * size * (size - 1) / 2)


def join_pieces(
    graph: AccountGraph,
    labels: np.ndarray,
    config: DetectConfig,
    leftovers: set[int] | frozenset[int] = frozenset(),
) -> np.ndarray:
    """Join groups of two or more accounts that differ only by what ties a few of them
    tighter (``split_keys``: cards): nearly every pair across is linked
    (``join_density``), and on the other keys the links across weigh at least
    ``join_ratio`` of the links inside each. ``leftovers`` (groups of accounts Leiden
    left alone, :func:`group_leftovers`) are joined only on keys other than shared
    infrastructure (IP, subnet): the users of a VPN exit around a ring
    share the exit with it as much as with each other, and nothing else; the accounts of
    an operator left alone beside the batches of cards Leiden kept share its prompts.
    The links across are measured against the leftovers' own, not the piece's: a ring's
    accounts all on its wrapper (0.5 a pair), a batch of them also repeating tasks (2.5),
    are one ring whatever ties the batch tighter. But leftovers tied so to two groups
    of pieces not joined to each other, each holding a ring of its own, join neither
    (:func:`_tied_to_several`): through them two rings that share a template would be one.

    Leiden (CPM, resolution 1) cuts a ring whose accounts are tied only loosely (one
    prompt template group held by 130 accounts: 0.41 a pair) along the cards it bought
    in batches of five (+0.87 for the pairs of a batch); the pieces are linked across by
    the template as strongly as inside and are one ring again. Two rings on one VPN's
    exits, or sharing one template, share it across, but inside each they also share
    their own templates: far more.
    """
    keys = sorted(k for k in graph.key_weights if k not in config.split_keys)
    if config.join_ratio <= 0 or not keys or len(graph.src) == 0 or labels.max() < 1:
        return labels
    size = int(labels.max()) + 1
    counts = np.bincount(labels[labels >= 0], minlength=size)
    weight = np.zeros(len(graph.src))
    content = np.zeros(len(graph.src))  # ... and without shared infrastructure
    for key in keys:
        weight += graph.key_weights[key]
        if key not in IP_KEYS:
            content += graph.key_weights[key]
    left, right = labels[graph.src], labels[graph.dst]
    inside = (left == right) & (left >= 0)
    n_in = np.bincount(left[inside], minlength=size)
    mean_in = np.bincount(left[inside], weight[inside], size) / np.maximum(n_in, 1)
    content_in = np.bincount(left[inside], content[inside], size) / np.maximum(n_in, 1)
    cross = (left != right) & (left >= 0) & (right >= 0)
    cross &= (counts[np.maximum(left, 0)] >= 2) & (counts[np.maximum(right, 0)] >= 2)
    if not cross.any():
        return labels
    a, b, index = _piece_pairs(left[cross], right[cross], size)
    n_cross = np.bincount(index)
    mean_cross = np.bincount(index, weight[cross]) / n_cross
    closest = np.maximum(mean_in[a], mean_in[b])
    if leftovers:
        # a group of leftovers joins only on what is not shared infrastructure
        fixed = np.zeros(size, dtype=bool)
        fixed[[label for label in leftovers if label < size]] = True
        loose = fixed[a] | fixed[b]
        mean_cross = np.where(loose, np.bincount(index, content[cross]) / n_cross, mean_cross)
        # ... and measures the links across against its own: accounts Leiden left alone
        # beside a piece, tied to it by what they all share as much as to each other, are
        # its accounts; what ties the piece tighter (its own prompts) is not asked of them
        own = np.maximum(
            np.where(fixed[a], content_in[a], 0.0), np.where(fixed[b], content_in[b], 0.0)
        )
        closest = np.where(loose, own, closest)
    join = (n_cross >= config.join_density * counts[a] * counts[b]) & (closest > 0)
    join &= mean_cross >= config.join_ratio * closest
    if leftovers:
        # a piece (of six or more) whose ties beyond those across would alone make it a
        # group (more than the resolution a pair) is a ring of its own, not a batch of
        # the leftovers' ring
        piece = np.where(fixed[a], b, a)
        own_group = counts[piece] >= RING_MIN_SIZE
        own_group &= content_in[piece] - mean_cross >= config.resolution
        join &= ~_tied_to_several(size, a, b, join, fixed, own_group)
    if not join.any():
        return labels
    roots = _chained(size, a[join], b[join])
    joined = labels.copy()
    joined[labels >= 0] = roots[labels[labels >= 0]]
    # only the split keys the links have: no word about a key the data lacks
    present = [k for k in config.split_keys if k in graph.key_weights]
    log.info(
        "joined %d pairs of pieces that differ only by %s",
        int(join.sum()),
        ", ".join(present) or "their weights",
    )
    return joined


def _tied_to_several(
    size: int,
    a: np.ndarray,
    b: np.ndarray,
    join: np.ndarray,
    fixed: np.ndarray,
    own_group: np.ndarray,
) -> np.ndarray:
    """Of the joins of pairs of pieces ``a``-``b``, those that would join leftovers
    (``fixed``; with the leftovers they are joined to) to two or more groups of pieces
    not joined to each other, each holding a piece that is a group of its own
    (``own_group``, per pair): accounts tied as much to one ring as to another by what
    they share are neither's (a template two rings and a few others send), and through
    them the rings would be one. The batches of one ring, tied a little tighter than
    the rest by chance (a few more values shared), are not rings of their own: the
    leftovers beside them are that ring's."""
    firm = join & ~fixed[a] & ~fixed[b]
    groups = _chained(size, a[firm], b[firm])  # pieces joined among themselves
    among = join & fixed[a] & fixed[b]
    kin = _chained(size, a[among], b[among])  # leftovers joined among themselves
    touch = join & (fixed[a] ^ fixed[b])
    counted = touch & own_group
    if not counted.any():
        return np.zeros(len(join), dtype=bool)
    left = np.where(fixed[a], a, b)
    piece = np.where(fixed[a], b, a)
    ties = np.unique(np.column_stack([kin[left[counted]], groups[piece[counted]]]), axis=0)
    several = np.bincount(ties[:, 0], minlength=size) > 1
    return touch & several[kin[left]]


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
