"""The whole pipeline: events in, ranked clusters and their evidence out.

``run`` wires the stages together on one engine and writes the run's outputs folder::

    load → observe → link → graph → detect → score → export
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
import os
import platform
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa

from sybilgraph.config import Config
from sybilgraph.engines import make_engine
from sybilgraph.engines.base import Engine
from sybilgraph.engines.sources import Source
from sybilgraph.errors import OutputError
from sybilgraph.investigate.result import Result
from sybilgraph.outputs import atomic_path, prepare_out_dir, write_csv, write_json
from sybilgraph.progress import StageTimer
from sybilgraph.stages.detect import detect
from sybilgraph.stages.graph import build_graph
from sybilgraph.stages.link import link
from sybilgraph.stages.load import Window, load, load_direct_edges
from sybilgraph.stages.loading import Events, EventsInput, sources_of
from sybilgraph.stages.observe import observe
from sybilgraph.stages.privacy import Pseudonymiser, private_links, pseudonymiser, value_labels
from sybilgraph.stages.score import score_clusters
from sybilgraph.stages.verdicts import Labels, apply_cluster_verdicts, read_labels, spread_verdicts
from sybilgraph.views.tables import write_view_tables

__all__ = ["run"]

log = logging.getLogger(__name__)


def run(
    events: EventsInput | Events,
    config: Config | None = None,
    out_dir: str | Path | None = None,
    *,
    force: bool = False,
    show_progress: bool | None = None,
    window: Window | None = None,
) -> Result:
    """Run the pipeline and write its outputs folder.

    Parameters
    ----------
    events
        Paths of CSV, Parquet or JSONL files or folders of them, a DataFrame, or the
        :class:`~sybilgraph.stages.loading.Events` of :func:`~sybilgraph.load_events`.
    config
        Settings; defaults when omitted.
    out_dir
        Where the outputs go; a temporary folder when omitted (kept until the process
        ends). An existing folder must be empty or an earlier sybilgraph output, unless
        ``force``.
    window
        Only events in [start, end) are used; the others are counted in
        ``rows.outside_window`` of run.json (they are not rejects).

    Returns
    -------
    Result
        The run's tables, read from ``out_dir``.
    """
    config = config or Config()
    if out_dir is None:
        out_dir = tempfile.mkdtemp(prefix="sybilgraph-run-")
    out = prepare_out_dir(out_dir, force=force)
    sources = sources_of(events)
    labels = read_labels(config.labels)
    timer = StageTimer(show=show_progress)
    started = dt.datetime.now(dt.UTC)
    # the run is built in a hidden sibling folder and moved into place at the end, so
    # a failed or interrupted run leaves the previous outputs as they were
    staging = _staging_dir(out)
    try:
        engine = make_engine(config.engine)
        try:
            counts = _run_stages(engine, sources, config, labels, staging, timer, window)
        finally:
            engine.close()
        info = {
            "tool": "sybilgraph",
            "version": _version("sybilgraph"),
            "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "inputs": [str(s.path) for s in sources],
            "window": [t.isoformat() for t in window] if window else None,
            "config": config.to_dict(),
            "seed": config.seed,
            "engine": config.engine.name,
            "labels": {"file": config.labels, "verdicts": len(labels)},
            "timings_s": timer.timings,
            "peak_rss_mb": timer.peak_mb,
            "versions": _versions(engine),
            **counts,
        }
        write_json(info, staging / "run.json")
        _move_into(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("results in %s", out)
    return Result(out)


def _page_accounts(engine: Engine, clusters: pd.DataFrame, config: Config) -> str:
    """Create ``page_accounts``: the members of the clusters that get a page."""
    top = clusters["cluster_id"].head(max(config.export.pages, 0)).astype(str).tolist()
    if not top or not engine.exists("membership"):
        engine.register("page_accounts", pa.table({"account_id": pa.array([], pa.string())}))
        return "page_accounts"
    engine.register("page_ids_in", pa.table({"cluster_id": pa.array(top, pa.string())}))
    engine.create_table(
        "page_accounts",
        """SELECT m.account_id FROM membership m
           JOIN page_ids_in p ON p.cluster_id = m.cluster_id""",
    )
    engine.drop("page_ids_in")
    return "page_accounts"


def _staging_dir(out: Path) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"{out.parent}: cannot create a working folder: {exc.strerror}") from None


def _move_into(staging: Path, out: Path) -> None:
    """Move a finished run into ``out``: every entry replaced, run.json last."""
    entries = sorted(staging.iterdir(), key=lambda p: p.name == "run.json")
    for entry in entries:
        target = out / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(entry, target)


def _run_stages(
    engine: Engine,
    sources: list[Source],
    config: Config,
    labels: Labels,
    out: Path,
    timer: StageTimer,
    window: Window | None = None,
) -> dict[str, object]:
    with timer.stage("load", "reading events"):
        stats = load(engine, sources, config, window)
    log.info(
        "%d rows read, %d used, %d rejected, %d outside the window",
        stats.read,
        stats.used,
        stats.rejected,
        stats.outside_window,
    )
    with timer.stage("observe", "fingerprinting prompts and collecting shared values"):
        observed = observe(engine, config)
        _drop_benign_accounts(engine, labels)
    if config.direct_edges:
        with timer.stage("load", "reading direct edges"):
            observed["direct_edges_dropped"] = load_direct_edges(engine, config.direct_edges)
    with timer.stage("link", "linking accounts through shared values"):
        benign_values = pa.Table.from_pandas(labels.benign_values, preserve_index=False)
        linked = link(engine, config, benign_values if len(labels.benign_values) else None)
    with timer.stage("graph", "building the account graph"):
        columns = engine.arrow("SELECT * FROM links WHERE false").column_names
        # each key's weight too: detection joins pieces that differ only by cards
        per_key = [engine.quote_ident(c) for c in columns if c.endswith("_weight")]
        links = engine.arrow(f"SELECT {', '.join(['a', 'b', 'weight', *per_key])} FROM links")
        graph = build_graph(links, min_weight=config.detect.min_weight)
        del links
    with timer.stage("detect", "detecting communities"):
        membership = detect(graph, config.detect, config.seed)
        graph_counts = {
            "graph_accounts": graph.graph.vcount(),
            "graph_links": graph.graph.ecount(),
        }
        del graph  # its edges and their per-key weights are not needed again
    with timer.stage("score", "scoring clusters"):
        verdicts = spread_verdicts(labels, membership)
        clusters = score_clusters(engine, membership, config.score, verdicts=verdicts)
        clusters = apply_cluster_verdicts(clusters, labels)
    names = None
    if config.privacy.pages or config.privacy.tables:
        with timer.stage("privacy", "pseudonymising IP addresses and payment tokens"):
            names = pseudonymiser(config)
            # for the pages alone, only the accounts on them need pseudonyms
            only = None if config.privacy.tables else _page_accounts(engine, clusters, config)
            value_labels(engine, names, accounts=only)
            private_links(engine, config, accounts=only)
    with timer.stage("write", "writing tables"):
        prompts = _write_tables(
            engine, membership, clusters, out, names if config.privacy.tables else None
        )
    with timer.stage("export", "writing cluster pages"):
        pages = _write_pages(engine, clusters, verdicts, config, out, stats.used, prompts)
    return {
        "privacy": {
            "pages": config.privacy.pages,
            "tables": config.privacy.tables,
            "stable_pseudonyms": bool(names and names.stable),
        },
        "rows": stats.as_dict(),
        "reject_reasons": stats.reject_reasons,
        "counts": {
            **observed,
            **linked,
            **graph_counts,
            "clustered_accounts": len(membership),
            "clusters": len(clusters),
            "flagged_clusters": int(clusters["flagged"].sum()) if len(clusters) else 0,
            "pages": pages,
        },
        "detect": {
            "implementation": config.detect.implementation,
            "method": config.detect.method,
            "resolution": config.detect.resolution,
            "leiden_min_size": config.detect.leiden_min_size,
            "split_keys": list(config.detect.split_keys),
            "join_density": config.detect.join_density,
            "join_ratio": config.detect.join_ratio,
        },
    }


def _drop_benign_accounts(engine: Engine, labels: Labels) -> None:
    benign = labels.benign_accounts
    if not benign:
        return
    engine.register("benign_accounts", pa.table({"account_id": pa.array(benign, pa.string())}))
    engine.create_table(
        "observations_kept",
        "SELECT * FROM observations WHERE account_id NOT IN "
        "(SELECT account_id FROM benign_accounts)",
    )
    engine.create_table("observations", "SELECT * FROM observations_kept")
    engine.drop("observations_kept")


def _write_tables(
    engine: Engine,
    membership: pd.DataFrame,
    clusters: pd.DataFrame,
    out: Path,
    names: Pseudonymiser | None = None,
) -> pa.Table:
    """The run's tables; with ``names`` IPs and payment tokens are pseudonymised.

    Returns the clusters' prompts, which the pages show too."""
    accounts = engine.arrow(
        "SELECT account_id, requests, first_seen, last_seen FROM accounts ORDER BY account_id"
    ).to_pandas()
    accounts = accounts.merge(membership, on="account_id", how="left")
    scores = clusters[["cluster_id", "flagged", "score"]] if len(clusters) else None
    if scores is not None:
        accounts = accounts.merge(scores, on="cluster_id", how="left")
    else:
        accounts["flagged"] = False
        accounts["score"] = 0.0
    accounts["flagged"] = accounts["flagged"].fillna(False).astype(bool)
    accounts["score"] = accounts["score"].fillna(0.0)
    accounts["cluster_id"] = accounts["cluster_id"].fillna("")
    accounts = accounts[
        ["account_id", "cluster_id", "flagged", "score", "requests", "first_seen", "last_seen"]
    ]
    write_csv(accounts, out / "accounts.csv")
    write_csv(clusters, out / "clusters.csv")
    hubs = engine.arrow("SELECT * FROM hubs ORDER BY accounts DESC, key, value").to_pandas()
    row = engine.quote_ident("row")
    rejects = engine.arrow(f"SELECT * FROM rejects ORDER BY file, {row}").to_pandas()
    links = "links"
    if names is not None:
        hubs = names.keyed_frame(hubs)
        rejects = names.frame(rejects, {"ip": "ip", "payment_id": "payment"})
        links = "links_private"
    write_csv(hubs, out / "hubs.csv")
    write_csv(rejects, out / "rejects.csv")
    with atomic_path(out / "links.parquet") as tmp:
        engine.write_parquet(f"SELECT * FROM {links} ORDER BY a, b", tmp)
    return write_view_tables(
        engine, out, value_labels="value_labels" if names is not None else None
    )


