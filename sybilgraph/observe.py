"""observe: events become distinct (account, key, value) observations.

Each observation carries first/last seen and a request count. Values are normalised per
key kind before they get here (IPs in load); prompts are fingerprinted here, once per
distinct text, into template groups so that near-identical prompts share one value.
"""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa

from sybilgraph.config import Config
from sybilgraph.engines.base import Engine
from sybilgraph.fingerprint import fingerprint_prompts

__all__ = ["KEY_IP", "KEY_PAYMENT", "KEY_PROMPT", "KEY_SUBNET", "observe", "template_label"]

log = logging.getLogger(__name__)

KEY_IP = "ip"
KEY_SUBNET = "ip_subnet"
KEY_PAYMENT = "payment"
KEY_PROMPT = "prompt"
#: keys built in; extra keys take their column's name and may not reuse these
BUILTIN_KEYS = (KEY_IP, KEY_SUBNET, KEY_PAYMENT, KEY_PROMPT, "direct")


def template_label(groups: np.ndarray) -> np.ndarray:
    """The readable value of a prompt template group: ``t:`` and 12 hex digits."""
    low = np.asarray(groups, dtype=np.uint64) & np.uint64(0xFFFFFFFFFFFF)
    shifts = np.arange(44, -1, -4, dtype=np.uint64)
    nibbles = (low[:, None] >> shifts) & np.uint64(0xF)
    hexdigits = np.frombuffer(b"0123456789abcdef", dtype="S1")[nibbles.astype(np.intp)]
    text = np.ascontiguousarray(hexdigits).view("S12").ravel()
    return np.char.add(b"t:", text).astype(str)


def observe(engine: Engine, config: Config) -> dict[str, int]:
    """Build ``observations``, ``accounts`` and ``templates`` from ``events``.

    Returns counts for run.json.
    """
    counts: dict[str, int] = {}
    has_prompts = _fingerprint(engine, config, counts)
    parts = [
        f"SELECT account_id, '{KEY_IP}' AS key, ip_key AS value, ts FROM events "
        "WHERE ip_key IS NOT NULL"
    ]
    if config.link.ipv4_subnet:
        parts.append(
            f"SELECT account_id, '{KEY_SUBNET}', ip_subnet, ts FROM events "
            "WHERE ip_subnet IS NOT NULL"
        )
    parts.append(
        f"SELECT account_id, '{KEY_PAYMENT}', payment_id, ts FROM events "
        "WHERE payment_id IS NOT NULL"
    )
    if has_prompts:
        parts.append(
            f"SELECT e.account_id, '{KEY_PROMPT}', p.template_group, e.ts "
            "FROM events e JOIN prompt_map p ON e.prompt = p.prompt"
        )
    for index, name in enumerate(config.columns.extra_keys):
        key = name.replace("'", "''")
        parts.append(
            f"SELECT account_id, '{key}', extra_{index}, ts FROM events "
            f"WHERE extra_{index} IS NOT NULL"
        )
    union = " UNION ALL ".join(parts)
    engine.create_table(
        "observations",
        f"""SELECT account_id, key, value, min(ts) AS first_seen, max(ts) AS last_seen,
                   count(*) AS n
            FROM ({union}) o GROUP BY account_id, key, value""",
    )
    engine.create_table(
        "accounts",
        """SELECT account_id, count(*) AS requests, min(ts) AS first_seen,
                  max(ts) AS last_seen
           FROM events GROUP BY account_id""",
    )
    counts["observations"] = engine.count("observations")
    counts["accounts"] = engine.count("accounts")
    return counts


def _fingerprint(engine: Engine, config: Config, counts: dict[str, int]) -> bool:
    """Fingerprint each distinct prompt once; build ``prompt_map`` and ``templates``."""
    distinct = engine.arrow(
        "SELECT DISTINCT prompt FROM events WHERE prompt IS NOT NULL ORDER BY prompt"
    )
    counts["distinct_prompts"] = distinct.num_rows
    if distinct.num_rows == 0:
        return False
    texts = distinct.column("prompt").combine_chunks()
    prints = fingerprint_prompts(texts, config.prompt, config.seed)
    groups = np.asarray(prints.column("group").to_numpy(zero_copy_only=False), dtype=np.uint64)
    labels = pa.array(template_label(groups), type=pa.string())
    engine.register(
        "prompt_map_in",
        pa.table(
            {
                "prompt": texts,
                "template": prints.column("template"),
                "template_group": labels,
            }
        ),
    )
    engine.create_table("prompt_map", "SELECT * FROM prompt_map_in")
    engine.drop("prompt_map_in")
    engine.create_table(
        "templates",
        f"""SELECT template_group AS value, min(template) AS text,
                   {engine.list_head("prompt", "prompt", 5)} AS samples,
                   count(*) AS distinct_prompts
            FROM prompt_map GROUP BY template_group""",
    )
    counts["templates"] = engine.count("templates")
    return True
