"""What the engines do alike (tables cut to rows and columns), and DuckDB's errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from sybilgraph.config import EngineConfig
from sybilgraph.engines import make_engine
from sybilgraph.engines.base import Engine
from sybilgraph.errors import ResourceError

ROWS = pa.table(
    {
        "a": [1, 2, 3, 4],
        "gone": ["w", "x", "y", "z"],
        "b": ["p", "q", None, "r"],
        "reason": [None, "bad", None, None],
    }
)
# row 2 has a reason; row 3's test is NULL (b is NULL), which keeps no row either
WHERE = "reason IS NULL AND b <> 'q'"


@pytest.mark.parametrize("columns", [["a", "b"], ["b", "a"]])
def test_keep_rows_cuts_rows_and_columns(engine: Engine, columns: list[str]) -> None:
    # ["a", "b"] keeps the table's own order (DuckDB cuts it in place); ["b", "a"]
    # does not (a copy)
    engine.store("cut_me", ROWS)
    engine.keep_rows("cut_me", WHERE, columns, "kept")
    kept = engine.arrow("SELECT * FROM kept")
    assert kept.column_names == columns
    assert sorted(kept.to_pylist(), key=lambda r: r["a"]) == [
        {"a": 1, "b": "p"},
        {"a": 4, "b": "r"},
    ]
    with pytest.raises(Exception):  # noqa: B017 - each engine raises its own kind
        engine.arrow("SELECT * FROM cut_me")


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
