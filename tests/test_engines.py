"""DuckDB's errors that a user can act on."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sybilgraph.config import Config, EngineConfig
from sybilgraph.engines import Engine, make_engine
from sybilgraph.engines.dialect import WHITE_SPACE
from sybilgraph.engines.sources import discover
from sybilgraph.errors import ConfigError, InputError, ResourceError
from sybilgraph.stages.load import load
from tests.loaded import with_texts


class _Failing:
    """A stand-in DuckDB connection whose every statement fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def execute(self, sql: str) -> None:
        raise self.error


def test_full_spill_disk_is_a_resource_error_naming_the_folder(tmp_path: Path) -> None:
    import duckdb

    engine = make_engine(EngineConfig(name="duckdb", temp_directory=str(tmp_path)))
    real = engine.con  # type: ignore[attr-defined]
    try:
        full = duckdb.IOException('IO Error: Could not write file "s.tmp": No space left on device')
        engine.con = _Failing(full)  # type: ignore[attr-defined]
        with pytest.raises(ResourceError, match="no space left on the disk DuckDB spills to") as e:
            engine.execute("SELECT 1")
        assert str(tmp_path) in str(e.value) and "engine.temp_directory" in str(e.value)
        # any other IO error stays DuckDB's own
        engine.con = _Failing(duckdb.IOException("IO Error: Permission denied"))  # type: ignore[attr-defined]
        with pytest.raises(duckdb.IOException):
            engine.execute("SELECT 1")
    finally:
        engine.con = real  # type: ignore[attr-defined]
        engine.close()


def test_a_memory_limit_too_small_to_run_a_query_is_a_setting_error(tmp_path: Path) -> None:
    # DuckDB takes "1KB", then fails the first query (before: an internal error)
    with pytest.raises(ConfigError, match=r"engine.memory_limit = '1KB': too small"):
        make_engine(EngineConfig(name="duckdb", memory_limit="1KB", temp_directory=str(tmp_path)))


_HANDS_BACK = """
import sys, time
from sybilgraph.config import EngineConfig
from sybilgraph.engines import make_engine

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) >> 10 for l in status if l.startswith("VmRSS"))

engine = make_engine(EngineConfig(name="duckdb", temp_directory=sys.argv[1]))
start = rss_mb()
engine.execute("CREATE TABLE t AS SELECT range AS a, range * 2 AS b, range * 3 AS c "
               "FROM range(20000000)")
held = rss_mb() - start
engine.drop("t")
for _ in range(100):
    engine.scalar("SELECT 1")
    if rss_mb() - start < held / 4:
        break
    time.sleep(0.2)
print(held, rss_mb() - start)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_memory_of_a_dropped_table_is_handed_back(tmp_path: Path) -> None:
    # DuckDB kept it, and the graph and pages were built on top of it (1.5M realistic
    # events: a peak of 3.3 to 3.4 GiB where 2.9 GiB is needed)
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _HANDS_BACK, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    held, left = (int(n) for n in done.stdout.split())
    assert held > 300, done.stdout  # the table took memory: 480 MB of numbers
    assert left < held / 4, done.stdout


def _limit_gib(engine: object) -> float:
    ((shown,),) = engine.con.execute("SELECT current_setting('memory_limit')").fetchall()  # type: ignore[attr-defined]
    number, unit = str(shown).split()
    return float(number) / {"MiB": 1024, "GiB": 1}[unit]


def test_room_made_for_arrays_lowers_the_limit_for_a_while(tmp_path: Path) -> None:
    engine = make_engine(
        EngineConfig(name="duckdb", memory_limit="4GiB", temp_directory=str(tmp_path))
    )
    try:
        engine.execute("CREATE TABLE t AS SELECT range AS i FROM range(100000)")
        with engine.room_for(1 << 30):
            assert _limit_gib(engine) == pytest.approx(3.0, abs=0.05)
            assert engine.arrow("SELECT count(*) AS n FROM t").column("n")[0].as_py() == 100000
        assert _limit_gib(engine) == pytest.approx(4.0, abs=0.05)
        # never below half the limit, and set back when the work inside fails
        with pytest.raises(RuntimeError), engine.room_for(10 << 30):
            assert _limit_gib(engine) == pytest.approx(2.0, abs=0.05)
            raise RuntimeError("inside")
        assert _limit_gib(engine) == pytest.approx(4.0, abs=0.05)
        with engine.room_for(0):
            assert _limit_gib(engine) == pytest.approx(4.0, abs=0.05)
        # while the caller runs no statement, the engine gives up what it holds, to
        # 64 MiB at the least
        with engine.room_for(10 << 30, idle=True):
            assert _limit_gib(engine) * 1024 == pytest.approx(64, abs=1)
        assert _limit_gib(engine) == pytest.approx(4.0, abs=0.05)
    finally:
        engine.close()


def _buffers(engine: object) -> int:
    """The bytes DuckDB's buffers hold."""
    ((held,),) = engine.con.execute(  # type: ignore[attr-defined]
        "SELECT sum(memory_usage_bytes) FROM duckdb_memory()"
    ).fetchall()
    return int(held)


