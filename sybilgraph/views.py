"""What a cluster's page shows: its accounts, shared values, links and prompts.

``cluster_views`` gathers, for the clusters worth a page, everything the exporter needs
in one :class:`ClusterView` per cluster, straight from the engine's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sybilgraph.engines.base import Engine

__all__ = ["ClusterView", "cluster_views"]


@dataclass
class ClusterView:
    """One cluster, ready to draw.

    accounts: account_id, requests, first_seen, last_seen, score, verdict, degree
    values:   account_id, key, value, requests, first_seen, last_seen, holders, hub
    links:    a, b, weight, keys, evidence, first_seen, last_seen
    prompts:  template, text, samples (list of raw prompts), requests, accounts
    """

    cluster_id: str
    score: float
    flagged: bool
    rank: int
    reasons: list[str]
    features: dict[str, float | int | str]
    key_shares: dict[str, float]
    accounts: pd.DataFrame = field(repr=False)
    values: pd.DataFrame = field(repr=False)
    links: pd.DataFrame = field(repr=False)
    prompts: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        flag = "flagged" if self.flagged else "not flagged"
        return (
            f"ClusterView({self.cluster_id}: rank {self.rank}, {len(self.accounts)} accounts, "
            f"score {self.score:.3f}, {flag})"
        )


def cluster_views(
    engine: Engine,
    clusters: pd.DataFrame,
    cluster_ids: list[str],
    verdicts: pd.DataFrame | None = None,
    *,
    links_table: str = "links",
    value_labels: str | None = None,
) -> list[ClusterView]:
    """Build the views of ``cluster_ids`` (the ``membership`` table must exist).

    ``links_table`` is read for the links; with ``value_labels`` (key, value, label) each
    shared value is shown by its label (its pseudonym).
    """
    if not cluster_ids:
        return []
    import pyarrow as pa

    engine.register("view_ids_in", pa.table({"cluster_id": pa.array(cluster_ids, pa.string())}))
    engine.create_table(
        "view_members",
        "SELECT m.* FROM membership m JOIN view_ids_in v ON v.cluster_id = m.cluster_id",
    )
    engine.drop("view_ids_in")
    accounts = engine.arrow(
        """SELECT m.cluster_id, a.account_id, a.requests, a.first_seen, a.last_seen
           FROM view_members m JOIN accounts a ON a.account_id = m.account_id"""
    ).to_pandas()
    shown = "coalesce(d.label, o.value)" if value_labels else "o.value"
    label_join = (
        f"LEFT JOIN {value_labels} d ON d.key = o.key AND d.value = o.value" if value_labels else ""
    )
    values = engine.arrow(
        f"""SELECT m.cluster_id, o.account_id, o.key, {shown} AS value, o.n AS requests,
                  o.first_seen, o.last_seen, s.holders, (s.reason IS NOT NULL) AS hub
           FROM view_members m
           JOIN observations o ON o.account_id = m.account_id
           JOIN value_marks s ON s.key = o.key AND s.value = o.value
           {label_join}
           WHERE s.holders >= 2"""
    ).to_pandas()
    links = engine.arrow(
        f"""SELECT ma.cluster_id, l.a, l.b, l.weight, l.keys, l.evidence, l.first_seen,
                  l.last_seen
           FROM {links_table} l
           JOIN view_members ma ON ma.account_id = l.a
           JOIN view_members mb ON mb.account_id = l.b
           WHERE ma.cluster_id = mb.cluster_id"""
    ).to_pandas()
    has_templates = engine.exists("templates")
    prompts = (
        engine.arrow(
            """SELECT m.cluster_id, o.value AS template, t.text, t.samples,
                      sum(o.n) AS requests, count(*) AS accounts
               FROM view_members m
               JOIN observations o ON o.account_id = m.account_id AND o.key = 'prompt'
               JOIN templates t ON t.value = o.value
               GROUP BY m.cluster_id, o.value, t.text, t.samples"""
        ).to_pandas()
        if has_templates
        else pd.DataFrame(
            columns=["cluster_id", "template", "text", "samples", "requests", "accounts"]
        )
    )
    engine.drop("view_members")
    prompts["samples"] = prompts["samples"].map(
        lambda samples: [str(s) for s in samples] if samples is not None else []
    )
    verdict_of = (
        dict(zip(verdicts["account_id"], verdicts["verdict"], strict=False))
        if verdicts is not None and len(verdicts)
        else {}
    )
    degree = pd.concat(
        [
            links[["cluster_id", "a"]].rename(columns={"a": "account_id"}),
            links[["cluster_id", "b"]].rename(columns={"b": "account_id"}),
        ]
    )
    degree_of = degree.groupby("account_id").size().to_dict()

    records: dict[str, dict[Any, Any]] = {
        str(r["cluster_id"]): r for r in clusters.to_dict("records")
    }
    views = []
    for cluster_id in cluster_ids:
        row = records[cluster_id]
        members = accounts[accounts["cluster_id"] == cluster_id].drop(columns="cluster_id")
        members = members.sort_values(["requests", "account_id"], ascending=[False, True])
        members["score"] = float(row["score"])
        members["verdict"] = members["account_id"].map(verdict_of)
        members["degree"] = members["account_id"].map(degree_of).fillna(0).astype(int)
        features = {
            k: (v.item() if hasattr(v, "item") else v)
            for k, v in row.items()
            if k not in ("cluster_id", "reasons", "score", "flagged", "rank")
            and not str(k).startswith("share_")
        }
        shares = {
            str(k).removeprefix("share_"): float(v)
            for k, v in row.items()
            if str(k).startswith("share_") and pd.notna(v) and float(v) > 0
        }
        views.append(
            ClusterView(
                cluster_id=cluster_id,
                score=float(row["score"]),
                flagged=bool(row["flagged"]),
                rank=int(row["rank"]),
                reasons=[r for r in str(row["reasons"]).split("; ") if r],
                features=features,
                key_shares=shares,
                accounts=members.reset_index(drop=True),
                values=values[values["cluster_id"] == cluster_id]
                .drop(columns="cluster_id")
                .sort_values(["key", "value", "account_id"])
                .reset_index(drop=True),
                links=links[links["cluster_id"] == cluster_id]
                .drop(columns="cluster_id")
                .sort_values(["a", "b"])
                .reset_index(drop=True),
                prompts=prompts[prompts["cluster_id"] == cluster_id]
                .drop(columns="cluster_id")
                .sort_values(["requests", "template"], ascending=[False, True])
                .reset_index(drop=True),
            )
        )
    return views
