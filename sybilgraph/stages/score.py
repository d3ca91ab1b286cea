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

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sybilgraph.config import ScoreConfig
from sybilgraph.engines.base import Engine
from sybilgraph.stages.learn import MIN_CLUSTERS, Fitted, fit_weights
from sybilgraph.stages.observe import KEY_TIME
from sybilgraph.stages.tables import ClusterTables, LinkTables, ObservationTables

__all__ = ["TERMS", "WEIGHTS", "ScoreWeights", "score_clusters", "score_terms", "size_evidence"]

log = logging.getLogger(__name__)


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
    #: how much the number of accounts counts (``size_evidence``: 0 at 2 accounts, 1 at
    #: 64, log scale). 0 where there are events: households, offices and classrooms are
    #: groups too, and their size says nothing beside how their accounts behave
    size: float = 0.0
    #: ... and where there are none (a graph of accounts, no requests to look at), the
    #: size of a group tied through values held mostly inside it is the evidence that
    #: is left, as the published methods for transfer graphs take it (components of 8 or
    #: more candidates): it takes the place of the template term
    graph_size: float = 5.0
    #: ... and without events a group of this many accounts is flagged on its size alone
    #: (the bias is ``-graph_size * size_evidence(graph_flag_size)``), as those methods
    #: flag a component of 8 candidates (Hop, Trusta); a smaller group needs its first
    #: sights bunched (4 accounts: fully). Density is not counted there: a component of
    #: transfers is a star around its funder (every pair linked through it) or a chain
    #: (few pairs linked), farms both, and friends who pay each other are dense too
    graph_flag_size: float = 8.0
    #: scale the bias by the share of the terms the data can have (see ``_z``); off for
    #: weights fitted to the data's own verdicts
    renormalise: bool = True
    #: a template counts as the cluster's own when this share of its holders is inside
    own_template_share: float = 0.5
    #: requests per distinct template (log10) above which concentration starts to count;
    #: it is full two decades higher (10 -> 0, 1000 -> 1)
    concentration_from: float = 1.0
    #: shared content (templates, wrappers) counts in full from this many times the
    #: population's median volume, and half at the median or below (log scale between):
    #: the users of one tool share its template or system prompt at ordinary volume; an
    #: operator's accounts share theirs at many times it. Off (0) without volumes
    content_volume: float = 5.0
    #: ... and in full from this many pieces of shared text owned (see content_breadth:
    #: the wrappers alone where the shared content rests on them)
    content_breadth: float = 4.0
    #: first activity within this many hours counts as fully bunched
    burst_hours: float = 48.0
    #: ... and spread over this many hours as not bunched at all; or, whichever is more,
    #: bunched against the population's own spread (10th to 90th percentile of first
    #: seen): as spread as it, 0; this many decades narrower, 1. A week of API traffic
    #: is read by the hours above, data over months (an airdrop's candidates) by this
    burst_spread_hours: float = 168.0
    burst_decades: float = 2.0


WEIGHTS = ScoreWeights()

#: the score's terms, in the order they are summed; each term's largest value (the
#: spread term only lowers a score)
TERMS = ("template", "volume", "payment", "burst", "density", "size", "spread")
TERM_MAX = {
    "template": 1.0,
    "volume": 1.5,
    "payment": 1.0,
    "burst": 1.0,
    "density": 1.0,
    "size": 1.0,
}

