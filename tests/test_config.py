"""Config: TOML and dicts in, unknown keys and wrong types refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from sybilgraph.config import Config, LinkConfig
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
        ({"detect": {"join_density": 1.5}}, "detect.join_density must be between 0 and 1"),
        ({"detect": {"split_keys": "payment"}}, "detect.split_keys must be a list"),
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
