"""The result of a run: its tables, read from its outputs folder on first use."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from sybilgraph.errors import OutputError, StateError

if TYPE_CHECKING:
    from sybilgraph.investigate.cluster import Cluster, Neighborhood
    from sybilgraph.investigate.explain import Explanation

__all__ = ["Result", "open_run"]


class Result:
    """A finished run, backed by its outputs folder.

    Tables are read on first access, so reopening a large run is cheap.

    Attributes
    ----------
    out_dir : Path
        The run's folder.
    accounts, clusters, links, hubs, rejects : DataFrame
        The run's tables (see the README's "Outputs").
    values, prompts : DataFrame
        What the cluster views draw: clustered accounts' shared values, and each
        cluster's prompt templates with sample prompts.
    info : dict
        run.json: inputs, config, versions, seed, counts, timings.

    Examples
    --------
    >>> result = sybilgraph.run("events.csv")                     # doctest: +SKIP
    >>> top = result.cluster(result.clusters.cluster_id[0])        # doctest: +SKIP
    >>> top.reasons, top.members.head()                            # doctest: +SKIP
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        if not (self.out_dir / "run.json").is_file():
            raise StateError(f"{self.out_dir}: not a sybilgraph output folder (no run.json)")

    def __repr__(self) -> str:
        info = self.info
        rows = info.get("rows", {})
        counts = info.get("counts", {})
        return (
            f"Result({str(self.out_dir)!r}: {rows.get('used', '?')} events, "
            f"{counts.get('accounts', '?')} accounts, {counts.get('clusters', '?')} clusters, "
            f"{counts.get('flagged_clusters', '?')} flagged)"
        )

    @cached_property
    def info(self) -> dict[str, Any]:
        """run.json: inputs, config, versions, seed, counts, timings."""
        data: dict[str, Any] = json.loads((self.out_dir / "run.json").read_text("utf-8"))
        return data

    def _csv(self, name: str, **kwargs: Any) -> pd.DataFrame:
        path = self.out_dir / name
        if not path.is_file():
            raise StateError(f"{path}: missing from the run's folder")
        return pd.read_csv(path, keep_default_na=False, na_values=[""], **kwargs)

    @cached_property
    def accounts(self) -> pd.DataFrame:
        """Every account: account_id, cluster_id (empty if none), flagged, score, ..."""
        frame = self._csv("accounts.csv", dtype={"account_id": str, "cluster_id": str})
        frame["cluster_id"] = frame["cluster_id"].fillna("")
        return frame

    @cached_property
    def clusters(self) -> pd.DataFrame:
        """Every cluster, ranked: features, score, flagged, reasons."""
        frame = self._csv("clusters.csv", dtype={"cluster_id": str, "reasons": str})
        frame["reasons"] = frame["reasons"].fillna("")
        return frame

    @cached_property
    def links(self) -> pd.DataFrame:
        """Every link between two accounts, with its weight and evidence per key."""
        return pd.read_parquet(self.out_dir / "links.parquet")

    @cached_property
    def hubs(self) -> pd.DataFrame:
        """Values too widely held (or marked benign) to link accounts."""
        return self._csv("hubs.csv", dtype={"value": str})

    @cached_property
    def rejects(self) -> pd.DataFrame:
        """Input rows not used, with the reason."""
        return self._csv("rejects.csv", dtype=str)

    @cached_property
    def values(self) -> pd.DataFrame:
        """Shared values of clustered accounts: cluster_id, account_id, key, value, ..."""
        return self._parquet("values.parquet")

    @cached_property
    def prompts(self) -> pd.DataFrame:
        """Prompt templates per cluster: cluster_id, template, text, samples, requests, ...

        ``samples`` is a list of a few raw prompts of the template.
        """
        prompts = self._parquet("prompts.parquet")
        prompts["samples"] = prompts["samples"].map(
            lambda samples: [] if samples is None else [str(s) for s in samples]
        )
        return prompts

    def _parquet(self, name: str) -> pd.DataFrame:
        path = self.out_dir / name
        if not path.is_file():
            raise StateError(
                f"{path}: missing from the run's folder (written by sybilgraph 0.1 runs on; "
                "run again to get it)"
            )
        return pd.read_parquet(path)

    @property
    def flagged(self) -> pd.DataFrame:
        """The flagged clusters, best first."""
        return self.clusters[self.clusters["flagged"]]

    @property
    def labels_path(self) -> Path:
        """The labels file whose verdicts the views show.

        The file the run was given (``Config.labels``), else ``labels.csv`` beside the
        run's folder, where :meth:`label` and ``sybilgraph label`` write by default.
        """
        given = self.info.get("config", {}).get("labels")
        return Path(given) if given else self.out_dir.parent / "labels.csv"

    def cluster(self, cluster_id: str) -> Cluster:
        """One cluster: its members, shared values, links, prompts, score and reasons.

        Raises
        ------
        InputError
            The run has no cluster of that id.
        """
        from sybilgraph.investigate.cluster import cluster

        return cluster(self, cluster_id)

    def neighborhood(self, account: str, hops: int = 2) -> Neighborhood:
        """The accounts within ``hops`` links of ``account``, viewable like a cluster.

        Raises
        ------
        InputError
            The account is not in the run, or ``hops`` is negative.
        """
        from sybilgraph.investigate.cluster import neighborhood

        return neighborhood(self, account, hops)

    def explain(self, a: str, b: str) -> Explanation:
        """The evidence linking accounts ``a`` and ``b``, or the shortest path of links.

        Raises
        ------
        InputError
            Either account is not in the run.
        """
        from sybilgraph.investigate.explain import explain

        return explain(self, a, b)

    def label(
        self,
        target: str | Cluster,
        verdict: Literal["sybil", "benign"],
        *,
        note: str = "",
        value: bool = False,
        labels_path: str | Path | None = None,
    ) -> Path:
        """Record an investigator's verdict; the next run given the labels file honours it.

        Parameters
        ----------
        target : str or Cluster
            An account id or cluster id of this run, a :class:`Cluster`, or with
            ``value=True`` a shared value as ``KEY=VALUE`` (e.g. ``ip=192.0.2.10``).
        verdict : {"sybil", "benign"}
        note : str
            Why; kept with the verdict.
        value : bool
            ``target`` is a ``KEY=VALUE`` shared value.
        labels_path : path, optional
            The labels file to append to; by default ``labels.csv`` beside the run's
            folder, as ``sybilgraph label`` does.

        Returns
        -------
        Path
            The labels file written; pass it as ``Config(labels=...)`` to the next run.
        """
        from sybilgraph.investigate.labels import label_target

        name = target if isinstance(target, str) else target.id
        return label_target(
            self.out_dir, name, verdict, note=note, labels_path=labels_path, is_value=value
        )

    def save(self, out_dir: str | Path, *, force: bool = False) -> Result:
        """Copy the run's folder to ``out_dir`` and return the run reopened from there.

        Raises
        ------
        OutputError
            ``out_dir`` exists and is not empty (unless ``force``), or cannot be written.
        """
        target = Path(out_dir)
        if target.resolve() == self.out_dir.resolve():
            return self
        if target.exists() and (not target.is_dir() or any(target.iterdir())) and not force:
            raise OutputError(f"{target}: exists and is not empty (use force=True to replace)")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            shutil.copytree(self.out_dir, staging, dirs_exist_ok=True)
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            os.replace(staging, target)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise OutputError(f"{target}: cannot save the run: {exc.strerror}") from None
        return Result(target)


def open_run(out_dir: str | Path) -> Result:
    """Reopen a finished run from its outputs folder without recomputing."""
    return Result(out_dir)
