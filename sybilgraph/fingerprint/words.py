"""Words and shingles of masked texts as 32-bit hashes, split on the UTF-8 bytes.

The input to MinHash: no regex; the bytes are split and hashed by compiled code, so tens
of millions of texts are split in a few passes over their bytes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sybilgraph.fingerprint.arrays import compiled, mix64, utf8_bytes

#: byte classes for splitting UTF-8 text into words: 0 separates, 1 is part of a word.
#: ASCII letters, digits, "_", "<" and ">" (so "<num>" is one word) and all non-ASCII
#: bytes are word bytes; the exceptions below are fixed up per character
_WORD_BYTES = np.zeros(256, dtype=bool)
for _byte in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_<>":
    _WORD_BYTES[_byte] = True
_WORD_BYTES[0x80:] = True


def word_hashes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A 32-bit hash of each word of each text, and the index of the text it is in.

    Words are split on the bytes themselves, with no regex: runs of ASCII letters,
    digits, ``_<>`` and non-ASCII characters. Non-ASCII punctuation in the
    general-punctuation and CJK-punctuation blocks (U+2000-U+207F, U+3000-U+303F)
    separates; each CJK ideograph or kana (U+3040-U+9FFF) is a word of its own, since
    those scripts put no spaces between words. A word's hash mixes its length and its
    bytes, eight at a time (little-endian), with splitmix64's finaliser; the top 32 bits
    are kept.
    """
    data, offsets = utf8_bytes(texts)
    # no three- or four-byte character: no byte but a word byte's class matters
    narrow = len(data) == 0 or data.max() < _WIDE
    split = compiled(_narrow_words if narrow else _words)
    first, length, owner = split(data, offsets, _WORD_BYTES)
    return compiled(_hash_words)(data, first, length), owner


def prepare() -> None:
    """Compile (or load) the kernels before threads use them: once, not once a thread."""
    for kernel in (_narrow_words, _words, _hash_words):
        compiled(kernel)


#: the smallest lead byte of a character that may separate words or be a word alone
_WIDE = 0xE2


def _narrow_words(
    data: np.ndarray, offsets: np.ndarray, word_bytes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_words` for bytes of which none is ``_WIDE`` or more: the words are the
    runs of word bytes within each text, found in one pass.

    Compiled (``arrays.compiled``). On the realistic benchmark log's 1.4M distinct
    templates (none with such a byte), split and hashed: 2.5 s against 3.5 s on one
    thread, the same hashes.
    """
    texts = len(offsets) - 1
    # a word is one byte or more, and two words of a text have a byte between them
    most = len(data) // 2 + texts + 1
    first = np.empty(most, dtype=np.int64)
    length = np.empty(most, dtype=np.int64)
    owner = np.empty(most, dtype=np.int64)
    index = 0
    for text in range(texts):
        i, end = offsets[text], offsets[text + 1]
        while i < end:
            while i < end and not word_bytes[data[i]]:
                i += 1
            start = i
            while i < end and word_bytes[data[i]]:
                i += 1
            if i == start:
                break
            first[index], length[index], owner[index] = start, i - start, text
            index += 1
    return first[:index], length[:index], owner[:index]


def _hash_words(data: np.ndarray, first: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The 32-bit hash of each word (``length[i]`` bytes from ``first[i]``): its length
    and its bytes, eight at a time (little-endian), mixed by splitmix64's finaliser
    (``arrays.mix64``, inline), the top 32 bits kept. Compiled (``arrays.compiled``)."""
    hashes = np.empty(len(first), dtype=np.uint32)
    golden = np.uint64(0x9E3779B97F4A7C15)
    for word in range(len(first)):
        start, size = first[word], length[word]
        mixed = np.uint64(size) * golden
        for done in range(0, size, 8):
            window = np.uint64(0)
            if size - done >= 8:  # a whole window: a loop the compiler unrolls
                for j in range(8):
                    window |= np.uint64(data[start + done + j]) << np.uint64(8 * j)
            else:
                for j in range(size - done):
                    window |= np.uint64(data[start + done + j]) << np.uint64(8 * j)
            mixed ^= window
            mixed ^= mixed >> np.uint64(30)
            mixed *= np.uint64(0xBF58476D1CE4E5B9)
            mixed ^= mixed >> np.uint64(27)
            mixed *= np.uint64(0x94D049BB133111EB)
            mixed ^= mixed >> np.uint64(31)
        hashes[word] = np.uint32(mixed >> np.uint64(32))
    return hashes


def _words(
    data: np.ndarray, offsets: np.ndarray, word_bytes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The words of :func:`word_hashes` in the UTF-8 bytes and the texts' offsets into
    them: each word's first byte, its length and its text.

    Compiled (``arrays.compiled``): a few passes over the bytes. As whole-array numpy
    passes (arrays of a dozen times the bytes) it took twice as long: 1.4 s against
    0.6 s for 300,000 prompts of the realistic benchmark log (88 MB).
    """
    n = len(data)
    word = np.empty(n + 1, dtype=np.bool_)  # one past the end: no word there
    starts = np.empty(n + 1, dtype=np.bool_)
    word[n] = False
    starts[n] = False
    wide = False
    previous = False
    for i in range(n):  # without branches: the bytes' classes are unpredictable
        current = word_bytes[data[i]]
        word[i] = current
        starts[i] = current & (not previous)
        previous = current
        wide |= data[i] >= 0xE2
    if n >= 3 and wide:
        # three-byte characters: punctuation separates, each ideograph or kana is a word
        for i in range(n - 2):
            first, second = data[i], data[i + 1]
            if (first == 0xE2 and second <= 0x81) or (first == 0xE3 and second == 0x80):
                word[i] = False
                word[i + 1] = False
                word[i + 2] = False
        for i in range(n - 2):
            first, second = data[i], data[i + 1]
            if (first == 0xE3 and second >= 0x81) or (first >= 0xE4 and first <= 0xE9):
                starts[i] = True
                if i + 3 < n:
                    starts[i + 3] = True
        for i in range(1, n):
            if word[i] and not word[i - 1]:
                starts[i] = True
        for i in range(n):
            starts[i] = starts[i] and word[i]
    # no word runs across texts
    for text in range(len(offsets) - 1):
        if offsets[text] < offsets[text + 1]:
            starts[offsets[text]] = word[offsets[text]]
    count = 0
    for i in range(n):
        count += starts[i]
    first = np.empty(count, dtype=np.int64)
    length = np.empty(count, dtype=np.int64)
    owner = np.empty(count, dtype=np.int64)
    index = text = start = 0
    for i in range(n):
        if starts[i]:
            start = i
        if word[i] & (starts[i + 1] | (not word[i + 1])):  # the word's last byte
            while offsets[text + 1] <= start:
                text += 1
            first[index], length[index], owner[index] = start, i + 1 - start, text
            index += 1
    return first, length, owner


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
