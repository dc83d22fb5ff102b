"""What an ingest did: the report every store write returns."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["IngestReport", "new_ingest_id"]


def new_ingest_id() -> str:
    """Return a sortable, unique ingest id such as ``20261124T101500-3fa2c1``."""
    return pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestReport:
    """Counts and provenance of one ingest."""

    ingest_id: str
    source: str
    origin: str
    policy: str
    symbols: tuple[str, ...]
    rows_read: int
    rows_new: int
    rows_revised: int
    rows_unchanged: int
    rows_quarantined: int
    actions: int
    quarantine_path: Path | None
    synthetic: bool = False

    def summary(self) -> str:
        """Return a one-paragraph, human-readable account of the ingest."""
        tag = " [SYNTHETIC]" if self.synthetic else ""
        text = (
            f"ingest {self.ingest_id}{tag}: {self.origin} ({self.source}, {self.policy}) → "
            f"{len(self.symbols)} symbol(s), {self.rows_read} rows read: {self.rows_new} new, "
            f"{self.rows_revised} revised, {self.rows_unchanged} unchanged, "
            f"{self.rows_quarantined} quarantined; {self.actions} corporate action(s)"
        )
        if self.quarantine_path is not None:
            text += f"; quarantine report: {self.quarantine_path}"
        return text

    def _repr_html_(self) -> str:
        return f"<pre>{self.summary()}</pre>"
