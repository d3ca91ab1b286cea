"""Run configuration: one dataclass tree, loadable from TOML or a dict.

Unknown keys, wrong types and impossible values are refused with a :class:`ConfigError`
that names the setting as a config file writes it (``link.hub_c``) and the bad value, so
a typo in a config file never silently falls back to a default and no setting reaches
the SQL of the stages unchecked. Every section checks its own settings when it is built,
from a file or in Python (``dataclasses.replace`` included); :class:`Config` then checks
what needs the whole tree: the link keys named in ``link.key_weights`` and
``detect.split_keys``, and the files ``labels`` and ``direct_edges``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import numbers
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sybilgraph.errors import ConfigError

__all__ = [
    "BUILTIN_KEYS",
    "EVIDENCE_SAMPLE_MAX",
    "ColumnsConfig",
    "Config",
    "DetectConfig",
    "EngineConfig",
    "ExportConfig",
    "InputsConfig",
    "LinkConfig",
    "PrivacyConfig",
    "PromptConfig",
    "ScoreConfig",
    "key_column",
]


def key_column(key: str) -> str:
    """The column-name stem of a link key (extra keys may hold any character)."""
    stem = re.sub(r"[^0-9a-zA-Z]+", "_", key).strip("_").lower()
    return stem or "key"


#: the link keys sybilgraph builds itself; an extra key is named after its column
BUILTIN_KEYS = ("ip", "ip_subnet", "payment", "prompt", "wrapper", "direct", "counterparty", "time")
#: the most a key may weigh (``link.key_weights``)
KEY_WEIGHT_MAX = 1e6
#: the most shared values a link keeps as a sample per key (``link.evidence_sample``)
EVIDENCE_SAMPLE_MAX = 20


#: earliest and latest timestamps taken as real: a time outside is rejected on load, and
#: the synth generator writes none
TS_MIN = "1990-01-01"
TS_MAX = "2100-01-01"


@dataclass
class ColumnsConfig:
    """Names of the input columns, mapped onto sybilgraph's schema."""

    account_id: str = "account_id"
    ts: str = "ts"
    ip: str | None = "ip"
    payment_id: str | None = "payment_id"
    prompt: str | None = "prompt"
    #: other columns whose values link accounts (device id, user agent, e-mail domain)
    extra_keys: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _coerce_fields(self, "columns.")
        for name in ("account_id", "ts"):
            value = getattr(self, name)
            _require(value.strip() != "", f"columns.{name}", "the name of an input column", value)
        for index, key in enumerate(self.extra_keys):
            name = f"columns.extra_keys[{index}]"
            _require(key.strip() != "", name, "the name of an input column", key)
            # an extra key's values are observed under the column's name: one named like
            # a built-in key would pool its values with that key's
            if key in BUILTIN_KEYS:
                raise ConfigError(
                    f"{name} = {_shown(key)} is the name of a built-in link key "
                    f"({', '.join(BUILTIN_KEYS)}): its values would be pooled with that key's"
                )

        # a column mapped twice (account_id = "ip") makes one input feed two fields: the
        # run then links and flags whatever that column holds, IP addresses as accounts
        named: dict[str, str] = {}
        fields = ("account_id", "ts", "ip", "payment_id", "prompt")
        mapped = [(f"columns.{name}", getattr(self, name)) for name in fields]
        mapped += [(f"columns.extra_keys[{i}]", key) for i, key in enumerate(self.extra_keys)]
        for setting, column in mapped:
            if not column:  # an optional field left unmapped
                continue
            if column in named:
                raise ConfigError(
                    f"{named[column]} and {setting} both name the input column {column!r}: "
                    "each field needs a column of its own"
                )
            named[column] = setting
        # each key has columns of its own in the links, named by its stem
        stems = {key_column(key): key for key in BUILTIN_KEYS}
        for index, key in enumerate(self.extra_keys):
            stem = key_column(key)
            if stem in stems:
                raise ConfigError(
                    f"columns.extra_keys[{index}] = {_shown(key)} and the key "
                    f"{_shown(stems[stem])} would both name the links' columns {stem}_*: "
                    "rename one"
                )
            stems[stem] = key


