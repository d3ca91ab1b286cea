"""score: features and the logistic score, worked out by hand on the conftest log."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from sybilgraph import Config, run
from sybilgraph.config import DetectConfig
from sybilgraph.stages.score import score_terms


@pytest.fixture
def clusters(hand_csv: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    result = run(hand_csv, Config(), tmp_path / "out", show_progress=False)
    return result.clusters.set_index("size")


def test_ring_a_score_by_hand(clusters) -> None:  # type: ignore[no-untyped-def]
    ring = clusters.loc[6]
    # 6 accounts x 30 requests, all on one template held by nobody else:
    #   template_share = 180 / 180 = 1
    #   template_concentration = (log10(180 / 1) - 1) / 2 = 0.628
    # population: 350 carrier accounts send 1 request, so the median account sends 1;
    #   the ring's median account sends 30: volume_ratio = 30, log10 = 1.477 (< cap 1.5)
    # both cards are shared inside: payment_share = 6/6 = 1; all first seen within an
    # hour, but on the data's first day, when accounts of any age appear: burst = 0; all
    # 15 pairs linked: density = 1; no value is mostly outside: 0
    # one template owned: its content counts log2(1 + 1) / log2(1 + 4) = 0.431 of it
    # (content_breadth 4)
    assert ring["template_share"] == 1.0
    assert ring["template_concentration"] == pytest.approx(0.628, abs=1e-3)
    assert ring["volume_ratio"] == 30.0
    assert ring["payment_share"] == 1.0
    assert ring["burst"] == 0.0
    assert ring["density"] == 1.0
    assert ring["spread_share"] == 0.0
    breadth = math.log2(2) / math.log2(5)
    z = -6 + 5 * 1.0 * breadth + 2.5 * math.log10(30) + 1 + 0 + 1 - 1.5 * 0
    assert ring["score"] == pytest.approx(1 / (1 + math.exp(-z)), abs=1e-4)  # 0.8637
    assert ring["flagged"]


def test_household_score_by_hand(clusters) -> None:  # type: ignore[no-untyped-def]
    home = clusters.loc[2]
    # 2 accounts x 4 personal prompts: no shared template, 8 requests on 8 templates
    #   (concentration log10(1) -> 0); median 4 requests: volume_ratio 4 (log10 0.602);
    # one shared card: payment_share 1; first seen 12 hours apart on the data's first
    # day: burst 0; density 1,
    # which does not count for two accounts (a cluster's only pair is always linked)
    assert home["density"] == 1.0
    z = -6 + 0 + 2.5 * math.log10(4) + 1 + 0
    assert home["score"] == pytest.approx(1 / (1 + math.exp(-z)), abs=1e-4)  # 0.0295
    assert not home["flagged"]
    assert home["reasons"].startswith("median account sends 4× the requests")


def test_content_resting_on_one_wrapper_counts_as_one_piece() -> None:
    # A tool's long system prompt before short tasks: MinHash puts the different tasks
    # in a few near-duplicate templates, but the shared content is the one wrapper
    # (wrapper_share over template_share): its breadth is that of one piece, as for a
    # tool sharing one template. An operator's ring repeating its tasks owns the ends of
    # many (57 wrappers); a ring of short prompts owns templates and no wrapper.
    features = pd.DataFrame(
        {
            "templates": [5, 120, 6],
            "template_share": [0.35, 0.5, 0.9],
            "templates_with_flagged": [0, 0, 0],
            "template_concentration": [0.0, 0.0, 0.0],
            "wrappers": [1, 57, 0],
            "wrapper_share": [0.93, 1.0, 0.0],
            "volume_ratio": [10.0, 10.0, 10.0],
            "density": [1.0, 1.0, 1.0],
            "size": [8, 20, 8],
            "spread_share": [0.0, 0.0, 0.0],
        },
        index=["tool", "ring", "short"],
    )
    terms = score_terms(features, {"template", "volume"})
    one_piece = math.log2(2) / math.log2(5)
    assert terms.loc["tool", "template"] == pytest.approx(0.93 * one_piece)
    assert terms.loc["ring", "template"] == pytest.approx(1.0)
    assert terms.loc["short", "template"] == pytest.approx(0.9)


def test_spread_share_is_the_linking_on_values_mostly_held_outside(tmp_path: Path) -> None:
    # One IP held by 8 accounts: a ring of 3 (who also share a card and a template) and
    # 5 others (who share a template of their own), among 400 accounts of their own
    # values. IP alone (1 / ln(8 + 5) = 0.39) is under min_weight 0.45: two clusters.
    # For the ring the IP is mostly held outside (8 > 2 x 3): its share of the ring's
    # linking is spread; for the five it is not (8 <= 2 x 5).
    start = pd.Timestamp("2026-04-13T08:00:00Z")
    rows = []
    for i, account in enumerate(["r1", "r2", "r3"]):
        for k in range(5):
            at = start + pd.Timedelta(hours=24 * (k + 1) + 3 * i)
            rows.append((account, at, "203.0.113.9", "card-ring", f"a note of {account} no {k}"))
    for j in range(5):
        for k in range(2):
            at = start + pd.Timedelta(hours=24 * k + j, minutes=7 * j)
            rows.append((f"o{j}", at, "203.0.113.9", f"card-o{j}", f"what o{j} asks {k}"))
    for j in range(400):
        at = start + pd.Timedelta(minutes=11 * j)
        rows.append((f"p{j}", at, f"198.51.{j // 200}.{j % 200 + 1}", f"card-p{j}", f"hi {j}"))
    events = pd.DataFrame(rows, columns=["account_id", "ts", "ip", "payment_id", "prompt"])
    config = Config(detect=DetectConfig(min_weight=0.45))
    result = run(events, config, tmp_path / "out", show_progress=False)

    clusters = result.clusters.set_index("size")
    links = pd.read_parquet(tmp_path / "out" / "links.parquet")
    ring = links[links["a"].str.startswith("r")]
    assert len(ring) == 3 and (ring["b"].str.startswith("r")).all()
    on_keys = ring[["ip_weight", "payment_weight", "prompt_weight"]].to_numpy().sum()
    expected = round(ring["ip_weight"].sum() / on_keys, 3)  # 0.39 / (0.39 + 0.96 + 0.96)
    assert expected == pytest.approx(0.169, abs=1e-3)
    assert clusters.loc[3, "spread_share"] == expected
    assert clusters.loc[5, "spread_share"] == 0.0
