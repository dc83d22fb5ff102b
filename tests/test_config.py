from __future__ import annotations

from pathlib import Path

import pytest

from bifrost.config import load_settings, mask_secrets
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
    assert s.masked()["keys.alpaca"] == "*** (set)"  # no character of a secret is shown


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


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # URL userinfo: the password is masked whole, the last @ before the host ends it
        ("postgresql://u:s3cret@db/x", "postgresql://u:***@db/x"),
        ("postgresql://:S3cr3tPW@h/db", "postgresql://:***@h/db"),
        ("postgresql://bob:p@ss@h/db", "postgresql://bob:***@h/db"),
        ("postgresql://u@db/x", "postgresql://u@db/x"),
        # a password holding #, ?, /, a space, or @ and : together: masked to the last @
        ("postgresql://u:p#ss@127.0.0.1:1/x", "postgresql://u:***@127.0.0.1:1/x"),
        ("postgresql://u:p?ss@127.0.0.1:1/x", "postgresql://u:***@127.0.0.1:1/x"),
        ("postgresql://u:p/ss@127.0.0.1:1/x", "postgresql://u:***@127.0.0.1:1/x"),
        ("postgresql://u:p ss@127.0.0.1:1/x", "postgresql://u:***@127.0.0.1:1/x"),
        ("postgresql://u:p@ss:w/rd@host/x", "postgresql://u:***@host/x"),
        # two URLs on a line are masked each; the next line is not touched
        (
            "a postgresql://a:x1@h1/db b postgresql://b:y2@h2/db\nmail me@example.com",
            "a postgresql://a:***@h1/db b postgresql://b:***@h2/db\nmail me@example.com",
        ),
        # query parameters
        (
            "postgresql://127.0.0.1:5432/db?user=postgres&password=S3cr3tPW",
            "postgresql://127.0.0.1:5432/db?user=postgres&password=***",
        ),
        (
            "postgresql://h/db?sslmode=require&sslpassword=k3y&passfile=/x",
            "postgresql://h/db?sslmode=require&sslpassword=***&passfile=/x",
        ),
        # libpq key=value DSNs, quoted or not, and messages that quote them
        ("host=h port=5432 password=S3cr3tPW dbname=x", "host=h port=5432 password=*** dbname=x"),
        ("host=h password='a b\\' c' dbname=x", "host=h password=*** dbname=x"),
        ("connection to host=h PASSWORD = S3cr3tPW failed", "connection to host=h PASSWORD = *** failed"),
        ("token: abc123 was refused", "token: *** was refused"),
    ],
)
def test_mask_secrets_every_form_of_credential_is_masked(text: str, shown: str) -> None:
    assert mask_secrets(text) == shown


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://127.0.0.1:5432/db?user=postgres&password=S3cr3tPW",
        "postgresql://:S3cr3tPW@h/db",
        "postgresql://bob:S3cr3tPW@ss@h/db",
        "postgresql://u:S3cr3tPW#ss@127.0.0.1:1/x",
        "postgresql://u:S3cr3tPW?ss@127.0.0.1:1/x",
        "postgresql://u:S3cr3tPW/ss@127.0.0.1:1/x",
        "postgresql://u:S3cr3tPW ss@127.0.0.1:1/x",
    ],
)
def test_config_masked_and_repr_show_no_password(tmp_path: Path, url: str) -> None:
    s = load_settings({"BIFROST_DATABASE_URL": url}, cwd=tmp_path)
    assert "S3cr3tPW" not in str(s.masked()) and "S3cr3tPW" not in repr(s)


def test_config_dsn_of_another_scheme_is_masked_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must start with postgresql://") as caught:
        load_settings({"BIFROST_DATABASE_URL": "host=db password=S3cr3tPW"}, cwd=tmp_path)
    assert "S3cr3tPW" not in str(caught.value)


