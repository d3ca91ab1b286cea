"""How SQL is spelled, apart from how it is run.

Stage SQL is written once, in the subset of SQL that DuckDB and Spark SQL share. What
the two spell differently (quoting, text casts, timestamps, ordered list aggregates,
regex replace, row numbers, hashing into buckets) is a method of :class:`Dialect`,
filled in once per engine: :class:`DuckDBDialect` and :class:`SparkDialect`. What they
spell alike is written once, here on the base.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

__all__ = ["WHITE_SPACE", "Dialect", "DuckDBDialect", "Order", "SparkDialect", "asc", "desc"]

#: one term of an ORDER BY: an expression and whether it sorts descending
Order = tuple[str, bool]


def asc(expr: str) -> Order:
    return (expr, False)


def desc(expr: str) -> Order:
    return (expr, True)


#: every character that is white space to Python (``str.isspace``), written out: found
#: by a loop over every code point, it cost each import 40 ms
WHITE_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class Dialect(ABC):
    """The spellings one engine's SQL needs; every stage spells through these."""

    name: str = "sql"

    # -- names and literals --------------------------------------------------------

    @abstractmethod
    def literal(self, text: str) -> str:
        """A string literal holding ``text``, whatever characters it has."""

    def quote_ident(self, name: str) -> str:
        """Quote a column name that may hold any character."""
        return '"' + name.replace('"', '""') + '"'

    # -- expressions ---------------------------------------------------------------

    def trim(self, expr: str) -> str:
        """Text ``expr`` without the white space around it: every character Python's
        ``str.strip()`` takes (tabs, line breaks, no-break and ideographic spaces), where
        the engines' own ``trim`` takes spaces alone (an account id of a carriage return
        was an account). A text that begins and ends with a printable ASCII character
        is as it is: the trim of the whole set took DuckDB ten times the time of its
        own (the load of 10M synth events 15 s against 8)."""
        first, last = f"ascii({expr})", f"ascii(right({expr}, 1))"
        return (
            f"CASE WHEN {first} BETWEEN 33 AND 126 AND {last} BETWEEN 33 AND 126 "
            f"THEN {expr} ELSE {self._trim_chars(expr, self.literal(WHITE_SPACE))} END"
        )

    @abstractmethod
    def _trim_chars(self, expr: str, chars: str) -> str:
        """Text ``expr`` without the characters of the literal ``chars`` around it."""

    @abstractmethod
    def text(self, expr: str) -> str:
        """An expression cast to text."""

    @abstractmethod
    def json_text(self, expr: str) -> str:
        """A nested value (a list, a struct, a map) as its compact JSON text, nulls
        inside kept: ``[{"role":"user","content":"hi"}]``, as a JSONL file holds it."""

    @abstractmethod
    def bytes_text(self, expr: str) -> str:
        """A binary value as the UTF-8 text it holds (bytes that are not UTF-8: each
        engine's own rendering)."""

    @abstractmethod
    def seconds_text(self, expr: str) -> str:
        """A floating-point time (epoch seconds with a fraction) as the plain decimal
        text a time parser reads, to the microsecond: ``1776038474.25``."""

    def null_text(self) -> str:
        """A NULL of the text type (a column of an empty table keeps its type)."""
        return self.text("NULL")

    @abstractmethod
    def parse_ts(self, column: str) -> str:
        """A text column (ISO 8601, epoch seconds or milliseconds) as a UTC timestamp
        without zone, NULL where it cannot be read."""

    def bad_offset(self, text: str) -> str:
        """A condition: the time ``text`` (trimmed) ends in an offset from UTC that no
        zone has (past 18 hours, or of 60 minutes or more: "-25:00", "+05:75"), which
        :meth:`parse_ts` may have read. An engine that reads no such time says false."""
        return "false"

    @abstractmethod
    def epoch(self, column: str) -> str:
        """Seconds since 1970 of a timestamp column, as a double."""

    @abstractmethod
    def bucket(self, column: str, count: int) -> str:
        """A number from 0 to ``count - 1`` for each value of ``column``, the same for
        equal values: cuts a table into slices without sorting it."""

    @abstractmethod
    def distinct_estimate(self, columns: Sequence[str]) -> str:
        """Aggregate: about how many distinct combinations of ``columns`` there are (a
        sketch of their hashes, within a few percent): what a fold over them holds."""

    @abstractmethod
    def text_key(self, column: str) -> str:
        """A number or short text for each text of ``column``, equal for equal texts and,
        in practice, different for different ones (128 bits of MD5): a join key far
        smaller than long texts. A 64-bit hash would not do: DuckDB's ``hash`` gave 38
        pairs of distinct texts one value among 6.7M synth prompts."""

    @abstractmethod
    def int_sum(self, expr: str) -> str:
        """Aggregate: the sum of a 64-bit integer ``expr``, exact and without overflow
        for any count of terms a run can hold."""

    @abstractmethod
    def row_number(self) -> str:
        """Numbers a query's rows 1, 2, ... in the order they are read."""

    # -- aggregates ----------------------------------------------------------------

    @abstractmethod
    def list_head(self, column: str, order: Sequence[Order], limit: int) -> str:
        """Aggregate: the first ``limit`` values of ``column`` in ``order``, as a list."""

    @abstractmethod
    def join_list(self, expr: str) -> str:
        """A list expression as one text, its items joined by ', '."""

    def top_values(self, column: str, weight: str, limit: int) -> str:
        """Aggregate: the ``limit`` values of ``column`` of largest ``weight`` (ties by
        value), joined by ', '."""
        return self.join_list(self.top_list(column, weight, limit))

    def top_list(self, column: str, weight: str, limit: int) -> str:
        """Aggregate: the ``limit`` values of ``column`` of largest ``weight`` (ties by
        value), as a list in that order."""
        return self.list_head(column, [desc(weight), asc(column)], limit)

    @abstractmethod
    def list_item(self, expr: str, position: int) -> str:
        """Item ``position`` (from 1) of a list expression; NULL past its end."""

    @staticmethod
    def order_by(order: Sequence[Order]) -> str:
        """``order`` as the text of an ORDER BY list."""
        return ", ".join(f"{expr} DESC" if descending else expr for expr, descending in order)


