"""The investigator's objects: one cluster, or the neighbourhood of one account, of a run.

Both are drawn from a finished run's folder (``accounts.csv``, ``clusters.csv``,
``links.parquet`` and the view tables ``values.parquet`` and ``prompts.parquet``), so
nothing is recomputed. Each can be shown inline in Jupyter, written as a self-contained
HTML page, or converted to networkx.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sybilgraph.errors import InputError, OutputError, StateError
from sybilgraph.investigate.folder import RunFolder, id_text
from sybilgraph.outputs import path_argument
from sybilgraph.stages.verdicts import read_labels, spread_verdicts
from sybilgraph.views.tables import ClusterView, activity_of, view_from_tables

if TYPE_CHECKING:
    import networkx as nx

    from sybilgraph.views.pages import ViewHTML

__all__ = ["Cluster", "Neighborhood", "cluster", "neighborhood"]

LINK_COLUMNS = ["a", "b", "weight", "keys", "evidence", "first_seen", "last_seen"]


class Subgraph:
    """Accounts, the values they share, their links and prompts: what a page draws.

    Attributes
    ----------
    members : DataFrame
        account_id, requests, first_seen, last_seen, score, verdict, degree (links
        inside this subgraph).
    values : DataFrame
        The members' shared values: account_id, key, value, requests, first_seen,
        last_seen, holders (accounts holding it in all data), hub.
    links : DataFrame
        a, b, weight, keys, evidence, first_seen, last_seen: links between members.
    prompts : DataFrame
        template, text, samples (a few raw prompts of the template), requests, accounts.
    """

    def __init__(
        self, view: ClusterView, node_budget: int = 300, *, pseudonymised: bool = False
    ) -> None:
        self._view = view
        self.node_budget = node_budget
        #: the run's tables hold pseudonyms ([privacy] tables), so its pages say so
        self.pseudonymised = pseudonymised

    @property
    def cluster_view(self) -> ClusterView:
        """The tables behind the drawing (accounts, values, links, prompts, activity)."""
        return self._view

    @property
    def members(self) -> pd.DataFrame:
        return self._view.accounts

    @property
    def values(self) -> pd.DataFrame:
        return self._view.values

    @property
    def links(self) -> pd.DataFrame:
        return self._view.links

    @property
    def prompts(self) -> pd.DataFrame:
        return self._view.prompts

    def __len__(self) -> int:
        return len(self._view.accounts)

    def to_networkx(self) -> nx.Graph:
        """The whole subgraph as a networkx graph (no node budget).

        Nodes are ``a:<account>`` and ``v:<key>:<value>``; edges are ``holds`` (account
        to value) and ``link`` (account to account), see
        :func:`sybilgraph.views.pages.cluster_graph`.
        """
        from sybilgraph.views.pages import cluster_graph

        return cluster_graph(self._view)

    def view(self, height: int = 720) -> ViewHTML:
        """The interactive page, shown inline when it is a notebook cell's value.

        The page runs in a sandboxed ``<iframe srcdoc>`` and loads nothing from the
        network. Past ``node_budget`` nodes, the rest are collapsed into counted groups.
        """
        from sybilgraph.views.pages import ViewHTML, render_cluster_page

        if isinstance(height, bool) or not isinstance(height, numbers.Integral) or height < 1:
            raise InputError(f"height is a number of pixels, not {height!r}")
        page = render_cluster_page(
            self._view, node_budget=self.node_budget, pseudonymised=self.pseudonymised
        )
        return ViewHTML(page, height)

    def to_html(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write the interactive page to ``path`` (atomically) and return the path.

        Raises
        ------
        OutputError
            ``path`` exists and ``force`` is not set (a page written again over a
            file of another kind would lose it), or is not a path.
        """
        from sybilgraph.views.pages import write_cluster_page

        target = path_argument(path, "to_html")
        if target.exists() and not force:
            raise OutputError(f"{target}: exists (use force=True to replace it)")
        return write_cluster_page(
            self._view, path, node_budget=self.node_budget, pseudonymised=self.pseudonymised
        )


