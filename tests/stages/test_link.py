"""link: shared values become weighted account pairs, on every engine.

A value held by ``d`` accounts weighs ``key weight x factor / ln(d + hub_c)`` (hub_c 5;
key weights ip 1, payment 2, prompt 2, an extra key 1; factor 1 without shared
infrastructure). The traffic is the table in ``tests/stages/traffic.py``, with a hub
cap of 3; each expected table below is worked out from it by hand.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from sybilgraph.config import EngineConfig
from sybilgraph.engines import Engine, make_engine
from sybilgraph.stages.inputs import load_inputs
from sybilgraph.stages.link import link
from sybilgraph.stages.tables import LinkTables, ObservationTables
from tests.stages.traffic import (
    SOLVE,
    assert_table,
    at,
    config,
    events,
    link_traffic,
    observe_traffic,
    read,
    template_group,
)

HUB = "hub: held by more than 3 accounts"
LINK_COLUMNS = ["a", "b", "weight", "keys", "evidence", "first_seen", "last_seen"]


def w(key_weight: float, holders: int) -> float:
    """The weight of a value held by ``holders`` accounts (hub_c 5)."""
    return key_weight / math.log(holders + 5)


@pytest.fixture(scope="module")
def linked_once(engine_name: str) -> Iterator[tuple[Engine, LinkTables]]:
    """The traffic linked once per engine, for the tests that only read it."""
    engine = make_engine(EngineConfig(name=engine_name))  # type: ignore[arg-type]
    yield engine, link_traffic(engine)[1]
    engine.close()


@pytest.fixture(scope="module")
def observed_once(engine_name: str) -> Iterator[tuple[Engine, ObservationTables]]:
    """The traffic observed once per engine, for the tests that link it with a config
    of their own (link leaves the observations as they are)."""
    engine = make_engine(EngineConfig(name=engine_name))  # type: ignore[arg-type]
    yield engine, observe_traffic(engine)
    engine.close()


def test_values_and_hubs(linked_once: tuple[Engine, LinkTables]) -> None:
    # Every value two or more accounts hold, with its holders, requests, first and last
    # seen (the seven that one account holds, dev-a, pm_4, the poem and four more, link
    # nothing: they are counted, not kept); the carrier address, held by 4 accounts
    # (more than the cap of 3), is a hub and says why. The device ios-17 is held by
    # exactly 3: it is no hub.
    solve = template_group(SOLVE)
    rows = [
        ("device", "ios-17", 3, 4, "12:00", "13:10", None),
        ("ip", "10.0.0.2", 3, 3, "10:05", "11:00", None),
        ("ip", "10.0.0.9", 2, 2, "10:00", "10:10", None),
        ("ip", "100.64.0.1", 4, 5, "12:00", "13:10", HUB),
        ("payment", "pm_1", 3, 5, "10:00", "11:00", None),
        ("prompt", solve, 3, 5, "10:00", "11:00", None),
    ]
    values = pd.DataFrame(
        [(k, v, d, n, at(first), at(last), why, 1.0) for k, v, d, n, first, last, why in rows],
        columns=[
            "key",
            "value",
            "holders",
            "requests",
            "first_seen",
            "last_seen",
            "reason",
            "factor",
        ],
    )
    hubs = pd.DataFrame(
        [("ip", "100.64.0.1", 4, 5, HUB, at("12:00"), at("13:10"))],
        columns=["key", "value", "accounts", "requests", "reason", "first_seen", "last_seen"],
    )
    engine, linked = linked_once
    assert_table(read(engine, linked.values, ["key", "value"]), values)
    assert_table(read(engine, linked.hubs, ["key", "value"]), hubs)
    assert linked.counts == {"values": 12, "hubs": 1, "pair_values": 11, "links": 6}


def test_pair_values(linked_once: tuple[Engine, LinkTables]) -> None:
    # One row per pair of accounts sharing a linkable value (held by 2 to 3 accounts):
    #   10.0.0.9  u1 u2         1 / ln 7 = 0.5139
    #   10.0.0.2  u1 u2 u3      1 / ln 8 = 0.4809 for each of its 3 pairs
    #   pm_1      u1 u2 u3      2 / ln 8 = 0.9618 ...
    #   SOLVE     u1 u2 (u3)    2 / ln 8: u3 sent it once, fewer than min_uses 2, so
    #                           it counts among the holders but links no pair of u3
    #   ios-17    u4 u5 u6      1 / ln 8 (an extra key weighs 1)
    # A pair value's time is when both accounts held it: the later first sighting and
    # the earlier last one. Where their times do not overlap (u1 used 10.0.0.2 at 10:05,
    # u2 at 10:20), first_seen comes after last_seen.
    solve = template_group(SOLVE)
    rows = [
        ("u1", "u2", "ip", "10.0.0.2", w(1, 3), "10:20", "10:05"),
        ("u1", "u2", "ip", "10.0.0.9", w(1, 2), "10:10", "10:00"),
        ("u1", "u2", "payment", "pm_1", w(2, 3), "10:10", "10:05"),
        ("u1", "u2", "prompt", solve, w(2, 3), "10:10", "10:05"),
        ("u1", "u3", "ip", "10.0.0.2", w(1, 3), "11:00", "10:05"),
        ("u1", "u3", "payment", "pm_1", w(2, 3), "11:00", "10:05"),
        ("u2", "u3", "ip", "10.0.0.2", w(1, 3), "11:00", "10:20"),
        ("u2", "u3", "payment", "pm_1", w(2, 3), "11:00", "10:20"),
        ("u4", "u5", "device", "ios-17", w(1, 3), "12:10", "12:10"),
        ("u4", "u6", "device", "ios-17", w(1, 3), "12:20", "12:20"),
        ("u5", "u6", "device", "ios-17", w(1, 3), "12:20", "12:10"),
    ]
    expected = pd.DataFrame(
        [(a, b, k, v, weight, at(first), at(last)) for a, b, k, v, weight, first, last in rows],
        columns=["a", "b", "key", "value", "w", "first_seen", "last_seen"],
    )
    engine, linked = linked_once
    pair_values = read(engine, linked.pair_values, ["a", "b", "key", "value"])
    assert list(pair_values.columns) == ["a", "b", "key", "value", "w"]
    assert_table(pair_values, expected[["a", "b", "key", "value", "w"]])
    # the times are kept in the links only: a link's first sighting is its values'
    # earliest, its last their latest
    times = expected.groupby(["a", "b"], as_index=False).agg(
        first_seen=("first_seen", "min"), last_seen=("last_seen", "max")
    )
    assert_table(read(engine, linked.links, ["a", "b"]), times)


def test_links(linked_once: tuple[Engine, LinkTables]) -> None:
    # The pair values of each pair summed, with the keys and the evidence: per key, how
    # many values are shared and up to 3 of them, heaviest first (10.0.0.9, held by 2,
    # before 10.0.0.2, held by 3); first_seen the earliest, last_seen the latest
    #   u1 u2  min(1/ln 7 + 1/ln 8, 0.9) + 2/ln 8 + 2/ln 8 = 2.8236   ip, payment, prompt
    #          (the two shared IPs weigh 0.9949, over link.infrastructure_cap 0.9)
    #   u1 u3  1/ln 8 + 2/ln 8                   = 1.4427   ip, payment
    #   u2 u3  as u1 u3
    #   u4 u5, u4 u6, u5 u6  1/ln 8              = 0.4809   device
    # and per key its weight, its count of shared values and their sample
    solve = template_group(SOLVE)
    both = "ip: 1 shared (10.0.0.2); payment: 1 shared (pm_1)"
    device = "device: 1 shared (ios-17)"
    rows = [
        ("u1", "u2", 0.9 + 4 * w(1, 3), "ip,payment,prompt",
         f"ip: 2 shared (10.0.0.9, 10.0.0.2); payment: 1 shared (pm_1); "
         f"prompt: 1 shared ({solve})", "10:10", "10:05"),
        ("u1", "u3", 3 * w(1, 3), "ip,payment", both, "11:00", "10:05"),
        ("u2", "u3", 3 * w(1, 3), "ip,payment", both, "11:00", "10:20"),
        ("u4", "u5", w(1, 3), "device", device, "12:10", "12:10"),
        ("u4", "u6", w(1, 3), "device", device, "12:20", "12:20"),
        ("u5", "u6", w(1, 3), "device", device, "12:20", "12:10"),
    ]  # fmt: skip
    expected = pd.DataFrame(
        [(*row[:5], at(row[5]), at(row[6])) for row in rows], columns=LINK_COLUMNS
    )
    # device, ip, payment, prompt: weight, number of shared values, sample
    per_key = pd.DataFrame(
        [
            (0.0, 0, None, w(1, 2) + w(1, 3), 2, "10.0.0.9, 10.0.0.2",
             w(2, 3), 1, "pm_1", w(2, 3), 1, solve),
            (0.0, 0, None, w(1, 3), 1, "10.0.0.2", w(2, 3), 1, "pm_1", 0.0, 0, None),
            (0.0, 0, None, w(1, 3), 1, "10.0.0.2", w(2, 3), 1, "pm_1", 0.0, 0, None),
            (w(1, 3), 1, "ios-17", 0.0, 0, None, 0.0, 0, None, 0.0, 0, None),
            (w(1, 3), 1, "ios-17", 0.0, 0, None, 0.0, 0, None, 0.0, 0, None),
            (w(1, 3), 1, "ios-17", 0.0, 0, None, 0.0, 0, None, 0.0, 0, None),
        ],
        columns=[
            f"{key}_{part}"
            for key in ("device", "ip", "payment", "prompt")
            for part in ("weight", "n", "values")
        ],
    )  # fmt: skip
    engine, linked = linked_once
    links = read(engine, linked.links, ["a", "b"])
    assert linked.keys == ("device", "ip", "payment", "prompt")
    assert_table(links, expected)
    assert_table(links, per_key)


def test_one_more_holder_than_the_hub_cap_makes_a_hub(
    observed_once: tuple[Engine, ObservationTables],
) -> None:
    # At a cap of 3 (the tests above) the carrier address, held by u4 .. u7, is a hub;
    # at 4 it is not, and links its 4 x 3 / 2 = 6 pairs at 1/ln 9 each
    engine, observed = observed_once
    linked = link(engine, observed, config(hub_cap=4))

    assert engine.count(linked.hubs) == 0
    pair_values = read(engine, linked.pair_values, ["a", "b", "key", "value"])
    carrier = pair_values[pair_values["value"] == "100.64.0.1"]
    assert carrier[["a", "b"]].values.tolist() == [
        ["u4", "u5"],
        ["u4", "u6"],
        ["u4", "u7"],
        ["u5", "u6"],
        ["u5", "u7"],
        ["u6", "u7"],
    ]
    assert carrier["w"].tolist() == pytest.approx([w(1, 4)] * 6)
    assert len(pair_values) == 11 + 6


def test_a_busy_address_pairs_only_accounts_tied_otherwise(engine: Engine) -> None:
    # u8 also sends from the carrier address and shares a card with u6 alone: the
    # carrier is held by u4 .. u8, and at a hub cap of 5 links them at 1/ln 10 = 0.434
    # a pair. At a bound of 0.44 it cannot tie two accounts alone: it is busy. The
    # device ties u4, u5, u6 (1/ln 8 = 0.481) and the card u6, u8, so those four are
    # one component; u7 shares nothing else with anyone. "tied" pairs the carrier's
    # holders in that component, u8 with u4 and u5 too (tied through u6), each at the
    # weight "all" gives it, and never u7; "all" makes every one of its 10 pairs
    extra = pd.DataFrame(
        [
            ("u8", "2026-04-13T14:00:00Z", "100.64.0.1", "pm_68"),
            ("u6", "2026-04-13T14:10:00Z", None, "pm_68"),
        ],
        columns=["account_id", "ts", "ip", "payment_id"],
    )
    traffic = pd.concat([events(), extra], ignore_index=True)
    carrier = {}
    others = {}
    for busy in ("tied", "all"):
        cfg = config(hub_cap=5, busy_addresses=busy)
        cfg.detect.min_weight = 0.44
        _, linked = link_traffic(engine, cfg, traffic)
        pair_values = read(engine, linked.pair_values, ["a", "b", "key", "value"])
        on_carrier = pair_values["value"] == "100.64.0.1"
        carrier[busy] = pair_values[on_carrier].reset_index(drop=True)
        others[busy] = pair_values[~on_carrier].reset_index(drop=True)

    assert carrier["tied"][["a", "b"]].values.tolist() == [
        ["u4", "u5"],
        ["u4", "u6"],
        ["u4", "u8"],
        ["u5", "u6"],
        ["u5", "u8"],
        ["u6", "u8"],
    ]
    assert carrier["tied"]["w"].tolist() == pytest.approx([w(1, 5)] * 6)
    assert len(carrier["all"]) == 10
    tied_pairs = carrier["all"]["a"] + carrier["all"]["b"]
    assert_table(carrier["tied"], carrier["all"][~tied_pairs.str.contains("u7")])
    assert_table(others["tied"], others["all"])


def test_without_prompts_link_still_works(engine: Engine) -> None:
    # No prompts: no prompt map, and the links are those above without the template:
    # u1 u2 weigh min(1/ln 7 + 1/ln 8, 0.9) + 2/ln 8 and share ip and payment only
    expected = pd.DataFrame(
        [
            ("u1", "u2", 0.9 + 2 * w(1, 3), "ip,payment"),
            ("u1", "u3", 3 * w(1, 3), "ip,payment"),
            ("u2", "u3", 3 * w(1, 3), "ip,payment"),
            ("u4", "u5", w(1, 3), "device"),
            ("u4", "u6", w(1, 3), "device"),
            ("u5", "u6", w(1, 3), "device"),
        ],
        columns=["a", "b", "weight", "keys"],
    )
    observed, linked = link_traffic(engine, config(), events().drop(columns=["prompt"]))

    assert observed.prompt_map is None
    assert linked.keys == ("device", "ip", "payment")
    assert_table(read(engine, linked.links, ["a", "b"]), expected)


def test_min_uses_one_links_a_template_sent_once(
    observed_once: tuple[Engine, ObservationTables],
) -> None:
    # With min_uses 1, u3's one arithmetic prompt links u3 to u1 and u2 on SOLVE too:
    # 1/ln 8 + 2/ln 8 + 2/ln 8 each. (The poem, held by u3 alone, still links no one.)
    cfg = config()
    cfg.prompt.min_uses = 1
    engine, observed = observed_once
    linked = link(engine, observed, cfg)

    links = read(engine, linked.links, ["a", "b"]).set_index(["a", "b"])
    assert links.loc[("u1", "u3"), "weight"] == pytest.approx(5 * w(1, 3))
    assert links.loc[("u2", "u3"), "keys"] == "ip,payment,prompt"


def test_a_pair_at_the_bound_is_weighed_exactly(
    observed_once: tuple[Engine, ObservationTables],
) -> None:
    # The pairs that reach the graph are found by a sum of whole units (2^-40) first;
    # a pair that near the bound is weighed exactly. The device pairs (u4 u5, u4 u6,
    # u5 u6) rest on one device alone: at a bound of exactly their weight they are
    # links, one step of a double above it they are not. Rounded units alone decide one
    # of the two wrongly, whichever way the weight rounds
    engine, observed = observed_once
    cfg = config()
    cfg.detect.min_weight = 0.1
    weighed = read(engine, link(engine, observed, cfg).links, ["a", "b"])
    device = weighed.loc[weighed["keys"] == "device", "weight"]
    assert device.nunique() == 1
    weight = float(device.iloc[0])

    cfg.detect.min_weight = weight
    at_bound = link(engine, observed, cfg)  # each run makes the same tables anew
    kept = read(engine, at_bound.links, ["a", "b"])
    cfg.detect.min_weight = math.nextafter(weight, math.inf)
    above = link(engine, observed, cfg)

    assert kept.loc[kept["keys"] == "device", ["a", "b"]].values.tolist() == [
        ["u4", "u5"],
        ["u4", "u6"],
        ["u5", "u6"],
    ]
    assert "device" not in set(read(engine, above.links, ["a", "b"])["keys"])
    assert at_bound.lone is not None and above.lone is not None
    assert at_bound.lone["device"] == (3, 0)
    assert above.lone["device"] == (3, 3)


def test_max_groups_keeps_an_accounts_most_sent_templates(engine: Engine) -> None:
    # u1 and u2 also send a translation template 3 times each: each now has two
    # template groups, SOLVE sent twice and TRANSLATE three times. With max_groups 1
    # they link through the one they sent most, TRANSLATE (held by 2: 2/ln 7), and no
    # longer through SOLVE
    extra = pd.DataFrame(
        [
            (account, f"2026-04-13T09:0{i}:00Z", "Translate 'good morning' into French")
            for account in ("u1", "u2")
            for i in range(3)
        ],
        columns=["account_id", "ts", "prompt"],
    )
    traffic = pd.concat([events(), extra], ignore_index=True)
    cfg = config()
    cfg.prompt.max_groups = 1
    _, linked = link_traffic(engine, cfg, traffic)

    names = {
        template_group(SOLVE): "SOLVE",
        template_group("translate <str> into french"): "TRANSLATE",
    }
    pair_values = read(engine, linked.pair_values, ["a", "b", "key", "value"])
    prompts = pair_values[pair_values["key"] == "prompt"]
    assert prompts[["a", "b"]].values.tolist() == [["u1", "u2"]]
    assert names[prompts["value"].iloc[0]] == "TRANSLATE"
    assert prompts["w"].iloc[0] == pytest.approx(w(2, 2))


def test_direct_edges_are_pairs_of_their_own(
    observed_once: tuple[Engine, ObservationTables], tmp_path: Path
) -> None:
    # A referral from u7 to u1 (no shared value between them) and one from u5 to
    # itself, dropped: the pair u1 u7 links on key direct, weight 2 (its key weight),
    # with the edge's kind as evidence
    path = tmp_path / "edges.csv"
    path.write_text(
        "a,b,kind,ts\nu7,u1,referral,2026-04-13T09:00:00Z\nu5,u5,referral,\n", encoding="utf-8"
    )
    engine, observed = observed_once
    inputs = load_inputs(engine, dataclasses.replace(config(), direct_edges=str(path)))
    linked = link(engine, observed, config(), inputs=inputs)

    assert (inputs.counts["edges_rejected"], inputs.counts["direct_edges_dropped"]) == (1, 0)
    links = read(engine, linked.links, ["a", "b"]).set_index(["a", "b"])
    assert_table(
        links.loc[[("u1", "u7")]].reset_index(),
        pd.DataFrame(
            [("u1", "u7", 2.0, "direct", "direct: 1 shared (referral)", at("09:00"), at("09:00"))],
            columns=LINK_COLUMNS,
        ),
    )
    assert linked.keys == ("device", "direct", "ip", "payment", "prompt")
    assert len(links) == 7


def test_benign_values_are_hubs_that_say_so(
    observed_once: tuple[Engine, ObservationTables],
) -> None:
    # The card pm_1 marked benign: listed among the hubs with that reason, and the ring's
    # links lose their payment part (u1 u3: 1/ln 8 left, the shared IP). The card pm_7,
    # one account's, is listed too: a value with a reason is kept whoever holds it
    benign = pa.table({"key": ["payment", "payment"], "value": ["pm_1", "pm_7"]})
    engine, observed = observed_once
    linked = link(engine, observed, config(), benign_values=benign)

    hubs = read(engine, linked.hubs, ["key", "value"])
    assert hubs[["key", "value", "accounts", "reason"]].values.tolist() == [
        ["ip", "100.64.0.1", 4, HUB],
        ["payment", "pm_1", 3, "labelled benign"],
        ["payment", "pm_7", 1, "labelled benign"],
    ]
    kept = read(engine, linked.values, ["key", "value"])
    assert kept.loc[kept["holders"] < 2, "value"].tolist() == ["pm_7"]
    links = read(engine, linked.links, ["a", "b"]).set_index(["a", "b"])
    assert links.loc[("u1", "u3"), "weight"] == pytest.approx(w(1, 3))
    assert links.loc[("u1", "u3"), "keys"] == "ip"


def test_pairs_and_evidence_follow_the_texts_order(engine: Engine) -> None:
    # link numbers accounts and values for speed; a pair's first account and the values
    # a sample shows (ties broken by text) must be those the texts give: "n10" sorts
    # before "n9", and of five devices of equal weight "d1000", "d2", "d300" come first
    devices = ["d5", "d40", "d300", "d1000", "d2"]
    rows = [
        (account, f"2026-04-13T10:0{i}:00Z", None, None, None, device)
        for account in ("n9", "n10")
        for i, device in enumerate(devices)
    ]
    traffic = pd.DataFrame(
        rows, columns=["account_id", "ts", "ip", "payment_id", "prompt", "device"]
    )
    _, linked = link_traffic(engine, config(), traffic)

    links = read(engine, linked.links, ["a", "b"])
    assert links[["a", "b"]].values.tolist() == [["n10", "n9"]]
    assert links["evidence"].iloc[0] == "device: 5 shared (d1000, d2, d300)"
    pairs = read(engine, linked.pair_values, ["value"])
    assert pairs[["a", "b"]].drop_duplicates().values.tolist() == [["n10", "n9"]]
    assert sorted(pairs["value"]) == sorted(devices)


def test_slices_hold_each_row_once_and_a_groups_rows_together(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a fold run once per slice gives the rows of one run over all: numbers are cut into
    # ranges of about as many rows each, texts by their hash, a NULL in one slice; how
    # many slices follows the groups the fold holds, not the rows it reads
    from sybilgraph.stages.link import slices

    a = [i % 40 for i in range(400)] + [None, 7]
    engine.store(
        "pairs",
        pa.table(
            {
                "id": pa.array(range(len(a)), pa.int64()),
                "a": pa.array(a, pa.int32()),
                "b": pa.array([(i * 7) % 3 for i in range(len(a))], pa.int32()),
                "name": [None if x is None else f"u{x}'; --" for x in a],
            }
        ),
    )
    monkeypatch.setattr(type(engine), "fold_groups", 10)
    for by, on in ((("a", "b"), None), (("name", "b"), None), (("name", "b"), "a")):
        conditions = slices(engine, "pairs", by, on)
        assert len(conditions) >= 5  # about 120 groups of (a, b), 10 a slice
        seen: list[int] = []
        groups: set[tuple[object, ...]] = set()
        for condition in conditions:
            part = engine.arrow(f"SELECT * FROM pairs WHERE {condition}").to_pylist()
            seen += [row["id"] for row in part]
            mine = {tuple(row[c] for c in by) for row in part}
            assert not mine & groups
            groups |= mine
            if by == ("a", "b"):  # ranges of about as many rows: none more than twice
                assert len(part) <= 2 * len(a) / len(conditions)
        assert sorted(seen) == list(range(len(a)))
    # 400 rows in 3 groups: one fold holds them
    engine.store("few", pa.table({"a": [i % 3 for i in range(400)], "b": [1] * 400}))
    assert slices(engine, "few", ("a", "b")) == ["true"]
    monkeypatch.setattr(type(engine), "fold_groups", 0)  # no limit
    assert slices(engine, "pairs", ("a", "b")) == ["true"]