@dataclass
class PromptConfig:
    """Prompt fingerprinting: tier 1 masks variable parts, tier 2 groups near-duplicates."""

    #: group near-duplicate masked prompts with MinHash/LSH (tier 2); off = tier 1 only
    near_duplicates: bool = True
    #: words per shingle; 1 catches templates whose slots change
    shingle_size: int = 1
    num_perm: int = 64
    #: LSH bands of num_perm // bands values each; 0 derives bands and rows from each
    #: threshold (fingerprint.LSHBanding.derived): 16 x 4 at 0.6, 9 x 7 at the heavy 0.8,
    #: which changes the heavy accounts' strict groups (synth seed 777: 5% fewer, the
    #: bundled sample: 0.7% more) and 72 of 1,266 clusters, but no flagged account
    bands: int = 16
    #: estimated Jaccard similarity at or above which two prompts share a template group;
    #: 0.8 keeps apart more rings whose templates share a body, but splits slot-filled
    #: everyday prompts and typos into many more groups: 1.4x the run time at 10M events
    threshold: float = 0.6
    #: masked prompts shorter than this many words are not grouped (too little to compare)
    min_words: int = 3
    #: a template group links an account only when it sent it at least this many times:
    #: operators' scripts repeat their templates, people sharing one question once each
    #: are no evidence of anything
    min_uses: int = 2
    #: an account links through at most this many template groups, those it sent most
    #: (0 = all): a ring is tied by its main templates; the odd group its accounts also
    #: share with another ring's no longer outweighs them (synth seeds 5 and 8080: two
    #: rings each that had merged are apart at 5)
    max_groups: int = 5
    #: keep in a group only texts similar to its root, so chains a~b~c~… cannot build one
    #: giant group (which becomes a hub and can hide a ring). Better recall on synth data
    #: (seed 37: 0.967 -> 1.0), but more prompt links: slower, more memory at 10M+ events
    break_chains: bool = False
    #: accounts sending at least ``heavy_volume`` times the requests of the median account
    #: have their prompts grouped again at this stricter Jaccard (0 = off): an operator's
    #: accounts then link through their own templates, not through a broad group that
    #: also holds everyday prompts (a hub) or another operator's template. Without it
    #: (0.0) the 10M-event synth log reaches recall 0.78 and 67% of rings, 30M events
    #: 0.79; with it 0.9998 and every ring, 0.995 and 96%, for about 20% more run time
    heavy_threshold: float = 0.8
    heavy_volume: float = 5.0
    #: the instruction wrapper of a prompt: the first and last this many characters of
    #: its masked text (key ``wrapper``), for prompts of at least ``wrapper_min_chars``;
    #: 0 turns the key off. 120 characters are 15 to 25 words of an opening such as
    #: "You are an expert ... think step by step ...", which everyday questions do not
    #: share word for word. On the realistic benchmark log (benchmarks/realistic.py,
    #: 1.5M events, seed 7: rings behind an instruction template of their own, a third
    #: of them on fresh proxy addresses) it took recall from 0.43 to 0.91 at precision
    #: 1.0; on the synth --coordination logs (seeds 5, 9, 21, 77) precision went from
    #: 0.983-0.992 to 0.969-0.989 (heavy users of niche tools, 2 to 7 accounts a tool),
    #: recall stayed 0.98-1.0; about 7% more run time
    wrapper_chars: int = 120
    wrapper_min_chars: int = 320

    def __post_init__(self) -> None:
        _coerce_fields(self, "prompt.")
        _require(self.wrapper_chars >= 0, "prompt.wrapper_chars", "0 or more", self.wrapper_chars)
        _require(
            self.wrapper_chars == 0 or self.wrapper_min_chars >= 2 * self.wrapper_chars,
            "prompt.wrapper_min_chars",
            f"at least twice prompt.wrapper_chars ({self.wrapper_chars})",
            self.wrapper_min_chars,
        )
        _require(self.shingle_size >= 1, "prompt.shingle_size", "at least 1", self.shingle_size)
        _require(self.bands >= 0, "prompt.bands", "at least 0 (0: derived)", self.bands)
        _require(self.num_perm >= 1, "prompt.num_perm", "at least 1", self.num_perm)
        # each of the bands takes num_perm // bands MinHash values: the rest would be lost
        _require(
            self.bands == 0 or self.num_perm % self.bands == 0,
            "prompt.num_perm",
            f"a positive multiple of prompt.bands ({self.bands})",
            self.num_perm,
        )
        # at 0 every prompt would join every other it meets in a band
        _require(
            0.0 < self.threshold <= 1.0, "prompt.threshold", "above 0 and at most 1", self.threshold
        )
        _require(self.min_words >= 1, "prompt.min_words", "at least 1", self.min_words)
        _require(self.min_uses >= 1, "prompt.min_uses", "at least 1", self.min_uses)
        _require(self.max_groups >= 0, "prompt.max_groups", "0 (all) or more", self.max_groups)
        _require(
            0.0 <= self.heavy_threshold <= 1.0,
            "prompt.heavy_threshold",
            "between 0 (off) and 1",
            self.heavy_threshold,
        )
        _require(self.heavy_volume > 0, "prompt.heavy_volume", "above 0", self.heavy_volume)


