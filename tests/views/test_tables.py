"""views.tables: what a cluster's page shows, gathered from the engine's tables.

The traffic is the table in ``tests/stages/traffic.py`` and its clusters the ring u1 u2
u3 and the phones u4 u5 u6, scored in ``tests/stages/test_score.py`` (the ring 0.0430,
the phones 0.0032); each expected view below is worked out from them by hand.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sybilgraph.config import EngineConfig, ScoreConfig
from sybilgraph.engines import Engine, make_engine
from sybilgraph.stages.score import score_clusters
from sybilgraph.stages.tables import ClusterTables, LinkTables, ObservationTables
from sybilgraph.views.tables import ClusterView, cluster_views, write_view_tables
from tests.stages.traffic import (
    MEMBERSHIP,
    SOLVE,
    assert_table,
    at,
    link_traffic,
    plain,
    template_group,
)

Clustered = tuple[Engine, ObservationTables, LinkTables, ClusterTables]

LN7, LN8 = math.log(7), math.log(8)


@pytest.fixture(scope="module")
def clustered_once(engine_name: str) -> Iterator[Clustered]:
    """The traffic observed, linked and scored once per engine."""
    engine = make_engine(EngineConfig(name=engine_name))  # type: ignore[arg-type]
    observed, linked = link_traffic(engine)
    clustered = score_clusters(engine, observed, linked, MEMBERSHIP, ScoreConfig())
    yield engine, observed, linked, clustered
    engine.close()


def views_of(clustered_once: Clustered, cluster_ids: list[str]) -> list[ClusterView]:
    engine, observed, linked, clustered = clustered_once
    return cluster_views(engine, observed, linked, clustered, cluster_ids)


def values_frame(rows: list[tuple[str, str, str, int, str, str, int, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(a, k, v, n, at(first), at(last), d, hub) for a, k, v, n, first, last, d, hub in rows],
        columns=[
            "account_id",
            "key",
            "value",
            "requests",
            "first_seen",
            "last_seen",
            "holders",
            "hub",
        ],
    )


def test_the_rings_view(clustered_once: Clustered) -> None:
    # accounts: the three, 2 requests each (ties by id), no verdict, each linked to the
    #   other two
    # values: those held by 2+ accounts in all data, per account; u3's SOLVE is shown
    #   though it linked no one (sent once), u3's poem and own IP and u1's device are not
    # links: the three links of test_link.py
    # prompts: SOLVE, its five texts (alphabetical), 2 + 2 + 1 requests by 3 accounts
    solve = template_group(SOLVE)
    accounts = pd.DataFrame(
        [
            ("u1", 2, at("10:00"), at("10:05"), 0.0430, math.nan, 2),
            ("u2", 2, at("10:10"), at("10:20"), 0.0430, math.nan, 2),
            ("u3", 2, at("11:00"), at("11:30"), 0.0430, math.nan, 2),
        ],
        columns=["account_id", "requests", "first_seen", "last_seen", "score", "verdict", "degree"],
    )
    values = values_frame(
        [
            ("u1", "ip", "10.0.0.2", 1, "10:05", "10:05", 3, False),
            ("u2", "ip", "10.0.0.2", 1, "10:20", "10:20", 3, False),
            ("u3", "ip", "10.0.0.2", 1, "11:00", "11:00", 3, False),
            ("u1", "ip", "10.0.0.9", 1, "10:00", "10:00", 2, False),
            ("u2", "ip", "10.0.0.9", 1, "10:10", "10:10", 2, False),
            ("u1", "payment", "pm_1", 2, "10:00", "10:05", 3, False),
            ("u2", "payment", "pm_1", 2, "10:10", "10:20", 3, False),
            ("u3", "payment", "pm_1", 1, "11:00", "11:00", 3, False),
            ("u1", "prompt", solve, 2, "10:00", "10:05", 3, False),
            ("u2", "prompt", solve, 2, "10:10", "10:20", 3, False),
            ("u3", "prompt", solve, 1, "11:00", "11:00", 3, False),
        ]
    )
    both = "ip: 1 shared (10.0.0.2); payment: 1 shared (pm_1)"
    links = pd.DataFrame(
        [
            # two shared IPs (1/ln 7 + 1/ln 8) count 0.9 at most: link.infrastructure_cap
            ("u1", "u2", 0.9 + 4 / LN8, "ip,payment,prompt",
             f"ip: 2 shared (10.0.0.9, 10.0.0.2); payment: 1 shared (pm_1); "
             f"prompt: 1 shared ({solve})", at("10:10"), at("10:05")),
            ("u1", "u3", 3 / LN8, "ip,payment", both, at("11:00"), at("10:05")),
            ("u2", "u3", 3 / LN8, "ip,payment", both, at("11:00"), at("10:20")),
        ],
        columns=["a", "b", "weight", "keys", "evidence", "first_seen", "last_seen"],
    )  # fmt: skip
    texts = ["Solve 12 + 7", "Solve 2 + 2", "Solve 30 + 4", "Solve 5 + 5", "Solve 8 + 1"]
    prompts = pd.DataFrame(
        {
            "template": [solve],
            "text": [SOLVE],
            "samples": [[f"{text} step by step" for text in texts]],
            "requests": [5],
            "accounts": [3],
        }
    )
    (view,) = views_of(clustered_once, ["ring"])

    assert (view.cluster_id, view.rank, view.flagged, view.score) == ("ring", 1, False, 0.0430)
    assert view.reasons[0] == "83% of requests follow 1 prompt template shared inside the cluster"
    assert view.features["size"] == 3
    assert view.key_shares == pytest.approx({"ip": 0.337, "payment": 0.497, "prompt": 0.166})
    assert_table(plain(view.accounts), accounts)
    assert_table(plain(view.values), values)
    assert_table(plain(view.links), links)
    assert_table(view.prompts, prompts)


def test_the_phones_view_shows_the_hub_they_share(clustered_once: Clustered) -> None:
    # The carrier address is shown with its 4 holders, marked a hub: it linked no one;
    # the device links the three. No prompts.
    values = values_frame(
        [
            ("u4", "device", "ios-17", 2, "12:00", "13:10", 3, False),
            ("u5", "device", "ios-17", 1, "12:10", "12:10", 3, False),
            ("u6", "device", "ios-17", 1, "12:20", "12:20", 3, False),
            ("u4", "ip", "100.64.0.1", 2, "12:00", "13:10", 4, True),
            ("u5", "ip", "100.64.0.1", 1, "12:10", "12:10", 4, True),
            ("u6", "ip", "100.64.0.1", 1, "12:20", "12:20", 4, True),
        ]
    )
    (view,) = views_of(clustered_once, ["phones"])

    assert (view.rank, view.flagged) == (2, False)
    assert view.accounts["account_id"].tolist() == ["u4", "u5", "u6"]  # most requests first
    assert view.key_shares == {"device": 1.0}
    assert_table(plain(view.values), values)
    assert view.links[["a", "b", "keys"]].values.tolist() == [
        ["u4", "u5", "device"],
        ["u4", "u6", "device"],
        ["u5", "u6", "device"],
    ]
    assert view.prompts.empty


def test_views_from_the_written_tables_are_the_same(
    clustered_once: Clustered, tmp_path: Path
) -> None:
    # values.parquet holds the shown values of every clustered account; the prompts
    # write_view_tables returns give the views without gathering them again
    engine, observed, linked, clustered = clustered_once
    prompts = write_view_tables(engine, observed, linked, clustered, tmp_path)
    views = views_of(clustered_once, ["ring", "phones"])
    again = cluster_views(engine, observed, linked, clustered, ["ring", "phones"], prompts=prompts)

    written = plain(pq.read_table(tmp_path / "values.parquet").to_pandas())
    shown = pd.concat(
        [view.values.assign(cluster_id=view.cluster_id) for view in views], ignore_index=True
    )
    order = ["cluster_id", "key", "value", "account_id"]
    assert_table(
        written.sort_values(order, ignore_index=True),
        plain(shown).sort_values(order, ignore_index=True)[written.columns],
    )
    assert pq.read_table(tmp_path / "prompts.parquet").equals(prompts)
    assert prompts.column("cluster_id").to_pylist() == ["ring"]
    for view, same in zip(views, again, strict=True):
        assert_table(same.prompts, view.prompts)
        assert_table(same.values, view.values)
    assert cluster_views(engine, observed, linked, clustered, []) == []


def test_without_a_prompt_map_a_view_has_no_prompts(clustered_once: Clustered) -> None:
    # A run without prompts hands the views no prompt map: the ring's view then has no
    # prompts (with their columns), and the rest as ever
    engine, observed, linked, clustered = clustered_once
    no_prompts = dataclasses.replace(observed, prompt_map=None)
    (view,) = cluster_views(engine, no_prompts, linked, clustered, ["ring"])

    assert view.prompts.empty
    assert list(view.prompts.columns) == ["template", "text", "samples", "requests", "accounts"]
    assert len(view.values) == 11
