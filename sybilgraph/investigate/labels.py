"""Investigators' verdicts: a labels file read by every run.

The file is CSV with columns ``verdict`` (sybil | benign), ``note`` and one target per
row: ``account_id``, ``cluster_id``, or ``key`` and ``value`` (a shared value such as an
office IP or a family card). What a run does with them:

- an account confirmed **sybil** makes its cluster rank first and say so;
- an account confirmed **benign** takes no part in linking;
- a value marked **benign** links nobody (it is listed in hubs.csv as "labelled benign");
- a cluster id marked sybil or benign applies to the cluster of that id in the run.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sybilgraph.errors import InputError
from sybilgraph.outputs import atomic_path

__all__ = ["LABEL_COLUMNS", "Labels", "append_label", "read_labels"]

LABEL_COLUMNS = ["account_id", "cluster_id", "key", "value", "verdict", "note", "labelled_at"]
VERDICTS = ("sybil", "benign")


@dataclass
class Labels:
    """The verdicts of a labels file, split by target."""

    accounts: pd.DataFrame  # account_id, verdict
    clusters: pd.DataFrame  # cluster_id, verdict
    values: pd.DataFrame  # key, value, verdict

    @classmethod
    def empty(cls) -> Labels:
        return cls(
            accounts=pd.DataFrame(columns=["account_id", "verdict"]),
            clusters=pd.DataFrame(columns=["cluster_id", "verdict"]),
            values=pd.DataFrame(columns=["key", "value", "verdict"]),
        )

    def __len__(self) -> int:
        return len(self.accounts) + len(self.clusters) + len(self.values)

    @property
    def benign_accounts(self) -> list[str]:
        return sorted(self.accounts.loc[self.accounts["verdict"] == "benign", "account_id"])

    @property
    def benign_values(self) -> pd.DataFrame:
        return self.values.loc[self.values["verdict"] == "benign", ["key", "value"]]


def read_labels(path: str | Path | None) -> Labels:
    """Read a labels file; the last verdict given for a target wins.

    A missing file gives no labels (a first run has none). Rows with an unknown verdict
    or no target are refused with the file and row named.
    """
    if path is None or not Path(path).exists():
        return Labels.empty()
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read labels: {exc}", path=str(path)) from None
    if "verdict" not in frame.columns:
        raise InputError("labels file has no 'verdict' column", path=str(path), column="verdict")
    for column in LABEL_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    frame["verdict"] = frame["verdict"].str.strip().str.lower()
    for index, row in frame.iterrows():
        line = int(str(index)) + 2
        if row["verdict"] not in VERDICTS:
            raise InputError(
                f"verdict must be 'sybil' or 'benign', not {row['verdict']!r}",
                path=str(path),
                row=line,
                column="verdict",
            )
        if not (row["account_id"] or row["cluster_id"] or (row["key"] and row["value"])):
            raise InputError(
                "a label needs an account_id, a cluster_id, or a key and a value",
                path=str(path),
                row=line,
            )

    def last(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        return frame.drop_duplicates(keys, keep="last")[[*keys, "verdict"]].reset_index(drop=True)

    return Labels(
        accounts=last(frame[frame["account_id"] != ""], ["account_id"]),
        clusters=last(
            frame[(frame["account_id"] == "") & (frame["cluster_id"] != "")], ["cluster_id"]
        ),
        values=last(
            frame[(frame["account_id"] == "") & (frame["cluster_id"] == "") & (frame["key"] != "")],
            ["key", "value"],
        ),
    )


def append_label(
    path: str | Path,
    verdict: str,
    *,
    account_id: str = "",
    cluster_id: str = "",
    key: str = "",
    value: str = "",
    note: str = "",
) -> None:
    """Add one verdict to a labels file (created with a header if absent)."""
    if verdict not in VERDICTS:
        raise InputError(f"verdict must be 'sybil' or 'benign', not {verdict!r}")
    if not (account_id or cluster_id or (key and value)):
        raise InputError("a label needs an account id, a cluster id, or a key and a value")
    target = Path(path)
    existing = target.read_bytes() if target.exists() else b""
    with atomic_path(target) as tmp:
        with tmp.open("wb") as handle:
            handle.write(existing)
        with tmp.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if not existing:
                writer.writerow(LABEL_COLUMNS)
            now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            writer.writerow([account_id, cluster_id, key, value, verdict, note, now])


def label_target(
    run_dir: str | Path,
    target: str,
    verdict: str,
    *,
    note: str = "",
    labels_path: str | Path | None = None,
    is_value: bool = False,
) -> Path:
    """Record a verdict on an account, cluster or ``key=value`` of a finished run.

    Returns the labels file written (``labels_path``, or ``labels.csv`` beside the run's
    folder).
    """
    from sybilgraph.investigate.result import open_run

    result = open_run(run_dir)
    path = Path(labels_path) if labels_path else result.out_dir.parent / "labels.csv"
    if is_value:
        key, sep, value = target.partition("=")
        if not sep or not key or not value:
            raise InputError(f"a value label is KEY=VALUE, e.g. ip=192.0.2.10, not {target!r}")
        append_label(path, verdict, key=key, value=value, note=note)
    elif target in set(result.clusters["cluster_id"]):
        append_label(path, verdict, cluster_id=target, note=note)
    elif target in set(result.accounts["account_id"]):
        append_label(path, verdict, account_id=target, note=note)
    else:
        raise InputError(
            f"{target!r} is neither an account nor a cluster of this run", path=str(result.out_dir)
        )
    return path