#: the features of each term that only exists where the data has its key or column
_FEATURES_OF = {
    "prompts": [
        "templates",
        "templates_with_flagged",
        "template_share",
        "wrappers",
        "wrapper_share",
        "requests_per_template",
        "template_concentration",
    ],
    "payment": [
        "payment_accounts",
        "payment_instruments",
        "instruments_per_account",
        "payment_share",
    ],
    "burst": ["first_seen_span_hours", "burst"],
    "lockstep": ["lockstep_share"],
    "hours": ["hours_of_day"],
    "volume": ["volume_ratio"],
    "requests": ["requests", "requests_per_account"],
}

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
    "wrappers",
    "wrapper_share",
    "lockstep_share",
    "hours_of_day",
    "first_seen_span_hours",
    "burst",
    "spread_share",
    "confirmed_sybil",
    "confirmed_benign",
    "confirmed_not_sybil",
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
        f"""SELECT m.cluster_id, a.account_id, a.requests, a.first_seen, a.volume
           FROM {_MEMBERSHIP} m JOIN {observed.accounts} a ON a.account_id = m.account_id"""
    ).to_pandas()
    seconds = engine.dialect.epoch("first_seen")
    population = engine.arrow(
        f"""SELECT median(volume) AS median, count(DISTINCT volume) AS volumes,
                  max(requests) AS requests,
                  percentile_cont(0.9) WITHIN GROUP (ORDER BY {seconds})
                  - percentile_cont(0.1) WITHIN GROUP (ORDER BY {seconds}) AS span,
                  min(first_seen) AS start
           FROM {observed.accounts} WHERE subject"""
    ).to_pylist()[0]
    population_median = float(population["median"] or 1.0)
    population_span = float(population["span"] or 0.0) / 3600.0
    defined = _defined_terms(observed, linked, population)
    values = engine.arrow(
        f"""SELECT m.cluster_id, o.account_id, o.key, o.value, o.n,
                  coalesce(s.holders, 1) AS holders
           FROM {_MEMBERSHIP} m
           JOIN {observed.observations} o ON o.account_id = m.account_id
           LEFT JOIN {linked.values} s ON s.key = o.key AND s.value = o.value
           WHERE o.key IN ('payment', 'prompt', 'wrapper')"""
    ).to_pandas()
    # the links inside clusters, each with its weight on each key: their evidence (texts)
    # is read by no feature, and held by pandas it was most of the stage's memory
    key_weights = [
        engine.dialect.quote_ident(c)
        for c in engine.arrow(f"SELECT * FROM {linked.links} LIMIT 0").column_names
        if c.endswith("_weight")
    ]
    links = engine.arrow(
        f"""SELECT {", ".join(["ma.cluster_id", *(f"l.{c}" for c in key_weights)])}
           FROM {linked.links} l
           JOIN {_MEMBERSHIP} ma ON ma.account_id = l.a
           JOIN {_MEMBERSHIP} mb ON mb.account_id = l.b
           WHERE ma.cluster_id = mb.cluster_id"""
    ).to_pandas()
    spread = _spread(engine, observed, linked)

    start = population["start"]
    features = _features(
        members,
        values,
        links,
        spread,
        population_median,
        population_span,
        None if start is None else _naive(pd.Series([start])).iloc[0],
        weights,
    )
    if "hours" in defined:
        hours = _hours_of_day(engine, observed).reindex(features.index)
        features["hours_of_day"] = hours.fillna(0.0)
    features["confirmed_sybil"] = 0
    features["confirmed_benign"] = 0
    features["confirmed_not_sybil"] = 0
    fitted = None
    if verdicts is not None and not verdicts.empty:
        marked = membership.merge(verdicts, on="account_id")
        for verdict in ("sybil", "benign", "not_sybil"):
            column = f"confirmed_{verdict}"
            counts = marked[marked["verdict"] == verdict].groupby("cluster_id").size()
            features[column] = features.index.map(counts.to_dict()).fillna(0).astype(int)
        if config.learn:
            examples = marked.assign(sybil=marked["verdict"] == "sybil")[["cluster_id", "sybil"]]
            fitted = fit_weights(
                score_terms(features, defined, weights), examples, config.threshold
            )
            if fitted is None:
                log.info(
                    "too few verdicts to learn the score's weights from (%d clusters with "
                    "a sybil and %d without are needed): default weights",
                    MIN_CLUSTERS,
                    MIN_CLUSTERS,
                )
            else:
                log.info("%s", fitted.describe())
                weights = fitted_weights(fitted, weights)

    first = _score(features, weights, defined)
    # A template several rings send (or a ring's pieces) is held mostly outside each of
    # them, so at first none of them owns it. Holders in clusters flagged at first (or
    # holding a confirmed sybil) now count as the cluster's own: only clusters sharing
    # templates with flagged ones can rise, and never because of each other.
    decided = _decided(features)
    flagged = set(features.index[decided.where(decided.notna(), first >= config.threshold)])
    if flagged:
        alone = features["templates"].copy()
        _set_own_templates(features, _own_templates(values, weights, flagged))
        features["templates_with_flagged"] = features["templates"] - alone
    features["score"] = _score(features, weights, defined)
    features["flagged"] = decided.where(decided.notna(), features["score"] >= config.threshold)
    features["flagged"] = features["flagged"].astype(bool)
    # what share of its shared content counts, for the reasons (one pass, not per row)
    features["content_gate"] = content_gate(features, defined, weights)
    features["content_breadth"] = content_breadth(features, weights)
    features["pieces_owned"] = _pieces_owned(features)
    features["on_wrappers"] = _rests_on_wrappers(features)
    features["reasons"] = [
        "; ".join(_reasons(row, effective_weights(weights, defined), defined))
        for row in features.to_dict("records")
    ]
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
    # no feature of a key or column the data lacks
    absent = {c for term, columns in _FEATURES_OF.items() if term not in defined for c in columns}
    rest = [c for c in FEATURE_COLUMNS if c != "size" and c not in absent]
    used = effective_weights(weights, defined)
    model = {
        "terms": [t for t in TERMS if t in defined],
        "weights": {t: getattr(used, t) for t in TERMS if t in defined},
        "bias": round(_bias(weights, defined), 4),
        "learned": fitted.as_dict() if fitted else None,
    }
    return ClusterTables(
        membership=_MEMBERSHIP, clusters=features[front + rest + key_cols], model=model
    )


