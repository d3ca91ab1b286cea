"""A case file: one cluster of a finished run on printable pages, to escalate it.

It gathers what a reviewer needs without the tool at hand: the accounts, the shared
infrastructure and payment, the prompt templates, the evidence per key and the
strongest links, the score and its reasons, and what produced them (input files with
their SHA-256, tool version, config, seed, engine), so that the run can be reproduced.
Identifiers are shown as the run's pages showed them: pseudonymised unless the run
turned ``privacy.pages`` off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

import pandas as pd

from sybilgraph.errors import InputError, OutputError
from sybilgraph.investigate.folder import RunFolder, id_text
from sybilgraph.outputs import write_text_atomic
from sybilgraph.stages.privacy import PRIVATE_KEYS, SECRET_ENV, Pseudonymiser
from sybilgraph.views.casefile import chromium_for, print_pdf, render_casefile
from sybilgraph.views.cells import cell_text, clean_cell
from sybilgraph.views.pages import safe_filename, timeline
from sybilgraph.views.tables import ClusterView

__all__ = ["TOP", "casefile_facts", "cluster_page", "resolve_cluster_id", "write_casefile"]

#: the cluster id that means the run's top-ranked cluster
TOP = "top"
#: rows a table shows before "and N more": a case file is read on paper
ACCOUNT_ROWS = 100
VALUE_ROWS = 30
TEMPLATE_ROWS = 20
STRONGEST_LINKS = 10
SAMPLES_PER_TEMPLATE = 3
HASH_CHUNK = 1 << 20


def resolve_cluster_id(run: RunFolder, cluster_id: str) -> str:
    """``cluster_id`` itself, or for :data:`TOP` the id of the run's rank-1 cluster.

    Raises
    ------
    InputError
        ``top`` was asked for and the run has no clusters.
    """
    if cluster_id != TOP:
        return id_text(cluster_id, "cluster")
    clusters = run.clusters
    if clusters.empty:
        raise InputError("no top cluster: the run has no clusters", path=str(run.out_dir))
    return str(clusters.sort_values("rank")["cluster_id"].iloc[0])


def cluster_page(run: RunFolder, cluster_id: str) -> Path | None:
    """The cluster's page the run wrote (clusters/<id>.html), or None if it wrote none."""
    page = run.out_dir / "clusters" / f"{safe_filename(cluster_id)}.html"
    return page if page.is_file() else None


