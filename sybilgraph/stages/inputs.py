"""inputs: what a run reads besides events — edges between accounts, attributes of
accounts, the accounts under review, and values never to link through.

Each is optional, and a run may have no events at all (a transfer graph with its
accounts' first-seen times is enough). Rows without the values a table needs are left
out and counted; the files' columns are named in ``[inputs]`` of the config.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sybilgraph.config import Config
from sybilgraph.engines.base import Engine
from sybilgraph.engines.sources import file_source
from sybilgraph.errors import InputError
from sybilgraph.stages.tables import GraphInputs

__all__ = ["load_inputs"]

log = logging.getLogger(__name__)

#: the tables this stage makes: known to the others only through ``GraphInputs``
_EDGES = "input_edges"
_ATTRIBUTES = "input_attributes"
_SUBJECTS = "input_subjects"
_HUBS = "input_hubs"


def load_inputs(engine: Engine, config: Config) -> GraphInputs:
    """Read the inputs named in ``config.inputs`` (and ``config.direct_edges``).

    Edges lose rows without both ends, self-loops and edges with a listed hub at either
    end; the counts of rows read and left out go to run.json.

    Raises
    ------
    InputError
        A file lacks a column the config names; the message names file and column.
    """
    cfg = config.inputs
    counts: dict[str, int] = {}
    hubs = _read_hubs(engine, cfg.hubs, cfg.hub_column, counts) if cfg.hubs else None
    subjects = None
    if cfg.subjects:
        subjects = _read_ids(engine, cfg.subjects, cfg.subject_column, _SUBJECTS)
        counts["subjects"] = engine.count(_SUBJECTS)
    attributes = None
    if cfg.accounts:
        attributes = _read_attributes(engine, config)
        counts["account_attributes"] = engine.count(_ATTRIBUTES)
    edges = None
    if cfg.edges:
        edges = _read_edges(
            engine, cfg.edges, (cfg.edge_a, cfg.edge_b, cfg.edge_kind, cfg.edge_ts), hubs, counts
        )
    elif config.direct_edges:
        columns = engine.source_columns(file_source(Path(config.direct_edges)))
        ts = "ts" if "ts" in columns else None
        edges = _read_edges(engine, config.direct_edges, ("a", "b", "kind", ts), hubs, counts)
    return GraphInputs(
        edges=edges, attributes=attributes, subjects=subjects, hubs=hubs, counts=counts
    )


def _columns(engine: Engine, path: str, needed: list[str]) -> None:
    """Refuse a file that lacks a column the config names."""
    columns = engine.source_columns(file_source(Path(path)))
    for name in needed:
        if name not in columns:
            raise InputError(
                f"missing column {name!r} (has: {', '.join(columns[:12])})",
                path=path,
                column=name,
            )


def _text(engine: Engine, column: str) -> str:
    """A column as trimmed text, NULL when blank."""
    sql = engine.dialect
    return f"NULLIF(trim({sql.text(sql.quote_ident(column))}), '')"


def _read_ids(engine: Engine, path: str, column: str, table: str) -> str:
    """A table of the distinct non-blank values of one column; returns its name."""
    _columns(engine, path, [column])
    engine.read_source(file_source(Path(path)), f"{table}_raw", f"{_text(engine, column)} AS v")
    engine.create_table(
        table, f"SELECT DISTINCT v AS account_id FROM {table}_raw WHERE v IS NOT NULL"
    )
    engine.drop(f"{table}_raw")
    return table


def _read_hubs(engine: Engine, path: str, column: str, counts: dict[str, int]) -> str:
    _read_ids(engine, path, column, f"{_HUBS}_ids")
    engine.create_table(_HUBS, f"SELECT account_id AS value FROM {_HUBS}_ids")
    engine.drop(f"{_HUBS}_ids")
    counts["listed_hubs"] = engine.count(_HUBS)
    return _HUBS


def _time(engine: Engine, text: str) -> str:
    """SQL reading a time as the events' are read: NULL where it cannot be read, or ends
    in an offset from UTC that no zone has."""
    sql = engine.dialect
    return f"CASE WHEN {sql.bad_offset(f'trim({text})')} THEN NULL ELSE {sql.parse_ts(text)} END"


def _read_attributes(engine: Engine, config: Config) -> str:
    cfg = config.inputs
    assert cfg.accounts is not None
    named = [c for c in (cfg.account_id, cfg.first_seen, cfg.volume) if c]
    _columns(engine, cfg.accounts, named)
    sql = engine.dialect
    first = _text(engine, cfg.first_seen) if cfg.first_seen else sql.null_text()
    volume = _text(engine, cfg.volume) if cfg.volume else sql.null_text()
    select = (
        f"{_text(engine, cfg.account_id)} AS account_id, {_time(engine, first)} AS first_seen, "
        f"TRY_CAST({volume} AS DOUBLE) AS volume"
    )
    engine.read_source(file_source(Path(cfg.accounts)), f"{_ATTRIBUTES}_raw", select)
    # an account listed twice keeps its earliest first sight and its largest volume
    engine.create_table(
        _ATTRIBUTES,
        f"""SELECT account_id, min(first_seen) AS first_seen, max(volume) AS volume
            FROM {_ATTRIBUTES}_raw WHERE account_id IS NOT NULL GROUP BY account_id""",
    )
    engine.drop(f"{_ATTRIBUTES}_raw")
    return _ATTRIBUTES


def _read_edges(
    engine: Engine,
    path: str,
    columns: tuple[str, str, str | None, str | None],
    hubs: str | None,
    counts: dict[str, int],
) -> str:
    a, b, kind, ts = columns
    _columns(engine, path, [c for c in columns if c])
    sql = engine.dialect
    kind_sql = _text(engine, kind) if kind else sql.null_text()
    ts_sql = _text(engine, ts) if ts else sql.null_text()
    select = f"{_text(engine, a)} AS a, {_text(engine, b)} AS b, {kind_sql} AS kind, {ts_sql} AS ts"
    engine.read_source(file_source(Path(path)), f"{_EDGES}_raw", select)
    listed = ""
    if hubs:
        listed = f" AND a NOT IN (SELECT value FROM {hubs}) AND b NOT IN (SELECT value FROM {hubs})"
    engine.create_table(
        _EDGES,
        f"""SELECT a, b, coalesce(kind, 'edge') AS kind, {_time(engine, "ts")} AS ts
            FROM {_EDGES}_raw
            WHERE a IS NOT NULL AND b IS NOT NULL AND a <> b{listed}""",
    )
    read = engine.count(f"{_EDGES}_raw")
    engine.drop(f"{_EDGES}_raw")
    counts["edges_read"] = read
    counts["edges"] = engine.count(_EDGES)
    counts["direct_edges_dropped"] = read - counts["edges"]
    if hubs and counts["direct_edges_dropped"]:
        log.info(
            "%d of %d edges left out: an end missing, a self-loop or a listed hub",
            counts["direct_edges_dropped"],
            read,
        )
    return _EDGES
