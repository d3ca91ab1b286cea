"""The weekly batch job: run the pipeline on one period, compare it with the last one.

``make_report`` writes ``OUT_DIR/<period>/`` (``2026-W16``, or ``2026-04-13_2026-04-19``
for a window given by dates) holding the run's outputs plus:

- ``report.html``: headline figures, inline SVG charts, flagged clusters, changes;
- ``report.json``: the same facts for machines;
- ``tracked_clusters.csv``: every cluster with its persistent ``tracked_id`` and status;
- ``changes.csv``: new, grown, shrunk, merged, split and gone clusters;
- ``joined.csv``: accounts that joined an already known (or confirmed) cluster.

The run observes the period's own events and links them with the compact memory the
state keeps of the lookback weeks before it (:mod:`sybilgraph.report.memory`); the
week's own memory is kept with its snapshot.

Dependability: the folder is built in a temporary folder beside its final place and
renamed into place only when complete; the state (:mod:`sybilgraph.report.tracking`) is updated
after that. A failure at any point leaves the last good report and state as they were.
A rerun of the latest period compares against the period before it again, never against
itself; a period before the latest is reported again only with every period after it
(:func:`make_reports`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from sybilgraph.config import Config
from sybilgraph.errors import InputError, StateError
from sybilgraph.investigate.folder import KEPT_VERDICTS
from sybilgraph.investigate.result import Result
from sybilgraph.outputs import (
    is_stale,
    missing,
    removed_on_failure,
    write_csv,
    write_json,
    write_text_atomic,
)
from sybilgraph.pipeline import execute
from sybilgraph.report.memory import MEMORY, Memory, memory_bytes, memory_settings
from sybilgraph.report.tracking import (
    Period,
    State,
    Tracking,
    read_label_rows,
    replace_dir,
    state_lock,
    track,
)
from sybilgraph.stages.loading import EventsInput, sources_of
from sybilgraph.stages.verdicts import CLEARED, read_labels
from sybilgraph.views.pages import safe_filename, template_env, timeline
from sybilgraph.views.plots import bar_chart, line_chart

__all__ = ["Report", "make_report", "make_reports", "parse_period"]

log = logging.getLogger(__name__)

#: clusters whose daily requests are drawn
TOP_DAILY = 5
#: joined accounts listed on the page (all are in joined.csv)
JOINED_SHOWN = 200
SIZE_BINS = [(2, 2), (3, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, 500), (501, None)]
CHANGE_KINDS = ["new", "grown", "shrunk", "merged", "split", "gone"]
CHANGE_COLORS = ["#d62728", "#ff7f0e", "#1f77b4", "#9467bd", "#8c564b", "#7f7f7f"]


@dataclass
class Report:
    """A finished report: its folder, the run, the tracking and the facts of report.json."""

    path: Path
    run: Result
    tracking: Tracking
    facts: dict[str, Any]

    def __repr__(self) -> str:
        head = self.facts["headline"]
        return (
            f"Report({str(self.path)!r}: {head['accounts']} accounts, "
            f"{head['clusters']} clusters, {head['flagged_clusters']} flagged)"
        )


def parse_period(
    week: str | None = None, since: str | None = None, until: str | None = None
) -> Period:
    """The period of an ISO week (``2026-W16``) or of two ISO dates (both inclusive).

    Raises
    ------
    InputError
        Neither or both forms are given, or a week or date does not parse.
    """
    if week and (since or until):
        raise InputError("give either --week or --since/--until, not both")
    if week:
        match = re.fullmatch(r"(\d{4})-W(\d{2})", week.strip())
        try:
            if not match:
                raise ValueError
            year, number = int(match.group(1)), int(match.group(2))
            start = dt.date.fromisocalendar(year, number, 1)
        except ValueError:
            raise InputError(f"--week must be an ISO week like 2026-W16, not {week!r}") from None
        end = start + dt.timedelta(days=6)
        _check_range(start, end, f"--week {week}")
        return Period(f"{year:04d}-W{number:02d}", start, end)
    if not (since and until):
        raise InputError("give --week, or both --since and --until")
    try:
        first = dt.date.fromisoformat(since)
        last = dt.date.fromisoformat(until)
    except ValueError:
        raise InputError(
            f"--since and --until must be dates like 2026-04-13, not {since!r}/{until!r}"
        ) from None
    if last < first:
        raise InputError(f"--until {until} is before --since {since}")
    _check_range(first, last, f"--since {since} --until {until}")
    return Period(f"{first.isoformat()}_{last.isoformat()}", first, last)


#: the dates a period may cover: its lookback (report.lookback_weeks, at most 520) and
#: the day after it must still be dates
_FIRST_DAY, _LAST_DAY = dt.date(1900, 1, 1), dt.date(9998, 12, 31)


def _check_range(first: dt.date, last: dt.date, given: str) -> None:
    if first < _FIRST_DAY or last > _LAST_DAY:
        raise InputError(
            f"{given}: a report covers dates from {_FIRST_DAY.isoformat()} "
            f"to {_LAST_DAY.isoformat()}"
        )


def make_report(
    events: EventsInput,
    period: Period,
    state_dir: str | Path,
    out_dir: str | Path,
    config: Config | None = None,
    *,
    labels: str | Path | None = None,
    show_progress: bool | None = None,
) -> Report:
    """Run the pipeline on ``period``'s events and the state's memory of the weeks
    before it, track clusters, write the report folder.

    Parameters
    ----------
    events
        Input files or folders (events outside the period are ignored and counted; the
        weeks before it are read from the state, not from these).
    period
        See :func:`parse_period`.
    state_dir
        The tracking state; created on a first run.
    out_dir
        The report goes to ``out_dir/<period name>``, replacing an earlier one.
    labels
        A labels file. The config's ``labels`` file, ``out_dir/labels.csv`` (where
        ``sybilgraph label`` writes for a report's run) and every verdict kept in the
        state are read as well; for the same target the last one read wins.

    Raises
    ------
    StateError
        The state holds a period after this one (see :func:`make_reports`).
    """
    return make_reports(
        events,
        [period],
        state_dir,
        out_dir,
        config,
        labels=labels,
        show_progress=show_progress,
    )[0]


def make_reports(
    events: EventsInput,
    periods: list[Period],
    state_dir: str | Path,
    out_dir: str | Path,
    config: Config | None = None,
    *,
    labels: str | Path | None = None,
    show_progress: bool | None = None,
) -> list[Report]:
    """Report ``periods`` oldest first, each as :func:`make_report` does (a backfill).

    The same as reporting them one by one in that order. A period the state already
    holds is reported again, and with it every later period the state holds: those must
    be among ``periods`` (they were linked with what the earlier ones remember), and are
    dropped from the state before the first is reported, so that each is made as on an
    empty state after the ones before it. A failure stops at the period it happened in;
    the state then ends with the last period done: the same command can run again.

    Raises
    ------
    StateError
        The state holds a period after the first of ``periods`` that is not among them.
    """
    config = Config.of(config)
    if labels is not None and not Path(labels).is_file():
        # read as no verdicts at all, silently, as the config's labels once were
        reason = "is a folder" if Path(labels).is_dir() else "no such file"
        raise InputError(f"labels file: {reason}", path=str(labels))
    ordered = sorted({p.name: p for p in periods}.values(), key=lambda p: (p.start, p.end))
    root = Path(out_dir)
    with removed_on_failure(missing(state_dir, root)):
        return _make_reports(events, ordered, state_dir, root, config, labels, show_progress)


def _make_reports(
    events: EventsInput,
    ordered: list[Period],
    state_dir: str | Path,
    root: Path,
    config: Config,
    labels: str | Path | None,
    show_progress: bool | None,
) -> list[Report]:
    """:func:`make_reports` on periods in order."""
    root.mkdir(parents=True, exist_ok=True)
    reports = []
    # one report at a time per state: two at once each compared their week with what
    # the state held before either saved, and gave out the same tracked ids
    with state_lock(state_dir):
        state = State(state_dir)
        state.clean_leftovers()
        _clean_leftovers(root)
        first = ordered[0]
        later = state.after(first)
        missing = [p for p in later if p.name not in {o.name for o in ordered}]
        if missing:
            raise StateError(_later_message(state, first, later))
        if later:
            _refuse_lost_lookback(state, ordered, config.report.lookback_weeks)
        # before any week is forgotten: the memory that stays must be joinable (the
        # weeks reported here are remade with the config's settings)
        remade = {p.name for p in ordered}
        _refuse_other_settings(
            state,
            [
                folder
                for period in ordered
                for folder in state.memory_folders(period, config.report.lookback_weeks, warn=False)
                if folder.parent.name not in remade
            ],
            memory_settings(config),
        )
        state.forget(later)
        for period in ordered:
            reports.append(_report_into(events, period, state, root, config, labels, show_progress))
            log.info("report in %s", reports[-1].path)
    return reports


def _later_message(state: State, period: Period, later: list[Period]) -> str:
    """What to do when ``period`` comes before periods the state holds."""
    held = (
        f"{state.path}: the state holds {', '.join(p.name for p in later)} after "
        f"{period.name}, linked with what the weeks before remember: "
    )
    if all(_ISO_WEEK.fullmatch(p.name) for p in [period, *later]):
        redo = " ".join(f"--week {p.name}" for p in [period, *later])
        return (
            f"{held}report {period.name} again with every week after it, in order "
            f"({redo}), or into a new state folder"
        )
    # --since/--until name one period: the periods after it cannot be given with it
    return f"{held}report {period.name} into a new state folder"


#: a period named as an ISO week, which ``--week`` takes
_ISO_WEEK = re.compile(r"\d{4}-W\d{2}")


def _refuse_lost_lookback(state: State, ordered: list[Period], weeks: int) -> None:
    """Refuse to report periods again (before the state is changed) when the memory of
    weeks in their lookback that stay in the state is gone: dropped as the state's
    later periods were saved, it cannot be had again, and the periods would be linked
    over fewer weeks than when first reported.

    Raises
    ------
    StateError
        Naming the weeks lost and what to do.
    """
    first = ordered[0]
    lost = sorted(
        {
            p
            for period in ordered
            for p in state.dropped_memory(period, weeks)
            if p.start < first.start
        },
        key=lambda p: p.start,
    )
    if not lost:
        return
    names = ", ".join(p.name for p in lost)
    raise StateError(
        f"{state.path}: {first.name} cannot be reported again in this state: the memory of "
        f"{names}, in its lookback of {weeks} weeks, was dropped as the weeks after it "
        f"were reported; report from {lost[0].name} on into a new state folder"
    )


def _report_into(
    events: EventsInput,
    period: Period,
    state: State,
    root: Path,
    config: Config,
    labels: str | Path | None,
    show_progress: bool | None,
) -> Report:
    """What :func:`make_report` does once it holds the state's lock."""
    building = Path(
        tempfile.mkdtemp(prefix=f".{period.name}.{os.getpid()}-", suffix=".tmp", dir=root)
    )
    # the verdicts the run is given, kept in the report folder: its run.json names
    # them, and the views and case files of the report read them (they named a file
    # beside the folder being built, deleted once the report was done)
    labels_tmp = building / KEPT_VERDICTS
    # the week's memory, moved into the state when it is saved
    memory_tmp = state.path / f".{period.name}.{os.getpid()}-{MEMORY}.tmp"
    try:
        given = pd.concat(
            [
                state.labels(),
                read_label_rows(config.labels),
                read_label_rows(root / "labels.csv"),
                read_label_rows(labels),
            ],
            ignore_index=True,
        ).drop_duplicates(ignore_index=True)
        previous = state.previous(period)
        known_ids = state.tracked_ids_of()
        verdicts = _tracked_verdicts(given, known_ids)
        # read back as a labels file: its texts marked as every labels file's are
        write_csv(_labels_for_run(given, verdicts, previous), labels_tmp)
        lookback = config.report.lookback_weeks
        begin = period.window[0] - dt.timedelta(weeks=lookback - 1)
        folders = state.memory_folders(period, lookback)
        memory = Memory(folders, memory_tmp, config, read_labels(str(labels_tmp)).benign_accounts)
        result = Result(
            execute(
                events,
                dataclasses.replace(config, labels=str(labels_tmp)),
                building,
                force=True,
                show_progress=show_progress,
                window=period.window,
                memory=memory,
            )
        )
        active = _active_in(result, period)
        if not active.any():
            raise InputError(f"no events in {period.name} ({period.start} to {period.end})")
        members = _period_members(result.accounts, active)
        tracking = track(
            members[["account_id", "cluster_id"]], previous, next_id=state.next_id(period)
        )
        tracked = dict(
            zip(tracking.clusters["cluster_id"], tracking.clusters["tracked_id"], strict=True)
        )
        verdicts = _tracked_verdicts(given, {**known_ids, **tracked})
        table = _cluster_table(result, tracking, verdicts, given)
        tracking.joined["confirmed"] = (
            tracking.joined["cluster_id"]
            .map(dict(zip(table["cluster_id"], table["verdict"] == "sybil", strict=True)))
            .fillna(False)
            .astype(bool)
        )
        _write_tracked_ids(result, tracked, building, active)
        daily = _daily_requests(events, config, members, table, period)
        facts = _facts(result, period, tracking, table, daily)
        facts["window"] = {
            "lookback_weeks": lookback,
            "start": begin.date().isoformat(),
            "end": period.end.isoformat(),
            "accounts": len(result.accounts),
            "requests": int(result.accounts["requests"].sum()),
            "periods": [f.parent.name for f in folders] + [period.name],
        }
        facts["headline"]["accounts"] = int(active.sum())
        facts["state"] = _state_facts(folders, memory_tmp)
        write_csv(table, building / "tracked_clusters.csv")
        write_csv(tracking.changes, building / "changes.csv")
        write_csv(tracking.joined, building / "joined.csv")
        write_json(facts, building / "report.json")
        _write_html(facts, table, tracking, building, _timelines(result, table))
        final = root / period.name
        # last: ``result`` refuses its tables once its run.json is replaced
        _name_verdicts(building, (final / KEPT_VERDICTS).resolve())
        replace_dir(building, final)
        state.save(
            period,
            tracking,
            clusters=table[["tracked_id", "cluster_id", "size", "flagged", "score"]],
            members=members[["account_id", "cluster_id"]]
            .assign(tracked_id=lambda f: f["cluster_id"].map(tracked))[["account_id", "tracked_id"]]
            .sort_values("account_id"),
            labels=given,
            memory=memory_tmp,
            keep_weeks=lookback,
            settings=memory_settings(config),
        )
    finally:
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(memory_tmp, ignore_errors=True)
    return Report(final, Result(final), tracking, facts)


