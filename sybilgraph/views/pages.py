"""Self-contained HTML pages, GraphML and GEXF for clusters, and an index of clusters.

Every page is one file with the vis-network library (copied from pyvis) inlined, so it
opens from disk with no network access.  Data is embedded as JSON in a
``<script type="application/json">`` block with ``<``, ``>``, ``&``, U+2028 and U+2029
escaped, and every string from the data reaches the DOM through ``textContent`` only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import importlib.util
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import networkx as nx
import pandas as pd
from markupsafe import Markup, escape

from sybilgraph.errors import SybilgraphError
from sybilgraph.outputs import write_text_atomic
from sybilgraph.views.cells import (
    account_node,
    cell_text,
    clean_cell,
    graph_attr,
    records,
    value_node,
    visible_controls,
)
from sybilgraph.views.drawing import KIND_STYLE, graph_data
from sybilgraph.views.graphfiles import write_graph_files
from sybilgraph.views.plots import raster
from sybilgraph.views.tables import PROMPTS_PER_CLUSTER, Activity, ClusterView

__all__ = [
    "ViewHTML",
    "cluster_graph",
    "render_cluster_page",
    "render_index",
    "safe_filename",
    "template_env",
    "timeline",
    "view_in_notebook",
    "write_cluster_page",
    "write_index",
    "write_pages",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JSON_ESCAPE_RE = re.compile("[<>&\u2028\u2029]")


def safe_filename(name: str) -> str:
    """Turn any name into a file name of ``[A-Za-z0-9_-]``, 1 to 100 characters.

    Parameters
    ----------
    name : str
        Any text, e.g. a cluster id.

    Returns
    -------
    str
        ``name`` itself when it is already safe; otherwise a sanitised form followed by
        ``-`` and 8 hex digits of the SHA-256 of ``name``, so distinct names stay distinct.
    """
    cleaned = _UNSAFE.sub("_", name).strip("_")
    if cleaned == name and 0 < len(name) <= 100:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{cleaned[:91] or 'x'}-{digest}"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, pd.Timestamp | dt.datetime | dt.date):
        return obj.isoformat()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def script_json(data: Any) -> Markup:
    """JSON safe to place inside ``<script type="application/json">``."""
    text = json.dumps(data, ensure_ascii=False, default=_json_default, allow_nan=False)
    return Markup(_JSON_ESCAPE_RE.sub(lambda m: _JSON_ESCAPES[m.group(0)], text))


def _time_span(view: ClusterView) -> tuple[str | None, str | None]:
    acc = view.accounts
    first = last = None
    if "first_seen" in acc.columns and len(acc):
        f = pd.to_datetime(acc["first_seen"], utc=True, errors="coerce").min()
        first = None if pd.isna(f) else f.isoformat()
    if "last_seen" in acc.columns and len(acc):
        la = pd.to_datetime(acc["last_seen"], utc=True, errors="coerce").max()
        last = None if pd.isna(la) else la.isoformat()
    return first, last


def _page_data(view: ClusterView, node_budget: int, pseudonymised: bool) -> dict[str, Any]:
    first, last = _time_span(view)
    graph = graph_data(view, node_budget)
    prompts = records(view.prompts, ["template", "text", "samples", "requests", "accounts"])
    for p in prompts:
        samples = p.get("samples")
        if samples is None:
            samples = []
        elif hasattr(samples, "tolist"):
            samples = samples.tolist()
        p["samples"] = [] if pseudonymised else [str(s) for s in samples][:20]
        for k in ("template", "text"):
            p[k] = cell_text(p.get(k))
    accounts = records(
        view.accounts,
        ["account_id", "requests", "degree", "verdict", "score", "first_seen", "last_seen"],
    )
    for a in accounts:
        a["account_id"] = str(a["account_id"])
    return {
        "cluster": {
            "id": str(view.cluster_id),
            "score": clean_cell(view.score),
            "flagged": bool(view.flagged),
            "rank": int(view.rank),
            "reasons": [str(r) for r in view.reasons],
            "keyShares": {str(k): clean_cell(v) for k, v in view.key_shares.items()},
            "features": {str(k): clean_cell(v) for k, v in view.features.items()},
            "firstSeen": first,
            "lastSeen": last,
        },
        "pseudonymised": bool(pseudonymised),
        "kinds": {k: {"color": c, "shape": s} for k, (c, s) in KIND_STYLE.items()},
        "accounts": accounts,
        "prompts": prompts,
        "promptsShown": PROMPTS_PER_CLUSTER,
        **graph,
    }


def timeline(view: ClusterView) -> tuple[Markup | None, str]:
    """The cluster's timeline as inline SVG, and a line saying what it shows.

    Rows are the accounts the view's :class:`~sybilgraph.views.tables.Activity` counts
    (the busiest), by their first active bin, so that accounts started in waves show as
    steps;
    columns are its time bins. Without activity (a view built from a run's tables, which
    keep no events) there is no chart, and the line says why.
    """
    activity = view.activity
    if activity is None:
        return None, (
            "no timeline: it is drawn from the run's events, which a run folder reopened "
            "later does not keep; the run's own pages have it"
        )
    counts = activity.counts
    if not len(counts):
        return None, "no timeline: the events hold no requests of these accounts"
    first_bin = counts.groupby("account_id", sort=False)["bin"].min().rename("first_bin")
    order = view.accounts.join(first_bin, on="account_id", how="inner").sort_values(
        ["first_bin", "first_seen", "account_id"]
    )
    row_of = {a: i for i, a in enumerate(order["account_id"].tolist())}
    rows = [
        (
            str(a),
            f"{a}: {requests} requests, first seen {_minute(first)}",
        )
        for a, requests, first in zip(
            order["account_id"], order["requests"], order["first_seen"], strict=True
        )
    ]
    cells = [
        (row_of[a], int(b), float(n))
        for a, b, n in zip(counts["account_id"], counts["bin"], counts["requests"], strict=True)
        if a in row_of
    ]
    width = _duration(activity.width)
    title = f"requests per account and {width}"
    svg = raster(rows, activity.bins, cells, title=title, ticks=_ticks(activity))
    left_out = len(view.accounts) - len(rows)
    note = (
        f"{len(rows)} busiest of {len(view.accounts)} accounts, earliest first; "
        f"one column = {width}, darker = more requests"
    )
    if left_out > 0:
        note += f"; {left_out} accounts not shown"
    return svg, note


def _minute(value: Any) -> str:
    stamp = pd.Timestamp(value) if clean_cell(value) is not None else None
    return "—" if stamp is None else stamp.strftime("%Y-%m-%d %H:%M")


def _duration(width: pd.Timedelta) -> str:
    hours = int(width.total_seconds() // 3600)
    if hours % 24:
        return "1 hour" if hours == 1 else f"{hours} hours"
    days = hours // 24
    return "1 day" if days == 1 else f"{days} days"


def _ticks(activity: Activity) -> list[tuple[int, str]]:
    """About six marks under a timeline, on midnights where the bins are under a day."""
    day = pd.Timedelta(days=1)
    start, width, bins = activity.start, activity.width, activity.bins
    if width < day:
        per_day = int(day // width)
        first_midnight = int((start.ceil("D") - start) // width)
        if bins >= 2 * per_day:
            step = per_day * math.ceil(bins / per_day / 6)
            columns = range(first_midnight, bins, step)
            return [(c, (start + c * width).strftime("%b %d")) for c in columns]
        return [
            (c, (start + c * width).strftime("%H:%M")) for c in range(0, bins, math.ceil(bins / 6))
        ]
    return [
        (c, (start + c * width).strftime("%Y-%m-%d")) for c in range(0, bins, math.ceil(bins / 5))
    ]


#: rows of the index drawn at a time (the first of them are in its HTML)
INDEX_ROWS = 1000


@lru_cache(maxsize=1)
def template_env() -> jinja2.Environment:
    """The Jinja environment of the templates shipped in ``views/templates``, autoescaping on."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )


