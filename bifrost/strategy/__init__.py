"""Strategies, indicators, the fast backtest engine, the backtrader bridge and optimisation.

Typical use::

    from bifrost.data import open_store
    from bifrost.strategy import backtest, FillModel, Commission
    panel = open_store().read_panel(["ORCL"])
    result = backtest(panel, "sma_cross", {"fast": 10, "slow": 30},
                      fill=FillModel(commission=Commission(percent=0.001)))
    result.final_value, result.trades, result.ledger()
"""

from __future__ import annotations

from bifrost.strategy import indicators
from bifrost.strategy._engine import Commission, FillModel, Orders, Signals, SizeType
from bifrost.strategy._result import BacktestResult
from bifrost.strategy._strategies import (
    STRATEGIES,
    SignalModel,
    Strategy,
    backtest,
    buy_and_hold,
    mean_reversion,
    model_signals,
    momentum,
    simulate,
    sma_cross,
)

__all__ = [
    "STRATEGIES",
    "BacktestResult",
    "Commission",
    "FillModel",
    "Orders",
    "SignalModel",
    "Signals",
    "SizeType",
    "Strategy",
    "backtest",
    "buy_and_hold",
    "indicators",
    "mean_reversion",
    "model_signals",
    "momentum",
    "simulate",
    "sma_cross",
]