#: an offset from UTC past 18 hours, or of 60 minutes or more, after a time's seconds
_BAD_OFFSET = (
    r":[0-9]{2}(\.[0-9]+)?\s*[+-]"
    r"((19|[2-9][0-9]):?[0-9]{2}|18:?(0[1-9]|[1-5][0-9])|[0-9]{2}:?[6-9][0-9])$"
)


class DuckDBDialect(Dialect):
    """DuckDB's spellings."""

    name = "duckdb"

    def literal(self, text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def _trim_chars(self, expr: str, chars: str) -> str:
        return f"trim({expr}, {chars})"

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS VARCHAR)"

    def json_text(self, expr: str) -> str:
        return f"CAST(to_json({expr}) AS VARCHAR)"

    def bytes_text(self, expr: str) -> str:
        # decode() refuses bytes that are not UTF-8: those keep DuckDB's \xNN escapes
        return f"coalesce(try(decode({expr})), CAST({expr} AS VARCHAR))"

    def seconds_text(self, expr: str) -> str:
        # DuckDB writes a double's shortest decimal, without an exponent in this range
        return self.text(expr)

    def parse_ts(self, column: str) -> str:
        text = self.trim(column)
        number = f"TRY_CAST({text} AS DOUBLE)"
        return (
            f"CASE WHEN regexp_full_match({text}, '-?[0-9]+(\\.[0-9]+)?') THEN "
            f"  CASE WHEN abs({number}) >= 1e11"
            f"    THEN try(make_timestamp(CAST({number} * 1000 AS BIGINT)))"
            f"    ELSE try(make_timestamp(CAST({number} * 1000000 AS BIGINT))) END "
            f"ELSE CAST(coalesce(TRY_CAST({text} AS TIMESTAMPTZ), "
            # RFC 3339's lowercase "t" and "z", read by neither engine as written; upper()
            # only for the texts the cast failed on (a zone name would not survive it)
            f"TRY_CAST(upper({text}) AS TIMESTAMPTZ)) AS TIMESTAMP) END"
        )

    def bad_offset(self, text: str) -> str:
        # DuckDB reads "-25:00" as it is and moves the time by a day; Spark (as Java)
        # reads no such time. Tested on the parsed text, not inside parse_ts, which
        # would make the text again for it (0.4 s more to load 1.5M events)
        return f"regexp_matches({text}, {self.literal(_BAD_OFFSET)})"

    def epoch(self, column: str) -> str:
        return f"epoch({column})"

    def bucket(self, column: str, count: int) -> str:
        return f"hash({column}) % {int(count)}"

    def distinct_estimate(self, columns: Sequence[str]) -> str:
        return f"approx_count_distinct(hash({', '.join(columns)}))"

    def text_key(self, column: str) -> str:
        return f"md5_number({column})"

    def int_sum(self, expr: str) -> str:
        return f"sum({expr})"  # a 128-bit sum

    def row_number(self) -> str:
        return "row_number() OVER ()"

    def list_head(self, column: str, order: Sequence[Order], limit: int) -> str:
        if list(order) == [asc(column)]:
            # the n smallest values, kept as they stream by: bounded memory per group
            return f"min({column}, {int(limit)})"
        return self._sorted_head(column, order, limit)

    def join_list(self, expr: str) -> str:
        return f"array_to_string({expr}, ', ')"

    def top_list(self, column: str, weight: str, limit: int) -> str:
        # keeps only the top values of each group as they stream by, so it can run on
        # tens of millions of pairs within the memory limit (an ordered list cannot)
        key = f"{{'w': -({weight}), 'v': {column}}}"
        return f"min_by({column}, {key}, {int(limit)})"

    def list_item(self, expr: str, position: int) -> str:
        return f"({expr})[{int(position)}]"

    def _sorted_head(self, column: str, order: Sequence[Order], limit: int) -> str:
        return f"list_slice(list({column} ORDER BY {self.order_by(order)}), 1, {int(limit)})"


