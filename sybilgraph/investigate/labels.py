"""Investigators' verdicts, written to a labels file that the next run reads.

``sybilgraph label`` and :meth:`Result.label` append one verdict at a time; the file's
format and what a run does with each verdict are in :mod:`sybilgraph.stages.verdicts`.
"""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
from pathlib import Path

import pandas as pd

from sybilgraph.config import BUILTIN_KEYS
from sybilgraph.errors import InputError
from sybilgraph.investigate.folder import RunFolder
from sybilgraph.outputs import atomic_path, spreadsheet_safe
from sybilgraph.stages.observe import KEY_IP
from sybilgraph.stages.privacy import is_pseudonym
from sybilgraph.stages.verdicts import LABEL_COLUMNS, VERDICTS, ip_label_values

__all__ = ["append_label", "label_target"]


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
        raise InputError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    if not (account_id or cluster_id or (key and value)):
        raise InputError("a label needs an account id, a cluster id, or a key and a value")
    target = Path(path)
    existing = target.read_bytes() if target.exists() else b""
    if existing.strip():
        _check_header(target, existing)
    with atomic_path(target) as tmp:
        with tmp.open("wb") as handle:
            handle.write(existing)
            if existing and not existing.endswith((b"\n", b"\r")):
                handle.write(b"\n")  # the last line's end, or the verdict would join it
        with tmp.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if not existing.strip():
                writer.writerow(LABEL_COLUMNS)
            now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            row = pd.DataFrame([[account_id, cluster_id, key, value, verdict, note, now]])
            writer.writerow(spreadsheet_safe(row).iloc[0].tolist())


def _check_header(path: Path, content: bytes) -> None:
    """Refuse to append to a file that is not a labels file this module writes (an
    events file given by mistake would gain a row of the wrong shape)."""
    first = content.decode("utf-8-sig", errors="replace").splitlines()[0]
    header = [name.strip() for name in next(csv.reader([first]), [])]
    if header != list(LABEL_COLUMNS):
        raise InputError(
            f"not a labels file: its header is {first[:80]!r}, not "
            f"{','.join(LABEL_COLUMNS)!r}; name a labels file or a new file",
            path=str(path),
        )


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
    result = RunFolder(run_dir)
    # beside the folder, also when it is given as "." (its parent, taken as written, is
    # "." again: the labels would land inside the run)
    path = Path(labels_path) if labels_path else result.out_dir.resolve().parent / "labels.csv"
    if is_value:
        key, sep, value = target.partition("=")
        if not sep or not key or not value:
            raise InputError(f"a value label is KEY=VALUE, e.g. ip=192.0.2.10, not {target!r}")
        extra = result.info.get("config", {}).get("columns", {}).get("extra_keys", [])
        keys = [*BUILTIN_KEYS, *(str(k) for k in extra)]
        if key not in keys:
            # a verdict on a key no run links through would be kept and never used
            raise InputError(f"{key!r} is not a link key of this run ({', '.join(keys)})")
        if key == KEY_IP and not is_pseudonym(key, value):
            prefix = result.info.get("config", {}).get("link", {}).get("ipv6_prefix", 64)
            (shown,) = ip_label_values([value], prefix if isinstance(prefix, int) else 64)
            if shown is None:
                raise InputError(f"{value!r} is not an IP address or network")
            if "/" in shown:
                network = ipaddress.ip_network(shown)
                want = 64 if not isinstance(prefix, int) else prefix
                if network.version == 4 or network.prefixlen != want:
                    # the key links an IPv4 address itself and an IPv6 one's /N network:
                    # a verdict on another network would be kept and match nothing
                    raise InputError(
                        f"{value!r}: the key ip links each IPv4 address, and IPv6 "
                        f"addresses by their /{want} network; name one of those"
                    )
            value = shown
        append_label(path, verdict, key=key, value=value, note=note)
    elif target in set(result.clusters["cluster_id"]) or target in _tracked_ids(result):
        # a weekly report follows a verdict on a tracked id into later weeks
        append_label(path, verdict, cluster_id=target, note=note)
    elif target in set(result.accounts["account_id"]):
        append_label(path, verdict, account_id=target, note=note)
    else:
        raise InputError(
            f"{target!r} is neither an account nor a cluster of this run", path=str(result.out_dir)
        )
    return path


def _tracked_ids(result: RunFolder) -> set[str]:
    """The tracked ids of a weekly report's clusters (none for a run of ``detect``)."""
    clusters = result.clusters
    return set(clusters["tracked_id"]) - {""} if "tracked_id" in clusters.columns else set()
