"""The compliance package's tables: every rules file the pre-trade checks applied, by its hash.

Append only: a released migration never changes (see `bifrost.data.Schema` for the tokens).

1. ``compliance_rulesets``: one row per rules text ever applied by a pre-trade check
   (``bifrost.execution.ComplianceCheck``): ``hash`` (SHA-256 hex of ``text``, the primary
   key), ``source`` (the file's path, or ``default`` for the built-in rule set), ``text`` (the
   whole file, so that a decision can be replayed under it) and ``ts_first_seen`` (UTC). The
   row is written in the same transaction as the ``compliance.rules`` audit record that
   announces it; the audit record is what `bifrost.compliance.replay_decisions` reads (the
   table is the quick index: is this hash known yet).
"""

from __future__ import annotations

from bifrost.data import AUDIT_SCHEMA, Migration, Schema, register_schema

__all__ = ["COMPLIANCE_SCHEMA", "RULES_AUDIT_KIND"]

# the audit record of a rules text first applied: {hash, source, previous_hash, text}
RULES_AUDIT_KIND = "compliance.rules"

COMPLIANCE_SCHEMA = register_schema(
    Schema(
        "compliance",
        (
            Migration(
                1,
                """
            CREATE TABLE {t}compliance_rulesets (
                hash TEXT PRIMARY KEY, source TEXT NOT NULL, text TEXT NOT NULL,
                ts_first_seen {timestamp} NOT NULL
            )
            """,
            ),
        ),
        requires=(AUDIT_SCHEMA,),
    )
)
