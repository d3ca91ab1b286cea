"""score: per-cluster features, an interpretable score, a flag and reasons in words.

The score is a logistic function of a weighted sum of features, each in [0, 1] or a
log ratio, so every term can be read off and explained::

    z = BIAS
        + W_TEMPLATE * max(template_share,  # requests on the cluster's own prompt templates
                           template_concentration)  # or requests per distinct template
        + W_VOLUME   * clip(log10(volume_ratio), -1, 1.5)   # median requests vs population
        + W_PAYMENT  * payment_share       # accounts on payment instruments shared inside
        + W_BURST    * burst               # first activity bunched in time
        + W_DENSITY  * density * [size > 2] # share of account pairs linked (the two
                                           # accounts of a pair are always linked)
        - W_SPREAD   * spread_share        # linking resting on values mostly held outside
    score = 1 / (1 + exp(-z))

``template_share`` is taken twice: a template is the cluster's own when at least half
its holders are inside; then, once every cluster has a first score, also when at least
half are inside or in clusters flagged by that first score (several rings sending one
template, or a ring Leiden left in pieces, each hold it only in part), and the score is
taken again.

A cluster is flagged when ``score >= threshold`` (0.5 by default). Households, offices
and classrooms share IPs, cards or one homework prompt, but not the combination of
machine-like prompt concentration and far-above-normal volume that an operator's ring
shows, and the two large weights sit on exactly those features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sybilgraph.config import ScoreConfig
from sybilgraph.engines.base import Engine
from sybilgraph.stages.tables import ClusterTables, LinkTables, ObservationTables

__all__ = ["WEIGHTS", "ScoreWeights", "score_clusters"]


@dataclass(frozen=True)
class ScoreWeights:
    """The coefficients of the score; documented in the module docstring."""

    bias: float = -6.0
    template: float = 5.0
    volume: float = 2.5
    payment: float = 1.0
    burst: float = 1.0
    density: float = 1.0
    spread: float = 1.5
    #: a template counts as the cluster's own when this share of its holders is inside
    own_template_share: float = 0.5
    #: requests per distinct template (log10) above which concentration starts to count;
    #: it is full two decades higher (10 -> 0, 1000 -> 1)
    concentration_from: float = 1.0
    #: first activity within this many hours counts as fully bunched
    burst_hours: float = 48.0
    #: ... and spread over this many hours as not bunched at all
    burst_spread_hours: float = 168.0


WEIGHTS = ScoreWeights()

FEATURE_COLUMNS = [
    "size",
    "links",
    "density",
    "requests",
    "requests_per_account",
    "volume_ratio",
    "payment_accounts",
    "payment_instruments",
    "instruments_per_account",
    "payment_share",
    "templates",
    "templates_with_flagged",
    "template_share",
    "requests_per_template",
    "template_concentration",
    "first_seen_span_hours",
    "burst",
    "spread_share",
    "confirmed_sybil",
    "confirmed_benign",
]


def score_clusters(
    engine: Engine,
    observed: ObservationTables,
    linked: LinkTables,
    membership: pd.DataFrame,
    config: ScoreConfig,
    *,
    verdicts: pd.DataFrame | None = None,
    weights: ScoreWeights = WEIGHTS,
) -> ClusterTables:
    """Compute features, score, flag, rank and reasons for every cluster.

    ``membership`` has account_id and cluster_id (no rows when nothing clustered: the
    clusters then have no rows either). ``verdicts`` (account_id, verdict) holds
    confirmed accounts: a cluster with a confirmed sybil ranks first and says so.

    Returns the membership as a table and one row per cluster, sorted by rank (1 = look
    at first).
    """
    engine.store(
        _MEMBERSHIP,
        pa.table(
            {
                "account_id": pa.array(membership["account_id"].astype(str), pa.string()),
                "cluster_id": pa.array(membership["cluster_id"].astype(str), pa.string()),
            }
        ),
    )
    if membership.empty:
        empty = pd.DataFrame(
            columns=["cluster_id", "rank", "score", "flagged", "reasons", *FEATURE_COLUMNS]
        )
        return ClusterTables(membership=_MEMBERSHIP, clusters=empty)

    members = engine.arrow(
        f"""SELECT m.cluster_id, a.account_id, a.requests, a.first_seen
           FROM {_MEMBERSHIP} m JOIN {observed.accounts} a ON a.account_id = m.account_id"""
    ).to_pandas()
    population_median = float(
        engine.scalar(f"SELECT median(requests) FROM {observed.accounts}") or 1.0  # type: ignore[arg-type]
    )
    values = engine.arrow(
        f"""SELECT m.cluster_id, o.account_id, o.key, o.value, o.n, s.holders
           FROM {_MEMBERSHIP} m
           JOIN {observed.observations} o ON o.account_id = m.account_id
           JOIN {linked.values} s ON s.key = o.key AND s.value = o.value
           WHERE o.key IN ('payment', 'prompt')"""
    ).to_pandas()
    links = engine.arrow(
        f"""SELECT ma.cluster_id, l.*
           FROM {linked.links} l
           JOIN {_MEMBERSHIP} ma ON ma.account_id = l.a
           JOIN {_MEMBERSHIP} mb ON mb.account_id = l.b
           WHERE ma.cluster_id = mb.cluster_id"""
    ).to_pandas()
    spread = _spread(engine, observed, linked)

    features = _features(members, values, links, spread, population_median, weights)
    features["confirmed_sybil"] = 0
    features["confirmed_benign"] = 0
    if verdicts is not None and not verdicts.empty:
        marked = membership.merge(verdicts, on="account_id")
        for verdict, column in (("sybil", "confirmed_sybil"), ("benign", "confirmed_benign")):
            counts = marked[marked["verdict"] == verdict].groupby("cluster_id").size()
            features[column] = features.index.map(counts.to_dict()).fillna(0).astype(int)

    first = _score(features, weights)
    # A template several rings send (or a ring's pieces) is held mostly outside each of
    # them, so at first none of them owns it. Holders in clusters flagged at first (or
    # holding a confirmed sybil) now count as the cluster's own: only clusters sharing
    # templates with flagged ones can rise, and never because of each other.
    flagged = set(features.index[(first >= config.threshold) | (features["confirmed_sybil"] > 0)])
    if flagged:
        alone = features["templates"].copy()
        _set_own_templates(features, _own_templates(values, weights, flagged))
        features["templates_with_flagged"] = features["templates"] - alone
    features["score"] = _score(features, weights)
    features["flagged"] = (features["score"] >= config.threshold) | (
        features["confirmed_sybil"] > 0
    )
    features["reasons"] = ["; ".join(_reasons(row, weights)) for row in features.to_dict("records")]
    features = features.reset_index()
    features = features.sort_values(
        ["confirmed_sybil", "score", "size", "cluster_id"],
        ascending=[False, False, False, True],
        key=lambda col: (col > 0) if col.name == "confirmed_sybil" else col,
        ignore_index=True,
    )
    features.insert(1, "rank", np.arange(1, len(features) + 1))
    front = ["cluster_id", "rank", "size", "score", "flagged", "reasons"]
    key_cols = sorted(c for c in features.columns if c.startswith("share_"))
    rest = [c for c in FEATURE_COLUMNS if c != "size"]
    return ClusterTables(membership=_MEMBERSHIP, clusters=features[front + rest + key_cols])


#: the table score makes: known to the others only through ``ClusterTables``
_MEMBERSHIP = "membership"


def _score(features: pd.DataFrame, weights: ScoreWeights) -> pd.Series:
    """The logistic score of the module docstring, rounded to 4 decimals."""
    z = (
        weights.bias
        + weights.template
        * np.maximum(features["template_share"], features["template_concentration"])
        + weights.volume * np.clip(np.log10(features["volume_ratio"].clip(lower=1e-3)), -1, 1.5)
        + weights.payment * features["payment_share"]
        + weights.burst * features["burst"]
        + weights.density * features["density"] * (features["size"] > 2)
        - weights.spread * features["spread_share"]
    )
    return (1.0 / (1.0 + np.exp(-z))).round(4)


def _own_templates(
    values: pd.DataFrame, weights: ScoreWeights, flagged: set[str] | None = None
) -> pd.DataFrame:
    """Per cluster: how many prompt templates are its own (``templates``) and its
    requests on them (``requests``).

    A template is the cluster's own when two or more of its accounts hold it and at least
    ``own_template_share`` of its holders are inside, or, given ``flagged`` clusters,
    inside or in one of those.
    """
    prompts = values[values["key"] == "prompt"]
    inside = prompts.groupby(["cluster_id", "value"])["account_id"].transform("size")
    counted = inside
    if flagged:
        in_flagged = prompts["cluster_id"].isin(flagged)
        by_flagged = prompts["value"].map(prompts[in_flagged].groupby("value").size())
        counted = inside + by_flagged.fillna(0) - np.where(in_flagged, inside, 0)
    own = (inside >= 2) & (counted >= weights.own_template_share * prompts["holders"])
    mine = prompts[own]
    return pd.DataFrame(
        {
            "templates": mine.groupby("cluster_id")["value"].nunique(),
            "requests": mine.groupby("cluster_id")["n"].sum(),
        }
    )


def _set_own_templates(features: pd.DataFrame, own: pd.DataFrame) -> None:
    """Set ``templates`` and ``template_share`` from :func:`_own_templates`."""
    own = own.reindex(features.index).fillna(0)
    features["templates"] = own["templates"].astype(int)
    features["template_share"] = (own["requests"] / features["requests"]).clip(0, 1).round(3)


def _spread(engine: Engine, observed: ObservationTables, linked: LinkTables) -> pd.DataFrame:
    """Per cluster: link weight in all, and the part resting on values mostly held
    outside the cluster. Staged table by table so the join order cannot blow up."""
    engine.create_table(
        "inner_pairs",
        f"""SELECT ma.cluster_id, p.key, p.value, p.w
           FROM {linked.pair_values} p
           JOIN {_MEMBERSHIP} ma ON ma.account_id = p.a
           JOIN {_MEMBERSHIP} mb ON mb.account_id = p.b
           WHERE ma.cluster_id = mb.cluster_id""",
    )
    engine.create_table(
        "inner_values",
        f"""SELECT m.cluster_id, o.key, o.value, count(*) AS inside
           FROM {observed.observations} o JOIN {_MEMBERSHIP} m ON m.account_id = o.account_id
           GROUP BY m.cluster_id, o.key, o.value""",
    )
    spread = engine.arrow(
        f"""SELECT p.cluster_id, sum(p.w) AS w_total,
                  sum(CASE WHEN s.holders > 2 * i.inside THEN p.w ELSE 0 END) AS w_spread
           FROM inner_pairs p
           JOIN {linked.values} s ON s.key = p.key AND s.value = p.value
           JOIN inner_values i ON i.cluster_id = p.cluster_id AND i.key = p.key
                AND i.value = p.value
           GROUP BY p.cluster_id"""
    ).to_pandas()
    engine.drop("inner_pairs")
    engine.drop("inner_values")
    return spread


def _features(
    members: pd.DataFrame,
    values: pd.DataFrame,
    links: pd.DataFrame,
    spread: pd.DataFrame,
    population_median: float,
    weights: ScoreWeights,
) -> pd.DataFrame:
    by_cluster = members.groupby("cluster_id")
    features = pd.DataFrame(
        {
            "size": by_cluster.size(),
            "requests": by_cluster["requests"].sum(),
            "median_requests": by_cluster["requests"].median(),
        }
    )
    first = by_cluster["first_seen"]
    span = (first.quantile(0.9) - first.quantile(0.1)).dt.total_seconds() / 3600.0
    features["first_seen_span_hours"] = span.round(1)
    features["burst"] = np.clip(
        1.0 - (span - weights.burst_hours) / (weights.burst_spread_hours - weights.burst_hours),
        0.0,
        1.0,
    )
    features["requests_per_account"] = (features["requests"] / features["size"]).round(1)
    features["volume_ratio"] = (features["median_requests"] / max(population_median, 1.0)).round(3)

    link_groups = links.groupby("cluster_id")
    features["links"] = link_groups.size().reindex(features.index).fillna(0).astype(int)
    pairs = features["size"] * (features["size"] - 1) / 2
    features["density"] = (features["links"] / pairs).round(4)
    total_weight = link_groups["weight"].sum().reindex(features.index).fillna(0.0)
    for column in [c for c in links.columns if c.endswith("_weight")]:
        key_weight = link_groups[column].sum().reindex(features.index).fillna(0.0)
        share = (key_weight / total_weight.where(total_weight > 0, 1.0)).round(3)
        features["share_" + column.removesuffix("_weight")] = share

    payments = values[values["key"] == "payment"]
    inside = payments.groupby(["cluster_id", "value"])["account_id"].transform("size")
    shared_pay = payments[inside >= 2]
    features["payment_accounts"] = (
        (shared_pay.groupby("cluster_id")["account_id"].nunique().reindex(features.index))
        .fillna(0)
        .astype(int)
    )
    features["payment_instruments"] = (
        (shared_pay.groupby("cluster_id")["value"].nunique().reindex(features.index))
        .fillna(0)
        .astype(int)
    )
    per_account = payments.groupby(["cluster_id", "account_id"]).size().groupby("cluster_id")
    features["instruments_per_account"] = (
        per_account.mean().reindex(features.index).fillna(0.0).round(2)
    )
    features["payment_share"] = (features["payment_accounts"] / features["size"]).round(3)

    _set_own_templates(features, _own_templates(values, weights))
    features["templates_with_flagged"] = 0

    prompts = values[values["key"] == "prompt"]
    distinct = prompts.groupby("cluster_id")["value"].nunique().reindex(features.index)
    prompted = prompts.groupby("cluster_id")["n"].sum().reindex(features.index)
    per_template = (prompted / distinct.where(distinct > 0)).fillna(1.0)
    features["requests_per_template"] = per_template.round(1)
    features["template_concentration"] = np.clip(
        (np.log10(per_template.clip(lower=1.0)) - weights.concentration_from) / 2.0, 0.0, 1.0
    ).round(3)

    spread = spread.set_index("cluster_id").reindex(features.index)
    features["spread_share"] = (
        (spread["w_spread"] / spread["w_total"].where(spread["w_total"] > 0)).fillna(0.0)
    ).round(3)
    return features.drop(columns=["median_requests"])


def _reasons(f: dict[Any, Any], weights: ScoreWeights) -> list[str]:
    """Plain sentences for the features that weigh most, strongest first."""
    size = int(f["size"])
    scored: list[tuple[float, str]] = []
    if f["confirmed_sybil"]:
        scored.append((99.0, f"{f['confirmed_sybil']} accounts confirmed sybil by an investigator"))
    if f["templates"]:
        scored.append(
            (
                weights.template * f["template_share"],
                f"{_pct(f['template_share'])} of requests follow "
                f"{_n(f['templates'], 'prompt template')} shared inside the cluster"
                + (
                    f" ({f['templates_with_flagged']} of them also with flagged clusters)"
                    if f["templates_with_flagged"]
                    else ""
                ),
            )
        )
    if f["template_concentration"] > f["template_share"]:
        scored.append(
            (
                weights.template * f["template_concentration"],
                f"{f['requests_per_template']:.0f} requests per distinct prompt template",
            )
        )
    if f["payment_accounts"]:
        scored.append(
            (
                weights.payment * f["payment_share"],
                f"{f['payment_accounts']} of {size} accounts share "
                f"{_n(f['payment_instruments'], 'payment instrument')}",
            )
        )
    ratio = float(f["volume_ratio"])
    if ratio >= 2:
        scored.append(
            (
                weights.volume * min(math.log10(ratio), 1.5),
                f"median account sends {ratio:.0f}× the requests of a typical account",
            )
        )
    elif ratio <= 0.5:
        scored.append((0.1, f"low volume: median account sends {ratio:.1f}× a typical account"))
    span = float(f["first_seen_span_hours"])
    if f["burst"] > 0:
        when = (
            "an hour"
            if span <= 1
            else f"{span:.0f} hours"
            if span < 48
            else f"{span / 24:.0f} days"
        )
        scored.append((weights.burst * f["burst"], f"80% of accounts first seen within {when}"))
    if f["density"] >= 0.5 and size > 2:
        scored.append(
            (weights.density * f["density"], f"{_pct(f['density'])} of account pairs linked")
        )
    if f["spread_share"] >= 0.3:
        scored.append(
            (
                weights.spread * f["spread_share"],
                f"{_pct(f['spread_share'])} of the linking rests on values mostly held "
                "outside the cluster",
            )
        )
    if f["confirmed_benign"]:
        scored.append((0.05, f"{f['confirmed_benign']} accounts confirmed benign"))
    scored.sort(key=lambda item: -item[0])
    return [text for _, text in scored]


def _pct(share: float) -> str:
    return f"{round(100 * float(share))}%"


def _n(count: int, noun: str) -> str:
    return f"{int(count)} {noun}{'' if int(count) == 1 else 's'}"