def test_room_made_while_idle_is_taken_from_what_the_engine_holds(tmp_path: Path) -> None:
    # far under its limit, the engine gives up what the caller takes of what it holds
    # (the graph built beside 0.96 GB of tables, under a limit of 4 GB)
    engine = make_engine(
        EngineConfig(name="duckdb", memory_limit="4GiB", temp_directory=str(tmp_path))
    )
    try:
        engine.execute("CREATE TABLE t AS SELECT range AS i FROM range(40000000)")  # 320 MB
        held = _buffers(engine)
        assert held > 300 << 20
        with engine.room_for(100 << 20, idle=True):
            lowered = _limit_gib(engine) * (1 << 30)
            assert lowered == pytest.approx(held - (100 << 20), rel=0.02)
            left = _buffers(engine)
            assert left <= lowered  # the rest went to disk
        assert _limit_gib(engine) == pytest.approx(4.0, abs=0.05)
        assert engine.scalar("SELECT sum(i) FROM t") == 40000000 * 39999999 // 2
        # while statements run it keeps half its limit: 2 GiB are left it here
        with engine.room_for(3 << 30):
            assert _limit_gib(engine) == pytest.approx(2.0, abs=0.05)
    finally:
        engine.close()


def test_room_the_engine_cannot_wholly_make_is_made_as_far_as_it_can(tmp_path: Path) -> None:
    # a spill folder of 100 MB: of a 320 MB table the engine cannot go down to 64 MiB.
    # It goes to the least limit it can reach, doubling (the limit was kept whole: at
    # 30M realistic events 4 GB stayed beside the graph)
    engine = make_engine(
        EngineConfig(name="duckdb", memory_limit="4GiB", temp_directory=str(tmp_path))
    )
    try:
        engine.execute("CREATE TABLE t AS SELECT range AS i FROM range(40000000)")
        engine.execute("SET max_temp_directory_size = '100MB'")
        with engine.room_for(10 << 30, idle=True):
            lowered = round(_limit_gib(engine) * 1024)
            assert 64 < lowered < 4096, lowered
            assert lowered & (lowered - 1) == 0, lowered  # 64 MiB doubled
            assert _buffers(engine) <= lowered << 20
        assert _limit_gib(engine) == pytest.approx(4.0, abs=0.05)
        assert engine.scalar("SELECT sum(i) FROM t") == 40000000 * 39999999 // 2
    finally:
        engine.close()


