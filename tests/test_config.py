"""Config: TOML and dicts in, unknown keys, wrong types and impossible values refused by
name."""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sybilgraph.config import ColumnsConfig, Config, LinkConfig
from sybilgraph.errors import ConfigError


def test_defaults_round_trip_through_dict() -> None:
    config = Config()
    assert Config.from_dict(config.to_dict()) == config


def test_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'seed = 3\n[columns]\naccount_id = "user"\nextra_keys = ["device"]\n'
        "[link]\nhub_cap = 50\nkey_weights = { ip = 0.5 }\n"
        '[detect]\nmethod = "rb"\nresolution = 1\n'
    )
    config = Config.from_toml(path)
    assert config.seed == 3
    assert config.columns.account_id == "user"
    assert config.columns.extra_keys == ["device"]
    assert config.link.hub_cap == 50
    # the weights not named keep their defaults (they used to fall to 1.0)
    defaults = LinkConfig().key_weights
    assert config.link.key_weights == {**defaults, "ip": 0.5}
    assert config.link.key_weights["payment"] == defaults["payment"] != 1.0
    assert config.detect.method == "rb"
    assert config.detect.resolution == 1.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sed": 1}, "unknown key 'sed'"),
        ({"link": {"hub_cap": "x"}}, "link.hub_cap must be an integer, not a string"),
        ({"link": {"hub_cap": True}}, "link.hub_cap must be an integer, not a boolean"),
        ({"detect": {"method": "louvain"}}, "detect.method must be one of"),
        ({"columns": {"extra_keys": "device"}}, "columns.extra_keys must be a list"),
        ({"link": {"key_weights": {"ip": "heavy"}}}, "link.key_weights.ip must be a number"),
        ({"link": 3}, "link must be a table"),
        ({"detect": {"join_ratio": -0.5}}, "detect.join_ratio must be 0 .off. or more"),
        ({"detect": {"join_strength": -1}}, "detect.join_strength must be 0 .off. or more"),
        ({"detect": {"join_density": 1.5}}, "detect.join_density must be between 0 and 1"),
        ({"detect": {"split_keys": "payment"}}, "detect.split_keys must be a list"),
        ({"link": {"evidence_sample": 21}}, "link.evidence_sample must be between 1 and 20"),
        # past float32's range the graph's weights overflowed (a warning, then inf)
        ({"link": {"key_weights": {"payment": 1e39}}}, r"payment must be from 0 to 1e\+06"),
        ({"report": {"lookback_weeks": 521}}, "report.lookback_weeks must be from 1 to 520"),
    ],
)
def test_bad_config_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_dict(data, source="c.toml")


def test_bad_toml_names_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("seed = = 1")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        Config.from_toml(path)
    with pytest.raises(ConfigError, match="no such config file"):
        Config.from_toml(tmp_path / "absent.toml")


def test_max_groups_must_not_be_negative() -> None:
    with pytest.raises(ConfigError, match="max_groups"):
        Config.from_dict({"prompt": {"max_groups": -1}})


