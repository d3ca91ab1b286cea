"""observe: events become distinct (account, key, value) observations.

Each observation carries first/last seen and a request count. Values are normalised per
key kind before they get here (IPs in load); prompts are fingerprinted here, once per
distinct text, into template groups so that near-identical prompts share one value.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sybilgraph.config import Config
from sybilgraph.engines.base import Engine
from sybilgraph.engines.dialect import asc
from sybilgraph.fingerprint import (
    TemplateSignatures,
    TemplateSigner,
    distinct_count,
    hash_strings,
    mask_prompts,
    wrapper_hashes,
)
from sybilgraph.stages.load import drop_values
from sybilgraph.stages.tables import (
    PROMPT_SAMPLES,
    EventTables,
    GraphInputs,
    ObservationTables,
)

__all__ = [
    "KEY_COUNTERPARTY",
    "KEY_DIRECT",
    "KEY_IP",
    "KEY_PAYMENT",
    "KEY_PROMPT",
    "KEY_SUBNET",
    "KEY_TIME",
    "KEY_WRAPPER",
    "fold_strict_uses",
    "keep_shared_prompts",
    "observe",
    "shared_prompt_groups",
]

log = logging.getLogger(__name__)

KEY_IP = "ip"
KEY_SUBNET = "ip_subnet"
KEY_PAYMENT = "payment"
KEY_PROMPT = "prompt"
KEY_WRAPPER = "wrapper"
KEY_DIRECT = "direct"
KEY_COUNTERPARTY = "counterparty"
#: co-activity: accounts active in the same time windows (see stages.lockstep)
KEY_TIME = "time"
#: keys built in; extra keys take their column's name and may not reuse these
BUILTIN_KEYS = (
    KEY_IP,
    KEY_SUBNET,
    KEY_PAYMENT,
    KEY_PROMPT,
    KEY_WRAPPER,
    KEY_DIRECT,
    KEY_COUNTERPARTY,
    KEY_TIME,
)


def observe(
    engine: Engine,
    events: EventTables,
    config: Config,
    *,
    inputs: GraphInputs | None = None,
    exclude_accounts: Sequence[str] = (),
    keep_strict_uses: bool = False,
    keep_templates: bool = False,
) -> ObservationTables:
    """Turn the events (and edges between accounts) into distinct (account, key, value)
    observations, and list the accounts.

    An edge makes each of its ends that is a subject observe the other end under the key
    ``counterparty``: accounts funded by one address, or invited by one account, share
    that value. Without a list of subjects every account is one. ``exclude_accounts``
    (accounts an investigator marked benign) have no observations, so they link to no
    one; they stay in the accounts table.

    With ``keep_strict_uses``, the heavy accounts' uses of strict prompt groups are left
    out of ``observations`` and returned as ``strict_uses``, for a caller that joins
    them with remembered uses before :func:`fold_strict_uses` (whether an account sent
    a group ``prompt.min_uses`` times is then decided over the remembered weeks too).

    With ``keep_templates``, the prompt map has every prompt's template, for a caller
    that reads them (a weekly memory remembers the templates of the groups it keeps);
    without, it has none, and :func:`keep_shared_prompts` masks its samples again.
    """
    counts: dict[str, int] = {}
    inputs = inputs or GraphInputs()
    _accounts(engine, events, inputs)
    # each part gives (account_id, key, value, first_seen, last_seen, n); most are one
    # row per event (ts, ts, 1), summed in the GROUP BY below
    per_event = "ts AS first_seen, ts AS last_seen, 1 AS n"
    table = events.events
    parts = [
        f"SELECT account_id, '{KEY_IP}' AS key, ip_key AS value, {per_event} FROM {table} "
        "WHERE ip_key IS NOT NULL"
    ]
    if config.link.ipv4_subnet:
        parts.append(
            f"SELECT account_id, '{KEY_SUBNET}', ip_subnet, {per_event} FROM {table} "
            "WHERE ip_subnet IS NOT NULL"
        )
    parts.append(
        f"SELECT account_id, '{KEY_PAYMENT}', payment_id, {per_event} FROM {table} "
        "WHERE payment_id IS NOT NULL"
    )
    for index, name in enumerate(events.extra_keys):
        parts.append(
            f"SELECT account_id, {engine.dialect.literal(name)}, extra_{index}, {per_event} "
            f"FROM {table} WHERE extra_{index} IS NOT NULL"
        )
    if inputs.edges:
        parts.append(" UNION ALL ".join(_counterparties(inputs)))
    fold_strict_uses(engine, parts, None, config.prompt.min_uses, _OBSERVATIONS)
    activity = _activity(engine, events, config)
    # the events' values are observed (the prompts' parts are added last, as before):
    # what is left to read of the events is who sent which prompt when. Let go of before
    # the prompts are fingerprinted, the engine holds less beside the fingerprints (30M
    # synth events: the events held 2.7 GB, past DuckDB's limit; the run's peak 5.30 GiB,
    # 5.18 to 5.26 since)
    drop_values(engine, events)
    prompts = _fingerprint(engine, events, config, counts, keep_templates=keep_templates)
    parts = []
    if prompts is not None:
        sent = _prompt_events(engine, events, prompts, config)
        if config.prompt.wrapper_chars > 0:
            ends = [
                _uses(sent, KEY_WRAPPER, end, f"{end} IS NOT NULL", pre)
                for end, pre in _WRAPPER_ENDS
            ]
            parts.append(" UNION ALL ".join(ends))
        # the prompts last: the heavy accounts' strict uses are folded into this part
        if prompts.heavy_accounts:
            parts.append(_strict_uses(engine, sent))
        else:
            parts.append(_uses(sent, KEY_PROMPT, "template_group"))
    made = _STRICT_USES if prompts and prompts.heavy_accounts else None
    strict_uses = made if keep_strict_uses else None  # for the caller to fold
    if parts:
        fold_strict_uses(
            engine,
            parts,
            None if keep_strict_uses else made,
            config.prompt.min_uses,
            _OBSERVATIONS,
            append=True,
        )
    engine.drop("heavy_accounts")
    engine.drop(_PROMPT_EVENTS)
    _exclude(engine, exclude_accounts, (activity, strict_uses))
    counts["observations"] = engine.count(_OBSERVATIONS)
    counts["accounts"] = engine.count(_ACCOUNTS)
    if inputs.subjects:
        counts["subjects"] = int(
            engine.scalar(f"SELECT count(*) FROM {_ACCOUNTS} WHERE subject") or 0  # type: ignore[call-overload]
        )
    keys = {str(k) for k in engine.arrow(f"SELECT DISTINCT key FROM {_OBSERVATIONS}").column(0)}
    if inputs.edges:
        keys.add(KEY_DIRECT)
    distinct_times = engine.scalar(
        f"SELECT count(DISTINCT first_seen) FROM {_ACCOUNTS} WHERE first_seen IS NOT NULL"
    )
    return ObservationTables(
        observations=_OBSERVATIONS,
        accounts=_ACCOUNTS,
        prompt_map=prompts.prompt_map if prompts else None,
        activity=activity,
        activity_minutes=float(config.link.coactivity_minutes) if activity else 0.0,
        strict_groups=bool(prompts and prompts.heavy_accounts),
        strict_uses=strict_uses,
        context=inputs.subjects is not None,
        keys=tuple(sorted(keys)),
        # one time for every account (a constant column) says nothing of when they began
        timed=int(distinct_times or 0) > 1,  # type: ignore[call-overload]
        counts=counts,
    )


def _accounts(engine: Engine, events: EventTables, inputs: GraphInputs) -> None:
    """The accounts: those in the events, with the attributes, subjects and (without a
    list of subjects) the ends of edges."""
    per_account = f"""SELECT account_id, count(*) AS requests, min(ts) AS first_seen,
                  max(ts) AS last_seen
           FROM {events.events} GROUP BY account_id"""
    if not (inputs.attributes or inputs.subjects or inputs.edges):
        engine.create_table(
            _ACCOUNTS,
            f"""SELECT account_id, requests, first_seen, last_seen,
                       CAST(requests AS DOUBLE) AS volume, true AS subject
                FROM ({per_account}) e""",
        )
        return
    engine.create_table("event_accounts", per_account)
    ids = ["SELECT account_id FROM event_accounts"]
    joins = ""
    first, volume = "e.first_seen", "CAST(e.requests AS DOUBLE)"
    if inputs.attributes:
        ids.append(f"SELECT account_id FROM {inputs.attributes}")
        joins += f" LEFT JOIN {inputs.attributes} t ON t.account_id = i.account_id"
        first, volume = f"coalesce(t.first_seen, {first})", f"coalesce(t.volume, {volume})"
    subject = "true"
    if inputs.subjects:
        ids.append(f"SELECT account_id FROM {inputs.subjects}")
        joins += f" LEFT JOIN {inputs.subjects} s ON s.account_id = i.account_id"
        subject = "s.account_id IS NOT NULL"
    elif inputs.edges:
        ids.append(f"SELECT a FROM {inputs.edges} UNION SELECT b FROM {inputs.edges}")
    engine.create_table(
        _ACCOUNTS,
        f"""SELECT i.account_id, coalesce(e.requests, 0) AS requests,
                   {first} AS first_seen, coalesce(e.last_seen, {first}) AS last_seen,
                   coalesce({volume}, 0.0) AS volume, {subject} AS subject
            FROM ({" UNION ".join(ids)}) i
            LEFT JOIN event_accounts e ON e.account_id = i.account_id{joins}""",
    )
    engine.drop("event_accounts")


def _counterparties(inputs: GraphInputs) -> list[str]:
    """The observation parts of edges: each end that is a subject observes the other."""
    assert inputs.edges is not None
    parts = []
    for own, other in (("a", "b"), ("b", "a")):
        where = ""
        if inputs.subjects:
            where = f" WHERE x.{own} IN (SELECT account_id FROM {inputs.subjects})"
        parts.append(
            f"SELECT x.{own}, '{KEY_COUNTERPARTY}', x.{other}, x.ts, x.ts, 1 "
            f"FROM {inputs.edges} x{where}"
        )
    return parts


#: the tables observe makes: known to the others only through ``ObservationTables``
_OBSERVATIONS = "observations"
_ACCOUNTS = "accounts"
_PROMPT_MAP = "prompt_map"
_SHARED_GROUPS = "shared_prompt_groups"
_SHARED_PROMPTS = "shared_prompts"
#: made and dropped by keep_shared_prompts: the shared groups' prompts by key, and each
#: group's last sample
_KEYED = "shared_prompt_keys"
_CUTS = "prompt_sample_cuts"
_ACTIVITY = "activity"
_STRICT_USES = "strict_uses"


def shared_prompt_groups(observations: str) -> str:
    """SQL of the prompt groups (``value``) that two or more accounts of the table
    ``observations`` sent: the only ones that link, and the only ones a page shows."""
    return (
        f"SELECT value FROM {observations} WHERE key = '{KEY_PROMPT}' "
        "GROUP BY value HAVING count(*) >= 2"
    )


def keep_shared_prompts(engine: Engine, observed: ObservationTables) -> ObservationTables:
    """The prompt map cut to samples of the groups two or more accounts sent: what later
    stages read of it. A text one account sent alone is no evidence, and no page shows
    it; of a group, a page shows its template and :data:`PROMPT_SAMPLES` of its prompts.
    Called once the observations are final (a weekly memory reads the whole map first).

    Each group keeps the :data:`PROMPT_SAMPLES` prompts of least key (the MD5 of the
    text, ``Dialect.text_key``), found among numbers before any text is read. The map
    kept has prompt, template, template_group[, strict_group]: a row for each group a
    prompt is a sample of, naming that group alone (the other column NULL).

    On the realistic benchmark log (1.5M events, 93% of texts distinct) the map held
    1.4M prompts with their templates (0.9 GB in the engine), 7% of them in shared
    groups. At 30M synth events 18.2M of the 18.6M prompts are in shared groups: every
    one of them kept, with its text joined, took 18 to 23 s and 3.7 GB the engine
    spilled; 63k groups need at most 5 samples each.
    """
    table = observed.prompt_map
    if table is None:
        return observed
    engine.create_table(_SHARED_GROUPS, shared_prompt_groups(observed.observations))
    kinds = ["template_group", *(["strict_group"] if observed.strict_groups else [])]
    shared = f"IN (SELECT value FROM {_SHARED_GROUPS})"
    kept = " OR ".join(f"{kind} {shared}" for kind in kinds)
    own = table == _PROMPT_MAP
    if own:
        # observe's own map: numbers and labels only; the texts of the samples are
        # joined once they are chosen
        listed = ", ".join(f"l.{kind}" for kind in kinds)
        engine.create_table(
            _KEYED,
            f"""SELECT t.prompt_key, l.pos, {listed}
                FROM (SELECT * FROM {_PROMPT_LABELS} WHERE {kept}) l
                JOIN {_PROMPT_TEXTS} t ON t.pos = l.pos""",
        )
    else:
        # a weekly memory's map: a text sent again in a later week is there once for
        # each week that kept it, and is one sample
        key = engine.dialect.text_key("prompt")
        engine.create_table(
            _KEYED,
            f"""SELECT DISTINCT {key} AS prompt_key, prompt, template, {", ".join(kinds)}
                FROM {table} WHERE {kept}""",
        )
    dialect = engine.dialect
    least = dialect.list_head("prompt_key", [asc("prompt_key")], PROMPT_SAMPLES)
    carried = ", ".join(f"k.{c}" for c in (["pos"] if own else ["prompt", "template"]))
    # observe's own map holds each text once; a weekly one may hold a text once for each
    # pair of groups it was remembered with
    distinct = "" if own else "DISTINCT "
    samples = []
    for i, kind in enumerate(kinds):
        # each group's last sample: NULL where the group has fewer prompts (all kept)
        uses = f"SELECT {distinct}{kind}, prompt_key FROM {_KEYED} WHERE {kind} {shared}"
        engine.create_table(
            f"{_CUTS}_{i}",
            f"""SELECT {kind} AS grp, {dialect.list_item(least, PROMPT_SAMPLES)} AS last
                FROM ({uses}) u GROUP BY {kind}""",
        )
        named = ", ".join(
            f"k.{other}" if other == kind else f"{dialect.null_text()} AS {other}"
            for other in kinds
        )
        samples.append(
            f"""SELECT {distinct}{carried}, {named} FROM {_KEYED} k
                JOIN {_CUTS}_{i} c ON c.grp = k.{kind}
                 AND (c.last IS NULL OR k.prompt_key <= c.last)"""
        )
    # a row for each group a prompt is a sample of, naming that group alone
    sampled = " UNION ALL ".join(samples)
    columns = ", ".join(f"s.{kind}" for kind in kinds)
    if own:
        # observe's own map holds no templates: each sample's is its text masked again
        # (the templates of 18.6M prompts at 30M synth events, for 196k samples)
        texts = engine.arrow(
            f"""SELECT t.prompt, {columns} FROM ({sampled}) s
                JOIN {_PROMPT_TEXTS} t ON t.pos = s.pos"""
        )
        engine.store(
            _SHARED_PROMPTS,
            texts.add_column(1, "template", mask_prompts(texts.column("prompt"))),
        )
    else:
        engine.create_table(
            _SHARED_PROMPTS, f"SELECT s.prompt, s.template, {columns} FROM ({sampled}) s"
        )
    for i in range(len(kinds)):
        engine.drop(f"{_CUTS}_{i}")
    engine.drop(_KEYED)
    engine.drop(_SHARED_GROUPS)
    engine.drop(table)
    return dataclasses.replace(observed, prompt_map=_SHARED_PROMPTS)


#: the events that have a prompt, with its values: made and dropped by observe
_PROMPT_EVENTS = "prompt_events"
#: each distinct prompt (pos, prompt_key, prompt): its text, its key and the place its
#: fingerprint (``prompt_fp``) names it by; a view of load's texts, held by the prompt map
_PROMPT_TEXTS = "prompt_texts"
#: the prompt map without its texts (pos[, template], template_group, ...): held by it
_PROMPT_LABELS = "prompt_labels"


def _texts_joined(engine: Engine, labels: str) -> str:
    """SQL of the prompt map: each row of ``labels`` (``_PROMPT_LABELS``) with its text,
    joined by its place."""
    columns = engine.arrow(f"SELECT * FROM {labels} LIMIT 0").column_names
    shown = ", ".join(f"l.{c}" for c in columns if c != "pos")
    return f"""SELECT t.prompt, {shown} FROM {labels} l
        JOIN {_PROMPT_TEXTS} t ON t.pos = l.pos"""


@dataclass(frozen=True)
class _Prompts:
    """What fingerprinting made: the prompt map, and whether heavy accounts have
    strict groups (then ``heavy_accounts`` lists them until observe is done).

    ``numbers`` is SQL of each distinct prompt (its ``prompt_key``, ``pos`` and, where
    observe keeps the templates, ``template``) with its values as the numbers their
    labels in the map show (``template_group``[, ``strict_group``][, ``wrapper_head``,
    ``wrapper_tail``]; see :func:`_label`): observe joins and aggregates numbers and
    labels the aggregates, not every event's values.
    """

    prompt_map: str
    heavy_accounts: bool
    numbers: str


def _activity(engine: Engine, events: EventTables, config: Config) -> str | None:
    """Each account's active time windows (``link.coactivity_minutes`` wide), or None
    when co-activity is off or no event has a time."""
    minutes = float(config.link.coactivity_minutes)
    if minutes <= 0:
        return None
    width = minutes * 60.0
    engine.create_table(
        _ACTIVITY,
        f"""SELECT account_id, CAST(floor({engine.dialect.epoch("ts")} / {width}) AS BIGINT)
                   AS slot, min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS n
            FROM {events.events} WHERE ts IS NOT NULL GROUP BY 1, 2""",
    )
    if engine.count(_ACTIVITY) == 0:  # no timed events (a graph of accounts)
        engine.drop(_ACTIVITY)
        return None
    return _ACTIVITY


def _exclude(engine: Engine, accounts: Sequence[str], others: Sequence[str | None]) -> None:
    """Drop the observations (and the rows of the ``others`` tables) of ``accounts``."""
    if not accounts:
        return
    engine.register("excluded_accounts", pa.table({"account_id": pa.array(accounts, pa.string())}))
    for table in (_OBSERVATIONS, *others):
        if table is None:
            continue
        engine.create_table(
            "observations_kept",
            f"SELECT * FROM {table} WHERE account_id NOT IN "
            "(SELECT account_id FROM excluded_accounts)",
        )
        engine.create_table(table, "SELECT * FROM observations_kept")
        engine.drop("observations_kept")
    engine.drop("excluded_accounts")


#: distinct prompts masked and hashed per batch: bounds what Python holds of the texts
PROMPT_BATCH = 1 << 19
#: ... and characters of them per batch, for long texts: 2,000 prompts of 180k
#: characters (a document in each) were one batch, 4.0 GB at the peak of observe
PROMPT_BATCH_CHARS = 1 << 27


def _batch_rows(engine: Engine, table: str, column: str) -> int:
    """Rows of ``table`` per batch: :data:`PROMPT_BATCH`, fewer where the texts of
    ``column`` are long on average (at least 1,024). The batches' size changes no
    result, only what Python holds at once."""
    mean = engine.scalar(f"SELECT avg(length({column})) FROM {table}")
    chars = float(mean) if isinstance(mean, int | float) else 0.0
    return min(PROMPT_BATCH, max(1024, int(PROMPT_BATCH_CHARS // max(chars, 1.0))))


#: a template group's value is ``t:`` and 12 hex digits: the low 48 bits of its id
_LABEL_BITS = (1 << 48) - 1
#: a strict group's id is its root's hash mixed with this, so that it never takes the
#: label of the broad group rooted at the same template
_STRICT_SALT = np.uint64(0x5BD1E9955BD1E995)


#: the wrapper values' columns and their labels' prefixes, in the map and in observations
_WRAPPER_ENDS = (("wrapper_head", "wh:"), ("wrapper_tail", "wt:"))


def _label(group: str, prefix: str = "t:") -> str:
    """SQL labelling a group id (a signed 64-bit number) as ``t:`` and 12 hex digits."""
    return f"'{prefix}' || lpad(lower(hex({group} & {_LABEL_BITS})), 12, '0')"


def _fingerprint(
    engine: Engine,
    events: EventTables,
    config: Config,
    counts: dict[str, int],
    *,
    keep_templates: bool = False,
) -> _Prompts | None:
    """Fingerprint each distinct prompt once; make ``prompt_map`` (prompt, template
    with ``keep_templates``, template_group), a view of the texts, fingerprints and
    groups that holds them.

    The texts stay in the engine and pass through Python a batch at a time: tier 1 masks
    and hashes each batch, and tier 2 signs its templates there and then, keeping only
    the MinHash signatures. Group ids come back as numbers and are labelled in SQL.
    """
    floor = _heavy_accounts(engine, config)
    # each distinct text once, with its key and its place, as load made them: the
    # fingerprints name their text by its place, and the texts are held there alone
    engine.create_view(_PROMPT_TEXTS, f"SELECT * FROM {events.prompts}", holds=[events.prompts])
    counts["distinct_prompts"] = engine.count(_PROMPT_TEXTS)
    if counts["distinct_prompts"] == 0:
        engine.drop(_PROMPT_TEXTS)
        engine.drop("heavy_accounts")
        return None
    heavy_places = None if floor is None else _heavy_places(engine, events)
    created = False
    cfg = config.prompt
    rows = _batch_rows(engine, _PROMPT_TEXTS, "prompt")
    # tier 2's signatures of each batch's templates, made while tier 1 has them: the
    # templates were kept in the engine for tier 2 to read back (at 30M synth events,
    # 18.6M of them beside the events and texts, past DuckDB's limit); the engine makes
    # room for the signatures beside it (a row for each distinct prompt)
    signer = None
    room: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if cfg.near_duplicates:
        signer = TemplateSigner(cfg, config.seed, counts["distinct_prompts"])
        per_text = TemplateSignatures.bytes_per_text(cfg)
        room = engine.room_for(counts["distinct_prompts"] * per_text)
    with room:
        for batch in engine.batches(f"SELECT pos, prompt FROM {_PROMPT_TEXTS}", rows):
            templates = mask_prompts(batch.column(1))
            hashes = hash_strings(templates)
            if signer is not None:
                signer.add(hashes, templates)
            # engines lack unsigned 64 bits
            columns = {"pos": batch.column(0), "template_hash": hashes.view(np.int64)}
            if keep_templates:
                columns["template"] = templates
            if heavy_places is not None:
                places = batch.column(0).to_numpy(zero_copy_only=False)
                columns["heavy"] = pa.array(_isin_sorted(places, heavy_places))
            if cfg.wrapper_chars > 0:
                ends = wrapper_hashes(templates, cfg.wrapper_chars, cfg.wrapper_min_chars)
                columns["wrapper_head"] = ends.column("head")
                columns["wrapper_tail"] = ends.column("tail")
            engine.register("prompt_fp_in", pa.table(columns))
            if created:
                engine.insert("prompt_fp", "SELECT * FROM prompt_fp_in")
            else:
                engine.create_table("prompt_fp", "SELECT * FROM prompt_fp_in")
                created = True
            engine.drop("prompt_fp_in")
        pa.default_memory_pool().release_unused()  # the batches' buffers
        signed = None if signer is None else signer.signatures()
        heavy_templates = (
            None if signed is None or floor is None else _heavy_templates(engine, floor, signed)
        )

    group, join = "f.template_hash", ""
    heavy = False
    if signed is not None:
        groups, heavy = _near_duplicates(engine, signed, heavy_templates, config, counts)
        group = "coalesce(g.grp, f.template_hash)"
        join = "LEFT JOIN template_groups g ON g.template_hash = f.template_hash"
    # each value as the number its label shows (see _label), then the map of labels
    values = [f"{group} & {_LABEL_BITS} AS template_group"]
    labels = [f"{_label('template_group')} AS template_group"]
    named: list[tuple[str, str]] = []
    joins = join
    if heavy:
        joins += " LEFT JOIN heavy_groups h ON h.template_hash = f.template_hash"
        values.append(f"h.grp & {_LABEL_BITS} AS strict_group")
        named.append(("strict_group", "t:"))
    if config.prompt.wrapper_chars > 0:
        values += [f"f.{end} & {_LABEL_BITS} AS {end}" for end, _ in _WRAPPER_ENDS]
        named += _WRAPPER_ENDS
    labels += [
        f"CASE WHEN {column} IS NULL THEN NULL ELSE {_label(column, prefix)} END AS {column}"
        for column, prefix in named
    ]
    template = "f.template, " if keep_templates else ""
    fingerprints = f"SELECT f.pos, {template}{', '.join(values)} FROM prompt_fp f {joins}"
    numbers = f"""SELECT t.prompt_key, n.* FROM ({fingerprints}) n
        JOIN {_PROMPT_TEXTS} t ON t.pos = n.pos"""
    if signed is not None:
        counts["templates"] = distinct_count(groups)
    else:
        n_distinct = engine.scalar("SELECT count(DISTINCT template_hash) FROM prompt_fp")
        counts["templates"] = int(n_distinct) if isinstance(n_distinct, int) else 0
    # views, read whole twice (the prompts' values; the prompts kept): a copy held
    # every text and its template a second time (at 30M synth events, 18.6M of them,
    # 16 s to make). The texts are joined last, by their place, to the labels
    engine.create_view(
        _PROMPT_LABELS,
        f"SELECT pos, {'template, ' if keep_templates else ''}{', '.join(labels)} "
        f"FROM ({fingerprints}) n",
        holds=[
            "prompt_fp",
            *(["template_groups"] if config.prompt.near_duplicates else []),
            *(["heavy_groups"] if heavy else []),
        ],
    )
    engine.create_view(
        _PROMPT_MAP, _texts_joined(engine, _PROMPT_LABELS), holds=[_PROMPT_LABELS, _PROMPT_TEXTS]
    )
    # a template's text and sample prompts are looked up in prompt_map for the few
    # templates shown (views.tables), not gathered for millions of groups here
    return _Prompts(prompt_map=_PROMPT_MAP, heavy_accounts=heavy, numbers=numbers)


def _heavy_places(engine: Engine, events: EventTables) -> np.ndarray:
    """The places (``pos``) of the texts a heavy account sent, sorted: found by the
    events' keys, not their texts (the texts are apart, in ``events.prompts``)."""
    sent = engine.arrow(
        f"""SELECT t.pos FROM {_PROMPT_TEXTS} t JOIN (
                SELECT DISTINCT e.prompt_key FROM {events.events} e
                JOIN heavy_accounts h ON h.account_id = e.account_id) k
            ON k.prompt_key = t.prompt_key"""
    ).column(0)
    return np.sort(sent.to_numpy().astype(np.int64, copy=False))


