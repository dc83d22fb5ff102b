"""The execution package's tables: orders, their events, fills, pre-trade decisions, book states.

Decimals are stored as text so that they round-trip exactly; events as the JSON of
`event_to_dict`. The tables reference the portfolio's (an order belongs to a stored
portfolio), so the portfolio schema is applied first, and the audit log's (every change here
is audited in its own transaction). Append only: a released migration never changes (see
`bifrost.data.Schema` for the tokens).

1. ``orders`` (one row per order: its request and its current state, ``events`` the number of
   events applied, for optimistic checks), ``order_events`` (every event in order, ``seq``
   global), ``execution_fills`` (one row per broker fill, UNIQUE (client_order_id, trade_id);
   ``txn_id`` the ledger entry it made), ``pretrade_decisions`` (one row per check of an order),
   ``book_states`` (a portfolio's trading state) and ``book_state_history``.
2. ``orders_portfolio_status``: an index on ``orders (portfolio, status)``, so that the book's
   working orders are found without reading every order of the portfolio.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping

from bifrost.data import AUDIT_SCHEMA, Migration, Schema, StateDb, append_audit_many, register_schema
from bifrost.portfolio._schema import PORTFOLIO_SCHEMA

__all__ = ["EXECUTION_SCHEMA"]

EXECUTION_SCHEMA = register_schema(
    Schema(
        "execution",
        (
            Migration(
                1,
                """
            CREATE TABLE {t}orders (
                order_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL UNIQUE,
                portfolio TEXT NOT NULL REFERENCES {t}portfolios(name), broker TEXT NOT NULL,
                symbol TEXT NOT NULL, side TEXT NOT NULL, order_type TEXT NOT NULL, quantity TEXT NOT NULL,
                limit_price TEXT, stop_price TEXT, time_in_force TEXT NOT NULL, request TEXT NOT NULL,
                status TEXT NOT NULL, filled_quantity TEXT NOT NULL, avg_fill_price TEXT,
                commission TEXT NOT NULL, broker_order_id TEXT, in_doubt {bool} NOT NULL,
                reasons TEXT NOT NULL, events {bigint} NOT NULL,
                ts_created {timestamp} NOT NULL, ts_updated {timestamp} NOT NULL
            );
            CREATE INDEX orders_portfolio ON {t}orders (portfolio, ts_created);
            CREATE INDEX orders_status ON {t}orders (status);
            CREATE TABLE {t}order_events (
                seq {id}, order_id TEXT NOT NULL REFERENCES {t}orders(order_id), n {bigint} NOT NULL,
                client_order_id TEXT NOT NULL, type TEXT NOT NULL, ts {timestamp} NOT NULL, event TEXT NOT NULL,
                UNIQUE (order_id, n)
            );
            CREATE TABLE {t}execution_fills (
                id {id}, order_id TEXT NOT NULL REFERENCES {t}orders(order_id), client_order_id TEXT NOT NULL,
                trade_id TEXT NOT NULL, portfolio TEXT NOT NULL, ts {timestamp} NOT NULL, symbol TEXT NOT NULL,
                side TEXT NOT NULL, quantity TEXT NOT NULL, price TEXT NOT NULL, commission TEXT NOT NULL,
                txn_id TEXT, ledger_error TEXT,
                UNIQUE (client_order_id, trade_id)
            );
            CREATE INDEX execution_fills_portfolio ON {t}execution_fills (portfolio, id);
            CREATE TABLE {t}pretrade_decisions (
                id {id}, order_id TEXT NOT NULL, client_order_id TEXT NOT NULL, ts {timestamp} NOT NULL,
                check_name TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL, inputs TEXT NOT NULL
            );
            CREATE INDEX pretrade_decisions_order ON {t}pretrade_decisions (order_id);
            CREATE TABLE {t}book_states (
                portfolio TEXT PRIMARY KEY REFERENCES {t}portfolios(name), state TEXT NOT NULL,
                reason TEXT NOT NULL, ts {timestamp} NOT NULL
            );
            CREATE TABLE {t}book_state_history (
                id {id}, portfolio TEXT NOT NULL REFERENCES {t}portfolios(name), state TEXT NOT NULL,
                previous TEXT NOT NULL, reason TEXT NOT NULL, ts {timestamp} NOT NULL
            )
            """,
            ),
            Migration(2, "CREATE INDEX orders_portfolio_status ON {t}orders (portfolio, status)"),
        ),
        requires=(PORTFOLIO_SCHEMA, AUDIT_SCHEMA),
    )
)


def audit(db: StateDb, kind: str, subject: str, payload: Mapping[str, object]) -> None:
    """Audit one change of this package in ``db``'s transaction (`bifrost.data.append_audit_many`).

    The records of one transaction are appended together just before it commits (one
    statement; on PostgreSQL the log's head row is locked for the shortest time), stamped
    with that time; they commit with the change or are rolled back with it.
    """
    pending = _PENDING.get(db)
    if pending is None:
        pending = _PENDING[db] = []
        db.before_commit(_flush)
    pending.append((kind, subject, payload))


_PENDING: weakref.WeakKeyDictionary[StateDb, list[tuple[str, str, Mapping[str, object]]]] = weakref.WeakKeyDictionary()


def _flush(db: StateDb) -> None:
    records = _PENDING.pop(db, [])
    if records:
        append_audit_many(db, records)
