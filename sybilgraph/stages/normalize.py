"""normalize: IP address strings become canonical addresses and link keys.

Engines call :func:`normalize_ips` on the DISTINCT raw addresses of a run, fetched as an
Arrow array, so each address is parsed once. Plain dotted IPv4 (the bulk of real traffic)
is validated and split with Arrow's RE2 kernels and numpy; everything else (IPv6,
IPv4-mapped IPv6, brackets, zone ids, garbage) goes through :mod:`ipaddress`, one distinct
value at a time.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.errors import ConfigError

__all__ = ["NOT_AN_ADDRESS", "in_cidrs", "normalize_ips"]

#: an octet without leading zeros, 0-255; ipaddress refuses "001" and so do we
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN_IPV4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"
_IPV4_NETWORK = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}/(?:3[0-2]|[12]?[0-9])$"
_REASON_WIDTH = 40
#: why a value is not an address: the start of every reason an address is refused for
NOT_AN_ADDRESS = "not an IPv4 or IPv6 address"

_IpArray: TypeAlias = pa.Array | pa.ChunkedArray | Sequence[str | None]


def normalize_ips(raw: _IpArray, *, ipv6_prefix: int = 64, ipv4_prefix: int = 24) -> pa.Table:
    """Parse IP address strings into canonical addresses and link keys.

    Parameters
    ----------
    raw
        Address strings (Arrow string array, chunked array, or a sequence of str/None).
    ipv6_prefix
        IPv6 addresses link on their network of this many bits (``ip_key``).
    ipv4_prefix
        IPv4 addresses also get their network of this many bits (``subnet``).

    Returns
    -------
    pyarrow.Table
        One row per input element, in input order, with columns ``ip`` (canonical
        address), ``version`` (4, 6), ``ip_key`` (IPv4: the address; IPv6: its
        ``/ipv6_prefix`` network), ``subnet`` (IPv4 only: its ``/ipv4_prefix`` network)
        and ``reason`` (why the value is not an address).

    Notes
    -----
    Surrounding whitespace is stripped, ``[...]`` brackets and ``%zone`` suffixes of IPv6
    are dropped, IPv4-mapped IPv6 (``::ffff:1.2.3.4``) folds to its IPv4 address. Octets
    with leading zeros (``001.2.3.4``) are refused, as :mod:`ipaddress` refuses them,
    because their meaning (octal or decimal) is ambiguous. Null, empty and blank values
    are missing, not errors: all their columns are null.
    """
    _check_prefix(ipv4_prefix, 32, "ipv4_prefix")
    _check_prefix(ipv6_prefix, 128, "ipv6_prefix")
    text = pc.utf8_trim_whitespace(_as_string_array(raw))
    n = len(text)
    present = pc.fill_null(pc.greater(pc.binary_length(text), 0), False)
    plain = pc.fill_null(pc.match_substring_regex(text, _PLAIN_IPV4), False)
    plain_np = plain.to_numpy(zero_copy_only=False)
    other_np = present.to_numpy(zero_copy_only=False) & ~plain_np

    ip = pc.if_else(plain, text, pa.nulls(n, pa.string()))
    version = pc.if_else(plain, pa.scalar(4, pa.int8()), pa.nulls(n, pa.int8()))
    subnet = pa.nulls(n, pa.string())
    if plain_np.any():
        plain_text = text.filter(plain)
        subnet = _scatter(subnet, plain_np, _ipv4_networks(plain_text, ipv4_prefix))
    ip_key = ip
    reason = pa.nulls(n, pa.string())

    if other_np.any():
        other_text = _unwrap_ipv6(text.filter(pa.array(other_np)))
        hex_only = pc.fill_null(pc.match_substring_regex(other_text, _HEX_GROUPS), False)
        hex_only_np = hex_only.to_numpy(zero_copy_only=False)
        slow = np.ones(len(other_text), dtype=bool)
        if hex_only_np.any():
            taken, columns = _ipv6_fast(other_text.filter(hex_only), ipv6_prefix)
            fast = np.zeros(len(other_text), dtype=bool)
            fast[np.flatnonzero(hex_only_np)[taken]] = True
            slow &= ~fast
            fast_full = np.zeros(n, dtype=bool)
            fast_full[np.flatnonzero(other_np)[fast]] = True
            ip = _scatter(ip, fast_full, columns["ip"])
            ip_key = _scatter(ip_key, fast_full, columns["ip_key"])
            version = _scatter(
                version, fast_full, pa.array(np.full(int(fast.sum()), 6, dtype=np.int8))
            )
        if slow.any():
            slow_full = np.zeros(n, dtype=bool)
            slow_full[np.flatnonzero(other_np)[slow]] = True
            parsed = _parse_slow(
                text.filter(pa.array(slow_full)).to_pylist(), ipv6_prefix, ipv4_prefix
            )
            ip = _scatter(ip, slow_full, pa.array(parsed[0], pa.string()))
            version = _scatter(version, slow_full, pa.array(parsed[1], pa.int8()))
            ip_key = _scatter(ip_key, slow_full, pa.array(parsed[2], pa.string()))
            subnet = _scatter(subnet, slow_full, pa.array(parsed[3], pa.string()))
            reason = _scatter(reason, slow_full, pa.array(parsed[4], pa.string()))
    return pa.table(
        {"ip": ip, "version": version, "ip_key": ip_key, "subnet": subnet, "reason": reason}
    )


def in_cidrs(ip_key_or_ip: pa.Array | pa.ChunkedArray, cidrs: Sequence[str]) -> np.ndarray:
    """Which addresses (or networks) fall inside any of the CIDR ranges.

    Parameters
    ----------
    ip_key_or_ip
        Canonical addresses or networks as :func:`normalize_ips` writes them (``ip``,
        ``ip_key`` or ``subnet``).
    cidrs
        CIDR ranges such as ``"100.64.0.0/10"`` or ``"2001:db8::/32"``; a bare address is
        a range of one.

    Returns
    -------
    numpy.ndarray
        Boolean mask, one element per input. A network (``2001:db8:1:2::/64``) counts as
        inside when it overlaps a range: a /64 key holding a listed address is shared
        infrastructure. Null and unparsable values are never inside.

    Raises
    ------
    ConfigError
        A CIDR in ``cidrs`` is not a valid network.
    """
    ranges_v4, ranges_v6 = _merged_ranges(cidrs)
    text = _as_string_array(ip_key_or_ip)
    inside = np.zeros(len(text), dtype=bool)
    if not ranges_v4 and not ranges_v6:
        return inside
    plain = pc.fill_null(pc.match_substring_regex(text, _PLAIN_IPV4), False)
    network = pc.fill_null(pc.match_substring_regex(text, _IPV4_NETWORK), False)
    plain_np = plain.to_numpy(zero_copy_only=False)
    network_np = network.to_numpy(zero_copy_only=False)
    if ranges_v4:
        starts = np.array([lo for lo, _ in ranges_v4], dtype=np.int64)
        ends = np.array([hi for _, hi in ranges_v4], dtype=np.int64)
        if plain_np.any():
            values = _ipv4_ints(text.filter(plain))
            inside[plain_np] = _overlaps(values, values, starts, ends)
        if network_np.any():
            lows, highs = _ipv4_network_bounds(text.filter(network))
            inside[network_np] = _overlaps(lows, highs, starts, ends)
    plain_np = plain_np | network_np
    valid = pc.fill_null(pc.greater(pc.binary_length(text), 0), False)
    other = valid.to_numpy(zero_copy_only=False) & ~plain_np
    if other.any():
        tables = {4: _split_ranges(ranges_v4), 6: _split_ranges(ranges_v6)}
        positions = np.flatnonzero(other)
        for position, value in zip(
            positions, text.filter(pa.array(other)).to_pylist(), strict=True
        ):
            inside[position] = _network_inside(value, tables)
    return inside


def _as_string_array(raw: _IpArray) -> pa.Array:
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks() if raw.num_chunks else pa.array([], pa.string())
    if not isinstance(raw, pa.Array):
        raw = pa.array(list(raw), pa.string())
    if pa.types.is_dictionary(raw.type):
        raw = raw.dictionary_decode()
    if pa.types.is_null(raw.type):
        return pa.nulls(len(raw), pa.string())
    if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)):
        raise TypeError(f"IP addresses must be strings, not {raw.type}")
    return raw


def _check_prefix(prefix: int, bits: int, name: str) -> None:
    if not 0 <= prefix <= bits:
        raise ConfigError(f"{name} must be between 0 and {bits}, not {prefix}")


def _scatter(base: pa.Array, mask: np.ndarray, values: pa.Array) -> pa.Array:
    """``base`` with the positions where ``mask`` is true replaced by ``values``, in order."""
    return pc.replace_with_mask(base, pa.array(mask), values.cast(base.type))


def _ipv4_octets(text: pa.Array) -> np.ndarray:
    """The (n, 4) octets of strings already known to be plain dotted IPv4."""
    parts = pc.list_flatten(pc.split_pattern(text, "."))
    octets = pc.cast(parts, pa.uint32()).to_numpy(zero_copy_only=False)
    return np.asarray(octets, dtype=np.int64).reshape(-1, 4)


def _ipv4_ints(text: pa.Array) -> np.ndarray:
    octets = _ipv4_octets(text)
    return (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]


def _ipv4_network_bounds(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """First and last address of ``a.b.c.d/p`` strings already known to be well formed."""
    parts = pc.split_pattern(text, "/")
    address = pc.list_element(parts, 0)
    prefix = pc.cast(pc.list_element(parts, 1), pa.int64()).to_numpy(zero_copy_only=False)
    size = np.left_shift(np.int64(1), 32 - prefix)
    lows = _ipv4_ints(address) & ~(size - 1)
    return lows, lows + size - 1


def _ipv4_networks(text: pa.Array, prefix: int) -> pa.Array:
    """``a.b.c.0/prefix`` for each plain dotted IPv4 string, vectorised."""
    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    network = _ipv4_ints(text) & mask
    return _dotted(network, suffix=f"/{prefix}")


def _dotted(values: np.ndarray, suffix: str = "") -> pa.Array:
    """Dotted-decimal strings of 32-bit integers, through a table of the 256 octets."""
    octets = [str(i) for i in range(256)]
    table = pa.array(octets)
    parts = [pc.take(table, pa.array((values >> shift) & 0xFF)) for shift in (24, 16, 8)]
    last_table = pa.array([octet + suffix for octet in octets])
    parts.append(pc.take(last_table, pa.array(values & 0xFF)))
    return pc.binary_join_element_wise(*parts, ".")


_HEX_GROUPS = r"^[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){1,7}$"


def _ipv6_groups(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The (n, 8) 16-bit groups of hex-only IPv6 strings, and which strings were valid.

    ``text`` must match ``_HEX_GROUPS``; the rules RE2 cannot say (one ``::`` at most,
    eight groups without it, fewer with it) are checked here.
    """
    n = len(text)
    double_colons = pc.count_substring(text, "::").to_numpy(zero_copy_only=False)
    valid = double_colons <= 1
    halves = pc.split_pattern(text, "::", max_splits=1)
    head = pc.list_element(halves, 0)
    tail_lists = pc.list_slice(halves, 1, 2)
    has_tail = pc.greater(pc.list_value_length(tail_lists), 0)
    tail = pc.replace_with_mask(
        pa.repeat(pa.scalar("", text.type), n),
        has_tail,
        pc.list_flatten(tail_lists),
    )
    groups = np.zeros((n, 8), dtype=np.int64)
    counts = []
    for part, from_end in ((head, False), (tail, True)):
        pieces = pc.split_pattern(part, ":")
        empty_part = pc.equal(pc.binary_length(part), 0).to_numpy(zero_copy_only=False)
        count = np.where(empty_part, 0, pc.list_value_length(pieces).to_numpy(zero_copy_only=False))
        counts.append(count)
        flat = pc.list_flatten(pieces)
        lengths = pc.binary_length(flat).to_numpy(zero_copy_only=False)
        owner = pc.list_parent_indices(pieces).to_numpy(zero_copy_only=False)
        keep = ~empty_part[owner]
        bad = keep & (lengths == 0)
        valid &= np.bincount(owner[bad], minlength=n) == 0
        values = _hex_values(pc.utf8_lpad(flat.filter(pa.array(keep)), 4, "0"))
        owner = owner[keep]
        rank = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
        column = rank + (8 - count[owner] if from_end else 0)
        inside = (column >= 0) & (column < 8)
        groups[owner[inside], column[inside]] = values[inside]
    total = counts[0] + counts[1]
    valid &= np.where(double_colons > 0, total <= 7, total == 8)
    return groups, valid


