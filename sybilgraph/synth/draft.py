"""The population while its groups are drawn: account columns and the tables they share.

Every group is drawn from one generator, in a fixed order, so a seed always gives the same
population: a function that adds a group must keep its draws in the order they are made.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sybilgraph.synth.activity import FLAT, TZ_MINUTES, TZ_WEIGHTS
from sybilgraph.synth.addresses import VPN_BLOCKS, in_blocks, residential
from sybilgraph.synth.arrays import weighted_texts
from sybilgraph.synth.config import SynthConfig
from sybilgraph.synth.templates import SlotContext, Templates
from sybilgraph.synth.texts import UA_FAMILIES, UA_SDK
from sybilgraph.synth.vocabulary import TOPICS


class Accounts:
    """Column lists, appended to group by group, then concatenated.

    A group may leave out a column that only some kinds of account have; :meth:`get`
    fills its rows with a default.
    """

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.cols: dict[str, dict[int, np.ndarray]] = {}

    def add(self, n: int, **cols: object) -> None:
        part = len(self.sizes)
        self.sizes.append(n)
        for key, value in cols.items():
            arr = np.asarray(value)
            if arr.ndim == 0:
                arr = np.broadcast_to(arr, (n,))
            self.cols.setdefault(key, {})[part] = np.asarray(arr)

    def get(self, key: str, default: object = None) -> np.ndarray:
        parts = self.cols.get(key, {})
        if default is None and len(parts) < len(self.sizes):
            raise KeyError(f"some groups have no column {key!r}")
        return np.concatenate(
            [parts[i] if i in parts else np.full(n, default) for i, n in enumerate(self.sizes)]
        )

    def count(self) -> int:
        return sum(self.sizes)


class Table:
    """An append-only table of IPv4 addresses or cards, addressed by index."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.size = 0

    def add(self, values: np.ndarray) -> int:
        self.parts.append(values)
        self.size += len(values)
        return self.size - len(values)

    def all(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.uint32)


def channels(
    n: int,
    probs: tuple[float, float, float],
    modes: tuple[int, int, int],
    a: list[np.ndarray | int],
    b: list[np.ndarray | int],
) -> dict[str, np.ndarray]:
    """Account columns of three IP channels taken with ``probs``.

    A channel's mode (:data:`~sybilgraph.synth.population.FIXED` and the others) says how
    it picks an address; ``a`` is its start in the IP table or its IPv6 prefix, ``b`` the
    length of its pool.
    """
    p = np.array(probs, np.float64)
    return {
        "ch_cum": np.broadcast_to(np.cumsum(p)[:2], (n, 2)),
        "ch_mode": np.broadcast_to(np.array(modes, np.int64), (n, 3)),
        "ch_a": np.stack([np.broadcast_to(np.asarray(x, np.int64), (n,)) for x in a], 1),
        "ch_b": np.stack([np.broadcast_to(np.asarray(x, np.int64), (n,)) for x in b], 1),
    }


def pre_existing(n: int) -> np.ndarray:
    """Anchors of accounts that existed before the span: drawn later from their profile."""
    return np.full(n, -1, np.int64)


