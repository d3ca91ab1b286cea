"""Helpers for the export tests: synthetic cluster views and a headless Chromium."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sybilgraph.views.tables import TIMELINE_ROWS, Activity, ClusterView

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE_ID = "<img src=x onerror=\"document.title='pwned'\">"
HOSTILE_PROMPT = "</script><script>document.title='pwned'</script>"
#: a masked template can still hold markup: masking replaces values, not tags
HOSTILE_TEMPLATE = (
    "<img src=x onerror=\"document.title='pwned'\"> <script>document.title='pwned'</script>"
    " summarise <num> for <email>"
)


def make_view(
    n_accounts: int = 6,
    *,
    cluster_id: str = "c-0001",
    extra_account: str | None = None,
    prompt: str = "translate this to French",
    template_text: str = "translate <*> to French",
    values_per_account: int = 2,
) -> ClusterView:
    """A cluster of ``n_accounts`` sharing IPs, cards and a prompt template.

    Account i holds ``ip`` 10.0.0.(i // 3), ``payment`` card-(i // 4), and (when
    ``values_per_account`` > 2) a prompt template, whose masked text is ``template_text``
    and whose raw samples are ``prompt`` and one more; consecutive accounts are linked.
    The busiest TIMELINE_ROWS accounts have an hourly :class:`Activity` over 3 days:
    account i starts at hour 24 * (i % 3) (three waves) and sends i % 5 + 1 requests an
    hour for 20 hours.
    """
    ids = [f"acct{i:05d}" for i in range(n_accounts)]
    if extra_account is not None:
        ids.append(extra_account)
    t0 = pd.Timestamp("2026-04-13T00:00:00Z")
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "requests": [30 + (i % 17) for i in range(len(ids))],
            "first_seen": [t0 + pd.Timedelta(hours=i % 48) for i in range(len(ids))],
            "last_seen": [t0 + pd.Timedelta(days=2, hours=i % 48) for i in range(len(ids))],
            "score": 0.8,
            "verdict": [
                "sybil" if i == 0 else ("benign" if i == 1 else None) for i in range(len(ids))
            ],
            "degree": [2 if 0 < i < len(ids) - 1 else 1 for i in range(len(ids))],
        }
    )
    rows: list[dict[str, Any]] = []
    for i, a in enumerate(ids):
        held = [("ip", f"10.0.{i // 700}.{(i // 3) % 256}"), ("payment", f"card-{i // 4}")]
        if values_per_account > 2:
            held.append(("prompt", "tmpl-1"))
        for key, value in held[:values_per_account]:
            rows.append(
                {
                    "account_id": a,
                    "key": key,
                    "value": value,
                    "requests": 10,
                    "first_seen": t0,
                    "last_seen": t0 + pd.Timedelta(days=1),
                    "holders": 3,
                    "hub": False,
                }
            )
    values = pd.DataFrame(rows)
    links = pd.DataFrame(
        {
            "a": ids[:-1],
            "b": ids[1:],
            "weight": 1.5,
            "keys": [["ip", "payment"]] * (len(ids) - 1),
            "evidence": [["ip 10.0.0.1"]] * (len(ids) - 1),
            "first_seen": t0,
            "last_seen": t0 + pd.Timedelta(days=1),
        }
    )
    prompts = pd.DataFrame(
        {
            "template": ["tmpl-1"],
            "text": [template_text],
            "samples": [[prompt, "translate cheese to French"]],
            "requests": [120],
            "accounts": [len(ids)],
        }
    )
    busiest = accounts.nlargest(TIMELINE_ROWS, "requests")
    counts = pd.DataFrame(
        [
            {"account_id": a, "bin": 24 * (i % 3) + h, "requests": i % 5 + 1}
            for i, a in zip(busiest.index, busiest["account_id"], strict=True)
            for h in range(20)
        ]
    )
    activity = Activity(counts=counts, start=t0, width=pd.Timedelta("1h"), bins=72)
    return ClusterView(
        cluster_id=cluster_id,
        score=0.8,
        flagged=True,
        rank=1,
        reasons=["shared prepaid cards", "one prompt template"],
        features={"size": len(ids)},
        key_shares={"ip": 0.5, "payment": 0.3, "prompt": 0.2},
        accounts=accounts,
        values=values,
        links=links,
        prompts=prompts,
        activity=activity,
    )


def launch_browser() -> Any:
    """Start headless Chromium; fail (or skip with SYBILGRAPH_SKIP_BROWSER=1) if missing."""
    if not Path(CHROMIUM).exists():
        msg = (
            f"{CHROMIUM} not found: install it (apt-get install chromium) "
            "or set SYBILGRAPH_SKIP_BROWSER=1 to skip the browser tests"
        )
        if os.environ.get("SYBILGRAPH_SKIP_BROWSER") == "1":
            pytest.skip(msg)
        pytest.fail(msg)
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    return pw, browser


def make_large_view(n_accounts: int = 200, *, cluster_id: str = "c-large") -> ClusterView:
    """A cluster of ``n_accounts`` drawn as about 300 nodes once shared values are grouped.

    Account i holds ``ip`` 10.1.(i // 5) (40 addresses for 200 accounts, five accounts
    each), ``payment`` card-(i // 4) (four each), prompt template t-(i % 6), and the 8
    proxy addresses 172.16.(i // 10).0-7 of its block of ten accounts: 8 values of one
    key held by exactly the same accounts, which the page draws as one node. Accounts
    sharing a value are linked, weight 2 for a card, 1 for an address, 0.2 for a
    template (summed), so every account has about 40 links; account 0 is a sybil,
    account 1 benign. Nodes: 200 accounts, 40 + 50 + 6 values and 20 proxy groups.
    """
    ids = [f"acct{i:05d}" for i in range(n_accounts)]
    t0 = pd.Timestamp("2026-04-13T00:00:00Z")
    held: dict[str, list[tuple[str, str]]] = {}
    for i, a in enumerate(ids):
        held[a] = [
            ("ip", f"10.1.{i // 5}.1"),
            ("payment", f"card-{i // 4:03d}"),
            ("prompt", f"t-{i % 6}"),
            *(("ip", f"172.16.{i // 10}.{k}") for k in range(8)),
        ]
    weight_of = {"ip": 1.0, "payment": 2.0, "prompt": 0.2}
    rows = [
        {
            "account_id": a,
            "key": key,
            "value": value,
            "requests": 10 + i % 7,
            "first_seen": t0,
            "last_seen": t0 + pd.Timedelta(days=1),
            "holders": 5,
            "hub": False,
        }
        for i, a in enumerate(ids)
        for key, value in held[a]
    ]
    values = pd.DataFrame(rows)
    holders = values.groupby(["key", "value"])["account_id"].agg(list)
    pair_weight: dict[tuple[str, str], float] = {}
    pair_keys: dict[tuple[str, str], set[str]] = {}
    for (key, _), members in holders.items():
        for x, a in enumerate(members):
            for b in members[x + 1 :]:
                pair = (a, b) if a < b else (b, a)
                pair_weight[pair] = pair_weight.get(pair, 0.0) + weight_of[key]
                pair_keys.setdefault(pair, set()).add(key)
    pairs = sorted(pair_weight)
    links = pd.DataFrame(
        {
            "a": [a for a, _ in pairs],
            "b": [b for _, b in pairs],
            "weight": [round(pair_weight[p], 3) for p in pairs],
            "keys": [sorted(pair_keys[p]) for p in pairs],
            "evidence": [[f"{len(pair_keys[p])} keys"] for p in pairs],
            "first_seen": t0,
            "last_seen": t0 + pd.Timedelta(days=1),
        }
    )
    degree = pd.concat([links["a"], links["b"]]).value_counts()
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "requests": [5 + (i * 37) % 500 for i in range(n_accounts)],
            "first_seen": [t0 + pd.Timedelta(hours=i % 48) for i in range(n_accounts)],
            "last_seen": [t0 + pd.Timedelta(days=2, hours=i % 48) for i in range(n_accounts)],
            "score": 0.7,
            "verdict": [
                "sybil" if i == 0 else "benign" if i == 1 else None for i in range(n_accounts)
            ],
            "degree": [int(degree.get(a, 0)) for a in ids],
        }
    )
    prompts = pd.DataFrame(
        {
            "template": [f"t-{k}" for k in range(6)],
            "text": [f"write <num> product reviews of <*> in style {k}" for k in range(6)],
            "samples": [[f"write 5 product reviews of a kettle in style {k}"] for k in range(6)],
            "requests": [400 - k for k in range(6)],
            "accounts": [len(range(k, n_accounts, 6)) for k in range(6)],
        }
    )
    return ClusterView(
        cluster_id=cluster_id,
        score=0.7,
        flagged=True,
        rank=1,
        reasons=["shared cards", "rotating proxies"],
        features={"size": n_accounts},
        key_shares={"ip": 0.5, "payment": 0.3, "prompt": 0.2},
        accounts=accounts,
        values=values,
        links=links,
        prompts=prompts,
    )


def with_value_set(
    view: ClusterView, key: str, values: list[str], accounts: list[str]
) -> ClusterView:
    """``view`` with each of ``values`` (of ``key``) held by each of ``accounts``."""
    t0 = pd.Timestamp("2026-04-13T00:00:00Z")
    rows = pd.DataFrame(
        [
            {
                "account_id": a,
                "key": key,
                "value": v,
                "requests": 3,
                "first_seen": t0,
                "last_seen": t0,
                "holders": len(accounts),
                "hub": False,
            }
            for v in values
            for a in accounts
        ]
    )
    return dataclasses.replace(view, values=pd.concat([view.values, rows], ignore_index=True))
