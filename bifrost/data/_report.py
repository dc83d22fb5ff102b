"""What an ingest did: the report every store write returns."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bifrost.data._validate import ValidatedBars

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
    # where this ingest's symbols now meet another source that disagrees about adjustment:
    # "SYMBOL DATE: what" (see `check_quality`'s seam finding)
    seams: tuple[str, ...] = ()

    @classmethod
    def of_write(
        cls,
        validated: ValidatedBars,
        *,
        ingest_id: str,
        source: str,
        counts: tuple[int, int, int],
        quarantine_path: str | None,
        synthetic: bool,
    ) -> IngestReport:
        """Build the report of a store write; ``counts`` is (new, revised, unchanged)."""
        n_new, n_revised, n_unchanged = counts
        return cls(
            ingest_id=ingest_id,
            source=source,
            origin=validated.origin,
            policy=validated.policy,
            symbols=tuple(validated.bars.index.get_level_values("symbol").unique()),
            rows_read=validated.rows_read,
            rows_new=n_new,
            rows_revised=n_revised,
            rows_unchanged=n_unchanged,
            rows_quarantined=validated.rows_dropped,
            actions=len(validated.actions),
            quarantine_path=Path(quarantine_path) if quarantine_path else None,
            synthetic=synthetic,
        )

    def log_row(self) -> tuple[object, ...]:
        """Return the ingest-log row, in the ``ingests`` table's column order after ts_started."""
        return (
            self.ingest_id,
            self.source,
            self.origin,
            self.policy,
            len(self.symbols),
            self.rows_read,
            self.rows_new,
            self.rows_revised,
            self.rows_unchanged,
            self.rows_quarantined,
            None if self.quarantine_path is None else str(self.quarantine_path),
        )

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
        if self.seams:
            text += (
                f"; {len(self.seams)} seam(s) where sources disagree about adjustment: "
                + "; ".join(self.seams[:3])
                + (f"; and {len(self.seams) - 3} more (`bifrost data check`)" if len(self.seams) > 3 else "")
            )
        return text

    def _repr_html_(self) -> str:
        return f"<pre>{self.summary()}</pre>"
