"""detect: components, Leiden inside large ones, ids derived from members."""

from __future__ import annotations

import itertools
import random

import igraph as ig
import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sybilgraph.config import DetectConfig
from sybilgraph.stages.detect import (
    cluster_ids,
    detect,
    edges_of,
    group_links,
    join_frayed,
    partition,
)
from sybilgraph.stages.graph import AccountGraph, build_graph


def _links(edges: list[tuple[str, str, float]]) -> pa.Table:
    a, b, w = zip(*edges, strict=True)
    return pa.table({"a": list(a), "b": list(b), "weight": list(w)})


def _clique(prefix: str, n: int, weight: float) -> list[tuple[str, str, float]]:
    names = [f"{prefix}{i:02d}" for i in range(n)]
    return [(x, y, weight) for i, x in enumerate(names) for y in names[i + 1 :]]


@pytest.mark.parametrize("implementation", ["igraph", "leidenalg"])
def test_two_rings_joined_by_one_weak_link_are_cut_apart(implementation: str) -> None:
    # Two 15-account cliques of weight 3 joined by one link of weight 0.5: one component
    # of 30 (> leiden_min_size 10), so Leiden runs. CPM at resolution 1 gains
    # 3 * 105 - 1 * 105 = 210 per clique kept whole, and merging them would add the one
    # 0.5 link but cost 1 * 15 * 15 = 225 more pairs: the two cliques stay apart.
    edges = _clique("r", 15, 3.0) + _clique("s", 15, 3.0) + [("r00", "s00", 0.5)]
    config = DetectConfig(implementation=implementation)  # type: ignore[arg-type]
    membership = detect(build_graph(_links(edges)), config, seed=1)
    groups = {frozenset(g["account_id"]) for _, g in membership.groupby("cluster_id")}
    assert groups == {
        frozenset(f"r{i:02d}" for i in range(15)),
        frozenset(f"s{i:02d}" for i in range(15)),
    }


def test_two_small_rings_touching_through_a_template_are_cut_apart() -> None:
    # The bundled sample's prompt-only ring (8 accounts, 3.3 a pair) and typo ring (11,
    # 6.1 a pair) share one template group through 4 of their accounts (0.63 a link): one
    # component of 19, more than leiden_min_size 10, so Leiden runs. Merged, CPM would add
    # 4 * 0.63 = 2.5 of weight for 8 * 11 = 88 more pairs at resolution 1: two clusters.
    # (With leiden_min_size 20 the component was taken whole, one cluster of both rings.)
    edges = _clique("p", 8, 3.3) + _clique("t", 11, 6.1)
    edges += [(f"p{i:02d}", f"t{i:02d}", 0.63) for i in range(4)]
    membership = detect(build_graph(_links(edges)), DetectConfig(), seed=1)
    groups = {frozenset(g["account_id"]) for _, g in membership.groupby("cluster_id")}
    assert groups == {
        frozenset(f"p{i:02d}" for i in range(8)),
        frozenset(f"t{i:02d}" for i in range(11)),
    }


def test_small_components_are_clusters_and_weak_links_are_dropped() -> None:
    edges = [("a", "b", 1.0), ("b", "c", 1.0), ("x", "y", 0.1)]
    membership = detect(build_graph(_links(edges), min_weight=0.3), DetectConfig(), seed=1)
    assert sorted(membership["account_id"]) == ["a", "b", "c"]
    assert membership["cluster_id"].nunique() == 1


def test_a_light_link_on_a_relation_reaches_the_graph() -> None:
    # Two pairs at 0.28 (a value held by 30 accounts: 1 / ln(35)), under min_weight 0.3:
    # x-y share an IP and are left out; u-v share the address that funded them both
    # (counterparty, a relation: control passes however thin) and are kept, as is a
    # link resting only in part on one (p-q: 0.1 direct + 0.18 ip).
    links = pa.table(
        {
            "a": ["x", "u", "p"],
            "b": ["y", "v", "q"],
            "weight": [0.28, 0.28, 0.28],
            "ip_weight": [0.28, 0.0, 0.18],
            "counterparty_weight": [0.0, 0.28, 0.0],
            "direct_weight": [None, None, 0.1],
        }
    )
    graph = build_graph(links, min_weight=0.3)
    assert sorted(graph.ids) == ["p", "q", "u", "v"]
    assert graph.graph.ecount() == 2


