"""The loaded events as the input gave them, for tests that check what load read."""

from __future__ import annotations

from sybilgraph.stages.tables import EventTables


def with_texts(loaded: EventTables) -> str:
    """SQL of the loaded events, each with its prompt's text (``prompt``; NULL without
    one) beside its key: load holds each distinct text once, apart from the events."""
    return f"""(SELECT e.*, p.prompt FROM {loaded.events} e
        LEFT JOIN {loaded.prompts} p ON p.prompt_key = e.prompt_key) loaded"""
