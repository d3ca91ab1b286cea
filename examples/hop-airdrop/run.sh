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
# OUT_DIR and LABELS_CSV are taken from the folder it is called in (it runs in the root)
out="$(realpath -m -- "$1")"
# the checkout's own code runs, whichever environment provides the dependencies
# (SYBILGRAPH_PYTHON: another environment's interpreter, e.g. for a second checkout)
python="${SYBILGRAPH_PYTHON:-$root/.venv/bin/python}"
if [ ! -x "$python" ]; then
    echo "$0: $python not found: run 'make install' in $root first" >&2
    exit 2
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
labels=()
if [ $# -eq 2 ]; then
    # Hop's verdicts: "not eliminated" means not found to be a sybil, not vouched for;
    # such a verdict is not_sybil (it still links), whatever word the file uses for it
    verdicts="$(mktemp --suffix=.csv)"
    trap 'rm -f "$verdicts"' EXIT
    "$python" "$here/verdicts.py" "$2" "$verdicts"
    labels=(--labels "$verdicts")
fi
if [ ! -f "$root/../shared/data/hop-airdrop/transfers.parquet" ]; then
    echo "$0: ../shared/data/hop-airdrop/ not found beside the project" >&2
    exit 2
fi
cd "$root"
"$python" -m sybilgraph -q detect --config "$here/config.toml" --out "$out" --force "${labels[@]}"
