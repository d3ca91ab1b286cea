"""Writing a run's outputs: atomically, into a folder that is safe to write."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from sybilgraph.errors import OutputError

__all__ = ["MARKER", "atomic_path", "prepare_out_dir", "write_csv", "write_json"]

#: the file that marks a folder as a sybilgraph output (and so safe to overwrite)
MARKER = "run.json"


def prepare_out_dir(out_dir: str | Path, *, force: bool = False) -> Path:
    """Create ``out_dir``, or check that overwriting it is safe.

    A folder that exists is accepted when it is empty, when it holds a previous
    sybilgraph output (a ``run.json`` written by sybilgraph), or when ``force`` is set.
    """
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not force and not _is_previous_output(path):
        raise OutputError(
            f"{path}: folder is not empty and holds no earlier sybilgraph output; "
            "choose another folder or pass --force"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create output folder: {exc.strerror}") from None
    return path


def _is_previous_output(path: Path) -> bool:
    marker = path / MARKER
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("tool") == "sybilgraph"


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place on success only."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str | Iterable[str]) -> Path:
    """Write ``text`` (or its pieces, in order) as UTF-8 to ``path``, atomically."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        if isinstance(text, str):
            handle.write(text)
        else:
            handle.writelines(text)
    return Path(path)


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as UTF-8 CSV (RFC 4180 line ends), atomically."""
    with atomic_path(path) as tmp:
        # with "\n" line ends the writer leaves a lone "\r" in a value unquoted, and a
        # reader then splits the row; "\r\n" makes it quote every value holding either
        frame.to_csv(tmp, index=False, lineterminator="\r\n")
    return Path(path)


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON (sorted keys, indented), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(
            json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
    return Path(path)
