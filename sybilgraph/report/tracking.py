"""Week-over-week cluster tracking: persistent ids, and what changed since last time.

The state folder remembers each period's clusters, so that next period's clusters can be
matched to them::

    STATE_DIR/
      .lock                           held by the report running on this state
      state.json                      {"format_version": 2, "tool": "sybilgraph-report-state"}
      labels.csv                      every verdict given so far (carried forward)
      periods/<period>/period.json    name, start, end, next_id, format_version
      periods/<period>/members.csv    account_id, tracked_id
      periods/<period>/clusters.csv   tracked_id, cluster_id, size, flagged, score
      periods/<period>/memory/        the period's observations in compact form, for the
                                      lookback of the weeks after it (:mod:`.memory`);
                                      dropped once the period is past every lookback

**Versions.** Version 2 added the compact memory. A version 1 state is upgraded in place
by the next report: its periods keep their snapshots (tracking goes on) but have no
memory, so the weeks just after the upgrade link over the weeks reported since (the log
says so). A version above 2 is refused.

**Matching rule.** A cluster of this period and one of the previous period are *linked*
when they share at least ``MIN_SHARED`` (2) accounts and the shared accounts make up at
least ``MIN_OVERLAP`` (half) of the smaller of the two (the overlap coefficient). Linked
pairs are then matched one to one, greedily: most shared accounts first, then higher
Jaccard, then the smaller tracked id, then the smaller cluster id, so ties always break
the same way. A matched cluster keeps the previous cluster's tracked id; any other cluster
gets the next free id (``T00001``, ``T00002``, ...).

**Changes.** A cluster linked to no previous cluster is *new*; a previous cluster linked
to no current one is *gone*; a cluster linked to two or more previous clusters is
*merged*; clusters sharing one previous cluster are its *split* parts; a one-to-one match
is *grown* (at least 20% and 2 accounts larger), *shrunk* (as much smaller) or *steady*.
Accounts of a linked cluster that were in none of its previous clusters have *joined* a
known cluster; *confirmed* when the cluster carries a sybil verdict.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sybilgraph.errors import InputError, StateError
from sybilgraph.outputs import is_stale, text_of_cells, write_csv, write_json
from sybilgraph.report.memory import MEMORY
from sybilgraph.stages.verdicts import LABEL_COLUMNS, read_labels

__all__ = [
    "FORMAT_VERSION",
    "Period",
    "Snapshot",
    "State",
    "Tracking",
    "state_lock",
    "track",
]

FORMAT_VERSION = 2
#: versions read and upgraded to FORMAT_VERSION by the next save
UPGRADED_VERSIONS = (1,)
STATE_TOOL = "sybilgraph-report-state"
MIN_SHARED = 2
MIN_OVERLAP = 0.5
GROWTH = 0.2
STATUS_ORDER = ["new", "merged", "split", "grown", "shrunk", "steady"]
LOCK = ".lock"

log = logging.getLogger(__name__)
#: columns each snapshot table must have
SNAPSHOT_COLUMNS = {
    "members.csv": ("account_id", "tracked_id"),
    "clusters.csv": ("tracked_id", "cluster_id"),
}


@dataclass(frozen=True)
class Period:
    """A reporting window of whole days, ``start`` to ``end`` inclusive (UTC)."""

    name: str
    start: dt.date
    end: dt.date

    @property
    def window(self) -> tuple[dt.datetime, dt.datetime]:
        """The half-open time window [start 00:00, day after end 00:00)."""
        begin = dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)
        stop = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        return begin, stop

    @property
    def days(self) -> list[dt.date]:
        n = (self.end - self.start).days + 1
        return [self.start + dt.timedelta(days=i) for i in range(n)]


@dataclass
class Snapshot:
    """One period's clusters as the state remembers them."""

    period: Period
    next_id: int
    members: pd.DataFrame  # account_id, tracked_id
    clusters: pd.DataFrame  # tracked_id, cluster_id, size, flagged, score


