"""sybilgraph: find networks of fake accounts in the traffic of an AI model API.

The public API is small: a :class:`Config`, :func:`load_events` to check inputs,
:func:`run` to go from events to ranked clusters (a :class:`Result`, whose
:meth:`~Result.cluster` and :meth:`~Result.neighborhood` are drawable), :func:`open`
(or :func:`open_run`) to reopen a finished run, and :func:`evaluate` against ground
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
from sybilgraph.version import __version__ as __version__

if TYPE_CHECKING:
    from sybilgraph.api import run
    from sybilgraph.investigate.cluster import Cluster, Neighborhood
    from sybilgraph.investigate.evaluation import Evaluation, evaluate
    from sybilgraph.investigate.result import Result, open_run
    from sybilgraph.investigate.result import open_run as open  # noqa: F401
    from sybilgraph.stages.loading import Events, load_events

# ``open`` (an alias of open_run) is left out of __all__ so that a star import does not
# hide the builtin
__all__ = [
    "Cluster",
    "Config",
    "ConfigError",
    "Evaluation",
    "Events",
    "InputError",
    "Neighborhood",
    "OutputError",
    "ResourceError",
    "Result",
    "StateError",
    "SybilgraphError",
    "evaluate",
    "load_events",
    "open_run",
    "run",
]

_LAZY = {
    "run": "sybilgraph.api",
    "Result": "sybilgraph.investigate.result",
    "open_run": "sybilgraph.investigate.result",
    "Cluster": "sybilgraph.investigate.cluster",
    "Neighborhood": "sybilgraph.investigate.cluster",
    "Events": "sybilgraph.stages.loading",
    "load_events": "sybilgraph.stages.loading",
    "evaluate": "sybilgraph.investigate.evaluation",
    "Evaluation": "sybilgraph.investigate.evaluation",
}


def __getattr__(name: str) -> Any:
    if name == "open":
        name = "open_run"
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sybilgraph' has no attribute {name!r}")