def test_spill_folders_of_killed_runs_are_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys
    import tempfile

    # a run killed outright (SIGKILL, the kernel out of memory) cleans nothing up: the
    # next engine deletes the spill folders whose process is gone, and only those
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = tmp_path / f"sybilgraph-duckdb-{int(gone.stdout)}-abc"
    live = tmp_path / f"sybilgraph-duckdb-{os.getppid()}-def"
    unnamed = tmp_path / "sybilgraph-duckdb-xyz"
    other = tmp_path / f"other-{int(gone.stdout)}-abc"
    for folder in (dead, live, unnamed, other):
        folder.mkdir()
        (folder / "duckdb_temp_storage.tmp").write_bytes(b"x" * 1024)
    engine = make_engine(EngineConfig(name="duckdb"))
    try:
        spills = sorted(p.name for p in tmp_path.iterdir())
        assert not dead.exists()
        assert live.exists() and unnamed.exists() and other.exists()
        # its own folder is named with its process id
        assert f"sybilgraph-duckdb-{os.getpid()}-" in " ".join(spills)
    finally:
        engine.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, unnamed.name, other.name]
    )


def test_a_time_offset_past_18_hours_is_read_by_no_engine(engine: Engine, tmp_path: Path) -> None:
    # DuckDB read "-25:00" as it is and moved the time by a day; Spark reads no such time
    texts = [
        "2026-04-13T02:00:00+02:00",
        "2026-04-13T18:00:00+18:00",
        "2026-04-13T00:00:00.5-0530",
        "2026-04-13T00:00:00-25:00",
        "2026-04-13T00:00:00+99:00",
        "2026-04-13T00:00:00+05:75",
        "2026-04-13T00:00:00+18:30",
    ]
    path = tmp_path / "events.csv"
    path.write_text("account_id,ts\n" + "".join(f"a{i},{t}\n" for i, t in enumerate(texts)))
    loaded = load(engine, discover([path]), Config())
    events = engine.arrow(f"SELECT account_id, ts FROM {loaded.events}").to_pylist()
    assert {e["account_id"]: e["ts"].isoformat() for e in events} == {
        "a0": "2026-04-13T00:00:00",
        "a1": "2026-04-13T00:00:00",
        "a2": "2026-04-13T05:30:00.500000",
    }
    rejects = engine.arrow(f"SELECT account_id, reason FROM {loaded.rejects}").to_pylist()
    assert sorted((r["account_id"], r["reason"]) for r in rejects) == [
        (f"a{i}", f"unparseable ts: {texts[i]}") for i in range(3, 7)
    ]


def test_rfc_3339_lowercase_t_and_z_are_read_by_every_engine(
    engine: Engine, tmp_path: Path
) -> None:
    # RFC 3339 allows "t" and "z" in lower case; both engines refused them as unparseable
    texts = [
        "2026-04-13t10:00:00z",
        "2026-04-13T10:00:00z",
        "2026-04-13t12:00:00+02:00",
        "2026-04-13 10:00:00.250z",
        "2026-04-13x10:00:00z",
    ]
    path = tmp_path / "events.csv"
    path.write_text("account_id,ts\n" + "".join(f"a{i},{t}\n" for i, t in enumerate(texts)))
    loaded = load(engine, discover([path]), Config())
    events = engine.arrow(f"SELECT account_id, ts FROM {loaded.events}").to_pylist()
    assert {e["account_id"]: e["ts"].isoformat() for e in events} == {
        "a0": "2026-04-13T10:00:00",
        "a1": "2026-04-13T10:00:00",
        "a2": "2026-04-13T10:00:00",
        "a3": "2026-04-13T10:00:00.250000",
    }
    rejects = engine.arrow(f"SELECT account_id, reason FROM {loaded.rejects}").to_pylist()
    assert [(r["account_id"], r["reason"]) for r in rejects] == [
        ("a4", "unparseable ts: 2026-04-13x10:00:00z")
    ]


def test_the_white_space_trimmed_is_what_python_strips() -> None:
    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == WHITE_SPACE


