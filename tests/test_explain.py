"""explain: direct evidence, a path, or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sybilgraph import Config, run
from sybilgraph.cli import main
from sybilgraph.errors import InputError
from sybilgraph.investigate.explain import explain


def test_direct_path_and_none(hand_csv: Path, tmp_path: Path) -> None:
    result = run(hand_csv, Config(), tmp_path / "out", show_progress=False)
    direct = explain(result, "a1", "a2")
    assert direct.linked
    text = direct.summary()
    assert "payment: 1 shared (pm_ringA_1)" in text
    assert "both in cluster" in text
    # a1 and a4 hold different cards but share IPs and the template: linked too
    assert explain(result, "a1", "a4").linked
    nothing = explain(result, "a1", "s01")
    assert not nothing.linked and not nothing.path
    assert "not connected" in nothing.summary()
    with pytest.raises(InputError, match="'zz' is not in this run"):
        explain(result, "a1", "zz")
    with pytest.raises(InputError, match="two different accounts, not 'a1' twice"):
        explain(result, "a1", "a1")
    # linked, but not to each other (two rings): said in words, with no library warning
    apart = CliRunner().invoke(main, ["explain", str(tmp_path / "out"), "a1", "h1"])
    assert apart.exit_code == 0 and "not connected" in apart.stdout
    assert apart.stderr == "", apart.stderr


def test_path_through_a_third_account(tmp_path: Path) -> None:
    import pandas as pd

    rows = [
        {"account_id": "x", "ts": "2026-04-13T00:00:00Z", "payment_id": "pm_1"},
        {"account_id": "y", "ts": "2026-04-13T01:00:00Z", "payment_id": "pm_1"},
        {"account_id": "y", "ts": "2026-04-13T02:00:00Z", "payment_id": "pm_2"},
        {"account_id": "z", "ts": "2026-04-13T03:00:00Z", "payment_id": "pm_2"},
    ]
    rows += [
        {"account_id": f"f{i}", "ts": "2026-04-14T00:00:00Z", "payment_id": f"pm_f{i}"}
        for i in range(200)
    ]
    result = run(pd.DataFrame(rows), Config(), tmp_path / "out", show_progress=False)
    found = explain(result, "x", "z")
    assert found.path == ["x", "y", "z"]
    out = CliRunner().invoke(main, ["explain", str(result.out_dir), "x", "z"]).stdout
    assert "connected through 1 other account(s)" in out
    assert "x -- y" in out and "y -- z" in out
