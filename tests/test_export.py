"""Export without a browser: file names, escaping, node budget, GraphML/GEXF, index."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph import Config, run
from sybilgraph.views import cells, drawing
from sybilgraph.views import pages as export
from sybilgraph.views.tables import TIMELINE_COLUMNS, TIMELINE_ROWS, timeline_bin
from tests.browser import (
    HOSTILE_ID,
    HOSTILE_TEMPLATE,
    make_large_view,
    make_view,
    with_value_set,
)

SAFE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="sg-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_safe_filename_any_text(name: str) -> None:
    assert SAFE.match(export.safe_filename(name))


def test_safe_filename_cases() -> None:
    assert export.safe_filename("c-0001") == "c-0001"
    bad = export.safe_filename("../../etc/passwd")
    assert SAFE.match(bad) and "/" not in bad and ".." not in bad
    assert export.safe_filename("a/b") != export.safe_filename("a?b")
    assert export.safe_filename("") != export.safe_filename("_")
    assert len(export.safe_filename("x" * 500)) <= 100
    assert export.safe_filename("x" * 500) != export.safe_filename("x" * 501)


def test_records_are_to_dict_records_with_missing_as_none() -> None:
    frame = pd.DataFrame(
        {
            "ints": [1, 2, 3],
            "floats": [1.5, np.nan, 3.0],
            "bools": [True, False, True],
            "stamps": pd.to_datetime(
                ["2026-04-13", None, "2026-04-14 10:00:00.5"], format="ISO8601"
            ),
            "aware": pd.to_datetime(["2026-04-13", "2026-04-14", None], utc=True),
            "text": pd.Series(["a", None, "c"], dtype="str"),
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "objects": pd.Series([np.int64(4), Decimal("5"), [1, 2]], dtype=object),
            "scalars": pd.Series([np.float32(0.5), np.datetime64("2026-01-01"), np.bool_(1)]),
            "missing": pd.Series([None, np.nan, pd.NaT], dtype=object),
            "category": pd.Categorical(["x", None, "x"]),
        }
    )
    expected = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in expected:
        row.update({k: None for k, v in row.items() if isinstance(v, float) and math.isnan(v)})

    def typed(rows: list[dict[Any, Any]]) -> list[dict[Any, tuple[type, Any]]]:
        return [{k: (type(v), v) for k, v in row.items()} for row in rows]

    assert typed(cells.records(frame, [*frame.columns, "absent"])) == typed(expected)
    assert cells.records(frame, ["absent"]) == [{}, {}, {}]
    assert cells.records(frame.iloc[:0], frame.columns) == []


def test_hostile_text_is_escaped() -> None:
    hostile = "</script><script>alert(1)</script>"
    view = make_view(5, extra_account=HOSTILE_ID, prompt=hostile, values_per_account=3)
    page = export.render_cluster_page(view)
    assert hostile not in page
    assert "</script><script>" not in page
    assert "<img src=x" not in page
    assert "\\u003c/script\\u003e\\u003cscript\\u003e" in page
    data = _data(page)
    assert hostile in data["prompts"][0]["samples"]
    assert any(n["name"] == HOSTILE_ID for n in data["nodes"])
    assert all("title" not in n for n in data["nodes"])


def test_control_characters_in_ids_are_shown_not_written_raw() -> None:
    # a NUL written raw into HTML or SVG is dropped or refused by the parser, so
    # "nul\x00id" would read as "nulid": shown as the picture of NUL (U+2400) instead
    odd = "nul\x00id\x7f"
    page = export.render_cluster_page(make_view(92, extra_account=odd))
    assert "\x00" not in page  # the data holds it as \u0000 (JSON)
    assert any(row.startswith("nul\u2400id\u2421") for row in _timeline_rows(page))
    assert any(n["name"] == odd for n in _data(page)["nodes"])  # the data keeps the id


def test_prompts_shown_as_masked_templates_when_pseudonymised() -> None:
    # the default privacy: the masked template on the node and in the panel, no raw sample
    text = "summarise <num> for <email>: " + "and so on " * 60
    view = make_view(4, values_per_account=3, template_text=text, prompt="summarise 42 for a@b.c")
    page = export.render_cluster_page(view, pseudonymised=True)
    data = _data(page)
    node = next(n for n in data["nodes"] if n.get("valueKind") == "prompt")
    assert node["label"].startswith("prompt: summarise <num> for <email>")
    assert len(node["label"]) <= 36
    assert "tmpl-1" in node["tip"] and "masked template: summarise <num>" in node["tip"]
    assert len(node["tip"]) < len(text)  # shortened; the panel has it in full
    assert data["prompts"][0]["text"] == text
    assert data["prompts"][0]["samples"] == []
    for raw in ("summarise 42 for a@b.c", "translate cheese to French"):
        assert raw not in page
    assert "masked templates" in page  # the banner says what is shown

    # unpseudonymised pages keep the raw samples as before
    data = _data(export.render_cluster_page(view, pseudonymised=False))
    assert "summarise 42 for a@b.c" in data["prompts"][0]["samples"]


def test_hostile_template_is_data() -> None:
    view = make_view(3, values_per_account=3, template_text=HOSTILE_TEMPLATE)
    page = export.render_cluster_page(view, pseudonymised=True)
    assert "<img src=x" not in page and "<script>document" not in page
    data = _data(page)
    node = next(n for n in data["nodes"] if n.get("valueKind") == "prompt")
    assert HOSTILE_TEMPLATE in node["tip"] and "title" not in node
    assert data["prompts"][0]["text"] == HOSTILE_TEMPLATE


def _timeline_rows(page: str) -> list[str]:
    """The tooltip of each row of the page's timeline, top first."""
    m = re.search(r'<div id="timeline">(.*?)</div>', page, re.S)
    assert m is not None
    return re.findall(r'<g class="raster-row"><title>(.*?)</title>', m.group(1))