#: what a killed report leaves in the output folder: its folder being built
#: (``.2026-W16.PID-XXXX.tmp``, or ``.2026-W16.XXXX.tmp`` from versions that did not
#: record the process), its labels beside it, the run's staging folder, and a replaced
#: report not yet deleted (``.2026-W16.old-PID``)
_LEFTOVER = re.compile(
    r"\.\.?(?:\d{4}-W\d{2}|\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2})\."
    r"(?:old-(?P<old>\d+)|(?:(?P<pid>\d+)-)?\w+\.tmp(?:\.labels\.csv|\.partial-.*)?)"
)


def _clean_leftovers(root: Path) -> None:
    """Delete what killed reports left in the output folder (see :func:`is_stale`)."""
    for entry in root.iterdir():
        match = _LEFTOVER.fullmatch(entry.name)
        if not match:
            continue
        pid = match.group("old") or match.group("pid")
        if is_stale(entry, int(pid) if pid else None):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _state_facts(folders: list[Path], written: Path) -> dict[str, Any]:
    """The state's memory for report.json: that of the window's periods (the lookback
    weeks), all it holds once the weeks before them have aged out; the rest of the state
    (snapshots of clustered accounts, labels) is small."""
    read = sum(memory_bytes(f.parent) for f in folders)
    own = sum(p.stat().st_size for p in written.rglob("*") if p.is_file())
    return {
        "memory_periods": [f.parent.name for f in folders],
        "memory_bytes": read + own,
        "period_memory_bytes": own,
    }


