"""Legitimate users of shared clients: a popular tool, niche tools, and the common SDK.

Thousands of strangers send the same long system prompt and the same user agent because
they run the same open-source tool, and more send the common SDK's user agent: what
looks like one operator's wrapper or one script is, here, innocent. Everything else about
these users is ordinary: their own addresses, cards, time zones and volumes, daytime
activity, and bodies that are their own everyday prompts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sybilgraph.synth.activity import HOME, OFFICE
from sybilgraph.synth.arrays import draw
from sybilgraph.synth.draft import Draft
from sybilgraph.synth.legit import add_legit, solo_channels
from sybilgraph.synth.wrappers import TOOLS, Tool, make_tool

#: shares of the legitimate accounts: the popular tool's users and the SDK's users
POPULAR_SHARE, SDK_SHARE = 0.05, 0.08
N_NICHE_TOOLS = 3


def add_clients(draft: Draft, n_legit: float) -> None:
    """Users of the popular tool (5% of the legitimate accounts), of three niche tools (20
    to 60 users each) and of the common SDK (8%)."""
    rng = draft.rng
    popular = make_tool(rng, 0)
    _add_tool_users(draft, popular, "tool_user_popular", max(30, int(POPULAR_SHARE * n_legit)))
    for which in rng.choice(np.arange(1, len(TOOLS)), N_NICHE_TOOLS, replace=False):
        niche = make_tool(rng, int(which))
        _add_tool_users(draft, niche, "tool_user_niche", int(rng.integers(20, 61)))
    _add_sdk_users(draft, max(20, int(SDK_SHARE * n_legit)))


def _add_tool_users(draft: Draft, tool: Tool, kind: str, n: int) -> None:
    """Every request goes through the tool; some users update it during the week."""
    rng = draft.rng
    group = len(draft.tools)
    draft.tools.append(f"tool_{tool.name}")
    first_ua = draft.add_user_agents(pa.array(tool.user_agents, pa.string()))
    version = first_ua + rng.integers(len(tool.user_agents), size=n)
    p_popular = rng.uniform(0.0, 0.05, n)
    _add_ordinary(
        draft,
        kind,
        n,
        group=group,
        ua1=version,
        ua2=first_ua + len(tool.user_agents) - 1,
        ua2_p=np.where(rng.random(n) < 0.2, 0.5, 0.0),
        p_pop=p_popular,
        p_wrap=1.0 - p_popular,
        wrap_start=draft.add_wrappers([(tool.head, "")]),
        wrap_count=1,
        wrap_task=False,
    )


def _add_sdk_users(draft: Draft, n: int) -> None:
    """Everyday prompts, sent through the SDK's releases (most on the newest)."""
    rng = draft.rng
    first_ua, cumulative = draft.sdk_user_agents()
    _add_ordinary(
        draft,
        "sdk_user",
        n,
        group=-1,
        ua1=first_ua + draw(rng, cumulative, n),
        ua2=first_ua + len(cumulative) - 1,
        ua2_p=np.where(rng.random(n) < 0.2, 0.5, 0.0),
    )


def _add_ordinary(draft: Draft, kind: str, n: int, *, group: int, **extra: object) -> None:
    """People on their own at home or at work, in their own time zones."""
    rng = draft.rng
    home = draft.homes(n)
    chans = solo_channels(draft, n, home, draft.carrier_channel(n))
    add_legit(
        draft,
        kind,
        n,
        group=group,
        volume=rng.lognormal(0, 1, n),
        profile=np.where(rng.random(n) < 0.5, OFFICE, HOME),
        tzs=draft.time_zones(n),
        anchor=draft.maybe_new(n, 0.08),
        pay=draft.own_cards(n, 0.6),
        chans=chans,
        **extra,
    )