def test_config_service_token_comes_from_the_environment_over_toml(tmp_path: Path) -> None:
    (tmp_path / "bifrost.toml").write_text('[keys]\nrisk_service_token = "from-toml"\n')
    assert load_settings({}, cwd=tmp_path).keys["risk_service_token"] == "from-toml"
    env = {"BIFROST_RISK_SERVICE_TOKEN": "from-env-0123456789", "BIFROST_ML_SIGNALS_SERVICE_TOKEN": "t2"}
    s = load_settings(env, cwd=tmp_path)
    assert s.keys["risk_service_token"] == "from-env-0123456789" and s.keys["ml_signals_service_token"] == "t2"
    assert s.masked()["keys.risk_service_token"] == "*** (set)" and "0123" not in str(s.masked())


def test_config_toml_not_utf8_raises_config_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "bifrost.toml").write_bytes('home = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"bifrost\.toml: cannot read settings: not UTF-8 text"):
        load_settings({}, cwd=tmp_path)


def test_installed_bentoml_is_the_modern_product() -> None:
    # an unpinned resolve silently installs bentoml 0.5.3 (2019), a different product
    import bentoml

    assert int(bentoml.__version__.split(".")[0]) >= 1


def test_config_sweep_bounds_come_from_env_over_toml(tmp_path: Path) -> None:
    (tmp_path / "bifrost.toml").write_text("max_backtests = 5000\nmax_sweep_memory_mb = 2048\n")
    s = load_settings({}, cwd=tmp_path)
    assert (s.max_backtests, s.max_sweep_memory_mb) == (5000, 2048)
    assert load_settings({"BIFROST_MAX_BACKTESTS": "20_000"}, cwd=tmp_path).max_backtests == 20_000
    assert load_settings({}, cwd=tmp_path / "nowhere").max_backtests is None  # the library's default


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("max_backtests = 0\n", {}, r"bifrost\.toml: max_backtests must be a positive integer, got 0"),
        ("max_backtests = 'many'\n", {}, "max_backtests must be a positive integer, got 'many'"),
        ("", {"BIFROST_MAX_SWEEP_MEMORY_MB": "1e400"}, "BIFROST_MAX_SWEEP_MEMORY_MB must be a positive integer"),
    ],
)
def test_config_bad_sweep_bound_raises_config_error(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    (tmp_path / "bifrost.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(env, cwd=tmp_path)


def test_config_bad_url_in_the_toml_names_the_file_not_the_variable(tmp_path: Path) -> None:
    (tmp_path / "bifrost.toml").write_text('database_url = "mysql://u:S3cr3tPW@h/db"\n')
    with pytest.raises(ConfigError, match=r"bifrost\.toml: database_url must start with postgresql://") as caught:
        load_settings({}, cwd=tmp_path)
    assert "S3cr3tPW" not in str(caught.value)


@pytest.mark.parametrize(
    ("toml", "env", "expected"),
    [
        ("lock_timeout_s = 2.5\n", {}, 2.5),
        ("lock_timeout_s = 7\n", {"BIFROST_LOCK_TIMEOUT": "0.25"}, 0.25),  # the environment wins
        ("", {"BIFROST_LOCK_TIMEOUT": "86400"}, 86_400.0),
    ],
)
def test_config_lock_timeout_is_seconds_from_env_over_toml(
    tmp_path: Path, toml: str, env: dict[str, str], expected: float
) -> None:
    (tmp_path / "bifrost.toml").write_text(toml)
    assert load_settings(env, cwd=tmp_path).lock_timeout_s == expected


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        (
            "lock_timeout_s = 0\n",
            {},
            r"bifrost\.toml: lock_timeout_s must be a number of seconds in \(0, 86400\], got '0'",
        ),
        ("lock_timeout_s = true\n", {}, r"lock_timeout_s must be a number of seconds in \(0, 86400\], got 'True'"),
        (
            "",
            {"BIFROST_CONNECT_TIMEOUT": "nan"},
            r"BIFROST_CONNECT_TIMEOUT must be a number of seconds in \(0, 86400\]",
        ),
        ("", {"BIFROST_LOCK_TIMEOUT": "86401"}, r"BIFROST_LOCK_TIMEOUT must be a number of seconds"),
        ("", {"BIFROST_MAX_BACKTESTS": "true"}, "BIFROST_MAX_BACKTESTS must be a positive integer, got 'true'"),
        ("max_backtests = 2.0\n", {}, "max_backtests must be a positive integer, got 2.0"),
    ],
)
def test_config_bad_numeric_setting_is_a_config_error_naming_its_source(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    (tmp_path / "bifrost.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(env, cwd=tmp_path)


def test_settings_database_schema_default_env_and_toml(tmp_path: Path) -> None:
    assert load_settings({}, cwd=tmp_path).database_schema == "bifrost"
    assert load_settings({"BIFROST_DATABASE_SCHEMA": "desk_2"}, cwd=tmp_path).database_schema == "desk_2"
    (tmp_path / "bifrost.toml").write_text('database_schema = "from_toml"\n')
    assert load_settings({}, cwd=tmp_path).database_schema == "from_toml"
    assert load_settings({}, cwd=tmp_path).masked()["database_schema"] == "from_toml"


@pytest.mark.parametrize("bad", ["1desk", "desk-2", "a b", "x" * 64, 'b"; drop'])
def test_settings_database_schema_not_an_identifier_raises_config_error(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match="BIFROST_DATABASE_SCHEMA must be a PostgreSQL schema name"):
        load_settings({"BIFROST_DATABASE_SCHEMA": bad}, cwd=tmp_path)


def test_settings_broker_defaults_to_paper_and_comes_from_env_over_toml(tmp_path: Path) -> None:
    assert load_settings({}, cwd=tmp_path).broker == "paper"
    (tmp_path / "bifrost.toml").write_text('broker = "alpaca"\nalpaca_base_url = "https://api.alpaca.markets"\n')
    settings = load_settings({}, cwd=tmp_path)
    assert (settings.broker, settings.alpaca_base_url) == ("alpaca", "https://api.alpaca.markets")
    assert load_settings({"BIFROST_BROKER": "paper"}, cwd=tmp_path).broker == "paper"


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("", {"BIFROST_BROKER": "ib"}, r"BIFROST_BROKER must be one of \['paper', 'alpaca'\], got 'ib'"),
        ('broker = "Paper"\n', {}, r"bifrost.toml: broker must be one of"),
        ("broker = 1\n", {}, r"broker must be a string, got int"),
        ('alpaca_base_url = "ftp://x"\n', {}, r"bifrost.toml: alpaca_base_url must be an http\(s\) URL"),
    ],
)
def test_settings_bad_broker_setting_raises_config_error_naming_its_source(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    (tmp_path / "bifrost.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(env, cwd=tmp_path)


def test_settings_alpaca_keys_come_from_env_over_toml_and_are_never_shown(tmp_path: Path) -> None:
    (tmp_path / "bifrost.toml").write_text('[keys]\nalpaca_key_id = "PKTOML"\nalpaca_secret_key = "s3cr3t-toml"\n')
    settings = load_settings({"BIFROST_ALPACA_SECRET_KEY": "s3cr3t-env"}, cwd=tmp_path)
    assert settings.keys["alpaca_key_id"] == "PKTOML"
    assert settings.keys["alpaca_secret_key"] == "s3cr3t-env"
    shown = repr(settings) + repr(settings.masked())
    assert "s3cr3t" not in shown and "PKTOML" not in shown


def test_load_settings_compliance_rules_from_env_and_toml_relative_to_the_working_directory(tmp_path: Path) -> None:
    assert load_settings({}, cwd=tmp_path).compliance_rules is None
    (tmp_path / "bifrost.toml").write_text('compliance_rules = "rules/firm.toml"\n')
    assert load_settings({}, cwd=tmp_path).compliance_rules == tmp_path / "rules" / "firm.toml"
    chosen = load_settings({"BIFROST_COMPLIANCE_RULES": "/etc/firm.toml"}, cwd=tmp_path)
    assert chosen.compliance_rules == Path("/etc/firm.toml")  # the environment wins
    assert chosen.masked()["compliance_rules"] == "/etc/firm.toml"
