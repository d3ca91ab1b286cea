"""What a cluster's page shows: its accounts, shared values, links and prompts.

``cluster_views`` gathers, for the clusters worth a page, everything the exporter needs
in one :class:`ClusterView` per cluster, straight from the engine's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sybilgraph.engines.base import Engine
from sybilgraph.engines.dialect import asc
from sybilgraph.stages.tables import (
    PROMPT_SAMPLES,
    ClusterTables,
    EventTables,
    LinkTables,
    ObservationTables,
    PrivateTables,
)

__all__ = [
    "ACTIVITY_COLUMNS",
    "PROMPTS_PER_CLUSTER",
    "TIMELINE_BINS",
    "TIMELINE_COLUMNS",
    "TIMELINE_ROWS",
    "Activity",
    "ClusterView",
    "activity_of",
    "cluster_views",
    "timeline_bin",
    "view_from_tables",
    "write_activity",
    "write_view_tables",
]

#: a cluster keeps its most-requested shared templates, at most this many: a typo ring
#: sends thousands of variants, and nobody reads past the first hundreds
PROMPTS_PER_CLUSTER = 200

#: a timeline draws the busiest accounts, at most this many rows: past that a row is a
#: few pixels high and a wave reads as well from the first 60 as from all of them
TIMELINE_ROWS = 60
#: and at most this many time bins: a week in hours fits (168), three months in days
TIMELINE_COLUMNS = 180
#: the bin widths a timeline may use, finest first; it takes the finest that covers the
#: cluster's span in TIMELINE_COLUMNS bins
TIMELINE_BINS = tuple(
    pd.Timedelta(w) for w in ("1h", "2h", "3h", "6h", "12h", "1D", "2D", "7D", "14D", "28D")
)


@dataclass
class Activity:
    """Requests per account and time bin: what a cluster's timeline draws.

    counts: account_id, bin (0-based bin number from ``start``), requests; one row per
            account and bin with requests, for the TIMELINE_ROWS busiest accounts only
    start:  the first bin's start (UTC), a multiple of ``width`` since the epoch
    width:  each bin's width
    bins:   the number of bins covering the cluster's span
    """

    counts: pd.DataFrame = field(repr=False)
    start: pd.Timestamp
    width: pd.Timedelta
    bins: int


ACTIVITY_COLUMNS = ["cluster_id", "account_id", "bin", "requests", "start", "width_s", "bins"]


def write_activity(views: list[ClusterView], out: Path) -> None:
    """Write ``activity.parquet``: the timelines of the clusters that got a page, so a
    cluster reopened from the run's folder draws the same page (see
    :func:`activity_of`)."""
    from sybilgraph.outputs import atomic_path

    parts = [
        v.activity.counts.assign(
            cluster_id=v.cluster_id,
            start=v.activity.start,
            width_s=int(v.activity.width.total_seconds()),
            bins=v.activity.bins,
        )
        for v in views
        if v.activity is not None
    ]
    frame = (
        pd.concat(parts, ignore_index=True)[ACTIVITY_COLUMNS]
        if parts
        else pd.DataFrame(
            {
                "cluster_id": pd.Series(dtype=str),
                "account_id": pd.Series(dtype=str),
                "bin": pd.Series(dtype="int64"),
                "requests": pd.Series(dtype="int64"),
                "start": pd.Series(dtype="datetime64[us, UTC]"),
                "width_s": pd.Series(dtype="int64"),
                "bins": pd.Series(dtype="int64"),
            }
        )
    )
    with atomic_path(out / "activity.parquet") as tmp:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)


def activity_of(frame: pd.DataFrame, cluster_id: str) -> Activity | None:
    """One cluster's :class:`Activity` from the rows of ``activity.parquet``; None when
    the cluster got no timeline."""
    rows = frame[frame["cluster_id"] == cluster_id]
    if rows.empty:
        return None
    first = rows.iloc[0]
    return Activity(
        counts=rows[["account_id", "bin", "requests"]].reset_index(drop=True),
        start=pd.Timestamp(first["start"]),
        width=pd.Timedelta(seconds=int(first["width_s"])),
        bins=int(first["bins"]),
    )


def timeline_bin(first: pd.Timestamp, last: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timedelta, int]:
    """The start, bin width and number of bins of a timeline from ``first`` to ``last``.

    The width is the finest of :data:`TIMELINE_BINS` that covers the span in at most
    :data:`TIMELINE_COLUMNS` bins (the coarsest when none does: a span of years is cut
    to its first TIMELINE_COLUMNS bins of 28 days). The start is ``first`` floored to a
    multiple of the width since the epoch, so an hourly timeline starts on the hour.
    """
    for width in TIMELINE_BINS:
        start = first.floor(width)
        bins = int((last - start) // width) + 1
        if bins <= TIMELINE_COLUMNS:
            break
    return start, width, min(bins, TIMELINE_COLUMNS)


@dataclass
class ClusterView:
    """One cluster, ready to draw.

    accounts: account_id, requests, first_seen, last_seen, score, verdict, degree
    values:   account_id, key, value, requests, first_seen, last_seen, holders, hub
    links:    a, b, weight, keys, evidence, first_seen, last_seen
    prompts:  template, text, samples (list of raw prompts), requests, accounts; shared
              templates only, the most-requested PROMPTS_PER_CLUSTER
    activity: requests per account and time bin (see :class:`Activity`); None where the
              view was built without the events (a run folder reopened later)
    """

    cluster_id: str
    score: float
    flagged: bool
    rank: int
    reasons: list[str]
    features: dict[str, float | int | str]
    key_shares: dict[str, float]
    accounts: pd.DataFrame = field(repr=False)
    values: pd.DataFrame = field(repr=False)
    links: pd.DataFrame = field(repr=False)
    prompts: pd.DataFrame = field(repr=False)
    activity: Activity | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        flag = "flagged" if self.flagged else "not flagged"
        return (
            f"ClusterView({self.cluster_id}: rank {self.rank}, {len(self.accounts)} accounts, "
            f"score {self.score:.3f}, {flag})"
        )


def cluster_views(
    engine: Engine,
    observed: ObservationTables,
    linked: LinkTables,
    clustered: ClusterTables,
    cluster_ids: list[str],
    verdicts: pd.DataFrame | None = None,
    *,
    private: PrivateTables | None = None,
    prompts: pa.Table | None = None,
    events: EventTables | None = None,
) -> list[ClusterView]:
    """Build the views of ``cluster_ids``.

    With ``private`` tables, the links are read from them and each private shared value
    is shown by its label (its pseudonym). ``prompts``, the table
    :func:`write_view_tables` returns, saves gathering the prompts again. With
    ``events``, each view gets its accounts' :class:`Activity` for a timeline.
    """
    if not cluster_ids:
        return []
    engine.register("view_ids_in", pa.table({"cluster_id": pa.array(cluster_ids, pa.string())}))
    engine.create_table(
        "view_members",
        f"SELECT m.* FROM {clustered.membership} m "
        "JOIN view_ids_in v ON v.cluster_id = m.cluster_id",
    )
    engine.drop("view_ids_in")
    accounts = engine.arrow(
        f"""SELECT m.cluster_id, a.account_id, a.requests, a.first_seen, a.last_seen
           FROM view_members m JOIN {observed.accounts} a ON a.account_id = m.account_id"""
    ).to_pandas()
    values = engine.arrow(_values_sql(observed, linked, "view_members", private)).to_pandas()
    links_table = private.links if private else linked.links
    links = engine.arrow(
        f"""SELECT ma.cluster_id, l.a, l.b, l.weight, l.keys, l.evidence, l.first_seen,
                  l.last_seen
           FROM {links_table} l
           JOIN view_members ma ON ma.account_id = l.a
           JOIN view_members mb ON mb.account_id = l.b
           WHERE ma.cluster_id = mb.cluster_id"""
    ).to_pandas()
    if prompts is None:
        prompts = _prompts(engine, observed, linked, "view_members")
    shown = prompts.filter(pc.is_in(prompts["cluster_id"], value_set=pa.array(cluster_ids)))
    prompt_rows = _prompt_frame(shown)
    engine.drop("view_members")
    verdict_of = (
        dict(zip(verdicts["account_id"], verdicts["verdict"], strict=False))
        if verdicts is not None and len(verdicts)
        else {}
    )
    records: dict[str, dict[Any, Any]] = {
        str(r["cluster_id"]): r for r in clustered.clusters.to_dict("records")
    }
    parts = [_by_cluster(frame) for frame in (accounts, values, links, prompt_rows)]
    activity = _activity(engine, events, parts[0]) if events is not None else {}
    return [
        view_from_tables(
            records[cluster_id],
            parts[0].get(cluster_id, accounts.iloc[:0]),
            parts[1].get(cluster_id, values.iloc[:0]),
            parts[2].get(cluster_id, links.iloc[:0]),
            parts[3].get(cluster_id, prompt_rows.iloc[:0]),
            verdict_of,
            activity=activity.get(cluster_id),
        )
        for cluster_id in cluster_ids
    ]


def _busiest_first(members: pd.DataFrame) -> pd.DataFrame:
    """Members by requests, most first, ties by account id: the engine returns them in
    an order that varies from run to run."""
    return members.sort_values(["requests", "account_id"], ascending=[False, True])


def _activity(
    engine: Engine, events: EventTables, accounts: dict[str, pd.DataFrame]
) -> dict[str, Activity]:
    """Each cluster's :class:`Activity`, counted from the events in one query.

    Only the :data:`TIMELINE_ROWS` busiest accounts of each cluster are counted, so the
    query reads the events of a few thousand accounts at most, whatever the run's size.
    """
    spans: dict[str, tuple[pd.Timestamp, pd.Timedelta, int]] = {}
    rows: list[tuple[str, str, int, int]] = []
    for cluster_id, members in accounts.items():
        first = pd.to_datetime(members["first_seen"], utc=True).min()
        last = pd.to_datetime(members["last_seen"], utc=True).max()
        if pd.isna(first) or pd.isna(last):
            continue
        start, width, bins = timeline_bin(first, last)
        spans[cluster_id] = (start, width, bins)
        busiest = _busiest_first(members)["account_id"].head(TIMELINE_ROWS)
        rows += [
            (cluster_id, str(a), int(start.timestamp()), int(width.total_seconds()))
            for a in busiest
        ]
    if not rows:
        return {}
    cluster_col, account_col, start_col, width_col = zip(*rows, strict=True)
    engine.register(
        "view_timeline_in",
        pa.table(
            {
                "cluster_id": pa.array(cluster_col, pa.string()),
                "account_id": pa.array(account_col, pa.string()),
                "origin": pa.array(start_col, pa.int64()),
                "width": pa.array(width_col, pa.int64()),
            }
        ),
    )
    epoch = engine.dialect.epoch("e.ts")
    counts = engine.arrow(
        f"""SELECT cluster_id, account_id, bin, CAST(count(*) AS BIGINT) AS requests
            FROM (
              SELECT t.cluster_id, t.account_id,
                     CAST(floor(({epoch} - t.origin) / t.width) AS BIGINT) AS bin
              FROM {events.events} e JOIN view_timeline_in t ON t.account_id = e.account_id
            ) b
            GROUP BY cluster_id, account_id, bin"""
    ).to_pandas()
    engine.drop("view_timeline_in")
    by_cluster = _by_cluster(counts)
    activity = {}
    for cluster_id, (start, width, bins) in spans.items():
        part = by_cluster.get(cluster_id, counts.iloc[:0])
        part = part[(part["bin"] >= 0) & (part["bin"] < bins)]
        activity[cluster_id] = Activity(
            counts=part.drop(columns="cluster_id")
            .sort_values(["account_id", "bin"])
            .reset_index(drop=True),
            start=start,
            width=width,
            bins=bins,
        )
    return activity


def _by_cluster(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``frame`` cut into one frame per cluster_id, in one pass (a mask per cluster
    scans every row once per cluster)."""
    return {str(k): part for k, part in frame.groupby("cluster_id", sort=False)}


