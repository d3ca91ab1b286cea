"""GraphML and GEXF files of a cluster, written straight from its view's tables.

The files hold the graph :func:`sybilgraph.views.pages.cluster_graph` builds, laid out as
networkx's ``write_graphml`` and ``write_gexf`` lay it out (same keys, element order and
indentation), so ``read_graphml`` and ``read_gexf`` read them back as they read the files
networkx writes.  No networkx graph is built on the way: each attribute column is turned
into XML text in one pass, many times quicker for clusters of thousands of links.

Account ids, values and prompts come from the events, so every string is escaped and the
characters XML 1.0 cannot hold (control characters other than tab, newline and carriage
return, lone surrogates, U+FFFE and U+FFFF) are removed; networkx's writers keep them and
leave a file no XML parser reads.  A carriage return is written as ``&#13;`` so that it
reads back as itself rather than as a newline.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from sybilgraph.outputs import write_text_atomic
from sybilgraph.version import __version__
from sybilgraph.views.cells import account_node, column_values, graph_attr, value_node
from sybilgraph.views.tables import ClusterView

__all__ = ["write_graph_files"]

_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TEXT_ENTITIES = {"\r": "&#13;"}
_ATTR_ENTITIES = {'"': "&quot;", "\t": "&#09;", "\n": "&#10;", "\r": "&#13;"}
_XML_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}
_GRAPHML_HEAD = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
)
_GEXF_HEAD = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<gexf xmlns="http://www.gexf.net/1.2draft" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.gexf.net/1.2draft http://www.gexf.net/1.2draft/gexf.xsd" '
    'version="1.2">\n'
)
# columns networkx's GEXF writer turns into XML attributes of the element instead of
# attribute values (the views' tables have none of its other special names: id, pid,
# start, end, type, viz, spells, parents)
_GEXF_NODE_LABEL = "label"
_GEXF_EDGE_WEIGHT = "weight"


def _legal(texts: list[str]) -> list[str]:
    """The texts without the characters XML 1.0 cannot hold (one scan when none has any)."""
    if _ILLEGAL.search("".join(texts)) is None:
        return texts
    return [_ILLEGAL.sub("", t) for t in texts]


def _escaped(texts: list[str], entities: dict[str, str]) -> list[str]:
    """The texts with ``& < >`` and ``entities`` escaped (one scan when none needs it)."""
    joined = "".join(texts)
    if not any(c in joined for c in ("&", "<", ">", *entities)):
        return texts
    return [escape(t, entities) for t in texts]


def _quoted(text: str) -> str:
    return escape(_ILLEGAL.sub("", text), _ATTR_ENTITIES)


@dataclass
class _Block:
    """Nodes (or edges) made the same way by cluster_graph, in the order it adds them.

    ``ends`` holds each edge's two nodes; ``columns`` each attribute's values in
    cluster_graph's order, None where a row leaves the attribute out.
    """

    ids: list[str]
    columns: dict[str, list[Any]]
    ends: list[str] = field(default_factory=list)

    def merged(self) -> _Block:
        """Repeated nodes (edges) as networkx keeps them: first place, last value of each
        attribute.  Repeats are rare: an account listed twice, a link given both ways,
        ids that are equal once illegal characters are gone."""
        if self.ends:
            keys: list[Any] = [
                (u, v) if u <= v else (v, u) for u, v in zip(self.ids, self.ends, strict=True)
            ]
        else:
            keys = self.ids
        group: dict[Any, int] = {}
        for key in keys:
            group.setdefault(key, len(group))
        if len(group) == len(keys):
            return self
        first = [-1] * len(group)
        for row, key in enumerate(keys):
            if first[group[key]] < 0:
                first[group[key]] = row
        columns = {}
        for name, values in self.columns.items():
            kept: list[Any] = [None] * len(group)
            for key, value in zip(keys, values, strict=True):
                if value is not None:
                    kept[group[key]] = value
            columns[name] = kept
        ends = [self.ends[row] for row in first] if self.ends else []
        return _Block([self.ids[row] for row in first], columns, ends)


@dataclass
class _Column:
    """One attribute of a block, one type: its text for GraphML and for GEXF per row."""

    name: str
    type: type
    graphml: list[str | None]
    gexf: list[str | None]
    present: np.ndarray


@dataclass
class _Graph:
    """What the two files hold: graph attributes, nodes and edges in networkx's order."""

    graph: list[tuple[str, str | float]]
    node_ids: list[str]
    node_columns: list[tuple[np.ndarray, list[_Column]]]  # (rows, columns) per block
    sources: list[str]
    targets: list[str]
    edge_columns: list[tuple[np.ndarray, list[_Column]]]


