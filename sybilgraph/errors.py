"""The exceptions sybilgraph raises.

Every error a user can cause is a :class:`SybilgraphError`; the CLI turns each into a
one-line message and a non-zero exit code. Anything else is a bug.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InputError",
    "OutputError",
    "ResourceError",
    "StateError",
    "SybilgraphError",
]


class SybilgraphError(Exception):
    """Base of every error sybilgraph raises on purpose."""

    exit_code = 1


class InputError(SybilgraphError):
    """The input events cannot be read or lack what the run needs."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = path
        self.row = row
        self.column = column
        where = []
        if path is not None:
            where.append(str(path))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(SybilgraphError):
    """The configuration has an unknown key, a wrong type or an impossible value."""

    exit_code = 2


class OutputError(SybilgraphError):
    """The output folder cannot be written safely."""

    exit_code = 2


class StateError(SybilgraphError):
    """A saved run or state folder is missing, damaged or of an unknown version."""

    exit_code = 2


class ResourceError(SybilgraphError):
    """A memory or disk limit was reached."""

    exit_code = 3
