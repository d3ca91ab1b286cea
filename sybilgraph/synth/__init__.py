"""Synthetic AI-API traffic with planted sybil rings and their ground truth.

The generator builds a population of accounts (legitimate users in households, offices,
classrooms, behind carrier NAT and VPN exits, on rotating IPv6 addresses; and sybil rings
of four kinds), then draws their requests block by block over the time span. Each block
covers a fixed slice of time and has its own random stream, so the events come out in time
order, can be streamed to disk without holding them all, and do not depend on the chunk
size the caller asks for.

Address space used (so that detector authors can recognise shared infrastructure):

- residential IPv4: random addresses in the first octets of :data:`RESIDENTIAL_OCTETS`
- datacenter IPv4 (rings, some office servers): the /16 blocks in :data:`CLOUD_BLOCKS`
- mobile carrier NAT: ``100.64.0.0/10`` (:data:`CARRIER_RANGE`), one /12 per carrier
- VPN exits: the /24 blocks in :data:`VPN_BLOCKS`, one per provider
- IPv6: /64 prefixes under the ISP /32s in :data:`IPV6_ISPS`
"""

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
from sybilgraph.synth.activity import sample_minutes
from sybilgraph.synth.addresses import (
    CARRIER_RANGE,
    CLOUD_BLOCKS,
    HEX16_STRINGS,
    IPV6_ISPS,
    RESIDENTIAL_OCTETS,
    VPN_BLOCKS,
    ipv4_strings,
    residential,
)
from sybilgraph.synth.arrays import assemble, draw, join, take, weighted_texts
from sybilgraph.synth.build import build_population
from sybilgraph.synth.config import (
    EVENT_COLUMNS,
    LEGIT_KINDS,
    SYBIL_KINDS,
    TRUTH_COLUMNS,
    SynthConfig,
)
from sybilgraph.synth.population import FIXED, FRESH, POOL, V6, Population
from sybilgraph.synth.templates import SlotContext, Templates
from sybilgraph.synth.texts import CLOSERS, CONTEXTS, FRAMES, OPENERS, POPULAR, QUALIFIERS

__all__ = [
    "CARRIER_RANGE",
    "CLOUD_BLOCKS",
    "EVENT_COLUMNS",
    "IPV6_ISPS",
    "LEGIT_KINDS",
    "RESIDENTIAL_OCTETS",
    "SYBIL_KINDS",
    "TRUTH_COLUMNS",
    "VPN_BLOCKS",
    "SynthConfig",
    "generate",
    "iter_generate",
    "write",
]

_TOD_STR = pa.array(
    [f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)]
)


# --------------------------------------------------------------------------------------
# Events, one block of time at a time

_POPULAR_TEXTS, _POPULAR_CUM = weighted_texts(POPULAR)
_OPENER_TEXTS, _OPENER_CUM = weighted_texts(OPENERS)
_QUALIFIER_T = Templates()
_CONTEXT_T = Templates()
_FRAME_T = Templates()
_CLOSER_TEXTS, _CLOSER_CUM = weighted_texts(CLOSERS)
for _text, _ in QUALIFIERS:
    _QUALIFIER_T.add(_text)
for _text, _ in CONTEXTS:
    _CONTEXT_T.add(_text)
for _text in FRAMES:
    _FRAME_T.add(_text)
_QUALIFIER_T.freeze()
_CONTEXT_T.freeze()
_FRAME_T.freeze()
_QUALIFIER_CUM = weighted_texts(QUALIFIERS)[1]
_CONTEXT_CUM = weighted_texts(CONTEXTS)[1]


def _personal(rng: np.random.Generator, ctx: SlotContext) -> pa.Array:
    n = len(ctx.acc)
    opener = draw(rng, _OPENER_CUM, n)
    capital = (rng.random(n) < 0.6) & (opener == 0)  # opener 0 is the empty one
    frame = _FRAME_T.parts(rng.integers(len(_FRAME_T), size=n), rng, ctx, capital)
    qualifier = _QUALIFIER_T.parts(draw(rng, _QUALIFIER_CUM, n), rng, ctx)
    closer = take(_CLOSER_TEXTS, draw(rng, _CLOSER_CUM, n))
    context = _CONTEXT_T.parts(draw(rng, _CONTEXT_CUM, n), rng, ctx)
    return join([take(_OPENER_TEXTS, opener), *frame, *qualifier, closer, *context])


