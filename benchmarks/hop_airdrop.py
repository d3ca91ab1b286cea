"""Score a run on Hop's airdrop data against the development verdicts.

    python benchmarks/hop_airdrop.py OUT_DIR [--labels ../shared/data/hop-airdrop/labels_dev.csv]
    python benchmarks/hop_airdrop.py --cross-validate WORK_DIR [--folds 2]

The first form reads OUT_DIR/accounts.csv and prints precision, recall and F1 of the
flagged candidates, and the share of farms recovered (a farm: the eliminated candidates
of one ``group`` of labels_dev.csv, two or more of them; recovered when the cluster
holding most of them has Jaccard >= 0.8 with it, over the labelled candidates).

The second learns from verdicts without looking at the answers it is scored on: the
labelled candidates are cut into folds (by a hash of the address, so the cut is the
same on every machine); for each fold, examples/hop-airdrop/run.sh runs with the other
folds' verdicts and the fold is scored; the figures are pooled over the folds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT.parent / "shared" / "data" / "hop-airdrop" / "labels_dev.csv"


def read_labels(path: Path) -> pd.DataFrame:
    labels = pd.read_csv(path, dtype={"address": str, "group": str})
    labels["sybil"] = labels["eliminated"].astype(str).str.lower() == "true"
    return labels


def score(accounts: pd.DataFrame, labels: pd.DataFrame) -> dict[str, float]:
    """Precision, recall, F1 and farms recovered of ``accounts`` (account_id,
    cluster_id, flagged) over the candidates in ``labels``."""
    merged = labels.merge(
        accounts[["account_id", "cluster_id", "flagged"]],
        left_on="address",
        right_on="account_id",
        how="left",
    )
    flagged = merged["flagged"].fillna(False).astype(bool)
    sybil = merged["sybil"]
    hits = int((flagged & sybil).sum())
    precision = hits / max(int(flagged.sum()), 1)
    recall = hits / max(int(sybil.sum()), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    clusters = merged["cluster_id"].where(flagged)
    members = merged.assign(cluster=clusters).dropna(subset=["cluster"])
    by_cluster = members.groupby("cluster")["address"].apply(set).to_dict()
    farms = merged[sybil & merged["group"].notna() & (merged["group"] != "solo")]
    farm_sets = farms.groupby("group")["address"].apply(set)
    farm_sets = farm_sets[farm_sets.apply(len) >= 2]
    recovered = 0
    for farm in farm_sets:
        held = members[members["address"].isin(farm)]["cluster"]
        if held.empty:
            continue
        best = by_cluster[held.mode().iloc[0]]
        recovered += len(farm & best) / len(farm | best) >= 0.8
    return {
        "labelled": len(merged),
        "flagged": int(flagged.sum()),
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "farms": len(farm_sets),
        "farms_recovered": round(recovered / max(len(farm_sets), 1), 3),
    }


def fold_of(address: str, folds: int) -> int:
    return int(hashlib.sha256(address.encode()).hexdigest()[:8], 16) % folds


def cross_validate(work: Path, labels: pd.DataFrame, folds: int) -> dict[str, object]:
    work.mkdir(parents=True, exist_ok=True)
    labels = labels.assign(fold=[fold_of(a, folds) for a in labels["address"]])
    scored = []
    per_fold = []
    for fold in range(folds):
        given = labels[labels["fold"] != fold]
        verdicts = pd.DataFrame(
            {
                "account_id": given["address"],
                "verdict": given["sybil"].map({True: "sybil", False: "benign"}),
                "note": "labels_dev.csv, other folds",
            }
        )
        verdict_file = work / f"verdicts-{fold}.csv"
        verdicts.to_csv(verdict_file, index=False)
        out = work / f"run-{fold}"
        started = time.perf_counter()
        subprocess.run(
            [str(ROOT / "examples" / "hop-airdrop" / "run.sh"), str(out), str(verdict_file)],
            check=True,
            cwd=ROOT,
        )
        accounts = pd.read_csv(out / "accounts.csv", dtype={"account_id": str, "cluster_id": str})
        held_out = labels[labels["fold"] == fold]
        figures = score(accounts, held_out)
        figures["seconds"] = round(time.perf_counter() - started, 1)
        per_fold.append(figures)
        scored.append(held_out.merge(accounts, left_on="address", right_on="account_id"))
    pooled = pd.concat(scored, ignore_index=True)
    figures = score(pooled, labels)
    # a farm is cut in two by the folds and each fold's run clusters it on its own: its
    # recovery is measured within a fold, and averaged over the folds' farms
    farms = sum(f["farms"] for f in per_fold)
    figures["farms_recovered"] = round(
        sum(f["farms_recovered"] * f["farms"] for f in per_fold) / max(farms, 1), 3
    )
    figures["farms"] = farms
    return {"pooled": figures, "folds": per_fold}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run's folder, or the work folder with -c")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("-c", "--cross-validate", action="store_true")
    parser.add_argument("--folds", type=int, default=2)
    args = parser.parse_args()
    labels = read_labels(args.labels)
    if args.cross_validate:
        result: object = cross_validate(args.run.resolve(), labels, args.folds)
    else:
        accounts = pd.read_csv(
            args.run / "accounts.csv", dtype={"account_id": str, "cluster_id": str}
        )
        result = score(accounts, labels)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
