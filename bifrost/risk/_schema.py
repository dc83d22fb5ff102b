"""The risk package's tables: limits per stored portfolio and the alerts their checks raise.

Limits reference a portfolio, so the portfolio schema is applied first. Append only: a
released migration never changes (see `bifrost.data.Schema` for the tokens).

1. ``risk_limits`` and ``risk_alerts``: one alert row appended per warning or breach on
   every check (three runs of one check left three rows of one breach).
2. Alerts are episodes: a ``risk_alerts`` row is one episode of one limit and subject
   (``opened`` when a check first found it, ``ts``/``as_of``/``value``/``severity`` of the
   latest check, ``worst_value``/``worst_severity``, ``closed`` when a check found it
   cleared), at most one open per portfolio, limit and subject (a partial unique index);
   ``risk_alert_events`` keeps each episode's history (opened, updated, escalated, eased,
   closed). The rows an older bifrost appended are folded into episodes here: the rows of
   one portfolio, limit and subject become one episode, still open (whether the limit
   cleared between them was never recorded), their rows its history; the next check
   updates or closes it.
"""

from __future__ import annotations

from typing import Any

from bifrost.data import Migration, Schema, StateDb, register_schema
from bifrost.portfolio._schema import PORTFOLIO_SCHEMA

__all__ = ["RISK_SCHEMA"]

_EPISODES_DDL = """
ALTER TABLE {t}risk_alerts ADD COLUMN opened {timestamp};
ALTER TABLE {t}risk_alerts ADD COLUMN closed {timestamp};
ALTER TABLE {t}risk_alerts ADD COLUMN worst_value {float};
ALTER TABLE {t}risk_alerts ADD COLUMN worst_severity TEXT;
CREATE TABLE {t}risk_alert_events (
    id {id}, alert_id {bigint} NOT NULL REFERENCES {t}risk_alerts(id), ts {timestamp} NOT NULL,
    as_of {timestamp} NOT NULL, change TEXT NOT NULL, value {float}, threshold {float} NOT NULL,
    severity TEXT NOT NULL, message TEXT NOT NULL
);
CREATE INDEX risk_alert_events_alert ON {t}risk_alert_events (alert_id, id)
"""
_OPEN_INDEX = (
    "CREATE UNIQUE INDEX risk_alerts_open ON {t}risk_alerts (portfolio, limit_name, subject) WHERE closed IS NULL"
)
_RANK = {"warning": 1, "breach": 2}


def _alert_episodes(db: StateDb) -> None:
    # SQL cannot say "fold each key's rows into its first": the rows are read, grouped here, and rewritten
    db.script(_EPISODES_DDL)
    rows = db.rows(
        "SELECT id, ts, as_of, portfolio, limit_name, subject, value, threshold, severity, message "
        "FROM {t}risk_alerts ORDER BY id"
    )
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault((row[3], row[4], row[5]), []).append(row)
    for group in groups.values():
        first, last = group[0], group[-1]
        events, previous = [], None
        for _id, ts, as_of, _p, _l, _s, value, threshold, severity, message in group:
            if previous is None:
                change = "opened"
            elif _RANK.get(severity, 0) > _RANK.get(previous, 0):
                change = "escalated"
            elif _RANK.get(severity, 0) < _RANK.get(previous, 0):
                change = "eased"
            else:
                change = "updated"
            previous = severity
            events.append((first[0], ts, as_of, change, value, threshold, severity, message))
        db.many(
            "INSERT INTO {t}risk_alert_events (alert_id, ts, as_of, change, value, threshold, severity, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            events,
        )
        worst = max(group, key=lambda r: (_RANK.get(r[8], 0), abs(float(r[6]))))
        db.run(
            "UPDATE {t}risk_alerts SET opened = ?, ts = ?, as_of = ?, value = ?, threshold = ?, severity = ?, "
            "message = ?, worst_value = ?, worst_severity = ? WHERE id = ?",
            (first[1], last[1], last[2], last[6], last[7], last[8], last[9], worst[6], worst[8], first[0]),
        )
        for later in group[1:]:
            db.run("DELETE FROM {t}risk_alerts WHERE id = ?", (later[0],))
    db.script(_OPEN_INDEX)


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
            Migration(2, run=_alert_episodes),
        ),
        requires=(PORTFOLIO_SCHEMA,),
        legacy=3,  # the store-wide schema_version 3 created these tables
    )
)
