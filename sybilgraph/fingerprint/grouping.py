"""Tier 2: masked texts that are near-duplicates of each other share a template group.

Slots filled with other words, a synonym swapped, a typo: such texts are joined with
MinHash signatures (:mod:`.minhash`) and banded LSH (:mod:`.lsh`), verified pair by pair;
groups are the connected components of the verified pairs.

Engines call these on the DISTINCT prompts of a run, fetched as an Arrow array: up to
tens of millions of texts, so everything here is vectorised (Arrow, numpy) and nothing
loops over prompts in Python.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.config import PromptConfig
from sybilgraph.fingerprint.arrays import as_string_array, compiled, expand, parallel
from sybilgraph.fingerprint.lsh import LSHBanding, prepare_kernels
from sybilgraph.fingerprint.masking import hash_strings, mask_prompts
from sybilgraph.fingerprint.minhash import MinHash

#: how many times texts cut from a chain are grouped again among themselves
_REGROUP_ROUNDS = 3


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
        MinHash length and LSH bands (``num_perm // bands`` values per band); ``bands``
        0 derives bands and rows from ``threshold`` (:meth:`LSHBanding.derived`). Two
        texts of Jaccard similarity s become candidates with probability
        1 - (1 - s^rows)^bands.
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

    Raises
    ------
    ConfigError
        When a setting is out of range; the message names it.

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
    config = PromptConfig(
        shingle_size=shingle_size,
        num_perm=num_perm,
        bands=bands,
        threshold=threshold,
        min_words=min_words,
        break_chains=break_chains,
    )
    minhash = _minhash_of(config, seed)
    array = as_string_array(masked)
    if len(array) == 0:
        return np.zeros(0, dtype=np.uint64)
    encoded = pc.dictionary_encode(array)
    distinct = encoded.dictionary
    hashes = hash_strings(distinct)
    groups = _distinct_groups(distinct, hashes, minhash, config)
    return expand(groups, encoded.indices)


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
    array = as_string_array(texts)
    templates = mask_prompts(array)
    if len(templates) == 0:
        empty = pa.array([], pa.uint64())
        return pa.table({"template": templates, "template_hash": empty, "group": empty})
    encoded = pc.dictionary_encode(templates)
    distinct = encoded.dictionary
    hashes = hash_strings(distinct)
    if config.near_duplicates:
        groups = _distinct_groups(distinct, hashes, _minhash_of(config, seed), config)
    else:
        groups = hashes
    return pa.table(
        {
            "template": templates,
            "template_hash": pa.array(expand(hashes, encoded.indices)),
            "group": pa.array(expand(groups, encoded.indices)),
        }
    )


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

    ``hashes`` are the texts' tier-1 hashes (in the order they came to :meth:`of`; a
    :class:`TemplateSigner` gives them sorted as unsigned numbers), ``counts`` their
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
        minhash = _minhash_of(config, seed)
        hash_parts: list[np.ndarray] = []
        count_parts: list[np.ndarray] = []
        # signatures go into one array that grows by doubling: no second copy at the end
        signature = minhash.empty()
        filled = 0
        for batch_hashes, texts in batches:
            counts, part = minhash.signatures(as_string_array(texts))
            hash_parts.append(np.asarray(batch_hashes, dtype=np.uint64))
            count_parts.append(counts)
            signature = _room(signature, filled + len(part))
            signature[filled : filled + len(part)] = part
            filled += len(part)
        if not hash_parts:
            empty = np.zeros(0, dtype=np.uint64)
            return cls(empty, np.zeros(0, dtype=np.int64), signature, config)
        hashes, counts = np.concatenate(hash_parts), np.concatenate(count_parts)
        return cls(hashes, counts, signature[:filled], config)

    #: what the two groupings of a run (:meth:`groupings`) hold per text while they run,
    #: beside the signatures: the components' parents, each band's members and buckets,
    #: the pairs checked (measured: 124 bytes at 30M synth events, 137 at 10M)
    GROUPING_BYTES_PER_TEXT = 128

    @staticmethod
    def bytes_per_text(config: PromptConfig) -> int:
        """What :meth:`of` holds per text: its signature, tier-1 hash and word count."""
        return config.num_perm * np.dtype(_minhash_of(config, 0).dtype).itemsize + 16

    def groups(self, threshold: float, subset: np.ndarray | None = None) -> np.ndarray:
        """Group ids (as :func:`template_groups` gives them) at ``threshold``.

        With ``subset`` (positions into ``hashes``), only those texts are grouped, among
        themselves, and their ids come back in the subset's order; the result is the one
        a run over those texts alone would give.
        """
        banding = LSHBanding.of(self.config.num_perm, self.config.bands, threshold)
        hashes, counts, rows = self.hashes, self.counts, None
        if subset is not None:
            row = np.cumsum(counts >= self.config.min_words) - 1  # signature row per text
            hashes, counts = hashes[subset], counts[subset]
            # the subset's signatures are read in place, not copied
            rows = row[subset[counts >= self.config.min_words]]
        return _signed_groups(
            hashes,
            counts,
            self.signature,
            banding,
            self.config.min_words,
            self.config.break_chains,
            rows,
        )

    def groupings(self, requests: Sequence[tuple[float, np.ndarray | None]]) -> list[np.ndarray]:
        """:meth:`groups` for each (threshold, subset), side by side on threads.

        The groupings share only the signatures, which they read. The two of a run (all
        templates at ``prompt.threshold``, the heavy accounts' at their own) took 3.1 s
        on two threads instead of 4.5 s one after the other (1.4M templates).
        """
        prepare_kernels()
        return parallel(lambda request: self.groups(*request), requests)


class TemplateSigner:
    """Signs texts batch by batch as they pass, a text in any number of rows, in any
    order, and gives the :class:`TemplateSignatures` of the distinct texts at the end,
    in the order of their hashes as unsigned numbers.

    Tier 1 signs each batch of masked prompts while it has them: the texts are not kept
    to be read again (at 30M synth events, 18.6M templates the engine held and spilled
    beside the events, for tier 2 to stream them back). It holds every row's signature
    until :meth:`signatures` keeps one per hash, in place.

    Should two texts share a hash, the one with fewer words, then the least signature,
    stands for it: the choice rests on the texts alone, not on the order of the rows,
    and texts that tie on both give the same groups.
    """

    def __init__(self, config: PromptConfig, seed: int, rows: int = 0) -> None:
        self.config = config
        self._minhash = _minhash_of(config, seed)
        rows = max(int(rows), 0)
        # zeros: the pages are the system's until a row is written in them
        self._hashes = np.zeros(rows, dtype=np.uint64)
        self._words = np.zeros(rows, dtype=np.int32)
        self._signature = np.zeros((rows, config.num_perm), dtype=self._minhash.dtype)
        self._rows = 0
        self._signed = 0

    def add(self, hashes: np.ndarray, texts: pa.Array | pa.ChunkedArray) -> None:
        """Sign a batch: ``hashes`` (uint64, tier 1) and their masked ``texts``."""
        words, part = self._minhash.signatures(as_string_array(texts))
        if len(words) != len(hashes):
            raise ValueError(f"{len(hashes)} hashes for {len(words)} texts")
        start, end = self._rows, self._rows + len(words)
        self._hashes = _room(self._hashes, end)
        self._words = _room(self._words, end)
        self._hashes[start:end] = hashes
        self._words[start:end] = words
        top = self._signed + len(part)
        self._signature = _room(self._signature, top)
        self._signature[self._signed : top] = part
        self._rows, self._signed = end, top

    def signatures(self) -> TemplateSignatures:
        """The signatures of the distinct texts of the rows signed; the signer is spent.

        Beside what the signer holds, this takes three numbers a row for a while (the
        rows' order by hash, each row's signature, the rows chosen), then two; the rows
        not kept are let go of at the end, so that the result holds one row a text."""
        hashes, words = self._hashes[: self._rows], self._words[: self._rows]
        row = compiled(_signature_rows)(words, self.config.min_words)
        order = np.argsort(hashes)
        chosen = compiled(_choose_rows)(order, hashes, words, row, self._signature)
        del order
        kept = row[chosen]
        del row
        kept = kept[kept >= 0]
        compiled(_gather_rows)(self._signature[: self._signed], kept)
        unique, counts = hashes[chosen], words[chosen].astype(np.int64)
        del chosen
        signature = self._signature
        self._hashes = np.zeros(0, dtype=np.uint64)
        self._words = np.zeros(0, dtype=np.int32)
        self._signature = self._minhash.empty()
        self._rows = self._signed = 0
        # the rows past those kept go back to the system (the array is the signer's
        # own, and no view of it is left)
        signature.resize((len(kept), signature.shape[1]), refcheck=False)
        return TemplateSignatures(unique, counts, signature, self.config)


def _room(array: np.ndarray, rows: int) -> np.ndarray:
    """``array``, or a copy twice as long where it has fewer than ``rows`` rows."""
    if rows <= len(array):
        return array
    grown = np.zeros((max(2 * len(array), rows), *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _signature_rows(words: np.ndarray, min_words: int) -> np.ndarray:
    """Each text's row among the signatures: texts of ``min_words`` words or more are
    signed, in order; -1 for the others.

    Compiled (``arrays.compiled``).
    """
    row = np.empty(len(words), dtype=np.int64)
    signed = 0
    for i in range(len(words)):
        if words[i] >= min_words:
            row[i] = signed
            signed += 1
        else:
            row[i] = -1
    return row


def _choose_rows(
    order: np.ndarray,
    hashes: np.ndarray,
    words: np.ndarray,
    row: np.ndarray,
    signature: np.ndarray,
) -> np.ndarray:
    """One row per distinct hash, in the order ``order`` sorts the hashes: of the rows of
    a hash, the one with fewest ``words``, then the least signature (row ``row[i]`` of
    ``signature``; -1 for a text too short to sign).

    Compiled (``arrays.compiled``).
    """
    n = len(order)
    chosen = np.empty(n, dtype=np.int64)
    width = signature.shape[1]
    found = 0
    i = 0
    while i < n:
        best = order[i]
        j = i + 1
        while j < n and hashes[order[j]] == hashes[best]:
            other = order[j]
            if words[other] < words[best]:
                best = other
            elif words[other] == words[best] and row[other] >= 0:
                for lane in range(width):
                    a, b = signature[row[other], lane], signature[row[best], lane]
                    if a != b:
                        if a < b:
                            best = other
                        break
            j += 1
        chosen[found] = best
        found += 1
        i = j
    return chosen[:found].copy()


def _gather_rows(signature: np.ndarray, source: np.ndarray) -> None:
    """Row ``i`` of ``signature`` becomes its row ``source[i]``, in place, for each
    ``i`` below ``len(source)`` (distinct rows); the rows past are left in any order.

    Compiled (``arrays.compiled``): the rows move along the cycles of one permutation of
    them all (``source``, then the rows it leaves out), each row once.
    """
    n, width = signature.shape
    taken = np.zeros(n, dtype=np.bool_)
    permutation = np.empty(n, dtype=np.int64)
    for i in range(len(source)):
        permutation[i] = source[i]
        taken[source[i]] = True
    at = len(source)
    for i in range(n):
        if not taken[i]:
            permutation[at] = i
            at += 1
    done = np.zeros(n, dtype=np.bool_)
    first = np.empty(width, dtype=signature.dtype)
    for start in range(n):
        if done[start]:
            continue
        done[start] = True
        if permutation[start] == start:
            continue
        for lane in range(width):
            first[lane] = signature[start, lane]
        at = start
        while permutation[at] != start:
            source_row = permutation[at]
            for lane in range(width):
                signature[at, lane] = signature[source_row, lane]
            done[source_row] = True
            at = source_row
        for lane in range(width):
            signature[at, lane] = first[lane]


def _minhash_of(config: PromptConfig, seed: int) -> MinHash:
    """The MinHash settings of a config; checks the LSH settings at its threshold too.

    Values keep the bits a band of ``config.threshold``'s banding needs; grouping the
    same signatures at another threshold whose bands have fewer bits only makes more
    candidates to verify.
    """
    banding = LSHBanding.of(config.num_perm, config.bands, config.threshold)
    return MinHash(
        num_perm=config.num_perm,
        shingle_size=config.shingle_size,
        min_words=config.min_words,
        seed=seed,
        bits=MinHash.bits_for_band(banding.rows),
    )


def _distinct_groups(
    distinct: pa.Array, hashes: np.ndarray, minhash: MinHash, config: PromptConfig
) -> np.ndarray:
    """Group ids of distinct, non-null masked texts (``hashes`` their tier-1 hashes)."""
    counts, signature = minhash.signatures(distinct)
    banding = LSHBanding.of(config.num_perm, config.bands, config.threshold)
    return _signed_groups(hashes, counts, signature, banding, config.min_words, config.break_chains)


def _signed_groups(
    hashes: np.ndarray,
    counts: np.ndarray,
    signature: np.ndarray,
    banding: LSHBanding,
    min_words: int,
    break_chains: bool = False,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Group ids from the words per text and the signatures of the eligible texts (the
    rows ``rows`` of ``signature``, one per eligible text; all of them by default)."""
    groups = hashes.copy()
    eligible = np.flatnonzero(counts >= min_words)
    if len(eligible) < 2:
        return groups
    # work in the order of the hashes: a bucket's representative and a component's root
    # are then its smallest member, which makes the result independent of input order
    order = np.argsort(hashes[eligible], kind="stable")
    if not np.array_equal(order, np.arange(len(order))):  # callers may send them sorted
        rows = order if rows is None else rows[order]
    root = banding.components(signature, rows)
    if break_chains:
        root = _break_chains(signature, root, banding, rows)
    groups[eligible[order]] = hashes[eligible[order]][root]
    return groups


def _break_chains(
    signature: np.ndarray, root: np.ndarray, banding: LSHBanding, rows: np.ndarray | None = None
) -> np.ndarray:
    """Keep in each group only the texts similar to its root; regroup the others.

    Components of similar pairs can chain: a~b~c~… joins texts at the two ends that
    share little, and on real traffic one chain can swallow most prompts and turn into a
    hub that hides the rings inside it. A text that is not itself similar to its root
    leaves the group and is grouped again among the others that left (a few rounds; what
    is left after them stays alone).
    """
    index = np.arange(len(root))
    joined = index[root != index]
    loose = joined[~banding.similar(signature, joined, root[joined], rows)]
    for _ in range(_REGROUP_ROUNDS):
        root[loose] = loose
        if len(loose) < 2:
            return root
        local = banding.components(signature, loose if rows is None else rows[loose])
        root[loose] = loose[local]
        joined = loose[local != np.arange(len(loose))]
        loose = joined[~banding.similar(signature, joined, root[joined], rows)]
    root[loose] = loose
    return root