#: the table score makes: known to the others only through ``ClusterTables``
_MEMBERSHIP = "membership"


def _decided(features: pd.DataFrame) -> pd.Series:
    """Clusters whose verdicts decide their flag: True where more of the accounts with
    a verdict are sybils than cleared (benign or not_sybil), False where fewer, missing
    where as many (none included): there the score decides.

    One sybil among many ordinary users whom investigators cleared (a farm's address
    that paid into a friend group) does not flag the group; it still ranks the cluster
    first, and the sybil is known.
    """
    sybil = features["confirmed_sybil"]
    cleared = features["confirmed_benign"] + features["confirmed_not_sybil"]
    decided = pd.Series(pd.NA, index=features.index, dtype="boolean")
    decided[sybil > cleared] = True
    decided[sybil < cleared] = False
    return decided


#: a cluster whose median account is active in this many hours of the day (or more) is
#: said to be active around the clock (a reason in words; not scored: people who send
#: a few requests cannot cover many hours, and a volume term already counts how much
#: an account sends)
AROUND_THE_CLOCK = 20


def _hours_of_day(engine: Engine, observed: ObservationTables) -> pd.Series:
    """Per cluster, the median over its accounts of the hours of the day (UTC) in which
    each was active."""
    minutes = float(observed.activity_minutes)
    hour = f"CAST(floor(a.slot * {minutes} / 60.0) AS BIGINT) % 24"
    hours = engine.arrow(
        f"""SELECT m.cluster_id, count(DISTINCT {hour}) AS hours
            FROM {_MEMBERSHIP} m JOIN {observed.activity} a ON a.account_id = m.account_id
            GROUP BY m.cluster_id, m.account_id"""
    ).to_pandas()
    return hours.groupby("cluster_id")["hours"].median().astype(float)


