"""The portfolio package's tables: portfolios and their transactions, on both backends.

Decimals are stored as text so that they round-trip exactly. Append only: a released
migration never changes (see `bifrost.data.Schema` for the tokens).
"""

from __future__ import annotations

from bifrost.data import Migration, Schema, register_schema

__all__ = ["PORTFOLIO_SCHEMA"]

PORTFOLIO_SCHEMA = register_schema(
    Schema(
        "portfolio",
        (
            Migration(
                1,
                """
            CREATE TABLE {t}portfolios (
                name TEXT PRIMARY KEY, inception {timestamp} NOT NULL, cost_basis TEXT NOT NULL,
                long_only {bool} NOT NULL, base_currency TEXT NOT NULL,
                created {timestamp} NOT NULL DEFAULT {now}
            );
            CREATE TABLE {t}transactions (
                portfolio TEXT NOT NULL REFERENCES {t}portfolios(name), seq {bigint} NOT NULL,
                txn_id TEXT NOT NULL, ts {timestamp} NOT NULL, kind TEXT NOT NULL, symbol TEXT, side TEXT,
                quantity TEXT, price TEXT, commission TEXT, fees TEXT, amount TEXT, per_share TEXT,
                ratio TEXT, pay_date {timestamp}, currency TEXT,
                PRIMARY KEY (portfolio, txn_id), UNIQUE (portfolio, seq)
            )
            """,
            ),
        ),
        legacy=2,  # the store-wide schema_version 2 created these tables
    )
)
