"""Runs on the keys a data set has: optional columns missing, a graph of accounts without
events, subjects and context, listed hubs, and weights fitted to verdicts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sybilgraph import Config, run
from sybilgraph.config import ColumnsConfig, InputsConfig, ScoreConfig
from sybilgraph.engines import make_engine
from sybilgraph.stages.inputs import load_inputs
from sybilgraph.stages.learn import MIN_CLUSTERS, fit_logistic, fit_weights

from .conftest import HAND_RINGS, hand_events

TEMPLATE_FEATURES = {"templates", "template_share", "template_concentration"}
PAYMENT_FEATURES = {"payment_accounts", "payment_share", "payment_instruments"}


def _clusters(result: object) -> set[frozenset[str]]:
    accounts = result.accounts  # type: ignore[attr-defined]
    clustered = accounts[accounts["cluster_id"].astype(str) != ""]
    return {frozenset(g["account_id"]) for _, g in clustered.groupby("cluster_id")}


@pytest.mark.parametrize("missing", ["prompt", "payment_id", "ip"])
def test_a_missing_optional_column_gives_a_run(missing: str, tmp_path: Path) -> None:
    events = hand_events().drop(columns=[missing])
    result = run(events, Config(), tmp_path / "run", show_progress=False)
    clusters = result.clusters
    assert len(result.accounts) == hand_events()["account_id"].nunique()
    reasons = " ".join(clusters["reasons"].astype(str))
    if missing == "prompt":
        # no prompts: no template feature and no word about templates
        assert not TEMPLATE_FEATURES & set(clusters.columns)
        assert "template" not in reasons
        # ring A still shares its cards and datacenter IPs
        assert frozenset(f"a{i}" for i in range(1, 7)) in _clusters(result)
    if missing == "payment_id":
        assert not PAYMENT_FEATURES & set(clusters.columns)
        assert "payment instrument" not in reasons
        assert _clusters(result) >= HAND_RINGS
    if missing == "ip":
        assert _clusters(result) >= HAND_RINGS


def test_a_constant_time_gives_no_burst(tmp_path: Path) -> None:
    # every row at one instant: "first seen within an hour" would be said of every cluster
    events = hand_events().assign(ts="2026-04-14T10:00:00Z")
    result = run(events, Config(), tmp_path / "run", show_progress=False)
    assert "burst" not in result.clusters.columns
    assert "first seen within" not in " ".join(result.clusters["reasons"].astype(str))
    assert "burst" not in result.info["score"]["terms"]


def test_a_declared_user_agent_column_links(tmp_path: Path) -> None:
    events = hand_events()
    events["user_agent"] = np.where(events["account_id"].str.startswith("b"), "bot/1.0", None)
    config = Config(columns=ColumnsConfig(extra_keys=["user_agent"]))
    result = run(events, config, tmp_path / "run", show_progress=False)
    assert "user_agent" in result.info["score"]["terms"] or "share_user_agent" in set(
        result.clusters.columns
    )
    assert frozenset(f"b{i}" for i in range(1, 6)) in _clusters(result)


def _graph_files(tmp_path: Path) -> InputsConfig:
    """A transfer graph: funder F (not a candidate) pays f01..f12; a chain c1 -> c2 -> c3;
    an exchange X (a listed hub) is paid by everyone; two friends p1, p2 pay each other.

    With F context, f01..f12 share the counterparty F, held by 12 subjects: each pair
    1 / ln(12 + 5) = 0.35 (under CPM's resolution 1.0: cut, were it not a relation).
    Taken whole, 12 accounts: size evidence log2(12 / 2) / 5 = 0.52, 5.0 * 0.52 = 2.58;
    bias -5.0 * size_evidence(8) = -5.0 * 0.4 = -2.0 (without events: flagged on size
    alone from 8 accounts; density not counted); first seen within an hour: burst 1 ->
    z = 2.58 - 2.0 + 1 = 1.58, score 0.83, flagged.
    The chain c1..c3 (3 accounts, direct 2.0 and counterparty links): size evidence
    log2(1.5) / 5 = 0.117 -> z = -2.0 + 0.58 + burst (first seen at one instant, on a
    later day than p1: 1) = -0.42, score 0.40, not flagged; p1, p2: a pair, size
    evidence 0 -> z <= -1.0. X is listed: no edge through it survives, so it ties nobody.
    """
    farm = [f"f{i:02d}" for i in range(1, 13)]
    edges = [("F", f, "eth") for f in farm]
    edges += [("c1", "c2", "eth"), ("c2", "c3", "eth"), ("p1", "p2", "eth")]
    everyone = [*farm, "c1", "c2", "c3", "p1", "p2", *[f"u{i:02d}" for i in range(20)]]
    edges += [(a, "X", "eth") for a in everyone]
    pd.DataFrame(edges, columns=["from", "to", "chain"]).to_parquet(tmp_path / "edges.parquet")
    first = {a: "2026-04-01 10:00:00" for a in everyone}
    for f in farm:
        first[f] = f"2026-04-03 10:{int(f[1:]):02d}:00"
    first["p1"] = "2026-03-01 09:00:00"
    pd.DataFrame(
        {"address": everyone, "first": [first[a] for a in everyone], "usd": 1000.0}
    ).to_csv(tmp_path / "accounts.csv", index=False)
    pd.DataFrame({"address": ["X"]}).to_csv(tmp_path / "hubs.csv", index=False)
    return InputsConfig(
        edges=str(tmp_path / "edges.parquet"),
        edge_a="from",
        edge_b="to",
        edge_kind="chain",
        accounts=str(tmp_path / "accounts.csv"),
        account_id="address",
        first_seen="first",
        volume="usd",
        subjects=str(tmp_path / "accounts.csv"),
        subject_column="address",
        hubs=str(tmp_path / "hubs.csv"),
        hub_column="address",
    )


def _graph_config(tmp_path: Path) -> Config:
    config = Config(inputs=_graph_files(tmp_path))
    # 35 accounts: the default hub share (2%) would make any value held by 3 a hub
    config.link.hub_share = 1.0
    return config


def _edges_config(tmp_path: Path, **attributes: str) -> Config:
    """The edges of tmp_path/edges.parquet (from, to) between the subjects listed in
    tmp_path/subjects.csv (address), with any per-account ``attributes`` read from it."""
    if attributes:
        attributes = {"accounts": str(tmp_path / "subjects.csv"), **attributes}
    config = Config(
        inputs=InputsConfig(
            edges=str(tmp_path / "edges.parquet"),
            edge_a="from",
            edge_b="to",
            subjects=str(tmp_path / "subjects.csv"),
            subject_column="address",
            **attributes,
        )
    )
    config.link.hub_share = 1.0
    return config


def test_an_attribute_time_is_read_as_an_events_time(tmp_path: Path) -> None:
    # an offset no zone has ("-25:00") moved a first sight by a day on DuckDB
    pd.DataFrame({"from": ["a"], "to": ["b"]}).to_parquet(tmp_path / "edges.parquet")
    pd.DataFrame(
        {"address": ["a", "b"], "first": ["2026-04-01T10:00:00+02:00", "2026-04-01T10:00:00-25:00"]}
    ).to_csv(tmp_path / "subjects.csv", index=False)
    config = _edges_config(tmp_path, account_id="address", first_seen="first")
    engine = make_engine(config.engine)
    try:
        inputs = load_inputs(engine, config)
        rows = engine.arrow(f"SELECT account_id, first_seen FROM {inputs.attributes}").to_pylist()
        rejected = [
            (r["row"], r["reason"], r["account_id"])
            for r in engine.arrow(f"SELECT * FROM {inputs.rejects}").to_pylist()
        ]
    finally:
        engine.close()
    # b's time is refused as an event's would be: its row is a reject, not a first
    # sight a day off
    assert {r["account_id"]: r["first_seen"] for r in rows} == {"a": dt.datetime(2026, 4, 1, 8, 0)}
    assert rejected == [(2, "unparseable first: 2026-04-01T10:00:00-25:00", "b")]


def _side_files(tmp_path: Path) -> Config:
    """Edges, subjects, hubs and accounts whose rows end every way a row can.

    edges.csv: record 1 used; line 3 has a field too many, line 4 one too few (the
    reader's line numbers); records 2-4 lack an end, loop on s2, have a time that is
    none; record 5 (s1 to the listed hub X) is left out, not rejected; record 6 used.
    subjects.csv: s1; line 3 a field too many; record 2 blank; s3.
    hubs.csv: X; line 3 a field too many.
    accounts.csv: record 1 used, 2-7 refused for their time, volume or id; line 9 a field
    too many; record 8 used.
    """
    (tmp_path / "edges.csv").write_text(
        "a,b,kind,ts\ns1,s2,referral,2026-04-01T10:00:00Z\ns3,s4,invite,,extra\ns5,s6\n"
        "s1,,referral,\ns2,s2,referral,\ns3,s4,invite,yesterday\ns1,X,referral,\n"
        "s3,s4,invite,\n"
    )
    (tmp_path / "subjects.csv").write_text("account_id\ns1\ns2,extra\n\ns3\n")
    (tmp_path / "hubs.csv").write_text("value\nX\n1.2.3.4,extra\n")
    (tmp_path / "accounts.csv").write_text(
        "account_id,first_seen,volume\ns1,2026-04-01,5\ns2,yesterday,3\ns3,9999-01-01,\n"
        "s4,,-7\ns5,,lots\n,2026-04-01,1\ns6,,inf\ns6,2026-04-01,nan,x\ns3,2026-04-02,\n"
    )
    inputs = InputsConfig(
        edges=str(tmp_path / "edges.csv"),
        edge_kind="kind",
        edge_ts="ts",
        subjects=str(tmp_path / "subjects.csv"),
        hubs=str(tmp_path / "hubs.csv"),
        accounts=str(tmp_path / "accounts.csv"),
        first_seen="first_seen",
        volume="volume",
    )
    return Config(inputs=inputs)


def test_every_row_of_an_input_is_used_or_rejected_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # they were left out silently: a run said edges_read 1 of 3 rows, and no reject
    config = _side_files(tmp_path)
    with caplog.at_level("INFO", logger="sybilgraph"):
        result = run(None, config, tmp_path / "run", show_progress=False)
    rejects = pd.read_csv(tmp_path / "run" / "rejects.csv", dtype=str, keep_default_na=False)
    found = {
        (Path(r.file).name, int(r.row), r.reason.split(": Expected")[0], r.account_id)
        for r in rejects.itertuples()
    }
    assert found == {
        ("edges.csv", 3, "TOO MANY COLUMNS", ""),
        ("edges.csv", 4, "MISSING COLUMNS", ""),
        ("edges.csv", 2, "missing b", ""),
        ("edges.csv", 3, "self-loop", ""),
        ("edges.csv", 4, "unparseable ts: yesterday", ""),
        ("subjects.csv", 3, "TOO MANY COLUMNS", ""),
        ("subjects.csv", 2, "missing account_id", ""),
        ("hubs.csv", 3, "TOO MANY COLUMNS", ""),
        ("accounts.csv", 2, "unparseable first_seen: yesterday", "s2"),
        ("accounts.csv", 3, "first_seen out of range: 9999-01-01", "s3"),
        ("accounts.csv", 4, "volume: not a non-negative number: -7", "s4"),
        ("accounts.csv", 5, "volume: not a non-negative number: lots", "s5"),
        ("accounts.csv", 6, "missing account_id", ""),
        ("accounts.csv", 7, "volume: not a non-negative number: inf", "s6"),
        ("accounts.csv", 9, "TOO MANY COLUMNS", ""),
    }
    assert len(rejects) == len(found)
    counts = result.info["counts"]
    # read = used + rejected (+ edges left out for a listed hub at an end)
    assert {k: counts[k] for k in counts if k.split("_")[0] in {"edges", "direct"}} == {
        "edges_read": 8,
        "edges_rejected": 5,
        "direct_edges_dropped": 1,
        "edges": 2,
    }
    assert (counts["subjects_read"], counts["subjects_rejected"], counts["subjects"]) == (4, 2, 2)
    assert (counts["listed_hubs_read"], counts["listed_hubs_rejected"]) == (2, 1)
    assert (counts["account_attributes_read"], counts["account_attributes_rejected"]) == (9, 7)
    assert counts["account_attributes"] == 2  # s1, s3 (its second row)
    # each input's rows are counted in one log line naming the file
    assert f"{tmp_path / 'edges.csv'} (inputs.edges): 8 rows read, 2 used, 5 rejected, " in (
        caplog.text
    )
    assert f"{tmp_path / 'hubs.csv'} (inputs.hubs): 2 rows read, 1 used, 1 rejected" in (
        caplog.text
    )
    # the events' own counts are untouched: there are none
    assert result.info["rows"]["rejected"] == 0


def test_a_graph_without_events_finds_the_farm(tmp_path: Path) -> None:
    config = _graph_config(tmp_path)
    result = run(None, config, tmp_path / "run", show_progress=False)
    accounts = result.accounts
    # every subject listed, the funder (context) and the exchange (a hub) not
    assert set(accounts["account_id"]) == set(pd.read_csv(tmp_path / "accounts.csv")["address"])
    farm = frozenset(f"f{i:02d}" for i in range(1, 13))
    assert farm in _clusters(result)
    flagged = set(accounts.loc[accounts["flagged"], "account_id"])
    assert flagged == set(farm)
    assert "X" in set(result.hubs["value"]) or result.info["counts"]["direct_edges_dropped"] > 0
    row = result.clusters.set_index("size").loc[12]
    assert "12 accounts tied together" in row["reasons"]
    assert not PAYMENT_FEATURES & set(result.clusters.columns)
    # no events, so no active hours: no feature of them (the attributes' first-seen
    # times vary, but say nothing of the hours an account acts in)
    assert not {"hours_of_day", "lockstep_share"} & set(result.clusters.columns)
    assert result.info["rows"]["used"] == 0
    # the chain is one cluster: control passes along it
    assert frozenset({"c1", "c2", "c3"}) in _clusters(result)


def test_a_relation_component_cut_when_asked_is_kept_where_all_its_pairs_link(
    tmp_path: Path,
) -> None:
    config = _graph_config(tmp_path)
    config.detect.cut_relations = True
    result = run(None, config, tmp_path / "run", show_progress=False)
    farm = frozenset(f"f{i:02d}" for i in range(1, 13))
    # 0.35 a pair under CPM's resolution 1.0: Leiden leaves each address alone, but all
    # twelve share their funder (every pair linked): one group of leftovers
    assert farm in _clusters(result)


def test_without_events_a_group_is_flagged_on_its_size_from_eight_accounts(
    tmp_path: Path,
) -> None:
    """No first-seen times (no burst), no events: size and spread are the terms left
    (volume is shown, not scored).

    Funder F (context) pays s1..s8, funder G pays t1..t7; five friends q1..q5 pay each
    other (every pair). Each group is one component of relations, taken whole, and its
    values (F, G, the friends themselves) are held inside it: spread 0.
    z = -5.0 * size_evidence(8) + 5.0 * size_evidence(n) = 5.0 * (log2(n / 2) - 2) / 5:
    - 8 accounts: log2(4) - 2 = 0 -> z = 0, score 0.5, flagged (at the threshold);
    - 7 accounts: log2(3.5) - 2 = -0.193 -> score 0.452, not flagged;
    - the 5 friends: log2(2.5) - 2 = -0.678 -> score 0.337, not flagged: all their
      pairs are linked (density 1), which does not count without events (it did before,
      +1.0).
    """
    stars = [("F", f"s{i}") for i in range(1, 9)] + [("G", f"t{i}") for i in range(1, 8)]
    friends = [f"q{i}" for i in range(1, 6)]
    cliques = [(a, b) for i, a in enumerate(friends) for b in friends[i + 1 :]]
    edges = pd.DataFrame(stars + cliques, columns=["from", "to"])
    edges.to_parquet(tmp_path / "edges.parquet")
    subjects = sorted({b for _, b in stars} | set(friends))
    # the s farm moves little money: 300 against a median of 1000
    usd = [300.0 if a.startswith("s") else 1000.0 for a in subjects]
    pd.DataFrame({"address": subjects, "usd": usd}).to_csv(tmp_path / "subjects.csv", index=False)
    config = _edges_config(tmp_path, account_id="address", volume="usd")
    result = run(None, config, tmp_path / "run", show_progress=False)
    scores = result.clusters.set_index("size")["score"]
    assert scores.loc[8] == pytest.approx(0.5)
    assert scores.loc[7] == pytest.approx(0.4519, abs=1e-4)
    assert scores.loc[5] == pytest.approx(0.3367, abs=1e-4)
    flagged = set(result.accounts.loc[result.accounts["flagged"], "account_id"])
    assert flagged == {f"s{i}" for i in range(1, 9)}
    assert result.info["score"]["weights"]["density"] == 0.0
    assert result.info["score"]["bias"] == pytest.approx(-2.0)
    # no reason for what is not scored (density), and a volume that is not requests
    reasons = result.clusters.set_index("size")["reasons"]
    assert "pairs linked" not in " ".join(reasons)
    assert "low volume: median account has 0.3× the volume of a typical account" in reasons[8]
    assert "requests" not in " ".join(reasons)


def test_a_funder_of_thirty_ties_its_addresses_into_one_cluster(tmp_path: Path) -> None:
    """Funder F (context) pays w01..w30: each pair shares F, held by 30 subjects, at
    1 / ln(30 + 5) = 0.281, under detect.min_weight (0.3). A relation: the links reach
    the graph all the same, and the component is taken whole: one cluster of 30 (before,
    no link at all). No times: z = -2.0 + 5.0 * log2(30 / 2) / 5 = -2.0 + 3.91 = 1.91,
    score 0.87, flagged."""
    farm = [f"w{i:02d}" for i in range(1, 31)]
    pd.DataFrame({"from": "F", "to": farm}).to_parquet(tmp_path / "edges.parquet")
    pd.DataFrame({"address": farm}).to_csv(tmp_path / "subjects.csv", index=False)
    config = _edges_config(tmp_path)
    result = run(None, config, tmp_path / "run", show_progress=False)
    assert frozenset(farm) in _clusters(result)
    assert result.clusters["score"].tolist() == [pytest.approx(0.8707, abs=1e-4)]
    assert result.accounts["flagged"].all()


def test_a_run_without_events_or_inputs_is_refused(tmp_path: Path) -> None:
    from sybilgraph.errors import InputError

    with pytest.raises(InputError, match="no events"):
        run(None, Config(), tmp_path / "run", show_progress=False)


def test_logistic_fit_separates_and_is_deterministic() -> None:
    # one term: 0 for the benign half, 1 for the sybil half, plus a little overlap
    x = np.array([[0.0]] * 40 + [[1.0]] * 40 + [[0.5]] * 4)
    y = np.array([0] * 40 + [1] * 40 + [0, 1, 0, 1], dtype=float)
    bias, weights = fit_logistic(x, y)
    again = fit_logistic(x, y)
    assert (bias, weights.tolist()) == (again[0], again[1].tolist())
    assert weights[0] > 2 and bias < 0
    # the midpoint scores about a half
    assert 1 / (1 + np.exp(-(bias + 0.5 * weights[0]))) == pytest.approx(0.5, abs=0.05)


def test_weights_are_fitted_only_with_enough_clusters() -> None:
    rng = np.random.default_rng(3)
    n = 2 * MIN_CLUSTERS
    clusters = [f"C{i:03d}" for i in range(n)]
    sybil = np.arange(n) < MIN_CLUSTERS
    # the sybil clusters are large (size evidence near 1), the others small
    terms = pd.DataFrame(
        {
            "density": rng.uniform(0.5, 1.0, n),
            "size": np.where(sybil, rng.uniform(0.6, 1.0, n), rng.uniform(0.0, 0.3, n)),
        },
        index=clusters,
    )
    examples = pd.DataFrame({"cluster_id": clusters, "sybil": sybil})
    fitted = fit_weights(terms, examples, threshold=0.5)
    assert fitted is not None
    assert fitted.weights["size"] > abs(fitted.weights["density"])
    assert fitted.cv_precision > 0.9 and fitted.cv_recall > 0.9
    assert "size" in fitted.describe()
    too_few = examples[examples["cluster_id"].isin(clusters[1:])]
    assert fit_weights(terms, too_few.iloc[: n - 5], threshold=0.5) is None


def test_verdicts_fit_the_score_in_a_run(tmp_path: Path) -> None:
    # many small farms (10 accounts, one funder each) and many friend pairs; half the
    # accounts of each given as verdicts
    edges, rows, verdicts = [], [], []
    for k in range(40):
        farm = [f"farm{k:02d}_{i}" for i in range(10)]
        edges += [(f"funder{k:02d}", f, "eth") for f in farm]
        verdicts += [(a, "sybil") for a in farm[:5]]
        rows += farm
    for k in range(60):
        pair = [f"friend{k:02d}_a", f"friend{k:02d}_b"]
        edges.append((pair[0], pair[1], "eth"))
        verdicts.append((pair[0], "not_sybil"))
        rows += pair
    pd.DataFrame(edges, columns=["a", "b", "kind"]).to_csv(tmp_path / "edges.csv", index=False)
    pd.DataFrame({"account_id": rows}).to_csv(tmp_path / "subjects.csv", index=False)
    labels = pd.DataFrame(verdicts, columns=["account_id", "verdict"]).assign(note="test")
    labels.to_csv(tmp_path / "labels.csv", index=False)
    config = Config(
        inputs=InputsConfig(
            edges=str(tmp_path / "edges.csv"), subjects=str(tmp_path / "subjects.csv")
        ),
        labels=str(tmp_path / "labels.csv"),
        score=ScoreConfig(learn=True),
    )
    result = run(None, config, tmp_path / "run", show_progress=False)
    learned = result.info["score"]["learned"]
    assert learned is not None
    assert learned["sybil_clusters"] == 40 and learned["other_clusters"] == 60
    assert learned["weights"]["size"] > 0
    flagged = set(result.accounts.loc[result.accounts["flagged"], "account_id"])
    assert {a for a in rows if a.startswith("farm")} <= flagged
    assert not {a for a in rows if a.startswith("friend")} & flagged


def test_verdicts_decide_a_cluster_where_they_lean_one_way(tmp_path: Path) -> None:
    # ring A (a1..a6) scores high by itself; with a1 confirmed sybil and a2, a3 cleared
    # (not_sybil), more are cleared than sybil: not flagged, yet it still ranks first.
    # Ring B (b1..b5) with b1 sybil and b2 cleared: as many each way, the score decides.
    labels = pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3", "b1", "b2"],
            "verdict": ["sybil", "not_sybil", "not_sybil", "sybil", "not_sybil"],
            "note": "test",
        }
    )
    labels.to_csv(tmp_path / "labels.csv", index=False)
    config = Config(labels=str(tmp_path / "labels.csv"))
    result = run(hand_events(), config, tmp_path / "run", show_progress=False)
    clusters = result.clusters.set_index("cluster_id")
    accounts = result.accounts.set_index("account_id")
    ring_a = clusters.loc[accounts.loc["a1", "cluster_id"]]
    ring_b = clusters.loc[accounts.loc["b1", "cluster_id"]]
    assert not ring_a["flagged"] and ring_a["confirmed_not_sybil"] == 2
    assert ring_a["rank"] <= 2 and ring_b["rank"] <= 2
    assert ring_b["flagged"] == (ring_b["score"] >= 0.5)
    assert "2 accounts looked at and not found to be sybil" in ring_a["reasons"]


def test_accounts_csv_lists_the_subjects_only(tmp_path: Path) -> None:
    # events of many accounts, seven of them under review: the others are context, and
    # accounts.csv (as the README says) lists none of them
    hand_events().to_csv(tmp_path / "events.csv", index=False)
    subjects = ["a1", "a2", "a3", "a4", "a5", "a6", "h1"]
    pd.DataFrame({"account_id": subjects}).to_csv(tmp_path / "subjects.csv", index=False)
    config = Config(inputs=InputsConfig(subjects=str(tmp_path / "subjects.csv")))
    result = run(tmp_path / "events.csv", config, tmp_path / "out", show_progress=False)
    assert sorted(result.accounts["account_id"]) == subjects
    assert result.info["counts"]["accounts"] > len(subjects)  # the context is still read


def test_an_inputs_columns_are_found_as_the_events_are(tmp_path: Path) -> None:
    # a direct_edges file whose time is headed TS had its times left unread, silently
    # (and A, B were refused as missing a and b)
    edges = tmp_path / "edges.csv"
    edges.write_text("A,B,Kind,TS\ns1,s2,referral,2026-04-01T10:00:00Z\n")
    (tmp_path / "hubs.csv").write_text("Value\nX\n")
    config = Config(direct_edges=str(edges), inputs=InputsConfig(hubs=str(tmp_path / "hubs.csv")))
    engine = make_engine(config.engine)
    try:
        inputs = load_inputs(engine, config)
        assert inputs.edges is not None and inputs.hubs is not None
        rows = engine.arrow(f"SELECT * FROM {inputs.edges}").to_pylist()
        hubs = engine.arrow(f"SELECT * FROM {inputs.hubs}").to_pylist()
    finally:
        engine.close()
    assert rows == [
        {"a": "s1", "b": "s2", "kind": "referral", "ts": dt.datetime(2026, 4, 1, 10, 0)}
    ]
    assert hubs == [{"value": "X"}]


@pytest.mark.parametrize(("a", "b"), [("from", "from"), ("from", "FROM")])
def test_one_column_named_for_both_ends_of_an_edge_is_refused(
    a: str, b: str, tmp_path: Path
) -> None:
    # edge_a = edge_b: every edge became a self-loop among the rejects and the run ended
    # with an empty graph, exit 0
    from sybilgraph.errors import InputError

    edges = tmp_path / "edges.csv"
    edges.write_text("from,to\ns1,s2\ns2,s3\n")
    config = Config(inputs=InputsConfig(edges=str(edges), edge_a=a, edge_b=b))
    with pytest.raises(
        InputError, match=r"inputs\.edge_a and inputs\.edge_b both name the column 'from'"
    ):
        run(None, config, tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()


def test_a_column_named_as_a_setting_left_unset_is_said_to_be_unread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the accounts' first_seen and volume settings have no default: columns of those
    # names were left unread without a word
    pd.DataFrame({"from": ["a"], "to": ["b"]}).to_parquet(tmp_path / "edges.parquet")
    pd.DataFrame(
        {"address": ["a", "b"], "First_Seen": ["2026-04-01", "2026-04-02"], "volume": [1, 2]}
    ).to_csv(tmp_path / "subjects.csv", index=False)
    config = _edges_config(tmp_path, account_id="address", volume="volume")
    engine = make_engine(config.engine)
    try:
        with caplog.at_level("WARNING", logger="sybilgraph"):
            load_inputs(engine, config)
    finally:
        engine.close()
    said = [r.getMessage() for r in caplog.records if "is not read" in r.getMessage()]
    assert said == [
        f"{tmp_path / 'subjects.csv'}: the column 'First_Seen' is not read: set "
        "inputs.first_seen = 'First_Seen' to use it"
    ]


def test_an_input_of_which_no_row_is_usable_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # said at info level, which -q hides: the run ended empty, exit 0, without a word
    edges = tmp_path / "edges.csv"
    edges.write_text("a,b\nu1,u1\nu2,\n")
    config = Config(inputs=InputsConfig(edges=str(edges)))
    with caplog.at_level("WARNING", logger="sybilgraph"):
        run(None, config, tmp_path / "run", show_progress=False)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"{edges} (inputs.edges): 2 rows read, 0 used, 2 rejected; see rejects.csv" in warned