def _defined_terms(
    observed: ObservationTables, linked: LinkTables, population: dict[str, Any]
) -> set[str]:
    """The score's terms the data can have: a term of a key or column it lacks is left
    out, not counted as zero. Acting in lockstep (key ``time``) is coordination as
    shared content is: it counts in the template term."""
    defined = {"density", "size", "spread"}
    if observed.prompt_map is not None:
        defined |= {"template", "prompts"}  # "prompts": the features of prompts
    if KEY_TIME in linked.keys:
        defined |= {"template", "lockstep"}
    if observed.activity is not None and observed.activity_minutes > 0 and observed.timed:
        defined.add("hours")  # a feature only: how much of the day the accounts cover
    if "payment" in observed.keys:
        defined.add("payment")
    if observed.timed:
        defined.add("burst")
    if int(population["volumes"] or 0) > 1:
        defined.add("volume")
    if int(population["requests"] or 0) > 0:
        defined.add("requests")  # features only: the volume term covers requests
    return defined


def content_gate(
    features: pd.DataFrame, defined: set[str], weights: ScoreWeights = WEIGHTS
) -> pd.Series:
    """How much of a cluster's shared content counts: 1 from ``content_volume`` times the
    population's median volume, 0.5 at the median or below, log scale between; 1 where
    the data has no volumes or the gate is off."""
    if "volume" not in defined or weights.content_volume <= 1.0:
        return pd.Series(1.0, index=features.index)
    ratio = np.log10(features["volume_ratio"].clip(lower=1.0)) / math.log10(weights.content_volume)
    return pd.Series(0.5 + 0.5 * np.clip(ratio, 0.0, 1.0), index=features.index)


def content_breadth(features: pd.DataFrame, weights: ScoreWeights = WEIGHTS) -> pd.Series:
    """How much of a cluster's shared content counts by how many pieces of text it owns
    (the templates, or the wrappers where the content rests on them): 1 from
    ``content_breadth`` of them, less below on a log scale (one: 0.43 at 4), and 1
    where it shares a template with a flagged cluster. Sharing one text is what the
    users of one tool (its system prompt) or of one class (its homework) do; an
    operator sweeping tasks through its accounts shares many.

    Where the shared content rests on wrappers (``wrapper_share`` at least the template
    share), the pieces are the wrappers alone: a long opening shared word for word
    makes near-duplicate templates of the different short tasks it precedes, so one
    tool's system prompt would otherwise count as several templates. A wrapper's ends
    are compared exactly, and an operator repeating its tasks shares their ends too.
    Where the content rests on templates, the wrappers are not counted: the heavy users
    of a popular tool share one strict group of its system prompt (97% of their
    requests) and, by chance, a few wrapper ends (1% of them), which counted as pieces
    owned and flagged them (coordinated synth seeds 1234 and 5005)."""
    if weights.content_breadth <= 1:
        return pd.Series(1.0, index=features.index)
    owned = _pieces_owned(features).astype(float)
    breadth = np.log2(1.0 + owned) / math.log2(1.0 + weights.content_breadth)
    # a template shared with a flagged ring is that ring's, not a tool's
    breadth = np.where(features["templates_with_flagged"] > 0, 1.0, breadth)
    return pd.Series(np.clip(breadth, 0.0, 1.0), index=features.index)


def _rests_on_wrappers(features: pd.DataFrame) -> pd.Series:
    """Whether a cluster's shared content rests on its wrappers (see content_breadth)."""
    return (features["wrappers"] > 0) & (features["wrapper_share"] >= features["template_share"])


def _pieces_owned(features: pd.DataFrame) -> pd.Series:
    """The pieces of shared text content_breadth counts: the wrappers where the content
    rests on them, else the templates."""
    return features["wrappers"].where(_rests_on_wrappers(features), features["templates"])


