"""Tier 1: the variable parts of prompts masked, and stable hashes of the masked texts.

Prompts from one template with different values (numbers, URLs, e-mails, quoted strings,
ids) become one text. Everything runs on Arrow's RE2 kernels, a slice of texts per thread.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.fingerprint.arrays import (
    as_string_array,
    compiled,
    concat,
    mix64,
    parallel,
    slices,
    utf8_bytes,
)

#: whitespace other than a single space, and runs of it: collapsed to one space first, so
#: later patterns see one shape of text and masking twice changes nothing
_WHITESPACE = (
    r"[\s\p{Z}\x{85}\x{0b}]{2,}"
    r"|[\t\n\x{0b}\f\r\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
)
_QUOTE_CHARS = "\"'“”‘’«»"
_URL = (
    r"(?:[a-z][a-z0-9+.-]*://|www\.)"
    rf"[^\s<>{_QUOTE_CHARS}]*[^\s<>{_QUOTE_CHARS}.,;:!?)\]}}]"
)
_EMAIL = r"[\pL\pN._%+-]+@[\pL\pN-]+(?:\.[\pL\pN-]+)+"
#: an apostrophe inside a word ("don't") opens no quote: ' must sit between non-letters
_QUOTED = (
    r'"[^"]*"|“[^”]*”|«[^»]*»'
    r"|\B'[^']*'\B|\B‘[^’]*’\B"
)
_WORD = "[a-z0-9_]"
_MIXED = "(?:[a-z][0-9]|[0-9][a-z])"
#: UUIDs, and words of >= 6 ASCII letters/digits with a letter next to a digit somewhere
#: ("a3f9c2", "inv20931", "x86_64"): RE2 has no lookahead, so the length is spelled out
#: for each place the letter/digit pair can start
_ID = (
    r"\b(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    + "".join(f"|{_WORD}{{{k}}}{_MIXED}{_WORD}{{{4 - k},}}" for k in range(4))
    + rf"|{_WORD}{{4,}}{_MIXED}{_WORD}*)\b"
)
#: digit runs joined by separators: 7, 3.14, 1,000,000, 2024-01-05, 10:30, 1/2
_NUMBER = r"\p{Nd}+(?:[.,:/-]\p{Nd}+)*"

#: applied in this order: URLs and e-mails hold digits, quotes and dots, so they go before
#: numbers and quotes; ids hold digits, so they go before numbers; quotes go last, because
#: whether a ' opens a quote depends on its neighbours, which the earlier masks change
#: ("1'x'" -> "<num>'x'"), and masking twice must change nothing
MASKS: tuple[tuple[str, str], ...] = (
    (_URL, "<url>"),
    (_EMAIL, "<email>"),
    (_ID, "<id>"),
    (_NUMBER, "<num>"),
    (_QUOTED, "<str>"),
)

#: matches where any of the masks would: a text it does not match goes through them all
#: unchanged, so only the texts it matches are masked (one scan instead of five for most
#: everyday prompts, which hold no number, quote, link or id)
_ANY_MASK = "|".join(f"(?:{pattern})" for pattern, _ in MASKS)

#: texts per parallel slice of the Arrow kernels (they run one thread per call), and
#: bytes of text: 2,000 prompts of 180k characters were one slice, on one thread
_SLICE = 1 << 16
_SLICE_BYTES = 1 << 24
#: texts per parallel slice of hashing: cheaper per text than masking, so larger slices
_HASH_SLICE = 1 << 18


def mask_prompts(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Tier 1: the template of each prompt, its variable parts masked.

    Parameters
    ----------
    texts
        Prompt texts (Arrow string or large_string).

    Returns
    -------
    pyarrow.Array
        Same length and order. Each text lowercased, whitespace collapsed to single
        spaces and stripped, then, in this order: URLs to ``<url>``, e-mail addresses to
        ``<email>``, UUIDs and words of 6+ letters and digits mixed to ``<id>``, numbers
        (with . , : / - between digit runs) to ``<num>``, quoted strings ('...', "...",
        “...”, ‘...’, «...») to ``<str>``. Null stays null. Masking a masked text changes
        nothing.

    Notes
    -----
    The order matters: a URL or e-mail holds digits and dots that the number pattern
    would otherwise cut up, and an id holds digits. An apostrophe inside a word
    ("don't") does not open a quoted string; quotes are masked last since that test
    looks at the characters around the quote, which the other masks change.
    """
    array = as_string_array(texts)
    return concat(parallel(_mask_slice, slices(array, _SLICE, _SLICE_BYTES)), array.type)