def _timestamp_texts(column: pd.Series) -> list[str | None]:
    """``str()`` of each timestamp, None for NaT; from numpy's ISO text when it agrees."""
    stamps = column.to_numpy()
    present = ~np.isnat(stamps)
    seconds = stamps.astype("datetime64[s]")
    in_range = (seconds[present] >= np.datetime64("1000-01-01")).all() and (
        seconds[present] <= np.datetime64("9999-12-31T23:59:59")
    ).all()
    if not in_range or (seconds[present] != stamps[present]).any():
        return [None if t is None else str(t) for t in column_values(column)]
    texts = np.char.replace(np.datetime_as_string(seconds, unit="s"), "T", " ").tolist()
    return [t if p else None for t, p in zip(texts, present.tolist(), strict=True)]


def _attr_values(column: pd.Series) -> list[Any]:
    """What cluster_graph stores for each cell of ``column``, None where it stores nothing."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return column.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return [None if v != v else v for v in column.tolist()]
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        return _timestamp_texts(column)
    if isinstance(dtype, pd.StringDtype):
        return [v if isinstance(v, str) else None for v in column.tolist()]
    return [graph_attr(v) for v in column_values(column)]


def _texts(values: list[Any], kind: type) -> tuple[list[str | None], list[str | None]]:
    """The values of one type as GraphML and GEXF write them (they differ for bool and
    infinite floats), None where a value is left out."""
    if kind is str:
        texts = _fill(values, _legal([v for v in values if v is not None]))
        return texts, texts
    graphml = [None if v is None else str(v) for v in values]
    if kind is bool:
        return graphml, [None if t is None else t.lower() for t in graphml]
    if kind is float:
        special = {"inf": "INF", "-inf": "-INF", "nan": "NaN"}
        return graphml, [special.get(t, t) if t is not None else None for t in graphml]
    return graphml, graphml


def _columns(block: _Block) -> list[_Column]:
    """The block's attributes, split by type where a column mixes types (as networkx
    declares one key per name and type)."""
    out = []
    for name, values in block.columns.items():
        kinds = list(dict.fromkeys(type(v) for v in values if v is not None))
        for kind in kinds:
            own = values if len(kinds) == 1 else [v if type(v) is kind else None for v in values]
            graphml, gexf = _texts(own, kind)
            present = np.fromiter((v is not None for v in own), bool, len(own))
            out.append(_Column(name, kind, graphml, gexf, present))
    return out


def _ids(node_id: Callable[..., str], *columns: pd.Series) -> list[str]:
    """The node id of each row, made of the row's cells in ``columns``."""
    return _legal([node_id(*cells) for cells in zip(*map(column_values, columns), strict=True)])


