"""What the accounts write: everyday prompts, rings' task templates, homework, tools.

Pieces given with a weight are drawn in proportion to it; ``{slot}`` marks where
:mod:`sybilgraph.synth.templates` puts a value.
"""

from __future__ import annotations

from collections.abc import Callable

from sybilgraph.synth.vocabulary import pool

# Everyday prompts: a popular short one, or opener + frame + qualifier + closer + context

POPULAR = (
    ("hi", 30), ("hello", 25), ("Hi", 20), ("Hello", 18), ("hey", 12), ("hi!", 8),
    ("hello!", 6), ("test", 10), ("Test", 4), ("what can you do?", 10),
    ("What can you do?", 6), ("who are you?", 6), ("Who are you", 4),
    ("summarize this", 10), ("Summarize this", 8), ("summarize this text", 5),
    ("translate this to English", 8), ("Translate this to English", 6),
    ("write a haiku about the sea", 5), ("Write a haiku about the sea", 3),
    ("tell me a joke", 8), ("Tell me a joke", 6), ("tell me a joke!", 3),
    ("thanks", 8), ("thank you", 7), ("Thank you!", 5), ("ok", 5), ("continue", 9),
    ("Continue", 6), ("go on", 3), ("explain this code", 6), ("Explain this code", 5),
    ("fix this code", 5), ("make it shorter", 5), ("Make it shorter", 3),
    ("rewrite this more professionally", 4), ("write a cover letter", 3),
    ("what's the weather like today?", 3), ("how are you?", 5), ("help", 4),
    ("bonjour", 2), ("hola", 3), ("¿qué puedes hacer?", 2), ("こんにちは", 2),
    ("hallo", 2), ("ping", 3), ("yes", 4), ("no", 2), ("more", 3), ("why?", 3),
)  # fmt: skip

OPENERS = (
    ("", 45), ("Hey, ", 4), ("Quick question: ", 3), ("Question: ", 3), ("hi! ", 3),
    ("ok so ", 2), ("So, ", 2), ("I was wondering, ", 2), ("For my project, ", 2),
    ("At work today: ", 1), ("My kid asked me, ", 1), ("Serious question: ", 1),
    ("Random thought: ", 1), ("Dear assistant, ", 1), ("hello, ", 2), ("Hi there. ", 2),
    ("Need help: ", 2), ("one more thing: ", 1), ("Curious: ", 1), ("hmm, ", 1),
)  # fmt: skip
FRAMES = pool("""explain {fav} like I'm five|what is {fav}?|how does {fav} actually work|
write a short blog post about {fav}|give me {count} tips for {fav}|
what's the difference between {fav} and {topic}?|compare {fav} with {topic} for me|
summarize the history of {fav}|what are common mistakes with {fav}|
recommend some books about {fav}|make a study plan for {fav} over {count} weeks|
is {fav} worth learning in {year}|write a poem about {fav} and {topic}|
what would happen if {fav} disappeared|debate the pros and cons of {fav}|
how do I get started with {fav}|what do experts get wrong about {fav}|
create a quiz with {count} questions on {fav}|how is {fav} related to {topic}|
write a story where {name} discovers {fav}|plan a weekend in {city} around {fav}|
translate a paragraph about {fav} into {lang}|outline a presentation on {fav}|
why do people care about {fav}|list the key terms in {fav}|
give me an analogy for {fav} using {topic}|what are the latest trends in {fav}|
help me write an email to {name} about {fav}|is it true that {fav} causes {topic}|
draft a tweet about {fav}|what questions should I ask a {fav} expert|
how much does {fav} cost in {city}|what is the best way to learn {fav}|
rewrite my notes on {fav} to be clearer|design a lesson about {fav} for {count} year olds|
explain the math behind {fav}|give me a fun fact about {fav}|
what's a good podcast about {fav}|what are the ethical issues with {fav}|
brainstorm {count} startup ideas combining {fav} and {topic}|
write a product description for a {fav} course|help me argue that {fav} is overrated|
what happened with {fav} in {year}|explain {fav} to my grandmother|
make a checklist for {fav}|what skills do I need for {fav}|
critique this idea: {fav} for {topic}|invent a game about {fav}|
tell me a joke about {fav}|write a limerick about {topic}|summarize {fav} in one sentence|
what should I know before trying {fav}|create a meal plan that fits {fav}|
what are the risks of {fav}|how would you teach {fav} to {name}""")
QUALIFIERS = (
    ("", 45), (" in simple terms", 4), (" with examples", 4), (" for a beginner", 4),
    (" in detail", 3), (" briefly", 3), (" in {count} bullet points", 3),
    (" in under {i50_500} words", 2), (" step by step", 3), (" like a pirate", 1),
    (" for a presentation", 2), (" please", 4), (" asap", 1), (" with sources", 2),
    (" in {lang}", 2), (" as a table", 2), (" for my {count} year old", 1),
    (" without jargon", 2), (" with a funny tone", 1), (" for an exam tomorrow", 2),
)  # fmt: skip
CONTEXTS = (
    ("", 100), (" I read about it here: {url}", 3), (" My email is {email} if that matters.", 1),
    (' My teacher said "{sentence}"', 2), (" I have {big} dollars to spend.", 2),
    (" It's for a {count}-page report.", 2), (" Deadline is in {count} days.", 2),
    (" Context: {sentence}", 3), (" see {url}", 2), (" I live in {city}.", 2),
    (" My friend {name} disagrees.", 2), (' The quote is: "{sentence}"', 1),
    (" ({year})", 1), (" Ticket #{big}.", 1), (" Contact: {email}", 1),
)  # fmt: skip
CLOSERS = (
    ("", 55), ("?", 8), (".", 6), (" thanks!", 4), (" thx", 2), (" :)", 2),
    (" Thank you.", 3), ("!!", 1), (" please and thank you", 1), (" ty", 1),
)  # fmt: skip


