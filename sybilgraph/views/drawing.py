"""The graph a cluster's page draws: its nodes and edges, as data for vis-network.

Accounts are dots sized by their requests and coloured by verdict or score; shared values
are shapes coloured by their kind; what the node budget leaves out is counted in a group
node per kind.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import zip_longest
from typing import Any

import numpy as np
import pandas as pd

from sybilgraph.views.cells import (
    account_node,
    cell_text,
    clean_cell,
    records,
    value_node,
)
from sybilgraph.views.tables import ClusterView

Pair = tuple[Any, Any]
"""A shared value: its link key and the value."""

__all__ = [
    "BENIGN_COLOR",
    "GROUP_COLOR",
    "KINDS",
    "KIND_STYLE",
    "PROMINENT_NODES",
    "STRONGEST_LINKS",
    "SYBIL_COLOR",
    "TIP_MEMBERS",
    "TIP_TEMPLATE_CHARS",
    "graph_data",
    "thin_links",
]

KINDS = ("ip", "ip_subnet", "payment", "prompt", "other")
KIND_STYLE: dict[str, tuple[str, str]] = {
    "ip": ("#1f77b4", "triangle"),
    "ip_subnet": ("#17becf", "triangleDown"),
    "payment": ("#9467bd", "square"),
    "prompt": ("#e6b800", "diamond"),
    "other": ("#8c564b", "star"),
}
GROUP_COLOR = "#b0b0b0"
#: accounts, and values, whose labels show at any zoom (see _mark_prominent)
PROMINENT_NODES = 10
#: a tooltip shows this much of a masked template; the panel shows all of it
TIP_TEMPLATE_CHARS = 400
#: a set of values lists this many in its tooltip; the panel lists all of them
TIP_MEMBERS = 12
#: links kept per account in the accounts-only view (see thin_links)
STRONGEST_LINKS = 3
SYBIL_COLOR = "#d62728"
BENIGN_COLOR = "#2ca02c"


def _kind(key: Any) -> str:
    key = str(key)
    return key if key in KIND_STYLE else "other"


def _size(requests: Any) -> float:
    try:
        r = float(requests)
    except (TypeError, ValueError):
        r = 0.0
    if math.isnan(r) or r < 0:
        r = 0.0
    return round(min(40.0, 8.0 + 4.0 * math.log1p(r)), 2)


def _account_color(verdict: Any, score: Any) -> str:
    v = str(verdict).lower() if clean_cell(verdict) is not None else ""
    if v == "sybil":
        return SYBIL_COLOR
    if v == "benign":
        return BENIGN_COLOR
    try:
        s = float(score)
    except (TypeError, ValueError):
        s = 0.0
    s = 0.0 if math.isnan(s) else min(1.0, max(0.0, s))
    lightness = round(78 - 38 * s)
    return f"hsl(32, 90%, {lightness}%)"


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _select(
    view: ClusterView, node_budget: int, value_sets: Mapping[Pair, tuple[Pair, ...]]
) -> tuple[list[Any], list[Pair]]:
    """The accounts and value sets drawn, best accounts first, within the budget.

    A set of values (see :func:`_value_sets`) is one node, so it counts once against
    ``node_budget``. Value sets come back in the order of ``value_sets``.
    """
    acc = view.accounts
    order = acc.copy()
    for col in ("degree", "requests"):
        if col not in order.columns:
            order[col] = 0
    order = order.sort_values(["degree", "requests", "account_id"], ascending=[False, False, True])
    accounts = order["account_id"].tolist()
    if len(accounts) + len(value_sets) <= node_budget:
        return accounts, list(value_sets)
    set_of = {pair: first for first, members in value_sets.items() for pair in members}
    held: dict[Any, list[Pair]] = {}
    vals = view.values
    pairs = zip(vals["key"].tolist(), vals["value"].tolist(), strict=True)
    for account, pair in zip(vals["account_id"].tolist(), pairs, strict=True):
        if pair in set_of:  # a missing value (NaN) is not equal to itself
            held.setdefault(account, []).append(set_of[pair])
    kept_accounts: list[Any] = []
    kept_sets: set[Pair] = set()
    used = 0
    for account in accounts:
        if used >= node_budget:
            break
        kept_accounts.append(account)
        used += 1
        for first in held.get(account, ()):
            if used >= node_budget:
                break
            if first not in kept_sets:
                kept_sets.add(first)
                used += 1
    return kept_accounts, [first for first in value_sets if first in kept_sets]


def _value_sets(value_info: Mapping[Pair, Mapping[str, Any]]) -> dict[Pair, tuple[Pair, ...]]:
    """The values of one key held by exactly the same accounts of the cluster, together.

    Twelve addresses of a proxy pool that the same five accounts all used say one thing,
    and drawn one by one they bury the rest of the graph: they are drawn as one node.
    Each set is keyed by its first (key, value) pair in the order of ``value_info``
    (sorted), so the sets, their order and their members do not depend on row order. A
    value no other value shares its holders with is a set of one.
    """
    sets: dict[tuple[Any, frozenset[Any]], list[Pair]] = {}
    for pair, info in value_info.items():
        sets.setdefault((pair[0], info["accounts"]), []).append(pair)
    return {members[0]: tuple(members) for members in sets.values()}


def graph_data(view: ClusterView, node_budget: int) -> dict[str, Any]:
    """Node and edge lists for vis-network, built in one pass over each table.

    Values of one key held by exactly the same accounts are one node ("12 ip values").
    Accounts and value nodes beyond ``node_budget`` are not drawn; a group node per kind
    says how many of each were left out. Of the links between accounts (drawn in the
    accounts-only view) only each account's :data:`STRONGEST_LINKS` strongest and a
    maximum spanning forest are kept (see :func:`thin_links`); ``linksTotal`` and
    ``linksDrawn`` say how many there were and how many are drawn.
    """
    value_info = _value_summaries(view.values)
    value_sets = _value_sets(value_info)
    kept_accounts, kept_sets = _select(view, max(1, node_budget), value_sets)
    kept_set = set(kept_accounts)
    value_nodes, node_of = _value_nodes(
        value_info,
        {first: value_sets[first] for first in kept_sets},
        has_hub="hub" in view.values.columns,
        template_texts=_template_texts(view.prompts),
    )
    drawn_values = {pair for first in kept_sets for pair in value_sets[first]}
    dropped_by_kind: dict[str, int] = dict.fromkeys(KINDS, 0)
    for pair in value_info:
        if pair not in drawn_values:
            dropped_by_kind[_kind(pair[0])] += 1
    groups = _dropped_groups(len(view.accounts) - len(kept_accounts), dropped_by_kind)
    nodes = [
        *_account_nodes(view.accounts, kept_accounts),
        *value_nodes,
        *_group_nodes(groups, node_budget),
    ]
    _mark_prominent(nodes)
    links, links_total = _link_edges(view.links, kept_set)
    edges = [*_holding_edges(view.values, kept_set, node_of), *links]
    return {
        "nodes": nodes,
        "edges": edges,
        "groups": groups,
        "drawnAccounts": len(kept_accounts),
        "drawnValues": len(drawn_values),
        "totalAccounts": len(view.accounts),
        "totalValues": len(value_info),
        "linksTotal": links_total,
        "linksDrawn": len(links),
        "strongestLinks": STRONGEST_LINKS,
    }


def _account_nodes(acc: pd.DataFrame, kept_accounts: list[Any]) -> list[dict[str, Any]]:
    """A dot per drawn account, sized by its requests and coloured by verdict or score."""
    info = acc.set_index("account_id", drop=False) if len(acc) else acc
    rows = {
        r["account_id"]: r
        for r in records(info.loc[kept_accounts] if len(acc) else acc, info.columns)
    }
    nodes: list[dict[str, Any]] = []
    for account in kept_accounts:
        r = rows.get(account, {})
        verdict = r.get("verdict")
        tip = [
            f"account {account}",
            f"requests: {r.get('requests')}",
            f"links: {r.get('degree')}",
            f"verdict: {verdict if verdict is not None else '—'}",
            f"first seen: {r.get('first_seen')}",
            f"last seen: {r.get('last_seen')}",
        ]
        nodes.append(
            {
                "id": account_node(account),
                "name": str(account),
                "label": _short(str(account)),
                "kind": "account",
                "shape": "dot",
                "color": _account_color(verdict, r.get("score")),
                "size": _size(r.get("requests")),
                "tip": "\n".join(tip),
            }
        )
    return nodes


def _value_summaries(vals: pd.DataFrame) -> dict[Pair, dict[str, Any]]:
    """Per (key, value): requests, holders in all data, hub flag, and the accounts of the
    cluster holding it (``accounts``, a frozenset) and their number (``n``)."""
    value_info: dict[Pair, dict[str, Any]] = {}
    if not len(vals):
        return value_info
    cols = [c for c in ("account_id", "key", "value", "holders", "hub", "requests") if c in vals]
    agg = vals[cols].copy()
    if "requests" not in agg.columns:
        agg["requests"] = 0
    # one aggregation at a time on one grouping: a named agg() is several times slower
    by_pair = agg.groupby(["key", "value"], sort=True, dropna=False)
    n = by_pair.size()
    # each pair's accounts from its rows in group order: an aggregate calling frozenset
    # once per group took a sixth of a page's time (100 pages of the realistic 1.5M log)
    rows = np.argsort(by_pair.ngroup().to_numpy(), kind="stable")
    ids = agg["account_id"].to_numpy(dtype=object)[rows]
    bounds = np.cumsum(n.to_numpy())[:-1]
    parts = {
        "requests": by_pair["requests"].sum(),
        "holders": by_pair["holders"].max() if "holders" in agg.columns else n,
        "hub": by_pair["hub"].max() if "hub" in agg.columns else n,
        "accounts": [frozenset(part.tolist()) for part in np.split(ids, bounds)],
        "n": n,
    }
    columns = {
        name: part if isinstance(part, list) else part.tolist() for name, part in parts.items()
    }
    for pair, *cells in zip(n.index, *columns.values(), strict=True):
        value_info[pair] = dict(zip(columns, cells, strict=True))
    return value_info


def _template_texts(prompts: pd.DataFrame) -> dict[str, str]:
    """Each prompt template's masked text, by the template's value (its ``t:`` label)."""
    if not len(prompts) or "text" not in prompts.columns:
        return {}
    return {
        cell_text(template): cell_text(text)
        for template, text in zip(
            prompts["template"].tolist(), prompts["text"].tolist(), strict=True
        )
        if cell_text(text)
    }


def _value_nodes(
    value_info: Mapping[Pair, Mapping[str, Any]],
    drawn_sets: Mapping[Pair, tuple[Pair, ...]],
    has_hub: bool,
    template_texts: Mapping[str, str],
) -> tuple[list[dict[str, Any]], dict[Pair, str]]:
    """A node per drawn set of values, styled by its kind; and the node of each value.

    A set of one value is that value's node. A prompt value is a template's label
    (``t:...``), which says nothing to a reader: its node shows the template's masked
    text instead, where the view has it. The masked text keeps the attacker's wording but
    not the numbers, addresses, ids and quoted strings filled into it, so it is shown
    whether or not the page is pseudonymised.
    """
    nodes: list[dict[str, Any]] = []
    node_of: dict[Pair, str] = {}
    for first, members in drawn_sets.items():
        texts = {
            pair: template_texts.get(str(pair[1])) if _kind(pair[0]) == "prompt" else None
            for pair in members
        }
        hubs = sum(bool(clean_cell(value_info[p].get("hub"))) for p in members) if has_hub else 0
        if len(members) == 1:
            node = _value_node(first, value_info[first], texts[first], hubs > 0)
        else:
            node = _value_set_node(members, value_info, texts, hubs)
        nodes.append(node)
        node_of.update(dict.fromkeys(members, node["id"]))
    return nodes, node_of


def _value_node(pair: Pair, info: Mapping[str, Any], text: str | None, hub: bool) -> dict[str, Any]:
    """The node of one value."""
    key, value = pair
    kind = _kind(key)
    color, shape = KIND_STYLE[kind]
    label = _short(f"{key}: {value}") if text is None else _short(f"prompt: {text}", 36)
    tip = [
        f"{key}: {value}",
        *([f"masked template: {_short(text, TIP_TEMPLATE_CHARS)}"] if text else []),
        f"holders (all data): {clean_cell(info.get('holders'))}",
        f"accounts in cluster: {info.get('n')}",
        f"requests: {info.get('requests')}",
    ]
    if hub:
        tip.append("hub value (shared too widely to link)")
    return {
        "id": value_node(key, value),
        "name": str(value),
        "label": label,
        "kind": "value",
        "valueKind": kind,
        "shape": shape,
        "color": color,
        "size": 10,
        "held": info.get("n"),
        "tip": "\n".join(tip),
    }


def _value_set_node(
    members: tuple[Pair, ...],
    value_info: Mapping[Pair, Mapping[str, Any]],
    texts: Mapping[Pair, str | None],
    hubs: int,
) -> dict[str, Any]:
    """One node for several values of one key held by the same accounts.

    Its tooltip lists the first :data:`TIP_MEMBERS` values; ``members`` holds all of them
    (id, value and text, as each value's own node would have), which the page lists when
    the node is selected and searches by value.
    """
    key, first_value = members[0]
    kind = _kind(key)
    color, shape = KIND_STYLE[kind]
    info = value_info[members[0]]
    shown = [
        str(value) if texts[(k, value)] is None else f"{value}: {texts[(k, value)]}"
        for k, value in members
    ]
    holders = [clean_cell(value_info[p].get("holders")) for p in members]
    known = [h for h in holders if isinstance(h, int | float)]
    noun = "templates" if kind == "prompt" else "values"
    label = f"{len(members)} {key} {noun}"
    tip = [
        f"{label}, each held by the same {_accounts(info.get('n'))} of the cluster",
        *(f"{key}: {_short(s, 120)}" for s in shown[:TIP_MEMBERS]),
        *(
            [f"… and {len(shown) - TIP_MEMBERS} more (select the node to list all)"]
            if len(shown) > TIP_MEMBERS
            else []
        ),
        f"holders (all data): {min(known)}–{max(known)}" if known else "holders (all data): —",
        f"requests: {sum(value_info[p].get('requests') or 0 for p in members)}",
    ]
    if hubs:
        tip.append(f"{hubs} hub values (shared too widely to link)")
    return {
        "id": f"s:{key}:{first_value}",
        "name": label,
        "label": label,
        "kind": "value",
        "valueKind": kind,
        "shape": shape,
        "color": color,
        "size": 14,
        "held": info.get("n"),
        "members": [
            {"id": value_node(k, value), "name": str(value), "text": f"{key}: {s}"}
            for (k, value), s in zip(members, shown, strict=True)
        ],
        "tip": "\n".join(tip),
    }


def _accounts(n: Any) -> str:
    return "account" if n == 1 else f"{n} accounts"


def _mark_prominent(nodes: list[dict[str, Any]]) -> None:
    """Mark the nodes whose labels may show at any zoom, in the order they claim room:
    every group, then the busiest accounts and the values held by the most accounts in
    turn (:data:`PROMINENT_NODES` of each).

    Past a few dozen nodes, every label at once overlaps into a block; the page shows
    the others when zoomed in or pointed at, and of the prominent ones only those whose
    label has room (``labelRank`` says which wins).
    """
    accounts = [n for n in nodes if n["kind"] == "account"]
    values = [n for n in nodes if n["kind"] == "value"]
    top_accounts = sorted(accounts, key=lambda n: -float(n["size"]))[:PROMINENT_NODES]
    top_values = sorted(values, key=lambda n: -float(clean_cell(n.get("held")) or 0))[
        :PROMINENT_NODES
    ]
    turns = [n for pair in zip_longest(top_accounts, top_values) for n in pair if n is not None]
    ranked = [n for n in nodes if n["kind"] == "group"] + turns
    rank = {id(n): r for r, n in enumerate(ranked)}
    for n in nodes:
        n["prominent"] = id(n) in rank
        n["labelRank"] = rank.get(id(n))


def _dropped_groups(dropped_accounts: int, dropped_by_kind: dict[str, int]) -> list[dict[str, Any]]:
    """What the budget left out: accounts first, then values in the order of :data:`KINDS`."""
    groups: list[dict[str, Any]] = []
    if dropped_accounts > 0:
        groups.append({"kind": "account", "count": dropped_accounts})
    for kind in KINDS:
        if dropped_by_kind[kind] > 0:
            groups.append({"kind": kind, "count": dropped_by_kind[kind]})
    return groups


def _group_nodes(groups: list[dict[str, Any]], node_budget: int) -> list[dict[str, Any]]:
    """A box per group left out, saying how many it stands for."""
    nodes: list[dict[str, Any]] = []
    for g in groups:
        noun = "accounts" if g["kind"] == "account" else f"{g['kind']} values"
        label = f"+{g['count']} more {noun}"
        nodes.append(
            {
                "id": f"g:{g['kind']}",
                "name": label,
                "label": label,
                "kind": "group",
                "groupKind": g["kind"],
                "count": g["count"],
                "shape": "box",
                "color": GROUP_COLOR,
                "size": 14,
                "tip": f"{label} not drawn (node budget {node_budget})",
            }
        )
    return nodes


def _holding_edges(
    vals: pd.DataFrame, kept_set: set[Any], node_of: Mapping[Pair, str]
) -> list[dict[str, Any]]:
    """An edge from each drawn account to each drawn value node it holds, once.

    Edge ids are numbers: ids spelled from account and value could collide (an account
    ``x|ip`` holding ``y`` and ``x`` holding ``ip|y``), and two equal ids stop the page.
    """
    edges: list[dict[str, Any]] = []
    if not len(vals):
        return edges
    seen: set[tuple[Any, str]] = set()
    for account, key, value in zip(
        vals["account_id"].tolist(), vals["key"].tolist(), vals["value"].tolist(), strict=True
    ):
        node = node_of.get((key, value))
        if account in kept_set and node is not None and (account, node) not in seen:
            seen.add((account, node))
            edges.append(
                {"id": f"av:{len(edges)}", "from": account_node(account), "to": node, "kind": "av"}
            )
    return edges


def _link_edges(links: pd.DataFrame, kept_set: set[Any]) -> tuple[list[dict[str, Any]], int]:
    """An edge per link kept by :func:`thin_links` between two drawn accounts, wider as
    the link weighs more; and the number of links between drawn accounts."""
    if not len(links):
        return [], 0
    weights = links["weight"].tolist() if "weight" in links.columns else [None] * len(links)
    ends = list(zip(links["a"].tolist(), links["b"].tolist(), strict=True))
    drawn = [i for i, (a, b) in enumerate(ends) if a in kept_set and b in kept_set]
    strength = [_link_weight(weights[i]) for i in drawn]
    kept = [drawn[j] for j in thin_links([ends[i] for i in drawn], strength, STRONGEST_LINKS)]
    keys_text, evidence_text = (
        _texts(links[c]) if c in links.columns else [""] * len(links) for c in ("keys", "evidence")
    )
    edges: list[dict[str, Any]] = []
    for i in kept:
        a, b = ends[i]
        weight = clean_cell(weights[i])
        shown = f"{weight:.3f}" if isinstance(weight, float) else weight
        edge_tip = f"{a} — {b}\nweight: {shown}\nkeys: {keys_text[i]}\nevidence: {evidence_text[i]}"
        edges.append(
            {
                "id": f"aa:{i}",
                "from": account_node(a),
                "to": account_node(b),
                "kind": "aa",
                "width": round(min(8.0, 1.0 + 2.0 * math.log1p(_link_weight(weights[i]))), 2),
                "tip": edge_tip,
            }
        )
    return edges, len(drawn)


def _link_weight(weight: Any) -> float:
    """A link's weight as a number: 1 where it is missing, 0 where it is negative."""
    weight = clean_cell(weight)
    return max(float(weight), 0.0) if isinstance(weight, int | float) else 1.0


def thin_links(ends: list[tuple[Any, Any]], weights: list[float], strongest: int) -> list[int]:
    """The links worth drawing: each account's ``strongest`` heaviest links, and a maximum
    spanning forest so that accounts linked at all stay connected.

    Accounts sharing a card or a prompt template are linked pairwise, so a cluster of a
    few hundred accounts can hold tens of thousands of links, drawn as a solid mesh. The
    heaviest few per account keep who is closest to whom; the forest (Kruskal's, on the
    heaviest links first) keeps every component in one piece.

    Parameters
    ----------
    ends : list of (a, b)
        Each link's two accounts.
    weights : list of float
        Each link's weight.
    strongest : int
        Links kept per account; a link is kept if it is among the heaviest of either end.

    Returns
    -------
    list of int
        Indices into ``ends`` of the links kept, ascending. Ties in weight are broken by
        the accounts' ids as text, so the answer does not depend on the links' order.
    """
    order = sorted(range(len(ends)), key=lambda i: (-weights[i], str(ends[i][0]), str(ends[i][1])))
    seen: dict[Any, int] = {}
    parent: dict[Any, Any] = {}

    def root(node: Any) -> Any:
        while parent.get(node, node) != node:
            parent[node] = parent.get(parent[node], parent[node])
            node = parent[node]
        return node

    kept: set[int] = set()
    for i in order:
        a, b = ends[i]
        if seen.get(a, 0) < strongest or seen.get(b, 0) < strongest:
            kept.add(i)
        seen[a] = seen.get(a, 0) + 1
        seen[b] = seen.get(b, 0) + 1
        root_a, root_b = root(a), root(b)
        if root_a != root_b:
            parent[root_b] = root_a
            kept.add(i)
    return sorted(kept)


def _texts(column: pd.Series) -> list[str]:
    """:func:`cell_text` of each cell of ``column``."""
    if isinstance(column.dtype, pd.StringDtype):
        return [v if isinstance(v, str) else "" for v in column.tolist()]
    return [cell_text(v) for v in column.tolist()]
