"""Verdicts recorded on one run are honoured by the next."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from sybilgraph import Config, run
from sybilgraph.cli import main
from sybilgraph.errors import InputError
from sybilgraph.investigate.labels import append_label
from sybilgraph.stages.verdicts import read_labels

OFFICE = frozenset(f"o{i}" for i in range(1, 6))


def _clusters(result) -> set[frozenset[str]]:  # type: ignore[no-untyped-def]
    accounts = result.accounts[result.accounts["cluster_id"] != ""]
    return {frozenset(g["account_id"]) for _, g in accounts.groupby("cluster_id")}


def test_benign_office_ip_stops_linking(hand_csv: Path, tmp_path: Path) -> None:
    first = run(hand_csv, Config(), tmp_path / "week1", show_progress=False)
    assert OFFICE in _clusters(first)
    labels = tmp_path / "labels.csv"
    code = (
        CliRunner()
        .invoke(
            main,
            [
                "label",
                str(first.out_dir),
                "ip=192.0.2.10",
                "benign",
                "--value",
                "--note",
                "office",
                "--labels",
                str(labels),
            ],
        )
        .exit_code
    )
    assert code == 0
    # a key no run links through (a typo) is refused, not kept to be never used
    typo = CliRunner().invoke(
        main, ["label", str(first.out_dir), "ipp=192.0.2.10", "benign", "--value"]
    )
    assert typo.exit_code == 2 and "'ipp' is not a link key of this run" in typo.output
    # an address is written as the run links on it (an IPv6 one: its /64, as pages show
    # it); a text that is no address would match nothing, and is refused
    for given, written in [
        ("2001:DB8:0:7:0:0:0:1", "2001:db8:0:7::/64"),
        ("2001:db8:0:7::/64", "2001:db8:0:7::/64"),
        (" 192.0.2.11", "192.0.2.11"),
    ]:
        cmd = ["label", str(first.out_dir), f"ip={given}", "sybil", "--value"]
        added = CliRunner().invoke(main, [*cmd, "--labels", str(tmp_path / "v6.csv")])
        assert added.exit_code == 0, added.output
        assert read_labels(tmp_path / "v6.csv").values["value"].iloc[-1] == written
    bad = CliRunner().invoke(
        main, ["label", str(first.out_dir), "ip=not-an-ip", "benign", "--value"]
    )
    assert bad.exit_code == 2 and "'not-an-ip' is not an IP address" in bad.output
    second = run(hand_csv, Config(labels=str(labels)), tmp_path / "week2", show_progress=False)
    assert OFFICE not in _clusters(second)
    hubs = second.hubs
    assert hubs[hubs["value"] == "192.0.2.10"]["reason"].tolist() == ["labelled benign"]
    assert second.info["labels"]["verdicts"] == 1


def test_confirmed_sybil_ranks_first_and_says_so(hand_csv: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    append_label(labels, "sybil", account_id="b3", note="chargeback")
    result = run(hand_csv, Config(labels=str(labels)), tmp_path / "out", show_progress=False)
    top = result.clusters.iloc[0]
    assert top["size"] == 5  # ring B, which holds b3
    assert "1 account confirmed sybil by an investigator" in top["reasons"]


def test_benign_account_takes_no_part(hand_csv: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    append_label(labels, "benign", account_id="h1")
    result = run(hand_csv, Config(labels=str(labels)), tmp_path / "out", show_progress=False)
    accounts = result.accounts.set_index("account_id")
    assert accounts.loc["h1", "cluster_id"] == ""
    assert accounts.loc["h2", "cluster_id"] == ""


def test_benign_cluster_is_not_flagged(hand_csv: Path, tmp_path: Path) -> None:
    first = run(hand_csv, Config(), tmp_path / "one", show_progress=False)
    ring = first.clusters.iloc[0]["cluster_id"]
    labels = tmp_path / "labels.csv"
    append_label(labels, "benign", cluster_id=ring, note="load test accounts")
    second = run(hand_csv, Config(labels=str(labels)), tmp_path / "two", show_progress=False)
    row = second.clusters.set_index("cluster_id").loc[ring]
    assert not row["flagged"]
    assert row["reasons"].startswith("labelled benign")


def test_last_verdict_wins_and_bad_rows_are_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    labels = tmp_path / "labels.csv"
    append_label(labels, "sybil", account_id="x")
    append_label(labels, "benign", account_id="x")
    assert read_labels(labels).accounts.to_dict("records") == [
        {"account_id": "x", "verdict": "benign"}
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("account_id,verdict\nx,maybe\n")
    with pytest.raises(InputError, match=r"bad\.csv, row 2, column 'verdict'"):
        read_labels(bad)
    # a row with more fields than the header is named; one with fewer is read padded
    wide = tmp_path / "wide.csv"
    wide.write_text("account_id,verdict,note\nx,sybil\n\ny,sybil,,extra,extra\n")
    with pytest.raises(InputError, match=r"wide\.csv, row 4: 5 fields where the header has 3"):
        read_labels(wide)
    # an address written by hand is one target whatever its spelling: an IPv6 one its
    # /64, as the run links on it; a text that is no address is kept as written
    spelled = tmp_path / "spelled.csv"
    spelled.write_text(
        "key,value,verdict\nip,2001:DB8:0:7:0:0:0:1,benign\nip,2001:db8:0:7::5,sybil\n"
        "ip,not-an-ip,benign\nip, 192.0.2.10,benign\n"
    )
    with caplog.at_level(logging.WARNING):
        assert read_labels(spelled).values.to_dict("records") == [
            {"key": "ip", "value": "2001:db8:0:7::/64", "verdict": "sybil"},
            {"key": "ip", "value": "not-an-ip", "verdict": "benign"},
            {"key": "ip", "value": "192.0.2.10", "verdict": "benign"},
        ]
    # ... and said to match nothing (it was dropped unsaid)
    assert "1 verdict(s) on ip values that are no address or network (first: row 4)" in (
        caplog.text
    )
    wide.write_text("account_id,verdict,note\nx,sybil\n")
    assert read_labels(wide).accounts.to_dict("records") == [
        {"account_id": "x", "verdict": "sybil"}
    ]


def test_a_run_named_as_the_current_folder_gets_its_labels_beside_it(
    hand_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(hand_csv, Config(), tmp_path / "week1", show_progress=False)
    monkeypatch.chdir(tmp_path / "week1")
    done = CliRunner().invoke(main, ["label", ".", "a1", "sybil"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "labels.csv").is_file() and not (tmp_path / "week1" / "labels.csv").exists()


def test_a_verdict_is_appended_to_a_labels_file_only(tmp_path: Path) -> None:
    # an events file named as the labels file by mistake stays as it was
    events = tmp_path / "events.csv"
    events.write_text("account_id,ts\na1,2026-04-13T00:00:00Z\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"events\.csv.*not a labels file"):
        append_label(events, "sybil", account_id="a1")
    assert events.read_text("utf-8") == "account_id,ts\na1,2026-04-13T00:00:00Z\n"
    # a labels file whose last line has no line end gets one before the new verdict
    labels = tmp_path / "labels.csv"
    append_label(labels, "sybil", account_id="x")
    labels.write_bytes(labels.read_bytes().rstrip(b"\r\n"))
    append_label(labels, "benign", account_id="y")
    assert read_labels(labels).accounts.to_dict("records") == [
        {"account_id": "x", "verdict": "sybil"},
        {"account_id": "y", "verdict": "benign"},
    ]


def test_verdicts_on_a_key_the_run_has_no_values_of_are_said_to_be_unused(
    hand_csv: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a labels file written by hand may name any key; one the run has no values of
    # changes nothing, and the run says so instead of keeping quiet
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "account_id,cluster_id,key,value,verdict,note\n"
        ",,bogus,1,benign,\n,,bogus,2,sybil,\n,,ip,192.0.2.10,benign,office\n"
    )
    with caplog.at_level(logging.WARNING, logger="sybilgraph"):
        run(hand_csv, Config(labels=str(labels)), tmp_path / "out", show_progress=False)
    assert "labels: 2 verdict(s) on values of 'bogus', a key this run has no values of" in (
        caplog.text
    )
    assert "'ip'" not in caplog.text
