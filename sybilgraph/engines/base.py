"""The small interface every engine fills in.

Stage SQL is written once, in the subset of SQL that DuckDB and Spark SQL share; what
differs between the dialects (reading files, parsing timestamps, list aggregation) is a
method here, implemented once per engine.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from sybilgraph.engines.sources import Source

__all__ = ["Engine"]

log = logging.getLogger(__name__)


class Engine(ABC):
    """A SQL engine holding the run's tables."""

    name: str = "engine"
    #: rows an aggregate with string or list states (evidence samples) may take in one
    #: statement; larger inputs are folded in slices (``link.slices``). 0: no limit
    fold_rows: int = 0

    # -- reading -----------------------------------------------------------------

    @abstractmethod
    def source_columns(self, source: Source) -> list[str]:
        """The column names of one input file."""

    @abstractmethod
    def read_source(self, source: Source, table: str, select: str) -> list[tuple[int, str]]:
        """Create ``table`` from one input file with every column read as text.

        ``select`` is a select list over the file's columns. The table gets two more
        columns: ``_row`` (1-based data row) and ``_file``. Returns the lines the reader
        could not parse at all, as ``(line, reason)``.
        """

    # -- SQL ---------------------------------------------------------------------

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing."""

    def create_table(self, name: str, sql: str) -> None:
        """Materialise a query as a table, replacing any table of that name.

        Each table's time is logged at debug level (``sybilgraph -v``): where a stage
        is slow, these lines say which of its statements.
        """
        start = time.perf_counter()
        self._materialise(name, sql)
        log.debug("table %s: %.1f s", name, time.perf_counter() - start)

    def _materialise(self, name: str, sql: str) -> None:
        """What :meth:`create_table` does, without the timing; engines fill it in."""
        self.drop(name)
        self.execute(f"CREATE TABLE {name} AS {sql}")

    @abstractmethod
    def drop(self, name: str) -> None:
        """Drop a table or view if it exists."""

    @abstractmethod
    def arrow(self, sql: str) -> pa.Table:
        """Run a query and return its result as an Arrow table."""

    def batches(self, sql: str, size: int) -> Iterator[pa.RecordBatch]:
        """Run a query and yield its result in record batches of at most ``size`` rows.

        Engines that can stream do, so that the whole result is never held at once; the
        engine may be used for other statements between batches.
        """
        yield from self.arrow(sql).to_batches(max_chunksize=size)

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether a table or view of that name exists."""

    @abstractmethod
    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table queryable under ``name``."""

    def scalar(self, sql: str) -> object:
        result = self.arrow(sql)
        return result.column(0)[0].as_py() if result.num_rows else None

    def rename(self, old: str, new: str) -> None:
        """Give a table another name (replacing any table of that name), without copying."""
        self.drop(new)
        self.execute(f"ALTER TABLE {old} RENAME TO {new}")

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table}") or 0)  # type: ignore[call-overload]

    def insert(self, table: str, sql: str) -> None:
        """Append a query's rows to ``table``."""
        self.execute(f"INSERT INTO {table} {sql}")

    @abstractmethod
    def write_parquet(self, sql: str, path: Path) -> None:
        """Write a query's result to one Parquet file."""

    # -- dialect -----------------------------------------------------------------

    @abstractmethod
    def parse_ts(self, column: str) -> str:
        """SQL that turns a text column (ISO 8601, epoch seconds or ms) into a UTC
        timestamp without zone, NULL where it cannot."""

    @abstractmethod
    def list_agg(self, column: str, order_by: str, limit: int) -> str:
        """SQL aggregate giving the first ``limit`` values of ``column`` by ``order_by``,
        joined by ', '."""

    def top_values(self, column: str, weight: str, limit: int) -> str:
        """SQL aggregate giving the ``limit`` values of ``column`` of largest ``weight``
        (ties by value), joined by ', '."""
        return self.list_agg(column, f"{weight} DESC, {column}", limit)

    def bucket(self, column: str, count: int) -> str:
        """SQL giving a number from 0 to ``count - 1`` for each value of ``column``, the
        same for equal values: cuts a table into slices without sorting it."""
        return f"hash({column}) % {int(count)}"

    def epoch(self, column: str) -> str:
        """SQL giving seconds since 1970 of a timestamp column, as a double."""
        return f"epoch({column})"

    def quote_ident(self, name: str) -> str:
        """Quote a column name that may hold any character."""
        return '"' + name.replace('"', '""') + '"'

    def text(self, expr: str) -> str:
        """SQL casting an expression to text."""
        return f"CAST({expr} AS VARCHAR)"

    def row_number(self) -> str:
        """SQL numbering a query's rows 1, 2, ... in the order they are read."""
        return "row_number() OVER ()"

    def regexp_replace_all(self, expr: str, pattern: str, replacement: str) -> str:
        """SQL replacing every match of a regular expression (both are SQL literals)."""
        return f"regexp_replace({expr}, {pattern}, {replacement}, 'g')"

    @abstractmethod
    def list_head(self, column: str, order_by: str, limit: int) -> str:
        """SQL aggregate giving the first ``limit`` values of ``column`` by ``order_by``,
        as a list."""

    def hash_text(self, column: str) -> str:
        """SQL giving a stable 64-bit-ish hash of a text column, as text."""
        return f"md5({column})"

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the engine's resources."""

    def versions(self) -> dict[str, str]:
        return {}
