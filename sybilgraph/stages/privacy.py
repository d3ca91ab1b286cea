"""Pseudonyms for personal data: IP addresses and payment tokens.

A value is replaced by a keyed hash of it, ``ip~`` / ``net~`` / ``pay~`` and 12 hex
digits of HMAC-SHA256 under a secret. The same secret maps the same value to the same
pseudonym in every run, so a ring can be followed from week to week without showing its
addresses or cards; without the secret the pseudonym cannot be turned back or recomputed.

The secret comes from the environment variable ``SYBILGRAPH_SECRET`` or, failing that,
``privacy.secret`` in the config. Without either, a random secret is drawn for the run
and a warning says that pseudonyms will not match those of other runs. The secret is
never written to an output or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Iterable, Sequence

import pandas as pd
import pyarrow as pa

from sybilgraph.config import Config, key_column
from sybilgraph.engines.base import Engine
from sybilgraph.stages.link import create_in_slices, evidence_sql
from sybilgraph.stages.tables import ClusterTables, LinkTables, ObservationTables, PrivateTables

__all__ = [
    "PRIVATE_KEYS",
    "SECRET_ENV",
    "Pseudonymiser",
    "is_pseudonym",
    "named_values",
    "private_links",
    "pseudonymise",
    "pseudonymiser",
    "value_labels",
]

log = logging.getLogger(__name__)

SECRET_ENV = "SYBILGRAPH_SECRET"

#: link keys whose values are personal data, and the prefix of their pseudonyms
PRIVATE_KEYS = {"ip": "ip", "ip_subnet": "net", "payment": "pay"}

DIGITS = 12


class Pseudonymiser:
    """Maps a (key, value) to its pseudonym; values of other keys pass unchanged."""

    def __init__(self, secret: bytes, *, stable: bool = True) -> None:
        self._secret = secret
        #: False when the secret was drawn for this run only
        self.stable = stable

    def __repr__(self) -> str:  # never show the secret
        return f"Pseudonymiser(stable={self.stable})"

    def pseudonym(self, key: str, value: str) -> str:
        prefix = PRIVATE_KEYS.get(key)
        if prefix is None:
            return value
        digest = hmac.new(self._secret, f"{prefix}\0{value}".encode(), hashlib.sha256)
        return f"{prefix}~{digest.hexdigest()[:DIGITS]}"

    def column(self, key: str, values: Iterable[object]) -> list[str | None]:
        """Pseudonyms of a column of one key's values; missing values stay missing."""
        return [
            None
            if v is None or (isinstance(v, float) and pd.isna(v))
            else self.pseudonym(key, str(v))
            for v in values
        ]

    def frame(self, frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
        """``frame`` with each named column (column -> key) pseudonymised."""
        out = frame.copy()
        for column, key in columns.items():
            if column in out.columns:
                out[column] = pd.Series(
                    self.column(key, out[column].tolist()), index=out.index, dtype=object
                )
        return out

    def keyed_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with ``value`` pseudonymised wherever ``key`` is a private key."""
        if frame.empty or "value" not in frame.columns:
            return frame.copy()
        out = frame.copy()
        out["value"] = [
            self.pseudonym(str(k), str(v)) if v is not None and str(k) in PRIVATE_KEYS else v
            for k, v in zip(out["key"].tolist(), out["value"].tolist(), strict=True)
        ]
        return out


def is_pseudonym(key: str, value: str) -> bool:
    """Whether ``value`` is written as a pseudonym of a value of ``key`` (``ip~`` and
    12 hex digits for an IP), as the pages show them."""
    prefix = PRIVATE_KEYS.get(key)
    return prefix is not None and re.fullmatch(rf"{prefix}~[0-9a-f]{{{DIGITS}}}", value) is not None


def named_values(
    engine: Engine, observations: str, values: pd.DataFrame, config: Config
) -> pd.DataFrame:
    """Verdicts' (key, value) rows with each value written as a pseudonym (what an
    investigator sees on the pages, and in the tables with ``privacy.tables``) replaced
    by the value of this run it names; a verdict on a pseudonym matched nothing, so the
    value linked on as before.

    A pseudonym names a value under the secret that made it: without
    ``SYBILGRAPH_SECRET`` or ``privacy.secret`` none can be matched. Those that name no
    value of the run are left as written, and a warning counts them.
    """
    chosen = [
        is_pseudonym(str(k), str(v)) for k, v in zip(values["key"], values["value"], strict=True)
    ]
    if not any(chosen):
        return values
    named = values.copy()
    secret = _secret(config)
    if not secret:
        log.warning(
            "labels: %d verdict(s) name pseudonyms (ip~..., pay~...): without %s or "
            "privacy.secret none can be matched; not used",
            sum(chosen),
            SECRET_ENV,
        )
        return named
    names = Pseudonymiser(secret.encode())
    found: dict[tuple[str, str], str] = {}
    for key in sorted({str(k) for k, c in zip(named["key"], chosen, strict=True) if c}):
        held = (
            engine.arrow(
                f"SELECT DISTINCT value FROM {observations} "
                f"WHERE key = {engine.dialect.literal(key)} AND value IS NOT NULL"
            )
            .column(0)
            .to_pylist()
        )
        found.update(((key, names.pseudonym(key, v)), v) for v in held)
    raw = [
        found.get((str(k), str(v)), v) if c else v
        for k, v, c in zip(named["key"], named["value"], chosen, strict=True)
    ]
    unmatched = sum(1 for r, v, c in zip(raw, named["value"], chosen, strict=True) if c and r == v)
    if unmatched:
        log.warning(
            "labels: %d verdict(s) on pseudonyms name no value of this run (made under "
            "another secret, or of values not in these events): not used",
            unmatched,
        )
    named["value"] = raw
    return named


def _secret(config: Config) -> str | None:
    """The secret of stable pseudonyms: from the environment, else the config."""
    return os.environ.get(SECRET_ENV) or config.privacy.secret or None


def pseudonymiser(config: Config) -> Pseudonymiser:
    """The run's pseudonymiser: secret from the environment, the config, or drawn."""
    secret = _secret(config)
    if secret:
        return Pseudonymiser(secret.encode())
    log.warning(
        "no %s or privacy.secret: pseudonyms use a random secret and will not match "
        "those of other runs",
        SECRET_ENV,
    )
    return Pseudonymiser(secrets.token_bytes(32), stable=False)


