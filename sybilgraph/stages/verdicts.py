"""verdicts: investigators' verdicts from a labels file, as a run reads them.

The file is CSV with columns ``verdict`` (sybil | benign | not_sybil), ``note`` and one
target per row: ``account_id``, ``cluster_id``, or ``key`` and ``value`` (a shared value
such as an office IP or a family card). What a run does with them:

- an account confirmed **sybil** makes its cluster rank first and say so; a cluster is
  flagged where more of its accounts with a verdict are sybils than cleared (benign or
  not_sybil), and not where fewer;
- an account confirmed **benign** takes no part in linking;
- an account **not_sybil** was looked at and not found to be one (a reviewed airdrop
  candidate that was not eliminated): it links as any account, and counts against its
  cluster when the score's weights are fitted to the verdicts;
- with verdicts on enough clusters the score's weights are fitted to them
  (:mod:`sybilgraph.stages.learn`);
- a value marked **benign** links nobody (it is listed in hubs.csv as "labelled benign");
- a cluster id marked sybil, benign or not_sybil applies to the cluster of that id in
  the run (not_sybil on a cluster clears it, as benign).

Writing verdicts is the investigator's side: :mod:`sybilgraph.investigate.labels`.
"""

from __future__ import annotations

import csv
import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sybilgraph.engines.csvrepair import long_row
from sybilgraph.errors import InputError
from sybilgraph.outputs import text_of_cells
from sybilgraph.stages.normalize import normalize_ips
from sybilgraph.stages.observe import KEY_IP

log = logging.getLogger(__name__)

__all__ = [
    "CLEARED",
    "LABEL_COLUMNS",
    "VERDICTS",
    "Labels",
    "apply_cluster_verdicts",
    "ip_label_values",
    "read_labels",
    "spread_verdicts",
]

LABEL_COLUMNS = ["account_id", "cluster_id", "key", "value", "verdict", "note", "labelled_at"]
VERDICTS = ("sybil", "benign", "not_sybil")


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


def read_labels(path: str | Path | None, *, ipv6_prefix: int = 64) -> Labels:
    """Read a labels file; the last verdict given for a target wins.

    A missing file gives no labels (a first run has none). Rows with an unknown verdict
    or no target are refused with the file and row named. An IP value is taken as the
    run links on it (:func:`ip_label_values`; an IPv6 address as its ``ipv6_prefix``
    network), so that any spelling of one address is one target.
    """
    if path is None or not Path(path).exists():
        return Labels.empty()
    try:
        _check_fields(Path(path))
        frame = text_of_cells(pd.read_csv(path, dtype=str, keep_default_na=False))
    except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
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
                f"verdict must be 'sybil', 'benign' or 'not_sybil', not {row['verdict']!r}",
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

    ip = frame["key"] == KEY_IP
    if ip.any():
        written = frame.loc[ip, "value"].tolist()
        shown = ip_label_values(written, ipv6_prefix)
        frame.loc[ip, "value"] = [
            w if k is None else k for w, k in zip(written, shown, strict=True)
        ]
        # neither an address, a network nor a pseudonym (ip~...): written by hand, it
        # matches nothing (``sybilgraph label`` refuses it), and was dropped unsaid
        lines = [
            i + 2
            for i, w, k in zip(frame.index[ip], written, shown, strict=True)
            if k is None and not w.startswith("ip~")
        ]
        if lines:
            log.warning(
                "%s: %d verdict(s) on ip values that are no address or network (first: "
                "row %d): they match nothing",
                path,
                len(lines),
                lines[0],
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


def ip_label_values(texts: list[str], ipv6_prefix: int = 64) -> list[str | None]:
    """The values verdicts on the IPs ``texts`` name, as the run links on them: an
    address's key (an IPv4 address itself, an IPv6 address its ``ipv6_prefix`` network,
    as the pages show it), or a network as given, written canonically; None for a text
    that is neither (a verdict on it would match nothing)."""
    keys = normalize_ips(texts, ipv6_prefix=ipv6_prefix).column("ip_key").to_pylist()
    return [
        str(key) if key is not None else _network(text)
        for text, key in zip(texts, keys, strict=True)
    ]


def _network(text: str) -> str | None:
    """A network as written on a page ("2001:db8:1:2::/64"), canonical; None if not."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        return None


def _check_fields(path: Path) -> None:
    """Refuse a row with more fields than the header, naming it (see ``long_row``). A
    row with fewer is read with the last columns empty (a note and a time left out by
    hand)."""
    found = long_row(path)
    if found is not None:
        line, fields, header = found
        raise InputError(f"{fields} fields where the header has {header}", path=str(path), row=line)


def spread_verdicts(labels: Labels, membership: pd.DataFrame) -> pd.DataFrame:
    """Account verdicts, with cluster-level sybil verdicts spread to the members.

    Parameters
    ----------
    labels : Labels
    membership : DataFrame
        account_id, cluster_id of the clustered accounts.

    Returns
    -------
    DataFrame
        account_id, verdict; an account's own verdict wins over its cluster's.
    """
    accounts = labels.accounts[["account_id", "verdict"]]
    sybil_clusters = labels.clusters.loc[labels.clusters["verdict"] == "sybil", "cluster_id"]
    from_clusters = membership[membership["cluster_id"].isin(sybil_clusters)][["account_id"]]
    from_clusters = from_clusters.assign(verdict="sybil")
    combined = pd.concat([from_clusters, accounts], ignore_index=True)
    return combined.drop_duplicates("account_id", keep="last")


#: the verdicts that clear a cluster: ``not_sybil`` on a cluster is "looked at and not
#: found to be one", as ``benign`` (it was written and changed nothing)
CLEARED = ("benign", "not_sybil")


def apply_cluster_verdicts(clusters: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """Unflag the clusters labelled benign or not_sybil, saying so first in their reasons.

    ``clusters`` (cluster_id, flagged, reasons, ...) is changed in place and returned.
    Clusters labelled sybil are not touched here: their members' spread verdicts
    (:func:`spread_verdicts`) already made the score rank them first.
    """
    if clusters.empty or labels.clusters.empty:
        return clusters
    given = dict(zip(labels.clusters["cluster_id"], labels.clusters["verdict"], strict=True))
    verdict = clusters["cluster_id"].map(given)
    hit = verdict.isin(CLEARED)
    clusters.loc[hit, "flagged"] = False
    said = verdict[hit].map({"benign": "labelled benign", "not_sybil": "labelled not sybil"})
    clusters.loc[hit, "reasons"] = (
        said + " by an investigator; " + clusters.loc[hit, "reasons"].astype(str)
    )
    return clusters