def _isin_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each of ``values`` is in ``sorted_set`` (sorted, no duplicates)."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_set, values)
    return sorted_set[np.minimum(at, len(sorted_set) - 1)] == values


def _uses(sent: str, key: str, value: str, where: str = "true", prefix: str = "t:") -> str:
    """SQL of the observations (account_id, key, value, first_seen, last_seen, n) of
    ``key`` in ``sent`` (:func:`_prompt_events`): one row per account and number of the
    column ``value``, labelled once aggregated. At 30M synth events the prompts' labels
    were made for each of 18.6M distinct prompts (four columns) and carried through the
    join with 29.5M events."""
    return (
        f"SELECT account_id, '{key}', {_label(value, prefix)}, min(ts), max(ts), count(*) "
        f"FROM {sent} WHERE {where} GROUP BY account_id, {value}"
    )


def _strict_uses(engine: Engine, sent: str) -> str:
    """Create ``strict_uses``, the heavy accounts' uses of strict groups, and return the
    SQL of the other prompt parts of ``observations`` (their broad groups).

    ``sent`` is the table of events with their prompt's values (:func:`_prompt_events`).
    ``strict_uses`` holds account_id, template_group, strict_group, first_seen,
    last_seen, n: one row per account and strict group, an aggregate the engine can
    spill, which :func:`fold_strict_uses` makes observations of.
    """
    engine.create_table(
        _STRICT_USES,
        f"""SELECT account_id, {_label("template_group")} AS template_group,
                   {_label("strict_group")} AS strict_group, min(ts) AS first_seen,
                   max(ts) AS last_seen, count(*) AS n
            FROM {sent} WHERE strict_group IS NOT NULL
            GROUP BY account_id, template_group, strict_group""",
    )
    return _uses(sent, KEY_PROMPT, "template_group", "strict_group IS NULL")


