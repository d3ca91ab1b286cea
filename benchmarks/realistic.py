"""Generate an event log shaped like real AI-API traffic, with planted rings.

    python benchmarks/realistic.py --events 1500000 --seed 7 --out benchmarks/data/real-1.5M

Writes OUT/events.parquet (account_id, ts, ip, payment_id, prompt, user_agent; zstd, one
row group per 250,000 events, sorted by time) and OUT/truth.csv (account_id, label,
group, kind). The same seed and size always give the same data.

The shape, per million events (all counts scale with the number of events):

- **Accounts**: one per 40 events (25,000). Requests per account are heavy-tailed
  (lognormal, sigma 1.3: the median account sends about 17 requests, the busiest
  thousands). 28 days of traffic; legitimate accounts follow a day/night curve in one of
  four time zones, a third of them first seen inside the window.
- **Prompts**: nearly all distinct (about 93% of texts). A prompt is an opener ("Explain",
  "Write a python function that", ...) and a task body of 20 to 200 words (lognormal,
  median 40) drawn from a Zipf-weighted vocabulary. 11% of accounts reach the API
  through one of 30 tools whose long system prompt precedes every task body (distinct
  texts, shared prefix). 5% of legitimate requests repeat a popular prompt (greetings,
  test prompts, homework questions: a Zipf pool held by a few to thousands of accounts).
- **IPs**: heavy-tailed address degree. Each account (or household) has a home address of
  its own; 40% of accounts also use mobile carriers whose NAT pools put tens to hundreds
  of accounts on one address; 35% use venues (VPN exits, cafés, campuses: Pareto
  popularity, from a few accounts to several hundred). Offices have their own address.
- **Payment cards**: 65% of accounts have one; nearly all cards belong to one account.
  Households (2-5 accounts, 6% of accounts) share the home address and, in 60% of
  them, a card; offices (5-60 accounts, 4% of accounts) share an address and, in 40% of
  them, a corporate card.
- **User agents**: one of 40 clients (SDKs, curl, browsers) per account, Zipf weighted.
- **Rings** (2% of accounts, 8-60 accounts each, 6 times the median account's volume,
  around the clock, all first seen within two days): a ring prefixes every task with an
  instruction template of its own (15-40 words); half its task bodies come from a pool
  of the ring's own that its accounts repeat, the rest are unique. Three kinds:
  ``ring_basic`` (a few shared cards, 2-6 datacenter addresses of its own),
  ``ring_vpn`` (a virtual card per account, popular VPN exits shared with ordinary
  users), ``ring_proxy`` (a virtual card per account, a fresh residential proxy address
  for nearly every request: only the template links it).

truth.csv: label ``sybil`` or ``legit``; group ``ring_007``, ``household_00012``,
``office_0003``, or the kind for an account on its own; kind one of ``single``,
``household``, ``office``, ``ring_basic``, ``ring_vpn``, ``ring_proxy``.

Memory: the time-sorted skeleton (every event's account and time: 12 bytes per event,
about 40 while it is sorted) plus one chunk of 250,000 events with their text: 0.9 GB
peak at 1.5M events, written in 7 s on one core.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CHUNK = 250_000  # events per chunk; part of the data's definition (a chunk's own seed)
EVENTS_PER_ACCOUNT = 40
TEXT_BATCH = 20_000
START = 1_709_251_200  # 2024-03-01 00:00:00 UTC
DAYS = 28
DAY = 86_400

LEGIT_KINDS = ("single", "household", "office")
RING_KINDS = ("ring_basic", "ring_vpn", "ring_proxy")
KINDS = LEGIT_KINDS + RING_KINDS
RING_SHARE = 0.02
HOUSEHOLD_SHARE = 0.06
OFFICE_SHARE = 0.04

# address spaces (as 32-bit integers): homes and proxies in 24.0.0.0/5 and 64.0.0.0/4,
# carriers in 100.64.0.0/10 (shared address space), venues in 185.0.0.0/8, offices in
# 198.0.0.0/8, datacenters in 45.0.0.0/8
HOME_BASE, HOME_SPAN = 24 << 24, 8 << 24
PROXY_BASE, PROXY_SPAN = 64 << 24, 16 << 24
CARRIER_BASE = (100 << 24) | (64 << 16)
VENUE_BASE = 185 << 24
OFFICE_BASE = 198 << 24
DATACENTER_BASE = 45 << 24

_WORD_TEXT = """
the of and to a in is that for it as with be on not this are by at from or an have
which you one all can more their will would there about if what when so up out into
time data model code function file list value user number system error result table
between first new way use make like just how each other over also after should where
because while than then these some could them two any most only very through write
explain describe compare summarise translate convert fix improve generate analyse
python javascript rust sql query string array loop class method test input output
server client request response cache memory thread process network token password
history science physics chemistry biology economics market price growth policy law
essay story poem letter email report plan schedule budget recipe travel city country
student teacher lesson homework exam question answer example step reason argument
image video audio text document page section chapter paragraph sentence word title
company customer product service team project meeting manager employee contract
health sleep diet exercise muscle heart brain disease treatment patient doctor drug
energy climate carbon water river ocean forest animal plant soil weather season
number matrix vector graph tree node edge path distance speed force mass energy
simple short long detailed clear formal friendly professional technical creative
better faster smaller larger cheaper safer easier harder older newer common rare
please help me need want try find show tell give keep let put take get know think
every year month week day hour minute morning evening night today tomorrow yesterday
because however although therefore instead otherwise meanwhile finally moreover
database index schema migration deploy docker kubernetes cloud bucket queue worker
react component state props hook render style layout button form field validation
"""
WORDS = tuple(_WORD_TEXT.split())

OPENERS = tuple(
    s.strip()
    for s in """
