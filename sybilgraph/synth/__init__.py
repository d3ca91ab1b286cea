"""Synthetic AI-API traffic with planted sybil rings and their ground truth.

The generator builds a population of accounts (legitimate users in households, offices,
classrooms, behind carrier NAT and VPN exits, on rotating IPv6 addresses; and sybil rings
of four kinds), then draws their requests block by block over the time span. Each block
covers a fixed slice of time and has its own random stream, so the events come out in time
order, can be streamed to disk without holding them all, and do not depend on the chunk
size the caller asks for.

Address space used (so that detector authors can recognise shared infrastructure):

- residential IPv4: random addresses in the first octets of :data:`RESIDENTIAL_OCTETS`
- datacenter IPv4 (rings, some office servers): the /16 blocks in :data:`CLOUD_BLOCKS`
- mobile carrier NAT: ``100.64.0.0/10`` (:data:`CARRIER_RANGE`), one /12 per carrier
- VPN exits: the /24 blocks in :data:`VPN_BLOCKS`, one per provider
- IPv6: /64 prefixes under the ISP /32s in :data:`IPV6_ISPS`
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sybilgraph.errors import ConfigError

__all__ = [
    "CARRIER_RANGE",
    "CLOUD_BLOCKS",
    "EVENT_COLUMNS",
    "IPV6_ISPS",
    "LEGIT_KINDS",
    "RESIDENTIAL_OCTETS",
    "SYBIL_KINDS",
    "TRUTH_COLUMNS",
    "VPN_BLOCKS",
    "SynthConfig",
    "generate",
    "iter_generate",
    "write",
]

EVENT_COLUMNS = ("account_id", "ts", "ip", "payment_id", "prompt", "user_agent")
TRUTH_COLUMNS = ("account_id", "label", "group", "kind")
LEGIT_KINDS = (
    "solo",
    "household",
    "office",
    "office_card",
    "classroom",
    "carrier",
    "vpn_user",
    "ipv6_user",
)
SYBIL_KINDS = ("ring_basic", "ring_prompt_only", "ring_typo", "ring_vpn")


@dataclass
class SynthConfig:
    """What to generate.

    Attributes
    ----------
    n_events
        Approximate total number of events (the result is within a few percent).
    seed
        Seed of every random choice; the same config always gives the same data.
    start
        First day, UTC, as ``YYYY-MM-DD``.
    days
        Number of days the events are spread over.
    sybil_event_share
        Approximate share of events sent by sybil accounts.
    events_per_account
        Average number of events per account, over all accounts.
    hard_cases
        Include the hard ring kinds (``ring_prompt_only``, ``ring_typo``, ``ring_vpn``);
        without them every ring is ``ring_basic``.
    """

    n_events: int = 200_000
    seed: int = 0
    start: str = "2026-04-13"
    days: int = 7
    sybil_event_share: float = 0.3
    events_per_account: float = 25
    hard_cases: bool = True


# --------------------------------------------------------------------------------------
# Address space

RESIDENTIAL_OCTETS = (
    2, 5, 24, 31, 37, 46, 47, 49, 50, 58, 59, 60, 61, 62, 64, 65, 67, 68, 69, 70, 71, 72,
    73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 90, 91, 92, 93, 94, 95,
    96, 97, 98, 99, 101, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120,
    121, 122, 123, 124, 125, 173, 174, 175, 176, 177, 180, 181, 182, 183, 186, 187, 189,
    190, 191, 201, 203, 210, 211, 213, 217, 218, 219, 220, 221, 222,
)  # fmt: skip
CLOUD_BLOCKS = (
    "3.101", "3.120", "13.48", "13.57", "18.130", "18.191", "18.222", "20.42", "20.106",
    "34.82", "34.125", "34.139", "35.188", "35.199", "35.230", "44.202", "52.14", "52.53",
    "52.91", "54.84", "54.172", "54.201", "104.131", "104.248", "137.184", "138.68",
    "138.197", "139.59", "142.93", "143.110", "143.198", "146.190", "157.245", "159.65",
    "159.89", "161.35", "164.90", "165.22", "167.71", "167.99",
)  # fmt: skip
CARRIER_RANGE = "100.64.0.0/10"
VPN_BLOCKS = ("185.159.157", "185.107.56", "193.148.18", "194.5.53", "209.58.188")
IPV6_ISPS = (
    "2a02:8108", "2a01:c22", "2600:1700", "2601:646", "2804:14c", "2003:e6", "2a00:23c7",
    "240e:3b0", "2406:3003", "2a0e:1c80",
)  # fmt: skip

# --------------------------------------------------------------------------------------
# Vocabulary


def _pool(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split("|") if item.strip())


_TOPICS = _pool("""
quantum computing|photosynthesis|the french revolution|compound interest|black holes|
sourdough bread|marathon training|climate change|the stock market|machine learning|
blockchain|the roman empire|vaccines|meditation|electric cars|solar panels|inflation|
the water cycle|world war one|cold brew coffee|kubernetes|docker containers|rust lifetimes|
python decorators|sql joins|react hooks|git rebase|linear regression|neural networks|
the immune system|plate tectonics|the renaissance|impressionism|jazz history|chess openings|
knitting|gardening tomatoes|composting|birdwatching|dog training|cat behaviour|aquariums|
houseplants|home espresso|budget travel|japanese grammar|spanish verbs|german cases|
mandarin tones|the pythagorean theorem|derivatives|integrals|probability|bayes theorem|
game theory|supply and demand|minimum wage|universal basic income|remote work|
job interviews|salary negotiation|resume writing|public speaking|time management|
procrastination|sleep hygiene|intermittent fasting|vegan protein|strength training|
yoga for beginners|running shoes|cycling routes|rock climbing|scuba diving|skiing|
photography lighting|film cameras|video editing|podcasting|youtube growth|seo basics|
email marketing|startup funding|venture capital|index funds|retirement savings|
mortgages|credit scores|student loans|tax deductions|small business accounting|
the federal reserve|cryptocurrency wallets|phishing emails|password managers|vpn security|
two factor authentication|wifi routers|home networking|raspberry pi|arduino projects|
3d printing|mechanical keyboards|gaming pcs|linux distros|vim shortcuts|emacs|
regular expressions|unit testing|microservices|rest apis|graphql|websockets|tcp handshakes|
dns|http caching|load balancing|database indexing|postgres vacuum|redis caching|
kafka streams|spark jobs|data pipelines|etl design|data warehouses|dashboards|excel formulas|
pivot tables|google sheets|powerpoint design|technical writing|poetry meter|sonnets|
shakespeare|greek mythology|norse mythology|the odyssey|moby dick|1984 by orwell|
pride and prejudice|the great gatsby|science fiction|fantasy worldbuilding|screenwriting|
stand-up comedy|improv|music theory|guitar chords|piano scales|drum patterns|
mixing vocals|home recording|opera|baroque music|hip hop history|k-pop|anime|manga|
board games|dungeons and dragons|minecraft redstone|speedrunning|esports|football tactics|
basketball drills|tennis serves|golf swing|swimming technique|the olympics|the tour de france|
formula one|sailing|fishing knots|camping gear|hiking boots|national parks|volcanoes|
earthquakes|hurricanes|tornado safety|the northern lights|the moon landing|mars rovers|
the james webb telescope|exoplanets|dark matter|string theory|relativity|entropy|
thermodynamics|electric circuits|ohms law|magnetism|optics|sound waves|chemistry bonds|
the periodic table|acids and bases|organic chemistry|dna replication|crispr|evolution|
genetics|the human brain|memory techniques|dyslexia|adhd|anxiety|burnout|mindfulness|
parenting toddlers|sleep training|baby food|potty training|teen screen time|homeschooling|
college applications|scholarships|study abroad|learning to code|career change|
freelancing|negotiating rent|moving abroad|visa applications|wedding planning|
baby showers|birthday parties|cocktail recipes|wine pairing|craft beer|baking cookies|
meal prep|air fryer recipes|slow cooker meals|indian curries|thai food|ramen|pizza dough|
fermentation|kimchi|cheese making|coffee roasting|tea ceremonies|minimalism|decluttering|
interior design|feng shui|paint colours|kitchen renovation|plumbing leaks|electrical wiring|
roof repairs|lawn care|beekeeping|chickens in the backyard|urban farming|hydroponics|
renewable energy|nuclear power|wind turbines|recycling|ocean plastic|deforestation|
coral reefs|endangered species|wolves|octopuses|dolphins|elephants|penguins|honey bees|
ancient egypt|the silk road|the ming dynasty|the aztecs|the vikings|the cold war|
the printing press|the industrial revolution|the internet history|open source licenses|
copyright law|gdpr|contract law|small claims court|tenant rights|immigration law|
ethics of ai|self-driving cars|drones|robotics|virtual reality|augmented reality|
smart homes|wearables|e-readers|smartphone batteries|noise cancelling headphones
""")
_LANGS = _pool("""French|German|Spanish|Italian|Portuguese|Dutch|Swedish|Polish|Czech|
Turkish|Greek|Russian|Ukrainian|Arabic|Hebrew|Hindi|Bengali|Urdu|Indonesian|Vietnamese|
Thai|Japanese|Korean|Chinese|Swahili|Finnish|Hungarian|Romanian|Tagalog|Persian""")
_NAMES = _pool("""Ana|Ben|Chloe|David|Emma|Farid|Grace|Hugo|Ines|Jack|Kai|Lena|Marco|Nina|
Omar|Priya|Quinn|Rosa|Sam|Tara|Umar|Vera|Will|Xena|Yusuf|Zoe|Aiko|Bruno|Carmen|Dmitri|
Elif|Felix|Gita|Hana|Ivan|Jonas|Kofi|Leila|Mateo|Nadia|Oscar|Pablo|Rania|Sven|Tomas|
Uma|Viktor|Wen|Yara|Zain|Mia|Noah|Liam|Olivia|Lucas|Sofia|Ethan|Amara|Chen|Diego""")
_CITIES = _pool("""Lisbon|Berlin|Madrid|Lagos|Nairobi|Toronto|Chicago|Austin|Denver|Seattle|
Boston|Lima|Bogota|Santiago|Mumbai|Delhi|Jakarta|Manila|Osaka|Seoul|Sydney|Auckland|
Dublin|Oslo|Warsaw|Prague|Vienna|Zurich|Milan|Naples|Athens|Istanbul|Cairo|Dubai|Hanoi""")
_SUBJECTS = _pool("""the committee|my neighbour|the new manager|our team|the city council|
the old bakery|a small startup|the museum|my grandmother|the football club|the professor|
the local library|the hospital|a young artist|the train company|the school board|
the farmers|the orchestra|the landlord|the research group|the airline|my best friend|
the bank|the village|the students|the mayor|the engineers|the author|the chef|the band""")
_VERBS = _pool("""approved|postponed|criticised|announced|rejected|celebrated|redesigned|
cancelled|questioned|discovered|ignored|repaired|sold|bought|described|praised|
replaced|delayed|doubled|explained|organised|visited|painted|tested|reviewed|funded|
closed|opened|moved|published""")
_OBJECTS = _pool("""the new budget|the annual report|a surprising plan|the summer festival|
the broken bridge|an old painting|the quarterly results|the water supply|a new recipe|
the parking rules|the train schedule|a rare manuscript|the final exam|the marketing campaign|
the heating system|a public garden|the website|the contract|the election results|
the night shift|the lunch menu|the recycling program|a charity concert|the safety rules|
the museum wing|the software update|the hiring process|a local bakery|the bike lanes|
the housing project""")
_TASKS = _pool("""reverses a linked list|parses a CSV file and sums the second column|
checks whether a string is a palindrome|finds the longest common subsequence of two strings|
merges two sorted lists|computes the nth Fibonacci number with memoization|
validates an email address with a regex|counts word frequencies in a text file|
implements binary search on a sorted array|flattens a nested list|
converts Roman numerals to integers|detects a cycle in a directed graph|
implements an LRU cache|downloads a web page and extracts all links|
finds all prime numbers below n|rotates a matrix by 90 degrees|
serialises a binary tree to a string|computes the edit distance between two words|
groups anagrams from a list of words|implements a simple tokenizer for arithmetic|
solves the knapsack problem with dynamic programming|computes a moving average|
checks balanced parentheses|transposes a CSV file|renames files by their creation date|
sorts a dictionary by value|implements quicksort|finds the kth largest element|
deduplicates records by key|computes the median of a stream""")
_CODE = (
    "def add(a, b): return a - b",
    "for i in range(len(xs)): print(xs[i+1])",
    "if x = 5: print('five')",
    "def avg(xs): return sum(xs) / len(xs) if xs else None",
    "while True: data = read(); if not data: break",
    "items.sort(key=lambda x: x[1], reverse=True)",
    "return [x for x in xs if x % 2 == 0]",
    "with open(path) as f: lines = f.readlines()",
    "def fact(n): return n * fact(n - 1)",
    "total = 0; for x in xs: total += x; print(total / len(xs))",
    "s = input(); print(s[::-1] == s)",
    "def f(d): return d['key'] or 'default'",
)
_WORDS_MAIL = _pool("gmail.com|outlook.com|yahoo.com|proton.me|icloud.com|gmx.de|mail.ru")
_WORDS_WEB = _pool("""example.com|docs.example.org|github.com|medium.com|wikipedia.org|
news.ycombinator.com|stackoverflow.com|arxiv.org|bbc.co.uk|nytimes.com|reddit.com""")
_PATHS = _pool("""blog|docs|wiki|post|article|questions|abs|story|issues|notes|guide""")

_POPULAR = (
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

_OPENERS = (
    ("", 45), ("Hey, ", 4), ("Quick question: ", 3), ("Question: ", 3), ("hi! ", 3),
    ("ok so ", 2), ("So, ", 2), ("I was wondering, ", 2), ("For my project, ", 2),
    ("At work today: ", 1), ("My kid asked me, ", 1), ("Serious question: ", 1),
    ("Random thought: ", 1), ("Dear assistant, ", 1), ("hello, ", 2), ("Hi there. ", 2),
    ("Need help: ", 2), ("one more thing: ", 1), ("Curious: ", 1), ("hmm, ", 1),
)  # fmt: skip
_FRAMES = _pool("""explain {fav} like I'm five|what is {fav}?|how does {fav} actually work|
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
_QUALIFIERS = (
    ("", 45), (" in simple terms", 4), (" with examples", 4), (" for a beginner", 4),
    (" in detail", 3), (" briefly", 3), (" in {count} bullet points", 3),
    (" in under {i50_500} words", 2), (" step by step", 3), (" like a pirate", 1),
    (" for a presentation", 2), (" please", 4), (" asap", 1), (" with sources", 2),
    (" in {lang}", 2), (" as a table", 2), (" for my {count} year old", 1),
    (" without jargon", 2), (" with a funny tone", 1), (" for an exam tomorrow", 2),
)  # fmt: skip
_CONTEXTS = (
    ("", 100), (" I read about it here: {url}", 3), (" My email is {email} if that matters.", 1),
    (' My teacher said "{sentence}"', 2), (" I have {big} dollars to spend.", 2),
    (" It's for a {count}-page report.", 2), (" Deadline is in {count} days.", 2),
    (" Context: {sentence}", 3), (" see {url}", 2), (" I live in {city}.", 2),
    (" My friend {name} disagrees.", 2), (' The quote is: "{sentence}"', 1),
    (" ({year})", 1), (" Ticket #{big}.", 1), (" Contact: {email}", 1),
)  # fmt: skip
_CLOSERS = (
    ("", 55), ("?", 8), (".", 6), (" thanks!", 4), (" thx", 2), (" :)", 2),
    (" Thank you.", 3), ("!!", 1), (" please and thank you", 1), (" ty", 1),
)  # fmt: skip