# -- every setting checked where it is built --------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[link]\nhub_c = inf\n", "link.hub_c must be a finite number, not inf"),
        ("[link]\nhub_c = nan\n", "link.hub_c must be a finite number, not nan"),
        ("[link]\nkey_weights = { ip = nan }\n", "link.key_weights.ip must be a finite number"),
        ("[link]\nhub_cap = -1\n", "link.hub_cap must be at least 2, not -1"),
        ("[link]\nhub_cap = 0\n", "link.hub_cap must be at least 2, not 0"),
        ("[score]\nthreshold = 1.5\n", "score.threshold must be between 0 and 1, not 1.5"),
        ("[score]\nthreshold = nan\n", "score.threshold must be a finite number, not nan"),
        ("[detect]\nresolution = 0\n", "detect.resolution must be above 0, not 0.0"),
        ("[detect]\nresolution = -1\n", "detect.resolution must be above 0, not -1.0"),
        ('[engine]\nmemory_limit = "-5GB"\n', "engine.memory_limit = '-5GB' is not a memory size"),
        ("[export]\npages = -3\n", "export.pages must be 0 or more, not -3"),
        (
            "[link]\nkey_weights = { ip = -5 }\n",
            "link.key_weights.ip must be from 0 to 1e+06, not -5.0",
        ),
        (
            "[link]\nkey_weights = { ipp = 1.0 }\n",
            "unknown key 'link.key_weights.ipp': the link keys are ip, ip_subnet, payment, "
            "prompt, wrapper, direct",
        ),
        (
            '[columns]\naccount_id = "ip"\n',
            "columns.account_id and columns.ip both name the input column 'ip'",
        ),
        (
            '[columns]\npayment_id = "ip"\n',
            "columns.ip and columns.payment_id both name the input column 'ip'",
        ),
        ('labels = "{tmp}/absent.csv"\n', "labels = '{tmp}/absent.csv': no such file"),
    ],
)
def test_impossible_setting_named_with_its_value(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text.replace("{tmp}", str(tmp_path)))
    expected = f"{path}: {message.replace('{tmp}', str(tmp_path))}"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        Config.from_toml(path)


def test_python_construction_is_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"^seed must be an integer, not a string$"):
        Config(seed="x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=re.escape("link.hub_c must be a finite number, not inf")):
        LinkConfig(hub_c=math.inf)
    with pytest.raises(ConfigError, match=re.escape("link.hub_cap must be at least 2")):
        dataclasses.replace(LinkConfig(), hub_cap=0)
    with pytest.raises(ConfigError, match=re.escape("unknown key 'link.key_weights.ipp'")):
        Config(link=LinkConfig(key_weights={"ipp": 1.0}))
    with pytest.raises(ConfigError, match=re.escape("columns.account_id and columns.ip")):
        Config(columns=ColumnsConfig(account_id="ip"))
    with pytest.raises(ConfigError, match=re.escape("detect.n_iterations")):
        dataclasses.replace(Config().detect, n_iterations=0)
    # numbers of either kind are taken where a float is wanted, and stored as floats
    assert LinkConfig(hub_c=5).hub_c == 5.0
    assert isinstance(LinkConfig(hub_c=5).hub_c, float)


def test_extra_keys_are_link_keys(tmp_path: Path) -> None:
    config = Config.from_dict(
        {
            "columns": {"extra_keys": ["device"]},
            "link": {"key_weights": {"device": 0.5}},
            "detect": {"split_keys": ["payment", "device"]},
        }
    )
    assert config.link.key_weights["device"] == 0.5
    with pytest.raises(ConfigError, match=r"the link keys are ip, .*, counterparty, time, device"):
        Config.from_dict({"columns": {"extra_keys": ["device"]}, "detect": {"split_keys": ["dev"]}})
    with pytest.raises(ConfigError, match=r"columns.extra_keys\[0\] and columns.extra_keys\[1\]"):
        Config.from_dict({"columns": {"extra_keys": ["device", "device"]}})
    with pytest.raises(ConfigError, match=r"columns.payment_id and columns.extra_keys\[0\]"):
        Config.from_dict({"columns": {"extra_keys": ["payment_id"]}})
    # an extra column named like a built-in key would pool its values with that key's
    with pytest.raises(ConfigError, match="'payment' is the name of a built-in link key"):
        Config.from_dict({"columns": {"extra_keys": ["payment"]}})
    # two keys whose names clean up alike would name the same columns of the links
    for keys, clash in [
        (["dev id", "dev_id"], r"extra_keys\[1\] = 'dev_id' and the key 'dev id'"),
        (["<b>x</b>", "b-x-b"], r"extra_keys\[1\] = 'b-x-b' and the key '<b>x</b>'"),
        (["IP"], r"extra_keys\[0\] = 'IP' and the key 'ip' would both name"),
    ]:
        with pytest.raises(ConfigError, match=clash):
            Config.from_dict({"columns": {"extra_keys": keys}})
    # an optional field left unmapped maps no column
    assert Config.from_dict({"columns": {"ip": "", "payment_id": ""}}).columns.ip == ""


@pytest.mark.parametrize("limit", ["4GB", "512MB", "2GiB", "80%", "1.5GB", " 4 gb", "100%"])
def test_memory_limit_taken(limit: str) -> None:
    assert Config.from_dict({"engine": {"memory_limit": limit}}).engine.memory_limit == limit


@pytest.mark.parametrize("limit", ["-5GB", "-1", "0GB", "150%", "4", "lots", "4PB", "4 GB x"])
def test_memory_limit_refused(limit: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"engine.memory_limit = {limit!r}")):
        Config.from_dict({"engine": {"memory_limit": limit}})


