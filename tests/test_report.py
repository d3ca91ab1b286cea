"""The weekly report: two consecutive weeks, tracking, reruns, crashes and bad state.

Week 16 (2026-04-13..19) is the hand-built log of conftest: ring A (a1..a6, prepaid cards),
ring B (b1..b5, one translation template), a household, an office, carrier NAT, solos.
Week 17 repeats it seven days later, with ring B grown by b6 and b7 (same template; more
would make the template a hub, held by over 2% of the accounts) and a new ring D (d1..d6,
one card, one review template). Both weeks sit in one pair of files, so
each report must keep only its own week's events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import sybilgraph
from sybilgraph import api
from sybilgraph.cli import main
from sybilgraph.errors import StateError
from sybilgraph.report.tracking import Period, Snapshot, track
from tests.conftest import hand_events

ARTIFACTS = Path(__file__).parent / "artifacts"
TABLES = [
    "accounts.csv",
    "clusters.csv",
    "hubs.csv",
    "rejects.csv",
    "tracked_clusters.csv",
    "changes.csv",
    "joined.csv",
]


def _week_two() -> pd.DataFrame:
    events = hand_events()
    ts = pd.to_datetime(events["ts"]) + pd.Timedelta(days=7)
    events["ts"] = ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    extra: list[dict[str, object]] = []
    for i in range(6, 8):  # ring B grows: same kind of prompts, own residential IPs
        for r in range(30):
            extra.append(
                {
                    "account_id": f"b{i}",
                    "ts": f"2026-04-2{1 + r % 5}T0{r % 10}:1{i}:00Z",
                    "ip": f"81.{20 + i}.{r % 7}.{10 + i}",
                    "payment_id": None,
                    "prompt": "Translate the following sentence into French: "
                    f"'sentence {i} {r}' now",
                }
            )
    for i in range(1, 7):  # ring D first appears
        for r in range(30):
            extra.append(
                {
                    "account_id": f"d{i}",
                    "ts": f"2026-04-2{2 + r % 3}T1{r % 10}:0{i}:00Z",
                    "ip": f"198.18.0.{1 + (i + r) % 2}",
                    "payment_id": "pm_ringD",
                    "prompt": f"Write a product review of gadget number {i * 11 + r} now",
                }
            )
    return pd.concat([events, pd.DataFrame(extra)], ignore_index=True)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("events")
    hand_events().to_csv(folder / "week16.csv", index=False)
    _week_two().to_csv(folder / "week17.csv", index=False)
    return [str(folder / "week16.csv"), str(folder / "week17.csv")]


def _report(inputs: list[str], base: Path, *args: str) -> Any:
    runner = CliRunner()
    return runner.invoke(
        main,
        ["report", *inputs, "--state", str(base / "state"), "--out", str(base / "out"), *args],
    )


@pytest.fixture(scope="module")
def two_weeks(inputs: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Weeks 16 and 17 reported in order into one state and one output folder."""
    base = tmp_path_factory.mktemp("weekly")
    for week in ("2026-W16", "2026-W17"):
        done = _report(inputs, base, "--week", week)
        assert done.exit_code == 0, done.output
    return base


def _copy(base: Path, tmp_path: Path) -> Path:
    shutil.copytree(base, tmp_path / "copy")
    return tmp_path / "copy"


def _tracked(base: Path, week: str) -> pd.DataFrame:
    return pd.read_csv(base / "out" / week / "tracked_clusters.csv", keep_default_na=False)


def _ring(table: pd.DataFrame, accounts: pd.DataFrame, member: str) -> pd.Series:
    cluster_id = accounts.loc[accounts["account_id"] == member, "cluster_id"].item()
    return table[table["cluster_id"] == cluster_id].iloc[0]


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_tracking_over_two_weeks(two_weeks: Path) -> None:
    out = two_weeks / "out"
    w16, w17 = _tracked(two_weeks, "2026-W16"), _tracked(two_weeks, "2026-W17")
    acc16 = pd.read_csv(out / "2026-W16" / "accounts.csv", keep_default_na=False)
    acc17 = pd.read_csv(out / "2026-W17" / "accounts.csv", keep_default_na=False)
    assert set(w16["status"]) == {"new"}  # first report: nothing to compare with

    ring_a16, ring_a17 = _ring(w16, acc16, "a1"), _ring(w17, acc17, "a1")
    ring_b16, ring_b17 = _ring(w16, acc16, "b1"), _ring(w17, acc17, "b1")
    ring_d = _ring(w17, acc17, "d1")
    # rings spanning both weeks keep their persistent id
    assert ring_a17["tracked_id"] == ring_a16["tracked_id"]
    assert ring_a17["status"] == "steady"
    assert ring_b17["tracked_id"] == ring_b16["tracked_id"]
    assert (ring_b17["status"], ring_b17["size"], ring_b17["previous_size"]) == ("grown", 7, 5)
    # the ring that first appears in week 17 gets a fresh id
    assert ring_d["status"] == "new"
    # the tracked id stands beside the cluster id where people look
    clusters17 = pd.read_csv(out / "2026-W17" / "clusters.csv", keep_default_na=False)
    assert list(acc17.columns[:3]) == ["account_id", "cluster_id", "tracked_id"]
    assert list(clusters17.columns[:2]) == ["cluster_id", "tracked_id"]
    by_cluster = dict(zip(w17["cluster_id"], w17["tracked_id"], strict=True))
    for frame in (acc17[acc17["cluster_id"] != ""], clusters17):
        assert (frame["tracked_id"] == frame["cluster_id"].map(by_cluster)).all()
    assert (acc17.loc[acc17["cluster_id"] == "", "tracked_id"] == "").all()
    assert ring_d["tracked_id"] not in set(w16["tracked_id"])
    assert bool(ring_d["flagged"])

    changes = pd.read_csv(out / "2026-W17" / "changes.csv", keep_default_na=False)
    kinds = dict(zip(changes["tracked_id"], changes["change"], strict=True))
    assert kinds == {ring_b17["tracked_id"]: "grown", ring_d["tracked_id"]: "new"}
    joined = pd.read_csv(out / "2026-W17" / "joined.csv", keep_default_na=False)
    assert sorted(joined["account_id"]) == ["b6", "b7"]
    assert set(joined["tracked_id"]) == {ring_b17["tracked_id"]}

    facts = json.loads((out / "2026-W17" / "report.json").read_text())
    assert facts["compared_with"] == "2026-W16"
    assert facts["changes"]["new"] == 1 and facts["changes"]["grown"] == 1
    assert facts["changes"]["joined_accounts"] == 2
    assert facts["headline"]["flagged_clusters"] == 3
    assert 0.3 < facts["headline"]["flagged_request_share"] < 0.6
    assert {f["tracked_id"] for f in facts["flagged"]} == {
        ring_a17["tracked_id"],
        ring_b17["tracked_id"],
        ring_d["tracked_id"],
    }
    # daily requests of the flagged clusters, one figure per day of the week
    daily = facts["daily_requests"]
    assert len(daily["days"]) == 7 and daily["days"][0] == "2026-04-20"
    assert sum(daily["clusters"][ring_d["tracked_id"]]) == 180


