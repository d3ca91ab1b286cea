"""The ground truth: which account is a sybil, and which group it belongs to."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.synth.arrays import join
from sybilgraph.synth.config import LEGIT_KINDS, SYBIL_KINDS


def truth_table(
    ids: pa.Array,
    kind: np.ndarray,
    group: np.ndarray,
    group_counts: dict[str, int],
    n_rings: int,
    tools: list[str],
) -> pd.DataFrame:
    """One row per account: its id, ``sybil`` or ``legit``, its group and its kind.

    Households, offices, classrooms and rings (dataset operators included) are numbered
    (``household_00012``, ``office_0003``, ``classroom_0001``, ``ring_007``, at least
    that many digits); a tool's users are grouped by the tool (``tools[group]``, e.g.
    ``tool_quillcode``); the group of an account on its own is its kind. Rows are sorted
    by account id.
    """
    kinds = np.array(LEGIT_KINDS + SYBIL_KINDS, dtype=object)
    kind_names = kinds[kind]
    prefix = {
        "household": ("household_", 5, group_counts["household"]),
        "office": ("office_", 4, group_counts["office"]),
        "office_card": ("office_", 4, group_counts["office"]),
        "classroom": ("classroom_", 4, group_counts["classroom"]),
    }
    for ring_kind in SYBIL_KINDS:
        prefix[ring_kind] = ("ring_", 3, n_rings)
    groups = kind_names.copy()
    for name, (text, width, count) in prefix.items():
        mask = kind_names == name
        if not mask.any():
            continue
        width = max(width, len(str(max(count - 1, 0))))
        numbers = pc.utf8_lpad(pa.array(group[mask]).cast(pa.string()), width, "0")
        groups[mask] = np.asarray(join([text, numbers]).to_pylist(), dtype=object)
    for name in ("tool_user_popular", "tool_user_niche"):
        mask = kind_names == name
        groups[mask] = np.asarray(tools, dtype=object)[group[mask]]
    truth = pd.DataFrame(
        {
            "account_id": ids.to_numpy(zero_copy_only=False),
            "label": np.where(kind >= len(LEGIT_KINDS), "sybil", "legit"),
            "group": groups,
            "kind": kind_names,
        }
    ).astype("str")
    return truth.sort_values("account_id", ignore_index=True)
