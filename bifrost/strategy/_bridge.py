"""The backtrader bridge: any unmodified ``backtrader.Strategy`` on bifrost data.

Feeds come from a :class:`~bifrost.data.Panel` (read from the store or built from a
frame), bifrost's :class:`FillModel` is mapped onto backtrader's broker (commission
schedule, slippage, cheat-on-close, volume filler), and the run comes back as the same
:class:`BacktestResult` the fast engine returns — which is also how the engine is checked
against backtrader.

Dividends (the panel's ``dividend`` field, as the engine credits them with
``dividends="cash"``) go through backtrader's own broker: ``broker.add_cash(shares ×
dividend)`` for the shares held at the close before the ex-date, which backtrader applies
on the ex-date's bar. backtrader has no reinvestment, so ``dividends="reinvest"`` is refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bifrost.data import Panel, is_intraday
from bifrost.errors import InvalidInputError
from bifrost.execution import _fills as F
from bifrost.strategy import _kernel as K
from bifrost.strategy._engine import (
    Commission,
    DividendMode,
    FillModel,
    KernelRecords,
    annual_bars,
    check_dividends,
    check_periods_per_year,
    dividend_grid,
)
from bifrost.strategy._result import BacktestResult

__all__ = ["backtrader_feed", "equity_metrics", "run_backtrader"]


def backtrader_feed(panel: Panel, symbol: str) -> Any:
    """Return a ``backtrader.feeds.PandasData`` of one symbol's bars (its missing bars dropped)."""
    import backtrader as bt

    if symbol not in panel.symbols:
        raise InvalidInputError(f"symbol {symbol!r} is not in the panel; it has {list(panel.symbols)}")
    j = panel.symbols.index(symbol)
    columns = {f: panel[f][:, j] for f in ("open", "high", "low", "close", "volume") if f in panel.fields}
    frame = pd.DataFrame(columns, index=panel.ts.tz_convert(None))
    frame = frame.dropna(subset=["open", "high", "low", "close"])
    if "volume" not in frame:
        frame["volume"] = 0.0
    return bt.feeds.PandasData(dataname=frame, name=symbol, openinterest=None)


def _commission_info(commission: Commission) -> Any:
    import backtrader as bt

    class _Schedule(bt.CommInfoBase):  # type: ignore[misc]
        params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_FIXED))

        def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
            return commission.of(size, price)

    return _Schedule()


def equity_metrics(equity: np.ndarray, cash: float, pnl_net: np.ndarray, n_fills: int, n_rejected: int,
                   commission: float, exposure: float, *, periods_per_year: float = 252.0) -> np.ndarray:  # fmt: skip
    """Return the engine's metric row computed from a finished equity curve (the reference).

    ``periods_per_year`` bars a year annualise (252: daily bars; `bifrost.data.periods_per_year`).
    """
    returns = np.diff(np.concatenate([[cash], equity])) / np.concatenate([[cash], equity[:-1]])
    returns = returns[np.concatenate([[cash], equity[:-1]]) > 0]
    out = np.full(len(K.METRICS), np.nan)
    final = float(equity[-1])
    out[K.M_FINAL_VALUE] = final
    out[K.M_TOTAL_RETURN] = final / cash - 1.0
    if returns.size and final > 0:
        out[K.M_ANNUAL_RETURN] = (final / cash) ** (periods_per_year / returns.size) - 1.0
    std = returns.std(ddof=1) if returns.size > 1 else np.nan
    out[K.M_ANNUAL_VOLATILITY] = std * np.sqrt(periods_per_year)
    out[K.M_SHARPE] = returns.mean() / std * np.sqrt(periods_per_year) if returns.size > 1 and std > 0 else np.nan
    running = np.maximum.accumulate(np.concatenate([[cash], equity]))
    out[K.M_MAX_DRAWDOWN] = min(0.0, float((np.concatenate([[cash], equity]) / running - 1.0).min()))
    out[K.M_N_TRADES] = pnl_net.size
    out[K.M_WIN_RATE] = (pnl_net > 0).mean() if pnl_net.size else np.nan
    losses = -pnl_net[pnl_net <= 0].sum()
    wins = pnl_net[pnl_net > 0].sum()
    out[K.M_PROFIT_FACTOR] = wins / losses if losses > 0 else (np.inf if wins > 0 else np.nan)
    out[K.M_N_FILLS] = n_fills
    out[K.M_N_REJECTED] = n_rejected
    out[K.M_COMMISSION] = commission
    out[K.M_EXPOSURE] = exposure
    return out


