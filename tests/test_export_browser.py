"""Cluster pages and the index in headless Chromium, opened from file:// with no network."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sybilgraph.views import drawing
from sybilgraph.views import pages as export
from sybilgraph.views.tables import TIMELINE_ROWS
from tests.browser import (
    HOSTILE_ID,
    HOSTILE_PROMPT,
    HOSTILE_TEMPLATE,
    make_large_view,
    make_view,
    with_value_set,
)

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).parent / "artifacts"


def _open(browser: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    page = browser.new_page(viewport={"width": 1400, "height": 860})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    return page, errors, requests


def _wait_stable(page: Any) -> None:
    page.wait_for_function("window.sybilgraph && window.sybilgraph.stabilized", timeout=15000)


#: every drawn label's box on screen, as vis-network last drew it (its own measure, not
#: the page's estimate), and the pairs of boxes that overlap
_LABEL_BOXES = """() => {
  const sg = window.sybilgraph, net = sg.network;
  net.redraw();
  const scale = net.getScale(), boxes = [];
  for (const id of sg.visibleNodeIds()) {
    if (!sg.nodes.get(id).label) continue;
    const label = net.body.nodes[id].labelModule, s = label.size;
    const corner = net.canvasToDOM({x: s.left, y: s.top});
    boxes.push({id: id, l: corner.x, t: corner.y, r: corner.x + s.width * scale,
                b: corner.y + s.height * scale, px: label.fontOptions.size * scale});
  }
  const overlaps = [];
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => {
    if (a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b) overlaps.push([a.id, b.id]);
  }));
  return {boxes: boxes, overlaps: overlaps};
}"""


def _labels(page: Any) -> dict[str, Any]:
    """The labels drawn (``boxes``: id, l, t, r, b and font size ``px`` on screen) and the
    pairs of them that overlap (``overlaps``)."""
    result: dict[str, Any] = page.evaluate(_LABEL_BOXES)
    return result


def export_data(path: Path) -> dict[str, Any]:
    """The data embedded in a written page."""
    text = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="sg-data">(.*?)</script>', text, re.S)
    assert m is not None
    result: dict[str, Any] = json.loads(m.group(1))
    return result


def _hover_tip(page: Any, node_id: str) -> str:
    """The tooltip shown when pointing at ``node_id``.

    The node may still be settling (and the machine busy), and a search may have moved
    the view away from it, so bring it to the middle of the view and point at it until
    the tooltip shows.
    """
    tip = ""
    for attempt in range(40):
        pos = page.evaluate(
            """(id) => { const n = window.sybilgraph.network;
                         n.moveTo({position: n.getPositions([id])[id], animation: false});
                         return n.canvasToDOM(n.getPositions([id])[id]); }""",
            node_id,
        )
        box = page.locator("#graph").bounding_box()
        page.mouse.move(box["x"] + pos["x"] + attempt % 2, box["y"] + pos["y"])
        page.wait_for_timeout(150)
        tip = page.inner_text("#tooltip")
        if tip:
            break
    return tip


def test_cluster_page(browser: Any, tmp_path: Path) -> None:
    view = make_view(12, extra_account=HOSTILE_ID, prompt=HOSTILE_PROMPT, values_per_account=3)
    path = export.write_cluster_page(view, tmp_path / "c.html")
    page, errors, requests = _open(browser, path)
    try:
        _wait_stable(page)
        n_values = len(view.values[["key", "value"]].drop_duplicates())
        n_accounts = len(view.accounts)
        assert page.evaluate("window.sybilgraph.nodes.length") == n_accounts + n_values
        assert page.evaluate("window.sybilgraph.visibleNodeIds().length") == n_accounts + n_values

        # toggle to accounts only and back, through the button
        page.click("#toggle")
        assert page.evaluate("window.sybilgraph.visibleNodeIds().length") == n_accounts
        page.click("#toggle")
        assert page.evaluate("window.sybilgraph.showAccountsOnly(true)") == n_accounts
        page.evaluate("window.sybilgraph.showAccountsOnly(false)")

        # search focuses a named account
        page.fill("#search", "acct00007")
        page.press("#search", "Enter")
        assert page.evaluate("window.sybilgraph.network.getSelectedNodes()") == ["a:acct00007"]

        # hostile strings are text
        panel = page.inner_text("#panel")
        assert HOSTILE_ID in panel
        assert HOSTILE_PROMPT in panel
        assert page.locator("#panel img").count() == 0
        page.fill("#search", HOSTILE_ID)
        page.press("#search", "Enter")
        assert page.evaluate("window.sybilgraph.network.getSelectedNodes()") == [f"a:{HOSTILE_ID}"]
        page.wait_for_timeout(350)

        assert "account acct00003" in _hover_tip(page, "a:acct00003")

        page.evaluate("window.sybilgraph.network.fit()")
        page.wait_for_timeout(200)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "cluster.png"))

        assert page.title() != "pwned" and page.title().startswith("Cluster ")
        assert errors == []
        assert requests and all(u.startswith("file://") for u in requests)
    finally:
        page.close()


def test_masked_template_is_text(browser: Any, tmp_path: Path) -> None:
    # default privacy: the prompt node and the panel show the masked template, markup
    # in it included, as text; nothing in it runs or loads
    view = make_view(
        6, values_per_account=3, template_text=HOSTILE_TEMPLATE, prompt="raw sample 12345"
    )
    path = export.write_cluster_page(view, tmp_path / "c.html", pseudonymised=True)
    page, errors, requests = _open(browser, path)
    try:
        _wait_stable(page)
        tip = _hover_tip(page, "v:prompt:tmpl-1")
        assert HOSTILE_TEMPLATE in tip
        panel = page.inner_text("#prompts")
        assert HOSTILE_TEMPLATE in panel and "raw sample" not in panel
        page.click("#prompts .prompt")
        assert page.evaluate("window.sybilgraph.network.getSelectedNodes()") == ["v:prompt:tmpl-1"]
        assert page.evaluate("document.querySelectorAll('img, #panel script').length") == 0
        assert page.title() == "Cluster c-0001"
        assert errors == []
        assert requests and all(u.startswith("file://") for u in requests)
    finally:
        page.close()


def test_timeline_in_browser(browser: Any, tmp_path: Path) -> None:
    view = make_view(92, extra_account=HOSTILE_ID, values_per_account=3)
    path = export.write_cluster_page(view, tmp_path / "c.html", pseudonymised=True)
    page, errors, requests = _open(browser, path)
    try:
        _wait_stable(page)
        rows = page.locator("#timeline svg .raster-row")
        assert rows.count() == TIMELINE_ROWS
        box = page.locator("#timeline svg").bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > TIMELINE_ROWS * 6
        assert "33 accounts not shown" in page.inner_text("#timeline-note")
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "cluster-timeline.png"))
        page.locator("#timeline").screenshot(path=str(ARTIFACTS / "timeline.png"))
        assert page.title() == "Cluster c-0001"
        assert errors == []
        assert all(u.startswith("file://") for u in requests)
    finally:
        page.close()


def test_labels_of_a_large_cluster(browser: Any, tmp_path: Path) -> None:
    # 93 accounts and 56 values: at the fitted zoom only prominent nodes (the 10 busiest
    # accounts, the 10 most-held values, the group nodes) are labelled, those whose label
    # has room; zoomed in, all are
    view = make_view(93, values_per_account=3)
    path = export.write_cluster_page(view, tmp_path / "c.html")
    page, errors, _ = _open(browser, path)
    labelled = "window.sybilgraph.nodes.get({filter: n => n.label !== ''}).length"
    try:
        _wait_stable(page)
        page.evaluate("window.sybilgraph.network.fit()")
        page.evaluate("window.sybilgraph.zoomLabels()")
        assert page.evaluate("window.sybilgraph.network.getScale()") < 1.1
        labels = _labels(page)
        prominent = {n["id"] for n in export_data(path)["nodes"] if n["prominent"]}
        assert 10 <= len(labels["boxes"]) <= 2 * drawing.PROMINENT_NODES
        assert {b["id"] for b in labels["boxes"]} <= prominent
        assert labels["overlaps"] == []
        assert min(b["px"] for b in labels["boxes"]) >= 11
        assert len(_hover_tip(page, "a:acct00050")) > 0
        assert page.evaluate("window.sybilgraph.nodes.get('a:acct00050').label") == "acct00050"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "cluster-labels.png"))
        page.evaluate("window.sybilgraph.network.moveTo({scale: 1.5})")
        page.evaluate("window.sybilgraph.zoomLabels()")
        assert page.evaluate(labelled) == page.evaluate("window.sybilgraph.nodes.length")
        assert errors == []
    finally:
        page.close()
    small = export.write_cluster_page(make_view(6, values_per_account=3), tmp_path / "s.html")
    page, errors, _ = _open(browser, small)
    try:
        _wait_stable(page)
        assert page.evaluate(labelled) == page.evaluate("window.sybilgraph.nodes.length")
        assert errors == []
    finally:
        page.close()


def test_budget_page_in_browser(browser: Any, tmp_path: Path) -> None:
    view = make_view(3000, values_per_account=3)
    path = export.write_cluster_page(view, tmp_path / "big.html", node_budget=400)
    page, errors, requests = _open(browser, path)
    try:
        _wait_stable(page)
        groups = page.evaluate(
            "window.sybilgraph.nodes.get({filter: n => n.kind === 'group'}).length"
        )
        assert groups >= 1
        assert page.evaluate("window.sybilgraph.nodes.length") <= 400 + groups
        assert errors == []
        assert all(u.startswith("file://") for u in requests)
    finally:
        page.close()


def test_index_filter(browser: Any, tmp_path: Path) -> None:
    clusters = pd.DataFrame(
        {
            "cluster_id": ["ring-a", "ring-b", "office", HOSTILE_ID],
            "rank": [1, 2, 3, 4],
            "size": [6, 5, 5, 2],
            "score": [0.9, 0.8, 0.1, 0.05],
            "flagged": [True, True, False, False],
            "reasons": ["shared cards", "one template", "", ""],
        }
    )
    path = export.write_index(
        clusters, {"accounts": 400}, tmp_path / "index.html", page_links={"ring-a": "a.html"}
    )
    page, errors, requests = _open(browser, path)
    try:
        visible = "document.querySelectorAll('#clusters tbody tr:not([style*=\"none\"])').length"
        assert page.evaluate(visible) == 4
        page.fill("#filter", "ring")
        assert page.evaluate(visible) == 2
        page.fill("#filter", "")
        page.click("#clusters th:nth-child(4)")  # score ascending
        first = page.inner_text("#clusters tbody tr:first-child td:first-child")
        assert first == HOSTILE_ID
        # a text sorts by the cell's own text (it has no copy in an attribute)
        page.click("#clusters th:nth-child(1)")
        ids = page.evaluate(
            "Array.from(document.querySelectorAll('#clusters tbody td.c-cluster_id'))"
            ".map(td => td.textContent)"
        )
        in_order = page.evaluate("ids => ids.slice().sort((x, y) => x.localeCompare(y))", ids)
        assert ids == in_order and ids != [str(c) for c in clusters["cluster_id"]]
        assert page.title() != "pwned"
        assert errors == []
        assert all(u.startswith("file://") for u in requests)
    finally:
        page.close()


def test_index_draws_a_page_of_rows_at_a_time(
    browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 8 clusters, 3 rows a page: the HTML holds the first 3, the data all 8; a filter
    # finds a row past the first page, and "show more" adds a page
    monkeypatch.setattr("sybilgraph.views.pages.INDEX_ROWS", 3)
    ids = [f"c-{i}" for i in range(7)] + [HOSTILE_ID]
    clusters = pd.DataFrame(
        {
            "cluster_id": ids,
            "rank": range(1, 9),
            "size": [9, 8, 7, 6, 5, 4, 3, 2],
            "score": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, float("nan")],
            "flagged": [True] * 2 + [False] * 6,
        }
    )
    path = export.write_index(
        clusters, {"accounts": 80}, tmp_path / "index.html", page_links={"c-0": "a.html"}
    )
    assert path.read_text().count("<tr") == 4  # the header and the first page
    page, errors, requests = _open(browser, path)
    try:
        rows = "Array.from(document.querySelectorAll('#clusters tbody td.c-cluster_id'))"
        texts = f"{rows}.map(td => td.textContent)"
        assert page.evaluate(texts) == ids[:3]
        assert page.inner_text("#count") == "8 of 8 clusters (the first 3 shown)"
        page.click("#more")
        assert page.evaluate(texts) == ids[:6]
        page.click("#more")
        assert page.evaluate(texts) == ids and not page.is_visible("#more")
        page.fill("#filter", "pwned")  # the hostile id, past the first page
        assert page.evaluate(texts) == [HOSTILE_ID]
        assert page.inner_text("#count") == "1 of 8 clusters"
        page.fill("#filter", "")
        page.click("#clusters th:nth-child(3)")  # size ascending: the last rows first
        assert page.evaluate(texts) == ids[::-1][:3]
        assert page.evaluate(f"{rows}[0].closest('tr').className") == ""
        page.click("#clusters th:nth-child(3)")  # descending: a flagged row with its link
        link = "document.querySelector('#clusters tbody tr.flagged a').getAttribute('href')"
        assert page.evaluate(link) == "a.html"
        assert page.title() != "pwned"
        assert errors == []
        assert all(u.startswith("file://") for u in requests)
    finally:
        page.close()


def test_300_node_page_settles_with_legible_labels(browser: Any, tmp_path: Path) -> None:
    # 200 accounts, 96 values and 20 sets of 8 proxy addresses: 316 nodes. The layout
    # settles within 3 s of opening the page (window.__layoutSettledMs, from the start
    # of navigation) and at the fitted zoom no two drawn labels overlap, each at least
    # 11 px high on screen; the figures are written to artifacts/cluster-300.json
    view = make_large_view()
    path = export.write_cluster_page(view, tmp_path / "c.html", node_budget=400)
    page, errors, requests = _open(browser, path)
    try:
        _wait_stable(page)
        assert page.evaluate("window.sybilgraph.nodes.length") == 316
        settled_ms = page.evaluate("window.__layoutSettledMs")
        layout_ms = page.evaluate("window.sybilgraph.layoutMs")
        positions = page.evaluate("window.sybilgraph.network.getPositions()")
        page.evaluate("window.sybilgraph.network.fit()")
        page.evaluate("window.sybilgraph.zoomLabels()")
        labels = _labels(page)
        box = page.locator("#graph").bounding_box()
        figures = {
            "nodes": 316,
            "layout_settled_ms": settled_ms,
            "layout_ms": layout_ms,
            "labels": len(labels["boxes"]),
            "label_overlaps": len(labels["overlaps"]),
            "smallest_label_px": min(b["px"] for b in labels["boxes"]),
            "scale": page.evaluate("window.sybilgraph.network.getScale()"),
        }
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "cluster-300.json").write_text(json.dumps(figures, indent=1) + "\n")
        print(figures)
        page.screenshot(path=str(ARTIFACTS / "cluster-300.png"))
        assert 0 < settled_ms < 3000
        assert labels["overlaps"] == []
        assert len(labels["boxes"]) >= 8
        assert figures["smallest_label_px"] >= 11
        assert all(
            0 <= b["l"] <= b["r"] <= box["width"] and 0 <= b["t"] <= b["b"] <= box["height"]
            for b in labels["boxes"]
        )

        # the accounts-only view draws the thinned links and says how many it hides
        data = export_data(path)
        page.click("#toggle")
        hidden = data["linksTotal"] - data["linksDrawn"]
        assert f"{hidden} weaker links hidden" in page.inner_text("#status")
        assert f"{data['linksDrawn']} of {data['linksTotal']} links drawn" in page.inner_text(
            "#summary"
        )
        shown = "window.sybilgraph.edges.get({filter: e => !e.hidden}).map(e => e.kind)"
        assert page.evaluate(shown) == ["aa"] * data["linksDrawn"]
        assert _labels(page)["overlaps"] == []
        page.screenshot(path=str(ARTIFACTS / "cluster-300-accounts.png"))
        page.click("#toggle")

        # a value inside a set is found as the set, which lists all its values
        page.fill("#search", "172.16.3.5")
        page.press("#search", "Enter")
        assert page.evaluate("window.sybilgraph.network.getSelectedNodes()") == ["s:ip:172.16.3.0"]
        listed = page.locator("#selected li").all_inner_texts()
        assert listed == [f"ip: 172.16.3.{k}" for k in range(8)]
        assert errors == []
        assert all(u.startswith("file://") for u in requests)
    finally:
        page.close()

    # the same page lays out the same on a second opening
    page, errors, _ = _open(browser, path)
    try:
        _wait_stable(page)
        again = page.evaluate("window.sybilgraph.network.getPositions()")
        assert again == positions
    finally:
        page.close()


def test_value_set_is_text_in_browser(browser: Any, tmp_path: Path) -> None:
    # a set of 13 addresses, one of them markup: the tooltip and the panel show it as text
    view = with_value_set(
        make_view(6, values_per_account=3),
        "ip",
        [f"192.0.2.{k}" for k in range(12)] + [HOSTILE_ID],
        ["acct00000", "acct00001"],
    )
    path = export.write_cluster_page(view, tmp_path / "c.html", pseudonymised=True)
    page, errors, requests = _open(browser, path)
    try:
        _wait_stable(page)
        (node,) = [n["id"] for n in export_data(path)["nodes"] if n.get("members")]
        tip = _hover_tip(page, node)
        assert tip.startswith("13 ip values, each held by the same 2 accounts")
        assert "and 1 more" in tip
        page.fill("#search", HOSTILE_ID)
        page.press("#search", "Enter")
        assert page.evaluate("window.sybilgraph.network.getSelectedNodes()") == [node]
        assert f"ip: {HOSTILE_ID}" in page.locator("#selected li").all_inner_texts()
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert page.title() == "Cluster c-0001"
        assert errors == []
        assert all(u.startswith("file://") for u in requests)
    finally:
        page.close()
