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
from sybilgraph.fingerprint import hash_strings, mask_prompts, near_duplicate_groups

__all__ = ["KEY_IP", "KEY_PAYMENT", "KEY_PROMPT", "KEY_SUBNET", "observe"]

log = logging.getLogger(__name__)

KEY_IP = "ip"
KEY_SUBNET = "ip_subnet"
KEY_PAYMENT = "payment"
KEY_PROMPT = "prompt"
#: keys built in; extra keys take their column's name and may not reuse these
BUILTIN_KEYS = (KEY_IP, KEY_SUBNET, KEY_PAYMENT, KEY_PROMPT, "direct")


def observe(engine: Engine, config: Config) -> dict[str, int]:
    """Build ``observations``, ``accounts`` and ``prompt_map`` from ``events``.

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


#: distinct prompts masked and hashed per batch: bounds what Python holds of the texts
PROMPT_BATCH = 1 << 19

#: a template group's value is ``t:`` and 12 hex digits: the low 48 bits of its id
_LABEL_BITS = (1 << 48) - 1


def _fingerprint(engine: Engine, config: Config, counts: dict[str, int]) -> bool:
    """Fingerprint each distinct prompt once; build ``prompt_map`` (prompt, template,
    template_group).

    The texts stay in the engine and pass through Python a batch at a time: tier 1 masks
    and hashes each batch, tier 2 keeps only the MinHash signatures of the distinct
    templates. Group ids come back as numbers and are labelled in SQL.
    """
    engine.create_table(
        "prompt_texts", "SELECT DISTINCT prompt FROM events WHERE prompt IS NOT NULL"
    )
    counts["distinct_prompts"] = engine.count("prompt_texts")
    if counts["distinct_prompts"] == 0:
        engine.drop("prompt_texts")
        return False
    created = False
    for batch in engine.batches("SELECT prompt FROM prompt_texts", PROMPT_BATCH):
        texts = batch.column(0)
        templates = mask_prompts(texts)
        hashes = hash_strings(templates).view(np.int64)  # engines lack unsigned 64 bits
        engine.register(
            "prompt_fp_in",
            pa.table({"prompt": texts, "template": templates, "template_hash": hashes}),
        )
        if created:
            engine.insert("prompt_fp", "SELECT * FROM prompt_fp_in")
        else:
            engine.create_table("prompt_fp", "SELECT * FROM prompt_fp_in")
            created = True
        engine.drop("prompt_fp_in")
    engine.drop("prompt_texts")
    pa.default_memory_pool().release_unused()  # the batches' buffers, before tier 2

    group, join = "f.template_hash", ""
    if config.prompt.near_duplicates:
        distinct = engine.batches(
            # in the order of the hashes as unsigned numbers, the order tier 2 works in
            "SELECT template_hash, min(template) FROM prompt_fp GROUP BY template_hash "
            "ORDER BY template_hash < 0, template_hash",
            PROMPT_BATCH,
        )
        hashes, groups = near_duplicate_groups(
            (
                (b.column(0).to_numpy(zero_copy_only=False).view(np.uint64), b.column(1))
                for b in distinct
            ),
            config.prompt,
            config.seed,
        )
        moved = groups != hashes
        engine.register(
            "template_groups_in",
            pa.table(
                {
                    "template_hash": hashes[moved].view(np.int64),
                    "grp": groups[moved].view(np.int64),
                }
            ),
        )
        engine.create_table("template_groups", "SELECT * FROM template_groups_in")
        engine.drop("template_groups_in")
        group = "coalesce(g.grp, f.template_hash)"
        join = "LEFT JOIN template_groups g ON g.template_hash = f.template_hash"
    label = f"'t:' || lpad(lower(hex({group} & {_LABEL_BITS})), 12, '0')"
    engine.create_table(
        "prompt_map",
        f"SELECT f.prompt, f.template, {label} AS template_group FROM prompt_fp f {join}",
    )
    if config.prompt.near_duplicates:
        counts["templates"] = int(np.unique(groups).size)
    else:
        n_distinct = engine.scalar("SELECT count(DISTINCT template_hash) FROM prompt_fp")
        counts["templates"] = int(n_distinct) if isinstance(n_distinct, int) else 0
    engine.drop("prompt_fp")
    engine.drop("template_groups")
    # a template's text and sample prompts are looked up in prompt_map for the few
    # templates shown (views.template_texts), not gathered for millions of groups here
    return True
