"""Vectorised valuation of a ledger against daily bars: equity, exposures, attribution.

The Decimal ledger is the record; this is its float64 mirror for whole histories. Each
transaction becomes one row of arrays, converted once. Share counts are carried in
post-split units so that holdings are a cumulative sum, then divided back by the splits
still to come on each day. Dividends use the holdings just before the dividend entry, as
the ledger does. The test suite holds the two to the cent on a long real ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from bifrost._typing import FloatArray
from bifrost.data import Panel
from bifrost.errors import InvalidInputError
from bifrost.portfolio._ledger import Ledger
from bifrost.portfolio._transactions import CashFlow, CashKind, Dividend, Fill, Side, Split

__all__ = ["Valuation", "value_ledger"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Valuation:
    """Daily state of a portfolio at the close: one row per trading day of the panel."""

    ts: pd.DatetimeIndex
    symbols: tuple[str, ...]
    holdings: FloatArray  # days × symbols, shares
    market_value: FloatArray  # days × symbols
    cash: FloatArray
    pnl: FloatArray  # days × symbols: trading P&L plus dividends, per day
    flows: FloatArray  # deposits minus withdrawals, per day
    traded: FloatArray  # notional bought plus sold, per day

    def returns(self) -> pd.Series:
        """Time-weighted daily returns: each day's equity change net of that day's flows.

        The first day (and any day after a day of zero equity) has no return: NaN.
        """
        equity = self.equity
        previous = np.r_[np.nan, equity[:-1]]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (equity - self.flows) / previous - 1.0
        r[~np.isfinite(r)] = np.nan
        return pd.Series(r, index=self.ts, name="returns")

    @property
    def equity(self) -> FloatArray:
        """Cash plus market value, per day."""
        total: FloatArray = self.cash + self.market_value.sum(axis=1)
        return total

    def frame(self) -> pd.DataFrame:
        """Daily equity, cash, long/short/gross/net exposure, leverage (gross / equity) and
        turnover (traded / equity); leverage and turnover are NaN where equity is not positive."""
        mv = self.market_value
        long = np.where(mv > 0, mv, 0.0).sum(axis=1)
        short = np.where(mv < 0, mv, 0.0).sum(axis=1)
        equity = self.equity
        positive = equity > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            leverage = np.where(positive, (long - short) / equity, np.nan)
            turnover = np.where(positive, self.traded / equity, np.nan)
        return pd.DataFrame(
            {"equity": equity, "cash": self.cash, "long": long, "short": short, "gross": long - short,
             "net": long + short, "leverage": leverage, "turnover": turnover},
            index=self.ts,
        )  # fmt: skip

    def weights(self) -> pd.DataFrame:
        """Each position's market value over equity, per day."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return pd.DataFrame(self.market_value / self.equity[:, None], index=self.ts, columns=list(self.symbols))

    def attribution(self, sectors: pd.Series | None = None) -> pd.Series:
        """Total P&L (trading and dividends, before costs) by symbol, or by sector if given."""
        by_symbol = pd.Series(self.pnl.sum(axis=0), index=list(self.symbols))
        if sectors is None:
            return by_symbol
        return by_symbol.groupby(sectors.reindex(by_symbol.index).fillna("unknown")).sum()