def fold_strict_uses(
    engine: Engine,
    rows: str | Sequence[str],
    strict_uses: str | None,
    min_uses: int,
    into: str,
    *,
    append: bool = False,
) -> None:
    """Create ``into`` (with ``append``, add to it): the observations ``rows`` (SQL of
    account_id, key, value, first_seen, last_seen, n) made distinct per (account, key,
    value), with the heavy accounts' uses of strict groups (the table ``strict_uses``,
    see :func:`observe`; dropped) folded in as values of the key ``prompt``.

    ``rows`` may be several parts, each holding keys that no other part holds, the last
    the key ``prompt`` if any does (the strict uses join it): each part is made distinct
    by a statement of its own, so that the engine holds one part's aggregate at a time,
    not all of them (on the realistic benchmark log, 1.5M events, 0.35 GB at observe's
    peak).

    An account's prompt takes its template's strict group where the account sent that
    group at least ``min_uses`` times, as a link needs; the prompts of groups it sent
    fewer times keep their broad group. An account that repeats an operator's template
    (or a near copy) links with the operator's heavy accounts whatever its own volume.
    Heavy accounts send many prompts once each (at 10M synth events 3.07M of their
    3.35M strict groups were sent once by their account), which as values of their own
    would link nothing and only weigh on every later stage. A join of aggregates, which
    the engine can spill, rather than a window over every account's prompt groups.
    """
    parts = [rows] if isinstance(rows, str) else list(rows)
    if strict_uses is not None:
        engine.create_table(
            "strict_repeated",
            f"""SELECT account_id, strict_group FROM {strict_uses}
                GROUP BY account_id, strict_group HAVING sum(n) >= {int(min_uses)}""",
        )
        parts[-1] += f""" UNION ALL SELECT s.account_id, '{KEY_PROMPT}',
                   CASE WHEN r.account_id IS NULL THEN s.template_group
                        ELSE s.strict_group END,
                   s.first_seen, s.last_seen, s.n
            FROM {strict_uses} s LEFT JOIN strict_repeated r
              ON r.account_id = s.account_id AND r.strict_group = s.strict_group"""
    for index, part in enumerate(parts):
        distinct = f"""SELECT account_id, key, value, min(first_seen) AS first_seen,
                   max(last_seen) AS last_seen, CAST(sum(n) AS BIGINT) AS n
            FROM ({part}) AS o(account_id, key, value, first_seen, last_seen, n)
            GROUP BY account_id, key, value"""
        if index == 0 and not append:
            engine.create_table(into, distinct)
        else:
            engine.insert(into, distinct)
    if strict_uses is not None:
        engine.drop("strict_repeated")
        engine.drop(strict_uses)