def test_window_counts_outside_events(two_weeks: Path) -> None:
    # Each run reads its own week's events (the others are outside its window); W17's
    # run links over W14..W17 (report.lookback_weeks 4): W16 comes from the state's
    # compact memory, not from the files again
    week16, week17 = len(hand_events()), len(_week_two())
    for week, used, window in (
        ("2026-W16", week16, week16),
        ("2026-W17", week17, week16 + week17),
    ):
        info = json.loads((two_weeks / "out" / week / "run.json").read_text())
        rows = info["rows"]
        assert rows["used"] == used
        assert rows["outside_window"] == week16 + week17 - used
        assert rows["read"] == rows["used"] + rows["rejected"] + rows["outside_window"]
        assert rows["rejected"] == 0  # outside the window is not bad
        facts = json.loads((two_weeks / "out" / week / "report.json").read_text())
        assert facts["rows"] == rows
        assert facts["window"]["requests"] == facts["headline"]["requests"] == window
    facts = json.loads((two_weeks / "out" / "2026-W17" / "report.json").read_text())
    assert facts["window"]["periods"] == ["2026-W16", "2026-W17"]
    assert facts["state"]["memory_periods"] == ["2026-W16"]
    memory = two_weeks / "state" / "periods" / "2026-W16" / "memory"
    read = sum(p.stat().st_size for p in memory.iterdir())
    assert facts["state"]["memory_bytes"] == read + facts["state"]["period_memory_bytes"]


def test_rerun_is_identical_and_compares_with_the_week_before(
    two_weeks: Path, inputs: list[str], tmp_path: Path
) -> None:
    base = _copy(two_weeks, tmp_path)
    before = (base / "out" / "2026-W17").resolve()
    tables = {name: (before / name).read_bytes() for name in TABLES}
    done = _report(inputs, base, "--week", "2026-W17")
    assert done.exit_code == 0, done.output
    for name in TABLES:
        assert (before / name).read_bytes() == tables[name], name
    facts = json.loads((before / "report.json").read_text())
    assert facts["compared_with"] == "2026-W16"  # not against itself
    assert facts["changes"]["grown"] == 1
    assert sorted(p.name for p in (base / "state" / "periods").iterdir()) == [
        "2026-W16",
        "2026-W17",
    ]


@pytest.mark.parametrize(
    "target",
    [
        # after the week's memory is written, before the past is read
        "sybilgraph.report.memory._union",
        "sybilgraph.pipeline.score_clusters",
        "sybilgraph.report.weekly._write_html",
    ],
)
def test_crash_leaves_last_report_and_state(
    two_weeks: Path,
    inputs: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
) -> None:
    base = _copy(two_weeks, tmp_path)
    out_before = _digests(base / "out")
    state_before = _digests(base / "state")

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(target, boom)
    done = _report(inputs, base, "--week", "2026-W17")
    assert done.exit_code == 1
    assert done.output.strip().splitlines()[-1] == (
        "sybilgraph: error: internal error: RuntimeError: disk on fire "
        "(rerun with --debug for the traceback)"
    )
    assert "Traceback" not in done.output
    assert _digests(base / "out") == out_before
    assert _digests(base / "state") == state_before
    leftovers = [p.name for p in (base / "out").iterdir() if p.name.startswith(".")]
    leftovers += [p.name for p in (base / "state" / "periods").iterdir() if p.name[0] == "."]
    leftovers += [p.name for p in (base / "state").iterdir() if p.name[0] == "."]
    assert leftovers == []


@pytest.mark.parametrize(("version", "shown"), [(99, "99"), (True, "true")])
def test_unknown_state_version_is_refused(
    two_weeks: Path, inputs: list[str], tmp_path: Path, version: object, shown: str
) -> None:
    # true (== 1 in Python) was taken for version 1 and upgraded
    base = _copy(two_weeks, tmp_path)
    marker = base / "state" / "state.json"
    marker.write_text(json.dumps({"format_version": version, "tool": "sybilgraph-report-state"}))
    out_before = _digests(base / "out")
    done = _report(inputs, base, "--week", "2026-W17")
    assert done.exit_code == 2
    line = done.output.strip().splitlines()[-1]
    assert line.startswith("sybilgraph: error: ")
    assert f"format_version {shown} is not supported" in line and str(marker) in line
    assert _digests(base / "out") == out_before


