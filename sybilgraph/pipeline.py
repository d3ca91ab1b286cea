"""The whole pipeline: events in, ranked clusters and their evidence out.

``execute`` wires the stages together on one engine and writes the run's outputs folder::

    load → observe → link → graph → detect → score → export
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as dt
import importlib.metadata
import logging
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow as pa

from sybilgraph.config import Config
from sybilgraph.engines import make_engine
from sybilgraph.engines.base import Engine
from sybilgraph.engines.sources import Source
from sybilgraph.errors import InputError, OutputError
from sybilgraph.outputs import (
    MARKER,
    TEMPORARY_PREFIX,
    install_run,
    make_staging,
    missing,
    path_argument,
    prepare_out_dir,
    remove_stale_folders,
    removed_on_failure,
    run_files,
    write_json,
)
from sybilgraph.progress import StageTimer
from sybilgraph.stages.detect import detect
from sybilgraph.stages.graph import build_graph, graph_bytes, graph_links
from sybilgraph.stages.inputs import load_inputs
from sybilgraph.stages.link import link, release_pairs
from sybilgraph.stages.load import Window, add_rejects, as_window, keep_times, load, no_events
from sybilgraph.stages.loading import Events, EventsInput, sources_of
from sybilgraph.stages.observe import keep_shared_prompts, observe
from sybilgraph.stages.privacy import named_values, pseudonymise, pseudonymiser
from sybilgraph.stages.score import score_clusters
from sybilgraph.stages.tables import ObservationTables
from sybilgraph.stages.verdicts import Labels, apply_cluster_verdicts, read_labels, spread_verdicts
from sybilgraph.stages.write import write_tables
from sybilgraph.views.pages import write_index, write_pages
from sybilgraph.views.tables import (
    ClusterView,
    cluster_views,
    write_activity,
    write_view_tables,
)

__all__ = ["ObservationMemory", "execute", "page_ids"]

log = logging.getLogger(__name__)


class ObservationMemory(Protocol):
    """Observations remembered from earlier runs (the weekly report's past weeks)."""

    def combine(self, engine: Engine, observed: ObservationTables) -> ObservationTables:
        """The run's observations joined with the remembered ones, for link and on.

        ``observed.strict_uses`` (the heavy accounts' uses of strict prompt groups) is
        given unfolded: the memory folds it, with the remembered uses, into the
        observations it returns (``stages.observe.fold_strict_uses``).
        """
        ...


def execute(
    events: EventsInput | Events | None,
    config: Config | None = None,
    out_dir: str | Path | None = None,
    *,
    force: bool = False,
    show_progress: bool | None = None,
    window: Window | None = None,
    memory: ObservationMemory | None = None,
) -> Path:
    """Run the pipeline and write its outputs folder; returns the folder.

    The parameters are those of :func:`sybilgraph.run` (``sybilgraph/api.py``), which
    opens the folder as a ``Result``; this is the pipeline without the investigator's
    objects, for callers that need only the folder. ``memory`` joins observations of
    earlier runs to the run's own before they are linked.
    """
    config = Config.of(config)
    window = as_window(window)
    if events is None and not (config.inputs.given or config.direct_edges):
        raise InputError("no events, and no other input named in the config's [inputs]")
    if out_dir is not None:
        out_dir = path_argument(out_dir, "out_dir", "folder")
    made = [] if out_dir is None else missing(out_dir)
    if out_dir is None:
        folder = _temporary_folder()
        out_dir, made = folder / "run", [folder / "run", folder]
    with removed_on_failure(made):
        out = prepare_out_dir(out_dir, force=force)
        return _execute(events, config, out, show_progress, window, memory)


def _execute(
    events: EventsInput | Events | None,
    config: Config,
    out: Path,
    show_progress: bool | None,
    window: Window | None,
    memory: ObservationMemory | None,
) -> Path:
    """:func:`execute` once the outputs folder is ready."""
    sources = sources_of(events) if events is not None else []
    labels = read_labels(config.labels, ipv6_prefix=config.link.ipv6_prefix)
    timer = StageTimer(show=show_progress)
    started = dt.datetime.now(dt.UTC)
    # the run is built in a hidden sibling folder and moved into place at the end, so
    # a failed or interrupted run leaves the previous outputs as they were
    staging = _staging_dir(out)
    try:
        engine = make_engine(config.engine)
        try:
            counts = _run_stages(engine, sources, config, labels, staging, timer, window, memory)
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
            # what the next run into this folder replaces: these and nothing else
            "files": sorted({*run_files(staging), MARKER}),
        }
        write_json(info, staging / MARKER)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    install_run(staging, out)
    log.info("results in %s", out)
    return out


