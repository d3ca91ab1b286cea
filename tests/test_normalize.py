"""normalize: IP strings to canonical addresses and link keys, checked against ipaddress."""

from __future__ import annotations

import ipaddress

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.errors import ConfigError
from sybilgraph.stages.normalize import in_cidrs, normalize_ips


def _row(value: str | None, **kwargs: int) -> dict[str, object]:
    return normalize_ips([value], **kwargs).to_pylist()[0]


def _reference(value: str | None) -> str | None:
    """The canonical address ipaddress gives, after the clean-ups normalize_ips promises."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    try:
        if ":" in text:
            address = ipaddress.IPv6Address(text.split("%", 1)[0])
            return str(address.ipv4_mapped or address)
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


# --- properties ------------------------------------------------------------------------------

_spaces = st.sampled_from(["", " ", "  ", "\t", " \n"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20), _spaces, _spaces)
def test_any_ipv4_is_canonical_with_its_subnet(values: list[int], before: str, after: str) -> None:
    texts = [before + str(ipaddress.IPv4Address(v)) + after for v in values]
    table = normalize_ips(texts).to_pydict()
    expected = [str(ipaddress.IPv4Address(v)) for v in values]
    assert table["ip"] == expected
    assert table["ip_key"] == expected
    assert table["version"] == [4] * len(values)
    assert table["subnet"] == [str(ipaddress.ip_network(f"{e}/24", strict=False)) for e in expected]
    assert table["reason"] == [None] * len(values)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**128 - 1),
    st.sampled_from(["compressed", "exploded", "upper", "bracketed", "zone"]),
    st.sampled_from([48, 56, 64]),
)
def test_any_ipv6_gives_ipaddress_text_and_network(value: int, form: str, prefix: int) -> None:
    address = ipaddress.IPv6Address(value)
    text = {
        "compressed": str(address),
        "exploded": address.exploded,
        "upper": address.exploded.upper(),
        "bracketed": f"[{address}]",
        "zone": f"{address}%eth0",
    }[form]
    row = _row(text, ipv6_prefix=prefix)
    if address.ipv4_mapped is not None:
        assert row["ip"] == str(address.ipv4_mapped)
        return
    assert row["ip"] == str(address)
    assert row["version"] == 6
    assert row["ip_key"] == str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    assert row["subnet"] is None
    assert row["reason"] is None


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["::ffff:{}", "::FFFF:{}", "[::ffff:{}]"]))
def test_ipv4_mapped_ipv6_folds_to_ipv4(value: int, form: str) -> None:
    ipv4 = str(ipaddress.IPv4Address(value))
    row = _row(form.format(ipv4))
    assert (row["ip"], row["version"], row["ip_key"]) == (ipv4, 4, ipv4)
    hex_form = _row(f"::ffff:{value >> 16:x}:{value & 0xFFFF:x}")
    assert hex_form["ip"] == ipv4


_ip_alphabet = st.sampled_from([*"0123456789abcdefABCDEF:.%[] x/", "::", "ffff", "255"])
_ip_like = st.lists(_ip_alphabet, max_size=14).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), _ip_like, st.text(max_size=30)), max_size=60))
def test_arbitrary_text_never_raises_and_agrees_with_ipaddress(values: list[str | None]) -> None:
    table = normalize_ips(values).to_pydict()
    assert len(table["ip"]) == len(values)
    for value, ip, reason in zip(values, table["ip"], table["reason"], strict=True):
        blank = value is None or value.strip() == ""
        if ip is not None:
            assert reason is None
        elif not blank:
            assert reason is not None and reason.startswith("not an IPv4 or IPv6 address")
        if value is not None and all(c.isascii() for c in value):
            assert ip == _reference(value), value


def test_order_and_length_are_kept_across_fast_and_slow_paths() -> None:
    values = ["1.2.3.4", "::1", "bad", None, "10.0.0.1", "[2001:db8::1]", "", "::ffff:8.8.8.8"]
    table = normalize_ips(pa.array(values * 50)).to_pydict()
    expected = ["1.2.3.4", "::1", None, None, "10.0.0.1", "2001:db8::1", None, "8.8.8.8"] * 50
    assert table["ip"] == expected


# --- fixed cases -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ip", "version", "ip_key", "subnet"),
    [
        (" 1.2.3.4 ", "1.2.3.4", 4, "1.2.3.4", "1.2.3.0/24"),
        ("0.0.0.0", "0.0.0.0", 4, "0.0.0.0", "0.0.0.0/24"),
        ("[::1]", "::1", 6, "::/64", None),
        ("fe80::1%eth0", "fe80::1", 6, "fe80::/64", None),
        ("2001:DB8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6", 6, "2001:db8:1:2::/64", None),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", 6, "2001:db8::/64", None),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3", 6, "1:0:0:2::/64", None),
        ("::ffff:1.2.3.4", "1.2.3.4", 4, "1.2.3.4", "1.2.3.0/24"),
        ("::", "::", 6, "::/64", None),
    ],
)
def test_fixed_cases(raw: str, ip: str, version: int, ip_key: str, subnet: str | None) -> None:
    assert _row(raw) == {
        "ip": ip,
        "version": version,
        "ip_key": ip_key,
        "subnet": subnet,
        "reason": None,
    }


@pytest.mark.parametrize(
    "raw", ["abc", "001.2.3.4", "1.2.3", "256.1.1.1", "1::2::3", "1.2.3.4%eth0", "12345::", ":::"]
)
def test_garbage_has_a_reason(raw: str) -> None:
    row = _row(raw)
    assert row["ip"] is None and row["version"] is None and row["ip_key"] is None
    assert row["reason"] == f"not an IPv4 or IPv6 address: {raw!r}"


def test_long_garbage_is_cut_in_the_reason() -> None:
    reason = _row("x" * 500 + "\x00")["reason"]
    assert reason == f"not an IPv4 or IPv6 address: {'x' * 40 + '…'!r}"


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_is_not_an_error(raw: str | None) -> None:
    assert set(_row(raw).values()) == {None}


def test_prefixes_are_configurable_and_checked() -> None:
    row = _row("2001:db8:aaaa:bbbb::1", ipv6_prefix=48)
    assert row["ip_key"] == "2001:db8:aaaa::/48"
    assert _row("10.20.30.40", ipv4_prefix=16)["subnet"] == "10.20.0.0/16"
    with pytest.raises(ConfigError, match="ipv6_prefix"):
        normalize_ips(["::1"], ipv6_prefix=129)


def test_accepts_chunked_and_empty_input() -> None:
    chunked = pa.chunked_array([["1.2.3.4"], ["::1", None]])
    assert normalize_ips(chunked).column("ip").to_pylist() == ["1.2.3.4", "::1", None]
    assert normalize_ips(pa.array([], pa.string())).num_rows == 0


# --- in_cidrs --------------------------------------------------------------------------------


def test_in_cidrs_addresses_and_networks() -> None:
    values = pa.array(
        [
            "100.64.1.2",  # inside 100.64.0.0/10
            "100.128.0.1",  # just past it
            "9.9.9.9",  # a bare address is a range of one
            "9.9.9.0/24",  # a subnet overlapping a listed address counts
            "2001:db8:1:2::/64",  # an IPv6 key inside 2001:db8::/32
            "2001:db9::/64",
            None,
            "junk",
        ]
    )
    mask = in_cidrs(values, ["100.64.0.0/10", "9.9.9.9", "2001:db8::/32"])
    assert mask.tolist() == [True, False, True, True, True, False, False, False]
    assert mask.dtype == np.bool_


def test_in_cidrs_merges_ranges_and_handles_empty_lists() -> None:
    values = pa.array(["10.0.0.1", "10.0.1.1", "10.0.2.1"])
    assert in_cidrs(values, ["10.0.0.0/24", "10.0.1.0/24"]).tolist() == [True, True, False]
    assert in_cidrs(values, []).tolist() == [False, False, False]


def test_in_cidrs_refuses_a_bad_cidr() -> None:
    with pytest.raises(ConfigError, match=r"10\.0\.0\.0/33"):
        in_cidrs(pa.array(["10.0.0.1"]), ["10.0.0.0/8", "10.0.0.0/33"])
