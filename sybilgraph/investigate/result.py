"""The result of a run: its tables, and the investigator's views of them."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Literal

from sybilgraph.errors import OutputError
from sybilgraph.investigate.casefile import resolve_cluster_id
from sybilgraph.investigate.cluster import Cluster, Neighborhood, cluster, neighborhood
from sybilgraph.investigate.explain import Explanation, explain
from sybilgraph.investigate.folder import RunFolder, id_text
from sybilgraph.investigate.labels import label_target
from sybilgraph.outputs import (
    NEW_FILE_MODE,
    install_run,
    is_temporary_run,
    make_staging,
    missing,
    path_argument,
    prepare_out_dir,
    removed_on_failure,
)

__all__ = ["Result", "open_run"]


log = logging.getLogger(__name__)


class Result(RunFolder):
    """A finished run, backed by its outputs folder.

    Its attributes are those of :class:`~sybilgraph.investigate.folder.RunFolder`: the
    run's tables (``accounts``, ``clusters``, ``links``, ``hubs``, ``rejects``,
    ``values``, ``prompts``), read on first access so that reopening a large run is
    cheap, and ``info`` (run.json). Its methods draw one cluster or neighbourhood,
    explain the evidence between two accounts, and record an investigator's verdicts.

    Examples
    --------
    >>> result = sybilgraph.run("events.csv")                     # doctest: +SKIP
    >>> top = result.cluster(result.clusters.cluster_id[0])        # doctest: +SKIP
    >>> top.reasons, top.members.head()                            # doctest: +SKIP
    """

    def cluster(self, cluster_id: str) -> Cluster:
        """One cluster: its members, shared values, links, prompts, score and reasons.

        Raises
        ------
        InputError
            The run has no cluster of that id.
        """
        return cluster(self, cluster_id)

    def neighborhood(self, account: str, hops: int = 2) -> Neighborhood:
        """The accounts within ``hops`` links of ``account``, viewable like a cluster.

        Raises
        ------
        InputError
            The account is not in the run, or ``hops`` is negative.
        """
        return neighborhood(self, account, hops)

    def explain(self, a: str, b: str) -> Explanation:
        """The evidence linking accounts ``a`` and ``b``, or the shortest path of links.

        Raises
        ------
        InputError
            Either account is not in the run.
        """
        return explain(self, a, b)

    def casefile(
        self,
        cluster_id: str,
        path: str | os.PathLike[str],
        *,
        pdf: str | os.PathLike[str] | None = None,
        force: bool = False,
    ) -> Path:
        """Write the case file of ``cluster_id`` (``"top"``: the rank-1 cluster) to ``path``.

        See :meth:`Cluster.casefile`.

        Raises
        ------
        InputError
            The run has no cluster of that id (or none at all, for ``"top"``).
        OutputError
            A file exists and ``force`` is not set, or the PDF cannot be printed.
        """
        given = cluster_id.id if isinstance(cluster_id, Cluster) else cluster_id
        chosen = resolve_cluster_id(self, given)
        return self.cluster(chosen).casefile(path, pdf=pdf, force=force)

    def label(
        self,
        target: str | Cluster,
        verdict: Literal["sybil", "benign", "not_sybil"],
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
        verdict : {"sybil", "benign", "not_sybil"}
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
        name = target.id if isinstance(target, Cluster) else id_text(target, "label target")
        if labels_path is None and is_temporary_run(self.out_dir):
            log.warning(
                "this run's folder is temporary, deleted when the process ends with the "
                "verdicts beside it: save() it first (the verdicts go with it) or give "
                "labels_path"
            )
        return label_target(
            self.out_dir, name, verdict, note=note, labels_path=labels_path, is_value=value
        )

    def save(self, out_dir: str | Path, *, force: bool = False) -> Result:
        """Copy the run's folder to ``out_dir`` and return the run reopened from there.

        With ``force``, a folder that is not empty takes the run as ``detect --out
        --force`` does: the files of the run it held (those its run.json lists) and of
        this one are replaced, anything else stays.

        Raises
        ------
        OutputError
            ``out_dir`` exists and is not empty (unless ``force``), is a file, holds
            the run or is inside it, or cannot be written.
        """
        target = path_argument(out_dir, "save", "folder")
        here, there = self.out_dir.resolve(), target.resolve()
        if there == here:
            return self
        if here.is_relative_to(there) or there.is_relative_to(here):
            # replacing a folder that holds the run deleted the run (and the folder's
            # other files); a copy inside the run is copied into itself
            where = "holds" if here.is_relative_to(there) else "is inside"
            raise OutputError(f"{target}: {where} the run being saved; choose another folder")
        if target.exists() and not target.is_dir():
            raise OutputError(f"{target}: exists and is not a folder")
        if target.exists() and any(target.iterdir()) and not force:
            raise OutputError(f"{target}: exists and is not empty (use force=True to replace)")
        with removed_on_failure(missing(target)):  # a failed copy leaves no folder made
            prepare_out_dir(target, force=True)
            staging = make_staging(target)
            try:
                shutil.copytree(self.out_dir, staging, dirs_exist_ok=True)
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise OutputError(f"{target}: cannot save the run: {exc.strerror}") from None
            install_run(staging, target)
        _keep_verdicts(self.out_dir, target)
        return Result(target)


def _keep_verdicts(run: Path, target: Path) -> None:
    """The verdicts written beside a temporary run (deleted with it when the process
    ends) go beside its saved copy, unless a labels file is there already."""
    given = run.resolve().parent / "labels.csv"
    if not is_temporary_run(run) or not given.is_file():
        return
    kept = target.resolve().parent / "labels.csv"
    if kept.exists():
        log.warning("%s exists: the verdicts of the temporary run stay in %s", kept, given)
        return
    shutil.copyfile(given, kept)
    os.chmod(kept, NEW_FILE_MODE)


def open_run(out_dir: str | Path) -> Result:
    """Reopen a finished run from its outputs folder without recomputing."""
    return Result(out_dir)
