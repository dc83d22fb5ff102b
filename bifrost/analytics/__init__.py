"""Performance analytics: returns in, numbers out.

The metric functions carry empyrical's names, positional arguments and defaults, so a
user of empyrical or pyfolio switches by changing an import::

    from bifrost.analytics import sharpe_ratio, max_drawdown, alpha_beta
    sharpe_ratio(daily_returns)               # one series → float
    sharpe_ratio(returns_2d)                  # time × series → one value per column
"""

from bifrost.analytics._metrics import (
    ANNUALIZATION_FACTORS,
    alpha,
    alpha_beta,
    annual_return,
    annual_volatility,
    beta,
    cagr,
    calmar_ratio,
    capture,
    conditional_value_at_risk,
    cum_returns,
    cum_returns_final,
    down_capture,
    downside_risk,
    drawdown_series,
    excess_sharpe,
    max_drawdown,
    max_drawdown_duration,
    omega_ratio,
    roll_annual_volatility,
    roll_beta,
    roll_max_drawdown,
    roll_sharpe_ratio,
    sharpe_ratio,
    sortino_ratio,
    stability_of_timeseries,
    tail_ratio,
    up_capture,
    up_down_capture,
    value_at_risk,
)
from bifrost.analytics._regression import FactorRegression, factor_regression
from bifrost.analytics._summary import PerfStats, perf_stats
from bifrost.analytics._tearsheet import Tearsheet, portfolio_tearsheet, tearsheet
from bifrost.analytics._trades import TradeStats, trade_stats

__all__ = [
    "ANNUALIZATION_FACTORS",
    "FactorRegression",
    "PerfStats",
    "Tearsheet",
    "TradeStats",
    "alpha",
    "alpha_beta",
    "annual_return",
    "annual_volatility",
    "beta",
    "cagr",
    "calmar_ratio",
    "capture",
    "conditional_value_at_risk",
    "cum_returns",
    "cum_returns_final",
    "down_capture",
    "downside_risk",
    "drawdown_series",
    "excess_sharpe",
    "factor_regression",
    "max_drawdown",
    "max_drawdown_duration",
    "omega_ratio",
    "perf_stats",
    "portfolio_tearsheet",
    "roll_annual_volatility",
    "roll_beta",
    "roll_max_drawdown",
    "roll_sharpe_ratio",
    "sharpe_ratio",
    "sortino_ratio",
    "stability_of_timeseries",
    "tail_ratio",
    "tearsheet",
    "trade_stats",
    "up_capture",
    "up_down_capture",
    "value_at_risk",
]
