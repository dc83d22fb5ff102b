"""The paper broker's own tables: its accounts, positions, orders, fills, event outbox, clock and quotes.

The paper broker is "the other side" of the order manager: its state is its own, written
in its own transactions, so that it survives the order manager being killed at any point
(as a real venue would). Decimals are stored as text so that they round-trip exactly;
events as the JSON of `event_to_dict`. Append only: a released migration never changes
(see `bifrost.data.Schema` for the tokens).

Every row belongs to a venue, the broker's ``name``: one store may hold several paper
venues, each with its own clock (a day-by-day replay of history beside the live paper book).

1. ``paper_accounts`` (cash per account), ``paper_positions`` (signed shares, flat rows
   deleted), ``paper_orders`` (one row per order it accepted: the request, its status,
   what filled, ``fill_value`` the sum of quantity × price, ``triggered`` a stop-limit's
   fired stop, ``session_end`` a DAY order's expiry once its session is known),
   ``paper_fills`` (one row per execution, ``basis`` how its price was found),
   ``paper_events`` (every event it produced, in order; ``delivered`` once returned by a
   call or a poll), ``paper_clock`` (the time a venue's bars were processed to) and
   ``paper_quotes`` (the last quote of each symbol).
"""

from __future__ import annotations

from bifrost.data import Migration, Schema, register_schema

__all__ = ["PAPER_SCHEMA"]

PAPER_SCHEMA = register_schema(
    Schema(
        "paper_broker",
        (
            Migration(
                1,
                """
            CREATE TABLE {t}paper_accounts (
                venue TEXT NOT NULL, account TEXT NOT NULL, cash TEXT NOT NULL, currency TEXT NOT NULL,
                ts_opened {timestamp} NOT NULL, PRIMARY KEY (venue, account)
            );
            CREATE TABLE {t}paper_positions (
                venue TEXT NOT NULL, account TEXT NOT NULL, symbol TEXT NOT NULL, quantity TEXT NOT NULL,
                PRIMARY KEY (venue, account, symbol),
                FOREIGN KEY (venue, account) REFERENCES {t}paper_accounts (venue, account)
            );
            CREATE TABLE {t}paper_orders (
                venue TEXT NOT NULL, client_order_id TEXT NOT NULL, seq {bigint} NOT NULL UNIQUE,
                broker_order_id TEXT NOT NULL,
                account TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, order_type TEXT NOT NULL,
                time_in_force TEXT NOT NULL, quantity TEXT NOT NULL, limit_price TEXT, stop_price TEXT,
                status TEXT NOT NULL, filled_quantity TEXT NOT NULL, fill_value TEXT NOT NULL,
                n_fills {bigint} NOT NULL, triggered {bool} NOT NULL, session_end {timestamp},
                ts_placed {timestamp} NOT NULL, ts_updated {timestamp} NOT NULL,
                PRIMARY KEY (venue, client_order_id)
            );
            CREATE INDEX paper_orders_working ON {t}paper_orders (venue, status, account);
            CREATE TABLE {t}paper_fills (
                seq {id}, venue TEXT NOT NULL, account TEXT NOT NULL, client_order_id TEXT NOT NULL,
                trade_id TEXT NOT NULL, ts {timestamp} NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
                quantity TEXT NOT NULL, price TEXT NOT NULL, commission TEXT NOT NULL, basis TEXT NOT NULL,
                UNIQUE (venue, trade_id)
            );
            CREATE INDEX paper_fills_account ON {t}paper_fills (venue, account, seq);
            CREATE TABLE {t}paper_events (
                seq {id}, venue TEXT NOT NULL, client_order_id TEXT NOT NULL, event TEXT NOT NULL,
                delivered {bool} NOT NULL
            );
            CREATE INDEX paper_events_order ON {t}paper_events (venue, client_order_id, seq);
            CREATE INDEX paper_events_pending ON {t}paper_events (venue, delivered, seq);
            CREATE TABLE {t}paper_clock (venue TEXT PRIMARY KEY, ts {timestamp} NOT NULL);
            CREATE TABLE {t}paper_quotes (
                venue TEXT NOT NULL, symbol TEXT NOT NULL, bid TEXT NOT NULL, ask TEXT NOT NULL,
                ts {timestamp} NOT NULL, PRIMARY KEY (venue, symbol)
            )
            """,
            ),
        ),
    )
)
