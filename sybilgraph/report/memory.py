"""What the weekly report remembers of past weeks, in compact form.

A week's run observes the week's own events only; what linking, scoring and the views
need of the weeks before it comes from the state folder, one ``memory/`` folder per
remembered period::

    periods/<period>/memory/observations.parquet  account_id, key, value, first_seen,
                                                   last_seen, n: the observe stage's own
                                                   rows, every key whatever keys exist
    periods/<period>/memory/accounts.parquet      account_id, requests, first_seen,
                                                   last_seen, volume, subject
    periods/<period>/memory/groups.parquet        template, template_group: every
                                                   masked template of the prompt groups
                                                   held by two or more accounts over the
                                                   window
    periods/<period>/memory/templates.parquet     the prompt map's rows of those groups,
                                                   five prompts each at most (the text a
                                                   cluster's page shows)
    periods/<period>/memory/activity.parquet      account_id, slot, first_ts, last_ts, n:
                                                   each account's active time windows
                                                   (the co-activity key's sets; none
                                                   with co-activity off)
    periods/<period>/memory/strict.parquet        account_id, template_group,
                                                   strict_group, first_seen, last_seen,
                                                   n: the heavy accounts' uses of strict
                                                   prompt groups (none without heavy
                                                   accounts)

The week's observations are joined with the remembered weeks' (distinct account, key,
value; first seen the earliest, last seen the latest, counts summed), and so are the
accounts (requests and volume summed). Raw events of past weeks are neither kept nor
read again.

A heavy account's prompt counts as its strict group where it sent that group
``prompt.min_uses`` times; the strict uses are remembered apart from the observations
and folded in over the window (``stages.observe.fold_strict_uses``), so an operator's
account that sends a strict group once in each of two weeks observes it as a run over
both weeks does.

A prompt's template group is found each week among that week's prompts, and named after
one of its templates: a ring's near-identical prompts may be one group under one name in
one week and under another the next, or two groups in two weeks that a run over both
would make one. The templates of the remembered groups and of the week's shared groups
are grouped again together (the observe stage's MinHash grouping, at its threshold); a
group of the week that meets remembered groups takes the smallest of their names (and
they are then one group), so the ring's prompts are one value over the window, as a run
over the whole window groups them. The heavy accounts' strict groups are not grouped
again.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sybilgraph.config import Config
from sybilgraph.engines.base import Engine
from sybilgraph.errors import StateError
from sybilgraph.fingerprint import TemplateSignatures, hash_strings
from sybilgraph.outputs import atomic_path
from sybilgraph.stages.observe import fold_strict_uses, shared_prompt_groups
from sybilgraph.stages.tables import PROMPT_SAMPLES, ObservationTables

__all__ = ["MEMORY", "Memory", "memory_bytes", "memory_settings"]

#: the folder of a period's compact memory inside its state folder
MEMORY = "memory"
#: kept for weeks and read once a week: zstd keeps it about a third smaller than the
#: snappy of a run's own files (realistic log, seed 7, W13: 4.5 MB against 7.1 MB)
_COMPRESSION = "zstd"
#: the columns of each remembered table (a new link key is rows, not a column)
COLUMNS = {
    "observations": ("account_id", "key", "value", "first_seen", "last_seen", "n"),
    "accounts": ("account_id", "requests", "first_seen", "last_seen", "volume", "subject"),
    "groups": ("template", "template_group"),
    "activity": ("account_id", "slot", "first_ts", "last_ts", "n"),
    "strict": ("account_id", "template_group", "strict_group", "first_seen", "last_seen", "n"),
    "templates": (
        "prompt",
        "template",
        "template_group",
        "strict_group",
        "wrapper_head",
        "wrapper_tail",
    ),
}
#: the tables a week without prompts does not have
_OPTIONAL = ("groups", "templates", "activity", "strict")
#: the shared prompt groups of the window
_SHARED = shared_prompt_groups("observations_window")


class Memory:
    """The weeks a run links over beside its own: read from ``folders``, each a period's
    ``memory/``, and the week's own tables written to ``out`` for the state to keep.

    Given to the pipeline (``execute(..., memory=...)``), it is called once observe is
    done: it writes the week's tables, then hands link, score and the views the union.
    ``exclude_accounts`` (accounts an investigator marked benign) have no remembered
    observations either.
    """

    def __init__(
        self,
        folders: Sequence[Path],
        out: Path,
        config: Config,
        exclude_accounts: Sequence[str] = (),
    ) -> None:
        self.folders = list(folders)
        self.config = config
        self.out = out
        self.exclude_accounts = list(exclude_accounts)

    def combine(self, engine: Engine, observed: ObservationTables) -> ObservationTables:
        """Write the week's own tables to ``out``; return the union with the past weeks."""
        self.out.mkdir(parents=True, exist_ok=True)
        past = {
            name: [_read(folder / f"{name}.parquet") for folder in self.folders] for name in COLUMNS
        }
        for folder, templates, strict in zip(
            self.folders, past["templates"], past["strict"], strict=True
        ):
            # a week without heavy accounts has no strict.parquet; one whose templates
            # have strict groups does, and without it reported on silently
            if strict is None and _has_strict_groups(templates):
                raise StateError(
                    f"{folder / 'strict.parquet'}: damaged state: the file is missing (the "
                    "week's templates have strict groups)"
                )
        for name in COLUMNS:
            for i, table in enumerate(past[name]):
                if table is not None:
                    engine.register(f"memory_{name}_{i}", table)
        renamed = _rename_groups(engine, observed, past, self.config)
        week = _renamed_observations(_union("observations", observed.observations, []), renamed)
        listed = ", ".join(COLUMNS["observations"])
        _write_parquet(
            engine,
            f"SELECT {listed} FROM ({_aggregated(week)}) w ORDER BY {listed}",
            self.out / "observations.parquet",
            compression=_COMPRESSION,
        )
        listed = ", ".join(COLUMNS["accounts"])
        _write_parquet(
            engine,
            f"SELECT {listed} FROM {observed.accounts} ORDER BY {listed}",
            self.out / "accounts.parquet",
            compression=_COMPRESSION,
        )
        observations = _renamed_observations(
            _union("observations", observed.observations, past["observations"]), renamed
        )
        if self.exclude_accounts:
            engine.register(
                "memory_excluded",
                pa.table({"account_id": pa.array(self.exclude_accounts, pa.string())}),
            )
            observations = (
                f"SELECT * FROM ({observations}) x "
                "WHERE account_id NOT IN (SELECT account_id FROM memory_excluded)"
            )
        strict = self._strict(engine, observed, past["strict"], renamed)
        fold_strict_uses(
            engine, observations, strict, self.config.prompt.min_uses, "observations_window"
        )
        engine.create_table(
            "accounts_window",
            f"""SELECT account_id, CAST(sum(requests) AS BIGINT) AS requests,
                       min(first_seen) AS first_seen, max(last_seen) AS last_seen,
                       sum(volume) AS volume,
                       max(CASE WHEN subject THEN 1 ELSE 0 END) = 1 AS subject
                FROM ({_union("accounts", observed.accounts, past["accounts"])}) a
                GROUP BY account_id""",
        )
        prompt_map, strict_groups = self._templates(engine, observed, past["templates"], renamed)
        activity = self._activity(engine, observed, past["activity"])
        # the week's own tables are in the window's (and in ``out``)
        for table in (observed.observations, observed.accounts, observed.prompt_map):
            if table is not None:
                engine.drop(table)
        for name in COLUMNS:
            for i in range(len(self.folders)):
                engine.drop(f"memory_{name}_{i}")
        engine.drop("memory_excluded")
        engine.drop("memory_renamed")
        keys = {
            str(k) for k in engine.arrow("SELECT DISTINCT key FROM observations_window").column(0)
        }
        times = engine.scalar(
            "SELECT count(DISTINCT first_seen) FROM accounts_window WHERE first_seen IS NOT NULL"
        )
        counts = {
            **observed.counts,
            "week_observations": observed.counts.get("observations", 0),
            "week_accounts": observed.counts.get("accounts", 0),
            "observations": engine.count("observations_window"),
            "accounts": engine.count("accounts_window"),
            "remembered_periods": len(self.folders),
            "renamed_prompt_groups": renamed,
        }
        return dataclasses.replace(
            observed,
            observations="observations_window",
            accounts="accounts_window",
            prompt_map=prompt_map,
            activity=activity,
            strict_groups=strict_groups,
            strict_uses=None,
            keys=tuple(sorted(keys | set(observed.keys))),
            timed=int(times or 0) > 1,  # type: ignore[call-overload]
            counts=counts,
        )

    def _strict(
        self,
        engine: Engine,
        observed: ObservationTables,
        past: list[pa.Table | None],
        renamed: int,
    ) -> str | None:
        """The heavy accounts' uses of strict groups over the window (a table, or None
        where no week has them), but the excluded accounts' (``memory_excluded``, which
        must be registered), after writing the week's to remember."""
        listed = ", ".join(COLUMNS["strict"])
        parts = []
        if observed.strict_uses is not None:
            _write_parquet(
                engine,
                f"""SELECT {listed} FROM ({_renamed_strict(observed.strict_uses, renamed)}) s
                    ORDER BY {listed}""",
                self.out / "strict.parquet",
                compression=_COMPRESSION,
            )
            parts.append(f"SELECT {listed} FROM {observed.strict_uses}")
        parts += [
            f"SELECT {listed} FROM memory_strict_{i}"
            for i, table in enumerate(past)
            if table is not None
        ]
        if not parts:
            return None
        rows = _renamed_strict(f"({' UNION ALL '.join(parts)})", renamed)
        if self.exclude_accounts:
            rows = (
                f"SELECT * FROM ({rows}) x "
                "WHERE account_id NOT IN (SELECT account_id FROM memory_excluded)"
            )
        engine.create_table("strict_window", rows)
        if observed.strict_uses is not None:
            engine.drop(observed.strict_uses)
        return "strict_window"

    def _activity(
        self, engine: Engine, observed: ObservationTables, past: list[pa.Table | None]
    ) -> str | None:
        """The accounts' active time windows over the window (the sets co-activity
        compares), after writing the week's to remember; None with co-activity off."""
        if observed.activity is None:
            return None
        listed = ", ".join(COLUMNS["activity"])
        _write_parquet(
            engine,
            f"SELECT {listed} FROM {observed.activity} ORDER BY account_id, slot",
            self.out / "activity.parquet",
            compression=_COMPRESSION,
        )
        parts = [f"SELECT {listed} FROM {observed.activity}"]
        parts += [
            f"SELECT {listed} FROM memory_activity_{i}"
            for i, table in enumerate(past)
            if table is not None
        ]
        where = ""
        if self.exclude_accounts:
            where = " WHERE account_id NOT IN (SELECT account_id FROM memory_excluded)"
        engine.create_table(
            "activity_window",
            f"""SELECT account_id, slot, min(first_ts) AS first_ts, max(last_ts) AS last_ts,
                       CAST(sum(n) AS BIGINT) AS n
                FROM ({" UNION ALL ".join(parts)}) a{where} GROUP BY account_id, slot""",
        )
        engine.drop(observed.activity)
        return "activity_window"

    def _templates(
        self,
        engine: Engine,
        observed: ObservationTables,
        past: list[pa.Table | None],
        renamed: int,
    ) -> tuple[str | None, bool]:
        """The prompt map of the window (the week's, and the remembered templates), and
        whether it has strict groups; writes the week's groups and templates to remember."""
        columns = COLUMNS["templates"]
        tables = [t for t in past if t is not None]
        strict = observed.strict_groups or any(_has_strict_groups(t) for t in tables)
        if observed.prompt_map is None and not tables:
            return None, False
        parts = []
        if observed.prompt_map is not None:
            have = set(engine.arrow(f"SELECT * FROM {observed.prompt_map} LIMIT 0").column_names)
            week = _renamed_map(_aligned(engine, observed.prompt_map, have), renamed)
            engine.create_table("memory_week_map", week)
            parts.append("SELECT * FROM memory_week_map")
            group = "template_group, strict_group"
            keep = f"template_group IN ({_SHARED}) OR strict_group IN ({_SHARED})"
            _write_parquet(
                engine,
                f"""SELECT DISTINCT template, template_group FROM memory_week_map
                    WHERE template_group IN ({_SHARED}) ORDER BY template_group, template""",
                self.out / "groups.parquet",
                compression=_COMPRESSION,
            )
            listed = ", ".join(columns)
            # the samples of least key, as observe keeps them: the window's samples of a
            # group are then the least of all its weeks' prompts
            key = engine.dialect.text_key("prompt")
            _write_parquet(
                engine,
                f"""SELECT {listed} FROM (
                      SELECT {listed}, row_number() OVER (
                               PARTITION BY {group} ORDER BY {key}
                             ) AS place
                      FROM memory_week_map WHERE {keep}
                    ) p WHERE place <= {PROMPT_SAMPLES} ORDER BY {group}, prompt""",
                self.out / "templates.parquet",
                compression=_COMPRESSION,
            )
        for i, table in enumerate(past):
            if table is not None:
                remembered = _aligned(engine, f"memory_templates_{i}", set(table.column_names))
                parts.append(_renamed_map(remembered, renamed))
        engine.create_table("prompt_map_window", " UNION ALL ".join(parts))
        engine.drop("memory_week_map")
        return "prompt_map_window", strict


