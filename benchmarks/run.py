"""Time each stage of `sybilgraph detect` on synth logs of growing size.

    python benchmarks/run.py --sizes 1000000 10000000 --format parquet

Generated data goes to benchmarks/data/ (ignored by git); each run's stage timings come
from its run.json, the peak memory of the whole process from the kernel's accounting.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent / "sybilgraph"


def _run(args: list[str]) -> tuple[float, float]:
    """Run a command; return (seconds, peak RSS of the children so far in GB)."""
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, peak_kb / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--format", default="parquet", choices=["csv", "parquet", "jsonl"])
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"])
    args = parser.parse_args()
    rows = []
    work: list[tuple[int, int, dict[str, float]]] = []  # events, links, stage seconds
    for size in args.sizes:
        data = HERE / "data" / f"synth-{size}-{args.seed}"
        if not (data / "truth.csv").exists():
            _run(
                [
                    str(BIN),
                    "synth",
                    "--events",
                    str(size),
                    "--seed",
                    str(args.seed),
                    "--format",
                    args.format,
                    "--out",
                    str(data),
                ]
            )
        out = HERE / "data" / f"run-{size}-{args.engine}"
        # a fresh process per size, so the peak memory is this run's own
        # the run's own stderr passes through, so a failure shows its error line
        code = (
            "import resource, subprocess, sys; "
            "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
            "sys.exit(done.returncode)"
        )
        start = time.perf_counter()
        measured = subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                str(BIN),
                "-q",
                "detect",
                str(data),
                "--out",
                str(out),
                "--force",
                "--engine",
                args.engine,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        elapsed = time.perf_counter() - start
        if measured.returncode != 0:
            sys.exit(f"{size} events: sybilgraph detect exited with {measured.returncode}")
        peak = measured.stdout.strip()
        info = json.loads((out / "run.json").read_text())
        peaks = info.get("peak_rss_mb", {})
        rows.append(
            {
                "events": info["rows"]["used"],
                "accounts": info["counts"]["accounts"],
                "seconds": round(elapsed, 1),
                "peak_gb": round(int(peak) / 1024 / 1024, 2),
                # each stage: its seconds and the largest memory of the run's process
                # during it (page-writing workers, when there are several, not included)
                **{
                    k: f"{v:.1f} s, {peaks[k] / 1024:.1f} GB" if k in peaks else f"{v:.1f} s"
                    for k, v in info["timings_s"].items()
                },
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        work.append(
            (int(info["rows"]["used"]), int(info["counts"].get("links", 0)), info["timings_s"])
        )
    machine = f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}"
    print(f"\nmachine: {machine}")
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    _print_growth(work)


def _print_growth(work: list[tuple[int, int, dict[str, float]]]) -> None:
    """How many times each stage's time grew from one size to the next, beside how many
    times the events and the links grew: a stage about linear in its work grows about
    as much as the events (load, observe) or the links (link, graph, detect)."""
    if len(work) < 2:
        return
    stages = list(work[0][2])
    print("\ngrowth from each size to the next (times):")
    print("| from | to | events | links | " + " | ".join(stages) + " |")
    print("|" + " --- |" * (4 + len(stages)))
    for (events, links, before), (events_to, links_to, after) in itertools.pairwise(work):
        ratios = [_ratio(after.get(s, 0.0), before.get(s, 0.0)) for s in stages]
        cells = [str(events), str(events_to), _ratio(events_to, events), _ratio(links_to, links)]
        print("| " + " | ".join(cells + ratios) + " |")


def _ratio(after: float, before: float) -> str:
    """``after / before`` to one decimal place; a dash where ``before`` is nothing."""
    return f"{after / before:.1f}" if before > 0 else "-"


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
