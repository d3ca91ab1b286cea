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
import secrets
from collections.abc import Iterable

import pandas as pd
import pyarrow as pa

from sybilgraph.config import Config
from sybilgraph.engines.base import Engine

__all__ = ["PRIVATE_KEYS", "SECRET_ENV", "Pseudonymiser", "pseudonymiser", "value_labels"]

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


def pseudonymiser(config: Config) -> Pseudonymiser:
    """The run's pseudonymiser: secret from the environment, the config, or drawn."""
    secret = os.environ.get(SECRET_ENV) or config.privacy.secret
    if secret:
        return Pseudonymiser(secret.encode())
    log.warning(
        "no %s or privacy.secret: pseudonyms use a random secret and will not match "
        "those of other runs",
        SECRET_ENV,
    )
    return Pseudonymiser(secrets.token_bytes(32), stable=False)


def value_labels(
    engine: Engine,
    names: Pseudonymiser,
    table: str = "value_labels",
    accounts: str | None = None,
) -> None:
    """Create ``table`` (key, value, label): the pseudonym of every private value seen,
    or with ``accounts`` (a table with an account_id column) of those accounts' values."""
    keys = ", ".join(f"'{k}'" for k in PRIVATE_KEYS)
    source = "value_stats"
    if accounts:
        source = (
            f"(SELECT * FROM observations WHERE account_id IN (SELECT account_id FROM {accounts}))"
        )
    distinct = engine.arrow(f"SELECT DISTINCT key, value FROM {source} WHERE key IN ({keys})")
    labels = [
        names.pseudonym(str(k), str(v))
        for k, v in zip(
            distinct.column("key").to_pylist(), distinct.column("value").to_pylist(), strict=True
        )
    ]
    engine.register(
        f"{table}_in",
        pa.table(
            {
                "key": distinct.column("key"),
                "value": distinct.column("value"),
                "label": pa.array(labels, pa.string()),
            }
        ),
    )
    engine.create_table(table, f"SELECT * FROM {table}_in")
    engine.drop(f"{table}_in")