def pseudonymise(
    engine: Engine,
    observed: ObservationTables,
    linked: LinkTables,
    clustered: ClusterTables,
    names: Pseudonymiser,
    config: Config,
    *,
    only_clusters: Sequence[str] | None = None,
) -> PrivateTables:
    """Pseudonyms of the private shared values, and the links with them in their evidence.

    With ``only_clusters`` only the values of those clusters' accounts and the links
    between two of them are done: what the pages alone need.
    """
    accounts = None
    if only_clusters is not None:
        accounts = _members_of(engine, clustered, only_clusters)
    value_labels(engine, observed, linked, names, accounts=accounts)
    private_links(engine, linked, config, accounts=accounts)
    if accounts:
        engine.drop(accounts)
    return PrivateTables(value_labels=_VALUE_LABELS, links=_PRIVATE_LINKS)


#: the tables privacy makes: known to the others only through ``PrivateTables``
_VALUE_LABELS = "value_labels"
_PRIVATE_LINKS = "links_private"


def _members_of(engine: Engine, clustered: ClusterTables, cluster_ids: Sequence[str]) -> str:
    """A table of the accounts of ``cluster_ids``; returns its name."""
    engine.register(
        "chosen_clusters", pa.table({"cluster_id": pa.array(list(cluster_ids), pa.string())})
    )
    engine.create_table(
        "chosen_accounts",
        f"""SELECT m.account_id FROM {clustered.membership} m
           JOIN chosen_clusters c ON c.cluster_id = m.cluster_id""",
    )
    engine.drop("chosen_clusters")
    return "chosen_accounts"


