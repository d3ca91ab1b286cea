"""fingerprint: masking (tier 1), hashing, and near-duplicate template groups (tier 2)."""

from __future__ import annotations

import random
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sybilgraph.config import PromptConfig
from sybilgraph.errors import ConfigError
from sybilgraph.fingerprint import (
    LSHBanding,
    MinHash,
    TemplateSignatures,
    TemplateSigner,
    components,
    fingerprint_prompts,
    hash_strings,
    mask_prompts,
    near_duplicate_groups,
    template_groups,
)
from sybilgraph.fingerprint.lsh import agreements
from sybilgraph.fingerprint.masking import MASKS
from sybilgraph.fingerprint.unionfind import compress, roots, union
from sybilgraph.fingerprint.words import word_hashes


def _mask(text: str) -> str | None:
    return mask_prompts(pa.array([text]))[0].as_py()


def _groups(texts: list[str | None], **kwargs: object) -> list[int]:
    return template_groups(mask_prompts(pa.array(texts, pa.string())), **kwargs).tolist()  # type: ignore[arg-type]


# --- tier 1: masking -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (
            "Order 12345 costs 1,299.99 on 2024-01-05 at 10:30",
            "order <num> costs <num> on <num> at <num>",
        ),
        ("see https://example.com/a?b=1. then www.foo.org/x", "see <url>. then <url>"),
        ("Mail BOB.smith+tag@Example.co.uk now", "mail <email> now"),
        ("say \"hi there\" and 'yo' but don't stop", "say <str> and <str> but don't stop"),
        ("“smart” ‘quotes’ «guillemets»", "<str> <str> <str>"),
        ("id 550e8400-e29b-41d4-a716-446655440000 and a1b2c3d4e5", "id <id> and <id>"),
        ("mp3 and gpt4 stay words", "mp<num> and gpt<num> stay words"),
        ("  Many   SPACES\tand\nlines  ", "many spaces and lines"),
        ("non\u00a0breaking\u3000space", "non breaking space"),
        ("url before number: http://x.io/1/2", "url before number: <url>"),
        ("", ""),
    ],
)
def test_mask_cases(raw: str, masked: str) -> None:
    assert _mask(raw) == masked


def test_mask_keeps_nulls_length_and_order() -> None:
    texts = pa.array(["A 1", None, "b 2"] * 40_000)  # more than one parallel slice
    masked = mask_prompts(texts)
    assert len(masked) == len(texts)
    assert masked[:3].to_pylist() == ["a <num>", None, "b <num>"]
    assert masked.null_count == 40_000


def test_mask_accepts_large_string_and_chunked() -> None:
    large = pa.array(["X 1"], pa.large_string())
    assert mask_prompts(large).to_pylist() == ["x <num>"]
    assert mask_prompts(pa.chunked_array([["A"], ["B 2"]])).to_pylist() == ["a", "b <num>"]


_pieces = st.one_of(
    st.characters(codec="utf-8"),  # any code point Arrow accepts (no surrogates), NUL too
    st.sampled_from(list("0123456789 .,:/-'\"@<>_“”‘’«»\x00\t\n")),
    st.sampled_from(["http://", "www.", "a1b2c3", "<num>", " x@y.z ", "İ", "ǅ", "\u00a0"]),
)
_prompt_text = st.lists(_pieces, max_size=30).map("".join)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), _prompt_text), max_size=25))
def test_masking_is_idempotent_and_never_raises(texts: list[str | None]) -> None:
    once = mask_prompts(pa.array(texts, pa.string()))
    twice = mask_prompts(once)
    assert once.to_pylist() == twice.to_pylist()
    assert len(once) == len(texts)


# lowercase words joined by single spaces: texts that lowercasing and the whitespace rules
# leave as they are, so that masking them is the masks alone
_normal_words = st.lists(
    st.one_of(
        st.sampled_from(list("0123456789.,:/-'\"@<>_“”‘’«»")),
        st.sampled_from(["http://", "www.", "a1b2c3", "x86_64", "<num>", "don't", "é", "日本"]),
        st.text("abcdefz", min_size=1, max_size=8),
    ),
    min_size=1,
    max_size=6,
).map("".join)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(_normal_words, min_size=1, max_size=8).map(" ".join), max_size=25))
def test_masking_equals_every_mask_applied_in_turn(texts: list[str]) -> None:
    # mask_prompts skips the masks for texts no mask matches: that must change nothing
    expected = pa.array(texts, pa.string())
    for pattern, replacement in MASKS:
        expected = pc.replace_substring_regex(expected, pattern, replacement)
    assert mask_prompts(pa.array(texts, pa.string())).to_pylist() == expected.to_pylist()


