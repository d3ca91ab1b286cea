"""Cluster pages and the index in headless Chromium, opened from file:// with no network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sybilgraph.views import drawing
from sybilgraph.views import pages as export
from sybilgraph.views.tables import TIMELINE_ROWS
from tests.browser import HOSTILE_ID, HOSTILE_PROMPT, HOSTILE_TEMPLATE, make_view

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
    # 93 accounts and 56 values: at the fitted zoom only the 10 busiest accounts, the
    # 10 most-held values and the group nodes are labelled; zoomed in, all are
    view = make_view(93, values_per_account=3)
    path = export.write_cluster_page(view, tmp_path / "c.html")
    page, errors, _ = _open(browser, path)
    labelled = "window.sybilgraph.nodes.get({filter: n => n.label !== ''}).length"
    try:
        _wait_stable(page)
        page.evaluate("window.sybilgraph.network.fit()")
        page.evaluate("window.sybilgraph.zoomLabels()")
        assert page.evaluate("window.sybilgraph.network.getScale()") < 1.1
        assert page.evaluate(labelled) == 2 * drawing.PROMINENT_NODES
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
        assert page.title() != "pwned"
        assert errors == []
        assert all(u.startswith("file://") for u in requests)
    finally:
        page.close()
