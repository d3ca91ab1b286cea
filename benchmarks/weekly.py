"""The weekly report against one run over its lookback window, and its cost.

Splits an event log with truth (``realistic.py`` or ``sybilgraph synth``) into ISO
weeks, reports the given weeks in order from an empty state, and for each week:

- runs ``sybilgraph detect`` over the lookback window's weeks (the reference) and says
  how many of the accounts active in the week that it flags the week's report flags too
  (of all of them, and of those the truth calls sybils), and the report's precision
  against the truth;
- runs ``sybilgraph detect`` over the week's events alone, and compares the cost of the
  report with it (wall time and peak memory, from ``/usr/bin/time -v``, the median of
  ``--repeat`` runs);
- counts the rings (truth groups) seen in two consecutive weeks that kept their tracked id.

    python benchmarks/weekly.py /tmp/r3/events.parquet /tmp/r3/truth.csv \\
        --weeks 2024-W10 2024-W11 2024-W12 2024-W13 --out /tmp/weekly
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd

EXE = [sys.executable, "-c", "from sybilgraph.cli import main; main()"]


def _timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert wall and rss, done.stderr[-2000:]
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return seconds, int(rss.group(1)) / 1024


def _monday(week: str) -> dt.date:
    year, number = week.split("-W")
    return dt.date.fromisocalendar(int(year), int(number), 1)


def _flagged_active(folder: Path, week: str) -> set[str]:
    """Accounts flagged by a run and active in the week."""
    accounts = pd.read_csv(folder / "accounts.csv", keep_default_na=False, dtype=str)
    start = pd.Timestamp(_monday(week))
    last = pd.to_datetime(accounts["last_seen"], utc=True).dt.tz_convert(None)
    flagged = accounts["flagged"].str.lower() == "true"
    return set(accounts.loc[flagged & (last >= start), "account_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("events")
    parser.add_argument("truth")
    parser.add_argument("--weeks", nargs="+", required=True)
    parser.add_argument("--lookback", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    (out / "weeks").mkdir(parents=True)
    events = pd.read_parquet(args.events)
    ts = pd.to_datetime(events["ts"], utc=True)
    iso = ts.dt.isocalendar()
    names = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    files = {}
    for name, part in events.groupby(names.to_numpy()):
        files[str(name)] = out / "weeks" / f"{name}.parquet"
        part.to_parquet(files[str(name)], index=False)
    truth = pd.read_csv(args.truth, dtype=str)
    sybil = set(truth.loc[truth["label"] == "sybil", "account_id"])
    group_of = dict(zip(truth["account_id"], truth["group"], strict=True))
    config = out / "config.toml"
    config.write_text(f"[report]\nlookback_weeks = {args.lookback}\n")
    rows = []
    ring_ids: dict[str, dict[str, str]] = {}
    for week in args.weeks:
        report_runs, plain_runs = [], []
        if (out / "state").exists():
            shutil.copytree(out / "state", out / "state-before")
        for attempt in range(args.repeat):
            # each repeat reports the week on the state as it was before the week
            if attempt:
                shutil.rmtree(out / "state")
                if (out / "state-before").exists():
                    shutil.copytree(out / "state-before", out / "state")
            report_runs.append(
                _timed(
                    [
                        *EXE,
                        "-q",
                        "report",
                        str(args.events),
                        "--week",
                        week,
                        "--state",
                        str(out / "state"),
                        "--out",
                        str(out / "reports"),
                        "--config",
                        str(config),
                    ]
                )
            )
            plain_runs.append(
                _timed(
                    [*EXE, "-q", "detect", str(files[week]), "--out", str(out / "plain"), "--force"]
                )
            )
        shutil.rmtree(out / "state-before", ignore_errors=True)
        start = _monday(week) - dt.timedelta(weeks=args.lookback - 1)
        window = [str(f) for name, f in files.items() if start <= _monday(name) <= _monday(week)]
        subprocess.run(
            [*EXE, "-q", "detect", *window, "--out", str(out / "window" / week), "--force"],
            check=True,
        )
        reference = _flagged_active(out / "window" / week, week)
        report = out / "reports" / week
        found = _flagged_active(report, week)
        facts = json.loads((report / "report.json").read_text())
        accounts = pd.read_csv(report / "accounts.csv", keep_default_na=False, dtype=str)
        clustered = accounts[(accounts["tracked_id"] != "") & accounts["account_id"].isin(sybil)]
        ring_ids[week] = {
            str(group): str(part["tracked_id"].mode().iloc[0])
            for group, part in clustered.groupby(clustered["account_id"].map(group_of))
        }
        report_s = statistics.median(r[0] for r in report_runs)
        report_mb = statistics.median(r[1] for r in report_runs)
        plain_s = statistics.median(r[0] for r in plain_runs)
        plain_mb = statistics.median(r[1] for r in plain_runs)
        rows.append(
            {
                "week": week,
                "window_flags": len(reference),
                "report_flags": len(found),
                "recall_vs_window": round(len(found & reference) / max(len(reference), 1), 3),
                # of the window run's flags that are sybils: its false flags left aside
                "recall_vs_window_sybils": round(
                    len(found & reference & sybil) / max(len(reference & sybil), 1), 3
                ),
                "precision": round(len(found & sybil) / max(len(found), 1), 3),
                "window_precision": round(len(reference & sybil) / max(len(reference), 1), 3),
                "report_s": round(report_s, 1),
                "plain_s": round(plain_s, 1),
                "time_ratio": round(report_s / plain_s, 2),
                "report_mb": round(report_mb),
                "plain_mb": round(plain_mb),
                "memory_ratio": round(report_mb / plain_mb, 2),
                "memory_bytes": facts.get("state", {}).get("memory_bytes"),
                "window_requests": facts.get("window", {}).get("requests"),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    spanning = kept = 0
    for before, after in zip(args.weeks, args.weeks[1:], strict=False):
        for group in set(ring_ids[before]) & set(ring_ids[after]):
            spanning += 1
            kept += ring_ids[before][group] == ring_ids[after][group]
    events_total = len(events)
    summary = {"rings_spanning": spanning, "kept_id": kept, "events": events_total}
    print(json.dumps(summary))
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
