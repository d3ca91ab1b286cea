"""Legitimate accounts: households, offices, classrooms, and people on their own.

Groups share what real groups share (a home connection, an office's addresses, a company
card, a homework assignment), so that a detector meets innocent reasons for overlap.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sybilgraph.synth.activity import HOME, OFFICE, SCHOOL
from sybilgraph.synth.addresses import CLOUD_BLOCKS, in_blocks, residential
from sybilgraph.synth.arrays import draw
from sybilgraph.synth.config import LEGIT_KINDS
from sybilgraph.synth.draft import Draft, channels, pre_existing
from sybilgraph.synth.population import FIXED, POOL, V6
from sybilgraph.synth.templates import fill_once
from sybilgraph.synth.texts import HOMEWORK, HOMEWORK_EDITS, OFFICE_TOOLS
from sybilgraph.synth.vocabulary import COMPANY_FIRST, COMPANY_SECOND, NAMES

_ChannelMaker = Callable[
    [Draft, int, np.ndarray, tuple[np.ndarray, np.ndarray]], dict[str, np.ndarray]
]


def _sizes(
    rng: np.random.Generator, target: int, draw_sizes: Callable[[int], np.ndarray]
) -> np.ndarray:
    """Group sizes from ``draw_sizes`` adding up to about ``target`` (at least one group)."""
    sizes = draw_sizes(max(4, target))
    keep = max(1, int(np.searchsorted(np.cumsum(sizes), target, side="right")))
    return sizes[:keep]


def add_legit(
    draft: Draft,
    kind: str,
    n: int,
    *,
    group: np.ndarray | int,
    volume: np.ndarray,
    profile: np.ndarray | int,
    tzs: np.ndarray,
    anchor: np.ndarray,
    pay: np.ndarray,
    chans: dict[str, np.ndarray],
    **extra: object,
) -> None:
    """Add ``n`` legitimate accounts; ``extra`` overrides the everyday defaults."""
    rng = draft.rng
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
        "fav": draft.favourite_topics(n),
        "name": rng.integers(len(NAMES), size=n),
        "ua1": draw(rng, draft.legit_ua_cum, n),
        "ua2": draw(rng, draft.legit_ua_cum, n),
        "ua2_p": np.where(rng.random(n) < 0.4, 0.2, 0.0),
    }
    cols.update(chans)
    cols.update(extra)
    draft.accounts.add(n, **cols)


# --------------------------------------------------------------------------------------
# Households


def add_households(draft: Draft, n_legit: float) -> None:
    """Families of 2 to 5, about 14% of the legitimate accounts.

    A family shares its home connection (a fifth of them on IPv6) and its time zone; 30%
    of families pay with one card.
    """
    rng = draft.rng
    sizes = _sizes(
        rng, int(0.14 * n_legit), lambda k: rng.choice([2, 3, 4, 5], k, p=[0.45, 0.3, 0.17, 0.08])
    )
    for household_size in np.unique(sizes):
        size = int(household_size)
        _add_households_of(draft, size, int((sizes == size).sum()))


def _add_households_of(draft: Draft, size: int, n_groups: int) -> None:
    rng = draft.rng
    n = n_groups * size
    household_ids = draft.group_counts["household"] + np.arange(n_groups)
    draft.group_counts["household"] += n_groups
    member_group = np.repeat(household_ids, size)
    on_v6 = np.repeat(rng.random(n_groups) < 0.2, size)
    home = np.repeat(draft.homes(n_groups), size)
    prefix = np.repeat(draft.new_v6_prefixes(n_groups), size)
    shared_card = np.repeat(rng.random(n_groups) < 0.3, size)
    family_card = np.repeat(draft.new_cards(n_groups) + np.arange(n_groups), size)
    pay = np.where(shared_card, family_card, draft.own_cards(n, 0.5))
    car_a, car_b = draft.carrier_channel(n)
    chans = channels(n, (0.85, 0.15, 0.0), (FIXED, POOL, FIXED), [home, car_a, home], [1, car_b, 1])
    chans["ch_mode"] = np.where(on_v6[:, None], np.array([V6, POOL, V6]), chans["ch_mode"])
    chans["ch_a"] = np.where(on_v6[:, None], np.stack([prefix, car_a, prefix], 1), chans["ch_a"])
    tzs = np.repeat(draft.time_zones(n_groups), size)
    add_legit(
        draft,
        "household",
        n,
        group=member_group,
        volume=rng.lognormal(0, 1, n) * 0.9,
        profile=HOME,
        tzs=tzs,
        anchor=pre_existing(n),
        pay=pay,
        chans=chans,
    )


# --------------------------------------------------------------------------------------
# Offices


def add_offices(draft: Draft, n_legit: float) -> None:
    """Offices of 8 to 80: 7% of the legitimate accounts, and 3% paying with one card.

    An office's staff send most requests from a few shared addresses during working hours;
    some offices onboard everyone at once, and some run an internal tool.
    """
    rng = draft.rng
    for kind, share_of_legit in (("office", 0.07), ("office_card", 0.03)):
        office_sizes = _sizes(
            rng,
            int(share_of_legit * n_legit),
            lambda k: np.clip(rng.lognormal(np.log(18), 0.6, k), 8, 80).astype(np.int64),
        )
        for office_size in office_sizes:
            _add_office(draft, kind, int(office_size))


def _add_office(draft: Draft, kind: str, size: int) -> None:
    rng = draft.rng
    gid = draft.group_counts["office"]
    draft.group_counts["office"] += 1
    n_ips = int(rng.integers(1, 5))
    office_ips = residential(rng, n_ips)
    if rng.random() < 0.3:  # a build server in the cloud, next to the rings' ranges
        office_ips[-1] = in_blocks(rng, list(CLOUD_BLOCKS), 1)[0]
    pool_start = draft.ips.add(office_ips)
    home = draft.homes(size)
    chans = channels(
        size, (0.85, 0.15, 0.0), (POOL, FIXED, FIXED), [pool_start, home, home], [n_ips, 1, 1]
    )
    if kind == "office_card":
        pay = np.full(size, draft.new_cards(1), np.int64)
    else:
        pay = draft.own_cards(size, 0.9)
    if rng.random() < 0.5:
        anchor = draft.onboard(size, rng.uniform(0, draft.span_s - 2 * 86400), 0.7 * 86400)
    else:
        anchor = pre_existing(size)
    power = rng.random(size) < 0.25
    volume = rng.lognormal(0, 1, size) * np.where(power, 5.0, 1.4)
    tool = _office_tool(draft) if rng.random() < 0.3 else {}
    add_legit(
        draft,
        kind,
        size,
        group=gid,
        volume=volume,
        profile=OFFICE,
        tzs=np.full(size, draft.time_zones(1)[0]),
        anchor=anchor,
        pay=pay,
        chans=chans,
        session=np.where(power, 4.0, 2.5),
        **tool,
    )


def _office_tool(draft: Draft) -> dict[str, object]:
    """An internal tool wrapping 15% of an office's requests in its company's template."""
    rng = draft.rng
    company = (
        f"{COMPANY_FIRST[int(rng.integers(len(COMPANY_FIRST)))]} "
        f"{COMPANY_SECOND[int(rng.integers(len(COMPANY_SECOND)))]}"
    )
    text = OFFICE_TOOLS[int(rng.integers(len(OFFICE_TOOLS)))]
    row = draft.templates.add(text.replace("{company}", company))
    return {"tpl_start": row, "tpl_count": 1, "p_tpl": 0.15}


# --------------------------------------------------------------------------------------
# Classrooms


def add_classrooms(draft: Draft, n_legit: float) -> None:
    """Classes of 20 to 40 students, about 3% of the legitimate accounts.

    Students join together, send from school and from home, and 30-50% of their prompts
    are the class's homework, each student editing it a little.
    """
    rng = draft.rng
    class_sizes = _sizes(rng, int(0.03 * n_legit), lambda k: rng.integers(20, 41, k))
    for class_size in class_sizes:
        _add_classroom(draft, int(class_size))


def _add_classroom(draft: Draft, size: int) -> None:
    rng = draft.rng
    gid = draft.group_counts["classroom"]
    draft.group_counts["classroom"] += 1
    school = draft.ips.add(residential(rng, 2))
    n_school = int(rng.integers(1, 3))
    home = draft.homes(size)
    chans = channels(
        size, (0.6, 0.4, 0.0), (POOL, FIXED, FIXED), [school, home, home], [n_school, 1, 1]
    )
    first_row, n_rows = _homework(draft)
    anchor = draft.onboard(
        size, rng.uniform(0, draft.span_s - 2 * 86400), rng.uniform(0.5, 2) * 86400
    )
    add_legit(
        draft,
        "classroom",
        size,
        group=gid,
        volume=rng.lognormal(0, 0.8, size) * 0.5,
        profile=SCHOOL,
        tzs=np.full(size, draft.time_zones(1)[0]),
        anchor=anchor,
        pay=draft.own_cards(size, 0.1),
        chans=chans,
        p_tpl=rng.uniform(0.3, 0.5, size),
        tpl_start=first_row,
        tpl_count=n_rows,
    )


def _homework(draft: Draft) -> tuple[int, int]:
    """One or two assignments in every edit; returns the first template row and the count."""
    first_row = len(draft.templates)
    for _ in range(int(draft.rng.integers(1, 3))):
        assignment = fill_once(HOMEWORK[int(draft.rng.integers(len(HOMEWORK)))], draft.rng)
        for edit in HOMEWORK_EDITS:
            draft.templates.add(edit(assignment))
    return first_row, len(draft.templates) - first_row


# --------------------------------------------------------------------------------------
# People on their own


def add_singles(draft: Draft, n_legit: float) -> None:
    """People on their own: on mobile carriers, behind VPNs, on IPv6, and at home.

    Carrier users are 12% of the legitimate accounts, VPN users 5%, IPv6 users 6%; people
    at home make up the rest, up to ``n_legit``.
    """
    _add_singles(draft, "carrier", max(1, int(0.12 * n_legit)), 0.5, 0.08)
    _add_singles(draft, "vpn_user", max(1, int(0.05 * n_legit)), 0.5, 0.08)
    _add_singles(draft, "ipv6_user", max(1, int(0.06 * n_legit)), 0.5, 0.08)
    _add_singles(draft, "solo", max(1, int(n_legit) - draft.accounts.count()), 0.55, 0.1)


def _add_singles(draft: Draft, kind: str, n: int, p_card: float, p_new: float) -> None:
    rng = draft.rng
    home = draft.homes(n)
    carrier = draft.carrier_channel(n)
    chans = _SINGLE_CHANNELS[kind](draft, n, home, carrier)
    add_legit(
        draft,
        kind,
        n,
        group=-1,
        volume=rng.lognormal(0, 1, n) * (0.8 if kind == "carrier" else 1.0),
        profile=HOME,
        tzs=draft.time_zones(n),
        anchor=draft.maybe_new(n, p_new),
        pay=draft.own_cards(n, p_card),
        chans=chans,
    )


def solo_channels(
    draft: Draft, n: int, home: np.ndarray, carrier: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    """Home; 30% also use their phone on a carrier a fifth of the time."""
    car_a, car_b = carrier
    mobile = np.where(draft.rng.random(n) < 0.3, 0.2, 0.0)
    chans = channels(n, (1.0, 0.0, 0.0), (FIXED, POOL, FIXED), [home, car_a, home], [1, car_b, 1])
    chans["ch_cum"] = np.stack([1 - mobile, np.ones(n)], 1)
    return chans


def _carrier_channels(
    draft: Draft, n: int, home: np.ndarray, carrier: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    """Mostly a carrier's NAT pool, home a tenth of the time."""
    car_a, car_b = carrier
    return channels(n, (0.9, 0.1, 0.0), (POOL, FIXED, FIXED), [car_a, home, home], [car_b, 1, 1])


def _vpn_channels(
    draft: Draft, n: int, home: np.ndarray, carrier: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    """Mostly a VPN provider's exits, home the rest of the time."""
    which = draft.rng.integers(len(draft.vpn_pools), size=n)
    vpn_a = np.array([s for s, _ in draft.vpn_pools])[which]
    vpn_b = np.array([k for _, k in draft.vpn_pools])[which]
    return channels(n, (0.85, 0.15, 0.0), (POOL, FIXED, FIXED), [vpn_a, home, home], [vpn_b, 1, 1])


def _ipv6_channels(
    draft: Draft, n: int, home: np.ndarray, carrier: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    """A /64 prefix of their own, a carrier's NAT pool a tenth of the time."""
    car_a, car_b = carrier
    prefix = draft.new_v6_prefixes(n)
    return channels(n, (0.9, 0.1, 0.0), (V6, POOL, V6), [prefix, car_a, prefix], [1, car_b, 1])


_SINGLE_CHANNELS: dict[str, _ChannelMaker] = {
    "solo": solo_channels,
    "carrier": _carrier_channels,
    "vpn_user": _vpn_channels,
    "ipv6_user": _ipv6_channels,
}
