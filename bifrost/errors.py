"""The one exception tree of bifrost.

::

    BifrostError
    ├── ConfigError                    bad settings or bifrost.toml
    ├── InvalidInputError (ValueError) a caller passed a bad argument
    │   ├── TransactionRejected        a ledger refused a transaction; nothing changed
    │   ├── RulesFileError             a compliance rules file is malformed (its line and key named)
    │   └── InsufficientDataError      too little or degenerate history for the estimate asked
    ├── NotFoundError (LookupError)    a named thing (portfolio, symbol, job, order) does not exist
    ├── DataError
    │   ├── SchemaError                missing, misnamed or unexpected columns
    │   ├── ValidationError            bad rows (carries the list of issues)
    │   ├── DataSourceError            a source (file, Yahoo, ...) failed or is unreachable
    │   └── SymbolNotFoundError        the store has no bars for a symbol (also a NotFoundError)
    ├── StoreError                     the store cannot be opened, migrated or written
    │   ├── SchemaVersionError         the store was written by a newer bifrost
    │   └── SchedulerLockedError       another job scheduler holds the store's scheduler lease
    ├── ChainFailedError               a step of a chain of jobs (the daily pipeline) did not succeed
    ├── InvalidTransitionError         an order event not allowed in the order's state; the order is unchanged
    │   └── DuplicateFillError         a fill whose trade id the order already applied
    ├── BrokerError                    a broker refused a request or failed (the broker and the call named)
    │   └── BrokerUnavailableError     timed out, 5xx or unreachable: the outcome of the call is unknown
    ├── ReconciliationError            the book and the broker differ in a way nothing explains: trading refused
    ├── AuditError                     the audit trail cannot be verified or proved as asked
    └── LookaheadError                 a strategy's past signals change when the future is cut off

Every message says what was expected, what arrived and where (file, line, symbol, field).
Recoverable data issues are warnings (`DataQualityWarning`), never silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "AuditError",
    "BifrostError",
    "BrokerError",
    "BrokerUnavailableError",
    "ChainFailedError",
    "ConfigError",
    "DataError",
    "DataQualityWarning",
    "DataSourceError",
    "DuplicateFillError",
    "InsufficientDataError",
    "InvalidInputError",
    "InvalidTransitionError",
    "LookaheadError",
    "NotFoundError",
    "ReconciliationError",
    "RowIssue",
    "RulesFileError",
    "SchedulerLockedError",
    "SchemaError",
    "SchemaVersionError",
    "StoreError",
    "SymbolNotFoundError",
    "TransactionRejected",
    "ValidationError",
]


class BifrostError(Exception):
    """Root of every error bifrost raises on purpose."""


class ConfigError(BifrostError):
    """Settings or ``bifrost.toml`` are invalid."""


class InvalidInputError(BifrostError, ValueError):
    """An argument passed to a public function is invalid."""


class TransactionRejected(InvalidInputError):
    """A portfolio ledger refused a transaction; the ledger is unchanged."""


class RulesFileError(InvalidInputError):
    """A compliance rules file (``compliance.toml``) is malformed; the message names its line and key."""


class InsufficientDataError(InvalidInputError):
    """Too little history, or history too degenerate (constant, all missing), for the estimate asked."""


class NotFoundError(BifrostError, LookupError):
    """A named thing (a portfolio, a symbol, a job, an order) does not exist."""


class DataError(BifrostError):
    """Market data is missing, malformed or inconsistent."""


class SchemaError(DataError):
    """A frame or file lacks required columns, or has columns bifrost does not know."""


class RowIssue(Protocol):
    """One problem in one row, as `ValidationError.issues` holds them (`bifrost.data.Issue` is one).

    The tree names only what every issue has, so that this module imports from no package.
    """

    @property
    def reason(self) -> str:
        """What is wrong with the row."""
        ...

    def where(self) -> str:
        """The row's place: ``origin:line: SYMBOL DATE field``."""
        ...


class ValidationError(DataError):
    """Rows failed validation; ``issues`` lists every one of them."""

    def __init__(self, message: str, issues: Sequence[RowIssue] = ()) -> None:
        super().__init__(message)
        self.issues: tuple[RowIssue, ...] = tuple(issues)


class DataSourceError(DataError):
    """A data source failed: unreachable, rate-limited past retries, or unknown symbol."""


class SymbolNotFoundError(DataError, NotFoundError):
    """The store holds no bars for the requested symbol."""


class StoreError(BifrostError):
    """The store cannot be opened, migrated or written."""


class SchemaVersionError(StoreError):
    """The store's schema is newer than this bifrost understands."""


class SchedulerLockedError(StoreError):
    """Another scheduler holds the store's scheduler lease (its holder, pid, host and expiry named)."""


class ChainFailedError(BifrostError):
    """A step of a chain of jobs did not succeed (the step, its error and the steps not started named)."""


class InvalidTransitionError(BifrostError):
    """An order event is not allowed in the order's state (or would overfill it); the order is unchanged."""


class DuplicateFillError(InvalidTransitionError):
    """A fill whose trade id the order has already applied; the order is unchanged."""


class BrokerError(BifrostError):
    """A broker refused a request or failed; the message names the broker, the call and what it said."""


class BrokerUnavailableError(BrokerError):
    """A broker call timed out, failed with a 5xx or could not connect: its outcome is unknown.

    An order sent in such a call may or may not be at the broker: ask the broker for its
    ``client_order_id``, never send it again.
    """


class ReconciliationError(BifrostError):
    """The book and the broker differ in a way no recorded event explains; trading is refused until resolved."""


class AuditError(BifrostError):
    """The audit trail cannot be verified or proved as asked (no such record, no checkpoint, a bad proof file)."""


class LookaheadError(BifrostError):
    """A strategy used data from after a bar to decide that bar's signal."""


class DataQualityWarning(UserWarning):
    """A recoverable data issue: data was repaired, derived or looks suspicious."""