def test_labels_carry_forward(inputs: list[str], tmp_path: Path) -> None:
    runner = CliRunner()
    assert _report(inputs, tmp_path, "--week", "2026-W16").exit_code == 0
    week16 = tmp_path / "out" / "2026-W16"
    acc16 = pd.read_csv(week16 / "accounts.csv", keep_default_na=False)
    ring_b = acc16.loc[acc16["account_id"] == "b1", "cluster_id"].item()
    # the investigator confirms ring B on week 16's report
    labelled = runner.invoke(main, ["label", str(week16), ring_b, "sybil", "--note", "refunds"])
    assert labelled.exit_code == 0, labelled.output
    assert (tmp_path / "out" / "labels.csv").exists()

    assert _report(inputs, tmp_path, "--week", "2026-W17").exit_code == 0
    # the verdict was given on week 16's cluster id; it follows the ring's tracked id
    w17 = _tracked(tmp_path, "2026-W17")
    acc17 = pd.read_csv(tmp_path / "out" / "2026-W17" / "accounts.csv", keep_default_na=False)
    row = _ring(w17, acc17, "b1")
    assert row["verdict"] == "sybil"
    assert int(row["rank"]) == 1  # confirmed sybils rank first
    joined = pd.read_csv(tmp_path / "out" / "2026-W17" / "joined.csv", keep_default_na=False)
    assert joined["confirmed"].astype(str).eq("True").all() and len(joined) == 2
    state_labels = pd.read_csv(tmp_path / "state" / "labels.csv", keep_default_na=False)
    assert ring_b in set(state_labels["cluster_id"])

    # the report folder keeps the verdicts its run was given, and its views show them
    # (run.json named a file beside the folder being built, deleted once it was done)
    reopened = sybilgraph.open_run(tmp_path / "out" / "2026-W17")
    assert Path(reopened.info["config"]["labels"]) == tmp_path / "out" / "2026-W17" / "verdicts.csv"
    ring = reopened.cluster(row["cluster_id"]).members
    assert set(ring.loc[ring["account_id"].isin(["b1", "b2"]), "verdict"]) == {"sybil"}
    # the folder moved: the verdicts it keeps are read there
    moved = tmp_path / "moved"
    (tmp_path / "out" / "2026-W17").rename(moved)
    ring = sybilgraph.open_run(moved).cluster(row["cluster_id"]).members
    assert set(ring.loc[ring["account_id"].isin(["b1", "b2"]), "verdict"]) == {"sybil"}
    moved.rename(tmp_path / "out" / "2026-W17")

    # the labels file is lost: the state still carries the verdict
    (tmp_path / "out" / "labels.csv").unlink()
    assert _report(inputs, tmp_path, "--week", "2026-W17").exit_code == 0
    assert _ring(_tracked(tmp_path, "2026-W17"), acc17, "b1")["verdict"] == "sybil"


def test_a_cluster_cleared_by_tracked_id_does_not_come_back(
    inputs: list[str], tmp_path: Path
) -> None:
    # benign given by tracked id (as the README allows), or by a cluster id of an earlier
    # week that has changed: the run knows no tracked id, so ring B's cluster stayed
    # flagged with the verdict "benign" beside it. Its members are now handed on as
    # benign accounts: they link to no one, and the accounts that joined ring B in week
    # 17 (b6, b7) are clustered on their own merit
    assert _report(inputs, tmp_path, "--week", "2026-W16").exit_code == 0
    acc16 = pd.read_csv(tmp_path / "out" / "2026-W16" / "accounts.csv", keep_default_na=False)
    w16 = _tracked(tmp_path, "2026-W16")
    ring_b, ring_a = _ring(w16, acc16, "b1"), _ring(w16, acc16, "a1")
    assert ring_b["flagged"] and ring_a["flagged"]
    labels = tmp_path / "verdicts.csv"
    labels.write_text(f"cluster_id,verdict,note\n{ring_b['tracked_id']},not_sybil,a family\n")
    done = _report(inputs, tmp_path, "--week", "2026-W17", "--labels", str(labels))
    assert done.exit_code == 0, done.output
    w17 = _tracked(tmp_path, "2026-W17")
    acc17 = pd.read_csv(tmp_path / "out" / "2026-W17" / "accounts.csv", keep_default_na=False)
    cleared = acc17[acc17["account_id"].isin([f"b{i}" for i in range(1, 6)])]
    assert len(cleared) == 5 and (cleared["cluster_id"] == "").all()
    assert not cleared["flagged"].astype(bool).any()
    assert bool(_ring(w17, acc17, "a1")["flagged"])
    flagged = set(w17.loc[w17["flagged"].astype(bool), "tracked_id"])
    assert ring_b["tracked_id"] not in flagged
    facts = json.loads((tmp_path / "out" / "2026-W17" / "report.json").read_text())
    assert ring_b["tracked_id"] not in json.dumps(facts.get("flagged", []))


def test_a_tracked_id_is_labelled_and_viewed_in_a_report_folder(
    inputs: list[str], tmp_path: Path
) -> None:
    # "neither an account nor a cluster of this run", while the README says a tracked
    # id may be labelled; not_sybil was refused by the command alone
    assert _report(inputs, tmp_path, "--week", "2026-W16").exit_code == 0
    week = tmp_path / "out" / "2026-W16"
    tracked = _tracked(tmp_path, "2026-W16").iloc[0]
    runner = CliRunner()
    for verdict in ("not_sybil", "sybil"):
        done = runner.invoke(main, ["label", str(week), tracked["tracked_id"], verdict])
        assert done.exit_code == 0, done.output
    rows = pd.read_csv(tmp_path / "out" / "labels.csv", keep_default_na=False)
    assert rows[["cluster_id", "verdict"]].values.tolist() == [
        [tracked["tracked_id"], "not_sybil"],
        [tracked["tracked_id"], "sybil"],
    ]
    page = tmp_path / "page.html"
    shown = runner.invoke(main, ["view", str(week), tracked["tracked_id"], "--out", str(page)])
    assert shown.exit_code == 0, shown.output
    assert tracked["cluster_id"] in shown.output


def test_since_until_window(inputs: list[str], tmp_path: Path) -> None:
    done = _report(inputs, tmp_path, "--since", "2026-04-20", "--until", "2026-04-26")
    assert done.exit_code == 0, done.output
    folder = tmp_path / "out" / "2026-04-20_2026-04-26"
    assert (folder / "report.html").exists()
    facts = json.loads((folder / "report.json").read_text())
    assert facts["period"] == {
        "name": "2026-04-20_2026-04-26",
        "start": "2026-04-20",
        "end": "2026-04-26",
    }
    # the period's own events only: the weeks before it come from the state's memory,
    # and this state is new (W16 was never reported into it)
    assert facts["rows"]["used"] == len(_week_two())
    assert facts["window"] == {
        "lookback_weeks": 4,
        "start": "2026-03-30",
        "end": "2026-04-26",
        "accounts": facts["window"]["accounts"],
        "requests": len(_week_two()),
        "periods": ["2026-04-20_2026-04-26"],
    }
    # the period's accounts: the week's own (all of W17's), not W16's alone
    assert facts["headline"]["accounts"] == _week_two()["account_id"].nunique()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--week", "2026-16"], "ISO week like 2026-W16"),
        (["--week", "2026-W16", "--since", "2026-04-13"], "not both"),
        (["--since", "2026-04-13"], "both --since and --until"),
        (["--since", "2026-04-20", "--until", "2026-04-13"], "before --since"),
        (["--week", "2026-W30"], "lies in the window"),
        # the lookback before it and the day after it must be dates (an OverflowError)
        (["--week", "0001-W01"], "a report covers dates from 1900-01-01 to 9998-12-31"),
        (["--since", "9999-12-25", "--until", "9999-12-31"], "a report covers dates"),
    ],
)
def test_bad_input_exits_2(
    inputs: list[str], tmp_path: Path, args: list[str], message: str
) -> None:
    done = _report(inputs, tmp_path, *args)
    assert done.exit_code == 2
    lines = done.output.strip().splitlines()
    assert lines[-1].startswith("sybilgraph: error: ") and message in lines[-1]
    # the folders the failed report would have made are not left behind, empty
    assert not (tmp_path / "state").exists() and not (tmp_path / "out").exists()


