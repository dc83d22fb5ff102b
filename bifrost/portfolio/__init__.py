"""Portfolio: an append-only transaction ledger; positions, cash and P&L derive from it.

>>> from decimal import Decimal as D
>>> import pandas as pd
>>> from bifrost.portfolio import Ledger, Fill, Side
>>> book = Ledger("demo", inception="2020-01-01", cost_basis="fifo")
>>> book.append(Fill(txn_id="1", ts=pd.Timestamp("2020-01-02", tz="UTC"), symbol="ORCL",
...                  side=Side.BUY, quantity=D(100), price=D("53.20")))
>>> book.position("ORCL").quantity, book.cash
(Decimal('100'), Decimal('-5320.00'))
"""

from bifrost.portfolio._csv import TRANSACTION_COLUMNS, read_transactions_csv
from bifrost.portfolio._dividends import NEAR_DAYS, with_store_dividends
from bifrost.portfolio._ledger import CostBasis, Ledger, Position
from bifrost.portfolio._persist import (
    append_in_transaction,
    create_portfolio,
    list_portfolios,
    load_portfolio,
    portfolios_marker,
    record_transactions,
    require_portfolio,
)
from bifrost.portfolio._report import MarkedPortfolio, mark_to_latest
from bifrost.portfolio._transactions import (
    CashFlow,
    CashKind,
    Dividend,
    DividendOrigin,
    Fill,
    Side,
    Split,
    Transaction,
    to_decimal,
    to_utc,
)
from bifrost.portfolio._valuation import Valuation, value_ledger

__all__ = [
    "NEAR_DAYS",
    "TRANSACTION_COLUMNS",
    "CashFlow",
    "CashKind",
    "CostBasis",
    "Dividend",
    "DividendOrigin",
    "Fill",
    "Ledger",
    "MarkedPortfolio",
    "Position",
    "Side",
    "Split",
    "Transaction",
    "Valuation",
    "append_in_transaction",
    "create_portfolio",
    "list_portfolios",
    "load_portfolio",
    "mark_to_latest",
    "portfolios_marker",
    "read_transactions_csv",
    "record_transactions",
    "require_portfolio",
    "to_decimal",
    "to_utc",
    "value_ledger",
    "with_store_dividends",
]