def _values_sql(
    observed: ObservationTables,
    linked: LinkTables,
    members: str,
    private: PrivateTables | None = None,
) -> str:
    """Shared values (held by two or more accounts in all data) of the members' accounts.

    With ``private`` tables a private value is shown by its label (its pseudonym).
    """
    shown = "coalesce(d.label, o.value)" if private else "o.value"
    label_join = (
        f"LEFT JOIN {private.value_labels} d ON d.key = o.key AND d.value = o.value"
        if private
        else ""
    )
    return f"""SELECT m.cluster_id, o.account_id, o.key, {shown} AS value, o.n AS requests,
                      o.first_seen, o.last_seen, s.holders, (s.reason IS NOT NULL) AS hub
               FROM {members} m
               JOIN {observed.observations} o ON o.account_id = m.account_id
               JOIN {linked.values} s ON s.key = o.key AND s.value = o.value
               {label_join}
               WHERE s.holders >= 2"""


def _prompts(
    engine: Engine, observed: ObservationTables, linked: LinkTables, members: str
) -> pa.Table:
    """Prompt templates used by each cluster, with sample prompts, requests and accounts.

    Only templates held by two or more accounts in all data, like the shared values (a
    text one account sent alone is no evidence), and per cluster the
    :data:`PROMPTS_PER_CLUSTER` with the most requests. A template's samples are the
    ``PROMPT_SAMPLES`` prompts the prompt map keeps of its group, in text order, and its
    text the least of their templates.
    """
    if observed.prompt_map is None:
        return pa.table(
            {
                "cluster_id": pa.array([], pa.string()),
                "template": pa.array([], pa.string()),
                "text": pa.array([], pa.string()),
                "samples": pa.array([], pa.list_(pa.string())),
                "requests": pa.array([], pa.int64()),
                "accounts": pa.array([], pa.int64()),
            }
        )
    engine.create_table(
        "shown_prompts",
        f"""SELECT cluster_id, template, requests, accounts
            FROM (
              SELECT u.*, row_number() OVER (
                       PARTITION BY u.cluster_id ORDER BY u.requests DESC, u.template
                     ) AS place
              FROM (
                SELECT m.cluster_id, o.value AS template, CAST(sum(o.n) AS BIGINT) AS requests,
                       count(*) AS accounts
                FROM {members} m
                JOIN {observed.observations} o ON o.account_id = m.account_id
                     AND o.key = 'prompt'
                JOIN {linked.values} s ON s.key = o.key AND s.value = o.value
                WHERE s.holders >= 2
                GROUP BY m.cluster_id, o.value
              ) u
            ) p
            WHERE p.place <= {PROMPTS_PER_CLUSTER}""",
    )
    prompt_map = observed.prompt_map
    # each group's samples (all the map keeps of it); its text is their least template
    groups = (
        f"SELECT template_group, template, prompt FROM {prompt_map}"
        " WHERE template_group IS NOT NULL"
    )
    if observed.strict_groups:  # the heavy accounts' strict groups
        groups += (
            f" UNION ALL SELECT strict_group, template, prompt FROM {prompt_map}"
            " WHERE strict_group IS NOT NULL"
        )
    table = engine.arrow(
        f"""SELECT p.cluster_id, p.template, t.text, t.samples, p.requests, p.accounts
            FROM shown_prompts p
            JOIN (
              SELECT template_group, min(template) AS text,
                     {engine.dialect.list_head("prompt", [asc("prompt")], PROMPT_SAMPLES)}
                       AS samples
              FROM ({groups}) g
              WHERE template_group IN (SELECT template FROM shown_prompts)
              GROUP BY template_group
            ) t ON t.template_group = p.template"""
    )
    engine.drop("shown_prompts")
    return table.sort_by(
        [("cluster_id", "ascending"), ("requests", "descending"), ("template", "ascending")]
    )


