"""Rows inserted into one Spark table a batch at a time, as tier 1 inserts its batches
of fingerprints (and link its slices of links), then the table read once.

    python benchmarks/spark_inserts.py [--batches 30] [--rows 50000] [--seed 1]

Each batch is ``--rows`` distinct texts of about 300 characters (a prompt and its
template) with a 64-bit hash, registered from Arrow and inserted; the batches are made
before the clock starts. Prints the rows and the seconds from the first insert to the
count. Needs pyspark and Java 17 (``pip install 'sybilgraph[spark]'``); runs Spark in
this process (``local[2]``, a 4 GB driver).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sybilgraph.config import EngineConfig
from sybilgraph.engines.spark import SparkEngine


def batches(count: int, rows: int, seed: int) -> list[pa.Table]:
    """``count`` tables of ``rows`` distinct texts (prompt, template) and a hash each."""
    rng = np.random.default_rng(seed)
    words = np.array([f"word{i}" for i in range(5000)])
    stems = [" ".join(rng.choice(words, 40)) for _ in range(1000)]
    stem = pa.array([stems[j % len(stems)] for j in range(rows)])
    made = []
    for i in range(count):
        texts = pc.binary_join_element_wise(stem, pa.array([f"{i}-{j}" for j in range(rows)]), " ")
        hashes = rng.integers(0, 2**62, rows)
        made.append(pa.table({"prompt": texts, "template": texts, "template_hash": hashes}))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    made = batches(args.batches, args.rows, args.seed)
    engine = SparkEngine(
        EngineConfig(name="spark", spark_master="local[2]", spark_driver_memory="4g")
    )
    try:
        start = time.perf_counter()
        for index, table in enumerate(made):
            engine.register("prompt_fp_in", table)
            if index:
                engine.insert("prompt_fp", "SELECT * FROM prompt_fp_in")
            else:
                engine.create_table("prompt_fp", "SELECT * FROM prompt_fp_in")
            engine.drop("prompt_fp_in")
        rows = engine.count("prompt_fp")
        seconds = time.perf_counter() - start
    finally:
        engine.close()
    print(f"{args.batches} batches of {args.rows}: {rows} rows in {seconds:.1f} s")


if __name__ == "__main__":
    main()