def _rename_groups(
    engine: Engine,
    observed: ObservationTables,
    past: dict[str, list[pa.Table | None]],
    config: Config,
) -> int:
    """Name the week's prompt groups after the remembered groups they are one with.

    The templates of the remembered groups and those of the week's groups held by two
    or more accounts over the window are grouped again, together, as observe groups a
    week's (``prompt.threshold``, the run's seed): a group of the week whose templates
    meet remembered ones takes the name of the remembered group it shares most templates
    with. Creates ``memory_renamed`` (label, name) and returns how many names change
    (0: none made).
    """
    remembered = [
        f"SELECT template, template_group, false AS week FROM memory_groups_{i}"
        for i, table in enumerate(past["groups"])
        if table is not None
    ]
    if observed.prompt_map is None or not remembered or not config.prompt.near_duplicates:
        return 0  # without near duplicates a group is one template, named after it
    uses = [
        "SELECT account_id, value FROM ("
        + _union("observations", observed.observations, past["observations"])
        + ") o WHERE key = 'prompt'"
    ]
    # the heavy accounts' uses of strict groups are uses of their broad groups too
    if observed.strict_uses is not None:
        uses.append(f"SELECT account_id, template_group FROM {observed.strict_uses}")
    uses += [
        f"SELECT account_id, template_group FROM memory_strict_{i}"
        for i, table in enumerate(past["strict"])
        if table is not None
    ]
    held = (
        f"SELECT value FROM ({' UNION ALL '.join(uses)}) u "
        "GROUP BY value HAVING count(DISTINCT account_id) >= 2"
    )
    rows = engine.arrow(
        f"""{" UNION ALL ".join(remembered)}
            UNION ALL
            SELECT DISTINCT template, template_group, true FROM {observed.prompt_map}
            WHERE template_group IN ({held})"""
    )
    templates = rows.column("template").combine_chunks()
    hashes, first, of_row = np.unique(
        hash_strings(templates), return_index=True, return_inverse=True
    )
    signed = TemplateSignatures.of(
        [(hashes, templates.take(pa.array(first)))], config.prompt, config.seed
    )
    group_of_row = signed.groups(config.prompt.threshold)[of_row]
    labels = rows.column("template_group").to_pylist()
    weekly = rows.column("week").to_pylist()
    # per group of the grouping again: how many templates of each remembered group
    remembered_in: dict[int, Counter[str]] = {}
    for group, label, week in zip(group_of_row.tolist(), labels, weekly, strict=True):
        if not week:
            remembered_in.setdefault(group, Counter())[label] += 1
    olds = {label for label, week in zip(labels, weekly, strict=True) if not week}
    met: dict[str, Counter[str]] = {}
    for group, label, week in zip(group_of_row.tolist(), labels, weekly, strict=True):
        if week and label not in olds and group in remembered_in:
            met.setdefault(label, Counter()).update(remembered_in[group])
    # each group of the week that meets remembered ones takes the name of the one it
    # shares most templates with (the smallest name of those tied); remembered groups
    # keep theirs, so groups are not chained together across weeks
    changed = {
        label: min(counts, key=lambda name: (-counts[name], name)) for label, counts in met.items()
    }
    engine.register(
        "memory_renamed",
        pa.table(
            {
                "label": pa.array(sorted(changed), pa.string()),
                "name": pa.array([changed[k] for k in sorted(changed)], pa.string()),
            }
        ),
    )
    return len(changed)


