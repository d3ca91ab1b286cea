"""load_events: name a run's inputs and check them before the run starts.

Reading the rows themselves is the pipeline's job (they may not fit in memory); here the
inputs are found, their format recognised and their columns checked against the
config's column names, so that a wrong path or a missing column is reported at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import pandas as pd
import pyarrow as pa

from sybilgraph.config import Config
from sybilgraph.engines.sources import Source, discover, frame_source
from sybilgraph.errors import InputError

__all__ = ["Events", "EventsInput", "load_events", "sources_of"]

#: what :func:`sybilgraph.run` reads besides checked :class:`Events`: paths of files or
#: folders, or a table in memory
EventsInput: TypeAlias = str | Path | Sequence[str | Path] | pd.DataFrame | pa.Table


@dataclass(frozen=True)
class Events:
    """The checked inputs of a run, ready for :func:`sybilgraph.run`.

    Attributes
    ----------
    sources : tuple of Source
        One per file (or one for an in-memory table), in the order they are read.
    columns : dict
        Each source's path (as text) to its column names.
    """

    sources: tuple[Source, ...]
    columns: dict[str, list[str]]

    def __repr__(self) -> str:
        shown = ", ".join(f"{s.path} ({s.format})" for s in self.sources[:3])
        more = f", +{len(self.sources) - 3} more" if len(self.sources) > 3 else ""
        rows = [f"{s.table.num_rows} rows" for s in self.sources if s.table is not None]
        size = f"; {rows[0]}" if len(rows) == 1 and len(self.sources) == 1 else ""
        return f"Events({len(self.sources)} source(s): {shown}{more}{size})"

    @property
    def paths(self) -> list[Path]:
        """The input files (a label such as ``<dataframe>`` for an in-memory table)."""
        return [s.path for s in self.sources]


def sources_of(events: EventsInput | Events) -> list[Source]:
    """The sources a run reads from its ``events``.

    Checked :class:`Events` give their sources as they are; paths give the files found
    there (folders searched recursively); a table in memory gives one source.

    Raises
    ------
    InputError
        A path does not exist, is empty or of a type sybilgraph does not read.
    """
    if isinstance(events, Events):
        return list(events.sources)
    if isinstance(events, pd.DataFrame | pa.Table):
        return [frame_source(events)]
    if isinstance(events, pa.RecordBatch):
        return [frame_source(pa.Table.from_batches([events]))]
    if isinstance(events, str | os.PathLike):
        return discover([Path(events)])
    iterable = isinstance(events, Iterable) and not isinstance(events, bytes)
    given = list(events) if iterable else None
    if given == []:
        raise InputError("no events: the list of paths is empty")
    if given is None or not all(isinstance(e, str | os.PathLike) for e in given):
        # None, a number, a list of DataFrames: Python's own TypeError before
        raise InputError(
            "events are a path, a list of paths, a DataFrame or an Arrow table, "
            f"not {type(events).__name__}" + (" holding other things than paths" if given else "")
        )
    return discover(given)


def load_events(
    events: EventsInput,
    config: Config | None = None,
) -> Events:
    """Find and check the events a run will read.

    Parameters
    ----------
    events : path, list of paths, DataFrame or pyarrow.Table
        CSV, Parquet or JSONL files (optionally ``.gz``), folders of them (searched
        recursively; a ``truth.csv`` is skipped), or events already in memory.
    config : Config, optional
        Its ``columns`` section says which input columns hold the account id, the time
        and the optional link keys; defaults when omitted.

    Returns
    -------
    Events
        Accepted by :func:`sybilgraph.run` as its ``events``.

    Raises
    ------
    InputError
        A path does not exist, is empty or of a type sybilgraph does not read, or a
        source lacks a required column or an extra key named in the config. The message
        names the file and the column.

    Notes
    -----
    Rows are not read here: each row is validated by the run itself, which writes the
    rows it cannot use to ``rejects.csv`` with their reason.
    """
    from sybilgraph.engines.duckdb import DuckDBEngine
    from sybilgraph.stages.load import select_list

    config = Config.of(config)
    sources = sources_of(events)
    columns: dict[str, list[str]] = {}
    engine = DuckDBEngine(config.engine)
    try:
        for source in sources:
            found = (
                list(source.table.column_names)
                if source.table is not None
                else engine.source_columns(source)
            )
            select_list(found, config, source, engine)  # raises on a missing column
            columns[str(source.path)] = found
    finally:
        engine.close()
    return Events(tuple(sources), columns)