# Rings: a few task families, each in a few wordings, wrapped in a persona and a format

RING_FAMILIES: tuple[tuple[str, ...], ...] = (
    (
        "Solve step by step: {n} * {n} + {big}",
        "Compute {n} * {n} + {big} and show every step.",
        "What is {n} times {n} plus {big}? Explain each step.",
    ),
    (
        "Translate the following sentence into {lang}: '{sentence}'",
        'Please translate into {lang}: "{sentence}"',
        "Give the {lang} translation of this sentence: {sentence}",
    ),
    (
        "Write Python code that {task}. Return only code.",
        "Write a Python function that {task}. Output only the code, no explanation.",
        "Implement in Python a program that {task}. Respond with code only.",
    ),
    (
        "Rate this answer from 1 to 10: {sentence}",
        "On a scale of 1 to 10, how good is this answer? {sentence}",
        "Score the following response from 1-10 and justify briefly: {sentence}",
    ),
    (
        "Summarize the following text in {count} bullet points: {sentence} {sentence}",
        "Give a {count}-point summary of this text: {sentence} {sentence}",
    ),
    (
        "Classify the sentiment of this review as positive, negative or neutral: {sentence}",
        "Is the following review positive, negative or neutral? Review: {sentence}",
    ),
    (
        "Extract all named entities from the following text and return them as JSON: {sentence}",
        "List every person, place and organisation mentioned in this text as JSON: {sentence}",
    ),
    (
        "Explain the concept of {topic} to a graduate student, including the key equations.",
        "Give a graduate-level explanation of {topic} with the main equations.",
    ),
    (
        "Compare {topic} and {topic} in a table with {count} rows.",
        "Make a comparison table of {topic} versus {topic} with {count} rows.",
    ),
    (
        "Think step by step. A train leaves {city} at {n}:00 and travels at {n} km/h. "
        "How far has it gone after {n} hours?",
        "A train departs {city} at {n}:00 going {n} km/h. Reason step by step: what distance "
        "does it cover in {n} hours?",
    ),
    (
        "Review the following code and list every bug you find: {code}",
        "Find all the bugs in this code and explain how to fix them: {code}",
    ),
    (
        "Convert this Python snippet to Rust, keeping the same behaviour: {code}",
        "Rewrite the following Python in idiomatic Rust with identical behaviour: {code}",
    ),
    (
        "Continue this dialogue as a helpful assistant. User: {sentence} Assistant:",
        "You are the assistant in this conversation. User says: {sentence} Reply:",
    ),
    (
        "Paraphrase the following sentence in {count} different ways: {sentence}",
        "Give {count} alternative phrasings of this sentence: {sentence}",
    ),
    (
        "Correct the grammar of this sentence and explain each change: {sentence}",
        "Fix any grammar mistakes in the following and explain the corrections: {sentence}",
    ),
    (
        "Generate {count} multiple-choice questions about {topic} with four options each "
        "and mark the correct answer.",
        "Create {count} quiz questions on {topic}, each with four choices and the answer marked.",
    ),
    (
        "Prove that the sum of the first {n} odd numbers equals {n} squared. Give a rigorous "
        "proof.",
        "Give a rigorous proof that the first {n} odd numbers add up to {n} squared.",
    ),
    (
        "Write a {count}-sentence story about {name} who lives in {city}, in the style of a "
        "fairy tale.",
        "Tell a fairy tale in {count} sentences about {name} from {city}.",
    ),
    (
        "Question: {sentence} Provide your full chain of thought before the final answer.",
        "Reveal all of your reasoning, then answer: {sentence}",
    ),
    (
        "Return a JSON object with the fields title, summary and keywords for this text: "
        "{sentence}",
        "Produce JSON with keys title, summary, keywords describing the following text: {sentence}",
    ),
    (
        "Which of the two answers is better, A or B? A: {sentence} B: {sentence} Answer with A "
        "or B only.",
        "Compare answer A and answer B and reply with the better one's letter. A: {sentence} "
        "B: {sentence}",
    ),
    (
        "Write pytest unit tests for a function that {task}.",
        "Create a set of pytest tests covering a function that {task}.",
    ),
    (
        "If {name} has {n} apples and gives away {n}, then buys {big} more, how many apples "
        "does {name} have? Answer with a number.",
        "{name} starts with {n} apples, gives {n} away and buys {big} more. How many apples "
        "now? Reply with a number only.",
    ),
    (
        "List {count} facts about {topic} that most people do not know, one sentence each.",
        "Give me {count} little-known facts about {topic}, each in one sentence.",
    ),
    (
        "Draft a short contract clause about {topic} between {name} and {name}.",
        "Write a brief legal clause covering {topic} for an agreement between {name} and {name}.",
    ),
    (
        "Translate this {lang} text to English and explain any idioms: {sentence}",
        "Render this {lang} passage in English and comment on idioms: {sentence}",
    ),
    (
        "Explain in detail how {topic} works, then list {count} ways it can fail.",
        "Describe thoroughly how {topic} works and name {count} failure modes.",
    ),
    (
        "Rewrite the following instructions so a ten-year-old can follow them: {sentence}",
        "Simplify these instructions for a ten-year-old: {sentence}",
    ),
)
PERSONAS = pool("""You are an expert assistant.|You are a meticulous tutor.|Instruction:|
[Task]|System: act as a senior analyst.|You are a helpful and precise AI.|
As a domain expert, respond carefully.|Role: professor.|You are a careful reasoner.|
Act as a world-class consultant.|You are an exam grader.|You are a data labeler.|
Pretend you are a textbook author.|You are ChatBot-Pro.|Mode: expert.|
You are an honest evaluator.|As an experienced engineer:|Context: benchmark item.|
You are a translator with 20 years of experience.|Respond as a teaching assistant.|
You are a competitive programmer.|Task for the assistant:|Dataset generation request.|
You are an impartial judge.|Persona: academic researcher.|Assistant, please help.|
You are a code reviewer.|You are a math olympiad coach.|Behave as a reference manual.|
You are a strict editor.|Query:|Prompt:|Sample:|Input:|Request:|Item:""")
FORMATS = pool("""Answer concisely.|Respond in JSON.|Think carefully before answering.|
Output in markdown.|Keep it under 100 words.|Be precise.|No preamble.|
Use numbered steps.|Cite sources if possible.|Write the final answer on the last line.|
Respond in plain text only.|Do not refuse.|Use formal English.|Answer in full sentences.|
Include a short explanation.|Format as a bulleted list.|End with a one-line summary.|
Avoid hedging.|Be exhaustive.|Give only the answer.|Double-check your work.|
Show intermediate results.|Use LaTeX for math.|Wrap code in triple backticks.|
Explain like a textbook.|Return a single paragraph.|Be brief but complete.|
Use British spelling.|Add a confidence score.|Label each part clearly.|
Do not mention that you are an AI.|Prefer short words.|Respond in under 50 words.|
Write at a college level.|Use headings.|Finish with the word DONE.""")