def _hex_values(fixed: pa.Array) -> np.ndarray:
    """Integer values of strings of exactly four hex digits (already validated)."""
    offsets = np.frombuffer(fixed.buffers()[1], dtype=np.int32)[fixed.offset :]
    start = int(offsets[0]) if len(fixed) else 0
    data = np.frombuffer(fixed.buffers()[2], dtype=np.uint8)[start : start + 4 * len(fixed)]
    letters = data > ord("9")
    nibbles = np.where(letters, (data | 0x20) - (ord("a") - 10), data - ord("0"))
    nibbles = nibbles.astype(np.int64).reshape(-1, 4)
    return (nibbles[:, 0] << 12) | (nibbles[:, 1] << 8) | (nibbles[:, 2] << 4) | nibbles[:, 3]


def _ipv6_text(groups: np.ndarray, suffix: str = "") -> pa.Array:
    """RFC 5952 text of (n, 8) groups: lowercase, the longest run of >= 2 zeros as ``::``."""
    n = len(groups)
    zero = groups == 0
    run = np.zeros((n, 9), dtype=np.int64)
    for column in range(7, -1, -1):
        run[:, column] = np.where(zero[:, column], run[:, column + 1] + 1, 0)
    best = np.argmax(run[:, :8], axis=1)
    best_len = run[np.arange(n), best]
    compress = best_len >= 2
    position = np.arange(8)
    in_run = (
        compress[:, None] & (position >= best[:, None]) & (position < (best + best_len)[:, None])
    )
    empty_code = 65536
    codes = np.full((n, 10), empty_code, dtype=np.int64)
    codes[:, 1:9] = np.where(in_run, empty_code, groups)
    keep = np.ones((n, 10), dtype=bool)
    keep[:, 1:9] = ~in_run | (position == best[:, None])
    keep[:, 0] = compress & (best == 0)
    keep[:, 9] = compress & (best + best_len == 8)
    flat_codes = codes[keep]
    offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
    values = pc.take(_hex_table(), pa.array(flat_codes))
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), ":")
    if suffix:
        joined = pc.binary_join_element_wise(joined, pa.scalar(suffix), "")
    return joined


