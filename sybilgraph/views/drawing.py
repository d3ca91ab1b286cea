"""The graph a cluster's page draws: its nodes and edges, as data for vis-network.

Accounts are dots sized by their requests and coloured by verdict or score; shared values
are shapes coloured by their kind; what the node budget leaves out is counted in a group
node per kind.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from sybilgraph.views.cells import (
    account_node,
    cell_text,
    clean_cell,
    records,
    value_node,
)
from sybilgraph.views.tables import ClusterView

__all__ = [
    "BENIGN_COLOR",
    "GROUP_COLOR",
    "KINDS",
    "KIND_STYLE",
    "PROMINENT_NODES",
    "SYBIL_COLOR",
    "TIP_TEMPLATE_CHARS",
    "graph_data",
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


def _select(view: ClusterView, node_budget: int) -> tuple[list[Any], set[tuple[Any, Any]]]:
    """The accounts and (key, value) pairs drawn, best accounts first, within the budget."""
    acc = view.accounts
    vals = view.values
    order = acc.copy()
    for col in ("degree", "requests"):
        if col not in order.columns:
            order[col] = 0
    order = order.sort_values(["degree", "requests", "account_id"], ascending=[False, False, True])
    accounts = order["account_id"].tolist()
    pairs = list(zip(vals["key"].tolist(), vals["value"].tolist(), strict=True))
    distinct = set(pairs)
    if len(accounts) + len(distinct) <= node_budget:
        return accounts, distinct
    held: dict[Any, list[tuple[Any, Any]]] = {}
    for account, pair in zip(vals["account_id"].tolist(), pairs, strict=True):
        held.setdefault(account, []).append(pair)
    kept_accounts: list[Any] = []
    kept_values: set[tuple[Any, Any]] = set()
    used = 0
    for account in accounts:
        if used >= node_budget:
            break
        kept_accounts.append(account)
        used += 1
        for pair in held.get(account, ()):
            if used >= node_budget:
                break
            if pair not in kept_values:
                kept_values.add(pair)
                used += 1
    return kept_accounts, kept_values


def graph_data(view: ClusterView, node_budget: int) -> dict[str, Any]:
    """Node and edge lists for vis-network, built in one pass over each table.

    Accounts and values beyond ``node_budget`` are not drawn; a group node per kind says
    how many of each were left out.
    """
    kept_accounts, kept_values = _select(view, max(1, node_budget))
    kept_set = set(kept_accounts)
    value_info = _value_summaries(view.values)
    value_nodes, dropped_by_kind = _value_nodes(
        value_info,
        kept_values,
        has_hub="hub" in view.values.columns,
        template_texts=_template_texts(view.prompts),
    )
    groups = _dropped_groups(len(view.accounts) - len(kept_accounts), dropped_by_kind)
    nodes = [
        *_account_nodes(view.accounts, kept_accounts),
        *value_nodes,
        *_group_nodes(groups, node_budget),
    ]
    _mark_prominent(nodes)
    edges = [
        *_holding_edges(view.values, kept_set, kept_values),
        *_link_edges(view.links, kept_set),
    ]
    return {
        "nodes": nodes,
        "edges": edges,
        "groups": groups,
        "drawnAccounts": len(kept_accounts),
        "drawnValues": len(kept_values),
        "totalAccounts": len(view.accounts),
        "totalValues": len(value_info),
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


def _value_summaries(vals: pd.DataFrame) -> dict[tuple[Any, Any], dict[str, Any]]:
    """Per (key, value): requests, holders in all data, hub flag and accounts in the cluster."""
    value_info: dict[tuple[Any, Any], dict[str, Any]] = {}
    if not len(vals):
        return value_info
    cols = [c for c in ("key", "value", "holders", "hub", "requests") if c in vals.columns]
    agg = vals[cols].copy()
    if "requests" not in agg.columns:
        agg["requests"] = 0
    # one aggregation at a time on one grouping: a named agg() is several times slower
    by_pair = agg.groupby(["key", "value"], sort=True, dropna=False)
    n = by_pair.size()
    parts = {
        "requests": by_pair["requests"].sum(),
        "holders": by_pair["holders"].max() if "holders" in agg.columns else n,
        "hub": by_pair["hub"].max() if "hub" in agg.columns else n,
        "n": n,
    }
    columns = {name: part.tolist() for name, part in parts.items()}
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
    value_info: dict[tuple[Any, Any], dict[str, Any]],
    kept_values: set[tuple[Any, Any]],
    has_hub: bool,
    template_texts: Mapping[str, str],
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """A node per drawn value, styled by its kind; and the count left out of each kind.

    A prompt value is a template's label (``t:...``), which says nothing to a reader: its
    node shows the template's masked text instead, where the view has it. The masked text
    keeps the attacker's wording but not the numbers, addresses, ids and quoted strings
    filled into it, so it is shown whether or not the page is pseudonymised.
    """
    nodes: list[dict[str, Any]] = []
    dropped_by_kind: dict[str, int] = dict.fromkeys(KINDS, 0)
    for pair, r in value_info.items():
        key, value = pair
        kind = _kind(key)
        if pair not in kept_values:
            dropped_by_kind[kind] += 1
            continue
        color, shape = KIND_STYLE[kind]
        hub = bool(clean_cell(r.get("hub"))) if has_hub else False
        text = template_texts.get(str(value)) if kind == "prompt" else None
        label = _short(f"{key}: {value}") if text is None else _short(f"prompt: {text}", 36)
        tip = [
            f"{key}: {value}",
            *([f"masked template: {_short(text, TIP_TEMPLATE_CHARS)}"] if text else []),
            f"holders (all data): {clean_cell(r.get('holders'))}",
            f"accounts in cluster: {r.get('n')}",
            f"requests: {r.get('requests')}",
        ]
        if hub:
            tip.append("hub value (shared too widely to link)")
        nodes.append(
            {
                "id": value_node(key, value),
                "name": str(value),
                "label": label,
                "kind": "value",
                "valueKind": kind,
                "shape": shape,
                "color": color,
                "size": 10,
                "held": r.get("n"),
                "tip": "\n".join(tip),
            }
        )
    return nodes, dropped_by_kind


def _mark_prominent(nodes: list[dict[str, Any]]) -> None:
    """Mark the nodes whose labels show at any zoom: every group, the busiest accounts
    and the values held by the most accounts (:data:`PROMINENT_NODES` of each).

    Past a few dozen nodes, every label at once overlaps into a block; the page shows
    the others when zoomed in or pointed at.
    """
    accounts = [n for n in nodes if n["kind"] == "account"]
    values = [n for n in nodes if n["kind"] == "value"]
    top = sorted(accounts, key=lambda n: -float(n["size"]))[:PROMINENT_NODES]
    top += sorted(values, key=lambda n: -float(clean_cell(n.get("held")) or 0))[:PROMINENT_NODES]
    chosen = {id(n) for n in top}
    for n in nodes:
        n["prominent"] = n["kind"] == "group" or id(n) in chosen


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
    vals: pd.DataFrame, kept_set: set[Any], kept_values: set[tuple[Any, Any]]
) -> list[dict[str, Any]]:
    """An edge from each drawn account to each drawn value it holds."""
    edges: list[dict[str, Any]] = []
    if not len(vals):
        return edges
    for account, key, value in zip(
        vals["account_id"].tolist(), vals["key"].tolist(), vals["value"].tolist(), strict=True
    ):
        if account in kept_set and (key, value) in kept_values:
            edges.append(
                {
                    "id": f"av:{account}|{key}|{value}",
                    "from": account_node(account),
                    "to": value_node(key, value),
                    "kind": "av",
                }
            )
    return edges


def _link_edges(links: pd.DataFrame, kept_set: set[Any]) -> list[dict[str, Any]]:
    """An edge per link between two drawn accounts, wider as the link weighs more."""
    edges: list[dict[str, Any]] = []
    if not len(links):
        return edges
    weights = links["weight"].tolist() if "weight" in links.columns else [None] * len(links)
    keys_text, evidence_text = (
        _texts(links[c]) if c in links.columns else [""] * len(links) for c in ("keys", "evidence")
    )
    for i, (a, b) in enumerate(zip(links["a"].tolist(), links["b"].tolist(), strict=True)):
        if a in kept_set and b in kept_set:
            weight = clean_cell(weights[i])
            shown = f"{weight:.3f}" if isinstance(weight, float) else weight
            edge_tip = (
                f"{a} — {b}\nweight: {shown}\nkeys: {keys_text[i]}\nevidence: {evidence_text[i]}"
            )
            w = float(weight) if isinstance(weight, int | float) else 1.0
            edges.append(
                {
                    "id": f"aa:{i}",
                    "from": account_node(a),
                    "to": account_node(b),
                    "kind": "aa",
                    "width": round(min(8.0, 1.0 + 2.0 * math.log1p(max(w, 0.0))), 2),
                    "tip": edge_tip,
                }
            )
    return edges


def _texts(column: pd.Series) -> list[str]:
    """:func:`cell_text` of each cell of ``column``."""
    if isinstance(column.dtype, pd.StringDtype):
        return [v if isinstance(v, str) else "" for v in column.tolist()]
    return [cell_text(v) for v in column.tolist()]
