"""Inputs the engines read: files found on disk, or tables already in memory."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sybilgraph.errors import InputError

__all__ = [
    "EXTENSIONS",
    "Format",
    "Source",
    "discover",
    "file_source",
    "find_column",
    "frame_source",
    "parquet_kinds",
]

log = logging.getLogger(__name__)

Format = Literal["csv", "parquet", "jsonl", "arrow"]

EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonl.gz": "jsonl",
    ".json": "jsonl",
}


@dataclass(frozen=True)
class Source:
    """One input: a file, or an in-memory table (``path`` is then a label)."""

    path: Path
    format: Format
    table: pa.Table | None = field(default=None, compare=False, repr=False)


def _format_of(path: Path) -> Format | None:
    name = path.name.lower()
    for ext in sorted(EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return EXTENSIONS[ext]
    return None


def _hidden(file: Path, folder: Path) -> bool:
    """Whether a file of a folder is hidden (it, or a folder on the way, starts with a
    dot): an editor's lock file, a copy's ``._events.csv`` (the resource fork a Mac
    writes beside a file on a foreign disk, binary), a tool's own folder (``.git``)."""
    return any(part.startswith(".") for part in file.relative_to(folder).parts)


def discover(inputs: list[str | Path] | tuple[str | Path, ...]) -> list[Source]:
    """Turn paths (files or folders of files) into sources, in a stable order.

    Raises
    ------
    InputError
        A path does not exist, has a type sybilgraph does not read, or a folder holds
        no readable file.
    """
    if not inputs:
        raise InputError("no input given")
    sources: list[Source] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
            found = [p for p in files if _format_of(p) and p.name != "truth.csv"]
            if not found:
                raise InputError("folder holds no .csv, .parquet or .jsonl file", path=str(path))
            others = [p for p in files if not _format_of(p)]
            if others:
                log.info(
                    "%s: %d file(s) not read, not .csv, .parquet or .jsonl (%s)",
                    path,
                    len(others),
                    ", ".join(str(p.relative_to(path)) for p in others[:3]),
                )
            for file in found:
                sources.append(file_source(file))
        elif path.exists():
            sources.append(file_source(path))
        else:
            raise InputError("no such file or folder", path=str(path))
    # a file given twice (or as itself and inside its folder, or through a link of
    # either kind) would count its rows twice: known by its device and inode
    seen: dict[tuple[int, int], Path] = {}
    for source in sources:
        status = source.path.stat()
        inode = (status.st_dev, status.st_ino)
        if inode in seen:
            raise InputError(f"given twice (also as {seen[inode]})", path=str(source.path))
        seen[inode] = source.path
    return sources


def file_source(path: Path) -> Source:
    fmt = _format_of(path)
    if fmt is None:
        raise InputError(
            "unsupported file type; expected .csv, .parquet or .jsonl (optionally .gz)",
            path=str(path),
        )
    try:
        with path.open("rb") as handle:
            if not handle.read(1):
                raise InputError("file is empty", path=str(path))
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", path=str(path)) from None
    return Source(path=path, format=fmt)


def find_column(name: str, columns: list[str], source: str, setting: str) -> str | None:
    """The input column that ``setting`` (``columns.ip``) names as ``name``: the one of
    that name, else the one whose name differs from it in case alone (``IP`` for
    ``ip``: a file's header is written by whoever exported it), logged; None if there is
    none. DuckDB and Spark read a column by its name ignoring case, so either is read.

    Raises
    ------
    InputError
        No column has the name, and several differ from it in case alone (a DataFrame
        may have ``IP`` and ``Ip``; a file with such columns is refused when read).
    """
    if name in columns:
        return name
    folded = [column for column in columns if column.lower() == name.lower()]
    if len(folded) > 1:
        raise InputError(
            f"columns {', '.join(folded)} all differ from {name!r} in case alone; "
            f"name one of them in {setting}",
            path=source,
        )
    if not folded:
        return None
    log.info(
        "%s: column %r read for %s (%r: the names differ in case alone)",
        source,
        folded[0],
        setting,
        name,
    )
    return folded[0]


def frame_source(frame: pd.DataFrame | pa.Table, name: str = "<dataframe>") -> Source:
    """A source for events already in memory.

    A column whose values Arrow cannot give one type (account ids that mix numbers and
    strings) is taken as text, value by value; a column of objects or lists (a prompt
    given as chat messages) as their compact JSON text, as in a JSONL file.

    Raises
    ------
    InputError
        The table has no columns, or two of the same name.
    """
    names = [str(c) for c in (frame.column_names if isinstance(frame, pa.Table) else frame.columns)]
    if not names:  # the engine refused it with its own error
        raise InputError("no columns: the events need account_id and ts at least", path=name)
    if len(set(names)) != len(names):
        twins = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"duplicate column names: {', '.join(twins)}", path=name)
    if isinstance(frame, pa.Table):
        table = frame
    else:
        try:
            table = pa.Table.from_pandas(frame)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
            table = pa.table({n: _column(frame.iloc[:, i]) for i, n in enumerate(names)})
    for index, field_ in enumerate(table.schema):
        if pa.types.is_nested(field_.type):
            # from the frame's own cells: Arrow's structs add the keys of other rows
            own = isinstance(frame, pd.DataFrame) and index < len(names)
            cells = frame.iloc[:, index] if own else table.column(index).to_pylist()
            table = table.set_column(index, field_.name, _as_text(cells))
    return Source(path=Path(name), format="arrow", table=table)


def parquet_kinds(source: Source) -> dict[str, str]:
    """The columns of a Parquet file that are not read by a plain cast to text, and how
    they are read:

    - ``json``: lists, structs and maps (a prompt stored as chat messages), as their
      JSON text, as a JSONL file's or a DataFrame's are. Cast as they are, DuckDB wrote
      ``[{'role': user, ...}]`` and Spark ``[{user, ...}]``: one file, two values, and
      neither a JSON text;
    - ``bytes``: binary columns (texts some writers store without their UTF-8 mark),
      as the UTF-8 text they hold. DuckDB wrote ``hello \\xC3\\xA9`` where Spark
      wrote ``hello é``;
    - ``float``: floating-point columns, which a time column may be (epoch seconds
      with a fraction): Spark writes ``1.77603847425E9``, which no time parser reads.
    """
    if source.format != "parquet" or source.table is not None:
        return {}
    try:
        schema = pq.read_schema(source.path)
    except (OSError, pa.ArrowException):
        return {}  # the engine's reader says what is wrong with the file
    kinds = {}
    for f in schema:
        if pa.types.is_nested(f.type):
            kinds[f.name] = "json"
        elif pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            kinds[f.name] = "bytes"
        elif pa.types.is_floating(f.type):
            kinds[f.name] = "float"
    return kinds


def _column(values: pd.Series) -> pa.Array:
    """One column as Arrow infers it, or as text where its values mix types."""
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        return _as_text(values)


def _as_text(values: Iterable[object]) -> pa.Array:
    return pa.array([_text(v) for v in values], pa.string())


def _text(value: object) -> str | None:
    """A cell as the text a file would hold: JSON for objects and lists, None if empty."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):  # type: ignore[call-overload]
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