def score_terms(
    features: pd.DataFrame, defined: set[str], weights: ScoreWeights = WEIGHTS
) -> pd.DataFrame:
    """The score's terms per cluster, in the order they are summed (defined ones only).

    Each is in [0, 1] but volume, a log10 ratio clipped to [-1, 1.5], and spread, a
    share taken negative (it lowers a score)."""
    terms: dict[str, pd.Series] = {}
    if "template" in defined:
        content = np.maximum(features["template_share"], features["template_concentration"])
        content = np.maximum(content, features["wrapper_share"])
        gate = content_gate(features, defined, weights)
        terms["template"] = (
            pd.Series(content, index=features.index) * gate * content_breadth(features, weights)
        )
        if "lockstep" in defined:
            # the breadth of owned texts says nothing of acting together in time
            lockstep = features["lockstep_share"] * gate
            terms["template"] = terms["template"].where(terms["template"] >= lockstep, lockstep)
    if "volume" in defined:
        terms["volume"] = pd.Series(
            np.clip(np.log10(features["volume_ratio"].clip(lower=1e-3)), -1, 1.5),
            index=features.index,
        )
    if "payment" in defined:
        terms["payment"] = features["payment_share"]
    if "burst" in defined:
        terms["burst"] = features["burst"]
    terms["density"] = features["density"] * (features["size"] > 2)
    terms["size"] = size_evidence(features["size"])
    terms["spread"] = -features["spread_share"]
    return pd.DataFrame(terms, index=features.index)


def size_evidence(size: pd.Series) -> pd.Series:
    """0 for two accounts, 1 for 64 or more, on a log scale."""
    return pd.Series(np.clip(np.log2(size.astype(float) / 2.0) / 5.0, 0.0, 1.0), index=size.index)


def effective_weights(weights: ScoreWeights, defined: set[str]) -> ScoreWeights:
    """The weights a run uses: without events (no requests: a graph of accounts) the
    size of a group counts (``graph_size``), and neither its density (see
    ``graph_flag_size``) nor a volume from the accounts' attributes does (its meaning is
    the data's: a high volume marks an API operator, a low one an airdrop farm), unless
    fitted to verdicts."""
    if not _graph_only(weights, defined):
        return weights
    return dataclasses.replace(weights, size=weights.graph_size, volume=0.0, density=0.0)


def _graph_only(weights: ScoreWeights, defined: set[str]) -> bool:
    """Default weights on a graph of accounts without events."""
    return "requests" not in defined and weights.renormalise


def _bias(weights: ScoreWeights, defined: set[str]) -> float:
    """The bias, scaled by the share of the terms' largest sum the data can reach.

    The default bias asks for about half of what the terms together can give where the
    data has everything (prompts, cards, requests); data without prompts or cards cannot
    give those terms, and asking it for the same sum would flag nothing whatever its
    clusters show. Without events the bias is set by the size at which a group is
    flagged on its size alone (``graph_flag_size``).
    """
    if not weights.renormalise:
        return weights.bias
    if _graph_only(weights, defined):
        flag_size = pd.Series([weights.graph_flag_size])
        return -weights.graph_size * float(size_evidence(flag_size).iloc[0])
    full = sum(getattr(WEIGHTS, term) * most for term, most in TERM_MAX.items())
    used = effective_weights(weights, defined)
    here = sum(getattr(used, t) * most for t, most in TERM_MAX.items() if t in defined)
    return weights.bias * (here / full) if full > 0 else weights.bias


def _score(features: pd.DataFrame, weights: ScoreWeights, defined: set[str]) -> pd.Series:
    """The logistic score of the module docstring, rounded to 4 decimals."""
    z = pd.Series(_bias(weights, defined), index=features.index)
    used = effective_weights(weights, defined)
    for term, values in score_terms(features, defined, weights).items():
        z = z + getattr(used, str(term)) * values
    return pd.Series(1.0 / (1.0 + np.exp(-z)), index=features.index).round(4)


def fitted_weights(fitted: Fitted, defaults: ScoreWeights) -> ScoreWeights:
    """The score's weights as fitted to verdicts (terms the data lacks keep defaults)."""
    return dataclasses.replace(defaults, bias=fitted.bias, renormalise=False, **fitted.weights)


