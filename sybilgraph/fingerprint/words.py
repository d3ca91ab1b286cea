"""Words and shingles of masked texts as 32-bit hashes, split on the UTF-8 bytes.

The input to MinHash: no regex and no loop over texts, so tens of millions of texts are
split in a few numpy passes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sybilgraph.fingerprint.arrays import mix64

#: byte classes for splitting UTF-8 text into words: 0 separates, 1 is part of a word.
#: ASCII letters, digits, "_", "<" and ">" (so "<num>" is one word) and all non-ASCII
#: bytes are word bytes; the exceptions below are fixed up per character
_WORD_BYTES = np.zeros(256, dtype=bool)
for _byte in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_<>":
    _WORD_BYTES[_byte] = True
_WORD_BYTES[0x80:] = True
#: the low n bytes of a uint64, for n from 0 to 8: a word's bytes in its 8-byte window
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)


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


def word_hashes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A 32-bit hash of each word of each text, and the index of the text it is in.

    Words are split on the bytes themselves, vectorised, with no regex: runs of ASCII
    letters, digits, ``_<>`` and non-ASCII characters. Non-ASCII punctuation in the
    general-punctuation and CJK-punctuation blocks (U+2000-U+207F, U+3000-U+303F)
    separates; each CJK ideograph or kana (U+3040-U+9FFF) is a word of its own, since
    those scripts put no spaces between words.
    """
    data, offsets = _utf8_bytes(texts)
    n_bytes = len(data)
    word = np.take(_WORD_BYTES, data)  # faster than indexing with data
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
    seeded = lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    # every word's first eight bytes, then the next eight of the words still longer
    hashes = mix64(seeded ^ (windows[first_byte] & _LOW_BYTES[np.minimum(lengths, 8)]))
    longer = np.flatnonzero(lengths > 8)
    chunk = 1
    while len(longer):
        remaining = np.minimum(lengths[longer] - 8 * chunk, 8)
        window = windows[first_byte[longer] + 8 * chunk] & _LOW_BYTES[remaining]
        hashes[longer] = mix64(hashes[longer] ^ window)
        chunk += 1
        longer = longer[lengths[longer] > 8 * chunk]
    # texts own the words that start within their bytes
    owner = np.repeat(np.arange(len(offsets) - 1), np.diff(np.searchsorted(first_byte, offsets)))
    return (hashes >> np.uint64(32)).astype(np.uint32), owner


def shingle_hashes(
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
        combined = mix64(combined * np.uint64(0x100000001B3) + following)
    # a shingle starts at each position that leaves room for a full one; a text
    # shorter than one shingle keeps its one, partial shingle
    last_start = np.maximum(counts - shingle_size, 0)
    shingles = combined[position <= last_start[owner]]
    return (shingles >> np.uint64(32)).astype(np.uint32), last_start + 1
