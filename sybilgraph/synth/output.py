"""The generator's face: events in memory, chunk by chunk, or written to files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sybilgraph.errors import ConfigError
from sybilgraph.outputs import atomic_path
from sybilgraph.synth.arrays import join
from sybilgraph.synth.build import build_population
from sybilgraph.synth.config import EVENT_COLUMNS, SynthConfig
from sybilgraph.synth.events import event_tables


def _rechunk(tables: Iterator[pa.Table], size: int) -> Iterator[pa.Table]:
    """Regroup tables into tables of exactly ``size`` rows (the last one shorter)."""
    pending: list[pa.Table] = []
    held = 0
    for table in tables:
        pending.append(table)
        held += table.num_rows
        while held >= size:
            merged = pa.concat_tables(pending)
            yield merged.slice(0, size)
            rest = merged.slice(size)
            pending, held = [rest], rest.num_rows
    if held:
        yield pa.concat_tables(pending)


def _csv_field(values: pa.Array) -> pa.Array:
    """Quote a string column the way RFC 4180 needs: only values with , " or line breaks."""
    values = pc.fill_null(values, "")
    quoted = join(['"', pc.replace_substring(values, '"', '""'), '"'])
    return pc.if_else(pc.match_substring_regex(values, '[,"\r\n]'), quoted, values)


def _csv_rows(table: pa.Table) -> bytes:
    """The table's rows as CSV lines, built in one string array and copied out at once."""
    columns = [_csv_field(table.column(name).combine_chunks()) for name in table.column_names]
    lines = join([pc.binary_join_element_wise(*columns, ","), "\n"])
    if len(lines) == 0:
        return b""
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[
        lines.offset : lines.offset + len(lines) + 1
    ]
    return lines.buffers()[2][int(offsets[0]) : int(offsets[-1])].to_pybytes()


def _to_pandas(table: pa.Table, offset: int) -> pd.DataFrame:
    frame = table.to_pandas()
    frame.index = pd.RangeIndex(offset, offset + len(frame))
    return frame


def iter_generate(
    config: SynthConfig, chunk_events: int = 2_000_000
) -> tuple[Iterator[pd.DataFrame], pd.DataFrame]:
    """Generate the population now and its events lazily, in time order, chunk by chunk.

    Parameters
    ----------
    config
        What to generate.
    chunk_events
        Rows per chunk (the last chunk may be shorter). The data do not depend on it.

    Returns
    -------
    chunks, truth
        ``truth`` (one row per account: ``account_id, label, group, kind``) is computed
        before any event. ``chunks`` yields event DataFrames with the columns of
        :data:`EVENT_COLUMNS`; their indexes continue from one chunk to the next, so
        ``pd.concat(chunks)`` equals ``generate(config)[0]``.

    Notes
    -----
    Memory stays around one block of time (about 150,000 events) plus one chunk, plus the
    population (about 200 bytes per account).
    """
    if chunk_events < 1:
        raise ConfigError(f"chunk_events must be positive, not {chunk_events}")
    pop = build_population(config)

    def chunks() -> Iterator[pd.DataFrame]:
        offset = 0
        for table in _rechunk(event_tables(pop, config.seed), chunk_events):
            yield _to_pandas(table, offset)
            offset += table.num_rows

    return chunks(), pop.truth.copy()


def generate(config: SynthConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate events and ground truth in memory.

    Parameters
    ----------
    config
        What to generate; fine in memory up to a few million events.

    Returns
    -------
    events, truth
        ``events`` has the columns of :data:`EVENT_COLUMNS`, sorted by ``ts``; ``payment_id``
        is missing for accounts without a card. ``truth`` has one row per account that has
        events, sorted by ``account_id``.

    Examples
    --------
    >>> events, truth = generate(SynthConfig(n_events=5_000, seed=3))
    >>> set(events["account_id"]) == set(truth["account_id"])
    True
    """
    pop = build_population(config)
    tables = list(event_tables(pop, config.seed))
    events = _to_pandas(pa.concat_tables(tables), 0)
    return events, pop.truth.copy()


#: the files :func:`write` makes: the events in one of three formats, and the truth
_EVENT_FILES = ("events.csv", "events.parquet", "events.jsonl")
_TRUTH_FILE = "truth.csv"


def _check_out(out: Path, force: bool) -> None:
    """Refuse a folder ``write`` would spoil: one holding files it did not write
    (``detect OUT`` reads every .csv, .parquet and .jsonl file of a folder, and a file
    named as one of its own would be replaced), unless ``force``. An earlier output of
    ``write`` (its truth, events and nothing else) is replaced as it is."""
    if force or not out.is_dir():
        return
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    ours = set(_EVENT_FILES) | {_TRUTH_FILE}
    if not names or (_TRUTH_FILE in names and set(names) <= ours):
        return
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    raise ConfigError(
        f"{out} holds files synth did not write ({shown}); give another folder, or "
        "--force (force=True) to write events and truth.csv there, replacing files of "
        "those names"
    )


def write(
    config: SynthConfig,
    out_dir: str | Path,
    fmt: Literal["csv", "parquet", "jsonl"] = "csv",
    *,
    force: bool = False,
) -> dict[str, Path]:
    """Write ``events.<fmt>`` and ``truth.csv`` to ``out_dir``, streaming block by block.

    Parameters
    ----------
    config
        What to generate.
    out_dir
        Folder to write to; created if missing. An earlier output is replaced once the
        new files are whole (a write stopped halfway leaves it), its events in another
        format included, so that the folder holds one log. A folder holding other files
        is refused unless ``force``.
    fmt
        ``csv`` (every string quoted, missing payment ids empty), ``parquet`` (zstd, one
        row group per block of time) or ``jsonl`` (one JSON object per line, missing
        payment ids ``null``).
    force
        Write into a folder that holds files of its own too: those named ``events.*``
        and ``truth.csv`` are replaced, the others left.

    Returns
    -------
    dict
        ``{"events": path, "truth": path}``. The same config always writes the same bytes.
    """
    if fmt not in ("csv", "parquet", "jsonl"):
        raise ConfigError(f"fmt must be csv, parquet or jsonl, not {fmt!r}")
    out = Path(out_dir)
    _check_out(out, force)
    pop = build_population(config)  # checks the config: nothing made when it is refused
    out.mkdir(parents=True, exist_ok=True)
    events_path = out / f"events.{fmt}"
    truth_path = out / _TRUTH_FILE
    schema = pa.schema([(name, pa.string()) for name in EVENT_COLUMNS])
    tables = event_tables(pop, config.seed)
    # each file is written to a temporary name and renamed: a run stopped halfway leaves
    # the files of before (or none), never an events file cut short that reads as whole
    with atomic_path(events_path) as tmp:
        if fmt == "csv":
            with open(tmp, "wb") as handle:
                handle.write((",".join(EVENT_COLUMNS) + "\n").encode())
                for table in tables:
                    handle.write(_csv_rows(table))
        elif fmt == "parquet":
            with pq.ParquetWriter(str(tmp), schema, compression="zstd") as writer:
                for table in tables:
                    writer.write_table(table)
        else:
            with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
                for table in _rechunk(tables, 500_000):
                    handle.write(
                        table.to_pandas().to_json(orient="records", lines=True, force_ascii=False)
                    )
    with atomic_path(truth_path) as tmp:
        pop.truth.to_csv(tmp, index=False, lineterminator="\n")
    # an earlier log in another format would be read beside this one (every event twice)
    for name in _EVENT_FILES:
        if name != events_path.name:
            (out / name).unlink(missing_ok=True)
    return {"events": events_path, "truth": truth_path}