Explain|Write a python function that|Summarise the following text:|Translate into French:|
Fix the bug in this code:|Rewrite this paragraph so it is clearer:|What is the difference
between|Give me a step by step plan for|Draft an email about|Can you help me understand|
Write a short story about|List the pros and cons of|Generate test cases for|Review this
pull request:|Write a SQL query that|Convert this to JavaScript:|Answer the question:|
Outline an essay on|Create a lesson plan about|Suggest names for|Classify the sentiment of:|
Extract the key points from:|Write unit tests for|Describe|Compare|Why does|How do I|
I need help with|Brainstorm ideas for|Proofread:|Make this sound more professional:
""".replace("\n", " ").split("|")
)

POPULAR = (
    "hello",
    "hi",
    "test",
    "Hello, how are you?",
    "What can you do?",
    "Tell me a joke.",
    "ping",
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain quantum computing in simple terms.",
)

USER_AGENTS = (
    "openai-python/1.12.0",
    "openai-python/1.30.1",
    "python-requests/2.31.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/122.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 Safari/605.1.15",
    "node-fetch/1.0",
    "axios/1.6.7",
    "curl/8.4.0",
    "Go-http-client/2.0",
    "anthropic-typescript/0.20.1",
    "langchain/0.1.9",
    "python-httpx/0.27.0",
    "okhttp/4.12.0",
    "PostmanRuntime/7.36.3",
    "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) Mobile/15E148",
    "Dart/3.3 (dart:io)",
    "Java-http-client/17.0.9",
    "ruby/3.3.0",
    "aiohttp/3.9.3",
    *(f"custom-client/{i}.0" for i in range(20)),
)

N_TOOLS = 30
TOOL_SHARE = 0.11
POPULAR_SHARE = 0.05  # of legitimate requests
RING_REPEAT_SHARE = 0.5  # of a ring's requests, from its own pool of task bodies


@dataclass
class Population:
    """Per-account arrays (index = account number) and the shared pools."""

    ids: pa.Array
    kind: np.ndarray  # int8 into KINDS
    group: np.ndarray  # int32: household, office or ring number, -1 alone
    requests: np.ndarray  # int64 events per account
    first_seen: np.ndarray  # int64 seconds from START
    tz: np.ndarray  # int32 seconds added to the time of day; -1 around the clock
    home_ip: np.ndarray  # int64 first of a home's address numbers
    home_count: np.ndarray  # int64 how many addresses a home goes through
    channel_cut: np.ndarray  # (A, 2) float: u < cut0 home, < cut1 carrier, else venue
    carrier: np.ndarray  # int32 carrier number
    venues: np.ndarray  # (A, 3) int64 venue addresses
    n_venues: np.ndarray  # int8, >= 1
    card: np.ndarray  # int64 card number, -1 none
    user_agent: np.ndarray  # int16 into USER_AGENTS
    tool: np.ndarray  # int16 tool number, -1 none
    ring: np.ndarray  # int32 ring number, -1 legit
    carrier_pools: np.ndarray  # (carriers + 1,) cumulative pool offsets
    ring_ips: np.ndarray  # the rings' addresses (basic, vpn), ring after ring
    ring_ip_offsets: np.ndarray  # (rings + 1,) where each ring's addresses start
    ring_kind: np.ndarray  # per ring: int8 into KINDS
    ring_templates: pa.Array  # per ring: its instruction text
    ring_pool_size: np.ndarray  # per ring: bodies in its repeated pool
    tool_prompts: pa.Array  # per tool: its system prompt
    popular_pool: int  # popular prompts (the first POPULAR, then generated questions)

    @property
    def size(self) -> int:
        return len(self.kind)


def _word_table() -> np.ndarray:
    """65,536 word indexes with Zipf frequencies in the order of WORDS (the commonest
    first): a uint16 draw indexes it. The exponent gives "the" about 7%, as in English."""
    weights = 1.0 / np.arange(1, len(WORDS) + 1) ** 0.8
    cumulative = np.cumsum(weights) / weights.sum()
    table = np.searchsorted(cumulative, (np.arange(65_536) + 0.5) / 65_536)
    return np.minimum(table, len(WORDS) - 1).astype(np.int32)


WORD_ARRAY = pa.array(WORDS)


def _texts(rng: np.random.Generator, table: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """One text of ``lengths[i]`` words each, words drawn through ``table``.

    Built 20,000 texts at a time: the words of a batch take about 10 times its text's
    memory on their way to being joined.
    """
    batches = []
    for begin in range(0, len(lengths), TEXT_BATCH):
        part = lengths[begin : begin + TEXT_BATCH]
        offsets = np.zeros(len(part) + 1, np.int64)
        np.cumsum(part, out=offsets[1:])
        draws = table[rng.integers(0, 65_536, int(offsets[-1]), dtype=np.uint16)]
        words = WORD_ARRAY.take(pa.array(draws))
        lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), words)
        batches.append(pc.binary_join(lists, " "))
    if not batches:
        return pa.array([], pa.string())
    return pa.concat_arrays(batches)


def _body_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    lengths = np.round(rng.lognormal(np.log(40), 0.6, n))
    return np.clip(lengths, 20, 200).astype(np.int64)


def _pareto_weights(rng: np.random.Generator, n: int, alpha: float) -> np.ndarray:
    weights = rng.pareto(alpha, n) + 1.0
    return weights / weights.sum()


def _ip_strings(ips: np.ndarray) -> pa.Array:
    ips = ips.astype(np.int64)
    octets = [pa.array((ips >> shift) & 255).cast(pa.string()) for shift in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*octets, ".")


def _padded(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def build_population(n_events: int, seed: int) -> Population:
    """The accounts, their groups, channels and volumes for ``n_events`` events."""
    rng = np.random.default_rng([seed, 0])
    table = _word_table()
    n_accounts = max(n_events // EVENTS_PER_ACCOUNT, 200)

    # groups: rings first, then households and offices, the rest alone
    kind = np.zeros(n_accounts, np.int8)
    group = np.full(n_accounts, -1, np.int32)
    ring = np.full(n_accounts, -1, np.int32)
    at = 0
    ring_kinds: list[int] = []
    while at < RING_SHARE * n_accounts:
        size = int(np.clip(rng.lognormal(np.log(20), 0.5), 8, 60))
        which = len(LEGIT_KINDS) + len(ring_kinds) % len(RING_KINDS)
        kind[at : at + size] = which
        group[at : at + size] = ring[at : at + size] = len(ring_kinds)
        ring_kinds.append(which)
        at += size
    n_ring_accounts = at
    households = 0
    while at < n_ring_accounts + HOUSEHOLD_SHARE * n_accounts:
        size = int(rng.integers(2, 6))
        kind[at : at + size] = KINDS.index("household")
        group[at : at + size] = households
        households += 1
        at += size
    offices = 0
    office_start = at
    while at < office_start + OFFICE_SHARE * n_accounts:
        size = int(np.clip(rng.lognormal(np.log(12), 0.7), 5, 60))
        kind[at : at + size] = KINDS.index("office")
        group[at : at + size] = offices
        offices += 1
        at += size
    kind, group, ring = kind[:n_accounts], group[:n_accounts], ring[:n_accounts]
    is_ring = ring >= 0
    n_rings = len(ring_kinds)
    ring_kind = np.array(ring_kinds, np.int8)

    # volumes: legit lognormal; rings six times the legit median
    weights = rng.lognormal(0.0, 1.3, n_accounts)
    weights[is_ring] = 6.0 * rng.uniform(0.7, 1.3, int(is_ring.sum()))
    requests = rng.multinomial(n_events - n_accounts, weights / weights.sum()) + 1

    # first seen: two thirds before the window; a ring's accounts within two days
    first_seen = np.where(rng.random(n_accounts) < 0.33, rng.integers(0, DAYS * DAY, n_accounts), 0)
    ring_start = rng.integers(0, DAYS * DAY // 2, max(n_rings, 1))
    first_seen[is_ring] = ring_start[ring[is_ring]] + rng.integers(0, 2 * DAY, int(is_ring.sum()))
    tz = rng.choice(np.array([0, 5, 8, 17]) * 3600, n_accounts).astype(np.int32)
    tz[is_ring] = -1

    # addresses: each home its own, households share theirs
    home_key = np.arange(n_accounts, dtype=np.int64)
    household = kind == KINDS.index("household")
    home_key[household] = n_accounts + group[household]
    home_ip = home_key * 4  # a home's addresses: dynamic ones change up to 3 times
    home_count = rng.choice([1, 1, 1, 2, 3, 4], n_accounts)
    home_count[household] = 1 + (group[household] % 3)
    n_carriers = 4
    mobile = rng.random(n_accounts) < 0.40
    carrier = rng.choice(n_carriers, n_accounts, p=[0.4, 0.3, 0.2, 0.1]).astype(np.int32)
    # an address per two mobile accounts: a median account's 20-odd carrier requests put
    # tens of accounts on an address, hundreds on the popular ones
    pool_sizes = np.maximum(np.bincount(carrier[mobile], minlength=n_carriers) // 2, 4)
    carrier_pools = np.concatenate([[0], np.cumsum(pool_sizes)])
    n_venues_total = max(n_accounts // 25, 20)
    venue_weights = _pareto_weights(rng, n_venues_total, 1.1)
    venue_ips = VENUE_BASE + rng.choice(1 << 24, n_venues_total, replace=False)
    uses_venues = rng.random(n_accounts) < 0.35
    n_venues = rng.integers(1, 4, n_accounts).astype(np.int8)
    venues = venue_ips[rng.choice(n_venues_total, (n_accounts, 3), p=venue_weights)]
    office = kind == KINDS.index("office")
    office_ip = OFFICE_BASE + rng.choice(1 << 24, max(offices, 1), replace=False)
    venues[office, 0] = office_ip[group[office]]
    n_venues[office] = 1
    uses_venues |= office

    p_home = np.where(mobile, rng.uniform(0.0, 0.6, n_accounts), 0.8)
    p_venue = np.where(uses_venues, rng.uniform(0.1, 0.4, n_accounts), 0.0)
    p_venue[office] = 0.7
    p_carrier = np.where(mobile, 1.0 - p_home, 0.0)
    scale = p_home + p_carrier + p_venue
    channel_cut = np.stack([p_home / scale, (p_home + p_carrier) / scale], axis=1)

    # rings' infrastructure
    ring_ips: list[np.ndarray] = []
    ring_sizes = np.bincount(ring[is_ring], minlength=n_rings)
    popular_venues = np.argsort(-venue_weights)[:50]
    for r in range(n_rings):
        if KINDS[ring_kind[r]] == "ring_basic":
            subnet = DATACENTER_BASE + (int(rng.integers(0, 1 << 16)) << 8)
            ring_ips.append(subnet + rng.choice(256, int(rng.integers(2, 7)), replace=False))
        elif KINDS[ring_kind[r]] == "ring_vpn":
            chosen = rng.choice(popular_venues, int(rng.integers(3, 7)), replace=False)
            ring_ips.append(venue_ips[chosen])
        else:
            ring_ips.append(np.zeros(0, np.int64))
    channel_cut[is_ring] = 0.0  # ring requests go through their own channels

    # cards: 65% of accounts; households (60%) and offices (40%) share one
    card = np.where(rng.random(n_accounts) < 0.65, np.arange(n_accounts), -1).astype(np.int64)
    shared_home = household & (rng.random(max(households, 1))[np.where(household, group, 0)] < 0.6)
    card[shared_home] = n_accounts + group[shared_home]
    shared_office = office & (rng.random(max(offices, 1))[np.where(office, group, 0)] < 0.4)
    card[shared_office] = n_accounts + households + group[shared_office]
    card[is_ring] = np.arange(n_accounts)[is_ring]
    basic = is_ring & (kind == KINDS.index("ring_basic"))
    ring_cards = n_accounts + households + offices + 1000 * ring[basic]
    card[basic] = ring_cards + rng.integers(0, np.maximum(ring_sizes[ring[basic]] // 4, 1))
    # tokens look random: the same odd-multiplier permutation
    card = np.where(card >= 0, (card * 2_246_822_519 + 7 * seed) % (1 << 40), -1)

    ua_weights = 1.0 / np.arange(1, len(USER_AGENTS) + 1) ** 1.2
    user_agent = rng.choice(len(USER_AGENTS), n_accounts, p=ua_weights / ua_weights.sum())
    user_agent = user_agent.astype(np.int16)
    ring_ua = rng.integers(0, len(USER_AGENTS), max(n_rings, 1))
    user_agent[is_ring] = ring_ua[ring[is_ring]]
    tool_weights = 1.0 / np.arange(1, N_TOOLS + 1)
    tool = rng.choice(N_TOOLS, n_accounts, p=tool_weights / tool_weights.sum()).astype(np.int16)
    tool[(rng.random(n_accounts) >= TOOL_SHARE) | is_ring] = -1

    text_rng = np.random.default_rng([seed, 2])
    tool_prompts = _texts(text_rng, table, text_rng.integers(40, 120, N_TOOLS))
    ring_templates = _texts(text_rng, table, text_rng.integers(15, 41, max(n_rings, 1)))
    ring_pool_size = np.maximum(ring_sizes * 5, 20)

    # shuffle so account numbers say nothing about groups
    order = rng.permutation(n_accounts)
    ids = _padded("acct_", order.astype(np.int64), 8)
    return Population(
        ids=ids,
        kind=kind,
        group=group,
        requests=requests,
        first_seen=first_seen,
        tz=tz,
        home_ip=home_ip,
        home_count=home_count,
        channel_cut=channel_cut,
        carrier=carrier,
        venues=venues,
        n_venues=n_venues,
        card=card,
        user_agent=user_agent,
        tool=tool,
        ring=ring,
        carrier_pools=carrier_pools,
        ring_ips=np.concatenate([*ring_ips, np.zeros(0, np.int64)]).astype(np.int64),
        ring_ip_offsets=np.concatenate([[0], np.cumsum([len(a) for a in ring_ips])]).astype(
            np.int64
        ),
        ring_kind=ring_kind,
        ring_templates=ring_templates,
        ring_pool_size=ring_pool_size,
        tool_prompts=tool_prompts,
        popular_pool=max(n_accounts // 5, len(POPULAR)),
    )


def _diurnal_table() -> np.ndarray:
    """65,536 seconds of the day weighted by a day/night curve (low at 4 am, high at 3 pm)."""
    hours = np.arange(24)
    weights = 1.0 + 0.9 * np.cos((hours - 15) / 24 * 2 * np.pi)
    cumulative = np.cumsum(weights) / weights.sum()
    u = (np.arange(65_536) + 0.5) / 65_536
    hour = np.searchsorted(cumulative, u)
    within = (u - np.concatenate([[0], cumulative])[hour]) / (weights[hour] / weights.sum())
    return (hour * 3600 + within * 3600).astype(np.int64)


def skeleton(pop: Population, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every event's account and time (seconds from START), sorted by time."""
    rng = np.random.default_rng([seed, 3])
    account = np.repeat(np.arange(pop.size, dtype=np.int32), pop.requests)
    start = pop.first_seen[account]
    ts = start + (rng.random(len(account)) * (DAYS * DAY - start)).astype(np.int64)
    tz = pop.tz[account]
    day_time = _diurnal_table()[rng.integers(0, 65_536, len(account), dtype=np.uint16)]
    local = np.where(tz >= 0, (day_time - tz) % DAY, ts % DAY)
    ts = np.clip(ts - ts % DAY + local, start, DAYS * DAY - 1)
    del start, tz, day_time, local
    order = np.argsort(ts, kind="stable")
    return account[order], ts[order]