_HEX_TABLE: list[pa.Array] = []


def _hex_table() -> pa.Array:
    if not _HEX_TABLE:
        _HEX_TABLE.append(pa.array([format(i, "x") for i in range(65536)] + [""]))
    return _HEX_TABLE[0]


def _ipv6_fast(text: pa.Array, ipv6_prefix: int) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """Vectorised parse of hex-only IPv6; returns which were taken and their columns.

    IPv4-mapped addresses and anything irregular are left to :mod:`ipaddress`.
    """
    groups, valid = _ipv6_groups(text)
    mapped = (groups[:, :5] == 0).all(axis=1) & (groups[:, 5] == 0xFFFF)
    taken = valid & ~mapped
    groups = groups[taken]
    bits = np.clip(ipv6_prefix - 16 * np.arange(8), 0, 16)
    group_masks = (0xFFFF << (16 - bits)) & 0xFFFF
    columns = {
        "ip": _ipv6_text(groups),
        "ip_key": _ipv6_text(groups & group_masks, suffix=f"/{ipv6_prefix}"),
    }
    return taken, columns


def _unwrap_ipv6(text: pa.Array) -> pa.Array:
    """Drop ``[...]`` brackets and the ``%zone`` of IPv6 text, vectorised."""
    wrapped = pc.fill_null(pc.match_substring_regex(text, r"^\[|%"), False)
    if not pc.any(wrapped).as_py():
        return text
    unwrapped = pc.replace_substring_regex(text.filter(wrapped), r"^\[(.*)\]$", r"\1")
    unwrapped = pc.utf8_trim_whitespace(unwrapped)
    unwrapped = pc.replace_substring_regex(unwrapped, r"^([^%]*:[^%]*)%.*$", r"\1")
    return pc.replace_with_mask(text, wrapped, unwrapped)


