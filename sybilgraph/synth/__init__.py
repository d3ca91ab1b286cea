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

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sybilgraph.errors import ConfigError
from sybilgraph.synth.activity import (
    EXT_MIN,
    FLAT,
    HOME,
    OFFICE,
    SCHOOL,
    TZ_MINUTES,
    TZ_WEIGHTS,
    intensity,
    sample_minutes,
)
from sybilgraph.synth.addresses import (
    CARRIER_RANGE,
    CLOUD_BLOCKS,
    HEX16_STRINGS,
    IPV6_ISPS,
    RESIDENTIAL_OCTETS,
    VPN_BLOCKS,
    in_blocks,
    ipv4_strings,
    residential,
)
from sybilgraph.synth.arrays import assemble, draw, join, take, weighted_texts
from sybilgraph.synth.templates import (
    SlotContext,
    Templates,
    fill_once,
    paraphrase,
    typo,
)
from sybilgraph.synth.texts import (
    CLOSERS,
    CONTEXTS,
    FORMATS,
    FRAMES,
    HOMEWORK,
    HOMEWORK_EDITS,
    OFFICE_TOOLS,
    OPENERS,
    PERSONAS,
    POPULAR,
    QUALIFIERS,
    RING_FAMILIES,
    UA_FAMILIES,
    UA_SCRIPTED,
)
from sybilgraph.synth.vocabulary import COMPANY_FIRST, COMPANY_SECOND, NAMES, TOPICS

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

EVENT_COLUMNS = ("account_id", "ts", "ip", "payment_id", "prompt", "user_agent")
TRUTH_COLUMNS = ("account_id", "label", "group", "kind")
LEGIT_KINDS = (
    "solo",
    "household",
    "office",
    "office_card",
    "classroom",
    "carrier",
    "vpn_user",
    "ipv6_user",
)
SYBIL_KINDS = ("ring_basic", "ring_prompt_only", "ring_typo", "ring_vpn")


@dataclass
class SynthConfig:
    """What to generate.

    Attributes
    ----------
    n_events
        Approximate total number of events (the result is within a few percent).
    seed
        Seed of every random choice; the same config always gives the same data.
    start
        First day, UTC, as ``YYYY-MM-DD``.
    days
        Number of days the events are spread over.
    sybil_event_share
        Approximate share of events sent by sybil accounts.
    events_per_account
        Average number of events per account, over all accounts.
    hard_cases
        Include the hard ring kinds (``ring_prompt_only``, ``ring_typo``, ``ring_vpn``);
        without them every ring is ``ring_basic``.
    """

    n_events: int = 200_000
    seed: int = 0
    start: str = "2026-04-13"
    days: int = 7
    sybil_event_share: float = 0.3
    events_per_account: float = 25
    hard_cases: bool = True


_HEX8_STR = pa.array([f"{i:02x}" for i in range(256)])
_TOD_STR = pa.array(
    [f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)]
)


def _hex_ids(rng: np.random.Generator, n: int, prefix: str) -> pa.Array:
    raw = rng.integers(0, 256, size=(n, 8))
    return join([prefix, *(take(_HEX8_STR, raw[:, i]) for i in range(8))])


# --------------------------------------------------------------------------------------
# The population

_FIXED, _POOL, _FRESH, _V6 = range(4)


@dataclass
class _Population:
    """Everything per account that the event blocks draw from."""

    ids: pa.Array
    truth: pd.DataFrame
    cum: np.ndarray  # flattened cumulative intensity, one profile after another, offset
    base: np.ndarray  # per account: index of its (profile, time zone) origin in cum
    start_min: np.ndarray  # per account: first minute sessions may start (UTC)
    anchor: np.ndarray  # per account: time of its guaranteed event, seconds
    anchor_order: np.ndarray
    rate: np.ndarray  # expected sessions over the account's window
    norm: np.ndarray  # intensity mass of the account's window
    session_p: np.ndarray  # geometric parameter of requests per session
    gap: np.ndarray  # mean seconds between requests in a session
    channel_cum: np.ndarray  # (A, 2) cumulative probability of IP channels 0 and 1
    channel_mode: np.ndarray  # (A, 3)
    channel_a: np.ndarray  # (A, 3) start in ip table / v6 prefix index
    channel_b: np.ndarray  # (A, 3) pool length
    ip_table: pa.Array
    v6_prefixes: pa.Array
    payment: np.ndarray
    cards: pa.Array
    ua1: np.ndarray
    ua2: np.ndarray
    ua2_p: np.ndarray
    user_agents: pa.Array
    p_popular: np.ndarray
    p_template: np.ndarray
    tpl_start: np.ndarray
    tpl_count: np.ndarray
    templates: Templates
    fav: np.ndarray
    name: np.ndarray
    span_s: int
    block_s: int
    day_prefix: pa.Array