def _ips(pop: Population, account: np.ndarray, rng: np.random.Generator, seed: int) -> np.ndarray:
    n = len(account)
    u = rng.random(n)
    cut = pop.channel_cut[account]
    slot = pop.home_ip[account] + (rng.random(n) * pop.home_count[account]).astype(np.int64)
    # an odd multiplier permutes the space, so homes never collide
    ips = HOME_BASE + (slot * 2_654_435_761 + seed) % HOME_SPAN
    carrier_ev = (u >= cut[:, 0]) & (u < cut[:, 1])
    c = pop.carrier[account[carrier_ev]]
    pool = pop.carrier_pools[c + 1] - pop.carrier_pools[c]
    # skewed within the pool: some addresses are handed out far more often
    offset = (pool * rng.random(len(c)) ** 2).astype(np.int64)
    ips[carrier_ev] = CARRIER_BASE + pop.carrier_pools[c] + offset
    venue_ev = u >= cut[:, 1]
    v_acc = account[venue_ev]
    pick = (rng.random(len(v_acc)) * pop.n_venues[v_acc]).astype(np.int64)
    ips[venue_ev] = pop.venues[v_acc, pick]

    ring_ev = np.flatnonzero(pop.ring[account] >= 0)
    r = pop.ring[account[ring_ev]]
    proxy = np.array([KINDS[k] == "ring_proxy" for k in pop.ring_kind], bool)[r]
    ips[ring_ev[proxy]] = PROXY_BASE + rng.integers(0, PROXY_SPAN, int(proxy.sum()))
    held = ring_ev[~proxy]
    r = r[~proxy]
    count = pop.ring_ip_offsets[r + 1] - pop.ring_ip_offsets[r]
    pick = pop.ring_ip_offsets[r] + (rng.random(len(r)) * count).astype(np.int64)
    ips[held] = pop.ring_ips[pick]
    return ips


