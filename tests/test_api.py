"""The investigator's Python API on the bundled sample week (one run per module)."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from click.testing import CliRunner

import sybilgraph
from sybilgraph.cli import main
from sybilgraph.errors import InputError, OutputError
from sybilgraph.stages.verdicts import LABEL_COLUMNS

SAMPLE = Path(__file__).parent.parent / "data" / "samples" / "week"
# an office's shared address in the sample: 17 accounts of office_0004 use it
OFFICE_IP = "186.79.240.23"


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> sybilgraph.Result:
    out = tmp_path_factory.mktemp("api") / "week"
    events = sybilgraph.load_events(SAMPLE)
    return sybilgraph.run(events, sybilgraph.Config(), out, show_progress=False)


@pytest.fixture(scope="module")
def top(result: sybilgraph.Result) -> sybilgraph.Cluster:
    return result.cluster(str(result.clusters["cluster_id"].iloc[0]))


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> sybilgraph.Result:
    """A run whose tables hold pseudonyms, like its pages."""
    out = tmp_path_factory.mktemp("api") / "private"
    config = sybilgraph.Config.from_dict({"privacy": {"tables": True, "secret": "s3cret"}})
    return sybilgraph.run(SAMPLE, config, out, show_progress=False)


def test_load_events_checks_columns_before_the_run(tmp_path: Path) -> None:
    events = sybilgraph.load_events(SAMPLE)
    assert [p.name for p in events.paths] == ["events.csv"]  # truth.csv is skipped
    assert "account_id" in events.columns[str(events.paths[0])]
    assert repr(events).startswith("Events(1 source(s): ")
    frame = pd.DataFrame({"user": ["u1"], "ts": ["2026-04-13T00:00:00Z"]})
    with pytest.raises(InputError, match="missing required column 'account_id'"):
        sybilgraph.load_events(frame)
    mapped = sybilgraph.Config.from_dict({"columns": {"account_id": "user"}})
    assert "1 rows" in repr(sybilgraph.load_events(frame, mapped))
    with pytest.raises(InputError, match="no such file"):
        sybilgraph.load_events(tmp_path / "missing.csv")


def test_cluster_attributes(result: sybilgraph.Result, top: sybilgraph.Cluster) -> None:
    row = result.clusters.iloc[0]
    assert top.id == row["cluster_id"] and top.rank == 1
    assert top.score == pytest.approx(row["score"]) and top.flagged
    assert top.reasons == str(row["reasons"]).split("; ")
    assert len(top.reasons) >= 2
    members = result.accounts[result.accounts["cluster_id"] == top.id]
    assert sorted(top.members["account_id"]) == sorted(members["account_id"])
    assert len(top) == row["size"]
    assert set(top.links["a"]) | set(top.links["b"]) <= set(members["account_id"])
    assert len(top.prompts) > 0
    assert top.prompts["requests"].is_monotonic_decreasing
    samples = top.prompts["samples"].iloc[0]
    assert samples and all(isinstance(s, str) for s in samples)
    assert repr(top).startswith(f"Cluster({top.id!r}: rank 1, {row['size']} accounts")


def test_cluster_graph_and_pages(
    result: sybilgraph.Result,
    top: sybilgraph.Cluster,
    private: sybilgraph.Result,
    tmp_path: Path,
) -> None:
    graph = top.to_networkx()
    kinds = pd.Series(dict(graph.nodes(data="kind")))
    assert (kinds == "account").sum() == len(top.members)
    assert (kinds == "value").sum() == len(top.values[["key", "value"]].drop_duplicates())
    assert sum(1 for *_, k in graph.edges(data="kind") if k == "link") == len(top.links)
    # a page drawn from the folder shows what the tables hold: raw values by default,
    # while the run's own pages carry pseudonyms
    page = top.to_html(tmp_path / "top.html").read_text("utf-8")
    written = (result.out_dir / "clusters" / f"{top.id}.html").read_text("utf-8")
    banner = "Identifiers on this page are pseudonyms"
    assert banner in written and banner not in page and not top.pseudonymised
    # with pseudonymised tables it is the very page the run wrote
    mine = private.cluster(top.id)
    assert mine.pseudonymised and not mine.values["value"].isin(top.values["value"]).all()
    again = mine.to_html(tmp_path / "private.html").read_text("utf-8")
    assert again == (private.out_dir / "clusters" / f"{top.id}.html").read_text("utf-8")
    inline = top.view(height=500)._repr_html_()
    assert inline.startswith("<iframe srcdoc=") and "height:500px" in inline
    # a file that exists is replaced with force=True only (it overwrote ground truth)
    truth = tmp_path / "truth.csv"
    truth.write_text("account_id,group\na1,r1\n")
    with pytest.raises(sybilgraph.OutputError, match="exists"):
        top.to_html(truth)
    assert truth.read_text() == "account_id,group\na1,r1\n"
    assert top.to_html(truth, force=True).read_text("utf-8") == page
    for bad in (None, 5, ""):
        with pytest.raises(sybilgraph.OutputError, match="expected the path of a file"):
            top.to_html(bad)  # type: ignore[arg-type]


def test_unknown_cluster_is_a_clear_error(result: sybilgraph.Result) -> None:
    with pytest.raises(InputError, match="no cluster 'C000' in this run"):
        result.cluster("C000")


def test_explain(result: sybilgraph.Result, top: sybilgraph.Cluster) -> None:
    link = top.links.iloc[0]
    explanation = result.explain(link["a"], link["b"])
    assert explanation.linked and explanation.same_cluster == top.id
    assert explanation.direct is not None
    assert explanation.direct["weight"].iloc[0] == pytest.approx(link["weight"])
    with pytest.raises(InputError, match="not in this run"):
        result.explain(link["a"], "nobody")


def test_ids_given_with_spaces_around_are_the_run_s(
    result: sybilgraph.Result, top: sybilgraph.Cluster, tmp_path: Path
) -> None:
    # load cuts the spaces around the ids it reads; an id given with them was "not in
    # this run" to explain and cluster, and a truth file's was counted as missed
    link = top.links.iloc[0]
    assert result.explain(f" {link['a']} ", f"{link['b']}  ").linked
    assert result.cluster(f" {top.id} ").id == top.id
    truth = pd.read_csv(SAMPLE / "truth.csv", dtype=str)
    padded = tmp_path / "truth.csv"
    truth.assign(account_id=" " + truth["account_id"] + " ").to_csv(padded, index=False)
    given, read = sybilgraph.evaluate(result, padded), sybilgraph.evaluate(result, truth)
    assert given.not_in_run == read.not_in_run == 0
    assert (given.precision, given.recall, given.rings_recovered) == (
        read.precision,
        read.recall,
        read.rings_recovered,
    )


def test_neighborhood_grows_with_hops(result: sybilgraph.Result) -> None:
    # the best-ranked cluster with links leaving it (the top ring links to no one outside)
    links = result.links
    for cluster_id in result.clusters["cluster_id"]:
        top = result.cluster(str(cluster_id))
        inside = links["a"].isin(top.members["account_id"])
        if (inside != links["b"].isin(top.members["account_id"])).any():
            break
    center = str(top.members.loc[top.members["account_id"].isin(links["a"]), "account_id"].iloc[0])
    direct = set(links.loc[links["a"] == center, "b"]) | set(links.loc[links["b"] == center, "a"])
    alone = result.neighborhood(center, hops=0)
    one = result.neighborhood(center, hops=1)
    two = result.neighborhood(center, hops=2)
    assert list(alone.members["account_id"]) == [center] and alone.links.empty
    assert set(one.members["account_id"]) == direct | {center}
    assert set(one.members["account_id"]) < set(two.members["account_id"])
    ids = set(two.members["account_id"])
    assert set(two.links["a"]) | set(two.links["b"]) <= ids
    assert one.clusters[0] == top.id
    assert repr(one).startswith(f"Neighborhood({center!r}, hops=1: {len(direct) + 1} accounts")
    assert two.to_networkx().number_of_nodes() >= len(ids)
    assert "<iframe" in two.view()._repr_html_()
    with pytest.raises(InputError, match="hops must be 0 or more"):
        result.neighborhood(center, hops=-1)
    with pytest.raises(InputError, match="not in this run"):
        result.neighborhood("nobody")


def test_save_and_open_give_identical_tables(result: sybilgraph.Result, tmp_path: Path) -> None:
    saved = result.save(tmp_path / "saved")
    reopened = sybilgraph.open(tmp_path / "saved")
    assert saved.out_dir == reopened.out_dir == tmp_path / "saved"
    for table in ("accounts", "clusters", "links", "hubs", "values", "prompts"):
        pdt.assert_frame_equal(getattr(reopened, table), getattr(result, table))
    assert reopened.info == result.info
    top_id = str(result.clusters["cluster_id"].iloc[0])
    pdt.assert_frame_equal(reopened.cluster(top_id).members, result.cluster(top_id).members)
    with pytest.raises(OutputError, match="not empty"):
        result.save(tmp_path / "saved")
    # with force, only the run's files are replaced, as detect --out --force does
    (tmp_path / "saved" / "notes.txt").write_text("mine")
    assert result.save(tmp_path / "saved", force=True).out_dir == tmp_path / "saved"
    assert (tmp_path / "saved" / "notes.txt").read_text() == "mine"
    # a folder holding the run (it was deleted with the folder's other files), or one
    # inside it, is refused
    inner = sybilgraph.open(tmp_path / "saved")
    with pytest.raises(OutputError, match="holds the run being saved"):
        inner.save(tmp_path, force=True)
    with pytest.raises(OutputError, match="is inside the run being saved"):
        inner.save(tmp_path / "saved" / "copy", force=True)
    assert (tmp_path / "saved" / "notes.txt").exists() and (
        tmp_path / "saved" / "run.json"
    ).exists()
    for bad in (None, 5):
        with pytest.raises(OutputError, match="expected the path of a folder"):
            result.save(bad)  # type: ignore[arg-type]


def test_label_round_trip(result: sybilgraph.Result, tmp_path: Path) -> None:
    before = result.values
    held = before[(before["key"] == "ip") & (before["value"] == OFFICE_IP)]
    assert len(held) >= 10 and not held["hub"].any()
    assert result.links["evidence"].str.contains(OFFICE_IP, regex=False).any()

    labels = tmp_path / "labels.csv"
    written = result.label(
        f"ip={OFFICE_IP}", "benign", value=True, note="office NAT", labels_path=labels
    )
    assert written == labels
    rows = pd.read_csv(labels, dtype=str, keep_default_na=False)
    assert list(rows.columns) == LABEL_COLUMNS
    assert rows.iloc[0][["key", "value", "verdict", "note"]].tolist() == [
        "ip",
        OFFICE_IP,
        "benign",
        "office NAT",
    ]

    rerun = sybilgraph.run(
        SAMPLE, sybilgraph.Config(labels=str(labels)), tmp_path / "rerun", show_progress=False
    )
    hubs = rerun.hubs
    assert hubs.loc[hubs["value"] == OFFICE_IP, "reason"].tolist() == ["labelled benign"]
    assert not rerun.links["evidence"].str.contains(OFFICE_IP, regex=False).any()
    assert rerun.info["labels"]["verdicts"] == 1


def test_label_defaults_to_the_file_the_cli_uses(
    result: sybilgraph.Result, top: sybilgraph.Cluster, tmp_path: Path
) -> None:
    copy = result.save(tmp_path / "run")
    path = copy.label(top, "sybil", note="chargebacks")
    assert path == tmp_path / "labels.csv"
    # the cluster's members now show the verdict of the labels file beside the run
    assert set(copy.cluster(top.id).members["verdict"]) == {"sybil"}
    code = CliRunner().invoke(main, ["label", str(copy.out_dir), str(top.id), "benign"])
    assert code.exit_code == 0, code.output
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert rows["cluster_id"].tolist() == [top.id, top.id]
    assert rows["verdict"].tolist() == ["sybil", "benign"]
    with pytest.raises(InputError, match="neither an account nor a cluster"):
        copy.label("nobody", "sybil")


def test_cli_view_writes_the_page(
    result: sybilgraph.Result,
    top: sybilgraph.Cluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    target = tmp_path / "pages" / "top.html"
    runner = CliRunner()
    done = runner.invoke(main, ["view", str(result.out_dir), top.id, "--out", str(target)])
    assert done.exit_code == 0, done.output
    assert f"page: {target.resolve()}" in done.output and not opened
    html = target.read_text("utf-8")
    assert html == top.to_html(tmp_path / "same.html").read_text("utf-8")
    # a file that exists is replaced with --force only (it may be anything of the user's)
    kept = runner.invoke(main, ["view", str(result.out_dir), top.id, "--out", str(target)])
    assert kept.exit_code == 2 and "exists (use --force" in kept.output
    target.write_text("the user's notes", encoding="utf-8")
    again = runner.invoke(
        main, ["view", str(result.out_dir), top.id, "--out", str(target), "--open", "--force"]
    )
    assert again.exit_code == 0 and opened == [target.resolve().as_uri()]
    assert target.read_text("utf-8") == html
    missing = runner.invoke(main, ["view", str(result.out_dir), "C000"])
    assert missing.exit_code == 2
    assert missing.output.startswith("sybilgraph: error: ") and "C000" in missing.output


def test_a_run_without_a_folder_keeps_its_verdicts_to_itself_and_is_removed(
    hand_csv: Path, tmp_path: Path
) -> None:
    # such runs wrote their verdicts to the system's temporary folder (labels.csv beside
    # /tmp/sybilgraph-run-XXXX, shared by every such run and user), and were never removed
    import os
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    killed = tmp_path / f"sybilgraph-run-{int(gone.stdout)}-abc"
    (killed / "run").mkdir(parents=True)
    script = (
        "import sybilgraph\n"
        f"r = sybilgraph.run({str(hand_csv)!r}, show_progress=False)\n"
        "print(r.out_dir)\n"
        "print(r.label(r.clusters.cluster_id[0], 'sybil'))\n"
        f"r.save({str(tmp_path / 'kept' / 'run')!r})\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path), "SYBILGRAPH_SECRET": "x"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    out_dir, labels = (Path(line) for line in done.stdout.split())
    assert labels == out_dir.parent / "labels.csv" and out_dir.parent.parent == tmp_path
    assert not (tmp_path / "labels.csv").exists()
    assert not out_dir.parent.exists()  # removed as the process ended
    assert not killed.exists()  # a killed process's, removed by the next run
    # the saved copy keeps the verdicts, and labelling the temporary run warned of them
    assert "sybil" in (tmp_path / "kept" / "labels.csv").read_text()
    assert "temporary, deleted when the process ends" in done.stderr


def test_a_verdict_on_a_pseudonym_names_the_value_it_stands_for(
    private: sybilgraph.Result, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the pages (and, with privacy.tables, the tables) show "ip~..." and "pay~...": a
    # verdict written on one was taken and matched nothing, silently
    from sybilgraph.stages.privacy import Pseudonymiser

    office = Pseudonymiser(b"s3cret").pseudonym("ip", OFFICE_IP)
    assert office in set(private.values["value"])
    labels = tmp_path / "labels.csv"
    private.label(f"ip={office}", "benign", value=True, labels_path=labels)
    private.label("payment=pay~0123456789ab", "benign", value=True, labels_path=labels)
    config = sybilgraph.Config.from_dict(
        {"labels": str(labels), "privacy": {"tables": True, "secret": "s3cret"}}
    )
    with caplog.at_level("WARNING"):
        rerun = sybilgraph.run(SAMPLE, config, tmp_path / "rerun", show_progress=False)
    hubs = rerun.hubs
    assert hubs.loc[hubs["value"] == office, "reason"].tolist() == ["labelled benign"]
    assert "1 verdict(s) on pseudonyms name no value of this run" in caplog.text
    # under another secret, none can be named
    other = sybilgraph.Config.from_dict({"labels": str(labels), "privacy": {"secret": "other"}})
    again = sybilgraph.run(SAMPLE, other, tmp_path / "other", show_progress=False)
    assert "labelled benign" not in set(again.hubs["reason"])
    # an IPv4 network or an IPv6 one of another size is refused: the key matches neither
    for network in ("186.79.240.0/24", "2001:db8::/48"):
        with pytest.raises(sybilgraph.InputError, match="links each IPv4 address"):
            private.label(f"ip={network}", "benign", value=True, labels_path=labels)


def test_wrong_arguments_get_the_projects_errors(
    result: sybilgraph.Result, top: sybilgraph.Cluster, tmp_path: Path
) -> None:
    # each of these failed with Python's own TypeError, AttributeError, ValueError or
    # KeyError from deep inside
    member = str(top.members["account_id"].iloc[0])
    errors = (sybilgraph.InputError, sybilgraph.ConfigError, sybilgraph.OutputError)
    calls = {
        "cluster of a list": lambda: result.cluster([top.id]),  # type: ignore[arg-type]
        "neighborhood of a list": lambda: result.neighborhood([member]),  # type: ignore[arg-type]
        "hops as text": lambda: result.neighborhood(member, hops="2"),  # type: ignore[arg-type]
        "hops as a fraction": lambda: result.neighborhood(member, hops=1.5),  # type: ignore[arg-type]
        "hops as a flag": lambda: result.neighborhood(member, hops=True),
        "explain None": lambda: result.explain(member, None),  # type: ignore[arg-type]
        "label None": lambda: result.label(None, "sybil"),  # type: ignore[arg-type]
        "casefile None": lambda: result.casefile(None, tmp_path / "c.html"),  # type: ignore[arg-type]
        "view of a text height": lambda: top.view(height="abc"),  # type: ignore[arg-type]
        "evaluate None": lambda: sybilgraph.evaluate(None, tmp_path),  # type: ignore[arg-type]
        "truth without group": lambda: sybilgraph.evaluate(
            result, pd.DataFrame({"account_id": [member], "label": ["sybil"]})
        ),
        "truth with a blank group": lambda: sybilgraph.evaluate(
            result, pd.DataFrame({"account_id": [member], "label": ["sybil"], "group": [""]})
        ),
        "load_events of None": lambda: sybilgraph.load_events(None),  # type: ignore[arg-type]
        "load_events of a number": lambda: sybilgraph.load_events(5),  # type: ignore[arg-type]
        "load_events of DataFrames": lambda: sybilgraph.load_events([pd.DataFrame()]),  # type: ignore[list-item]
        "a config of another type": lambda: sybilgraph.load_events(SAMPLE, 5),  # type: ignore[arg-type]
        "a window of one moment": lambda: sybilgraph.run(
            SAMPLE, None, tmp_path / "w", window=("2026-04-14",)
        ),  # type: ignore[arg-type]
        "a window running back": lambda: sybilgraph.run(
            SAMPLE, None, tmp_path / "w", window=("2026-04-15", "2026-04-14")
        ),
        # these failed with DuckDB's own error and Python's TypeError
        "events without columns": lambda: sybilgraph.run(pd.DataFrame(), None, tmp_path / "e"),
        "a folder of a number": lambda: sybilgraph.run(SAMPLE, None, 5),  # type: ignore[arg-type]
        "open None": lambda: sybilgraph.open(None),  # type: ignore[arg-type]
        "open a number": lambda: sybilgraph.open(5),  # type: ignore[arg-type]
    }
    for what, call in calls.items():
        with pytest.raises(errors):
            call()
            pytest.fail(what)
    # a Cluster where an id goes, and a config as a dict, are taken
    assert result.cluster(top).id == top.id
    assert sybilgraph.load_events(SAMPLE, {"seed": 3}).sources


def test_account_ids_given_as_numbers_are_the_runs_ids(tmp_path: Path) -> None:
    # a DataFrame's integer ids are read as their digits; given back as numbers they
    # were "not in this run", and evaluate found none of the truth accounts
    import datetime as dt

    frame = pd.read_csv(SAMPLE / "events.csv")
    truth = pd.read_csv(SAMPLE / "truth.csv")
    numbers = {a: 1000 + i for i, a in enumerate(sorted(set(frame["account_id"])))}
    frame["account_id"] = frame["account_id"].map(numbers)
    truth["account_id"] = truth["account_id"].map(numbers)
    run = sybilgraph.run(frame, None, tmp_path / "run", show_progress=False)
    top = run.cluster(run.clusters.cluster_id[0])
    first, second = (int(a) for a in top.members["account_id"].iloc[:2])
    assert run.neighborhood(np.int64(first), hops=1).center == str(first)
    assert run.explain(first, np.int64(second)).a == str(first)
    assert run.label(first, "sybil", labels_path=tmp_path / "l.csv").exists()
    assert sybilgraph.evaluate(run, truth).not_in_run == 0
    # a window of dates and texts, as a notebook writes it
    start = dt.date(2026, 4, 13)
    windowed = sybilgraph.run(frame, None, tmp_path / "w", window=(start, "2026-04-16T00:00:00"))
    assert windowed.info["window"][0].startswith("2026-04-13T00:00:00")


def test_a_run_replaced_in_its_folder_is_not_mixed_with_the_one_opened(
    hand_csv: Path, tmp_path: Path
) -> None:
    # tables are read on first access: after another run into the folder, a cluster of
    # the first came back with 0 accounts, and its case file mixed the two runs
    first = sybilgraph.run(hand_csv, None, tmp_path / "run", show_progress=False)
    top = str(first.clusters["cluster_id"].iloc[0])
    frame = pd.read_csv(hand_csv)
    frame = frame[~frame["account_id"].str.startswith("a")]
    sybilgraph.run(frame, None, tmp_path / "run", show_progress=False)
    with pytest.raises(sybilgraph.StateError, match="replaced since it was opened; open it again"):
        first.cluster(top)
    assert len(sybilgraph.open(tmp_path / "run").accounts) < len(
        pd.read_csv(hand_csv).account_id.unique()
    )


def test_a_run_without_clusters_has_an_empty_flagged_table_with_its_columns(
    tmp_path: Path,
) -> None:
    # the empty flagged column was read as text and picked columns, not rows: no
    # cluster_id column, an AttributeError
    frame = pd.DataFrame(
        {
            "account_id": ["x1", "x2"],
            "ts": ["2026-04-14T10:00:00Z"] * 2,
            "ip": ["1.2.3.4", "5.6.7.8"],
        }
    )
    empty = sybilgraph.run(frame, None, tmp_path / "run", show_progress=False)
    assert empty.clusters.empty
    assert empty.flagged.cluster_id.tolist() == []
    assert list(empty.flagged.columns) == list(empty.clusters.columns)


def test_an_empty_kind_in_the_truth_is_its_groups(result: sybilgraph.Result) -> None:
    # a truth frame whose kind column was all empty gave an empty table by kind
    truth = pd.read_csv(SAMPLE / "truth.csv")
    whole = sybilgraph.evaluate(result, truth.drop(columns=["kind"]))
    blank = sybilgraph.evaluate(result, truth.assign(kind=None))
    assert len(blank.by_kind) == len(whole.by_kind) > 0


def test_a_run_that_flags_nothing_is_not_scored_perfect(
    result: sybilgraph.Result, tmp_path: Path
) -> None:
    # a run with no cluster scored precision 1.0000 and average precision 1.0000 against
    # a truth of sybils it all missed: a scheduled job watching the figures saw no fall
    frame = pd.DataFrame({"account_id": ["x1", "x2", "x3"], "ts": ["2026-04-14T10:00:00Z"] * 3})
    empty = sybilgraph.run(frame, None, tmp_path / "run", show_progress=False)
    truth = pd.DataFrame(
        {"account_id": ["x1", "x2", "x3"], "label": ["sybil", "sybil", "legit"], "group": "g"}
    )
    missed = sybilgraph.evaluate(empty, truth)
    assert (missed.precision, missed.recall, missed.f1, missed.average_precision) == (0, 0, 0, 0)
    # with no sybil to find, flagging nothing is right
    clean = sybilgraph.evaluate(empty, truth.assign(label="legit"))
    assert (clean.precision, clean.recall, clean.average_precision) == (1, 1, 1)
    # a kind that holds sybils and legitimate accounts is mixed, and its rings counted
    sample = pd.read_csv(SAMPLE / "truth.csv")
    whole = sybilgraph.evaluate(result, sample)
    one = sybilgraph.evaluate(result, sample.assign(kind="k")).by_kind.iloc[0]
    assert one["label"] == "mixed"
    assert one["groups_recovered"] == whole.rings_recovered > 0


def test_a_failed_save_leaves_no_folder_of_its_own(
    result: sybilgraph.Result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copytree", full)
    with pytest.raises(OutputError, match="cannot save the run: No space left on device"):
        result.save(tmp_path / "deep" / "copy")
    assert list(tmp_path.iterdir()) == []
