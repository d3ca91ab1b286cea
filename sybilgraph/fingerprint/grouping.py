"""fingerprint: prompt texts become template fingerprints, in two tiers.

Tier 1 (:func:`mask_prompts`, :func:`hash_strings`) masks the variable parts of a prompt
(numbers, URLs, e-mails, quoted strings, ids) so that prompts from one template with
different values become one text, and hashes it. Tier 2 (:func:`template_groups`) joins
masked texts that are near-duplicates of each other (slots filled with other words, a
synonym swapped, a typo) with MinHash and banded LSH, verified pair by pair.

Engines call these on the DISTINCT prompts of a run, fetched as an Arrow array: up to
tens of millions of texts, so everything here is vectorised (Arrow's RE2 kernels, numpy)
and nothing loops over prompts in Python.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.config import PromptConfig
from sybilgraph.errors import ConfigError

__all__ = [
    "TemplateSignatures",
    "fingerprint_prompts",
    "hash_strings",
    "mask_prompts",
    "near_duplicate_groups",
    "template_groups",
]

# --- tier 1: masking -----------------------------------------------------------------------

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

#: texts per parallel slice of the Arrow kernels (they run one thread per call)
_SLICE = 1 << 16


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
    array = _as_string_array(texts)
    return _concat(_parallel(_mask_slice, _slices(array)), array.type)


def _mask_slice(texts: pa.Array) -> pa.Array:
    masked = pc.utf8_lower(texts)
    masked = pc.utf8_trim_whitespace(pc.replace_substring_regex(masked, _WHITESPACE, " "))
    for pattern, replacement in MASKS:
        masked = pc.replace_substring_regex(masked, pattern, replacement)
    return masked


def hash_strings(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Stable 64-bit hashes of strings; null hashes to 0.

    The hash is pandas' SipHash-2-4 of the UTF-8 bytes with its fixed default key, then
    pandas' 64-bit mix: the same on every run, process and platform, unlike ``hash()``.
    """
    array = _as_string_array(arr)
    if len(array) == 0:
        return np.zeros(0, dtype=np.uint64)
    parts = _parallel(_hash_slice, _slices(array, 1 << 18))
    return np.concatenate(parts)


def _hash_slice(texts: pa.Array) -> np.ndarray:
    values = texts.to_numpy(zero_copy_only=False)
    missing = pd.isna(values)
    if missing.any():
        values = np.where(missing, "", values)
    hashed = pd.util.hash_array(values, categorize=False).astype(np.uint64, copy=False)
    hashed[missing] = 0
    return hashed


# --- tier 2: near-duplicate groups ---------------------------------------------------------

#: at most this many shingles of a prompt are compared in one padded row
_PIECE = 32
#: piece widths: a piece is padded (with its own first shingle) to the next of these
_WIDTHS = (2, 4, 8, 16, 24, _PIECE)
#: prompts per MinHash block; bounds the memory of one block to a few tens of MB
_BLOCK = 1 << 13
#: pieces per vectorised MinHash step (num_perm x this many uint32 stay in cache)
_STEP = 2048
#: how many times texts cut from a chain are grouped again among themselves
_REGROUP_ROUNDS = 3
#: how many times a bucket's members that failed verification get a new representative
_ROUNDS = 3
#: share of a bucket's checks that must succeed for the bucket to be checked further
_FRUITFUL = 0.1
#: members of each bucket checked before deciding whether the bucket is worth the rest
_SAMPLE = 32
_MASK64 = (1 << 64) - 1

_T = TypeVar("_T")


