"""A log of ordinary users behind a carrier's NAT: many addresses, each held by hundreds.

    python benchmarks/carrier_nat.py --out DIR [--accounts 20000] [--requests 50]
        [--addresses 5000] [--seed 1]

Each account sends ``--requests`` requests over six weeks, each from an address drawn
at random from a pool of ``--addresses`` (so each address is held by about
accounts x requests / addresses accounts: 200 at the defaults, under the hub cap of
300), with a prompt of its own (no two alike). No account is a sybil: a run should
flag nothing and, at best, cluster nothing. It measures what pairs of accounts that
share several busy addresses by chance cost (see the README's "Scale"). Writes
DIR/events.parquet.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: the words of the prompts (each prompt ends in its own number: no two alike)
WORDS = [f"word{i}" for i in range(20)]


def carrier_nat_log(accounts: int, requests: int, addresses: int, seed: int) -> pa.Table:
    """The log as a table: account_id, ts, ip, prompt."""
    rng = np.random.default_rng(seed)
    account = np.repeat(np.arange(accounts), requests)
    n = len(account)
    # public addresses of the carrier's NAT, 250 to a /24
    pool = np.array([f"198.18.{i // 250}.{i % 250 + 1}" for i in range(addresses)])
    start = np.datetime64("2026-04-01T00:00:00")
    ts = start + rng.integers(0, 42 * 86400, n).astype("timedelta64[s]")
    words = np.array(WORDS)[rng.integers(0, len(WORDS), (n, 12))]
    prompts = [" ".join(row) + f" {i}" for i, row in enumerate(words)]
    return pa.table(
        {
            "account_id": [f"m{a:06d}" for a in account],
            "ts": ts,
            "ip": pool[rng.integers(0, addresses, n)],
            "prompt": prompts,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--addresses", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if min(args.accounts, args.requests, args.addresses) < 1:
        parser.error("--accounts, --requests and --addresses must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    table = carrier_nat_log(args.accounts, args.requests, args.addresses, args.seed)
    pq.write_table(table, args.out / "events.parquet")
    print(f"{table.num_rows} events of {args.accounts} accounts: {args.out / 'events.parquet'}")


if __name__ == "__main__":
    main()