def _blocks(view: ClusterView) -> tuple[list[_Block], list[_Block]]:
    """cluster_graph's nodes and edges, block by block."""
    accounts, values, links = view.accounts, view.values, view.links
    n = len(accounts)
    node_blocks = [
        _Block(
            _ids(account_node, accounts["account_id"]) if n else [],
            {"kind": ["account"] * n, **{str(c): _attr_values(accounts[c]) for c in accounts}},
        )
    ]
    edge_blocks = []
    if len(values):
        pairs = values[["key", "value"]].drop_duplicates()
        keys, shown = column_values(pairs["key"]), column_values(pairs["value"])
        node_blocks.append(
            _Block(
                _ids(value_node, pairs["key"], pairs["value"]),
                {
                    "kind": ["value"] * len(pairs),
                    "key": [str(k) for k in keys],
                    "value": [str(v) for v in shown],
                    "label": [f"{k}: {v}" for k, v in zip(keys, shown, strict=True)],
                },
            )
        )
        held = [c for c in values.columns if c in ("requests", "first_seen", "last_seen")]
        edge_blocks.append(
            _Block(
                _ids(account_node, values["account_id"]),
                {"kind": ["holds"] * len(values), **{c: _attr_values(values[c]) for c in held}},
                _ids(value_node, values["key"], values["value"]),
            )
        )
    if len(links):
        edge_blocks.append(
            _Block(
                _ids(account_node, links["a"]),
                {
                    "kind": ["link"] * len(links),
                    **{str(c): _attr_values(links[c]) for c in links if c not in ("a", "b")},
                },
                _ids(account_node, links["b"]),
            )
        )
    return [b.merged() for b in node_blocks], [b.merged() for b in edge_blocks]


def _graph(view: ClusterView) -> _Graph:
    """Nodes in cluster_graph's order and edges in the order networkx iterates them."""
    node_blocks, edge_blocks = _blocks(view)
    node_ids = [i for block in node_blocks for i in block.ids]
    place = {node: i for i, node in enumerate(node_ids)}
    node_columns = []
    start = 0
    for block in node_blocks:
        rows = np.arange(start, start + len(block.ids))
        node_columns.append((rows, _columns(block)))
        start += len(block.ids)
    # an edge to a node no table lists adds it bare, as networkx's add_edge does
    ends = [(u, v) for block in edge_blocks for u, v in zip(block.ids, block.ends, strict=True)]
    for u, v in ends:
        for node in (u, v):
            if node not in place:
                place[node] = len(node_ids)
                node_ids.append(node)
    # networkx walks the nodes in order and, for each, the edges it was first given that
    # lead to a node not yet walked: so an edge comes under its end placed first
    u_place = np.fromiter((place[u] for u, _ in ends), np.int64, len(ends))
    v_place = np.fromiter((place[v] for _, v in ends), np.int64, len(ends))
    order = np.argsort(np.minimum(u_place, v_place), kind="stable")
    rank = np.empty(len(ends), np.int64)
    rank[order] = np.arange(len(ends))
    swap = (v_place < u_place)[order].tolist()
    sources = [ends[i][1] if s else ends[i][0] for i, s in zip(order.tolist(), swap, strict=True)]
    targets = [ends[i][0] if s else ends[i][1] for i, s in zip(order.tolist(), swap, strict=True)]
    edge_columns = []
    start = 0
    for block in edge_blocks:
        edge_columns.append((rank[start : start + len(block.ids)], _columns(block)))
        start += len(block.ids)
    return _Graph(
        [("cluster_id", str(view.cluster_id)), ("score", float(view.score))],
        node_ids,
        node_columns,
        sources,
        targets,
        edge_columns,
    )


def _first_uses(blocks: list[tuple[np.ndarray, list[_Column]]]) -> list[_Column]:
    """The columns in the order networkx first meets a value of each: by element, then by
    the attribute's place within the element."""
    found = []
    for rows, columns in blocks:
        for index, column in enumerate(columns):
            if column.present.any():
                found.append((int(rows[column.present].min()), index, column))
    return [column for _, _, column in sorted(found, key=lambda f: f[:2])]


def _lines(
    count: int,
    blocks: list[tuple[np.ndarray, list[_Column]]],
    line: Callable[[_Column], tuple[str, str] | None],
    entities: dict[str, str],
    gexf: bool,
) -> list[str]:
    """Each element's attribute lines, in element order.  ``line`` gives a column's line,
    with ``{}`` for the value, and its line for an empty value; None leaves it out."""
    out = [""] * count
    for rows, columns in blocks:
        cells = []
        for column in columns:
            templates = line(column)
            if templates is None:
                continue
            template, empty = templates
            texts = column.gexf if gexf else column.graphml
            if column.type is str:
                texts = _fill(texts, _escaped([t for t in texts if t is not None], entities))
            cells.append(["" if t is None else template.format(t) if t else empty for t in texts])
        if cells:
            for row, text in zip(
                rows.tolist(), map("".join, zip(*cells, strict=True)), strict=True
            ):
                out[row] = text
    return out


