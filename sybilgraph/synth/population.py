"""The finished population: everything per account that the event blocks draw from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from sybilgraph.synth.templates import Templates

# How an IP channel picks an address: always the same one, one of a pool, a fresh
# residential address each time, or a rotating interface id under a /64 prefix
FIXED, POOL, FRESH, V6 = range(4)


@dataclass
class Population:
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
    channel_mode: np.ndarray  # (A, 3) FIXED, POOL, FRESH or V6
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
    p_wrap: np.ndarray  # share of requests wrapped in one of the account's wrappers
    wrap_start: np.ndarray  # first of the account's wrappers
    wrap_count: np.ndarray
    wrap_task: np.ndarray  # a wrapped body is a task (operators) or an everyday prompt
    wrap_heads: pa.Array
    wrap_tails: pa.Array
    span_s: int
    block_s: int
    day_prefix: pa.Array
