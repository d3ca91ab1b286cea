"""Hop's verdicts as sybilgraph reads them: ``run.sh`` calls this on LABELS_CSV.

    python verdicts.py LABELS_CSV OUT_CSV

LABELS_CSV has account_id (or address), verdict (or eliminated) and note. A candidate
that was eliminated is a sybil; one that was not was looked at and not found to be one
(Hop's README: "not found to be a sybil", not "confirmed benign"): not_sybil, which still
links, rather than benign, which would take it out of linking.
"""

from __future__ import annotations

import sys

import pandas as pd

SYBIL = {"sybil", "true", "1", "yes", "eliminated"}
NOT_SYBIL = {"benign", "not_sybil", "false", "0", "no", "legit", "not eliminated"}


def main(source: str, target: str) -> int:
    try:
        labels = pd.read_csv(source, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        print(f"{source}: cannot read: {exc}", file=sys.stderr)
        return 2
    account = "account_id" if "account_id" in labels.columns else "address"
    verdict = "verdict" if "verdict" in labels.columns else "eliminated"
    for column in (account, verdict):
        if column not in labels.columns:
            print(f"{source}: no column {column!r}", file=sys.stderr)
            return 2
    words = labels[verdict].str.strip().str.lower()
    unknown = sorted(set(words) - SYBIL - NOT_SYBIL)
    if unknown:
        print(f"{source}: unknown verdicts {unknown[:5]}", file=sys.stderr)
        return 2
    out = pd.DataFrame(
        {
            "account_id": labels[account].str.strip(),
            "verdict": words.map(lambda w: "sybil" if w in SYBIL else "not_sybil"),
            "note": labels["note"] if "note" in labels.columns else "",
        }
    )
    out.to_csv(target, index=False)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: verdicts.py LABELS_CSV OUT_CSV", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