class _Accounts:
    """Column lists, appended to group by group, then concatenated."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {}

    def add(self, n: int, **cols: object) -> None:
        for key, value in cols.items():
            arr = np.asarray(value)
            if arr.ndim == 0:
                arr = np.broadcast_to(arr, (n,))
            self.cols.setdefault(key, []).append(np.asarray(arr))

    def get(self, key: str) -> np.ndarray:
        return np.concatenate(self.cols[key])


class _Table:
    """An append-only table of IPv4 addresses, user agents or cards, addressed by index."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.size = 0

    def add(self, values: np.ndarray) -> int:
        self.parts.append(values)
        self.size += len(values)
        return self.size - len(values)

    def all(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.uint32)


def _sizes(rng: np.random.Generator, target: int, draw: Callable[[int], np.ndarray]) -> np.ndarray:
    """Group sizes from ``draw`` adding up to about ``target`` (at least one group)."""
    sizes = draw(max(4, target))
    keep = max(1, int(np.searchsorted(np.cumsum(sizes), target, side="right")))
    return sizes[:keep]


def _ring_count(config: SynthConfig) -> int:
    return max(4, round(12 * (config.n_events / 500_000) ** 0.75))


def _ring_kinds(rng: np.random.Generator, n_rings: int, hard: bool) -> np.ndarray:
    if not hard:
        return np.zeros(n_rings, np.int64)
    guaranteed = np.tile(np.arange(4), 2)[:n_rings]
    extra = rng.choice(4, size=n_rings - len(guaranteed), p=[0.4, 0.2, 0.2, 0.2])
    kinds = np.concatenate([guaranteed, extra])
    return rng.permutation(kinds)


def _check(config: SynthConfig) -> None:
    if config.n_events < 1_000:
        raise ConfigError(f"n_events must be at least 1000, not {config.n_events}")
    if config.days < 1:
        raise ConfigError(f"days must be at least 1, not {config.days}")
    if not 0 <= config.sybil_event_share < 0.9:
        raise ConfigError("sybil_event_share must be in [0, 0.9)")
    if config.events_per_account < 2:
        raise ConfigError("events_per_account must be at least 2")
    try:
        np.datetime64(config.start, "D")
    except ValueError:
        raise ConfigError(f"start must be a date like 2026-04-13, not {config.start!r}") from None


