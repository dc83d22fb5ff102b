"""Indicators against backtrader itself, every value, on 2006-day-001 and ORCL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import backtrader as bt
import numpy as np
import pytest

from bifrost.errors import InvalidInputError
from bifrost.strategy import indicators as ind
from tests.conftest import BT_DAY, ORCL


def _file_columns(path: Path) -> dict[str, np.ndarray]:
    # parsed exactly as backtrader parses them: Python float() on each token
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:] if line]
    return {name.lower(): np.array([float(r[i]) for r in rows]) for i, name in enumerate(header) if i}


class _Record(bt.Strategy):  # type: ignore[misc]
    def __init__(self) -> None:
        d = self.data
        self.lines_to_read: dict[str, Any] = {
            "sma": bt.ind.SMA(d, period=30),
            "sma7": bt.ind.SMA(d, period=7),
            "ema": bt.ind.EMA(d, period=30),
            "ema9": bt.ind.EMA(d, period=9),
            "wma": bt.ind.WMA(d, period=30),
            "smma": bt.ind.SMMA(d, period=10),
            "rsi": bt.ind.RSI(d, period=14),
            "atr": bt.ind.ATR(d, period=14),
            "highest": bt.ind.Highest(d.high, period=14),
            "lowest": bt.ind.Lowest(d.low, period=14),
            "stddev": bt.ind.StdDev(d, period=20),
        }
        boll = bt.ind.BollingerBands(d, period=20, devfactor=2.0)
        macd = bt.ind.MACDHisto(d, period_me1=12, period_me2=26, period_signal=9)
        stoch = bt.ind.Stochastic(d, period=14, period_dfast=3, period_dslow=3)
        cross = bt.ind.CrossOver(bt.ind.SMA(d, period=10), bt.ind.SMA(d, period=30))
        self.lines_to_read.update(
            mid=boll.mid, top=boll.top, bot=boll.bot,
            macd=macd.macd, signal=macd.signal, histo=macd.histo,
            pct_k=stoch.percK, pct_d=stoch.percD, cross=cross,
        )  # fmt: skip
        self.values: dict[str, list[float]] = {k: [] for k in self.lines_to_read}

    def next(self) -> None:
        for name, line in self.lines_to_read.items():
            self.values[name].append(line[0])


def _backtrader_values(path: Path) -> tuple[dict[str, np.ndarray], int]:
    cerebro = bt.Cerebro(stdstats=False)
    if "Adj Close" in path.read_text().splitlines()[0]:
        feed = bt.feeds.YahooFinanceCSVData(dataname=str(path), adjclose=False, round=False)
    else:
        feed = bt.feeds.BacktraderCSVData(dataname=str(path))
    cerebro.adddata(feed)
    cerebro.addstrategy(_Record)
    strat = cerebro.run()[0]
    values = {k: np.array(v) for k, v in strat.values.items()}
    return values, len(next(iter(values.values())))


@pytest.fixture(scope="module", params=[BT_DAY, ORCL], ids=["2006-day-001", "orcl"])
def case(request: pytest.FixtureRequest) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    path: Path = request.param
    cols = _file_columns(path)
    c, h, lo = cols["close"], cols["high"], cols["low"]
    mid, top, bot = ind.bollinger(c, 20, 2.0)
    m, s, hist = ind.macd(c, 12, 26, 9)
    k, d = ind.stochastic(h, lo, c, 14, 3, 3)
    ours = {
        "sma": ind.sma(c, 30), "sma7": ind.sma(c, 7), "ema": ind.ema(c, 30), "ema9": ind.ema(c, 9),
        "wma": ind.wma(c, 30), "smma": ind.smma(c, 10), "rsi": ind.rsi(c, 14),
        "atr": ind.atr(h, lo, c, 14), "highest": ind.highest(h, 14), "lowest": ind.lowest(lo, 14),
        "stddev": ind.stddev(c, 20), "mid": mid, "top": top, "bot": bot,
        "macd": m, "signal": s, "histo": hist, "pct_k": k, "pct_d": d,
        "cross": ind.crossover(ind.sma(c, 10), ind.sma(c, 30)),
    }  # fmt: skip
    theirs, n_next = _backtrader_values(path)
    # backtrader calls next() only once every indicator is warm (MACD's signal: 33 bars)
    return {name: v[len(c) - n_next :] for name, v in ours.items()}, theirs


@pytest.mark.parametrize(
    "name",
    ["sma", "sma7", "ema", "ema9", "wma", "smma", "rsi", "atr", "highest", "lowest", "stddev",
     "mid", "top", "bot", "macd", "signal", "histo", "pct_k", "pct_d", "cross"],
)  # fmt: skip
def test_indicator_equals_backtrader_on_every_value(case: Any, name: str) -> None:
    ours, theirs = case
    assert ours[name].shape == theirs[name].shape
    np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-9, atol=1e-12)


def test_sma_reproduces_fsum_bit_for_bit_on_orcl() -> None:
    import math

    close = _file_columns(ORCL)["close"]
    ours = ind.sma(close, 10)
    exact = np.array([math.fsum(close[i - 9 : i + 1]) / 10 for i in range(9, close.size)])
    assert np.array_equal(ours[9:], exact)
    # the tie that decides parity: SMA(10) == SMA(30) exactly on 2004-06-29 (row 2392)
    dates = [line.split(",")[0] for line in ORCL.read_text().splitlines()[1:]]
    row = dates.index("2004-06-29")
    assert ind.sma(close, 10)[row] == ind.sma(close, 30)[row]


def test_warmup_lengths_match_backtrader_minimum_periods() -> None:
    c = _file_columns(BT_DAY)["close"]
    h, lo = _file_columns(BT_DAY)["high"], _file_columns(BT_DAY)["low"]
    assert np.isnan(ind.sma(c, 30)[:29]).all() and not np.isnan(ind.sma(c, 30)[29])
    assert np.isnan(ind.rsi(c, 14)[:14]).all() and not np.isnan(ind.rsi(c, 14)[14])
    assert np.isnan(ind.atr(h, lo, c, 14)[:14]).all() and not np.isnan(ind.atr(h, lo, c, 14)[14])
    m, s, _ = ind.macd(c)
    assert np.isnan(m[:25]).all() and not np.isnan(m[25])
    assert np.isnan(s[:33]).all() and not np.isnan(s[33])
    k, d = ind.stochastic(h, lo, c)
    assert np.isnan(k[:15]).all() and not np.isnan(k[15]) and not np.isnan(d[17])


def test_two_dimensional_input_equals_column_by_column() -> None:
    cols = _file_columns(ORCL)
    panel = np.column_stack([cols["close"], cols["open"], cols["high"]])
    for fn in (ind.sma, ind.ema, ind.wma, ind.rsi, ind.zscore):
        got = fn(panel, 20)
        for j in range(3):
            np.testing.assert_array_equal(got[:, j], fn(panel[:, j], 20))


def test_nan_restarts_the_warm_up() -> None:
    x = np.array([1.0, 2.0, 3.0, np.nan, 4.0, 5.0, 6.0])
    np.testing.assert_array_equal(ind.sma(x, 2), [np.nan, 1.5, 2.5, np.nan, np.nan, 4.5, 5.5])
    np.testing.assert_array_equal(ind.ema(x, 2)[4:], [np.nan, 4.5, 5.5])


def test_zscore_is_distance_from_mean_in_standard_deviations() -> None:
    x = np.array([1.0, 3.0, 1.0, 3.0, 5.0])
    z = ind.zscore(x, 2)
    np.testing.assert_allclose(z[1:], [1.0, -1.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ind.sma([1.0, 2.0], 0), "period must be a whole number of bars from 1 to 100,000, got 0"),
        (
            lambda: ind.sma([1.0, 2.0], 2.5),  # type: ignore[arg-type]
            "period must be a whole number of bars from 1 to 100,000, got 2.5",
        ),
        (lambda: ind.sma([], 2), "close is empty"),
        (lambda: ind.sma(np.ones((2, 2, 2)), 2), "must be 1-D or 2-D"),
        (lambda: ind.sma(["a", "b"], 2), "close must be numeric"),
        (lambda: ind.atr([1.0, 2.0], [1.0], [1.0, 2.0]), "same shape"),
        (lambda: ind.bollinger([1.0, 2.0], 2, -1.0), "devfactor must be a number of standard deviations"),
        (lambda: ind.bollinger([1.0, 2.0], 2, 0.0), r"devfactor .* in \(0, 100\], got 0.0"),
        (lambda: ind.bollinger([1.0, 2.0], 2, 1e308), r"devfactor .* in \(0, 100\], got 1e\+308"),
        (lambda: ind.sma([1.0, 2.0], 100_001), "from 1 to 100,000, got 100001"),
        (lambda: ind.sma([1.0, 2.0], 10**20), "from 1 to 100,000, got 100000000000000000000"),
        (lambda: ind.macd([1.0, 2.0], 12, 0, 9), "slow must be a whole number of bars"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(call: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()