def _active_in(result: Result, period: Period) -> pd.Series:
    """Per account of the run: active in the period (a request on or after its start;
    the run's window ends with the period)."""
    begin = pd.Timestamp(period.window[0]).tz_localize(None)
    last = pd.to_datetime(result.accounts["last_seen"], errors="coerce")
    if getattr(last.dt, "tz", None) is not None:
        last = last.dt.tz_convert(None)
    return (last >= begin).fillna(False).astype(bool)


def _period_members(accounts: pd.DataFrame, active: pd.Series) -> pd.DataFrame:
    """The clustered accounts of the clusters the period's report speaks of: those with
    an account ``active`` in the period (all their members, active in it or before)."""
    clustered = accounts["cluster_id"] != ""
    current = set(accounts.loc[clustered & active, "cluster_id"])
    return accounts.loc[clustered & accounts["cluster_id"].isin(current)]


def _refuse_other_settings(state: State, folders: list[Path], settings: dict[str, Any]) -> None:
    """Refuse to join the memory of weeks made with other settings than the run's (an
    extra key, IPv6 networks of another size, other prompt groups): the run would link
    on values its config does not make, or fail to match its own with theirs.

    Raises
    ------
    StateError
        Naming the week, the setting, and its value then and now.
    """
    for folder in folders:
        then = state.memory_settings(folder) or {}
        # a setting one side has not heard of (added by a later sybilgraph) is not
        # compared: an upgrade would otherwise stop every state made before it
        differ = [k for k in sorted(then.keys() & settings.keys()) if then[k] != settings[k]]
        if differ:
            name = differ[0]
            raise StateError(
                f"{folder.parent}: the memory of {folder.parent.name} was made with {name} = "
                f"{then[name]!r}, the config now says {settings[name]!r}: report with the "
                "config the state was made with, or into a new state folder"
            )