def _prompts(
    pop: Population, account: np.ndarray, rng: np.random.Generator, table: np.ndarray
) -> pa.Array:
    n = len(account)
    ring = pop.ring[account]
    in_ring = ring >= 0
    popular = ~in_ring & (rng.random(n) < POPULAR_SHARE)
    pieces: list[tuple[np.ndarray, pa.Array]] = []

    # popular prompts: Zipf over the pool; the first few are fixed greetings and tests
    positions = np.flatnonzero(popular)
    rank = np.minimum(rng.zipf(1.3, len(positions)) - 1, pop.popular_pool - 1)
    fixed = rank < len(POPULAR)
    texts = pa.concat_arrays(
        [
            pa.array(POPULAR).take(pa.array(rank[fixed])),
            _pool_texts(rank[~fixed], table, 1, 8, 30),
        ]
    )
    pieces.append((np.concatenate([positions[fixed], positions[~fixed]]), texts))

    # ring requests: template, then a repeated or a fresh body
    positions = np.flatnonzero(in_ring)
    r = ring[positions]
    repeat = rng.random(len(positions)) < RING_REPEAT_SHARE
    body_key = r[repeat].astype(np.int64) * 1_000_000 + rng.integers(
        0, pop.ring_pool_size[r[repeat]]
    )
    bodies = pa.concat_arrays(
        [
            _pool_texts(body_key, table, 2, 20, 200),
            _texts(rng, table, _body_lengths(rng, int((~repeat).sum()))),
        ]
    )
    ring_order = np.concatenate([np.flatnonzero(repeat), np.flatnonzero(~repeat)])
    templates = pop.ring_templates.take(pa.array(r[ring_order]))
    pieces.append((positions[ring_order], pc.binary_join_element_wise(templates, bodies, "\n\n")))

    # everyone else: an opener and a fresh body, after their tool's system prompt if any
    positions = np.flatnonzero(~in_ring & ~popular)
    opener = pa.array(OPENERS).take(pa.array(rng.integers(0, len(OPENERS), len(positions))))
    body = _texts(rng, table, _body_lengths(rng, len(positions)))
    texts = pc.binary_join_element_wise(opener, body, " ")
    tool = pop.tool[account[positions]]
    has_tool = tool >= 0
    pieces.append((positions[~has_tool], texts.filter(pa.array(~has_tool))))
    prefix = pop.tool_prompts.take(pa.array(tool[has_tool]))
    with_tool = pc.binary_join_element_wise(prefix, texts.filter(pa.array(has_tool)), "\n\n")
    pieces.append((positions[has_tool], with_tool))

    order = np.empty(n, np.int64)
    order[np.concatenate([p for p, _ in pieces])] = np.arange(n)
    return pa.concat_arrays([t for _, t in pieces]).take(pa.array(order))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread hash of uint64 values."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _pool_texts(keys: np.ndarray, table: np.ndarray, salt: int, low: int, high: int) -> pa.Array:
    """The text of each pooled prompt ``keys[i]``: the same key always gives the same text.

    A text's length and words are hashes of its key and the word's position, so a pool is
    never held whole and a chunk builds each distinct text once.
    """
    unique, inverse = np.unique(keys, return_inverse=True)
    with np.errstate(over="ignore"):
        base = _mix(unique.astype(np.uint64) * np.uint64(1_000_003) + np.uint64(salt))
        lengths = (low + base % np.uint64(high - low + 1)).astype(np.int64)
        offsets = np.zeros(len(unique) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        position = np.arange(offsets[-1], dtype=np.uint64) - np.repeat(
            offsets[:-1].astype(np.uint64), lengths
        )
        draws = _mix(np.repeat(base, lengths) + position) & np.uint64(0xFFFF)
    words = WORD_ARRAY.take(pa.array(table[draws.astype(np.int64)]))
    texts = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), words), " ")
    return texts.take(pa.array(inverse.astype(np.int64)))


