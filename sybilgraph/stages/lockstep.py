"""lockstep: accounts active in the same time windows far more often than chance link,
under the key ``time`` (the SynchroTrap / CopyCatch family).

An operator's scheduler runs its accounts in shifts: they act in the same windows,
whatever IPs, cards or prompts each uses. People act when they please; those who share a
routine (an office's working hours) share the busy windows that everyone shares.

Each account's active windows (``link.coactivity_minutes`` wide) are a set. An account
whose windows could not pass the bound below with any other is not compared (see
:func:`day_surprise_bounds`): most people, whose few windows fall on a few days. Candidate
pairs come from MinHash and banded LSH over the sets (no comparison of all pairs); those
whose signatures put their similarity two standard errors or more below the similarity
asked for are dropped, and each other candidate is checked exactly. A pair links when

- they share at least ``link.coactivity_min_windows`` windows, and at least
  ``link.coactivity_similarity`` of the windows either is active in (Jaccard); and
- sharing those windows is far beyond chance: a window ``w`` held by ``h(w)`` of the
  ``N`` active accounts is shared by chance with probability about
  ``p(w) = h(w) / N * r`` (``r``: the more active account's windows over the average
  account's). Windows are not independent: one long session of two people fills many
  windows of one day, and two people's routines (lunch at noon) meet at one time of day
  on many days. So each day counts once and each time of day once, by its least likely
  shared window, and the surprise is the lesser of the two sums of ``-ln p``: it must
  exceed ``ln(M * (M - 1) / 2) + ln(1 / ALPHA)`` for the ``M`` accounts with enough
  windows (those left out as unable to pass count too), so that at most about
  ``ALPHA`` pairs in all would pass by chance (a Bonferroni bound).
  Busy windows, where most accounts act, count for almost nothing; so do an afternoon
  spent side by side and a shared daily habit. A scheduler that runs its accounts
  together at varying times, day after day, passes both.

The pair's weight is the key's weight times its Jaccard similarity; its evidence says in
how many windows the two acted together.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pyarrow as pa

from sybilgraph.config import Config, LinkConfig
from sybilgraph.engines.base import Engine
from sybilgraph.fingerprint.sets import shared_counts, similar_set_candidates
from sybilgraph.stages.observe import KEY_TIME
from sybilgraph.stages.tables import ObservationTables

__all__ = ["ALPHA", "add_lockstep_pairs", "day_surprise_bounds"]

log = logging.getLogger(__name__)

#: the chance that some pair of the accounts compared links by coincidence
ALPHA = 0.01
#: LSH banding over the window sets: pairs at Jaccard 0.5 become candidates with
#: probability 0.80, at 0.7 with 0.99, at 0.2 with 0.09
BANDS, ROWS = 12, 3
#: sums of the same terms in another order differ in their last bits: an account whose
#: bound falls short of the pairs' by less is compared all the same
_SLACK = 1e-6


def add_lockstep_pairs(
    engine: Engine, observed: ObservationTables, config: Config, pair_values: str, cap: int
) -> dict[str, int]:
    """Insert the pairs in lockstep into ``pair_values`` (a, b, key, value, w,
    first_seen, last_seen); returns counts for the log and run.json.

    LSH buckets of more than ``cap`` accounts (the hub limit) are skipped, as hubs are.
    """
    cfg = config.link
    if observed.activity is None or cfg.coactivity_minutes <= 0:
        return {}
    activity = observed.activity
    if observed.context:
        activity = (
            f"(SELECT * FROM {observed.activity} WHERE account_id IN "
            f"(SELECT account_id FROM {observed.accounts} WHERE subject))"
        )
    # each account's windows, counted once: how many accounts are active and their
    # windows on average, and which have enough windows to be compared
    engine.create_table(
        "lockstep_windows",
        f"SELECT account_id, count(*) AS windows FROM {activity} t GROUP BY account_id",
    )
    totals = engine.arrow(
        "SELECT count(*) AS n, sum(windows) AS rows FROM lockstep_windows"
    ).to_pylist()[0]
    active, rows = int(totals["n"] or 0), int(totals["rows"] or 0)
    # each account compared numbered from 0 in the order of its id: the engine hands
    # over numbers, not ids (at 30M synth events, the windows of 577k accounts: their
    # ids read and numbered by Arrow took 1.7 s), and the pairs found join on numbers
    engine.create_table(
        "lockstep_accounts",
        f"""SELECT account_id, row_number() OVER (ORDER BY account_id) - 1 AS num
            FROM lockstep_windows WHERE windows >= {int(cfg.coactivity_min_windows)}""",
    )
    engine.drop("lockstep_windows")
    compared = engine.count("lockstep_accounts")
    if compared < 2:
        engine.drop("lockstep_accounts")
        return {}
    counts = {"coactivity_accounts": compared}
    engine.create_table(
        "lockstep_slots",
        f"""SELECT c.num, t.slot, t.first_ts, t.last_ts, ln({float(active)} / h.holders) AS idf
            FROM {activity} t
            JOIN lockstep_accounts c ON c.account_id = t.account_id
            JOIN (SELECT slot, count(*) AS holders FROM {activity} t GROUP BY slot) h
              ON h.slot = t.slot""",
    )
    sets = engine.arrow("SELECT num, slot, idf FROM lockstep_slots")
    numbers = sets.column("num").to_numpy().astype(np.int64)
    slots = sets.column("slot").to_numpy().astype(np.int64)
    idf = sets.column("idf").to_numpy()
    del sets
    # by account, and each account's windows in order (for the exact count)
    order = _by_account(numbers, slots)
    owner, items, idf = numbers[order], slots[order], idf[order]
    del numbers, slots, order
    windows = np.bincount(owner, minlength=compared)
    average = rows / max(active, 1)
    per_day = 1440.0 / float(cfg.coactivity_minutes)
    bound = math.log(compared * (compared - 1) / 2.0) + math.log(1.0 / ALPHA)
    # only the accounts that could pass the bound with some other are compared: at 10M
    # synth events 5.2k of the 194k with enough windows, whose chance meetings in LSH
    # buckets grew as the square of the accounts (30M: 1.7M candidates, none linked)
    can = day_surprise_bounds(owner, items, idf, average=average, per_day=per_day) >= (
        bound - _SLACK
    )
    del idf
    able = np.flatnonzero(can)
    counts["coactivity_able"] = len(able)
    # the able accounts numbered anew from 0, as the candidates' search takes them
    kept = can[owner]
    owner, items = (np.cumsum(can) - 1)[owner[kept]], items[kept]
    del can, kept
    left, right, skipped = similar_set_candidates(
        owner,
        items,
        bands=BANDS,
        rows=ROWS,
        seed=config.seed,
        max_bucket=cap,
        min_similarity=float(cfg.coactivity_similarity),
    )
    counts["coactivity_candidates"] = len(left)
    if skipped:
        log.info(
            "co-activity: LSH buckets of more than %d accounts skipped, as hubs are not "
            "expanded (%d places of accounts over the %d bands)",
            cap,
            skipped,
            BANDS,
        )
    # each candidate checked exactly here, with the sets at hand: at 30M synth events
    # the 1.7M candidates took 19 s joined with their windows in the engine
    shared = shared_counts(owner, items, left, right)
    left, right = able[left], able[right]
    na, nb = windows[left], windows[right]
    similar = _similar(shared, na, nb, cfg)
    del owner, items
    if not similar.any():
        engine.drop("lockstep_slots")
        engine.drop("lockstep_accounts")
        if len(left):
            counts["coactivity_pairs"] = 0
        return counts
    engine.store(
        "lockstep_similar",
        pa.table({"a": left[similar], "b": right[similar], "na": na[similar], "nb": nb[similar]}),
    )
    day = f"CAST(floor(slot / {per_day}) AS BIGINT)"
    engine.create_table(
        "lockstep_shared",
        f"""SELECT c.a, c.b, c.na, c.nb, x.slot,
                   greatest(x.idf - c.lr, 0.0) AS surprise,
                   least(x.first_ts, y.first_ts) AS first_seen,
                   greatest(x.last_ts, y.last_ts) AS last_seen
            FROM (SELECT a, b, na, nb, ln(greatest(na, nb) / {average}) AS lr
                  FROM lockstep_similar) c
            JOIN lockstep_slots x ON x.num = c.a
            JOIN lockstep_slots y ON y.num = c.b AND y.slot = x.slot""",
    )
    engine.drop("lockstep_similar")
    # each day counts once, and each time of day once: the least of the two sums
    by_part = {
        "by_day": day,
        "by_hour": f"CAST(floor(slot - {day} * {per_day}) AS BIGINT)",
    }
    parts = {
        name: f"""SELECT a, b, sum(top) AS surprise FROM
                  (SELECT a, b, max(surprise) AS top FROM lockstep_shared
                   GROUP BY a, b, {part}) t GROUP BY a, b"""
        for name, part in by_part.items()
    }
    engine.create_table(
        "lockstep_found",
        f"""SELECT s.a, s.b, s.shared, s.na, s.nb,
                   least(d.surprise, h.surprise) AS surprise, s.first_seen, s.last_seen
            FROM (SELECT a, b, count(*) AS shared, min(na) AS na, min(nb) AS nb,
                         min(first_seen) AS first_seen, max(last_seen) AS last_seen
                  FROM lockstep_shared GROUP BY a, b) s
            JOIN ({parts["by_day"]}) d ON d.a = s.a AND d.b = s.b
            JOIN ({parts["by_hour"]}) h ON h.a = s.a AND h.b = s.b""",
    )
    engine.drop("lockstep_shared")
    engine.drop("lockstep_slots")
    sql = engine.dialect
    weight = float(cfg.key_weights.get(KEY_TIME, 1.0))
    minutes = f"{float(cfg.coactivity_minutes):g}"
    union = "(na + nb - shared)"
    value = (
        f"'together in ' || {sql.text('shared')} || ' of ' || {sql.text(union)} "
        f"|| {sql.literal(f' {minutes}-minute windows')}"
    )
    before = engine.count(pair_values)
    engine.insert(
        pair_values,
        f"""SELECT least(x.account_id, y.account_id), greatest(x.account_id, y.account_id),
                   {sql.literal(KEY_TIME)}, {value},
                   {weight} * CAST(shared AS DOUBLE) / {union}, first_seen, last_seen
            FROM lockstep_found f
            JOIN lockstep_accounts x ON x.num = f.a
            JOIN lockstep_accounts y ON y.num = f.b
            WHERE surprise >= {bound}""",
    )
    engine.drop("lockstep_found")
    engine.drop("lockstep_accounts")
    counts["coactivity_pairs"] = engine.count(pair_values) - before
    return counts


def day_surprise_bounds(
    owner: np.ndarray, items: np.ndarray, idf: np.ndarray, *, average: float, per_day: float
) -> np.ndarray:
    """For each account, the most surprise it could share with any other by the sum
    over days: the sum over its days of its most surprising window that day.

    ``owner`` numbers the accounts from 0 (each present), ``items`` their windows and
    ``idf`` the windows' ``-ln(h(w) / N)``, sorted by account, then window. A pair's
    term for a shared window is ``idf - ln(r)``, ``r`` the more active one's windows
    over ``average``: never more than the account's own ``idf - ln(its windows /
    average)``. A pair's surprise is the lesser of its sums by day and by time of day,
    so at most either account's bound here: one whose bound is short of the chance
    bound links with no one.
    """
    if len(owner) == 0:
        return np.zeros(0, dtype=np.float64)
    windows = np.bincount(owner)
    term = np.maximum(idf - np.log(windows / average)[owner], 0.0)
    day = np.floor(items / per_day)
    starts = np.flatnonzero(np.r_[True, (owner[1:] != owner[:-1]) | (day[1:] != day[:-1])])
    top = np.maximum.reduceat(term, starts)
    return np.bincount(owner[starts], weights=top, minlength=len(windows))  # type: ignore[no-any-return]


def _similar(shared: np.ndarray, na: np.ndarray, nb: np.ndarray, cfg: LinkConfig) -> np.ndarray:
    """Pairs that share enough windows (``shared``), and enough of the windows either
    is active in (``na``, ``nb``)."""
    return (shared >= int(cfg.coactivity_min_windows)) & (  # type: ignore[no-any-return]
        shared >= float(cfg.coactivity_similarity) * (na + nb - shared)
    )


def _by_account(numbers: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """The order of the windows by account number, then window: one sort of a number
    per row where the two fit in one (each row is one account's window, so the numbers
    are distinct and any sort gives this order; 11.8M windows: 0.6 to 0.9 s, where a
    lexsort of the two took 1.2), a lexsort of the two otherwise."""
    if len(slots) == 0:
        return np.zeros(0, dtype=np.int64)
    first = int(slots.min())
    span = int(slots.max()) - first + 1
    if (int(numbers.max()) + 1) * span >= 2**62:
        return np.lexsort((slots, numbers))
    return np.argsort(numbers * span + (slots - first))