def _prompt_frame(table: pa.Table) -> pd.DataFrame:
    """``_prompts``' table as a frame whose samples are lists of str (no numpy detour)."""
    samples = table.column("samples").to_pylist()
    prompts = table.drop_columns(["samples"]).to_pandas()
    prompts.insert(3, "samples", [list(s) if s is not None else [] for s in samples])
    return prompts


def write_view_tables(
    engine: Engine,
    observed: ObservationTables,
    linked: LinkTables,
    clustered: ClusterTables,
    out: Path,
    *,
    private: PrivateTables | None = None,
) -> pa.Table:
    """Write what a cluster's view needs beyond the run's main tables.

    ``values.parquet`` holds the shared values of every clustered account and
    ``prompts.parquet`` the templates of every cluster, so that any cluster of a finished
    run can be drawn without recomputing (see :func:`view_from_tables`). Both cover
    clustered accounts only, which keeps them small. With ``private`` tables the values
    are pseudonyms, as in the other tables.

    Returns the prompts of every cluster (the rows of ``prompts.parquet``).
    """
    from sybilgraph.outputs import atomic_path

    values = _values_sql(observed, linked, clustered.membership, private)
    with atomic_path(out / "values.parquet") as tmp:
        engine.write_parquet(
            f"SELECT * FROM ({values}) v ORDER BY cluster_id, key, value, account_id", tmp
        )
    prompts = _prompts(engine, observed, linked, clustered.membership)
    with atomic_path(out / "prompts.parquet") as tmp:
        pq.write_table(prompts, tmp)
    return prompts


