"""Instruction wrappers: the boilerplate an operator (or a tool) puts around every
prompt it sends, whatever the task inside.

A data set swept through a model arrives as thousands of different task bodies, each
inside the same long opening ("You are an expert ... think step by step ...") and
closing. Whole-prompt MinHash does not group such prompts (the body dominates); their
two ends do: the first and the last ``chars`` characters of the masked text of every
prompt long enough to hold both ends and a body between them. Each end hashes to a value
of the ``wrapper`` key. A popular tool's wrapper, held by thousands of accounts, is a hub;
an operator's, held by its hundreds of accounts, links them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.errors import ConfigError
from sybilgraph.fingerprint.arrays import as_string_array
from sybilgraph.fingerprint.masking import hash_strings

__all__ = ["wrapper_hashes"]


def wrapper_hashes(templates: pa.Array | pa.ChunkedArray, chars: int, min_chars: int) -> pa.Table:
    """The hashes of the opening and the closing of each masked prompt.

    Parameters
    ----------
    templates
        Masked prompt texts (:func:`~sybilgraph.fingerprint.mask_prompts`).
    chars
        Characters taken from each end.
    min_chars
        The shortest text that has a wrapper: shorter texts (everyday questions) get
        nulls, as does a null text. At least ``2 * chars``, so the ends never overlap.

    Returns
    -------
    pyarrow.Table with int64 columns ``head`` and ``tail`` (null where no wrapper).
    """
    if chars < 1 or min_chars < 2 * chars:
        raise ConfigError(
            f"prompt.wrapper_chars ({chars}) must be at least 1 and prompt.wrapper_min_chars "
            f"({min_chars}) at least twice it"
        )
    text = as_string_array(templates)
    long = pc.fill_null(pc.greater_equal(pc.utf8_length(text), min_chars), False)
    # only the long texts' ends are hashed: most prompts are too short to have a wrapper
    wrapped = pc.filter(text, long)
    missing = ~np.asarray(long.to_numpy(zero_copy_only=False), dtype=bool)
    return pa.table(
        {
            "head": _spread(hash_strings(pc.utf8_slice_codeunits(wrapped, 0, chars)), missing),
            "tail": _spread(hash_strings(pc.utf8_slice_codeunits(wrapped, -chars)), missing),
        }
    )


def _spread(hashes: np.ndarray, missing: np.ndarray) -> pa.Array:
    """The hashes of the texts not ``missing``, in their places among all texts: int64,
    null where missing."""
    spread = np.zeros(len(missing), dtype=np.int64)
    spread[~missing] = hashes.view(np.int64)
    return pa.array(spread, pa.int64(), mask=missing)
