"""evaluate: compare a run's flagged accounts and clusters with ground truth."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sybilgraph.engines.csvrepair import long_row
from sybilgraph.errors import InputError
from sybilgraph.investigate.folder import RunFolder, id_text

__all__ = ["Evaluation", "average_precision", "evaluate"]

#: a planted ring is recovered when one cluster matches it with at least this Jaccard
RECOVERY_JACCARD = 0.8


@dataclass
class Evaluation:
    """Precision, recall and F1 of flagged accounts; rings recovered; ranking quality."""

    precision: float
    recall: float
    f1: float
    rings: int
    rings_recovered: int
    average_precision: float
    by_kind: pd.DataFrame = field(repr=False)
    legit_groups_flagged: pd.DataFrame = field(repr=False)
    #: truth accounts the run does not list (counted as not flagged), of ``truth_accounts``
    not_in_run: int = 0
    truth_accounts: int = 0

    @property
    def ring_recovery(self) -> float:
        return self.rings_recovered / self.rings if self.rings else 1.0

    def summary(self) -> str:
        lines = []
        if self.not_in_run:
            lines.append(
                f"{self.not_in_run} of the {self.truth_accounts} truth accounts are not in "
                "the run (counted as not flagged)"
            )
        lines += [
            f"flagged accounts: precision {self.precision:.4f}  recall {self.recall:.4f}  "
            f"F1 {self.f1:.4f}",
            f"rings recovered (Jaccard >= {RECOVERY_JACCARD}): {self.rings_recovered} of "
            f"{self.rings} ({100 * self.ring_recovery:.1f}%)",
            f"average precision of clusters ranked by score: {self.average_precision:.4f}",
            "",
            "by kind:",
            self.by_kind.to_string(index=False),
        ]
        if len(self.legit_groups_flagged):
            lines += [
                "",
                "legitimate groups with flagged accounts:",
                self.legit_groups_flagged.to_string(index=False),
            ]
        return "\n".join(lines)


def average_precision(positive: np.ndarray) -> float:
    """Average precision of a ranked list of booleans (True = a real ring); 0 where
    none is True (a ranking that holds no ring finds none)."""
    positive = np.asarray(positive, dtype=bool)
    if not positive.any():
        return 0.0
    hits = np.cumsum(positive)
    ranks = np.arange(1, len(positive) + 1)
    return float((hits[positive] / ranks[positive]).mean())


def _check_truth(labels: pd.DataFrame, path: str | None) -> None:
    """Refuse a truth table that would score anything as perfect: no rows, a blank
    account or a label other than sybil or legit (the row and value named), an account
    labelled twice."""
    if labels.empty:
        raise InputError("the truth table has no rows", path=path)
    blank = _blank(labels["account_id"])
    if blank.any():
        raise InputError(
            "empty account_id",
            path=path,
            row=_row(blank, path),
            column="account_id",
        )
    bad = ~labels["label"].isin(["sybil", "legit"])
    if bad.any():
        index = int(bad.to_numpy().argmax())
        raise InputError(
            f"label must be sybil or legit, not {str(labels['label'].iloc[index])[:40]!r}",
            path=path,
            row=_row(bad, path),
            column="label",
        )
    blank_group = (labels["label"] == "sybil") & _blank(labels["group"])
    if blank_group.any():
        # rings are the sybils' groups: without one, rings_recovered was 0 of 0, silently
        raise InputError(
            "a sybil with an empty group", path=path, row=_row(blank_group, path), column="group"
        )
    twice = labels["account_id"].duplicated()
    if twice.any():
        account = str(labels["account_id"][twice].iloc[0])[:40]
        raise InputError(
            f"account {account!r} is labelled more than once",
            path=path,
            row=_row(twice, path),
            column="account_id",
        )


def _blank(column: pd.Series) -> pd.Series:
    """Whether each cell is missing or blank."""
    return column.isna() | (column.astype(str).str.strip() == "")


def _row(rows: pd.Series, path: str | None) -> int | None:
    """The file's row of the first of ``rows`` that holds (the header is row 1); None
    for a DataFrame given in Python."""
    return int(rows.to_numpy().argmax()) + 2 if path else None


def evaluate(result: RunFolder | str | Path, truth: str | Path | pd.DataFrame) -> Evaluation:
    """Score a run against a truth table (account_id, label sybil|legit, group[, kind]).

    ``result`` is a :class:`~sybilgraph.Result` or the path of a run's folder. A truth
    account the run does not list counts as not flagged, and ``not_in_run`` says how
    many there are.

    Raises
    ------
    InputError
        The truth table cannot be read, lacks a column, has no rows, a blank account, a
        label other than sybil or legit, or an account twice; or none of its accounts is
        in the run (every figure would then be about accounts the run never saw).
    """
    if not isinstance(result, RunFolder | str | os.PathLike):
        raise InputError(f"evaluate: expected a Result or a run's folder, not {result!r}")
    run = result if isinstance(result, RunFolder) else RunFolder(result)
    if isinstance(truth, pd.DataFrame):
        labels = truth.copy()
        for column in ("account_id", "label", "group"):
            if column not in labels.columns:
                raise InputError(f"the truth table lacks the column {column!r}", column=column)
        # ids a DataFrame holds as numbers, as the run read them: their digits
        labels["account_id"] = [
            ""
            if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v))
            else id_text(v, "account_id")
            for v in labels["account_id"]
        ]
    elif not isinstance(truth, str | os.PathLike):
        raise InputError(f"evaluate: expected a truth file or DataFrame, not {truth!r}")
    else:
        try:
            found = None if str(truth).lower().endswith(".gz") else long_row(Path(truth))
            labels = pd.read_csv(truth, dtype=str, keep_default_na=False)
        except (OSError, ValueError, csv.Error) as exc:
            raise InputError(f"cannot read truth: {exc}", path=str(truth)) from None
        if found is not None:
            # its fields shifted: "label must be sybil or legit, not 'g'"
            line, fields, header = found
            raise InputError(
                f"{fields} fields where the header has {header}", path=str(truth), row=line
            )
        for column in ("account_id", "label", "group"):
            if column not in labels.columns:
                raise InputError(f"missing column {column!r}", path=str(truth), column=column)
        # the run's ids are cut of the spaces around them, as load reads them
        labels["account_id"] = labels["account_id"].str.strip(" ")
    _check_truth(labels, None if isinstance(truth, pd.DataFrame) else str(truth))
    if "kind" not in labels.columns:
        labels["kind"] = labels["group"]
    # an empty kind is its group's, as a missing column is (the table by kind was empty)
    blank_kind = _blank(labels["kind"])
    labels.loc[blank_kind, "kind"] = labels.loc[blank_kind, "group"]
    accounts = run.accounts[["account_id", "cluster_id", "flagged", "score"]]
    not_in_run = int((~labels["account_id"].isin(accounts["account_id"])).sum())
    if not_in_run == len(labels):
        raise InputError(
            f"none of the {len(labels)} truth accounts is in the run "
            f"(first: {str(labels['account_id'].iloc[0])[:40]!r}); is it the truth of "
            "another data set?",
            path=None if isinstance(truth, pd.DataFrame) else str(truth),
        )
    merged = labels.merge(accounts, on="account_id", how="left")
    merged["flagged"] = merged["flagged"].fillna(False).astype(bool)
    merged["cluster_id"] = merged["cluster_id"].fillna("")
    sybil = merged["label"] == "sybil"
    tp = int((merged["flagged"] & sybil).sum())
    fp = int((merged["flagged"] & ~sybil).sum())
    fn = int((~merged["flagged"] & sybil).sum())
    # with sybils in the truth, a run that flags nothing scores 0, not a perfect 1 (a
    # scheduled job watching these figures must see it); without any, nothing was missed
    has_sybils = bool(sybil.any())
    precision = tp / (tp + fp) if tp + fp else float(not has_sybils)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    rings = merged[sybil]
    recovered = _recovered_rings(rings, merged)
    kinds = []
    for kind, part in merged.groupby("kind"):
        sybils = part["label"] == "sybil"
        # a kind that holds both (a truth file's own naming) is said to be mixed; its
        # sybils' groups are counted as rings
        label = "sybil" if sybils.all() else "mixed" if sybils.any() else "legit"
        groups = part["group"].nunique()
        row = {
            "kind": kind,
            "label": label,
            "accounts": len(part),
            "flagged": int(part["flagged"].sum()),
            "groups": groups,
            "groups_recovered": (
                int(sum(recovered.get(g, False) for g in part.loc[sybils, "group"].unique()))
                if sybils.any()
                else ""
            ),
        }
        kinds.append(row)
    by_kind = pd.DataFrame(kinds)
    legit_flagged = (
        merged[~sybil & merged["flagged"]]
        .groupby(["kind", "group"])
        .agg(accounts=("account_id", "size"), max_score=("score", "max"))
        .reset_index()
        .sort_values(["accounts", "group"], ascending=[False, True])
    )

    clusters = run.clusters
    if len(clusters):
        share = (
            merged[merged["cluster_id"] != ""]
            .groupby("cluster_id")["label"]
            .apply(lambda s: (s == "sybil").mean())
        )
        positive = clusters["cluster_id"].map(share).fillna(0.0).to_numpy() > 0.5
        ap = average_precision(positive) if has_sybils else 1.0
    else:
        ap = float(not has_sybils)
    return Evaluation(
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(f1, 4),
        rings=rings["group"].nunique(),
        rings_recovered=int(sum(recovered.values())),
        average_precision=round(ap, 4),
        by_kind=by_kind,
        legit_groups_flagged=legit_flagged,
        not_in_run=not_in_run,
        truth_accounts=len(labels),
    )


def _recovered_rings(rings: pd.DataFrame, merged: pd.DataFrame) -> dict[str, bool]:
    """For each ring, whether one cluster matches it with Jaccard >= the threshold."""
    cluster_sizes = merged[merged["cluster_id"] != ""].groupby("cluster_id").size().to_dict()
    found: dict[str, bool] = {}
    for group, members in rings.groupby("group"):
        clustered = members[members["cluster_id"] != ""]
        best = 0.0
        for cluster_id, overlap in clustered.groupby("cluster_id").size().items():
            union = len(members) + int(cluster_sizes[cluster_id]) - int(overlap)
            best = max(best, overlap / union)
        found[str(group)] = best >= RECOVERY_JACCARD
    return found
