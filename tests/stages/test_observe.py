"""observe: events become (account, key, value) observations, on every engine.

The traffic is the table in ``tests/stages/traffic.py``; each expected table below is
worked out from it by hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pandas as pd
import pytest

from sybilgraph.config import Config, EngineConfig
from sybilgraph.engines import Engine, make_engine
from sybilgraph.engines.sources import frame_source
from sybilgraph.stages.load import load
from sybilgraph.stages.observe import keep_shared_prompts, observe
from sybilgraph.stages.tables import PROMPT_SAMPLES, ObservationTables
from tests.stages.traffic import (
    POEM,
    SOLVE,
    assert_table,
    at,
    config,
    events,
    observe_traffic,
    read,
    template_group,
)


@pytest.fixture(scope="module")
def observed_once(engine_name: str) -> Iterator[tuple[Engine, ObservationTables]]:
    """The traffic observed once per engine, for the tests that only read it."""
    engine = make_engine(EngineConfig(name=engine_name))  # type: ignore[arg-type]
    yield engine, observe_traffic(engine)
    engine.close()


def expected_observations() -> pd.DataFrame:
    """The observations of the traffic, worked out by hand.

    One row per (account, key, value): first and last time seen and the requests. The
    five arithmetic prompts differ only in their numbers: one template, SOLVE. u2's
    device is blank (missing), so u2 has no device observation.
    """
    solve, poem = template_group(SOLVE), template_group(POEM)
    rows = [
        ("u1", "device", "dev-a", "10:00", "10:05", 2),
        ("u1", "ip", "10.0.0.2", "10:05", "10:05", 1),
        ("u1", "ip", "10.0.0.9", "10:00", "10:00", 1),
        ("u1", "payment", "pm_1", "10:00", "10:05", 2),
        ("u1", "prompt", solve, "10:00", "10:05", 2),
        ("u2", "ip", "10.0.0.2", "10:20", "10:20", 1),
        ("u2", "ip", "10.0.0.9", "10:10", "10:10", 1),
        ("u2", "payment", "pm_1", "10:10", "10:20", 2),
        ("u2", "prompt", solve, "10:10", "10:20", 2),
        ("u3", "ip", "10.0.0.2", "11:00", "11:00", 1),
        ("u3", "ip", "10.0.0.3", "11:30", "11:30", 1),
        ("u3", "payment", "pm_1", "11:00", "11:00", 1),
        ("u3", "prompt", poem, "11:30", "11:30", 1),
        ("u3", "prompt", solve, "11:00", "11:00", 1),
        ("u4", "device", "ios-17", "12:00", "13:10", 2),
        ("u4", "ip", "100.64.0.1", "12:00", "13:10", 2),
        ("u4", "payment", "pm_4", "12:00", "13:10", 2),
        ("u5", "device", "ios-17", "12:10", "12:10", 1),
        ("u5", "ip", "100.64.0.1", "12:10", "12:10", 1),
        ("u6", "device", "ios-17", "12:20", "12:20", 1),
        ("u6", "ip", "100.64.0.1", "12:20", "12:20", 1),
        ("u7", "ip", "10.0.0.7", "13:00", "13:00", 1),
        ("u7", "ip", "100.64.0.1", "12:30", "12:30", 1),
        ("u7", "payment", "pm_7", "13:00", "13:00", 1),
    ]
    return pd.DataFrame(
        [(a, k, v, at(first), at(last), n) for a, k, v, first, last, n in rows],
        columns=["account_id", "key", "value", "first_seen", "last_seen", "n"],
    )


def test_observations_per_account_key_and_value(
    observed_once: tuple[Engine, ObservationTables],
) -> None:
    engine, tables = observed_once
    observations = read(engine, tables.observations, ["account_id", "key", "value"])
    assert_table(observations, expected_observations())
    assert not tables.strict_groups  # nobody sends 5 x the median account's requests
    assert tables.counts == {
        "distinct_prompts": 6,
        "templates": 2,
        "observations": 24,
        "accounts": 7,
    }


def test_accounts_and_prompt_map(observed_once: tuple[Engine, ObservationTables]) -> None:
    # accounts: requests, first and last request of each account
    #   u1 2 10:00 10:05 | u2 2 10:10 10:20 | u3 2 11:00 11:30 | u4 2 12:00 13:10
    #   u5 1 12:10 12:10 | u6 1 12:20 12:20 | u7 2 12:30 13:00
    # prompt_map: each distinct prompt text, its template (lowercased, numbers masked)
    # and its template group; the two templates share no word, so two groups of one
    accounts = pd.DataFrame(
        [
            ("u1", 2, at("10:00"), at("10:05")),
            ("u2", 2, at("10:10"), at("10:20")),
            ("u3", 2, at("11:00"), at("11:30")),
            ("u4", 2, at("12:00"), at("13:10")),
            ("u5", 1, at("12:10"), at("12:10")),
            ("u6", 1, at("12:20"), at("12:20")),
            ("u7", 2, at("12:30"), at("13:00")),
        ],
        columns=["account_id", "requests", "first_seen", "last_seen"],
    )
    solve, poem = template_group(SOLVE), template_group(POEM)
    prompt_map = pd.DataFrame(
        [
            ("Solve 12 + 7 step by step", SOLVE, solve),
            ("Solve 2 + 2 step by step", SOLVE, solve),
            ("Solve 30 + 4 step by step", SOLVE, solve),
            ("Solve 5 + 5 step by step", SOLVE, solve),
            ("Solve 8 + 1 step by step", SOLVE, solve),
            ("Write a poem about the sea", POEM, poem),
        ],
        columns=["prompt", "template", "template_group"],
    )
    engine, tables = observed_once
    assert_table(read(engine, tables.accounts, ["account_id"]), accounts)
    assert tables.prompt_map is not None
    # the templates only where asked for (a weekly memory reads them)
    assert_table(read(engine, tables.prompt_map, ["prompt"]), prompt_map.drop(columns="template"))


def test_the_prompt_map_has_the_templates_where_asked(engine: Engine) -> None:
    # a weekly memory remembers the templates of the groups it keeps
    observed = observe_traffic(engine, keep_templates=True)
    assert observed.prompt_map is not None
    prompts = read(engine, observed.prompt_map, ["prompt"])
    assert prompts["template"].tolist() == [SOLVE] * 5 + [POEM]


def test_the_prompt_map_keeps_the_groups_two_accounts_sent(engine: Engine) -> None:
    # SOLVE's group is sent by u1, u2 and u3, POEM's by u3 alone: the poem is no
    # evidence, no page shows it, and the map drops it
    kept = keep_shared_prompts(engine, observe_traffic(engine))
    assert kept.prompt_map is not None
    prompts = read(engine, kept.prompt_map, ["prompt"])
    assert prompts["template"].tolist() == [SOLVE] * 5


def test_the_prompt_map_keeps_a_strict_group_two_accounts_sent(engine: Engine) -> None:
    # Every account with 2 requests is heavy: u1 and u2 send SOLVE's strict group, u3
    # SOLVE's broad group and POEM's, each alone. SOLVE's prompts stay for their strict
    # group (its samples on a page), though their broad group is u3's alone
    cfg = config()
    cfg.prompt.heavy_volume = 1.0
    kept = keep_shared_prompts(engine, observe_traffic(engine, cfg))
    assert kept.prompt_map is not None
    prompts = read(engine, kept.prompt_map, ["prompt"])
    assert prompts["template"].tolist() == [SOLVE] * 5
    assert prompts["strict_group"].notna().all()


def _kept_from_the_map_and_a_copy(cfg: Config, traffic: pd.DataFrame) -> list[pd.DataFrame]:
    """The prompt map kept of ``traffic``: from observe's own map, then from a copy of it
    in a table (as a weekly memory's map is)."""
    kept = []
    for own in (True, False):
        engine = make_engine(EngineConfig(name="duckdb"))
        try:
            # a weekly memory's map holds the templates observe kept; observe's own map
            # has none, and its samples are masked again
            observed = observe_traffic(engine, cfg, traffic, keep_templates=not own)
            assert observed.prompt_map is not None
            if not own:
                engine.create_table("map_copy", f"SELECT * FROM {observed.prompt_map}")
                observed = dataclasses.replace(observed, prompt_map="map_copy")
            shared = keep_shared_prompts(engine, observed)
            assert shared.prompt_map is not None
            kept.append(read(engine, shared.prompt_map, ["prompt"]))
        finally:
            engine.close()
    return kept


@pytest.mark.parametrize("heavy_volume", [1.0, 3.0])
def test_the_prompts_kept_are_those_of_the_whole_map_filtered(heavy_volume: float) -> None:
    # observe's own map chooses the rows kept before their texts are joined; a map that
    # is a table (a weekly memory's) is filtered whole: the same rows and columns
    cfg = config()
    cfg.prompt.heavy_volume = heavy_volume
    kept = _kept_from_the_map_and_a_copy(cfg, events())
    pd.testing.assert_frame_equal(kept[0], kept[1])
    assert list(kept[0].columns[:3]) == ["prompt", "template", "template_group"]
    assert kept[0]["template"].tolist() == [SOLVE] * 5


def _many_sums() -> pd.DataFrame:
    """u1 and u2 each send SOLVE's template with twelve sums of their own, u3 POEM."""
    rows = [
        (f"u{1 + i % 2}", f"10:{i:02d}", "10.0.0.1", None, f"solve {i} + {i * 7} step by step")
        for i in range(24)
    ]
    rows.append(("u3", "11:00", "10.0.0.3", None, "write a poem about the sea"))
    frame = pd.DataFrame(rows, columns=["account_id", "ts", "ip", "payment_id", "prompt"])
    frame["ts"] = "2026-04-13T" + frame["ts"] + ":00Z"
    frame["device"] = None
    return frame


def _least_keys(engine: Engine, texts: list[str], n: int) -> list[str]:
    """The ``n`` of ``texts`` of least key (the engine's own ``text_key``), sorted."""
    values = ", ".join(f"({engine.dialect.literal(t)})" for t in texts)
    rows = engine.arrow(
        f"SELECT prompt FROM (SELECT * FROM (VALUES {values}) v(prompt)) t "
        f"ORDER BY {engine.dialect.text_key('prompt')} LIMIT {n}"
    )
    return sorted(rows.column(0).to_pylist())


@pytest.mark.parametrize("heavy_volume", [1.0, 100.0])
def test_a_shared_group_keeps_its_samples_of_least_key(engine: Engine, heavy_volume: float) -> None:
    # 24 distinct sums of one template, sent by u1 and u2: the map keeps the
    # PROMPT_SAMPLES of least key, the same on every engine and run, and what a page
    # shows of the group; POEM (u3's alone) is dropped. With every account heavy, the
    # sums are observed as their strict group (one template: one group): the rows are
    # its samples and name no broad group, which no one is observed sending
    traffic = _many_sums()
    cfg = config()
    cfg.prompt.heavy_volume = heavy_volume
    observed = observe_traffic(engine, cfg, traffic)
    kept = keep_shared_prompts(engine, observed)
    assert kept.prompt_map is not None
    prompts = read(engine, kept.prompt_map, ["prompt"])
    sums = traffic["prompt"].tolist()[:24]
    assert prompts["prompt"].tolist() == _least_keys(engine, sums, PROMPT_SAMPLES)
    assert prompts["template"].tolist() == [SOLVE] * PROMPT_SAMPLES
    if heavy_volume > 1:
        assert prompts["template_group"].tolist() == [template_group(SOLVE)] * PROMPT_SAMPLES
        assert "strict_group" not in prompts
    else:
        assert prompts["template_group"].isna().all()
        assert prompts["strict_group"].nunique() == 1
        assert prompts["strict_group"].notna().all()


def test_a_weekly_map_keeps_the_same_samples_as_observes_own() -> None:
    # a map that is a table (a weekly memory's, the texts in it) keys its texts as they
    # are read: the same samples as observe's own map, which keys them at load
    kept = _kept_from_the_map_and_a_copy(config(), _many_sums())
    pd.testing.assert_frame_equal(kept[0], kept[1])
    assert len(kept[0]) == PROMPT_SAMPLES


def test_without_prompts_there_is_no_prompt_map(engine: Engine) -> None:
    # No prompt at all: nothing to fingerprint, so no prompt map and no prompt
    # observations; the others are as with prompts
    observed = observe_traffic(engine, config(), events().drop(columns=["prompt"]))

    assert observed.prompt_map is None
    expected = expected_observations()
    observations = read(engine, observed.observations, ["account_id", "key", "value"])
    assert_table(observations, expected[expected["key"] != "prompt"])
    assert observed.counts["distinct_prompts"] == 0


def test_excluded_accounts_keep_their_requests_but_observe_nothing(engine: Engine) -> None:
    # u1 and u4 marked benign: their observations go, their accounts stay
    cfg = config()
    loaded = load(engine, [frame_source(events())], cfg)
    observed = observe(engine, loaded, cfg, exclude_accounts=["u1", "u4"])

    expected = expected_observations()
    observations = read(engine, observed.observations, ["account_id", "key", "value"])
    assert_table(observations, expected[~expected["account_id"].isin(["u1", "u4"])])
    assert engine.count(observed.accounts) == 7


def test_accounts_repeating_a_heavy_accounts_template_take_its_strict_group(
    engine: Engine,
) -> None:
    # With heavy_volume 1, every account with the median's 2 requests or more is heavy
    # (u1 u2 u3 u4 u7), and their templates, SOLVE and POEM, get strict groups of their
    # own. An account takes a strict group where it sent it min_uses (2) times: u1 and
    # u2 SOLVE; u3 sent SOLVE and POEM once each and keeps their broad groups
    cfg = config()
    cfg.prompt.heavy_volume = 1.0
    observed = observe_traffic(engine, cfg, keep_templates=True)

    assert observed.strict_groups
    assert observed.prompt_map is not None
    prompt_map = read(engine, observed.prompt_map, ["prompt"])
    strict = dict(zip(prompt_map["template"], prompt_map["strict_group"], strict=False))
    assert strict[SOLVE] not in (template_group(SOLVE), template_group(POEM), None)
    expected = expected_observations()
    expected.loc[
        expected["account_id"].isin(["u1", "u2"]) & (expected["key"] == "prompt"), "value"
    ] = strict[SOLVE]
    observations = read(engine, observed.observations, ["account_id", "key", "value"])
    assert_table(observations, expected.sort_values(["account_id", "key", "value"]))


def test_tier_2_reads_the_templates_a_few_at_a_time_as_all_at_once(
    engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tier 2 reads the distinct templates a batch at a time: batches of 3 texts give the
    # observations one batch does
    from sybilgraph.stages import observe as observe_stage

    words = "please write a short story about a dragon who guards a library of lost books"
    copies = [" ".join(words.split()[:j] + words.split()[j + 1 :]) for j in range(6)]
    texts = []
    for i in range(60):  # six near copies, each a template of many prompts
        texts.append(f"{copies[i % 6]} in {i} words" if i % 3 else f"list the {i} largest lakes")
    traffic = pd.DataFrame(
        [(f"u{i % 23}", "2026-04-13T10:00:00Z", None, None, t, None) for i, t in enumerate(texts)],
        columns=["account_id", "ts", "ip", "payment_id", "prompt", "device"],
    )
    cfg = config()

    def observations() -> pd.DataFrame:
        engine = make_engine(EngineConfig(name=engine_name))  # type: ignore[arg-type]
        try:
            observed = observe_traffic(engine, cfg, traffic)
            return read(engine, observed.observations, ["account_id", "key", "value"])
        finally:
            engine.close()

    whole = observations()
    assert whole["value"].nunique() < len(set(texts)) // 2  # near copies grouped
    monkeypatch.setattr(observe_stage, "PROMPT_BATCH", 3)
    assert_table(observations(), whole)


def test_templates_that_share_a_hash_are_one_template_to_tier_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # two templates with one 64-bit hash (as likely as not never, but possible): tier 2
    # signs each hash once, with its template of fewer words (then the least signature),
    # whichever row comes first
    import numpy as np
    import pyarrow as pa

    from sybilgraph.stages import observe as observe_stage

    sea, ocean = "write a poem about the sea", "write a poem about the ocean"
    puzzle = "solve this puzzle now"  # fewer words than ``ocean``, and unlike it
    real = observe_stage.hash_strings
    (ocean_hash,) = real(pa.array([ocean]))

    def colliding(texts: pa.Array) -> np.ndarray:
        hashes = real(texts)
        hashes[np.asarray(texts.to_pylist(), dtype=object) == puzzle] = ocean_hash
        return hashes

    monkeypatch.setattr(observe_stage, "hash_strings", colliding)
    rows = [("u1", sea), ("u2", sea), ("u3", ocean), ("u4", puzzle), ("u5", puzzle)]
    traffic = pd.DataFrame(
        [(a, "2026-04-13T10:00:00Z", None, None, text, None) for a, text in rows],
        columns=["account_id", "ts", "ip", "payment_id", "prompt", "device"],
    )
    engine = make_engine(EngineConfig(name="duckdb"))
    try:
        observed = observe_traffic(engine, traffic=traffic)
        prompts = read(engine, observed.observations, ["account_id", "value"])
        group = dict(zip(prompts["account_id"], prompts["value"], strict=True))
        # the hash's template is ``puzzle``, which is no near copy of ``sea``: had
        # ``ocean`` stood for it, it joined ``sea``'s group and took ``puzzle`` along
        assert group["u3"] == group["u4"] == group["u5"]
        assert group["u1"] == group["u2"] != group["u3"]
        assert prompts["n"].tolist() == [1] * 5
    finally:
        engine.close()


def test_the_events_name_their_text_which_is_held_once() -> None:
    # each prompt's text is held once (load's distinct texts), not also in every event
    # that sent it: an event names its text by its key, and observe reads the texts there
    engine = make_engine(EngineConfig(name="duckdb"))
    try:
        cfg = config()
        sent = events()
        events_ = load(engine, [frame_source(sent)], cfg)
        columns = engine.arrow(f"SELECT * FROM {events_.events} LIMIT 0").column_names
        assert "prompt" not in columns and "prompt_key" in columns
        texts = engine.arrow(f"SELECT * FROM {events_.prompts}").to_pandas()
        assert sorted(texts["prompt"]) == sorted(sent["prompt"].dropna().unique())
        assert texts["pos"].is_unique and texts["prompt_key"].is_unique
        joined = engine.arrow(
            f"""SELECT e._row, p.prompt FROM {events_.events} e
                LEFT JOIN {events_.prompts} p ON p.prompt_key = e.prompt_key ORDER BY e._row"""
        ).to_pandas()
        assert joined["prompt"].tolist() == sent["prompt"].tolist()
        observed = observe(engine, events_, cfg)
        # observe lets go of the values it has observed: who sent which prompt when stays
        after = engine.arrow(f"SELECT * FROM {events_.events} LIMIT 0").column_names
        assert after == ["account_id", "ts", "prompt_key"]
        assert engine.count(events_.events) == len(sent)
        kept = read(engine, observed.observations, ["account_id", "key", "value"])
        assert set(kept[kept["key"] == "prompt"]["account_id"]) == {"u1", "u2", "u3"}
    finally:
        engine.close()


@pytest.mark.parametrize("subnets", [False, True])
def test_the_subnet_is_observed_and_kept_only_when_asked(subnets: bool) -> None:
    # link.ipv4_subnet on: each IPv4 event also observes its /24; off, no one reads the
    # subnet, and the events do not hold it
    engine = make_engine(EngineConfig(name="duckdb"))
    try:
        cfg = config(ipv4_subnet=subnets)
        events_ = load(engine, [frame_source(events())], cfg)
        held = engine.arrow(f"SELECT DISTINCT ip_subnet FROM {events_.events}").column(0)
        expected = {"10.0.0.0/24", "100.64.0.0/24"} if subnets else {None}
        assert set(held.to_pylist()) == expected
        observed = observe(engine, events_, cfg)
        kept = read(engine, observed.observations, ["account_id", "key", "value"])
        on_subnet = kept[kept["key"] == "ip_subnet"]
        if subnets:
            assert set(on_subnet[on_subnet["value"] == "10.0.0.0/24"]["account_id"]) == {
                "u1",
                "u2",
                "u3",
                "u7",
            }
        else:
            assert on_subnet.empty
    finally:
        engine.close()


def test_the_texts_held_are_those_of_the_events_used() -> None:
    # a text sent only by rows that are rejected (no account) or outside the window is
    # not among the texts held; with every row used, every text is
    import datetime as dt

    sent = events()
    sent.loc[0, "account_id"] = None  # rejected: its text is sent by no other row
    sent.loc[5, "ts"] = "2026-04-20T00:00:00Z"  # the poem, after the window below
    engine = make_engine(EngineConfig(name="duckdb"))
    try:
        window = (dt.datetime(2026, 4, 13), dt.datetime(2026, 4, 14))
        loaded = load(engine, [frame_source(sent)], config(), window)
        held = set(engine.arrow(f"SELECT prompt FROM {loaded.prompts}").column(0).to_pylist())
        assert held == set(sent["prompt"].dropna()) - {sent.loc[0, "prompt"], sent.loc[5, "prompt"]}
        every = load(engine, [frame_source(events())], config())
        held = set(engine.arrow(f"SELECT prompt FROM {every.prompts}").column(0).to_pylist())
        assert held == set(events()["prompt"].dropna())
    finally:
        engine.close()
