"""Sybil rings: groups of accounts run by one operator, in five kinds that hide differently.

Every ring's members are created within a day or so, send mostly the ring's own task templates and
use one or two scripted clients. They differ in what else they share:

- basic: prepaid cards (3 to 8 members a card) and one pool of datacenter addresses
- prompt-only: own cards and a fresh residential address for every request; only the
  reworded templates tie them together
- typo: two or three cards, datacenter, fresh and carrier addresses, and templates whose
  every piece has misspelt variants
- VPN: prepaid cards, like basic rings, behind one VPN provider's exits
- VPN camouflage (only with ``SynthConfig.coordination``): own cards, one VPN provider's
  exits (a fresh residential address a tenth of the time), a popular client's user agent,
  and half of the prompts everyday ones, so that the ring looks like the provider's
  ordinary users
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sybilgraph.synth.activity import FLAT, HOME
from sybilgraph.synth.addresses import CLOUD_BLOCKS, in_blocks
from sybilgraph.synth.arrays import draw
from sybilgraph.synth.config import LEGIT_KINDS, SynthConfig
from sybilgraph.synth.draft import Draft, channels
from sybilgraph.synth.population import FRESH, POOL
from sybilgraph.synth.templates import SlotContext, Templates, paraphrase, typo
from sybilgraph.synth.texts import FORMATS, PERSONAS, RING_FAMILIES, UA_SCRIPTED
from sybilgraph.synth.vocabulary import NAMES, TOPICS

# in the order of SYBIL_KINDS
RING_BASIC, RING_PROMPT_ONLY, RING_TYPO, RING_VPN, RING_VPN_CAMOUFLAGE = range(5)


def _ring_count(config: SynthConfig) -> int:
    return max(4, round(12 * (config.n_events / 500_000) ** 0.75))


def _ring_kinds(rng: np.random.Generator, n_rings: int, hard: bool) -> np.ndarray:
    if not hard:
        return np.zeros(n_rings, np.int64)
    guaranteed = np.tile(np.arange(4), 2)[:n_rings]
    extra = rng.choice(4, size=n_rings - len(guaranteed), p=[0.4, 0.2, 0.2, 0.2])
    kinds = np.concatenate([guaranteed, extra])
    return rng.permutation(kinds)


def add_rings(draft: Draft, config: SynthConfig, sybil_target: float) -> int:
    """Add rings of about ``sybil_target`` accounts in all; returns the number of rings.

    Notes
    -----
    There are at least 4 rings, more as ``config.n_events`` grows, and none where
    ``config.sybil_event_share`` is 0. With ``config.hard_cases`` every ring kind appears
    at least once (twice from 8 rings on); without, every ring is basic.
    """
    rng = draft.rng
    n_rings = _ring_count(config) if config.sybil_event_share > 0 else 0
    mean_size = max(8.0, sybil_target / max(n_rings, 1))
    max_size = int(np.clip(mean_size * 2.5, 20, 150))
    ring_sizes = np.clip(rng.lognormal(np.log(mean_size), 0.5, n_rings), 8, max_size)
    ring_kinds = _ring_kinds(rng, n_rings, config.hard_cases)
    ring_levels = rng.lognormal(0, 0.35, n_rings)
    for r in range(n_rings):
        _add_ring(draft, r, int(ring_sizes[r]), int(ring_kinds[r]), float(ring_levels[r]))
    return n_rings


def add_camouflage_rings(draft: Draft, config: SynthConfig, target: float, first_group: int) -> int:
    """Add VPN camouflage rings of about ``target`` accounts in all, numbered from
    ``first_group``; returns the number of rings (one for every six other rings, at
    least one, none where ``config.sybil_event_share`` is 0)."""
    rng = draft.rng
    if config.sybil_event_share <= 0:
        return 0
    n_rings = max(1, round(_ring_count(config) / 6))
    mean_size = max(8.0, target / n_rings)
    sizes = np.clip(rng.lognormal(np.log(mean_size), 0.5, n_rings), 8, 150)
    levels = rng.lognormal(0, 0.35, n_rings)
    for r in range(n_rings):
        _add_ring(draft, first_group + r, int(sizes[r]), RING_VPN_CAMOUFLAGE, float(levels[r]))
    return n_rings


def _add_ring(draft: Draft, group: int, size: int, kind: int, level: float) -> None:
    rng = draft.rng
    span_left = max(draft.span_s - int(2.5 * 86400), 0)
    anchor = draft.onboard(size, rng.uniform(0, span_left), rng.uniform(0.3, 1.5) * 86400)
    pay = _ring_cards(draft, kind, size)
    chans = _RING_CHANNELS[kind](draft, size)
    first_row = len(draft.templates)
    _add_ring_templates(draft, kind)
    camouflage = kind == RING_VPN_CAMOUFLAGE
    if camouflage:  # one client, as popular among ordinary users as any
        ua_first, n_uas = int(draw(rng, draft.legit_ua_cum, 1)[0]), 1
    else:
        ua_first, n_uas = _ring_user_agents(draft)
    hard = kind != RING_BASIC
    draft.accounts.add(
        size,
        kind=len(LEGIT_KINDS) + kind,
        group=group,
        volume=level * rng.lognormal(0, 0.25, size),
        profile=HOME if rng.random() < (0.6 if hard else 0.3) or camouflage else FLAT,
        tz=np.full(size, draft.time_zones(1)[0]),
        anchor=anchor,
        pay=pay,
        session=3.0 if hard else 6.0,
        gap=20.0 if hard else 6.0,
        p_pop=0.1 if camouflage else 0.03,
        p_tpl=rng.uniform(0.45, 0.55) if camouflage else rng.uniform(0.88, 0.97),
        tpl_start=first_row,
        tpl_count=len(draft.templates) - first_row,
        fav=draft.favourite_topics(size),
        name=rng.integers(len(NAMES), size=size),
        ua1=ua_first,
        ua2=ua_first + n_uas - 1,
        ua2_p=0.3 if n_uas > 1 else 0.0,
        **chans,
    )


def _ring_cards(draft: Draft, kind: int, size: int) -> np.ndarray:
    rng = draft.rng
    if kind in (RING_BASIC, RING_VPN):  # prepaid cards shared by 3-8 members
        n_cards = max(1, math.ceil(size / rng.uniform(3, 8)))
        return draft.new_cards(n_cards) + rng.permutation(np.arange(size) % n_cards)
    if kind == RING_PROMPT_ONLY:
        return draft.own_cards(size, 0.8)
    if kind == RING_VPN_CAMOUFLAGE:
        return draft.own_cards(size, 0.7)
    n_cards = int(rng.integers(2, 4))
    return draft.new_cards(n_cards) + rng.integers(n_cards, size=size)


def _basic_channels(draft: Draft, size: int) -> dict[str, np.ndarray]:
    """A pool in one cloud /16: an address for two members, 12 to 60 in all."""
    rng = draft.rng
    block = CLOUD_BLOCKS[rng.integers(40)]
    dc = draft.ips.add(np.unique(in_blocks(rng, [block], int(np.clip(size // 2, 12, 60)))))
    n_dc = draft.ips.size - dc
    return channels(size, (1, 0, 0), (POOL, POOL, POOL), [dc, dc, dc], [n_dc] * 3)


def _prompt_only_channels(draft: Draft, size: int) -> dict[str, np.ndarray]:
    """A fresh residential address for every request."""
    return channels(size, (1, 0, 0), (FRESH, FRESH, FRESH), [0] * 3, [1] * 3)


def _typo_channels(draft: Draft, size: int) -> dict[str, np.ndarray]:
    """4 to 10 addresses in three cloud /16s, fresh residential ones, and a carrier's NAT."""
    rng = draft.rng
    blocks = [CLOUD_BLOCKS[i] for i in rng.choice(40, 3, replace=False)]
    dc = draft.ips.add(np.unique(in_blocks(rng, blocks, int(rng.integers(4, 11)))))
    car_a, car_b = draft.carrier_channel(size)
    return channels(
        size, (0.4, 0.4, 0.2), (POOL, FRESH, POOL), [dc, 0, car_a], [draft.ips.size - dc, 1, car_b]
    )


