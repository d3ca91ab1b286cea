"""The small interface every engine fills in: how SQL is run.

How it is spelled is the engine's :attr:`Engine.dialect`
(:mod:`sybilgraph.engines.dialect`). Steps every engine takes alike (timing a table's
build, copying an Arrow table in, counting, renaming) are written once here; an engine
fills in only reading files and running statements.
"""

from __future__ import annotations

import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sybilgraph.engines.dialect import Dialect

if TYPE_CHECKING:
    from sybilgraph.engines.sources import Source

__all__ = ["Engine"]

log = logging.getLogger(__name__)


class Engine(ABC):
    """A SQL engine holding the run's tables."""

    name: str = "engine"
    #: how this engine spells SQL
    dialect: Dialect
    #: groups an aggregate with string or list states (evidence samples) may hold in one
    #: statement; one that makes more is folded in slices (``link.slices``). 0: no limit
    fold_groups: int = 0

    def __init__(self) -> None:
        #: the tables each view holds (see :meth:`create_view`)
        self._held: dict[str, tuple[str, ...]] = {}

    # -- reading -----------------------------------------------------------------

    @abstractmethod
    def source_columns(self, source: Source) -> list[str]:
        """The column names of one input file."""

    @abstractmethod
    def read_source(self, source: Source, table: str, select: str) -> list[tuple[int, str]]:
        """Create ``table`` from one input file with every column read as text.

        ``select`` is a select list over the file's columns. The table gets two more
        columns: ``_row`` (1-based data row) and ``_file``. It may be a view over the
        file, read where it is used (see :meth:`reading`). Returns the lines the reader
        could not parse at all, as ``(line, reason)``.
        """

    @contextlib.contextmanager
    def reading(self, sources: Sequence[Source]) -> Iterator[None]:
        """Statements that read ``sources`` through the tables :meth:`read_source` made:
        a file that turns out unreadable there (a view reads it late) is an
        :class:`~sybilgraph.errors.InputError` naming it, as it would be on reading."""
        yield

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
    def create_numbered_table(self, name: str, sql: str, column: str) -> None:
        """Materialise a query as ``name`` with a first column ``column`` naming each row:
        a number unique to it, in no set order and not counted, the same however often
        the table is read. ``name`` may be a view of the rows and their numbers."""

    def create_view(self, name: str, sql: str, *, holds: Sequence[str] = ()) -> None:
        """Name a query, run again each time it is read, replacing any table of that
        name: for a table that is a few joins of others and is read in small parts, or
        read whole a few times (every read pays the joins; no copy is held).

        ``holds``: tables the view reads that no one else does, dropped with the view,
        so that its readers need know the view alone.
        """
        self._hold_anew(name, holds)
        self.drop(name)
        self.execute(f"CREATE VIEW {name} AS {sql}")
        self._held[name] = tuple(holds)

    def _hold_anew(self, name: str, holds: Sequence[str]) -> None:
        """Before a view ``name`` is made again: the tables it is to hold were made anew
        under the names the view held before (a stage run twice on one engine), so
        replacing the view must not drop them; it drops the others it held."""
        self._held[name] = tuple(t for t in self._held.get(name, ()) if t not in holds)

    def _release(self, name: str) -> None:
        """Drop the tables a dropped view held (see :meth:`create_view`)."""
        for table in self._held.pop(name, ()):
            self.drop(table)

    @abstractmethod
    def drop(self, name: str) -> None:
        """Drop a table or view if it exists."""

    @abstractmethod
    def arrow(self, sql: str) -> pa.Table:
        """Run a query and return its result as an Arrow table."""

    @contextlib.contextmanager
    def room_for(self, nbytes: int, *, idle: bool = False) -> Iterator[None]:
        """Hold about ``nbytes`` less while the caller holds that much of its own beside
        the engine (arrays it builds from a query's rows), so that the process stays
        near the engine's limit rather than at the limit and the arrays together. What
        the engine gives up it spills. ``idle``: the caller runs no statement meanwhile
        but reads of a table's rows, so the engine may give up more: what the caller
        takes of what it holds now, however far under its limit that is (it need not
        keep room to run a statement). Engines whose memory is not in this process
        (Spark's JVM) need no room made: they ignore it."""
        yield

    def batches(self, sql: str, size: int) -> Iterator[pa.RecordBatch]:
        """Run a query and yield its result in record batches of at most ``size`` rows.

        Engines that can stream do, so that the whole result is never held at once; the
        engine may be used for other statements between batches.
        """
        yield from self.arrow(sql).to_batches(max_chunksize=size)

    @abstractmethod
    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table queryable under ``name``."""

    @final
    def store(self, name: str, table: pa.Table) -> None:
        """Copy an Arrow table into the engine as table ``name``.

        The engine keeps its own copy (it can spill it), so the caller may let the
        Arrow buffers go.
        """
        staged = f"{name}_in"
        self.register(staged, table)
        self.create_table(name, f"SELECT * FROM {staged}")
        self.drop(staged)

    def scalar(self, sql: str) -> object:
        result = self.arrow(sql)
        return result.column(0)[0].as_py() if result.num_rows else None

    def rename(self, old: str, new: str) -> None:
        """Give a table another name (replacing any table of that name), without copying."""
        self.drop(new)
        self.execute(f"ALTER TABLE {old} RENAME TO {new}")

    def drop_columns(self, table: str, columns: Sequence[str]) -> None:
        """Drop columns of ``table`` that nothing reads any more, letting go of what
        they hold without copying the rest."""
        for column in columns:
            self.execute(f"ALTER TABLE {table} DROP COLUMN {column}")

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table}") or 0)  # type: ignore[call-overload]

    def insert(self, table: str, sql: str) -> None:
        """Append a query's rows to ``table``."""
        self.execute(f"INSERT INTO {table} {sql}")

    @abstractmethod
    def write_parquet(self, sql: str, path: Path, *, compression: str = "snappy") -> None:
        """Write a query's result to one Parquet file (``compression``: snappy, fast,
        or zstd, smaller, for files kept long)."""

    @final
    def cut_values(self, table: str, column: str, part_rows: int) -> pa.Array:
        """The values of ``column`` where the parts of about ``part_rows`` rows of
        ``table`` begin, in order, the first part's left out: all the rows of a value in
        one part, each value in the part its first row falls in (NULLs in none)."""
        counts = self.arrow(
            f"""SELECT {column} AS v, count(*) AS n FROM {table}
                WHERE {column} IS NOT NULL GROUP BY {column} ORDER BY {column}"""
        )
        rows = np.asarray(counts.column("n").to_numpy(zero_copy_only=False), dtype=np.int64)
        part = (np.cumsum(rows) - rows) // max(int(part_rows), 1)
        return counts.column("v").take(np.flatnonzero(np.diff(part)) + 1)

    def write_sorted_parquet(
        self,
        table: str,
        order: Sequence[str],
        path: Path,
        *,
        part_rows: int = 1 << 18,
        compression: str = "snappy",
    ) -> None:
        """Write ``table`` to one Parquet file, its rows in the order of the columns
        ``order`` (ascending; the first never NULL), without sorting it whole.

        The first column's values cut the table into parts of about ``part_rows`` rows
        (all the rows of a value in one part); each part is sorted on its own and its
        rows streamed into the file, so that the engine holds one part's sort, not the
        table's (the 1.6M links of the realistic 1.5M benchmark log with their evidence:
        0.5 GB sorted whole)."""
        first = order[0]
        if self.scalar(f"SELECT count(*) FROM {table} WHERE {first} IS NULL"):
            raise ValueError(f"{table}.{first} holds NULL: it cannot cut the table in order")
        values = self.cut_values(table, first, part_rows)
        cuts = f"{table}_cuts"
        self.store(cuts, pa.table({"part": np.arange(1, len(values) + 1), "v": values}))
        bound = f"(SELECT v FROM {cuts} WHERE part = {{}})"
        ordered = ", ".join(order)
        writer: pq.ParquetWriter | None = None
        try:
            for index in range(len(values) + 1):
                where = [f"{first} >= {bound.format(index)}"] if index else []
                if index < len(values):
                    where.append(f"{first} < {bound.format(index + 1)}")
                condition = f" WHERE {' AND '.join(where)}" if where else ""
                sql = f"SELECT * FROM {table}{condition} ORDER BY {ordered}"
                for batch in self.batches(sql, part_rows):
                    if writer is None:
                        schema = batch.schema
                        writer = pq.ParquetWriter(path, schema, compression=compression)
                    writer.write_batch(batch.cast(schema))
            if writer is None:  # no rows: the columns alone
                empty = self.arrow(f"SELECT * FROM {table} LIMIT 0")
                writer = pq.ParquetWriter(path, empty.schema, compression=compression)
        finally:
            if writer is not None:
                writer.close()
            self.drop(cuts)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the engine's resources."""

    def versions(self) -> dict[str, str]:
        return {}
