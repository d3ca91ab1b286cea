"""MinHash signatures of masked texts: b-bit minima of seeded permutations of word shingles.

Two texts' signatures agree, value by value, with probability their Jaccard similarity
(plus the chance agreement of the bits kept), so the share of equal values estimates it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa

from sybilgraph.errors import ConfigError
from sybilgraph.fingerprint.arrays import parallel, seeded_words
from sybilgraph.fingerprint.words import shingle_hashes, word_hashes

#: at most this many shingles of a prompt are compared in one padded row
_PIECE = 32
#: piece widths: a piece is padded (with its own first shingle) to the next of these
_WIDTHS = (2, 4, 8, 16, 24, _PIECE)
#: prompts per MinHash block; bounds the memory of one block to a few tens of MB
_BLOCK = 1 << 13
#: pieces per vectorised MinHash step (num_perm x this many uint32 stay in cache)
_STEP = 2048
#: bits that may be kept of each value, and the numpy type holding them
_DTYPES: dict[int, type[np.unsignedinteger]] = {8: np.uint8, 16: np.uint16, 32: np.uint32}


@dataclasses.dataclass(frozen=True)
class MinHash:
    """How texts become signatures: ``num_perm`` b-bit MinHash values of their shingles.

    Parameters
    ----------
    num_perm
        Values per signature (``prompt.num_perm``).
    shingle_size
        Words per shingle (``prompt.shingle_size``).
    min_words
        Texts with fewer words get no signature (``prompt.min_words``).
    seed
        Seeds the permutations: the same seed gives the same signatures on every run.
    bits
        Bits kept of each value: 8, 16 or 32 (see :meth:`bits_for_band`).

    Raises
    ------
    ConfigError
        When a setting is out of range; the message names it.
    """

    num_perm: int = 64
    shingle_size: int = 1
    min_words: int = 3
    seed: int = 0
    bits: int = 8

    def __post_init__(self) -> None:
        if self.num_perm < 1:
            raise ConfigError(f"prompt.num_perm must be at least 1, not {self.num_perm}")
        if self.shingle_size < 1:
            raise ConfigError(f"prompt.shingle_size must be at least 1, not {self.shingle_size}")
        if self.min_words < 1:
            raise ConfigError(f"prompt.min_words must be at least 1, not {self.min_words}")
        if self.bits not in _DTYPES:
            raise ConfigError(f"MinHash bits must be 8, 16 or 32, not {self.bits}")

    @staticmethod
    def bits_for_band(rows: int) -> int:
        """Bits to keep per value so that one LSH band of ``rows`` values holds 32 or more.

        Fewer bits make signatures smaller (``num_perm`` bytes a text at 8 bits) and the
        comparisons faster; a band needs about 32 bits so that texts agreeing on it by
        chance are rare.
        """
        if rows >= 4:
            return 8
        if rows >= 2:
            return 16
        return 32

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        """The numpy type of a signature's values."""
        return _DTYPES[self.bits]

    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        """Odd multipliers and offsets of ``x -> a * x + b (mod 2**32)``, from the seed alone.

        Both come as (num_perm, 1) uint32 columns.
        """
        params = seeded_words(self.seed, 2 * self.num_perm)
        a = (params[: self.num_perm] >> np.uint64(32)).astype(np.uint32) | np.uint32(1)
        b = (params[self.num_perm :] >> np.uint64(32)).astype(np.uint32)
        return a[:, None], b[:, None]

    def empty(self) -> np.ndarray:
        """A signature array of no texts."""
        return np.zeros((0, self.num_perm), dtype=self.dtype)

    def signatures(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Words per text, and the signatures of the texts with ``min_words`` words.

        Parameters
        ----------
        texts
            Masked texts (Arrow string or large_string); null counts as no words.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            int64 words per text, and an (eligible, num_perm) array of :attr:`dtype`, the
            eligible texts in input order.
        """
        a, b = self.permutations()
        dtype = self.dtype

        def block(start: int) -> tuple[np.ndarray, np.ndarray]:
            tokens, owner = word_hashes(texts.slice(start, _BLOCK))
            counts = np.bincount(owner, minlength=min(_BLOCK, len(texts) - start))
            eligible = counts >= self.min_words
            keep = eligible[owner]
            shingles, per_text = shingle_hashes(tokens[keep], counts[eligible], self.shingle_size)
            minima = _minhash(shingles, per_text, a, b)
            # the low bits of a * x + b are weak; bits 8 and up of the minimum are as good
            # as random given which shingle won
            kept = minima >> np.uint32(8) if dtype != np.uint32 else minima
            return counts.astype(np.int64), kept.astype(dtype)

        parts = parallel(block, range(0, len(texts), _BLOCK))
        if not parts:
            return np.zeros(0, dtype=np.int64), self.empty()
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


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
