"""learn: the score's weights fitted to investigators' verdicts.

The score is a logistic function of a few terms (see :mod:`sybilgraph.stages.score`).
Given enough verdicts, the same terms are fitted to them by a regularised logistic
regression, so the weights stay readable ("size counts 3.1, density 0.8") and a data set
whose farms look unlike an API operator's rings (low volumes, no prompts) gets weights
of its own. Deterministic: Newton's method from zeros, no random start.

Each labelled account in a cluster is one example: its cluster's terms, and 1 for a
sybil verdict, 0 for ``not_sybil`` or ``benign``. A cluster's examples are never split
between the part fitted and the part checked, so the cross-validated figures say how the
weights do on clusters they have not seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Fitted", "cross_validate", "fit_logistic", "fit_weights"]

#: the fewest clusters holding a sybil verdict, and holding only other verdicts, that a
#: fit needs: with fewer, ten or so weights are not known well enough to beat defaults
MIN_CLUSTERS = 30
#: L2 penalty on the weights (not the bias), in units of examples: enough to keep a term
#: that separates the verdicts perfectly from growing without bound
PENALTY = 1.0
FOLDS = 5


@dataclass(frozen=True)
class Fitted:
    """Weights fitted to verdicts, and how well they did on clusters held out."""

    bias: float
    weights: dict[str, float]
    examples: int
    sybil_clusters: int
    other_clusters: int
    #: pooled over the folds, at the score threshold, per labelled account
    cv_precision: float
    cv_recall: float
    cv_folds: int
    terms: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "bias": round(self.bias, 4),
            "weights": {k: round(v, 4) for k, v in self.weights.items()},
            "examples": self.examples,
            "sybil_clusters": self.sybil_clusters,
            "other_clusters": self.other_clusters,
            "cv_precision": round(self.cv_precision, 3),
            "cv_recall": round(self.cv_recall, 3),
            "cv_folds": self.cv_folds,
        }

    def describe(self) -> str:
        """The fit in words, for the log and run.json."""
        ranked = sorted(self.weights.items(), key=lambda kv: -abs(kv[1]))
        terms = ", ".join(f"{name} {weight:+.2f}" for name, weight in ranked)
        return (
            f"score weights learned from {self.examples} verdicts in "
            f"{self.sybil_clusters} clusters with a sybil and {self.other_clusters} without "
            f"({terms}; bias {self.bias:+.2f}); on held-out clusters precision "
            f"{self.cv_precision:.2f}, recall {self.cv_recall:.2f} ({self.cv_folds} folds)"
        )


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, penalty: float = PENALTY, iterations: int = 50
) -> tuple[float, np.ndarray]:
    """Bias and weights of an L2-regularised logistic regression (Newton's method).

    The bias is not penalised. Columns that never vary get weight 0.

    Examples
    --------
    >>> bias, w = fit_logistic(np.array([[0.0], [0.0], [1.0], [1.0]]), np.array([0, 0, 1, 1]))
    >>> bias < 0 < w[0]
    True
    """
    n, k = x.shape
    design = np.column_stack([np.ones(n), x])
    beta = np.zeros(k + 1)
    ridge = np.full(k + 1, float(penalty))
    ridge[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -30, 30)))
        gradient = design.T @ (p - y) + ridge * beta
        curvature = (design * (p * (1 - p))[:, None]).T @ design + np.diag(ridge + 1e-9)
        step = np.linalg.solve(curvature, gradient)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return float(beta[0]), beta[1:]


def _fold(cluster_id: str, folds: int) -> int:
    return int(hashlib.sha256(str(cluster_id).encode()).hexdigest()[:8], 16) % folds


def cross_validate(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, threshold: float, folds: int = FOLDS
) -> tuple[float, float]:
    """Precision and recall of fits on all folds but one, scored on that one, pooled."""
    fold = np.array([_fold(g, folds) for g in groups])
    predicted = np.zeros(len(y), dtype=bool)
    for k in range(folds):
        test = fold == k
        if not test.any() or len(np.unique(y[~test])) < 2:
            continue
        bias, weights = fit_logistic(x[~test], y[~test])
        predicted[test] = 1.0 / (1.0 + np.exp(-(bias + x[test] @ weights))) >= threshold
    hits = int((predicted & (y == 1)).sum())
    return hits / max(int(predicted.sum()), 1), hits / max(int((y == 1).sum()), 1)


def fit_weights(terms: pd.DataFrame, examples: pd.DataFrame, threshold: float) -> Fitted | None:
    """Fit the score's terms to verdicts.

    Parameters
    ----------
    terms
        One row per cluster (index: cluster_id), one column per defined term.
    examples
        cluster_id and sybil (bool): one row per labelled account in a cluster.
    threshold
        The score at which a cluster is flagged, for the cross-validated figures.

    Returns
    -------
    Fitted, or None when the verdicts are too few (see :data:`MIN_CLUSTERS`).
    """
    rows = examples[examples["cluster_id"].isin(terms.index)]
    by_cluster = rows.groupby("cluster_id")["sybil"].max()
    sybil_clusters = int(by_cluster.sum())
    other_clusters = int((~by_cluster).sum())
    if sybil_clusters < MIN_CLUSTERS or other_clusters < MIN_CLUSTERS:
        return None
    x = terms.loc[rows["cluster_id"]].to_numpy(dtype=float)
    y = rows["sybil"].to_numpy(dtype=float)
    bias, weights = fit_logistic(x, y)
    precision, recall = cross_validate(x, y, rows["cluster_id"].to_numpy(), threshold)
    return Fitted(
        bias=bias,
        weights=dict(zip(terms.columns, (float(w) for w in weights), strict=True)),
        examples=len(rows),
        sybil_clusters=sybil_clusters,
        other_clusters=other_clusters,
        cv_precision=precision,
        cv_recall=recall,
        cv_folds=FOLDS,
        terms=list(terms.columns),
    )
