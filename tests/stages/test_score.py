"""score: the features, score, flag and reasons of hand-checked clusters, on every engine.

The traffic is the table in ``tests/stages/traffic.py``, observed and linked with a hub
cap of 3 (its links are worked out in ``test_link.py``). Detection makes two clusters
of it: the ring u1 u2 u3 and the phones u4 u5 u6; u7 links to no one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd
import pytest

from sybilgraph.config import EngineConfig, ScoreConfig
from sybilgraph.engines import Engine, make_engine
from sybilgraph.stages.detect import detect
from sybilgraph.stages.graph import read_graph
from sybilgraph.stages.score import FEATURE_COLUMNS, score_clusters
from sybilgraph.stages.tables import LinkTables, ObservationTables
from tests.stages.traffic import MEMBERSHIP, config, link_traffic, read

Linked = tuple[Engine, ObservationTables, LinkTables]

LN7, LN8 = math.log(7), math.log(8)


def logistic(z: float) -> float:
    return round(1 / (1 + math.exp(-z)), 4)


@pytest.fixture(scope="module")
def linked_once(engine_name: str) -> Iterator[Linked]:
    """The traffic observed and linked once per engine."""
    engine = make_engine(EngineConfig(name=engine_name))  # type: ignore[arg-type]
    yield engine, *link_traffic(engine)
    engine.close()


def test_detect_finds_the_ring_and_the_phones(linked_once: Linked) -> None:
    # Links of 2.92, 1.44 and 1.44 inside the ring, 0.48 inside the phones, all above
    # min_weight 0.3; two components of 3 (not more than leiden_min_size 10): taken whole
    engine, _, linked = linked_once
    cfg = config()
    membership = detect(read_graph(engine, linked, min_weight=cfg.detect.min_weight), cfg.detect, 1)

    groups = {frozenset(g["account_id"]) for _, g in membership.groupby("cluster_id")}
    assert groups == {frozenset({"u1", "u2", "u3"}), frozenset({"u4", "u5", "u6"})}


def test_features_and_score_by_hand(linked_once: Linked) -> None:
    # Population: requests 2 2 2 2 1 1 2, median 2.
    #
    # ring (u1 u2 u3), 6 requests, median 2:
    #   volume_ratio 2 / 2 = 1; links 3 of 3 pairs: density 1
    #   pm_1 held by all three: payment_accounts 3, instruments 1, share 3 / 3 = 1
    #   prompts: SOLVE (u1 2, u2 2, u3 1) and POEM (u3 1). SOLVE is the ring's own (held
    #     by 2+ inside, all of its 3 holders inside); POEM is held by u3 alone:
    #     templates 1, template_share 5 / 6 = 0.833; 6 prompt requests on 2 templates:
    #     requests_per_template 3, concentration (log10 3 - 1) / 2 < 0 -> 0
    #   first seen 10:00 10:10 11:00: 10th percentile 10:02, 90th 10:50, span 0.8 h; but
    #     all on the data's first day, when accounts of any age appear: burst 0
    #   every shared value has all its holders inside: spread_share 0
    #   link weight 1/ln 7 + 11/ln 8 = 5.8038 of which ip 1/ln 7 + 3/ln 8 (0.337),
    #     payment 6/ln 8 (0.497), prompt 2/ln 8 (0.166)
    #   at the population's median volume its shared prompts count half (content_volume),
    #   and one template owned counts log2(2) / log2(5) = 0.431 of it (content_breadth):
    #   z = -6 + 5 x 0.833 x 0.5 x 0.431 + 2.5 x log10(1) + 1 + 0 + 1 x 1 = -3.103: 0.0430,
    #   not flagged (three people on one card, IP and prompt at ordinary volume are a
    #   household as much as a ring)
    #
    # phones (u4 u5 u6), 4 requests, median 1:
    #   volume_ratio 1 / 2 = 0.5; density 1; u4's card is its own: no payment share, and
    #   one instrument per account that has any; no prompts (requests_per_template 1)
    #   first seen 12:00 12:10 12:20: span 12:02 to 12:18, 0.27 h -> 0.3; first day: burst 0
    #   every link on the device: share_device 1
    #   z = -6 + 2.5 x log10(0.5) + 0 + 1 x 1 = -5.7526: score 0.0032, not flagged
    total = 1 / LN7 + 11 / LN8
    z_ring = -6 + 5 * 0.833 * 0.5 * math.log2(2) / math.log2(5) + 1 + 1
    z_phones = -6 + 2.5 * math.log10(0.5) + 1
    expected = pd.DataFrame(
        {
            "cluster_id": ["ring", "phones"],
            "rank": [1, 2],
            "size": [3, 3],
            "score": [logistic(z_ring), logistic(z_phones)],
            "flagged": [False, False],
            "links": [3, 3],
            "density": [1.0, 1.0],
            "requests": [6, 4],
            "requests_per_account": [2.0, 1.3],
            "volume_ratio": [1.0, 0.5],
            "payment_accounts": [3, 0],
            "payment_instruments": [1, 0],
            "instruments_per_account": [1.0, 1.0],
            "payment_share": [1.0, 0.0],
            "templates": [1, 0],
            "templates_with_flagged": [0, 0],
            "template_share": [0.833, 0.0],
            "requests_per_template": [3.0, 1.0],
            "template_concentration": [0.0, 0.0],
            "wrappers": [0, 0],
            "wrapper_share": [0.0, 0.0],
            "first_seen_span_hours": [0.8, 0.3],
            "burst": [0.0, 0.0],
            "spread_share": [0.0, 0.0],
            "confirmed_sybil": [0, 0],
            "confirmed_benign": [0, 0],
            "share_device": [0.0, 1.0],
            "share_ip": [round((1 / LN7 + 3 / LN8) / total, 3), 0.0],
            "share_payment": [round(6 / LN8 / total, 3), 0.0],
            "share_prompt": [round(2 / LN8 / total, 3), 0.0],
        }
    )
    engine, observed, linked = linked_once
    clustered = score_clusters(engine, observed, linked, MEMBERSHIP, ScoreConfig())

    clusters = clustered.clusters
    expected_columns = ["cluster_id", "rank", "size", "score", "flagged", "reasons"]
    # no pair acts in lockstep (key time): no lockstep_share
    expected_columns += [c for c in FEATURE_COLUMNS if c not in ("size", "lockstep_share")]
    expected_columns += ["share_device", "share_ip", "share_payment", "share_prompt"]
    assert list(clusters.columns) == expected_columns
    pd.testing.assert_frame_equal(
        clusters[list(expected.columns)], expected, check_dtype=False, atol=1e-9
    )
    assert clusters["reasons"].tolist() == [
        "83% of requests follow 1 prompt template shared inside the cluster; "
        "3 of 3 accounts share 1 payment instrument; "
        "100% of account pairs linked; "
        "shared prompts counted at 22%: its accounts send about the volume of ordinary "
        "ones and they rest on 1 prompt template, as the users of one tool do",
        "100% of account pairs linked; low volume: median account sends 0.5× a typical account",
    ]
    membership = read(engine, clustered.membership, ["account_id"])
    pd.testing.assert_frame_equal(membership, MEMBERSHIP)


def test_a_confirmed_sybil_ranks_its_cluster_first(linked_once: Linked) -> None:
    # u5 confirmed sybil: the phones are flagged whatever their score, and rank first
    verdicts = pd.DataFrame({"account_id": ["u5"], "verdict": ["sybil"]})
    engine, observed, linked = linked_once
    clustered = score_clusters(
        engine, observed, linked, MEMBERSHIP, ScoreConfig(), verdicts=verdicts
    )

    clusters = clustered.clusters.set_index("cluster_id")
    assert clusters["rank"].to_dict() == {"phones": 1, "ring": 2}
    assert clusters.loc["phones", "flagged"]
    assert clusters.loc["phones", "confirmed_sybil"] == 1
    assert clusters.loc["phones", "reasons"].startswith(
        "1 account confirmed sybil by an investigator; "
    )


def test_an_empty_membership_gives_no_clusters(linked_once: Linked) -> None:
    # Nothing clustered: an empty membership table, and clusters with their columns but
    # no rows
    engine, observed, linked = linked_once
    membership = pd.DataFrame({"account_id": [], "cluster_id": []})
    clustered = score_clusters(engine, observed, linked, membership, ScoreConfig())

    assert clustered.clusters.empty
    assert {"cluster_id", "rank", "score", "flagged", "reasons", *FEATURE_COLUMNS} == set(
        clustered.clusters.columns
    )
    assert engine.count(clustered.membership) == 0