def _html(value: Any) -> str:
    """``value`` as the templates write it: its control characters shown, escaped."""
    return str(escape(_shown(value)))


def _shown(value: Any) -> Any:
    """A template's value as written: a text's control characters shown (markup, which
    the code made and escaped, is left as it is)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible_controls(value)
    return value


@lru_cache(maxsize=1)
def _vis_assets() -> tuple[Markup, Markup]:
    """The vis-network script and stylesheet shipped inside pyvis, made inline-safe.

    Found without importing pyvis: its import pulls in IPython, 0.4 s in each process
    that writes pages."""
    spec = importlib.util.find_spec("pyvis")
    if spec is None or not spec.submodule_search_locations:
        raise SybilgraphError(
            "pyvis is not installed (the pages draw with its vis-network): "
            "reinstall sybilgraph's dependencies, e.g. make install"
        )
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib" / "vis-9.1.2"
    try:
        js = (lib / "vis-network.min.js").read_text(encoding="utf-8")
        css_path = lib / "vis-network.css"
        css = css_path.read_text(encoding="utf-8") if css_path.exists() else ""
    except OSError as exc:
        raise SybilgraphError(
            f"{lib}: cannot read pyvis's vis-network ({exc.strerror or exc}); "
            "reinstall pyvis as a plain folder, e.g. make install"
        ) from None
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    css = re.sub(r"</(style)", r"<\\/\1", css, flags=re.IGNORECASE)
    return Markup(js), Markup(css)


def render_cluster_page(
    view: ClusterView, *, node_budget: int = 300, pseudonymised: bool = False
) -> str:
    """Render one cluster as a self-contained HTML page.

    Parameters
    ----------
    view : ClusterView
        The cluster to draw.
    node_budget : int, default 300
        Most account and value nodes drawn; the rest are collapsed into one group node
        per kind ("+N more accounts", "+N more ip values", ...).
    pseudonymised : bool, default False
        The identifiers are pseudonyms: say so on the page and leave raw prompt samples out.

    Returns
    -------
    str
        The page, with vis-network inlined and no external resources.
    """
    js, css = _vis_assets()
    data = _page_data(view, node_budget, pseudonymised)
    chart, chart_note = timeline(view)
    return (
        template_env()
        .get_template("cluster.html.j2")
        .render(
            title=f"Cluster {view.cluster_id}",
            data_json=script_json(data),
            vis_js=js,
            vis_css=css,
            pseudonymised=pseudonymised,
            timeline=chart,
            timeline_note=chart_note,
        )
    )


def write_cluster_page(view: ClusterView, path: str | os.PathLike[str], **kw: Any) -> Path:
    """Write :func:`render_cluster_page` to ``path`` atomically; keywords are passed on."""
    return write_text_atomic(path, render_cluster_page(view, **kw))


def render_index(
    clusters: pd.DataFrame, summary: Mapping[str, object], *, page_links: Mapping[str, str]
) -> str:
    """Render the index of clusters: summary figures and a filterable, sortable table.

    Parameters
    ----------
    clusters : pandas.DataFrame
        One row per cluster: cluster_id, rank, size, score, flagged, reasons (those present).
    summary : dict
        Figures shown on top, name to value.
    page_links : dict
        cluster_id to the relative address of its page.

    Returns
    -------
    str
        A self-contained HTML page.
    """
    columns = [
        c for c in ("cluster_id", "rank", "size", "score", "flagged", "reasons") if c in clusters
    ]
    # The first INDEX_ROWS rows are in the page as HTML; every row is in its data, from
    # which the page draws what a filter or a sort shows, INDEX_ROWS at a time. With all
    # of a 30M-event run's 58k clusters as rows, the page took 12 s to open in Chromium
    # and 9 s to clear its filter. The rows are written here, not by the template: its
    # loop over 58k rows' cells took 4.7 s, most of it looking up the cells' fields.
    rows: list[Markup] = []
    data: list[list[Any]] = []
    for rec in records(clusters, columns):
        cid = str(rec.get("cluster_id"))
        link = page_links.get(cid)
        if link is not None and link.strip().lower().startswith(("javascript:", "data:")):
            link = None
        texts: list[str] = []
        sorts: list[int | float | None] = []
        cells: list[str] = []
        for c in columns:
            v = rec.get(c)
            if c == "score" and isinstance(v, float):
                shown = f"{v:.3f}"
            elif c == "flagged" and v is not None:
                shown = "yes" if bool(v) else "no"
            else:
                shown = cell_text(v)
            texts.append(_shown(shown))
            # the page sorts a number by its value, a text by itself
            finite = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            sorts.append(v if finite else None)
            if len(rows) < INDEX_ROWS:
                text = _html(shown)
                if c == "cluster_id" and link:
                    text = f'<a href="{_html(link)}">{text}</a>'
                cells.append(f'<td class="c-{c}">{text}</td>')
        flagged = bool(rec.get("flagged"))
        data.append([texts, sorts, link, flagged])
        if len(rows) < INDEX_ROWS:
            mark = ' class="flagged"' if flagged else ""
            rows.append(Markup(f"<tr{mark}>{''.join(cells)}</tr>"))
    figures = [(str(k), _summary_text(v)) for k, v in summary.items()]
    return (
        template_env()
        .get_template("index.html.j2")
        .render(
            title="sybilgraph clusters",
            columns=columns,
            rows=rows,
            figures=figures,
            data=script_json({"columns": columns, "rows": data, "page": INDEX_ROWS}),
        )
    )


def _summary_text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if not value.is_integer() else f"{int(value):,}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return cell_text(value)


def write_index(
    clusters: pd.DataFrame,
    summary: Mapping[str, object],
    path: str | os.PathLike[str],
    *,
    page_links: Mapping[str, str],
) -> Path:
    """Write :func:`render_index` to ``path`` atomically."""
    return write_text_atomic(path, render_index(clusters, summary, page_links=page_links))


def cluster_graph(view: ClusterView) -> nx.Graph:
    """The whole cluster as a networkx graph (no node budget).

    Nodes are ``a:<account>`` (kind ``account``) and ``v:<key>:<value>`` (kind ``value``);
    edges join accounts to the values they hold (kind ``holds``) and linked accounts
    (kind ``link``).  List values are stored as comma-separated text.  The GraphML and
    GEXF files of :func:`write_pages` hold this graph, written without building it (see
    :mod:`sybilgraph.views.graphfiles`).
    """
    g = nx.Graph(cluster_id=str(view.cluster_id), score=float(view.score))
    for r in records(view.accounts, view.accounts.columns):
        attrs = {k: graph_attr(v) for k, v in r.items()}
        g.add_node(
            account_node(r["account_id"]),
            kind="account",
            **{k: v for k, v in attrs.items() if v is not None},
        )
    vals = view.values
    if len(vals):
        for key, value in vals[["key", "value"]].drop_duplicates().itertuples(index=False):
            g.add_node(
                value_node(key, value), kind="value", key=str(key), value=str(value), label=""
            )
            g.nodes[value_node(key, value)]["label"] = f"{key}: {value}"
        for r in records(vals, vals.columns):
            attrs = {
                k: graph_attr(v)
                for k, v in r.items()
                if k in ("requests", "first_seen", "last_seen")
            }
            g.add_edge(
                account_node(r["account_id"]),
                value_node(r["key"], r["value"]),
                kind="holds",
                **{k: v for k, v in attrs.items() if v is not None},
            )
    links = view.links
    if len(links):
        for r in records(links, links.columns):
            attrs = {k: graph_attr(v) for k, v in r.items() if k not in ("a", "b")}
            g.add_edge(
                account_node(r["a"]),
                account_node(r["b"]),
                kind="link",
                **{k: v for k, v in attrs.items() if v is not None},
            )
    return g


def _write_one(
    view: ClusterView, out_dir: str, node_budget: int, pseudonymised: bool
) -> tuple[str, str]:
    name = safe_filename(str(view.cluster_id))
    folder = Path(out_dir) / "clusters"
    folder.mkdir(parents=True, exist_ok=True)
    write_cluster_page(
        view, folder / f"{name}.html", node_budget=node_budget, pseudonymised=pseudonymised
    )
    write_graph_files(view, folder / name)
    return str(view.cluster_id), f"clusters/{name}.html"


def write_pages(
    views: Iterable[ClusterView],
    out_dir: str | os.PathLike[str],
    *,
    node_budget: int = 300,
    pseudonymised: bool = False,
    workers: int = 1,
) -> dict[str, str]:
    """Write a page, a GraphML and a GEXF file per cluster under ``out_dir/clusters``.

    Parameters
    ----------
    views : iterable of ClusterView
        The clusters.
    out_dir : path
        The output folder; ``clusters/`` is created inside it.
    node_budget, pseudonymised
        Passed to :func:`render_cluster_page`.
    workers : int, default 1
        Processes to use; 1 writes in this process, 0 uses one per CPU core (at most
        4). The processes are forked once the views are built, so they share the
        caller's memory rather than copy it.

    Returns
    -------
    dict
        cluster_id to the page's address relative to ``out_dir``.
    """
    views = list(views)
    out = str(out_dir)
    if workers <= 0:
        workers = min(os.cpu_count() or 1, 4)
    workers = min(workers, len(views) // 4)  # a few pages are quicker in this process
    if workers > 1:
        _vis_assets()  # read once here: the workers are forked with it
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_write_one, v, out, node_budget, pseudonymised) for v in views]
            done = [f.result() for f in futures]
    else:
        done = [_write_one(v, out, node_budget, pseudonymised) for v in views]
    return dict(done)


class ViewHTML:
    """A cluster page shown inline in a notebook through an ``<iframe srcdoc>``."""

    def __init__(self, page: str, height: int = 720) -> None:
        self.page = page
        self.height = height

    def _repr_html_(self) -> str:
        doc = html.escape(self.page, quote=True)
        return (
            f'<iframe srcdoc="{doc}" sandbox="allow-scripts" '
            f'style="width:100%;height:{int(self.height)}px;border:1px solid #ddd"></iframe>'
        )


def view_in_notebook(view: ClusterView, **kw: Any) -> ViewHTML:
    """Show a cluster page in a Jupyter notebook; keywords go to :func:`render_cluster_page`."""
    return ViewHTML(render_cluster_page(view, **kw))
