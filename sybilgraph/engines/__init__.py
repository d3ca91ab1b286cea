"""Engines run the relational stages (load, observe, link) as SQL.

DuckDB is the default and always installed. Spark is an optional extra, imported only
when asked for, so ``import sybilgraph`` never starts a JVM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sybilgraph.engines.base import Engine

if TYPE_CHECKING:
    from sybilgraph.config import EngineConfig

__all__ = ["Engine", "make_engine"]


def make_engine(config: EngineConfig) -> Engine:
    """Start the engine the config names."""
    if config.name == "duckdb":
        from sybilgraph.engines.duckdb import DuckDBEngine

        return DuckDBEngine(config)
    if config.name == "spark":
        from sybilgraph.engines.spark import SparkEngine

        return SparkEngine(config)
    from sybilgraph.errors import ConfigError

    raise ConfigError(f"unknown engine {config.name!r}; expected 'duckdb' or 'spark'")