def _name_verdicts(folder: Path, final: Path) -> None:
    """Make the run.json of the run in ``folder`` name its verdicts where they will be
    once the folder is in place (``final``)."""
    marker = folder / "run.json"
    info = json.loads(marker.read_text(encoding="utf-8"))
    info["config"]["labels"] = str(final)
    info["labels"]["file"] = str(final)
    write_json(info, marker)


def _write_tracked_ids(
    result: Result, tracked: dict[str, str], folder: Path, active: pd.Series
) -> None:
    """The week's accounts.csv and clusters.csv with each cluster's tracked id beside its
    cluster id (the id people follow from week to week is where they look), and whether
    the account was active in the period and the cluster is in its report (the run links
    over the lookback weeks before it too)."""
    accounts = result.accounts.copy()
    accounts.insert(
        list(accounts.columns).index("cluster_id") + 1,
        "tracked_id",
        [tracked.get(c, "") for c in accounts["cluster_id"]],
    )
    accounts["active_in_period"] = active.to_numpy()
    write_csv(accounts, folder / "accounts.csv")
    clusters = result.clusters.copy()
    clusters.insert(1, "tracked_id", [tracked.get(c, "") for c in clusters["cluster_id"]])
    clusters.insert(2, "in_period", clusters["cluster_id"].isin(tracked))
    write_csv(clusters, folder / "clusters.csv")