def _prompt_events(engine: Engine, events: EventTables, prompts: _Prompts, config: Config) -> str:
    """Create the table of the events that have a prompt, with the values of their prompt
    as numbers (account_id, ts, template_group[, strict_group][, wrapper_head,
    wrapper_tail]; see ``_Prompts.numbers``), from the events' prompt keys (made by
    load).

    The wrapper and prompt parts of ``observations`` read it: events and prompts are
    joined once, not once for each part (three or four times; on the realistic
    benchmark log, 1.5M events, the table, ``strict_uses`` and ``observations`` take
    1.3 s where the joins in each took 1.9 s). They are joined on the texts' keys
    (see ``Dialect.text_key``), not on the texts: the join's table then holds keys and
    numbers, where it held every distinct text (at 30M synth events, 18.6M texts, and
    the join took 42.8 s where it took 21.8 with short labels for the numbers).
    """
    values = ["template_group"]
    if prompts.heavy_accounts:
        values.append("strict_group")
    if config.prompt.wrapper_chars > 0:
        values.extend(["wrapper_head", "wrapper_tail"])
    listed = ", ".join(values)
    engine.create_table("prompt_values", f"SELECT prompt_key, {listed} FROM ({prompts.numbers}) p")
    engine.create_table(
        _PROMPT_EVENTS,
        f"""SELECT e.account_id, e.ts, {", ".join(f"p.{v}" for v in values)}
            FROM {events.events} e JOIN prompt_values p ON e.prompt_key = p.prompt_key""",
    )
    engine.drop("prompt_values")
    return _PROMPT_EVENTS