def value_ledger(ledger: Ledger, panel: Panel, *, late: Literal["raise", "last_close"] = "raise") -> Valuation:
    """Value ``ledger`` at every close of ``panel`` (raw prices, fields ``close``).

    Parameters
    ----------
    late
        What a transaction dated after the panel's last date does: ``raise`` (the default),
        or ``last_close``: it is booked on the last date, so the book is valued at the last
        close known (what a monitor shows for today's paper fill before today's bar is
        ingested).

    Raises
    ------
    InvalidInputError
        If a traded symbol is not in the panel, a transaction falls before its first date
        (or after its last, with ``late="raise"``), or a held position has no close on a
        day it must be valued.
    """
    if late not in ("raise", "last_close"):
        raise InvalidInputError(f"late must be 'raise' or 'last_close', got {late!r}")
    close = panel["close"]
    n_days, n_symbols = close.shape
    col = {s: j for j, s in enumerate(panel.symbols)}
    day_ns = panel.ts.as_unit("ns").asi8
    txns = ledger.transactions
    n = len(txns)
    day = np.empty(n, dtype=np.int64)
    sym = np.full(n, -1, dtype=np.int64)
    shares = np.zeros(n)  # signed share change, in the units of that day
    cash = np.zeros(n)
    ratio = np.ones(n)
    per_share = np.zeros(n)
    price = np.zeros(n)
    for i, t in enumerate(txns):
        d = int(np.searchsorted(day_ns, t.ts.normalize().value, side="right")) - 1
        if d < 0 or (late == "raise" and t.ts.normalize().value > day_ns[-1]):
            raise InvalidInputError(f"transaction {t.txn_id!r} on {t.ts.date()} is outside the panel's dates")
        day[i] = d
        if isinstance(t, Fill | Dividend | Split):
            if t.symbol not in col:
                raise InvalidInputError(f"transaction {t.txn_id!r}: {t.symbol} is not in the panel")
            sym[i] = col[t.symbol]
        if isinstance(t, Fill):
            q = float(t.quantity) if t.side is Side.BUY else -float(t.quantity)
            shares[i] = q
            price[i] = float(t.price)
            cash[i] = -q * price[i] - float(t.commission) - float(t.fees)
        elif isinstance(t, CashFlow):
            cash[i] = float(t.amount) if t.kind in (CashKind.DEPOSIT, CashKind.INTEREST) else -float(t.amount)
        elif isinstance(t, Dividend):
            per_share[i] = float(t.per_share)
        else:
            ratio[i] = float(t.ratio)
    # the product of a symbol's split ratios after each transaction, in ledger order:
    # what one share then is in post-split units
    later = np.ones(n)
    for j in np.unique(sym[ratio != 1.0]):
        rows = np.flatnonzero(sym == j)
        r = ratio[rows]
        later[rows] = np.cumprod(r[::-1])[::-1] / r
    adj_shares = shares * later
    # holdings (post-split units) after each transaction, per symbol, in ledger order
    held_after = np.zeros(n)
    for j in np.unique(sym[sym >= 0]):
        rows = np.flatnonzero(sym == j)
        held_after[rows] = np.cumsum(adj_shares[rows])
    held_before = held_after - adj_shares
    dividend_rows = per_share != 0
    cash[dividend_rows] = held_before[dividend_rows] / later[dividend_rows] * per_share[dividend_rows]
    # to days: end-of-day holdings in post-split units, then back to that day's units
    adj_hold = np.zeros((n_days, n_symbols))
    np.add.at(adj_hold, (day[sym >= 0], sym[sym >= 0]), adj_shares[sym >= 0])
    adj_hold = np.cumsum(adj_hold, axis=0)
    split_factor = np.ones((n_days, n_symbols))  # splits after each day's close still to come
    for i in map(int, np.flatnonzero(ratio != 1.0)):
        split_factor[: day[i], sym[i]] *= ratio[i]
    holdings = adj_hold / split_factor
    external = np.zeros(n)
    for i, t in enumerate(txns):
        if isinstance(t, CashFlow) and t.kind in (CashKind.DEPOSIT, CashKind.WITHDRAWAL):
            external[i] = cash[i]
    daily_flows = np.zeros(n_days)
    np.add.at(daily_flows, day, external)
    daily_cash = np.zeros(n_days)
    np.add.at(daily_cash, day, cash)
    daily_cash = np.cumsum(daily_cash)
    held = np.abs(holdings) > 1e-12
    if np.isnan(close[held]).any():
        d, j = np.argwhere(held & np.isnan(close))[0]
        raise InvalidInputError(f"{panel.symbols[j]} is held on {panel.ts[d].date()} but has no close that day")
    market_value = np.where(held, holdings * np.nan_to_num(close), 0.0)
    # per-symbol P&L: change in value minus what was paid for trades, plus dividends
    paid = np.zeros((n_days, n_symbols))
    trades = shares != 0
    np.add.at(paid, (day[trades], sym[trades]), shares[trades] * price[trades])
    traded = np.zeros(n_days)
    np.add.at(traded, day[trades], np.abs(shares[trades] * price[trades]))
    income = np.zeros((n_days, n_symbols))
    np.add.at(income, (day[dividend_rows], sym[dividend_rows]), cash[dividend_rows])
    previous = np.vstack([np.zeros((1, n_symbols)), market_value[:-1]])
    pnl = market_value - previous - paid + income
    return Valuation(
        ts=panel.ts,
        symbols=panel.symbols,
        holdings=holdings,
        market_value=market_value,
        cash=daily_cash,
        pnl=pnl,
        flows=daily_flows,
        traded=traded,
    )