def _tracked_verdicts(given: pd.DataFrame, tracked_ids: dict[str, str]) -> dict[str, str]:
    """tracked_id to verdict, from cluster labels given by cluster id or tracked id."""
    verdicts: dict[str, str] = {}
    rows = given[(given["account_id"] == "") & (given["cluster_id"] != "")]
    for cluster_id, verdict in zip(rows["cluster_id"], rows["verdict"], strict=True):
        tracked_id = tracked_ids.get(cluster_id, cluster_id if cluster_id[:1] == "T" else None)
        if tracked_id is not None:
            verdicts[tracked_id] = verdict.strip().lower()
    return verdicts


def _labels_for_run(given: pd.DataFrame, verdicts: dict[str, str], previous: Any) -> pd.DataFrame:
    """The labels handed to the pipeline: those given, plus carried cluster verdicts.

    A cluster confirmed sybil in an earlier period may come back under another cluster
    id; its members of the previous period are handed on as confirmed sybil accounts, so
    the cluster they are in ranks first and says so. The members of a cluster cleared
    (``benign`` or ``not_sybil``, by its tracked id or an earlier cluster id) are handed
    on as benign accounts: they take no part in linking, so the cleared group does not
    come back, and accounts that join what it shared form clusters on their own merit
    (the run knows no tracked id, so the cluster stayed flagged beside its verdict; and
    as looked-at accounts they would have cleared any cluster they were more of than
    its confirmed sybils, however many unreviewed accounts it gained). An account's own
    verdict wins over a carried one (the last verdict of an account is the one read).
    """
    if previous is None:
        return given
    parts = []
    for kinds, carried_as, note in (
        (CLEARED, "benign", "carried: member of cleared cluster "),
        (("sybil",), "sybil", "carried: member of confirmed cluster "),
    ):
        chosen = {t for t, v in verdicts.items() if v in kinds}
        carried = previous.members[previous.members["tracked_id"].isin(chosen)]
        parts.append(
            pd.DataFrame(
                {
                    "account_id": carried["account_id"],
                    "verdict": carried_as,
                    "note": note + carried["tracked_id"],
                }
            )
        )
    if all(part.empty for part in parts):
        return given
    return pd.concat([*parts, given], ignore_index=True).fillna("")


