"""Events, one block of time at a time.

Each block has its own random stream, seeded by the config's seed and the block's number,
so a block's events do not depend on the blocks before it or on how they are chunked.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from sybilgraph.synth.activity import sample_minutes
from sybilgraph.synth.addresses import HEX16_STRINGS, ipv4_strings, residential
from sybilgraph.synth.arrays import assemble, join, take
from sybilgraph.synth.population import FIXED, FRESH, POOL, V6, Population
from sybilgraph.synth.prompts import prompts

_TOD_STR = pa.array(
    [f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)]
)


def _ips(pop: Population, acc: np.ndarray, first: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """The address of each event: a channel drawn per event, then an address in it."""
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
    """The events of block ``b``, sorted by time then account.

    Accounts whose guaranteed event falls in the block send it; active accounts start
    sessions as a Poisson process following their profile, and requests within a session
    follow each other by exponential gaps (those past the block's end are dropped).
    """
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
            "prompt": prompts(pop, acc, rng),
            "user_agent": take(pop.user_agents, ua),
        }
    )


def event_tables(pop: Population, seed: int) -> Iterator[pa.Table]:
    """The events of every block in turn, so in time order; empty blocks are skipped."""
    for b in range(pop.span_s // pop.block_s):
        table = _block(pop, seed, b)
        if table.num_rows:
            yield table