def test_missing_input_exits_2(tmp_path: Path) -> None:
    done = _report([str(tmp_path / "nope.csv")], tmp_path, "--week", "2026-W16")
    assert done.exit_code == 2
    assert "nope.csv" in done.output and "no such file" in done.output


def test_report_page_is_self_contained(two_weeks: Path) -> None:
    page = (two_weeks / "out" / "2026-W17" / "report.html").read_text()
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "https://" not in page
    # four charts, and the timeline of each top flagged cluster (its rows: its accounts)
    flagged = _tracked(two_weeks, "2026-W17")
    top = flagged[flagged["flagged"]].head(5)
    assert page.count("<svg") == 4 + len(top)
    assert "Timelines of the top flagged clusters" in page
    for tracked_id in top["tracked_id"]:
        assert f"<h3>{tracked_id} (" in page
    assert page.count('class="raster-row"') == int(top["size"].clip(upper=60).sum())
    assert 'href="clusters/' in page
    for link in set(pd.Series(page.split('href="')[1:]).str.split('"').str[0]):
        assert (two_weeks / "out" / "2026-W17" / link).is_file(), link


# -- the matching rule on hand-made memberships -------------------------------------


def _members(groups: dict[str, str]) -> pd.DataFrame:
    rows = [(a, c) for c, accounts in groups.items() for a in accounts.split()]
    return pd.DataFrame(rows, columns=["account_id", "cluster_id"])


def _snapshot(groups: dict[str, str]) -> Snapshot:
    members = _members(groups).rename(columns={"cluster_id": "tracked_id"})
    period = Period(
        "2026-W15", pd.Timestamp("2026-04-06").date(), pd.Timestamp("2026-04-12").date()
    )
    return Snapshot(period, 10, members, pd.DataFrame())


def test_track_merge_split_gone() -> None:
    previous = _snapshot(
        {
            "T00001": "a b c d",  # splits into C1 (a b) and C2 (c d e)
            "T00002": "f g h",  # merges with T00003 into C3
            "T00003": "i j k",
            "T00004": "x y",  # gone
            "T00005": "m n o p q",  # shrinks to C4 (m n o)
        }
    )
    current = _members(
        {"C1": "a b", "C2": "c d e", "C3": "f g h i j k", "C4": "m n o", "C5": "u v"}
    )
    result = track(current, previous, next_id=10)
    by_id = result.clusters.set_index("cluster_id")
    # C2 shares 2 with T00001 (Jaccard 2/5) and C1 shares 2 (Jaccard 2/4): C1 wins the tie
    # on shared accounts by its higher Jaccard and keeps T00001; C2 gets a new id
    assert by_id.loc["C1", "tracked_id"] == "T00001"
    assert by_id.loc["C2", "tracked_id"] == "T00010"
    assert by_id.loc["C1", "status"] == by_id.loc["C2", "status"] == "split"
    # C3 shares 3 with each of T00002 and T00003: the smaller id is kept
    assert by_id.loc["C3", "tracked_id"] == "T00002"
    assert by_id.loc["C3", "status"] == "merged"
    assert by_id.loc["C3", "previous_ids"] == "T00002 T00003"
    assert (by_id.loc["C4", "tracked_id"], by_id.loc["C4", "status"]) == ("T00005", "shrunk")
    assert (by_id.loc["C5", "tracked_id"], by_id.loc["C5", "status"]) == ("T00011", "new")
    assert result.next_id == 12
    changes = {(r.change, r.tracked_id) for r in result.changes.itertuples()}
    assert changes == {
        ("new", "T00011"),
        ("shrunk", "T00005"),
        ("merged", "T00002"),
        ("split", "T00001"),
        ("gone", "T00004"),
    }
    assert list(result.joined["account_id"]) == ["e"]  # joined C2, known through T00001


def test_track_ignores_small_overlaps() -> None:
    # one shared account is not enough; two of a 10-account cluster are less than half
    previous = _snapshot({"T00001": "a b c d e f g h i j"})
    current = _members({"C1": "a k", "C2": "b c l m n"})
    result = track(current, previous, next_id=2)
    assert set(result.clusters["status"]) == {"new"}
    assert list(result.changes["change"]) == ["new", "new", "gone"]


def test_window_filter_in_pipeline(tmp_path: Path) -> None:
    events = _week_two()
    window = Period("w", pd.Timestamp("2026-04-20").date(), pd.Timestamp("2026-04-20").date())
    result = api.run(events, None, tmp_path / "run", window=window.window)
    on_day = (pd.to_datetime(events["ts"]).dt.date == window.start).sum()
    assert result.info["rows"]["used"] == on_day
    assert result.info["rows"]["outside_window"] == len(events) - on_day


@pytest.mark.browser
def test_report_page_in_chromium(two_weeks: Path, browser: Any) -> None:
    path = two_weeks / "out" / "2026-W17" / "report.html"
    page = browser.new_page(viewport={"width": 1300, "height": 1100})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(path.as_uri())
        assert page.locator("#charts svg").count() == 4
        assert page.locator("#timelines svg").count() >= 1
        assert page.locator("#flagged tbody tr").count() == 3
        assert page.locator("#changes tbody tr").count() == 2
        assert page.locator("#joined tbody tr").count() == 2
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        # follow a flagged cluster's link to its page
        page.locator("#flagged a").first.click()
        page.wait_for_load_state()
        assert "/clusters/" in page.url
    finally:
        page.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []


def _synth(base: Path, *, events: int, days: int, seed: int) -> Path:
    """``base``, with a synth log made by the CLI in ``base / "s"``."""
    args = ["--events", str(events), "--days", str(days), "--seed", str(seed)]
    made = CliRunner().invoke(main, ["synth", *args, "--out", str(base / "s")])
    assert made.exit_code == 0, made.output
    return base


