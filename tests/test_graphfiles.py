"""GraphML and GEXF files read back into the graph cluster_graph builds, whatever the data."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.views import graphfiles
from sybilgraph.views import pages as export
from sybilgraph.views.tables import ClusterView
from tests.browser import HOSTILE_ID, make_view

# the characters XML 1.0 allows (its "Char" production); the files drop all others
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
T0 = pd.Timestamp("2026-04-13T08:00:00")


def _legal(text: str) -> str:
    return _NOT_XML.sub("", text)


def _expected(view: ClusterView) -> nx.Graph:
    """cluster_graph(view) with the characters XML cannot hold taken out of every string."""
    graph = export.cluster_graph(view)

    def clean(attrs: dict[str, Any]) -> dict[str, Any]:
        return {k: _legal(v) if isinstance(v, str) else v for k, v in attrs.items()}

    out = nx.Graph(**clean(graph.graph))
    out.add_nodes_from((_legal(n), clean(d)) for n, d in graph.nodes(data=True))
    out.add_edges_from((_legal(u), _legal(v), clean(d)) for u, v, d in graph.edges(data=True))
    return out


def _typed(attrs: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    return {k: (type(v), v) for k, v in attrs.items()}


def _assert_same(got: nx.Graph, expected: nx.Graph) -> None:
    """Same kind of graph, attributes, nodes (in order) and edges, values and their types."""
    assert type(got) is type(expected)
    assert _typed(got.graph) == _typed(expected.graph)
    assert [(n, _typed(d)) for n, d in got.nodes(data=True)] == [
        (n, _typed(d)) for n, d in expected.nodes(data=True)
    ]

    def edges(g: nx.Graph) -> dict[frozenset[str], dict[str, tuple[type, Any]]]:
        return {frozenset((u, v)): _typed(d) for u, v, d in g.edges(data=True)}

    assert got.number_of_edges() == expected.number_of_edges()
    assert edges(got) == edges(expected)


def _files(view: ClusterView, tmp_path: Path) -> tuple[nx.Graph, nx.Graph]:
    graphml, gexf = graphfiles.write_graph_files(view, tmp_path / "cluster")
    return nx.read_graphml(graphml), nx.read_gexf(gexf)


def _networkx_graphml(graph: nx.Graph) -> nx.Graph:
    """``graph`` as read_graphml gives it back: it adds (empty) attribute defaults."""
    out = graph.copy()
    out.graph.update(node_default={}, edge_default={})
    return out


def _networkx_gexf(graph: nx.Graph) -> nx.Graph:
    """What read_gexf gives for networkx's own GEXF file of ``graph``."""
    buffer = io.BytesIO()
    nx.write_gexf(graph, buffer)
    return nx.read_gexf(io.BytesIO(buffer.getvalue()))


def _objects(items: list[Any]) -> pd.Series:
    """As objects: pandas' string dtype cannot hold lone surrogates."""
    return pd.Series(items, dtype=object)


def _view(accounts: list[str], values: pd.DataFrame, links: pd.DataFrame) -> ClusterView:
    n = len(accounts)
    table = pd.DataFrame(
        {
            "account_id": _objects(accounts),
            "requests": [10 * (i + 1) for i in range(n)],
            "first_seen": [T0 + pd.Timedelta(minutes=i) for i in range(n)],
            "last_seen": [T0 + pd.Timedelta(days=1) for i in range(n)],
            "score": [np.nan if i == 1 else 0.25 * i for i in range(n)],
            "verdict": _objects([["sybil", None, "benign", np.nan][i % 4] for i in range(n)]),
            "degree": [i % 3 for i in range(n)],
        }
    )
    return ClusterView(
        cluster_id="c<&>\x01\"'",
        score=0.625,
        flagged=True,
        rank=1,
        reasons=[],
        features={},
        key_shares={},
        accounts=table,
        values=values,
        links=links,
        prompts=pd.DataFrame(columns=["template", "text", "samples", "requests", "accounts"]),
    )


