"""The risk package's tables: limits per stored portfolio and the alerts their checks raise.

Limits reference a portfolio, so the portfolio schema is applied first. Append only: a
released migration never changes (see `bifrost.data.Schema` for the tokens).
"""

from __future__ import annotations

from bifrost.data import Migration, Schema, register_schema
from bifrost.portfolio._schema import PORTFOLIO_SCHEMA

__all__ = ["RISK_SCHEMA"]

RISK_SCHEMA = register_schema(
    Schema(
        "risk",
        (
            Migration(
                1,
                """
            CREATE TABLE {t}risk_limits (
                portfolio TEXT NOT NULL REFERENCES {t}portfolios(name), name TEXT NOT NULL,
                metric TEXT NOT NULL, threshold {float} NOT NULL, warn_at {float} NOT NULL,
                method TEXT NOT NULL, confidence {float} NOT NULL, horizon_days INTEGER NOT NULL,
                PRIMARY KEY (portfolio, name)
            );
            CREATE TABLE {t}risk_alerts (
                id {id}, ts {timestamp} NOT NULL, as_of {timestamp} NOT NULL, portfolio TEXT NOT NULL,
                limit_name TEXT NOT NULL, metric TEXT NOT NULL, subject TEXT NOT NULL, value {float} NOT NULL,
                threshold {float} NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL
            );
            CREATE INDEX risk_alerts_portfolio ON {t}risk_alerts (portfolio, ts)
            """,
            ),
        ),
        requires=(PORTFOLIO_SCHEMA,),
        legacy=3,  # the store-wide schema_version 3 created these tables
    )
)