def _renamed_observations(rows: str, renamed: int) -> str:
    """``rows`` (observations) with the prompt groups renamed."""
    if not renamed:
        return rows
    return f"""SELECT o.account_id, o.key, coalesce(r.name, o.value) AS value,
                      o.first_seen, o.last_seen, o.n
               FROM ({rows}) o
               LEFT JOIN memory_renamed r ON o.key = 'prompt' AND r.label = o.value"""


def _renamed_map(rows: str, renamed: int) -> str:
    """``rows`` (a prompt map with every column) with the template groups renamed."""
    if not renamed:
        return rows
    columns = ", ".join(
        "coalesce(r.name, m.template_group) AS template_group"
        if c == "template_group"
        else f"m.{c}"
        for c in COLUMNS["templates"]
    )
    return f"""SELECT {columns} FROM ({rows}) m
               LEFT JOIN memory_renamed r ON r.label = m.template_group"""


def _renamed_strict(rows: str, renamed: int) -> str:
    """``rows`` (a table or a subquery of strict uses) with the broad groups renamed."""
    listed = ", ".join(COLUMNS["strict"])
    if not renamed:
        return f"SELECT {listed} FROM {rows} s"
    columns = ", ".join(
        "coalesce(r.name, s.template_group) AS template_group"
        if c == "template_group"
        else f"s.{c}"
        for c in COLUMNS["strict"]
    )
    return f"""SELECT {columns} FROM {rows} s
               LEFT JOIN memory_renamed r ON r.label = s.template_group"""