def test_white_space_of_every_kind_around_a_value_is_trimmed_by_every_engine(
    engine: Engine, tmp_path: Path
) -> None:
    # the engines' own trim takes spaces alone: an account id of a carriage return was
    # an account, and a tab before a time made it unparseable
    ids = ["\r", " a1\t", "\u3000a2\u2003", "\x1fa3\x85", "a 4", "\n\xa0"]
    path = tmp_path / "events.parquet"
    pq.write_table(
        pa.table(
            {
                "account_id": ids,
                "ts": ["\t2026-04-13T10:00:00Z\r\n"] * len(ids),
                "payment_id": ["\u2028pm_1 "] * len(ids),
            }
        ),
        path,
    )
    loaded = load(engine, discover([path]), Config())
    events = engine.arrow(
        f"SELECT account_id, ts, payment_id FROM {loaded.events} ORDER BY account_id"
    ).to_pylist()
    assert [(e["account_id"], e["ts"].isoformat(), e["payment_id"]) for e in events] == [
        ("a 4", "2026-04-13T10:00:00", "pm_1"),
        ("a1", "2026-04-13T10:00:00", "pm_1"),
        ("a2", "2026-04-13T10:00:00", "pm_1"),
        ("a3", "2026-04-13T10:00:00", "pm_1"),
    ]
    row = engine.dialect.quote_ident("row")
    rejects = engine.arrow(f"SELECT {row}, reason FROM {loaded.rejects} ORDER BY {row}")
    assert rejects.to_pylist() == [
        {"row": 1, "reason": "missing account_id"},
        {"row": 6, "reason": "missing account_id"},
    ]


def test_nested_parquet_values_are_read_as_the_json_a_jsonl_file_holds(
    engine: Engine, tmp_path: Path
) -> None:
    # a prompt stored as chat messages: DuckDB read "[{'role': user, ...}]" and Spark
    # "[{user, ...}]" from one Parquet file, and neither matched the same rows in JSONL
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {
            "account_id": f"a{i}",
            "ts": "2026-04-13T10:00:00Z",
            "prompt": [
                {"role": "system", "content": 'You are "exact", é'},
                {"role": "user", "content": f"question {i}", "name": None},
            ],
            "meta": {"k": i, "tags": ["x", "y"]},
        }
        for i in range(3)
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "events.parquet")
    (tmp_path / "events.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows),
        encoding="utf-8",
    )
    config = Config.from_dict({"columns": {"extra_keys": ["meta"]}})
    read = {}
    for name in ("events.parquet", "events.jsonl"):
        loaded = load(engine, discover([tmp_path / name]), config)
        table = engine.arrow(f"SELECT account_id, prompt, extra_0 FROM {with_texts(loaded)}")
        read[name] = sorted(tuple(r.values()) for r in table.to_pylist())
    assert read["events.parquet"][0] == (
        "a0",
        '[{"role":"system","content":"You are \\"exact\\", é","name":null},'
        '{"role":"user","content":"question 0","name":null}]',
        '{"k":0,"tags":["x","y"]}',
    )
    # the JSONL rows hold no "name" in the first message: the struct has it as null
    assert [r[2] for r in read["events.parquet"]] == [r[2] for r in read["events.jsonl"]]


def test_typed_parquet_columns_are_read_as_one_text_by_every_engine(
    engine: Engine, tmp_path: Path
) -> None:
    # a prompt stored as bytes (some writers leave out the UTF-8 mark) was "hello
    # \\xC3\\xA9" on DuckDB and "hello é" on Spark; the other types read alike
    import datetime as dt
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    at = dt.datetime(2026, 4, 13, 10, 0, 0, 123456, tzinfo=dt.UTC)
    table = pa.table(
        {
            "account_id": pa.array([7, 2**40], pa.int64()),
            "ts": pa.array([at, at], pa.timestamp("us", tz="UTC")),
            "payment_id": pa.array([decimal.Decimal("12.50")] * 2, pa.decimal128(10, 2)),
            "prompt": pa.array(["hello é".encode(), None], pa.binary()),
            "flag": pa.array([True, None]),
            "day": pa.array([dt.date(2026, 4, 13)] * 2, pa.date32()),
        }
    )
    pq.write_table(table, tmp_path / "events.parquet")
    config = Config.from_dict({"columns": {"extra_keys": ["flag", "day"]}})
    loaded = load(engine, discover([tmp_path / "events.parquet"]), config)
    rows = engine.arrow(
        f"SELECT account_id, ts, payment_id, prompt, extra_0, extra_1 FROM {with_texts(loaded)} "
        "ORDER BY account_id"
    ).to_pylist()
    assert [tuple(r.values()) for r in rows] == [
        ("1099511627776", at.replace(tzinfo=None), "12.50", None, None, "2026-04-13"),
        ("7", at.replace(tzinfo=None), "12.50", "hello é", "true", "2026-04-13"),
    ]


