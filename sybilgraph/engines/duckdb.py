"""The default engine: DuckDB, in-process, nothing to configure."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from sybilgraph.engines.base import Engine
from sybilgraph.engines.dialect import DuckDBDialect
from sybilgraph.errors import ConfigError, InputError, ResourceError

if TYPE_CHECKING:
    from sybilgraph.config import EngineConfig
    from sybilgraph.engines.sources import Source

__all__ = ["DuckDBEngine"]

log = logging.getLogger(__name__)

#: leading bytes of files that are surely not CSV text
BINARY_MAGIC = (b"\x89PNG", b"PK\x03\x04", b"PAR1", b"\x1f\x8b", b"%PDF", b"\xff\xd8\xff", b"GIF8")


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
    # (38.6M pair values) folded at once ran out of memory at the default limit
    fold_rows = 4_000_000

    def __init__(self, config: EngineConfig) -> None:
        self._tmp = None
        if config.temp_directory:
            spill = config.temp_directory
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="sybilgraph-duckdb-")
            spill = self._tmp.name
        self.con = duckdb.connect(":memory:")
        self.execute("SET TimeZone = 'UTC'")
        self.execute("SET preserve_insertion_order = true")
        # DuckDB draws its own progress bar on stdout for any query over two seconds,
        # terminal or not: a scheduled job's log filled with thousands of bar updates
        # (10M events: 321 of them). Progress is ours to show, on a terminal only. In
        # Jupyter without ipywidgets the bar is already off and DuckDB refuses the SET.
        with contextlib.suppress(duckdb.InvalidInputException):
            self.con.execute("SET enable_progress_bar = false")
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
        self._registered: dict[str, pa.Table] = {}

    # -- reading -----------------------------------------------------------------

    def _scan(self, source: Source, rejects: str | None = None, *, strict: bool = True) -> str:
        path = self.dialect.literal(str(source.path))
        if source.format == "csv":
            # the header is read by us, not sniffed: a sniffer can mistake a broken line
            # for the header, or guess a delimiter from the data
            names = csv_header(source.path)
            columns = ", ".join(f"{self.dialect.literal(n)}: 'VARCHAR'" for n in names)
            delim = "\t" if str(source.path).lower().endswith(".tsv") else ","
            options = (
                f"header = true, auto_detect = false, delim = '{delim}', quote = '\"', "
                f"escape = '\"', columns = {{{columns}}}, null_padding = false"
            )
            if not strict:
                options += ", strict_mode = false"
            if rejects:
                options += (
                    f", store_rejects = true, rejects_table = '{rejects}',"
                    f" rejects_scan = '{rejects}_scan'"
                )
            return f"read_csv({path}, {options})"
        if source.format == "parquet":
            return f"read_parquet({path})"
        return f"read_json({path}, format = 'newline_delimited', records = true)"

    def source_columns(self, source: Source) -> list[str]:
        if source.format == "csv":
            return csv_header(source.path)
        try:
            rows = self.con.execute(f"DESCRIBE SELECT * FROM {self._scan(source)}").fetchall()
        except duckdb.Error as exc:
            raise _read_error(source, exc) from None
        return [str(row[0]) for row in rows]

    def read_source(self, source: Source, table: str, select: str) -> list[tuple[int, str]]:
        rejects = f"{table}_rejects"
        scan = self._scan(source, rejects if source.format == "csv" else None)
        sql = (
            f"SELECT {select}, row_number() OVER () AS _row,"
            f" {self.dialect.literal(str(source.path))} AS _file FROM {scan}"
        )
        try:
            try:
                self.create_table(table, sql)
            except duckdb.InvalidInputException as exc:
                # mixed line endings stop the strict parser before any row is read; read
                # such a file leniently rather than not at all
                if source.format != "csv" or "state machine" not in str(exc):
                    raise
                log.warning("%s: not strictly valid CSV (mixed line endings?)", source.path)
                self.drop(rejects)
                self.drop(f"{rejects}_scan")
                scan = self._scan(source, rejects, strict=False)
                self.create_table(table, sql.rsplit(" FROM ", 1)[0] + f" FROM {scan}")
        except duckdb.OutOfMemoryException as exc:
            raise _out_of_memory(exc) from None
        except duckdb.Error as exc:
            raise _read_error(source, exc) from None
        if source.format != "csv":
            return []
        # one line can fail in several columns; it is one rejected row
        bad = self.con.execute(
            f"SELECT line, arg_min(error_type || ': ' || error_message, column_idx) "
            f"FROM {rejects} GROUP BY line ORDER BY line"
        ).fetchall()
        self.drop(rejects)
        self.drop(f"{rejects}_scan")
        return [(int(line), str(reason)) for line, reason in bad]

    # -- SQL ---------------------------------------------------------------------

    def execute(self, sql: str) -> None:
        try:
            self.con.execute(sql)
        except duckdb.OutOfMemoryException as exc:
            raise _out_of_memory(exc) from None

    def drop(self, name: str) -> None:
        if name in self._registered:
            self.con.unregister(name)
            del self._registered[name]
        self.con.execute(f"DROP TABLE IF EXISTS {name}")
        self.con.execute(f"DROP VIEW IF EXISTS {name}")

    def arrow(self, sql: str) -> pa.Table:
        try:
            return self.con.sql(sql).to_arrow_table()
        except duckdb.OutOfMemoryException as exc:
            raise _out_of_memory(exc) from None

    def batches(self, sql: str, size: int) -> Iterator[pa.RecordBatch]:
        # a second connection to the same database streams the result, so that the
        # first stays free for statements between batches
        cursor = self.con.cursor()
        try:
            yield from cursor.sql(sql).to_arrow_reader(size)
        except duckdb.OutOfMemoryException as exc:
            raise _out_of_memory(exc) from None
        finally:
            cursor.close()

    def exists(self, name: str) -> bool:
        try:
            self.con.execute(f"SELECT 1 FROM {name} LIMIT 0")
        except duckdb.CatalogException:
            return False
        return True

    def register(self, name: str, table: pa.Table) -> None:
        self.drop(name)
        self.con.register(name, table)
        self._registered[name] = table

    def write_parquet(self, sql: str, path: Path) -> None:
        self.execute(f"COPY ({sql}) TO {self.dialect.literal(str(path))} (FORMAT parquet)")

    def close(self) -> None:
        self.con.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def versions(self) -> dict[str, str]:
        return {"duckdb": duckdb.__version__}


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
    delimiter = "\t" if str(path).lower().endswith(".tsv") else ","
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as handle:
            header = next(csv.reader(handle, delimiter=delimiter), [])
    except (OSError, csv.Error) as exc:
        raise InputError(f"cannot read CSV header: {exc}", path=str(path)) from None
    names = [name.strip() for name in header]
    if not any(names):
        raise InputError("no header line", path=str(path), row=1)
    if len(set(names)) != len(names):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"duplicate column names: {', '.join(duplicates)}", path=str(path), row=1)
    return names


def _read_error(source: Source, exc: BaseException) -> InputError:
    """A file DuckDB cannot read; for JSONL, the first line that is not a JSON object."""
    line = _bad_json_line(source.path) if source.format == "jsonl" else None
    if line is not None:
        return InputError("not a JSON object", path=str(source.path), row=line)
    return InputError(f"cannot read as {source.format}: {_first_line(exc)}", path=str(source.path))


def _bad_json_line(path: Path) -> int | None:
    """The number of the first line of a JSONL file that is not a JSON object, if any."""
    import gzip
    import json

    opener = gzip.open if str(path).lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="strict") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    return number
                if not isinstance(record, dict):
                    return number
    except (OSError, UnicodeDecodeError, EOFError):
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
