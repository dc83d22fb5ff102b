"""Each package's tables, declared next to its code, and the one runner that applies them.

A package declares its `Schema` once: its name, its append-only `Migration`\\ s and the
schemas it needs first (risk's tables reference portfolio's). The SQL is written once for
both backends: ``{t}`` before every table name (the embedded store's SQLite has none,
PostgreSQL its ``"schema".``) and a few tokens where the dialects differ (SQLite / PostgreSQL):

- ``{id}``: ``INTEGER PRIMARY KEY AUTOINCREMENT`` / ``bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY``
- ``{now}`` (a default): ISO 8601 text from ``strftime`` / ``now()``
- ``{timestamp}``: ``TEXT`` (ISO 8601) / ``timestamptz``
- ``{bool}``: ``INTEGER`` / ``boolean``; ``{float}``: ``REAL`` / ``float8``; ``{bigint}``: ``INTEGER`` / ``bigint``

`apply_schema` applies a schema's pending migrations in order, each in its own write
transaction under the lock ``schema:<package>``, and records each in ``bifrost_schema
(package, version, applied)``; a store whose recorded version of a package is above what
this bifrost knows is refused with `SchemaVersionError`. It runs when a store opens (the
bars' own tables, then every schema registered with `register_schema` so far) and the
first time a store object opens a transaction with a schema it has not applied yet
(`BarStore.transaction`). A store already current takes no write lock.

Stores written before per-package versions (up to 0cbe074: one store-wide
``schema_version`` of 1..3) are upgraded in place: a package whose tables that version
already had declares it as ``legacy`` and is recorded at its first version without running
it. The store then marks ``schema_version`` with `LEGACY_HANDOVER`, so that an older bifrost
refuses the store ("written by a newer bifrost") instead of misreading it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bifrost.errors import InvalidInputError, SchemaVersionError

__all__ = [
    "LEGACY_HANDOVER",
    "LEGACY_LATEST",
    "Begin",
    "Dialect",
    "Migration",
    "Schema",
    "StateDb",
    "apply_schema",
    "check_legacy",
    "legacy_version",
    "open_schema",
    "register_schema",
    "registered_schemas",
    "render",
]

Dialect = Literal["sqlite", "postgres"]
LEGACY_LATEST = 3  # the last store-wide schema_version (portfolio: 2, risk: 3)
LEGACY_HANDOVER = 4  # schema_version's mark: versions are kept per package in bifrost_schema

_TOKENS: dict[Dialect, dict[str, str]] = {
    "sqlite": {
        "{id}": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "{now}": "(strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
        "{timestamp}": "TEXT",
        "{bool}": "INTEGER",
        "{float}": "REAL",
        "{bigint}": "INTEGER",
    },
    "postgres": {
        "{id}": "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "{now}": "now()",
        "{timestamp}": "timestamptz",
        "{bool}": "boolean",
        "{float}": "float8",
        "{bigint}": "bigint",
    },
}
_TOKEN_RE = re.compile(r"\{[a-z_]*\}")
_PACKAGE_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")


class StateDb:
    """One connection in one transaction, with ``?`` placeholders and ``{t}`` on both backends.

    ``lock`` and ``read_only`` say how the transaction was opened (a hook reads them);
    `before_commit` registers a callable run inside the transaction, just before it commits.
    """

    def __init__(self, cursor: Any, prefix: str, dialect: Dialect, *, lock: str | None, read_only: bool) -> None:
        self._cur = cursor
        self._prefix = prefix
        self.dialect: Dialect = dialect
        self.lock = lock
        self.read_only = read_only
        self._before_commit: list[Callable[[StateDb], None]] = []

    @property
    def postgres(self) -> bool:
        """True on PostgreSQL (``%s`` placeholders, ``"schema".`` prefix)."""
        return self.dialect == "postgres"

    def _sql(self, text: str) -> str:
        text = text.replace("{t}", self._prefix)
        return text.replace("?", "%s") if self.postgres else text

    def rows(self, text: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run a query and return all its rows."""
        self._cur.execute(self._sql(text), tuple(params))
        return list(self._cur.fetchall())

    def run(self, text: str, params: Sequence[object] = ()) -> None:
        """Run one statement."""
        self._cur.execute(self._sql(text), tuple(params))

    def many(self, text: str, params: Sequence[Sequence[object]]) -> None:
        """Run one statement for each parameter row."""
        self._cur.executemany(self._sql(text), [tuple(p) for p in params])

    def script(self, text: str) -> None:
        """Run the ``;``-separated statements of portable DDL (tokens substituted, no parameters)."""
        for statement in filter(str.strip, render(text, self.dialect).split(";")):
            self._cur.execute(self._sql(statement.strip()))

    def table_exists(self, name: str) -> bool:
        """Return True if table ``name`` (without prefix) exists."""
        if self.postgres:
            found = self.rows("SELECT to_regclass(?)", (f"{self._prefix}{name}",))
            return bool(found and found[0][0] is not None)
        return bool(self.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def before_commit(self, hook: Callable[[StateDb], None]) -> None:
        """Run ``hook(self)`` inside this transaction just before it commits.

        What the hook writes commits with the transaction or is rolled back with it; an
        exception from the hook rolls the whole transaction back. Refused on a read-only one.
        """
        if self.read_only:
            raise InvalidInputError("a read-only transaction has nothing to commit: before_commit needs a write")
        self._before_commit.append(hook)

    def _run_before_commit(self) -> None:
        while self._before_commit:  # a hook may register another
            self._before_commit.pop(0)(self)


def render(text: str, dialect: Dialect) -> str:
    """Substitute the dialect tokens of portable DDL (``{t}`` is left to `StateDb`)."""
    for token, value in _TOKENS[dialect].items():
        text = text.replace(token, value)
    return text


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of a package's schema: portable DDL, or a callable for what SQL cannot say.

    ``sql`` is run statement by statement (see the module's tokens); ``run`` receives the
    migration's `StateDb` (the PostgreSQL bars table, which depends on TimescaleDB). A
    released migration never changes: a new one is appended.
    """

    version: int
    sql: str = ""
    run: Callable[[StateDb], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise InvalidInputError(f"a migration's version is an integer >= 1, got {self.version!r}")
        if bool(self.sql.strip()) == (self.run is not None):
            raise InvalidInputError(f"migration {self.version} needs exactly one of sql or run")
        unknown = sorted(set(_TOKEN_RE.findall(self.sql)) - {"{t}", *_TOKENS["sqlite"]})
        if unknown:
            raise InvalidInputError(
                f"migration {self.version} uses unknown token(s) {unknown}; known: {['{t}', *_TOKENS['sqlite']]}"
            )


@dataclass(frozen=True, slots=True)
class Schema:
    """A package's tables: its migrations in order (1, 2, ...) and the schemas it needs first.

    ``legacy`` is the store-wide ``schema_version`` (1..3, before per-package versions) from
    which a store already has this package's migration 1; None for a package born later.
    """

    package: str
    migrations: tuple[Migration, ...]
    requires: tuple[Schema, ...] = ()
    legacy: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.package, str) or _PACKAGE_RE.fullmatch(self.package) is None:
            raise InvalidInputError(f"a schema's package is a lower-case identifier, got {self.package!r}")
        versions = [m.version for m in self.migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise InvalidInputError(f"schema {self.package!r}: migrations must be numbered 1, 2, ..., got {versions}")
        if self.legacy is not None and not 1 <= self.legacy <= LEGACY_LATEST:
            raise InvalidInputError(f"schema {self.package!r}: legacy is 1..{LEGACY_LATEST} or None, got {self.legacy}")

    @property
    def version(self) -> int:
        """The latest version this bifrost knows."""
        return len(self.migrations)

    def in_order(self) -> Iterator[Schema]:
        """Yield the schemas this one requires (depth first), then itself, each once."""
        seen: set[str] = set()

        def walk(schema: Schema) -> Iterator[Schema]:
            for needed in schema.requires:
                yield from walk(needed)
            if schema.package not in seen:
                seen.add(schema.package)
                yield schema

        yield from walk(self)


_REGISTERED: dict[str, Schema] = {}


def register_schema(schema: Schema) -> Schema:
    """Make ``schema`` known to every store this process opens from now on; return it.

    A package registers its schema where it declares it, so that a store opened after the
    package was imported is migrated when it opens (a later read-only transaction then
    never waits for a writer to migrate); a store already open applies it on its first
    transaction with it.
    """
    known = _REGISTERED.setdefault(schema.package, schema)
    if known != schema:  # the same declaration again (a reloaded module) is the same schema
        raise InvalidInputError(f"schema {schema.package!r} is already declared, with other migrations")
    return schema


def registered_schemas() -> tuple[Schema, ...]:
    """Return the schemas registered so far, in registration order."""
    return tuple(_REGISTERED.values())


class Begin(Protocol):
    """Open a transaction on the store: a write under ``lock``, or a read-only snapshot."""

    def __call__(self, *, lock: str | None, read_only: bool) -> AbstractContextManager[StateDb]: ...


_VERSIONS_DDL = """
CREATE TABLE IF NOT EXISTS {t}bifrost_schema (
    package TEXT NOT NULL, version INTEGER NOT NULL, applied {timestamp} NOT NULL DEFAULT {now},
    PRIMARY KEY (package, version)
)
"""


def legacy_version(db: StateDb, *, upto: int | None = None) -> int:
    """Return the store-wide ``schema_version`` (0: none), counting only versions up to ``upto``."""
    if not db.table_exists("schema_version"):
        return 0
    found = db.rows("SELECT max(version) FROM {t}schema_version WHERE version <= ?", (upto or 1 << 62,))
    return int(found[0][0] or 0) if found else 0


def check_legacy(version: int, where: str) -> None:
    """Raise `SchemaVersionError` for a store-wide ``schema_version`` this bifrost does not know."""
    if version > LEGACY_HANDOVER:
        raise SchemaVersionError(
            f"{where}: schema version {version} was written by a newer bifrost "
            f"(this one knows up to {LEGACY_HANDOVER}); upgrade bifrost to open it"
        )


def apply_schema(begin: Begin, schema: Schema, where: str) -> None:
    """Apply ``schema`` (and the schemas it requires, first) up to its latest version.

    A read-only look first: a store already at the latest version takes no write lock.
    Each pending migration runs in its own write transaction under the lock
    ``schema:<package>``, after reading the version again inside it (another process may
    have migrated meanwhile). ``where`` names the store in messages.

    Raises
    ------
    SchemaVersionError
        If the store records a version of a package above what this bifrost knows.
    StoreError
        If the store cannot be written (locked past the timeout, disk full).
    """
    for part in schema.in_order():
        with begin(lock=None, read_only=True) as db:
            current = _recorded(db, part.package) if db.table_exists("bifrost_schema") else 0
        _check_not_newer(part, current, where)
        if current < part.version:
            _migrate(begin, part, where)


def open_schema(begin: Begin, schema: Schema, where: str, *, handover: str) -> None:
    """Apply a backend's own ``schema`` when a store opens, upgrading a store-wide ``schema_version``.

    A store whose ``schema_version`` is above `LEGACY_HANDOVER` is refused; one below it
    (older, or new) gets the mark by ``handover``, portable DDL that inserts it.
    """
    with begin(lock=None, read_only=True) as db:
        legacy = legacy_version(db)
    check_legacy(legacy, where)
    apply_schema(begin, schema, where)
    if legacy < LEGACY_HANDOVER:
        with begin(lock=f"schema:{schema.package}", read_only=False) as db:
            if legacy_version(db) < LEGACY_HANDOVER:
                db.script(handover)


def _migrate(begin: Begin, schema: Schema, where: str) -> None:
    for migration in schema.migrations:
        with begin(lock=f"schema:{schema.package}", read_only=False) as db:
            db.script(_VERSIONS_DDL)
            current = _recorded(db, schema.package)
            _check_not_newer(schema, current, where)
            if current == 0 and schema.legacy is not None and legacy_version(db, upto=LEGACY_LATEST) >= schema.legacy:
                # written by a bifrost that kept one store-wide version: migration 1 is there
                db.run("INSERT INTO {t}bifrost_schema (package, version) VALUES (?, 1)", (schema.package,))
                current = 1
            if migration.version <= current:
                continue
            if migration.run is not None:
                migration.run(db)
            else:
                db.script(migration.sql)
            db.run(
                "INSERT INTO {t}bifrost_schema (package, version) VALUES (?, ?)", (schema.package, migration.version)
            )


def _recorded(db: StateDb, package: str) -> int:
    found = db.rows("SELECT max(version) FROM {t}bifrost_schema WHERE package = ?", (package,))
    return int(found[0][0] or 0) if found else 0


def _check_not_newer(schema: Schema, current: int, where: str) -> None:
    if current > schema.version:
        raise SchemaVersionError(
            f"{where}: the {schema.package} tables are at schema version {current}, written by a newer bifrost "
            f"(this one knows up to {schema.version}); upgrade bifrost to open it"
        )