def _values_of(
    count: int, blocks: list[tuple[np.ndarray, list[_Column]]], name: str
) -> list[str | None]:
    """Per element, the escaped text of attribute ``name``, None where it has none."""
    out: list[str | None] = [None] * count
    for rows, columns in blocks:
        for column in columns:
            if column.name == name:
                texts = column.graphml
                escaped = _escaped([t for t in texts if t is not None], _ATTR_ENTITIES)
                for row, text in zip(rows.tolist(), _fill(texts, escaped), strict=True):
                    if text is not None:
                        out[row] = text
    return out


def _fill(texts: list[str | None], present: list[str]) -> list[str | None]:
    """``texts`` with its non-None entries replaced, in order, by ``present``."""
    it = iter(present)
    return [None if t is None else next(it) for t in texts]


def _graphml(graph: _Graph) -> Iterator[str]:
    """The GraphML document, piece by piece, as networkx's write_graphml lays it out."""
    keys: dict[tuple[str, str, type], str] = {}

    def key(scope: str, name: str, kind: type) -> str:
        return keys.setdefault((scope, name, kind), f"d{len(keys)}")

    graph_keys = [key("graph", name, type(value)) for name, value in graph.graph]
    for scope, blocks in (("node", graph.node_columns), ("edge", graph.edge_columns)):
        for column in _first_uses(blocks):
            key(scope, column.name, column.type)

    def scoped(scope: str) -> Callable[[_Column], tuple[str, str]]:
        def line(column: _Column) -> tuple[str, str]:
            k = keys[(scope, column.name, column.type)]
            return f'      <data key="{k}">{{}}</data>\n', f'      <data key="{k}" />\n'

        return line

    yield _GRAPHML_HEAD
    for (scope, name, kind), k in reversed(keys.items()):
        yield (
            f'  <key id="{k}" for="{scope}" attr.name="{_quoted(name)}" '
            f'attr.type="{_XML_TYPES[kind]}" />\n'
        )
    yield '  <graph edgedefault="undirected">\n'
    data = _lines(len(graph.node_ids), graph.node_columns, scoped("node"), _TEXT_ENTITIES, False)
    for node, lines in zip(_escaped(graph.node_ids, _ATTR_ENTITIES), data, strict=True):
        head = f'    <node id="{node}"'
        yield f"{head}>\n{lines}    </node>\n" if lines else f"{head} />\n"
    data = _lines(len(graph.sources), graph.edge_columns, scoped("edge"), _TEXT_ENTITIES, False)
    sources = _escaped(graph.sources, _ATTR_ENTITIES)
    targets = _escaped(graph.targets, _ATTR_ENTITIES)
    for source, target, lines in zip(sources, targets, data, strict=True):
        head = f'    <edge source="{source}" target="{target}"'
        yield f"{head}>\n{lines}    </edge>\n" if lines else f"{head} />\n"
    for (_, value), k in zip(graph.graph, graph_keys, strict=True):
        text = escape(_ILLEGAL.sub("", str(value)), _TEXT_ENTITIES)
        yield f'    <data key="{k}">{text}</data>\n' if text else f'    <data key="{k}" />\n'
    yield "  </graph>\n</graphml>\n"


