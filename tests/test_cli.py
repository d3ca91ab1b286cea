"""The CLI through click's runner: outputs, one-line errors, help on every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sybilgraph.cli import main

from .conftest import hand_events


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_detect_writes_outputs_and_says_where(hand_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = _invoke("detect", str(hand_csv), "--out", str(out))
    assert code == 0, stdout
    assert "2 flagged" in stdout
    assert str(out.resolve()) in stdout
    for name in (
        "accounts.csv",
        "clusters.csv",
        "links.parquet",
        "hubs.csv",
        "rejects.csv",
        "run.json",
    ):
        assert (out / name).is_file(), name


def test_evaluate_against_truth(hand_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _invoke("detect", str(hand_csv), "--out", str(out))[0] == 0
    accounts = sorted(set(hand_events()["account_id"]))
    truth = tmp_path / "truth.csv"
    lines = ["account_id,label,group"]
    for account in accounts:
        ring = account[0] in "ab" and account[1:].isdigit()
        lines.append(f"{account},{'sybil' if ring else 'legit'},{account[0] if ring else 'x'}")
    truth.write_text("\n".join(lines) + "\n")
    code, stdout, _ = _invoke("evaluate", str(out), "--truth", str(truth))
    assert code == 0
    assert "precision 1.0000  recall 1.0000" in stdout
    assert "rings recovered (Jaccard >= 0.8): 2 of 2" in stdout
    # a truth table that would score anything as perfect is refused, naming why
    for text, expected in [
        ("account_id,label,group\n", "truth.csv: the truth table has no rows"),
        (f"account_id,label,group\n{accounts[0]},SYBIL,g\n", "row 2, column 'label'"),
        (
            f"account_id,label,group\n{accounts[0]},sybil,g\n{accounts[0]},legit,x\n",
            "truth.csv, row 3, column 'account_id': account",
        ),
        # these two scored precision 1.0000 and average precision 1.0000, exit 0
        (
            f"account_id,label,group\n{accounts[0]},sybil,g\n,legit,x\n",
            "truth.csv, row 3, column 'account_id': empty account_id",
        ),
        (
            "account_id,label,group\nnobody,sybil,g\n",
            "truth.csv: none of the 1 truth accounts is in the run (first: 'nobody')",
        ),
        # its fields shifted: "label must be sybil or legit, not 'g'"
        (
            f"account_id,label,group\n{accounts[0]},sybil,g,extra\n",
            "truth.csv, row 2: 4 fields where the header has 3",
        ),
    ]:
        truth.write_text(text)
        code, _, stderr = _invoke("evaluate", str(out), "--truth", str(truth))
        assert code == 2 and expected in stderr, stderr
    # a truth account the run does not list is said, and counted as not flagged
    truth.write_text(f"account_id,label,group\nnobody,sybil,g\n{accounts[0]},legit,x\n")
    code, stdout, _ = _invoke("evaluate", str(out), "--truth", str(truth))
    assert code == 0
    assert "1 of the 2 truth accounts are not in the run (counted as not flagged)" in stdout
    assert "recall 0.0000" in stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["detect", "/no/such/file.csv", "--out", "{tmp}/o"], "/no/such/file.csv: no such file"),
        (["detect", "--out", "{tmp}/o"], "give an INPUT file or folder"),
        (["detect", "{tmp}/events.txt", "--out", "{tmp}/o"], "unsupported file type"),
        (["detect", "{tmp}/nots.csv", "--out", "{tmp}/o"], "missing required column 'ts'"),
        (["detect", "{tmp}/empty.csv", "--out", "{tmp}/o"], "file is empty"),
        (
            ["detect", "{tmp}/nots.csv", "--out", "{tmp}/o", "--config", "{tmp}/bad.toml"],
            "unknown key 'link.hub_cpa'",
        ),
        (
            ["detect", "{tmp}/nots.csv", "--out", "{tmp}/o", "--config", "{tmp}/type.toml"],
            "link.hub_cap must be an integer",
        ),
        # an optional column renamed on purpose and missing: a mistake, not an absence
        (
            ["detect", "{tmp}/good.csv", "--out", "{tmp}/o", "--config", "{tmp}/map.toml"],
            "missing column 'client_ip' named in columns.ip",
        ),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    (tmp_path / "events.txt").write_text("hello")
    (tmp_path / "empty.csv").write_text("")
    hand_events().drop(columns=["ts"]).to_csv(tmp_path / "nots.csv", index=False)
    (tmp_path / "bad.toml").write_text("[link]\nhub_cpa = 3\n")
    (tmp_path / "type.toml").write_text("[link]\nhub_cap = 'many'\n")
    (tmp_path / "map.toml").write_text("[columns]\nip = 'client_ip'\n")
    hand_events().to_csv(tmp_path / "good.csv", index=False)
    code, stdout, stderr = _invoke(*[a.format(tmp=tmp_path) for a in args])
    assert code == 2
    # log lines may come first; the error is one line, and the last
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if "error" in line]
    assert errors == [lines[-1]], stderr
    assert lines[-1].startswith("sybilgraph: error: ")
    assert expected in lines[-1]
    assert "Traceback" not in stderr + stdout
    # the output folder the failed run would have made is not left behind, empty
    assert not (tmp_path / "o").exists()


def test_every_command_has_help() -> None:
    for name, command in main.commands.items():
        assert command.help, name
        code, stdout, _ = _invoke(name, "--help")
        assert code == 0
        assert "Usage:" in stdout


def test_python_m_runs_the_cli() -> None:
    # the Hop runner calls ``python -m sybilgraph`` with the checkout on PYTHONPATH
    done = subprocess.run(
        [sys.executable, "-m", "sybilgraph", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and "detect" in done.stdout


def test_impossible_setting_exits_2_in_one_line(hand_csv: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[link]\nhub_c = inf\n")  # was pasted into the SQL: exit 1
    out = tmp_path / "o"
    code, stdout, stderr = _invoke(
        "detect", str(hand_csv), "--out", str(out), "--config", str(config)
    )
    assert code == 2
    assert stderr.strip().splitlines() == [
        f"sybilgraph: error: {config}: link.hub_c must be a finite number, not inf"
    ]
    assert "Traceback" not in stdout
    assert not out.exists()


def test_an_error_naming_a_line_break_is_one_line_and_whole(tmp_path: Path) -> None:
    # the error was cut at the line break a file or column name held: "in/bad" alone,
    # "(has: account_id, t" without the rest of the columns
    empty = tmp_path / "bad\nname.csv"
    empty.write_text("")
    code, _, stderr = _invoke("detect", str(empty), "--out", str(tmp_path / "r1"))
    assert code == 2
    assert stderr.strip().splitlines() == [
        f"sybilgraph: error: {tmp_path}/bad\u2424name.csv: file is empty"
    ]
    columns = tmp_path / "columns.csv"
    columns.write_text('account_id,"t\ns",ip\nu1,2026-04-14T00:00:00Z,1.2.3.4\n')
    code, _, stderr = _invoke("detect", str(columns), "--out", str(tmp_path / "r2"))
    assert code == 2
    (line,) = [x for x in stderr.strip().splitlines() if "error" in x]
    assert line.endswith("missing required column 'ts' (has: account_id, t\u2424s, ip)")


def test_a_labels_option_naming_no_file_is_refused(hand_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    code, _, stderr = _invoke(
        "detect", str(hand_csv), "--labels", str(tmp_path / "none.csv"), "--out", str(out)
    )
    assert code == 2
    assert "labels" in stderr and "no such file" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("stop", "code", "said"),
    [("SIGTERM", 143, "terminated (SIGTERM)"), ("SIGINT", 130, "interrupted")],
)
def test_a_stopped_run_cleans_up_and_says_so_in_one_line(
    tmp_path: Path, stop: str, code: int, said: str
) -> None:
    # a scheduler stops a job with SIGTERM: it ended the process at once, leaving
    # DuckDB's spill folder and the hidden working folder behind; Ctrl-C inside a DuckDB
    # statement came out as an internal error
    import os
    import signal
    import time

    sample = Path(__file__).resolve().parents[1] / "data" / "samples" / "week" / "events.csv"
    spill_parent = tmp_path / "tmp"
    spill_parent.mkdir()
    out = tmp_path / "out"
    env = {**os.environ, "TMPDIR": str(spill_parent), "SYBILGRAPH_SECRET": "x"}
    run = subprocess.Popen(
        [sys.executable, "-m", "sybilgraph", "-q", "detect", str(sample), "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(spill_parent.glob("sybilgraph-duckdb-*")) and run.poll() is None:
        assert time.monotonic() < deadline, "the run made no spill folder"
        time.sleep(0.02)
    run.send_signal(getattr(signal, stop))
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == code
    assert stderr.strip().splitlines() == [f"sybilgraph: error: {said}"]
    assert list(spill_parent.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.partial")] == []
    assert not out.exists()


def test_paths_the_system_refuses_are_one_line_errors(hand_csv: Path, tmp_path: Path) -> None:
    # a page or labels file asked for under a regular file, an --out that is a link to
    # itself: the user's to change, named in one line (before: internal errors)
    out = tmp_path / "out"
    assert _invoke("detect", str(hand_csv), "--out", str(out))[0] == 0
    cluster = next(p.stem for p in (out / "clusters").glob("C*.html"))
    afile = tmp_path / "afile"
    afile.write_text("mine")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for args, expected in [
        (["view", str(out), cluster, "--out", str(afile / "x.html")], f"{afile}: File exists"),
        (["label", str(out), cluster, "sybil", "--labels", str(afile / "l.csv")], str(afile)),
        (["detect", str(hand_csv), "--out", str(loop)], "points back to itself"),
    ]:
        code, _, stderr = _invoke(*args)
        assert code == 2 and "internal error" not in stderr, stderr
        assert stderr.strip().splitlines()[-1].startswith("sybilgraph: error: ")
        assert expected in stderr
    assert afile.read_text() == "mine"


@pytest.mark.parametrize(
    ("name", "damage", "command"),
    [
        ("run.json", "{", ["view", "{out}", "{cluster}", "--out", "{tmp}/v.html"]),
        (
            "run.json",
            '{"rows": null, "config": 5}',
            ["casefile", "{out}", "{cluster}", "--out", "{tmp}/c.html"],
        ),
        (
            "run.json",
            '{"config": {"privacy": []}}',
            ["view", "{out}", "{cluster}", "--out", "{tmp}/v.html"],
        ),
        ("links.parquet", "junk", ["explain", "{out}", "a1", "a2"]),
        ("clusters.csv", "cluster_id,rank\n", ["evaluate", "{out}", "--truth", "{tmp}/t.csv"]),
        ("accounts.csv", "account_id\nx\n", ["explain", "{out}", "a1", "a2"]),
        ("values.parquet", "junk", ["view", "{out}", "{cluster}", "--out", "{tmp}/v.html"]),
        # a score of "abc" was an internal error; a flag of "maybe" counted as flagged
        (
            "clusters.csv",
            "cluster_id,rank,score,flagged,reasons\nC1,1,abc,True,x\n",
            ["casefile", "{out}", "top", "--out", "{tmp}/c.html"],
        ),
        (
            "accounts.csv",
            "account_id,cluster_id,flagged,score\na1,C1,maybe,0.5\n",
            ["evaluate", "{out}", "--truth", "{tmp}/t.csv"],
        ),
    ],
)
def test_a_damaged_run_folder_is_named_in_one_line(
    hand_csv: Path, tmp_path: Path, name: str, damage: str, command: list[str]
) -> None:
    # a table cut short, overwritten or edited by hand (before: internal errors)
    out = tmp_path / "out"
    assert _invoke("detect", str(hand_csv), "--out", str(out))[0] == 0
    cluster = next(p.stem for p in (out / "clusters").glob("C*.html"))
    (tmp_path / "t.csv").write_text("account_id,label,group\na1,sybil,a\n")
    (out / name).write_text(damage)
    code, _, stderr = _invoke(*[a.format(out=out, cluster=cluster, tmp=tmp_path) for a in command])
    assert code == 2 and "internal error" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith(f"sybilgraph: error: {out / name}: damaged")


def test_the_datas_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    # an account id holding ESC [ 2 J would clear the investigator's screen when
    # explain prints it
    odd = "r\x1b[2J\x9b1\n\u202eexe.txt"
    rows = [
        (name, f"2026-04-13T{hour:02d}:00:00Z", "10.0.0.1", "pm_1")
        for hour in range(4)
        for name in (odd, "r2")
    ]
    events = tmp_path / "events.csv"
    pd.DataFrame(rows, columns=["account_id", "ts", "ip", "payment_id"]).to_csv(events, index=False)
    out = tmp_path / "out"
    assert _invoke("detect", str(events), "--out", str(out))[0] == 0
    code, stdout, stderr = _invoke("explain", str(out), odd, "r2")
    assert code == 0, stderr
    assert "\x1b" not in stdout and "\x9b" not in stdout
    # nor a line break, nor a mark that shows the text after it reversed
    assert "r\u241b[2J\ufffd1\u240a\ufffdexe.txt and r2 are linked" in stdout
    assert "\u202e" not in stdout