def run_backtrader(
    panel: Panel,
    strategy: type,
    params: Mapping[str, Any] | None = None,
    *,
    cash: float = 100_000.0,
    fill: FillModel | None = None,
    periods_per_year: float | None = None,
    dividends: DividendMode = "cash",
) -> BacktestResult:
    """Run an unmodified ``backtrader.Strategy`` subclass on ``panel``; return a `BacktestResult`.

    Parameters
    ----------
    panel
        Bars; every symbol becomes one data feed, in the panel's order (``self.datas``).
    strategy
        The ``backtrader.Strategy`` subclass, as written for backtrader.
    params
        Its parameters (``cerebro.addstrategy(strategy, **params)``).
    fill
        Mapped onto the broker: the commission schedule, ``slippage_bps``
        (``set_slippage_perc``, kept inside the bar), ``fill_at="close"``
        (cheat-on-close) and ``volume_cap`` (``FixedBarPerc``). Shorting and leverage
        follow backtrader's own broker, which allows both.
    periods_per_year
        Bars a year that annualise the metrics (default: the panel's frequency's, as
        the engine's `bifrost.strategy.simulate`).
    dividends
        ``cash`` (the default): the panel's dividends are added to the broker's cash on
        their ex-dates (``broker.add_cash``), as the engine credits them; ``ignore``: not.

    Raises
    ------
    InvalidInputError
        If ``strategy`` is not a ``backtrader.Strategy`` subclass, the fill model asks
        for what backtrader's broker cannot do (range-based slippage, lots, expiry), or
        ``dividends`` is ``reinvest`` (backtrader has no reinvestment) or not a mode.
    """
    import backtrader as bt

    if not (isinstance(strategy, type) and issubclass(strategy, bt.Strategy)):
        raise InvalidInputError(f"strategy must be a backtrader.Strategy subclass, got {strategy!r}")
    per_year = annual_bars(panel, check_periods_per_year(periods_per_year))
    if check_dividends(dividends) == "reinvest":
        raise InvalidInputError(
            "backtrader's broker cannot reinvest dividends; use dividends='cash' or 'ignore' here, or the engine "
            "(bifrost.strategy.backtest) to reinvest"
        )
    schedule = _dividend_schedule(panel, dividends)
    model = fill if fill is not None else FillModel()
    if model.slippage_range or model.valid_bars or model.lot_size not in (0.0, 1.0):
        raise InvalidInputError("backtrader's broker has no range slippage, order expiry or lot sizes; unset them")
    cerebro = bt.Cerebro(stdstats=False)
    for symbol in panel.symbols:
        cerebro.adddata(backtrader_feed(panel, symbol))
    cerebro.broker.setcash(float(cash))
    cerebro.broker.addcommissioninfo(_commission_info(model.commission))
    if model.slippage_bps:
        cerebro.broker.set_slippage_perc(model.slippage_bps * 1e-4, slip_open=True, slip_match=True)
    if model.fill_at == "close":
        cerebro.broker.set_coc(True)
    if model.volume_cap is not None:
        cerebro.broker.set_filler(bt.broker.fillers.FixedBarPerc(perc=model.volume_cap * 100.0))
    cerebro.addstrategy(strategy, **dict(params or {}))
    cerebro.addanalyzer(_recorder(), _name="bifrost", dividends=schedule, intraday=is_intraday(panel.frequency))
    strat = cerebro.run()[0]
    rec = strat.analyzers.bifrost
    return _result(panel, strategy.__name__, params or {}, float(cash), model, per_year, rec, dividends)


