"""Build the population: legitimate groups, then rings, then each account's place in time."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.synth.activity import EXT_MIN, intensity, sample_minutes
from sybilgraph.synth.addresses import HEX16_STRINGS, IPV6_ISPS, ipv4_strings
from sybilgraph.synth.arrays import join, take
from sybilgraph.synth.clients import add_clients
from sybilgraph.synth.config import LEGIT_KINDS, SynthConfig, check_config
from sybilgraph.synth.draft import Draft
from sybilgraph.synth.legit import add_classrooms, add_households, add_offices, add_singles
from sybilgraph.synth.operators import add_operators
from sybilgraph.synth.population import Population
from sybilgraph.synth.rings import add_camouflage_rings, add_rings
from sybilgraph.synth.truth import truth_table

_HEX8_STRINGS = pa.array([f"{i:02x}" for i in range(256)])
#: with ``coordination``, the shares of the sybil accounts in the rings of before, in VPN
#: camouflage rings and with dataset operators
_RING_SHARE, _CAMOUFLAGE_SHARE, _OPERATOR_SHARE = 0.45, 0.1, 0.45


def build_population(config: SynthConfig) -> Population:
    """Draw every account of the population ``config`` asks for, group by group.

    Raises
    ------
    ConfigError
        Where ``config`` asks for something that cannot be made.
    """
    check_config(config)
    n_accounts = max(60, round(config.n_events / config.events_per_account))
    share = config.sybil_event_share
    # a sybil account sends about 21 times the events of a legitimate one
    sybil_target = n_accounts * share / (share + 21 * (1 - share)) if share > 0 else 0
    n_legit = n_accounts - sybil_target
    draft = Draft(config, n_legit)
    add_households(draft, n_legit)
    add_offices(draft, n_legit)
    add_classrooms(draft, n_legit)
    if config.coordination:
        add_clients(draft, n_legit)
    add_singles(draft, n_legit)
    if config.coordination:
        n_rings = add_rings(draft, config, _RING_SHARE * sybil_target)
        n_rings += add_camouflage_rings(draft, config, _CAMOUFLAGE_SHARE * sybil_target, n_rings)
        n_rings += add_operators(draft, config, _OPERATOR_SHARE * sybil_target, n_rings)
    else:
        n_rings = add_rings(draft, config, sybil_target)
    draft.templates.freeze()
    return _complete(draft, config, n_rings)


def _complete(draft: Draft, config: SynthConfig, n_rings: int) -> Population:
    """Scale the volumes, place accounts in time, and draw ids, cards and IPv6 prefixes."""
    rng = draft.rng
    accounts = draft.accounts
    kind_code = accounts.get("kind")
    volume = _volumes(accounts.get("volume"), kind_code >= len(LEGIT_KINDS), config)
    cum, n_minutes = _flat_intensity(config, draft.shifts)
    profile = accounts.get("profile").astype(np.int64)
    base = profile * n_minutes + accounts.get("tz").astype(np.int64) + EXT_MIN
    anchor, start_min = _anchors(draft, cum, base)
    session = accounts.get("session").astype(np.float64)
    rate, norm = _session_rates(volume, session, cum, base, start_min, draft.span_s)
    ids = _account_ids(rng, len(kind_code))
    group = accounts.get("group").astype(np.int64)
    truth = truth_table(ids, kind_code, group, draft.group_counts, n_rings, draft.tools)
    card_ids = _card_ids(rng, draft.cards.size)
    v6_prefixes = _v6_prefixes(rng, draft.n_v6_prefixes)
    first_day = np.datetime64(config.start, "D")
    return Population(
        ids=ids,
        truth=truth,
        cum=cum,
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
        ip_table=ipv4_strings(draft.ips.all()),
        v6_prefixes=v6_prefixes,
        payment=accounts.get("pay").astype(np.int64),
        cards=card_ids,
        ua1=accounts.get("ua1").astype(np.int64),
        ua2=accounts.get("ua2").astype(np.int64),
        ua2_p=accounts.get("ua2_p").astype(np.float64),
        user_agents=pa.concat_arrays(draft.user_agents),
        p_popular=accounts.get("p_pop").astype(np.float64),
        p_template=accounts.get("p_tpl").astype(np.float64),
        tpl_start=accounts.get("tpl_start").astype(np.int64),
        tpl_count=accounts.get("tpl_count").astype(np.int64),
        templates=draft.templates,
        fav=accounts.get("fav").astype(np.int64),
        name=accounts.get("name").astype(np.int64),
        p_wrap=accounts.get("p_wrap", 0.0).astype(np.float64),
        wrap_start=accounts.get("wrap_start", 0).astype(np.int64),
        wrap_count=accounts.get("wrap_count", 1).astype(np.int64),
        wrap_task=accounts.get("wrap_task", False).astype(bool),
        wrap_heads=pa.array([head for head, _ in draft.wrappers], pa.string()),
        wrap_tails=pa.array([tail for _, tail in draft.wrappers], pa.string()),
        span_s=draft.span_s,
        block_s=_block_seconds(config),
        day_prefix=pa.array([str(first_day + d) + "T" for d in range(config.days)]),
    )


def _volumes(relative: np.ndarray, sybil: np.ndarray, config: SynthConfig) -> np.ndarray:
    """Expected events per account: legitimate and sybil accounts each send their share of
    ``config.n_events`` in proportion to their relative volumes, every account at least one."""
    volume = relative.astype(np.float64)
    n_events, share = config.n_events, config.sybil_event_share
    legit_total = n_events * (1 - share) if sybil.any() else n_events
    volume[~sybil] *= legit_total / volume[~sybil].sum()
    if sybil.any():
        volume[sybil] *= n_events * share / volume[sybil].sum()
    return np.maximum(volume, 1.0)


def _flat_intensity(config: SynthConfig, shifts: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Every profile's cumulative intensity end to end, and the minutes in each.

    Each profile is lifted above the one before, so one sorted array serves a search
    within any profile.
    """
    cum = intensity(np.datetime64(config.start, "D"), config.days, shifts)
    big = float(cum[:, -1].max() + 1.0)
    return (cum + big * np.arange(len(cum))[:, None]).ravel(), cum.shape[1]