class Cluster(Subgraph):
    """One cluster of a finished run, from :meth:`Result.cluster`.

    Attributes
    ----------
    id : str
        The cluster id (``C`` + 10 hex digits).
    rank : int
        1 for the highest score.
    score : float
        Risk score in [0, 1]; ``flagged`` is ``score >= score.threshold`` unless an
        investigator labelled the cluster benign.
    flagged : bool
    reasons : list of str
        The score's reasons, in words.
    features : dict
        Size, density, shares and the other features the score uses.
    run : RunFolder or None
        The run it was drawn from, which its case file cites.
    """

    def __init__(
        self,
        view: ClusterView,
        node_budget: int = 300,
        *,
        pseudonymised: bool = False,
        run: RunFolder | None = None,
    ) -> None:
        super().__init__(view, node_budget, pseudonymised=pseudonymised)
        self.run = run
        self.id = view.cluster_id
        self.rank = view.rank
        self.score = view.score
        self.flagged = view.flagged
        self.reasons = list(view.reasons)
        self.features = dict(view.features)

    def __repr__(self) -> str:
        flag = "flagged" if self.flagged else "not flagged"
        return (
            f"Cluster({self.id!r}: rank {self.rank}, {len(self.members)} accounts, "
            f"{len(self.links)} links, {len(self.prompts)} prompt templates, "
            f"score {self.score:.3f}, {flag})"
        )

    def casefile(
        self,
        path: str | os.PathLike[str],
        *,
        pdf: str | os.PathLike[str] | None = None,
        force: bool = False,
    ) -> Path:
        """Write the cluster's case file, a printable page to escalate it, to ``path``.

        It holds the accounts, shared infrastructure and payment, prompt templates,
        evidence per key, the score's reasons and what produced them (input files with
        their SHA-256, version, config, seed), identifiers pseudonymised like the run's
        pages; see :mod:`sybilgraph.investigate.casefile`.

        Parameters
        ----------
        path : path
            The HTML file to write.
        pdf : path, optional
            Also print it to this PDF file with headless Chromium (never downloaded).
        force : bool, default False
            Replace files that exist.

        Raises
        ------
        OutputError
            A file exists and ``force`` is not set, or the PDF cannot be printed.
        StateError
            The cluster was not drawn from a run's folder.
        """
        from sybilgraph.investigate.casefile import write_casefile

        path_argument(path, "casefile")
        if pdf is not None:
            path_argument(pdf, "casefile pdf")
        if self.run is None:
            raise StateError(f"cluster {self.id}: no run folder to write a case file from")
        return write_casefile(self.run, self._view, path, pdf=pdf, force=force)


class Neighborhood(Subgraph):
    """The accounts within ``hops`` links of one account, from :meth:`Result.neighborhood`.

    Attributes
    ----------
    center : str
        The account it is built around.
    hops : int
    clusters : list of str
        The clusters its accounts belong to, the center's first.
    """

    def __init__(
        self,
        view: ClusterView,
        center: str,
        hops: int,
        clusters: list[str],
        node_budget: int,
        *,
        pseudonymised: bool = False,
    ) -> None:
        super().__init__(view, node_budget, pseudonymised=pseudonymised)
        self.center = center
        self.hops = hops
        self.clusters = clusters

    def __repr__(self) -> str:
        return (
            f"Neighborhood({self.center!r}, hops={self.hops}: {len(self.members)} accounts, "
            f"{len(self.links)} links, {len(self.clusters)} clusters)"
        )


def cluster(result: RunFolder, cluster_id: str) -> Cluster:
    """Build the :class:`Cluster` of ``cluster_id`` from a run's folder.

    Raises
    ------
    InputError
        No cluster of that id in the run.
    StateError
        The run's folder lacks a table the view needs.
    """
    given = cluster_id.id if isinstance(cluster_id, Cluster) else cluster_id
    cluster_id = id_text(given, "cluster")
    clusters = result.clusters
    rows = clusters[clusters["cluster_id"] == cluster_id]
    if rows.empty and "tracked_id" in clusters.columns:
        # a weekly report's folder: the id its report and the next weeks' speak of
        rows = clusters[clusters["tracked_id"] == cluster_id]
        cluster_id = str(rows["cluster_id"].iloc[0]) if len(rows) else cluster_id
    if rows.empty:
        top = ", ".join(clusters["cluster_id"].head(3))
        hint = f" (the top clusters are {top})" if top else " (the run has no clusters)"
        raise InputError(f"no cluster {cluster_id!r} in this run{hint}", path=str(result.out_dir))
    accounts = result.accounts
    members = _timed(accounts[accounts["cluster_id"] == cluster_id])
    ids = set(members["account_id"])
    links = result.links
    inside = links[links["a"].isin(ids) & links["b"].isin(ids)]
    values = result.values
    prompts = result.prompts
    view = view_from_tables(
        rows.iloc[0].to_dict(),
        members,
        values[values["cluster_id"] == cluster_id],
        inside[[c for c in LINK_COLUMNS if c in inside.columns]],
        prompts[prompts["cluster_id"] == cluster_id],
        _verdicts(result),
        activity=activity_of(result.activity, cluster_id),
    )
    return Cluster(view, _node_budget(result), pseudonymised=_pseudonymised(result), run=result)