def _cluster_table(
    result: Result, tracking: Tracking, verdicts: dict[str, str], given: pd.DataFrame
) -> pd.DataFrame:
    """The run's clusters, ranked, with tracked id, status and verdict."""
    clusters = result.clusters
    base = clusters[["cluster_id", "rank", "score", "flagged", "reasons"]]
    # the period's clusters only (tracking has those)
    table = base.merge(tracking.clusters, on="cluster_id", how="inner")
    sybil_accounts = set(given.loc[given["verdict"].str.lower() == "sybil", "account_id"]) - {""}
    members = result.accounts[result.accounts["cluster_id"] != ""]
    with_sybil = set(members.loc[members["account_id"].isin(sybil_accounts), "cluster_id"])
    table["verdict"] = [
        verdicts.get(t, "sybil" if c in with_sybil else "")
        for t, c in zip(table["tracked_id"], table["cluster_id"], strict=True)
    ]
    columns = [
        "tracked_id",
        "cluster_id",
        "rank",
        "status",
        "size",
        "previous_size",
        "previous_ids",
        "score",
        "flagged",
        "verdict",
        "reasons",
    ]
    # no cluster in the period: the columns all the same
    return table.reindex(columns=columns).sort_values("rank").reset_index(drop=True)


def _daily_requests(
    events: EventsInput,
    config: Config,
    members: pd.DataFrame,
    table: pd.DataFrame,
    period: Period,
) -> dict[str, list[int]]:
    """Requests per day of the top flagged clusters, by tracked id.

    The run keeps no per-day counts, so the period's events are loaded once more (the
    load stage only, a small share of a run's time).
    """
    top = table[table["flagged"]].head(TOP_DAILY)
    if top.empty:
        return {}
    from sybilgraph.engines import make_engine
    from sybilgraph.stages.load import load

    engine = make_engine(config.engine)
    try:
        loaded = load(engine, sources_of(events), config, period.window)
        import pyarrow as pa

        chosen = members[members["cluster_id"].isin(top["cluster_id"])]
        engine.register(
            "report_members",
            pa.table(
                {
                    "account_id": pa.array(chosen["account_id"].astype(str), pa.string()),
                    "cluster_id": pa.array(chosen["cluster_id"].astype(str), pa.string()),
                }
            ),
        )
        day = engine.dialect.text("CAST(e.ts AS DATE)")
        counts = engine.arrow(
            f"SELECT m.cluster_id, {day} AS day, count(*) AS n "
            f"FROM {loaded.events} e JOIN report_members m ON e.account_id = m.account_id "
            "GROUP BY 1, 2"
        ).to_pandas()
    finally:
        engine.close()
    days = [d.isoformat() for d in period.days]
    series: dict[str, list[int]] = {}
    for cluster_id, tracked_id in zip(top["cluster_id"], top["tracked_id"], strict=True):
        per_day = counts[counts["cluster_id"] == cluster_id].set_index("day")["n"]
        series[str(tracked_id)] = [int(per_day.get(d, 0)) for d in days]
    return series


def _size_bins(sizes: pd.Series) -> dict[str, int]:
    out = {}
    for low, high in SIZE_BINS:
        label = f"{low}" if low == high else f"{low}+" if high is None else f"{low}-{high}"
        hit = sizes >= low if high is None else (sizes >= low) & (sizes <= high)
        out[label] = int(hit.sum())
    return out


def _score_bins(scores: pd.Series) -> dict[str, int]:
    edges = [i / 10 for i in range(11)]
    out = {}
    for i in range(10):
        low, high = edges[i], edges[i + 1]
        hit = (scores >= low) & ((scores < high) if i < 9 else (scores <= high))
        out[f"{low:.1f}"] = int(hit.sum())
    return out


