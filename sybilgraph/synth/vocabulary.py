"""Words that fill the templates' slots: topics, names, places, code, hosts."""

from __future__ import annotations


def pool(text: str) -> tuple[str, ...]:
    """The non-empty items of a ``|``-separated list."""
    return tuple(item.strip() for item in text.split("|") if item.strip())


TOPICS = pool("""
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
LANGUAGES = pool("""French|German|Spanish|Italian|Portuguese|Dutch|Swedish|Polish|Czech|
Turkish|Greek|Russian|Ukrainian|Arabic|Hebrew|Hindi|Bengali|Urdu|Indonesian|Vietnamese|
Thai|Japanese|Korean|Chinese|Swahili|Finnish|Hungarian|Romanian|Tagalog|Persian""")
NAMES = pool("""Ana|Ben|Chloe|David|Emma|Farid|Grace|Hugo|Ines|Jack|Kai|Lena|Marco|Nina|
Omar|Priya|Quinn|Rosa|Sam|Tara|Umar|Vera|Will|Xena|Yusuf|Zoe|Aiko|Bruno|Carmen|Dmitri|
Elif|Felix|Gita|Hana|Ivan|Jonas|Kofi|Leila|Mateo|Nadia|Oscar|Pablo|Rania|Sven|Tomas|
Uma|Viktor|Wen|Yara|Zain|Mia|Noah|Liam|Olivia|Lucas|Sofia|Ethan|Amara|Chen|Diego""")
CITIES = pool("""Lisbon|Berlin|Madrid|Lagos|Nairobi|Toronto|Chicago|Austin|Denver|Seattle|
Boston|Lima|Bogota|Santiago|Mumbai|Delhi|Jakarta|Manila|Osaka|Seoul|Sydney|Auckland|
Dublin|Oslo|Warsaw|Prague|Vienna|Zurich|Milan|Naples|Athens|Istanbul|Cairo|Dubai|Hanoi""")
SUBJECTS = pool("""the committee|my neighbour|the new manager|our team|the city council|
the old bakery|a small startup|the museum|my grandmother|the football club|the professor|
the local library|the hospital|a young artist|the train company|the school board|
the farmers|the orchestra|the landlord|the research group|the airline|my best friend|
the bank|the village|the students|the mayor|the engineers|the author|the chef|the band""")
VERBS = pool("""approved|postponed|criticised|announced|rejected|celebrated|redesigned|
cancelled|questioned|discovered|ignored|repaired|sold|bought|described|praised|
replaced|delayed|doubled|explained|organised|visited|painted|tested|reviewed|funded|
closed|opened|moved|published""")
OBJECTS = pool("""the new budget|the annual report|a surprising plan|the summer festival|
the broken bridge|an old painting|the quarterly results|the water supply|a new recipe|
the parking rules|the train schedule|a rare manuscript|the final exam|the marketing campaign|
the heating system|a public garden|the website|the contract|the election results|
the night shift|the lunch menu|the recycling program|a charity concert|the safety rules|
the museum wing|the software update|the hiring process|a local bakery|the bike lanes|
the housing project""")
TASKS = pool("""reverses a linked list|parses a CSV file and sums the second column|
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
CODE_SNIPPETS = (
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
MAIL_HOSTS = pool("gmail.com|outlook.com|yahoo.com|proton.me|icloud.com|gmx.de|mail.ru")
WEB_HOSTS = pool("""example.com|docs.example.org|github.com|medium.com|wikipedia.org|
news.ycombinator.com|stackoverflow.com|arxiv.org|bbc.co.uk|nytimes.com|reddit.com""")
URL_PATHS = pool("""blog|docs|wiki|post|article|questions|abs|story|issues|notes|guide""")

COMPANY_FIRST = pool("Acme|Globex|Initech|Umbrella|Hooli|Vandelay|Stark|Wayne|Wonka|Tyrell|Soylent")
COMPANY_SECOND = pool("Labs|Systems|Logistics|Health|Capital|Media|Foods|Analytics|Works|Group")

# The words of dataset operators' task bodies: large pools, so no two bodies repeat

NOUNS = pool("""account|agreement|airport|algorithm|apartment|archive|argument|audit|
backlog|balance|bargain|battery|benchmark|bicycle|bottleneck|boundary|bridge|brochure|
budget|bulletin|cabinet|calendar|campaign|canal|candidate|capacity|catalogue|ceiling|
certificate|channel|checklist|circuit|claim|clinic|coalition|column|compass|compromise|
concert|contract|corridor|council|coupon|crane|curfew|dashboard|deadline|debate|deposit|
diagram|dialect|diary|diploma|discount|dispute|district|donation|draft|drought|engine|
estimate|exhibit|experiment|factory|feature|festival|forecast|fountain|framework|freight|
garage|glacier|grant|greenhouse|guideline|harbour|harvest|headline|highway|hypothesis|
incentive|inventory|invoice|journal|kiosk|ladder|landmark|lecture|ledger|license|lottery|
margin|meadow|merger|milestone|mineral|monument|mortgage|motive|network|newsletter|
notebook|orchard|outbreak|package|pamphlet|parcel|pasture|patent|pavilion|payroll|
pension|permit|petition|pipeline|pitch|playground|policy|portfolio|prescription|
protocol|prototype|puzzle|quarry|quota|railway|ranking|receipt|recipe|referendum|refund|
reservoir|rumour|runway|salary|satellite|schedule|scholarship|sensor|settlement|shortage|
shuttle|signal|simulation|skyline|spreadsheet|stadium|statement|statue|subsidy|subway|
survey|syllabus|tariff|telescope|tenant|terminal|threshold|timetable|tournament|tractor|
treaty|tribunal|tunnel|turbine|uniform|vaccine|valve|vendor|verdict|village|voucher|
warehouse|warranty|waterfall|website|wetland|workshop""")
ADJECTIVES = pool("""abrupt|accurate|affordable|ambitious|ancient|anxious|awkward|balanced|
bitter|bold|brittle|busy|careful|cautious|cheerful|chronic|clumsy|coastal|compact|
complex|confident|costly|crowded|curious|damp|decisive|delicate|dense|distant|dormant|
durable|eager|efficient|elaborate|elegant|empty|enormous|fair|famous|fierce|fragile|
frequent|frugal|generous|gentle|gradual|greedy|grim|hasty|hidden|hollow|honest|humble|
idle|informal|intense|invisible|lavish|lenient|local|loyal|lucky|marginal|massive|
modest|modern|narrow|neutral|noisy|obscure|obvious|optional|outdated|overdue|painful|
partial|patient|peculiar|plain|polite|popular|precise|private|quiet|rapid|rare|reckless|
remote|rigid|robust|rural|rusty|scarce|seasonal|secret|shallow|sharp|silent|slow|sober|
sparse|stable|steep|sticky|strict|subtle|sudden|tedious|tense|tidy|timid|tiny|urgent|
vague|vast|vivid|volatile|warm|weary|wild|wooden|yearly|youthful""")
FIELDS = pool("""accounting|agriculture|architecture|astronomy|aviation|biology|botany|
cardiology|chemistry|civil engineering|climate science|cryptography|data science|
dentistry|ecology|economics|education|epidemiology|finance|forestry|genetics|geology|
history|hospitality|insurance|journalism|law|linguistics|logistics|marine biology|
marketing|mathematics|mechanical engineering|medicine|meteorology|mining|music|nursing|
nutrition|oceanography|pharmacology|philosophy|physics|political science|psychology|
public health|real estate|robotics|sociology|software engineering|statistics|tax law|
telecommunications|urban planning|veterinary medicine|zoology""")
ROLES = pool("""analyst|researcher|consultant|engineer|professor|tutor|auditor|editor|
reviewer|planner|strategist|scientist|advisor|instructor|examiner|specialist|architect|
inspector|translator|economist|lecturer|mentor|practitioner|statistician""")
AUDIENCES = pool("""first-year students|a board of directors|new employees|
retired engineers|high school teachers|a city council|hospital nurses|small business owners|
graduate students|curious children|a panel of judges|software developers|farmers|
tourists|investors|journalists|parents of teenagers|museum visitors|a jury|volunteers|
factory workers|pharmacists|shop owners|exchange students|elderly readers""")