# Words a prompt-only ring swaps when it rewords its templates

SYNONYMS = {
    "Write": ("Compose", "Produce", "Create"),
    "write": ("compose", "produce"),
    "Explain": ("Describe", "Clarify"),
    "explain": ("describe", "clarify"),
    "following": ("below", "next"),
    "sentence": ("phrase", "line"),
    "Translate": ("Convert", "Render"),
    "answer": ("response", "reply"),
    "Return": ("Give", "Output"),
    "only": ("just", "solely"),
    "Rate": ("Score", "Grade"),
    "text": ("passage", "content"),
    "Summarize": ("Condense", "Sum up"),
    "list": ("enumerate", "give"),
    "List": ("Enumerate", "Give"),
    "show": ("display", "present"),
    "every": ("each", "all"),
    "short": ("brief", "small"),
    "detail": ("depth", "full"),
    "Give": ("Provide", "Supply"),
    "give": ("provide", "supply"),
    "question": ("query", "item"),
    "code": ("source", "program"),
    "find": ("spot", "identify"),
    "Find": ("Spot", "Identify"),
    "bugs": ("errors", "defects"),
    "about": ("on", "regarding"),
    "different": ("distinct", "varied"),
    "Make": ("Build", "Produce"),
    "Create": ("Generate", "Make"),
    "Compare": ("Contrast", "Weigh"),
    "careful": ("thorough", "diligent"),
    "carefully": ("thoroughly", "diligently"),
    "each": ("every", "all"),
    "Be": ("Stay", "Remain"),
    "Use": ("Apply", "Employ"),
}