@dataclass
class Tracking:
    """This period's clusters matched to the previous period's."""

    clusters: pd.DataFrame  # cluster_id, tracked_id, status, size, previous_size, previous_ids
    changes: pd.DataFrame  # change, tracked_id, cluster_id, size, previous_size, related
    joined: pd.DataFrame  # account_id, cluster_id, tracked_id, confirmed
    next_id: int
    previous: str | None  # name of the period compared against


def _tracked(number: int) -> str:
    return f"T{number:05d}"


def track(
    current: pd.DataFrame,
    previous: Snapshot | None,
    *,
    next_id: int = 1,
    verdicts: dict[str, str] | None = None,
) -> Tracking:
    """Match this period's clusters to the previous period's (see the module's rule).

    Parameters
    ----------
    current
        account_id, cluster_id: the members of this period's clusters.
    previous
        The previous period's snapshot, or None on a first run (every cluster is new).
    next_id
        The first free tracked id number.
    verdicts
        tracked_id to verdict ("sybil" or "benign"), carried from earlier periods.
    """
    verdicts = verdicts or {}
    current = current[["account_id", "cluster_id"]].astype(str)
    sizes = current.groupby("cluster_id").size().rename("size")
    if previous is not None:
        before = previous.members[["account_id", "tracked_id"]].astype(str)
    else:
        before = pd.DataFrame({"account_id": pd.Series(dtype=str), "tracked_id": []})
    prev_sizes = before.groupby("tracked_id").size().rename("previous_size")
    pairs = current.merge(before, on="account_id")
    shared = pairs.groupby(["cluster_id", "tracked_id"]).size().rename("shared").reset_index()
    shared = shared.join(sizes, on="cluster_id").join(prev_sizes, on="tracked_id")
    smaller = shared[["size", "previous_size"]].min(axis=1)
    union = shared["size"] + shared["previous_size"] - shared["shared"]
    shared["jaccard"] = shared["shared"] / union
    links = shared[(shared["shared"] >= MIN_SHARED) & (shared["shared"] >= MIN_OVERLAP * smaller)]
    links = links.sort_values(
        ["shared", "jaccard", "tracked_id", "cluster_id"], ascending=[False, False, True, True]
    )

    matched: dict[str, str] = {}
    taken: set[str] = set()
    for cluster_id, tracked_id in zip(links["cluster_id"], links["tracked_id"], strict=True):
        if cluster_id not in matched and tracked_id not in taken:
            matched[cluster_id] = tracked_id
            taken.add(tracked_id)

    prev_links = _grouped(links, "cluster_id", "tracked_id")
    cur_links = _grouped(links, "tracked_id", "cluster_id")
    rows = []
    for cluster_id in sorted(sizes.index):
        size = int(sizes[cluster_id])
        linked_prev: list[str] = prev_links.get(cluster_id, [])
        tracked_id = matched.get(cluster_id)
        if tracked_id is None:
            tracked_id = _tracked(next_id)
            next_id += 1
        previous_size = int(sum(prev_sizes[t] for t in linked_prev)) if linked_prev else 0
        if not linked_prev:
            status = "new"
        elif len(linked_prev) > 1:
            status = "merged"
        elif len(cur_links[linked_prev[0]]) > 1:
            status = "split"
        elif size >= previous_size * (1 + GROWTH) and size - previous_size >= 2:
            status = "grown"
        elif size <= previous_size * (1 - GROWTH) and previous_size - size >= 2:
            status = "shrunk"
        else:
            status = "steady"
        rows.append(
            {
                "cluster_id": cluster_id,
                "tracked_id": tracked_id,
                "status": status,
                "size": size,
                "previous_size": previous_size,
                "previous_ids": " ".join(linked_prev),
            }
        )
    clusters = pd.DataFrame(
        rows,
        columns=["cluster_id", "tracked_id", "status", "size", "previous_size", "previous_ids"],
    )
    changes = _changes(clusters, cur_links, prev_sizes, matched)
    joined = _joined(current, before, clusters, prev_links, verdicts)
    return Tracking(
        clusters=clusters,
        changes=changes,
        joined=joined,
        next_id=next_id,
        previous=previous.period.name if previous is not None else None,
    )