def test_a_stop_as_the_spill_folder_is_made_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a SIGTERM that landed between the folder being made and its deletion being
    # registered left the folder behind (a stopped-run test caught it now and then)
    import signal
    import tempfile

    class Stopped(Exception):
        pass

    def stop(signum: int, frame: object) -> None:
        raise Stopped

    made = tempfile.mkdtemp

    def mkdtemp(*args: object, **kwargs: object) -> str:
        path = made(*args, **kwargs)  # type: ignore[call-overload]
        os.kill(os.getpid(), signal.SIGTERM)  # the stop lands as the folder appears
        return str(path)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    before = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(Stopped):
            make_engine(EngineConfig())
    finally:
        signal.signal(signal.SIGTERM, before)
    assert list(tmp_path.iterdir()) == []


def test_a_quote_never_closed_loses_no_row_on_any_engine(engine: Engine, tmp_path: Path) -> None:
    # Spark read the lines after the quote as one broken record and dropped them unsaid
    # (1 of 4 rows used, 3 gone); DuckDB rejects the row alone
    path = tmp_path / "events.csv"
    path.write_text(
        "account_id,ts\na1,2026-04-13T00:00:00Z\n"
        'a2,"2026-04-13T00:00:01Z\na3,2026-04-13T00:00:02Z\na4,2026-04-13T00:00:03Z\n'
    )
    if engine.name == "duckdb":
        loaded = load(engine, discover([path]), Config())
        assert (loaded.stats.read, loaded.stats.used, loaded.stats.rejected) == (4, 3, 1)
        return
    with pytest.raises(InputError) as caught:
        load(engine, discover([path]), Config())
    assert str(caught.value).startswith(f"{path}, row 3: a quote never closed on this line")


def test_a_time_of_epoch_seconds_as_a_float_is_read_by_every_engine(
    engine: Engine, tmp_path: Path
) -> None:
    # Spark wrote a double as 1.77603847425E9 and rejected every row as unparseable
    path = tmp_path / "events.parquet"
    seconds = [1776038474.25, 1776038400.0, 1776038474.5]
    pq.write_table(pa.table({"account_id": ["a0", "a1", "a2"], "ts": seconds}), path)
    loaded = load(engine, discover([path]), Config())
    events = engine.arrow(f"SELECT account_id, ts FROM {loaded.events}").to_pylist()
    assert {e["account_id"]: e["ts"].isoformat() for e in events} == {
        "a0": "2026-04-13T00:01:14.250000",
        "a1": "2026-04-13T00:00:00",
        "a2": "2026-04-13T00:01:14.500000",
    }