# --- hashing ---------------------------------------------------------------------------------


def test_hash_is_stable_and_null_is_zero() -> None:
    hashed = hash_strings(pa.array(["hello", None, ""]))
    assert hashed.dtype == np.uint64
    # a fixed value: these must not change between runs, processes, platforms or releases
    assert hashed.tolist() == [16732354325915869343, 0, 1760245841805064774]
    assert hash_strings(pa.array([], pa.string())).shape == (0,)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), st.text(max_size=40)), min_size=1, max_size=60),
    large=st.booleans(),
    cut=st.integers(0, 5),
)
def test_hash_is_pandas_siphash_of_the_bytes(
    texts: list[str | None], large: bool, cut: int
) -> None:
    # the hashes are computed on the Arrow buffers; the ids they give must stay pandas'
    array = pa.array(texts, pa.large_string() if large else pa.string()).slice(cut)
    values = [t.encode("utf-8") if t is not None else b"" for t in array.to_pylist()]
    expected = pd.util.hash_array(np.array(values, dtype=object), categorize=False)
    expected[[t is None for t in array.to_pylist()]] = 0
    assert hash_strings(array).tolist() == expected.tolist()


# --- tier 2: template groups -----------------------------------------------------------------

_UNRELATED = [
    "how do i boil an egg",
    "write a haiku about autumn leaves",
    "explain quantum computing simply",
    "what time is it in tokyo",
    "give me a recipe for pancakes",
    "how far away is the moon",
    "tell me a joke about cats",
    "summarize the plot of hamlet",
    "how do i learn python quickly",
    "recommend a good science fiction book",
    "what causes rainbows after rain",
    "how do vaccines train the immune system",
    "write a cover letter for a nursing job",
    "what is the best way to save money",
    "how do i fix a flat bicycle tire",
    "explain the rules of chess to a child",
    "who wrote pride and prejudice",
    "how do solar panels generate electricity",
    "suggest names for a golden retriever puppy",
    "what are the symptoms of the flu",
]


def _poem(rng: random.Random) -> str:
    return (
        f"Write a {rng.choice(['short', 'funny', 'sad', 'long'])} poem about "
        f"{rng.choice(['rain', 'love', 'cities', 'mountains'])} in the style of "
        f"{rng.choice(['Keats', 'Poe', 'Frost'])} with exactly {rng.randrange(4, 20)} lines"
    )


def _typo(text: str, rng: random.Random) -> str:
    chars = list(text)
    i = rng.randrange(1, len(chars) - 2)
    chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def test_slot_filled_template_is_one_group() -> None:
    rng = random.Random(1)
    family = [_poem(rng) for _ in range(30)]
    groups = _groups(family + _UNRELATED, threshold=0.5)
    assert len(set(groups[:30])) == 1
    assert not set(groups[:30]) & set(groups[30:])


def test_typos_are_one_group() -> None:
    rng = random.Random(2)
    base = "You are a helpful assistant answer the question below step by step and be brief"
    family = [base] + [_typo(base, rng) for _ in range(10)]
    groups = _groups(family + _UNRELATED)
    assert len(set(groups[: len(family)])) == 1


def test_unrelated_prompts_stay_apart() -> None:
    groups = _groups(_UNRELATED, threshold=0.5)
    assert len(set(groups)) == len(_UNRELATED)


def test_groups_do_not_depend_on_order() -> None:
    rng = random.Random(3)
    texts = [_poem(rng) for _ in range(40)] + _UNRELATED
    by_text = dict(zip(texts, _groups(texts), strict=True))
    for seed in range(3):
        shuffled = texts[:]
        random.Random(seed).shuffle(shuffled)
        again = dict(zip(shuffled, _groups(shuffled), strict=True))
        assert again == by_text


def test_group_id_is_the_smallest_hash_in_the_group() -> None:
    rng = random.Random(4)
    texts = list(dict.fromkeys(_poem(rng) for _ in range(20)))
    masked = mask_prompts(pa.array(texts))
    groups = template_groups(masked, threshold=0.5)
    hashes = hash_strings(masked)
    assert set(groups.tolist()) == {int(hashes.min())}


def test_short_prompts_are_not_grouped() -> None:
    texts = ["hello there", "hello there!", "hello there dear friend", "hello there dear friend!"]
    masked = mask_prompts(pa.array(texts))
    groups = template_groups(masked, min_words=3, threshold=0.5)
    hashes = hash_strings(masked)
    # two-word texts keep their own hash; the three-word ones group
    assert groups.tolist()[:2] == hashes.tolist()[:2]
    assert groups[2] == groups[3] != groups[0]
    short = template_groups(masked, min_words=1, threshold=0.5)
    assert short[0] == short[1]