def value_labels(
    engine: Engine,
    observed: ObservationTables,
    linked: LinkTables,
    names: Pseudonymiser,
    accounts: str | None = None,
) -> None:
    """Create the value labels (key, value, label): the pseudonym of every private value
    held by two or more accounts, or with ``accounts`` (a table with an account_id
    column) of those accounts' values held by two or more.

    A value only one account holds is never shown (links, values and pages list shared
    values only), so it needs no pseudonym: a ring on rotating proxies has hundreds of
    thousands of those.
    """
    keys = ", ".join(f"'{k}'" for k in PRIVATE_KEYS)
    shared = f"SELECT key, value FROM {linked.values} WHERE holders >= 2 AND key IN ({keys})"
    if accounts:
        shared = f"""SELECT DISTINCT o.key, o.value
                     FROM {observed.observations} o
                     JOIN {linked.values} s ON s.key = o.key AND s.value = o.value
                     WHERE s.holders >= 2 AND o.key IN ({keys})
                       AND o.account_id IN (SELECT account_id FROM {accounts})"""
    distinct = engine.arrow(shared)
    labels = [
        names.pseudonym(str(k), str(v))
        for k, v in zip(
            distinct.column("key").to_pylist(), distinct.column("value").to_pylist(), strict=True
        )
    ]
    engine.store(
        _VALUE_LABELS,
        pa.table(
            {
                "key": distinct.column("key"),
                "value": distinct.column("value"),
                "label": pa.array(labels, pa.string()),
            }
        ),
    )


def private_links(
    engine: Engine,
    linked: LinkTables,
    config: Config,
    accounts: str | None = None,
) -> None:
    """Create the private links: the links with every private value in their evidence
    shown by its label, or with ``accounts`` (a table with an account_id column) the
    links between two of those accounts only.

    Only the private keys' samples are drawn again, from their pair values; the rest of
    each link (weights, counts, prompt samples) is the links as they are.
    """
    sql = engine.dialect
    keys = list(linked.keys)
    private = [k for k in keys if k in PRIVATE_KEYS]

    def within(alias: str) -> str:
        if not accounts:
            return "true"
        return (
            f"{alias}.a IN (SELECT account_id FROM {accounts}) "
            f"AND {alias}.b IN (SELECT account_id FROM {accounts})"
        )

    if private:
        names = ", ".join(sql.literal(k) for k in private)
        # the pairs to sample, first: for the pages alone a small part of the pair values
        engine.create_table(
            "private_pairs",
            f"""SELECT p.a, p.b, p.key, coalesce(d.label, p.value) AS value, p.w
                FROM {linked.pair_values} p
                LEFT JOIN {_VALUE_LABELS} d ON d.key = p.key AND d.value = p.value
                WHERE p.key IN ({names}) AND {within("p")}""",
        )
        create_in_slices(
            engine,
            "private_samples",
            lambda where: (
                f"""SELECT a, b, key,
                       {sql.top_values("value", "w", config.link.evidence_sample)} AS sample
                FROM private_pairs WHERE {where} GROUP BY a, b, key"""
            ),
            "private_pairs",
            ("a", "b", "key"),
        )
        engine.drop("private_pairs")
        pivot = ", ".join(
            f"max(CASE WHEN key = {sql.literal(k)} THEN sample END) AS {key_column(k)}_values"
            for k in private
        )
        create_in_slices(
            engine,
            "private_evidence",
            lambda where: f"SELECT a, b, {pivot} FROM private_samples WHERE {where} GROUP BY a, b",
            "private_samples",
            ("a", "b"),
        )
        engine.drop("private_samples")
    if not keys:  # no links: the empty table as it is
        engine.create_table(_PRIVATE_LINKS, f"SELECT * FROM {linked.links}")
        return

    def sample_of(key: str) -> str:
        return f"{'p' if key in private else 'l'}.{key_column(key)}_values"

    key_list, evidence = evidence_sql(engine, keys, lambda k: f"l.{key_column(k)}_n", sample_of)
    per_key = ", ".join(
        f"l.{key_column(k)}_weight, l.{key_column(k)}_n, {sample_of(k)} AS {key_column(k)}_values"
        for k in keys
    )
    join = "LEFT JOIN private_evidence p ON p.a = l.a AND p.b = l.b" if private else ""
    engine.create_table(
        _PRIVATE_LINKS,
        f"""SELECT l.a, l.b, l.weight, {key_list} AS keys, {evidence} AS evidence,
                   l.first_seen, l.last_seen, {per_key}
            FROM {linked.links} l {join}
            WHERE {within("l")}""",
    )
    if private:
        engine.drop("private_evidence")
