"""The Spark engine: the same stage SQL on Apache Spark, for data beyond one machine.

pyspark is an optional extra and is imported here only. ``local[*]`` by default; a
cluster through ``engine.spark_master`` (``--spark-master``) or the usual Spark
configuration (``spark-defaults.conf``, ``PYSPARK_SUBMIT_ARGS``). Nothing is downloaded:
no packages, no jars.

Tables are temporary views over persisted DataFrames, private to the engine's own Spark
session (one SparkContext may serve several engines, as in the tests).
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from sybilgraph.engines.base import Engine
from sybilgraph.engines.csvrepair import csv_delimiter, open_quote_line
from sybilgraph.engines.dialect import SparkDialect
from sybilgraph.engines.duckdb import csv_header
from sybilgraph.errors import ConfigError, InputError

if TYPE_CHECKING:
    from sybilgraph.config import EngineConfig
    from sybilgraph.engines.sources import Source

__all__ = ["SparkEngine", "spark_session"]

log = logging.getLogger(__name__)

MISSING = "the spark engine needs pyspark: pip install 'sybilgraph[spark]'"
#: Spark's quiet logging: warnings and errors of the JVM are not for the user's terminal
_LOG4J = Path(__file__).with_name("spark-log4j2.properties")
_CORRUPT = "_corrupt_record"


def _pyspark() -> Any:
    try:
        import pyspark.sql
    except ImportError:
        raise ConfigError(MISSING) from None
    return pyspark.sql


def _quiet_query_errors() -> None:
    """Keep pyspark from printing a failed query's Java stack as a JSON log record on
    stderr (hundreds of lines): the failure reaches sybilgraph as an exception, and the
    user one line. Made through pyspark's own logger class, whose calls pass fields a
    plain logger refuses."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # no such loggers before pyspark 4
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def spark_session(master: str = "local[*]", driver_memory: str = "") -> Any:
    """The process's SparkSession, started with local-friendly settings if none runs."""
    sql = _pyspark()
    _quiet_query_errors()
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = (
        sql.SparkSession.builder.appName("sybilgraph")
        .master(master)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_LOG4J.as_uri()}")
        .config("spark.jars.ivy", "")
    )
    if driver_memory:
        builder = builder.config("spark.driver.memory", driver_memory)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: no Java, bad master URL
        raise ConfigError(f"cannot start Spark ({master}): {_first_line(exc)}") from None


