"""Strategies, indicators, the fast backtest engine, the backtrader bridge and optimisation."""