def test_files_must_exist(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("account_id,verdict\na1,sybil\n")
    assert Config(labels=str(labels)).labels == str(labels)
    # a Path is taken and kept as the string run.json writes
    assert Config(labels=labels).labels == str(labels)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=re.escape(f"labels = {str(tmp_path)!r}: is a folder")):
        Config(labels=str(tmp_path))
    with pytest.raises(ConfigError, match=r"direct_edges = '.*edges\.csv': no such file"):
        Config(direct_edges=str(tmp_path / "edges.csv"))


#: every numeric setting as a config file names it (section, key), sizes and weights too
NUMERIC = [
    (item.name, sub.name)
    for item in dataclasses.fields(Config)
    if dataclasses.is_dataclass(section := typing.get_type_hints(Config)[item.name])
    for sub in dataclasses.fields(section)
    if typing.get_type_hints(section)[sub.name] in (int, float)
]
SETTINGS = [
    *NUMERIC,
    ("", "seed"),
    ("engine", "memory_limit"),
    ("engine", "spark_driver_memory"),
    *[("link.key_weights", key) for key in ("ip", "ip_subnet", "payment", "prompt", "ipp")],
]

VALUES = st.one_of(
    st.integers(),
    st.integers(min_value=-3, max_value=130),  # near the bounds of the ranges
    st.floats(),  # nan, inf and negatives included
    st.floats(min_value=-2.0, max_value=2.0),
    st.integers(min_value=1, max_value=16),  # in range for most settings
    st.floats(min_value=0.01, max_value=1.0),
    st.text(max_size=8),
    st.sampled_from(["4GB", "-5GB", "80%", "150%", "0MB", ".5 GiB", "4g", "0g", "lots", ""]),
    st.booleans(),
    st.none(),
    st.lists(st.integers() | st.floats() | st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers() | st.floats(), max_size=2),
)


def _nested(values: dict[tuple[str, str], object]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for (section, key), value in values.items():
        table = data
        for part in filter(None, section.split(".")):
            table = table.setdefault(part, {})
        table[key] = value
    return data


def test_every_numeric_setting_is_in_the_property_test() -> None:
    sections = {section for section, _ in NUMERIC}
    assert sections == {"prompt", "link", "detect", "score", "engine", "export", "report"}
    assert ("link", "hub_c") in NUMERIC and ("export", "pages") in NUMERIC


@settings(max_examples=2000, deadline=None)
@given(st.dictionaries(st.sampled_from(SETTINGS), VALUES, min_size=1, max_size=2))
def test_any_value_gives_a_config_or_a_config_error(values: dict[tuple[str, str], object]) -> None:
    data = _nested(values)
    try:
        config = Config.from_dict(data)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("config: ") and "\n" not in message
        event("refused")
        return
    event("taken")
    # what is taken loads again to the same config, and survives a replace
    assert Config.from_dict(config.to_dict()) == config
    assert dataclasses.replace(config) == config