def _aggregated(rows: str) -> str:
    """Observations made distinct per (account, key, value)."""
    return f"""SELECT account_id, key, value, min(first_seen) AS first_seen,
                      max(last_seen) AS last_seen, CAST(sum(n) AS BIGINT) AS n
               FROM ({rows}) o GROUP BY account_id, key, value"""


def _write_parquet(engine: Engine, sql: str, path: Path, *, compression: str) -> None:
    """Write a remembered table, atomically and readable by its owner alone, as a run's
    files are: it holds raw values and prompts."""
    with atomic_path(path) as tmp:
        engine.write_parquet(sql, tmp, compression=compression)


def _read(path: Path) -> pa.Table | None:
    """A remembered table; None where the week had none (no prompts)."""
    if not path.exists():
        if path.stem in _OPTIONAL:
            return None
        raise StateError(f"{path}: damaged state: the file is missing")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise StateError(f"{path}: damaged state: not a readable Parquet file ({exc})") from None
    for column in COLUMNS[path.stem]:
        if column not in table.column_names:
            if path.stem == "templates" and column in _TEMPLATE_EXTRAS:
                continue  # a week without heavy accounts or wrappers (see _aligned)
            raise StateError(f"{path}: damaged state: the column {column!r} is missing")
        kind = table.schema.field(column).type
        if not _KINDS.get(column, _text)(kind):
            # it stopped the run with an internal error (a SQL binder's)
            raise StateError(f"{path}: damaged state: the column {column!r} holds {kind}")
        if column == "account_id" and table.column(column).null_count:
            # rows of no account were linked as one account named by nothing
            raise StateError(f"{path}: damaged state: the column 'account_id' has empty cells")
    return table


