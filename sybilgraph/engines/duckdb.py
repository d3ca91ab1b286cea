"""The default engine: DuckDB, in-process, nothing to configure."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from sybilgraph.engines.base import Engine
from sybilgraph.engines.csvrepair import (
    BOM,
    csv_delimiter,
    lone_cr_copy,
    mask_range,
    plain_copy,
    quote_cut,
    without_bom_copy,
)
from sybilgraph.engines.dialect import DuckDBDialect
from sybilgraph.errors import ConfigError, InputError, ResourceError
from sybilgraph.outputs import remove_stale_folders

if TYPE_CHECKING:
    from sybilgraph.config import EngineConfig
    from sybilgraph.engines.sources import Source

__all__ = ["DuckDBEngine"]

log = logging.getLogger(__name__)

#: leading bytes of files that are surely not CSV text
BINARY_MAGIC = (b"\x89PNG", b"PK\x03\x04", b"PAR1", b"\x1f\x8b", b"%PDF", b"\xff\xd8\xff", b"GIF8")


#: the longest CSV line read (DuckDB's default is 2 MB: a prompt of a few megabytes is
#: real traffic; a JSONL line has no such limit)
MAX_LINE_BYTES = 64 << 20
#: the column DuckDB numbers a Parquet file's rows in (from 0)
_ROW_NUMBER = "file_row_number"
#: values with a quote never closed that a CSV file may hold before it is refused:
#: each one costs a further read of the file
MAX_UNCLOSED = 100


#: the spill folders the engine makes (in the system's temporary folder), named with the
#: process id so that a later run can tell those of runs that were killed
_SPILL_PREFIX = "sybilgraph-duckdb-"


def _clean_stale_spills() -> None:
    """Delete the spill folders of runs that were killed (SIGKILL, the kernel out of
    memory), which nothing else removes: a 30M-event run's held 12 GB."""
    remove_stale_folders(_SPILL_PREFIX, "the spill folder")


