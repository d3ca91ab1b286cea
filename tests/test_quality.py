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