def _anchors(draft: Draft, cum: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each account's guaranteed event (seconds) and the first minute of its sessions.

    An account created during the span sends its first event when created and its
    sessions after; one that existed before gets an event drawn from its profile and may
    start sessions at once.
    """
    anchor = draft.accounts.get("anchor").astype(np.int64)
    missing = anchor < 0
    n_missing = int(missing.sum())
    end_min = np.full(n_missing, draft.span_s // 60)
    minutes = sample_minutes(cum, base[missing], np.zeros(n_missing, np.int64), end_min, draft.rng)
    anchor[missing] = minutes * 60 + draft.rng.integers(0, 60, size=len(minutes))
    start_min = np.where(missing, 0, -(-anchor // 60))
    return anchor, start_min


def _session_rates(
    volume: np.ndarray,
    session: np.ndarray,
    cum: np.ndarray,
    base: np.ndarray,
    start_min: np.ndarray,
    span_s: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected sessions over each account's window, and the window's intensity mass.

    Beyond its guaranteed event an account sends ``volume - 1`` events in sessions of
    ``session`` requests on average; an account whose window holds no activity sends none.
    """
    end_min = span_s // 60
    norm = cum[base + end_min] - cum[base + np.minimum(start_min, end_min)]
    rate = np.where(norm > 0, (volume - 1) / session, 0.0)
    return rate, np.where(norm > 0, norm, 1.0)


def _account_ids(rng: np.random.Generator, n: int) -> pa.Array:
    """Random distinct numbers, so an id says nothing about its account."""
    width = max(7, len(str(n * 8)))
    numbers = rng.choice(10**width, size=n, replace=False)
    return join(["u", pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")])


def _card_ids(rng: np.random.Generator, n: int) -> pa.Array:
    raw = rng.integers(0, 256, size=(n, 8))
    return join(["pm_", *(take(_HEX8_STRINGS, raw[:, i]) for i in range(8))])


def _v6_prefixes(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` /64 prefixes, each two random groups under a random ISP's /32."""
    groups = [take(HEX16_STRINGS, rng.integers(0, 65536, n)) for _ in range(2)]
    isp = take(pa.array(IPV6_ISPS), rng.integers(len(IPV6_ISPS), size=n))
    return join([isp, ":", groups[0], ":", groups[1]])


def _block_seconds(config: SynthConfig) -> int:
    """Length of a block of time: about 150,000 events, a whole number of blocks a day."""
    per_day = max(1, math.ceil(config.n_events / config.days / 150_000))
    per_day = min(d for d in (1, 2, 3, 4, 6, 8, 12, 24) if d >= min(per_day, 24))
    return 86400 // per_day