def write_casefile(
    run: RunFolder,
    view: ClusterView,
    path: str | os.PathLike[str],
    *,
    pdf: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Path:
    """Write the case file of ``view``, a cluster of ``run``, to ``path`` (and ``pdf``).

    Parameters
    ----------
    run : RunFolder
        The run the cluster belongs to: its run.json and tables.
    view : ClusterView
        The cluster, e.g. from :func:`sybilgraph.investigate.cluster.cluster`.
    path : path
        The HTML file to write, atomically.
    pdf : path, optional
        Also print the page to this PDF file with headless Chromium.
    force : bool, default False
        Replace ``path`` and ``pdf`` where they exist.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputError
        A file exists and ``force`` is not set, or no Chromium is found for ``pdf``
        (nothing is written); or Chromium fails (the HTML file is written, and the
        message says where).
    """
    targets = [Path(path)] + ([Path(pdf)] if pdf is not None else [])
    if pdf is not None and _same_file(Path(path), Path(pdf)):
        raise OutputError(f"{pdf}: the PDF would replace the HTML case file; name another")
    for target in targets:
        if target.exists() and not force:
            raise OutputError(f"{target}: exists (use --force or force=True to replace it)")
    if pdf is not None:
        chromium_for(pdf)  # no Chromium: nothing is written
    html = write_text_atomic(path, render_casefile(casefile_facts(run, view)))
    if pdf is not None:
        try:
            print_pdf(html, pdf)
        except (OutputError, OSError) as exc:
            raise OutputError(f"{exc} (the HTML case file is written: {html})") from None
    return html


def _same_file(one: Path, other: Path) -> bool:
    """Whether two paths name one file (as written, or through links)."""
    return one.resolve() == other.resolve()


def casefile_facts(run: RunFolder, view: ClusterView) -> dict[str, Any]:
    """What the case file of ``view`` shows, as plain values for its template."""
    privacy: dict[str, Any] = run.info.get("privacy", {})
    pages_private = bool(privacy.get("pages", True))
    tables_private = bool(privacy.get("tables", False))
    # the tables hold raw values unless privacy.tables; the pages did not
    names = _pseudonymiser() if pages_private and not tables_private else None
    first = pd.to_datetime(view.accounts["first_seen"], utc=True).min()
    last = pd.to_datetime(view.accounts["last_seen"], utc=True).max()
    links = _links(run, view)
    chart, chart_note = timeline(view)
    if chart is None:
        page = cluster_page(run, view.cluster_id)
        where = f" ({page})" if page is not None else ""
        chart_note = f"timeline: see the cluster page{where}"
    return {
        "cluster": {
            "id": view.cluster_id,
            "rank": view.rank,
            "score": f"{view.score:.3f}",
            "flagged": view.flagged,
            "reasons": view.reasons,
            "accounts": len(view.accounts),
            "requests": int(view.accounts["requests"].sum()),
            "first_seen": _minute(first),
            "last_seen": _minute(last),
            "span": _span(first, last),
            "links": len(links),
            "features": [(str(k), cell_text(v)) for k, v in view.features.items()],
        },
        "privacy": _privacy_note(pages_private, tables_private, names),
        "accounts": _accounts(view),
        "shared": _shared(view, names),
        "templates": _templates(view, samples=not pages_private),
        "evidence": _evidence(view, links, names),
        "timeline": chart,
        "timeline_note": chart_note,
        "run": _provenance(run),
        "written": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _pseudonymiser() -> Pseudonymiser:
    """The pages' pseudonyms where the secret is at hand, else pseudonyms of this file."""
    secret = os.environ.get(SECRET_ENV)
    if secret:
        return Pseudonymiser(secret.encode())
    return Pseudonymiser(secrets.token_bytes(32), stable=False)


def _privacy_note(pages: bool, tables: bool, names: Pseudonymiser | None) -> str:
    if tables:
        return "IP addresses and payment tokens are pseudonyms, as in the run's tables."
    if not pages:
        return "IP addresses and payment tokens are shown raw: the run turned privacy.pages off."
    if names is not None and names.stable:
        return (
            f"IP addresses and payment tokens are pseudonyms under {SECRET_ENV}; they match "
            "the run's pages where the run used the same secret."
        )
    return (
        f"IP addresses and payment tokens are pseudonyms drawn for this file alone (no "
        f"{SECRET_ENV} set): they do not match the run's pages."
    )


def _accounts(view: ClusterView) -> dict[str, Any]:
    rows = [
        {
            "account_id": str(a["account_id"]),
            "requests": a["requests"],
            "first_seen": _minute(a["first_seen"]),
            "last_seen": _minute(a["last_seen"]),
            "score": f"{float(a['score']):.3f}",
            "verdict": cell_text(a.get("verdict")),
        }
        for a in view.accounts.head(ACCOUNT_ROWS).to_dict("records")
    ]
    return {"rows": rows, "more": max(len(view.accounts) - ACCOUNT_ROWS, 0)}


def _shared(view: ClusterView, names: Pseudonymiser | None) -> list[dict[str, Any]]:
    """Per key other than prompts, its shared values: most accounts of the cluster first."""
    values = view.values[view.values["key"] != "prompt"]
    if values.empty:
        return []
    grouped = (
        values.groupby(["key", "value"], sort=False)
        .agg(
            accounts=("account_id", "nunique"),
            holders=("holders", "max"),
            requests=("requests", "sum"),
            hub=("hub", "max"),
        )
        .reset_index()
        .sort_values(["key", "accounts", "requests", "value"], ascending=[True, False, False, True])
    )
    groups = []
    for key, part in grouped.groupby("key", sort=True):
        rows = [
            {
                "value": _shown(names, str(key), str(r["value"])),
                "accounts": int(r["accounts"]),
                "holders": int(r["holders"]),
                "requests": int(r["requests"]),
                "hub": bool(r["hub"]),
            }
            for r in part.head(VALUE_ROWS).to_dict("records")
        ]
        groups.append(
            {
                "key": str(key),
                "rows": rows,
                "total": len(part),
                "more": max(len(part) - VALUE_ROWS, 0),
            }
        )
    return groups


def _templates(view: ClusterView, *, samples: bool) -> dict[str, Any]:
    prompts = view.prompts
    rows = [
        {
            "text": cell_text(p["text"]),
            "requests": int(p["requests"]),
            "accounts": int(p["accounts"]),
            "samples": [str(s) for s in list(p["samples"])[:SAMPLES_PER_TEMPLATE]]
            if samples and p["samples"] is not None
            else [],
        }
        for p in prompts.head(TEMPLATE_ROWS).to_dict("records")
    ]
    return {
        "rows": rows,
        "total": len(prompts),
        "more": max(len(prompts) - TEMPLATE_ROWS, 0),
        "samples": samples,
    }


def _links(run: RunFolder, view: ClusterView) -> pd.DataFrame:
    """The links between the cluster's accounts, with links.parquet's per-key columns."""
    ids = set(view.accounts["account_id"])
    links = run.links
    return links[links["a"].isin(ids) & links["b"].isin(ids)]


def _keys(links: pd.DataFrame) -> list[str]:
    """The link keys links.parquet has a ``<key>_n`` column for."""
    return [c.removesuffix("_n") for c in links.columns if c.endswith("_n")]


def _evidence(
    view: ClusterView, links: pd.DataFrame, names: Pseudonymiser | None
) -> dict[str, Any]:
    keys = _keys(links)
    per_key = [
        {
            "key": key,
            "links": int((links[f"{key}_n"].fillna(0) > 0).sum()),
            "shared_values": int(view.values.loc[view.values["key"] == key, "value"].nunique()),
        }
        for key in keys
    ]
    strongest = links.sort_values(["weight", "a", "b"], ascending=[False, True, True])
    rows = [
        {
            "a": str(link["a"]),
            "b": str(link["b"]),
            "weight": f"{float(link['weight']):.2f}",
            "evidence": _evidence_text(link, keys, names),
        }
        for link in strongest.head(STRONGEST_LINKS).to_dict("records")
    ]
    return {
        "per_key": [k for k in per_key if k["links"] or k["shared_values"]],
        "strongest": rows,
        "more": max(len(links) - STRONGEST_LINKS, 0),
    }


def _evidence_text(link: dict[Any, Any], keys: list[str], names: Pseudonymiser | None) -> str:
    """The link's evidence text; with ``names``, rebuilt from its per-key columns with
    each private value replaced by its pseudonym."""
    if names is None:
        return cell_text(link.get("evidence"))
    parts = []
    for key in keys:
        count = clean_cell(link.get(f"{key}_n"))
        if not count:
            continue
        sample = cell_text(link.get(f"{key}_values"))
        if key in PRIVATE_KEYS:
            sample = ", ".join(names.pseudonym(key, v) for v in sample.split(", ") if v)
        parts.append(f"{key}: {int(count)} shared ({sample})")
    return "; ".join(parts)


def _shown(names: Pseudonymiser | None, key: str, value: str) -> str:
    return names.pseudonym(key, value) if names is not None else value


def _provenance(run: RunFolder) -> dict[str, Any]:
    info = run.info
    config = info.get("config", {})
    engine = info.get("engine") or config.get("engine", {}).get("name", "")
    versions = info.get("versions", {})
    return {
        "folder": str(run.out_dir.resolve()),
        "version": info.get("version", "?"),
        "started": info.get("started", "?"),
        "seed": info.get("seed", config.get("seed", "?")),
        "engine": engine,
        "versions": ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        "config": json.dumps(config, indent=2, sort_keys=True, default=str),
        "inputs": [f for given in info.get("inputs") or [] for f in _input_files(str(given))],
    }


def _input_files(given: str) -> list[dict[str, Any]]:
    """Size and SHA-256 of an input file, or of each file of an input folder."""
    path = Path(given)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        return [_file_facts(str(p), p) for p in files] or [_missing(given)]
    if path.is_file():
        return [_file_facts(given, path)]
    return [_missing(given)]


def _file_facts(name: str, path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return {"path": name, "size": f"{path.stat().st_size:,}", "sha256": digest.hexdigest()}


def _missing(name: str) -> dict[str, Any]:
    return {"path": name, "size": "", "sha256": "not found"}


def _minute(value: Any) -> str:
    if clean_cell(value) is None:
        return "—"
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def _span(first: Any, last: Any) -> str:
    if clean_cell(first) is None or clean_cell(last) is None:
        return "unknown"
    hours = (last - first).total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"
