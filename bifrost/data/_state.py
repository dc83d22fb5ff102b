"""One transaction on the store's transactional part, the same SQL on both backends.

Portfolios, risk limits and alerts live in the embedded SQLite or in PostgreSQL; their code
writes ``?`` placeholders and ``{t}`` before table names, and this turns them into what
the backend expects (``%s``, ``"schema".``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bifrost.data._embedded import EmbeddedStore
from bifrost.data._store import BarStore
from bifrost.errors import StoreError

__all__ = ["StateDb", "state_transaction"]


class StateDb:
    """One connection in one transaction, with ``?`` placeholders on both backends."""

    def __init__(self, cursor: Any, prefix: str, postgres: bool) -> None:
        self._cur = cursor
        self._prefix = prefix
        self.postgres = postgres

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


@contextmanager
def state_transaction(store: BarStore, lock: str | None = None, *, read_only: bool = False) -> Iterator[StateDb]:
    """Yield a `StateDb` in one transaction: committed on success, rolled back on error.

    A write (the default) takes, on the embedded store, SQLite's one writer slot at once,
    waiting for another writer at most the store's lock timeout; on PostgreSQL ``lock``
    names an advisory lock held until the end of the transaction. ``read_only=True`` reads
    one consistent snapshot and never waits for a writer (WAL mode; PostgreSQL's
    ``REPEATABLE READ, READ ONLY``); a statement that writes fails.

    Raises
    ------
    StoreError
        If the store cannot be read or written (locked past the timeout, disk full, the
        database unreachable); the transaction is rolled back and nothing changed.
    """
    if isinstance(store, EmbeddedStore):
        with store.transaction(write=not read_only) as con:
            yield StateDb(con.cursor(), "", postgres=False)
        return
    from bifrost.data._postgres import PostgresStore  # psycopg is an optional extra

    if not isinstance(store, PostgresStore):
        raise StoreError(f"state (portfolios, limits, alerts) is not supported on a {type(store).__name__}")
    with store.transaction(lock=lock, read_only=read_only) as cur:
        yield StateDb(cur, f'"{store.schema}".', postgres=True)