def _has_strict_groups(templates: pa.Table | None) -> bool:
    """Whether a remembered prompt map has the strict groups of heavy accounts."""
    return (
        templates is not None
        and "strict_group" in templates.column_names
        and templates.column("strict_group").null_count < templates.num_rows
    )


#: the columns of a remembered prompt map that a week may lack
_TEMPLATE_EXTRAS = ("strict_group", "wrapper_head", "wrapper_tail")


def _text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        # string views: pyarrow 16 on
        or getattr(pa.types, "is_string_view", lambda _: False)(kind)
    )


def _number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))


#: the type each remembered column must have (text where not listed)
_KINDS: dict[str, Callable[[pa.DataType], bool]] = {
    **dict.fromkeys(("first_seen", "last_seen", "first_ts", "last_ts"), pa.types.is_timestamp),
    **dict.fromkeys(("n", "requests", "slot"), pa.types.is_integer),
    "volume": _number,
    "subject": pa.types.is_boolean,
}


def _union(name: str, own: str, past: list[pa.Table | None]) -> str:
    """The SQL of the week's table and the remembered ones (registered), one after the other."""
    listed = ", ".join(COLUMNS[name])
    parts = [f"SELECT {listed} FROM {own}"]
    parts += [f"SELECT {listed} FROM memory_{name}_{i}" for i in range(len(past))]
    return " UNION ALL ".join(parts)