def _temporary_folder() -> Path:
    """A folder of its own for a run given no outputs folder, deleted when the process
    ends; those of processes that were killed are deleted first. The run goes in a
    folder inside it: ``labels.csv`` beside the run (where a verdict is written) is
    then the run's own, not the system temporary folder's, shared by every such run and
    every user."""
    remove_stale_folders(TEMPORARY_PREFIX, "the temporary run")
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMPORARY_PREFIX}{os.getpid()}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _staging_dir(out: Path) -> Path:
    try:
        return make_staging(out)
    except OSError as exc:
        raise OutputError(
            f"{out.resolve().parent}: cannot create a working folder: {exc.strerror}"
        ) from None


def _warn_unused_value_verdicts(labels: Labels, keys: tuple[str, ...]) -> None:
    """Say so where verdicts name values of a key this run has none of (a key typed by
    hand, ``bogus=1``, or ``ip`` on data without addresses): they are kept in the file
    and change nothing."""
    values = labels.values
    unused = sorted(set(values["key"]) - set(keys))
    if unused:
        log.warning(
            "labels: %d verdict(s) on values of %s, a key this run has no values of: not used",
            int(values["key"].isin(unused).sum()),
            ", ".join(repr(key) for key in unused),
        )


def _run_stages(
    engine: Engine,
    sources: list[Source],
    config: Config,
    labels: Labels,
    out: Path,
    timer: StageTimer,
    window: Window | None = None,
    memory: ObservationMemory | None = None,
) -> dict[str, object]:
    inputs = None
    if config.inputs.given or config.direct_edges:
        with timer.stage("load", "reading edges, accounts, subjects and hubs"):
            inputs = load_inputs(engine, config)
    with timer.stage("load", "reading events"):
        events = load(engine, sources, config, window) if sources else no_events(engine, config)
        if inputs is not None and inputs.rejects:
            add_rejects(engine, events, inputs.rejects)
    stats = events.stats
    log.info(
        "%d rows read, %d used, %d rejected, %d outside the window",
        stats.read,
        stats.used,
        stats.rejected,
        stats.outside_window,
    )
    with timer.stage("observe", "fingerprinting prompts and collecting shared values"):
        observed = observe(
            engine,
            events,
            config,
            inputs=inputs,
            exclude_accounts=labels.benign_accounts,
            keep_strict_uses=memory is not None,
            keep_templates=memory is not None,
        )
        if memory is not None:
            observed = memory.combine(engine, observed)
        # later stages read only the events' accounts and times, and shared prompts
        events = keep_times(engine, events)
        observed = keep_shared_prompts(engine, observed)
    counts = {**(inputs.counts if inputs else {}), **observed.counts}
    _warn_unused_value_verdicts(labels, observed.keys)
    with timer.stage("link", "linking accounts through shared values"):
        benign = named_values(engine, observed.observations, labels.benign_values, config)
        benign_values = pa.Table.from_pandas(benign, preserve_index=False)
        linked = link(
            engine,
            observed,
            config,
            inputs=inputs,
            benign_values=benign_values if len(labels.benign_values) else None,
        )
    with contextlib.ExitStack() as room:
        with timer.stage("graph", "building the account graph"):
            # no statement but the links' read runs until the communities are found:
            # the engine gives up what the graph takes (1.5M realistic events: the
            # run's peak, 2.1 GiB, was here; 1.1 GiB with the room made)
            links_made = linked.counts.get("links", 0)
            room.enter_context(engine.room_for(graph_bytes(links_made), idle=True))
            links = graph_links(engine, linked, min_weight=config.detect.min_weight)
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
        clustered = score_clusters(
            engine, observed, linked, membership, config.score, verdicts=verdicts
        )
        clustered = dataclasses.replace(
            clustered, clusters=apply_cluster_verdicts(clustered.clusters, labels)
        )
    clusters = clustered.clusters
    pages = page_ids(clusters, config)
    names = private = None
    if config.privacy.pages or config.privacy.tables:
        with timer.stage("privacy", "pseudonymising IP addresses and payment tokens"):
            names = pseudonymiser(config)
            # for the pages alone, only the accounts on them need pseudonyms
            private = pseudonymise(
                engine,
                observed,
                linked,
                clustered,
                names,
                config,
                only_clusters=None if config.privacy.tables else pages,
            )
    release_pairs(engine, linked)  # read last by the score and pseudonymisation
    with timer.stage("write", "writing tables"):
        private_tables = private if config.privacy.tables else None
        write_tables(
            engine,
            events,
            observed,
            linked,
            clustered,
            membership,
            out,
            names=names if private_tables else None,
            private=private_tables,
        )
        prompts = write_view_tables(
            engine, observed, linked, clustered, out, private=private_tables
        )
    with timer.stage("export", "writing cluster pages"):
        views = cluster_views(
            engine,
            observed,
            linked,
            clustered,
            pages,
            verdicts,
            private=private if config.privacy.pages else None,
            prompts=prompts,
            events=events,
        )
        write_activity(views, out)
        accounts = engine.count(observed.accounts)
        written = _write_pages(views, clusters, config, out, stats.used, accounts)
    return {
        "privacy": {
            "pages": config.privacy.pages,
            "tables": config.privacy.tables,
            "stable_pseudonyms": bool(names and names.stable),
        },
        "rows": stats.as_dict(),
        "reject_reasons": stats.reject_reasons,
        "counts": {
            **counts,
            **linked.counts,
            **graph_counts,
            "clustered_accounts": len(membership),
            "clusters": len(clusters),
            "flagged_clusters": int(clusters["flagged"].sum()) if len(clusters) else 0,
            "pages": written,
        },
        "score": clustered.model,
        "detect": {
            "implementation": config.detect.implementation,
            "method": config.detect.method,
            "resolution": config.detect.resolution,
            "leiden_min_size": config.detect.leiden_min_size,
            "split_keys": list(config.detect.split_keys),
            "cut_relations": config.detect.cut_relations,
            "join_density": config.detect.join_density,
            "join_ratio": config.detect.join_ratio,
            "join_strength": config.detect.join_strength,
        },
    }


def page_ids(clusters: pd.DataFrame, config: Config) -> list[str]:
    """The clusters that get a page: the ``export.pages`` best ranked."""
    return [str(c) for c in clusters["cluster_id"].head(max(config.export.pages, 0))]


def _write_pages(
    views: list[ClusterView],
    clusters: pd.DataFrame,
    config: Config,
    out: Path,
    requests: int,
    accounts: int,
) -> int:
    """One page per view, and the index of every cluster."""
    links = write_pages(
        views,
        out,
        node_budget=config.export.node_budget,
        workers=config.export.workers,
        pseudonymised=config.privacy.pages,
    )
    flagged = clusters[clusters["flagged"]] if len(clusters) else clusters
    summary: dict[str, object] = {
        "requests": requests,
        "accounts": accounts,
        "clusters": len(clusters),
        "flagged clusters": len(flagged),
        "accounts in flagged clusters": int(flagged["size"].sum()) if len(flagged) else 0,
    }
    write_index(clusters, summary, out / "index.html", page_links=links)
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