def test_synth_rings_keep_their_ids(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Two weeks of synth traffic (seed 3): rings active in both weeks keep their tracked
    id; a ring that first shows in week 17 is reported new."""
    base = _synth(tmp_path_factory.mktemp("synth"), events=40000, days=14, seed=3)
    truth = pd.read_csv(base / "s" / "truth.csv")
    sybils = truth[truth["label"] == "sybil"][["account_id", "group"]]
    rings: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for week in ("2026-W16", "2026-W17"):
        done = _report([str(base / "s" / "events.csv")], base, "--week", week)
        assert done.exit_code == 0, done.output
        accounts = pd.read_csv(base / "out" / week / "accounts.csv", keep_default_na=False)
        table = _tracked(base, week)
        found = sybils.merge(accounts[["account_id", "cluster_id"]], on="account_id").merge(
            table, on="cluster_id"
        )
        for group, rows in found.groupby("group"):
            rings.setdefault(str(group), {})[week] = set(
                zip(rows["tracked_id"], rows["status"], strict=True)
            )
    spanning = [g for g, weeks in rings.items() if len(weeks) == 2]
    late = [g for g, weeks in rings.items() if list(weeks) == ["2026-W17"]]
    assert len(spanning) >= 2 and len(late) >= 1
    for group in spanning:
        assert len(rings[group]["2026-W16"]) == len(rings[group]["2026-W17"]) == 1
        ((id16, _),) = rings[group]["2026-W16"]
        ((id17, status),) = rings[group]["2026-W17"]
        assert id16 == id17 and status in ("steady", "grown", "shrunk"), group
    for group in late:
        assert {status for _, status in rings[group]["2026-W17"]} == {"new"}, group


def test_make_report_from_a_dataframe(tmp_path: Path) -> None:
    from sybilgraph.report.weekly import make_report, parse_period

    done = make_report(_week_two(), parse_period("2026-W17"), tmp_path / "s", tmp_path / "o")
    assert done.path == tmp_path / "o" / "2026-W17"
    assert done.facts["headline"]["flagged_clusters"] == 3
    assert sum(sum(v) for v in done.facts["daily_requests"]["clusters"].values()) > 0
    assert "3 flagged" in repr(done)


def test_exit_code_and_one_line_from_the_installed_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "sybilgraph"
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.json").write_text('{"format_version": "0.9"}')
    events = tmp_path / "e.csv"
    hand_events().to_csv(events, index=False)
    where = ["--state", str(tmp_path / "state"), "--out", str(tmp_path / "out")]
    done = subprocess.run(
        [str(exe), "report", str(events), "--week", "2026-W16", *where],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "format_version '0.9' is not supported" in done.stderr


def _slow_ring(sends: list[int]) -> pd.DataFrame:
    """A ring of 12 accounts that each send its quiz template ``sends[w]`` times in week
    w (W16 on), from addresses of their own, beside 40 ordinary accounts asking one
    thing each week."""
    rows = []
    for week, times in enumerate(sends):
        day = pd.Timestamp("2026-04-13T00:00:00Z") + pd.Timedelta(days=7 * week)
        for i in range(12):
            for k in range(times):
                rows.append(
                    {
                        "account_id": f"q{i:02d}",
                        "ts": (day + pd.Timedelta(hours=i + 12 * k)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "ip": f"82.{week}.{i}.{k + 1}",
                        "payment_id": None,
                        "prompt": "Generate ten quiz questions with answers about chapter "
                        f"{week}{i}{k}",
                    }
                )
        for j in range(40):
            at = day + pd.Timedelta(hours=j % 24, days=j % 6)
            rows.append(
                {
                    "account_id": f"o{j:02d}",
                    "ts": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "ip": f"90.{week}.{j}.1",
                    "payment_id": None,
                    "prompt": f"what is a good name for a cat number {week * 100 + j}",
                }
            )
    return pd.DataFrame(rows)


def test_the_report_links_over_the_lookback_weeks(tmp_path: Path) -> None:
    # A template links an account that sent it twice (prompt.min_uses 2; the chapter
    # number is masked). W16: each ring account sends it twice, the ring is one cluster
    # (12 holders: 2 / ln(17) = 0.71 a pair, under CPM's 1.0, but every pair is linked:
    # a group of leftovers). W17 and W18: once a week each. A week alone links nobody
    # (lookback 1); linked over the four weeks ending with it, each account has sent it
    # three or four times: the ring is found in W17 and W18, under its W16 id.
    from sybilgraph.report.weekly import make_report, parse_period

    events = _slow_ring([2, 1, 1])
    ring = {f"q{i:02d}" for i in range(12)}
    found: dict[int, dict[int, set[str]]] = {}
    for lookback in (1, 4):
        config = api.Config.from_dict(
            {"link": {"hub_share": 1.0}, "report": {"lookback_weeks": lookback}}
        )
        found[lookback] = {}
        for week in (16, 17, 18):
            done = make_report(
                events,
                parse_period(f"2026-W{week}"),
                tmp_path / f"s{lookback}",
                tmp_path / f"o{lookback}",
                config,
                show_progress=False,
            )
            accounts = pd.read_csv(done.path / "accounts.csv", keep_default_na=False)
            rows = accounts[accounts["account_id"].isin(ring) & (accounts["tracked_id"] != "")]
            found[lookback][week] = set(rows["tracked_id"])
            if lookback == 4 or week == 16:
                assert set(rows["account_id"]) == ring, (lookback, week)
                assert rows["active_in_period"].all()
    assert found[1][17] == found[1][18] == set()  # a week alone: nothing
    assert len(found[4][16]) == 1
    assert found[4][16] == found[4][17] == found[4][18]  # one ring, one id
    # the memory of a week past every lookback is dropped: lookback 1 keeps the last
    # week's, lookback 4 all three
    for lookback, kept in ((1, ["2026-W18"]), (4, ["2026-W16", "2026-W17", "2026-W18"])):
        periods = tmp_path / f"s{lookback}" / "periods"
        assert sorted(p.name for p in periods.iterdir()) == ["2026-W16", "2026-W17", "2026-W18"]
        assert sorted(p.parent.name for p in periods.glob("*/memory")) == kept


def _by_week(events: pd.DataFrame, folder: Path, weeks: list[int]) -> dict[int, Path]:
    """Each ISO week's events (of 2026) in a CSV file of its own."""
    ts = pd.to_datetime(events["ts"], utc=True)
    files = {}
    for week in weeks:
        start = pd.Timestamp(dt.date.fromisocalendar(2026, week, 1), tz="UTC")
        files[week] = folder / f"w{week}.csv"
        events[(ts >= start) & (ts < start + pd.Timedelta(days=7))].to_csv(files[week], index=False)
    return files


def _report_weeks(
    files: dict[int, Path], base: Path, config: api.Config | None = None
) -> Iterator[tuple[int, Any]]:
    """Each week reported in order from its own file only, into one state and output
    folder under ``base``: (week, the report made)."""
    from sybilgraph.report.weekly import make_report, parse_period

    for week in sorted(files):
        yield (
            week,
            make_report(
                [str(files[week])],
                parse_period(f"2026-W{week}"),
                base / "state",
                base / "out",
                config,
                show_progress=False,
            ),
        )


def test_a_slow_ring_from_the_memory_alone(tmp_path: Path) -> None:
    # The slow ring of the test above, each report given its own week's file only: W17
    # and W18 find the ring only through what the state remembers of the weeks before.
    ring = {f"q{i:02d}" for i in range(12)}
    files = _by_week(_slow_ring([2, 1, 1]), tmp_path, [16, 17, 18])
    config = api.Config.from_dict({"link": {"hub_share": 1.0}})
    ids = []
    for week, done in _report_weeks(files, tmp_path, config):
        assert done.facts["rows"]["used"] == len(pd.read_csv(files[week]))
        accounts = pd.read_csv(done.path / "accounts.csv", keep_default_na=False)
        ids.append(set(accounts.loc[accounts["account_id"].isin(ring), "tracked_id"]))
    assert ids[0] == ids[1] == ids[2] and len(ids[0]) == 1 and "" not in ids[0]


@pytest.mark.parametrize("resent", [False, True])
def test_a_groups_samples_over_the_weeks_are_the_least_of_all_its_prompts(
    tmp_path: Path, resent: bool
) -> None:
    # The slow ring's template, W16 and W17 each reported from its own file: the W17
    # page's samples of it are the PROMPT_SAMPLES of least key among the prompts of both
    # weeks (each week remembers its own least), as one run over both weeks keeps them.
    # A text sent in both weeks is remembered and sent again: it is one sample, not two
    from sybilgraph.engines import make_engine
    from sybilgraph.stages.tables import PROMPT_SAMPLES

    events = _slow_ring([2, 1])
    if resent:  # W17's texts are W16's, sent again
        prompts = events["prompt"].str.replace(r"chapter 1(\d+)$", r"chapter 0\1", regex=True)
        events["prompt"] = prompts
    files = _by_week(events, tmp_path, [16, 17])
    config = api.Config.from_dict({"link": {"hub_share": 1.0}})
    done = list(_report_weeks(files, tmp_path, config))[-1][1]
    prompts = pd.read_parquet(done.path / "prompts.parquet")
    quiz = prompts[prompts["text"].str.startswith("generate ten quiz")]
    assert len(quiz) == 1
    texts = events.loc[events["prompt"].str.startswith("Generate"), "prompt"].unique()
    engine = make_engine(api.Config().engine)
    try:
        values = ", ".join(f"({engine.dialect.literal(t)})" for t in texts)
        least = engine.arrow(
            f"SELECT prompt FROM (VALUES {values}) v(prompt) "
            f"ORDER BY {engine.dialect.text_key('prompt')} LIMIT {PROMPT_SAMPLES}"
        )
    finally:
        engine.close()
    assert len(texts) == (24 if resent else 36)
    assert list(quiz["samples"].iloc[0]) == sorted(least.column(0).to_pylist())


def _flagged_in_week(accounts: pd.DataFrame, week: int) -> set[str]:
    """The accounts a run flagged that were active in the week."""
    start = pd.Timestamp(dt.date.fromisocalendar(2026, week, 1))
    last = pd.to_datetime(accounts["last_seen"])
    return set(accounts.loc[accounts["flagged"].astype(bool) & (last >= start), "account_id"])


def test_three_weeks_of_synth_against_one_run_over_the_window(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Three weeks of synth traffic (seed 11, rings active over all three), each week
    reported from its own file: in the second and third week the report flags at least
    95% of the accounts active in the week that one run over the same weeks flags, at
    precision 0.97 or more."""
    base = _synth(tmp_path_factory.mktemp("synth3"), events=60000, days=21, seed=11)
    truth = pd.read_csv(base / "s" / "truth.csv")
    sybil = set(truth.loc[truth["label"] == "sybil", "account_id"])
    files = _by_week(pd.read_csv(base / "s" / "events.csv"), base, [16, 17, 18])
    for week, done in _report_weeks(files, base):
        if week == 16:
            continue  # nothing before it: the same run as the window's
        window = api.run([str(files[w]) for w in (16, 17, 18) if w <= week], None, base / "w")
        reference = _flagged_in_week(window.accounts, week)
        flagged = _flagged_in_week(done.run.accounts, week)
        assert len(reference) >= 20, week
        assert len(flagged & reference) >= 0.95 * len(reference), week
        assert len(flagged & sybil) >= 0.97 * len(flagged), week


def test_backfill_equals_the_weeks_one_by_one(
    two_weeks: Path, inputs: list[str], tmp_path: Path
) -> None:
    backfill = tmp_path / "backfill"
    done = _report(inputs, backfill, "--week", "2026-W17", "--week", "2026-W16")
    assert done.exit_code == 0, done.output
    assert done.output.index("2026-W16:") < done.output.index("2026-W17:")  # in order

    def same(base: Path) -> None:
        for week in ("2026-W16", "2026-W17"):
            for name in [*TABLES, "report.json"]:
                a = (two_weeks / "out" / week / name).read_bytes()
                assert (base / "out" / week / name).read_bytes() == a, (week, name)
        assert _digests(base / "state") == _digests(two_weeks / "state")

    same(backfill)

    # W16 again alone, with W17 in the state: refused, in one line that says what to do
    redo = _copy(two_weeks, tmp_path)
    before = _digests(redo)
    done = _report(inputs, redo, "--week", "2026-W16")
    assert done.exit_code == 2
    line = done.output.strip().splitlines()[-1]
    assert line.startswith("sybilgraph: error: ") and "holds 2026-W17 after 2026-W16" in line
    assert "(--week 2026-W16 --week 2026-W17)" in line
    assert _digests(redo) == before
    # as it says: W16 and every week after it, recomputed as the first time
    done = _report(inputs, redo, "--week", "2026-W16", "--week", "2026-W17")
    assert done.exit_code == 0, done.output
    same(redo)


def test_version_1_state_is_upgraded(two_weeks: Path, inputs: list[str], tmp_path: Path) -> None:
    # A state of format version 1 has snapshots and no memory: the report goes on with
    # its tracked ids, links over the weeks remembered from now on, says so, and writes
    # version 2
    base = _copy(two_weeks, tmp_path)
    state = base / "state"
    (state / "state.json").write_text(json.dumps({"format_version": 1, "tool": "x"}))
    for folder in (state / "periods").iterdir():
        shutil.rmtree(folder / "memory")
        meta = json.loads((folder / "period.json").read_text())
        meta.pop("format_version")
        (folder / "period.json").write_text(json.dumps(meta))
    done = _report(inputs, base, "--week", "2026-W17")
    assert done.exit_code == 0, done.output
    assert (
        f"sybilgraph: {state / 'state.json'}: state format_version 1 is upgraded to 2 by "
        "this report" in done.output
    )
    assert json.loads((state / "state.json").read_text())["format_version"] == 2
    facts = json.loads((base / "out" / "2026-W17" / "report.json").read_text())
    assert facts["window"]["periods"] == ["2026-W17"]  # W16 has no memory
    assert facts["compared_with"] == "2026-W16"
    before = _tracked(two_weeks, "2026-W17")
    after = _tracked(base, "2026-W17")
    ring_a = before.loc[before["size"] == 6, "tracked_id"].iloc[0]
    assert ring_a in set(after["tracked_id"])  # ring A (in W17 alone too) keeps its id
    assert (state / "periods" / "2026-W17" / "memory").is_dir()
    assert not (state / "periods" / "2026-W16" / "memory").exists()


def test_accounts_in_lockstep_over_two_weeks_link_through_the_memory(tmp_path: Path) -> None:
    # 40 people act every day of weeks 16 and 17 in two of the four windows from 09:00
    # (14 windows a week each). op0 and op1 act together in two windows a day, at a time
    # that moves by 3 hours a day, on two days of each week: 4 windows a week, under the
    # 6 that co-activity asks for, so neither week alone compares them. Over the lookback
    # (W16 remembered, W17 read) they share 8 windows of 8 over 4 days, each held by 2 of
    # 42 active accounts; the average account has (40 * 28 + 2 * 8) / 42 = 27.0 windows,
    # the ops 8: -ln(2 / 42 * 8 / 27.0) = 4.26 a term, 4 days: 17.0 (8 times of day: 34)
    # > ln(42 * 41 / 2) + ln(100) = 11.36: linked, "together in 8 of 8".
    rows = []
    for day in range(14):
        date = dt.date(2026, 4, 13) + dt.timedelta(days=day)
        for p in range(40):
            for window in ((p + day) % 4, (p + day + 1) % 4):
                rows.append((f"p{p:02d}", f"{date}T09:{15 * window:02d}:07Z", f"10.1.{p}.{day}"))
        if day % 7 in (1, 2):
            hour = 2 + 3 * day % 20
            for op in ("op0", "op1"):
                for minute in (0, 15):
                    rows.append((op, f"{date}T{hour:02d}:{minute:02d}:07Z", f"10.2.{day}.{minute}"))
    events = pd.DataFrame(rows, columns=["account_id", "ts", "ip"])
    files = _by_week(events, tmp_path, [16, 17])
    config = api.Config.from_dict({"link": {"hub_share": 1.0}})
    found = {}
    for week, done in _report_weeks(files, tmp_path, config):
        links = pd.read_parquet(done.path / "links.parquet")
        if "time_weight" not in links.columns:  # no pair linked on the key
            found[week] = []
            continue
        timed = links[links["time_weight"] > 0]
        found[week] = sorted(zip(timed["a"], timed["b"], timed["time_values"], strict=True))
    assert found[16] == []
    assert found[17] == [("op0", "op1", "together in 8 of 8 15-minute windows")]


def test_heavy_accounts_strict_groups_are_counted_over_the_lookback(tmp_path: Path) -> None:
    # Six heavy accounts (9 or 10 requests a week against the median account's 1: over
    # prompt.heavy_volume 5) share one template, which makes them a strict group. h0..h2
    # send it twice a week, so each week alone they observe the strict group; h3..h5
    # once a week, so a week alone leaves them its broad group, sent under
    # prompt.min_uses (2) times; only over two weeks have they sent it twice. A run over
    # both weeks links all 15 pairs through the strict group; so must the W17 report,
    # which reads W17 and remembers W16: strict uses are counted over the lookback.
    letters = "abcdefghijklmnopqrstuvwxyz"
    rows = []
    for week in (16, 17):
        day = pd.Timestamp(dt.date.fromisocalendar(2026, week, 1), tz="UTC")
        for j in range(40):
            at = day + pd.Timedelta(hours=j % 24, days=j % 6)
            rows.append((f"o{j:02d}", at, f"90.{week}.{j}.1", f"name a cat number {week}{j}"))
        for h in range(6):
            shared = 2 if h < 3 else 1
            for k in range(shared):
                at = day + pd.Timedelta(hours=h + 6 * k, minutes=5)
                rows.append(
                    (f"h{h}", at, f"82.{week}.{h}.{k}", "Rewrite this clause as a sonnet: 1")
                )
            for k in range(8):
                pick = random.Random(f"{week} {h} {k}")  # words of no other prompt
                topic = " ".join("".join(pick.choices(letters, k=7)) for _ in range(6))
                at = day + pd.Timedelta(days=1 + k % 5, hours=h, minutes=k)
                rows.append((f"h{h}", at, f"83.{week}.{h}.{k}", topic))
    events = pd.DataFrame(rows, columns=["account_id", "ts", "ip", "prompt"])
    events["ts"] = events["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    config = api.Config.from_dict({"link": {"hub_share": 1.0}})

    def prompt_pairs(folder: Path) -> set[tuple[str, str]]:
        links = pd.read_parquet(folder / "links.parquet")
        heavy = links[links["a"].str.startswith("h") & (links["prompt_weight"] > 0)]
        return set(zip(heavy["a"], heavy["b"], strict=True))

    api.run(events, config, tmp_path / "whole", force=True, show_progress=False)
    expected = {(f"h{a}", f"h{b}") for a in range(6) for b in range(a + 1, 6)}
    assert prompt_pairs(tmp_path / "whole") == expected
    reports = dict(_report_weeks(_by_week(events, tmp_path, [16, 17]), tmp_path, config))
    assert prompt_pairs(reports[17].path) == expected
    # a week alone: h0..h2 observe the strict group twice; h3..h5 its broad group, once
    assert prompt_pairs(reports[16].path) == {("h0", "h1"), ("h0", "h2"), ("h1", "h2")}


def test_weeks_whose_lookback_memory_was_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Reported with a lookback of 2, W18's save drops W16's memory. W17 reported again
    # (with W18, as a backfill must) needs it: refused before the state is changed (it
    # failed as "damaged state" once W17 and W18 were already dropped, and the same
    # command failed every time). A longer lookback than before reads the weeks kept.
    from sybilgraph.report.weekly import make_reports, parse_period

    events = _slow_ring([2, 1, 1])
    short = api.Config.from_dict({"link": {"hub_share": 1.0}, "report": {"lookback_weeks": 2}})
    weeks = [parse_period(f"2026-W{w}") for w in (16, 17, 18)]
    state, out = tmp_path / "state", tmp_path / "out"
    make_reports(events, weeks, state, out, short, show_progress=False)
    periods = state / "periods"
    before = sorted(str(p.relative_to(state)) for p in periods.rglob("*"))
    assert sorted(p.parent.name for p in periods.glob("*/memory")) == ["2026-W17", "2026-W18"]
    with pytest.raises(StateError, match=r"memory of 2026-W16.*report from 2026-W16 on"):
        make_reports(events, weeks[1:], state, out, short, show_progress=False)
    assert sorted(str(p.relative_to(state)) for p in periods.rglob("*")) == before
    # W18's own rerun needs only what is kept
    make_reports(events, weeks[2:], state, out, short, show_progress=False)
    # W17 and W18 again under other settings, W16's memory kept (lookback 4): refused
    # before W17 and W18 are forgotten (they were dropped, then W17 was refused, and
    # the same command failed every time)
    kept = api.Config.from_dict({"link": {"hub_share": 1.0}, "report": {"lookback_weeks": 4}})
    make_reports(events, weeks, tmp_path / "s4", tmp_path / "o4", kept, show_progress=False)
    other = api.Config.from_dict(
        {"link": {"hub_share": 1.0, "ipv6_prefix": 48}, "report": {"lookback_weeks": 4}}
    )
    held = sorted(str(p.relative_to(tmp_path / "s4")) for p in (tmp_path / "s4").rglob("*"))
    with pytest.raises(StateError, match=r"2026-W16 was made with link.ipv6_prefix = 64"):
        make_reports(
            events, weeks[1:], tmp_path / "s4", tmp_path / "o4", other, show_progress=False
        )
    assert sorted(str(p.relative_to(tmp_path / "s4")) for p in (tmp_path / "s4").rglob("*")) == held
    # a memory lost (deleted by hand), not dropped by a save, is damage, as before
    lost = tmp_path / "lost"
    shutil.copytree(state, lost)
    shutil.rmtree(lost / "periods" / "2026-W17" / "memory")
    with pytest.raises(StateError, match="damaged state: the period's memory is missing"):
        make_reports(events, weeks[2:], lost, out, short, show_progress=False)
    # the lookback grown from 1 to 4: W16's memory is gone, said, and W18 is reported
    grown = tmp_path / "grown"
    one = api.Config.from_dict({"link": {"hub_share": 1.0}, "report": {"lookback_weeks": 1}})
    make_reports(events, weeks[:2], grown / "state", grown / "out", one, show_progress=False)
    four = api.Config.from_dict({"link": {"hub_share": 1.0}, "report": {"lookback_weeks": 4}})
    with caplog.at_level("WARNING"):
        (done,) = make_reports(
            events, weeks[2:], grown / "state", grown / "out", four, show_progress=False
        )
    assert "the memory of 2026-W16, in the lookback of 2026-W18, was dropped" in caplog.text
    assert done.facts["window"]["periods"] == ["2026-W17", "2026-W18"]


def test_a_period_of_dates_before_a_later_one_is_told_what_can_work(tmp_path: Path) -> None:
    # the refusal prescribed "--week 2026-04-13_2026-04-19 --week ...", which --week
    # refuses and which --since/--until cannot be given with
    from sybilgraph.report.weekly import make_report, parse_period

    events = _slow_ring([2, 1, 1])
    later = parse_period(since="2026-04-20", until="2026-04-26")
    make_report(events, later, tmp_path / "state", tmp_path / "out", show_progress=False)
    with pytest.raises(StateError) as refused:
        make_report(
            events,
            parse_period(since="2026-04-13", until="2026-04-19"),
            tmp_path / "state",
            tmp_path / "out",
            show_progress=False,
        )
    assert "--week" not in str(refused.value)
    assert str(refused.value).endswith("report 2026-04-13_2026-04-19 into a new state folder")


def test_memory_made_with_other_settings_is_not_joined(inputs: list[str], tmp_path: Path) -> None:
    # a week remembered with an extra key (or IPv6 networks of another size, or other
    # prompt groups) was joined to a week whose config has none: it linked on values
    # its config does not make, silently
    from sybilgraph.report.weekly import make_report, parse_period

    extra = api.Config.from_dict({"link": {"ipv6_prefix": 48}})
    make_report(
        inputs, parse_period("2026-W16"), tmp_path / "s", tmp_path / "o", extra, show_progress=False
    )
    with pytest.raises(
        StateError, match=r"2026-W16 was made with link.ipv6_prefix = 48, the config now says 64"
    ):
        make_report(
            inputs, parse_period("2026-W17"), tmp_path / "s", tmp_path / "o", show_progress=False
        )
    assert not (tmp_path / "s" / "periods" / "2026-W17").exists()
    # settings one side has not heard of (a later sybilgraph's new ones) are not compared
    meta = tmp_path / "s" / "periods" / "2026-W16" / "period.json"
    saved = json.loads(meta.read_text())
    saved["memory_settings"].pop("prompt.threshold")
    saved["memory_settings"]["prompt.some_later_setting"] = 7
    meta.write_text(json.dumps(saved))
    # the same settings: joined; other detection or score settings do not matter
    other = api.Config.from_dict({"link": {"ipv6_prefix": 48}, "score": {"threshold": 0.6}})
    done = make_report(
        inputs, parse_period("2026-W17"), tmp_path / "s", tmp_path / "o", other, show_progress=False
    )
    assert done.facts["window"]["periods"] == ["2026-W16", "2026-W17"]