def _near_duplicates(
    engine: Engine,
    signed: TemplateSignatures,
    heavy: _HeavyTemplates | None,
    config: Config,
    counts: dict[str, int],
) -> tuple[np.ndarray, bool]:
    """Tier 2 over the distinct templates ``signed``: their groups at
    ``prompt.threshold``, and the heavy accounts' templates' (``heavy``; None when no
    account is heavy) at ``prompt.heavy_threshold``.

    Creates ``template_groups`` (template_hash, grp) of the templates that are not their
    own group and, when some account is heavy, ``heavy_groups``;
    returns the group of each template (in the order of the hashes as unsigned numbers)
    and whether heavy accounts have strict groups. Both groupings read the signatures,
    side by side.
    """
    cfg = config.prompt
    per_text = TemplateSignatures.bytes_per_text(cfg)
    requests: list[tuple[float, np.ndarray | None]] = [(cfg.threshold, None)]
    if heavy is not None:
        requests.append((cfg.heavy_threshold, heavy.positions))
    # and for the groupings' own work, the engine idle: at 30M synth events they held
    # 1.9 GB beside the signatures, and the engine, which had no statement to run, all
    # that its lowered limit let it keep (the run's peak, 6.1 GiB)
    work = len(signed.hashes) * (per_text + TemplateSignatures.GROUPING_BYTES_PER_TEXT)
    with engine.room_for(work, idle=True):
        groups, *strict = signed.groupings(requests)
    hashes = signed.hashes
    moved = groups != hashes
    engine.store(
        "template_groups",
        pa.table(
            {"template_hash": hashes[moved].view(np.int64), "grp": groups[moved].view(np.int64)}
        ),
    )
    if heavy is not None:
        _store_heavy_groups(engine, config, counts, hashes[heavy.positions], strict[0], heavy)
    return groups, heavy is not None