def _grouped(links: pd.DataFrame, key: str, value: str) -> dict[str, list[str]]:
    """key to the sorted values linked to it."""
    grouped: dict[str, list[str]] = {}
    for k, v in zip(links[key], links[value], strict=True):
        grouped.setdefault(str(k), []).append(str(v))
    return {k: sorted(v) for k, v in grouped.items()}


def _changes(
    clusters: pd.DataFrame,
    cur_links: dict[str, list[str]],
    prev_sizes: pd.Series,
    matched: dict[str, str],
) -> pd.DataFrame:
    rows = []
    size_of = dict(zip(clusters["cluster_id"], clusters["size"], strict=True))
    tracked_of = dict(zip(clusters["cluster_id"], clusters["tracked_id"], strict=True))
    for rec in clusters.itertuples(index=False):
        if rec.status in ("new", "merged", "grown", "shrunk"):
            rows.append(
                {
                    "change": rec.status,
                    "tracked_id": rec.tracked_id,
                    "cluster_id": rec.cluster_id,
                    "size": rec.size,
                    "previous_size": rec.previous_size,
                    "related": rec.previous_ids,
                }
            )
    for tracked_id in sorted(prev_sizes.index):
        parts = cur_links.get(tracked_id, [])
        if not parts:
            rows.append(
                {
                    "change": "gone",
                    "tracked_id": tracked_id,
                    "cluster_id": "",
                    "size": 0,
                    "previous_size": int(prev_sizes[tracked_id]),
                    "related": "",
                }
            )
        elif len(parts) > 1:
            rows.append(
                {
                    "change": "split",
                    "tracked_id": tracked_id,
                    "cluster_id": " ".join(parts),
                    "size": int(sum(size_of[p] for p in parts)),
                    "previous_size": int(prev_sizes[tracked_id]),
                    "related": " ".join(sorted(tracked_of[p] for p in parts)),
                }
            )
    order = {name: i for i, name in enumerate(["new", "grown", "shrunk", "merged", "split"])}
    order["gone"] = len(order)
    frame = pd.DataFrame(
        rows, columns=["change", "tracked_id", "cluster_id", "size", "previous_size", "related"]
    )
    frame["_order"] = frame["change"].map(order)
    frame = frame.sort_values(["_order", "tracked_id"]).drop(columns="_order")
    return frame.reset_index(drop=True)


def _joined(
    current: pd.DataFrame,
    before: pd.DataFrame,
    clusters: pd.DataFrame,
    prev_links: dict[str, list[str]],
    verdicts: dict[str, str],
) -> pd.DataFrame:
    """Accounts now in a known cluster that were in none of its previous clusters."""
    rows = []
    known_members = before.groupby("tracked_id")["account_id"].apply(set).to_dict()
    tracked = clusters.set_index("cluster_id")["tracked_id"].to_dict()
    for cluster_id, members in current.groupby("cluster_id")["account_id"]:
        linked = prev_links.get(str(cluster_id), [])
        if not linked:
            continue
        seen: set[str] = set().union(*(known_members[t] for t in linked))
        tracked_id = tracked[cluster_id]
        confirmed = verdicts.get(tracked_id) == "sybil"
        for account in sorted(set(members) - seen):
            rows.append(
                {
                    "account_id": account,
                    "cluster_id": cluster_id,
                    "tracked_id": tracked_id,
                    "confirmed": confirmed,
                }
            )
    frame = pd.DataFrame(rows, columns=["account_id", "cluster_id", "tracked_id", "confirmed"])
    return frame.sort_values(["tracked_id", "account_id"]).reset_index(drop=True)