@pytest.mark.parametrize("chunk", [1, 2, 5, 1 << 20])
def test_the_line_of_a_quote_left_open_is_found_across_chunks(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip

    from sybilgraph.engines import csvrepair

    monkeypatch.setattr(csvrepair, "_CHUNK", chunk)
    cases = {
        'a,b\n1,"x ""y"" z"\n2,"two\nlines"\n': None,  # every quote closes
        'a,b\n1,x\n2,"open\n3,y\n4,z\n': 3,  # rows 3 and 4 would be taken into it
        'a,b\n1,x\n2,"open\n': None,  # open on the last row: no row after it lost
        'a,b\n2,"open\n\n\n': None,
        'a,b\n1,"x\n2,y\n3,"z\n4,w\n': None,  # two open quotes pair up: not found
        'a,b\n1,5" screen\n2,y\n': None,  # a quote inside a value opens nothing
        'a,b\n1,"a ""b"" c"\n2,\t"open\n3,y\n': None,  # a tab before: inside the value
    }
    for index, (text, line) in enumerate(cases.items()):
        plain = tmp_path / f"{index}.csv"
        plain.write_text(text)
        packed = tmp_path / f"{index}.csv.gz"
        packed.write_bytes(gzip.compress(text.encode()))
        assert csvrepair.open_quote_line(plain) == csvrepair.open_quote_line(packed) == line
    tabbed = tmp_path / "events.tsv"
    tabbed.write_text('a\tb\n1\t"open\n3\ty\n')
    assert csvrepair.open_quote_line(tabbed, csvrepair.csv_delimiter(tabbed)) == 2


def test_a_view_made_again_keeps_the_tables_made_anew_for_it(engine: Engine) -> None:
    # A stage run twice on one engine makes its tables anew under the same names, then
    # its view again: replacing the view dropped the tables it held by those names,
    # the new ones (observe run twice: "Table with name prompt_fp does not exist")
    for run in (1, 2):
        engine.store("held_part", pa.table({"x": pa.array([run], pa.int64())}))
        engine.store(f"held_once_{run}", pa.table({"y": pa.array([run], pa.int64())}))
        engine.create_view(
            "held_view",
            f"SELECT x, y FROM held_part, held_once_{run}",
            holds=["held_part", f"held_once_{run}"],
        )
        assert engine.arrow("SELECT x, y FROM held_view").to_pylist() == [{"x": run, "y": run}]
    # what the first view alone held went with it
    assert engine.count("held_part") == engine.count("held_once_2") == 1
    with pytest.raises(Exception):  # noqa: B017 - each engine says so its own way
        engine.count("held_once_1")
    engine.drop("held_view")
    with pytest.raises(Exception):  # noqa: B017
        engine.count("held_part")


def test_batches_stream_the_result_in_order_with_its_types(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Spark's batches were the whole result collected as one Arrow table, then sliced:
    # the driver held every distinct prompt of a log at once (tier 1)
    engine.store(
        "streamed",
        pa.table(
            {
                "n": pa.array(range(100), pa.int64()),
                "text": pa.array([f"t{i}" if i % 4 else None for i in range(100)]),
                "flag": pa.array([i % 3 == 0 for i in range(100)]),
                "x": pa.array([i / 4 for i in range(100)]),
            }
        ),
    )
    sql = (
        "SELECT n, text, flag, x, TIMESTAMP '2026-04-13 10:00:00' AS ts FROM streamed "
        "ORDER BY n DESC"
    )
    whole = engine.arrow(sql)

    def collected(sql: str) -> pa.Table:
        raise AssertionError("the whole result was collected")

    monkeypatch.setattr(engine, "arrow", collected)
    # a sorted result lies in several partitions on Spark: batches span them
    batches = list(engine.batches(sql, 7))
    assert max(b.num_rows for b in batches) <= 7
    assert sum(b.num_rows for b in batches) == 100
    streamed = pa.Table.from_batches(batches)
    assert streamed.schema == whole.schema
    assert streamed.to_pylist() == whole.to_pylist()


def test_rows_inserted_are_read_by_every_later_statement(engine: Engine) -> None:
    # what tier 1 and link's slices ask of an insert, on each engine: a narrower type
    # widened, the table's own rows read back, a rename and a drop after inserts
    engine.store("grown", pa.table({"n": pa.array([1], pa.int64()), "s": ["a"]}))
    engine.insert("grown", "SELECT CAST(2 AS INT), 'b'")  # a narrower type, widened
    engine.insert("grown", "SELECT n + 10, s FROM grown")  # reads the rows inserted
    assert engine.count("grown") == 4
    engine.insert("grown", "SELECT 100, 'z'")
    rows = engine.arrow("SELECT n, s FROM grown ORDER BY n").to_pylist()
    assert rows == [
        {"n": 1, "s": "a"},
        {"n": 2, "s": "b"},
        {"n": 11, "s": "a"},
        {"n": 12, "s": "b"},
        {"n": 100, "s": "z"},
    ]
    engine.insert("grown", "SELECT 200, 'y'")
    engine.rename("grown", "grown_again")
    assert engine.scalar("SELECT max(n) FROM grown_again") == 200
    engine.insert("grown_again", "SELECT 300, 'x'")
    engine.drop("grown_again")  # with rows inserted and never read
    engine.store("grown_again", pa.table({"n": pa.array([7], pa.int64()), "s": ["q"]}))
    assert engine.arrow("SELECT n FROM grown_again").to_pylist() == [{"n": 7}]
    # a table's name inside another's is not that table
    engine.store("grown_again_too", pa.table({"n": pa.array([8], pa.int64())}))
    engine.insert("grown_again", "SELECT n, 'r' FROM grown_again_too")
    assert engine.count("grown_again") == 2


def test_a_table_written_sorted_in_parts_is_the_whole_table_in_order(
    engine: Engine, tmp_path: Path
) -> None:
    # links.parquet: the links cut into parts by their first account, each part sorted
    # on its own; a value's rows stay in one part however many they are
    firsts = ["d", "b", "a", "c", "b", "e", "a", "b", "b", "b", "é", "a'; --", "ab"]
    engine.store(
        "unsorted",
        pa.table(
            {
                "a": firsts,
                "b": [f"x{(i * 7) % 13}" for i in range(len(firsts))],
                "n": pa.array(range(len(firsts)), pa.int64()),
                "text": [None if i % 5 == 0 else f"t{i}" for i in range(len(firsts))],
            }
        ),
    )
    whole = engine.arrow("SELECT * FROM unsorted ORDER BY a, b").to_pylist()
    for part_rows in (1, 2, 4, 100):
        out = tmp_path / f"sorted-{part_rows}.parquet"
        engine.write_sorted_parquet("unsorted", ("a", "b"), out, part_rows=part_rows)
        written = pq.read_table(out)
        assert written.to_pylist() == whole
        assert written.schema.field("n").type == pa.int64()
        if part_rows == 2:  # parts were made, each sorted alone
            assert pq.ParquetFile(out).metadata.num_row_groups > 1
    assert engine.count("unsorted") == len(firsts)  # the cut points are gone, not the table
    engine.store(
        "nothing", pa.table({"a": pa.array([], pa.string()), "w": pa.array([], pa.float64())})
    )
    empty = tmp_path / "empty.parquet"
    engine.write_sorted_parquet("nothing", ("a",), empty)
    assert pq.read_table(empty).num_rows == 0
    assert pq.read_schema(empty).names == ["a", "w"]
    engine.store("holes", pa.table({"a": ["x", None]}))
    with pytest.raises(ValueError, match="holds NULL"):
        engine.write_sorted_parquet("holes", ("a",), tmp_path / "holes.parquet")


def test_a_numbered_table_names_each_row_once_and_keeps_the_names(engine: Engine) -> None:
    # the distinct prompts' places: a number per row, unique, the same at every read and
    # in a join, the first column; dropped whole with its name
    engine.store("texts", pa.table({"text": [f"t{i % 50}" for i in range(200)]}))
    engine.create_numbered_table("numbered", "SELECT DISTINCT text FROM texts", "pos")
    first = engine.arrow("SELECT * FROM numbered").to_pylist()
    assert list(first[0]) == ["pos", "text"]
    assert len({row["pos"] for row in first}) == len(first) == 50
    again = engine.arrow("SELECT pos, text FROM numbered ORDER BY text").to_pylist()
    assert sorted(first, key=lambda row: row["text"]) == again
    engine.store("wanted", pa.table({"pos": [first[3]["pos"], first[40]["pos"]]}))
    joined = engine.arrow(
        "SELECT n.text FROM wanted w JOIN numbered n ON n.pos = w.pos ORDER BY n.text"
    ).column(0)
    assert joined.to_pylist() == sorted([first[3]["text"], first[40]["text"]])
    engine.drop("numbered")
    left = engine.arrow("SELECT * FROM texts LIMIT 0")  # the engine still answers
    assert left.column_names == ["text"]
    with pytest.raises(Exception):  # noqa: B017 - each engine says so its own way
        engine.count("numbered")
