from __future__ import annotations

from pathlib import Path

import pytest

from bifrost.config import load_settings
from bifrost.errors import ConfigError


def test_config_defaults_to_embedded_under_dot_bifrost(tmp_path: Path) -> None:
    s = load_settings({}, cwd=tmp_path)
    assert s.home == tmp_path / ".bifrost" and s.backend == "embedded" and s.database_url is None


def test_config_environment_overrides_toml(tmp_path: Path) -> None:
    (tmp_path / "bifrost.toml").write_text(
        'home = "from-toml"\ndatabase_url = "postgresql://a@b/c"\n[keys]\nalpaca = "abcdefghijkl"\n'
    )
    s = load_settings({"BIFROST_HOME": "/data/x"}, cwd=tmp_path)
    assert s.home == Path("/data/x") and s.database_url == "postgresql://a@b/c" and s.backend == "postgres"
    assert s.masked()["keys.alpaca"] == "ab***kl"


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("hme = 'x'\n", {}, r"unknown setting\(s\) \['hme'\]"),
        ("home = 3\n", {}, "home must be a string"),
        ("home = \n", {}, "cannot read settings"),
        ("", {"BIFROST_DATABASE_URL": "mysql://x"}, "must start with postgresql://"),
        ("", {"BIFROST_CONFIG": "/nonexistent/b.toml"}, "does not exist"),
    ],
)
def test_config_bad_settings_raise_config_error(tmp_path: Path, toml: str, env: dict[str, str], message: str) -> None:
    if toml:
        (tmp_path / "bifrost.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(env, cwd=tmp_path)


def test_installed_bentoml_is_the_modern_product() -> None:
    # an unpinned resolve silently installs bentoml 0.5.3 (2019), a different product
    import bentoml

    assert int(bentoml.__version__.split(".")[0]) >= 1