def _vpn_channels(draft: Draft, size: int) -> dict[str, np.ndarray]:
    """One VPN provider's exits, which legitimate VPN users share."""
    vpn_start, vpn_len = draft.vpn_pools[int(draft.rng.integers(len(draft.vpn_pools)))]
    return channels(size, (1, 0, 0), (POOL,) * 3, [vpn_start] * 3, [vpn_len] * 3)


def _camouflage_channels(draft: Draft, size: int) -> dict[str, np.ndarray]:
    """One VPN provider's exits, a fresh residential address a tenth of the time."""
    vpn_start, vpn_len = draft.vpn_pools[int(draft.rng.integers(len(draft.vpn_pools)))]
    return channels(size, (0.9, 0.1, 0), (POOL, FRESH, FRESH), [vpn_start, 0, 0], [vpn_len, 1, 1])


_RING_CHANNELS: dict[int, Callable[[Draft, int], dict[str, np.ndarray]]] = {
    RING_BASIC: _basic_channels,
    RING_PROMPT_ONLY: _prompt_only_channels,
    RING_TYPO: _typo_channels,
    RING_VPN: _vpn_channels,
    RING_VPN_CAMOUFLAGE: _camouflage_channels,
}


def _add_ring_templates(draft: Draft, kind: int) -> None:
    """The ring's tasks: 3 to 8 task families, one wording each, in the ring's own dress.

    Half the rings wrap each task in a persona and a domain, every ring ends it with one
    format instruction, and some tasks carry a tag. Prompt-only rings reword each task 3
    to 5 times; typo rings misspell its pieces.
    """
    rng = draft.rng
    template_rng = draft.template_rng
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
        if kind == RING_PROMPT_ONLY:
            for k in range(int(rng.integers(3, 6))):
                para = paraphrase(text, template_rng)
                if k % 2 == 1 and wrap:  # the format instruction moves to the front
                    para = paraphrase(f"{suffix} {persona} ({domain}) {body}", template_rng)
                draft.templates.add(para)
        elif kind == RING_TYPO:
            draft.templates.add(text, spell=lambda s: typo(s, template_rng))
        else:
            draft.templates.add(text)


def _ring_user_agents(draft: Draft) -> tuple[int, int]:
    """One or two scripted clients; returns the first one's index and how many."""
    rng = draft.rng
    n_uas = int(rng.integers(1, 3))
    rows = rng.integers(len(UA_SCRIPTED), size=n_uas)
    scripted = Templates.of(UA_SCRIPTED[int(row)] for row in rows)
    strings = scripted.render(np.arange(n_uas), rng, SlotContext.blank(n_uas))
    return draft.add_user_agents(strings), n_uas