def default_memory_limit() -> str:
    """A sixth of the machine's memory, at least 1 GB: DuckDB spills past it, leaving
    room for the graph and fingerprinting work of the run's own process. Empty where
    the memory size is unknown (DuckDB then takes 80% of it)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return ""
    return f"{max(total // 6 >> 20, 1024)}MB"


class DuckDBEngine(Engine):
    """Runs the stages in an in-memory DuckDB database that spills to disk."""

    name = "duckdb"
    dialect = DuckDBDialect()
    # DuckDB cannot spill aggregate states that hold strings or lists: 30M synth events
    # (38.6M pair values) folded at once ran out of memory at the default limit. What a
    # slice's fold held stayed with the process into the graph stage: at 1.5M realistic
    # events (7.8M pair values, about 6M pairs) the run's peak was 2.04 GiB in slices of
    # 4M pair values, 1.96 in slices of 1M, and 2.00 to 2.03 in slices of 500k pairs;
    # slices cut by their groups, not their rows, fold 30M synth events' 36.7M pair
    # values (4.6M pairs) in 10 slices, not 37
    fold_groups = 500_000

    def __init__(self, config: EngineConfig) -> None:
        super().__init__()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        try:
            if config.temp_directory:
                spill = config.temp_directory
                _check_spill_folder(spill)
            else:
                _clean_stale_spills()
                # a stop that lands as the folder is made is raised once it is ours to
                # delete: it left the folder behind (the folder appears, a scheduler
                # stops the job before TemporaryDirectory registers its deletion)
                with _stops_held():
                    self._tmp = tempfile.TemporaryDirectory(prefix=f"{_SPILL_PREFIX}{os.getpid()}-")
                spill = self._tmp.name
            self._connect(config, spill)
        except BaseException:  # a bad setting, or a stop (Ctrl-C, SIGTERM) meanwhile
            if self._tmp is not None:
                self._tmp.cleanup()
            raise

    def create_numbered_table(self, name: str, sql: str, column: str) -> None:
        # a table's own row ids name its rows, as long as none is deleted (none is: the
        # table is made once): numbered as they were made, by a window over every row,
        # the 18.6M distinct prompts of 30M synth events took 16.3 s against 11.9 s
        rows = f"{name}_rows"
        self.create_table(rows, sql)
        self.create_view(name, f"SELECT rowid AS {column}, * FROM {rows}", holds=[rows])

    def _connect(self, config: EngineConfig, spill: str) -> None:
        """Open DuckDB with the settings of ``config``, spilling into ``spill``."""
        self.con = duckdb.connect(":memory:")
        self.execute("SET TimeZone = 'UTC'")
        self.execute("SET preserve_insertion_order = true")
        # DuckDB draws its own progress bar on stdout for any query over two seconds,
        # terminal or not: a scheduled job's log filled with thousands of bar updates
        # (10M events: 321 of them). Progress is ours to show, on a terminal only. In
        # Jupyter without ipywidgets the bar is already off and DuckDB refuses the SET.
        with contextlib.suppress(duckdb.InvalidInputException):
            self.con.execute("SET enable_progress_bar = false")
        # DuckDB keeps the memory of the tables it dropped and the queries it ran, and
        # the process's size stays at DuckDB's largest while the graph is built beside
        # it; with the allocator's background threads it hands it back (1.5M realistic
        # events: peak 3.3 to 3.4 GiB without, 2.9 GiB with, in the same time). Where
        # DuckDB's allocator has no such threads (not jemalloc), it has nothing to hand
        # back.
        with contextlib.suppress(duckdb.Error):
            self.con.execute("SET allocator_background_threads = true")
        settings = [("temp_directory", self.dialect.literal(spill), "engine.temp_directory")]
        limit = config.memory_limit or default_memory_limit()
        if limit:
            settings.append(("memory_limit", self.dialect.literal(limit), "engine.memory_limit"))
        if config.threads:
            settings.append(("threads", str(int(config.threads)), "engine.threads"))
        for name, value, key in settings:
            try:
                self.con.execute(f"SET {name} = {value}")
            except duckdb.Error as exc:
                self.con.close()
                raise ConfigError(f"{key} = {value}: {_first_line(exc)}") from None
        #: the limit as set (restored after :meth:`room_for`), and in bytes
        try:
            ((shown,),) = self.con.execute("SELECT current_setting('memory_limit')").fetchall()
        except duckdb.OutOfMemoryException as exc:  # a limit too small to run a query
            self.con.close()
            raise ConfigError(
                f"engine.memory_limit = {self.dialect.literal(limit or '')}: too small for "
                f"DuckDB to run a query ({_first_line(exc)})"
            ) from None
        self._limit = limit or str(shown)
        self._limit_bytes = _size_bytes(str(shown))
        self._registered: dict[str, pa.Table] = {}
        self._views: set[str] = set()
        self._spill = Path(spill)
        self._json_columns: dict[Path, list[str]] = {}
        self._json_files: dict[Path, Path] = {}

    # -- reading -----------------------------------------------------------------

    def _scan(self, source: Source) -> str:
        path = self.dialect.literal(str(source.path))
        if source.format == "csv":
            return self._csv_scan(source.path, csv_delimiter(source.path), csv_header(source.path))
        if source.format == "parquet":
            return f"read_parquet({path})"
        # every value as text, as a CSV cell would be: inferred types fall back to JSON
        # text when a column mixes them, which kept strings' quotes ('"a1"') and failed
        # their timestamps, and a sampled schema misses keys that first appear late
        columns = ", ".join(
            f"{self.dialect.literal(n)}: 'VARCHAR'" for n in self._json_names(source)
        )
        return (
            f"read_json({self.dialect.literal(str(self._json_file(source)))}, "
            f"format = 'newline_delimited', records = true, columns = {{{columns}}})"
        )

    def _json_file(self, source: Source) -> Path:
        """The JSONL file DuckDB reads: the source, or a copy of it in the spill folder
        without the byte-order mark it starts with (DuckDB took a first line starting
        with one for no JSON object; CSV files are read with theirs)."""
        if source.path not in self._json_files:
            self._json_files[source.path] = _without_bom(source.path, self._spill)
        return self._json_files[source.path]

    def _csv_scan(
        self,
        path: Path,
        delim: str,
        names: list[str],
        rejects: str | None = None,
        *,
        strict: bool = True,
        token: bytes | None = None,
    ) -> str:
        # the header is read by us, not sniffed: a sniffer can mistake a broken line
        # for the header, or guess a delimiter from the data
        literal = self.dialect.literal
        columns = ", ".join(f"{literal(n)}: 'VARCHAR'" for n in names)
        options = (
            f"header = true, auto_detect = false, delim = {literal(delim)}, quote = '\"', "
            f"escape = '\"', columns = {{{columns}}}, null_padding = false, "
            f"max_line_size = {MAX_LINE_BYTES}"
        )
        if not strict:
            options += ", strict_mode = false"
        if rejects:
            options += (
                f", store_rejects = true, rejects_table = '{rejects}',"
                f" rejects_scan = '{rejects}_scan'"
            )
        scan = f"read_csv({literal(str(path))}, {options})"
        if token is None:
            return scan
        mark = literal(token.decode("utf-8"))
        restored = ", ".join(
            f"replace({self.dialect.quote_ident(n)}, {mark}, chr(13)) AS "
            f"{self.dialect.quote_ident(n)}"
            for n in names
        )
        return f"(SELECT * REPLACE ({restored}) FROM {scan})"

    def _json_names(self, source: Source) -> list[str]:
        """The keys of a JSONL file's objects, in the order they first appear."""
        if source.path not in self._json_columns:
            file = self.dialect.literal(str(self._json_file(source)))
            sql = f"""SELECT key FROM (
                    SELECT line, unnest(keys) AS key, generate_subscripts(keys, 1) AS place
                    FROM (SELECT row_number() OVER () AS line, json_keys(json) AS keys
                          FROM read_json_objects({file},
                                                 format = 'newline_delimited'))
                ) GROUP BY key ORDER BY min(line), arg_min(place, line)"""
            try:
                names = [str(row[0]) for row in self.con.execute(sql).fetchall()]
            except duckdb.Error as exc:
                raise _read_error(source, exc) from None
            bad = None if names else _bad_json_line(source.path)
            if bad is not None:  # no key at all: a JSON array, say, read as no object
                raise InputError(bad[1], path=str(source.path), row=bad[0])
            twins = _case_twins(names)
            if twins:
                raise InputError(
                    f"keys that differ only in case: {', '.join(twins)}", path=str(source.path)
                )
            self._json_columns[source.path] = names
        return self._json_columns[source.path]

    def source_columns(self, source: Source) -> list[str]:
        if source.format == "csv":
            return csv_header(source.path)
        if source.format == "jsonl":
            return self._json_names(source)
        try:
            rows = self.con.execute(f"DESCRIBE SELECT * FROM {self._scan(source)}").fetchall()
        except duckdb.Error as exc:
            raise _read_error(source, exc) from None
        if source.format == "parquet":
            # DuckDB renames a second "ip" (or "IP") to "ip_1", so the first one alone
            # was read, silently: refused as a CSV file's are
            with contextlib.suppress(OSError, pa.ArrowException):  # DuckDB read it
                _refuse_twins(pq.read_schema(source.path).names, source.path)
        return [str(row[0]) for row in rows]

    def read_source(self, source: Source, table: str, select: str) -> list[tuple[int, str]]:
        file = self.dialect.literal(str(source.path))
        try:
            if source.format == "csv":
                return self._read_csv(source, table, select)
            if source.format == "parquet" and _ROW_NUMBER not in self.source_columns(source):
                # read where it is used, not copied first: a Parquet file is read again
                # column by column at little cost, and its rows keep their numbers
                # (10M synth events: the copy took 5 s and held 1.7 GB)
                self.create_view(
                    table,
                    f"SELECT {select}, {_ROW_NUMBER} + 1 AS _row, {file} AS _file "
                    f"FROM read_parquet({file}, {_ROW_NUMBER} = true)",
                )
                return []
            self.create_table(
                table,
                f"SELECT {select}, row_number() OVER () AS _row, {file} AS _file "
                f"FROM {self._scan(source)}",
            )
        except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
            raise self._limit_reached(exc) or _read_error(source, exc) from None
        except duckdb.Error as exc:
            raise _read_error(source, exc) from None
        return []

    def _read_csv(self, source: Source, table: str, select: str) -> list[tuple[int, str]]:
        """Read a CSV file strictly, repairing what a strict read would lose (see
        :mod:`sybilgraph.engines.csvrepair`); returns the rejected lines."""
        select = f"{select}, row_number() OVER () AS _row, "
        select += f"{self.dialect.literal(str(source.path))} AS _file"
        file = _CsvFile(
            source.path, csv_header(source.path), csv_delimiter(source.path), self._spill
        )
        try:
            bad, strict = self._read_masked(file, table, select)
            return (
                self._reject_unclosed_alone(file, table, select, bad)
                if strict
                else [(line, reason) for line, reason, _ in bad]
            )
        finally:
            file.close()

    def _read_masked(
        self, file: _CsvFile, table: str, select: str
    ) -> tuple[list[tuple[int, str, int | None]], bool]:
        """Read the file, from a copy with lone carriage returns masked if it has any;
        leniently if the strict reader cannot read it. Returns the rejected lines and
        whether the read was strict."""
        bad, failed = self._strict_csv_table(table, select, file)
        # a lone carriage return inside a value splits its row, leaving a fragment with
        # too few columns, or stops the strict reader
        if (failed or bad) and file.mask_lone_cr():
            # a failed read here leaves no table either: the first read's is gone
            bad, failed = self._strict_csv_table(table, select, file)
        if not failed:
            return bad, True
        # mixed line endings stop the strict reader before any row is read; read such
        # a file leniently rather than not at all
        log.warning("%s: not strictly valid CSV (mixed line endings?)", file.source)
        return self._csv_table(table, select, file, strict=False), False

    def _strict_csv_table(
        self, table: str, select: str, file: _CsvFile
    ) -> tuple[list[tuple[int, str, int | None]], bool]:
        """A strict read: its rejected lines, and whether the strict reader gave up."""
        try:
            return self._csv_table(table, select, file), False
        except duckdb.InvalidInputException as exc:
            if "state machine" not in str(exc):
                raise
            return [], True

    def _reject_unclosed_alone(
        self, file: _CsvFile, table: str, select: str, bad: list[tuple[int, str, int | None]]
    ) -> list[tuple[int, str]]:
        """Read again, as often as needed, so that a value whose quote never closes on
        its line is rejected with its row alone instead of swallowing the lines after
        it up to the next quote (or the end of the file)."""
        unclosed: dict[int, str] = {}
        if file.gzipped and any(quote is not None for *_, quote in bad):
            file.plain()  # the reader's byte offsets are those of the text
        while (found := _first_cut(file.path, bad)) is not None:
            line, quote, end = found
            if len(unclosed) >= MAX_UNCLOSED:
                raise InputError(
                    f"more than {MAX_UNCLOSED} values whose quote is never closed; "
                    "not a CSV file that can be split into rows",
                    path=str(file.source),
                )
            file.plain()
            unclosed[line] = next(reason for at, reason, _ in bad if at == line)
            mask_range(file.path, quote, end)
            bad = self._csv_table(table, select, file)
        return [(line, unclosed.get(line, reason)) for line, reason, _ in bad]

    def _csv_table(
        self, table: str, select: str, file: _CsvFile, *, strict: bool = True
    ) -> list[tuple[int, str, int | None]]:
        """Create ``table`` from one CSV file; returns its rejected lines, as (line,
        reason, byte offset of an unterminated quote on it)."""
        rejects = f"{table}_rejects"
        self.drop(rejects)
        self.drop(f"{rejects}_scan")
        scan = self._csv_scan(
            file.path, file.delim, file.names, rejects, strict=strict, token=file.token
        )
        self.create_table(table, f"SELECT {select} FROM {scan}")
        # one line can fail in several columns; it is one rejected row. A line too long
        # has no column, and arg_min skips NULLs: its reason came out as NULL. DuckDB
        # counts byte positions from 1
        bad = self.con.execute(
            f"""SELECT line,
                  arg_min(error_type || coalesce(': ' || error_message, ''),
                          coalesce(column_idx, -1)),
                  min(CASE WHEN error_type = 'UNQUOTED VALUE' THEN byte_position - 1 END)
               FROM {rejects} GROUP BY line ORDER BY line"""
        ).fetchall()
        self.drop(rejects)
        self.drop(f"{rejects}_scan")
        return [(int(line), str(reason), quote) for line, reason, quote in bad]

    @contextlib.contextmanager
    def reading(self, sources: Sequence[Source]) -> Iterator[None]:
        try:
            yield
        except duckdb.Error as exc:
            source = next((s for s in sources if f'"{s.path}"' in str(exc)), None)
            if source is None or isinstance(exc, duckdb.OutOfMemoryException):
                raise
            raise _read_error(source, exc) from None

    # -- SQL ---------------------------------------------------------------------

    def execute(self, sql: str) -> None:
        try:
            self.con.execute(sql)
        except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
            raise self._limit_reached(exc) or exc from None

    def _limit_reached(self, exc: duckdb.Error) -> ResourceError | None:
        """The user's error for running out of memory or of disk where DuckDB spills (a
        line saying what to change); None for any other error."""
        if isinstance(exc, duckdb.OutOfMemoryException):
            return _out_of_memory(exc)
        if "no space left on device" in str(exc).lower():
            return ResourceError(
                f"no space left on the disk DuckDB spills to ({self._spill}): free space "
                "there or point engine.temp_directory at a folder with more free disk"
            )
        return None

    def drop(self, name: str) -> None:
        if name in self._registered:
            self.con.unregister(name)
            del self._registered[name]
        # DuckDB refuses to drop a view as a table (and a table as a view)
        if name in self._views:
            self._views.discard(name)
            self.con.execute(f"DROP VIEW IF EXISTS {name}")
            self._release(name)
        else:
            self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def create_view(self, name: str, sql: str, *, holds: Sequence[str] = ()) -> None:
        super().create_view(name, sql, holds=holds)
        self._views.add(name)

    def arrow(self, sql: str) -> pa.Table:
        try:
            return self.con.sql(sql).to_arrow_table()
        except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
            raise self._limit_reached(exc) or exc from None

    def batches(self, sql: str, size: int) -> Iterator[pa.RecordBatch]:
        # a second connection to the same database streams the result, so that the
        # first stays free for statements between batches
        cursor = self.con.cursor()
        try:
            yield from cursor.sql(sql).to_arrow_reader(size)
        except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
            raise self._limit_reached(exc) or exc from None
        finally:
            cursor.close()

    @contextlib.contextmanager
    def room_for(self, nbytes: int, *, idle: bool = False) -> Iterator[None]:
        # at 30M synth events, DuckDB at its limit (a sixth of 24 GB) beside tier 2's
        # MinHash signatures took the run to its peak, 6.5 GiB; with the limit lowered
        # by them, 5.4 GiB. Never below half the limit while statements run (aggregates
        # of strings must still fit). While none runs, DuckDB gives up what the caller
        # takes of what it holds now, well under its limit as it may be: at 1.5M
        # realistic events it held 0.96 GB of its 4 GB beside the graph and its
        # communities, and the run's peak (2.1 GiB) was reached there. Where it cannot
        # give up all that is asked, it gives up what it can (:meth:`_lower_limit`): at
        # 30M realistic events it could not go down to 64 MiB beside the graph and kept
        # its 4 GB, and the graph and detection took 7.4 and 7.9 GiB; at 0.5 GiB, 5.6
        # and 6.3 (the same outputs)
        nbytes = max(int(nbytes), 0)
        if idle:
            lowered = max(min(self._limit_bytes, self._buffers()) - nbytes, _IDLE_LEAST)
        else:
            lowered = max(self._limit_bytes - nbytes, self._limit_bytes // 2)
        if not self._limit_bytes or not nbytes or lowered >= self._limit_bytes:
            yield
            return
        reached = self._lower_limit(lowered)
        if reached is None:
            yield
            return
        lowered = reached
        log.debug(
            "memory limit %s lowered to %.2f GiB for %.2f GiB",
            self._limit,
            lowered / (1 << 30),
            nbytes / (1 << 30),
        )
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = {self.dialect.literal(self._limit)}")

    def _lower_limit(self, least: int) -> int | None:
        """Set DuckDB's memory limit to ``least`` bytes or, where it cannot give up that
        much (what it holds is not all spillable, or its spill folder is full), to the
        least of ``least`` doubled until it can; None where that reaches its limit as set
        (the limit is kept). What a refused limit made DuckDB spill stays spilled, so
        each next try costs little. Returns the limit set."""
        level = least
        while level < self._limit_bytes:
            try:
                self.con.execute(f"SET memory_limit = '{level}B'")
                return level
            except duckdb.Error as exc:
                log.debug(
                    "memory limit not lowered to %.2f GiB, %.2f GiB held: %s",
                    level / (1 << 30),
                    self._buffers() / (1 << 30),
                    _first_line(exc),
                )
                level *= 2
        log.debug("memory limit kept at %s", self._limit)
        return None

    def _buffers(self) -> int:
        """The bytes DuckDB's buffers hold now (its tables, what its queries keep)."""
        ((held,),) = self.con.execute(
            "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()"
        ).fetchall()
        return int(held)

    def register(self, name: str, table: pa.Table) -> None:
        self.drop(name)
        self.con.register(name, table)
        self._registered[name] = table

    def write_parquet(self, sql: str, path: Path, *, compression: str = "snappy") -> None:
        target = self.dialect.literal(str(path))
        self.execute(f"COPY ({sql}) TO {target} (FORMAT parquet, COMPRESSION {compression})")

    def close(self) -> None:
        self.con.close()
        for source, copy in self._json_files.items():
            if copy != source:  # in engine.temp_directory, which outlives the run
                copy.unlink(missing_ok=True)
        if self._tmp is not None:
            self._tmp.cleanup()

    def versions(self) -> dict[str, str]:
        return {"duckdb": duckdb.__version__}


class _CsvFile:
    """A CSV source being read: the file DuckDB reads is the source, or a repaired copy
    of it in the spill folder (the user's file is never changed)."""

    def __init__(self, source: Path, names: list[str], delim: str, spill: Path) -> None:
        self.source, self.names, self.delim = source, names, delim
        self.path = source
        #: what stands for lone carriage returns in the copy, if they are masked
        self.token: bytes | None = None
        self._spill = spill
        self._copy: Path | None = None

    @property
    def gzipped(self) -> bool:
        return str(self.path).lower().endswith(".gz")

    def _scratch(self) -> Path:
        if self._copy is None:
            made = tempfile.mkstemp(prefix="sybilgraph-csv-", suffix=".csv", dir=self._spill)
            os.close(made[0])
            self._copy = Path(made[1])
        return self._copy

    def mask_lone_cr(self) -> bool:
        """Read from a copy with lone carriage returns masked; False if there are none."""
        copy = self._scratch()
        self.token = lone_cr_copy(self.source, copy)
        if self.token is not None:
            self.path = copy
        return self.token is not None

    def plain(self) -> None:
        """Read from an uncompressed copy that may be changed (if not already)."""
        if self.path == self.source:
            self.path = plain_copy(self.source, self._scratch())

    def close(self) -> None:
        if self._copy is not None:
            self._copy.unlink(missing_ok=True)


#: the least DuckDB is held to while no statement runs (:meth:`DuckDBEngine.room_for`):
#: it needs no room then, but a limit of a few bytes is one no query could start under
_IDLE_LEAST = 64 << 20

#: the units DuckDB shows a memory size in (``current_setting('memory_limit')``)
_SHOWN_SIZE = re.compile(r"\s*([0-9.]+)\s*(bytes|KiB|MiB|GiB|TiB|PiB|EiB)\s*")
_SIZE_UNITS = {"bytes": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40, "PiB": 50, "EiB": 60}


def _size_bytes(shown: str) -> int:
    """Bytes of a size as DuckDB shows it ("3.7 GiB"; to its one decimal); 0 if not one."""
    match = _SHOWN_SIZE.fullmatch(shown)
    if match is None:
        return 0
    return int(float(match[1]) * (1 << _SIZE_UNITS[match[2]]))


@contextlib.contextmanager
def _stops_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back while the block runs, and raised after it.

    Held by Python's handlers, not by a signal mask: a mask holds a signal back from one
    thread only, and the system gives a signal sent to the process to any thread that
    does not block it. Python runs its handlers in the main thread alone, so elsewhere
    no stop can land in the block and it runs as it is."""
    caught: list[int] = []

    def hold(signum: int, frame: object) -> None:
        caught.append(signum)

    stops = (signal.SIGINT, signal.SIGTERM)
    try:
        before = [signal.signal(s, hold) for s in stops]
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for stop, handler in zip(stops, before, strict=True):
            signal.signal(stop, handler if handler is not None else signal.SIG_DFL)
        if caught:  # the first stop, as it would have come
            signal.raise_signal(caught[0])


def _first_cut(path: Path, bad: list[tuple[int, str, int | None]]) -> tuple[int, int, int] | None:
    """The first rejected line whose quote, never closed on it, swallowed the lines
    after it: (line, quote offset, end of the line's text)."""
    for line, _, quote in bad:
        if quote is not None and (end := quote_cut(path, int(quote))) is not None:
            return line, int(quote), end
    return None


def _without_bom(path: Path, spill: Path) -> Path:
    """``path``, or a copy of it in ``spill`` without the UTF-8 byte-order mark it
    starts with (a gzipped file is copied unpacked)."""
    try:
        spill.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="bomless-", suffix=".jsonl", dir=spill)
    except OSError:
        return path  # the reader says what is wrong
    os.close(handle)
    copy = Path(name)
    try:
        if without_bom_copy(path, copy):
            return copy
    except (OSError, EOFError):
        pass  # the reader says what is wrong with the file
    copy.unlink(missing_ok=True)
    return path


def csv_header(path: Path) -> list[str]:
    """The column names on a CSV file's first line (a byte-order mark is dropped)."""
    import csv
    import gzip

    gzipped = str(path).lower().endswith(".gz")
    try:
        with (gzip.open if gzipped else open)(path, "rb") as raw:
            head = raw.read(4096)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read file: {exc}", path=str(path)) from None
    if head.startswith(BINARY_MAGIC) or b"\x00" in head.split(b"\n", 1)[0]:
        raise InputError("not a CSV file: the content is binary data", path=str(path))
    opener = gzip.open if gzipped else open
    delimiter = csv_delimiter(path)
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as handle:
            header = next(csv.reader(handle, delimiter=delimiter), [])
    except (OSError, csv.Error) as exc:
        raise InputError(f"cannot read CSV header: {exc}", path=str(path)) from None
    names = [name.strip() for name in header]
    if not any(names):
        raise InputError("no header line", path=str(path), row=1)
    _refuse_twins(names, path)
    # a column without a name (a DataFrame's index written by pandas) feeds no field:
    # named so that the reader takes it, and never mapped
    return [name or f"_unnamed_{i + 1}" for i, name in enumerate(names)]


def _case_twins(names: list[str]) -> list[str]:
    """The names that equal another one but for case (DuckDB's names ignore case)."""
    folded = [n.lower() for n in names]
    return sorted({n for n in names if folded.count(n.lower()) > 1 and names.count(n) == 1})


def _refuse_twins(names: list[str], path: Path) -> None:
    """Refuse a file with two columns of one name, or of names that differ in case."""
    duplicates = sorted({n for n in names if names.count(n) > 1 and n})
    if duplicates:
        raise InputError(f"duplicate column names: {', '.join(duplicates)}", path=str(path), row=1)
    twins = _case_twins([n for n in names if n])
    if twins:
        raise InputError(
            f"column names that differ only in case: {', '.join(twins)}", path=str(path), row=1
        )


def _check_spill_folder(folder: str) -> None:
    """Create the spill folder, or say in one line why it cannot be used: DuckDB finds
    out only when it first spills, deep in a run, and fails with a bare IOException."""
    path = Path(folder).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"engine.temp_directory = {folder!r}: cannot create the folder: {exc.strerror}"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"engine.temp_directory = {folder!r}: the folder is not writable")


