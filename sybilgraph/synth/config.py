"""What to generate, and the names of the columns and account kinds it comes out with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sybilgraph.config import TS_MAX, TS_MIN
from sybilgraph.errors import ConfigError

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
    "tool_user_popular",
    "tool_user_niche",
    "sdk_user",
)
SYBIL_KINDS = (
    "ring_basic",
    "ring_prompt_only",
    "ring_typo",
    "ring_vpn",
    "ring_vpn_camouflage",
    "ring_wrapped",
)
#: the kinds only ``SynthConfig.coordination`` makes
COORDINATION_KINDS = (
    "tool_user_popular",
    "tool_user_niche",
    "sdk_user",
    "ring_vpn_camouflage",
    "ring_wrapped",
)


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
    coordination
        Add the kinds of :data:`COORDINATION_KINDS`: operators that send a large, diverse
        task set through a few instruction wrappers of their own from rotating
        residential proxies in shifts (``ring_wrapped``), rings hidden among ordinary
        VPN users and sending everyday prompts half the time (``ring_vpn_camouflage``),
        and the innocent look-alikes: users of a popular tool and of niche tools, each
        tool wrapping every prompt in its own system prompt (``tool_user_popular``,
        ``tool_user_niche``, grouped by tool), and users of the common SDK
        (``sdk_user``). They take part of the sybil and legitimate accounts; without
        them the data are those of earlier versions, byte for byte.
    """

    n_events: int = 200_000
    seed: int = 0
    start: str = "2026-04-13"
    days: int = 7
    sybil_event_share: float = 0.3
    events_per_account: float = 25
    hard_cases: bool = True
    coordination: bool = False


#: the most days a log may span: ten years of traffic
MAX_DAYS = 3660


def check_config(config: SynthConfig) -> None:
    """Raise :class:`~sybilgraph.errors.ConfigError` on settings nothing can be made of."""
    if config.n_events < 1_000:
        raise ConfigError(
            f"the number of events (--events, n_events) must be at least 1000, "
            f"not {config.n_events}"
        )
    if not 1 <= config.days <= MAX_DAYS:
        # the schedules are laid out day by day: 100,000 days took minutes to make
        # nothing a traffic log holds
        raise ConfigError(f"days must be between 1 and {MAX_DAYS}, not {config.days}")
    if not 0 <= config.sybil_event_share < 0.9:
        raise ConfigError("sybil_event_share must be in [0, 0.9)")
    if config.events_per_account < 2:
        raise ConfigError("events_per_account must be at least 2")
    try:
        start = np.datetime64(config.start, "D")
    except ValueError:
        raise ConfigError(f"start must be a date like 2026-04-13, not {config.start!r}") from None
    # every time written must be read back by detect, which takes times from TS_MIN to
    # TS_MAX (a log of 1975 wrote 1,036 rows that were all rejected)
    first, last = np.datetime64(TS_MIN, "D"), np.datetime64(TS_MAX, "D")
    if not first <= start <= last - np.timedelta64(config.days, "D"):
        raise ConfigError(
            f"start {config.start!r} and {config.days} days must lie within {TS_MIN} to "
            f"{TS_MAX}, the times detect reads"
        )