def test_timeline_rows_and_note() -> None:
    # 93 accounts: the 60 busiest are drawn, in three waves (make_view), the rest counted
    page = export.render_cluster_page(make_view(92, extra_account=HOSTILE_ID))
    rows = _timeline_rows(page)
    assert len(rows) == TIMELINE_ROWS
    assert "60 busiest of 93 accounts" in page and "33 accounts not shown" in page
    assert "one column = 1 hour" in page
    # the hostile id is one of the busiest (requests 30 + 92 % 17): escaped text in the SVG
    assert any(r.startswith("&lt;img src=x") for r in rows)
    assert "<img src=x" not in page
    # rows follow the waves: accounts starting on day 0, then day 1, then day 2
    view = make_view(92, extra_account=HOSTILE_ID)
    first_bin = view.activity.counts.groupby("account_id")["bin"].min()
    drawn = [re.sub(r":.*", "", r) for r in rows]
    waves = [first_bin[a] for a in drawn if a in first_bin]
    assert waves == sorted(waves) and waves[0] == 0 and waves[-1] == 48

    small = export.render_cluster_page(make_view(5))
    assert len(_timeline_rows(small)) == 5 and "not shown" not in small


def test_timeline_left_out_without_events() -> None:
    view = make_view(5)
    view.activity = None
    page = export.render_cluster_page(view)
    assert _timeline_rows(page) == [] and "no timeline: it is drawn from the run&#39;s" in page


def test_timeline_bin_from_span() -> None:
    t0 = pd.Timestamp("2026-04-13T05:20:00Z")
    week = timeline_bin(t0, t0 + pd.Timedelta(days=7) - pd.Timedelta(seconds=1))
    # starts on the hour, so a week from 05:20 touches 169 hours
    assert week == (pd.Timestamp("2026-04-13T05:00:00Z"), pd.Timedelta("1h"), 169)
    assert timeline_bin(t0, t0 + pd.Timedelta(days=90))[1:] == (pd.Timedelta("1D"), 91)
    assert timeline_bin(t0, t0)[1:] == (pd.Timedelta("1h"), 1)
    # a span of years keeps the coarsest bins, cut to the column cap
    assert timeline_bin(t0, t0 + pd.Timedelta(days=9000))[1:] == (
        pd.Timedelta("28D"),
        TIMELINE_COLUMNS,
    )