def test_components_match_networkx_on_random_graphs() -> None:
    rng = random.Random(7)
    for _ in range(20):
        nodes = [f"n{i}" for i in range(rng.randint(5, 18))]
        edges = [
            (x, y, 1.0) for i, x in enumerate(nodes) for y in nodes[i + 1 :] if rng.random() < 0.12
        ]
        if not edges:
            continue
        # components alone: none is large enough for Leiden
        config = DetectConfig(leiden_min_size=len(nodes))
        membership = detect(build_graph(_links(edges)), config, seed=3)
        ours = {frozenset(g["account_id"]) for _, g in membership.groupby("cluster_id")}
        reference = nx.Graph()
        reference.add_edges_from((x, y) for x, y, _ in edges)
        theirs = {frozenset(c) for c in nx.connected_components(reference) if len(c) >= 2}
        assert ours == theirs


def test_a_groups_links_as_arrays_are_those_of_its_subgraph() -> None:
    """Detection hands the links of each component, and of each of Leiden's groups it
    cuts again, to the next step as arrays cut from the graph's, not as read back from
    the group's induced subgraph: the same links, ends and weights, in the same order
    (so the same sums and the same clusters)."""
    rng = random.Random(11)
    nodes = [f"n{i:03d}" for i in range(rng.randint(150, 200))]
    edges = {
        (x, y) if rng.random() < 0.5 else (y, x): round(rng.uniform(0.3, 3.0), 3)
        for x, y in (rng.sample(nodes, 2) for _ in range(140))
    }
    listed = list(edges.items())
    rng.shuffle(listed)
    graph = build_graph(_links([(a, b, w) for (a, b), w in listed]))
    components = graph.graph.connected_components()
    groupings = {
        "components": np.asarray(components.membership, dtype=np.int64),
        "any groups": np.asarray([rng.randrange(4) for _ in graph.ids], dtype=np.int64),
    }
    assert max(components.sizes()) > 20 and len(components) > 3
    for name, of_vertex in groupings.items():
        sizes = np.bincount(of_vertex)
        inside = group_links(graph.src, graph.dst, graph.weight, of_vertex, sizes)
        for group in range(len(sizes)):
            members = np.flatnonzero(of_vertex == group).tolist()
            sub = graph.graph.induced_subgraph(members, implementation="create_from_scratch")
            ends, weight = inside.edges(group)
            read_ends, read_weight = edges_of(sub)
            assert ends.tolist() == read_ends.tolist(), name
            assert weight.tolist() == read_weight.tolist(), name


def test_ids_do_not_depend_on_order_and_survive_small_changes() -> None:
    edges = _clique("r", 12, 2.0)
    first = detect(build_graph(_links(edges)), DetectConfig(), seed=1)
    shuffled = list(reversed(edges))
    second = detect(build_graph(_links(shuffled)), DetectConfig(), seed=1)
    assert first.equals(second)
    # drop one member that is not the one the cluster is named after
    name = first["cluster_id"].iloc[0]
    members = sorted(first["account_id"])
    ids = cluster_ids(np.array(members, dtype=object), np.zeros(len(members), dtype=int))
    assert ids[0] == name
    keep = [m for m in members if cluster_ids(np.array([m], dtype=object), np.zeros(1))[0] != name]
    dropped = keep[0]
    fewer = [e for e in edges if dropped not in e[:2]]
    third = detect(build_graph(_links(fewer)), DetectConfig(), seed=1)
    assert third["cluster_id"].unique().tolist() == [name]