AWKWARD_IDS = [
    "plain",
    "<b>&amp;\"quoted\" 'single'</b>",
    "ctrl\x00\x01\x08\x0b\x0c\x1f\x7fend",
    "tab\there\nnew line\r\ncrlf\rcr",
    "  spaced  ",
    "ünïcödé 𝔘 😀 \u2028\u2029 \u202eRTL",
    "surrogate\ud800lone\udfff",
    "fffe\ufffe\uffffend",
    HOSTILE_ID,
    "",
]


def awkward_view() -> ClusterView:
    ids = AWKWARD_IDS
    rows = []
    for i, account in enumerate(ids):
        for key, value in (("ip", f"10.0.0.{i % 3}"), ("prompt", f"t:<{i % 2}>&\x02")):
            rows.append(
                {
                    "account_id": account,
                    "key": key,
                    "value": value,
                    "requests": None if i == 2 else i,
                    "first_seen": pd.NaT if i == 3 else T0 + pd.Timedelta(seconds=i),
                    "last_seen": T0 + pd.Timedelta(hours=i, microseconds=500 * (i == 4)),
                    "holders": 3,
                    "hub": i % 2 == 0,
                }
            )
    values = pd.DataFrame({c: _objects([r[c] for r in rows]) for c in rows[0]})
    values["requests"] = values["requests"].astype("Int64")
    links = pd.DataFrame(
        {
            "a": _objects([ids[0], ids[1], ids[2], ids[4], ids[5], ids[0]]),
            "b": _objects([ids[1], ids[2], ids[3], ids[4], "not-an-account\x03", ids[3]]),
            "weight": [1.5, np.nan, float("inf"), 2.0, 0.5, 3.25],
            "keys": [
                np.array(["ip", "payment"]),
                ["prompt"],
                None,
                "ip,<x>",
                np.array([], dtype=object),
                ("a", 1),
            ],
            "evidence": _objects(["ip: 1 shared (&)", None, "\x04bad", "", "ok\r", np.nan]),
            "first_seen": [T0, pd.NaT, T0, T0, T0, T0],
            "last_seen": [T0] * 6,
        }
    )
    return _view(ids, values, links)


def test_awkward_data_reads_back_as_cluster_graph(tmp_path: Path) -> None:
    view = awkward_view()
    expected = _expected(view)
    # the data reaches every case: dropped characters, NaN, self-loop, unlisted account
    nodes = ["a:" + _legal(i) for i in AWKWARD_IDS]
    assert nodes[2] == "a:ctrl\x7fend" and "a:not-an-account" in expected
    assert expected.has_edge(nodes[4], nodes[4])
    assert "weight" not in expected.edges[nodes[1], nodes[2]]
    graphml, gexf = _files(view, tmp_path)
    _assert_same(graphml, _networkx_graphml(expected))
    _assert_same(gexf, _networkx_gexf(expected))


def test_timestamps_with_time_zones_and_fractions(tmp_path: Path) -> None:
    view = make_view(6)  # its timestamps are in UTC
    naive = view.values["last_seen"].dt.tz_localize(None)
    view.values["last_seen"] = naive + pd.Timedelta(microseconds=250)
    view.values["first_seen"] = naive.astype("datetime64[ns]")
    graphml, gexf = _files(view, tmp_path)
    expected = export.cluster_graph(view)
    assert expected.nodes["a:acct00000"]["first_seen"] == "2026-04-13 00:00:00+00:00"
    _assert_same(graphml, _networkx_graphml(expected))
    _assert_same(gexf, _networkx_gexf(expected))


@pytest.mark.parametrize("empty", ["values", "links", "both", "accounts"])
def test_empty_tables(tmp_path: Path, empty: str) -> None:
    view = make_view(5, values_per_account=3)
    if empty in ("values", "both", "accounts"):
        view.values = view.values.iloc[:0]
    if empty in ("links", "both", "accounts"):
        view.links = view.links.iloc[:0]
    if empty == "accounts":
        view.accounts = view.accounts.iloc[:0]
    graphml, gexf = _files(view, tmp_path)
    expected = export.cluster_graph(view)
    _assert_same(graphml, _networkx_graphml(expected))
    _assert_same(gexf, _networkx_gexf(expected))