def template_groups(
    masked: pa.Array | pa.ChunkedArray,
    *,
    shingle_size: int = 1,
    num_perm: int = 64,
    bands: int = 16,
    threshold: float = 0.6,
    min_words: int = 3,
    seed: int = 0,
    break_chains: bool = False,
) -> np.ndarray:
    """Tier 2: a group id per masked prompt; near-duplicates share one.

    Parameters
    ----------
    masked
        Masked prompt texts (from :func:`mask_prompts`); duplicates are fine.
    shingle_size
        Words per shingle. 1 compares bags of words and best catches templates whose
        slots hold different words; larger sizes weigh word order and merge less.
    num_perm, bands
        MinHash length and LSH bands (``num_perm // bands`` values per band). Two texts of
        Jaccard similarity s become candidates with probability 1 - (1 - s^r)^bands.
    threshold
        Candidates are joined only when their estimated Jaccard similarity (the share of
        equal MinHash values) is at least this.
    min_words
        Texts with fewer words are compared with nothing: each is its own group.
    seed
        Seeds the MinHash permutations.
    break_chains
        Keep in a group only the texts similar to its root (see Notes).

    Returns
    -------
    numpy.ndarray
        uint64 group ids, one per input, in input order: the smallest
        :func:`hash_strings` value among the group's distinct texts. A text alone in its
        group gets its own hash; null gets 0. The ids depend on the set of texts, never
        on their order.

    Notes
    -----
    Words are runs of ASCII letters and digits, ``_``, ``<`` and ``>`` (so ``<num>`` is
    one word) and non-ASCII characters other than punctuation; each CJK ideograph or
    kana is a word. Within an LSH bucket, every member
    is compared with the bucket's representative (its member of smallest hash) only, not
    with every other member, so a giant bucket costs linear work. A bucket whose first 32
    checks mostly fail (unrelated texts sharing common words) is not checked further in
    that band; members that fail in a productive bucket get a new representative, up
    to three times. Groups are the connected components of the verified pairs, so a
    chain of similar texts can join texts less similar than ``threshold`` at its ends;
    with ``break_chains`` a text not itself similar to its group's root (its member of
    smallest hash) leaves and is grouped again among those that left.
    """
    _check_params(shingle_size, num_perm, bands, threshold, min_words)
    array = _as_string_array(masked)
    if len(array) == 0:
        return np.zeros(0, dtype=np.uint64)
    encoded = pc.dictionary_encode(array)
    distinct = encoded.dictionary
    hashes = hash_strings(distinct)
    groups = _distinct_groups(
        distinct, hashes, shingle_size, num_perm, bands, threshold, min_words, seed, break_chains
    )
    return _expand(groups, encoded.indices)


def fingerprint_prompts(
    texts: pa.Array | pa.ChunkedArray, config: PromptConfig, seed: int
) -> pa.Table:
    """Both tiers for a run's prompts, for the pipeline.

    Returns
    -------
    pyarrow.Table
        One row per input text, in order: ``template`` (the masked text),
        ``template_hash`` (uint64, tier 1) and ``group`` (uint64, tier 2; equal to
        ``template_hash`` when ``config.near_duplicates`` is off). MinHash runs once per
        distinct masked text.
    """
    array = _as_string_array(texts)
    templates = mask_prompts(array)
    if len(templates) == 0:
        empty = pa.array([], pa.uint64())
        return pa.table({"template": templates, "template_hash": empty, "group": empty})
    encoded = pc.dictionary_encode(templates)
    distinct = encoded.dictionary
    hashes = hash_strings(distinct)
    if config.near_duplicates:
        _check_params(
            config.shingle_size, config.num_perm, config.bands, config.threshold, config.min_words
        )
        groups = _distinct_groups(
            distinct,
            hashes,
            config.shingle_size,
            config.num_perm,
            config.bands,
            config.threshold,
            config.min_words,
            seed,
            config.break_chains,
        )
    else:
        groups = hashes
    return pa.table(
        {
            "template": templates,
            "template_hash": pa.array(_expand(hashes, encoded.indices)),
            "group": pa.array(_expand(groups, encoded.indices)),
        }
    )


def _check_params(
    shingle_size: int, num_perm: int, bands: int, threshold: float, min_words: int
) -> None:
    if shingle_size < 1:
        raise ConfigError(f"prompt.shingle_size must be at least 1, not {shingle_size}")
    if num_perm < 1 or bands < 1 or num_perm % bands:
        raise ConfigError(
            f"prompt.num_perm ({num_perm}) must be a positive multiple of prompt.bands ({bands})"
        )
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"prompt.threshold must be in (0, 1], not {threshold}")
    if min_words < 1:
        raise ConfigError(f"prompt.min_words must be at least 1, not {min_words}")


