"""The whole pipeline on the hand-built log of conftest.py, whose answer is known."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sybilgraph import Config, run
from sybilgraph.errors import InputError, OutputError

from .conftest import HAND_RINGS, hand_events


def _clusters_of(accounts: pd.DataFrame) -> set[frozenset[str]]:
    clustered = accounts[accounts["cluster_id"] != ""]
    return {frozenset(g["account_id"]) for _, g in clustered.groupby("cluster_id")}


def test_rings_found_with_exact_members(hand_csv: Path, tmp_path: Path) -> None:
    result = run(hand_csv, Config(), tmp_path / "out", show_progress=False)
    accounts = result.accounts
    flagged = accounts[accounts["flagged"]]
    flagged_clusters = {frozenset(g["account_id"]) for _, g in flagged.groupby("cluster_id")}
    assert flagged_clusters == HAND_RINGS
    clusters = _clusters_of(accounts)
    # the household and the office form clusters of their own, not flagged
    assert frozenset({"h1", "h2"}) in clusters
    assert frozenset(f"o{i}" for i in range(1, 6)) in clusters
    # the carrier NAT address is held by 350 accounts > hub cap 300: a hub, no links
    assert not accounts[accounts["account_id"].str.startswith("c")]["cluster_id"].any()
    hubs = result.hubs
    nat = hubs[(hubs["key"] == "ip") & (hubs["value"] == "100.64.0.1")]
    assert nat["accounts"].tolist() == [350]
    # every account of the input is in accounts.csv
    assert set(accounts["account_id"]) == set(hand_events()["account_id"])
    # the two rings rank first
    top = result.clusters.head(2)
    assert top["flagged"].all()
    assert set(top["size"]) == {5, 6}


def test_the_engine_gives_up_its_memory_while_communities_are_found(
    hand_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the graph and Leiden were built beside all DuckDB held (1.5M realistic events: the
    # run's peak, 2.1 GiB); no statement runs meanwhile, so DuckDB spills what it can
    from sybilgraph import pipeline
    from sybilgraph.engines.duckdb import DuckDBEngine
    from sybilgraph.stages.graph import GRAPH_BYTES_PER_LINK

    made = DuckDBEngine.room_for
    rooms: list[tuple[DuckDBEngine, int, bool]] = []

    @contextlib.contextmanager
    def room_for(self: DuckDBEngine, nbytes: int, *, idle: bool = False) -> Iterator[None]:
        with made(self, nbytes, idle=idle):
            rooms.append((self, nbytes, idle))
            yield
            rooms.pop()

    found = pipeline.detect
    seen: list[tuple[int, int, bool, str]] = []

    def detect(graph, config, seed):  # type: ignore[no-untyped-def]
        engine, nbytes, idle = rooms[-1]
        ((limit,),) = engine.con.execute("SELECT current_setting('memory_limit')").fetchall()
        seen.append((graph.graph.ecount(), nbytes, idle, str(limit)))
        return found(graph, config, seed)

    monkeypatch.setattr(DuckDBEngine, "room_for", room_for)
    monkeypatch.setattr(pipeline, "detect", detect)
    result = run(hand_csv, Config(), tmp_path / "out", show_progress=False)
    [(edges, nbytes, idle, limit)] = seen
    assert idle and edges > 0
    assert nbytes == len(result.links) * GRAPH_BYTES_PER_LINK
    # DuckDB held less than the graph takes: it is held to the least while idle
    assert limit == "64.0 MiB"
    assert not rooms  # the limit is set back once the communities are found
    flagged = result.accounts[result.accounts["flagged"]]
    assert {frozenset(g["account_id"]) for _, g in flagged.groupby("cluster_id")} == HAND_RINGS


def test_reasons_are_plain_words(hand_csv: Path, tmp_path: Path) -> None:
    result = run(hand_csv, Config(), tmp_path / "out", show_progress=False)
    ring_a = result.clusters[result.clusters["size"] == 6].iloc[0]
    assert "6 of 6 accounts share 2 payment instruments" in ring_a["reasons"]
    assert "100% of requests follow 1 prompt template" in ring_a["reasons"]


def test_runs_are_identical(hand_csv: Path, tmp_path: Path) -> None:
    first = run(hand_csv, Config(), tmp_path / "one", show_progress=False)
    second = run(hand_csv, Config(), tmp_path / "two", show_progress=False)
    for name in ("accounts.csv", "clusters.csv", "hubs.csv"):
        assert (first.out_dir / name).read_bytes() == (second.out_dir / name).read_bytes()
    pd.testing.assert_frame_equal(first.links, second.links)


def test_links_folded_in_slices_are_the_links_folded_at_once(
    hand_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pair values are folded into links a slice of accounts at a time past a size
    # (DuckDB cannot spill the evidence samples' aggregate states); slices of about 3
    # pairs cut the hand-built log's into more than 5, and every output stays the same
    # (pseudonymised tables: their evidence samples are drawn again, sliced too)
    config = Config.from_dict({"privacy": {"tables": True, "secret": "fixed"}})
    whole = run(hand_csv, config, tmp_path / "whole", show_progress=False)
    from sybilgraph.engines.duckdb import DuckDBEngine

    monkeypatch.setattr(DuckDBEngine, "fold_groups", 3)
    sliced = run(hand_csv, config, tmp_path / "sliced", show_progress=False)
    assert whole.info["counts"]["links"] > 5 * 3
    order = ["a", "b"]
    pd.testing.assert_frame_equal(
        whole.links.sort_values(order, ignore_index=True),
        sliced.links.sort_values(order, ignore_index=True),
    )
    for name in ("accounts.csv", "clusters.csv", "links.parquet"):
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(
                pd.read_parquet(whole.out_dir / name).sort_values(order, ignore_index=True),
                pd.read_parquet(sliced.out_dir / name).sort_values(order, ignore_index=True),
            )
        else:
            assert (whole.out_dir / name).read_bytes() == (sliced.out_dir / name).read_bytes()


def test_bad_rows_are_rejected_and_counted(tmp_path: Path) -> None:
    events = hand_events()
    events.loc[0, "account_id"] = ""
    events.loc[1, "ts"] = "not a time"
    events.loc[2, "ip"] = "999.1.1.1"
    events.loc[3, "ts"] = "1712345678"  # epoch seconds: fine
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    with path.open("a") as handle:
        handle.write("x1,2026-04-14T00:00:00Z,1.2.3.4,pm,prompt,one too many\n")
    result = run(path, Config(), tmp_path / "out", show_progress=False)
    rows = result.info["rows"]
    assert rows["read"] == rows["used"] + rows["rejected"]
    assert rows["read"] == len(events) + 1
    assert rows["rejected"] == 4
    reasons = result.rejects.sort_values("row")["reason"].tolist()
    assert any(r == "missing account_id" for r in reasons)
    assert any(r.startswith("unparseable ts: not a time") for r in reasons)
    assert any(r.startswith("ip: ") and "999.1.1.1" in r for r in reasons)
    assert any("TOO MANY COLUMNS" in r for r in reasons)


def test_run_json_records_the_run(hand_csv: Path, tmp_path: Path) -> None:
    config = Config.from_dict({"seed": 7})
    result = run(hand_csv, config, tmp_path / "out", show_progress=False)
    info = json.loads((result.out_dir / "run.json").read_text())
    assert info["seed"] == 7
    assert info["config"]["link"]["hub_cap"] == 300
    assert set(info["timings_s"]) >= {"load", "observe", "link", "graph", "detect", "score"}
    assert info["versions"]["duckdb"]
    assert info["rows"]["read"] == len(hand_events())


def test_column_mapping(tmp_path: Path) -> None:
    events = hand_events().rename(columns={"account_id": "user", "ts": "time"})
    path = tmp_path / "events.parquet"
    events.to_parquet(path)
    config = Config.from_dict({"columns": {"account_id": "user", "ts": "time"}})
    result = run(path, config, tmp_path / "out", show_progress=False)
    assert len(result.flagged) == 2


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    hand_events().drop(columns=["ts"]).to_csv(path, index=False)
    with pytest.raises(InputError) as caught:
        run(path, Config(), tmp_path / "out", show_progress=False)
    assert str(path) in str(caught.value)
    assert "'ts'" in str(caught.value)


def test_empty_input_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("")
    with pytest.raises(InputError, match="empty"):
        run(path, Config(), tmp_path / "out", show_progress=False)
    header_only = tmp_path / "header.csv"
    header_only.write_text("account_id,ts\n")
    with pytest.raises(InputError, match="no events"):
        run(header_only, Config(), tmp_path / "out2", show_progress=False)


def test_refuses_foreign_non_empty_out_dir(hand_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="--force"):
        run(hand_csv, Config(), out, show_progress=False)
    # an earlier sybilgraph output may be overwritten
    run(hand_csv, Config(), tmp_path / "again", show_progress=False)
    run(hand_csv, Config(), tmp_path / "again", show_progress=False)


def test_dataframe_input(tmp_path: Path) -> None:
    result = run(hand_events(), Config(), tmp_path / "out", show_progress=False)
    assert len(result.flagged) == 2


def test_direct_edges_link_and_explain(hand_csv: Path, tmp_path: Path) -> None:
    edges = tmp_path / "edges.csv"
    edges.write_text("a,b,kind,ts\ns01,s02,referral,2026-04-14T10:00:00Z\ns03,s03,self,\n,s04,x,\n")
    config = Config(direct_edges=str(edges))
    result = run(hand_csv, config, tmp_path / "out", show_progress=False)
    accounts = result.accounts.set_index("account_id")
    assert accounts.loc["s01", "cluster_id"] == accounts.loc["s02", "cluster_id"] != ""
    link = result.links[(result.links["a"] == "s01") & (result.links["b"] == "s02")].iloc[0]
    assert link["evidence"] == "direct: 1 shared (referral)"
    # the self-loop and the edge without an end are rejects, with their rows; no edge
    # had a listed hub at an end
    counts = result.info["counts"]
    assert (counts["edges_read"], counts["edges_rejected"], counts["edges"]) == (3, 2, 1)
    assert counts["direct_edges_dropped"] == 0
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    assert rejects[["row", "reason"]].values.tolist() == [[2, "self-loop"], [3, "missing a"]]
    assert set(rejects["file"]) == {str(edges)}


def _prompt_events(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """Events of (account, prompt) rows, each from its own IP, within one hour, no card."""
    return pd.DataFrame(
        {
            "account_id": [a for a, _ in rows],
            "ts": [f"2026-04-14T10:{i % 60:02d}:00Z" for i in range(len(rows))],
            "ip": [f"10.{i // 250}.{i % 250}.1" for i in range(len(rows))],
            "payment_id": [None] * len(rows),
            "prompt": [p for _, p in rows],
        }
    )


def test_prompts_sent_once_do_not_link(tmp_path: Path) -> None:
    # p1 and p2 each ask the same long question once: people do, it proves nothing.
    # q1 and q2 each send their template three times, as scripts do: they are linked.
    # With min_uses = 1 the single shared question links p1 and p2 as well.
    asked = "please write a short summary of the french revolution for my history class"
    script = "generate five question and answer pairs about the following passage for training"
    rows = [("p1", asked), ("p2", asked)] + [(a, script) for a in ("q1", "q2") for _ in range(3)]
    events = _prompt_events(rows)
    pairs = {}
    for min_uses in (2, 1):
        config = Config.from_dict({"prompt": {"min_uses": min_uses}})
        result = run(events, config, tmp_path / f"out{min_uses}", show_progress=False)
        pairs[min_uses] = set(zip(result.links["a"], result.links["b"], strict=True))
        assert result.info["config"]["prompt"]["min_uses"] == min_uses
    assert pairs[2] == {("q1", "q2")}
    assert pairs[1] == {("p1", "p2"), ("q1", "q2")}


def test_a_ring_sharing_a_few_templates_is_one_cluster(tmp_path: Path) -> None:
    # A prompt-only ring: 30 accounts (more than leiden_min_size 10, so Leiden runs) send
    # the same three templates three times each, each event from its own IP. 100 other
    # accounts send each template once: they hold the groups (d = 130) but, below
    # min_uses, link nobody. A ring pair shares three groups: 3 * w / ln(130 + 5) per
    # link. With the default prompt weight 2.0 that is 1.22, above CPM's resolution 1.0,
    # so the ring is one cluster; at 1.5 it is 0.92, and every pair kept together costs
    # more than its link brings: Leiden leaves each account alone, and as every pair of
    # them is linked they are one group of leftovers, the same cluster. (hub_share is
    # lifted: 2% of 130 accounts would make every template a hub.)
    templates = [
        "rewrite the following paragraph in a formal tone and list three key claims",
        "translate this customer email into german and keep the original formatting",
        "generate ten multiple choice questions about the text below with answers",
    ]
    rows = [(f"r{i:02d}", t) for i in range(30) for t in templates for _ in range(3)]
    rows += [(f"o{i:03d}", t) for i in range(100) for t in templates]
    events = _prompt_events(rows)
    ring = {f"r{i:02d}" for i in range(30)}
    config = Config.from_dict({"link": {"hub_share": 1.0}})
    result = run(events, config, tmp_path / "default", show_progress=False)
    clustered = result.accounts[result.accounts["cluster_id"] != ""]
    assert [set(g) for _, g in clustered.groupby("cluster_id")["account_id"]] == [ring]
    weights = result.links["weight"]
    assert weights.min() == pytest.approx(3 * 2.0 / math.log(135))
    lighter = Config.from_dict({"link": {"hub_share": 1.0, "key_weights": {"prompt": 1.5}}})
    result = run(events, lighter, tmp_path / "lighter", show_progress=False)
    clustered = result.accounts[result.accounts["cluster_id"] != ""]
    assert [set(g) for _, g in clustered.groupby("cluster_id")["account_id"]] == [ring]


def test_a_ring_cut_along_its_cards_is_one_cluster(tmp_path: Path) -> None:
    # 30 accounts send one template three times each, and 100 others send it once (they
    # hold the group, d = 130, but link nobody): 2 / ln(135) = 0.41 a ring pair. The
    # ring's accounts pay with six cards, five accounts each: 2 / ln(5 + 5) = 0.87 more
    # for the pairs of a five. Leiden (CPM, resolution 1) keeps each five (1.28 a pair)
    # and not the ring (0.53 a pair on average): six clusters. The fives are linked
    # across by the template exactly as strongly as inside (ratio 1.0, cards aside), so
    # they are joined again into the one ring; with join_ratio 0 they stay six.
    template = "rewrite the following paragraph in a formal tone and list three key claims"
    rows = [(f"r{i:02d}", template) for i in range(30) for _ in range(3)]
    rows += [(f"o{i:03d}", template) for i in range(100)]
    events = _prompt_events(rows)
    ring = events["account_id"].str.startswith("r")
    events.loc[ring, "payment_id"] = "pm_" + (
        events.loc[ring, "account_id"].str[1:].astype(int) // 5
    ).astype(str)
    sizes = {}
    for join_ratio in (0.6, 0.0):
        config = Config.from_dict(
            {"link": {"hub_share": 1.0}, "detect": {"join_ratio": join_ratio}}
        )
        result = run(events, config, tmp_path / f"out{join_ratio}", show_progress=False)
        clustered = result.accounts[result.accounts["cluster_id"] != ""]
        sizes[join_ratio] = sorted(clustered.groupby("cluster_id").size().tolist())
        assert set(clustered["account_id"]) == {f"r{i:02d}" for i in range(30)}
        assert result.info["detect"]["join_ratio"] == join_ratio
    assert sizes == {0.6: [30], 0.0: [5] * 6}


def test_a_piece_sharing_a_flagged_rings_template_owns_it(tmp_path: Path) -> None:
    # Ring A: 25 accounts on one card, each sending its template TA 30 times and TS 3
    # times. Piece B: 4 accounts on another card, each sending TS 3 times. 100 others
    # send one question each (the median account sends 1 request). A and B form one
    # component of 29; across they share TS alone (2 / ln(29 + 5) = 0.57 a pair, under
    # CPM's 1.0), inside B TS and its card weigh 1.48: two clusters, not joined (across
    # 0.57 against 1.16 on the keys other than cards inside A: ratio 0.49 < 0.6).
    # B holds TS with 4 of its 29 holders, so at first it is not B's own: B scores low
    # (z = -6 + 5 * 0.04 + 2.5 * log10(3) + 1 + 1 + 1 - 1.5 * 0.384 = -2.2). A is flagged
    # (TA and TS its own, 33 requests a head); then TS counts as B's own too (4 + 25 of
    # 29 holders): template_share 1, counted at 84% (3x the median volume: gate 0.5 +
    # 0.5 log 3 / log 5) and in full though it is one template (it is a flagged ring's):
    # z = -6 + 5 * 0.841 + 2.5 * log10(3) + 3 - 1.5 * 0.384 = 1.8, flagged, and its
    # reason says why.
    ta = "rewrite the following paragraph in a formal tone and list three key claims"
    ts = "translate this customer email into german and keep the original formatting"
    rows = [(f"a{i:02d}", t) for i in range(25) for t in [ta] * 30 + [ts] * 3]
    rows += [(f"b{i}", ts) for i in range(4) for _ in range(3)]
    asked = "what should I plant in garden bed {} this spring"
    rows += [(f"o{i:03d}", asked.format(i)) for i in range(100)]
    events = _prompt_events(rows)
    events["payment_id"] = events["account_id"].str[0].map({"a": "pm_a", "b": "pm_b"})
    config = Config.from_dict({"link": {"hub_share": 1.0}})  # 2% of 129 would be 2
    result = run(events, config, tmp_path / "out", show_progress=False)
    clusters = result.clusters.set_index("size")
    ring, piece = clusters.loc[25], clusters.loc[4]
    assert ring["flagged"] and ring["templates"] == 2 and ring["templates_with_flagged"] == 0
    assert piece["templates"] == 1 and piece["templates_with_flagged"] == 1
    assert piece["template_share"] == 1.0
    assert piece["flagged"]
    assert (
        "1 prompt template shared inside the cluster (1 of them also with flagged"
        in (piece["reasons"])
    )


def test_an_account_links_through_its_most_sent_templates_only(tmp_path: Path) -> None:
    # x and y both send the same seven unrelated templates, template k 3 + k times each.
    # With max_groups 5 (the default) each links through the five it sent most (k = 2..6),
    # so their link carries five prompt values; with 0 (all) it carries seven.
    texts = [
        "rewrite the following paragraph in a formal tone",
        "translate this customer email into german please",
        "list three risks of the attached business plan",
        "write a haiku about autumn rain on the harbour",
        "explain how photosynthesis works to a child",
        "draft a polite reminder about the unpaid invoice",
        "summarise the plot of hamlet in five sentences",
    ]
    rows = [(a, t) for a in ("x", "y") for k, t in enumerate(texts) for _ in range(3 + k)]
    events = _prompt_events(rows)
    for max_groups, shared in ((5, 5), (0, 7)):
        config = Config.from_dict({"prompt": {"max_groups": max_groups}})
        result = run(events, config, tmp_path / f"out{max_groups}", show_progress=False)
        assert result.links["prompt_n"].tolist() == [shared]
        assert result.info["config"]["prompt"]["max_groups"] == max_groups


def test_heavy_accounts_link_through_strict_groups(tmp_path: Path) -> None:
    # Two operators, a1-a4 and b1-b4, each send their own template 30 times per account.
    # The masked templates share 12 of their 18 words (Jaccard 0.67): one broad group at 0.6,
    # so the eight accounts form one cluster. The operators send 15x the requests of the
    # median account (2), so with heavy_threshold 0.8 their prompts are grouped again,
    # strictly: a1-a4 and b1-b4 link only among themselves. The 30 light accounts each
    # ask two questions of their own and are not heavy.
    body = "summarise the following support ticket and classify its urgency level now"
    templates = {"a": body + " alpha beta omega", "b": body + " gamma delta sigma"}
    rows = [
        (f"{op}{i}", f"{text} ticket {n}")
        for op, text in templates.items()
        for i in range(1, 5)
        for n in range(30)
    ]
    rows += [
        (f"u{i:02d}", f"my own question number {i} about {w}")
        for i in range(30)
        for w in ("x", "y")
    ]
    events = _prompt_events(rows)
    clusters = {}
    for strict in (0.0, 0.8):
        # (hub_share: in 38 accounts a value held by 4 would otherwise be a hub)
        config = Config.from_dict(
            {"prompt": {"heavy_threshold": strict}, "link": {"hub_share": 0.5}}
        )
        result = run(events, config, tmp_path / f"out{strict}", show_progress=False)
        members = result.accounts[result.accounts["cluster_id"] != ""]
        clusters[strict] = sorted(
            sorted(group["account_id"]) for _, group in members.groupby("cluster_id")
        )
        if strict:
            assert result.info["counts"]["heavy_accounts"] == 8
            # the pages name the strict groups' texts like any other template's
            assert result.prompts["text"].str.contains("alpha beta").any()
    ring_a, ring_b = [f"a{i}" for i in range(1, 5)], [f"b{i}" for i in range(1, 5)]
    assert clusters[0.0] == [ring_a + ring_b]
    assert clusters[0.8] == [ring_a, ring_b]


def test_heavy_accounts_keep_the_broad_group_of_prompts_sent_once(tmp_path: Path) -> None:
    # h1 and h2 are heavy (20 requests against a median of 2): each sends its own script
    # 18 times, and the two texts P and Q once each. P and Q share 12 of their 18 words
    # (Jaccard 0.67): one broad group G at 0.6, two strict groups at 0.8. Each account
    # sent P's and Q's strict groups once, too few to link (min_uses 2), so its P and Q
    # keep the broad group, which it sent twice: h1 and h2 link through G. Were P and Q
    # their own strict values, h1 and h2 would hold two values each that link nothing,
    # and no link at all (their scripts differ).
    body = "summarise the following support ticket and classify its urgency level now"
    p_text, q_text = body + " alpha beta omega", body + " gamma delta sigma"
    scripts = {
        "h1": "translate this legal contract clause into plain spanish for a tenant reader",
        "h2": "list every chemical compound named in the patent abstract below with formulas",
    }
    rows = [(a, f"{text} case {n}") for a, text in scripts.items() for n in range(18)]
    rows += [(a, text) for a in scripts for text in (p_text, q_text)]
    rows += [
        (f"u{i:02d}", f"my own question number {i} about {w}") for i in range(30) for w in "xy"
    ]
    config = Config.from_dict({"prompt": {"heavy_threshold": 0.8}, "link": {"hub_share": 0.5}})
    result = run(_prompt_events(rows), config, tmp_path / "out", show_progress=False)
    assert result.info["counts"]["heavy_accounts"] == 2
    links = result.links
    assert links[["a", "b"]].values.tolist() == [["h1", "h2"]]
    assert links["prompt_n"].tolist() == [1]


def test_cluster_prompts_are_shared_and_capped(
    hand_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = run(hand_csv, Config(), tmp_path / "full", show_progress=False).prompts
    # only templates two or more accounts hold: a text one account sent alone is no evidence
    assert len(full) and (full["accounts"] >= 2).all()
    from sybilgraph.views import tables as views

    monkeypatch.setattr(views, "PROMPTS_PER_CLUSTER", 1)
    capped = run(hand_csv, Config(), tmp_path / "capped", show_progress=False).prompts
    assert (capped.groupby("cluster_id").size() == 1).all()
    top = full.sort_values(["requests", "template"], ascending=[False, True])
    expected = top.groupby("cluster_id").head(1).set_index("cluster_id")["template"]
    assert capped.set_index("cluster_id")["template"].to_dict() == expected.to_dict()


def test_only_links_that_reach_the_graph_are_kept_unless_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Four café IPs, each the address of 30 accounts: 4 x 435 = 1,740 pairs, each resting
    # on one IP alone at 1 / ln(30 + 5) = 0.281, under detect.min_weight 0.3. Two of the
    # accounts also pay with one card: 1 / ln(35) + 2 / ln(2 + 5) = 1.309, the one link
    # that reaches the graph. By default it is the only pair made: an address that
    # cannot tie two accounts alone pairs only accounts tied otherwise. With
    # busy_addresses "all" every pair is made, and the light ones are found from their
    # weights alone (the run warns of them); with keep_weak_links every pair is a link,
    # with its evidence. (The card pair rests on two keys: 1,739 rest on the IP alone.)
    accounts = [f"a{i:03d}" for i in range(120)]
    events = pd.DataFrame(
        {
            "account_id": accounts,
            "ts": [f"2026-04-14T10:{i % 60:02d}:00Z" for i in range(120)],
            "ip": [f"10.0.0.{i // 30}" for i in range(120)],
            "payment_id": ["pm_1", "pm_1"] + [None] * 118,
            "prompt": [f"question number {i}" for i in range(120)],
        }
    )
    config = {"link": {"hub_share": 1.0}}
    with caplog.at_level("WARNING", logger="sybilgraph"):
        result = run(events, Config.from_dict(config), tmp_path / "bound", show_progress=False)
    links = result.links
    assert links[["a", "b"]].values.tolist() == [["a000", "a001"]]
    assert links["weight"].iloc[0] == pytest.approx(1 / math.log(35) + 2 / math.log(7))
    assert result.info["counts"]["pair_values"] == 2
    assert "links resting on ip alone" not in caplog.text
    config["link"]["busy_addresses"] = "all"
    with caplog.at_level("WARNING", logger="sybilgraph"):
        result = run(events, Config.from_dict(config), tmp_path / "busy", show_progress=False)
    assert result.links[["a", "b"]].values.tolist() == [["a000", "a001"]]
    assert result.info["counts"]["pair_values"] == 1741
    assert "1739 of the 1739 links resting on ip alone weigh less than" in caplog.text
    config["link"]["busy_addresses"] = "tied"
    config["link"]["keep_weak_links"] = True
    result = run(events, Config.from_dict(config), tmp_path / "all", show_progress=False)
    assert len(result.links) == 1740
    light = result.links[result.links["keys"] == "ip"]
    assert len(light) == 1739
    assert light["weight"].to_numpy() == pytest.approx(1 / math.log(35))
    assert result.accounts.set_index("account_id").loc["a002", "cluster_id"] == ""