class Draft:
    """The accounts drawn so far and the tables they index into.

    Created with what every group shares, drawn first: the legitimate clients' user
    agents, the carriers' NAT pools and the VPN exits, sized by the ``n_legit`` legitimate
    accounts expected.

    Attributes
    ----------
    rng
        The generator every group draws from.
    template_rng
        The generator rings' reworded and misspelt templates draw from.
    accounts
        One column per account property, appended to group by group.
    ips, cards
        The IPv4 addresses and the payment cards accounts point into (cards are
        placeholders here; their ids are drawn once the population is complete).
    templates
        Prompt templates of offices' tools, classrooms' homework and rings.
    user_agents
        User-agent strings: the legitimate pool first, then each ring's.
    legit_ua_cum
        Cumulative probability of picking each user agent of the legitimate pool.
    carrier_pools, vpn_pools
        ``(start, length)`` of each carrier's and each VPN provider's addresses in ``ips``.
    n_v6_prefixes
        IPv6 /64 prefixes handed out so far.
    group_counts
        Households, offices and classrooms made so far; each one's number is its group.
    wrappers
        ``(head, tail)`` put around the bodies of wrapped requests: operators' and tools'.
    shifts
        Hourly activity of the profiles after the built-in ones (operators' shifts).
    tools
        Names of the tools whose users have been added; each one's number is its group.
    """

    def __init__(self, config: SynthConfig, n_legit: float) -> None:
        self.rng = np.random.default_rng([config.seed, 0])
        self.template_rng = np.random.default_rng([config.seed, 2])
        self.span_s = config.days * 86400
        self.accounts = Accounts()
        self.ips = Table()
        self.cards = Table()
        self.templates = Templates(variants=12)
        self.user_agents: list[pa.Array] = []
        self.n_user_agents = 0
        self.n_v6_prefixes = 0
        self.group_counts = dict.fromkeys(("household", "office", "classroom"), 0)
        self.wrappers: list[tuple[str, str]] = []
        self.shifts: list[np.ndarray] = []
        self.tools: list[str] = []
        self._sdk_agents: tuple[int, np.ndarray] | None = None
        self.legit_ua_cum = self._legit_user_agents()
        self.carrier_pools = [self._carrier_pool(c, 0.12 * n_legit / 3) for c in range(3)]
        self.vpn_pools = [self._vpn_pool(p, 0.05 * n_legit / 4) for p in range(4)]

    def _legit_user_agents(self) -> np.ndarray:
        """Draw 2,000 user agents of legitimate clients; a few are far more common."""
        families = Templates.of(text for text, _ in UA_FAMILIES)
        weights = np.array([w for _, w in UA_FAMILIES])
        family_cum = np.cumsum(weights) / weights.sum()
        rows = np.searchsorted(family_cum, self.rng.random(2000), side="right")
        self.add_user_agents(families.render(rows, self.rng, SlotContext.blank(2000)))
        zipf = 1.0 / (np.arange(2000) + 8.0) ** 1.1
        return np.cumsum(zipf / zipf.sum())

    def _carrier_pool(self, carrier: int, users: float) -> tuple[int, int]:
        """A carrier's NAT addresses in its /12, one for about 150 users."""
        size = max(4, int(users / 150))
        block = [f"100.{64 + 16 * carrier + k}" for k in range(16)]
        start = self.ips.add(np.unique(in_blocks(self.rng, block, size)))
        return start, self.ips.size - start

    def _vpn_pool(self, provider: int, users: float) -> tuple[int, int]:
        """A VPN provider's exits in its /24, one for about 300 users."""
        size = int(min(250, max(4, users / 300)))
        start = self.ips.add(np.unique(in_blocks(self.rng, [VPN_BLOCKS[provider]], size)))
        return start, self.ips.size - start

    def add_user_agents(self, strings: pa.Array) -> int:
        """Append user agents; returns the index of the first."""
        self.user_agents.append(strings)
        self.n_user_agents += len(strings)
        return self.n_user_agents - len(strings)

    def sdk_user_agents(self) -> tuple[int, np.ndarray]:
        """The common SDK's releases: the index of the first and their cumulative shares.

        Added on first use; the last release is the newest and the most used.
        """
        if self._sdk_agents is None:
            texts, cumulative = weighted_texts(UA_SDK)
            self._sdk_agents = (self.add_user_agents(texts), cumulative)
        return self._sdk_agents

    def add_wrappers(self, wrappers: list[tuple[str, str]]) -> int:
        """Append ``(head, tail)`` wrappers; returns the index of the first."""
        self.wrappers += wrappers
        return len(self.wrappers) - len(wrappers)

    def add_shift(self, hourly: np.ndarray) -> int:
        """Add an activity profile of 24 hourly weights (local time, every day alike).

        Returns the profile's number, after the built-in ones of
        :mod:`~sybilgraph.synth.activity`.
        """
        self.shifts.append(np.asarray(hourly, np.float64))
        return FLAT + len(self.shifts)

    def new_cards(self, n: int) -> int:
        """Add ``n`` cards; returns the index of the first."""
        return self.cards.add(np.zeros(n, np.uint32))

    def own_cards(self, n: int, p_card: float) -> np.ndarray:
        """A card of its own for each account with probability ``p_card``, else -1."""
        has = self.rng.random(n) < p_card
        start = self.new_cards(int(has.sum()))
        pay = np.full(n, -1, np.int64)
        pay[has] = start + np.arange(int(has.sum()))
        return pay

    def new_v6_prefixes(self, n: int) -> np.ndarray:
        """Hand out ``n`` IPv6 /64 prefixes (their addresses are drawn at the end)."""
        prefixes = self.n_v6_prefixes + np.arange(n)
        self.n_v6_prefixes += n
        return prefixes

    def homes(self, n: int) -> np.ndarray:
        """``n`` residential addresses, one each, as indexes in the IP table."""
        return self.ips.add(residential(self.rng, n)) + np.arange(n)

    def carrier_channel(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """A random carrier's NAT pool for each account: start and length in the IP table."""
        which = self.rng.integers(len(self.carrier_pools), size=n)
        starts = np.array([start for start, _ in self.carrier_pools])
        lengths = np.array([length for _, length in self.carrier_pools])
        return starts[which], lengths[which]

    def time_zones(self, n: int) -> np.ndarray:
        """UTC offsets in minutes, weighted by where the traffic comes from."""
        return self.rng.choice(TZ_MINUTES, size=n, p=TZ_WEIGHTS / TZ_WEIGHTS.sum())

    def favourite_topics(self, n: int) -> np.ndarray:
        """Three topics per account that its everyday prompts are about."""
        return self.rng.integers(len(TOPICS), size=(n, 3))

    def onboard(self, n: int, at: float, spread: float) -> np.ndarray:
        """Anchors of accounts created together: from ``at`` over ``spread`` seconds."""
        at = min(at, self.span_s - spread - 3600)
        return (max(at, 0) + self.rng.random(n) * spread).astype(np.int64)

    def maybe_new(self, n: int, p_new: float) -> np.ndarray:
        """Anchors: each account is created during the span with probability ``p_new``."""
        anchor = pre_existing(n)
        new = self.rng.random(n) < p_new
        anchor[new] = self.rng.integers(0, self.span_s - 3600, size=int(new.sum()))
        return anchor
