"""The handles the stages hand each other: which engine tables a stage made.

Each stage takes the handles of the tables it reads and returns one naming the tables
it made, so the data flow reads off the signatures and mypy checks it::

    load(engine, sources, config)              -> EventTables
    observe(engine, events, config, inputs)    -> ObservationTables
    keep_times(engine, events)                 -> EventTables (account_id, ts only)
    keep_shared_prompts(engine, observed)      -> ObservationTables (shared prompts)
    load_inputs(engine, config)                -> GraphInputs
    link(engine, observed, config, inputs)     -> LinkTables
    score_clusters(engine, observed, linked, membership, config) -> ClusterTables
    pseudonymise(engine, observed, linked, ...) -> PrivateTables

A table's physical name is known only to the stage that made it and to the handle;
a stage never asks whether another stage's table exists: what may be missing is an
optional field (``None``). Columns are listed on each field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = [
    "PROMPT_SAMPLES",
    "ClusterTables",
    "EventTables",
    "GraphInputs",
    "LinkTables",
    "LoadStats",
    "ObservationTables",
    "PairNumbers",
    "PrivateTables",
]

#: the prompts of a prompt group a page shows, and all the prompt map keeps of a group
#: once observe is done (``stages.observe.keep_shared_prompts``)
PROMPT_SAMPLES = 5


@dataclass
class LoadStats:
    """Row counts of the load stage; ``read == used + rejected + outside_window``."""

    read: int = 0
    used: int = 0
    rejected: int = 0
    #: good rows whose time lies outside the run's window: ignored, not rejected
    outside_window: int = 0
    files: list[str] = field(default_factory=list)
    reject_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "used": self.used,
            "rejected": self.rejected,
            "outside_window": self.outside_window,
        }


@dataclass(frozen=True)
class EventTables:
    """What ``load`` made.

    events:  account_id, ts, ip_key, ip_subnet, payment_id, prompt_key, extra_0 .. extra_n
             (one per ``columns.extra_keys``, in that order; ip_subnet NULL unless
             ``link.ipv4_subnet``)
    prompts: pos, prompt_key, prompt (each distinct text of the events once; an event
             names its text by ``prompt_key``, NULL without a prompt)
    rejects: file, row, reason, account_id, ts, ip, payment_id, prompt, extras as read

    Observe takes ``prompts`` over (its prompt map holds it) and, once it has observed
    the events' values, leaves them with account_id, ts and prompt_key
    (``stages.load.drop_values``); after observe, ``stages.load.keep_times`` leaves
    ``events`` with account_id and ts.
    """

    events: str
    prompts: str
    rejects: str
    stats: LoadStats
    extra_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class GraphInputs:
    """What ``load_inputs`` made; each table is None when its input was not given.

    edges:      a, b, kind, ts (no blank end, no self-loop, no listed hub at either end)
    attributes: account_id, first_seen, volume (one row per account)
    subjects:   account_id (the accounts under review; the others are context)
    hubs:       value (values never linked through)
    rejects:    file, row, reason, account_id (the rows of these inputs that could not
                be used; ``stages.load.add_rejects`` puts them among the events')
    """

    edges: str | None = None
    attributes: str | None = None
    subjects: str | None = None
    hubs: str | None = None
    rejects: str | None = None
    counts: dict[str, int] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ObservationTables:
    """What ``observe`` made.

    observations: account_id, key, value, first_seen, last_seen, n
    accounts:     account_id, requests, first_seen, last_seen, volume, subject
                  (``volume`` is the accounts' own volume where given, else requests;
                  ``subject`` is false for context accounts)
    prompt_map:   prompt, template, template_group[, strict_group]; None without prompts
                  (``template`` only where observe was asked to keep the templates;
                  after observe, ``stages.observe.keep_shared_prompts`` keeps
                  ``PROMPT_SAMPLES`` prompts of each group two or more accounts sent:
                  a row for each group a prompt is a sample of, naming that group alone)
    activity:     account_id, slot, first_ts, last_ts, n (each account's active time
                  windows: ``slot`` counts ``link.coactivity_minutes`` since 1970); None
                  when co-activity is off
    """

    observations: str
    accounts: str
    prompt_map: str | None
    activity: str | None = None
    #: the width of ``activity``'s windows in minutes (0 without activity)
    activity_minutes: float = 0.0
    #: whether ``prompt_map`` has the heavy accounts' ``strict_group`` column
    strict_groups: bool = False
    #: account_id, template_group, strict_group, first_seen, last_seen, n: the heavy
    #: accounts' uses of strict groups, not yet in ``observations`` (only when observe
    #: was asked to keep them, for a memory to fold over its weeks); None otherwise
    strict_uses: str | None = None
    #: whether some accounts are context (a list of subjects was given)
    context: bool = False
    #: the link keys observed, sorted (features exist only for keys the data has)
    keys: tuple[str, ...] = ()
    #: whether first_seen holds real, varying times (a constant or missing time does not)
    timed: bool = True
    counts: dict[str, int] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PairNumbers:
    """Link's pair values on numbers (see ``LinkTables.numbers``)."""

    pairs: str
    accounts: str
    values: str


@dataclass(frozen=True)
class LinkTables:
    """What ``link`` made.

    values:      key, value, holders, requests, first_seen, last_seen, reason, factor
                 (every value two or more accounts hold, and every value with a
                 ``reason``, which says why it does not link; a value of the
                 observations not in it is held by one account alone)
    hubs:        key, value, accounts, requests, reason, first_seen, last_seen
    pair_values: a, b, key, value, w (one row per shared value; a view over link's
                 pairs of numbered accounts and values: every read pays its joins, so
                 read the pairs of some accounts, not the whole; when each pair shared
                 a value is in the links' first_seen and last_seen)
    links:       a, b, weight, keys, evidence, first_seen, last_seen and per key k
                 ``k_weight``, ``k_n``, ``k_values`` (see ``key_column``)
    numbers:     the pair values as link made them, with accounts and values numbered:
                 ``numbers.pairs`` (a, b, value, w: numbers, and a value's key is
                 in ``numbers.values``), ``numbers.accounts`` (account_id, num) and
                 ``numbers.values`` (key, value, num); ``pair_values`` is a view of
                 them. Joined and grouped on, numbers cost a third of the texts. Both
                 are dropped once the score and pseudonymisation have read them
                 (``link.release_pairs``)
    keys:        the link keys that link at least one pair, sorted
    lone:        per key, the account pairs resting on it alone and how many of them
                 weigh under ``detect.min_weight``; None where ``links`` keeps every
                 pair (the weak ones too), so that they can be counted from it
    """

    values: str
    hubs: str
    pair_values: str
    links: str
    numbers: PairNumbers
    keys: tuple[str, ...]
    lone: dict[str, tuple[int, int]] | None = None
    #: the keys of shared infrastructure, and the most a link's weight counts of them
    #: (0: no cap)
    infrastructure: tuple[str, ...] = ()
    infrastructure_cap: float = 0.0
    counts: dict[str, int] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ClusterTables:
    """What ``score_clusters`` made.

    membership: account_id, cluster_id (every clustered account; empty when none)
    clusters:   one row per cluster, ranked: cluster_id, size, score, flagged, rank,
                reasons, features and per-key shares
    """

    membership: str
    clusters: pd.DataFrame = field(repr=False)
    #: the score's terms, weights and bias as used, and the fit to verdicts if any
    model: dict[str, object] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PrivateTables:
    """What ``pseudonymise`` made.

    value_labels: key, value, label (the pseudonym of each private shared value)
    links:        ``LinkTables.links`` with private values in evidence shown by label
    """

    value_labels: str
    links: str
