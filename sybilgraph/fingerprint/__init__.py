"""fingerprint: prompt texts become template fingerprints, in two tiers."""

from sybilgraph.fingerprint.grouping import (
    TemplateSignatures,
    fingerprint_prompts,
    hash_strings,
    mask_prompts,
    near_duplicate_groups,
    template_groups,
)

__all__ = [
    "TemplateSignatures",
    "fingerprint_prompts",
    "hash_strings",
    "mask_prompts",
    "near_duplicate_groups",
    "template_groups",
]