def view_from_tables(
    row: dict[Any, Any],
    accounts: pd.DataFrame,
    values: pd.DataFrame,
    links: pd.DataFrame,
    prompts: pd.DataFrame,
    verdict_of: dict[str, str],
    *,
    activity: Activity | None = None,
) -> ClusterView:
    """One cluster's view from its row of ``clusters`` and its rows of the other tables.

    ``accounts`` needs account_id, requests, first_seen, last_seen; ``values``, ``links``
    and ``prompts`` are as in :class:`ClusterView` (a ``cluster_id`` column is dropped).
    Without ``activity`` the view has no timeline: a run's tables do not keep the events.
    """

    def own(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(columns=[c for c in ("cluster_id",) if c in frame.columns])

    links = own(links).sort_values(["a", "b"]).reset_index(drop=True)
    degree_of = pd.concat([links["a"], links["b"]]).value_counts().to_dict()
    members = own(accounts)[["account_id", "requests", "first_seen", "last_seen"]]
    members = _busiest_first(members)
    members["score"] = float(row["score"])
    members["verdict"] = members["account_id"].map(verdict_of)
    members["degree"] = members["account_id"].map(degree_of).fillna(0).astype(int)
    features = {
        k: (v.item() if hasattr(v, "item") else v)
        for k, v in row.items()
        if k not in ("cluster_id", "reasons", "score", "flagged", "rank")
        and not str(k).startswith("share_")
    }
    shares = {
        str(k).removeprefix("share_"): float(v)
        for k, v in row.items()
        if str(k).startswith("share_") and pd.notna(v) and float(v) > 0
    }
    return ClusterView(
        cluster_id=str(row["cluster_id"]),
        score=float(row["score"]),
        flagged=bool(row["flagged"]),
        rank=int(row["rank"]),
        reasons=[r for r in str(row["reasons"]).split("; ") if r],
        features=features,
        key_shares=shares,
        accounts=members.reset_index(drop=True),
        values=own(values).sort_values(["key", "value", "account_id"]).reset_index(drop=True),
        links=links,
        prompts=own(prompts)
        .sort_values(["requests", "template"], ascending=[False, True])
        .reset_index(drop=True),
        activity=activity,
    )