def test_nulls_duplicates_and_determinism() -> None:
    texts = ["explain the rules of chess to a child", None, "explain the rules of chess to a child"]
    first = _groups(texts)
    assert first[1] == 0
    assert first[0] == first[2]
    assert _groups(texts) == first
    assert template_groups(pa.array([], pa.string())).shape == (0,)


@pytest.mark.parametrize("shingle_size", [2, 3])
def test_longer_shingles_still_group_near_copies(shingle_size: int) -> None:
    base = "please list ten creative names for a small coffee shop near the university campus"
    family = [base, base + " today", base.replace("ten", "twelve")]
    groups = _groups(family + _UNRELATED, shingle_size=shingle_size, threshold=0.5)
    assert len(set(groups[:3])) == 1
    assert len(set(groups)) == 1 + len(_UNRELATED)


def test_giant_bucket_is_linear_and_correct() -> None:
    # 3,000 variants of one template and 3,000 of another, interleaved: two groups
    rng = random.Random(5)
    first = [
        f"summarize chapter {i} of the report for the board in plain words" for i in range(3000)
    ]
    second = [
        f"draft a polite reply to customer {rng.random()} about the late refund"
        for _ in range(3000)
    ]
    texts = [t for pair in zip(first, second, strict=True) for t in pair]
    masked = mask_prompts(pa.array(texts))
    groups = template_groups(masked)
    assert len(set(groups.tolist())) == 2


@pytest.mark.parametrize(("alike", "family"), [(3, 3), (6, 20)])
def test_members_that_fail_in_a_small_fruitful_bucket_try_again(alike: int, family: int) -> None:
    # One bucket in band 0 holds two families: the representative's (identical rows)
    # and another whose members are like each other (7 of 8 values) but not like the
    # first (4 of 8). Band 1 keeps each of the second family's members apart, so only
    # the second round in band 0 can group them, and the bucket has no more members
    # than the sample: its sample alone says it is fruitful (a tenth of its checks or
    # more succeed).
    first = [[1, 1, 1, 1, 9, 9, 9, 9]] * alike
    second = [[1, 1, 1, 1, 20 + i, 30, 31, 32] for i in range(family)]
    signature = np.array(first + second, dtype=np.uint8)
    banding = LSHBanding(8, 2, 4, 0.6)
    roots = banding.components(signature)
    assert roots.tolist() == [0] * alike + [alike] * family