def _gexf(graph: _Graph) -> Iterator[str]:
    """The GEXF 1.2 document, piece by piece, as networkx's write_gexf lays it out."""
    # networkx's writer makes a node's label and an edge's weight attributes of the
    # element, and renames an attribute "key" (its multigraph edge key) "networkx_key"
    special = {"node": _GEXF_NODE_LABEL, "edge": _GEXF_EDGE_WEIGHT}
    declared: dict[tuple[str, str], tuple[str, type]] = {}
    for scope, blocks in (("node", graph.node_columns), ("edge", graph.edge_columns)):
        for column in _first_uses(blocks):
            if column.name != special[scope]:
                title = "networkx_key" if column.name == "key" else column.name
                declared.setdefault((scope, title), (str(len(declared)), column.type))

    def scoped(scope: str) -> Callable[[_Column], tuple[str, str] | None]:
        def line(column: _Column) -> tuple[str, str] | None:
            if column.name == special[scope]:
                return None
            title = "networkx_key" if column.name == "key" else column.name
            attr_id = declared[(scope, title)][0]
            template = f'          <attvalue for="{attr_id}" value="{{}}" />\n'
            return template, template.format("")

        return line

    yield _GEXF_HEAD
    yield (
        f'  <meta lastmodifieddate="{time.strftime("%Y-%m-%d")}">\n'
        f"    <creator>sybilgraph {__version__}</creator>\n  </meta>\n"
    )
    yield '  <graph defaultedgetype="undirected" mode="static" name="">\n'
    for scope in ("edge", "node"):  # networkx puts each new class first
        attributes = [(title, a) for (s, title), a in declared.items() if s == scope]
        if attributes:
            yield f'    <attributes mode="static" class="{scope}">\n'
            for title, (attr_id, kind) in attributes:
                yield (
                    f'      <attribute id="{attr_id}" title="{_quoted(title)}" '
                    f'type="{_XML_TYPES[kind]}" />\n'
                )
            yield "    </attributes>\n"

    count = len(graph.node_ids)
    ids = _escaped(graph.node_ids, _ATTR_ENTITIES)
    labels = _values_of(count, graph.node_columns, _GEXF_NODE_LABEL)
    data = _lines(count, graph.node_columns, scoped("node"), _ATTR_ENTITIES, True)
    yield "    <nodes>\n" if count else "    <nodes />\n"
    for node, label, lines in zip(ids, labels, data, strict=True):
        head = f'      <node id="{node}" label="{node if label is None else label}"'
        if lines:
            yield f"{head}>\n        <attvalues>\n{lines}        </attvalues>\n      </node>\n"
        else:
            yield f"{head} />\n"
    if count:
        yield "    </nodes>\n"

    count = len(graph.sources)
    sources = _escaped(graph.sources, _ATTR_ENTITIES)
    targets = _escaped(graph.targets, _ATTR_ENTITIES)
    weights = _values_of(count, graph.edge_columns, _GEXF_EDGE_WEIGHT)
    data = _lines(count, graph.edge_columns, scoped("edge"), _ATTR_ENTITIES, True)
    yield "    <edges>\n" if count else "    <edges />\n"
    for i, (source, target, weight, lines) in enumerate(
        zip(sources, targets, weights, data, strict=True)
    ):
        head = f'      <edge source="{source}" target="{target}" id="{i}"'
        if weight is not None:
            head += f' weight="{weight}"'
        if lines:
            yield f"{head}>\n        <attvalues>\n{lines}        </attvalues>\n      </edge>\n"
        else:
            yield f"{head} />\n"
    if count:
        yield "    </edges>\n"
    yield "  </graph>\n</gexf>\n"


def write_graph_files(view: ClusterView, stem: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write the cluster as ``<stem>.graphml`` and ``<stem>.gexf``, each atomically.

    Parameters
    ----------
    view : ClusterView
        The cluster; every account, value and link is written (no node budget).
    stem : path
        The files' path without suffix.

    Returns
    -------
    tuple of Path
        The GraphML and the GEXF file.
    """
    graph = _graph(view)
    stem = Path(stem)
    return (
        write_text_atomic(stem.with_name(f"{stem.name}.graphml"), _graphml(graph)),
        write_text_atomic(stem.with_name(f"{stem.name}.gexf"), _gexf(graph)),
    )
