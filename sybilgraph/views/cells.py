"""cells: table cells as the pages and graph files show them.

Shared by :mod:`sybilgraph.views.pages` (HTML pages) and :mod:`sybilgraph.views.graphfiles` (GraphML
and GEXF): how a missing cell, a list, a numpy scalar or a node of the cluster graph is
written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "account_node",
    "cell_text",
    "clean_cell",
    "column_values",
    "control_pictures",
    "graph_attr",
    "native",
    "records",
    "value_node",
    "visible_controls",
]


def control_pictures(keep: str = "\t\n\r") -> dict[int, int]:
    """A ``str.translate`` table: the C0 control characters but those in ``keep``, and
    DEL, to the Unicode pictures of them (U+2400 to U+2421)."""
    table = {c: 0x2400 + c for c in range(0x20) if chr(c) not in keep}
    table[0x7F] = 0x2421
    return table


_CONTROL_PICTURES = control_pictures()


def visible_controls(text: str) -> str:
    """``text`` with its control characters shown as their pictures (NUL as U+2400):
    written raw into HTML or SVG a NUL is dropped or refused by the parser, so an id
    holding one would read as another."""
    return text.translate(_CONTROL_PICTURES)


def clean_cell(value: Any) -> Any:
    """NaN, NaT and None become None; everything else is left alone."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    try:
        if not isinstance(value, list | tuple | dict) and pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def cell_text(value: Any) -> str:
    """Lists and arrays as comma-separated text, everything else as str."""
    value = clean_cell(value) if not hasattr(value, "__len__") or isinstance(value, str) else value
    if value is None:
        return ""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in value)
    return str(value)


def native(value: Any) -> Any:
    """A numpy scalar as the Python scalar (or Timestamp) ``to_dict`` gives for it."""
    if isinstance(value, np.bool_ | np.integer | np.floating):
        return value.item()
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value)
    if isinstance(value, np.timedelta64):
        return pd.Timedelta(value)
    return value


def column_values(column: pd.Series) -> list[Any]:
    """The column's cells as ``to_dict("records")`` gives them once the column is cast to
    objects, with NaN, NaT, NA and None all as None."""
    values = column.astype(object).tolist()
    dtype = column.dtype
    # numbers, booleans, timestamps and strings are cast to Python objects already
    if not isinstance(dtype, pd.StringDtype) and not (
        isinstance(dtype, np.dtype) and dtype.kind in "iufbM"
    ):
        values = [native(v) for v in values]
    missing = column.isna().to_numpy()
    if missing.any():
        values = [None if m else v for v, m in zip(values, missing.tolist(), strict=True)]
    return values


def graph_attr(value: Any) -> str | int | float | bool | None:
    """A value GraphML and GEXF can store, or None to leave the attribute out."""
    if isinstance(value, bool | int | float | str) and not (
        isinstance(value, float) and math.isnan(value)
    ):
        return value
    if hasattr(value, "tolist") and not hasattr(value, "__len__"):
        return graph_attr(value.tolist())
    if hasattr(value, "item") and not hasattr(value, "__len__"):
        return graph_attr(value.item())
    text = cell_text(value)
    return text if text != "" else None


def account_node(account: Any) -> str:
    return f"a:{account}"


def value_node(key: Any, value: Any) -> str:
    return f"v:{key}:{value}"


def records(df: pd.DataFrame, columns: Iterable[str]) -> list[dict[str, Any]]:
    """The rows of ``df``'s ``columns`` (those it has) as dicts, missing cells as None."""
    cols = [c for c in columns if c in df.columns]
    if df.empty:
        return []
    if not cols:
        return [{} for _ in range(len(df))]
    values = [column_values(df[c]) for c in cols]
    return [dict(zip(cols, row, strict=True)) for row in zip(*values, strict=True)]