@dataclass
class LinkConfig:
    """How shared values become weighted links between accounts."""

    #: a value held by more accounts than this is a hub: listed, never expanded into pairs
    hub_cap: int = 300
    #: ... or by more than this share of all accounts (matters in small populations)
    hub_share: float = 0.02
    #: a value's weight is 1 / log(d + hub_c), d the number of accounts holding it
    hub_c: float = 5.0
    #: IPv6 addresses are grouped by this prefix length
    ipv6_prefix: int = 64
    #: also link IPv4 addresses by their /24 (a weaker key, "ip_subnet")
    ipv4_subnet: bool = False
    ipv4_prefix: int = 24
    #: CIDR ranges of known shared infrastructure (carrier NAT, VPN exits, proxies)
    shared_infra: list[str] = field(default_factory=list)
    shared_infra_mode: Literal["ignore", "downweight"] = "downweight"
    shared_infra_factor: float = 0.2
    #: co-occurrence on an IP within this many hours counts fully; 0 turns it off
    time_window_hours: float = 0.0
    #: weight of co-occurrences outside the time window, as a share of a full one
    outside_window_factor: float = 0.5
    #: per-key weights; a config's table changes the keys it names, the others keep these;
    #: keys listed nowhere (extra keys) weigh 1.0. Detection keeps a group together when
    #: its links weigh more than 1 on average (CPM, resolution 1.0): at prompt 2.0 a ring
    #: whose accounts share three template groups held by ~130 accounts links at 1.23 per
    #: pair; at 1.5 (0.92) such rings fell apart into single accounts (synth seeds 777,
    #: 2026, 4242). Lowering the resolution instead (0.8) also let a VPN ring take in the
    #: legitimate users of its exit IPs (four shared IPs: 0.91 per pair)
    key_weights: dict[str, float] = field(
        default_factory=lambda: {
            "ip": 1.0,
            "ip_subnet": 0.3,
            "payment": 2.0,
            "prompt": 2.0,
            "wrapper": 2.0,
            "direct": 2.0,
            "time": 1.0,
        }
    )
    #: co-activity (key ``time``, see stages.lockstep): accounts active in the same
    #: windows of this many minutes far more often than chance link; 0 turns it off
    coactivity_minutes: float = 15.0
    #: ... when they share at least this many windows
    coactivity_min_windows: int = 6
    #: ... and at least this share of the windows either is active in (Jaccard)
    coactivity_similarity: float = 0.5
    #: a link's weight on shared infrastructure (ip, ip_subnet) counts at most this
    #: much (0: no cap). Below detect.resolution (1.0), exits or NAT shared alone never
    #: hold accounts together: the users of a VPN's exits that a ring uses are not drawn
    #: into it (on the bundled sample 7 of them were, at 1.2 a pair on its exits)
    infrastructure_cap: float = 0.9
    #: how many shared values each link keeps as a sample, per key (at most
    #: ``EVIDENCE_SAMPLE_MAX``: link joins each one to its text)
    evidence_sample: int = 3
    #: keep (and write to links.parquet) the links lighter than ``detect.min_weight``
    #: too; off, only the links that reach the graph get their evidence and are kept:
    #: on realistic traffic most pairs share one busy IP and never reach it
    keep_weak_links: bool = False
    #: an IP or subnet too busy to tie two accounts alone (its weight under
    #: ``detect.min_weight``: at ip's weight 1.0, one held by 24 or more accounts):
    #: "tied" pairs its holders only where they are tied otherwise, directly or through
    #: other accounts (by a template, a card, a quieter address); "all" pairs every two
    #: of them, as any value. See stages.link._busy and the README's "Scale"
    busy_addresses: Literal["tied", "all"] = "tied"

    def __post_init__(self) -> None:
        _coerce_fields(self, "link.")
        # a linking value has at least 2 holders: a cap below 2 would leave no links, and
        # hub_limit() silently takes 2 instead
        _require(self.hub_cap >= 2, "link.hub_cap", "at least 2", self.hub_cap)
        _require(0.0 <= self.hub_share <= 1.0, "link.hub_share", _SHARE, self.hub_share)
        # a value holds at least 2 accounts: its weight 1 / ln(2 + hub_c) must be finite
        # and positive, and fall as more accounts hold it
        _require(
            self.hub_c > -1.0,
            "link.hub_c",
            "above -1 (a value of 2 accounts weighs 1 / ln(2 + hub_c))",
            self.hub_c,
        )
        _require(
            self.infrastructure_cap >= 0,
            "link.infrastructure_cap",
            "0 (no cap) or more",
            self.infrastructure_cap,
        )
        _require(
            0 <= self.ipv6_prefix <= 128, "link.ipv6_prefix", "between 0 and 128", self.ipv6_prefix
        )
        _require(
            0 <= self.ipv4_prefix <= 32, "link.ipv4_prefix", "between 0 and 32", self.ipv4_prefix
        )
        for index, cidr in enumerate(self.shared_infra):
            try:
                ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                raise ConfigError(
                    f"link.shared_infra[{index}] must be a CIDR range like '10.0.0.0/8', "
                    f"not {_shown(cidr)}"
                ) from None
        _require(
            0.0 <= self.shared_infra_factor <= 1.0,
            "link.shared_infra_factor",
            _SHARE,
            self.shared_infra_factor,
        )
        _require(
            self.time_window_hours >= 0,
            "link.time_window_hours",
            "0 (off) or more",
            self.time_window_hours,
        )
        _require(
            0.0 <= self.outside_window_factor <= 1.0,
            "link.outside_window_factor",
            _SHARE,
            self.outside_window_factor,
        )
        _require(
            self.coactivity_minutes >= 0,
            "link.coactivity_minutes",
            "0 (off) or more",
            self.coactivity_minutes,
        )
        _require(
            self.coactivity_min_windows >= 2,
            "link.coactivity_min_windows",
            "at least 2",
            self.coactivity_min_windows,
        )
        _require(
            0.0 < self.coactivity_similarity <= 1.0,
            "link.coactivity_similarity",
            "in (0, 1]",
            self.coactivity_similarity,
        )
        for key, weight in self.key_weights.items():
            # the graph holds weights as 32-bit floats (at most 3.4e38)
            _require(
                0 <= weight <= KEY_WEIGHT_MAX,
                f"link.key_weights.{key}",
                f"from 0 to {KEY_WEIGHT_MAX:g}",
                weight,
            )
        _require(
            1 <= self.evidence_sample <= EVIDENCE_SAMPLE_MAX,
            "link.evidence_sample",
            f"between 1 and {EVIDENCE_SAMPLE_MAX}",
            self.evidence_sample,
        )