def neighborhood(result: RunFolder, account: str, hops: int = 2) -> Neighborhood:
    """Build the :class:`Neighborhood` of ``account``: every account within ``hops`` links.

    Parameters
    ----------
    result : RunFolder
        The run, e.g. a :class:`~sybilgraph.Result`.
    account : str
        An account of the run.
    hops : int, default 2
        0 gives the account alone; 1 adds the accounts it is linked to; and so on.

    Notes
    -----
    Links cross cluster boundaries here: the neighbourhood shows how a cluster is tied
    to what lies around it. Shared values and prompts are those the run's view tables
    hold, i.e. of clustered accounts.

    Raises
    ------
    InputError
        The account is not in the run, or ``hops`` is negative.
    """
    account = id_text(account, "account")
    if isinstance(hops, bool) or not isinstance(hops, numbers.Integral):
        raise InputError(f"hops is a whole number of links, not {type(hops).__name__} {hops!r}")
    hops = int(hops)
    if hops < 0:
        raise InputError(f"hops must be 0 or more, not {hops}")
    accounts = result.accounts
    if account not in set(accounts["account_id"]):
        raise InputError(f"account {account!r} is not in this run", path=str(result.out_dir))
    links = result.links
    reached = {account}
    frontier = {account}
    for _ in range(hops):
        touching = links[links["a"].isin(frontier) | links["b"].isin(frontier)]
        frontier = (set(touching["a"]) | set(touching["b"])) - reached
        if not frontier:
            break
        reached |= frontier
    members = _timed(accounts[accounts["account_id"].isin(reached)])
    inside = links[links["a"].isin(reached) & links["b"].isin(reached)]
    values = result.values
    values = (
        values[values["account_id"].isin(reached)]
        .drop(columns="cluster_id")
        .drop_duplicates(["account_id", "key", "value"])
    )
    center: dict[Any, Any] = members[members["account_id"] == account].iloc[0].to_dict()
    cluster_ids = [str(center["cluster_id"])] if center["cluster_id"] else []
    cluster_ids += sorted(set(members["cluster_id"]) - {"", *cluster_ids})
    row = {
        "cluster_id": f"{account} ({hops} hops)",
        "rank": 0,
        "score": float(center["score"]),
        "flagged": bool(center["flagged"]),
        "reasons": f"the accounts within {hops} links of {account}; "
        f"{len(members)} accounts in {len(cluster_ids)} cluster(s)",
        "center": account,
        "hops": hops,
        "clusters": len(cluster_ids),
    }
    view = view_from_tables(
        row,
        members,
        values,
        inside[[c for c in LINK_COLUMNS if c in inside.columns]],
        _prompts_held(values, result.prompts),
        _verdicts(result),
    )
    # each account keeps its own cluster's score, not the center's
    score_of = dict(zip(members["account_id"], members["score"], strict=True))
    cluster_of = dict(zip(members["account_id"], members["cluster_id"], strict=True))
    view.accounts["score"] = view.accounts["account_id"].map(score_of)
    view.accounts["cluster_id"] = view.accounts["account_id"].map(cluster_of)
    return Neighborhood(
        view, account, hops, cluster_ids, _node_budget(result), pseudonymised=_pseudonymised(result)
    )


def _timed(accounts: pd.DataFrame) -> pd.DataFrame:
    """first_seen and last_seen as timestamps, as the engine's tables hold them."""
    return accounts.assign(
        first_seen=pd.to_datetime(accounts["first_seen"]),
        last_seen=pd.to_datetime(accounts["last_seen"]),
    )


def _prompts_held(values: pd.DataFrame, prompts: pd.DataFrame) -> pd.DataFrame:
    """Templates held by the accounts of ``values``, with their text and samples."""
    held = values[values["key"] == "prompt"]
    usage = (
        held.groupby("value")
        .agg(requests=("requests", "sum"), accounts=("account_id", "nunique"))
        .reset_index()
        .rename(columns={"value": "template"})
    )
    texts = prompts.drop_duplicates("template")[["template", "text", "samples"]]
    merged = usage.merge(texts, on="template", how="inner")
    return merged[["template", "text", "samples", "requests", "accounts"]]


def _verdicts(result: RunFolder) -> dict[str, str]:
    """Account verdicts of the labels file the run read (cluster verdicts spread)."""
    labels = read_labels(result.labels_path)
    if not len(labels):
        return {}
    clustered = result.accounts[result.accounts["cluster_id"] != ""]
    verdicts = spread_verdicts(labels, clustered[["account_id", "cluster_id"]])
    return dict(zip(verdicts["account_id"], verdicts["verdict"], strict=True))


def _pseudonymised(result: RunFolder) -> bool:
    """Whether the run's tables hold pseudonyms: pages drawn from them then say so and
    leave out raw prompt samples, like the pages the run wrote."""
    privacy: dict[str, Any] = result.info.get("config", {}).get("privacy", {})
    return bool(privacy.get("tables", False))


def _node_budget(result: RunFolder) -> int:
    export: dict[str, Any] = result.info.get("config", {}).get("export", {})
    return int(export.get("node_budget", 300))
