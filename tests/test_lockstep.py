"""Co-activity: accounts in lockstep link under the key ``time``; a shared busy hour does
not."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sybilgraph import Config, run
from sybilgraph.errors import ConfigError
from sybilgraph.fingerprint.arrays import mix64, seeded_words
from sybilgraph.fingerprint.sets import set_signatures, shared_counts, similar_set_candidates
from sybilgraph.stages.lockstep import day_surprise_bounds


def _events(operators: int = 2, per_window: int = 1) -> pd.DataFrame:
    """A week of 44 accounts, one request in each of their active 15-minute windows.

    - 40 people, p0..p39: each day d they act in two of the four windows from 09:00,
      the ``(p + d) % 4``-th and the next: every busy window holds 20 of them.
    - busy0, busy1: in the same two busy windows (09:00, 09:15) every day: identical
      sets, but shared with 20 people each (22 holders of 44).
    - op0, op1 (``operators`` of them): run by one scheduler in two 15-minute windows a
      day, at a time that moves by 3 hours a day (02:00, 05:00, ...), the only ones
      then, ``per_window`` requests in each.
    """
    rows = []

    def act(account: str, day: int, window: int, hour: int, times: int = 1) -> None:
        minute = 15 * window
        for second in range(times):
            at = f"2026-04-{6 + day:02d} {hour + minute // 60:02d}:{minute % 60:02d}:{second:02d}"
            # every request from an IP of its own
            rows.append(
                (
                    account,
                    at,
                    f"10.{len(rows) // 62500}.{len(rows) // 250 % 250}.{len(rows) % 250 + 1}",
                )
            )

    for day in range(7):
        for p in range(40):
            for window in ((p + day) % 4, (p + day + 1) % 4):
                act(f"p{p:02d}", day, window, 9)
        for account in ("busy0", "busy1"):
            act(account, day, 0, 9)
            act(account, day, 1, 9)
        for op in range(operators):
            act(f"op{op}", day, 0, 2 + 3 * day, per_window)
            act(f"op{op}", day, 1, 2 + 3 * day, per_window)
    return pd.DataFrame(rows, columns=["account_id", "ts", "ip"])


def test_accounts_in_lockstep_link_and_a_shared_busy_hour_does_not(tmp_path: Path) -> None:
    # Every account has 14 windows (two a day for 7 days): the average, so r = 1.
    # N = M = 44 accounts compared; the bound is ln(44 * 43 / 2) + ln(1 / 0.01)
    # = 6.852 + 4.605 = 11.457.
    # The surprise is the lesser of two sums of -ln p: one term a day, one a time of day.
    # op0, op1: 14 shared windows of 14 (Jaccard 1), each held by 2 of 44: -ln(2 / 44)
    #   = 3.091; 7 days: 21.64, 14 times of day: 43.28; 21.64 > 11.457: linked, weight
    #   1.0 (the key's weight) * 14 / 14 = 1.0.
    # busy0, busy1: also 14 of 14, but each window is held by 22 of 44: -ln(22 / 44)
    #   = 0.693; 7 days: 4.85; 2 times of day: 1.39 < 11.457: not linked. So for the
    #   people whose sets are identical (p and p + 4): 20 of 44 a window, 0.788 a term.
    config = Config()
    config.link.hub_share = 1.0
    result = run(_events(), config, tmp_path / "run", show_progress=False)
    links = result.links
    timed = links[links["time_weight"] > 0]
    assert sorted(zip(timed["a"], timed["b"], strict=True)) == [("op0", "op1")]
    assert timed["time_weight"].iloc[0] == pytest.approx(1.0)
    assert timed["evidence"].iloc[0] == "time: 1 shared (together in 14 of 14 15-minute windows)"
    assert result.info["counts"]["coactivity_accounts"] == 44
    # compared: only op0 and op1 could pass the bound by their days (21.64); a person's
    # best term a day is 0.788 (7 days: 5.52), busy0's and busy1's 0.693 (4.85)
    assert result.info["counts"]["coactivity_able"] == 2


def test_an_operator_in_lockstep_at_high_volume_is_flagged_for_it(tmp_path: Path) -> None:
    # Six operator accounts act in the same two windows every day (the time moving by 3
    # hours a day), 10 requests in each (140 a week; everyone else 14). N = M = 46; each
    # of their windows is held by 6: -ln(6 / 46) = 2.037; 7 days: 14.26 (14 times of
    # day: 28.5) > ln(46 * 45 / 2) + ln(100) = 11.55: all 15 pairs link at 1.0.
    # Their cluster's score: volume 10x the median, log10 = 1,
    # 2.5; lockstep share 1 at full volume gate (10x >= 5x), 5.0; density 1.0; burst 0
    # (first seen on the data's first day); bias -6 * 10.75 / 11.75 = -5.489 (no payment
    # term): z = 3.011, score 0.953, flagged, the lockstep in its reasons.
    config = Config()
    config.link.hub_share = 1.0
    result = run(_events(operators=6, per_window=10), config, tmp_path / "run", show_progress=False)
    accounts = result.accounts.set_index("account_id")
    cluster = accounts.loc[[f"op{i}" for i in range(6)], "cluster_id"]
    assert cluster.nunique() == 1 and cluster.iloc[0] != ""
    row = result.clusters.set_index("cluster_id").loc[cluster.iloc[0]]
    assert row["lockstep_share"] == pytest.approx(1.0)
    assert row["score"] == pytest.approx(0.953, abs=0.001)
    assert bool(row["flagged"])
    assert "acting in lockstep" in row["reasons"]
    # active at 02, 05, 08, ..., 20 o'clock: 7 hours of the day, not around the clock
    assert row["hours_of_day"] == 7
    assert "around the clock" not in row["reasons"]
    # no one else is in a flagged cluster
    flagged = accounts[accounts["flagged"]].index
    assert sorted(flagged) == [f"op{i}" for i in range(6)]


def test_co_activity_can_be_turned_off(tmp_path: Path) -> None:
    config = Config()
    config.link.hub_share = 1.0
    config.link.coactivity_minutes = 0
    result = run(_events(), config, tmp_path / "run", show_progress=False)
    assert "time_weight" not in result.links.columns
    assert "coactivity_accounts" not in result.info["counts"]


def test_co_activity_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"link\.coactivity_similarity"):
        Config.from_dict({"link": {"coactivity_similarity": 0}})
    with pytest.raises(ConfigError, match=r"link\.coactivity_min_windows"):
        Config.from_dict({"link": {"coactivity_min_windows": 1}})


def test_similar_sets_become_candidates_and_disjoint_ones_do_not() -> None:
    # owners 0 and 1 hold the same ten numbers, 2 holds eight of them (Jaccard 0.8 with
    # both), 3 holds ten others: 0-1 share every bucket; 0-2 and 1-2 miss a band with
    # probability 1 - 0.8**3 = 0.49, all 12 with 0.49**12 < 0.0002; 3 shares nothing
    sets = [list(range(10)), list(range(10)), list(range(8)), list(range(100, 110))]
    owner = np.repeat(np.arange(4), [len(s) for s in sets]).astype(np.int64)
    items = np.concatenate([np.array(s, dtype=np.int64) for s in sets])
    left, right, skipped = similar_set_candidates(
        owner, items, bands=12, rows=3, seed=0, max_bucket=10
    )
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]
    assert skipped == 0
    # estimated from 36 values, 0.8 and 1.0 are far above 0.5: all three stay
    kept = similar_set_candidates(
        owner, items, bands=12, rows=3, seed=0, max_bucket=10, min_similarity=0.5
    )
    assert list(zip(kept[0].tolist(), kept[1].tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]
    # a bucket of more owners than max_bucket is skipped, and counted once per band
    left, right, skipped = similar_set_candidates(
        owner, items, bands=12, rows=3, seed=0, max_bucket=1
    )
    assert len(left) == 0 and skipped >= 12 * 2


def test_set_signatures_are_the_minima_of_the_hashed_items() -> None:
    # the compiled signatures against their definition: per owner and hash function i,
    # the least mix64(item * m_i + o_i) over its items, m (odd) and o seeded words
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 40, size=300)
    owner = np.repeat(np.arange(300), sizes)
    items = rng.integers(0, 1 << 40, size=len(owner))
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    signature = set_signatures(items, starts, 36, seed=9)
    params = seeded_words(9, 72)
    m, o = params[:36] | np.uint64(1), params[36:]
    hashed = mix64(items.astype(np.uint64)[:, None] * m[None, :] + o[None, :])
    expected = np.minimum.reduceat(hashed, starts, axis=0)
    assert signature.shape == (300, 36)
    assert np.array_equal(signature, expected)


def test_shared_counts_are_the_sizes_of_the_intersections() -> None:
    rng = np.random.default_rng(4)
    sets = [sorted(set(rng.integers(0, 60, size=rng.integers(0, 30)).tolist())) for _ in range(80)]
    sets = [s for s in sets if s]  # every owner holds an item
    owner = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    items = np.concatenate([np.array(s, dtype=np.int64) for s in sets])
    left, right = rng.integers(0, len(sets), size=(2, 500))
    expected = [len(set(sets[a]) & set(sets[b])) for a, b in zip(left, right, strict=True)]
    assert shared_counts(owner, items, left, right).tolist() == expected


def _pair_sums(
    windows: dict[int, float], a: list[int], b: list[int], average: float, per_day: int
) -> tuple[float, float]:
    """A pair's sums by day and by time of day of its most surprising shared windows,
    by their definition (the module's docstring): its surprise is the lesser."""
    lr = math.log(max(len(a), len(b)) / average)
    by_day: dict[int, float] = {}
    by_hour: dict[int, float] = {}
    for w in set(a) & set(b):
        term = max(windows[w] - lr, 0.0)
        by_day[w // per_day] = max(by_day.get(w // per_day, 0.0), term)
        by_hour[w % per_day] = max(by_hour.get(w % per_day, 0.0), term)
    return sum(by_day.values()), sum(by_hour.values())


def test_no_pair_shares_more_surprise_than_either_accounts_bound() -> None:
    # 120 accounts over 5 days of 8 windows each, each in 1 to 20 windows, and a copy of
    # account 0's windows: every pair's surprise against both accounts' bounds
    rng = np.random.default_rng(11)
    per_day, average = 8, 6.0
    idf = {w: float(rng.uniform(0.0, 5.0)) for w in range(5 * per_day)}
    sets = [
        sorted(rng.choice(5 * per_day, size=rng.integers(1, 21), replace=False).tolist())
        for _ in range(120)
    ]
    sets.append(sets[0])
    owner = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    items = np.concatenate([np.array(s, dtype=np.int64) for s in sets])
    bounds = day_surprise_bounds(
        owner,
        items,
        np.array([idf[w] for w in items.tolist()]),
        average=average,
        per_day=float(per_day),
    )
    assert len(bounds) == len(sets)
    for a, b in itertools.combinations(range(len(sets)), 2):
        surprise = min(_pair_sums(idf, sets[a], sets[b], average, per_day))
        assert surprise <= min(bounds[a], bounds[b]) + 1e-9
    # the bound is reached by the days' sum of the account and its copy
    by_day, _ = _pair_sums(idf, sets[0], sets[-1], average, per_day)
    assert len(sets[0]) != average and by_day > 0
    assert bounds[0] == pytest.approx(by_day)


def test_accounts_active_around_the_clock_say_so(tmp_path: Path) -> None:
    # Six accounts behind one IP, active every third hour, the hours moving by one a day:
    # over a week each is active in every hour of the day (24 of 24). (Being so active,
    # r = 56 / 19.5 windows, their coincidences are not beyond chance: -ln(6 / 46 *
    # 2.87) = 0.99 a day, 6.9 < 11.55; the IP ties them.) The people of _events are
    # active from 09:00 to 09:59 only (1 hour).
    events = _events(operators=0)
    rows = []
    for day in range(7):
        for hour in range(24):
            if (hour + day) % 3:
                continue
            for op in range(6):
                at = f"2026-04-{6 + day:02d} {hour:02d}:40:{op:02d}"
                rows.append((f"op{op}", at, "10.9.0.1"))
    events = pd.concat([events, pd.DataFrame(rows, columns=events.columns)], ignore_index=True)
    config = Config()
    config.link.hub_share = 1.0
    result = run(events, config, tmp_path / "run", show_progress=False)
    accounts = result.accounts.set_index("account_id")
    cluster = accounts.loc["op0", "cluster_id"]
    row = result.clusters.set_index("cluster_id").loc[cluster]
    assert row["hours_of_day"] == 24
    assert "accounts active around the clock: median 24 of 24 hours of the day" in row["reasons"]
    people = result.clusters[result.clusters["cluster_id"] != cluster]
    assert (people["hours_of_day"] <= 1).all()
