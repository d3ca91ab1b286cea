"""The result of a run: its tables, read from its outputs folder on first use."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from sybilgraph.errors import StateError

__all__ = ["Result", "open_run"]


class Result:
    """A finished run, backed by its outputs folder.

    Tables are read on first access, so reopening a large run is cheap.
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

    @property
    def flagged(self) -> pd.DataFrame:
        """The flagged clusters, best first."""
        return self.clusters[self.clusters["flagged"]]


def open_run(out_dir: str | Path) -> Result:
    """Reopen a finished run from its outputs folder without recomputing."""
    return Result(out_dir)
