"""The naive reference: exact shared values into account pairs, then Leiden.

    python benchmarks/naive.py EVENTS.parquet --out DIR [--seed 42]

An IP address, payment id or prompt text (compared exactly, through a 64-bit hash of the
text) held by 2 to 50 accounts links every pair of them; a pair's weight is the number
of values it shares. Leiden (leidenalg, modularity, fixed seed) cuts the pair graph.
Writes DIR/clusters.csv (account_id, cluster_id: every account of the pair graph, sorted
by account id) and DIR/run.json (counts and per-step seconds). It is the speed
reference of the issue "Speed on realistic traffic": no normalisation, no hub weighting,
no templates, no scoring.

EVENTS may be any file or glob DuckDB reads (Parquet, CSV, JSON).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb
import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

MIN_ACCOUNTS = 2
MAX_ACCOUNTS = 50


def naive_clusters(events: str, out: Path, seed: int = 42) -> dict[str, object]:
    """Link, cluster and write; returns what run.json holds."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    con = duckdb.connect()
    source = events.replace("'", "''")
    con.execute(
        f"""
        CREATE TABLE held AS
        WITH observations AS (
            SELECT DISTINCT account_id, 'ip' AS key, hash(ip) AS value
            FROM '{source}' WHERE ip IS NOT NULL
            UNION ALL
            SELECT DISTINCT account_id, 'payment_id', hash(payment_id)
            FROM '{source}' WHERE payment_id IS NOT NULL
            UNION ALL
            SELECT DISTINCT account_id, 'prompt', hash(prompt)
            FROM '{source}' WHERE prompt IS NOT NULL
        ),
        sizes AS (
            SELECT key, value FROM observations GROUP BY key, value
            HAVING count(*) BETWEEN {MIN_ACCOUNTS} AND {MAX_ACCOUNTS}
        )
        SELECT o.* FROM observations o JOIN sizes USING (key, value)
        """
    )
    timings["values"] = time.perf_counter() - started

    step = time.perf_counter()
    pairs = con.sql(
        """
        SELECT x.account_id AS a, y.account_id AS b, count(*) AS weight
        FROM held x JOIN held y
          ON x.key = y.key AND x.value = y.value AND x.account_id < y.account_id
        GROUP BY 1, 2
        """
    ).to_arrow_table()
    timings["pairs"] = time.perf_counter() - step

    step = time.perf_counter()
    ends = pa.chunked_array(pairs["a"].chunks + pairs["b"].chunks)
    ids = pc.unique(ends).sort()
    a = pc.index_in(pairs["a"], ids).to_numpy()
    b = pc.index_in(pairs["b"], ids).to_numpy()
    graph = ig.Graph(n=len(ids), edges=np.column_stack([a, b]))
    weights = pairs["weight"].to_numpy().astype(float).tolist()
    timings["graph"] = time.perf_counter() - step

    step = time.perf_counter()
    partition = leidenalg.find_partition(
        graph, leidenalg.ModularityVertexPartition, weights=weights, seed=seed
    )
    timings["leiden"] = time.perf_counter() - step

    step = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    clusters = pa.table({"account_id": ids, "cluster_id": pa.array(partition.membership)})
    pacsv.write_csv(clusters, out / "clusters.csv")
    timings["write"] = time.perf_counter() - step
    info: dict[str, object] = {
        "events": events,
        "seed": seed,
        "accounts_linked": len(ids),
        "pairs": pairs.num_rows,
        "clusters": len(partition),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "total_s": round(time.perf_counter() - started, 2),
    }
    (out / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(json.dumps(naive_clusters(args.events, args.out, args.seed)))


if __name__ == "__main__":
    main()