def _reason(value: str) -> str:
    shown = value if len(value) <= _REASON_WIDTH else value[:_REASON_WIDTH] + "…"
    return f"{NOT_AN_ADDRESS}: {shown!r}"


def _parse_one(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1].strip()
    try:
        if ":" in value:
            address = ipaddress.IPv6Address(value.split("%", 1)[0])
            return address.ipv4_mapped or address
        return ipaddress.IPv4Address(value)
    except ValueError:
        return None


def _parse_slow(
    values: list[str], ipv6_prefix: int, ipv4_prefix: int
) -> tuple[
    list[str | None], list[int | None], list[str | None], list[str | None], list[str | None]
]:
    """ipaddress on each value the fast path could not take."""
    ips: list[str | None] = []
    versions: list[int | None] = []
    keys: list[str | None] = []
    subnets: list[str | None] = []
    reasons: list[str | None] = []
    v6_mask = ((1 << ipv6_prefix) - 1) << (128 - ipv6_prefix)
    v4_mask = ((1 << ipv4_prefix) - 1) << (32 - ipv4_prefix)
    for value in values:
        address = _parse_one(value)
        if address is None:
            ips.append(None)
            versions.append(None)
            keys.append(None)
            subnets.append(None)
            reasons.append(_reason(value))
            continue
        text = str(address)
        ips.append(text)
        versions.append(address.version)
        reasons.append(None)
        if address.version == 4:
            keys.append(text)
            network = ipaddress.IPv4Address(int(address) & v4_mask)
            subnets.append(f"{network}/{ipv4_prefix}")
        else:
            network6 = ipaddress.IPv6Address(int(address) & v6_mask)
            keys.append(f"{network6}/{ipv6_prefix}")
            subnets.append(None)
    return ips, versions, keys, subnets, reasons


