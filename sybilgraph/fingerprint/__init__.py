"""fingerprint: prompt texts become template fingerprints, in two tiers.

Tier 1 (:func:`mask_prompts`, :func:`hash_strings`, in :mod:`.masking`) masks the
variable parts of a prompt (numbers, URLs, e-mails, quoted strings, ids) so that prompts
from one template with different values become one text, and hashes it. Tier 2
(:func:`template_groups`, in :mod:`.grouping`) joins masked texts that are near-duplicates
of each other with MinHash signatures (:class:`MinHash`) and banded LSH
(:class:`LSHBanding`), verified pair by pair.
"""

from sybilgraph.fingerprint.arrays import distinct_count
from sybilgraph.fingerprint.grouping import (
    TemplateSignatures,
    TemplateSigner,
    fingerprint_prompts,
    near_duplicate_groups,
    template_groups,
)
from sybilgraph.fingerprint.lsh import LSHBanding
from sybilgraph.fingerprint.masking import hash_strings, mask_prompts
from sybilgraph.fingerprint.minhash import MinHash
from sybilgraph.fingerprint.unionfind import components
from sybilgraph.fingerprint.wrappers import wrapper_hashes

__all__ = [
    "LSHBanding",
    "MinHash",
    "TemplateSignatures",
    "TemplateSigner",
    "components",
    "distinct_count",
    "fingerprint_prompts",
    "hash_strings",
    "mask_prompts",
    "near_duplicate_groups",
    "template_groups",
    "wrapper_hashes",
]
