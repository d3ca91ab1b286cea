"""End to end on synth traffic: every ring kind found, no household, office or class."""

from __future__ import annotations

from pathlib import Path

from sybilgraph import Config, evaluate, run
from sybilgraph.synth import SynthConfig, generate

LEGIT_GROUPS_NEVER_FLAGGED = {"household", "office", "office_card", "classroom"}


def test_rings_of_every_kind_and_no_households(tmp_path: Path) -> None:
    events, truth = generate(SynthConfig(n_events=150_000, seed=3))
    result = run(events, Config(), tmp_path / "out", show_progress=False)
    found = evaluate(result, truth)
    assert found.precision >= 0.97
    assert found.recall >= 0.97
    assert found.average_precision >= 0.95
    kinds = found.by_kind.set_index("kind")
    for kind in ("ring_basic", "ring_prompt_only", "ring_typo", "ring_vpn"):
        assert kinds.loc[kind, "groups_recovered"] == kinds.loc[kind, "groups"], kind
    for kind in LEGIT_GROUPS_NEVER_FLAGGED:
        assert kinds.loc[kind, "flagged"] == 0, kind


def test_heavy_users_of_a_popular_tool_are_not_a_ring(tmp_path: Path) -> None:
    # The heavy users of a popular tool share one (strict) group of its system prompt
    # among themselves: one piece of text, not an operator's many. A few wrapper ends
    # they happen to share (1% of their requests) counted as pieces owned, and 26 of
    # them were flagged (0.79) on this log
    events, truth = generate(SynthConfig(n_events=200_000, seed=5005, coordination=True))
    result = run(events, Config(), tmp_path / "out", show_progress=False)
    found = evaluate(result, truth)
    kinds = found.by_kind.set_index("kind")
    for kind in ("tool_user_popular", "tool_user_niche", "sdk_user", "vpn_user"):
        assert kinds.loc[kind, "flagged"] == 0, kind
    assert kinds.loc["ring_wrapped", "flagged"] == kinds.loc["ring_wrapped", "accounts"]
    assert found.precision == 1.0 and found.recall >= 0.97
