"""Real series in a store, read as panels, shared by the strategy tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import backtrader as bt
import pytest
import ray

from bifrost.data import CsvSource, EmbeddedStore, Panel, ingest
from tests.conftest import NVDA, ORCL, YHOO

SERIES = {"ORCL": ORCL, "NVDA": NVDA, "YHOO": YHOO}


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    store = EmbeddedStore(tmp_path_factory.mktemp("strategy-store"))
    for symbol, path in SERIES.items():
        ingest(store, CsvSource(path, symbol=symbol))
    return store


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # a local Ray of 2 CPUs for the module that asks for it, shut down after it
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def orcl(real_store: EmbeddedStore) -> Panel:
    return real_store.read_panel(["ORCL"])


class SmaCross(bt.Strategy):  # type: ignore[misc]
    """backtrader's canonical sample, unmodified: long on SMA(fast) crossing above SMA(slow)."""

    params = (("fast", 10), ("slow", 30), ("size", 100))

    def __init__(self) -> None:
        self.crossover = bt.ind.CrossOver(bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow))

    def next(self) -> None:
        if not self.position:
            if self.crossover > 0:
                self.buy(size=self.p.size)
        elif self.crossover < 0:
            self.close()


def backtrader_on_file(path: Path, *, fast: int = 10, slow: int = 30, commission: float = 0.0) -> float:
    """Final value of SmaCross on the file itself, through backtrader's own Yahoo reader."""
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=str(path), adjclose=False, round=False))
    cerebro.addstrategy(SmaCross, fast=fast, slow=slow)
    cerebro.broker.setcash(100_000.0)
    cerebro.broker.setcommission(commission=commission)
    cerebro.run()
    return float(cerebro.broker.getvalue())