def _own_templates(
    values: pd.DataFrame,
    weights: ScoreWeights,
    flagged: set[str] | None = None,
    key: str = "prompt",
) -> pd.DataFrame:
    """Per cluster: how many prompt templates (or wrappers: ``key``) are its own
    (``templates``) and its requests on them (``requests``).

    A template is the cluster's own when two or more of its accounts hold it and at least
    ``own_template_share`` of its holders are inside, or, given ``flagged`` clusters,
    inside or in one of those.
    """
    prompts = values[values["key"] == key]
    inside = prompts.groupby(["cluster_id", "value"])["account_id"].transform("size")
    counted = inside
    if flagged:
        in_flagged = prompts["cluster_id"].isin(flagged)
        by_flagged = prompts["value"].map(prompts[in_flagged].groupby("value").size())
        # an empty map comes back as text: counts are numbers whatever the rows
        counted = inside + by_flagged.astype(float).fillna(0) - np.where(in_flagged, inside, 0)
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
    outside the cluster, each link's part on shared infrastructure capped as its weight
    caps it. Staged table by table so the join order cannot blow up, on link's numbers
    of accounts and values (at 30M synth events, 37.8M pair values: as texts, 17 s)."""
    numbers = linked.numbers
    engine.create_table(
        "member_numbers",
        f"""SELECT n.num, m.cluster_id FROM {_MEMBERSHIP} m
           JOIN {numbers.accounts} n ON n.account_id = m.account_id""",
    )
    engine.create_table(
        "inner_pairs",
        f"""SELECT ma.cluster_id, p.a, p.b, v.key, p.value, p.w
           FROM {numbers.pairs} p
           JOIN member_numbers ma ON ma.num = p.a
           JOIN member_numbers mb ON mb.num = p.b
           JOIN {numbers.values} v ON v.num = p.value
           WHERE ma.cluster_id = mb.cluster_id""",
    )
    engine.drop("member_numbers")
    # the values of the pairs inside, with their holders and how many hold them inside
    engine.create_table(
        "inner_values",
        f"""SELECT m.cluster_id, v.num AS value, count(*) AS inside
           FROM {observed.observations} o JOIN {_MEMBERSHIP} m ON m.account_id = o.account_id
           JOIN {numbers.values} v ON v.key = o.key AND v.value = o.value
           GROUP BY m.cluster_id, v.num""",
    )
    engine.create_table(
        "value_holders",
        f"""SELECT v.num AS value, s.holders FROM {numbers.values} v
           JOIN {linked.values} s ON s.key = v.key AND s.value = v.value""",
    )
    literal = engine.dialect.literal
    infra = (
        f"p.key IN ({', '.join(literal(k) for k in linked.infrastructure)})"
        if linked.infrastructure
        else "false"
    )
    outside = "s.holders > 2 * i.inside"
    engine.create_table(
        "inner_links",
        f"""SELECT p.cluster_id, p.a, p.b,
                  sum(CASE WHEN {infra} THEN p.w ELSE 0 END) AS wi,
                  sum(CASE WHEN {infra} AND {outside} THEN p.w ELSE 0 END) AS wi_spread,
                  sum(CASE WHEN {infra} THEN 0 ELSE p.w END) AS wo,
                  sum(CASE WHEN NOT {infra} AND {outside} THEN p.w ELSE 0 END) AS wo_spread
           FROM inner_pairs p
           JOIN value_holders s ON s.value = p.value
           JOIN inner_values i ON i.cluster_id = p.cluster_id AND i.value = p.value
           GROUP BY p.cluster_id, p.a, p.b""",
    )
    # a link's part on shared infrastructure counts as the link's weight counts it
    cap = float(linked.infrastructure_cap)
    scale = f"CASE WHEN {cap} > 0 AND wi > {cap} THEN {cap} / wi ELSE 1.0 END"
    spread = engine.arrow(
        f"""SELECT cluster_id, sum(wo + wi * {scale}) AS w_total,
                  sum(wo_spread + wi_spread * {scale}) AS w_spread
           FROM inner_links GROUP BY cluster_id"""
    ).to_pandas()
    engine.drop("inner_links")
    engine.drop("inner_pairs")
    engine.drop("inner_values")
    engine.drop("value_holders")
    return spread


def _features(
    members: pd.DataFrame,
    values: pd.DataFrame,
    links: pd.DataFrame,
    spread: pd.DataFrame,
    population_median: float,
    population_span: float,
    start: Any,
    weights: ScoreWeights,
) -> pd.DataFrame:
    by_cluster = members.groupby("cluster_id")
    features = pd.DataFrame(
        {
            "size": by_cluster.size(),
            "requests": by_cluster["requests"].sum(),
            "median_volume": by_cluster["volume"].median(),
        }
    )
    seen = _naive(members["first_seen"])
    span = _span_hours(seen.groupby(members["cluster_id"])).reindex(features.index)
    # an account first seen on the data's first day may be of any age: only accounts
    # that appear later can be bunched by their creation
    later = seen > start + pd.Timedelta(days=1) if start is not None else seen.notna()
    fresh = seen[later].groupby(members.loc[later, "cluster_id"])
    n_new = fresh.size().reindex(features.index).fillna(0)
    enough = n_new >= np.maximum(2, 0.5 * features["size"])
    span = _span_hours(fresh).reindex(features.index).fillna(0.0).where(enough, span)
    features["first_seen_span_hours"] = span.round(1)
    absolute = np.clip(
        1.0 - (span - weights.burst_hours) / (weights.burst_spread_hours - weights.burst_hours),
        0.0,
        1.0,
    )
    # ... or bunched against the population's own spread, for data spanning months
    relative = np.clip(
        np.log10(max(population_span, 1.0) / span.clip(lower=1.0)) / weights.burst_decades,
        0.0,
        1.0,
    )
    features["burst"] = np.maximum(absolute, relative).where(enough, 0.0).round(4)
    features["population_span_hours"] = round(population_span, 1)
    features["requests_per_account"] = (features["requests"] / features["size"]).round(1)
    # the accounts' own volume where the data gives one, else their requests
    features["volume_ratio"] = (features["median_volume"] / max(population_median, 1.0)).round(3)

    link_groups = links.groupby("cluster_id")
    features["links"] = link_groups.size().reindex(features.index).fillna(0).astype(int)
    pairs = features["size"] * (features["size"] - 1) / 2
    features["density"] = (features["links"] / pairs).round(4)
    # shares of the keys' own weights (a link's weight caps shared infrastructure)
    key_columns = [c for c in links.columns if c.endswith("_weight")]
    total_weight = (
        link_groups[key_columns].sum().sum(axis=1).reindex(features.index).fillna(0.0)
        if key_columns
        else pd.Series(0.0, index=features.index)
    )
    for column in key_columns:
        key_weight = link_groups[column].sum().reindex(features.index).fillna(0.0)
        share = (key_weight / total_weight.where(total_weight > 0, 1.0)).round(3)
        features["share_" + column.removesuffix("_weight")] = share
    features["lockstep_share"] = features.get(f"share_{KEY_TIME}", 0.0)

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
    wrappers = _own_templates(values, weights, key="wrapper").reindex(features.index).fillna(0)
    features["wrappers"] = wrappers["templates"].astype(int)
    features["wrapper_share"] = (wrappers["requests"] / features["requests"]).clip(0, 1).round(3)

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
    return features.drop(columns=["median_volume"])


def _reasons(f: dict[Any, Any], weights: ScoreWeights, defined: set[str]) -> list[str]:
    """Plain sentences for the features that weigh most, strongest first; none about a
    term the data cannot have."""
    size = int(f["size"])
    scored: list[tuple[float, str]] = []
    if f["confirmed_sybil"]:
        scored.append(
            (99.0, f"{_n(f['confirmed_sybil'], 'account')} confirmed sybil by an investigator")
        )
    if "template" in defined and f["templates"]:
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
    if "template" in defined and f["wrappers"]:
        scored.append(
            (
                weights.template * f["wrapper_share"],
                f"{_pct(f['wrapper_share'])} of requests go through "
                f"{_n(f['wrappers'], 'instruction wrapper')} shared inside the cluster",
            )
        )
    if "lockstep" in defined and f["lockstep_share"] > 0:
        scored.append(
            (
                weights.template * f["lockstep_share"],
                f"{_pct(f['lockstep_share'])} of the linking rests on accounts acting in "
                "lockstep (the same time windows, far more often than chance)",
            )
        )
    if "template" in defined and f["template_concentration"] > f["template_share"]:
        scored.append(
            (
                weights.template * f["template_concentration"],
                f"{f['requests_per_template']:.0f} requests per distinct prompt template",
            )
        )
    if "payment" in defined and f["payment_accounts"]:
        scored.append(
            (
                weights.payment * f["payment_share"],
                f"{f['payment_accounts']} of {size} accounts share "
                f"{_n(f['payment_instruments'], 'payment instrument')}",
            )
        )
    ratio = float(f["volume_ratio"]) if "volume" in defined else 1.0
    # without events the volume is the accounts' own attribute (money moved, say), not
    # requests
    if "requests" in defined:
        high, low = "sends {:.0f}× the requests of", "sends {:.1f}×"
    else:
        high, low = "has {:.0f}× the volume of", "has {:.1f}× the volume of"
    if ratio >= 2:
        scored.append(
            (
                weights.volume * min(math.log10(ratio), 1.5),
                f"median account {high.format(ratio)} a typical account",
            )
        )
    elif ratio <= 0.5:
        scored.append((0.1, f"low volume: median account {low.format(ratio)} a typical account"))
    if "hours" in defined and f["hours_of_day"] >= AROUND_THE_CLOCK:
        scored.append(
            (
                0.1,
                f"accounts active around the clock: median {f['hours_of_day']:.0f} of 24 "
                "hours of the day (UTC)",
            )
        )
    if weights.size > 0 and size >= 8:
        scored.append(
            (
                weights.size * float(size_evidence(pd.Series([size])).iloc[0]),
                f"{size} accounts tied together",
            )
        )
    span = float(f["first_seen_span_hours"]) if "burst" in defined else 0.0
    if "burst" in defined and f["burst"] > 0:
        when = _duration(span)
        population = float(f.get("population_span_hours", 0.0))
        if population >= weights.burst_spread_hours:
            when += f" (all accounts: {_duration(population)})"
        scored.append((weights.burst * f["burst"], f"80% of accounts first seen within {when}"))
    if f["density"] >= 0.5 and size > 2 and weights.density > 0:
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
        scored.append((0.05, f"{_n(f['confirmed_benign'], 'account')} confirmed benign"))
    if f["confirmed_not_sybil"]:
        scored.append(
            (
                0.05,
                f"{_n(f['confirmed_not_sybil'], 'account')} looked at and not found to be sybil",
            )
        )
    content = f["templates"] or f["wrappers"] if "template" in defined else 0
    gate = float(f.get("content_gate", 1.0))
    breadth = float(f.get("content_breadth", 1.0))
    why = []
    if gate < 0.995:
        why.append("its accounts send about the volume of ordinary ones")
    if breadth < 0.995:
        what = "instruction wrapper" if f["on_wrappers"] else "prompt template"
        why.append(f"they rest on {_n(f['pieces_owned'], what)}")
    if content and why:
        scored.append(
            (
                0.2,
                f"shared prompts counted at {_pct(gate * breadth)}: {' and '.join(why)}, "
                "as the users of one tool do",
            )
        )
    scored.sort(key=lambda item: -item[0])
    return [text for _, text in scored]


def _naive(times: pd.Series) -> pd.Series:
    """Timestamps without a time zone (UTC where they had one)."""
    times = pd.to_datetime(times)
    return times.dt.tz_convert(None) if times.dt.tz is not None else times


def _span_hours(first_seen: Any) -> pd.Series:
    """Hours between the 10th and 90th percentile of grouped first-seen times."""
    return (first_seen.quantile(0.9) - first_seen.quantile(0.1)).dt.total_seconds() / 3600.0


def _duration(hours: float) -> str:
    """Hours in words: "an hour", "20 hours", "3 days"."""
    if hours <= 1:
        return "an hour"
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"


def _pct(share: float) -> str:
    return f"{round(100 * float(share))}%"


def _n(count: int, noun: str) -> str:
    return f"{int(count)} {noun}{'' if int(count) == 1 else 's'}"