def test_bad_parameters_are_refused() -> None:
    masked = mask_prompts(pa.array(["a b c"]))
    with pytest.raises(ConfigError, match="num_perm"):
        template_groups(masked, num_perm=60, bands=16)
    with pytest.raises(ConfigError, match="threshold"):
        template_groups(masked, threshold=0.0)
    with pytest.raises(ConfigError, match="shingle_size"):
        template_groups(masked, shingle_size=0)
    with pytest.raises(ConfigError, match="min_words"):
        template_groups(masked, min_words=0)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"num_perm": 0}, "prompt.num_perm"),
        ({"shingle_size": 0}, "prompt.shingle_size"),
        ({"min_words": 0}, "prompt.min_words"),
        ({"bits": 12}, "bits"),
    ],
)
def test_minhash_refuses_bad_settings_by_name(settings: dict[str, int], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        MinHash(**settings)


@pytest.mark.parametrize(
    ("num_perm", "bands", "rows", "threshold", "named"),
    [
        (0, 1, 1, 0.6, "prompt.num_perm"),
        (64, 0, 4, 0.6, "prompt.bands"),
        (64, 16, 5, 0.6, "prompt.num_perm"),  # 16 bands of 5 need 80 values
        (64, 16, 0, 0.6, "prompt.num_perm"),
        (64, 16, 4, 0.0, "prompt.threshold"),
        (64, 16, 4, 1.5, "prompt.threshold"),
        (64, 16, 4, float("nan"), "prompt.threshold"),
    ],
)
def test_banding_refuses_bad_settings_by_name(
    num_perm: int, bands: int, rows: int, threshold: float, named: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        LSHBanding(num_perm, bands, rows, threshold)


def test_banding_of_hand_set_bands() -> None:
    assert LSHBanding.of(64, 16, 0.6) == LSHBanding(64, 16, 4, 0.6)
    with pytest.raises(ConfigError, match=re.escape("prompt.num_perm (60)")):
        LSHBanding.of(60, 16, 0.6)


def test_banding_derived_by_hand() -> None:
    # num_perm 2, threshold 0.5: (bands, rows) is (1, 1), (2, 1) or (1, 2), with candidate
    # curves s, 2s - s^2 and s^2. False-candidate area (0 to 0.5) and missed area (0.5 to 1):
    #   1 x 1: FP = 1/8,  FN = 1/8
    #   2 x 1: FP = 1/4 - 1/24 = 5/24,  FN = (1/2)^3 / 3 = 1/24
    #   1 x 2: FP = 1/24,  FN = 1/2 - 7/24 = 5/24
    # weights (0.1, 0.9): 0.125, 0.0583, 0.1917 -> 2 x 1; weights (0.9, 0.1): 1 x 2
    assert LSHBanding.derived(2, 0.5) == LSHBanding(2, 2, 1, 0.5)
    flipped = LSHBanding.derived(2, 0.5, false_positive_weight=0.9, false_negative_weight=0.1)
    assert flipped == LSHBanding(2, 1, 2, 0.5)


def test_banding_derived_at_the_default_thresholds() -> None:
    # 0.6 gives the 16 x 4 set by hand (P(0.6) = 1 - (1 - 0.6^4)^16 = 0.891); the heavy
    # accounts' 0.8 gives 9 x 7 (P(0.8) = 1 - (1 - 0.8^7)^9 = 0.880)
    assert LSHBanding.of(64, 0, 0.6) == LSHBanding(64, 16, 4, 0.6)
    assert LSHBanding.of(64, 0, 0.8) == LSHBanding(64, 9, 7, 0.8)
    assert float(LSHBanding(64, 16, 4, 0.6).candidate_probability(0.6)) == pytest.approx(
        0.8915, abs=1e-4
    )
    assert float(LSHBanding(64, 9, 7, 0.8).candidate_probability(0.8)) == pytest.approx(
        0.8798, abs=1e-4
    )
    with pytest.raises(ConfigError, match=re.escape("prompt.bands")):
        LSHBanding.of(64, -1, 0.6)
    with pytest.raises(ConfigError, match=re.escape("prompt.threshold")):
        LSHBanding.of(64, 0, 0.0)
    with pytest.raises(ConfigError, match="weights"):
        LSHBanding.derived(64, 0.6, false_positive_weight=-1.0)


@pytest.mark.parametrize(("num_perm", "threshold"), [(32, 0.5), (64, 0.4), (64, 0.7), (128, 0.9)])
def test_banding_derived_matches_a_brute_force_reference(num_perm: int, threshold: float) -> None:
    # the weighted areas of every (bands, rows) by the trapezoid rule on a fine grid
    grid = np.linspace(0.0, 1.0, 20_001)
    below, above = grid <= threshold, grid >= threshold
    best, least = (0, 0), np.inf
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            curve = 1.0 - (1.0 - grid**rows) ** bands
            error = 0.1 * np.trapezoid(curve[below], grid[below]) + 0.9 * np.trapezoid(
                1.0 - curve[above], grid[above]
            )
            if error < least:
                best, least = (bands, rows), error
    derived = LSHBanding.derived(num_perm, threshold)
    assert (derived.bands, derived.rows) == best


@settings(max_examples=60, deadline=None)
@given(st.integers(16, 128), st.floats(0.3, 0.9))
def test_banding_derived_makes_most_pairs_at_the_threshold_candidates(
    num_perm: int, threshold: float
) -> None:
    # misses weigh 9 times false candidates, so pairs right at the threshold are mostly
    # candidates: over num_perm 16-128 and thresholds 0.3-0.9 the least found on a fine
    # grid is 0.706 (num_perm 16, threshold 0.894, just where 2 bands of 7 rows win)
    banding = LSHBanding.derived(num_perm, threshold)
    assert banding.bands * banding.rows <= num_perm
    assert float(banding.candidate_probability(threshold)) >= 0.7
    assert float(banding.candidate_probability(1.0)) == 1.0


def test_derived_bands_group_as_the_hand_set_ones_at_0_6() -> None:
    rng = random.Random(8)
    texts = [_poem(rng) for _ in range(30)] + _UNRELATED
    assert _groups(texts, bands=0, seed=1) == _groups(texts, bands=16, seed=1)
    array = pa.array(sorted(set(texts)))
    hashes = hash_strings(array)
    order = np.argsort(hashes)
    batches = [(hashes[order], array.take(pa.array(order)))]
    derived = TemplateSignatures.of(batches, PromptConfig(bands=0), 1)
    assert derived.signature.dtype == np.uint8  # 4 rows at 0.6 need 8 bits a value
    strict = derived.groups(0.8)  # 9 bands of 7 rows on the same signatures
    assert len(set(strict.tolist())) >= len(set(derived.groups(0.6).tolist()))


def test_minhash_bits_fill_a_band() -> None:
    # the fewest bits of 8, 16 and 32 that give one band of `rows` values 32 bits or more
    for rows in range(1, 65):
        bits = MinHash.bits_for_band(rows)
        assert rows * bits >= 32
        assert bits == 8 or rows * (bits // 2) < 32
    assert MinHash(bits=16).signatures(pa.array(["a b c"]))[1].dtype == np.uint16


def test_minhash_estimates_jaccard() -> None:
    # word sets with known overlap: estimated similarity must track the exact one
    rng = random.Random(6)
    vocabulary = [f"w{i}x" for i in range(5000)]
    pairs = []
    for _ in range(200):
        shared = rng.sample(vocabulary, 20)
        extra = rng.sample(vocabulary, 20)
        pairs.append((" ".join(shared), " ".join(shared[: rng.randrange(5, 20)] + extra[:10])))
    minhash = MinHash(num_perm=128, min_words=1, bits=8)
    _, sig_left = minhash.signatures(pa.array([p[0] for p in pairs]))
    _, sig_right = minhash.signatures(pa.array([p[1] for p in pairs]))
    estimated = (sig_left == sig_right).mean(axis=1)
    exact = np.array(
        [
            len(set(a.split()) & set(b.split())) / len(set(a.split()) | set(b.split()))
            for a, b in pairs
        ]
    )
    corrected = (estimated - 1 / 256) / (1 - 1 / 256)
    assert abs(float(np.mean(corrected - exact))) < 0.03
    assert float(np.mean(np.abs(corrected - exact))) < 0.08


# --- both tiers ------------------------------------------------------------------------------


def test_fingerprint_prompts_columns() -> None:
    rng = random.Random(7)
    texts = pa.array([_poem(rng) for _ in range(10)] + ["Order 1", "Order 2", "hi"])
    table = fingerprint_prompts(texts, PromptConfig(threshold=0.5), seed=0)
    assert table.column_names == ["template", "template_hash", "group"]
    assert table.column("template_hash").type == pa.uint64()
    assert table.column("template").to_pylist()[10:] == ["order <num>", "order <num>", "hi"]
    hashes = table.column("template_hash").to_pylist()
    assert hashes[10] == hashes[11]
    assert len(set(table.column("group").to_pylist()[:10])) == 1

    off = fingerprint_prompts(texts, PromptConfig(near_duplicates=False), seed=0)
    assert off.column("group").to_pylist() == off.column("template_hash").to_pylist()
    empty = fingerprint_prompts(pa.array([], pa.string()), PromptConfig(), seed=0)
    assert empty.num_rows == 0


def test_chains_of_similar_texts_do_not_swallow_dissimilar_ones() -> None:
    # each text shares 17 of its 20 words with the next (Jaccard 0.74), so the pairs chain
    # A~B~C~D~E, but A and E share 8 of 32 words: a group holds only texts similar to its
    # root, so the chain is cut instead of becoming one group (and then a hub)
    texts = [" ".join(f"w{i}" for i in range(3 * k, 3 * k + 20)) for k in range(5)]
    assert len(set(template_groups(pa.array(texts), seed=0).tolist())) == 1  # chained
    groups = template_groups(pa.array(texts), seed=0, break_chains=True)
    assert groups[0] == groups[1]
    assert groups[0] != groups[4]
    assert len(set(groups.tolist())) >= 2


def test_batches_give_the_groups_of_the_whole() -> None:
    # the pipeline streams distinct templates in batches; the groups must not depend on
    # how they are cut or in which order they come
    rng = random.Random(5)
    texts = sorted(
        {_poem(rng) for _ in range(40)}
        | {
            _typo("please answer the question below step by step and be brief", rng)
            for _ in range(20)
        }
        | set(_UNRELATED)
    )
    array = pa.array(texts)
    whole = template_groups(array, seed=3, break_chains=True)
    hashes = hash_strings(array)
    for size, order in ((7, np.arange(len(texts))), (13, np.argsort(hashes))):
        batches = [
            (hashes[order[i : i + size]], array.take(pa.array(order[i : i + size])))
            for i in range(0, len(texts), size)
        ]
        got_hashes, groups = near_duplicate_groups(batches, PromptConfig(break_chains=True), seed=3)
        by_hash = dict(zip(got_hashes.tolist(), groups.tolist(), strict=True))
        assert [by_hash[h] for h in hashes.tolist()] == whole.tolist()
    assert near_duplicate_groups([], PromptConfig(), seed=3)[0].size == 0


def test_signatures_group_a_subset_at_another_threshold_as_a_run_over_it_alone() -> None:
    # heavy accounts' templates are grouped again, stricter, from the signatures of the
    # first grouping; that must be the grouping a run over those templates alone gives
    rng = random.Random(9)
    base = "write a short story about a dragon who guards a library of lost books"
    texts = sorted(
        {_typo(base, rng) for _ in range(30)}
        | {_poem(rng) for _ in range(30)}
        | set(_UNRELATED)
        | {"hi", "two words"}  # too short to compare: alone in their groups
    )
    array = pa.array(texts)
    hashes = hash_strings(array)
    order = np.argsort(hashes)
    signed = TemplateSignatures.of(
        [(hashes[order], array.take(pa.array(order)))], PromptConfig(), 3
    )
    assert signed.hashes.tolist() == hashes[order].tolist()
    assert signed.groups(0.6).tolist() == template_groups(array, seed=3)[order].tolist()
    subset = np.arange(0, len(texts), 2)  # every other text, in hash order
    alone = template_groups(array.take(pa.array(order[subset])), seed=3, threshold=0.85)
    assert signed.groups(0.85, subset).tolist() == alone.tolist()
    broad, strict = signed.groups(0.6), signed.groups(0.85)
    assert len(set(strict.tolist())) > len(set(broad.tolist()))  # stricter: more groups
    with pytest.raises(ConfigError, match="threshold"):
        signed.groups(1.5)


def test_signatures_of_repeated_rows_are_those_of_the_distinct_texts_in_hash_order() -> None:
    # tier 2 streams the fingerprints' table as it is: a template comes once per prompt,
    # in no order; the signatures must be those of the distinct templates, sorted
    rng = random.Random(12)
    base = "write a short story about a dragon who guards a library of lost books"
    texts = sorted({_typo(base, rng) for _ in range(20)} | set(_UNRELATED) | {"hi", "two"})
    array = pa.array(texts)
    hashes = hash_strings(array)
    order = np.argsort(hashes)
    alone = TemplateSignatures.of([(hashes[order], array.take(pa.array(order)))], PromptConfig(), 3)
    repeated = [rng.randrange(len(texts)) for _ in range(200)] + list(range(len(texts)))
    rng.shuffle(repeated)
    batches = [
        (hashes[repeated[i : i + 37]], array.take(pa.array(repeated[i : i + 37])))
        for i in range(0, len(repeated), 37)
    ]
    for expected in (0, 5, len(repeated)):  # fewer rows foreseen than come, or as many
        signer = TemplateSigner(PromptConfig(), 3, expected)
        for batch_hashes, batch_texts in batches:
            signer.add(batch_hashes, batch_texts)
        signed = signer.signatures()
        assert signed.hashes.tolist() == alone.hashes.tolist()
        assert signed.counts.tolist() == alone.counts.tolist()
        assert np.array_equal(signed.signature, alone.signature)
        assert signed.groups(0.6).tolist() == alone.groups(0.6).tolist()
    # each text once, in an order of its own: every signature moves to its hash's place
    once = list(range(len(texts)))
    rng.shuffle(once)
    signer = TemplateSigner(PromptConfig(), 3, len(once))
    signer.add(hashes[once], array.take(pa.array(once)))
    signed = signer.signatures()
    assert signed.hashes.tolist() == alone.hashes.tolist()
    assert np.array_equal(signed.signature, alone.signature)
    with pytest.raises(ValueError, match="2 hashes for 3 texts"):
        TemplateSigner(PromptConfig(), 3).add(hashes[:2], array[:3])


def test_two_texts_of_one_hash_are_settled_by_the_texts_not_their_order() -> None:
    # should two texts share a tier-1 hash, the one with fewer words, then the least
    # signature, stands for it, whichever row comes first
    texts = [
        "alpha beta gamma delta epsilon",
        "zeta eta theta iota kappa",
        "one two three four five six seven",
        "one two",
    ]
    array = pa.array(texts)
    apart = np.array([1, 2], dtype=np.uint64)  # the two five-word texts, hashed apart
    signatures = TemplateSignatures.of([(apart, array[:2])], PromptConfig(), 3).signature
    assert signatures[0].tobytes() != signatures[1].tobytes()
    least = min((0, 1), key=lambda i: signatures[i].tobytes())
    shared = np.full(4, 42, dtype=np.uint64)  # every text under one hash
    for rows in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 1, 0], [2, 0, 1], [0, 1], [1, 0]):
        signer = TemplateSigner(PromptConfig(), 3)
        signer.add(shared[: len(rows)], array.take(pa.array(rows)))
        signed = signer.signatures()
        words, signature = signed.counts.tolist(), signed.signature
        if 3 in rows:  # two words: too short to sign, and the fewest
            assert words == [2] and len(signature) == 0
        elif 0 in rows:
            assert words == [5] and signature[0].tobytes() == signatures[least].tobytes()


def test_signatures_are_the_minima_of_the_permuted_words() -> None:
    # the compiled MinHash against its definition: per text with min_words words, the
    # minimum over its words x of a * x + b (mod 2**32), bits 8 to 15 kept
    rng = random.Random(11)
    vocabulary = [f"w{i}" for i in range(50)]
    texts = [" ".join(rng.choices(vocabulary, k=rng.randint(0, 90))) for _ in range(300)]
    array = pa.array([*texts, None, "one two", "x y z"])
    minhash = MinHash(num_perm=16, seed=3, bits=8, min_words=3)
    counts, signature = minhash.signatures(array)

    tokens, owner = word_hashes(array)
    a, b = (p.astype(np.uint64) for p in minhash.permutations())
    expected = []
    for text in range(len(array)):
        words = tokens[owner == text].astype(np.uint64)
        assert counts[text] == len(words)
        if len(words) >= 3:
            permuted = (a * words[None, :] + b) & np.uint64(0xFFFFFFFF)
            expected.append((permuted.min(axis=1) >> np.uint64(8)).astype(np.uint8))
    assert np.array_equal(signature, np.array(expected))


@pytest.mark.parametrize(
    ("dtype", "lanes"), [(np.uint8, 64), (np.uint8, 12), (np.uint16, 64), (np.uint32, 64)]
)
def test_agreements_count_the_equal_values_of_each_pair(dtype: type, lanes: int) -> None:
    # byte values are compared eight at a time: values 0 to 255, so that every byte's
    # top bit and carry is tried
    rng = np.random.default_rng(5)
    signature = rng.integers(0, 4, size=(200, lanes)).astype(dtype)
    signature[::3] = rng.integers(0, 256, size=signature[::3].shape).astype(dtype)
    left, right = rng.integers(0, 200, size=(2, 1000))
    expected = (signature[left] == signature[right]).sum(axis=1)
    assert np.array_equal(agreements(signature, left, right), expected)


@pytest.mark.parametrize(
    ("dtype", "lanes", "bands"),
    [
        (np.uint8, 64, 16),
        (np.uint16, 64, 32),
        (np.uint16, 64, 16),
        (np.uint32, 64, 64),
        (np.uint8, 66, 16),  # four-byte bands in rows that are not whole four-byte words
    ],
)
def test_band_keys_read_in_place_group_as_gathered_ones(
    dtype: type, lanes: int, bands: int
) -> None:
    # bands of four bytes are read by a compiled loop from the signature in place; a
    # signature laid out by columns goes the general way (columns gathered, then keyed):
    # both, and any order of the rows asked for, give the same components
    rng = np.random.default_rng(11)
    signature = rng.integers(0, 256, size=(3000, lanes)).astype(dtype)
    signature[::5, 8:] = 7  # rows that share most bands: large buckets
    signature[1::3] = signature[::3]  # copies, and copies with a few values changed
    signature[2::3] = signature[::3]
    signature[2::3, :6] = rng.integers(0, 256, size=(1000, 6)).astype(dtype)
    banding = LSHBanding(lanes, bands, 64 // bands, 0.8)
    whole = banding.components(signature)
    assert len(set(whole.tolist())) < 2000  # copies were joined
    assert np.array_equal(banding.components(np.asfortranarray(signature)), whole)
    rows = rng.permutation(3000)
    expected = banding.components(np.ascontiguousarray(signature[rows]))
    assert np.array_equal(banding.components(signature, rows), expected)
    assert np.array_equal(banding.components(np.asfortranarray(signature), rows), expected)


@settings(max_examples=80, deadline=None)
@given(
    texts=st.lists(
        st.one_of(st.none(), st.text(st.sampled_from(list("abZ09_<> ,.\n\téß")), max_size=30)),
        min_size=1,
        max_size=40,
    ),
    cut=st.integers(0, 3),
)
def test_texts_without_wide_characters_split_as_the_general_splitter_does(
    texts: list[str | None], cut: int
) -> None:
    # one pass over texts with no byte of a three- or four-byte character; one such
    # character (a dash, which makes no word) sends a batch to the general splitter
    narrow = word_hashes(pa.array(texts, pa.string()).slice(cut))
    tokens, owner = word_hashes(pa.array([*texts, "—"]).slice(cut))
    assert narrow[0].tolist() == tokens.tolist() and narrow[1].tolist() == owner.tolist()


def test_words_split_on_the_bytes_as_documented() -> None:
    # ASCII letters, digits and _<> make words; CJK ideographs and kana are a word each;
    # punctuation of the general and CJK blocks separates; no word runs across texts
    texts = pa.array(
        ["Hello, <num> world_2", "日本語テキスト", "a—b\u3000c", "", None, "x", "yz", "héllo"]
    )
    tokens, owner = word_hashes(texts)
    assert np.bincount(owner, minlength=len(texts)).tolist() == [3, 7, 3, 0, 0, 1, 1, 1]
    names = ["hello", "x", "yz"]
    one = dict(zip(names, word_hashes(pa.array(names))[0], strict=True))
    # a word hashes the same wherever it stands; words that differ, differently
    assert tokens[owner == 5][0] == one["x"] and tokens[owner == 6][0] == one["yz"]
    assert len(set(tokens[owner == 1].tolist())) == 7
    assert tokens[0] != one["hello"]  # "Hello" is not lowercased here: masking does that


def test_union_find_keeps_each_component_under_its_smallest_member() -> None:
    # random pairs joined in batches, against components found by a plain search
    rng = np.random.default_rng(8)
    n = 2000
    parent = np.arange(n, dtype=np.int64)
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for _ in range(5):
        left, right = rng.integers(0, n, size=(2, 300))
        union(parent, left, right)
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            neighbours[a].append(b)
            neighbours[b].append(a)
        assert (parent <= np.arange(n)).all()
    smallest = np.full(n, -1)
    for start in range(n):
        if smallest[start] >= 0:
            continue
        stack, seen = [start], {start}
        while stack:
            for other in neighbours[stack.pop()]:
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        smallest[list(seen)] = min(seen)
    nodes = rng.integers(0, n, size=500)
    assert np.array_equal(roots(parent, nodes), smallest[nodes])
    compress(parent)
    assert np.array_equal(parent, smallest)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=30),
    st.integers(1, 8),
    st.integers(1, 40),
    st.booleans(),
)
def test_slices_by_bytes_keep_every_text_in_order_within_both_bounds(
    texts: list[str | None], size: int, max_bytes: int, large: bool
) -> None:
    from sybilgraph.fingerprint.arrays import slices

    array = pa.array(["pad", *texts], pa.large_string() if large else pa.string()).slice(1)
    parts = slices(array, size, max_bytes)
    assert [t for part in parts for t in part.to_pylist()] == texts
    for part in parts:
        assert len(part) <= size
        held = sum(len(t.encode()) for t in part.to_pylist() if t)
        # a text longer than the bound is a slice of its own
        assert held <= max_bytes or len(part) == 1