def _expand(values: np.ndarray, indices: pa.Array) -> np.ndarray:
    """``values[indices]`` with null indices giving 0."""
    if indices.null_count:
        positions = pc.fill_null(indices, len(values)).to_numpy(zero_copy_only=False)
        return np.append(values, np.uint64(0))[positions]
    return values[indices.to_numpy(zero_copy_only=False)]


def near_duplicate_groups(
    batches: Iterable[tuple[np.ndarray, pa.Array]], config: PromptConfig, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Tier 2 over distinct masked texts that arrive in batches, for large runs.

    Parameters
    ----------
    batches
        Pairs of (tier-1 hashes as uint64, masked texts) of distinct, non-null texts;
        no text may come twice.
    config, seed
        As for :func:`fingerprint_prompts`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The hashes of all batches, in the order they came, and the group id of each, as
        :func:`template_groups` gives them. Only one batch of texts is held at a time,
        plus the MinHash signatures (``num_perm`` bytes per text at the default
        settings).
    """
    signed = TemplateSignatures.of(batches, config, seed)
    return signed.hashes, signed.groups(config.threshold)


@dataclasses.dataclass(frozen=True)
class TemplateSignatures:
    """The MinHash signatures of distinct masked texts, to group them at any threshold.

    ``hashes`` are the texts' tier-1 hashes in the order they came, ``counts`` their
    words, ``signature`` one row per text with ``min_words`` words or more (in the same
    order). Grouping again at another threshold, or a subset of the texts, reuses the
    signatures and runs only the banding and checks (at 10M events: 23 s of hashing
    saved; the banding, 19-29 s a pass, is not).
    """

    hashes: np.ndarray
    counts: np.ndarray
    signature: np.ndarray
    config: PromptConfig

    @classmethod
    def of(
        cls, batches: Iterable[tuple[np.ndarray, pa.Array]], config: PromptConfig, seed: int
    ) -> TemplateSignatures:
        """Signatures of texts arriving in batches, as :func:`near_duplicate_groups` takes."""
        _check_params(
            config.shingle_size, config.num_perm, config.bands, config.threshold, config.min_words
        )
        rows = config.num_perm // config.bands
        hash_parts: list[np.ndarray] = []
        count_parts: list[np.ndarray] = []
        # signatures go into one array that grows by doubling: no second copy at the end
        signature = np.zeros((0, config.num_perm), dtype=_signature_dtype(rows))
        filled = 0
        for batch_hashes, texts in batches:
            counts, part = _signatures(
                _as_string_array(texts),
                config.shingle_size,
                config.num_perm,
                rows,
                seed,
                config.min_words,
            )
            hash_parts.append(np.asarray(batch_hashes, dtype=np.uint64))
            count_parts.append(counts)
            if filled + len(part) > len(signature):
                grown = np.zeros(
                    (max(2 * len(signature), filled + len(part)), config.num_perm), part.dtype
                )
                grown[:filled] = signature[:filled]
                signature = grown
            signature[filled : filled + len(part)] = part
            filled += len(part)
        if not hash_parts:
            empty = np.zeros(0, dtype=np.uint64)
            return cls(empty, np.zeros(0, dtype=np.int64), signature, config)
        hashes, counts = np.concatenate(hash_parts), np.concatenate(count_parts)
        return cls(hashes, counts, signature[:filled], config)

    def groups(self, threshold: float, subset: np.ndarray | None = None) -> np.ndarray:
        """Group ids (as :func:`template_groups` gives them) at ``threshold``.

        With ``subset`` (positions into ``hashes``), only those texts are grouped, among
        themselves, and their ids come back in the subset's order; the result is the one
        a run over those texts alone would give.
        """
        _check_params(
            self.config.shingle_size,
            self.config.num_perm,
            self.config.bands,
            threshold,
            self.config.min_words,
        )
        hashes, counts, signature = self.hashes, self.counts, self.signature
        if subset is not None:
            row = np.cumsum(counts >= self.config.min_words) - 1  # signature row per text
            hashes, counts = hashes[subset], counts[subset]
            signature = signature[row[subset[counts >= self.config.min_words]]]
        return _signed_groups(
            hashes,
            counts,
            signature,
            self.config.bands,
            self.config.num_perm // self.config.bands,
            threshold,
            self.config.min_words,
            self.config.break_chains,
        )


def _distinct_groups(
    distinct: pa.Array,
    hashes: np.ndarray,
    shingle_size: int,
    num_perm: int,
    bands: int,
    threshold: float,
    min_words: int,
    seed: int,
    break_chains: bool = False,
) -> np.ndarray:
    """Group ids of distinct, non-null masked texts (``hashes`` their tier-1 hashes)."""
    rows = num_perm // bands
    counts, signature = _signatures(distinct, shingle_size, num_perm, rows, seed, min_words)
    return _signed_groups(
        hashes, counts, signature, bands, rows, threshold, min_words, break_chains
    )


def _signed_groups(
    hashes: np.ndarray,
    counts: np.ndarray,
    signature: np.ndarray,
    bands: int,
    rows: int,
    threshold: float,
    min_words: int,
    break_chains: bool = False,
) -> np.ndarray:
    """Group ids from the words per text and the signatures of the eligible texts."""
    groups = hashes.copy()
    eligible = np.flatnonzero(counts >= min_words)
    if len(eligible) < 2:
        return groups
    # work in the order of the hashes: a bucket's representative and a component's root
    # are then its smallest member, which makes the result independent of input order
    order = np.argsort(hashes[eligible], kind="stable")
    if not np.array_equal(order, np.arange(len(order))):  # callers may send them sorted
        signature = signature[order]
    root = _lsh_components(signature, bands, rows, threshold)
    if break_chains:
        root = _break_chains(signature, root, bands, rows, threshold)
    groups[eligible[order]] = hashes[eligible[order]][root]
    return groups


# --- MinHash ---------------------------------------------------------------------------------


def _mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijective, well-mixed uint64 -> uint64 (in place)."""
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Odd multipliers and offsets of ``x -> a * x + b (mod 2**32)``, from the seed alone."""
    counter = np.arange(2 * num_perm, dtype=np.uint64) + np.uint64((seed * 0x9E3779B9) & _MASK64)
    params = _mix64(counter * np.uint64(0x9E3779B97F4A7C15))
    a = (params[:num_perm] >> np.uint64(32)).astype(np.uint32) | np.uint32(1)
    b = (params[num_perm:] >> np.uint64(32)).astype(np.uint32)
    return a[:, None], b[:, None]


def _signature_dtype(rows: int) -> type[np.unsignedinteger]:
    """Bits kept per MinHash value: enough that one band holds at least 32 bits."""
    if rows >= 4:
        return np.uint8
    if rows >= 2:
        return np.uint16
    return np.uint32


def _signatures(
    texts: pa.Array, shingle_size: int, num_perm: int, rows: int, seed: int, min_words: int
) -> tuple[np.ndarray, np.ndarray]:
    """Words per text, and b-bit MinHash signatures of the texts with ``min_words`` words.

    The signatures come as an (eligible, num_perm) array, eligible texts in input order.
    """
    a, b = _permutations(num_perm, seed)
    dtype = _signature_dtype(rows)

    def block(start: int) -> tuple[np.ndarray, np.ndarray]:
        tokens, owner = _word_hashes(texts.slice(start, _BLOCK))
        counts = np.bincount(owner, minlength=min(_BLOCK, len(texts) - start))
        eligible = counts >= min_words
        keep = eligible[owner]
        shingles, per_text = _shingle_hashes(tokens[keep], counts[eligible], shingle_size)
        minima = _minhash(shingles, per_text, a, b)
        # the low bits of a * x + b are weak; bits 8 and up of the minimum are as good as
        # random given which shingle won
        kept = minima >> np.uint32(8) if dtype != np.uint32 else minima
        return counts.astype(np.int64), kept.astype(dtype)

    parts = _parallel(block, range(0, len(texts), _BLOCK))
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros((0, num_perm), dtype=dtype)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


#: byte classes for splitting UTF-8 text into words: 0 separates, 1 is part of a word.
#: ASCII letters, digits, "_", "<" and ">" (so "<num>" is one word) and all non-ASCII
#: bytes are word bytes; the exceptions below are fixed up per character
_WORD_BYTES = np.zeros(256, dtype=bool)
for _byte in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_<>":
    _WORD_BYTES[_byte] = True
_WORD_BYTES[0x80:] = True


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (in place)."""
    values ^= values >> np.uint32(16)
    values *= np.uint32(0x85EBCA6B)
    values ^= values >> np.uint32(13)
    values *= np.uint32(0xC2B2AE35)
    values ^= values >> np.uint32(16)
    return values


def _utf8_bytes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of a string array and its offsets into them (nulls are empty)."""
    offset_type = np.int64 if pa.types.is_large_string(texts.type) else np.int32
    buffers = texts.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offset_type)[
        texts.offset : texts.offset + len(texts) + 1
    ]
    offsets = offsets.astype(np.int64)
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None
        else np.zeros(0, np.uint8)
    )
    data = data[offsets[0] : offsets[-1]]
    return data, offsets - offsets[0]


def _word_hashes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A 32-bit hash of each word of each text, and the index of the text it is in.

    Words are split on the bytes themselves, vectorised, with no regex: runs of ASCII
    letters, digits, ``_<>`` and non-ASCII characters. Non-ASCII punctuation in the
    general-punctuation and CJK-punctuation blocks (U+2000-U+207F, U+3000-U+303F)
    separates; each CJK ideograph or kana (U+3040-U+9FFF) is a word of its own, since
    those scripts put no spaces between words.
    """
    data, offsets = _utf8_bytes(texts)
    n_bytes = len(data)
    word = _WORD_BYTES[data]
    starts = word.copy()
    starts[1:] &= ~word[:-1]
    if n_bytes >= 3 and np.any(data >= 0xE2):
        first, second = data[:-2], data[1:-1]
        punctuation = ((first == 0xE2) & (second <= 0x81)) | ((first == 0xE3) & (second == 0x80))
        for shift in range(3):
            word[shift : n_bytes - 2 + shift] &= ~punctuation
        cjk = ((first == 0xE3) & (second >= 0x81)) | ((first >= 0xE4) & (first <= 0xE9))
        starts[:-2] |= cjk
        starts[3:] |= cjk[:-1]
        starts[1:] |= word[1:] & ~word[:-1]
        starts &= word
    text_start = offsets[:-1][offsets[:-1] < offsets[1:]]
    starts[text_start] = word[text_start]
    first_byte = np.flatnonzero(starts)
    if len(first_byte) == 0:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64)
    ends = word.copy()
    ends[:-1] &= starts[1:] | ~word[1:]
    lengths = np.flatnonzero(ends) + 1 - first_byte
    # words are read eight bytes at a time, little-endian, from a zero-padded copy
    padded = np.zeros(n_bytes + 8, dtype=np.uint8)
    padded[:n_bytes] = data
    windows = np.ndarray((n_bytes,), dtype="<u8", buffer=padded, strides=(1,))
    hashes = lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    longer = np.arange(len(first_byte))
    for chunk in range(-(-int(lengths.max()) // 8)):
        if chunk:
            longer = longer[lengths[longer] > 8 * chunk]
        remaining = np.minimum(lengths[longer] - 8 * chunk, 8).astype(np.uint64)
        keep = (np.uint64(1) << (remaining * np.uint64(8) - np.uint64(1))) * np.uint64(
            2
        ) - np.uint64(1)
        hashes[longer] = _mix64(hashes[longer] ^ (windows[first_byte[longer] + 8 * chunk] & keep))
    words_per_text = np.add.reduceat(
        starts, offsets[:-1][offsets[:-1] < offsets[1:]], dtype=np.int64
    )
    owner = np.repeat(np.flatnonzero(offsets[:-1] < offsets[1:]), words_per_text)
    return (hashes >> np.uint64(32)).astype(np.uint32), owner


def _shingle_hashes(
    token: np.ndarray, counts: np.ndarray, shingle_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """uint32 hash of each shingle (flat, text after text) and the shingles per text."""
    if shingle_size == 1:
        return token, counts
    wide = token.astype(np.uint64)
    owner = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(len(wide)) - (np.cumsum(counts) - counts)[owner]
    combined = wide.copy()
    for offset in range(1, shingle_size):
        following = np.zeros_like(wide)
        following[:-offset] = wide[offset:]
        following[position + offset >= counts[owner]] = 0
        combined = _mix64(combined * np.uint64(0x100000001B3) + following)
    # a shingle starts at each position that leaves room for a full one; a text
    # shorter than one shingle keeps its one, partial shingle
    last_start = np.maximum(counts - shingle_size, 0)
    shingles = combined[position <= last_start[owner]]
    return (shingles >> np.uint64(32)).astype(np.uint32), last_start + 1


def _minhash(shingles: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, num_perm) uint32 minima of ``a * x + b`` over each text's shingles.

    Each text's shingles are cut into pieces of at most ``_PIECE``, each piece padded to a
    width from ``_WIDTHS`` with its own first shingle (a repeat changes no minimum), so
    that a block of pieces is a dense (width, pieces) matrix reduced with one vectorised
    ``np.minimum`` per column instead of one small reduction per text.
    """
    num_perm = len(a)
    pieces_per_text = -(-counts // _PIECE)
    n_pieces = int(pieces_per_text.sum())
    owner = np.repeat(np.arange(len(counts)), pieces_per_text)
    piece_rank = np.arange(n_pieces) - np.repeat(
        np.cumsum(pieces_per_text) - pieces_per_text, pieces_per_text
    )
    first_shingle = np.cumsum(counts) - counts
    piece_start = first_shingle[owner] + piece_rank * _PIECE
    piece_len = np.minimum(counts[owner] - piece_rank * _PIECE, _PIECE)
    piece_min = np.empty((n_pieces, num_perm), dtype=np.uint32)
    width_of = np.searchsorted(np.array(_WIDTHS), piece_len)
    for width_index, width in enumerate(_WIDTHS):
        members = np.flatnonzero(width_of == width_index)
        for step in range(0, len(members), _STEP):
            chosen = members[step : step + _STEP]
            column = np.arange(width)
            gather = piece_start[chosen, None] + np.where(
                column[None, :] < piece_len[chosen, None], column[None, :], 0
            )
            values = np.ascontiguousarray(shingles[gather].T)
            piece_min[chosen] = _column_minima(values, a, b).T
    if n_pieces == len(counts):
        return piece_min
    first_piece = np.cumsum(pieces_per_text) - pieces_per_text
    minima = piece_min[first_piece]
    for rank in range(1, int(pieces_per_text.max())):
        longer = np.flatnonzero(pieces_per_text > rank)
        minima[longer] = np.minimum(minima[longer], piece_min[first_piece[longer] + rank])
    return minima


def _column_minima(values: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """min over rows of ``a * values[row] + b``: (num_perm, columns)."""
    best = a * values[0][None, :]
    best += b
    scratch = np.empty_like(best)
    for row in values[1:]:
        np.multiply(a, row[None, :], out=scratch)
        scratch += b
        np.minimum(best, scratch, out=best)
    return best


# --- LSH and verification ----------------------------------------------------------------


def _band_keys(signature: np.ndarray, band: int, rows: int) -> np.ndarray:
    """One uint32 key per text for a band: its values packed, or mixed when wider."""
    values = np.ascontiguousarray(signature[:, band * rows : (band + 1) * rows])
    width = rows * signature.dtype.itemsize
    if width == 4:
        return values.view("<u4").ravel()
    if width == 8:
        wide = values.view("<u8").ravel().copy()
    else:
        wide = np.zeros(len(signature), dtype=np.uint64)
        for row in range(rows):
            wide = _mix64(wide * np.uint64(0x100000001B3) + values[:, row].astype(np.uint64))
    # a chance collision of 32-bit keys only costs one verification
    return (_mix64(wide) >> np.uint64(32)).astype(np.uint32)


def _lsh_components(signature: np.ndarray, bands: int, rows: int, threshold: float) -> np.ndarray:
    """Root (smallest index) of each text's component of verified near-duplicate pairs."""
    parent = np.arange(len(signature), dtype=np.int64)
    needed = _needed(signature, threshold)
    for band in range(bands):
        _compress(parent)
        members, bucket = _shared_buckets(_band_keys(signature, band, rows))
        for _ in range(_ROUNDS):
            if len(members) < 2:
                break
            start = _run_starts(bucket)
            rep = members[start]
            pending = _roots(parent, members) != _roots(parent, rep)
            # Many buckets hold unrelated texts that share common words ("the", "a",
            # "of"); their representative matches almost no one. Check each bucket's first
            # _SAMPLE members, and the rest only where enough of those checks succeed.
            sample = pending & (np.arange(len(members)) - start < _SAMPLE)
            failed = np.zeros(len(members), dtype=bool)
            fruitful = np.zeros(int(bucket[-1]) + 1, dtype=bool)
            for checked in (sample, pending & ~sample):
                checked &= fruitful[bucket] | sample
                similar = _agreements(signature, members[checked], rep[checked]) >= needed
                _union(parent, members[checked][similar], rep[checked][similar])
                failed[np.flatnonzero(checked)[~similar]] = True
                tried = np.bincount(bucket[checked], minlength=len(fruitful))
                found = np.bincount(bucket[checked][similar], minlength=len(fruitful))
                fruitful = found >= np.maximum(_FRUITFUL * tried, 1)
                sample = np.zeros_like(sample)
            # members that failed try again among themselves under a new representative
            again = failed & fruitful[bucket]
            members, bucket = _drop_lonely(members[again], bucket[again])
    _compress(parent)
    return parent


def _needed(signature: np.ndarray, threshold: float) -> int:
    """Equal MinHash values two texts need to count as near-duplicates."""
    chance = 1.0 / float(1 << (signature.dtype.itemsize * 8))
    # b-bit values also agree by chance: correct the share of equal values for it
    return int(np.ceil((threshold * (1.0 - chance) + chance) * signature.shape[1] - 1e-9))


def _break_chains(
    signature: np.ndarray, root: np.ndarray, bands: int, rows: int, threshold: float
) -> np.ndarray:
    """Keep in each group only the texts similar to its root; regroup the others.

    Components of similar pairs can chain: a~b~c~… joins texts at the two ends that
    share little, and on real traffic one chain can swallow most prompts and turn into a
    hub that hides the rings inside it. A text that is not itself similar to its root
    leaves the group and is grouped again among the others that left (a few rounds; what
    is left after them stays alone).
    """
    needed = _needed(signature, threshold)
    index = np.arange(len(root))
    joined = index[root != index]
    loose = joined[_agreements(signature, joined, root[joined]) < needed]
    for _ in range(_REGROUP_ROUNDS):
        root[loose] = loose
        if len(loose) < 2:
            return root
        local = _lsh_components(signature[loose], bands, rows, threshold)
        root[loose] = loose[local]
        joined = loose[local != np.arange(len(loose))]
        loose = joined[_agreements(signature, joined, root[joined]) < needed]
    root[loose] = loose
    return root


def _shared_buckets(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Texts whose key another text shares, sorted by (bucket, index), and their buckets.

    Sorting keys and indices packed in one uint64 is several times faster than argsort.
    """
    packed = (keys.astype(np.uint64) << np.uint64(32)) | np.arange(len(keys), dtype=np.uint64)
    packed.sort()
    ordered = packed >> np.uint64(32)
    same_as_next = ordered[1:] == ordered[:-1]
    shared = np.zeros(len(keys), dtype=bool)
    shared[1:] = same_as_next
    shared[:-1] |= same_as_next
    starts = np.ones(len(keys), dtype=bool)
    starts[1:] = ~same_as_next
    bucket = np.cumsum(starts) - 1
    members = (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)
    return members[shared], bucket[shared]


def _run_starts(bucket: np.ndarray) -> np.ndarray:
    """For each position of a sorted bucket array, the position where its run starts."""
    starts = np.ones(len(bucket), dtype=bool)
    starts[1:] = bucket[1:] != bucket[:-1]
    return np.maximum.accumulate(np.where(starts, np.arange(len(bucket)), 0))


def _drop_lonely(members: np.ndarray, bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(bucket) == 0:
        return members, bucket
    sizes = np.bincount(bucket)
    keep = sizes[bucket] >= 2
    return members[keep], bucket[keep]


def _agreements(signature: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """How many MinHash values each pair shares, in chunks to bound memory.

    Values are compared as lanes of 64-bit words: a lane of ``x ^ y`` is non-zero when
    the values differ, and a carry trick sets its top bit then, so one popcount counts
    the differing values of eight (or four, or two) at once.
    """
    lane_bits = signature.dtype.itemsize * 8
    words = signature.view(np.uint64) if signature.shape[1] * lane_bits % 64 == 0 else None
    lanes = signature.shape[1]
    high = np.uint64(int(("1" + "0" * (lane_bits - 1)) * (64 // lane_bits), 2))
    low = ~high
    equal = np.empty(len(left), dtype=np.int64)
    step = 1 << 16
    for start in range(0, len(left), step):
        part = slice(start, start + step)
        if words is None:
            same = signature[left[part]] == signature[right[part]]
            equal[part] = np.count_nonzero(same, axis=1)
            continue
        differ = words[left[part]] ^ words[right[part]]
        flagged = (((differ & low) + low) | differ) & high
        equal[part] = lanes - np.bitwise_count(flagged).sum(axis=1, dtype=np.int64)
    return equal


def _compress(parent: np.ndarray) -> None:
    """Point every node straight at its root."""
    while True:
        up = parent[parent]
        if np.array_equal(up, parent):
            return
        parent[:] = up


def _roots(parent: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    roots = parent[nodes]
    while True:
        up = parent[roots]
        if np.array_equal(up, roots):
            return roots
        roots = up


def _union(parent: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
    """Join the components of each pair, always under the smaller root."""
    while len(left):
        root_left, root_right = _roots(parent, left), _roots(parent, right)
        apart = root_left != root_right
        left, right = left[apart], right[apart]
        if not len(left):
            return
        low = np.minimum(root_left[apart], root_right[apart])
        high = np.maximum(root_left[apart], root_right[apart])
        np.minimum.at(parent, high, low)


# --- helpers ---------------------------------------------------------------------------------


def _as_string_array(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.string())
    if not isinstance(texts, pa.Array):
        texts = pa.array(texts, pa.string())
    if pa.types.is_dictionary(texts.type):
        texts = texts.dictionary_decode()
    if pa.types.is_null(texts.type):
        return pa.nulls(len(texts), pa.string())
    if pa.types.is_string_view(texts.type):
        texts = texts.cast(pa.large_string())
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise TypeError(f"prompts must be strings, not {texts.type}")
    return texts


def _slices(array: pa.Array, size: int = _SLICE) -> list[pa.Array]:
    if len(array) <= size:
        return [array]
    return [array.slice(start, size) for start in range(0, len(array), size)]


def _concat(parts: list[pa.Array], type_: pa.DataType) -> pa.Array:
    if len(parts) == 1:
        return parts[0]
    return pa.chunked_array(parts, type=type_).combine_chunks()


def _parallel(func: Callable[[_T], object], items: Iterable[_T]) -> list:
    """``[func(item) for item in items]`` on a few threads (Arrow and numpy drop the GIL)."""
    items = list(items)
    workers = min(len(items), os.cpu_count() or 1, 8)
    if workers <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, items))