def _facts(
    result: Result,
    period: Period,
    tracking: Tracking,
    table: pd.DataFrame,
    daily: dict[str, list[int]],
) -> dict[str, Any]:
    info = result.info
    accounts = result.accounts
    is_flagged = table["flagged"].astype(bool)
    flagged_ids = set(table.loc[is_flagged, "cluster_id"])
    requests = int(accounts["requests"].sum())  # over the window linked
    flagged_requests = int(accounts.loc[accounts["cluster_id"].isin(flagged_ids), "requests"].sum())
    flagged = table[is_flagged]
    return {
        "period": {
            "name": period.name,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "compared_with": tracking.previous,
        "rows": info["rows"],
        "headline": {
            "accounts": len(accounts),
            "requests": requests,
            "clusters": len(table),
            "flagged_clusters": len(flagged),
            "accounts_in_flagged_clusters": int(flagged["size"].sum()),
            "flagged_request_share": round(flagged_requests / requests, 4) if requests else 0.0,
        },
        "changes": {kind: int((tracking.changes["change"] == kind).sum()) for kind in CHANGE_KINDS}
        | {
            "joined_accounts": len(tracking.joined),
            "joined_confirmed": int(tracking.joined["confirmed"].sum()),
        },
        "change_list": tracking.changes.to_dict("records"),
        "size_distribution": _size_bins(table["size"]),
        "score_distribution": _score_bins(table["score"]),
        "daily_requests": {"days": [d.isoformat() for d in period.days], "clusters": daily},
        "flagged": [
            {k: _plain(v) for k, v in rec.items()}
            for rec in flagged.drop(columns=["previous_ids"]).to_dict("records")
        ],
    }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _timelines(result: Result, table: pd.DataFrame) -> list[tuple[str, Markup, str]]:
    """The timelines of the top flagged clusters (as their pages draw them): a title,
    the SVG and a line saying what it shows."""
    drawn = []
    for rec in table[table["flagged"]].head(TOP_DAILY).to_dict("records"):
        svg, note = timeline(result.cluster(str(rec["cluster_id"])).cluster_view)
        if svg is not None:
            drawn.append(
                (f"{rec['tracked_id']} ({rec['cluster_id']}, {rec['size']} accounts)", svg, note)
            )
    return drawn


def _write_html(
    facts: dict[str, Any],
    table: pd.DataFrame,
    tracking: Tracking,
    out: Path,
    timelines: list[tuple[str, Markup, str]] | None = None,
) -> None:
    head = facts["headline"]
    window = facts.get("window", {})
    figures = [
        ("accounts active in the period", f"{head['accounts']:,}"),
        (
            "linked over",
            f"{window.get('lookback_weeks', 1)} week(s), {window.get('start', '')} "
            f"to {window.get('end', '')}",
        ),
        ("requests in those weeks", f"{head['requests']:,}"),
        ("clusters", f"{head['clusters']:,}"),
        ("flagged clusters", f"{head['flagged_clusters']:,}"),
        ("requests from flagged clusters", f"{head['flagged_request_share']:.1%}"),
        ("outside the window", f"{facts['rows'].get('outside_window', 0):,}"),
    ]
    sizes = facts["size_distribution"]
    scores = facts["score_distribution"]
    changes = facts["changes"]
    daily = facts["daily_requests"]
    charts = [
        ("Cluster sizes", bar_chart(list(sizes), list(sizes.values()), title="clusters by size")),
        (
            "Scores",
            bar_chart(
                list(scores),
                list(scores.values()),
                title="clusters by score",
                colors=["#1f77b4"] * 5 + ["#d62728"] * 5,
            ),
        ),
        (
            "Daily requests of the top flagged clusters",
            line_chart(
                [d[5:] for d in daily["days"]],
                list(daily["clusters"].items()),
                title="requests per day",
            ),
        ),
        (
            "Changes since " + (facts["compared_with"] or "(first report)"),
            bar_chart(
                [*CHANGE_KINDS, "joined"],
                [changes[k] for k in CHANGE_KINDS] + [changes["joined_accounts"]],
                title="changes",
                colors=[*CHANGE_COLORS, "#17becf"],
            ),
        ),
    ]
    flagged = table[table["flagged"].astype(bool)]
    rows = []
    for rec in flagged.to_dict("records"):
        page = out / "clusters" / f"{safe_filename(str(rec['cluster_id']))}.html"
        link = page.relative_to(out).as_posix() if page.exists() else None
        rows.append({**rec, "link": link, "score": f"{rec['score']:.3f}"})
    joined = tracking.joined.head(JOINED_SHOWN).to_dict("records")
    html = (
        template_env()
        .get_template("report.html.j2")
        .render(
            title=f"sybilgraph report {facts['period']['name']}",
            facts=facts,
            figures=figures,
            charts=charts,
            timelines=timelines or [],
            flagged=rows,
            changes=tracking.changes.to_dict("records"),
            joined=joined,
            joined_total=len(tracking.joined),
        )
    )
    write_text_atomic(out / "report.html", html)
