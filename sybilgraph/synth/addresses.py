"""The address space: residential, datacenter, carrier NAT, VPN and IPv6 ranges."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sybilgraph.synth.arrays import join, take

RESIDENTIAL_OCTETS = (
    2, 5, 24, 31, 37, 46, 47, 49, 50, 58, 59, 60, 61, 62, 64, 65, 67, 68, 69, 70, 71, 72,
    73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 90, 91, 92, 93, 94, 95,
    96, 97, 98, 99, 101, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120,
    121, 122, 123, 124, 125, 173, 174, 175, 176, 177, 180, 181, 182, 183, 186, 187, 189,
    190, 191, 201, 203, 210, 211, 213, 217, 218, 219, 220, 221, 222,
)  # fmt: skip
CLOUD_BLOCKS = (
    "3.101", "3.120", "13.48", "13.57", "18.130", "18.191", "18.222", "20.42", "20.106",
    "34.82", "34.125", "34.139", "35.188", "35.199", "35.230", "44.202", "52.14", "52.53",
    "52.91", "54.84", "54.172", "54.201", "104.131", "104.248", "137.184", "138.68",
    "138.197", "139.59", "142.93", "143.110", "143.198", "146.190", "157.245", "159.65",
    "159.89", "161.35", "164.90", "165.22", "167.71", "167.99",
)  # fmt: skip
CARRIER_RANGE = "100.64.0.0/10"
VPN_BLOCKS = ("185.159.157", "185.107.56", "193.148.18", "194.5.53", "209.58.188")
IPV6_ISPS = (
    "2a02:8108", "2a01:c22", "2600:1700", "2601:646", "2804:14c", "2003:e6", "2a00:23c7",
    "240e:3b0", "2406:3003", "2a0e:1c80",
)  # fmt: skip

_OCTET_STR = pa.array([str(i) for i in range(256)])
HEX16_STRINGS = pa.array([f"{i:x}" for i in range(65536)])


def ipv4_strings(addresses: np.ndarray) -> pa.Array:
    """Dotted quads of 32-bit addresses."""
    addresses = addresses.astype(np.uint32)
    octets = [take(_OCTET_STR, (addresses >> s) & 0xFF) for s in (24, 16, 8, 0)]
    return join([octets[0], ".", octets[1], ".", octets[2], ".", octets[3]])


def residential(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random residential addresses, none ending in ``.0``."""
    first = np.asarray(RESIDENTIAL_OCTETS, np.uint32)[rng.integers(len(RESIDENTIAL_OCTETS), size=n)]
    rest = rng.integers(1, 1 << 24, size=n, dtype=np.uint32)
    rest = np.where((rest & 0xFF) == 0, rest | 1, rest)
    return (first << 24) | rest


def in_blocks(rng: np.random.Generator, prefixes: list[str], n: int) -> np.ndarray:
    """``n`` distinct-ish addresses inside the given dotted prefixes (``a.b`` or ``a.b.c``)."""
    base = []
    for prefix in prefixes:
        parts = [int(x) for x in prefix.split(".")]
        value = 0
        for part in parts:
            value = (value << 8) | part
        base.append((value << (8 * (4 - len(parts))), 8 * (4 - len(parts))))
    which = rng.integers(len(base), size=n)
    starts = np.array([b for b, _ in base], np.uint64)[which]
    spans = np.array([1 << bits for _, bits in base], np.uint64)[which]
    offset = (rng.random(n) * (spans - 2).astype(np.float64)).astype(np.uint64) + 1
    return (starts + offset).astype(np.uint32)