def _merged_ranges(
    cidrs: Sequence[str],
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The CIDRs as merged, sorted, disjoint integer ranges per IP version."""
    if isinstance(cidrs, str):
        cidrs = [cidrs]
    by_version: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(str(cidr).strip(), strict=False)
        except ValueError:
            raise ConfigError(f"not a valid CIDR range: {cidr!r}") from None
        by_version[network.version].append(
            (int(network.network_address), int(network.broadcast_address))
        )
    return _merge(by_version[4]), _merge(by_version[6])


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _split_ranges(ranges: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    return [lo for lo, _ in ranges], [hi for _, hi in ranges]


def _overlaps(
    lows: np.ndarray, highs: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Whether each [low, high] overlaps one of the disjoint sorted ranges."""
    candidate = np.searchsorted(starts, highs, side="right") - 1
    found = candidate >= 0
    result = np.zeros(len(lows), dtype=bool)
    result[found] = ends[candidate[found]] >= lows[found]
    return result


def _network_inside(value: str, tables: dict[int, tuple[list[int], list[int]]]) -> bool:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        address = _parse_one(value)
        if address is None:
            return False
        network = ipaddress.ip_network(address)
    starts, ends = tables[network.version]
    low, high = int(network.network_address), int(network.broadcast_address)
    candidate = bisect.bisect_right(starts, high) - 1
    return candidate >= 0 and ends[candidate] >= low