def _read_error(source: Source, exc: BaseException) -> InputError:
    """A file DuckDB cannot read; for JSONL, the first line that is not a JSON object."""
    bad = _bad_json_line(source.path) if source.format == "jsonl" else None
    if bad is not None:
        return InputError(bad[1], path=str(source.path), row=bad[0])
    return InputError(f"cannot read as {source.format}: {_first_line(exc)}", path=str(source.path))


def _bad_json_line(path: Path) -> tuple[int, str] | None:
    """The number of the first line of a JSONL file that is not a JSON object, and why."""
    import gzip
    import json

    opener = gzip.open if str(path).lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(BOM):
                    raw = raw[len(BOM) :]
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return number, f"not UTF-8 text (byte {exc.start + 1} of the line)"
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    return number, "not a JSON object"
                if isinstance(record, list):
                    return number, "a JSON array, not a JSON object (JSONL: one object a line)"
                if not isinstance(record, dict):
                    return number, "not a JSON object"
                try:
                    json.dumps(record, ensure_ascii=False).encode("utf-8")
                except UnicodeEncodeError:
                    return number, "an escaped lone surrogate (such as \\ud800) is not text"
    except (OSError, EOFError):
        return None
    return None


def _out_of_memory(exc: BaseException) -> ResourceError:
    return ResourceError(
        f"DuckDB ran out of memory: {_first_line(exc)}; raise engine.memory_limit "
        "or point engine.temp_directory at a folder with more free disk"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
