"""The main job that `make run` runs: today, ingest the demo market and report on it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bifrost.data import IngestReport, QualityReport, Store, SyntheticMarket, check_quality, ingest

__all__ = ["MainJobReport", "run_main_job"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MainJobReport:
    """What the main job did and found."""

    store: dict[str, str]
    ingest: IngestReport
    symbols: pd.DataFrame
    quality: QualityReport

    def summary(self) -> str:
        """Return the job's report as text for a terminal."""
        first, last = self.symbols["first"].min(), self.symbols["last"].max()
        synthetic = int(self.symbols["synthetic"].sum())
        sectors = self.symbols["sector"].value_counts()
        lines = [
            f"store      : {self.store['backend']} ({self.store['mode']}) at {self.store['location']}",
            f"ingest     : {self.ingest.summary()}",
            f"symbols    : {len(self.symbols)} ({synthetic} synthetic), "
            f"{', '.join(f'{k} {v}' for k, v in sectors.items())}",
            f"date range : {first:%Y-%m-%d} … {last:%Y-%m-%d}",
            f"rows       : {int(self.symbols['rows'].sum())}",
            f"quality    : {self.quality.summary()}",
        ]
        return "\n".join(lines)


def run_main_job(store: Store, *, n_symbols: int = 50, n_days: int = 1260, seed: int = 7) -> MainJobReport:
    """Ingest the built-in synthetic demo market into ``store`` and check its quality."""
    market = SyntheticMarket(n_symbols=n_symbols, n_days=n_days, seed=seed)
    report = ingest(store.bars, market)
    listing = store.list_symbols()
    listing = listing[listing["symbol"].isin(market.symbols)]
    quality = check_quality(store.bars, list(market.symbols))
    return MainJobReport(store=store.describe(), ingest=report, symbols=listing, quality=quality)