def _write_pages(
    engine: Engine,
    clusters: pd.DataFrame,
    verdicts: pd.DataFrame,
    config: Config,
    out: Path,
    requests: int,
    prompts: pa.Table | None = None,
) -> int:
    """One page per top cluster, and the index of every cluster."""
    import shutil

    from sybilgraph.views import pages as export
    from sybilgraph.views.tables import cluster_views

    # pages of an earlier run in this folder would mix with this run's
    shutil.rmtree(out / "clusters", ignore_errors=True)
    top = clusters["cluster_id"].head(max(config.export.pages, 0)).tolist()
    private = config.privacy.pages
    views = cluster_views(
        engine,
        clusters,
        top,
        verdicts,
        links_table="links_private" if private else "links",
        value_labels="value_labels" if private else None,
        prompts=prompts,
    )
    links = export.write_pages(
        views,
        out,
        node_budget=config.export.node_budget,
        workers=config.export.workers,
        pseudonymised=private,
    )
    flagged = clusters[clusters["flagged"]] if len(clusters) else clusters
    summary: dict[str, object] = {
        "requests": requests,
        "accounts": engine.count("accounts"),
        "clusters": len(clusters),
        "flagged clusters": len(flagged),
        "accounts in flagged clusters": int(flagged["size"].sum()) if len(flagged) else 0,
    }
    export.write_index(clusters, summary, out / "index.html", page_links=links)
    return len(links)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _versions(engine: Engine) -> dict[str, str]:
    names = [
        "sybilgraph",
        "duckdb",
        "igraph",
        "leidenalg",
        "pandas",
        "pyarrow",
        "numpy",
        "networkx",
        "pyvis",
    ]
    found = {name: _version(name) for name in names}
    found.update(engine.versions())
    found["python"] = platform.python_version()
    return found
