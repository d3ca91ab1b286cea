"""sybilgraph: find networks of fake accounts in the traffic of an AI model API.

The public API is small: a :class:`Config`, :func:`run` to go from events to ranked
clusters, :func:`open_run` to reopen a finished run, and :func:`evaluate` against ground
truth. Heavy parts (the engines, Spark above all) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sybilgraph.config import Config
from sybilgraph.errors import (
    ConfigError,
    InputError,
    OutputError,
    ResourceError,
    StateError,
    SybilgraphError,
)

if TYPE_CHECKING:
    from sybilgraph.evaluation import Evaluation, evaluate
    from sybilgraph.pipeline import run
    from sybilgraph.result import Result, open_run

__all__ = [
    "Config",
    "ConfigError",
    "Evaluation",
    "InputError",
    "OutputError",
    "ResourceError",
    "Result",
    "StateError",
    "SybilgraphError",
    "evaluate",
    "open_run",
    "run",
]

__version__ = "0.1.0"

_LAZY = {
    "run": "sybilgraph.pipeline",
    "Result": "sybilgraph.result",
    "open_run": "sybilgraph.result",
    "evaluate": "sybilgraph.evaluation",
    "Evaluation": "sybilgraph.evaluation",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sybilgraph' has no attribute {name!r}")