_RING_FAMILIES: tuple[tuple[str, ...], ...] = (
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
_PERSONAS = _pool("""You are an expert assistant.|You are a meticulous tutor.|Instruction:|
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
_FORMATS = _pool("""Answer concisely.|Respond in JSON.|Think carefully before answering.|
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
_SYNONYMS = {
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
_HOMEWORK = (
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
_HOMEWORK_EDITS: tuple[Callable[[str], str], ...] = (
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
_OFFICE_TOOLS = (
    "[{company} helpdesk] Summarize this support ticket in {count} bullet points: {sentence}",
    "[{company}] Draft a polite reply to this customer email from {name}: {sentence}",
    "{company} internal: classify this ticket as bug, billing or question: {sentence}",
    "Generate release notes for {company} from this commit message: {sentence}",
)
_COMPANY_A = _pool("Acme|Globex|Initech|Umbrella|Hooli|Vandelay|Stark|Wayne|Wonka|Tyrell|Soylent")
_COMPANY_B = _pool("Labs|Systems|Logistics|Health|Capital|Media|Foods|Analytics|Works|Group")

_UA_FAMILIES = (
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
_UA_SCRIPTED = (
    "python-requests/2.{i25_32}.{i0_3}",
    "curl/7.{i58_88}.{i0_1}",
    "curl/8.{i0_11}.{i0_1}",
    "python-httpx/0.{i23_28}.{i0_2}",
    "aiohttp/3.{i8_10}.{i0_5}",
    "Go-http-client/1.1",
    "Python-urllib/3.{i9_12}",
)

# --------------------------------------------------------------------------------------
# Small string helpers (pyarrow does the per-event work in C++)

_OCTET_STR = pa.array([str(i) for i in range(256)])
_HEX16_STR = pa.array([f"{i:x}" for i in range(65536)])
_HEX8_STR = pa.array([f"{i:02x}" for i in range(256)])
_TOD_STR = pa.array(
    [f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)]
)


def _join(parts: list[pa.Array | str]) -> pa.Array:
    """Concatenate string arrays (and constant strings) element-wise."""
    return pc.binary_join_element_wise(*parts, "")


def _take(pool: pa.Array, index: np.ndarray) -> pa.Array:
    return pool.take(pa.array(index, type=pa.int64()))


def _assemble(n: int, parts: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """Put arrays built for disjoint subsets (given by positions) back in position order."""
    positions = np.concatenate([p for p, _ in parts]) if parts else np.zeros(0, np.int64)
    if len(positions) != n:
        raise AssertionError("subsets do not cover the events")
    values = pa.concat_arrays([a.cast(pa.string()) for _, a in parts])
    order = np.empty(n, np.int64)
    order[positions] = np.arange(n)
    return _take(values, order)


def _ipv4_strings(addresses: np.ndarray) -> pa.Array:
    addresses = addresses.astype(np.uint32)
    octets = [_take(_OCTET_STR, (addresses >> s) & 0xFF) for s in (24, 16, 8, 0)]
    return _join([octets[0], ".", octets[1], ".", octets[2], ".", octets[3]])


def _residential(rng: np.random.Generator, n: int) -> np.ndarray:
    first = np.asarray(RESIDENTIAL_OCTETS, np.uint32)[rng.integers(len(RESIDENTIAL_OCTETS), size=n)]
    rest = rng.integers(1, 1 << 24, size=n, dtype=np.uint32)
    rest = np.where((rest & 0xFF) == 0, rest | 1, rest)
    return (first << 24) | rest


def _in_blocks(rng: np.random.Generator, prefixes: list[str], n: int) -> np.ndarray:
    """``n`` distinct-ish addresses inside the given dotted prefixes (``a.b`` or ``a.b.c``)."""
    base = []
    for prefix in prefixes:
        parts = [int(x) for x in prefix.split(".")]
        value = 0
        for part in parts:
            value = (value << 8) | part
        base.append((value << (8 * (4 - len(parts))), 8 * (4 - len(parts))))
    which = rng.integers(len(base), size=n)
    starts = np.array([b for b, _ in base], np.uint64)[which]
    spans = np.array([1 << bits for _, bits in base], np.uint64)[which]
    offset = (rng.random(n) * (spans - 2).astype(np.float64)).astype(np.uint64) + 1
    return (starts + offset).astype(np.uint32)


def _hex_ids(rng: np.random.Generator, n: int, prefix: str) -> pa.Array:
    raw = rng.integers(0, 256, size=(n, 8))
    return _join([prefix, *(_take(_HEX8_STR, raw[:, i]) for i in range(8))])


def _weights(pairs: tuple[tuple[str, int], ...]) -> tuple[pa.Array, np.ndarray]:
    texts = pa.array([t for t, _ in pairs])
    w = np.array([w for _, w in pairs], np.float64)
    return texts, np.cumsum(w / w.sum())


def _draw(rng: np.random.Generator, cumulative: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cumulative, rng.random(n), side="right"), len(cumulative) - 1)


# --------------------------------------------------------------------------------------
# Templates: literal pieces and slots, rendered for many events at once

_MAX_SLOTS = 6
_SLOT_RE = re.compile(r"\{(\w+)\}")
_SENTENCE_POOLS = (pa.array(_SUBJECTS), pa.array(_VERBS), pa.array(_OBJECTS))


@dataclass
class _SlotContext:
    """Per-account values some slots draw from (an account's favourite topics, its name)."""

    acc: np.ndarray
    fav: np.ndarray
    name: np.ndarray


def _capitalise_first(values: pa.Array) -> pa.Array:
    head = pc.utf8_upper(pc.utf8_slice_codeunits(values, 0, 1))
    return _join([head, pc.utf8_slice_codeunits(values, 1)])


def _sentences(rng: np.random.Generator, n: int) -> pa.Array:
    subj, verb, obj = (_take(p, rng.integers(len(p), size=n)) for p in _SENTENCE_POOLS)
    return _join([_capitalise_first(subj), " ", verb, " ", obj, "."])


_POOL_SLOTS: dict[str, pa.Array] = {
    "lang": pa.array(_LANGS),
    "topic": pa.array(_TOPICS),
    "name": pa.array(_NAMES),
    "city": pa.array(_CITIES),
    "task": pa.array(_TASKS),
    "code": pa.array(_CODE),
}
_INT_SLOTS = {"n": (2, 99), "big": (100, 9999), "year": (1990, 2026), "count": (3, 12)}
_INT_RE = re.compile(r"i(\d+)_(\d+)$")


def _slot_values(name: str, rng: np.random.Generator, ctx: _SlotContext) -> pa.Array:
    n = len(ctx.acc)
    if name in _POOL_SLOTS:
        pool = _POOL_SLOTS[name]
        return _take(pool, rng.integers(len(pool), size=n))
    bounds = _INT_SLOTS.get(name)
    match = _INT_RE.match(name)
    if match:
        bounds = (int(match.group(1)), int(match.group(2)))
    if bounds is not None:
        return pa.array(rng.integers(bounds[0], bounds[1] + 1, size=n)).cast(pa.string())
    if name == "fav":
        topics = ctx.fav[ctx.acc, rng.integers(ctx.fav.shape[1], size=n)]
        return _take(_POOL_SLOTS["topic"], topics)
    if name == "self":
        return _take(_POOL_SLOTS["name"], ctx.name[ctx.acc])
    if name == "sentence":
        return _sentences(rng, n)
    if name == "url":
        host = _take(pa.array(_WORDS_WEB), rng.integers(len(_WORDS_WEB), size=n))
        path = _take(pa.array(_PATHS), rng.integers(len(_PATHS), size=n))
        number = pa.array(rng.integers(10, 99999, size=n)).cast(pa.string())
        return _join(["https://", host, "/", path, "/", number])
    if name == "email":
        user = pc.utf8_lower(_take(_POOL_SLOTS["name"], rng.integers(len(_NAMES), size=n)))
        number = pa.array(rng.integers(1, 9999, size=n)).cast(pa.string())
        host = _take(pa.array(_WORDS_MAIL), rng.integers(len(_WORDS_MAIL), size=n))
        return _join([user, number, "@", host])
    raise AssertionError(f"unknown slot {name!r}")


class _Templates:
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

    def freeze(self) -> _Templates:
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
        ctx: _SlotContext,
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
                    parts.append(_take(self.capitalised, index + capitalise * len(self.lits[0])))
                else:
                    parts.append(_take(self.lits[j], index))
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
                sub = _SlotContext(ctx.acc[where], ctx.fav, ctx.name)
                filled.append((where, _slot_values(self.slot_names[code], rng, sub)))
            parts.append(filled[0][1] if len(filled) == 1 else _assemble(n, filled))
        return parts

    def render(self, rows: np.ndarray, rng: np.random.Generator, ctx: _SlotContext) -> pa.Array:
        return _join(list(self.parts(rows, rng, ctx)))


def _fill_once(text: str, rng: np.random.Generator) -> str:
    """Fill a template's slots with fixed values (for per-group texts like homework)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("self",):
            return match.group(0)
        ctx = _SlotContext(np.zeros(1, np.int64), np.zeros((1, 1), np.int64), np.zeros(1))
        return str(_slot_values(name, rng, ctx)[0])

    return _SLOT_RE.sub(value, text)


def _typo(text: str, rng: np.random.Generator) -> str:
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


def _paraphrase(text: str, rng: np.random.Generator) -> str:
    """Swap some words for synonyms, keeping the slots and most of the wording."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        options = _SYNONYMS.get(word)
        if options is None or rng.random() < 0.45:
            return word
        return options[int(rng.integers(len(options)))]

    parts = _SLOT_RE.split(text)
    for j in range(0, len(parts), 2):
        parts[j] = re.sub(r"[A-Za-z]+", swap, parts[j])
    for j in range(1, len(parts), 2):
        parts[j] = "{" + parts[j] + "}"
    return "".join(parts)


# --------------------------------------------------------------------------------------
# Activity over time: minute-resolution intensity per profile, in local time

_HOME, _OFFICE, _SCHOOL, _FLAT = range(4)
_HOURLY = np.array(
    [
        # home: evenings peak, quiet nights
        [3, 2, 1.5, 1, 1, 2, 5, 9, 11, 12, 12, 12, 13, 12, 12, 12, 13, 14, 16, 18, 19, 17, 12, 7],
        # office: working hours
        [.5, .3, .3, .3, .3, .5, 2, 8, 20, 24, 24, 22, 16, 22, 24, 22, 18, 8, 4, 3, 2, 1.5, 1, .7],
        # school: lessons, then homework in the evening
        [.5, .3, .3, .3, .3, .5, 2, 10, 16, 16, 16, 14, 12, 14, 12, 8, 10, 12, 14, 14, 12, 6, 2, 1],
        # flat: scripts run around the clock
        [10] * 24,
    ]
)  # fmt: skip
_WEEKEND = np.array([1.1, 0.08, 0.35, 1.0])
_TZ_MINUTES = np.array([-480, -420, -360, -300, -180, 0, 60, 120, 180, 330, 480, 540])
_TZ_WEIGHTS = np.array([8, 5, 8, 15, 5, 10, 18, 8, 4, 7, 7, 5], np.float64)
_EXT_MIN = 1440  # profiles extend a day either side so any time zone fits


def _intensity(start: np.datetime64, days: int) -> np.ndarray:
    """Cumulative intensity per profile, shape (profiles, minutes + 1), local time."""
    minutes = np.arange(-_EXT_MIN, days * 1440 + _EXT_MIN)
    day = np.floor_divide(minutes, 1440)
    weekday = (day + (start.astype("datetime64[D]").astype(np.int64) + 3)) % 7  # 0 = Monday
    hour = (minutes % 1440) // 60
    weekend = weekday >= 5
    weights = _HOURLY[:, hour] * np.where(weekend, _WEEKEND[:, None], 1.0)
    cumulative = np.zeros((len(_HOURLY), len(minutes) + 1))
    cumulative[:, 1:] = np.cumsum(weights, axis=1)
    return cumulative


# --------------------------------------------------------------------------------------
# The population

_FIXED, _POOL, _FRESH, _V6 = range(4)


@dataclass
class _Population:
    """Everything per account that the event blocks draw from."""

    ids: pa.Array
    truth: pd.DataFrame
    cum: np.ndarray  # flattened cumulative intensity, one profile after another, offset
    base: np.ndarray  # per account: index of its (profile, time zone) origin in cum
    start_min: np.ndarray  # per account: first minute sessions may start (UTC)
    anchor: np.ndarray  # per account: time of its guaranteed event, seconds
    anchor_order: np.ndarray
    rate: np.ndarray  # expected sessions over the account's window
    norm: np.ndarray  # intensity mass of the account's window
    session_p: np.ndarray  # geometric parameter of requests per session
    gap: np.ndarray  # mean seconds between requests in a session
    channel_cum: np.ndarray  # (A, 2) cumulative probability of IP channels 0 and 1
    channel_mode: np.ndarray  # (A, 3)
    channel_a: np.ndarray  # (A, 3) start in ip table / v6 prefix index
    channel_b: np.ndarray  # (A, 3) pool length
    ip_table: pa.Array
    v6_prefixes: pa.Array
    payment: np.ndarray
    cards: pa.Array
    ua1: np.ndarray
    ua2: np.ndarray
    ua2_p: np.ndarray
    user_agents: pa.Array
    p_popular: np.ndarray
    p_template: np.ndarray
    tpl_start: np.ndarray
    tpl_count: np.ndarray
    templates: _Templates
    fav: np.ndarray
    name: np.ndarray
    span_s: int
    block_s: int
    day_prefix: pa.Array


class _Accounts:
    """Column lists, appended to group by group, then concatenated."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {}

    def add(self, n: int, **cols: object) -> None:
        for key, value in cols.items():
            arr = np.asarray(value)
            if arr.ndim == 0:
                arr = np.broadcast_to(arr, (n,))
            self.cols.setdefault(key, []).append(np.asarray(arr))

    def get(self, key: str) -> np.ndarray:
        return np.concatenate(self.cols[key])


class _Table:
    """An append-only table of IPv4 addresses, user agents or cards, addressed by index."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.size = 0

    def add(self, values: np.ndarray) -> int:
        self.parts.append(values)
        self.size += len(values)
        return self.size - len(values)

    def all(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.uint32)


def _sizes(rng: np.random.Generator, target: int, draw: Callable[[int], np.ndarray]) -> np.ndarray:
    """Group sizes from ``draw`` adding up to about ``target`` (at least one group)."""
    sizes = draw(max(4, target))
    keep = max(1, int(np.searchsorted(np.cumsum(sizes), target, side="right")))
    return sizes[:keep]


def _ring_count(config: SynthConfig) -> int:
    return max(4, round(12 * (config.n_events / 500_000) ** 0.75))


def _ring_kinds(rng: np.random.Generator, n_rings: int, hard: bool) -> np.ndarray:
    if not hard:
        return np.zeros(n_rings, np.int64)
    guaranteed = np.tile(np.arange(4), 2)[:n_rings]
    extra = rng.choice(4, size=n_rings - len(guaranteed), p=[0.4, 0.2, 0.2, 0.2])
    kinds = np.concatenate([guaranteed, extra])
    return rng.permutation(kinds)


def _check(config: SynthConfig) -> None:
    if config.n_events < 1_000:
        raise ConfigError(f"n_events must be at least 1000, not {config.n_events}")
    if config.days < 1:
        raise ConfigError(f"days must be at least 1, not {config.days}")
    if not 0 <= config.sybil_event_share < 0.9:
        raise ConfigError("sybil_event_share must be in [0, 0.9)")
    if config.events_per_account < 2:
        raise ConfigError("events_per_account must be at least 2")
    try:
        np.datetime64(config.start, "D")
    except ValueError:
        raise ConfigError(f"start must be a date like 2026-04-13, not {config.start!r}") from None


def _build_population(config: SynthConfig) -> _Population:
    _check(config)
    rng = np.random.default_rng([config.seed, 0])
    n_events = config.n_events
    span_s = config.days * 86400
    n_accounts = max(60, round(n_events / config.events_per_account))
    share = config.sybil_event_share
    sybil_target = n_accounts * share / (share + 21 * (1 - share)) if share > 0 else 0

    accounts = _Accounts()
    ips = _Table()
    cards = _Table()  # one placeholder per card; the ids are drawn at the end
    v6_count = [0]
    templates = _Templates(variants=12)
    tpl_rng = np.random.default_rng([config.seed, 2])

    ua_pool = _Templates()
    ua_cum = np.cumsum([w for _, w in _UA_FAMILIES]) / sum(w for _, w in _UA_FAMILIES)
    for family in _UA_FAMILIES:
        ua_pool.add(family[0])
    ua_pool.freeze()
    pool_rows = np.searchsorted(ua_cum, rng.random(2000), side="right")
    dummy = _SlotContext(np.zeros(2000, np.int64), np.zeros((1, 1), np.int64), np.zeros(1))
    legit_uas = ua_pool.render(pool_rows, rng, dummy)
    ua_strings: list[pa.Array] = [legit_uas]
    ua_size = [len(legit_uas)]
    zipf = 1.0 / (np.arange(len(legit_uas)) + 8.0) ** 1.1
    ua_pick_cum = np.cumsum(zipf / zipf.sum())

    def legit_ua(n: int) -> dict[str, object]:
        return {
            "ua1": _draw(rng, ua_pick_cum, n),
            "ua2": _draw(rng, ua_pick_cum, n),
            "ua2_p": np.where(rng.random(n) < 0.4, 0.2, 0.0),
        }

    def new_cards(n: int) -> int:
        return cards.add(np.zeros(n, np.uint32))

    def tz(n: int) -> np.ndarray:
        return rng.choice(_TZ_MINUTES, size=n, p=_TZ_WEIGHTS / _TZ_WEIGHTS.sum())

    def fav(n: int) -> np.ndarray:
        return rng.integers(len(_TOPICS), size=(n, 3))

    # Shared infrastructure: carrier NAT pools and VPN exits, sized by their users.
    n_legit_target = n_accounts - sybil_target
    carrier_users = 0.12 * n_legit_target
    n_carriers = 3
    carrier_pools = []
    for c in range(n_carriers):
        size = max(4, int(carrier_users / n_carriers / 150))
        block = [f"100.{64 + 16 * c + k}" for k in range(16)]
        start = ips.add(np.unique(_in_blocks(rng, block, size)))
        carrier_pools.append((start, ips.size - start))
    vpn_users = 0.05 * n_legit_target
    vpn_pools = []
    for p in range(4):
        size = int(min(250, max(4, vpn_users / 4 / 300)))
        start = ips.add(np.unique(_in_blocks(rng, [VPN_BLOCKS[p]], size)))
        vpn_pools.append((start, ips.size - start))

    def carrier_channel(n: int) -> tuple[np.ndarray, np.ndarray]:
        which = rng.integers(n_carriers, size=n)
        return (
            np.array([carrier_pools[c][0] for c in range(n_carriers)])[which],
            np.array([carrier_pools[c][1] for c in range(n_carriers)])[which],
        )

    def homes(n: int) -> np.ndarray:
        return ips.add(_residential(rng, n)) + np.arange(n)

    def channels(
        n: int,
        probs: tuple[float, float, float],
        modes: tuple[int, int, int],
        a: list[np.ndarray | int],
        b: list[np.ndarray | int],
    ) -> dict[str, np.ndarray]:
        p = np.array(probs, np.float64)
        return {
            "ch_cum": np.broadcast_to(np.cumsum(p)[:2], (n, 2)),
            "ch_mode": np.broadcast_to(np.array(modes, np.int64), (n, 3)),
            "ch_a": np.stack([np.broadcast_to(np.asarray(x, np.int64), (n,)) for x in a], 1),
            "ch_b": np.stack([np.broadcast_to(np.asarray(x, np.int64), (n,)) for x in b], 1),
        }

    def add_legit(
        kind: str,
        n: int,
        group: np.ndarray | int,
        volume: np.ndarray,
        profile: np.ndarray | int,
        tzs: np.ndarray,
        anchor: np.ndarray,
        pay: np.ndarray,
        chans: dict[str, np.ndarray],
        **extra: object,
    ) -> None:
        cols: dict[str, object] = {
            "kind": LEGIT_KINDS.index(kind),
            "group": group,
            "volume": volume,
            "profile": profile,
            "tz": tzs,
            "anchor": anchor,
            "pay": pay,
            "session": 2.2,
            "gap": 50.0,
            "p_pop": rng.uniform(0.05, 0.25, n),
            "p_tpl": 0.0,
            "tpl_start": 0,
            "tpl_count": 1,
            "fav": fav(n),
            "name": rng.integers(len(_NAMES), size=n),
        }
        cols.update(legit_ua(n))
        cols.update(chans)
        cols.update(extra)
        accounts.add(n, **cols)

    def own_card(n: int, p_card: float) -> np.ndarray:
        has = rng.random(n) < p_card
        start = new_cards(int(has.sum()))
        pay = np.full(n, -1, np.int64)
        pay[has] = start + np.arange(int(has.sum()))
        return pay

    def pre_existing(n: int) -> np.ndarray:
        return np.full(n, -1, np.int64)  # anchor drawn later from the profile

    def onboard(n: int, at: float, spread: float) -> np.ndarray:
        at = min(at, span_s - spread - 3600)
        return (max(at, 0) + rng.random(n) * spread).astype(np.int64)

    def maybe_new(n: int, p_new: float) -> np.ndarray:
        anchor = pre_existing(n)
        new = rng.random(n) < p_new
        anchor[new] = rng.integers(0, span_s - 3600, size=int(new.sum()))
        return anchor

    # -- legitimate groups -------------------------------------------------------------
    L = n_legit_target
    counters = dict.fromkeys(("household", "office", "classroom"), 0)

    sizes = _sizes(
        rng, int(0.14 * L), lambda k: rng.choice([2, 3, 4, 5], k, p=[0.45, 0.3, 0.17, 0.08])
    )
    for household_size in np.unique(sizes):
        size = int(household_size)
        n_groups = int((sizes == size).sum())
        n = n_groups * size
        household_ids = counters["household"] + np.arange(n_groups)
        counters["household"] += n_groups
        member_group = np.repeat(household_ids, size)
        on_v6 = np.repeat(rng.random(n_groups) < 0.2, size)
        home = np.repeat(homes(n_groups), size)
        prefix = np.repeat(v6_count[0] + np.arange(n_groups), size)
        v6_count[0] += n_groups
        shared_card = np.repeat(rng.random(n_groups) < 0.3, size)
        family_card = np.repeat(new_cards(n_groups) + np.arange(n_groups), size)
        pay = np.where(shared_card, family_card, own_card(n, 0.5))
        car_a, car_b = carrier_channel(n)
        chans = channels(
            n, (0.85, 0.15, 0.0), (_FIXED, _POOL, _FIXED), [home, car_a, home], [1, car_b, 1]
        )
        chans["ch_mode"] = np.where(on_v6[:, None], np.array([_V6, _POOL, _V6]), chans["ch_mode"])
        chans["ch_a"] = np.where(on_v6[:, None], np.stack([prefix, car_a, prefix], 1),
                                 chans["ch_a"])  # fmt: skip
        tzs = np.repeat(tz(n_groups), size)
        add_legit("household", n, member_group, rng.lognormal(0, 1, n) * 0.9, _HOME, tzs,
                  pre_existing(n), pay, chans)  # fmt: skip

    for kind, share_of_legit in (("office", 0.07), ("office_card", 0.03)):
        office_sizes = _sizes(
            rng, int(share_of_legit * L), lambda k: np.clip(rng.lognormal(np.log(18), 0.6, k),
                                                            8, 80).astype(np.int64))  # fmt: skip
        for office_size in office_sizes:
            size = int(office_size)
            gid = counters["office"]
            counters["office"] += 1
            n_ips = int(rng.integers(1, 5))
            office_ips = _residential(rng, n_ips)
            if rng.random() < 0.3:  # a build server in the cloud, next to the rings' ranges
                office_ips[-1] = _in_blocks(rng, list(CLOUD_BLOCKS), 1)[0]
            pool_start = ips.add(office_ips)
            home = homes(size)
            chans = channels(size, (0.85, 0.15, 0.0), (_POOL, _FIXED, _FIXED),
                             [pool_start, home, home], [n_ips, 1, 1])  # fmt: skip
            if kind == "office_card":
                pay = np.full(size, new_cards(1), np.int64)
            else:
                pay = own_card(size, 0.9)
            if rng.random() < 0.5:
                anchor = onboard(size, rng.uniform(0, span_s - 2 * 86400), 0.7 * 86400)
            else:
                anchor = pre_existing(size)
            power = rng.random(size) < 0.25
            volume = rng.lognormal(0, 1, size) * np.where(power, 5.0, 1.4)
            extra: dict[str, object] = {}
            if rng.random() < 0.3:  # an internal tool wraps some of the office's requests
                company = (f"{_COMPANY_A[int(rng.integers(len(_COMPANY_A)))]} "
                           f"{_COMPANY_B[int(rng.integers(len(_COMPANY_B)))]}")  # fmt: skip
                text = _OFFICE_TOOLS[int(rng.integers(len(_OFFICE_TOOLS)))]
                row = templates.add(text.replace("{company}", company))
                extra = {"tpl_start": row, "tpl_count": 1, "p_tpl": 0.15}
            add_legit(kind, size, gid, volume, _OFFICE, np.full(size, tz(1)[0]), anchor, pay,
                      chans, session=np.where(power, 4.0, 2.5), **extra)  # fmt: skip

    class_sizes = _sizes(rng, int(0.03 * L), lambda k: rng.integers(20, 41, k))
    for class_size in class_sizes:
        size = int(class_size)
        gid = counters["classroom"]
        counters["classroom"] += 1
        school = ips.add(_residential(rng, 2))
        n_school = int(rng.integers(1, 3))
        home = homes(size)
        chans = channels(size, (0.6, 0.4, 0.0), (_POOL, _FIXED, _FIXED),
                         [school, home, home], [n_school, 1, 1])  # fmt: skip
        first_row = len(templates)
        for _ in range(int(rng.integers(1, 3))):
            assignment = _fill_once(_HOMEWORK[int(rng.integers(len(_HOMEWORK)))], rng)
            for edit in _HOMEWORK_EDITS:
                templates.add(edit(assignment))
        anchor = onboard(size, rng.uniform(0, span_s - 2 * 86400), rng.uniform(0.5, 2) * 86400)
        add_legit("classroom", size, gid, rng.lognormal(0, 0.8, size) * 0.5, _SCHOOL,
                  np.full(size, tz(1)[0]), anchor, own_card(size, 0.1), chans,
                  p_tpl=rng.uniform(0.3, 0.5, size), tpl_start=first_row,
                  tpl_count=len(templates) - first_row)  # fmt: skip

    def add_single(kind: str, n: int, p_card: float, p_new: float) -> None:
        home = homes(n)
        car_a, car_b = carrier_channel(n)
        if kind == "solo":
            mobile = np.where(rng.random(n) < 0.3, 0.2, 0.0)
            chans = channels(n, (1.0, 0.0, 0.0), (_FIXED, _POOL, _FIXED),
                             [home, car_a, home], [1, car_b, 1])  # fmt: skip
            chans["ch_cum"] = np.stack([1 - mobile, np.ones(n)], 1)
        elif kind == "carrier":
            chans = channels(n, (0.9, 0.1, 0.0), (_POOL, _FIXED, _FIXED),
                             [car_a, home, home], [car_b, 1, 1])  # fmt: skip
        elif kind == "vpn_user":
            which = rng.integers(len(vpn_pools), size=n)
            vpn_a = np.array([s for s, _ in vpn_pools])[which]
            vpn_b = np.array([k for _, k in vpn_pools])[which]
            chans = channels(n, (0.85, 0.15, 0.0), (_POOL, _FIXED, _FIXED),
                             [vpn_a, home, home], [vpn_b, 1, 1])  # fmt: skip
        else:
            prefix = v6_count[0] + np.arange(n)
            v6_count[0] += n
            chans = channels(n, (0.9, 0.1, 0.0), (_V6, _POOL, _V6),
                             [prefix, car_a, prefix], [1, car_b, 1])  # fmt: skip
        add_legit(kind, n, -1, rng.lognormal(0, 1, n) * (0.8 if kind == "carrier" else 1.0),
                  _HOME, tz(n), maybe_new(n, p_new), own_card(n, p_card), chans)  # fmt: skip

    add_single("carrier", max(1, int(0.12 * L)), 0.5, 0.08)
    add_single("vpn_user", max(1, int(0.05 * L)), 0.5, 0.08)
    add_single("ipv6_user", max(1, int(0.06 * L)), 0.5, 0.08)
    n_legit_so_far = sum(len(k) for k in accounts.cols["kind"])
    add_single("solo", max(1, int(L) - n_legit_so_far), 0.55, 0.1)

    # -- sybil rings ----------------------------------------------------------------------
    n_rings = _ring_count(config) if share > 0 else 0
    mean_size = max(8.0, sybil_target / max(n_rings, 1))
    max_size = int(np.clip(mean_size * 2.5, 20, 150))
    ring_sizes = np.clip(rng.lognormal(np.log(mean_size), 0.5, n_rings), 8, max_size)
    ring_kinds = _ring_kinds(rng, n_rings, config.hard_cases)
    ring_levels = rng.lognormal(0, 0.35, n_rings)
    for r in range(n_rings):
        size = int(ring_sizes[r])
        ring_kind = int(ring_kinds[r])
        span_left = max(span_s - int(2.5 * 86400), 0)
        anchor = onboard(size, rng.uniform(0, span_left), rng.uniform(0.3, 1.5) * 86400)
        home = np.zeros(size, np.int64)
        if ring_kind in (0, 3):  # basic and vpn: prepaid cards shared by 3-8 members
            n_cards = max(1, math.ceil(size / rng.uniform(3, 8)))
            pay = new_cards(n_cards) + rng.permutation(np.arange(size) % n_cards)
        elif ring_kind == 1:
            pay = own_card(size, 0.8)
        else:
            n_cards = int(rng.integers(2, 4))
            pay = new_cards(n_cards) + rng.integers(n_cards, size=size)
        if ring_kind == 0:
            dc = ips.add(np.unique(_in_blocks(rng, [CLOUD_BLOCKS[rng.integers(40)]],
                                              int(np.clip(size // 2, 12, 60)))))  # fmt: skip
            chans = channels(
                size, (1, 0, 0), (_POOL, _POOL, _POOL), [dc, dc, dc], [ips.size - dc] * 3
            )
        elif ring_kind == 1:
            chans = channels(size, (1, 0, 0), (_FRESH, _FRESH, _FRESH), [home] * 3, [1] * 3)
        elif ring_kind == 2:
            blocks = [CLOUD_BLOCKS[i] for i in rng.choice(40, 3, replace=False)]
            dc = ips.add(np.unique(_in_blocks(rng, blocks, int(rng.integers(4, 11)))))
            car_a, car_b = carrier_channel(size)
            chans = channels(size, (0.4, 0.4, 0.2), (_POOL, _FRESH, _POOL),
                             [dc, home, car_a], [ips.size - dc, 1, car_b])  # fmt: skip
        else:
            vpn_start, vpn_len = vpn_pools[int(rng.integers(len(vpn_pools)))]
            chans = channels(size, (1, 0, 0), (_POOL,) * 3, [vpn_start] * 3, [vpn_len] * 3)

        first_row = len(templates)
        persona = _PERSONAS[int(rng.integers(len(_PERSONAS)))]
        suffix = _FORMATS[int(rng.integers(len(_FORMATS)))]
        domain = _TOPICS[int(rng.integers(len(_TOPICS)))]
        wrap = rng.random() < 0.5
        tag = f" [{''.join(rng.choice(list('ABCDEFGHJKLMNPQRSTUVWXYZ'), 3))}]"
        families = rng.choice(len(_RING_FAMILIES), int(rng.integers(3, 9)), replace=False)
        for f in families:
            wordings = _RING_FAMILIES[int(f)]
            body = wordings[int(rng.integers(len(wordings)))]
            text = f"{persona} ({domain}) {body} {suffix}" if wrap else f"{body} {suffix}"
            if rng.random() < 0.3:
                text += tag
            if ring_kind == 1:
                for k in range(int(rng.integers(3, 6))):
                    para = _paraphrase(text, tpl_rng)
                    if k % 2 == 1 and wrap:  # the format instruction moves to the front
                        para = _paraphrase(f"{suffix} {persona} ({domain}) {body}", tpl_rng)
                    templates.add(para)
            elif ring_kind == 2:
                templates.add(text, spell=lambda s: _typo(s, tpl_rng))
            else:
                templates.add(text)
        n_uas = int(rng.integers(1, 3))
        ua_rows = rng.integers(len(_UA_SCRIPTED), size=n_uas)
        scripted = _Templates()
        for row in ua_rows:
            scripted.add(_UA_SCRIPTED[int(row)])
        dummy = _SlotContext(np.zeros(n_uas, np.int64), np.zeros((1, 1), np.int64), np.zeros(1))
        ring_uas = scripted.freeze().render(np.arange(n_uas), rng, dummy)
        ua_start = ua_size[0]
        ua_strings.append(ring_uas)
        ua_size[0] += n_uas
        hard = ring_kind != 0
        accounts.add(
            size,
            kind=len(LEGIT_KINDS) + ring_kind,
            group=r,
            volume=ring_levels[r] * rng.lognormal(0, 0.25, size),
            profile=_HOME if rng.random() < (0.6 if hard else 0.3) else _FLAT,
            tz=np.full(size, tz(1)[0]),
            anchor=anchor,
            pay=pay,
            session=3.0 if hard else 6.0,
            gap=20.0 if hard else 6.0,
            p_pop=0.03,
            p_tpl=rng.uniform(0.88, 0.97),
            tpl_start=first_row,
            tpl_count=len(templates) - first_row,
            fav=fav(size),
            name=rng.integers(len(_NAMES), size=size),
            ua1=ua_start,
            ua2=ua_start + n_uas - 1,
            ua2_p=0.3 if n_uas > 1 else 0.0,
            **chans,
        )
    templates.freeze()

    # -- per-account arrays ----------------------------------------------------------------
    kind_code = accounts.get("kind")
    n_total = len(kind_code)
    sybil = kind_code >= len(LEGIT_KINDS)
    volume = accounts.get("volume").astype(np.float64)
    legit_total = n_events * (1 - share) if sybil.any() else n_events
    volume[~sybil] *= legit_total / volume[~sybil].sum()
    if sybil.any():
        volume[sybil] *= n_events * share / volume[sybil].sum()
    volume = np.maximum(volume, 1.0)

    first_day = np.datetime64(config.start, "D")
    cum = _intensity(first_day, config.days)
    n_minutes = cum.shape[1]
    big = float(cum[:, -1].max() + 1.0)
    cum_flat = (cum + big * np.arange(len(cum))[:, None]).ravel()
    profile = accounts.get("profile").astype(np.int64)
    tz_min = accounts.get("tz").astype(np.int64)
    base = profile * n_minutes + tz_min + _EXT_MIN

    anchor = accounts.get("anchor").astype(np.int64)
    missing = anchor < 0
    end_min = np.full(n_total, span_s // 60)
    draw_at = _sample_minutes(cum_flat, base[missing], np.zeros(int(missing.sum()), np.int64),
                              end_min[missing], rng)  # fmt: skip
    anchor[missing] = draw_at * 60 + rng.integers(0, 60, size=len(draw_at))
    start_min = np.where(missing, 0, -(-anchor // 60))
    norm = cum_flat[base + end_min] - cum_flat[base + np.minimum(start_min, end_min)]
    session = accounts.get("session").astype(np.float64)
    rate = np.where(norm > 0, (volume - 1) / session, 0.0)
    norm = np.where(norm > 0, norm, 1.0)

    # account ids: random numbers, so the id says nothing about the account
    width = max(7, len(str(n_total * 8)))
    numbers = rng.choice(10**width, size=n_total, replace=False)
    ids = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
    ids = _join(["u", ids])

    truth = _truth(ids, kind_code, accounts.get("group").astype(np.int64), counters, n_rings)
    card_ids = _hex_ids(rng, cards.size, "pm_")
    v6_groups = [_take(_HEX16_STR, rng.integers(0, 65536, v6_count[0])) for _ in range(2)]
    isp = _take(pa.array(IPV6_ISPS), rng.integers(len(IPV6_ISPS), size=v6_count[0]))
    v6_prefixes = _join([isp, ":", v6_groups[0], ":", v6_groups[1]])
    day_prefix = pa.array([str(first_day + d) + "T" for d in range(config.days)])
    per_day = max(1, math.ceil(n_events / config.days / 150_000))
    per_day = min(d for d in (1, 2, 3, 4, 6, 8, 12, 24) if d >= min(per_day, 24))
    return _Population(
        ids=ids,
        truth=truth,
        cum=cum_flat,
        base=base,
        start_min=start_min,
        anchor=anchor,
        anchor_order=np.argsort(anchor, kind="stable"),
        rate=rate,
        norm=norm,
        session_p=1.0 / session,
        gap=accounts.get("gap").astype(np.float64),
        channel_cum=accounts.get("ch_cum").astype(np.float64),
        channel_mode=accounts.get("ch_mode").astype(np.int64),
        channel_a=accounts.get("ch_a").astype(np.int64),
        channel_b=accounts.get("ch_b").astype(np.int64),
        ip_table=_ipv4_strings(ips.all()),
        v6_prefixes=v6_prefixes,
        payment=accounts.get("pay").astype(np.int64),
        cards=card_ids,
        ua1=accounts.get("ua1").astype(np.int64),
        ua2=accounts.get("ua2").astype(np.int64),
        ua2_p=accounts.get("ua2_p").astype(np.float64),
        user_agents=pa.concat_arrays(ua_strings),
        p_popular=accounts.get("p_pop").astype(np.float64),
        p_template=accounts.get("p_tpl").astype(np.float64),
        tpl_start=accounts.get("tpl_start").astype(np.int64),
        tpl_count=accounts.get("tpl_count").astype(np.int64),
        templates=templates,
        fav=accounts.get("fav").astype(np.int64),
        name=accounts.get("name").astype(np.int64),
        span_s=span_s,
        block_s=86400 // per_day,
        day_prefix=day_prefix,
    )


def _sample_minutes(
    cum: np.ndarray, base: np.ndarray, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw one UTC minute in ``[lo, hi)`` per row, following the row's intensity."""
    lo_c = cum[base + lo]
    hi_c = cum[base + hi]
    target = lo_c + rng.random(len(base)) * (hi_c - lo_c)
    idx = np.searchsorted(cum, target, side="right") - 1
    return np.clip(idx - base, lo, hi - 1)


def _truth(
    ids: pa.Array, kind: np.ndarray, group: np.ndarray, counters: dict[str, int], n_rings: int
) -> pd.DataFrame:
    kinds = np.array(LEGIT_KINDS + SYBIL_KINDS, dtype=object)
    kind_names = kinds[kind]
    prefix = {
        "household": ("household_", 5, counters["household"]),
        "office": ("office_", 4, counters["office"]),
        "office_card": ("office_", 4, counters["office"]),
        "classroom": ("classroom_", 4, counters["classroom"]),
    }
    for ring_kind in SYBIL_KINDS:
        prefix[ring_kind] = ("ring_", 3, n_rings)
    groups = kind_names.copy()
    for name, (text, width, count) in prefix.items():
        mask = kind_names == name
        if not mask.any():
            continue
        width = max(width, len(str(max(count - 1, 0))))
        numbers = pc.utf8_lpad(pa.array(group[mask]).cast(pa.string()), width, "0")
        groups[mask] = np.asarray(_join([text, numbers]).to_pylist(), dtype=object)
    truth = pd.DataFrame(
        {
            "account_id": ids.to_numpy(zero_copy_only=False),
            "label": np.where(kind >= len(LEGIT_KINDS), "sybil", "legit"),
            "group": groups,
            "kind": kind_names,
        }
    ).astype("str")
    return truth.sort_values("account_id", ignore_index=True)


# --------------------------------------------------------------------------------------
# Events, one block of time at a time

_POPULAR_TEXTS, _POPULAR_CUM = _weights(_POPULAR)
_OPENER_TEXTS, _OPENER_CUM = _weights(_OPENERS)
_QUALIFIER_T = _Templates()
_CONTEXT_T = _Templates()
_FRAME_T = _Templates()
_CLOSER_TEXTS, _CLOSER_CUM = _weights(_CLOSERS)
for _text, _ in _QUALIFIERS:
    _QUALIFIER_T.add(_text)
for _text, _ in _CONTEXTS:
    _CONTEXT_T.add(_text)
for _text in _FRAMES:
    _FRAME_T.add(_text)
_QUALIFIER_T.freeze()
_CONTEXT_T.freeze()
_FRAME_T.freeze()
_QUALIFIER_CUM = _weights(_QUALIFIERS)[1]
_CONTEXT_CUM = _weights(_CONTEXTS)[1]


def _personal(rng: np.random.Generator, ctx: _SlotContext) -> pa.Array:
    n = len(ctx.acc)
    opener = _draw(rng, _OPENER_CUM, n)
    capital = (rng.random(n) < 0.6) & (opener == 0)  # opener 0 is the empty one
    frame = _FRAME_T.parts(rng.integers(len(_FRAME_T), size=n), rng, ctx, capital)
    qualifier = _QUALIFIER_T.parts(_draw(rng, _QUALIFIER_CUM, n), rng, ctx)
    closer = _take(_CLOSER_TEXTS, _draw(rng, _CLOSER_CUM, n))
    context = _CONTEXT_T.parts(_draw(rng, _CONTEXT_CUM, n), rng, ctx)
    return _join([_take(_OPENER_TEXTS, opener), *frame, *qualifier, closer, *context])


def _prompts(pop: _Population, acc: np.ndarray, rng: np.random.Generator) -> pa.Array:
    n = len(acc)
    u = rng.random(n)
    popular = u < pop.p_popular[acc]
    templated = ~popular & (u < pop.p_popular[acc] + pop.p_template[acc])
    personal = ~popular & ~templated
    parts = []
    where = np.flatnonzero(popular)
    parts.append((where, _take(_POPULAR_TEXTS, _draw(rng, _POPULAR_CUM, len(where)))))
    where = np.flatnonzero(templated)
    sub = acc[where]
    rows = pop.tpl_start[sub] + (rng.random(len(where)) * pop.tpl_count[sub]).astype(np.int64)
    parts.append((where, pop.templates.render(rows, rng, _SlotContext(sub, pop.fav, pop.name))))
    where = np.flatnonzero(personal)
    parts.append((where, _personal(rng, _SlotContext(acc[where], pop.fav, pop.name))))
    return _assemble(n, parts)


def _ips(
    pop: _Population, acc: np.ndarray, first: np.ndarray, rng: np.random.Generator
) -> pa.Array:
    n = len(acc)
    u = np.where(first, 0.0, rng.random(n))  # an account's first request comes from home
    channel = (u >= pop.channel_cum[acc, 0]).astype(np.int64) + (u >= pop.channel_cum[acc, 1])
    mode = pop.channel_mode[acc, channel]
    a = pop.channel_a[acc, channel]
    b = pop.channel_b[acc, channel]
    parts = []
    where = np.flatnonzero((mode == _FIXED) | (mode == _POOL))
    index = a[where] + (rng.random(len(where)) * b[where]).astype(np.int64)
    parts.append((where, _take(pop.ip_table, index)))
    where = np.flatnonzero(mode == _FRESH)
    parts.append((where, _ipv4_strings(_residential(rng, len(where)))))
    where = np.flatnonzero(mode == _V6)
    # interface ids rotate: each day an account uses one of a few, plus fresh temporary ones
    day_slot = rng.integers(0, 3, size=len(where))
    fresh = rng.random(len(where)) < 0.3
    seed = acc[where].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + day_slot.astype(np.uint64)
    iid = np.where(fresh, rng.integers(0, 2**63, size=len(where), dtype=np.uint64), seed)
    iid = (iid ^ (iid >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
    groups = [_take(_HEX16_STR, (iid >> np.uint64(s)) & np.uint64(0xFFFF)) for s in (48, 32, 16, 0)]
    prefix = _take(pop.v6_prefixes, a[where])
    parts.append(
        (where, _join([prefix, ":", groups[0], ":", groups[1], ":", groups[2], ":", groups[3]]))
    )
    return _assemble(n, parts)


def _block(pop: _Population, seed: int, b: int) -> pa.Table:
    rng = np.random.default_rng([seed, 1, b])
    lo = b * pop.block_s
    hi = lo + pop.block_s
    lo_min, hi_min = lo // 60, hi // 60

    first_lo, first_hi = np.searchsorted(pop.anchor[pop.anchor_order], [lo, hi])
    first_acc = pop.anchor_order[first_lo:first_hi]

    active = np.flatnonzero(pop.start_min < hi_min)
    start = np.maximum(pop.start_min[active], lo_min)
    base = pop.base[active]
    mass = pop.cum[base + hi_min] - pop.cum[base + start]
    n_sessions = rng.poisson(pop.rate[active] * mass / pop.norm[active])
    has = n_sessions > 0
    sess_acc = np.repeat(active[has], n_sessions[has])
    sess_minute = _sample_minutes(
        pop.cum,
        np.repeat(base[has], n_sessions[has]),
        np.repeat(start[has], n_sessions[has]),
        np.full(len(sess_acc), hi_min),
        rng,
    )
    sess_t = sess_minute * 60 + rng.integers(0, 60, size=len(sess_acc))
    length = rng.geometric(pop.session_p[sess_acc])
    ev_acc = np.repeat(sess_acc, length)
    gaps = rng.exponential(1.0, size=len(ev_acc)) * pop.gap[ev_acc]
    first_in_session = np.zeros(len(ev_acc), bool)
    starts = np.cumsum(length) - length
    first_in_session[starts] = True
    gaps[first_in_session] = 0.0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[starts], length)
    ev_t = np.repeat(sess_t, length) + elapsed.astype(np.int64)
    keep = ev_t < hi

    acc = np.concatenate([first_acc, ev_acc[keep]])
    t = np.concatenate([pop.anchor[first_acc], ev_t[keep]])
    first = np.concatenate([np.ones(len(first_acc), bool), np.zeros(int(keep.sum()), bool)])
    order = np.lexsort((acc, t))
    acc, t, first = acc[order], t[order], first[order]

    n = len(acc)
    ts = _join([_take(pop.day_prefix, t // 86400), _take(_TOD_STR, t % 86400)])
    pay_index = pop.payment[acc]
    payment = pop.cards.take(pa.array(pay_index, mask=pay_index < 0))
    ua = np.where(rng.random(n) < pop.ua2_p[acc], pop.ua2[acc], pop.ua1[acc])
    return pa.table(
        {
            "account_id": _take(pop.ids, acc),
            "ts": ts,
            "ip": _ips(pop, acc, first, rng),
            "payment_id": payment,
            "prompt": _prompts(pop, acc, rng),
            "user_agent": _take(pop.user_agents, ua),
        }
    )


def _tables(pop: _Population, seed: int) -> Iterator[pa.Table]:
    for b in range(pop.span_s // pop.block_s):
        table = _block(pop, seed, b)
        if table.num_rows:
            yield table


def _rechunk(tables: Iterator[pa.Table], size: int) -> Iterator[pa.Table]:
    """Regroup tables into tables of exactly ``size`` rows (the last one shorter)."""
    pending: list[pa.Table] = []
    held = 0
    for table in tables:
        pending.append(table)
        held += table.num_rows
        while held >= size:
            merged = pa.concat_tables(pending)
            yield merged.slice(0, size)
            rest = merged.slice(size)
            pending, held = [rest], rest.num_rows
    if held:
        yield pa.concat_tables(pending)


def _csv_field(values: pa.Array) -> pa.Array:
    """Quote a string column the way RFC 4180 needs: only values with , " or line breaks."""
    values = pc.fill_null(values, "")
    quoted = _join(['"', pc.replace_substring(values, '"', '""'), '"'])
    return pc.if_else(pc.match_substring_regex(values, '[,"\r\n]'), quoted, values)


def _csv_rows(table: pa.Table) -> bytes:
    columns = [_csv_field(table.column(name).combine_chunks()) for name in table.column_names]
    lines = _join([pc.binary_join_element_wise(*columns, ","), "\n"])
    if len(lines) == 0:
        return b""
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[
        lines.offset : lines.offset + len(lines) + 1
    ]
    return lines.buffers()[2][int(offsets[0]) : int(offsets[-1])].to_pybytes()


def _to_pandas(table: pa.Table, offset: int) -> pd.DataFrame:
    frame = table.to_pandas()
    frame.index = pd.RangeIndex(offset, offset + len(frame))
    return frame


# --------------------------------------------------------------------------------------
# Public API


def iter_generate(
    config: SynthConfig, chunk_events: int = 2_000_000
) -> tuple[Iterator[pd.DataFrame], pd.DataFrame]:
    """Generate the population now and its events lazily, in time order, chunk by chunk.

    Parameters
    ----------
    config
        What to generate.
    chunk_events
        Rows per chunk (the last chunk may be shorter). The data do not depend on it.

    Returns
    -------
    chunks, truth
        ``truth`` (one row per account: ``account_id, label, group, kind``) is computed
        before any event. ``chunks`` yields event DataFrames with the columns of
        :data:`EVENT_COLUMNS`; their indexes continue from one chunk to the next, so
        ``pd.concat(chunks)`` equals ``generate(config)[0]``.

    Notes
    -----
    Memory stays around one block of time (about 150,000 events) plus one chunk, plus the
    population (about 200 bytes per account).
    """
    if chunk_events < 1:
        raise ConfigError(f"chunk_events must be positive, not {chunk_events}")
    pop = _build_population(config)

    def chunks() -> Iterator[pd.DataFrame]:
        offset = 0
        for table in _rechunk(_tables(pop, config.seed), chunk_events):
            yield _to_pandas(table, offset)
            offset += table.num_rows

    return chunks(), pop.truth.copy()


def generate(config: SynthConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate events and ground truth in memory.

    Parameters
    ----------
    config
        What to generate; fine in memory up to a few million events.

    Returns
    -------
    events, truth
        ``events`` has the columns of :data:`EVENT_COLUMNS`, sorted by ``ts``; ``payment_id``
        is missing for accounts without a card. ``truth`` has one row per account that has
        events, sorted by ``account_id``.

    Examples
    --------
    >>> events, truth = generate(SynthConfig(n_events=5_000, seed=3))
    >>> set(events["account_id"]) == set(truth["account_id"])
    True
    """
    pop = _build_population(config)
    tables = list(_tables(pop, config.seed))
    events = _to_pandas(pa.concat_tables(tables), 0)
    return events, pop.truth.copy()


def write(
    config: SynthConfig,
    out_dir: str | Path,
    fmt: Literal["csv", "parquet", "jsonl"] = "csv",
) -> dict[str, Path]:
    """Write ``events.<fmt>`` and ``truth.csv`` to ``out_dir``, streaming block by block.

    Parameters
    ----------
    config
        What to generate.
    out_dir
        Folder to write to; created if missing. Existing files of the same names are
        replaced.
    fmt
        ``csv`` (every string quoted, missing payment ids empty), ``parquet`` (zstd, one
        row group per block of time) or ``jsonl`` (one JSON object per line, missing
        payment ids ``null``).

    Returns
    -------
    dict
        ``{"events": path, "truth": path}``. The same config always writes the same bytes.
    """
    if fmt not in ("csv", "parquet", "jsonl"):
        raise ConfigError(f"fmt must be csv, parquet or jsonl, not {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pop = _build_population(config)
    events_path = out / f"events.{fmt}"
    truth_path = out / "truth.csv"
    schema = pa.schema([(name, pa.string()) for name in EVENT_COLUMNS])
    tables = _tables(pop, config.seed)
    if fmt == "csv":
        with open(events_path, "wb") as handle:
            handle.write((",".join(EVENT_COLUMNS) + "\n").encode())
            for table in tables:
                handle.write(_csv_rows(table))
    elif fmt == "parquet":
        with pq.ParquetWriter(str(events_path), schema, compression="zstd") as writer:
            for table in tables:
                writer.write_table(table)
    else:
        with open(events_path, "w", encoding="utf-8", newline="\n") as handle:
            for table in _rechunk(tables, 500_000):
                handle.write(
                    table.to_pandas().to_json(orient="records", lines=True, force_ascii=False)
                )
    pop.truth.to_csv(truth_path, index=False, lineterminator="\n")
    return {"events": events_path, "truth": truth_path}
