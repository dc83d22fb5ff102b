"""Settings: environment variables over an optional ``bifrost.toml`` over defaults.

``BIFROST_HOME`` (default ``./.bifrost``) holds the embedded store;
``BIFROST_DATABASE_URL`` (default unset) switches storage to PostgreSQL.
``bifrost.toml`` is looked up in the working directory, or at ``BIFROST_CONFIG``::

    home = "/data/bifrost"
    database_url = "postgresql://user@host/db"

    [keys]
    alpaca_key_id = "..."
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

__all__ = ["Settings", "load_settings"]

_KNOWN_TOP_LEVEL = frozenset({"home", "database_url", "keys"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Effective settings of one bifrost process."""

    home: Path
    database_url: str | None = None
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    config_file: Path | None = None

    @property
    def backend(self) -> str:
        """Return ``"postgres"`` when a database URL is set, else ``"embedded"``."""
        return "postgres" if self.database_url else "embedded"

    def masked(self) -> dict[str, str]:
        """Return the settings as strings with passwords and keys masked, for display."""
        shown = {
            "home": str(self.home),
            "backend": self.backend,
            "database_url": _mask_url(self.database_url) if self.database_url else "(unset)",
            "config_file": str(self.config_file) if self.config_file else "(none)",
        }
        for name, value in sorted(self.keys.items()):
            shown[f"keys.{name}"] = _mask_secret(value)
        return shown


def _mask_url(url: str) -> str:
    # postgresql://user:secret@host/db -> postgresql://user:***@host/db
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _mask_secret(value: str) -> str:
    return "***" if len(value) <= 8 else value[:2] + "***" + value[-2:]


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
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{candidate}: cannot read settings: {exc}") from exc
        unknown = sorted(set(table) - _KNOWN_TOP_LEVEL)
        if unknown:
            raise ConfigError(f"{candidate}: unknown setting(s) {unknown}; known: {sorted(_KNOWN_TOP_LEVEL)}")
    elif explicit:
        raise ConfigError(f"BIFROST_CONFIG points to {candidate}, which does not exist")

    home = env.get("BIFROST_HOME") or _str_setting(table, "home", config_file) or ".bifrost"
    url = env.get("BIFROST_DATABASE_URL") or _str_setting(table, "database_url", config_file)
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"BIFROST_DATABASE_URL must start with postgresql://, got {_mask_url(url)!r}")
    keys_raw = table.get("keys", {})
    if not isinstance(keys_raw, dict) or not all(isinstance(v, str) for v in keys_raw.values()):
        raise ConfigError(f"{config_file}: [keys] must be a table of strings")
    home_path = Path(home)
    if not home_path.is_absolute():
        home_path = base / home_path
    return Settings(
        home=home_path,
        database_url=url or None,
        keys=MappingProxyType(dict(keys_raw)),
        config_file=config_file,
    )


def _str_setting(table: Mapping[str, object], name: str, where: Path | None) -> str | None:
    value = table.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {name} must be a string, got {type(value).__name__}")
    return value
