"""Risk: VaR and expected shortfall (historical, parametric, Monte Carlo, filtered), the VaR
decomposition, stress tests, limits with alerts, and VaR backtests.

Typical use::

    from bifrost.risk import historical_var, montecarlo_var_es, var_backtest
    historical_var(returns, confidence=0.99, horizon_days=10)
    montecarlo_var_es(asset_returns, weights, confidence=0.99, cov="ledoit_wolf", distribution="t")
    var_backtest(portfolio_returns, method="filtered_historical").zone
    risk_report(book_from_store(store, "desk")).to_html("risk.html")

Every entry point (these functions, ``bifrost risk``, the risk service) measures a stored
book on the last `DEFAULT_LOOKBACK_DAYS` days unless told otherwise, and says which window
it used (`HistoryWindow`).
"""

from __future__ import annotations

from bifrost.risk._backtest import VarBacktest, christoffersen, kupiec_pof, traffic_light, var_backtest
from bifrost.risk._book import Book, HistoryWindow, book_from_positions, book_from_store, book_risk
from bifrost.risk._limits import (
    DEFAULT_LIMITS,
    Limit,
    LimitReport,
    Metric,
    alerts_marker,
    check_limits,
    evaluate_limits,
    get_limits,
    limit_report,
    limits_from_toml,
    portfolio_drawdown,
    read_alert_history,
    read_alerts,
    record_alerts,
    set_limits,
    store_sectors,
)
from bifrost.risk._market import DEFAULT_LOOKBACK_DAYS, MAX_LOOKBACK_DAYS, MIN_LOOKBACK_DAYS, MarketData
from bifrost.risk._montecarlo import (
    MAX_ASSETS,
    MAX_SCENARIOS,
    Covariance,
    VarDecomposition,
    covariance,
    montecarlo_var_es,
    var_decomposition,
)
from bifrost.risk._portfolio import Method, PortfolioRisk, portfolio_risk
from bifrost.risk._report import RiskReport, risk_report
from bifrost.risk._stress import (
    MAX_SHOCK,
    MAX_WINDOW_LENGTHS,
    MAX_WORST,
    StressResult,
    historical_stress,
    shock_stress,
    shocks_from_toml,
    stress_positions,
)
from bifrost.risk._var import (
    MAX_DAILY_RETURN,
    MAX_HORIZON_DAYS,
    MONEY_MAX,
    ewma_volatility,
    filtered_historical_es,
    filtered_historical_var,
    historical_es,
    historical_var,
    parametric_es,
    parametric_var,
    var_es_many,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_LOOKBACK_DAYS",
    "MAX_ASSETS",
    "MAX_DAILY_RETURN",
    "MAX_HORIZON_DAYS",
    "MAX_LOOKBACK_DAYS",
    "MAX_SCENARIOS",
    "MAX_SHOCK",
    "MAX_WINDOW_LENGTHS",
    "MAX_WORST",
    "MIN_LOOKBACK_DAYS",
    "MONEY_MAX",
    "Book",
    "Covariance",
    "HistoryWindow",
    "Limit",
    "LimitReport",
    "MarketData",
    "Method",
    "Metric",
    "PortfolioRisk",
    "RiskReport",
    "StressResult",
    "VarBacktest",
    "VarDecomposition",
    "alerts_marker",
    "book_from_positions",
    "book_from_store",
    "book_risk",
    "check_limits",
    "christoffersen",
    "covariance",
    "evaluate_limits",
    "ewma_volatility",
    "filtered_historical_es",
    "filtered_historical_var",
    "get_limits",
    "historical_es",
    "historical_stress",
    "historical_var",
    "kupiec_pof",
    "limit_report",
    "limits_from_toml",
    "montecarlo_var_es",
    "parametric_es",
    "parametric_var",
    "portfolio_drawdown",
    "portfolio_risk",
    "read_alert_history",
    "read_alerts",
    "record_alerts",
    "risk_report",
    "set_limits",
    "shock_stress",
    "shocks_from_toml",
    "store_sectors",
    "stress_positions",
    "traffic_light",
    "var_backtest",
    "var_decomposition",
    "var_es_many",
]
