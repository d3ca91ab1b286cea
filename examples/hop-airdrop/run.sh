#!/usr/bin/env bash
# Run sybilgraph on Hop Protocol's airdrop sybil hunt (../shared/data/hop-airdrop/).
#
#   examples/hop-airdrop/run.sh OUT_DIR [LABELS_CSV]
#
# From the project root, after `make install`. LABELS_CSV (account_id, verdict, note;
# verdict sybil, benign or not_sybil) is passed as the investigators' verdicts: with
# enough of them the score's weights are fitted to them. OUT_DIR/accounts.csv lists
# every candidate with its cluster, flag and score.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 OUT_DIR [LABELS_CSV]" >&2
    exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$1"
sybilgraph="$root/.venv/bin/sybilgraph"
if [ ! -x "$sybilgraph" ]; then
    echo "$0: $sybilgraph not found: run 'make install' in $root first" >&2
    exit 2
fi
labels=()
if [ $# -eq 2 ]; then
    # Hop's verdicts: "not eliminated" means not found to be a sybil, not vouched for;
    # such a verdict is not_sybil (it still links), whatever word the file uses for it
    verdicts="$(mktemp --suffix=.csv)"
    trap 'rm -f "$verdicts"' EXIT
    "$root/.venv/bin/python" "$here/verdicts.py" "$2" "$verdicts"
    labels=(--labels "$verdicts")
fi
if [ ! -f "$root/../shared/data/hop-airdrop/transfers.parquet" ]; then
    echo "$0: ../shared/data/hop-airdrop/ not found beside the project" >&2
    exit 2
fi
cd "$root"
"$sybilgraph" -q detect --config "$here/config.toml" --out "$out" --force "${labels[@]}"
