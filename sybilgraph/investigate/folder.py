"""A finished run's outputs folder, read: its tables, run.json and labels file.

:class:`RunFolder` is what the investigator's views (clusters, neighbourhoods, link
explanations, verdicts, the evaluation) are drawn from; :class:`~sybilgraph.Result`
builds on it to offer those views as methods.
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from sybilgraph.errors import InputError, StateError
from sybilgraph.outputs import text_of_cells
from sybilgraph.views.tables import ACTIVITY_COLUMNS

__all__ = ["KEPT_VERDICTS", "RunFolder", "id_text"]


#: the verdicts a weekly report's run was given, kept in its folder
KEPT_VERDICTS = "verdicts.csv"


def id_text(value: object, what: str) -> str:
    """An account or cluster id a caller gave, as the run holds it: a string without
    the spaces around it (load cuts them from the ids it reads), an integer (ids a
    DataFrame held as numbers, which the run read as their digits) as its digits.
    Anything else is refused: an integer id such as ``np.int64(2257)`` was said to be
    "not in this run", and a list or None failed with Python's own errors.

    Raises
    ------
    InputError
        ``value`` is not a string or an integer.
    """
    if isinstance(value, str):
        return value.strip(" ")
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    raise InputError(f"{what} is an id (a string), not {type(value).__name__} {value!r}")


#: the columns the views read of each table: a table without them is damaged
_COLUMNS = {
    "accounts.csv": ("account_id", "cluster_id", "flagged", "score"),
    "clusters.csv": ("cluster_id", "rank", "score", "flagged", "reasons"),
    "links.parquet": ("a", "b", "weight"),
    "hubs.csv": ("key", "value"),
    "values.parquet": ("cluster_id", "account_id", "key", "value"),
    "prompts.parquet": ("cluster_id", "samples"),
}


def _read(path: Path, reader: Callable[[Path], pd.DataFrame]) -> pd.DataFrame:
    """A table of the folder, or a one-line error naming it when it cannot be read or
    lacks a column the views read (a file cut short, overwritten or edited by hand)."""
    try:
        frame = reader(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise StateError(f"{path}: damaged, cannot be read ({first}); run again") from None
    missing = [c for c in _COLUMNS.get(path.name, ()) if c not in frame.columns]
    if missing:
        raise StateError(f"{path}: damaged, lacks the column {missing[0]!r}; run again")
    for column in _NUMBERS.get(path.name, ()):
        parsed = pd.to_numeric(frame[column], errors="coerce")
        _refuse_first(path, column, frame[column], parsed.isna(), "a number")
        frame[column] = parsed
    for column in _FLAGS.get(path.name, ()):
        flags = frame[column]
        if flags.dtype != bool:
            # "True"/"TRUE"/"true" as pandas reads them; an empty cell is not flagged
            text = flags.map(lambda v: str(v).strip().lower() if isinstance(v, str | bool) else "")
            _refuse_first(path, column, flags, ~text.isin(["true", "false", ""]), "True or False")
            frame[column] = text.eq("true")
    return frame


#: the columns of each table that hold numbers and flags: a score of "abc" failed as an
#: internal error, a flag of "maybe" counted as flagged (every account, in evaluate)
_NUMBERS = {"accounts.csv": ("score",), "clusters.csv": ("rank", "score")}
_FLAGS = {"accounts.csv": ("flagged",), "clusters.csv": ("flagged",)}


def _refuse_first(path: Path, column: str, values: pd.Series, bad: pd.Series, kind: str) -> None:
    """Refuse the table where a cell of ``column`` that is not blank is ``bad``."""
    if not bad.any():  # a run's own table: its cells were not read as text
        return
    bad = bad & values.notna() & values.astype(str).str.strip().ne("")
    if bad.any():
        index = int(bad.to_numpy().argmax())
        raise StateError(
            f"{path}: damaged, row {index + 2} column {column!r} is not {kind} "
            f"({str(values.iloc[index])[:40]!r}); run again"
        )


#: the parts of run.json that readers take apart, and what each must be where present
_INFO_SHAPES: dict[str, type] = {
    "config": dict,
    "counts": dict,
    "rows": dict,
    "versions": dict,
    "privacy": dict,
    "files": list,
    "inputs": list,
}
#: the config's sections that readers look into
_CONFIG_SECTIONS = ("columns", "engine", "export", "privacy")
_KIND_NAMES: dict[type, str] = {dict: "an object", list: "a list"}


class RunFolder:
    """The tables of a finished run, read from its outputs folder on first access.

    Reading on first access keeps reopening a large run cheap.

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

    Raises
    ------
    StateError
        ``out_dir`` holds no run.json; a table read later is missing from the folder.
    """

    def __init__(self, out_dir: str | Path) -> None:
        if not isinstance(out_dir, str | os.PathLike) or str(out_dir) == "":
            raise InputError(f"expected the path of a run's folder, not {out_dir!r}")
        self.out_dir = Path(out_dir)
        if not (self.out_dir / "run.json").is_file():
            raise StateError(f"{self.out_dir}: not a sybilgraph output folder (no run.json)")
        self._opened = self._identity()

    def _identity(self) -> tuple[int, int, int] | None:
        """run.json's file as it is now: a run into the folder replaces it."""
        try:
            stat = (self.out_dir / "run.json").stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def _check_same_run(self) -> None:
        """Refuse to read the folder once another run has replaced the one opened."""
        now = self._identity()
        if now is None:
            raise StateError(f"{self.out_dir}: the run opened is gone (no run.json)")
        if now != self._opened:
            raise StateError(
                f"{self.out_dir}: the run was replaced since it was opened; open it again"
            )

    def _read_table(self, path: Path, reader: Callable[[Path], pd.DataFrame]) -> pd.DataFrame:
        """A table of the run, refused once another run has replaced it in the folder:
        read on first access, it would come from the new run beside the old one's
        tables and run.json (a cluster of 0 accounts, a case file of the two mixed)."""
        self._check_same_run()
        return _read(path, reader)

    def __repr__(self) -> str:
        info = self.info
        rows = info.get("rows", {})
        counts = info.get("counts", {})
        return (
            f"{type(self).__name__}({str(self.out_dir)!r}: {rows.get('used', '?')} events, "
            f"{counts.get('accounts', '?')} accounts, {counts.get('clusters', '?')} clusters, "
            f"{counts.get('flagged_clusters', '?')} flagged)"
        )

    @cached_property
    def info(self) -> dict[str, Any]:
        """run.json: inputs, config, versions, seed, counts, timings."""
        path = self.out_dir / "run.json"
        self._check_same_run()
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise StateError(f"{path}: damaged, cannot be read ({exc}); run again") from None
        if not isinstance(data, dict):
            raise StateError(f"{path}: damaged, not a JSON object; run again")
        config = data.get("config", {})
        shapes = [(name, data, kind) for name, kind in _INFO_SHAPES.items()]
        shapes += [(f"config.{name}", config, dict) for name in _CONFIG_SECTIONS]
        for name, holder, kind in shapes:
            found = holder.get(name.rpartition(".")[2]) if isinstance(holder, dict) else None
            if found is not None and not isinstance(found, kind):
                raise StateError(f"{path}: damaged, {name} is not {_KIND_NAMES[kind]}; run again")
        return data

    def _csv(self, name: str, **kwargs: Any) -> pd.DataFrame:
        path = self.out_dir / name
        if not path.is_file():
            raise StateError(f"{path}: missing from the run's folder")
        return text_of_cells(
            self._read_table(
                path, lambda p: pd.read_csv(p, keep_default_na=False, na_values=[""], **kwargs)
            )
        )

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
        return self._read_table(self.out_dir / "links.parquet", pd.read_parquet)

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

    @cached_property
    def activity(self) -> pd.DataFrame:
        """Requests per account and time bin of the clusters that got a page (their
        timelines); empty for a run written before timelines were kept."""
        path = self.out_dir / "activity.parquet"
        if not path.is_file():
            return pd.DataFrame(columns=ACTIVITY_COLUMNS)
        return self._read_table(path, pd.read_parquet)

    def _parquet(self, name: str) -> pd.DataFrame:
        path = self.out_dir / name
        if not path.is_file():
            raise StateError(
                f"{path}: missing from the run's folder (written by sybilgraph 0.1 runs on; "
                "run again to get it)"
            )
        return self._read_table(path, pd.read_parquet)

    @property
    def flagged(self) -> pd.DataFrame:
        """The flagged clusters, best first (with every column when there are none:
        an empty ``flagged`` column read as text picked no row but no column either)."""
        clusters = self.clusters
        return clusters[clusters["flagged"]]  # read as True or False (see _read)

    @property
    def labels_path(self) -> Path:
        """The labels file whose verdicts the views show.

        The file the run was given (``Config.labels``), else ``labels.csv`` beside the
        run's folder, where :meth:`Result.label` and ``sybilgraph label`` write by default.
        """
        given = self.info.get("config", {}).get("labels")
        if given and not Path(given).exists() and (self.out_dir / KEPT_VERDICTS).is_file():
            # a weekly report's folder moved or copied: the verdicts it keeps
            return self.out_dir / KEPT_VERDICTS
        return Path(given) if given else self.out_dir.resolve().parent / "labels.csv"
