"""load: read events, map the user's columns onto the schema, validate every row.

Rows that cannot be used go to the ``rejects`` table with a reason; nothing is dropped
silently, and ``rows read = rows used + rows rejected`` always holds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.config import TS_MAX, TS_MIN, ColumnsConfig, Config
from sybilgraph.engines.base import Engine
from sybilgraph.engines.sources import Source, find_column, parquet_kinds
from sybilgraph.errors import InputError
from sybilgraph.stages.normalize import NOT_AN_ADDRESS, normalize_ips
from sybilgraph.stages.tables import EventTables, LoadStats

__all__ = [
    "Window",
    "add_rejects",
    "as_window",
    "drop_values",
    "load",
    "no_events",
    "select_list",
    "time_checks",
]

log = logging.getLogger(__name__)


def select_list(columns: list[str], config: Config, source: Source, engine: Engine) -> str:
    """A select list mapping a source's columns onto the events' schema, each as text.

    A column is the one of the name the config gives (or the default name), or else the
    one whose name differs from it in case alone (``IP`` for ``ip``), which is logged.

    Raises
    ------
    InputError
        The source lacks a required column or an extra key the config names, or two
        settings name one column (``ip`` and an extra key ``IP``); the message names
        the file and the column.
    """
    path = str(source.path)
    read: dict[str, str] = {}  # the columns read, and the setting each is read for

    def _find(name: str, setting: str) -> str | None:
        found = find_column(name, columns, path, setting)
        if found is not None and found in read:
            raise InputError(
                f"{read[found]} and {setting} both name this column: each field needs "
                "a column of its own",
                path=path,
                column=found,
            )
        if found is not None:
            read[found] = setting
        return found

    kinds = parquet_kinds(source)

    def _text(column: str, *, time: bool = False) -> str:
        quoted = engine.dialect.quote_ident(column)
        kind = kinds.get(column)
        if kind == "json":
            return engine.dialect.json_text(quoted)
        if kind == "bytes":
            return engine.dialect.bytes_text(quoted)
        if kind == "float" and time:
            return engine.dialect.seconds_text(quoted)
        return engine.dialect.text(quoted)

    mapping = config.columns
    parts = []
    for target in ("account_id", "ts"):
        name = getattr(mapping, target)
        found = _find(name, f"columns.{target}")
        if found is None:
            raise InputError(
                f"missing required column {name!r} (has: {', '.join(columns[:12])})",
                path=path,
                column=name,
            )
        parts.append(f"{_text(found, time=target == 'ts')} AS {target}")
    defaults = ColumnsConfig()
    for target in ("ip", "payment_id", "prompt"):
        name = getattr(mapping, target)
        found = _find(name, f"columns.{target}") if name else None
        if found is not None:
            parts.append(f"{_text(found)} AS {target}")
            continue
        if name and name != getattr(defaults, target):
            # named on purpose: a column missing then is a mistake, not an absent field
            raise InputError(
                f"missing column {name!r} named in columns.{target} "
                f"(has: {', '.join(columns[:12])})",
                path=path,
                column=name,
            )
        parts.append(f"{engine.dialect.null_text()} AS {target}")
    for index, name in enumerate(mapping.extra_keys):
        found = _find(name, f"columns.extra_keys[{index}]")
        if found is None:
            raise InputError(
                f"missing column {name!r} named in columns.extra_keys",
                path=path,
                column=name,
            )
        parts.append(f"{_text(found)} AS extra_{index}")
    return ", ".join(parts)


#: a half-open time window [start, end) in UTC
Window = tuple[dt.datetime, dt.datetime]


def load(
    engine: Engine, sources: list[Source], config: Config, window: Window | None = None
) -> EventTables:
    """Read every source into an events table and unusable rows into a rejects table.

    The events have: account_id, ts (UTC timestamp), ip_key (the address, or its IPv6
    network), ip_subnet (IPv4 network, with ``link.ipv4_subnet``), payment_id,
    prompt_key (the prompt's ``Dialect.text_key``), extra_<i>, _row (the row in its file:
    not the file's name, which no later stage reads and which cost a copy of its path a
    row). The prompts' texts are apart, each distinct text once: pos (see
    ``Engine.create_numbered_table``), prompt_key, prompt. Not the canonical address,
    which no later stage reads either and which equals ``ip_key`` for IPv4: at 10M synth
    events it held 0.20 GB of the 2.06 GB the engine held after the load (at 30M the
    events are past DuckDB's limit, so every byte less spills less).
    The rejects have: file, row, reason, and the raw text of each column.

    Edge cases: blank strings count as missing; a missing optional column is all NULL;
    an account id is trimmed of the white space around it (any, not spaces alone);
    timestamps may be ISO 8601 (with or without zone; without is taken as UTC), epoch
    seconds or epoch milliseconds. A JSONL value is read as text whatever its type: a
    number or boolean as its JSON text, an object or array as its compact JSON text.

    With a ``window`` [start, end), valid rows outside it are left out of the events and
    counted in ``outside_window``: they are not bad rows, so they are not rejects.

    Raises
    ------
    InputError
        No row was read, or none is usable (or none lies in the window).
    """
    stats = LoadStats()
    extras = [f"extra_{i}" for i in range(len(config.columns.extra_keys))]
    with engine.reading(sources):
        raw, parse_failures = _read_sources(engine, sources, config, stats)
        rows = _normalise_ips(engine, config, raw)
        _check_rows(engine, extras, raw)
        _split_rows(engine, extras, window, rows, subnets=config.link.ipv4_subnet)
    # a row read is used, rejected or outside the window
    stats.outside_window = rows - engine.count(_EVENTS) - engine.count(_REJECTS)
    _add_parse_failures(engine, extras, parse_failures)
    _count(engine, stats)
    _refuse_empty(engine, stats, window)
    return EventTables(
        events=_EVENTS,
        prompts=_PROMPTS,
        rejects=_REJECTS,
        stats=stats,
        extra_keys=tuple(config.columns.extra_keys),
    )


#: the tables load makes: known to the others only through ``EventTables``
_EVENTS = "events"
_PROMPTS = "prompts"
_EVENT_TIMES = "event_times"
_REJECTS = "rejects"
#: load's own view of the rows parsed and checked
_CHECKED = "checked_events"


def _read_sources(
    engine: Engine, sources: list[Source], config: Config, stats: LoadStats
) -> tuple[str, list[dict[str, object]]]:
    """Read each source's columns as text; returns the table (or view) of them all and
    the lines the readers could not parse at all."""
    raw_tables = []
    parse_failures: list[dict[str, object]] = []
    for index, source in enumerate(sources):
        table = f"raw_{index}"
        if source.format == "arrow":
            assert source.table is not None
            engine.register(f"{table}_in", source.table)
            columns = list(source.table.column_names)
        else:
            columns = engine.source_columns(source)
        select = select_list(columns, config, source, engine)
        if source.format == "arrow":
            engine.create_table(
                table,
                f"SELECT {select}, {engine.dialect.row_number()} AS _row, "
                f"{engine.dialect.literal(str(source.path))} AS _file FROM {table}_in",
            )
        else:
            bad_lines = engine.read_source(source, table, select)
            for line, reason in bad_lines:
                parse_failures.append({"_file": str(source.path), "_row": line, "reason": reason})
        raw_tables.append(table)
        stats.files.append(str(source.path))

    for table in raw_tables:
        engine.drop(f"{table}_in")
    if len(raw_tables) == 1:
        return raw_tables[0], parse_failures
    union = " UNION ALL ".join(f"SELECT * FROM {t}" for t in raw_tables)
    engine.create_view("raw_events", union, holds=raw_tables)
    return "raw_events", parse_failures


def _check_rows(engine: Engine, extras: list[str], raw: str) -> None:
    """Every raw row parsed and checked, with a reject reason or NULL: the view
    ``checked_events``, which holds ``raw`` and the addresses' map."""

    def blank(column: str) -> str:
        return f"NULLIF({engine.dialect.trim(column)}, '')"

    extra_cols = "".join(f", {blank(c)} AS {c}" for c in extras)
    reason = f"""CASE
        WHEN account_id IS NULL THEN 'missing account_id'
        WHEN ts_text IS NULL THEN 'missing ts'
        {time_checks(engine, "ts", "ts_text", "ts")}
        WHEN ip_reason IS NOT NULL THEN 'ip: ' || ip_reason
        ELSE NULL END"""
    # The reason refers to the parsed columns through a condition DuckDB does not copy
    # into its filter (the offset's regular expression): with the reason's other
    # conditions alone, it copied the whole parse of each time into the filter and
    # parsed every time twice (1.5M realistic events loaded in 3.4 s, now 1.9 s; 10M
    # synth events 12.4 s, now 7.9 s; the same events).
    # Parsed and checked where the events and the rejects are taken from them: each
    # full copy of the events costs seconds per million rows, and more once it no longer
    # fits in memory (10M synth events: 5.7 s and 1.8 GB)
    engine.create_view(
        _CHECKED,
        f"""
        SELECT *, {reason} AS reason FROM (
            SELECT r._file, r._row,
                   {blank("r.account_id")} AS account_id,
                   {engine.dialect.parse_ts("r.ts")} AS ts,
                   {blank("r.ts")} AS ts_text,
                   m.ip, m.ip_key, m.subnet AS ip_subnet, m.reason AS ip_reason,
                   {blank("r.payment_id")} AS payment_id,
                   NULLIF(r.prompt, '') AS prompt,
                   r.ip AS ip_raw {extra_cols}
            FROM {raw} r LEFT JOIN ip_map m ON r.ip = m.raw
        ) parsed
        """,
        holds=(raw, "ip_map"),
    )


def time_checks(engine: Engine, parsed: str, text: str, name: str) -> str:
    """The ``WHEN`` clauses of a reason ``CASE`` that refuse a time: ``parsed`` (read by
    the dialect's ``parse_ts`` from ``text``, trimmed and not NULL) that could not be
    read or lies outside 1990-2100, with ``name`` and the text's first 40 characters
    (``unparseable ts: yesterday``, ``ts out of range: 1900-01-01``). The events' times
    and the other inputs' are refused alike."""
    return f"""WHEN {parsed} IS NULL OR {engine.dialect.bad_offset(text)}
            THEN {engine.dialect.literal(f"unparseable {name}: ")} || substr({text}, 1, 40)
        WHEN {parsed} < TIMESTAMP '{TS_MIN}' OR {parsed} >= TIMESTAMP '{TS_MAX}'
            THEN {engine.dialect.literal(f"{name} out of range: ")} || substr({text}, 1, 40)"""


def as_window(value: object) -> Window | None:
    """A window a caller gave as two datetimes, dates or ISO 8601 texts (a date is its
    midnight, a time without a zone UTC), as :func:`load` takes it; None as None.

    Raises
    ------
    InputError
        Not two such moments, or the end not after the start: the strings of
        ``window=("2026-04-14", "2026-04-15")`` failed with Python's own error.
    """
    if value is None:
        return None
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise InputError(f"window is (start, end), not {value!r}")
    moments = []
    for moment in value:
        if isinstance(moment, str):
            try:
                moment = dt.datetime.fromisoformat(moment.strip())
            except ValueError:
                raise InputError(f"window: {moment!r} is not an ISO 8601 date or time") from None
        elif isinstance(moment, dt.date) and not isinstance(moment, dt.datetime):
            moment = dt.datetime.combine(moment, dt.time())
        if not isinstance(moment, dt.datetime) or moment != moment:  # pandas' NaT too
            raise InputError(f"window: {moment!r} is not a date or time")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        moments.append(moment)
    start, end = moments
    if end <= start:
        raise InputError(f"window: the end {end} is not after the start {start}")
    return start, end


def _in_window(window: Window | None) -> str:
    """SQL condition on ``ts``: inside the window (``true`` without one)."""
    if window is None:
        return "true"
    start, end = (_sql_timestamp(t) for t in window)
    return f"ts >= TIMESTAMP '{start}' AND ts < TIMESTAMP '{end}'"


def _split_rows(
    engine: Engine, extras: list[str], window: Window | None, rows: int, *, subnets: bool
) -> None:
    """The checked rows into the events (usable, in the window) and the rejects, which
    are looked for only where some of the ``rows`` are not among the events (each
    look parses every row: 10M synth events, 5.6 s). The events' ``ip_subnet`` is NULL
    unless ``subnets`` (``link.ipv4_subnet``: no one reads it otherwise; at 30M synth
    events it held 0.58 GB, and a column of NULLs a third of that)."""
    extra_select = "".join(f", {c}" for c in extras)
    in_window = "" if window is None else f" AND {_in_window(window)}"
    key = engine.dialect.text_key("prompt")
    subnet = "ip_subnet" if subnets else f"{engine.dialect.null_text()} AS ip_subnet"
    engine.create_table(
        _EVENTS,
        f"""SELECT account_id, ts, ip_key, {subnet}, payment_id, {key} AS prompt_key
                   {extra_select}, _row
            FROM {_CHECKED} WHERE reason IS NULL{in_window}""",
    )
    some = engine.count(_EVENTS) < rows
    # the texts apart, each once: the events held every text (at 30M synth events 2.5 of
    # the events' 5.2 GB, past DuckDB's limit, so that the load and observe spilled).
    # Where every row is an event, no row is checked again (10M synth events: 1.9 s
    # against 3.3)
    used = f"reason IS NULL{in_window} AND " if some else ""
    engine.create_numbered_table(
        _PROMPTS,
        f"""SELECT {key} AS prompt_key, prompt FROM (
                SELECT DISTINCT prompt FROM {_CHECKED} WHERE {used}prompt IS NOT NULL) d""",
        "pos",
    )
    engine.create_table(
        _REJECTS,
        f"""SELECT _file AS file, _row AS {engine.dialect.quote_ident("row")}, reason,
                   account_id, ts_text AS ts, ip_raw AS ip, payment_id, prompt{extra_select}
            FROM {_CHECKED} WHERE reason IS NOT NULL{"" if some else " AND false"}""",
    )
    engine.drop(_CHECKED)


def _add_parse_failures(
    engine: Engine, extras: list[str], parse_failures: list[dict[str, object]]
) -> None:
    """The lines no reader could parse, among the rejects."""
    if parse_failures:
        engine.register("parse_failures", pa.Table.from_pylist(parse_failures))
        null = engine.dialect.null_text()
        _insert_rejects(engine, len(extras), f"_file, _row, reason, {null}", "parse_failures")
        engine.drop("parse_failures")


def add_rejects(engine: Engine, events: EventTables, table: str) -> None:
    """The rows of other inputs (edges, accounts, subjects, hubs) that could not be used,
    among the events' rejects, so that ``rejects.csv`` holds every row left out.

    ``table`` has file, row, reason and account_id (NULL where the row names no one
    account); the other columns are left empty. ``events.stats`` still counts the
    events' rows alone (``rows.read = rows.used + rows.rejected`` is about them).
    """
    row = engine.dialect.quote_ident("row")
    _insert_rejects(engine, len(events.extra_keys), f"file, {row}, reason, account_id", table)


def _insert_rejects(engine: Engine, extras: int, columns: str, source: str) -> None:
    """Append ``columns`` (a file, row, reason and account id) of ``source`` to the
    rejects, the columns of the events' values empty."""
    null = engine.dialect.null_text()
    null_extras = "".join(f", {null} AS extra_{i}" for i in range(extras))
    engine.insert(
        _REJECTS,
        f"SELECT {columns}, {null}, {null}, {null}, {null}{null_extras} FROM {source}",
    )


def _reason_kind(engine: Engine) -> str:
    """SQL: a reject's kind, its reason without the value it quotes. (?s): a reason may
    end in a value holding a line break, which must not end up in the kind (nor in the
    one-line errors that name one). An address's reason says why before the value
    (``ip: not an IPv4 or IPv6 address: '...'``): cut at the first colon, its kind
    was ``ip`` alone."""
    kind = f"ip: {NOT_AN_ADDRESS}"  # no % or _ to match more in LIKE
    literal = engine.dialect.literal
    return f"""CASE WHEN reason LIKE {literal(kind + "%")} THEN {literal(kind)}
                ELSE regexp_replace(reason, '(?s):.*', '') END"""


def _count(engine: Engine, stats: LoadStats) -> None:
    """Rows used and rejected, and the rejects' reasons by kind."""
    stats.used = engine.count(_EVENTS)
    stats.rejected = engine.count(_REJECTS)
    stats.read = stats.used + stats.rejected + stats.outside_window
    if stats.rejected:
        by_reason = engine.arrow(
            f"SELECT {_reason_kind(engine)} AS kind, count(*) AS n "
            f"FROM {_REJECTS} GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        stats.reject_reasons = dict(
            zip(by_reason["kind"].to_pylist(), by_reason["n"].to_pylist(), strict=True)
        )


def _refuse_empty(engine: Engine, stats: LoadStats, window: Window | None) -> None:
    """An input without a usable row is an error that says why, and names the first
    row refused: the run that stops writes no rejects to look in."""
    if stats.read == 0:
        raise InputError("no events in input", path=", ".join(stats.files))
    if stats.used == 0 and stats.outside_window and window is not None:
        raise InputError(
            f"none of the {stats.read} rows lies in the window "
            f"{_sql_timestamp(window[0])} to {_sql_timestamp(window[1])} (end excluded)",
            path=", ".join(stats.files),
        )
    if stats.used == 0:
        row = engine.dialect.quote_ident("row")
        # its kind only: the value a reason quotes is the sender's text
        first = engine.arrow(
            f"SELECT file, {row}, {_reason_kind(engine)} AS kind FROM {_REJECTS} "
            f"ORDER BY file, {row} LIMIT 1"
        ).to_pylist()
        example = ""
        if first:
            example = f"; the first: {first[0]['file']}, row {first[0]['row']}: {first[0]['kind']}"
        raise InputError(
            f"none of the {stats.read} rows is usable "
            f"({_top_reason(stats.reject_reasons)}){example}",
            path=", ".join(stats.files),
        )


def no_events(engine: Engine, config: Config) -> EventTables:
    """Empty events and rejects, for a run on other inputs alone (a graph of accounts)."""
    sql = engine.dialect
    null = sql.null_text()
    extras = "".join(f", {null} AS extra_{i}" for i in range(len(config.columns.extra_keys)))
    engine.create_table(
        _EVENTS,
        f"""SELECT {null} AS account_id, {sql.parse_ts(null)} AS ts,
                   {null} AS ip_key, {null} AS ip_subnet, {null} AS payment_id,
                   {sql.text_key(null)} AS prompt_key{extras}, CAST(NULL AS BIGINT) AS _row
            WHERE false""",
    )
    engine.create_numbered_table(
        _PROMPTS, f"SELECT {sql.text_key(null)} AS prompt_key, {null} AS prompt WHERE false", "pos"
    )
    engine.create_table(
        _REJECTS,
        f"""SELECT {null} AS file, CAST(NULL AS BIGINT) AS {sql.quote_ident("row")},
                   {null} AS reason, {null} AS account_id, {null} AS ts, {null} AS ip,
                   {null} AS payment_id, {null} AS prompt{extras}
            WHERE false""",
    )
    return EventTables(
        events=_EVENTS,
        prompts=_PROMPTS,
        rejects=_REJECTS,
        stats=LoadStats(),
        extra_keys=tuple(config.columns.extra_keys),
    )


def drop_values(engine: Engine, events: EventTables) -> None:
    """Let go of the events' values (addresses, subnets, cards, extra keys, and ``_row``,
    which no stage reads), without copying the rest, once observe has made them
    observations: the events keep account_id, ts and prompt_key."""
    extras = [f"extra_{index}" for index in range(len(events.extra_keys))]
    engine.drop_columns(events.events, ["ip_key", "ip_subnet", "payment_id", *extras, "_row"])


def keep_times(engine: Engine, events: EventTables) -> EventTables:
    """The events cut to ``account_id, ts`` once observe has read them: what later stages
    need (the pages' timelines). The prompts live on in observe's prompt map; on the
    realistic benchmark log (1.5M events) the texts held twice were 0.55 GB."""
    engine.create_table(_EVENT_TIMES, f"SELECT account_id, ts FROM {events.events}")
    engine.drop(events.events)
    return dataclasses.replace(events, events=_EVENT_TIMES)


def _sql_timestamp(moment: dt.datetime) -> str:
    """A UTC timestamp literal; a naive datetime is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _top_reason(reasons: dict[str, int]) -> str:
    if not reasons:
        return "no reason recorded"
    kind, n = next(iter(reasons.items()))
    return f"most common: {kind} ({n})"


def _normalise_ips(engine: Engine, config: Config, raw: str) -> int:
    """Parse each distinct address once, in Python, and join the result back; returns
    the rows of ``raw``, counted in the same pass."""
    held = engine.arrow(f"SELECT ip AS raw, count(*) AS n FROM {raw} GROUP BY ip")
    rows = int(pc.sum(held.column("n")).as_py() or 0)
    distinct = held.filter(pc.is_valid(held.column("raw")))
    addresses = distinct.column("raw")
    normalised = normalize_ips(
        addresses, ipv6_prefix=config.link.ipv6_prefix, ipv4_prefix=config.link.ipv4_prefix
    )
    table = pa.table(
        {
            "raw": addresses,
            "ip": normalised.column("ip"),
            "ip_key": normalised.column("ip_key"),
            "subnet": normalised.column("subnet"),
            "reason": normalised.column("reason"),
        }
    )
    engine.store("ip_map", table)
    return rows
