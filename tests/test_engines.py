"""DuckDB's errors that a user can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from sybilgraph.config import EngineConfig
from sybilgraph.engines import make_engine
from sybilgraph.errors import ResourceError


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
