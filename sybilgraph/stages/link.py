"""link: shared values become weighted account pairs, each with its evidence.

A value held by ``d`` accounts weighs ``1 / ln(d + c)`` (FRAUDAR's column weighting): a
card shared by two accounts says far more than an IP shared by two hundred. A value held
by more than ``hub_cap`` accounts is a *hub*: listed in ``hubs`` and never expanded into
pairs, so the pair count is at most ``sum(min(d, hub_cap)^2) / 2`` over all values,
whatever the data. An address too busy to tie two accounts alone pairs only accounts
the other values tie, directly or through others (see :func:`_busy`).
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa

from sybilgraph.config import Config, key_column
from sybilgraph.engines.base import Engine
from sybilgraph.fingerprint import components
from sybilgraph.stages.lockstep import add_lockstep_pairs
from sybilgraph.stages.normalize import in_cidrs
from sybilgraph.stages.observe import (
    KEY_COUNTERPARTY,
    KEY_DIRECT,
    KEY_IP,
    KEY_PROMPT,
    KEY_SUBNET,
    KEY_WRAPPER,
)
from sybilgraph.stages.tables import GraphInputs, LinkTables, ObservationTables, PairNumbers

__all__ = [
    "IP_KEYS",
    "RELATION_KEYS",
    "create_in_slices",
    "evidence_sql",
    "hub_limit",
    "link",
    "release_pairs",
]

log = logging.getLogger(__name__)

#: keys of shared infrastructure (exits, NAT, offices' addresses): many unrelated people
#: share them, so a link's part on them is capped and they alone join no leftovers
IP_KEYS = (KEY_IP, KEY_SUBNET)
#: keys that are relations between accounts (an edge: a transfer, an invitation), not
#: values they share: an edge links its two ends (``direct``) and the accounts at the
#: far ends of one account's edges (``counterparty``). Control passes along a relation
#: however thinly it ties a pair (a funder of 30 addresses: 1 / ln(35) = 0.28 a pair),
#: so a link on one reaches the graph whatever its weight (``detect.min_weight`` is for
#: shared values) and a component of them is taken whole (``detect.cut_relations``)
RELATION_KEYS = (KEY_DIRECT, KEY_COUNTERPARTY)


def link(
    engine: Engine,
    observed: ObservationTables,
    config: Config,
    *,
    inputs: GraphInputs | None = None,
    benign_values: pa.Table | None = None,
) -> LinkTables:
    """Join the observations on shared values into weighted account pairs.

    The ``inputs``' edges between two subjects are pairs of their own (key ``direct``);
    their listed hubs never link. Context accounts (not subjects) count among a value's
    holders but are never paired. ``benign_values`` (key, value) are values an
    investigator marked benign: they are listed as hubs with that reason and never link.
    """
    inputs = inputs or GraphInputs()
    cfg = config.link
    literal = engine.dialect.literal
    cap = hub_limit(config, engine.count(observed.accounts))
    engine.create_table(
        "value_stats",
        f"""SELECT key, value, count(*) AS holders, CAST(sum(n) AS BIGINT) AS requests,
                  min(first_seen) AS first_seen, max(last_seen) AS last_seen
           FROM {observed.observations} GROUP BY key, value""",
    )
    _mark_values(engine, config, cap, benign_values, inputs.hubs)
    values = engine.count("value_stats")
    engine.drop("value_stats")  # value_marks holds each value with its marks

    weights = " ".join(
        f"WHEN {literal(k)} THEN {float(w)}" for k, w in sorted(cfg.key_weights.items())
    )
    key_weight = f"CASE s.key {weights} ELSE 1.0 END" if weights else "1.0"
    weight = f"{key_weight} * s.factor / ln(s.holders + {float(cfg.hub_c)})"
    busy = _busy(config, weight, literal)
    engine.create_table(
        "linkable",
        f"""SELECT s.key, s.value, s.holders, {weight} AS w, {busy or "false"} AS busy
            FROM {_VALUES} s
            WHERE s.holders >= 2 AND s.holders <= {cap} AND s.reason IS NULL""",
    )
    engine.create_table(
        _HUBS,
        f"""SELECT key, value, holders AS accounts, requests, reason, first_seen, last_seen
           FROM {_VALUES} WHERE reason IS NOT NULL""",
    )
    # the pairs that are relations (edges) or co-activity come first: their values are
    # numbered with the shared ones
    engine.create_table(
        _EXTRA_PAIRS,
        f"""SELECT account_id AS a, account_id AS b, key, value, CAST(0 AS DOUBLE) AS w,
                   first_seen, last_seen FROM {observed.observations} WHERE false""",
    )
    if inputs.edges:
        _add_direct_pairs(engine, config, inputs.edges, observed)
    coactivity = add_lockstep_pairs(engine, observed, config, _EXTRA_PAIRS, cap)
    _number(engine, observed)
    columns = "ua.num AS account, o.key, v.num AS value, o.first_seen, o.last_seen, l.w, l.busy"
    source = f"""FROM {observed.observations} o
           JOIN linkable l ON o.key = l.key AND o.value = l.value
           JOIN {_VALUE_NUMBERS} v ON v.key = o.key AND v.value = o.value
           JOIN {_ACCOUNT_NUMBERS} ua ON ua.account_id = o.account_id
           WHERE (o.key NOT IN ({literal(KEY_PROMPT)}, {literal(KEY_WRAPPER)})
                  OR o.n >= {int(config.prompt.min_uses)})"""
    if observed.context:
        source += f" AND o.account_id IN (SELECT account_id FROM {observed.accounts} WHERE subject)"
    linkable_obs = f"SELECT {columns} {source}"
    if config.prompt.max_groups > 0:
        # an account's prompt groups ranked by how often it sent them (ties by value)
        rank = (
            f"CASE WHEN o.key = {literal(KEY_PROMPT)} THEN row_number() OVER ("
            "PARTITION BY o.account_id, o.key ORDER BY o.n DESC, o.value) ELSE 0 END"
        )
        linkable_obs = f"""SELECT account, key, value, first_seen, last_seen, w, busy
            FROM (SELECT {columns}, {rank} AS prompt_rank {source}) t
            WHERE prompt_rank <= {int(config.prompt.max_groups)}"""
    engine.create_table("linkable_obs", linkable_obs)
    time_factor = "1.0"
    if cfg.time_window_hours > 0:
        seconds = float(cfg.time_window_hours) * 3600.0
        sql = engine.dialect
        near = (
            f"({sql.epoch('x.first_seen')} <= {sql.epoch('y.last_seen')} + {seconds} "
            f"AND {sql.epoch('y.first_seen')} <= {sql.epoch('x.last_seen')} + {seconds})"
        )
        ip_keys = ", ".join(literal(k) for k in IP_KEYS)
        time_factor = (
            f"CASE WHEN x.key IN ({ip_keys}) AND NOT {near} "
            f"THEN {float(cfg.outside_window_factor)} ELSE 1.0 END"
        )
    # accounts and values as numbers: joined and grouped on, they cost a third of the
    # texts (realistic benchmark log, 11.8M pair values: the pairs 0.5 s, not 1.5 s)
    pair = f"""x.w * {time_factor} AS w,
                   greatest(x.first_seen, y.first_seen) AS first_seen,
                   least(x.last_seen, y.last_seen) AS last_seen"""
    engine.create_table(
        _PAIR_NUMBERS,
        f"""SELECT x.account AS a, y.account AS b, x.key, x.value, {pair}
            FROM linkable_obs x JOIN linkable_obs y
              ON x.value = y.value AND x.account < y.account
            WHERE NOT x.busy""",
    )
    engine.insert(
        _PAIR_NUMBERS,
        f"""SELECT ua.num, ub.num, e.key, v.num, e.w, e.first_seen, e.last_seen
            FROM {_EXTRA_PAIRS} e
            JOIN {_ACCOUNT_NUMBERS} ua ON ua.account_id = e.a
            JOIN {_ACCOUNT_NUMBERS} ub ON ub.account_id = e.b
            JOIN {_VALUE_NUMBERS} v ON v.key = e.key AND v.value = e.value""",
    )
    engine.drop(_EXTRA_PAIRS)
    if busy and engine.scalar("SELECT count(*) FROM linkable_obs WHERE busy"):
        # a busy address pairs its holders tied otherwise (see _busy): joined on the
        # address and the component, so that its other holders are never paired
        _tied_components(engine)
        engine.create_table(
            "busy_obs",
            """SELECT x.account, x.key, x.value, x.first_seen, x.last_seen, x.w, c.component
                FROM linkable_obs x JOIN tied_components c ON c.account = x.account
                WHERE x.busy""",
        )
        engine.drop("tied_components")
        engine.insert(
            _PAIR_NUMBERS,
            f"""SELECT x.account, y.account, x.key, x.value, {pair}
                FROM busy_obs x JOIN busy_obs y
                  ON x.value = y.value AND x.component = y.component
                     AND x.account < y.account""",
        )
        engine.drop("busy_obs")
    engine.drop("linkable_obs")
    engine.drop("linkable")
    # the pair values as texts, for the readers, who read the pairs of a few accounts
    engine.create_view(
        _PAIR_VALUES,
        f"""SELECT ua.account_id AS a, ub.account_id AS b, v.key, v.value, p.w
            FROM {_PAIR_NUMBERS} p
            JOIN {_ACCOUNT_NUMBERS} ua ON ua.num = p.a
            JOIN {_ACCOUNT_NUMBERS} ub ON ub.num = p.b
            JOIN {_VALUE_NUMBERS} v ON v.num = p.value""",
    )
    keys, lone = build_links(engine, config)
    # a value's number says its key: the score and pseudonymisation read the pairs'
    # numbers and weights until release_pairs (1.5M realistic events, 10.9M pair
    # values: the keys 174 MB)
    engine.drop_columns(_PAIR_NUMBERS, ["key"])
    return LinkTables(
        values=_VALUES,
        hubs=_HUBS,
        pair_values=_PAIR_VALUES,
        links=_LINKS,
        numbers=PairNumbers(pairs=_PAIR_NUMBERS, accounts=_ACCOUNT_NUMBERS, values=_VALUE_NUMBERS),
        keys=keys,
        lone=lone,
        infrastructure=IP_KEYS,
        infrastructure_cap=float(cfg.infrastructure_cap),
        counts={
            "values": values,
            "hubs": engine.count(_HUBS),
            "pair_values": engine.count(_PAIR_NUMBERS),
            "links": engine.count(_LINKS),
            **coactivity,
        },
    )


#: the tables link makes: known to the others only through ``LinkTables``
_VALUES = "value_marks"
_HUBS = "hubs"
_PAIR_VALUES = "pair_values"
_LINKS = "links"
#: link's own tables: the pair values with accounts and values as numbers, the numbers,
#: and the pairs that are relations or co-activity, as texts, until they are numbered
_PAIR_NUMBERS = "pair_numbers"
_ACCOUNT_NUMBERS = "account_numbers"
_VALUE_NUMBERS = "value_numbers"
_EXTRA_PAIRS = "extra_pairs"
#: the pair values' times, which only the links read
_PAIR_TIMES = ("first_seen", "last_seen")


def _busy(config: Config, weight: str, literal: Callable[[str], str]) -> str | None:
    """SQL: whether a value (of ``linkable``, weighing ``weight``) is a busy address,
    whose holders are paired only where they are tied otherwise
    (``link.busy_addresses = "tied"``): an IP or subnet held by so many accounts that it
    cannot tie two of them alone (its weight under ``detect.min_weight``).

    Two such addresses can (two of 200 holders: 0.38 a pair), and behind a carrier's NAT
    every user holds dozens of addresses each held by hundreds, so that 6% of the pairs
    of users share two by chance. On a log of 1M requests of 20,000 such users
    (``benchmarks/carrier_nat.py``) their pairs were 99M pair values and 17.4M links,
    one component of every user that no cluster came out of, in 6:38 and 7.9 GB. An
    operator drawing its accounts' addresses from such a pool shares them with the
    pool's users as much as among its accounts; what ties its accounts is what else
    they share. So a busy address pairs two of its holders only where they are in one
    component of the pairs the other values make (tied directly or through others):
    there it adds its weight to every pair as before, the pairs it alone ties included
    (a VPN ring's accounts share its exits pair by pair, their content only here and
    there: without those pairs 2 of the realistic log's 15 VPN rings came apart).
    None (no value is busy) with ``link.busy_addresses = "all"``, ``detect.min_weight``
    0 or ``link.keep_weak_links``, which keep every pair."""
    bound = float(config.detect.min_weight)
    cfg = config.link
    if cfg.busy_addresses == "all" or bound <= 0 or cfg.keep_weak_links:
        return None
    keys = ", ".join(literal(k) for k in IP_KEYS)
    return f"(s.key IN ({keys}) AND {weight} < {bound!r})"


def _tied_components(engine: Engine) -> None:
    """Create ``tied_components`` (account, component): for each account that holds a
    busy address and is tied to another by the pairs made so far, its component among
    them (named after its smallest account number). Streamed from the engine in
    batches: Python holds one number per account."""
    top = engine.scalar(f"SELECT max(num) FROM {_ACCOUNT_NUMBERS}")
    size = int(top) + 1 if isinstance(top, int) else 1
    batches = engine.batches(f"SELECT a, b FROM {_PAIR_NUMBERS}", _PAIRS_PER_BATCH)
    component = components(
        size,
        (
            (b.column(0).to_numpy(zero_copy_only=False), b.column(1).to_numpy(zero_copy_only=False))
            for b in batches
        ),
    )
    # an account is tied to another when it is not alone in its component
    tied = np.bincount(component, minlength=size) > 1
    holders = (
        engine.arrow("SELECT DISTINCT account FROM linkable_obs WHERE busy")
        .column(0)
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )
    holders = np.sort(holders[tied[component[holders]]])
    engine.store("tied_components", pa.table({"account": holders, "component": component[holders]}))


#: pairs read at once to find the components of the tied accounts (16 bytes each)
_PAIRS_PER_BATCH = 1 << 22


#: the most accounts or values numbered as 32-bit integers
_INT32_NUMBERS = 2**31 - 1


def _number(engine: Engine, observed: ObservationTables) -> None:
    """Number the accounts and the values that may link (``linkable`` and those of the
    extra pairs), each in the order of its text (values within a key), so that numbers
    compare as the texts do: a pair's ``a`` is the account first in text order, as it
    was, and ties between values break as between their texts.

    The numbers are 32-bit where every one fits (bounded by the rows they come from):
    each pair value holds three of them until the score has read it (1.5M realistic
    events, 7.8M pair values: 94 MB less than as 64-bit numbers)."""
    rows = engine.count(observed.observations) + engine.count("linkable")
    rows += 2 * engine.count(_EXTRA_PAIRS)
    kind = "INTEGER" if rows < _INT32_NUMBERS else "BIGINT"
    engine.create_table(
        _ACCOUNT_NUMBERS,
        f"""SELECT account_id, CAST(row_number() OVER (ORDER BY account_id) AS {kind}) AS num
           FROM (
              SELECT account_id FROM {observed.observations}
              UNION SELECT a FROM {_EXTRA_PAIRS} UNION SELECT b FROM {_EXTRA_PAIRS}) t""",
    )
    engine.create_table(
        _VALUE_NUMBERS,
        f"""SELECT key, value, CAST(row_number() OVER (ORDER BY key, value) AS {kind}) AS num
           FROM (
              SELECT key, value FROM linkable
              UNION SELECT key, value FROM {_EXTRA_PAIRS}) t""",
    )


def release_pairs(engine: Engine, linked: LinkTables) -> None:
    """Drop the pair values and link's numbers once the score and pseudonymisation have
    read them: nothing after reads them, and the tables and pages are written without
    holding them (1.5M realistic events, 10.9M pair values: the write stage's peak 3.46
    GB with them, 2.68 and 2.77 GB without in two runs)."""
    engine.drop(linked.pair_values)
    numbers = linked.numbers
    for table in (numbers.pairs, numbers.accounts, numbers.values):
        engine.drop(table)


def slices(engine: Engine, source: str, by: Sequence[str], on: str | None = None) -> list[str]:
    """Conditions on the column ``on`` (``by``'s first by default) that cut ``source``
    into slices whose ``GROUP BY`` over ``by`` holds at most about ``engine.fold_groups``
    groups each (estimated): ``["true"]`` when one will do.

    ``on`` must be equal for all of a group's rows: every row falls in exactly one slice
    and all of a group's rows in the same one, so the statement run once per slice gives
    the rows of a run over all. A column of numbers is cut into ranges of about as many
    rows each: a range is read alone (the engine filters the column as it scans it),
    where a slice by the hash of the column computed the hash of every row for every
    slice (30M synth events, 36.7M pair values in 37 slices: the pairs' weights 3.2 s
    against 7.3 s). A column of texts is cut by its hash.
    """
    per_slice = engine.fold_groups
    if per_slice <= 0:
        return ["true"]
    sql = engine.dialect
    estimate = engine.scalar(f"SELECT {sql.distinct_estimate(by)} FROM {source}")
    groups = int(estimate) if isinstance(estimate, int | float) else 0
    count = max(1, -(-groups // per_slice))
    if count == 1:
        return ["true"]
    column = on or by[0]
    kind = engine.arrow(f"SELECT {column} FROM {source} LIMIT 0").schema.field(0).type
    if not pa.types.is_integer(kind):
        return [f"{sql.bucket(column, count)} = {i}" for i in range(count)]
    return _ranges(engine, source, column, count)


def _ranges(engine: Engine, source: str, column: str, count: int) -> list[str]:
    """Conditions cutting the numbers of ``column`` into ``count`` ranges of about as
    many rows of ``source`` each (``Engine.cut_values``; a NULL falls in the first)."""
    rows = engine.count(source)
    cuts = engine.cut_values(source, column, -(-rows // count)).to_pylist()
    bounds = [None, *(int(cut) for cut in cuts), None]
    conditions = []
    for lower, upper in itertools.pairwise(bounds):
        parts = [f"{column} >= {lower}"] if lower is not None else []
        parts += [f"{column} < {upper}"] if upper is not None else []
        condition = " AND ".join(parts) or "true"
        conditions.append(condition if lower is not None else f"({condition} OR {column} IS NULL)")
    return conditions


def create_in_slices(
    engine: Engine,
    table: str,
    sql: Callable[[str], str],
    source: str,
    by: Sequence[str],
    on: str | None = None,
) -> None:
    """Create ``table`` from ``sql(condition)``, one statement per slice of ``source``
    (see :func:`slices`)."""
    for index, condition in enumerate(slices(engine, source, by, on)):
        if index == 0:
            engine.create_table(table, sql(condition))
        else:
            engine.insert(table, sql(condition))


def build_links(
    engine: Engine, config: Config
) -> tuple[tuple[str, ...], dict[str, tuple[int, int]] | None]:
    """Fold the pair values into links: one row per account pair, with its evidence.

    Only the pairs that reach the graph (``detect.min_weight``, or a relation between
    them: ``RELATION_KEYS``) become links, unless ``link.keep_weak_links``. Returns the
    keys that link at least one pair, sorted, and per key the pairs resting on it alone
    and how many of them are left out (None where every link is kept: the links say
    it).
    """
    cfg = config.link
    sql = engine.dialect
    literal = sql.literal
    exact_sum = _weight_sum(config)
    link_weight = _link_weight(config, literal)
    # folded on numbers (accounts, values), the texts joined to the rows left, one per
    # pair and key: at 30M synth events 37.8M pair values given their texts first took
    # 40 s to fold, 12 s as numbers
    source = _PAIR_NUMBERS
    lone: dict[str, tuple[int, int]] | None = None
    bound = float(config.detect.min_weight)
    if bound > 0 and not cfg.keep_weak_links:
        # a pair's weight is the sum of its values' weights: the pairs that reach the
        # graph are found first, and the evidence gathered for those only
        lone = _strong_pairs(engine, config, bound)
        engine.create_table(
            "strong_values",
            f"""SELECT p.a, p.b, p.key, p.value, p.w, p.first_seen, p.last_seen
               FROM {_PAIR_NUMBERS} p JOIN strong_pairs s ON p.a = s.a AND p.b = s.b""",
        )
        engine.drop("strong_pairs")
        source = "strong_values"
        # the times of the pairs that reach the graph are in strong_values: none are
        # read from pair_numbers again (1.5M realistic events, 10.9M pair values: 160 MB)
        engine.drop_columns(_PAIR_NUMBERS, _PAIR_TIMES)
    # values are numbered in the order of their texts within a key, so the sample's
    # ties break as between the texts
    create_in_slices(
        engine,
        "pair_key_numbers",
        lambda where: (
            f"""SELECT a, b, key, {exact_sum} AS w, count(*) AS n,
                   {sql.top_list("value", "w", cfg.evidence_sample)} AS sample,
                   min(first_seen) AS first_seen, max(last_seen) AS last_seen
            FROM {source} WHERE {where} GROUP BY a, b, key"""
        ),
        source,
        ("a", "b", "key"),
    )
    if source == _PAIR_NUMBERS:
        engine.drop_columns(_PAIR_NUMBERS, _PAIR_TIMES)  # now in pair_key_numbers
    engine.drop("strong_values")
    # each sample value joined to its text (config.EVIDENCE_SAMPLE_MAX joins at most)
    picks = range(1, cfg.evidence_sample + 1)
    texts = ", ".join(f"v{i}.value" for i in picks)
    joins = " ".join(
        f"LEFT JOIN {_VALUE_NUMBERS} v{i} ON v{i}.num = {sql.list_item('p.sample', i)}"
        for i in picks
    )
    engine.create_table(
        "pair_keys",
        f"""SELECT ua.account_id AS a, ub.account_id AS b, p.key, p.w, p.n,
                  concat_ws(', ', {texts}) AS sample, p.first_seen, p.last_seen,
                  p.a AS a_num
           FROM pair_key_numbers p
           JOIN {_ACCOUNT_NUMBERS} ua ON ua.num = p.a
           JOIN {_ACCOUNT_NUMBERS} ub ON ub.num = p.b {joins}""",
    )
    engine.drop("pair_key_numbers")
    keys = sorted(
        str(k) for k in engine.arrow("SELECT DISTINCT key FROM pair_keys").column(0).to_pylist()
    )
    per_key = []
    for key in keys:
        stem = key_column(key)
        lit = literal(key)
        per_key.append(
            f"sum(CASE WHEN key = {lit} THEN w ELSE 0 END) AS {stem}_weight, "
            f"CAST(sum(CASE WHEN key = {lit} THEN n ELSE 0 END) AS BIGINT) AS {stem}_n, "
            f"max(CASE WHEN key = {lit} THEN sample END) AS {stem}_values"
        )
    if keys:
        key_list, evidence = evidence_sql(
            engine,
            keys,
            lambda k: f"sum(CASE WHEN key = {literal(k)} THEN n ELSE 0 END)",
            lambda k: f"max(CASE WHEN key = {literal(k)} THEN sample END)",
        )
        # the samples are strings again: sliced as pair_keys was, by the first account's
        # number
        create_in_slices(
            engine,
            _LINKS,
            lambda where: (
                f"""SELECT a, b, {link_weight} AS weight, {key_list} AS keys,
                       {evidence} AS evidence,
                       min(first_seen) AS first_seen, max(last_seen) AS last_seen,
                       {", ".join(per_key)}
                FROM pair_keys WHERE {where} GROUP BY a, b"""
            ),
            "pair_keys",
            ("a", "b"),
            on="a_num",
        )
    else:
        null = sql.null_text()
        engine.create_table(
            _LINKS,
            f"""SELECT {null} AS a, {null} AS b,
                      CAST(NULL AS DOUBLE) AS weight, {null} AS keys,
                      {null} AS evidence, first_seen, last_seen
               FROM pair_keys WHERE false""",
        )
    engine.drop("pair_keys")
    return tuple(keys), lone


#: a value's weight in whole units of 2^-40 for the first, rough sum of a pair's weight
#: (fewer bits where weights are large, so that no value's units pass 2^61)
_UNIT_BITS = 40


def _strong_pairs(engine: Engine, config: Config, bound: float) -> dict[str, tuple[int, int]]:
    """Create ``strong_pairs`` (a, b): the pairs of ``pair_numbers`` that reach the
    graph (weight at least ``bound``, or a relation between them). Returns per key the
    pairs resting on it alone and how many of them are left out.

    A pair's weight is summed first in whole units, and its keys are numbered: integers
    add exactly in any order, and an aggregate of numbers is far cheaper than decimal
    sums beside the least and greatest of the keys' texts (at 1.5M realistic events,
    10.9M pair values in three slices: 1.8 s against 2.9 s). A value's weight rounded
    to units is off by at most half a unit, so a pair whose sum lies more units from
    the bound than it has values is decided by that sum. The pairs closer to it (none
    in the benchmark logs) are weighed exactly as before: the pairs kept are those the
    exact sum keeps.
    """
    sql = engine.dialect
    literal = sql.literal
    keys = [
        str(k)
        for k in engine.arrow(f"SELECT DISTINCT key FROM {_VALUE_NUMBERS} ORDER BY key")
        .column(0)
        .to_pylist()
    ]
    heaviest = engine.scalar(f"SELECT max(abs(w)) FROM {_PAIR_NUMBERS}")
    bits = _UNIT_BITS
    if isinstance(heaviest, float) and heaviest > 0:
        bits = min(bits, 61 - math.ceil(math.log2(heaviest)))
    unit = 2.0**bits
    # as the links are weighed, each term in whole units
    rough = _link_weight(
        config,
        literal,
        lambda term: sql.int_sum(f"CAST(round(({term}) * {unit!r}) AS BIGINT)"),
        unit,
    )
    # each key as its position in ``keys`` (no key at all: no pairs either)
    whens = " ".join(f"WHEN {literal(k)} THEN {i}" for i, k in enumerate(keys))
    code = f"CASE key {whens} END" if keys else "0"
    related = f"key IN ({', '.join(literal(k) for k in RELATION_KEYS)})"
    create_in_slices(
        engine,
        "pair_weights",
        lambda where: (
            f"""SELECT a, b, {rough} AS units, count(*) AS n,
                  min({code}) AS k1, max({code}) AS k2,
                  max(CASE WHEN {related} THEN 1 ELSE 0 END) AS related
           FROM {_PAIR_NUMBERS} WHERE {where} GROUP BY a, b"""
        ),
        _PAIR_NUMBERS,
        ("a", "b"),
    )
    # the rounding moves a sum by at most half a unit a value: a margin of n + 2 units
    # leaves no doubt
    target = bound * unit
    near = f"related = 0 AND abs(units - {target!r}) <= n + 2"
    engine.create_table(
        "near_weights",
        f"""SELECT p.a, p.b, {_link_weight(config, literal)} AS w
           FROM {_PAIR_NUMBERS} p
           JOIN (SELECT a, b FROM pair_weights WHERE {near}) s ON p.a = s.a AND p.b = s.b
           GROUP BY p.a, p.b""",
    )
    pairs = "pair_weights p LEFT JOIN near_weights x ON x.a = p.a AND x.b = p.b"
    strong = f"(p.related = 1 OR p.units - (p.n + 2) > {target!r} OR x.w >= {bound!r})"
    light = engine.arrow(
        f"""SELECT p.k1 AS key, count(*) AS alone,
                  sum(CASE WHEN {strong} THEN 0 ELSE 1 END) AS light
           FROM {pairs} WHERE p.k1 = p.k2 GROUP BY p.k1"""
    ).to_pylist()
    engine.create_table("strong_pairs", f"SELECT p.a, p.b FROM {pairs} WHERE {strong}")
    engine.drop("near_weights")
    engine.drop("pair_weights")
    return {keys[int(r["key"])]: (int(r["alone"]), int(r["light"])) for r in light}


#: decimals hold 20 digits before the point: weights are summed as decimals while the
#: most a value can weigh stays far below that
_EXACT_SUM_LIMIT = 1e12


def _link_weight(
    config: Config,
    literal: Callable[[str], str],
    total: Callable[[str], str] | None = None,
    unit: float = 1.0,
) -> str:
    """SQL for a pair's weight from its values' weights ``w`` (by ``key``): their sum,
    with the part on shared infrastructure (IP, subnet) at most
    ``link.infrastructure_cap`` (0: no cap).

    ``total`` sums a term over the pair's values (by default :func:`_weight_sum`), in
    units of ``unit`` (the cap is counted in the same units)."""
    if total is None:
        total = functools.partial(_weight_sum, config)
    cap = float(config.link.infrastructure_cap)
    if cap <= 0:
        return total("w")
    infra = f"key IN ({', '.join(literal(k) for k in IP_KEYS)})"
    rest = total(f"CASE WHEN {infra} THEN 0.0 ELSE w END")
    shared = total(f"CASE WHEN {infra} THEN w ELSE 0.0 END")
    return f"({rest} + least({shared}, {cap * unit}))"


def _weight_sum(config: Config, term: str = "w") -> str:
    """SQL summing the weights ``w`` of a group the same way on every run.

    A float sum depends on the order of its terms, which threads vary from run to run
    (88 of the sample's 7,926 link weights differed in their last bits); decimals add
    exactly. A config under which a value could weigh near the decimals' range (key
    weights of 1e12 and more) keeps the float sum.
    """
    cfg = config.link
    # factors (shared infrastructure, time windows) are at most 1; keys without a
    # weight weigh 1
    heaviest = max([1.0, *cfg.key_weights.values()]) / math.log(2.0 + cfg.hub_c)
    if heaviest < _EXACT_SUM_LIMIT:
        return f"CAST(sum(CAST({term} AS DECIMAL(38, 18))) AS DOUBLE)"
    return f"sum({term})"


def evidence_sql(
    engine: Engine,
    keys: list[str],
    count_of: Callable[[str], str],
    sample_of: Callable[[str], str],
) -> tuple[str, str]:
    """SQL for a link's ``keys`` ("ip,prompt") and ``evidence`` ("ip: 2 shared (a, b);
    prompt: ...") from expressions giving, per key, the count of shared values and
    their sample.

    Each key's part is NULL where it shares nothing, and ``concat_ws`` skips NULLs: the
    sample values are shown as they are. Empty parts joined with "; " and the runs of
    "; " collapsed by a regular expression took twice the time of the whole fold (at
    1.5M realistic events, 2.05M links: 3.5 s against 1.8 s) and collapsed any "; ; "
    inside a value too.
    """
    literal = engine.dialect.literal
    evidence = ", ".join(
        f"CASE WHEN {count_of(k)} > 0 THEN {literal(k + ': ')} || "
        f"{engine.dialect.text(count_of(k))} || ' shared (' || {sample_of(k)} || ')' END"
        for k in keys
    )
    key_list = ", ".join(f"CASE WHEN {count_of(k)} > 0 THEN {literal(k)} END" for k in keys)
    return f"concat_ws(',', {key_list})", f"concat_ws('; ', {evidence})"


def hub_limit(config: Config, accounts: int) -> int:
    """The most accounts a value may be held by and still link them (at least 2)."""
    cfg = config.link
    return max(2, min(int(cfg.hub_cap), int(cfg.hub_share * accounts)))


def _mark_values(
    engine: Engine,
    config: Config,
    cap: int,
    benign_values: pa.Table | None,
    listed: str | None = None,
) -> None:
    """Give every value two or more accounts hold (and every value with a reason) a
    weight factor and, where it must not link, a reason.

    The values of one account are left out: at 1.5M realistic events 2.2M values, held
    through link, graph and score beside the rest (244 MB), of which 24k link."""
    cfg = config.link
    parts = [f"WHEN s.holders > {cap} THEN 'hub: held by more than {cap} accounts'"]
    joins = ""
    factor = "1.0"
    if listed:
        joins += f" LEFT JOIN {listed} lh ON s.value = lh.value"
        parts.insert(0, "WHEN lh.value IS NOT NULL THEN 'listed hub'")
    if benign_values is not None and benign_values.num_rows:
        engine.register("benign_values_in", benign_values.select(["key", "value"]))
        engine.create_table("benign_values", "SELECT DISTINCT key, value FROM benign_values_in")
        engine.drop("benign_values_in")
        joins += " LEFT JOIN benign_values bv ON s.key = bv.key AND s.value = bv.value"
        parts.insert(0, "WHEN bv.value IS NOT NULL THEN 'labelled benign'")
    if cfg.shared_infra:
        candidates = engine.arrow(
            "SELECT DISTINCT value FROM value_stats WHERE key = 'ip' AND holders >= 2"
        ).column("value")
        mask = in_cidrs(candidates, cfg.shared_infra)
        infra = pa.table({"value": candidates.filter(pa.array(mask))})
        engine.store("infra_values", infra)
        joins += " LEFT JOIN infra_values iv ON s.key = 'ip' AND s.value = iv.value"
        if cfg.shared_infra_mode == "ignore":
            parts.insert(0, "WHEN iv.value IS NOT NULL THEN 'shared infrastructure'")
        else:
            down = float(cfg.shared_infra_factor)
            factor = f"CASE WHEN iv.value IS NOT NULL THEN {down} ELSE 1.0 END"
    reason = "CASE " + " ".join(parts) + " ELSE NULL END"
    # a value one account holds links nothing and is shown nowhere: only those with a
    # reason are kept (listed or labelled benign), the hubs' list is made of them
    engine.create_table(
        _VALUES,
        f"""SELECT * FROM (
              SELECT s.*, {reason} AS reason, {factor} AS factor FROM value_stats s{joins}
            ) v WHERE holders >= 2 OR reason IS NOT NULL""",
    )
    engine.drop("benign_values")
    engine.drop("infra_values")


def _add_direct_pairs(
    engine: Engine, config: Config, edges: str, observed: ObservationTables
) -> None:
    """Fold the account-to-account edges into the pair values (between two subjects)."""
    weight = float(config.link.key_weights.get("direct", 1.0))
    subjects = ""
    if observed.context:
        among = f"(SELECT account_id FROM {observed.accounts} WHERE subject)"
        subjects = f" AND a IN {among} AND b IN {among}"
    engine.insert(
        _EXTRA_PAIRS,
        f"""SELECT least(a, b), greatest(a, b), 'direct', kind, {weight}, min(ts), max(ts)
            FROM {edges} WHERE a <> b{subjects}
            GROUP BY least(a, b), greatest(a, b), kind""",
    )
