"""write: the run's tables as files (accounts, clusters, hubs, rejects, links)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sybilgraph.engines.base import Engine
from sybilgraph.outputs import atomic_path, write_csv
from sybilgraph.stages.privacy import Pseudonymiser
from sybilgraph.stages.tables import (
    ClusterTables,
    EventTables,
    LinkTables,
    ObservationTables,
    PrivateTables,
)

__all__ = ["write_tables"]

ACCOUNT_COLUMNS = [
    "account_id",
    "cluster_id",
    "flagged",
    "score",
    "requests",
    "first_seen",
    "last_seen",
]


def write_tables(
    engine: Engine,
    events: EventTables,
    observed: ObservationTables,
    linked: LinkTables,
    clustered: ClusterTables,
    membership: pd.DataFrame,
    out: Path,
    *,
    names: Pseudonymiser | None = None,
    private: PrivateTables | None = None,
) -> None:
    """Write accounts.csv, clusters.csv, hubs.csv, rejects.csv and links.parquet.

    With ``names`` and ``private`` IPs and payment tokens are pseudonymised in every
    table (``privacy.tables``).
    """
    clusters = clustered.clusters
    write_csv(_accounts(engine, observed, membership, clusters), out / "accounts.csv")
    write_csv(clusters, out / "clusters.csv")
    hubs = engine.arrow(f"SELECT * FROM {linked.hubs} ORDER BY accounts DESC, key, value")
    row = engine.dialect.quote_ident("row")
    rejects = engine.arrow(f"SELECT * FROM {events.rejects} ORDER BY file, {row}")
    hub_rows, reject_rows = hubs.to_pandas(), rejects.to_pandas()
    links = linked.links
    if names is not None and private is not None:
        hub_rows = names.keyed_frame(hub_rows)
        reject_rows = names.frame(reject_rows, {"ip": "ip", "payment_id": "payment"})
        links = private.links
    write_csv(hub_rows, out / "hubs.csv")
    write_csv(reject_rows, out / "rejects.csv")
    with atomic_path(out / "links.parquet") as tmp:
        engine.write_sorted_parquet(links, ("a", "b"), tmp)


def _accounts(
    engine: Engine, observed: ObservationTables, membership: pd.DataFrame, clusters: pd.DataFrame
) -> pd.DataFrame:
    """Every account with its cluster, flag and score (no cluster: empty, False, 0);
    with a list of subjects, the subjects only (the others are context)."""
    subjects = "WHERE subject " if observed.context else ""
    accounts = engine.arrow(
        f"SELECT account_id, requests, first_seen, last_seen FROM {observed.accounts} "
        f"{subjects}ORDER BY account_id"
    ).to_pandas()
    accounts = accounts.merge(membership, on="account_id", how="left")
    if len(clusters):
        accounts = accounts.merge(
            clusters[["cluster_id", "flagged", "score"]], on="cluster_id", how="left"
        )
    else:
        accounts["flagged"] = False
        accounts["score"] = 0.0
    accounts["flagged"] = accounts["flagged"].fillna(False).astype(bool)
    accounts["score"] = accounts["score"].fillna(0.0)
    accounts["cluster_id"] = accounts["cluster_id"].fillna("")
    return accounts[ACCOUNT_COLUMNS]