class SparkEngine(Engine):
    """Runs the stages on Spark SQL; results come back to the driver as Arrow."""

    name = "spark"
    dialect = SparkDialect()

    def __init__(self, config: EngineConfig) -> None:
        super().__init__()
        sql = _pyspark()
        self._owns_context = sql.SparkSession.getActiveSession() is None
        root = spark_session(config.spark_master or "local[*]", config.spark_driver_memory)
        self.spark = root.newSession()
        conf = self.spark.conf
        conf.set("spark.sql.session.timeZone", "UTC")
        # DuckDB's TRY_CAST semantics: a bad value becomes NULL, not an error
        conf.set("spark.sql.ansi.enabled", "false")
        conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
        self._tables: dict[str, Any] = {}
        # rows inserted into a table and not yet part of it: materialised parts, made
        # one with the table when a statement next reads it (see insert)
        self._inserted: dict[str, list[Any]] = {}

    # -- reading -----------------------------------------------------------------

    def source_columns(self, source: Source) -> list[str]:
        if source.format == "csv":
            return csv_header(source.path)
        if source.format == "parquet":
            try:
                return list(pq.read_schema(source.path).names)
            except (OSError, pa.ArrowInvalid) as exc:
                raise InputError(f"cannot read as parquet: {exc}", path=str(source.path)) from None
        return [c for c in self._reader(source).columns if c != _CORRUPT]

    def _reader(self, source: Source) -> Any:
        path = str(source.path)
        read = self.spark.read
        try:
            if source.format == "csv":
                from pyspark.sql.types import StringType, StructField, StructType

                names = csv_header(source.path)
                schema = StructType([StructField(n, StringType()) for n in [*names, _CORRUPT]])
                sep = csv_delimiter(source.path)
                return read.csv(
                    path,
                    schema=schema,
                    header=True,
                    enforceSchema=True,
                    sep=sep,
                    quote='"',
                    escape='"',
                    multiLine=True,
                    mode="PERMISSIVE",
                    columnNameOfCorruptRecord=_CORRUPT,
                    encoding="UTF-8",
                )
            if source.format == "parquet":
                return read.parquet(path)
            from pyspark.sql.types import StringType, StructField, StructType

            # the keys are inferred over the whole file; every value is then read as
            # text, as DuckDB reads it: a string as itself, a number or boolean as its
            # JSON text, an object or array as its JSON text (not a struct's rendering)
            inferred = read.json(
                path, primitivesAsString=True, columnNameOfCorruptRecord=_CORRUPT
            ).columns
            schema = StructType([StructField(n, StringType()) for n in inferred])
            return read.json(path, schema=schema, columnNameOfCorruptRecord=_CORRUPT)
        except Exception as exc:
            raise InputError(
                f"cannot read as {source.format}: {_first_line(exc)}", path=path
            ) from None

    def read_source(self, source: Source, table: str, select: str) -> list[tuple[int, str]]:
        sep = csv_delimiter(source.path)
        if source.format == "csv" and (line := open_quote_line(source.path, sep)) is not None:
            # Spark reads quoted values over lines: every row after a quote never closed
            # became part of its value, and was lost unsaid. DuckDB's reader says where
            # the quote is, and rejects that row alone (see csvrepair)
            raise InputError(
                "a quote never closed on this line takes every line after it into one "
                "value, which Spark cannot read apart: close the quote, or read the file "
                "with --engine duckdb, which rejects that row alone",
                path=str(source.path),
                row=line,
            )
        frame = self._reader(source)
        corrupt = _CORRUPT in frame.columns
        try:  # Spark reads lazily: a file it cannot parse fails here, not in _reader
            numbered, scratch = self._numbered(frame)
        except Exception as exc:
            raise InputError(
                f"cannot read as {source.format}: {_first_line(exc)}", path=str(source.path)
            ) from None
        raw = f"{table}_scan"
        frame = numbered
        self._view(raw, frame)
        bad: list[tuple[int, str]] = []
        where = ""
        if corrupt:
            broken = self.spark.sql(
                f"SELECT _row FROM {raw} WHERE {_CORRUPT} IS NOT NULL ORDER BY _row"
            ).collect()
            # the header is line 1; a broken record is reported by its data row + 1
            bad = [(int(r[0]) + 1, "malformed record: wrong number of fields") for r in broken]
            if bad and source.format == "jsonl":
                line = bad[0][0] - 1
                raise InputError(
                    f"cannot read as jsonl: malformed JSON on line {line}",
                    path=str(source.path),
                    row=line,
                )
            where = f" WHERE {_CORRUPT} IS NULL"
        path = self.dialect.literal(str(source.path))
        self.create_table(table, f"SELECT {select}, _row, {path} AS _file FROM {raw}{where}")
        self.drop(raw)
        scratch.unpersist()
        return bad

    def _numbered(self, frame: Any) -> tuple[Any, Any]:
        """Add ``_row``, the 1-based position in the file, without one-partition sorts.

        Returns the numbered frame and the persisted frame under it (to release later);
        persisting also lets Spark query a corrupt-record column on its own."""
        from pyspark.sql import functions as F

        frame = frame.withColumn("_mid", F.monotonically_increasing_id()).persist()
        parts = frame.select((F.col("_mid") / (1 << 33)).cast("long").alias("p"))
        counts = sorted((int(r[0]), int(r[1])) for r in parts.groupBy("p").count().collect())
        offsets, total = [], 0
        for part, n in counts:
            offsets.append((part, total))
            total += n
        if not offsets:
            offsets = [(0, 0)]
        table = self.spark.createDataFrame(offsets, "p long, offset long")
        position = F.col("_mid").bitwiseAND((1 << 33) - 1)
        numbered = frame.join(
            F.broadcast(table), (F.col("_mid") / (1 << 33)).cast("long") == F.col("p")
        ).withColumn("_row", F.col("offset") + position + 1)
        return numbered.drop("_mid", "p", "offset"), frame

    # -- SQL ---------------------------------------------------------------------

    def _sql(self, sql: str) -> Any:
        for table in [t for t in self._inserted if _names(sql, t)]:
            self._merge(table)
        try:
            return self.spark.sql(sql)
        except Exception as exc:
            raise _translate(exc) from None

    def _view(self, name: str, frame: Any) -> None:
        self.drop(name)
        frame.createOrReplaceTempView(name)
        self._tables[name] = frame

    def execute(self, sql: str) -> None:
        self._sql(sql).collect()

    def _materialise(self, name: str, sql: str) -> None:
        # materialised now (each stage's time is its own) and cut from its lineage:
        # a view over a merely persisted frame carries every earlier stage's plan, and
        # planning time grows with it
        try:
            frame = self._sql(sql).localCheckpoint(eager=True)
        except Exception as exc:
            raise _translate(exc) from None
        self._view(name, frame)

    def create_numbered_table(self, name: str, sql: str, column: str) -> None:
        # ids made where the rows are, with no single partition to count them; the table
        # is materialised once, so they stay as they are
        self.create_table(
            name, f"SELECT monotonically_increasing_id() AS {column}, q.* FROM ({sql}) q"
        )

    def create_view(self, name: str, sql: str, *, holds: Sequence[str] = ()) -> None:
        self._hold_anew(name, holds)
        self._view(name, self._sql(sql))  # a plan, run each time it is read
        self._held[name] = tuple(holds)

    def insert(self, table: str, sql: str) -> None:
        # the rows are materialised as a part of their own and made one with the table
        # only when a statement reads it: a copy of the table with each insert copied
        # every row inserted before, once per insert (tier 1 inserts each batch of
        # distinct prompts, 36 of them at 30M synth events)
        if table not in self._tables:
            self._sql(f"SELECT * FROM {table}")  # Spark's own error: no such table
        start = time.perf_counter()
        try:
            part = self._sql(sql).localCheckpoint(eager=True)
        except Exception as exc:
            raise _translate(exc) from None
        self._inserted.setdefault(table, []).append(part)
        log.debug("insert into %s: %.1f s", table, time.perf_counter() - start)

    def _merge(self, table: str) -> None:
        """Make the parts inserted into ``table`` one with it: one union, one copy."""
        parts = self._inserted.pop(table)
        held = [self._tables[table], *parts]
        # the parts keep the constraints of the plans that made them (a < b), which
        # a union of them fails to carry over ("key not found"): none are needed here
        conf = "spark.sql.constraintPropagation.enabled"
        was = self.spark.conf.get(conf)
        self.spark.conf.set(conf, "false")
        try:
            frame = functools.reduce(lambda a, b: a.union(b), held).localCheckpoint(eager=True)
        except Exception as exc:
            raise _translate(exc) from None
        finally:
            self.spark.conf.set(conf, was)
        frame.createOrReplaceTempView(table)
        self._tables[table] = frame
        for old in held:
            old.unpersist()

    def rename(self, old: str, new: str) -> None:
        if old in self._inserted:
            self._merge(old)
        frame = self._tables.pop(old)
        self.spark.catalog.dropTempView(old)
        self._view(new, frame)

    def drop_columns(self, table: str, columns: Sequence[str]) -> None:
        # a temporary view has no columns to alter, and a projection of the frame would
        # keep its checkpointed blocks whole: the columns stay, unread
        return

    def drop(self, name: str) -> None:
        for part in self._inserted.pop(name, []):
            part.unpersist()
        frame = self._tables.pop(name, None)
        if frame is not None:
            frame.unpersist()
        self.spark.catalog.dropTempView(name)
        self._release(name)

    def arrow(self, sql: str) -> pa.Table:
        frame = self._sql(sql)
        try:
            table: pa.Table = frame.toArrow()
        except Exception as exc:
            raise _translate(exc) from None
        return _plain_strings(table)

    def batches(self, sql: str, size: int) -> Iterator[pa.RecordBatch]:
        # the driver never holds the whole result, as ``arrow`` does (the distinct
        # prompts of a log for tier 1, the pair values' account numbers for the
        # components of link): the result is materialised with each row's position
        # (its partition and place in it, in the result's order) and read back as Arrow
        # a range of positions at a time. Rows fetched one by one as Python objects
        # (``toLocalIterator``) took twice the time and, at 280k prompts, more memory
        # than the whole result as Arrow
        from pyspark.sql import functions as F

        place = "_batch_place"
        try:
            frame = (
                self._sql(sql)
                .withColumn(place, F.monotonically_increasing_id())
                .localCheckpoint(eager=True)
            )
            part = (F.col(place) / (1 << 33)).cast("long")
            counts = sorted((int(p), int(n)) for p, n in frame.groupBy(part).count().collect())
        except Exception as exc:
            raise _translate(exc) from None
        try:
            for ranges in _batch_ranges(counts, size):
                held = F.lit(False)
                for start, end in ranges:
                    held = held | ((F.col(place) >= start) & (F.col(place) < end))
                try:
                    table = frame.where(held).drop(place).toArrow()
                except Exception as exc:
                    raise _translate(exc) from None
                yield from _plain_strings(table).to_batches()
        finally:
            frame.unpersist()

    def count(self, table: str) -> int:
        if table in self._inserted:
            self._merge(table)
        return int(self.spark.table(table).count())

    def register(self, name: str, table: pa.Table) -> None:
        self.drop(name)
        if table.num_rows == 0:
            frame = self.spark.createDataFrame(table.to_pandas(), schema=_spark_schema(table))
        else:
            frame = self.spark.createDataFrame(table)
        frame.createOrReplaceTempView(name)
        self._tables[name] = frame

    def write_parquet(self, sql: str, path: Path, *, compression: str = "snappy") -> None:
        # one file on the driver: the callers write the run's small tables (links)
        pq.write_table(self.arrow(sql), path, compression=compression)

    def close(self) -> None:
        for name in list(self._tables):
            self.drop(name)
        if self._owns_context:
            self.spark.stop()

    def versions(self) -> dict[str, str]:
        return {"spark": str(self.spark.version)}