@dataclass(frozen=True)
class _HeavyTemplates:
    """The templates heavy accounts sent (positions into the tier-2 hashes), and the
    requests that made an account heavy."""

    positions: np.ndarray
    floor: float


def _heavy_accounts(engine: Engine, config: Config) -> float | None:
    """Create ``heavy_accounts`` (account_id), the accounts whose templates are grouped
    again at ``prompt.heavy_threshold``, and return the requests that make an account
    heavy; None, creating nothing, when the option is off or no account is heavy.

    A heavy account sends at least ``prompt.heavy_volume`` times the requests of the
    median account.
    """
    cfg = config.prompt
    if not cfg.near_duplicates or cfg.heavy_threshold <= 0:
        return None
    # accounts known only from other inputs sent no request: not part of the median
    median = engine.scalar(f"SELECT median(requests) FROM {_ACCOUNTS} WHERE requests > 0")
    floor = float(cfg.heavy_volume) * float(median or 1.0)  # type: ignore[arg-type]
    engine.create_table(
        "heavy_accounts", f"SELECT account_id FROM {_ACCOUNTS} WHERE requests >= {floor}"
    )
    if engine.count("heavy_accounts") == 0:
        engine.drop("heavy_accounts")
        return None
    return floor


def _heavy_templates(engine: Engine, floor: float, signed: TemplateSignatures) -> _HeavyTemplates:
    """The templates that heavy accounts sent (``prompt_fp``'s ``heavy``), to group again
    at ``prompt.heavy_threshold``, as positions among the ``signed`` templates."""
    sent = engine.arrow("SELECT DISTINCT template_hash FROM prompt_fp WHERE heavy")
    heavy = np.sort(sent.column(0).to_numpy(zero_copy_only=False).view(np.uint64))
    return _HeavyTemplates(positions=np.searchsorted(signed.hashes, heavy), floor=floor)


def _store_heavy_groups(
    engine: Engine,
    config: Config,
    counts: dict[str, int],
    hashes: np.ndarray,
    groups: np.ndarray,
    heavy: _HeavyTemplates,
) -> None:
    """Store the heavy accounts' templates' strict groups as ``heavy_groups``
    (template_hash, grp), and count and log them."""
    strict_ids = (groups ^ _STRICT_SALT).view(np.int64)
    engine.store(
        "heavy_groups", pa.table({"template_hash": hashes.view(np.int64), "grp": strict_ids})
    )
    counts["heavy_accounts"] = engine.count("heavy_accounts")
    counts["heavy_templates"] = distinct_count(groups)
    log.info(
        "%d heavy accounts (%.0f+ requests): their %d masked prompts form %d groups at Jaccard %s",
        counts["heavy_accounts"],
        heavy.floor,
        len(hashes),
        counts["heavy_templates"],
        config.prompt.heavy_threshold,
    )