def _mask_slice(texts: pa.Array) -> pa.Array:
    masked = pc.utf8_lower(texts)
    masked = pc.utf8_trim_whitespace(pc.replace_substring_regex(masked, _WHITESPACE, " "))
    hits = pc.match_substring_regex(masked, _ANY_MASK)
    chosen = pc.filter(masked, hits)
    for pattern, replacement in MASKS:
        chosen = pc.replace_substring_regex(chosen, pattern, replacement)
    return pc.replace_with_mask(masked, hits, chosen)


def hash_strings(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Stable 64-bit hashes of strings; null hashes to 0.

    The hash is pandas' (``pandas.util.hash_array`` of the texts as bytes, uncategorised):
    SipHash-2-4 of the UTF-8 bytes under pandas' fixed default key, then pandas' 64-bit
    mix. The same on every run, process and platform, unlike ``hash()``.
    """
    array = as_string_array(arr)
    if len(array) == 0:
        return np.zeros(0, dtype=np.uint64)
    kernel = compiled(_siphash)  # before the threads start
    parts = parallel(lambda texts: _hash_slice(kernel, texts), slices(array, _HASH_SLICE))
    return np.concatenate(parts)


def _hash_slice(kernel: Callable[..., np.ndarray], texts: pa.Array) -> np.ndarray:
    data, offsets = utf8_bytes(texts)
    hashed = mix64(kernel(data, offsets, _KEY[0], _KEY[1]))
    if texts.null_count:
        hashed[texts.is_null().to_numpy(zero_copy_only=False)] = 0
    return hashed


#: pandas' default hash key, "0123456789123456", as SipHash's two little-endian halves
_KEY = np.frombuffer(b"0123456789123456", dtype="<u8")


def _siphash(data: np.ndarray, offsets: np.ndarray, k0: np.uint64, k1: np.uint64) -> np.ndarray:
    """SipHash-2-4 of each text (``data[offsets[i]:offsets[i + 1]]``) under the key
    (``k0``, ``k1``), as pandas computes it for a bytes object.

    Compiled (``arrays.compiled``), on the bytes in place. pandas hashed Python bytes
    objects made of each text first: the realistic benchmark log's 1.4M distinct
    prompts took 0.61 s on two threads, against 0.35 s (0.42 s on one); the same
    hashes (``tests/test_fingerprint.py`` compares them with pandas').
    """
    out = np.empty(len(offsets) - 1, dtype=np.uint64)
    for text in range(len(offsets) - 1):
        start, end = offsets[text], offsets[text + 1]
        full = (end - start) // 8
        v0 = k0 ^ np.uint64(0x736F6D6570736575)
        v1 = k1 ^ np.uint64(0x646F72616E646F6D)
        v2 = k0 ^ np.uint64(0x6C7967656E657261)
        v3 = k1 ^ np.uint64(0x7465646279746573)
        # the full 8-byte words, then the last bytes with the length on top, then the end
        for block in range(full + 2):
            first = start + 8 * block
            rounds = 2
            word = np.uint64(0)
            if block < full:
                for j in range(8):  # little-endian
                    word |= np.uint64(data[first + j]) << np.uint64(8 * j)
                v3 ^= word
            elif block == full:
                word = np.uint64(end - start) << np.uint64(56)
                for j in range(end - first):
                    word |= np.uint64(data[first + j]) << np.uint64(8 * j)
                v3 ^= word
            else:
                rounds = 4
                v2 ^= np.uint64(0xFF)
            for _ in range(rounds):
                v0 += v1
                v1 = (v1 << np.uint64(13)) | (v1 >> np.uint64(51))
                v1 ^= v0
                v0 = (v0 << np.uint64(32)) | (v0 >> np.uint64(32))
                v2 += v3
                v3 = (v3 << np.uint64(16)) | (v3 >> np.uint64(48))
                v3 ^= v2
                v0 += v3
                v3 = (v3 << np.uint64(21)) | (v3 >> np.uint64(43))
                v3 ^= v0
                v2 += v1
                v1 = (v1 << np.uint64(17)) | (v1 >> np.uint64(47))
                v1 ^= v2
                v2 = (v2 << np.uint64(32)) | (v2 >> np.uint64(32))
            v0 ^= word
        out[text] = v0 ^ v1 ^ v2 ^ v3
    return out
