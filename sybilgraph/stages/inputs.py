"""inputs: what a run reads besides events — edges between accounts, attributes of
accounts, the accounts under review, and values never to link through.

Each is optional, and a run may have no events at all (a transfer graph with its
accounts' first-seen times is enough). The files' columns are named in ``[inputs]`` of
the config. As with the events, no row is lost silently: a row that cannot be used (a
line the reader cannot split, a blank id, a time or volume that cannot be read) goes to
the rejects with its file, row and reason, and each input's rows read, used and
rejected are counted and logged.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa

from sybilgraph.config import Config
from sybilgraph.engines.base import Engine
from sybilgraph.engines.sources import file_source, find_column
from sybilgraph.errors import InputError
from sybilgraph.stages.load import time_checks
from sybilgraph.stages.tables import GraphInputs

__all__ = ["load_inputs"]

log = logging.getLogger(__name__)

#: the tables this stage makes: known to the others only through ``GraphInputs``
_EDGES = "input_edges"
_ATTRIBUTES = "input_attributes"
_SUBJECTS = "input_subjects"
_HUBS = "input_hubs"
_REJECTS = "input_rejects"


def load_inputs(engine: Engine, config: Config) -> GraphInputs:
    """Read the inputs named in ``config.inputs`` (and ``config.direct_edges``).

    A row that cannot be used goes to ``GraphInputs.rejects`` with its file, row and
    reason: a line the reader cannot split (too many or too few fields), a blank id or
    edge end, a self-loop, a time that does not parse or lies outside 1990-2100 (as an
    event's would be rejected), a volume that is not a non-negative number. A blank
    time or volume is no reason: both are optional. Edges with a listed hub at either
    end are left out on purpose, not rejected. The counts of rows read, used, rejected
    and left out go to run.json (``<input>_read``, ``<input>_rejected``).

    Raises
    ------
    InputError
        A file lacks a column the config names; the message names file and column.
    """
    cfg = config.inputs
    counts: dict[str, int] = {}
    sql = engine.dialect
    engine.create_table(
        _REJECTS,
        f"""SELECT {sql.null_text()} AS file, CAST(NULL AS BIGINT) AS {sql.quote_ident("row")},
                   {sql.null_text()} AS reason, {sql.null_text()} AS account_id WHERE false""",
    )
    hubs = _read_hubs(engine, cfg.hubs, cfg.hub_column, counts) if cfg.hubs else None
    subjects = None
    if cfg.subjects:
        names = ("subjects", "inputs.subjects", "inputs.subject_column")
        subjects = _read_ids(engine, cfg.subjects, cfg.subject_column, _SUBJECTS, names, counts)
        counts["subjects"] = engine.count(_SUBJECTS)
    attributes = None
    if cfg.accounts:
        attributes = _read_attributes(engine, config, counts)
        counts["account_attributes"] = engine.count(_ATTRIBUTES)
    edges = None
    if cfg.edges:
        named = [
            ("inputs.edge_a", cfg.edge_a),
            ("inputs.edge_b", cfg.edge_b),
            ("inputs.edge_kind", cfg.edge_kind),
            ("inputs.edge_ts", cfg.edge_ts),
        ]
        edges = _read_edges(engine, "inputs.edges", cfg.edges, named, hubs, counts)
    elif config.direct_edges:
        path = config.direct_edges
        found = engine.source_columns(file_source(Path(path)))
        # the time is optional: read where the file has it
        ts = find_column("ts", found, path, "direct_edges")
        named = [("direct_edges", "a"), ("direct_edges", "b"), ("direct_edges", "kind")]
        edges = _read_edges(
            engine, "direct_edges", path, [*named, ("direct_edges", ts)], hubs, counts
        )
    # a file given as two inputs (accounts and subjects) has its unreadable lines once
    engine.create_table(f"{_REJECTS}_once", f"SELECT DISTINCT * FROM {_REJECTS}")
    engine.rename(f"{_REJECTS}_once", _REJECTS)
    return GraphInputs(
        edges=edges,
        attributes=attributes,
        subjects=subjects,
        hubs=hubs,
        rejects=_REJECTS,
        counts=counts,
    )


def _columns(engine: Engine, path: str, named: list[tuple[str, str | None]]) -> list[str | None]:
    """The file's columns for the (setting, name) pairs ``named`` (None where the
    setting is not given), found as the events' columns are (``find_column``: a name
    that differs in case alone is taken and logged); refuses a file that lacks one."""
    columns = engine.source_columns(file_source(Path(path)))
    found: list[str | None] = []
    setting_of: dict[str, str] = {}
    for setting, name in named:
        found.append(name and find_column(name, columns, path, setting))
        column = found[-1]
        if name and column is None:
            raise InputError(
                f"missing column {name!r} (has: {', '.join(columns[:12])})",
                path=path,
                column=name,
            )
        if column is None:
            continue
        if column in setting_of and setting_of[column] != setting:
            # edge_a = edge_b = "a": every edge became a self-loop, rejected, and the
            # run ended with nothing to say why
            raise InputError(
                f"{setting_of[column]} and {setting} both name the column {column!r}: "
                "each needs a column of its own",
                path=path,
                column=column,
            )
        setting_of[column] = setting
    return found


def _text(engine: Engine, column: str) -> str:
    """A column as trimmed text, NULL when blank."""
    sql = engine.dialect
    return f"NULLIF({sql.trim(sql.text(sql.quote_ident(column)))}, '')"


def _read_rows(engine: Engine, path: str, table: str, select: str) -> tuple[int, int]:
    """Read a file into ``table`` (``select``, ``_row``, ``_file``); the lines the
    reader cannot split go to the rejects. Returns the rows read (those included) and
    the rows rejected."""
    source = file_source(Path(path))
    unsplit = engine.read_source(source, table, select)
    if unsplit:
        rows = [{"file": str(source.path), "row": line, "reason": why} for line, why in unsplit]
        engine.register(f"{table}_unsplit", pa.Table.from_pylist(rows))
        engine.insert(
            _REJECTS,
            f"SELECT file, {engine.dialect.quote_ident('row')}, reason, "
            f"{engine.dialect.null_text()} FROM {table}_unsplit",
        )
        engine.drop(f"{table}_unsplit")
    return engine.count(table) + len(unsplit), len(unsplit)


def _reject(engine: Engine, checked: str, account: str) -> int:
    """The rows of ``checked`` with a ``reason`` into the rejects, with ``account`` (an
    expression: the row's account, or NULL); returns how many."""
    # counted on the rejects (a few rows), not by reading ``checked``, a view that
    # parses every row's time, again
    before = engine.count(_REJECTS)
    engine.insert(
        _REJECTS,
        f"SELECT _file, _row, reason, {account} FROM {checked} WHERE reason IS NOT NULL",
    )
    return engine.count(_REJECTS) - before


def _tally(
    counts: dict[str, int],
    name: str,
    setting: str,
    path: str,
    read: int,
    rejected: int,
    left_out: int = 0,
) -> None:
    """Count (as ``<name>_read``, ``<name>_rejected``) and log the rows of the input of
    ``setting``: read = used + rejected (+ left out on purpose)."""
    counts[f"{name}_read"] = read
    counts[f"{name}_rejected"] = rejected
    used = read - rejected - left_out
    shown = f", {left_out} left out (a listed hub at an end)" if left_out else ""
    # a file of which no row is usable is a warning: at info level, a run on edges that
    # were all rejected said nothing on a terminal with -q and ended empty, exit 0
    log.log(
        logging.WARNING if read and not used and rejected else logging.INFO,
        "%s (%s): %d rows read, %d used, %d rejected%s%s",
        path,
        setting,
        read,
        used,
        rejected,
        shown,
        "; see rejects.csv" if rejected else "",
    )


def _read_ids(
    engine: Engine,
    path: str,
    column: str,
    table: str,
    names: tuple[str, str, str],
    counts: dict[str, int],
) -> str:
    """A table of the distinct non-blank values of one column; returns its name. Blank
    values are rejects; ``names`` are the input's counts', its setting's and its
    column's setting's."""
    count, setting, column_setting = names
    (found,) = _columns(engine, path, [(column_setting, column)])
    assert found is not None
    column = found
    read, rejected = _read_rows(engine, path, f"{table}_raw", f"{_text(engine, column)} AS v")
    missing = engine.dialect.literal(f"missing {column}")
    engine.create_view(
        f"{table}_checked",
        f"SELECT *, CASE WHEN v IS NULL THEN {missing} END AS reason FROM {table}_raw",
        holds=[f"{table}_raw"],
    )
    rejected += _reject(engine, f"{table}_checked", engine.dialect.null_text())
    engine.create_table(
        table,
        f"SELECT DISTINCT v AS account_id FROM {table}_checked WHERE reason IS NULL",
    )
    engine.drop(f"{table}_checked")
    _tally(counts, count, setting, path, read, rejected)
    return table


def _read_hubs(engine: Engine, path: str, column: str, counts: dict[str, int]) -> str:
    names = ("listed_hubs", "inputs.hubs", "inputs.hub_column")
    _read_ids(engine, path, column, f"{_HUBS}_ids", names, counts)
    engine.create_table(_HUBS, f"SELECT account_id AS value FROM {_HUBS}_ids")
    engine.drop(f"{_HUBS}_ids")
    counts["listed_hubs"] = engine.count(_HUBS)
    return _HUBS


def _say_unread(engine: Engine, path: str, settings: dict[str, str | None]) -> None:
    """Say so where a file of accounts has a column named as a setting left unset
    (``first_seen`` with no ``inputs.first_seen``): the settings have no default, and
    such a column was left unread without a word."""
    columns = {c.lower(): c for c in engine.source_columns(file_source(Path(path)))}
    for setting, found in settings.items():
        name = setting.rpartition(".")[2]
        if found is None and name in columns:
            log.warning(
                "%s: the column %r is not read: set %s = %r to use it",
                path,
                columns[name],
                setting,
                columns[name],
            )


def _read_attributes(engine: Engine, config: Config, counts: dict[str, int]) -> str:
    cfg = config.inputs
    assert cfg.accounts is not None
    account_id, first_seen, volume_column = _columns(
        engine,
        cfg.accounts,
        [
            ("inputs.account_id", cfg.account_id),
            ("inputs.first_seen", cfg.first_seen),
            ("inputs.volume", cfg.volume),
        ],
    )
    assert account_id is not None
    _say_unread(
        engine, cfg.accounts, {"inputs.first_seen": first_seen, "inputs.volume": volume_column}
    )
    sql = engine.dialect
    first = _text(engine, first_seen) if first_seen else sql.null_text()
    volume = _text(engine, volume_column) if volume_column else sql.null_text()
    raw = f"{_ATTRIBUTES}_raw"
    select = f"{_text(engine, account_id)} AS account_id, {first} AS first_text, "
    select += f"{volume} AS volume_text"
    read, rejected = _read_rows(engine, cfg.accounts, raw, select)
    # a volume is a count or an amount: NaN (which sorts above every number) and the
    # infinities are not one
    not_volume = sql.literal(f"{volume_column or 'volume'}: not a non-negative number: ")
    reason = f"""CASE
        WHEN account_id IS NULL THEN {sql.literal(f"missing {account_id}")}
        WHEN first_text IS NULL THEN NULL
        {time_checks(engine, "first_seen", "first_text", first_seen or "first_seen")}
        ELSE NULL END"""
    volume_reason = f"""CASE
        WHEN volume_text IS NULL THEN NULL
        WHEN volume IS NULL OR volume < 0 OR volume >= CAST('Infinity' AS DOUBLE)
            THEN {not_volume} || substr(volume_text, 1, 40)
        ELSE NULL END"""
    engine.create_view(
        f"{_ATTRIBUTES}_checked",
        f"""SELECT *, coalesce({reason}, {volume_reason}) AS reason FROM (
                SELECT _file, _row, account_id, first_text, volume_text,
                       {sql.parse_ts("first_text")} AS first_seen,
                       TRY_CAST(volume_text AS DOUBLE) AS volume
                FROM {raw}) parsed""",
        holds=[raw],
    )
    rejected += _reject(engine, f"{_ATTRIBUTES}_checked", "account_id")
    # an account listed twice keeps its earliest first sight and its largest volume
    engine.create_table(
        _ATTRIBUTES,
        f"""SELECT account_id, min(first_seen) AS first_seen, max(volume) AS volume
            FROM {_ATTRIBUTES}_checked WHERE reason IS NULL GROUP BY account_id""",
    )
    engine.drop(f"{_ATTRIBUTES}_checked")
    _tally(counts, "account_attributes", "inputs.accounts", cfg.accounts, read, rejected)
    return _ATTRIBUTES


def _read_edges(
    engine: Engine,
    setting: str,
    path: str,
    named: list[tuple[str, str | None]],
    hubs: str | None,
    counts: dict[str, int],
) -> str:
    """The edges of the columns ``named`` (setting, name): both ends, kind and time
    (those two optional)."""
    a, b, kind, ts = _columns(engine, path, named)
    assert a is not None and b is not None
    sql = engine.dialect
    kind_sql = _text(engine, kind) if kind else sql.null_text()
    ts_sql = _text(engine, ts) if ts else sql.null_text()
    select = f"{_text(engine, a)} AS a, {_text(engine, b)} AS b, {kind_sql} AS kind, "
    select += f"{ts_sql} AS ts_text"
    raw = f"{_EDGES}_raw"
    read, rejected = _read_rows(engine, path, raw, select)
    reason = f"""CASE
        WHEN a IS NULL THEN {sql.literal(f"missing {a}")}
        WHEN b IS NULL THEN {sql.literal(f"missing {b}")}
        WHEN a = b THEN 'self-loop'
        WHEN ts_text IS NULL THEN NULL
        {time_checks(engine, "ts", "ts_text", ts or "ts")}
        ELSE NULL END"""
    checked = f"{_EDGES}_checked"
    engine.create_view(
        checked,
        f"""SELECT *, {reason} AS reason FROM (
                SELECT _file, _row, a, b, kind, ts_text, {sql.parse_ts("ts_text")} AS ts
                FROM {raw}) parsed""",
        holds=[raw],
    )
    rejected += _reject(engine, checked, sql.null_text())
    listed = ""
    if hubs:
        listed = f" AND a NOT IN (SELECT value FROM {hubs}) AND b NOT IN (SELECT value FROM {hubs})"
    engine.create_table(
        _EDGES,
        f"""SELECT a, b, coalesce(kind, 'edge') AS kind, ts
            FROM {checked} WHERE reason IS NULL{listed}""",
    )
    engine.drop(checked)
    counts["edges"] = engine.count(_EDGES)
    # edges with a listed hub at an end: left out as the hub list asks, not rejected
    counts["direct_edges_dropped"] = read - rejected - counts["edges"]
    _tally(counts, "edges", setting, path, read, rejected, counts["direct_edges_dropped"])
    return _EDGES