@dataclass
class DetectConfig:
    """Community detection: components, then Leiden inside the large ones."""

    #: links lighter than this are dropped before detection, but those resting in part
    #: on a relation between the two accounts (edges: direct, counterparty)
    min_weight: float = 0.3
    #: components with more accounts than this are cut with Leiden (at 20 the sample's
    #: prompt-only and typo rings, 8 and 11 accounts touching through one template, were
    #: one cluster; 10 changed nothing else on synth 600k, 1M and 10M logs)
    leiden_min_size: int = 10
    #: cut with Leiden also the components whose links all rest on relations between
    #: accounts (edges: direct, counterparty); off, they are taken whole (control is
    #: passed on along a funding or invitation chain; sharing a value is not)
    cut_relations: bool = False
    #: keys that tie a few accounts of a ring tighter than the rest (cards bought in
    #: batches): Leiden's pieces that differ only by them are joined again when ...
    split_keys: list[str] = field(default_factory=lambda: ["payment"])
    #: ... at least this share of the pairs across two pieces is linked ...
    join_density: float = 0.9
    #: ... and, on the other keys, the links across weigh at least this share of the
    #: links inside either piece (0 = never join). Synth 600k: pieces of one ring cut
    #: along its cards 1.0; two rings sharing a template or VPN exits at most 0.33
    join_ratio: float = 0.6
    #: pieces of one component linked across as often as it is linked at all are one
    #: group frayed by chance when their links across weigh at least this share of the
    #: component's content weight per link (0, or ``join_ratio`` 0: never join them;
    #: CPM only). The pieces Leiden takes are a group's tighter parts, so the links
    #: across weigh less than the mean: 0.53 to 1.5 for the pieces of one ring, tool or
    #: classroom on the 600k synth and realistic logs, 0.58 for a ring in a weekly
    #: window; two rings every pair across which shares a template they all send, 0.4
    #: or less
    join_strength: float = 0.5
    method: Literal["cpm", "rb", "modularity"] = "cpm"
    resolution: float = 1.0
    #: Leiden passes; -1 repeats until nothing improves. 2 gave the same rings on synth
    #: seeds 5 and 37 in half the time
    n_iterations: int = 2
    #: whose Leiden runs: igraph's own, or leidenalg's. Same rings and precision on synth
    #: seeds 5, 11, 37 and 101; igraph cut the 56k-account component of 10M events in
    #: 1.5 s where leidenalg took 37 s
    implementation: Literal["igraph", "leidenalg"] = "igraph"

    def __post_init__(self) -> None:
        _coerce_fields(self, "detect.")
        _require(self.min_weight >= 0, "detect.min_weight", "0 or more", self.min_weight)
        _require(
            self.leiden_min_size >= 0, "detect.leiden_min_size", "0 or more", self.leiden_min_size
        )
        _require(0.0 <= self.join_density <= 1.0, "detect.join_density", _SHARE, self.join_density)
        _require(self.join_ratio >= 0, "detect.join_ratio", "0 (off) or more", self.join_ratio)
        _require(
            self.join_strength >= 0,
            "detect.join_strength",
            "0 (off) or more",
            self.join_strength,
        )
        # CPM at resolution 0 or below keeps every component whole, whatever its links
        _require(self.resolution > 0, "detect.resolution", "above 0", self.resolution)
        # 0 passes would leave every account a community of its own
        _require(
            self.n_iterations == -1 or self.n_iterations >= 1,
            "detect.n_iterations",
            "-1 (until nothing improves) or at least 1",
            self.n_iterations,
        )


