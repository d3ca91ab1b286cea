"""Tier 1: the variable parts of prompts masked, and stable hashes of the masked texts.

Prompts from one template with different values (numbers, URLs, e-mails, quoted strings,
ids) become one text. Everything runs on Arrow's RE2 kernels, a slice of texts per thread.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.fingerprint.arrays import as_string_array, concat, parallel, slices

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

#: texts per parallel slice of the Arrow kernels (they run one thread per call)
_SLICE = 1 << 16
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
    return concat(parallel(_mask_slice, slices(array, _SLICE)), array.type)


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

    The hash is pandas' SipHash-2-4 of the UTF-8 bytes with its fixed default key, then
    pandas' 64-bit mix: the same on every run, process and platform, unlike ``hash()``.
    """
    array = as_string_array(arr)
    if len(array) == 0:
        return np.zeros(0, dtype=np.uint64)
    parts = parallel(_hash_slice, slices(array, _HASH_SLICE))
    return np.concatenate(parts)


def _hash_slice(texts: pa.Array) -> np.ndarray:
    # as bytes objects, which pandas hashes as they are: str objects would be decoded
    # from UTF-8 here and encoded again by pandas (nearly half the time, same hashes)
    binary = pa.large_binary() if pa.types.is_large_string(texts.type) else pa.binary()
    missing = texts.is_null().to_numpy(zero_copy_only=False)
    values = pc.fill_null(texts, "").cast(binary).to_numpy(zero_copy_only=False)
    hashed = pd.util.hash_array(values, categorize=False).astype(np.uint64, copy=False)
    hashed[missing] = 0
    return hashed