def test_run_pages_have_timelines(hand_csv: Path, tmp_path: Path) -> None:
    result = run(hand_csv, Config(), tmp_path / "out", show_progress=False)
    ring = result.accounts.set_index("account_id").loc["a1", "cluster_id"]
    page = (tmp_path / "out" / "clusters" / f"{export.safe_filename(ring)}.html").read_text()
    rows = _timeline_rows(page)
    # ring A: six accounts of 30 requests each
    assert sorted(r.split(":")[0] for r in rows) == [f"a{i}" for i in range(1, 7)]
    assert all(": 30 requests" in r for r in rows)
    # reopened from its folder, the timeline comes from activity.parquet: the same rows
    reopened = result.cluster(ring).view().page
    assert _timeline_rows(reopened) == rows
    # a cluster without a page has no timeline kept, and says so
    other = result.clusters[result.clusters["cluster_id"] != ring]
    paged = set(pd.read_parquet(tmp_path / "out" / "activity.parquet")["cluster_id"])
    assert ring in paged
    unpaged = [c for c in other["cluster_id"] if c not in paged]
    if unpaged:
        page = result.cluster(unpaged[0]).view().page
        assert _timeline_rows(page) == [] and "no timeline" in page


def test_line_separators_escaped() -> None:
    view = make_view(3, prompt="a\u2028b\u2029c & <d>")
    page = export.render_cluster_page(view)
    body = page[page.index('id="sg-data"') :]
    body = body[: body.index("</script>")]
    assert "\u2028" not in body and "\u2029" not in body and "&" not in body.split(">", 1)[1]
    assert "a\u2028b\u2029c & <d>" in _data(page)["prompts"][0]["samples"]


def test_no_external_resources() -> None:
    page = export.render_cluster_page(make_view(20))
    index = export.render_index(
        pd.DataFrame({"cluster_id": ["c-0001"], "rank": [1], "size": [20], "score": [0.8]}),
        {"clusters": 1},
        page_links={"c-0001": "clusters/c-0001.html"},
    )
    for html in (page, index):
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
        assert "@import" not in html and "<link" not in html.lower()
    assert "vis.Network" in page and "JSON.parse" in page


def test_small_cluster_draws_everything() -> None:
    view = make_view(6, values_per_account=3)
    data = _data(export.render_cluster_page(view))
    n_values = len(view.values[["key", "value"]].drop_duplicates())
    assert len(data["nodes"]) == 6 + n_values
    assert data["groups"] == []
    kinds = {n.get("valueKind") for n in data["nodes"] if n["kind"] == "value"}
    assert kinds == {"ip", "payment", "prompt"}
    assert sum(e["kind"] == "av" for e in data["edges"]) == len(view.values)
    assert sum(e["kind"] == "aa" for e in data["edges"]) == len(view.links)
    colors = {n["name"]: n["color"] for n in data["nodes"]}
    assert colors["acct00000"] == drawing.SYBIL_COLOR
    assert colors["acct00001"] == drawing.BENIGN_COLOR


def test_node_budget_summarises() -> None:
    view = make_view(5000, values_per_account=3)
    data = _data(export.render_cluster_page(view, node_budget=300))
    drawn = [n for n in data["nodes"] if n["kind"] != "group"]
    groups = {n["groupKind"]: n["count"] for n in data["nodes"] if n["kind"] == "group"}
    assert len(drawn) <= 300
    assert len(groups) <= len(drawing.KINDS) + 1
    n_accounts = sum(n["kind"] == "account" for n in drawn)
    assert n_accounts + groups.get("account", 0) == 5000
    total_values = len(view.values[["key", "value"]].drop_duplicates())
    other = sum(c for k, c in groups.items() if k != "account")
    assert len(drawn) - n_accounts + other == total_values
    assert "+" in next(n["label"] for n in data["nodes"] if n["id"] == "g:account")
    ids = {n["id"] for n in data["nodes"]}
    assert all(e["from"] in ids and e["to"] in ids for e in data["edges"])


def test_write_pages_and_graph_files(tmp_path: Path) -> None:
    views = [make_view(8, cluster_id="c/1"), make_view(4, cluster_id="c-2")]
    links = export.write_pages(views, tmp_path)
    assert set(links) == {"c/1", "c-2"}
    for view in views:
        rel = links[view.cluster_id]
        assert rel.startswith("clusters/") and (tmp_path / rel).is_file()
        expected = export.cluster_graph(view).number_of_nodes()
        stem = (tmp_path / rel).with_suffix("")
        g1 = nx.read_graphml(stem.with_suffix(".graphml"))
        g2 = nx.read_gexf(stem.with_suffix(".gexf"))
        assert g1.number_of_nodes() == g2.number_of_nodes() == expected
        assert g1.number_of_edges() == export.cluster_graph(view).number_of_edges()
    assert not list((tmp_path / "clusters").glob("*.tmp"))