@dataclass
class ScoreConfig:
    """Cluster scoring and the flagging decision."""

    threshold: float = 0.5
    #: with verdicts on enough clusters (30 with a sybil, 30 without), fit the score's
    #: weights to them; the fit and its cross-validated precision and recall go to
    #: run.json
    learn: bool = True

    def __post_init__(self) -> None:
        _coerce_fields(self, "score.")
        # scores are logistic: outside [0, 1] a threshold flags every cluster or none
        _require(0.0 <= self.threshold <= 1.0, "score.threshold", _SHARE, self.threshold)


@dataclass
class ExportConfig:
    """The HTML views and graph files written with every run."""

    #: pages are written for this many clusters, best ranked first (flagged or not)
    pages: int = 100
    #: a page draws at most this many nodes; the rest are collapsed into counted groups
    node_budget: int = 300
    #: processes writing pages: 0 = one per CPU core (at most 4), 1 = in the run's process
    workers: int = 0

    def __post_init__(self) -> None:
        _coerce_fields(self, "export.")
        _require(self.pages >= 0, "export.pages", "0 or more", self.pages)
        _require(self.node_budget >= 1, "export.node_budget", "at least 1", self.node_budget)
        _require(self.workers >= 0, "export.workers", "0 (one per core) or more", self.workers)


