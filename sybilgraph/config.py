"""Run configuration: one dataclass tree, loadable from TOML or a dict.

Unknown keys and wrong types are refused with a :class:`ConfigError` that names the key,
so a typo in a config file never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sybilgraph.errors import ConfigError

__all__ = [
    "ColumnsConfig",
    "Config",
    "DetectConfig",
    "EngineConfig",
    "ExportConfig",
    "LinkConfig",
    "PrivacyConfig",
    "PromptConfig",
    "ScoreConfig",
]


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

    def __post_init__(self) -> None:
        if self.min_uses < 1:
            raise ConfigError(f"prompt.min_uses must be at least 1, not {self.min_uses}")
        if self.max_groups < 0:
            raise ConfigError(f"prompt.max_groups must be 0 (all) or more, not {self.max_groups}")
        if not 0.0 <= self.heavy_threshold <= 1.0:
            raise ConfigError(
                f"prompt.heavy_threshold must be between 0 and 1, not {self.heavy_threshold}"
            )
        if self.heavy_volume <= 0:
            raise ConfigError(f"prompt.heavy_volume must be above 0, not {self.heavy_volume}")


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
            "direct": 2.0,
        }
    )
    #: how many shared values each link keeps as a sample, per key
    evidence_sample: int = 3


@dataclass
class DetectConfig:
    """Community detection: components, then Leiden inside the large ones."""

    #: links lighter than this are dropped before detection
    min_weight: float = 0.3
    #: components with more accounts than this are cut with Leiden (at 20 the sample's
    #: prompt-only and typo rings, 8 and 11 accounts touching through one template, were
    #: one cluster; 10 changed nothing else on synth 600k, 1M and 10M logs)
    leiden_min_size: int = 10
    #: keys that tie a few accounts of a ring tighter than the rest (cards bought in
    #: batches): Leiden's pieces that differ only by them are joined again when ...
    split_keys: list[str] = field(default_factory=lambda: ["payment"])
    #: ... at least this share of the pairs across two pieces is linked ...
    join_density: float = 0.9
    #: ... and, on the other keys, the links across weigh at least this share of the
    #: links inside either piece (0 = never join). Synth 600k: pieces of one ring cut
    #: along its cards 1.0; two rings sharing a template or VPN exits at most 0.33
    join_ratio: float = 0.6
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
        if not 0.0 <= self.join_density <= 1.0:
            raise ConfigError(
                f"detect.join_density must be between 0 and 1, not {self.join_density}"
            )
        if self.join_ratio < 0:
            raise ConfigError(f"detect.join_ratio must be 0 (off) or more, not {self.join_ratio}")


@dataclass
class ScoreConfig:
    """Cluster scoring and the flagging decision."""

    threshold: float = 0.5


@dataclass
class ExportConfig:
    """The HTML views and graph files written with every run."""

    #: pages are written for this many clusters, best ranked first (flagged or not)
    pages: int = 100
    #: a page draws at most this many nodes; the rest are collapsed into counted groups
    node_budget: int = 300
    #: processes writing pages: 0 = one per CPU core (at most 4), 1 = in the run's process
    workers: int = 0


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


@dataclass
class Config:
    """Everything a run needs besides its input.

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
    #: labels file (account_id or cluster_id, verdict, note) read at the start of a run
    labels: str | None = None
    #: account-to-account edges (CSV: a, b, kind[, ts]): referrals, transfers, invitations
    direct_edges: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> Config:
        """Build a config from nested dicts, refusing unknown keys and wrong types."""
        return _build(cls, data, source, "")

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        """Read a TOML file; errors name the file and the key."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
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


def _build(cls: type, data: Any, source: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'} must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(f"{source}: unknown key {name!r}")
        kwargs[key] = _coerce(hints[key], value, source, name)
        default = fields[key].default_factory
        if isinstance(kwargs[key], dict) and default is not dataclasses.MISSING:
            # a table given for a table with defaults (key_weights) changes the keys it
            # names; the others keep their defaults instead of silently weighing 1.0
            kwargs[key] = {**default(), **kwargs[key]}
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, source: str, name: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type, hint), value, source, f"{name}.")
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
                return _coerce(arg, value, source, name)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{source}: {name} must be one of {choices}, not {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {name} must be a list, not {_type_name(value)}")
        return [_coerce(args[0], v, source, f"{name}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {name} must be a table, not {_type_name(value)}")
        return {str(k): _coerce(args[1], v, source, f"{name}.{k}") for k, v in value.items()}
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{source}: {name} must be a number, not {_type_name(value)}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {name} must be an integer, not {_type_name(value)}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {name} must be true or false, not {_type_name(value)}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {name} must be a string, not {_type_name(value)}")
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