def _build_population(config: SynthConfig) -> _Population:
    _check(config)
    rng = np.random.default_rng([config.seed, 0])
    n_events = config.n_events
    span_s = config.days * 86400
    n_accounts = max(60, round(n_events / config.events_per_account))
    share = config.sybil_event_share
    sybil_target = n_accounts * share / (share + 21 * (1 - share)) if share > 0 else 0

    accounts = _Accounts()
    ips = _Table()
    cards = _Table()  # one placeholder per card; the ids are drawn at the end
    v6_count = [0]
    templates = Templates(variants=12)
    tpl_rng = np.random.default_rng([config.seed, 2])

    ua_pool = Templates()
    ua_cum = np.cumsum([w for _, w in UA_FAMILIES]) / sum(w for _, w in UA_FAMILIES)
    for family in UA_FAMILIES:
        ua_pool.add(family[0])
    ua_pool.freeze()
    pool_rows = np.searchsorted(ua_cum, rng.random(2000), side="right")
    dummy = SlotContext(np.zeros(2000, np.int64), np.zeros((1, 1), np.int64), np.zeros(1))
    legit_uas = ua_pool.render(pool_rows, rng, dummy)
    ua_strings: list[pa.Array] = [legit_uas]
    ua_size = [len(legit_uas)]
    zipf = 1.0 / (np.arange(len(legit_uas)) + 8.0) ** 1.1
    ua_pick_cum = np.cumsum(zipf / zipf.sum())

    def legit_ua(n: int) -> dict[str, object]:
        return {
            "ua1": draw(rng, ua_pick_cum, n),
            "ua2": draw(rng, ua_pick_cum, n),
            "ua2_p": np.where(rng.random(n) < 0.4, 0.2, 0.0),
        }

    def new_cards(n: int) -> int:
        return cards.add(np.zeros(n, np.uint32))

    def tz(n: int) -> np.ndarray:
        return rng.choice(TZ_MINUTES, size=n, p=TZ_WEIGHTS / TZ_WEIGHTS.sum())

    def fav(n: int) -> np.ndarray:
        return rng.integers(len(TOPICS), size=(n, 3))

    # Shared infrastructure: carrier NAT pools and VPN exits, sized by their users.
    n_legit_target = n_accounts - sybil_target
    carrier_users = 0.12 * n_legit_target
    n_carriers = 3
    carrier_pools = []
    for c in range(n_carriers):
        size = max(4, int(carrier_users / n_carriers / 150))
        block = [f"100.{64 + 16 * c + k}" for k in range(16)]
        start = ips.add(np.unique(in_blocks(rng, block, size)))
        carrier_pools.append((start, ips.size - start))
    vpn_users = 0.05 * n_legit_target
    vpn_pools = []
    for p in range(4):
        size = int(min(250, max(4, vpn_users / 4 / 300)))
        start = ips.add(np.unique(in_blocks(rng, [VPN_BLOCKS[p]], size)))
        vpn_pools.append((start, ips.size - start))

    def carrier_channel(n: int) -> tuple[np.ndarray, np.ndarray]:
        which = rng.integers(n_carriers, size=n)
        return (
            np.array([carrier_pools[c][0] for c in range(n_carriers)])[which],
            np.array([carrier_pools[c][1] for c in range(n_carriers)])[which],
        )

    def homes(n: int) -> np.ndarray:
        return ips.add(residential(rng, n)) + np.arange(n)

    def channels(
        n: int,
        probs: tuple[float, float, float],
        modes: tuple[int, int, int],
        a: list[np.ndarray | int],
        b: list[np.ndarray | int],
    ) -> dict[str, np.ndarray]:
        p = np.array(probs, np.float64)
        return {
            "ch_cum": np.broadcast_to(np.cumsum(p)[:2], (n, 2)),
            "ch_mode": np.broadcast_to(np.array(modes, np.int64), (n, 3)),
            "ch_a": np.stack([np.broadcast_to(np.asarray(x, np.int64), (n,)) for x in a], 1),
            "ch_b": np.stack([np.broadcast_to(np.asarray(x, np.int64), (n,)) for x in b], 1),
        }

    def add_legit(
        kind: str,
        n: int,
        group: np.ndarray | int,
        volume: np.ndarray,
        profile: np.ndarray | int,
        tzs: np.ndarray,
        anchor: np.ndarray,
        pay: np.ndarray,
        chans: dict[str, np.ndarray],
        **extra: object,
    ) -> None:
        cols: dict[str, object] = {
            "kind": LEGIT_KINDS.index(kind),
            "group": group,
            "volume": volume,
            "profile": profile,
            "tz": tzs,
            "anchor": anchor,
            "pay": pay,
            "session": 2.2,
            "gap": 50.0,
            "p_pop": rng.uniform(0.05, 0.25, n),
            "p_tpl": 0.0,
            "tpl_start": 0,
            "tpl_count": 1,
            "fav": fav(n),
            "name": rng.integers(len(NAMES), size=n),
        }
        cols.update(legit_ua(n))
        cols.update(chans)
        cols.update(extra)
        accounts.add(n, **cols)

    def own_card(n: int, p_card: float) -> np.ndarray:
        has = rng.random(n) < p_card
        start = new_cards(int(has.sum()))
        pay = np.full(n, -1, np.int64)
        pay[has] = start + np.arange(int(has.sum()))
        return pay

    def pre_existing(n: int) -> np.ndarray:
        return np.full(n, -1, np.int64)  # anchor drawn later from the profile

    def onboard(n: int, at: float, spread: float) -> np.ndarray:
        at = min(at, span_s - spread - 3600)
        return (max(at, 0) + rng.random(n) * spread).astype(np.int64)

    def maybe_new(n: int, p_new: float) -> np.ndarray:
        anchor = pre_existing(n)
        new = rng.random(n) < p_new
        anchor[new] = rng.integers(0, span_s - 3600, size=int(new.sum()))
        return anchor

    # -- legitimate groups -------------------------------------------------------------
    L = n_legit_target
    counters = dict.fromkeys(("household", "office", "classroom"), 0)

    sizes = _sizes(
        rng, int(0.14 * L), lambda k: rng.choice([2, 3, 4, 5], k, p=[0.45, 0.3, 0.17, 0.08])
    )
    for household_size in np.unique(sizes):
        size = int(household_size)
        n_groups = int((sizes == size).sum())
        n = n_groups * size
        household_ids = counters["household"] + np.arange(n_groups)
        counters["household"] += n_groups
        member_group = np.repeat(household_ids, size)
        on_v6 = np.repeat(rng.random(n_groups) < 0.2, size)
        home = np.repeat(homes(n_groups), size)
        prefix = np.repeat(v6_count[0] + np.arange(n_groups), size)
        v6_count[0] += n_groups
        shared_card = np.repeat(rng.random(n_groups) < 0.3, size)
        family_card = np.repeat(new_cards(n_groups) + np.arange(n_groups), size)
        pay = np.where(shared_card, family_card, own_card(n, 0.5))
        car_a, car_b = carrier_channel(n)
        chans = channels(
            n, (0.85, 0.15, 0.0), (_FIXED, _POOL, _FIXED), [home, car_a, home], [1, car_b, 1]
        )
        chans["ch_mode"] = np.where(on_v6[:, None], np.array([_V6, _POOL, _V6]), chans["ch_mode"])
        chans["ch_a"] = np.where(on_v6[:, None], np.stack([prefix, car_a, prefix], 1),
                                 chans["ch_a"])  # fmt: skip
        tzs = np.repeat(tz(n_groups), size)
        add_legit("household", n, member_group, rng.lognormal(0, 1, n) * 0.9, HOME, tzs,
                  pre_existing(n), pay, chans)  # fmt: skip

    for kind, share_of_legit in (("office", 0.07), ("office_card", 0.03)):
        office_sizes = _sizes(
            rng, int(share_of_legit * L), lambda k: np.clip(rng.lognormal(np.log(18), 0.6, k),
                                                            8, 80).astype(np.int64))  # fmt: skip
        for office_size in office_sizes:
            size = int(office_size)
            gid = counters["office"]
            counters["office"] += 1
            n_ips = int(rng.integers(1, 5))
            office_ips = residential(rng, n_ips)
            if rng.random() < 0.3:  # a build server in the cloud, next to the rings' ranges
                office_ips[-1] = in_blocks(rng, list(CLOUD_BLOCKS), 1)[0]
            pool_start = ips.add(office_ips)
            home = homes(size)
            chans = channels(size, (0.85, 0.15, 0.0), (_POOL, _FIXED, _FIXED),
                             [pool_start, home, home], [n_ips, 1, 1])  # fmt: skip
            if kind == "office_card":
                pay = np.full(size, new_cards(1), np.int64)
            else:
                pay = own_card(size, 0.9)
            if rng.random() < 0.5:
                anchor = onboard(size, rng.uniform(0, span_s - 2 * 86400), 0.7 * 86400)
            else:
                anchor = pre_existing(size)
            power = rng.random(size) < 0.25
            volume = rng.lognormal(0, 1, size) * np.where(power, 5.0, 1.4)
            extra: dict[str, object] = {}
            if rng.random() < 0.3:  # an internal tool wraps some of the office's requests
                company = (f"{COMPANY_FIRST[int(rng.integers(len(COMPANY_FIRST)))]} "
                           f"{COMPANY_SECOND[int(rng.integers(len(COMPANY_SECOND)))]}")  # fmt: skip
                text = OFFICE_TOOLS[int(rng.integers(len(OFFICE_TOOLS)))]
                row = templates.add(text.replace("{company}", company))
                extra = {"tpl_start": row, "tpl_count": 1, "p_tpl": 0.15}
            add_legit(kind, size, gid, volume, OFFICE, np.full(size, tz(1)[0]), anchor, pay,
                      chans, session=np.where(power, 4.0, 2.5), **extra)  # fmt: skip

    class_sizes = _sizes(rng, int(0.03 * L), lambda k: rng.integers(20, 41, k))
    for class_size in class_sizes:
        size = int(class_size)
        gid = counters["classroom"]
        counters["classroom"] += 1
        school = ips.add(residential(rng, 2))
        n_school = int(rng.integers(1, 3))
        home = homes(size)
        chans = channels(size, (0.6, 0.4, 0.0), (_POOL, _FIXED, _FIXED),
                         [school, home, home], [n_school, 1, 1])  # fmt: skip
        first_row = len(templates)
        for _ in range(int(rng.integers(1, 3))):
            assignment = fill_once(HOMEWORK[int(rng.integers(len(HOMEWORK)))], rng)
            for edit in HOMEWORK_EDITS:
                templates.add(edit(assignment))
        anchor = onboard(size, rng.uniform(0, span_s - 2 * 86400), rng.uniform(0.5, 2) * 86400)
        add_legit("classroom", size, gid, rng.lognormal(0, 0.8, size) * 0.5, SCHOOL,
                  np.full(size, tz(1)[0]), anchor, own_card(size, 0.1), chans,
                  p_tpl=rng.uniform(0.3, 0.5, size), tpl_start=first_row,
                  tpl_count=len(templates) - first_row)  # fmt: skip

    def add_single(kind: str, n: int, p_card: float, p_new: float) -> None:
        home = homes(n)
        car_a, car_b = carrier_channel(n)
        if kind == "solo":
            mobile = np.where(rng.random(n) < 0.3, 0.2, 0.0)
            chans = channels(n, (1.0, 0.0, 0.0), (_FIXED, _POOL, _FIXED),
                             [home, car_a, home], [1, car_b, 1])  # fmt: skip
            chans["ch_cum"] = np.stack([1 - mobile, np.ones(n)], 1)
        elif kind == "carrier":
            chans = channels(n, (0.9, 0.1, 0.0), (_POOL, _FIXED, _FIXED),
                             [car_a, home, home], [car_b, 1, 1])  # fmt: skip
        elif kind == "vpn_user":
            which = rng.integers(len(vpn_pools), size=n)
            vpn_a = np.array([s for s, _ in vpn_pools])[which]
            vpn_b = np.array([k for _, k in vpn_pools])[which]
            chans = channels(n, (0.85, 0.15, 0.0), (_POOL, _FIXED, _FIXED),
                             [vpn_a, home, home], [vpn_b, 1, 1])  # fmt: skip
        else:
            prefix = v6_count[0] + np.arange(n)
            v6_count[0] += n
            chans = channels(n, (0.9, 0.1, 0.0), (_V6, _POOL, _V6),
                             [prefix, car_a, prefix], [1, car_b, 1])  # fmt: skip
        add_legit(kind, n, -1, rng.lognormal(0, 1, n) * (0.8 if kind == "carrier" else 1.0),
                  HOME, tz(n), maybe_new(n, p_new), own_card(n, p_card), chans)  # fmt: skip

    add_single("carrier", max(1, int(0.12 * L)), 0.5, 0.08)
    add_single("vpn_user", max(1, int(0.05 * L)), 0.5, 0.08)
    add_single("ipv6_user", max(1, int(0.06 * L)), 0.5, 0.08)
    n_legit_so_far = sum(len(k) for k in accounts.cols["kind"])
    add_single("solo", max(1, int(L) - n_legit_so_far), 0.55, 0.1)

    # -- sybil rings ----------------------------------------------------------------------
    n_rings = _ring_count(config) if share > 0 else 0
    mean_size = max(8.0, sybil_target / max(n_rings, 1))
    max_size = int(np.clip(mean_size * 2.5, 20, 150))
    ring_sizes = np.clip(rng.lognormal(np.log(mean_size), 0.5, n_rings), 8, max_size)
    ring_kinds = _ring_kinds(rng, n_rings, config.hard_cases)
    ring_levels = rng.lognormal(0, 0.35, n_rings)
    for r in range(n_rings):
        size = int(ring_sizes[r])
        ring_kind = int(ring_kinds[r])
        span_left = max(span_s - int(2.5 * 86400), 0)
        anchor = onboard(size, rng.uniform(0, span_left), rng.uniform(0.3, 1.5) * 86400)
        home = np.zeros(size, np.int64)
        if ring_kind in (0, 3):  # basic and vpn: prepaid cards shared by 3-8 members
            n_cards = max(1, math.ceil(size / rng.uniform(3, 8)))
            pay = new_cards(n_cards) + rng.permutation(np.arange(size) % n_cards)
        elif ring_kind == 1:
            pay = own_card(size, 0.8)
        else:
            n_cards = int(rng.integers(2, 4))
            pay = new_cards(n_cards) + rng.integers(n_cards, size=size)
        if ring_kind == 0:
            dc = ips.add(np.unique(in_blocks(rng, [CLOUD_BLOCKS[rng.integers(40)]],
                                              int(np.clip(size // 2, 12, 60)))))  # fmt: skip
            chans = channels(
                size, (1, 0, 0), (_POOL, _POOL, _POOL), [dc, dc, dc], [ips.size - dc] * 3
            )
        elif ring_kind == 1:
            chans = channels(size, (1, 0, 0), (_FRESH, _FRESH, _FRESH), [home] * 3, [1] * 3)
        elif ring_kind == 2:
            blocks = [CLOUD_BLOCKS[i] for i in rng.choice(40, 3, replace=False)]
            dc = ips.add(np.unique(in_blocks(rng, blocks, int(rng.integers(4, 11)))))
            car_a, car_b = carrier_channel(size)
            chans = channels(size, (0.4, 0.4, 0.2), (_POOL, _FRESH, _POOL),
                             [dc, home, car_a], [ips.size - dc, 1, car_b])  # fmt: skip
        else:
            vpn_start, vpn_len = vpn_pools[int(rng.integers(len(vpn_pools)))]
            chans = channels(size, (1, 0, 0), (_POOL,) * 3, [vpn_start] * 3, [vpn_len] * 3)

        first_row = len(templates)
        persona = PERSONAS[int(rng.integers(len(PERSONAS)))]
        suffix = FORMATS[int(rng.integers(len(FORMATS)))]
        domain = TOPICS[int(rng.integers(len(TOPICS)))]
        wrap = rng.random() < 0.5
        tag = f" [{''.join(rng.choice(list('ABCDEFGHJKLMNPQRSTUVWXYZ'), 3))}]"
        families = rng.choice(len(RING_FAMILIES), int(rng.integers(3, 9)), replace=False)
        for f in families:
            wordings = RING_FAMILIES[int(f)]
            body = wordings[int(rng.integers(len(wordings)))]
            text = f"{persona} ({domain}) {body} {suffix}" if wrap else f"{body} {suffix}"
            if rng.random() < 0.3:
                text += tag
            if ring_kind == 1:
                for k in range(int(rng.integers(3, 6))):
                    para = paraphrase(text, tpl_rng)
                    if k % 2 == 1 and wrap:  # the format instruction moves to the front
                        para = paraphrase(f"{suffix} {persona} ({domain}) {body}", tpl_rng)
                    templates.add(para)
            elif ring_kind == 2:
                templates.add(text, spell=lambda s: typo(s, tpl_rng))
            else:
                templates.add(text)
        n_uas = int(rng.integers(1, 3))
        ua_rows = rng.integers(len(UA_SCRIPTED), size=n_uas)
        scripted = Templates()
        for row in ua_rows:
            scripted.add(UA_SCRIPTED[int(row)])
        dummy = SlotContext(np.zeros(n_uas, np.int64), np.zeros((1, 1), np.int64), np.zeros(1))
        ring_uas = scripted.freeze().render(np.arange(n_uas), rng, dummy)
        ua_start = ua_size[0]
        ua_strings.append(ring_uas)
        ua_size[0] += n_uas
        hard = ring_kind != 0
        accounts.add(
            size,
            kind=len(LEGIT_KINDS) + ring_kind,
            group=r,
            volume=ring_levels[r] * rng.lognormal(0, 0.25, size),
            profile=HOME if rng.random() < (0.6 if hard else 0.3) else FLAT,
            tz=np.full(size, tz(1)[0]),
            anchor=anchor,
            pay=pay,
            session=3.0 if hard else 6.0,
            gap=20.0 if hard else 6.0,
            p_pop=0.03,
            p_tpl=rng.uniform(0.88, 0.97),
            tpl_start=first_row,
            tpl_count=len(templates) - first_row,
            fav=fav(size),
            name=rng.integers(len(NAMES), size=size),
            ua1=ua_start,
            ua2=ua_start + n_uas - 1,
            ua2_p=0.3 if n_uas > 1 else 0.0,
            **chans,
        )
    templates.freeze()

    # -- per-account arrays ----------------------------------------------------------------
    kind_code = accounts.get("kind")
    n_total = len(kind_code)
    sybil = kind_code >= len(LEGIT_KINDS)
    volume = accounts.get("volume").astype(np.float64)
    legit_total = n_events * (1 - share) if sybil.any() else n_events
    volume[~sybil] *= legit_total / volume[~sybil].sum()
    if sybil.any():
        volume[sybil] *= n_events * share / volume[sybil].sum()
    volume = np.maximum(volume, 1.0)

    first_day = np.datetime64(config.start, "D")
    cum = intensity(first_day, config.days)
    n_minutes = cum.shape[1]
    big = float(cum[:, -1].max() + 1.0)
    cum_flat = (cum + big * np.arange(len(cum))[:, None]).ravel()
    profile = accounts.get("profile").astype(np.int64)
    tz_min = accounts.get("tz").astype(np.int64)
    base = profile * n_minutes + tz_min + EXT_MIN

    anchor = accounts.get("anchor").astype(np.int64)
    missing = anchor < 0
    end_min = np.full(n_total, span_s // 60)
    draw_at = sample_minutes(cum_flat, base[missing], np.zeros(int(missing.sum()), np.int64),
                              end_min[missing], rng)  # fmt: skip
    anchor[missing] = draw_at * 60 + rng.integers(0, 60, size=len(draw_at))
    start_min = np.where(missing, 0, -(-anchor // 60))
    norm = cum_flat[base + end_min] - cum_flat[base + np.minimum(start_min, end_min)]
    session = accounts.get("session").astype(np.float64)
    rate = np.where(norm > 0, (volume - 1) / session, 0.0)
    norm = np.where(norm > 0, norm, 1.0)

    # account ids: random numbers, so the id says nothing about the account
    width = max(7, len(str(n_total * 8)))
    numbers = rng.choice(10**width, size=n_total, replace=False)
    ids = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
    ids = join(["u", ids])

    truth = _truth(ids, kind_code, accounts.get("group").astype(np.int64), counters, n_rings)
    card_ids = _hex_ids(rng, cards.size, "pm_")
    v6_groups = [take(HEX16_STRINGS, rng.integers(0, 65536, v6_count[0])) for _ in range(2)]
    isp = take(pa.array(IPV6_ISPS), rng.integers(len(IPV6_ISPS), size=v6_count[0]))
    v6_prefixes = join([isp, ":", v6_groups[0], ":", v6_groups[1]])
    day_prefix = pa.array([str(first_day + d) + "T" for d in range(config.days)])
    per_day = max(1, math.ceil(n_events / config.days / 150_000))
    per_day = min(d for d in (1, 2, 3, 4, 6, 8, 12, 24) if d >= min(per_day, 24))
    return _Population(
        ids=ids,
        truth=truth,
        cum=cum_flat,
        base=base,
        start_min=start_min,
        anchor=anchor,
        anchor_order=np.argsort(anchor, kind="stable"),
        rate=rate,
        norm=norm,
        session_p=1.0 / session,
        gap=accounts.get("gap").astype(np.float64),
        channel_cum=accounts.get("ch_cum").astype(np.float64),
        channel_mode=accounts.get("ch_mode").astype(np.int64),
        channel_a=accounts.get("ch_a").astype(np.int64),
        channel_b=accounts.get("ch_b").astype(np.int64),
        ip_table=ipv4_strings(ips.all()),
        v6_prefixes=v6_prefixes,
        payment=accounts.get("pay").astype(np.int64),
        cards=card_ids,
        ua1=accounts.get("ua1").astype(np.int64),
        ua2=accounts.get("ua2").astype(np.int64),
        ua2_p=accounts.get("ua2_p").astype(np.float64),
        user_agents=pa.concat_arrays(ua_strings),
        p_popular=accounts.get("p_pop").astype(np.float64),
        p_template=accounts.get("p_tpl").astype(np.float64),
        tpl_start=accounts.get("tpl_start").astype(np.int64),
        tpl_count=accounts.get("tpl_count").astype(np.int64),
        templates=templates,
        fav=accounts.get("fav").astype(np.int64),
        name=accounts.get("name").astype(np.int64),
        span_s=span_s,
        block_s=86400 // per_day,
        day_prefix=day_prefix,
    )


def _truth(
    ids: pa.Array, kind: np.ndarray, group: np.ndarray, counters: dict[str, int], n_rings: int
) -> pd.DataFrame:
    kinds = np.array(LEGIT_KINDS + SYBIL_KINDS, dtype=object)
    kind_names = kinds[kind]
    prefix = {
        "household": ("household_", 5, counters["household"]),
        "office": ("office_", 4, counters["office"]),
        "office_card": ("office_", 4, counters["office"]),
        "classroom": ("classroom_", 4, counters["classroom"]),
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
    truth = pd.DataFrame(
        {
            "account_id": ids.to_numpy(zero_copy_only=False),
            "label": np.where(kind >= len(LEGIT_KINDS), "sybil", "legit"),
            "group": groups,
            "kind": kind_names,
        }
    ).astype("str")
    return truth.sort_values("account_id", ignore_index=True)


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


def _prompts(pop: _Population, acc: np.ndarray, rng: np.random.Generator) -> pa.Array:
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


def _ips(
    pop: _Population, acc: np.ndarray, first: np.ndarray, rng: np.random.Generator
) -> pa.Array:
    n = len(acc)
    u = np.where(first, 0.0, rng.random(n))  # an account's first request comes from home
    channel = (u >= pop.channel_cum[acc, 0]).astype(np.int64) + (u >= pop.channel_cum[acc, 1])
    mode = pop.channel_mode[acc, channel]
    a = pop.channel_a[acc, channel]
    b = pop.channel_b[acc, channel]
    parts = []
    where = np.flatnonzero((mode == _FIXED) | (mode == _POOL))
    index = a[where] + (rng.random(len(where)) * b[where]).astype(np.int64)
    parts.append((where, take(pop.ip_table, index)))
    where = np.flatnonzero(mode == _FRESH)
    parts.append((where, ipv4_strings(residential(rng, len(where)))))
    where = np.flatnonzero(mode == _V6)
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


def _block(pop: _Population, seed: int, b: int) -> pa.Table:
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


def _tables(pop: _Population, seed: int) -> Iterator[pa.Table]:
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
    pop = _build_population(config)

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
    pop = _build_population(config)
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
    pop = _build_population(config)
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
