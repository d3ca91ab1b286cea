"""What each event asks: popular prompts, templates, and everyday prompts of one's own."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sybilgraph.synth.arrays import assemble, draw, join, take, weighted_texts
from sybilgraph.synth.population import Population
from sybilgraph.synth.tasks import task_bodies
from sybilgraph.synth.templates import SlotContext, Templates
from sybilgraph.synth.texts import CLOSERS, CONTEXTS, FRAMES, OPENERS, POPULAR, QUALIFIERS

_POPULAR_TEXTS, _POPULAR_CUM = weighted_texts(POPULAR)
_OPENER_TEXTS, _OPENER_CUM = weighted_texts(OPENERS)
_FRAME_T = Templates.of(FRAMES)
_QUALIFIER_T = Templates.of(text for text, _ in QUALIFIERS)
_QUALIFIER_CUM = weighted_texts(QUALIFIERS)[1]
_CLOSER_TEXTS, _CLOSER_CUM = weighted_texts(CLOSERS)
_CONTEXT_T = Templates.of(text for text, _ in CONTEXTS)
_CONTEXT_CUM = weighted_texts(CONTEXTS)[1]


def _personal(rng: np.random.Generator, ctx: SlotContext) -> pa.Array:
    """Everyday prompts: opener, frame, qualifier, closer and context, each drawn alone."""
    n = len(ctx.acc)
    opener = draw(rng, _OPENER_CUM, n)
    capital = (rng.random(n) < 0.6) & (opener == 0)  # opener 0 is the empty one
    frame = _FRAME_T.parts(rng.integers(len(_FRAME_T), size=n), rng, ctx, capital)
    qualifier = _QUALIFIER_T.parts(draw(rng, _QUALIFIER_CUM, n), rng, ctx)
    closer = take(_CLOSER_TEXTS, draw(rng, _CLOSER_CUM, n))
    context = _CONTEXT_T.parts(draw(rng, _CONTEXT_CUM, n), rng, ctx)
    return join([take(_OPENER_TEXTS, opener), *frame, *qualifier, closer, *context])


def prompts(pop: Population, acc: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """The prompt of each event sent by the accounts ``acc``.

    An account sends a popular short prompt with probability ``p_popular``, one of its
    templates with probability ``p_template``, a body in one of its wrappers with
    probability ``p_wrap``, and otherwise an everyday prompt of its own.
    """
    n = len(acc)
    u = rng.random(n)
    popular = u < pop.p_popular[acc]
    templates_end = pop.p_popular[acc] + pop.p_template[acc]
    templated = ~popular & (u < templates_end)
    wrapped = ~popular & ~templated & (u < templates_end + pop.p_wrap[acc])
    personal = ~popular & ~templated & ~wrapped
    parts = []
    where = np.flatnonzero(popular)
    parts.append((where, take(_POPULAR_TEXTS, draw(rng, _POPULAR_CUM, len(where)))))
    where = np.flatnonzero(templated)
    sub = acc[where]
    rows = pop.tpl_start[sub] + (rng.random(len(where)) * pop.tpl_count[sub]).astype(np.int64)
    parts.append((where, pop.templates.render(rows, rng, SlotContext(sub, pop.fav, pop.name))))
    where = np.flatnonzero(personal)
    parts.append((where, _personal(rng, SlotContext(acc[where], pop.fav, pop.name))))
    where = np.flatnonzero(wrapped)
    if len(where):  # drawn last, and only if any, so data without wrappers stay the same
        parts.append((where, _wrapped(pop, acc[where], rng)))
    return assemble(n, parts)


def _wrapped(pop: Population, acc: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Bodies in one of each account's wrappers: tasks for operators, else everyday ones."""
    n = len(acc)
    rows = pop.wrap_start[acc] + (rng.random(n) * pop.wrap_count[acc]).astype(np.int64)
    task = pop.wrap_task[acc]
    bodies = []
    where = np.flatnonzero(task)
    bodies.append((where, task_bodies(rng, len(where))))
    where = np.flatnonzero(~task)
    bodies.append((where, _personal(rng, SlotContext(acc[where], pop.fav, pop.name))))
    body = assemble(n, bodies)
    return join([take(pop.wrap_heads, rows), body, take(pop.wrap_tails, rows)])
