"""Settings: environment variables over an optional ``bifrost.toml`` over defaults.

``BIFROST_HOME`` (default ``./.bifrost``) holds the embedded store;
``BIFROST_DATABASE_URL`` (default unset) switches storage to PostgreSQL.
``bifrost.toml`` is looked up in the working directory, or at ``BIFROST_CONFIG``::

    home = "/data/bifrost"
    database_url = "postgresql://user@host/db"

    [keys]
    alpaca_key_id = "..."
    risk_service_token = "..."

A service's bearer token may also come from ``BIFROST_<SERVICE>_SERVICE_TOKEN`` (for
example ``BIFROST_RISK_SERVICE_TOKEN``), which wins over ``[keys] <service>_service_token``.

Nothing bifrost prints shows a secret: :func:`mask_secrets` replaces every password, token
and key in a URL, a ``key=value`` DSN or a message with ``***``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from bifrost.errors import ConfigError

__all__ = ["Settings", "load_settings", "mask_secrets"]

_KNOWN_TOP_LEVEL = frozenset({"home", "database_url", "keys"})
_SERVICE_TOKEN_ENV = re.compile(r"BIFROST_([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)_SERVICE_TOKEN")
MASK = "***"

# the names under which a secret travels: URL query parameters, libpq key=value pairs,
# environment assignments (passfile, sslkey and sslcert name files, not secrets)
_SECRET_NAMES = (
    r"(?:ssl)?password|pgpassword|passwd|pwd|secret|client_secret|token|access_token|api_?key|apikey"
    r"|secret_?key|access_?key|private_?key"
)
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#]*)@")
_KEY_VALUE = re.compile(
    rf"(?i)(?<![\w.-])(?P<key>[\w.-]*(?:{_SECRET_NAMES}))(?P<eq>\s*=\s*|:\s+)"
    r"(?P<value>'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|[^\s&#;,'\"]+)"
)


def mask_secrets(text: str) -> str:
    """Return ``text`` with every credential in it replaced by ``***``.

    Masks the password of a URL's userinfo (``scheme://user:***@host``, the last ``@``
    before the host ends it, so a password may contain ``@``), secret query parameters
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
        user, sep, _ = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}{':' + MASK if sep else ''}@"

    masked = _URL_USERINFO.sub(userinfo, text)
    return _KEY_VALUE.sub(lambda m: f"{m['key']}{m['eq']}{MASK}" if m["value"] else m[0], masked)


_mask_url = mask_secrets  # the old private name, still imported by data/_postgres.py


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Effective settings of one bifrost process."""

    home: Path
    database_url: str | None = field(default=None, repr=False)
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    config_file: Path | None = None

    def __repr__(self) -> str:
        # the generated repr would show the database password and every key
        url = mask_secrets(self.database_url) if self.database_url else None
        return (
            f"Settings(home={self.home!r}, database_url={url!r}, keys={sorted(self.keys)!r}, "
            f"config_file={self.config_file!r})"
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
            "config_file": str(self.config_file) if self.config_file else "(none)",
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
        raise ConfigError(f"BIFROST_DATABASE_URL must start with postgresql://, got {mask_secrets(url)!r}")
    keys_raw = table.get("keys", {})
    if not isinstance(keys_raw, dict) or not all(isinstance(v, str) for v in keys_raw.values()):
        raise ConfigError(f"{config_file}: [keys] must be a table of strings")
    keys = dict(keys_raw)
    for name, value in env.items():
        matched = _SERVICE_TOKEN_ENV.fullmatch(name)
        if matched and value:
            keys[f"{matched[1].lower()}_service_token"] = value
    home_path = Path(home)
    if not home_path.is_absolute():
        home_path = base / home_path
    return Settings(
        home=home_path,
        database_url=url or None,
        keys=MappingProxyType(keys),
        config_file=config_file,
    )


def _str_setting(table: Mapping[str, object], name: str, where: Path | None) -> str | None:
    value = table.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {name} must be a string, got {type(value).__name__}")
    return value
