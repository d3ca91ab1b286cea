"""The Spark engine gives what DuckDB gives: same links, same clusters, same rejects.

Spark starts slowly, so every test here shares one local SparkSession (the engines run
in sessions of their own on top of it) and the tests are few.
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from sybilgraph.api import run
from sybilgraph.cli import main
from sybilgraph.config import Config, EngineConfig
from sybilgraph.engines import make_engine
from sybilgraph.engines.dialect import asc, desc
from sybilgraph.engines.sources import discover
from sybilgraph.errors import ConfigError
from sybilgraph.stages.load import load
from tests.loaded import with_texts

SAMPLE = Path(__file__).parents[1] / "data" / "samples" / "week" / "events.csv"

pytestmark = pytest.mark.spark


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    from sybilgraph.engines.spark import spark_session

    session = spark_session("local[2]", "2g")
    yield session
    session.stop()


def _links(out: Path) -> pd.DataFrame:
    links = pd.read_parquet(out / "links.parquet", columns=["a", "b", "weight", "keys", "evidence"])
    links["weight"] = links["weight"].round(9)
    return links.sort_values(["a", "b"], ignore_index=True)


def test_spark_detect_matches_duckdb_on_the_sample(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(SAMPLE, Config(), tmp_path / "duckdb", show_progress=False)
    # Spark (which spills any aggregate) is made to fold its pair values into links in
    # slices, with its own bucket SQL; DuckDB folds the sample's at once
    from sybilgraph.engines.spark import SparkEngine

    monkeypatch.setattr(SparkEngine, "fold_groups", 5_000)
    result = CliRunner().invoke(
        main, ["-q", "detect", str(SAMPLE), "--engine", "spark", "--out", str(tmp_path / "spark")]
    )
    assert result.exit_code == 0, result.output
    duck, spk = tmp_path / "duckdb", tmp_path / "spark"

    links = _links(duck)
    assert len(links) > 1000
    pd.testing.assert_frame_equal(links, _links(spk))

    accounts = pd.read_csv(duck / "accounts.csv", keep_default_na=False)
    assert (accounts["cluster_id"] != "").sum() > 100
    pd.testing.assert_frame_equal(
        accounts, pd.read_csv(spk / "accounts.csv", keep_default_na=False)
    )
    clusters = pd.read_csv(duck / "clusters.csv")
    assert clusters["flagged"].any()
    pd.testing.assert_frame_equal(clusters, pd.read_csv(spk / "clusters.csv"))
    pd.testing.assert_frame_equal(
        pd.read_csv(duck / "hubs.csv"), pd.read_csv(spk / "hubs.csv"), check_dtype=False
    )
    info = pd.read_json(spk / "run.json", typ="series")
    assert info["engine"] == "spark"
    assert "spark" in info["versions"]


BAD_CSV = (
    "account_id,ts,ip,payment_id,prompt\n"
    "u1,2026-04-13T10:00:00+02:00,10.0.0.1,pm1,hello there\n"
    'u2,1776074400,10.0.0.1,,"a prompt, with a comma"\n'
    "u3,1776074400123,2001:db8::1,pm1,\n"
    ",2026-04-13,10.0.0.2,,\n"
    "u4,not a time,10.0.0.3,,\n"
    "u5,2026-04-13 10:00:00,999.1.1.1,,\n"
    "u6,1890-01-01,10.0.0.4,,\n"
    'u7,2026-04-14,,pm2,"two\nlines"\n'
)


def test_the_weekly_report_on_spark_is_duckdb_s(spark: Any, tmp_path: Path) -> None:
    # the report's requests per day were counted with a DuckDB cast Spark cannot parse:
    # every report on Spark stopped with an internal error
    import json

    events = tmp_path / "events.csv"
    with SAMPLE.open() as source, events.open("w") as head:
        head.writelines(line for _, line in zip(range(8001), source, strict=False))
    reports = {}
    for engine in ("duckdb", "spark"):
        config = tmp_path / f"{engine}.toml"
        config.write_text(f'[engine]\nname = "{engine}"\n')
        base = tmp_path / engine
        args = ["--week", "2026-W16", "--config", str(config), "--state", str(base / "state")]
        done = CliRunner().invoke(
            main, ["-q", "report", str(events), *args, "--out", str(base / "out")]
        )
        assert done.exit_code == 0, done.output
        report = json.loads((base / "out" / "2026-W16" / "report.json").read_text())
        report.pop("state")  # the memory's file sizes, which each engine's writer sets
        reports[engine] = report
    assert reports["spark"] == reports["duckdb"]
    assert sum(sum(days) for days in reports["spark"]["daily_requests"]["clusters"].values()) > 0


def test_a_failed_query_prints_no_java_stack(spark: Any, capfd: pytest.CaptureFixture[str]) -> None:
    # a query Spark could not parse printed its Java stack as a JSON record of some 100
    # lines on stderr, above the one-line error
    engine = make_engine(EngineConfig(name="spark"))
    try:
        with pytest.raises(Exception, match="DATATYPE_MISSING_SIZE"):
            engine.arrow("SELECT CAST(1 AS VARCHAR) AS x")
    finally:
        engine.close()
    assert "SQLQueryContextLogger" not in capfd.readouterr().err


def test_load_and_rejects_match_duckdb(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    tables = {}
    for name in ("duckdb", "spark"):
        engine = make_engine(EngineConfig(name=name))  # type: ignore[arg-type]
        try:
            loaded = load(engine, discover([path]), Config())
            stats, sql = loaded.stats, engine.dialect
            events = engine.arrow(
                f"SELECT account_id, ts, ip_key, payment_id, prompt, _row, "
                f"{sql.epoch('ts')} AS epoch FROM {with_texts(loaded)} ORDER BY _row"
            ).to_pandas()
            rejects = engine.arrow(
                f"SELECT {sql.quote_ident('row')}, reason FROM {loaded.rejects} ORDER BY 1"
            ).to_pandas()
            two = sql.join_list(sql.list_head("account_id", [desc("account_id")], 2))
            heads = engine.arrow(
                f"""SELECT ip_key, {two} AS two,
                           {sql.list_head("account_id", [asc("account_id")], 5)} AS firsts,
                           {sql.list_item(sql.top_list("account_id", "1.0", 3), 2)} AS second,
                           {sql.list_item(sql.top_list("account_id", "1.0", 3), 4)} AS past
                    FROM {loaded.events} WHERE ip_key IS NOT NULL
                    GROUP BY ip_key ORDER BY ip_key"""
            ).to_pandas()
        finally:
            engine.close()
        tables[name] = (stats.as_dict(), events, rejects, heads)
    duck, spk = tables["duckdb"], tables["spark"]
    assert duck[0] == spk[0] == {"read": 8, "used": 4, "rejected": 4, "outside_window": 0}
    pd.testing.assert_frame_equal(duck[1], spk[1], check_dtype=False)
    assert duck[1]["ts"].iloc[0] == pd.Timestamp("2026-04-13 08:00:00")
    pd.testing.assert_frame_equal(duck[2], spk[2], check_dtype=False)
    assert [list(x) for x in duck[3]["firsts"]] == [list(x) for x in spk[3]["firsts"]]
    assert duck[3]["two"].tolist() == spk[3]["two"].tolist() == ["u2, u1", "u3"]
    # an item of a list, NULL past its end: how link gives its samples their texts
    for heads in (duck[3], spk[3]):
        assert heads["second"].iloc[0] == "u2"
        assert heads["second"].isna().tolist() == [False, True]
        assert heads["past"].isna().all()


def test_missing_pyspark_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_import = builtins.__import__

    def no_pyspark(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)

    with pytest.raises(ConfigError, match=r"pip install 'sybilgraph\[spark\]'"):
        make_engine(EngineConfig(name="spark"))
    result = CliRunner().invoke(
        main, ["detect", str(SAMPLE), "--engine", "spark", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "sybilgraph: error: the spark engine needs pyspark: pip install 'sybilgraph[spark]'"
    )