def _dividend_schedule(panel: Panel, mode: DividendMode) -> dict[str, dict[pd.Timestamp, tuple[int, float]]]:
    # per symbol: the stamp of its bar before each ex-date -> (the ex-date's bar, the dividend),
    # the stamps as the recorder reads backtrader's (naive UTC; a daily bar's date)
    grid = dividend_grid(panel, mode)
    if grid is None:
        return {}
    stamps = panel.ts.tz_convert(None)
    keys = stamps if is_intraday(panel.frequency) else stamps.normalize()
    out: dict[str, dict[pd.Timestamp, tuple[int, float]]] = {}
    for j, symbol in enumerate(panel.symbols):
        has_bar = np.isfinite(np.column_stack([panel[f][:, j] for f in ("open", "high", "low", "close")])).all(axis=1)
        rows = np.flatnonzero(has_bar)  # the feed's bars (backtrader_feed drops the others)
        out[symbol] = {keys[int(a)]: (int(b), float(grid[b, j])) for a, b in itertools.pairwise(rows) if grid[b, j] > 0}
    return out


def _result(
    panel: Panel, name: str, params: Mapping[str, Any], cash: float, fill: FillModel, per_year: float, rec: Any,
    dividends: DividendMode = "cash",
) -> BacktestResult:  # fmt: skip
    # the recorder's stamps are backtrader's, naive UTC kept as float days: an intraday bar is
    # its stamp to the second (the finest bar), a daily one its date (backtrader may set the
    # session's end as its time)
    stamps = panel.ts.tz_convert(None)
    intraday = is_intraday(panel.frequency)
    bar = {d: i for i, d in enumerate(stamps if intraday else stamps.normalize())}

    def at(d: pd.Timestamp) -> int:
        return bar[d.round("s") if intraday else d.normalize()]

    col = {s: j for j, s in enumerate(panel.symbols)}
    n_t, n_sym = panel.shape
    equity = np.full(n_t, np.nan)
    cash_curve = np.full(n_t, np.nan)
    positions = np.zeros((n_t, n_sym))
    for d, value, c, pos in rec.bars:
        t = at(d)
        equity[t], cash_curve[t] = value, c
        positions[t] = [pos.get(s, 0.0) for s in panel.symbols]
    # bars before backtrader's first call hold the starting cash
    equity = pd.Series(equity).ffill().fillna(cash).to_numpy()
    cash_curve = pd.Series(cash_curve).ffill().fillna(cash).to_numpy()
    fills = np.array([[oid, col[s], at(d), q, p, c] for oid, s, d, q, p, c in rec.fills], dtype=np.float64).reshape(
        -1, K.N_FILL_FIELDS
    )
    orders = np.full((len(rec.orders), K.N_ORDER_FIELDS), np.nan)
    for i, (oid, s, d0, d1, otype, size, filled, avg, lim, stp, status) in enumerate(rec.orders):
        orders[i] = [oid, col[s], at(d0), at(d1) if d1 is not None else -1, otype, K.BY_STRATEGY, size, K.SHARES,
                     filled, avg, lim, stp, status, K.NO_CASH if status == K.REJECTED else K.NO_REASON,
                     1.0 if size > 0 else -1.0]  # fmt: skip
    trades = np.array(
        [
            [col[s], at(d0), at(d1), q, pin, pout, pnl, pnlc, pnl - pnlc]
            for s, d0, d1, q, pin, pout, pnl, pnlc in rec.trades
        ],
        dtype=np.float64,
    ).reshape(-1, K.N_TRADE_FIELDS)
    metrics = equity_metrics(
        equity, cash, trades[:, K.R_PNL_NET], len(fills), int((orders[:, K.O_STATUS] == K.REJECTED).sum()),
        float(fills[:, K.F_COMMISSION].sum()), float((positions != 0).any(axis=1).mean()), periods_per_year=per_year,
    )  # fmt: skip
    income = np.zeros((n_t, n_sym))
    for s, t, amount in rec.dividends:
        income[t, col[s]] += amount
    records = KernelRecords(
        equity=equity[:, None], cash=cash_curve[:, None], positions=positions, orders=orders, fills=fills,
        trades=trades, metrics=metrics[None, :], dividends=income,
    )  # fmt: skip
    return BacktestResult.from_records(
        records, panel, strategy=name, params=params, cash=cash, fill=fill, dividends=dividends
    )