@dataclass
class EngineConfig:
    """Where the relational stages run."""

    name: Literal["duckdb", "spark"] = "duckdb"
    #: DuckDB memory limit, e.g. "6GB"; empty = a sixth of the machine's memory (at
    #: least 1 GB); DuckDB spills to ``temp_directory`` past it
    memory_limit: str = ""
    #: folder DuckDB spills to when it runs out of memory; empty = a temporary folder
    temp_directory: str = ""
    threads: int = 0
    #: Spark master URL: ``local[*]`` runs Spark in this process's machine
    spark_master: str = "local[*]"
    #: memory of the Spark driver JVM (local mode: all of Spark), e.g. "4g"
    spark_driver_memory: str = "4g"

    def __post_init__(self) -> None:
        _coerce_fields(self, "engine.")
        if self.memory_limit and not _is_memory_size(self.memory_limit):
            # DuckDB takes "-5GB" (and "-1") as no limit at all
            raise ConfigError(
                f"engine.memory_limit = {_shown(self.memory_limit)} is not a memory size: "
                "a number above 0 and a unit, such as '4GB', '512MiB' or '50%' (at most 100%)"
            )
        _require(self.threads >= 0, "engine.threads", "0 (DuckDB's choice) or more", self.threads)
        # the JVM's -Xmx: whole numbers, a one-letter unit
        _require(
            not self.spark_driver_memory or _is_jvm_size(self.spark_driver_memory),
            "engine.spark_driver_memory",
            "a whole number above 0 and a unit k, m, g or t, such as '4g' or '512m'",
            self.spark_driver_memory,
        )


@dataclass
class PrivacyConfig:
    """Pseudonyms for IP addresses and payment tokens (see ``sybilgraph.stages.privacy``)."""

    #: key of the pseudonyms; the environment variable SYBILGRAPH_SECRET overrides it.
    #: Never written to run.json. Empty and no variable: a random secret for the run.
    secret: str = ""
    #: pseudonymise the HTML pages and their GraphML/GEXF files
    pages: bool = True
    #: pseudonymise the tables too (links.parquet, hubs.csv, rejects.csv)
    tables: bool = False

    def __post_init__(self) -> None:
        _coerce_fields(self, "privacy.")


@dataclass
class ReportConfig:
    """The weekly report (``sybilgraph report``)."""

    #: link over this many weeks ending with the period (the period's own included): a
    #: ring's accounts each send a handful of requests a week, too little shared
    #: evidence in one week alone; the report and its changes still speak of the
    #: period's clusters (those with an account active in it). The weeks before the
    #: period come from the compact memory the state keeps of them, not from the
    #: events. 1 = the period alone
    lookback_weeks: int = 4

    def __post_init__(self) -> None:
        _coerce_fields(self, "report.")
        _require(
            1 <= self.lookback_weeks <= 520,
            "report.lookback_weeks",
            "from 1 to 520 (ten years)",
            self.lookback_weeks,
        )


