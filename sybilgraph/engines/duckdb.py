"""The default engine: DuckDB, in-process, nothing to configure."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from sybilgraph.engines.base import Engine
from sybilgraph.errors import InputError, ResourceError

if TYPE_CHECKING:
    from sybilgraph.config import EngineConfig
    from sybilgraph.load import Source

__all__ = ["DuckDBEngine"]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine(Engine):
    """Runs the stages in an in-memory DuckDB database that spills to disk."""

    name = "duckdb"

    def __init__(self, config: EngineConfig) -> None:
        self._tmp = None
        if config.temp_directory:
            spill = config.temp_directory
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="sybilgraph-duckdb-")
            spill = self._tmp.name
        self.con = duckdb.connect(":memory:")
        self.execute("SET TimeZone = 'UTC'")
        self.execute(f"SET temp_directory = {quote_literal(spill)}")
        self.execute("SET preserve_insertion_order = true")
        if config.memory_limit:
            self.execute(f"SET memory_limit = {quote_literal(config.memory_limit)}")
        if config.threads:
            self.execute(f"SET threads = {int(config.threads)}")
        self._registered: dict[str, pa.Table] = {}

    # -- reading -----------------------------------------------------------------

    def _scan(self, source: Source, rejects: str | None = None) -> str:
        path = quote_literal(str(source.path))
        if source.format == "csv":
            # the header is read by us, not sniffed: a sniffer can mistake a broken line
            # for the header, or guess a delimiter from the data
            names = csv_header(source.path)
            columns = ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names)
            delim = "\t" if str(source.path).lower().endswith(".tsv") else ","
            options = (
                f"header = true, auto_detect = false, delim = '{delim}', quote = '\"', "
                f"escape = '\"', columns = {{{columns}}}, null_padding = false"
            )
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
            raise InputError(
                f"cannot read as {source.format}: {_first_line(exc)}", path=str(source.path)
            ) from None
        return [str(row[0]) for row in rows]

    def read_source(self, source: Source, table: str, select: str) -> list[tuple[int, str]]:
        rejects = f"{table}_rejects"
        scan = self._scan(source, rejects if source.format == "csv" else None)
        sql = (
            f"SELECT {select}, row_number() OVER () AS _row,"
            f" {quote_literal(str(source.path))} AS _file FROM {scan}"
        )
        try:
            self.create_table(table, sql)
        except duckdb.OutOfMemoryException as exc:
            raise ResourceError(
                f"out of memory reading {source.path}: {_first_line(exc)}"
            ) from None
        except duckdb.Error as exc:
            raise InputError(
                f"cannot read as {source.format}: {_first_line(exc)}", path=str(source.path)
            ) from None
        if source.format != "csv":
            return []
        bad = self.con.execute(
            f"SELECT line, error_type || ': ' || error_message FROM {rejects} ORDER BY line"
        ).fetchall()
        self.drop(rejects)
        self.drop(f"{rejects}_scan")
        return [(int(line), str(reason)) for line, reason in bad]

    # -- SQL ---------------------------------------------------------------------

    def execute(self, sql: str) -> None:
        try:
            self.con.execute(sql)
        except duckdb.OutOfMemoryException as exc:
            raise ResourceError(
                f"DuckDB ran out of memory: {_first_line(exc)}; raise engine.memory_limit "
                "or give engine.temp_directory more disk"
            ) from None

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
            raise ResourceError(f"DuckDB ran out of memory: {_first_line(exc)}") from None

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
        self.execute(f"COPY ({sql}) TO {quote_literal(str(path))} (FORMAT parquet)")

    # -- dialect -----------------------------------------------------------------

    def parse_ts(self, column: str) -> str:
        text = f"trim({column})"
        number = f"TRY_CAST({text} AS DOUBLE)"
        return (
            f"CASE WHEN regexp_full_match({text}, '-?[0-9]+(\\.[0-9]+)?') THEN "
            f"  CASE WHEN abs({number}) >= 1e11"
            f"    THEN try(make_timestamp(CAST({number} * 1000 AS BIGINT)))"
            f"    ELSE try(make_timestamp(CAST({number} * 1000000 AS BIGINT))) END "
            f"ELSE CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP) END"
        )

    def list_agg(self, column: str, order_by: str, limit: int) -> str:
        return (
            f"array_to_string(list_slice(list({column} ORDER BY {order_by}), 1, {int(limit)}),"
            " ', ')"
        )

    def list_head(self, column: str, order_by: str, limit: int) -> str:
        return f"list_slice(list({column} ORDER BY {order_by}), 1, {int(limit)})"

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

    opener = gzip.open if str(path).lower().endswith(".gz") else open
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