class State:
    """The state folder of the weekly report (see the module docstring for its layout)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._check()

    def _check(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise StateError(f"{self.path}: state path exists and is not a folder")
        marker = self.path / "state.json"
        if not marker.exists():
            if self.path.is_dir() and any(
                p for p in self.path.iterdir() if not p.name.startswith(".")
            ):
                raise StateError(
                    f"{self.path}: folder is not empty and has no state.json; "
                    "not a sybilgraph state folder"
                )
            return
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StateError(f"{marker}: cannot read state: {exc}") from None
        version = data.get("format_version") if isinstance(data, dict) else None
        # true == 1 in Python: it was taken for version 1 and "upgraded"
        number = not isinstance(version, bool)
        if number and version in UPGRADED_VERSIONS:
            log.warning(
                "%s: state format_version %s is upgraded to %s by this report: its periods "
                "have no compact memory, so the next weeks link over the weeks reported "
                "from now on",
                marker,
                version,
                FORMAT_VERSION,
            )
            return
        if not number or version != FORMAT_VERSION:
            shown = json.dumps(version) if not number else repr(version)
            raise StateError(
                f"{marker}: state format_version {shown} is not supported by this "
                f"sybilgraph (it reads version {FORMAT_VERSION}); use a matching sybilgraph "
                "version or start a new state folder"
            )

    # -- reading -------------------------------------------------------------------

    def periods(self) -> list[Period]:
        """The periods remembered, oldest first.

        Raises
        ------
        StateError
            A period's folder or its period.json is damaged; the message names the file.
        """
        return sorted(
            (period for period, _ in self._period_files()), key=lambda p: (p.start, p.end, p.name)
        )

    def _period_files(self) -> list[tuple[Period, int]]:
        """Each remembered period with its ``next_id``."""
        root = self.path / "periods"
        if root.exists() and not root.is_dir():
            # found only when the report is saved, after it was published
            raise StateError(f"{root}: damaged state: a file where the periods' folder goes")
        if not root.is_dir():
            return []
        found = []
        for folder in sorted(root.iterdir()):
            if folder.name.startswith("."):
                continue
            if not folder.is_dir():
                raise StateError(f"{folder}: damaged state: not a period's folder")
            found.append(_read_period(folder))
        return found

    def after(self, period: Period) -> list[Period]:
        """The periods remembered, other than ``period``, that end on or after its start."""
        return [p for p in self.periods() if p.name != period.name and p.end >= period.start]

    def memory_folders(self, period: Period, weeks: int, *, warn: bool = True) -> list[Path]:
        """The memory folders of the periods before ``period`` in its lookback of
        ``weeks`` weeks (its own included), oldest first.

        Raises
        ------
        StateError
            A period saved with memory (format version 2 on) has lost it.
        """
        folders = []
        dropped = self.dropped_memory(period, weeks)
        if dropped and warn:
            # a report of a later period, with a shorter lookback than this one's, dropped
            # it: the run links over the weeks whose memory is kept (as a first report)
            log.warning(
                "the memory of %s, in the lookback of %s, was dropped by an earlier report "
                "with a shorter lookback: the run links over the weeks kept",
                ", ".join(p.name for p in dropped),
                period.name,
            )
        for p, version in self._lookback(period, weeks):
            folder = self.path / "periods" / p.name / MEMORY
            if folder.is_dir():
                folders.append(folder)
            elif version >= 2 and p not in dropped:
                raise StateError(f"{folder}: damaged state: the period's memory is missing")
        return folders

    def memory_settings(self, folder: Path) -> dict[str, Any] | None:
        """The settings the memory ``folder`` (of a period) was made with; None when
        its period.json has none (saved by an earlier version)."""
        settings = _meta(folder.parent).get("memory_settings")
        if settings is not None and not isinstance(settings, dict):
            raise StateError(
                f"{folder.parent / 'period.json'}: damaged state: memory_settings is not a "
                "JSON object"
            )
        if settings is not None and "seed" not in settings:
            # saved with the seed from the first; without it ({}) nothing was compared
            raise StateError(
                f"{folder.parent / 'period.json'}: damaged state: memory_settings lacks 'seed'"
            )
        return settings

    def dropped_memory(self, period: Period, weeks: int) -> list[Period]:
        """The periods of ``period``'s lookback of ``weeks`` weeks whose memory a save
        dropped (:meth:`age_out`, which marks their period.json so): a memory missing
        without the mark is damage (:meth:`memory_folders`)."""
        dropped = []
        for p, _ in self._lookback(period, weeks):
            folder = self.path / "periods" / p.name
            if not (folder / MEMORY).is_dir() and _meta(folder).get("memory_dropped") is True:
                dropped.append(p)
        return dropped

    def _lookback(self, period: Period, weeks: int) -> list[tuple[Period, int]]:
        """The remembered periods before ``period`` in its lookback of ``weeks`` weeks,
        oldest first, with the format version each was saved in."""
        begin = period.start - dt.timedelta(weeks=weeks - 1)
        return [
            (p, version)
            for p, version in self._versions()
            if p.name != period.name and p.end < period.start and p.start >= begin
        ]

    def _versions(self) -> list[tuple[Period, int]]:
        """Each remembered period, oldest first, with the format version it was saved in."""
        found = []
        for period in self.periods():
            meta = self.path / "periods" / period.name / "period.json"
            version = _meta(meta.parent).get("format_version", 1)
            if isinstance(version, bool) or not isinstance(version, int):
                raise StateError(
                    f"{meta}: damaged state: format_version {version!r} is not a number"
                )
            if not 1 <= version <= FORMAT_VERSION:
                # a period saved by a later sybilgraph, or edited: read as version 1 it was
                # taken as having no memory
                raise StateError(
                    f"{meta}: damaged state: format_version {version} is not one this "
                    f"sybilgraph reads (1 to {FORMAT_VERSION})"
                )
            found.append((period, version))
        return found

    def snapshot(self, period: Period) -> Snapshot:
        """One period's clusters and members.

        Raises
        ------
        StateError
            A file of the snapshot is missing or damaged; the message names it.
        """
        folder = self.path / "periods" / period.name
        _, next_id = _read_period(folder)
        tables = {name: _read_table(folder / name) for name in SNAPSHOT_COLUMNS}
        twice = tables["members.csv"]["account_id"].duplicated()
        if twice.any():
            account = str(tables["members.csv"]["account_id"][twice].iloc[0])[:40]
            raise StateError(
                f"{folder / 'members.csv'}: damaged state: account {account!r} is in two "
                "tracked clusters"
            )
        highest = max(_highest_tracked(table, folder / name) for name, table in tables.items())
        if highest >= next_id:
            raise StateError(
                f"{folder / 'period.json'}: damaged state: next_id {next_id} is not above "
                f"the tracked ids the period holds (up to {_tracked(highest)})"
            )
        return Snapshot(period, next_id, tables["members.csv"], tables["clusters.csv"])

    def previous(self, period: Period) -> Snapshot | None:
        """The latest snapshot of a period that starts before ``period``; None if none."""
        earlier = [p for p in self.periods() if p.start < period.start and p.name != period.name]
        return self.snapshot(earlier[-1]) if earlier else None

    def next_id(self, period: Period) -> int:
        """The first tracked id number no other period has given out.

        Every period counts, later ones too: a week reported after the one that follows
        it (a backfill) must not give out the ids that week gave to other clusters. The
        period itself does not count, so a rerun gives the same ids again.
        """
        numbers = [n for p, n in self._period_files() if p.name != period.name]
        return max(numbers, default=1)

    def labels(self) -> pd.DataFrame:
        """Every verdict given so far (the columns of a labels file)."""
        path = self.path / "labels.csv"
        try:
            return read_label_rows(path)
        except (InputError, OSError, ValueError) as exc:
            raise StateError(f"{path}: damaged state: {exc}") from None

    def tracked_ids_of(self) -> dict[str, str]:
        """cluster_id to tracked_id over every period remembered, newest winning."""
        mapping: dict[str, str] = {}
        for period in self.periods():
            clusters = self.snapshot(period).clusters
            mapping.update(zip(clusters["cluster_id"], clusters["tracked_id"], strict=True))
        return mapping

    def clean_leftovers(self) -> None:
        """Delete what killed reports left in ``periods/`` (saves) and in the state
        folder itself (a week's memory being written)."""
        for root in (self.path, self.path / "periods"):
            if not root.is_dir():
                continue
            for entry in root.iterdir():
                match = _LEFTOVER.fullmatch(entry.name)
                if match and entry.is_dir() and is_stale(entry, _pid(match)):
                    shutil.rmtree(entry, ignore_errors=True)

    # -- writing -------------------------------------------------------------------

    def save(
        self,
        period: Period,
        tracking: Tracking,
        clusters: pd.DataFrame,
        members: pd.DataFrame,
        labels: pd.DataFrame,
        memory: Path | None = None,
        keep_weeks: int | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        """Remember this period: snapshot first (renamed into place), then labels, marker.

        ``settings`` are those the period's memory was made with (see
        :meth:`memory_settings`), kept in its period.json.

        ``clusters`` has tracked_id, cluster_id, size, flagged, score; ``members`` has
        account_id, tracked_id. ``memory``, a folder, is moved into the snapshot as its
        compact memory. With ``keep_weeks``, the memory of periods that start more than
        ``keep_weeks - 1`` weeks before this one is dropped: no lookback reads it again
        (this period's rerun included).
        """
        root = self.path / "periods"
        root.mkdir(parents=True, exist_ok=True)
        building = Path(
            tempfile.mkdtemp(prefix=f".{period.name}.{os.getpid()}-", suffix=".tmp", dir=root)
        )
        try:
            write_json(
                {
                    "name": period.name,
                    "start": period.start.isoformat(),
                    "end": period.end.isoformat(),
                    "next_id": tracking.next_id,
                    "format_version": FORMAT_VERSION,
                    **({"memory_settings": settings} if settings is not None else {}),
                },
                building / "period.json",
            )
            write_csv(members, building / "members.csv")
            write_csv(clusters, building / "clusters.csv")
            if memory is not None:
                os.replace(memory, building / MEMORY)
            replace_dir(building, root / period.name)
        finally:
            shutil.rmtree(building, ignore_errors=True)
        write_csv(labels, self.path / "labels.csv")
        write_json({"format_version": FORMAT_VERSION, "tool": STATE_TOOL}, self.path / "state.json")
        if keep_weeks is not None:
            self.age_out(period.start - dt.timedelta(weeks=keep_weeks - 1))

    def age_out(self, begin: dt.date) -> None:
        """Drop the memory of the periods that start before ``begin``."""
        for p in self.periods():
            folder = self.path / "periods" / p.name / MEMORY
            if p.start < begin and folder.is_dir():
                # marked first (a memory missing without the mark is damage), then out
                # of sight in one rename; a killed delete leaves a leftover
                meta = _meta(folder.parent)
                write_json({**meta, "memory_dropped": True}, folder.parent / "period.json")
                old = self.path / "periods" / f".{p.name}-{MEMORY}.old-{os.getpid()}"
                os.replace(folder, old)
                shutil.rmtree(old, ignore_errors=True)

    def forget(self, periods: list[Period]) -> None:
        """Drop whole periods (their snapshot and memory), each in one rename."""
        for p in periods:
            old = self.path / "periods" / f".{p.name}.old-{os.getpid()}"
            os.replace(self.path / "periods" / p.name, old)
            shutil.rmtree(old, ignore_errors=True)


def _meta(folder: Path) -> dict[str, Any]:
    """A period folder's period.json as read (its fields are checked by
    :func:`_read_period`)."""
    meta = folder / "period.json"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StateError(f"{meta}: damaged state: not readable JSON ({exc})") from None
    return data if isinstance(data, dict) else {}


#: a leftover of a killed save or replace: ``.NAME.PID-XXXX.tmp`` (``.NAME.XXXX.tmp`` from
#: versions that did not record the process) or ``.NAME.old-PID``
_LEFTOVER = re.compile(r"\.[^/]+?\.(?:old-(?P<old>\d+)|(?:(?P<pid>\d+)-)?\w+\.tmp)")


def _pid(match: re.Match[str]) -> int | None:
    found = match.group("old") or match.group("pid")
    return int(found) if found else None


def _read_period(folder: Path) -> tuple[Period, int]:
    """A period folder's period.json, checked: the period and its ``next_id``."""
    meta = folder / "period.json"
    try:
        data: Any = json.loads(meta.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StateError(f"{folder}: damaged state: no period.json") from None
    except (OSError, ValueError) as exc:
        raise StateError(f"{meta}: damaged state: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise StateError(f"{meta}: damaged state: not a JSON object")
    name = data.get("name")
    if name != folder.name:
        raise StateError(
            f"{meta}: damaged state: name {name!r} is not its folder's {folder.name!r}"
        )
    dates = []
    for key in ("start", "end"):
        value = data.get(key)
        try:
            if not isinstance(value, str):
                raise ValueError
            dates.append(dt.date.fromisoformat(value))
        except ValueError:
            raise StateError(
                f"{meta}: damaged state: {key} {value!r} is not a date like 2026-04-13"
            ) from None
    if dates[1] < dates[0]:
        raise StateError(f"{meta}: damaged state: end {dates[1]} is before start {dates[0]}")
    next_id = data.get("next_id")
    if isinstance(next_id, bool) or not isinstance(next_id, int) or next_id < 1:
        raise StateError(
            f"{meta}: damaged state: next_id {next_id!r} is not a whole number of at least 1"
        )
    return Period(name, dates[0], dates[1]), next_id


def _read_table(path: Path) -> pd.DataFrame:
    """A snapshot's CSV table, as text, with the columns it must have."""
    try:
        frame = text_of_cells(pd.read_csv(path, dtype=str, keep_default_na=False))
    except FileNotFoundError:
        raise StateError(f"{path}: damaged state: the file is missing") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: damaged state: not a readable CSV table ({exc})") from None
    missing = [c for c in SNAPSHOT_COLUMNS[path.name] if c not in frame.columns]
    if missing:
        raise StateError(f"{path}: damaged state: no column {', '.join(missing)}")
    return frame


def _highest_tracked(table: pd.DataFrame, path: Path) -> int:
    """The largest tracked id number in a snapshot table (0 if none)."""
    ids = table["tracked_id"]
    wrong = ids[~ids.str.fullmatch(r"T\d+")]
    if len(wrong):
        raise StateError(
            f"{path}: damaged state: {wrong.iloc[0]!r} is not a tracked id like T00001"
        )
    return int(ids.str[1:].astype("int64").max()) if len(ids) else 0


@contextmanager
def state_lock(path: str | Path) -> Iterator[None]:
    """Hold the state folder's lock while a report reads and updates it.

    The lock is ``STATE/.lock``, held with ``flock`` (released by the system if the
    process dies) and removed when the report ends, so a state at rest holds no lock
    file. It names the process holding it and since when.

    Raises
    ------
    StateError
        Another process holds it: another report runs on this state. Two at once
        compared weeks with the wrong previous week and gave one tracked id to two
        clusters.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise StateError(f"{folder}: state path exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = _take_lock(folder / LOCK)
    except OSError as exc:
        raise StateError(f"{folder}: cannot take the state's lock: {exc.strerror}") from None
    if handle is None:
        try:
            holder = (folder / LOCK).read_text(encoding="utf-8").strip()
        except OSError:
            holder = ""
        raise StateError(
            f"{folder}: another report is running on this state "
            f"({holder or 'process unknown'}); wait for it to finish"
        )
    with handle:
        started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        handle.write(f"pid {os.getpid()}, since {started}")
        handle.flush()
        try:
            yield
        finally:
            # removed while still held: a report that opened it meanwhile finds it
            # gone once it gets the lock, and takes a new one
            (folder / LOCK).unlink(missing_ok=True)


def _take_lock(path: Path) -> Any:
    """The lock file, open and locked; None if another process holds it."""
    import fcntl

    while True:
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            handle.seek(0)
            handle.truncate()
            return handle
        handle.close()  # removed by the report that held it: take the new one


def read_label_rows(path: str | Path | None) -> pd.DataFrame:
    """A labels file as raw rows with every label column (empty when absent)."""
    if path is None or not Path(path).is_file():
        return pd.DataFrame(columns=LABEL_COLUMNS)
    read_labels(path)  # refuses bad verdicts with the file and row named
    frame = text_of_cells(pd.read_csv(path, dtype=str, keep_default_na=False))
    for column in LABEL_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    return frame[LABEL_COLUMNS]


def replace_dir(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``, replacing an existing folder with two renames."""
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)