def test_repeated_rows_merge_as_in_networkx(tmp_path: Path) -> None:
    """A repeated account, a link given both ways and ids equal once cleaned are merged."""
    view = make_view(4)
    view.accounts = pd.concat([view.accounts, view.accounts.iloc[[1]].assign(degree=7)])
    extra = view.links.iloc[[0]].assign(a=view.links["b"].iloc[0], b=view.links["a"].iloc[0])
    extra["weight"] = np.nan
    extra["evidence"] = [["changed"]]
    twin = view.links.iloc[[1]].assign(a="acct00001\x01")  # "acct00001" once cleaned
    view.links = pd.concat([view.links, extra, twin], ignore_index=True)
    graphml, gexf = _files(view, tmp_path)
    expected = _expected(view)
    assert expected.nodes["a:acct00001"]["degree"] == 7
    assert expected.edges["a:acct00000", "a:acct00001"]["weight"] == 1.5
    assert expected.edges["a:acct00000", "a:acct00001"]["evidence"] == "changed"
    _assert_same(graphml, _networkx_graphml(expected))
    _assert_same(gexf, _networkx_gexf(expected))


def test_mixed_types_in_one_column_keep_their_types(tmp_path: Path) -> None:
    """GraphML declares one key per name and type, as networkx does (GEXF cannot)."""
    view = make_view(5)
    view.accounts["note"] = pd.Series([1, "two", 3.5, True, None], dtype=object)
    graphml, _ = graphfiles.write_graph_files(view, tmp_path / "cluster")
    expected = export.cluster_graph(view)
    assert expected.nodes["a:acct00002"]["note"] == 3.5
    _assert_same(nx.read_graphml(graphml), _networkx_graphml(expected))


def test_same_bytes_as_networkx(tmp_path: Path) -> None:
    """On data networkx can write, the GraphML file is networkx's, byte for byte, and the
    GEXF file differs only in its <meta> block (creator and date)."""
    view = make_view(30, values_per_account=3)
    view.accounts.loc[3, "verdict"] = np.nan
    graphml, gexf = graphfiles.write_graph_files(view, tmp_path / "mine")
    graph = export.cluster_graph(view)
    nx.write_graphml(graph, tmp_path / "nx.graphml")
    nx.write_gexf(graph, tmp_path / "nx.gexf")
    assert graphml.read_bytes() == (tmp_path / "nx.graphml").read_bytes()

    def body(path: Path) -> str:
        text = path.read_text("utf-8")
        return re.sub(r"<meta .*?</meta>", "", text, flags=re.S)

    assert body(gexf) == body(tmp_path / "nx.gexf")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(max_size=12), min_size=1, max_size=6, unique=True),
    st.lists(st.text(max_size=12), min_size=1, max_size=4),
)
def test_any_text_reads_back(
    tmp_path_factory: pytest.TempPathFactory, ids: list[str], shown: list[str]
) -> None:
    legal = [_legal(i) for i in ids]
    if len(set(legal)) < len(legal):
        return  # ids equal once cleaned merge; test_repeated_rows covers that
    values = pd.DataFrame(
        {
            "account_id": [ids[i % len(ids)] for i in range(len(shown))],
            "key": "ip",
            "value": shown,
            "requests": 1,
            "first_seen": T0,
            "last_seen": T0,
        }
    ).drop_duplicates(["account_id", "key", "value"])
    if len({_legal(v) for v in values["value"]}) < values["value"].nunique():
        return
    links = pd.DataFrame(
        {"a": ids[:-1], "b": ids[1:], "weight": 1.0, "keys": shown[0], "evidence": shown[-1]}
    )
    view = _view(ids, values, links)
    graphml, gexf = _files(view, tmp_path_factory.mktemp("any"))
    expected = _expected(view)
    _assert_same(graphml, _networkx_graphml(expected))
    _assert_same(gexf, _networkx_gexf(expected))
