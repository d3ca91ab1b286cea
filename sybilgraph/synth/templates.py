"""Templates: literal pieces and slots, rendered for many events at once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.synth.arrays import assemble, join, take
from sybilgraph.synth.texts import SYNONYMS
from sybilgraph.synth.vocabulary import (
    ADJECTIVES,
    AUDIENCES,
    CITIES,
    CODE_SNIPPETS,
    FIELDS,
    LANGUAGES,
    MAIL_HOSTS,
    NAMES,
    NOUNS,
    OBJECTS,
    ROLES,
    SUBJECTS,
    TASKS,
    TOPICS,
    URL_PATHS,
    VERBS,
    WEB_HOSTS,
)

_MAX_SLOTS = 6
_SLOT_RE = re.compile(r"\{(\w+)\}")
_SENTENCE_POOLS = (pa.array(SUBJECTS), pa.array(VERBS), pa.array(OBJECTS))


@dataclass
class SlotContext:
    """Per-account values some slots draw from (an account's favourite topics, its name)."""

    acc: np.ndarray
    fav: np.ndarray
    name: np.ndarray

    @classmethod
    def blank(cls, n: int) -> SlotContext:
        """A context for ``n`` texts whose slots take nothing from an account."""
        return cls(np.zeros(n, np.int64), np.zeros((1, 1), np.int64), np.zeros(1))


def _capitalise_first(values: pa.Array) -> pa.Array:
    head = pc.utf8_upper(pc.utf8_slice_codeunits(values, 0, 1))
    return join([head, pc.utf8_slice_codeunits(values, 1)])


def _sentences(rng: np.random.Generator, n: int) -> pa.Array:
    subj, verb, obj = (take(p, rng.integers(len(p), size=n)) for p in _SENTENCE_POOLS)
    return join([_capitalise_first(subj), " ", verb, " ", obj, "."])


_POOL_SLOTS: dict[str, pa.Array] = {
    "lang": pa.array(LANGUAGES),
    "topic": pa.array(TOPICS),
    "name": pa.array(NAMES),
    "city": pa.array(CITIES),
    "task": pa.array(TASKS),
    "code": pa.array(CODE_SNIPPETS),
    "noun": pa.array(NOUNS),
    "adj": pa.array(ADJECTIVES),
    "field": pa.array(FIELDS),
    "role": pa.array(ROLES),
    "audience": pa.array(AUDIENCES),
}
_INT_SLOTS = {"n": (2, 99), "big": (100, 9999), "year": (1990, 2026), "count": (3, 12)}
_INT_RE = re.compile(r"i(\d+)_(\d+)$")


def _slot_values(name: str, rng: np.random.Generator, ctx: SlotContext) -> pa.Array:
    n = len(ctx.acc)
    if name in _POOL_SLOTS:
        pool = _POOL_SLOTS[name]
        return take(pool, rng.integers(len(pool), size=n))
    bounds = _INT_SLOTS.get(name)
    match = _INT_RE.match(name)
    if match:
        bounds = (int(match.group(1)), int(match.group(2)))
    if bounds is not None:
        return pa.array(rng.integers(bounds[0], bounds[1] + 1, size=n)).cast(pa.string())
    if name == "fav":
        topics = ctx.fav[ctx.acc, rng.integers(ctx.fav.shape[1], size=n)]
        return take(_POOL_SLOTS["topic"], topics)
    if name == "self":
        return take(_POOL_SLOTS["name"], ctx.name[ctx.acc])
    if name == "sentence":
        return _sentences(rng, n)
    if name == "url":
        host = take(pa.array(WEB_HOSTS), rng.integers(len(WEB_HOSTS), size=n))
        path = take(pa.array(URL_PATHS), rng.integers(len(URL_PATHS), size=n))
        number = pa.array(rng.integers(10, 99999, size=n)).cast(pa.string())
        return join(["https://", host, "/", path, "/", number])
    if name == "email":
        user = pc.utf8_lower(take(_POOL_SLOTS["name"], rng.integers(len(NAMES), size=n)))
        number = pa.array(rng.integers(1, 9999, size=n)).cast(pa.string())
        host = take(pa.array(MAIL_HOSTS), rng.integers(len(MAIL_HOSTS), size=n))
        return join([user, number, "@", host])
    raise AssertionError(f"unknown slot {name!r}")


class Templates:
    """A table of templates; each literal piece may have several spellings (typo variants).

    Rendering picks, per event, a spelling for every literal piece independently and fills
    every slot, so ``variants`` spellings of ``k`` pieces give ``variants ** k`` texts.
    """

    def __init__(self, variants: int = 1) -> None:
        self.variants = variants
        self._lits: list[list[str]] = [[] for _ in range(_MAX_SLOTS + 1)]
        self._slots: list[list[str]] = []
        self.lits: list[pa.Array] = []
        self.slot_names: list[str] = []
        self.slot_codes = np.zeros((0, _MAX_SLOTS), np.int64)

    @classmethod
    def of(cls, texts: Iterable[str]) -> Templates:
        """A frozen table of ``texts``, one spelling each."""
        templates = cls()
        for text in texts:
            templates.add(text)
        return templates.freeze()

    def __len__(self) -> int:
        return len(self._slots)

    def add(self, text: str, spell: Callable[[str], str] | None = None) -> int:
        """Add one template; ``spell`` makes the extra spellings of each literal piece."""
        pieces = _SLOT_RE.split(text)
        lits, slots = pieces[0::2], pieces[1::2]
        if len(slots) > _MAX_SLOTS:
            raise AssertionError(f"too many slots in {text!r}")
        lits += [""] * (_MAX_SLOTS + 1 - len(lits))
        slots += [""] * (_MAX_SLOTS - len(slots))
        for j, lit in enumerate(lits):
            for v in range(self.variants):
                self._lits[j].append(lit if spell is None or v == 0 or not lit else spell(lit))
        self._slots.append(slots)
        return len(self._slots) - 1

    def freeze(self) -> Templates:
        self.lits = [pa.array(col, pa.string()) for col in self._lits]
        self.capitalised = pa.concat_arrays([self.lits[0], _capitalise_first(self.lits[0])])
        self.slot_names = sorted({s for row in self._slots for s in row} | {""})
        code = {name: i for i, name in enumerate(self.slot_names)}
        self.slot_codes = np.array(
            [[code[s] for s in row] for row in self._slots], np.int64
        ).reshape(-1, _MAX_SLOTS)
        self.used_lits = [j for j, col in enumerate(self._lits) if any(col)]
        self.used_slots = [j for j in range(_MAX_SLOTS) if self.slot_codes[:, j].any()]
        return self

    def parts(
        self,
        rows: np.ndarray,
        rng: np.random.Generator,
        ctx: SlotContext,
        capitalise: np.ndarray | None = None,
    ) -> list[pa.Array]:
        """The pieces of the rendered texts, in order; join them to get the texts."""
        n = len(rows)
        parts: list[pa.Array] = []
        for j in range(_MAX_SLOTS + 1):
            if j in self.used_lits:
                index = rows * self.variants
                if self.variants > 1:
                    index = index + rng.integers(self.variants, size=n)
                if j == 0 and capitalise is not None:
                    parts.append(take(self.capitalised, index + capitalise * len(self.lits[0])))
                else:
                    parts.append(take(self.lits[j], index))
            if j not in self.used_slots:
                continue
            codes = self.slot_codes[rows, j]
            filled = []
            present = np.flatnonzero(np.bincount(codes))
            for code in present:
                where = np.arange(n) if len(present) == 1 else np.flatnonzero(codes == code)
                if code == 0:
                    filled.append((where, pa.nulls(len(where), pa.string()).fill_null("")))
                    continue
                sub = SlotContext(ctx.acc[where], ctx.fav, ctx.name)
                filled.append((where, _slot_values(self.slot_names[code], rng, sub)))
            parts.append(filled[0][1] if len(filled) == 1 else assemble(n, filled))
        return parts

    def render(self, rows: np.ndarray, rng: np.random.Generator, ctx: SlotContext) -> pa.Array:
        return join(list(self.parts(rows, rng, ctx)))


def fill_once(text: str, rng: np.random.Generator) -> str:
    """Fill a template's slots with fixed values (for per-group texts like homework)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("self",):
            return match.group(0)
        ctx = SlotContext.blank(1)
        return str(_slot_values(name, rng, ctx)[0])

    return _SLOT_RE.sub(value, text)


def typo(text: str, rng: np.random.Generator) -> str:
    """One to three small edits: swapped or dropped letters, doubled spaces, case changes."""
    chars = list(text)
    for _ in range(int(rng.integers(1, 4))):
        if len(chars) < 4:
            break
        i = int(rng.integers(0, len(chars) - 1))
        op = int(rng.integers(6))
        if op == 0:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif op == 1 and chars[i].isalpha():
            del chars[i]
        elif op == 2:
            chars.insert(i, chars[i])
        elif op == 3:
            spaces = [k for k, c in enumerate(chars) if c == " "]
            if spaces:
                chars.insert(spaces[int(rng.integers(len(spaces)))], " ")
        elif op == 4:
            chars[i] = chars[i].swapcase()
        else:
            word = "".join(chars).split(" ")
            k = int(rng.integers(len(word)))
            word[k] = word[k].lower() if word[k][:1].isupper() else word[k].upper()
            chars = list(" ".join(word))
    return "".join(chars)


def paraphrase(text: str, rng: np.random.Generator) -> str:
    """Swap some words for synonyms, keeping the slots and most of the wording."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        options = SYNONYMS.get(word)
        if options is None or rng.random() < 0.45:
            return word
        return options[int(rng.integers(len(options)))]

    parts = _SLOT_RE.split(text)
    for j in range(0, len(parts), 2):
        parts[j] = re.sub(r"[A-Za-z]+", swap, parts[j])
    for j in range(1, len(parts), 2):
        parts[j] = "{" + parts[j] + "}"
    return "".join(parts)