def _chunk_table(
    pop: Population, account: np.ndarray, ts: np.ndarray, seed: int, index: int, table: np.ndarray
) -> pa.Table:
    rng = np.random.default_rng([seed, 100 + index])
    card = pop.card[account]
    payment = _padded("pm_", np.maximum(card, 0), 13)
    payment = pc.if_else(pa.array(card < 0), pa.scalar(None, pa.string()), payment)
    return pa.table(
        {
            "account_id": pop.ids.take(pa.array(account)),
            "ts": pa.array((START + ts) * 1_000_000, pa.timestamp("us", tz="UTC")),
            "ip": _ip_strings(_ips(pop, account, rng, seed)),
            "payment_id": payment,
            "prompt": _prompts(pop, account, rng, table),
            "user_agent": pa.array(USER_AGENTS).take(pa.array(pop.user_agent[account])),
        }
    )


def truth_table(pop: Population) -> pa.Table:
    """One row per account: account_id, label, group, kind; sorted by account id."""
    kind_names = np.array(KINDS, dtype=object)[pop.kind]
    label = np.where(pop.kind >= len(LEGIT_KINDS), "sybil", "legit")
    group = kind_names.copy()
    for name, prefix, width in (
        ("household", "household_", 5),
        ("office", "office_", 4),
        ("ring_basic", "ring_", 3),
        ("ring_vpn", "ring_", 3),
        ("ring_proxy", "ring_", 3),
    ):
        mask = kind_names == name
        if mask.any():
            numbers = pop.group[mask].astype(np.int64)
            group[mask] = np.asarray(_padded(prefix, numbers, width).to_pylist(), dtype=object)
    truth = pa.table(
        {"account_id": pop.ids, "label": label, "group": group.astype(str), "kind": kind_names}
    )
    return truth.sort_by("account_id")


def write(n_events: int, seed: int, out: Path) -> dict[str, float]:
    """Write OUT/events.parquet and OUT/truth.csv; returns counts and seconds."""
    import pyarrow.csv as pacsv

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    pop = build_population(n_events, seed)
    pacsv.write_csv(truth_table(pop), out / "truth.csv")
    account, ts = skeleton(pop, seed)
    table = _word_table()
    partial = out / "events.parquet.partial"
    writer: pq.ParquetWriter | None = None
    for index, begin in enumerate(range(0, len(account), CHUNK)):
        chunk = _chunk_table(
            pop, account[begin : begin + CHUNK], ts[begin : begin + CHUNK], seed, index, table
        )
        if writer is None:
            writer = pq.ParquetWriter(partial, chunk.schema, compression="zstd")
        writer.write_table(chunk, row_group_size=CHUNK)
    assert writer is not None
    writer.close()
    partial.replace(out / "events.parquet")
    return {
        "events": len(account),
        "accounts": pop.size,
        "ring_accounts": int((pop.ring >= 0).sum()),
        "rings": len(pop.ring_kind),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_500_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.events < 1000:
        parser.error("--events must be at least 1000")
    print(write(args.events, args.seed, args.out))


if __name__ == "__main__":
    main()
