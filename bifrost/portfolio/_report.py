"""A portfolio marked to the store's latest closes: what `bifrost portfolio show` prints."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from bifrost._json import dumps
from bifrost.data import Store
from bifrost.portfolio._ledger import Ledger
from bifrost.portfolio._transactions import to_decimal

__all__ = ["MarkedPortfolio", "mark_to_latest"]

_COLUMNS = ("symbol", "quantity", "avg_price", "mark", "mark_ts", "market_value", "unrealized", "realized", "dividends")


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkedPortfolio:
    """Positions valued at marks, with cash, equity and the P&L components."""

    name: str
    positions: pd.DataFrame  # symbol, quantity, avg_price, mark, mark_ts, market_value, unrealized, realized, dividends
    totals: dict[str, Decimal]
    dividends: pd.DataFrame = field(default_factory=pd.DataFrame)  # the ledger's `dividends_frame()`

    def dividends_note(self) -> str:
        """Say where the dividends came from: how many credited from the store, how many recorded."""
        if self.dividends.empty:
            return "dividends: none"
        origin = self.dividends["origin"]
        store = self.dividends[origin == "store"]
        told = f"dividends: {len(store)} credited from the store"
        if len(store):
            symbols = ", ".join(sorted(set(store["symbol"])))
            told += f" ({symbols}, ex-dates {store['ts'].min().date()} … {store['ts'].max().date()})"
        return told + f", {int((origin == 'recorded').sum())} recorded"

    def to_text(self) -> str:
        """Return a table and the totals, for a terminal."""
        lines = [f"portfolio {self.name}"]
        lines.append(self.positions.to_string(index=False) if len(self.positions) else "(no positions)")
        lines += [f"{k:15} {v:,.2f}" for k, v in self.totals.items()]
        lines.append(self.dividends_note())
        return "\n".join(lines)

    def to_json(self) -> str:
        """Return positions, totals and dividend entries as JSON (numbers as floats)."""
        frame = self.positions.assign(
            mark_ts=self.positions["mark_ts"].map(lambda t: None if pd.isna(t) else t.isoformat())
        )
        dividends = (
            self.dividends.assign(ts=self.dividends["ts"].map(lambda t: t.isoformat())).to_dict(orient="records")
            if len(self.dividends)
            else []
        )
        return dumps(
            {
                "name": self.name,
                "positions": frame.to_dict(orient="records"),
                "totals": {k: float(v) for k, v in self.totals.items()},
                "dividends": dividends,
            }
        )

    def _repr_html_(self) -> str:
        totals = "".join(f"<tr><td>{k}</td><td>{v:,.2f}</td></tr>" for k, v in self.totals.items())
        return (
            f"<b>{self.name}</b>"
            + self.positions.to_html(index=False)
            + f"<table>{totals}</table><p>{html.escape(self.dividends_note())}</p>"
        )


def mark_to_latest(ledger: Ledger, store: Store) -> MarkedPortfolio:
    """Value open positions at each symbol's latest raw close in ``store``.

    The ledger is marked as it is: a ledger from `load_portfolio` holds the store's
    dividends already; one built in memory gets them from `with_store_dividends`.
    """
    rows = []
    marks: dict[str, Decimal] = {}
    for p in ledger.positions():
        mark, mark_ts = None, None
        if p.quantity:
            last = store.read_bars(p.symbol, fields=["close"]).iloc[-1:]
            mark_ts = last.index.get_level_values("ts")[0]
            mark = to_decimal(float(last["close"].iloc[0]), "close")
            marks[p.symbol] = mark
        rows.append(
            {
                "symbol": p.symbol,
                "quantity": float(p.quantity),
                "avg_price": float(p.avg_price) if p.avg_price is not None else None,
                "mark": float(mark) if mark is not None else None,
                "mark_ts": mark_ts,
                "market_value": float(p.quantity * mark) if mark is not None else 0.0,
                "unrealized": float(p.unrealized_pnl(mark)) if mark is not None else 0.0,
                "realized": float(p.realized_pnl),
                "dividends": float(p.dividends),
            }
        )
    totals = ledger.totals()
    totals["unrealized_pnl"] = ledger.unrealized_pnl(marks)
    totals["equity"] = ledger.equity(marks)
    # the columns are named even when there are no positions (an empty or cash-only portfolio)
    return MarkedPortfolio(
        name=ledger.name,
        positions=pd.DataFrame(rows, columns=list(_COLUMNS)),
        totals=totals,
        dividends=ledger.dividends_frame(),
    )
