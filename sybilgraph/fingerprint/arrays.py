"""Arrow and numpy helpers shared by the fingerprint modules.

Texts come as Arrow arrays of any string flavour; the work on them is cut into slices run
on a few threads (Arrow's kernels and numpy release the GIL); hashes are mixed with one
bijective 64-bit finaliser.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_T = TypeVar("_T")
_MASK64 = (1 << 64) - 1


def as_string_array(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One Arrow string or large_string array of the texts.

    Chunked arrays are combined, dictionaries decoded, string views cast to large_string
    and an all-null array becomes nulls of type string; other types raise TypeError.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.string())
    if not isinstance(texts, pa.Array):
        texts = pa.array(texts, pa.string())
    if pa.types.is_dictionary(texts.type):
        texts = texts.dictionary_decode()
    if pa.types.is_null(texts.type):
        return pa.nulls(len(texts), pa.string())
    if getattr(pa.types, "is_string_view", lambda _: False)(texts.type):  # pyarrow 16 on
        texts = texts.cast(pa.large_string())
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise TypeError(f"prompts must be strings, not {texts.type}")
    return texts


def _offsets(texts: pa.Array) -> np.ndarray:
    """A string array's offsets into its data buffer (``len + 1`` of them), as int64."""
    offset_type = np.int64 if pa.types.is_large_string(texts.type) else np.int32
    offsets = np.frombuffer(texts.buffers()[1], dtype=offset_type)
    return offsets[texts.offset : texts.offset + len(texts) + 1].astype(np.int64)


def utf8_bytes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of a string array and its offsets into them (nulls are empty)."""
    buffers = texts.buffers()
    offsets = _offsets(texts)
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None
        else np.zeros(0, np.uint8)
    )
    data = data[offsets[0] : offsets[-1]]
    return data, offsets - offsets[0]


def slices(array: pa.Array, size: int, max_bytes: int = 0) -> list[pa.Array]:
    """The array cut into zero-copy slices of at most ``size`` values and, for a string
    array with ``max_bytes``, of at most that many bytes of text (a longer text makes
    a slice of its own): long texts are spread over the threads, not left to one."""
    n = len(array)
    if max_bytes <= 0 or not (
        pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
    ):
        if n <= size:
            return [array]
        return [array.slice(start, size) for start in range(0, n, size)]
    offsets = _offsets(array)
    if n <= size and int(offsets[-1] - offsets[0]) <= max_bytes:
        return [array]
    parts, start = [], 0
    while start < n:
        # the last end at which the slice holds at most max_bytes, at least one text
        within = int(np.searchsorted(offsets, offsets[start] + max_bytes, side="right")) - 1
        end = min(start + size, max(within, start + 1), n)
        parts.append(array.slice(start, end - start))
        start = end
    return parts


def concat(parts: list[pa.Array], type_: pa.DataType) -> pa.Array:
    """One array of the parts, in order."""
    if len(parts) == 1:
        return parts[0]
    return pa.chunked_array(parts, type=type_).combine_chunks()


def parallel(func: Callable[[_T], object], items: Iterable[_T]) -> list:
    """``[func(item) for item in items]`` on a few threads (Arrow and numpy drop the GIL)."""
    items = list(items)
    workers = min(len(items), os.cpu_count() or 1, 8)
    if workers <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, items))


@functools.cache
def compiled(func: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``func`` compiled to machine code by numba, on first use (a run that never needs
    it never pays) and kept for later processes: compiling the three kernels took 1.1 s
    a process, loading them takes about 0.1 s. ``nogil``: the compiled code runs side by
    side on :func:`parallel`'s threads. Get it before starting the threads, so that it
    is compiled once. Integer code gives the very numbers the same code would in
    Python."""
    import numba

    try:
        # kept beside the module (or in the user's cache folder) for the next process
        return numba.njit(nogil=True, cache=True)(func)  # type: ignore[no-any-return]
    except RuntimeError:  # no folder to keep it in: compiled again by each process
        return numba.njit(nogil=True)(func)  # type: ignore[no-any-return]


def expand(values: np.ndarray, indices: pa.Array) -> np.ndarray:
    """``values[indices]`` with null indices giving 0."""
    if indices.null_count:
        positions = pc.fill_null(indices, len(values)).to_numpy(zero_copy_only=False)
        return np.append(values, np.uint64(0))[positions]
    return values[indices.to_numpy(zero_copy_only=False)]


def seeded_words(seed: int, count: int) -> np.ndarray:
    """``count`` well-mixed uint64 words from ``seed`` alone (hash functions' parameters):
    the same seed gives the same words on every machine."""
    counter = np.arange(count, dtype=np.uint64) + np.uint64((seed * 0x9E3779B9) & _MASK64)
    return mix64(counter * np.uint64(0x9E3779B97F4A7C15))


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``values`` sorted (in place), each once: several times faster than ``np.unique``,
    which hashes every value where a sort takes ids that come nearly in order (most
    texts are their own group, in the order of their hashes) in a few milliseconds."""
    values.sort()
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def distinct_count(values: np.ndarray) -> int:
    """How many distinct values there are (``values`` is left as it is)."""
    return len(sorted_unique(values.copy()))


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijective, well-mixed uint64 -> uint64 (in place)."""
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values
