"""Time `sybilgraph detect` against the naive method on realistic traffic, in one run.

    python benchmarks/compare.py --events 1500000 [--seed 7] [--config sybilgraph.toml]
                                 [--runs 5]

Generates the realistic profile (benchmarks/realistic.py) once into
benchmarks/data/realistic-<events>-<seed>/ (ignored by git; reused when present), then
runs each method in a fresh wrapper process whose own accounting gives the method's
wall time and peak memory (the largest resident set of its process tree's biggest
process, as benchmarks/run.py measures it). Prints a markdown table: method, seconds,
peak GB, both against the naive method's, the rings each recovers (Jaccard >= 0.8
with a cluster, as `sybilgraph evaluate` counts them), and sybilgraph's per-stage
seconds from its run.json (`timings_s`).

With ``--runs N`` the two methods run in turn N times (naive first each time): the
table gives each method's median seconds and peak and the ratio of the medians, and a
line lists the ratio of each turn. A machine's speed moves from minute to minute (on
this project's machine the naive method's 1.5M run took 12.5 to 14.3 s within an hour),
and a method timed in the same turn as the other shares its minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
RECOVERY_JACCARD = 0.8
STAGES = ("load", "observe", "link", "graph", "detect", "score", "privacy", "write", "export")

# runs argv[1:], then prints the peak RSS (KB) of its children: only the method's own
_MEASURE = (
    "import resource, subprocess, sys; "
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
    "sys.exit(done.returncode)"
)


def measure(command: list[str], what: str) -> tuple[float, float]:
    """Run ``command`` in a fresh wrapper; return (seconds, peak GB). Its stderr passes."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], stdout=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{what} exited with {done.returncode}")
    return elapsed, int(done.stdout.strip()) / 1024 / 1024


def rings_recovered(clusters: pd.DataFrame, truth: pd.DataFrame) -> tuple[int, int]:
    """Rings whose best cluster has Jaccard >= 0.8 with them, and the number of rings."""
    rings = truth[truth["label"] == "sybil"][["account_id", "group"]]
    clustered = clusters.dropna(subset=["cluster_id"]).astype({"cluster_id": str})
    sizes = clustered.groupby("cluster_id").size()
    held = rings.merge(clustered, on="account_id")
    overlap = held.groupby(["group", "cluster_id"]).size().rename("both").reset_index()
    overlap["ring"] = overlap["group"].map(rings.groupby("group").size())
    overlap["cluster"] = overlap["cluster_id"].map(sizes)
    overlap["jaccard"] = overlap["both"] / (overlap["ring"] + overlap["cluster"] - overlap["both"])
    best = overlap.groupby("group")["jaccard"].max()
    return int((best >= RECOVERY_JACCARD).sum()), int(rings["group"].nunique())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_500_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--config", help="a sybilgraph config (TOML) for its run")
    parser.add_argument("--runs", type=int, default=1, help="turns of the two methods")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be 1 or more")

    data = HERE / "data" / f"realistic-{args.events}-{args.seed}"
    events, truth_path = data / "events.parquet", data / "truth.csv"
    if not (events.exists() and truth_path.exists()):
        seconds, peak = measure(
            [
                sys.executable,
                str(HERE / "realistic.py"),
                "--events",
                str(args.events),
                "--seed",
                str(args.seed),
                "--out",
                str(data),
            ],
            "realistic.py",
        )
        print(f"generated {data} in {seconds:.1f} s, peak {peak:.2f} GB", flush=True)
    truth = pd.read_csv(truth_path, dtype=str, keep_default_na=False)

    sybilgraph_out = HERE / "data" / f"compare-sybilgraph-{args.events}-{args.seed}"
    naive_out = HERE / "data" / f"compare-naive-{args.events}-{args.seed}"
    detect = [sys.executable, "-m", "sybilgraph.cli", "-q", "detect", str(events)]
    detect += ["--out", str(sybilgraph_out), "--force"]
    if args.config:
        detect += ["--config", args.config]
    naive = [sys.executable, str(HERE / "naive.py"), str(events), "--out", str(naive_out)]

    turns: list[tuple[float, float, float, float]] = []
    stage_runs: list[dict[str, float]] = []
    info: dict = {}
    for turn in range(1, args.runs + 1):
        naive_turn = measure(naive, "naive.py")
        print(f"turn {turn}, naive: {naive_turn[0]:.1f} s, {naive_turn[1]:.2f} GB", flush=True)
        ours = measure(detect, "sybilgraph detect")
        print(f"turn {turn}, sybilgraph: {ours[0]:.1f} s, {ours[1]:.2f} GB", flush=True)
        turns.append((*ours, *naive_turn))
        info = json.loads((sybilgraph_out / "run.json").read_text())
        stage_runs.append(info["timings_s"])
    seconds, peak, naive_seconds, naive_peak = (
        statistics.median(t[i] for t in turns) for i in range(4)
    )

    accounts = pd.read_csv(sybilgraph_out / "accounts.csv", dtype=str, keep_default_na=False)
    accounts["cluster_id"] = accounts["cluster_id"].replace("", None)
    naive_clusters = pd.read_csv(naive_out / "clusters.csv", dtype=str)
    found, rings = rings_recovered(accounts, truth)
    naive_found, _ = rings_recovered(naive_clusters, truth)

    timings = {k: statistics.median(r.get(k, 0.0) for r in stage_runs) for k in stage_runs[0]}
    in_order = [s for s in STAGES if s in timings] + [s for s in timings if s not in STAGES]
    stages = ", ".join(f"{s} {timings[s]:.1f}" for s in in_order)
    rows = [
        ("sybilgraph detect", seconds, peak, found, stages),
        ("naive (exact values, 2-50 accounts, Leiden)", naive_seconds, naive_peak, naive_found, ""),
    ]
    cores = os.cpu_count() or 1
    print(
        f"\n{info['rows']['used']:,} events, {info['counts']['accounts']:,} accounts, "
        f"{rings} rings (seed {args.seed}); {platform.machine()}, {cores} cores, "
        f"Python {platform.python_version()}"
    )
    if args.runs > 1:
        each = ", ".join(f"{t[0] / t[2]:.2f}" for t in turns)
        print(f"medians of {args.runs} turns; time × naive in each turn: {each}")
    print()
    print(
        "| method | seconds | peak GB | time × naive | memory × naive | rings recovered "
        "| stages (s) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, secs, gb, recovered, detail in rows:
        print(
            f"| {name} | {secs:.1f} | {gb:.2f} | {secs / naive_seconds:.1f} "
            f"| {gb / naive_peak:.1f} | {recovered} of {rings} | {detail} |"
        )


if __name__ == "__main__":
    main()
