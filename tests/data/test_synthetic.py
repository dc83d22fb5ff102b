"""The seeded synthetic market's corporate-action days are well-formed bars."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bifrost.data import SyntheticMarket


def _bars(market: SyntheticMarket) -> pd.DataFrame:
    # bars come symbol by symbol, each in time order: the layout of total_log_returns().T
    bars = market.bars()
    return bars.assign(
        prev_close=bars.groupby("symbol", sort=False)["close"].shift(),
        total=market.total_log_returns().T.ravel(),
    )


def test_synthetic_split_day_opens_post_split() -> None:
    bars = _bars(SyntheticMarket(n_symbols=50, n_days=1260, seed=7))
    days = bars[bars["split"] != 1.0]
    assert len(days) >= 5  # enough splits to check
    # a split happens whole at the open: open/prev_close is 1/split, give or take the overnight move
    gap = days["open"] / days["prev_close"] * days["split"]
    assert np.all(np.abs(gap - 1.0) < 0.05), days.assign(gap=gap)[["symbol", "ts", "split", "gap"]]
    assert np.all(days["high"] >= np.maximum(days["open"], days["close"]))
    assert np.all(days["low"] <= np.minimum(days["open"], days["close"]))


def test_synthetic_demo_market_con001_split_opens_near_one_third() -> None:
    # QA's report: the demo market's CON001 opened its 3:1 of 2015-10-01 at 287 after a 394 close
    bars = _bars(SyntheticMarket(n_symbols=20, n_days=750, seed=7))
    day = bars[(bars["symbol"] == "CON001") & (bars["ts"] == pd.Timestamp("2015-10-01", tz="UTC"))].iloc[0]
    assert day["split"] == 3.0
    assert abs(day["open"] * 3 / day["prev_close"] - 1) < 0.05
    assert day["high"] >= max(day["open"], day["close"]) and day["low"] <= min(day["open"], day["close"])


def test_synthetic_ex_dividend_day_opens_ex_dividend() -> None:
    bars = _bars(SyntheticMarket(n_symbols=50, n_days=1260, seed=7))
    days = bars[(bars["dividend"] > 0) & (bars["split"] == 1.0)]
    assert len(days) >= 100
    # the open is the previous close less the dividend, moved by 30% of the day's total return
    # and a 0.2% gap noise: what is left averages to 0 (0.7 × the yield, ~0.4%, where the
    # whole drop happened at the open)
    ex_open = days["prev_close"] - days["dividend"]
    residual = np.log(days["open"] / ex_open) - 0.3 * days["total"]
    assert abs(residual.mean()) < 0.001
    assert np.all(days["high"] >= np.maximum(days["open"], days["close"]))
    assert np.all(days["low"] <= np.minimum(days["open"], days["close"]))
