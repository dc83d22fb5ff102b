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
from bifrost.strategy._bridge import backtrader_feed, run_backtrader
from bifrost.strategy._costs import costs_label
from bifrost.strategy._declare import Constraint, declare, required_warmup, violated_constraints
from bifrost.strategy._engine import Commission, DividendMode, FillAt, FillModel, Orders, Signals, SizeType
from bifrost.strategy._lookahead import LookaheadReport, assert_no_lookahead, check_lookahead
from bifrost.strategy._optimize import (
    Backend,
    SearchMethod,
    SweepResult,
    WalkForwardResult,
    grid_points,
    optimize,
    sweep,
    walk_forward,
)
from bifrost.strategy._paper import PaperRun, paper_trade
from bifrost.strategy._params import parse_grid, parse_params, parse_value
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
from bifrost.strategy._warm import WarmReport, warm

__all__ = [
    "STRATEGIES",
    "Backend",
    "BacktestResult",
    "Commission",
    "Constraint",
    "DividendMode",
    "FillAt",
    "FillModel",
    "LookaheadReport",
    "Orders",
    "PaperRun",
    "SearchMethod",
    "SignalModel",
    "Signals",
    "SizeType",
    "Strategy",
    "SweepResult",
    "WalkForwardResult",
    "WarmReport",
    "assert_no_lookahead",
    "backtest",
    "backtrader_feed",
    "buy_and_hold",
    "check_lookahead",
    "costs_label",
    "declare",
    "grid_points",
    "indicators",
    "mean_reversion",
    "model_signals",
    "momentum",
    "optimize",
    "paper_trade",
    "parse_grid",
    "parse_params",
    "parse_value",
    "required_warmup",
    "run_backtrader",
    "simulate",
    "sma_cross",
    "sweep",
    "violated_constraints",
    "walk_forward",
    "warm",
]
