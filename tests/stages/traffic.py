"""The hand-built traffic every stage test reads, and how the tests read tables back.

Twelve requests of seven accounts on 13 April 2026 (times are UTC):

====  =======  =====  ==========  =======  ===========================  ========
row   account  time   ip          payment  prompt                       device
====  =======  =====  ==========  =======  ===========================  ========
1     u1       10:00  10.0.0.9    pm_1     Solve 12 + 7 step by step    dev-a
2     u1       10:05  10.0.0.2    pm_1     Solve 30 + 4 step by step    dev-a
3     u2       10:10  10.0.0.9    pm_1     Solve 5 + 5 step by step     (blank)
4     u2       10:20  10.0.0.2    pm_1     Solve 8 + 1 step by step
5     u3       11:00  10.0.0.2    pm_1     Solve 2 + 2 step by step
6     u3       11:30  10.0.0.3             Write a poem about the sea
7     u4       12:00  100.64.0.1  pm_4                                  ios-17
8     u5       12:10  100.64.0.1                                        ios-17
9     u6       12:20  100.64.0.1                                        ios-17
10    u7       12:30  100.64.0.1
11    u7       13:00  10.0.0.7    pm_7
12    u4       13:10  100.64.0.1  pm_4                                  ios-17
====  =======  =====  ==========  =======  ===========================  ========

- a ring u1, u2, u3: one card, IP 10.0.0.2 (all three) and 10.0.0.9 (u1, u2), and one
  arithmetic template whose number slots vary; u3 sends it only once
- a carrier address 100.64.0.1 held by u4 .. u7: four accounts, one more than the hub
  cap of 3 that :func:`config` sets, so it is a hub
- a device (an extra key) held by u4, u5, u6: exactly the hub cap, so it links
- u3's poem, u4's and u7's cards, u1's device, u3's and u7's own IPs: held by one
  account each, they link no one

Every account sends one or two requests (median 2), far below the heavy accounts'
floor (5 x the median), so no prompt has a strict group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sybilgraph.config import Config
from sybilgraph.engines.base import Engine
from sybilgraph.engines.sources import frame_source
from sybilgraph.fingerprint import hash_strings
from sybilgraph.stages.link import link
from sybilgraph.stages.load import load
from sybilgraph.stages.observe import keep_shared_prompts, observe
from sybilgraph.stages.tables import LinkTables, ObservationTables

HUB_CAP = 3

#: the templates of the two prompt texts (numbers masked, lowercased)
SOLVE = "solve <num> + <num> step by step"
POEM = "write a poem about the sea"


#: the clusters detection makes of the traffic (tests/stages/test_score.py), named by hand
MEMBERSHIP = pd.DataFrame(
    {
        "account_id": ["u1", "u2", "u3", "u4", "u5", "u6"],
        "cluster_id": ["ring", "ring", "ring", "phones", "phones", "phones"],
    }
)


def at(clock: str) -> pd.Timestamp:
    """13 April 2026 at ``clock`` (HH:MM), UTC, as the engines give it: without zone."""
    return pd.Timestamp(f"2026-04-13 {clock}")


_ROWS = [
    ("u1", "10:00", "10.0.0.9", "pm_1", "Solve 12 + 7 step by step", "dev-a"),
    ("u1", "10:05", "10.0.0.2", "pm_1", "Solve 30 + 4 step by step", "dev-a"),
    ("u2", "10:10", "10.0.0.9", "pm_1", "Solve 5 + 5 step by step", " "),
    ("u2", "10:20", "10.0.0.2", "pm_1", "Solve 8 + 1 step by step", None),
    ("u3", "11:00", "10.0.0.2", "pm_1", "Solve 2 + 2 step by step", None),
    ("u3", "11:30", "10.0.0.3", None, "Write a poem about the sea", None),
    ("u4", "12:00", "100.64.0.1", "pm_4", None, "ios-17"),
    ("u5", "12:10", "100.64.0.1", None, None, "ios-17"),
    ("u6", "12:20", "100.64.0.1", None, None, "ios-17"),
    ("u7", "12:30", "100.64.0.1", None, None, None),
    ("u7", "13:00", "10.0.0.7", "pm_7", None, None),
    ("u4", "13:10", "100.64.0.1", "pm_4", None, "ios-17"),
]


def events() -> pd.DataFrame:
    """The table above, as an input would give it (times as ISO 8601 text)."""
    frame = pd.DataFrame(
        _ROWS, columns=["account_id", "ts", "ip", "payment_id", "prompt", "device"]
    )
    frame["ts"] = "2026-04-13T" + frame["ts"] + ":00Z"
    return frame


def config(**link: object) -> Config:
    """The run's config: the device column as an extra key, a hub cap of 3.

    ``hub_share`` 1.0 leaves the cap alone: at its default (2% of seven accounts) every
    value held by more than two accounts would be a hub.
    """
    return Config.from_dict(
        {
            "columns": {"extra_keys": ["device"]},
            "link": {"hub_cap": HUB_CAP, "hub_share": 1.0, **link},
        }
    )


def observe_traffic(
    engine: Engine,
    cfg: Config | None = None,
    traffic: pd.DataFrame | None = None,
    **options: Any,
) -> ObservationTables:
    """Load and observe ``traffic`` (the table above unless given) with ``cfg``;
    ``options`` go to ``observe``."""
    cfg = config() if cfg is None else cfg
    traffic = events() if traffic is None else traffic
    return observe(engine, load(engine, [frame_source(traffic)], cfg), cfg, **options)


def link_traffic(
    engine: Engine,
    cfg: Config | None = None,
    traffic: pd.DataFrame | None = None,
    **options: Any,
) -> tuple[ObservationTables, LinkTables]:
    """Load, observe and link ``traffic``, the prompt map cut to the samples of shared
    groups between, as a run does; ``options`` go to ``link``."""
    cfg = config() if cfg is None else cfg
    observed = keep_shared_prompts(engine, observe_traffic(engine, cfg, traffic))
    return observed, link(engine, observed, cfg, **options)


def template_group(template: str) -> str:
    """The value of a template group of one template: ``t:`` and the low 48 bits of
    the template's hash, in hex."""
    (hashed,) = hash_strings(pa.array([template])).astype(np.uint64)
    return f"t:{int(hashed) & ((1 << 48) - 1):012x}"


def read(engine: Engine, table: str, order: list[str]) -> pd.DataFrame:
    """An engine's table as a frame sorted by ``order``: whole-number decimals (DuckDB's
    sums of integers) as integers, timestamps as :func:`plain` gives them."""
    arrow = engine.arrow(f"SELECT * FROM {table}")
    for index, column in enumerate(arrow.schema):
        if pa.types.is_decimal(column.type) and column.type.scale == 0:
            arrow = arrow.set_column(index, column.name, arrow.column(index).cast(pa.int64()))
    return plain(arrow.to_pandas()).sort_values(order, ignore_index=True)


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its timestamps as the expected tables spell them: no zone, in ns."""
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[ns]")
    return frame


def assert_table(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal column for column, in ``expected``'s columns, floats to 1e-9."""
    pd.testing.assert_frame_equal(
        actual[list(expected.columns)].reset_index(drop=True),
        expected.reset_index(drop=True),
        check_dtype=False,
        rtol=0,
        atol=1e-9,
    )
