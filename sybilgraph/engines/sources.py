"""Inputs the engines read: files found on disk, or tables already in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa

from sybilgraph.errors import InputError

__all__ = ["EXTENSIONS", "Format", "Source", "discover", "file_source", "frame_source"]

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
            found = sorted(p for p in path.rglob("*") if p.is_file() and _format_of(p))
            found = [p for p in found if p.name != "truth.csv"]
            if not found:
                raise InputError("folder holds no .csv, .parquet or .jsonl file", path=str(path))
            for file in found:
                sources.append(file_source(file))
        elif path.exists():
            sources.append(file_source(path))
        else:
            raise InputError("no such file or folder", path=str(path))
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


def frame_source(frame: pd.DataFrame | pa.Table, name: str = "<dataframe>") -> Source:
    """A source for events already in memory."""
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame)
    return Source(path=Path(name), format="arrow", table=table)