def test_igraph_leiden_is_seeded_and_leaves_the_global_generator_alone() -> None:
    # Four dense groups of 15 (links of weight 3, density 0.7: CPM gains by keeping each
    # together) loosely joined to each other: the same seed must give the same cut every
    # time, whatever Python's own random state is, and detection must not move the
    # caller's random module.
    rng = random.Random(5)
    nodes = [f"n{i:02d}" for i in range(60)]
    edges = [
        (x, y, 3.0)
        for i, x in enumerate(nodes)
        for j, y in enumerate(nodes[i + 1 :], start=i + 1)
        if rng.random() < (0.7 if i // 15 == j // 15 else 0.05)
    ]
    graph = build_graph(_links(edges))
    config = DetectConfig(implementation="igraph")
    random.seed(1)
    first = detect(graph, config, seed=9)
    marker = random.random()
    random.seed(1)
    random.random()
    random.random()
    second = detect(graph, config, seed=9)
    assert first.equals(second)
    assert first["cluster_id"].nunique() == 4
    random.seed(1)
    detect(graph, config, seed=9)
    assert random.random() == marker


@pytest.mark.parametrize("implementation", ["igraph", "leidenalg"])
def test_accounts_linked_only_under_the_resolution_are_left_alone(implementation: str) -> None:
    # Two rings of 6 (3.0 a pair) among 31 accounts linked only under CPM's resolution
    # (1.0): x to all of ring a at 0.9 (5.4 against the 6.0 joining costs), a chain of
    # 30 at 0.5 each also tied to ring b at 0.5. Those are alone. y has one link of 1.5
    # and 0.95 to the other five of ring a: 6.25 against 6.0, so y joins ring a, which
    # it does only if its links under the resolution are counted too. The accounts are
    # numbered in a shuffled order, so that the ones left alone sit between the others.
    names = [f"a{i:02d}" for i in range(6)] + [f"b{i:02d}" for i in range(6)] + ["x", "y"]
    names += [f"w{i:02d}" for i in range(30)]
    random.Random(3).shuffle(names)
    edges = _clique("a", 6, 3.0) + _clique("b", 6, 3.0)
    edges += [("x", f"a{i:02d}", 0.9) for i in range(6)]
    edges += [("y", "a00", 1.5)] + [("y", f"a{i:02d}", 0.95) for i in range(1, 6)]
    edges += [(f"w{i:02d}", f"w{i + 1:02d}", 0.5) for i in range(29)]
    edges += [(f"w{i:02d}", f"b{i % 6:02d}", 0.5) for i in range(30)]
    index = {name: i for i, name in enumerate(names)}
    graph = ig.Graph(n=len(names), edges=[(index[x], index[y]) for x, y, _ in edges])
    graph.es["weight"] = [w for _, _, w in edges]
    config = DetectConfig(implementation=implementation)  # type: ignore[arg-type]
    membership = partition(graph, config, seed=1)
    groups: dict[int, set[str]] = {}
    for name, label in zip(names, membership, strict=True):
        groups.setdefault(label, set()).add(name)
    found = sorted(sorted(g) for g in groups.values() if len(g) > 1)
    assert found == [[*(f"a{i:02d}" for i in range(6)), "y"], [f"b{i:02d}" for i in range(6)]]
    assert len(groups) == 2 + 31


def _keyed(
    edges: list[tuple[str, str, float, float]], keys: tuple[str, str] = ("prompt", "payment")
) -> pa.Table:
    """Links with their weight on two keys, as the link stage writes them (a, b, then
    the weight on each key)."""
    a, b, first, second = zip(*edges, strict=True)
    weight = [p + q for p, q in zip(first, second, strict=True)]
    return pa.table(
        {
            "a": list(a),
            "b": list(b),
            "weight": weight,
            f"{keys[0]}_weight": list(first),
            f"{keys[1]}_weight": list(second),
        }
    )


def _groups(membership: pd.DataFrame) -> list[int]:
    return sorted(len(g) for _, g in membership.groupby("cluster_id"))


def _ring_on_cards() -> list[tuple[str, str, float, float]]:
    # 30 accounts, every pair sharing one prompt template group (0.45 a pair); accounts
    # share a card in fives (six cards, +0.9 for the 10 pairs of each five).
    names = [f"r{i:02d}" for i in range(30)]
    return [
        (x, y, 0.45, 0.9 if i // 5 == j // 5 else 0.0)
        for i, x in enumerate(names)
        for j, y in enumerate(names[i + 1 :], start=i + 1)
    ]


def test_a_ring_cut_along_its_cards_is_joined_again() -> None:
    # CPM at resolution 1 keeps a group whose links weigh more than 1 a pair: each five
    # (1.35 a pair) does, the whole ring ((435 * 0.45 + 60 * 0.9) / 435 = 0.57) does not,
    # so Leiden returns the six fives. Across two fives all 25 pairs are linked, at 0.45
    # on prompt, the key they use; inside a five prompt weighs 0.45 as well: ratio 1.0,
    # above join_ratio 0.6, so the six are one cluster again.
    edges = _ring_on_cards()
    joined = detect(build_graph(_keyed(edges)), DetectConfig(), seed=1)
    assert _groups(joined) == [30]
    cut = detect(build_graph(_keyed(edges)), DetectConfig(join_ratio=0.0), seed=1)
    assert _groups(cut) == [5] * 6
    # the per-key weights follow their links whatever order the links come in
    shuffled = edges[:]
    random.Random(3).shuffle(shuffled)
    again = detect(build_graph(_keyed(shuffled)), DetectConfig(), seed=1)
    assert again.equals(joined)


def test_two_rings_sharing_a_template_stay_apart() -> None:
    # Two 15-account rings, 3.0 a pair on prompt inside (several templates), and every
    # pair across sharing one template group (0.45): one component in which every pair
    # is linked. Across: 0.45 against 3.0 inside on the same key, ratio 0.15 < 0.6: two
    # clusters, as Leiden cut them (merging would cost 225 * (1 - 0.45) = 124).
    r = [f"r{i:02d}" for i in range(15)]
    s = [f"s{i:02d}" for i in range(15)]
    edges = [(x, y, 3.0, 0.0) for g in (r, s) for i, x in enumerate(g) for y in g[i + 1 :]]
    edges += [(x, y, 0.45, 0.0) for x in r for y in s]
    membership = detect(build_graph(_keyed(edges)), DetectConfig(), seed=1)
    assert {frozenset(g["account_id"]) for _, g in membership.groupby("cluster_id")} == {
        frozenset(r),
        frozenset(s),
    }


def test_a_group_tied_alike_under_the_resolution_is_not_cut_by_chance() -> None:
    # A proxy ring's 29 accounts, measured in a weekly report: every pair holds the
    # ring's wrapper (0.7) and nothing outside touches them; a batch of 14 also repeats
    # a few tasks by chance (+0.7), as do three threes (+1.2) and two pairs (+1.6). CPM
    # at resolution 1 keeps the batches (over 1 a pair) and leaves the rest alone: the
    # ring came out as 14, 3, 3, 3, 2, 2 and 2 accounts in no cluster, and unflagged.
    # Every pair is linked and, cut at its own resolution (0.6 of its 0.86 a pair), no
    # part comes apart: one group.
    ring = [f"r{i:02d}" for i in range(29)]
    batches = [ring[:14], ring[14:17], ring[17:20], ring[20:23], ring[23:25], ring[25:27]]
    extra = {
        frozenset(p): 0.7 if len(b) == 14 else 1.2 if len(b) == 3 else 1.6
        for b in batches
        for p in itertools.combinations(b, 2)
    }
    edges = [
        (x, y, 0.7, extra.get(frozenset((x, y)), 0.0))
        for i, x in enumerate(ring)
        for y in ring[i + 1 :]
    ]
    membership = detect(build_graph(_keyed(edges, ("wrapper", "prompt"))), DetectConfig(), seed=1)
    assert _groups(membership) == [29]
    # two rings tied inside (2.6 and 2.1 a pair) and across on one template (0.4) are
    # cut at their own resolution, and stay two
    r, s = ring[:15], [f"s{i:02d}" for i in range(15)]
    edges = [
        (x, y, 2.6 if g is r else 2.1, 0.0)
        for g in (r, s)
        for i, x in enumerate(g)
        for y in g[i + 1 :]
    ]
    edges += [(x, y, 0.4, 0.0) for x in r for y in s]
    membership = detect(build_graph(_keyed(edges)), DetectConfig(), seed=1)
    assert _groups(membership) == [15, 15]
    # four offices of 8, each on its own IP (1.0 a pair), all sending one template
    # (0.4): tied alike on content, but each office is a group of its own by its address
    offices = [[f"o{k}{i}" for i in range(8)] for k in range(4)]
    every = [x for office in offices for x in office]
    edges = [
        (x, y, 1.0 if x[1] == y[1] else 0.0, 0.4)
        for i, x in enumerate(every)
        for y in every[i + 1 :]
    ]
    membership = detect(build_graph(_keyed(edges, ("ip", "prompt"))), DetectConfig(), seed=1)
    assert _groups(membership) == [8, 8, 8, 8]


def test_accounts_tied_alike_to_two_rings_join_neither() -> None:
    # The two rings above (3.0 a pair inside, 0.45 across on one shared template), and 5
    # accounts that send only that template (0.45 to every account). Leiden leaves the 5
    # alone; they are a group of leftovers tied to each ring as much as to each other, so
    # each ring alone would take them in. Joined to both, the rings would be one cluster
    # of 35 through them: they join neither.
    r = [f"r{i:02d}" for i in range(15)]
    s = [f"s{i:02d}" for i in range(15)]
    u = [f"u{i}" for i in range(5)]
    every = r + s + u

    def weight(x: str, y: str) -> float:
        return 3.0 if x[0] == y[0] and x[0] in "rs" else 0.45

    edges = [(x, y, weight(x, y), 0.0) for i, x in enumerate(every) for y in every[i + 1 :]]
    membership = detect(build_graph(_keyed(edges)), DetectConfig(), seed=1)
    groups = {frozenset(g) for _, g in membership.groupby("cluster_id")["account_id"]}
    assert groups == {frozenset(u), frozenset(r), frozenset(s)}


def test_accounts_left_alone_are_a_group_of_their_own_never_joined() -> None:
    # A 12-account ring (3.0 a pair: 0.9 on IP, 2.1 on its cards) behind VPN exits that
    # 40 other accounts use too: every pair among the 52 shares exit IPs (0.9). Leiden
    # keeps the ring and leaves the 40 alone (0.9 < 1 a pair). They all share the exits,
    # so they are a group (every pair linked), but not the ring's: across, the ring and a
    # user are as close as on IP inside the ring (ratio 1.0), yet a group of leftovers is
    # joined only on what is not shared infrastructure, and they share nothing else.
    ring = [f"r{i:02d}" for i in range(12)]
    users = [f"u{i:02d}" for i in range(40)]
    everyone = ring + users
    edges = [
        (x, y, 0.9, 2.1 if x in ring and y in ring else 0.0)
        for i, x in enumerate(everyone)
        for y in everyone[i + 1 :]
    ]
    membership = detect(build_graph(_keyed(edges, ("ip", "payment"))), DetectConfig(), seed=1)
    groups = membership.groupby("cluster_id")["account_id"].apply(set).tolist()
    assert sorted(groups, key=len) == [set(ring), set(users)]


def test_accounts_left_alone_join_the_piece_they_are_tied_to_as_to_each_other() -> None:
    # A 30-account ring behind fresh proxy addresses: every pair holds the ring's
    # instruction wrapper (0.5), and a batch of 6 also repeats the same tasks (+2.0 a
    # pair). Leiden keeps the batch (2.5 > 1 a pair) and leaves the 24 others alone
    # (0.5 < 1): they are a group of leftovers. Across, every pair is linked at 0.5, as
    # inside the leftovers: one ring. Measured against the batch's own 2.5 (ratio 0.2)
    # it stayed two clusters.
    ring = [f"r{i:02d}" for i in range(30)]
    batch = set(ring[:6])
    edges = [
        (x, y, 0.5, 2.0 if x in batch and y in batch else 0.0)
        for i, x in enumerate(ring)
        for y in ring[i + 1 :]
    ]
    membership = detect(build_graph(_keyed(edges, ("wrapper", "prompt"))), DetectConfig(), seed=1)
    assert _groups(membership) == [30]


def test_accounts_left_alone_are_grouped_only_where_nearly_all_pairs_link() -> None:
    # 30 accounts that all hold one instruction wrapper (0.42 a pair, as 2 / ln(115 + 5)
    # for 115 holders): CPM at resolution 1 leaves each alone (0.42 < 1), but every pair
    # is linked (density 1 >= join_density 0.9): one group. 20 accounts in a chain
    # (each linked to the next at 0.42): 19 of 190 pairs linked, no group.
    wrapped = [f"w{i:02d}" for i in range(30)]
    chain = [f"c{i:02d}" for i in range(20)]
    edges = [(x, y, 0.42, 0.0) for i, x in enumerate(wrapped) for y in wrapped[i + 1 :]]
    edges += [(x, y, 0.42, 0.0) for x, y in itertools.pairwise(chain)]
    membership = detect(build_graph(_keyed(edges, ("wrapper", "payment"))), DetectConfig(), seed=1)
    groups = membership.groupby("cluster_id")["account_id"].apply(set).tolist()
    assert groups == [set(wrapped)]


def test_two_groups_left_alone_in_one_component_are_two_groups() -> None:
    # two operators' accounts, each all tied on its wrapper (0.42 a pair: CPM leaves
    # each alone), three pairs across tied on a phrase both append: 0.59 of the pairs
    # of the 42 linked, so neither was grouped (synth seed 1234: 67 and 17 accounts)
    first = [f"w{i:02d}" for i in range(30)]
    second = [f"v{i:02d}" for i in range(12)]
    edges = [(x, y, 0.42, 0.0) for g in (first, second) for x, y in itertools.combinations(g, 2)]
    edges += [("w00", "v00", 0.35, 0.0), ("w01", "v00", 0.35, 0.0), ("w02", "v01", 0.35, 0.0)]
    keys = ("wrapper", "payment")
    membership = detect(build_graph(_keyed(edges, keys)), DetectConfig(), seed=1)
    assert {frozenset(g["account_id"]) for _, g in membership.groupby("cluster_id")} == {
        frozenset(first),
        frozenset(second),
    }
    # a web with a dense part is no group: the 10 holders of a value users of a tool
    # share, in a chain of 30 of its other users, as tied to the chain as to each other
    held = [f"h{i:02d}" for i in range(10)]
    chain = [f"c{i:02d}" for i in range(30)]
    edges = [(x, y, 0.42, 0.0) for x, y in itertools.combinations(held, 2)]
    edges += [(x, y, 0.42, 0.0) for x, y in itertools.pairwise(chain)]
    edges += [(h, chain[3 * i], 0.42, 0.0) for i, h in enumerate(held)]
    assert detect(build_graph(_keyed(edges, keys)), DetectConfig(), seed=1).empty
    # ... and it stays none with a group beside it tied to it by one link (a bridge),
    # which is that group (synth seed 8231: 49 of an operator's accounts tied to a web
    # of 2,007 users of shared addresses by one link were no group, the operator not
    # flagged)
    ring = [f"r{i:02d}" for i in range(20)]
    edges += [(x, y, 0.42, 0.0) for x, y in itertools.combinations(ring, 2)]
    tied = [*edges, ("r00", "c07", 0.0, 0.5)]
    membership = detect(build_graph(_keyed(tied, keys)), DetectConfig(), seed=1)
    assert {frozenset(g["account_id"]) for _, g in membership.groupby("cluster_id")} == {
        frozenset(ring)
    }
    # two links are no bridge: the group is a dense part of the web, no group
    tied += [("r01", "c08", 0.0, 0.5)]
    assert detect(build_graph(_keyed(tied, keys)), DetectConfig(), seed=1).empty


def test_two_rings_linked_a_little_over_the_resolution_are_cut_apart() -> None:
    # Two typo rings of 8 and 16 accounts, 4.0 and 3.5 a pair inside (IPs and their
    # templates), and every pair across sharing two near-duplicate template groups at
    # 1.04. CPM at resolution 1: merging gains 128 * (1.04 - 1) = 5.1 > 0, one cluster.
    # Its weight per pair: (28 * 4.0 + 120 * 3.5 + 128 * 1.04) / 276 = 2.41; cut again
    # at 0.6 (join_ratio) of it, 1.45, the pairs across cost 128 * (1.45 - 1.04) = 52:
    # two rings. join_pieces leaves them apart: 1.04 across against 4.0 inside, ratio
    # 0.26 < 0.6. Without refining (join_ratio 0, which also turns joining off) they are
    # one.
    r = [f"r{i:02d}" for i in range(8)]
    s = [f"s{i:02d}" for i in range(16)]
    edges = [(x, y, 4.0, 0.0) for i, x in enumerate(r) for y in r[i + 1 :]]
    edges += [(x, y, 3.5, 0.0) for i, x in enumerate(s) for y in s[i + 1 :]]
    edges += [(x, y, 1.04, 0.0) for x in r for y in s]
    membership = detect(build_graph(_keyed(edges)), DetectConfig(), seed=1)
    assert {frozenset(g["account_id"]) for _, g in membership.groupby("cluster_id")} == {
        frozenset(r),
        frozenset(s),
    }
    merged = detect(build_graph(_keyed(edges)), DetectConfig(join_ratio=0.0), seed=1)
    assert _groups(merged) == [24]


def _template_ring() -> tuple[list[str], list[tuple[str, str, float, float]]]:
    """A proxy ring of 22 accounts each sending three of the operator's ten templates,
    linked where two share one (1.2 a template shared): its accounts and links."""
    ring = [f"r{i:02d}" for i in range(22)]
    held = {x: {i % 10, (3 * i + 1) % 10, (7 * i + 4) % 10} for i, x in enumerate(ring)}
    edges = [
        (x, y, 1.2 * len(held[x] & held[y]), 0.0)
        for x, y in itertools.combinations(ring, 2)
        if held[x] & held[y]
    ]
    return ring, edges


def _sites(
    prefix: str, size: int, *, address: float, templates: tuple[int, int, int], shared: float
) -> tuple[list[list[str]], list[tuple[str, str, float, float]]]:
    """Four sites of ``size`` people on an address each (``address`` a pair), each
    person sending two of ``templates[0]`` templates (the ``j``-th person: ``j`` and
    ``templates[1] * j + templates[2]``, modulo their number), ``shared`` a template
    shared, across sites too: the sites and their links (IP, then prompt weight)."""
    count, step, offset = templates
    sites = [[f"{prefix}{k}{i}" for i in range(size)] for k in range(4)]
    people = [p for site in sites for p in site]
    sends = {p: {j % count, (step * j + offset) % count} for j, p in enumerate(people)}
    mates = {frozenset(p) for site in sites for p in itertools.combinations(site, 2)}
    edges = [
        (x, y, address if frozenset((x, y)) in mates else 0.0, shared * len(sends[x] & sends[y]))
        for x, y in itertools.combinations(people, 2)
        if frozenset((x, y)) in mates or sends[x] & sends[y]
    ]
    return sites, edges


def test_a_ring_linked_where_its_accounts_share_a_template_is_not_cut_by_chance() -> None:
    # A proxy ring's 22 accounts each send two or three of the operator's ten templates
    # (1.2 a template shared): linked only where two share one, 46% of pairs. CPM at
    # resolution 1 cut it into the accounts that happen to share the most (4, 4, 6, 8),
    # each linked to the others about as often, and as strongly, as the ring inside.
    ring, edges = _template_ring()
    assert _groups(detect(build_graph(_keyed(edges)), DetectConfig(), seed=1)) == [22]
    # two users who share one template with one of its accounts are linked across far
    # less often than the ring is: they stay apart
    strays = [("u1", "u2", 1.5, 0.0), ("u1", "r00", 1.2, 0.0)]
    membership = detect(build_graph(_keyed(edges + strays)), DetectConfig(), seed=1)
    assert {frozenset(g["account_id"]) for _, g in membership.groupby("cluster_id")} == {
        frozenset(ring),
        frozenset({"u1", "u2"}),
    }
    # and two such rings tied by two accounts' templates stay two
    twin = [(x.replace("r", "s"), y.replace("r", "s"), w, 0.0) for x, y, w, _ in edges]
    bridge = [("r00", "s00", 1.2, 0.0), ("r01", "s01", 1.2, 0.0)]
    membership = detect(build_graph(_keyed(edges + twin + bridge)), DetectConfig(), seed=1)
    assert _groups(membership) == [22, 22]
    # four offices of eight on an IP each (1.0 a pair) whose people send two of seven
    # templates each (0.6 a template shared, across offices too) are not one group:
    # where addresses alone tie accounts as much as the resolution, no piece is joined
    _, edges = _sites("o", 8, address=1.0, templates=(7, 3, 2), shared=0.6)
    membership = detect(build_graph(_keyed(edges, ("ip", "prompt"))), DetectConfig(), seed=1)
    assert max(_groups(membership)) <= 8
    # four classrooms of ten on a school address each (0.9 a pair, under the
    # resolution) whose students send two of five templates each (0.4 a template
    # shared, across classrooms too) are linked across on the templates but never on
    # the address: four clusters
    rooms, edges = _sites("c", 10, address=0.9, templates=(5, 2, 1), shared=0.4)
    membership = detect(build_graph(_keyed(edges, ("ip", "prompt"))), DetectConfig(), seed=1)
    assert {frozenset(g["account_id"]) for _, g in membership.groupby("cluster_id")} == {
        frozenset(room) for room in rooms
    }


def test_joining_frayed_pieces_keeps_the_other_pieces_and_their_leftovers_named() -> None:
    # join_pieces knows the groups of leftovers by their labels: joining pieces in one
    # component must not renumber another's (a renumbering let two cliques of a weekly
    # window, 46 and 28 accounts, come out as 41 + 5 and 25 + 3)
    ring, edges = _template_ring()
    piece, alone = [f"y{i}" for i in range(11)], [f"z{i}" for i in range(3)]
    edges += [(x, y, 3.0, 0.0) for g in (piece, alone) for x, y in itertools.combinations(g, 2)]
    edges += [("y0", "z0", 1.0, 0.0)]
    graph = build_graph(_keyed(edges))
    chunk = {x: i // 6 for i, x in enumerate(ring)}  # four pieces, cut anyhow
    labels = np.array([chunk.get(a, 4 if a in piece else 5) for a in graph.ids], dtype=np.int64)
    components = graph.graph.connected_components()
    joined, leftovers = join_frayed(graph, labels, components, DetectConfig(), {5})
    assert len(set(joined[labels < 4])) == 1
    assert (joined[labels == 4] == 4).all() and (joined[labels == 5] == 5).all()
    assert leftovers == {5}


def _frayed(
    across: float, every: int, pieces: int = 4, size: int = 6, housed: bool = False
) -> tuple[AccountGraph, np.ndarray, ig.VertexClustering]:
    """``pieces`` pieces of ``size`` accounts, each pair inside linked at 2.0 on content
    and the pairs across at ``across``, one in ``every`` (and, ``housed``, the first two
    accounts on one IP as well, 1.0): the graph, each account's piece (as its graph
    numbers them) and the graph's components."""
    ring = [f"r{i:03d}" for i in range(pieces * size)]
    edges = [
        (x, y, 2.0 if i // size == j // size else across, 1.0 if housed and i + j == 1 else 0.0)
        for (i, x), (j, y) in itertools.combinations(enumerate(ring), 2)
        if i // size == j // size or (i + j) % every == 0
    ]
    graph = build_graph(_keyed(edges, ("prompt", "ip")))
    labels = np.array([int(a[1:]) // size for a in graph.ids], dtype=np.int64)
    return graph, labels, graph.graph.connected_components()


def test_pieces_linked_across_a_little_weaker_than_their_component_are_one_group() -> None:
    # Leiden's pieces are the tighter parts of a ring: the links across weigh less
    # than the ring's mean. A third of the pairs across linked at 0.8 a link, against
    # 1.35 for the component's links (0.59 of it): one group, as a weekly window's ring
    # of 36 whose pieces were linked across at 0.58 of its mean
    graph, labels, components = _frayed(0.8, 3)
    joined, _ = join_frayed(graph, labels, components, DetectConfig(), set())
    assert len(set(joined.tolist())) == 1
    # a stricter join_strength leaves them apart
    strict = DetectConfig(join_strength=0.6)
    joined, _ = join_frayed(graph, labels, components, strict, set())
    assert len(set(joined.tolist())) == 4
    # two rings of 12 every pair across which is linked, at 0.45 a link (a template all
    # of them send: 0.38 of the component's mean): two groups
    graph, labels, components = _frayed(0.45, 1, pieces=2, size=12)
    joined, _ = join_frayed(graph, labels, components, DetectConfig(), set())
    assert len(set(joined.tolist())) == 2
    # two accounts on one IP as much as the resolution (a household) make the pieces the
    # groups: not joined
    graph, labels, components = _frayed(0.8, 3, housed=True)
    joined, _ = join_frayed(graph, labels, components, DetectConfig(), set())
    assert len(set(joined.tolist())) == 4


def test_a_stray_link_in_a_sparse_component_joins_nothing() -> None:
    # two rings of 12 and one stray link between them, strung into a component of 424
    # by a chain of 400 users linked at 0.35 (one template after another): the chain's
    # accounts are left alone, and the component's density (0.006) is no group's. Taken
    # as the baseline, one link across would have been "as often": the rings stay two
    rings = [[f"{k}{i:02d}" for i in range(12)] for k in "ab"]
    edges = [(x, y, 2.0, 0.0) for ring in rings for x, y in itertools.combinations(ring, 2)]
    edges += [("a00", "b00", 0.6, 0.0)]
    chain = [f"t{i:04d}" for i in range(400)]
    edges += [(x, y, 0.35, 0.0) for x, y in itertools.pairwise(chain)]
    edges += [("a05", chain[0], 0.35, 0.0), ("b05", chain[-1], 0.35, 0.0)]
    membership = detect(build_graph(_keyed(edges)), DetectConfig(), seed=1)
    assert {frozenset(g["account_id"]) for _, g in membership.groupby("cluster_id")} == {
        frozenset(ring) for ring in rings
    }
