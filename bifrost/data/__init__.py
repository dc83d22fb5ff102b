"""Market data: one bar schema validated on every way in, sources, and stores.

Typical use::

    from bifrost.data import open_store, ingest, CsvSource
    store = open_store()                                    # BIFROST_HOME, or PostgreSQL
    ingest(store, CsvSource("orcl.csv", symbol="ORCL"))     # validated, atomic
    store.read_panel(["ORCL"], "2010-01-01", adjustment="adjusted")["close"]
"""

from __future__ import annotations

from bifrost.config import Settings, load_settings
from bifrost.data._actions import record_actions, remove_actions
from bifrost.data._audit import AUDIT_SCHEMA, append_audit, append_audit_many
from bifrost.data._columns import (
    ADJUSTMENTS,
    FREQUENCIES,
    INTRADAY_FREQUENCIES,
    Adjustment,
    BarColumns,
    BarFrequency,
    Frequency,
    Panel,
    is_intraday,
    periods_per_year,
)
from bifrost.data._csv import CsvSource
from bifrost.data._embedded import EmbeddedStore
from bifrost.data._factors import read_fama_french
from bifrost.data._lobster import LobsterSource
from bifrost.data._quality import QualityReport, check_quality
from bifrost.data._reference import (
    REFERENCE_COLUMNS,
    SymbolReference,
    SymbolsReport,
    import_symbols,
    read_symbols,
    symbol_reference,
    tick_size,
)
from bifrost.data._report import IngestReport
from bifrost.data._schema import Migration, Schema, StateDb, register_schema
from bifrost.data._source import BarSource, ingest, load_bars
from bifrost.data._sqlite import DEFAULT_LOCK_TIMEOUT_S
from bifrost.data._store import BarStore, Store, StoreCheck, TransactionHook
from bifrost.data._synthetic import SyntheticMarket
from bifrost.data._validate import Issue, OnError, ValidatedBars, validate_bars
from bifrost.data._yahoo import YahooSource

__all__ = [
    "ADJUSTMENTS",
    "AUDIT_SCHEMA",
    "FREQUENCIES",
    "INTRADAY_FREQUENCIES",
    "REFERENCE_COLUMNS",
    "Adjustment",
    "BarColumns",
    "BarFrequency",
    "BarSource",
    "BarStore",
    "CsvSource",
    "EmbeddedStore",
    "Frequency",
    "IngestReport",
    "Issue",
    "LobsterSource",
    "Migration",
    "OnError",
    "Panel",
    "QualityReport",
    "Schema",
    "StateDb",
    "Store",
    "StoreCheck",
    "SymbolReference",
    "SymbolsReport",
    "SyntheticMarket",
    "TransactionHook",
    "ValidatedBars",
    "YahooSource",
    "append_audit",
    "append_audit_many",
    "check_quality",
    "import_symbols",
    "ingest",
    "is_intraday",
    "load_bars",
    "open_store",
    "periods_per_year",
    "read_fama_french",
    "read_symbols",
    "record_actions",
    "register_schema",
    "remove_actions",
    "symbol_reference",
    "tick_size",
    "validate_bars",
]


def open_store(settings: Settings | None = None, *, create: bool = True) -> BarStore:
    """Open the store the settings select: PostgreSQL if a database URL is set, else embedded.

    The object returned is a `Store` (packages above ``data`` type it so) and its own
    bars' part (a `BarStore`: ``ingest(store, ...)``, ``store.read_bars(...)``).

    Parameters
    ----------
    settings
        Default: `load_settings` (environment variables and ``bifrost.toml``); its
        ``lock_timeout_s`` and ``connect_timeout_s`` reach the store.
    create
        Create the store where there is none (the default, for writers). Read-only
        commands pass ``False``: a mistyped ``BIFROST_HOME`` or database then raises
        `StoreError` ("no store at ...") instead of creating an empty store there.

    Raises
    ------
    StoreError
        If the store cannot be opened (unreachable server: after the connect timeout),
        or ``create=False`` and there is none.
    """
    settings = settings or load_settings()
    lock_timeout_s = settings.lock_timeout_s or DEFAULT_LOCK_TIMEOUT_S
    if settings.database_url:
        from bifrost.data._postgres import DEFAULT_CONNECT_TIMEOUT_S, PostgresStore  # psycopg: an optional extra

        return PostgresStore(
            settings.database_url,
            home=settings.home,
            schema=settings.database_schema,
            create=create,
            lock_timeout_s=lock_timeout_s,
            connect_timeout_s=settings.connect_timeout_s or DEFAULT_CONNECT_TIMEOUT_S,
        )
    return EmbeddedStore(settings.home, create=create, lock_timeout_s=lock_timeout_s)
