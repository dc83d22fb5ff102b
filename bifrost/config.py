"""Settings: environment variables over an optional ``bifrost.toml`` over defaults.

``BIFROST_HOME`` (default ``./.bifrost``) holds the embedded store;
``BIFROST_DATABASE_URL`` (default unset) switches storage to PostgreSQL, into the schema
``BIFROST_DATABASE_SCHEMA`` (``database_schema``, default ``bifrost``).
``bifrost.toml`` is looked up in the working directory, or at ``BIFROST_CONFIG``::

    home = "/data/bifrost"
    database_url = "postgresql://user@host/db"

    [keys]
    alpaca_key_id = "..."
    risk_service_token = "..."

``max_backtests`` (``BIFROST_MAX_BACKTESTS``) and ``max_sweep_memory_mb``
(``BIFROST_MAX_SWEEP_MEMORY_MB``) bound the sweeps ``bifrost optimize`` runs (default: the
library's, one million backtests and half the machine's memory).

``lock_timeout_s`` (``BIFROST_LOCK_TIMEOUT``, default 120) is how long a writer waits for
another writer of the store before it gives up, naming the holder; ``connect_timeout_s``
(``BIFROST_CONNECT_TIMEOUT``, default 5) how long opening PostgreSQL waits for the server.

``broker`` (``BIFROST_BROKER``: ``paper``, the default, or ``alpaca``) is where orders go; the
Alpaca keys are ``[keys] alpaca_key_id`` and ``alpaca_secret_key`` (or ``BIFROST_ALPACA_KEY_ID``
and ``BIFROST_ALPACA_SECRET_KEY``, which win), and ``alpaca_base_url``
(``BIFROST_ALPACA_BASE_URL``, default Alpaca's paper API) picks paper or live trading.

``compliance_rules`` (``BIFROST_COMPLIANCE_RULES``) is the compliance rules file the order
manager applies; unset, ``<home>/compliance.toml`` when it exists, else the documented default
rule set (`bifrost.compliance.DEFAULT_RULES_TOML`). A relative path is taken from the working
directory.

A service's bearer token may also come from ``BIFROST_<SERVICE>_SERVICE_TOKEN`` (for
example ``BIFROST_RISK_SERVICE_TOKEN``), which wins over ``[keys] <service>_service_token``.

Nothing bifrost prints shows a secret: :func:`mask_secrets` replaces every password, token
and key in a URL, a ``key=value`` DSN or a message with ``***``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from bifrost._checks import as_finite_float, as_positive_int, quote
from bifrost.errors import ConfigError, InvalidInputError

__all__ = ["Settings", "load_settings", "mask_secrets"]

_KNOWN_TOP_LEVEL = frozenset(
    {
        "home", "database_url", "database_schema", "keys", "max_backtests", "max_sweep_memory_mb", "lock_timeout_s",
        "connect_timeout_s", "broker", "alpaca_base_url", "compliance_rules",
    }
)  # fmt: skip
BROKERS = ("paper", "alpaca")
_KEY_ENV = {"BIFROST_ALPACA_KEY_ID": "alpaca_key_id", "BIFROST_ALPACA_SECRET_KEY": "alpaca_secret_key"}
_SERVICE_TOKEN_ENV = re.compile(r"BIFROST_([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)_SERVICE_TOKEN")
MASK = "***"
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

# the names under which a secret travels: URL query parameters, libpq key=value pairs,
# environment assignments (passfile, sslkey and sslcert name files, not secrets)
_SECRET_NAMES = (
    r"(?:ssl)?password|pgpassword|passwd|pwd|secret|client_secret|token|access_token|api_?key|apikey"
    r"|secret_?key|access_?key|private_?key"
)
_SCHEME = r"[A-Za-z][A-Za-z0-9+.-]*://"
# userinfo: the user runs to the first ':', the password from there to the LAST '@' on the
# line (a host holds no '@'; a password may hold '@', ':', '/', '?', '#' or a space), never
# into the next URL; an '@' later on the line may over-mask, which never shows a secret
_URL_USERINFO = re.compile(rf"(?P<scheme>{_SCHEME})(?P<user>[^\s:/?#]*)(?P<password>:(?:(?!{_SCHEME})[^\r\n])*)?@")
_KEY_VALUE = re.compile(
    rf"(?i)(?<![\w.-])(?P<key>[\w.-]*(?:{_SECRET_NAMES}))(?P<eq>\s*=\s*|:\s+)"
    r"(?P<value>'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|[^\s&#;,'\"]+)"
)


def mask_secrets(text: str) -> str:
    """Return ``text`` with every credential in it replaced by ``***``.

    Masks the password of a URL's userinfo (``scheme://user:***@host``: the password runs
    from the first ``:`` to the last ``@`` on the line, so it may contain ``@ : / ? #`` or a
    space), secret query parameters
    (``?password=***``, ``sslpassword``, ``token``, ...) and secret ``key=value`` pairs of a
    libpq DSN (``host=h password=***``, quoted values included). Use it on anything shown
    that may hold settings: a URL, a DSN, an error message.

    Examples
    --------
    >>> mask_secrets("postgresql://bob:p@ss@h:5432/db?sslmode=require&password=x")
    'postgresql://bob:***@h:5432/db?sslmode=require&password=***'
    >>> mask_secrets("host=db user=u password='a b' dbname=x")
    'host=db user=u password=*** dbname=x'
    """

    def userinfo(match: re.Match[str]) -> str:
        return f"{match['scheme']}{match['user']}{':' + MASK if match['password'] is not None else ''}@"

    masked = _URL_USERINFO.sub(userinfo, text)
    return _KEY_VALUE.sub(lambda m: f"{m['key']}{m['eq']}{MASK}" if m["value"] else m[0], masked)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Effective settings of one bifrost process."""

    home: Path
    database_url: str | None = field(default=None, repr=False)
    database_schema: str = "bifrost"  # the PostgreSQL schema holding the store's tables
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    config_file: Path | None = None
    max_backtests: int | None = None  # None: the library's default bound
    max_sweep_memory_mb: int | None = None
    lock_timeout_s: float | None = None  # None: the store's default (120 s)
    connect_timeout_s: float | None = None  # None: the store's default (5 s)
    broker: str = "paper"  # where orders go: one of BROKERS
    alpaca_base_url: str | None = None  # None: Alpaca's paper trading API
    compliance_rules: Path | None = None  # None: <home>/compliance.toml if it exists, else the default rules

    def __repr__(self) -> str:
        # the generated repr would show the database password and every key
        url = mask_secrets(self.database_url) if self.database_url else None
        return (
            f"Settings(home={self.home!r}, database_url={url!r}, database_schema={self.database_schema!r}, "
            f"keys={sorted(self.keys)!r}, "
            f"config_file={self.config_file!r}, max_backtests={self.max_backtests!r}, "
            f"max_sweep_memory_mb={self.max_sweep_memory_mb!r}, lock_timeout_s={self.lock_timeout_s!r}, "
            f"connect_timeout_s={self.connect_timeout_s!r}, broker={self.broker!r}, "
            f"alpaca_base_url={self.alpaca_base_url!r}, compliance_rules={self.compliance_rules!r})"
        )

    @property
    def backend(self) -> str:
        """Return ``"postgres"`` when a database URL is set, else ``"embedded"``."""
        return "postgres" if self.database_url else "embedded"

    def masked(self) -> dict[str, str]:
        """Return the settings as strings with passwords and keys masked, for display."""
        shown = {
            "home": str(self.home),
            "backend": self.backend,
            "database_url": mask_secrets(self.database_url) if self.database_url else "(unset)",
            "database_schema": self.database_schema,
            "config_file": str(self.config_file) if self.config_file else "(none)",
            "max_backtests": "(default)" if self.max_backtests is None else f"{self.max_backtests:,}",
            "max_sweep_memory_mb": "(default)" if self.max_sweep_memory_mb is None else str(self.max_sweep_memory_mb),
            "lock_timeout_s": "(default)" if self.lock_timeout_s is None else f"{self.lock_timeout_s:g}",
            "connect_timeout_s": "(default)" if self.connect_timeout_s is None else f"{self.connect_timeout_s:g}",
            "broker": self.broker,
            "alpaca_base_url": "(Alpaca paper)" if self.alpaca_base_url is None else mask_secrets(self.alpaca_base_url),
            "compliance_rules": "(home/compliance.toml or the default)"
            if self.compliance_rules is None
            else str(self.compliance_rules),
        }
        for name in sorted(self.keys):
            shown[f"keys.{name}"] = f"{MASK} (set)" if self.keys[name] else "(empty)"
        return shown


