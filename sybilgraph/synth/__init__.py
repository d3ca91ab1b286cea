"""Synthetic AI-API traffic with planted sybil rings and their ground truth.

The generator builds a population of accounts (legitimate users in households, offices,
classrooms, behind carrier NAT and VPN exits, on rotating IPv6 addresses; and sybil rings
of four kinds; with ``coordination``, also dataset operators behind instruction wrappers,
rings camouflaged among VPN users, and users of shared tools and of the common SDK), then
draws their requests block by block over the time span. Each block covers a fixed slice of
time and has its own random stream, so the events come out in time order, can be streamed
to disk without holding them all, and do not depend on the chunk size the caller asks for.

Address space used (so that detector authors can recognise shared infrastructure):

- residential IPv4: random addresses in the first octets of :data:`RESIDENTIAL_OCTETS`
- datacenter IPv4 (rings, some office servers): the /16 blocks in :data:`CLOUD_BLOCKS`
- mobile carrier NAT: ``100.64.0.0/10`` (:data:`CARRIER_RANGE`), one /12 per carrier
- VPN exits: the /24 blocks in :data:`VPN_BLOCKS`, one per provider
- IPv6: /64 prefixes under the ISP /32s in :data:`IPV6_ISPS`

The modules follow the generator: ``config`` (what to make), ``build`` (the population,
drawn group by group into a ``draft`` by ``legit``, ``clients``, ``rings`` and
``operators``), ``events`` and ``prompts`` (each block's requests), ``truth``, and
``output`` (data frames and files). Their words and texts are in ``vocabulary``,
``texts``, ``tasks`` and ``wrappers``, rendered by ``templates``.
"""

from __future__ import annotations

from sybilgraph.synth.addresses import (
    CARRIER_RANGE,
    CLOUD_BLOCKS,
    IPV6_ISPS,
    RESIDENTIAL_OCTETS,
    VPN_BLOCKS,
)
from sybilgraph.synth.config import (
    COORDINATION_KINDS,
    EVENT_COLUMNS,
    LEGIT_KINDS,
    SYBIL_KINDS,
    TRUTH_COLUMNS,
    SynthConfig,
)
from sybilgraph.synth.output import generate, iter_generate, write

__all__ = [
    "CARRIER_RANGE",
    "CLOUD_BLOCKS",
    "COORDINATION_KINDS",
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