@dataclass
class InputsConfig:
    """Inputs beside events, or instead of them: a graph between accounts, attributes
    of accounts, the accounts under review, and values never to link through.

    Each file is CSV, Parquet or JSON lines; the ``*_column`` settings name its columns.
    """

    #: account-to-account edges: transfers, referrals, invitations. Accounts at both ends
    #: of an edge are linked directly (key ``direct``); accounts that share a counterparty
    #: are linked through it (key ``counterparty``), with hub handling like any value
    edges: str | None = None
    edge_a: str = "a"
    edge_b: str = "b"
    #: the edge's kind, shown in the evidence (optional)
    edge_kind: str | None = None
    #: when the edge was made (optional): first and last seen of the evidence
    edge_ts: str | None = None
    #: one row per account: when it was first seen and its volume (both optional)
    accounts: str | None = None
    account_id: str = "account_id"
    first_seen: str | None = None
    volume: str | None = None
    #: the accounts under review; the others are context: they link the subjects (as
    #: shared values and counterparties) but are never scored, flagged or counted
    subjects: str | None = None
    subject_column: str = "account_id"
    #: values never linked through (an exchange's deposit address, a bridge, a
    #: carrier's NAT): listed as hubs; an edge with a listed value at one end is dropped
    hubs: str | None = None
    hub_column: str = "value"

    def __post_init__(self) -> None:
        for name in ("edges", "accounts", "subjects", "hubs"):
            if isinstance(getattr(self, name), os.PathLike):
                setattr(self, name, os.fspath(getattr(self, name)))
        _coerce_fields(self, "inputs.")
        for name in ("edges", "accounts", "subjects", "hubs"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                reason = "is a folder" if path and Path(path).is_dir() else "no such file"
                raise ConfigError(f"inputs.{name} = {path!r}: {reason}")

    @property
    def given(self) -> bool:
        """Whether any input besides events is named."""
        return any((self.edges, self.accounts, self.subjects, self.hubs))


@dataclass
class Config:
    """Everything a run needs besides its input.

    Building one checks every setting (see the module docstring); a bad one raises a
    :class:`ConfigError` naming it and its value.

    Examples
    --------
    >>> Config.from_dict({"seed": 7, "link": {"hub_cap": 100}}).link.hub_cap
    100
    """

    seed: int = 42
    columns: ColumnsConfig = field(default_factory=ColumnsConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    link: LinkConfig = field(default_factory=LinkConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    inputs: InputsConfig = field(default_factory=InputsConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    #: labels file (account_id or cluster_id, verdict, note) read at the start of a run
    labels: str | None = None
    #: account-to-account edges with columns a, b, kind[, ts]: a short way of saying
    #: ``inputs.edges`` with ``edge_kind = "kind"`` (and ``edge_ts = "ts"``)
    direct_edges: str | None = None

    def __post_init__(self) -> None:
        # paths may come as Path objects from Python; run.json wants strings
        for name in ("labels", "direct_edges"):
            if isinstance(getattr(self, name), os.PathLike):
                setattr(self, name, os.fspath(getattr(self, name)))
        _coerce_fields(self, "")
        _require(self.seed >= 0, "seed", "0 or more", self.seed)
        keys = [*BUILTIN_KEYS, *self.columns.extra_keys]
        known = f"the link keys are {', '.join(keys)}"
        if self.columns.extra_keys:
            known += " (columns.extra_keys)"
        for key in self.link.key_weights:
            if key not in keys:
                raise ConfigError(f"unknown key 'link.key_weights.{key}': {known}")
        for key in self.detect.split_keys:
            if key not in keys:
                raise ConfigError(f"detect.split_keys names {_shown(key)}: {known}")
        # a labels file not found would be read as no verdicts at all, silently; edges not
        # found would stop the run only after its events were loaded
        for name in ("labels", "direct_edges"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                reason = "is a folder" if path and Path(path).is_dir() else "no such file"
                raise ConfigError(f"{name} = {path!r}: {reason}")

    @classmethod
    def of(cls, value: object) -> Config:
        """``value`` as a config: itself, the defaults for None, a dict read as
        :meth:`from_dict` reads it; a dict passed where a config goes failed with
        Python's own error.

        Raises
        ------
        ConfigError
            ``value`` is none of these, or a dict :meth:`from_dict` refuses.
        """
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(dict(value))
        raise ConfigError(f"config is a sybilgraph.Config or a dict, not {type(value).__name__}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> Config:
        """Build a config from nested dicts, refusing unknown keys, wrong types and
        impossible values; errors start with ``source`` (the file's name)."""
        try:
            return typing.cast(Config, _build(cls, data, ""))
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        """Read a TOML file; errors name the file and the key."""
        path = Path(path)
        try:
            # a byte-order mark (Windows editors write one) is no part of the TOML
            data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data, for run.json; the privacy secret is redacted."""
        data = dataclasses.asdict(self)
        if data["privacy"]["secret"]:
            data["privacy"]["secret"] = "<redacted>"
        return data


_SHARE = "between 0 and 1"

#: what DuckDB's memory_limit takes, without its sign: "-5GB" would mean no limit
_MEMORY_SIZE = re.compile(
    r"\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*"
    r"(?P<unit>%|b|bytes?|[kmgt]i?b|[kmgt]|kilobytes?|megabytes?|gigabytes?|terabytes?)\s*",
    re.IGNORECASE,
)
_JVM_SIZE = re.compile(r"(?P<number>\d+)[kmgt]?", re.IGNORECASE)


def _is_memory_size(text: str) -> bool:
    match = _MEMORY_SIZE.fullmatch(text)
    if match is None:
        return False
    number = float(match["number"])
    return number > 0 and (match["unit"] != "%" or number <= 100)


def _is_jvm_size(text: str) -> bool:
    match = _JVM_SIZE.fullmatch(text)
    return match is not None and int(match["number"]) > 0


def _require(ok: bool, name: str, rule: str, value: Any) -> None:
    """Refuse the ``value`` of setting ``name`` unless ``ok``; ``rule`` says what it must be."""
    if not ok:
        raise ConfigError(f"{name} must be {rule}, not {_shown(value)}")


def _shown(value: Any) -> str:
    """``value`` for an error message: its repr, cut short to keep the message one line."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return "a number of thousands of digits"
    return text if len(text) <= 60 else text[:57] + "..."


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a table")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(f"unknown key {name!r}")
        kwargs[key] = _coerce(hints[key], value, name)
        default = fields[key].default_factory
        if isinstance(kwargs[key], dict) and default is not dataclasses.MISSING:
            # a table given for a table with defaults (key_weights) changes the keys it
            # names; the others keep their defaults instead of silently weighing 1.0
            kwargs[key] = {**default(), **kwargs[key]}
    return cls(**kwargs)


#: each section's field types, resolved once (annotations are strings here)
_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _coerce_fields(section: Any, prefix: str) -> None:
    """Check the type of each field of a section, as a config file's values are checked;
    integers become floats where a float is wanted."""
    hints = _hints(type(section))
    for item in dataclasses.fields(section):
        value = getattr(section, item.name)
        setattr(section, item.name, _coerce(hints[item.name], value, f"{prefix}{item.name}"))


def _coerce(hint: Any, value: Any, name: str) -> Any:
    if dataclasses.is_dataclass(hint):
        if isinstance(value, typing.cast(type, hint)):
            return value  # built, so checked already
        return _build(typing.cast(type, hint), value, f"{name}.")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, name)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{name} must be one of {choices}, not {_shown(value)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{name} must be a list, not {_type_name(value)}")
        return [_coerce(args[0], v, f"{name}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a table, not {_type_name(value)}")
        return {str(k): _coerce(args[1], v, f"{name}.{k}") for k, v in value.items()}
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(f"{name} must be a number, not {_type_name(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        # inf and nan pass no range check (every comparison with nan is false) and
        # are no number SQL can read
        if not math.isfinite(number):
            raise ConfigError(f"{name} must be a finite number, not {_shown(value)}")
        return number
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ConfigError(f"{name} must be an integer, not {_type_name(value)}")
        whole = int(value)
        if not -(2**63) <= whole < 2**63:
            raise ConfigError(f"{name} must be a 64-bit integer, not {_shown(whole)}")
        return whole
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {_type_name(value)}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, not {_type_name(value)}")
        return value
    return value


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
