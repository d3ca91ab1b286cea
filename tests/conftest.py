"""Shared fixtures: a small hand-built event log whose answer is known."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sybilgraph.config import EngineConfig
from sybilgraph.engines import Engine, make_engine
from sybilgraph.errors import ConfigError

START = dt.datetime(2026, 4, 13, tzinfo=dt.UTC)


def _ts(day: float, minute: int = 0) -> str:
    return (START + dt.timedelta(days=day, minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tag(i: int) -> str:
    """A word of letters only, distinct for each i (masking leaves it alone)."""
    letters = "bcdfghjklmnpqrstvwxz"
    word = ""
    i += 400
    while i:
        i, digit = divmod(i, len(letters))
        word += letters[digit] + "aeiou"[digit % 5]
    return word


def _personal(i: int, topic: str) -> str:
    """A prompt nobody else sends: three made-up words and a topic."""
    return f"{_tag(3 * i)} {_tag(3 * i + 1)} {_tag(3 * i + 2)} {topic}"


def hand_events() -> pd.DataFrame:
    """A week of traffic with two rings, a household, an office, a carrier and solos.

    - ring A (a1..a6): two prepaid cards (a1-a3, a4-a6), three datacenter IPs, one
      arithmetic template, 30 requests each, all created on day 0 -> one flagged cluster.
    - ring B (b1..b5): one residential IP each, no card, one translation template,
      30 requests each, created on day 1 -> tied only by prompts -> one flagged cluster.
    - household (h1, h2): one home IP and one card, 4 personal prompts each -> a
      cluster that is not flagged.
    - office (o1..o5): one office IP, own cards, varied prompts -> not flagged.
    - carrier (c000..c349): 350 accounts behind one NAT address, more than the hub cap of
      300 -> the address is a hub and links nobody.
    - solos (s01..s20): nothing shared.
    """
    rows: list[dict[str, object]] = []

    def add(account: str, day: float, minute: int, ip: str, card: str | None, prompt: str) -> None:
        rows.append(
            {
                "account_id": account,
                "ts": _ts(day, minute),
                "ip": ip,
                "payment_id": card,
                "prompt": prompt,
            }
        )

    for i in range(1, 7):
        card = "pm_ringA_1" if i <= 3 else "pm_ringA_2"
        for r in range(30):
            add(
                f"a{i}",
                r / 5,
                i,
                f"203.0.113.{1 + (i + r) % 3}",
                card,
                f"Solve step by step: {i * 7 + r} * {r + 3} + {i}",
            )
    for i in range(1, 6):
        for r in range(30):
            add(
                f"b{i}",
                1 + r / 6,
                i,
                f"81.{20 + i}.{r % 7}.{10 + i}",
                None,
                f"Translate the following sentence into French: 'sentence {i} {r}' now",
            )
    words = [
        "gardening",
        "tax forms",
        "a birthday poem",
        "python lists",
        "the moon",
        "bread recipes",
        "chess openings",
        "french verbs",
    ]
    for i, account in enumerate(["h1", "h2"]):
        for r in range(4):
            add(
                account,
                r + i * 0.5,
                r,
                "198.51.100.7",
                "pm_family",
                _personal(i * 10 + r, words[(i * 4 + r) % len(words)]),
            )
    for i in range(1, 6):
        for r in range(3):
            add(
                f"o{i}",
                r + i * 0.3,
                r,
                "192.0.2.10",
                f"pm_office_{i}",
                _personal(100 + i * 10 + r, words[(i + r) % len(words)]),
            )
    for i in range(350):
        add(
            f"c{i:03d}",
            (i % 7) + 0.1,
            i % 60,
            "100.64.0.1",
            None,
            _personal(1000 + i, words[i % len(words)]),
        )
    for i in range(1, 21):
        for r in range(2):
            add(
                f"s{i:02d}",
                (i % 7) + r * 0.2,
                r,
                f"77.{i}.{r}.9",
                f"pm_solo_{i}",
                _personal(5000 + i * 10 + r, words[(i * r) % len(words)]),
            )
    return pd.DataFrame(rows)


HAND_RINGS = {
    frozenset(f"a{i}" for i in range(1, 7)),
    frozenset(f"b{i}" for i in range(1, 6)),
}


@pytest.fixture
def hand_csv(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    hand_events().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright, one per test module."""
    from tests.browser import launch_browser

    pw, chromium = launch_browser()
    try:
        yield chromium
    finally:
        chromium.close()
        pw.stop()


#: every engine a stage runs on; ``-m "not spark"`` leaves Spark out
ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.fixture(scope="session")
def spark_root() -> Iterator[Any]:
    """One local Spark for the whole test run: it takes some 15 s to start.

    Each Spark engine opens a session of its own on it, so their tables never meet.
    Skipped without pyspark or without Java.
    """
    pytest.importorskip("pyspark")
    from sybilgraph.engines.spark import spark_session

    try:
        session = spark_session("local[2]", "2g")
    except ConfigError as exc:  # no Java
        pytest.skip(str(exc))
    yield session
    session.stop()


@pytest.fixture(scope="module", params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    """The name of each engine in turn, a module's tests on one before the other.

    Spark starts only for the tests that ask for it.
    """
    if request.param == "spark":
        request.getfixturevalue("spark_root")
    return str(request.param)


@pytest.fixture
def engine(engine_name: str) -> Iterator[Engine]:
    """A fresh engine of each kind, closed after the test.

    Stages name their tables alike on every engine: a test that runs them with a config
    of its own needs an engine of its own. (A module's tests that only read what one
    run made may share that run in a module-scoped fixture.)
    """
    engine = make_engine(EngineConfig(name=engine_name))  # type: ignore[arg-type]
    yield engine
    engine.close()
