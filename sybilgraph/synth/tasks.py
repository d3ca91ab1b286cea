"""Task bodies of dataset operators: every one different, none sharing a template.

An operator distilling a model sends a large, diverse task set: each body is an
instruction, two to thirteen sentences of material and sometimes a closing question or
constraint, every sentence drawn from a grammar whose slots hold words from large pools
(:mod:`sybilgraph.synth.vocabulary`). Bodies run from 25 to about 180 words; what ties an
operator's requests together is the wrapper around them, not the bodies.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.synth.arrays import join
from sybilgraph.synth.templates import SlotContext, Templates

INSTRUCTIONS = (
    "Write a {adj} essay on {topic} for {audience}.",
    "Explain to {audience} how {topic} affects the {noun} in {city}.",
    "Solve the problem below about the {noun} and give the final number.",
    "Read the scenario below and decide what {name} should do next.",
    "Summarize the following notes on {topic} in {count} sentences.",
    "Translate the passage below into {lang}, keeping its {adj} tone.",
    "Critique the argument that follows and name its weakest point.",
    "Classify the situation below as {adj}, {adj} or neither, with reasons.",
    "Draft a reply to {name}, who sent the message below.",
    "Answer the question at the end using only the facts given.",
    "Turn the description below into a {adj} {noun} for a {field} team.",
    "Find the hidden assumption in the case described below.",
    "Rank the options described below from most to least {adj}.",
    "Write a short dialogue between {name} and {name} about the {noun}.",
    "Design an experiment to test the claim made in the text below.",
    "Estimate the total cost of the plan below and show the arithmetic.",
    "Rewrite the text below so that {audience} can follow it.",
    "As a {field} {role}, review the proposal below.",
    "List every fact in the report below that concerns the {noun}.",
    "Identify the logical error in the reasoning below.",
    "Propose three ways to improve the {noun} described below.",
    "Write {count} interview questions based on the profile below.",
    "Convert the account below into a timeline of events.",
    "Decide whether the {noun} below is worth funding, and justify it.",
    "Compare the two positions below on {topic}.",
    "Extract the names, places and dates from the passage below as JSON.",
    "Explain what went wrong with the {noun} in the story below.",
    "Write a {adj} headline and a lead paragraph for the news below.",
    "Check the calculation below and correct it if needed.",
    "Prepare a lesson for {audience} from the material below.",
    "Given the context below, predict what happens to the {noun}.",
    "Give a {field} perspective on the events described below.",
    "Draft a policy for the {noun} problem described below.",
    "Evaluate the risks in the plan below on a scale of 1 to 10.",
    "Turn the facts below into a {adj} story for {audience}.",
    "Work out how many units are left after the steps below.",
    "Outline a {count}-step plan for {name} based on the notes below.",
    "Point out every claim below that needs a source.",
    "Answer as a {role} would: what does the data below suggest?",
    "Write a formal complaint to the {noun} office using the facts below.",
)
MATERIAL = (
    "In {year}, the {noun} was declared {adj} by {name}.",
    "{name} works as a {field} {role} and needs a {adj} {noun} by Friday.",
    "The {noun} costs {big} dollars and is expected to last {count} years.",
    "A {adj} {noun} was found near the old {noun} outside {city}.",
    "Each {noun} holds {n} units, and {n} of them are already {adj}.",
    "According to {name}, the {noun} became {adj} once {topic} took hold.",
    "Nobody in {city} expected the {noun} to turn out so {adj}.",
    "There are {n} items on the list, but only {count} of them are {adj}.",
    "{name} argues that {topic} makes every {noun} more {adj} than before.",
    "The report mentions {topic}, {topic} and a rather {adj} {noun}.",
    "Half of the {field} staff disagree with the {adj} proposal about the {noun}.",
    "After {count} weeks, the {noun} in {city} was still {adj}.",
    "The {role} in charge of the {noun} resigned in {year} after a {adj} review.",
    "Local residents describe the {noun} as {adj} but mostly harmless.",
    "A survey of {big} people found that {n} percent prefer the {adj} {noun}.",
    "{name} and {name} share a {noun} that has become {adj} over time.",
    "The budget for the {noun} grew from {big} to {big} dollars in one year.",
    "Experts in {field} have called the {noun} {adj} and {adj}.",
    "The {noun} opens at {i6_11} in the morning and closes at {i5_10} in the evening.",
    "It takes {n} minutes to reach the {noun} from the centre of {city}.",
    "Sales of the {noun} fell by {n} percent after a {adj} winter.",
    "Some say {topic} explains the {adj} mood around the {noun}.",
    "The {noun} was built in {year} and rebuilt after a {adj} storm.",
    "{name} kept a {adj} {noun} in the attic for {count} years.",
    "The contract says the {noun} must be delivered within {count} days.",
    "A {field} {role} from {city} measured the {noun} at {n} metres.",
    "Three {adj} {noun} reports reached the council in the same week.",
    "Critics point out that the {noun} ignores {topic} entirely.",
    "The first attempt cost {big} dollars and failed for {adj} reasons.",
    "Most of the {noun} budget goes to {topic} and {topic}.",
    "When the {noun} broke, {name} blamed the {adj} {noun} next door.",
    "The {noun} in question is {adj}, {adj} and far from {city}.",
    "Visitors from {city} rated the {noun} {n} out of 100.",
    "{name} speaks {lang} and translated the {noun} notes in {count} hours.",
    "The numbers show {n} {adj} cases out of {big} in total.",
    "Since {year}, every {noun} in the district has had a {adj} {noun}.",
    "The meeting about the {noun} lasted {n} minutes and ended without a vote.",
    "Rumours about a {adj} {noun} spread quickly through {city}.",
    "It is not clear whether {topic} or {topic} caused the delay.",
    "The {role} believes the {noun} will be {adj} again by {year}.",
    "A letter signed by {n} {field} students asked for a {adj} {noun}.",
    "During the {adj} season, demand for the {noun} doubles.",
    "The old {noun} was replaced by a {adj} one in {year}.",
    "An audit found {n} errors in the {noun} ledger, {count} of them serious.",
    "{name} moved to {city} in {year} to work on the {noun}.",
    "The company spent {big} dollars on a {adj} {noun} that nobody used.",
    "In the end, the {noun} was sold for {big} dollars to a {adj} buyer.",
    "The {noun} depends on a {adj} supply of spare parts from {city}.",
    "Readers of the {noun} newsletter voted {n} to {n} against the change.",
    "A {adj} note on the {noun} read: {sentence}",
)
CLOSINGS = (
    "",
    "",
    "",
    "What should {name} do first?",
    "Which {noun} matters most, and why?",
    "Keep the answer under {i80_400} words.",
    "Give the result as a numbered list.",
    "How many units are left at the end?",
    "Is the {noun} worth keeping? Answer yes or no, then explain.",
    "Show every step of your work.",
    "End with a one-sentence verdict.",
    "What would a {field} {role} say about this?",
    "State your confidence as a percentage.",
    "Which detail above is least reliable?",
    "Answer in {lang}.",
)

_INSTRUCTION_T = Templates.of(INSTRUCTIONS)
_MATERIAL_T = Templates.of(MATERIAL)
_CLOSING_T = Templates.of(CLOSINGS)
#: material sentences per body: at 9 to 18 words each, after an instruction of 7 to 17
#: words and a closing of up to 11, a body holds at least 25 words and, in 200,000 drawn,
#: at most 176
_MIN_MATERIAL, _MAX_MATERIAL = 2, 12


def task_bodies(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` task bodies, each an instruction, its material and maybe a closing.

    The number of material sentences follows a long tail (a median of about four), so
    most bodies are a few dozen words and some near 200.
    """
    sentences = np.clip(
        np.rint(rng.lognormal(np.log(4.0), 0.6, n)), _MIN_MATERIAL, _MAX_MATERIAL
    ).astype(np.int64)
    blank = SlotContext.blank(int(sentences.sum()))
    material = _MATERIAL_T.render(rng.integers(len(_MATERIAL_T), size=len(blank.acc)), rng, blank)
    offsets = pa.array(np.concatenate([[0], np.cumsum(sentences)]), pa.int32())
    paragraphs = pc.binary_join(pa.ListArray.from_arrays(offsets, material), " ")
    ctx = SlotContext.blank(n)
    instruction = _INSTRUCTION_T.render(rng.integers(len(_INSTRUCTION_T), size=n), rng, ctx)
    closing = _CLOSING_T.render(rng.integers(len(_CLOSING_T), size=n), rng, ctx)
    spaced = pc.if_else(pc.equal(closing, ""), "", join([" ", closing]))
    return join([instruction, " ", paragraphs, spaced])