def _names(sql: str, table: str) -> bool:
    """Whether ``sql`` may read ``table``: its name as a word of its own (in a literal
    too, which costs no more than an early merge)."""
    return re.search(rf"(?<![\w.`]){re.escape(table)}(?![\w`])", sql, re.IGNORECASE) is not None


def _plain_strings(table: pa.Table) -> pa.Table:
    """Arrow as DuckDB gives it: ``string``, not ``large_string``."""
    fields = []
    changed = False
    for f in table.schema:
        if pa.types.is_large_string(f.type):
            fields.append(pa.field(f.name, pa.string()))
            changed = True
        else:
            fields.append(f)
    return table.cast(pa.schema(fields)) if changed else table


def _batch_ranges(counts: Sequence[tuple[int, int]], size: int) -> Iterator[list[tuple[int, int]]]:
    """The ranges of row positions (``monotonically_increasing_id``: a partition's
    number in the high bits, the row's place in it in the low 33) of each batch of at
    most ``size`` rows, in the result's order; ``counts`` are the partitions' numbers
    and row counts, in order."""
    ranges: list[tuple[int, int]] = []
    room = size
    for part, rows in counts:
        start = 0
        while start < rows:
            take = min(room, rows - start)
            ranges.append(((part << 33) + start, (part << 33) + start + take))
            start += take
            room -= take
            if room == 0:
                yield ranges
                ranges, room = [], size
    if ranges:
        yield ranges


def _spark_schema(table: pa.Table) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(table.schema)


def _translate(exc: BaseException) -> Exception:
    from sybilgraph.errors import ResourceError, SybilgraphError

    if isinstance(exc, SybilgraphError):
        return exc
    text = str(exc)
    if "OutOfMemory" in text or "Java heap space" in text:
        return ResourceError(
            "Spark ran out of memory: raise engine.spark_driver_memory or use a cluster"
        )
    return exc if isinstance(exc, Exception) else RuntimeError(text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