def test_long_prompts_are_masked_in_slices_that_change_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 2,000 documents of 180k characters were one slice, masked on one thread
    import sybilgraph.fingerprint.masking as masking

    texts = pa.array(
        [f"Summarise item {i}:\n" + "word 42 'x' " * (i % 50) for i in range(300)] + [None]
    )
    whole = mask_prompts(texts)
    monkeypatch.setattr(masking, "_SLICE_BYTES", 64)
    assert len(masking.slices(texts, masking._SLICE, 64)) > 100
    assert mask_prompts(texts).equals(whole)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 19), st.integers(0, 19)), max_size=40),
    st.randoms(use_true_random=False),
)
def test_components_are_named_after_their_smallest_node_in_any_order(
    pairs: list[tuple[int, int]], rng: random.Random
) -> None:
    # each node's component, found by a search, is named after its smallest node, and
    # the pairs' order and batches change nothing
    neighbours: dict[int, set[int]] = {n: {n} for n in range(20)}
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    expected = np.arange(20)
    for start in range(20):
        seen, todo = {start}, [start]
        while todo:
            for other in neighbours[todo.pop()] - seen:
                seen.add(other)
                todo.append(other)
        expected[start] = min(seen)
    shuffled = pairs[:]
    rng.shuffle(shuffled)
    batches = [shuffled[i : i + 3] for i in range(0, len(shuffled), 3)]
    found = components(
        20,
        ((np.array([a for a, _ in batch]), np.array([b for _, b in batch])) for batch in batches),
    )
    assert found.tolist() == expected.tolist()


@pytest.mark.parametrize("keys", [0, 1, 2, 5_000, 1 << 32])
def test_the_radix_sort_of_packs_is_numpys_sort(keys: int) -> None:
    # LSH's buckets: each band's keys packed above their positions and sorted; the radix
    # sort of the keys alone must give what sorting the whole packs gives
    from sybilgraph.fingerprint import lsh
    from sybilgraph.fingerprint.arrays import compiled

    count = 0 if keys == 0 else 200_003
    rng = np.random.default_rng(keys)
    drawn = rng.integers(0, max(keys, 1), count, dtype=np.int64).astype(np.uint64)
    packed = (drawn << np.uint64(32)) | np.arange(count, dtype=np.uint64)
    expected = np.sort(packed)
    assert np.array_equal(compiled(lsh._sorted_packs)(packed), expected)