def load_settings(environ: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``) and ``bifrost.toml``.

    Raises
    ------
    ConfigError
        If the TOML file is unreadable, has unknown keys, or a value has the wrong type.
    """
    env = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else cwd
    explicit = env.get("BIFROST_CONFIG")
    candidate = Path(explicit) if explicit else base / "bifrost.toml"
    config_file: Path | None = None
    table: dict[str, object] = {}
    if candidate.exists():
        config_file = candidate
        try:
            table = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{candidate}: cannot read settings: not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{candidate}: cannot read settings: {mask_secrets(str(exc))}") from exc
        unknown = sorted(set(table) - _KNOWN_TOP_LEVEL)
        if unknown:
            raise ConfigError(f"{candidate}: unknown setting(s) {unknown}; known: {sorted(_KNOWN_TOP_LEVEL)}")
    elif explicit:
        raise ConfigError(f"BIFROST_CONFIG points to {candidate}, which does not exist")

    home = env.get("BIFROST_HOME") or _str_setting(table, "home", config_file) or ".bifrost"
    url = env.get("BIFROST_DATABASE_URL") or _str_setting(table, "database_url", config_file)
    if url and not url.startswith(("postgresql://", "postgres://")):
        source = "BIFROST_DATABASE_URL" if env.get("BIFROST_DATABASE_URL") else f"{config_file}: database_url"
        raise ConfigError(f"{source} must start with postgresql://, got {mask_secrets(url)!r}")
    schema = env.get("BIFROST_DATABASE_SCHEMA") or _str_setting(table, "database_schema", config_file) or "bifrost"
    if not _SCHEMA_NAME.fullmatch(schema):
        source = "BIFROST_DATABASE_SCHEMA" if env.get("BIFROST_DATABASE_SCHEMA") else f"{config_file}: database_schema"
        raise ConfigError(
            f"{source} must be a PostgreSQL schema name (a letter or _, then letters, digits or _, at most 63), "
            f"got {schema!r}"
        )
    keys_raw = table.get("keys", {})
    if not isinstance(keys_raw, dict) or not all(isinstance(v, str) for v in keys_raw.values()):
        raise ConfigError(f"{config_file}: [keys] must be a table of strings")
    keys = dict(keys_raw)
    for variable, key in _KEY_ENV.items():
        if env.get(variable):
            keys[key] = env[variable]
    for name, value in env.items():
        matched = _SERVICE_TOKEN_ENV.fullmatch(name)
        if matched and value:
            keys[f"{matched[1].lower()}_service_token"] = value
    broker = env.get("BIFROST_BROKER") or _str_setting(table, "broker", config_file) or "paper"
    if broker not in BROKERS:
        source = "BIFROST_BROKER" if env.get("BIFROST_BROKER") else f"{config_file}: broker"
        raise ConfigError(f"{source} must be one of {list(BROKERS)}, got {quote(broker, 40)}")
    alpaca_url = env.get("BIFROST_ALPACA_BASE_URL") or _str_setting(table, "alpaca_base_url", config_file)
    if alpaca_url and not alpaca_url.startswith(("https://", "http://")):
        source = "BIFROST_ALPACA_BASE_URL" if env.get("BIFROST_ALPACA_BASE_URL") else f"{config_file}: alpaca_base_url"
        raise ConfigError(f"{source} must be an http(s) URL, got {mask_secrets(alpaca_url)!r}")
    home_path = Path(home)
    if not home_path.is_absolute():
        home_path = base / home_path
    rules = env.get("BIFROST_COMPLIANCE_RULES") or _str_setting(table, "compliance_rules", config_file)
    rules_path = None if not rules else Path(rules) if Path(rules).is_absolute() else base / rules
    return Settings(
        home=home_path,
        database_url=url or None,
        database_schema=schema,
        keys=MappingProxyType(keys),
        config_file=config_file,
        max_backtests=_setting(env, table, "max_backtests", config_file, _positive_int),
        max_sweep_memory_mb=_setting(env, table, "max_sweep_memory_mb", config_file, _positive_int),
        lock_timeout_s=_setting(env, table, "lock_timeout_s", config_file, _seconds, env_name="BIFROST_LOCK_TIMEOUT"),
        connect_timeout_s=_setting(
            env, table, "connect_timeout_s", config_file, _seconds, env_name="BIFROST_CONNECT_TIMEOUT"
        ),
        broker=broker,
        alpaca_base_url=alpaca_url or None,
        compliance_rules=rules_path,
    )


def _str_setting(table: Mapping[str, object], name: str, where: Path | None) -> str | None:
    value = table.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {name} must be a string, got {type(value).__name__}")
    return value


_T = TypeVar("_T")


def _setting(
    env: Mapping[str, str],
    table: Mapping[str, object],
    name: str,
    where: Path | None,
    parse: Callable[[object], _T],
    *,
    env_name: str | None = None,
) -> _T | None:
    # a setting from its environment variable (wins; BIFROST_<NAME> by default) or bifrost.toml, None when
    # unset, parsed by `parse`, whose InvalidInputError becomes a ConfigError naming where the value came from
    variable = env_name or f"BIFROST_{name.upper()}"
    raw: object = env.get(variable) or None
    source = variable
    if raw is None:
        raw, source = table.get(name), f"{where}: {name}"
        if raw is None:
            return None
    try:
        return parse(raw)
    except InvalidInputError as exc:
        raise ConfigError(f"{source} {exc}") from None


def _positive_int(raw: object) -> int:
    # a positive integer; text may group digits with _ (20_000)
    value: object = raw
    if isinstance(raw, str):
        try:
            value = int(raw.strip().replace("_", ""))
        except ValueError:
            value = None
    try:
        return as_positive_int(value, "setting")
    except InvalidInputError:
        raise InvalidInputError(f"must be a positive integer, got {quote(raw, 40)}") from None


def _seconds(raw: object) -> float:
    # a positive, finite number of seconds, at most a day
    value: object = raw
    if isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    try:
        out = as_finite_float(value, "setting", maximum=86_400.0)
    except InvalidInputError:
        out = 0.0
    if out <= 0:
        raise InvalidInputError(f"must be a number of seconds in (0, 86400], got {str(raw)[:40]!r}")
    return out
