"""Technical indicators with backtrader's definitions (see :mod:`bifrost.strategy._indicators`)."""

from __future__ import annotations

from bifrost.strategy._indicators import (
    atr,
    bollinger,
    crossover,
    crossunder,
    ema,
    highest,
    lowest,
    macd,
    memoized,
    rsi,
    sma,
    smma,
    stddev,
    stochastic,
    true_range,
    wma,
    zscore,
)

__all__ = [
    "atr",
    "bollinger",
    "crossover",
    "crossunder",
    "ema",
    "highest",
    "lowest",
    "macd",
    "memoized",
    "rsi",
    "sma",
    "smma",
    "stddev",
    "stochastic",
    "true_range",
    "wma",
    "zscore",
]