def _aligned(engine: Engine, table: str, have: set[str]) -> str:
    """A prompt map's rows with every column a remembered one has (NULL where it lacks
    one: the strict groups of a week without heavy accounts, or its wrappers)."""
    null = engine.dialect.null_text()
    picked = [c if c in have else f"{null} AS {c}" for c in COLUMNS["templates"]]
    return f"SELECT {', '.join(picked)} FROM {table}"


def memory_settings(config: Config) -> dict[str, Any]:
    """The settings a week's memory is made with, by name (``prompt.threshold``): the
    keys and values its observations hold and how prompts are grouped. Weeks made with
    other ones cannot be joined; the others (detection, score, hub caps) apply to the
    joined weeks as to one run's."""
    link = config.link
    settings: dict[str, Any] = {
        "seed": config.seed,
        "columns.extra_keys": list(config.columns.extra_keys),
        "link.ipv6_prefix": link.ipv6_prefix,
        "link.ipv4_subnet": link.ipv4_subnet,
        "link.ipv4_prefix": link.ipv4_prefix,
        "link.coactivity_minutes": link.coactivity_minutes,
    }
    prompt = config.to_dict()["prompt"]
    settings.update({f"prompt.{k}": v for k, v in sorted(prompt.items())})
    # as period.json gives them back (lists, not tuples), to compare with those kept
    return dict(json.loads(json.dumps(settings)))


def memory_bytes(folder: Path) -> int:
    """The bytes of a period's memory folder (0 if it has none)."""
    target = folder / MEMORY
    return sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) if target.is_dir() else 0