def _recorder_class() -> type:
    import backtrader as bt

    types = {bt.Order.Market: F.MARKET, bt.Order.Close: F.MARKET, bt.Order.Limit: F.LIMIT,
             bt.Order.Stop: F.STOP, bt.Order.StopLimit: F.STOP_LIMIT}  # fmt: skip
    statuses = {bt.Order.Completed: K.FILLED, bt.Order.Canceled: K.CANCELED, bt.Order.Expired: K.EXPIRED,
                bt.Order.Margin: K.REJECTED, bt.Order.Rejected: K.REJECTED}  # fmt: skip

    class Recorder(bt.Analyzer):  # type: ignore[misc]
        # everything the result needs, as plain tuples: bars, fills, finished orders, trades;
        # and it credits the dividends (see _dividend_schedule) through the broker
        params = (("dividends", None), ("intraday", False))

        def start(self) -> None:
            self.dividends: list[tuple[str, int, float]] = []
            self._credited: set[tuple[str, int]] = set()
            self.bars: list[tuple[Any, ...]] = []
            self.fills: list[tuple[Any, ...]] = []
            self.orders: list[tuple[Any, ...]] = []
            self.trades: list[tuple[Any, ...]] = []
            self._opened: dict[int, float] = {}

        def _day(self, data: Any) -> pd.Timestamp:
            return pd.Timestamp(data.datetime.datetime(0))

        def notify_order(self, order: Any) -> None:
            d = self._day(order.data)
            for bit in order.executed.iterpending():
                comm = bit.closedcomm + bit.openedcomm
                self.fills.append((order.ref, order.data._name, d, bit.size, bit.price, comm))
            order.executed.markpending()
            if order.status in statuses:
                created = pd.Timestamp(bt.num2date(order.created.dt))
                self.orders.append((
                    order.ref, order.data._name, created, d, types.get(order.exectype, F.MARKET), order.size,
                    order.executed.size, order.executed.price if order.executed.size else np.nan,
                    order.price if order.exectype in (bt.Order.Limit, bt.Order.StopLimit) else np.nan,
                    order.price if order.exectype in (bt.Order.Stop, bt.Order.StopLimit) else np.nan,
                    statuses[order.status],
                ))  # fmt: skip

        def notify_trade(self, trade: Any) -> None:
            if trade.justopened:
                self._opened[trade.ref] = trade.size
            if trade.isclosed:
                size = self._opened.pop(trade.ref, 0.0)
                self.trades.append((
                    trade.data._name, pd.Timestamp(bt.num2date(trade.dtopen)),
                    pd.Timestamp(bt.num2date(trade.dtclose)), size, trade.price,
                    trade.price + trade.pnl / size if size else np.nan, trade.pnl, trade.pnlcomm,
                ))  # fmt: skip

        def _bar(self) -> None:
            broker = self.strategy.broker
            pos = {d._name: broker.getposition(d).size for d in self.strategy.datas}
            self.bars.append((self._day(self.strategy.datas[0]), broker.getvalue(), broker.getcash(), pos))
            for data in self.strategy.datas if self.p.dividends else ():
                day = self._day(data)
                due = self.p.dividends.get(data._name, {}).get(day.round("s") if self.p.intraday else day.normalize())
                if due is None or (data._name, due[0]) in self._credited:
                    continue  # none tomorrow, or already credited (a feed without a bar today repeats its last)
                self._credited.add((data._name, due[0]))
                size = broker.getposition(data).size
                if size:
                    broker.add_cash(size * due[1])  # backtrader applies it on the next bar: the ex-date's
                    self.dividends.append((data._name, due[0], size * due[1]))

        def prenext(self) -> None:
            self._bar()

        def nextstart(self) -> None:
            self._bar()

        def next(self) -> None:
            self._bar()

    return Recorder


_RECORDER: list[type] = []  # built on first use: backtrader is an optional extra


def _recorder() -> type:
    if not _RECORDER:
        _RECORDER.append(_recorder_class())
    return _RECORDER[0]