def test_index_links_and_escaping(tmp_path: Path) -> None:
    clusters = pd.DataFrame(
        {
            "cluster_id": ["c-1", HOSTILE_ID],
            "rank": [1, 2],
            "size": [6, 3],
            "score": [0.9, 0.2],
            "flagged": [True, False],
            "reasons": ["shared cards", ""],
        }
    )
    path = export.write_index(
        clusters,
        {"accounts": 1234, "flagged": 1},
        tmp_path / "index.html",
        page_links={"c-1": "clusters/c-1.html"},
    )
    text = path.read_text()
    assert 'href="clusters/c-1.html"' in text
    assert "<img src=x" not in text and "1,234" in text


def test_notebook_repr() -> None:
    html = export.view_in_notebook(make_view(3))._repr_html_()
    assert html.startswith("<iframe srcdoc=") and "<script" not in html


def test_values_held_alike_are_one_node() -> None:
    # make_large_view: accounts 10b..10b+9 hold the 8 proxy addresses 172.16.b.0-7 and no
    # other account does: 20 sets of 8 addresses, each one node joined to its 10 accounts
    view = make_large_view()
    data = _data(export.render_cluster_page(view, node_budget=400))
    sets = [n for n in data["nodes"] if n.get("members")]
    assert len(sets) == 20 and {n["label"] for n in sets} == {"8 ip values"}
    first = next(n for n in sets if n["id"] == "s:ip:172.16.0.0")
    assert [m["name"] for m in first["members"]] == [f"172.16.0.{k}" for k in range(8)]
    assert [m["id"] for m in first["members"]][-1] == "v:ip:172.16.0.7"
    assert "ip: 172.16.0.7" in first["tip"] and "same 10 accounts" in first["tip"]
    held_by = sorted(e["from"] for e in data["edges"] if e["to"] == first["id"])
    assert held_by == [f"a:acct{i:05d}" for i in range(10)]
    ids = [n["id"] for n in data["nodes"]]
    assert not any(i.startswith("v:ip:172.16.") for i in ids)
    assert len(ids) == len(set(ids)) == 200 + 40 + 50 + 6 + 20
    assert data["drawnValues"] == data["totalValues"] == 40 + 50 + 6 + 160
    assert len({e["id"] for e in data["edges"]}) == len(data["edges"])
    # the budget counts a set as one node: at 316 everything is drawn, at 315 not
    assert data["groups"] == []
    assert _data(export.render_cluster_page(view, node_budget=315))["groups"] != []


def test_value_set_lists_its_values_as_data() -> None:
    # 13 addresses held by acct00000 and acct00001 alone (one of them markup): one node;
    # its tooltip lists 12 and says how many more, its members all 13, as text
    view = make_view(6, values_per_account=3)
    values = [f"192.0.2.{k}" for k in range(12)] + [HOSTILE_ID]
    view = with_value_set(view, "ip", values, ["acct00000", "acct00001"])
    page = export.render_cluster_page(view, pseudonymised=True)
    data = _data(page)
    (node,) = [n for n in data["nodes"] if n.get("members")]
    assert node["label"] == "13 ip values" and node["held"] == 2
    assert sorted(m["name"] for m in node["members"]) == sorted(values)
    assert "… and 1 more (select the node to list all)" in node["tip"]
    assert len([line for line in node["tip"].split("\n") if line.startswith("ip: ")]) == 12
    assert "<img" not in page.split('id="sg-data">', 1)[1].split("</script>", 1)[0]
    # the prompt template and the single addresses are drawn as before
    assert any(n["id"] == "v:prompt:tmpl-1" for n in data["nodes"])
    assert any(n["id"] == "v:ip:10.0.0.0" for n in data["nodes"])


def test_graph_data_does_not_depend_on_row_order() -> None:
    view = make_large_view(60)
    shuffled = dataclasses.replace(
        view,
        values=view.values.sample(frac=1.0, random_state=3).reset_index(drop=True),
        links=view.links.sample(frac=1.0, random_state=4).reset_index(drop=True),
        accounts=view.accounts.sample(frac=1.0, random_state=5).reset_index(drop=True),
    )
    page = export.render_cluster_page(view)
    assert export.render_cluster_page(view) == page
    one, two = _data(page), _data(export.render_cluster_page(shuffled))
    assert one["nodes"] == two["nodes"]

    def ends(data: dict) -> set[tuple[str, str, str]]:
        return {(e["from"], e["to"], e.get("tip", "")) for e in data["edges"]}

    assert ends(one) == ends(two)