def _prompts(pop: Population, acc: np.ndarray, rng: np.random.Generator) -> pa.Array:
    n = len(acc)
    u = rng.random(n)
    popular = u < pop.p_popular[acc]
    templated = ~popular & (u < pop.p_popular[acc] + pop.p_template[acc])
    personal = ~popular & ~templated
    parts = []
    where = np.flatnonzero(popular)
    parts.append((where, take(_POPULAR_TEXTS, draw(rng, _POPULAR_CUM, len(where)))))
    where = np.flatnonzero(templated)
    sub = acc[where]
    rows = pop.tpl_start[sub] + (rng.random(len(where)) * pop.tpl_count[sub]).astype(np.int64)
    parts.append((where, pop.templates.render(rows, rng, SlotContext(sub, pop.fav, pop.name))))
    where = np.flatnonzero(personal)
    parts.append((where, _personal(rng, SlotContext(acc[where], pop.fav, pop.name))))
    return assemble(n, parts)


def _ips(pop: Population, acc: np.ndarray, first: np.ndarray, rng: np.random.Generator) -> pa.Array:
    n = len(acc)
    u = np.where(first, 0.0, rng.random(n))  # an account's first request comes from home
    channel = (u >= pop.channel_cum[acc, 0]).astype(np.int64) + (u >= pop.channel_cum[acc, 1])
    mode = pop.channel_mode[acc, channel]
    a = pop.channel_a[acc, channel]
    b = pop.channel_b[acc, channel]
    parts = []
    where = np.flatnonzero((mode == FIXED) | (mode == POOL))
    index = a[where] + (rng.random(len(where)) * b[where]).astype(np.int64)
    parts.append((where, take(pop.ip_table, index)))
    where = np.flatnonzero(mode == FRESH)
    parts.append((where, ipv4_strings(residential(rng, len(where)))))
    where = np.flatnonzero(mode == V6)
    # interface ids rotate: each day an account uses one of a few, plus fresh temporary ones
    day_slot = rng.integers(0, 3, size=len(where))
    fresh = rng.random(len(where)) < 0.3
    seed = acc[where].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + day_slot.astype(np.uint64)
    iid = np.where(fresh, rng.integers(0, 2**63, size=len(where), dtype=np.uint64), seed)
    iid = (iid ^ (iid >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
    groups = [
        take(HEX16_STRINGS, (iid >> np.uint64(s)) & np.uint64(0xFFFF)) for s in (48, 32, 16, 0)
    ]
    prefix = take(pop.v6_prefixes, a[where])
    parts.append(
        (where, join([prefix, ":", groups[0], ":", groups[1], ":", groups[2], ":", groups[3]]))
    )
    return assemble(n, parts)


def _block(pop: Population, seed: int, b: int) -> pa.Table:
    rng = np.random.default_rng([seed, 1, b])
    lo = b * pop.block_s
    hi = lo + pop.block_s
    lo_min, hi_min = lo // 60, hi // 60

    first_lo, first_hi = np.searchsorted(pop.anchor[pop.anchor_order], [lo, hi])
    first_acc = pop.anchor_order[first_lo:first_hi]

    active = np.flatnonzero(pop.start_min < hi_min)
    start = np.maximum(pop.start_min[active], lo_min)
    base = pop.base[active]
    mass = pop.cum[base + hi_min] - pop.cum[base + start]
    n_sessions = rng.poisson(pop.rate[active] * mass / pop.norm[active])
    has = n_sessions > 0
    sess_acc = np.repeat(active[has], n_sessions[has])
    sess_minute = sample_minutes(
        pop.cum,
        np.repeat(base[has], n_sessions[has]),
        np.repeat(start[has], n_sessions[has]),
        np.full(len(sess_acc), hi_min),
        rng,
    )
    sess_t = sess_minute * 60 + rng.integers(0, 60, size=len(sess_acc))
    length = rng.geometric(pop.session_p[sess_acc])
    ev_acc = np.repeat(sess_acc, length)
    gaps = rng.exponential(1.0, size=len(ev_acc)) * pop.gap[ev_acc]
    first_in_session = np.zeros(len(ev_acc), bool)
    starts = np.cumsum(length) - length
    first_in_session[starts] = True
    gaps[first_in_session] = 0.0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[starts], length)
    ev_t = np.repeat(sess_t, length) + elapsed.astype(np.int64)
    keep = ev_t < hi

    acc = np.concatenate([first_acc, ev_acc[keep]])
    t = np.concatenate([pop.anchor[first_acc], ev_t[keep]])
    first = np.concatenate([np.ones(len(first_acc), bool), np.zeros(int(keep.sum()), bool)])
    order = np.lexsort((acc, t))
    acc, t, first = acc[order], t[order], first[order]

    n = len(acc)
    ts = join([take(pop.day_prefix, t // 86400), take(_TOD_STR, t % 86400)])
    pay_index = pop.payment[acc]
    payment = pop.cards.take(pa.array(pay_index, mask=pay_index < 0))
    ua = np.where(rng.random(n) < pop.ua2_p[acc], pop.ua2[acc], pop.ua1[acc])
    return pa.table(
        {
            "account_id": take(pop.ids, acc),
            "ts": ts,
            "ip": _ips(pop, acc, first, rng),
            "payment_id": payment,
            "prompt": _prompts(pop, acc, rng),
            "user_agent": take(pop.user_agents, ua),
        }
    )


def _tables(pop: Population, seed: int) -> Iterator[pa.Table]:
    for b in range(pop.span_s // pop.block_s):
        table = _block(pop, seed, b)
        if table.num_rows:
            yield table


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


# --------------------------------------------------------------------------------------
# Public API


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
        for table in _rechunk(_tables(pop, config.seed), chunk_events):
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
    tables = list(_tables(pop, config.seed))
    events = _to_pandas(pa.concat_tables(tables), 0)
    return events, pop.truth.copy()


def write(
    config: SynthConfig,
    out_dir: str | Path,
    fmt: Literal["csv", "parquet", "jsonl"] = "csv",
) -> dict[str, Path]:
    """Write ``events.<fmt>`` and ``truth.csv`` to ``out_dir``, streaming block by block.

    Parameters
    ----------
    config
        What to generate.
    out_dir
        Folder to write to; created if missing. Existing files of the same names are
        replaced.
    fmt
        ``csv`` (every string quoted, missing payment ids empty), ``parquet`` (zstd, one
        row group per block of time) or ``jsonl`` (one JSON object per line, missing
        payment ids ``null``).

    Returns
    -------
    dict
        ``{"events": path, "truth": path}``. The same config always writes the same bytes.
    """
    if fmt not in ("csv", "parquet", "jsonl"):
        raise ConfigError(f"fmt must be csv, parquet or jsonl, not {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pop = build_population(config)
    events_path = out / f"events.{fmt}"
    truth_path = out / "truth.csv"
    schema = pa.schema([(name, pa.string()) for name in EVENT_COLUMNS])
    tables = _tables(pop, config.seed)
    if fmt == "csv":
        with open(events_path, "wb") as handle:
            handle.write((",".join(EVENT_COLUMNS) + "\n").encode())
            for table in tables:
                handle.write(_csv_rows(table))
    elif fmt == "parquet":
        with pq.ParquetWriter(str(events_path), schema, compression="zstd") as writer:
            for table in tables:
                writer.write_table(table)
    else:
        with open(events_path, "w", encoding="utf-8", newline="\n") as handle:
            for table in _rechunk(tables, 500_000):
                handle.write(
                    table.to_pandas().to_json(orient="records", lines=True, force_ascii=False)
                )
    pop.truth.to_csv(truth_path, index=False, lineterminator="\n")
    return {"events": events_path, "truth": truth_path}