class SparkDialect(Dialect):
    """Spark SQL's spellings."""

    name = "spark"

    def literal(self, text: str) -> str:
        # Spark's string literals read backslash escapes
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def quote_ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def _trim_chars(self, expr: str, chars: str) -> str:
        return f"trim(BOTH {chars} FROM {expr})"

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS STRING)"

    def json_text(self, expr: str) -> str:
        # Spark's JSON leaves out a struct's null fields unless told
        return f"to_json({expr}, map('ignoreNullFields', 'false'))"

    def bytes_text(self, expr: str) -> str:
        # bytes that are not UTF-8 become U+FFFD
        return f"CAST({expr} AS STRING)"

    def seconds_text(self, expr: str) -> str:
        # Spark writes a double of 10^7 or more with an exponent (1.77603847425E9),
        # which no time parser reads: as a decimal to the microsecond instead, its
        # trailing zeros cut as DuckDB writes it (1776038474.25, 5.0). Past 10^15
        # seconds (or NaN) a time is out of range whichever way it is written
        decimal = f"CAST(CAST({expr} AS DECIMAL(38, 6)) AS STRING)"
        trimmed = f"regexp_replace(regexp_replace({decimal}, '0+$', ''), '[.]$', '.0')"
        return (
            f"CASE WHEN isnan({expr}) OR abs({expr}) >= 1e15 THEN CAST({expr} AS STRING) "
            f"ELSE {trimmed} END"
        )

    def parse_ts(self, column: str) -> str:
        text = self.trim(column)
        number = f"TRY_CAST({text} AS DOUBLE)"
        micros = "CAST(timestamp_micros(CAST({0} AS BIGINT)) AS TIMESTAMP_NTZ)"
        millis, seconds = micros.format(number + " * 1000"), micros.format(number + " * 1000000")
        return (
            f"CASE WHEN {text} RLIKE '^-?[0-9]+([.][0-9]+)?$' THEN "
            f"  CASE WHEN abs({number}) >= 1e11"
            f"    THEN CASE WHEN abs({number}) < 9.2e15 THEN {millis} END"
            f"    ELSE {seconds} END "
            f"ELSE CAST(coalesce(TRY_CAST({text} AS TIMESTAMP_LTZ), "
            f"TRY_CAST(upper({text}) AS TIMESTAMP_LTZ)) AS TIMESTAMP_NTZ) END"
        )

    def epoch(self, column: str) -> str:
        return f"(CAST(unix_micros(CAST({column} AS TIMESTAMP_LTZ)) AS DOUBLE) / 1e6)"

    def bucket(self, column: str, count: int) -> str:
        return f"pmod(hash({column}), {int(count)})"  # Spark's hash is a signed 32 bits

    def distinct_estimate(self, columns: Sequence[str]) -> str:
        return f"approx_count_distinct(xxhash64({', '.join(columns)}))"

    def text_key(self, column: str) -> str:
        return f"md5({column})"

    def int_sum(self, expr: str) -> str:
        # Spark's sum of BIGINT is a BIGINT, which overflows silently with ANSI mode off
        return f"sum(CAST({expr} AS DECIMAL(38, 0)))"

    def row_number(self) -> str:
        return "row_number() OVER (ORDER BY monotonically_increasing_id())"

    def list_head(self, column: str, order: Sequence[Order], limit: int) -> str:
        # collect_list keeps no order: the list is sorted by a comparator over a struct
        # of the order's terms
        fields = ", ".join(f"'k{i}', {expr}" for i, (expr, _) in enumerate(order))
        cases = " ".join(
            f"WHEN l.k{i} < r.k{i} THEN {sign} WHEN l.k{i} > r.k{i} THEN {-sign}"
            for i, sign in enumerate(1 if descending else -1 for _, descending in order)
        )
        items = f"collect_list(named_struct({fields}, 'v', {column}))"
        ordered = f"transform(array_sort({items}, (l, r) -> CASE {cases} ELSE 0 END), s -> s.v)"
        return f"slice({ordered}, 1, {int(limit)})"

    def join_list(self, expr: str) -> str:
        return f"array_join({expr}, ', ')"

    def list_item(self, expr: str, position: int) -> str:
        # NULL past the end while ANSI mode is off, as the engine sets it
        return f"element_at({expr}, {int(position)})"