def test_thin_links_by_hand() -> None:
    # a-b 5, a-c 4, a-d 3, b-c 2, c-d 1, d-e 0.5, b-e 0.6, and x-y 1 apart.
    # The maximum spanning forest takes a-b, a-c, a-d, x-y, b-e (b-c, c-d close circles,
    # d-e comes after b-e): [0, 1, 2, 6, 7]. Each account's strongest link is in it.
    # With 2 per account: a keeps a-b, a-c; b a-b, b-c; c a-c, b-c; d a-d, c-d; e b-e,
    # d-e: every link.
    ends = [("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("c", "d")]
    ends += [("d", "e"), ("b", "e"), ("x", "y")]
    weights = [5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.6, 1.0]
    assert drawing.thin_links(ends, weights, 0) == [0, 1, 2, 6, 7]
    assert drawing.thin_links(ends, weights, 1) == [0, 1, 2, 6, 7]
    assert drawing.thin_links(ends, weights, 2) == list(range(8))
    assert drawing.thin_links([], [], 3) == []


@pytest.mark.parametrize("seed", range(20))
def test_thin_links_keeps_strongest_and_components(seed: int) -> None:
    # against networkx on random weighted graphs: the components are those of the whole
    # graph, each account keeps its 3 heaviest links, and no more than 3 per account
    # plus a forest are kept
    rng = np.random.default_rng(seed)
    g = nx.gnp_random_graph(40, 0.15, seed=seed)
    ends = sorted(g.edges())
    weights = [float(w) for w in rng.choice([0.5, 1.0, 2.0, 3.5], size=len(ends))]
    kept = drawing.thin_links(ends, weights, 3)
    thin = nx.Graph()
    thin.add_nodes_from(g)
    thin.add_edges_from(ends[i] for i in kept)
    whole = {frozenset(c) for c in nx.connected_components(g)}
    assert {frozenset(c) for c in nx.connected_components(thin)} == whole
    for node in g:
        mine = sorted(
            (i for i, e in enumerate(ends) if node in e),
            key=lambda i: (-weights[i], str(ends[i][0]), str(ends[i][1])),
        )
        assert set(mine[:3]) <= set(kept)
    assert len(kept) <= 3 * g.number_of_nodes() + g.number_of_nodes() - 1
    assert len(kept) < len(ends)


def test_accounts_only_links_thinned() -> None:
    # make_large_view links every two accounts sharing a value: 4,094 links, about 41 per
    # account; the page keeps each account's 3 strongest and a spanning forest
    view = make_large_view()
    data = _data(export.render_cluster_page(view, node_budget=400))
    links = [e for e in data["edges"] if e["kind"] == "aa"]
    assert data["linksTotal"] == len(view.links) == 4094
    assert data["linksDrawn"] == len(links) < 3 * 200
    assert data["strongestLinks"] == drawing.STRONGEST_LINKS == 3
    thin = nx.Graph((e["from"], e["to"]) for e in links)
    assert thin.number_of_nodes() == 200 and nx.is_connected(thin)
    # a card (weight 2) outweighs an address (1) and a template (0.2): each account
    # keeps a link to a card sharer
    card_of = {f"a:acct{i:05d}": i // 4 for i in range(200)}
    for account, card in card_of.items():
        mates = {b for a, b in thin.edges(account)}
        assert any(card_of[m] == card for m in mates)


def test_timeline_ties_broken_by_account_id(tmp_path: Path) -> None:
    # 70 accounts of one card, 3 requests each, listed in falling id order: the page's
    # timeline counts the 60 "busiest", tied here, so it must take the 60 first ids
    # whatever order the engine returns the members in
    ids = [f"t{i:02d}" for i in range(70)][::-1]
    rows = [
        {
            "account_id": a,
            "ts": f"2026-04-13T{hour:02d}:00:00Z",
            "ip": f"10.1.{n}.{hour}",
            "payment_id": "card-1",
            "prompt": f"question {n} {hour}",
        }
        for n, a in enumerate(ids)
        for hour in range(3)
    ]
    path = tmp_path / "events.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    config = Config()
    config.link.hub_share = 1.0
    run(path, config, tmp_path / "out", show_progress=False)
    activity = pd.read_parquet(tmp_path / "out" / "activity.parquet")
    assert sorted(set(activity["account_id"])) == sorted(ids)[:TIMELINE_ROWS]
