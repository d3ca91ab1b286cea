"""Dataset operators: a large, diverse task set sent through a few wrappers of their own.

Shaped like the public descriptions of model distillation campaigns. One operator runs
dozens to thousands of accounts, each sending hundreds of requests. Every request's body
is a different task (:mod:`sybilgraph.synth.tasks`), wrapped in one of the operator's one
to three wrappers, which share one long prefix
(:func:`~sybilgraph.synth.wrappers.operator_wrappers`). Nothing else is shared in the
obvious places:

- a fresh residential address for every request (rotating residential proxies)
- a virtual card per account, a few of them used by two or three accounts
- the common SDK's user agent, the one ordinary developers send

What gives the operator away is its scheduler: every account is active in the same two or
three shifts of a few hours a day, and new accounts start in waves, a batch on one day.
"""

from __future__ import annotations

import numpy as np

from sybilgraph.synth.config import LEGIT_KINDS, SYBIL_KINDS, SynthConfig
from sybilgraph.synth.draft import Draft, channels, pre_existing
from sybilgraph.synth.population import FRESH
from sybilgraph.synth.vocabulary import NAMES
from sybilgraph.synth.wrappers import operator_wrappers

_KIND = len(LEGIT_KINDS) + SYBIL_KINDS.index("ring_wrapped")


def _operator_count(config: SynthConfig) -> int:
    """Two operators up to about a million events, more (and larger ones) after."""
    return max(2, round(2 * (config.n_events / 1_000_000) ** 0.4))


def add_operators(draft: Draft, config: SynthConfig, target: float, first_group: int) -> int:
    """Add operators of about ``target`` accounts in all, numbered from ``first_group``.

    Returns the number of operators (none where ``config.sybil_event_share`` is 0). Each
    has at least 24 accounts.
    """
    rng = draft.rng
    if config.sybil_event_share <= 0:
        return 0
    n_operators = _operator_count(config)
    mean_size = max(24.0, target / n_operators)
    sizes = np.maximum(rng.lognormal(np.log(mean_size), 0.4, n_operators), 24).astype(np.int64)
    levels = rng.lognormal(0, 0.3, n_operators)
    for k in range(n_operators):
        _add_operator(draft, first_group + k, int(sizes[k]), float(levels[k]))
    return n_operators


def _add_operator(draft: Draft, group: int, size: int, level: float) -> None:
    rng = draft.rng
    tz = int(draft.time_zones(1)[0])
    shifts = _shifts(rng)
    hourly = np.zeros(24)
    for start, length in shifts:
        hourly[(start + np.arange(length)) % 24] = 1.0
    profile = draft.add_shift(hourly)
    wrappers = operator_wrappers(rng)
    first_ua, cumulative = draft.sdk_user_agents()
    newest = first_ua + len(cumulative) - 1
    draft.accounts.add(
        size,
        kind=_KIND,
        group=group,
        volume=level * rng.lognormal(0, 0.3, size),
        profile=profile,
        tz=tz,
        anchor=_waves(draft, size, shifts, tz),
        pay=_virtual_cards(draft, size),
        session=8.0,
        gap=30.0,
        p_pop=0.0,
        p_tpl=0.0,
        tpl_start=0,
        tpl_count=1,
        fav=draft.favourite_topics(size),
        name=rng.integers(len(NAMES), size=size),
        ua1=newest,
        ua2=newest - 1,
        ua2_p=0.1,
        p_wrap=1.0,
        wrap_start=draft.add_wrappers(wrappers),
        wrap_count=len(wrappers),
        wrap_task=True,
        **channels(size, (1, 0, 0), (FRESH,) * 3, [0] * 3, [1] * 3),
    )


def _shifts(rng: np.random.Generator) -> list[tuple[int, int]]:
    """Two or three shifts of 3 to 5 hours a day, ``(first hour, hours)``, local time,
    with at least an hour between them."""
    n = int(rng.integers(2, 4))
    lengths = rng.integers(3, 6, size=n)
    spare = 24 - int(lengths.sum()) - n  # hours beyond the one-hour breaks
    breaks = 1 + rng.multinomial(spare, np.ones(n) / n)
    start = int(rng.integers(24))
    shifts = []
    for length, pause in zip(lengths, breaks, strict=True):
        shifts.append((start % 24, int(length)))
        start += int(length + pause)
    return shifts


def _waves(draft: Draft, size: int, shifts: list[tuple[int, int]], tz: int) -> np.ndarray:
    """Anchors: 30 to 50% of the accounts existed before the span; the others are
    created in two to four waves, each in one shift of one day."""
    rng = draft.rng
    anchor = pre_existing(size)
    n_before = round(rng.uniform(0.3, 0.5) * size)
    new = np.sort(rng.permutation(size)[n_before:])
    # waves start from the second day, so that no time zone puts one before the span
    n_days = draft.span_s // 86400
    days = np.arange(1, n_days - 1) if n_days >= 3 else np.zeros(1, np.int64)
    n_waves = min(int(rng.integers(2, 5)), len(days))
    wave_days = rng.choice(days, n_waves, replace=False)
    wave = rng.permutation(np.arange(len(new)) % n_waves)  # waves of equal size
    shift = rng.integers(len(shifts), size=n_waves)
    first_hour = np.array([shifts[s][0] for s in shift])
    hours = np.array([shifts[s][1] for s in shift])
    local_s = wave_days * 86400 + first_hour * 3600
    seconds = local_s[wave] - tz * 60 + rng.random(len(new)) * hours[wave] * 3600
    anchor[new] = np.clip(seconds, 0, draft.span_s - 3600).astype(np.int64)
    return anchor


def _virtual_cards(draft: Draft, size: int) -> np.ndarray:
    """A virtual card per account, except that one card in ten serves two or three."""
    rng = draft.rng
    holders = rng.choice([1, 2, 3], size=size, p=[0.9, 0.06, 0.04])
    n_cards = int(np.searchsorted(np.cumsum(holders), size)) + 1
    first = draft.new_cards(n_cards)
    owner = np.repeat(np.arange(n_cards), holders[:n_cards])[:size]
    return first + rng.permutation(owner)
