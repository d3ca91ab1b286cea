"""How a run reads verdicts: cluster verdicts spread to members, benign clusters unflagged."""

from __future__ import annotations

import pandas as pd

from sybilgraph.stages.verdicts import Labels, apply_cluster_verdicts, spread_verdicts


def _labels(accounts: list[tuple[str, str]], clusters: list[tuple[str, str]]) -> Labels:
    return Labels(
        accounts=pd.DataFrame(accounts, columns=["account_id", "verdict"]),
        clusters=pd.DataFrame(clusters, columns=["cluster_id", "verdict"]),
        values=pd.DataFrame(columns=["key", "value", "verdict"]),
    )


def test_a_sybil_cluster_verdict_reaches_its_members_but_not_over_their_own() -> None:
    # C1 = {a, b, c} is labelled sybil, C2 = {d} benign, b itself benign:
    # a and c take C1's verdict, b keeps its own, d gets nothing (benign clusters
    # are not spread), e (unclustered) keeps its own
    membership = pd.DataFrame(
        {"account_id": ["a", "b", "c", "d"], "cluster_id": ["C1", "C1", "C1", "C2"]}
    )
    labels = _labels([("b", "benign"), ("e", "sybil")], [("C1", "sybil"), ("C2", "benign")])
    verdicts = spread_verdicts(labels, membership)
    assert dict(zip(verdicts["account_id"], verdicts["verdict"], strict=True)) == {
        "a": "sybil",
        "b": "benign",
        "c": "sybil",
        "e": "sybil",
    }


def test_a_benign_cluster_is_unflagged_and_says_why() -> None:
    clusters = pd.DataFrame(
        {"cluster_id": ["C1", "C2"], "flagged": [True, True], "reasons": ["shared card", "x"]}
    )
    labels = _labels([], [("C1", "benign"), ("C2", "sybil")])
    out = apply_cluster_verdicts(clusters, labels)
    assert out["flagged"].tolist() == [False, True]
    assert out["reasons"].tolist() == ["labelled benign by an investigator; shared card", "x"]


def test_a_cluster_found_not_sybil_is_cleared_as_a_benign_one() -> None:
    # label offers not_sybil for a cluster: it was written and changed nothing
    clusters = pd.DataFrame(
        {"cluster_id": ["C1", "C2"], "flagged": [True, True], "reasons": ["shared card", "x"]}
    )
    out = apply_cluster_verdicts(clusters, _labels([], [("C1", "not_sybil")]))
    assert out["flagged"].tolist() == [False, True]
    assert out["reasons"].tolist() == ["labelled not sybil by an investigator; shared card", "x"]


def test_no_cluster_verdicts_change_nothing() -> None:
    clusters = pd.DataFrame({"cluster_id": ["C1"], "flagged": [True], "reasons": ["x"]})
    out = apply_cluster_verdicts(clusters.copy(), _labels([("a", "benign")], []))
    pd.testing.assert_frame_equal(out, clusters)
