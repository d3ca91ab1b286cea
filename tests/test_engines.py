"""What every engine does alike: tables cut to rows and columns."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sybilgraph.engines.base import Engine

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