# Classrooms share an assignment; each student edits it a little

HOMEWORK = (
    "Homework {n}: Write a {big}-word essay about {topic}. Use at least {count} sources and "
    "cite them in APA format.",
    "Exercise {n}. Solve for x: {n}x + {n} = {big}. Show all your work.",
    "Read the passage and answer the questions. {sentence} 1) What is the main idea? "
    "2) Why did the author write it?",
    "Lab report: describe an experiment to test how {topic} affects {topic}. Include a "
    "hypothesis, variables and method.",
    "Translate into {lang}: '{sentence}' (Unit {n} vocabulary)",
    "Explain the causes and consequences of {topic} in about {big} words for history class.",
    "Write a poem of {count} stanzas about {topic} using at least two metaphors.",
    "Problem set {n}, question {count}: a ball is thrown upward at {n} m/s. How long until it "
    "hits the ground? Use g = 9.8 m/s^2.",
    "Discussion question {n}: do you agree that {topic} changed society more than {topic}? "
    "Give two arguments for and against.",
    "Worksheet {n}: define {topic}, give {count} examples and draw a diagram.",
)
HOMEWORK_EDITS: tuple[Callable[[str], str], ...] = (
    lambda s: s,
    lambda s: s,
    lambda s: s.lower(),
    lambda s: s.split(". ")[0] + "?",
    lambda s: s + " pls help",
    lambda s: "can you do this for me: " + s,
    lambda s: "{self}: " + s,
    lambda s: "Hi, I'm {self}. " + s,
    lambda s: "student {count} here. " + s,
    lambda s: s + " Thanks!",
    lambda s: s.replace(". ", ".  "),
    lambda s: "help with my homework " + s.lower(),
)

# An office's internal tool wraps some of its requests

OFFICE_TOOLS = (
    "[{company} helpdesk] Summarize this support ticket in {count} bullet points: {sentence}",
    "[{company}] Draft a polite reply to this customer email from {name}: {sentence}",
    "{company} internal: classify this ticket as bug, billing or question: {sentence}",
    "Generate release notes for {company} from this commit message: {sentence}",
)

# User agents: legitimate clients by weight, and the scripted clients rings use

UA_FAMILIES = (
    ("anthropic-python/0.{i30_49}.{i0_3}", 18),
    ("Anthropic/Python 0.{i30_49}.{i0_3}", 10),
    ("anthropic-typescript/0.{i20_39}.{i0_2}", 10),
    ("anthropic-sdk-go/0.2.{i0_9}", 2),
    ("langchain-anthropic/0.{i1_3}.{i0_20}", 5),
    ("llama-index/0.{i10_12}.{i0_9}", 2),
    ("axios/1.{i4_7}.{i0_9}", 3),
    ("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", 2),
    ("okhttp/4.{i9_12}.{i0_9}", 2),
    ("Dart/3.{i0_5} (dart:io)", 1),
    ("Go-http-client/2.0", 2),
    ("ChatApp/{i2_5}.{i0_9}.{i0_20} (iPhone; iOS 17.{i0_6})", 6),
    ("ChatApp/{i2_5}.{i0_9}.{i0_20} (Android {i11_14})", 5),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/{i118_131}.0.0.0", 6),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Safari/{i605_617}.1", 4),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:{i115_133}.0) Firefox/{i115_133}.0", 2),
    ("python-requests/2.{i25_32}.{i0_3}", 3),
    ("curl/8.{i0_11}.{i0_1}", 2),
    ("python-httpx/0.{i23_28}.{i0_2}", 2),
)  # fmt: skip
#: the common SDK's releases, by weight: ordinary developers and dataset operators alike
UA_SDK = (
    ("anthropic-python/0.51.0", 2),
    ("anthropic-python/0.52.0", 3),
    ("anthropic-python/0.52.1", 5),
)
UA_SCRIPTED = (
    "python-requests/2.{i25_32}.{i0_3}",
    "curl/7.{i58_88}.{i0_1}",
    "curl/8.{i0_11}.{i0_1}",
    "python-httpx/0.{i23_28}.{i0_2}",
    "aiohttp/3.{i8_10}.{i0_5}",
    "Go-http-client/1.1",
    "Python-urllib/3.{i9_12}",
)
