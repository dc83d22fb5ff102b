"""The store's dividends reach a portfolio: SPY's real dividends, checked by hand from the file.

The model (README, "Portfolios"): a portfolio loaded from the store is credited each stored
dividend of a symbol it held, on the ex-date, per-share amount × the shares held at the
close before the ex-date (shorts pay it); a dividend the user recorded on the same symbol
and ex-date replaces the store's.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Sequence
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, EmbeddedStore, ingest, record_actions
from bifrost.errors import DataQualityWarning, InvalidInputError, TransactionRejected
from bifrost.portfolio import (
    CashFlow,
    CashKind,
    Dividend,
    Fill,
    Ledger,
    Side,
    create_portfolio,
    list_portfolios,
    load_portfolio,
    mark_to_latest,
    record_transactions,
    value_ledger,
    with_store_dividends,
)
from tests.cli import bifrost
from tests.conftest import SPY


def _day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _file() -> tuple[dict[pd.Timestamp, D], dict[pd.Timestamp, D]]:
    # the vendor file read as text, not through bifrost: the ex-dates and amounts, the closes
    dividends, closes = {}, {}
    with SPY.open(newline="") as f:
        for row in csv.DictReader(f):
            ts = _day(row["timestamp"])
            closes[ts] = D(row["close"])
            if D(row["dividend_amount"]) > 0:
                dividends[ts] = D(row["dividend_amount"])
    return dividends, closes


DIVIDENDS, CLOSES = _file()
T0 = _day("2015-01-02")


def _fill(txn_id: str, ts: pd.Timestamp, side: Side, quantity: int | D) -> Fill:
    return Fill(txn_id=txn_id, ts=ts, symbol="SPY", side=side, quantity=D(quantity), price=CLOSES[ts])


def _by_hand(fills: list[Fill], since: pd.Timestamp = T0) -> D:
    # per-share amount × the shares held at the close before the ex-date (fills dated before it)
    total = D(0)
    for ex, amount in DIVIDENDS.items():
        if ex >= since:
            held = sum((f.quantity if f.side is Side.BUY else -f.quantity for f in fills if f.ts < ex), D(0))
            total += held * amount
    return total


@pytest.fixture(scope="module")
def spy_store(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    store = EmbeddedStore(tmp_path_factory.mktemp("div"))
    ingest(store, CsvSource(SPY, symbol="SPY"), start="2014-06-01")
    return store


# bought 200 in 2015, sold 50 on an ex-date (held at the close before: credited 200), 30
# bought the day before an ex-date (credited), 180 sold before the last one
FILLS = [
    _fill("b1", T0, Side.BUY, 200),
    _fill("s1", _day("2017-06-16"), Side.SELL, 50),
    _fill("b2", _day("2018-03-15"), Side.BUY, 30),
    _fill("s2", _day("2020-06-01"), Side.SELL, 180),
]


def _portfolio(store: BarStore, name: str, txns: Sequence[Fill | Dividend]) -> None:
    create_portfolio(store, name, inception="2015-01-01")
    record_transactions(store, name, [CashFlow(txn_id="d", ts=T0, kind=CashKind.DEPOSIT, amount=D(100_000)), *txns])


def test_store_dividends_are_credited_on_shares_held_at_the_close_before_the_ex_date(spy_store: EmbeddedStore) -> None:
    _portfolio(spy_store, "core", FILLS)
    book = load_portfolio(spy_store, "core")
    expected = _by_hand(FILLS)
    assert expected > 0
    assert book.totals()["dividends"] == book.position("SPY").dividends == expected  # exact, in Decimal
    entries = book.dividends_frame()
    credited = sorted(ex for ex in DIVIDENDS if T0 <= ex < _day("2020-06-01"))  # flat from 2020-06-01
    assert entries["ts"].tolist() == credited and len(credited) == 21
    assert set(entries["origin"]) == {"store"}
    row = entries.set_index("ts").loc[_day("2017-06-16")]
    assert (row["shares"], row["per_share"], row["amount"]) == (200.0, 1.1831, pytest.approx(236.62))
    assert entries.set_index("ts").loc[_day("2018-03-16"), "shares"] == 180.0
    # the cash went to the account; nothing was written to the stored ledger
    paid = sum((f.quantity * f.price * (1 if f.side is Side.BUY else -1) for f in FILLS), D(0))
    assert book.cash == D(100_000) - paid + expected
    assert list_portfolios(spy_store).set_index("name").loc["core", "transactions"] == 5
    shown = json.loads(mark_to_latest(book, spy_store).to_json())  # what `portfolio show --json` prints
    assert shown["totals"]["dividends"] == pytest.approx(float(expected)) and len(shown["dividends"]) == 21
    assert shown["dividends"][0] | {"amount": 0} == {
        "txn_id": "store-dividend:SPY:2015-03-20", "ts": "2015-03-20T00:00:00+00:00", "symbol": "SPY",
        "per_share": 0.9308, "shares": 200.0, "amount": 0, "origin": "store",
    }  # fmt: skip
    assert len(load_portfolio(spy_store, "core", store_dividends=False).transactions) == 5


def test_store_dividends_can_be_turned_off(spy_store: EmbeddedStore) -> None:
    _portfolio(spy_store, "off", FILLS[:1])
    book = load_portfolio(spy_store, "off", store_dividends=False)
    assert book.totals()["dividends"] == 0 and book.dividends_frame().empty
    assert mark_to_latest(book, spy_store).totals["dividends"] == 0
    with pytest.raises(InvalidInputError, match="store_dividends must be True or False, got 'no'"):
        load_portfolio(spy_store, "off", store_dividends="no")  # type: ignore[arg-type]


def test_a_short_position_pays_the_dividend(spy_store: EmbeddedStore) -> None:
    short = [_fill("s", _day("2019-01-02"), Side.SELL, 100)]
    _portfolio(spy_store, "short", short)
    book = load_portfolio(spy_store, "short")
    expected = -100 * sum((v for ex, v in DIVIDENDS.items() if ex > _day("2019-01-02")), D(0))
    assert book.totals()["dividends"] == _by_hand(short) == expected < 0
    assert (book.dividends_frame()["amount"] < 0).all()


def test_a_dividend_recorded_by_hand_on_the_ex_date_replaces_the_stores(spy_store: EmbeddedStore) -> None:
    # the user booked the 2015-03-20 dividend (at their broker's 0.93); the store's 0.9308 is not added too
    hand = Dividend(txn_id="mine", ts=_day("2015-03-20"), symbol="SPY", per_share=D("0.93"))
    _portfolio(spy_store, "hand", [*FILLS[:1], hand])
    book = load_portfolio(spy_store, "hand")
    assert book.totals()["dividends"] == _by_hand(FILLS[:1]) - 200 * DIVIDENDS[_day("2015-03-20")] + 200 * D("0.93")
    entries = book.dividends_frame().set_index("ts")
    assert entries.loc[_day("2015-03-20"), "origin"] == "recorded" and entries.index.is_unique
    # crediting the store's dividends twice adds nothing
    again = with_store_dividends(book, spy_store)
    assert again.transactions == book.transactions


def test_a_recorded_dividend_near_a_store_ex_date_is_credited_with_a_warning(spy_store: EmbeddedStore) -> None:
    # dated on its pay date, not its ex-date: not the same entry by the rule, so both count, and the user is told
    hand = Dividend(txn_id="paid", ts=_day("2015-04-30"), symbol="SPY", per_share=DIVIDENDS[_day("2015-03-20")])
    _portfolio(spy_store, "near", [*FILLS[:1], hand])
    with pytest.warns(DataQualityWarning, match=r"SPY on 2015-04-30 .* 41 days after .* 2015-03-20") as caught:
        book = load_portfolio(spy_store, "near")
    assert len(caught) == 1
    assert book.totals()["dividends"] == _by_hand(FILLS[:1]) + 200 * DIVIDENDS[_day("2015-03-20")]


def test_a_dividend_after_the_symbols_last_bar_waits_for_the_bar(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    ingest(store, CsvSource(SPY, symbol="SPY"), start="2020-01-01", end="2020-06-01")
    record_actions(
        store, pd.DataFrame({"symbol": ["SPY"], "ts": ["2020-06-19"], "kind": ["dividend"], "value": [1.3662]})
    )
    book = Ledger("late", inception="2020-01-01")
    book.append(_fill("b", _day("2020-01-02"), Side.BUY, 10))
    credited = with_store_dividends(book, store).dividends_frame()
    assert credited["ts"].tolist() == [_day("2020-03-20")]  # not 2020-06-19: the store's closes end 2020-05-29


def test_buy_and_hold_with_store_dividends_matches_the_total_return_close(spy_store: EmbeddedStore) -> None:
    # The store's total-return close (CRSP: prices before an ex-date × (1 - dividend / previous close))
    # is buy and hold with each dividend reinvested on its ex-date at the previous close less the
    # dividend. A ledger credited the store's dividends as cash, reinvesting each at that price,
    # ends where the adjusted close says, to the cent; left as cash it earns the price return plus
    # the dividends, exactly.
    end = _day("2020-11-25")
    adjusted = spy_store.read_bars("SPY", T0, fields=["close"], adjustment="adjusted")["close"].droplevel("symbol")
    panel = spy_store.read_panel(["SPY"], T0, fields=["close"])
    recorded: list[Fill | CashFlow] = [
        CashFlow(txn_id="d", ts=T0, kind=CashKind.DEPOSIT, amount=200 * CLOSES[T0]),
        _fill("b", T0, Side.BUY, 200),
    ]
    cash_book = with_store_dividends(Ledger.replay("cash", recorded, inception=T0), spy_store)
    cash_equity = value_ledger(cash_book, panel).equity
    received = 200 * sum((v for ex, v in DIVIDENDS.items() if ex > T0), D(0))
    assert cash_equity[-1] == pytest.approx(float(200 * CLOSES[end] + received), abs=0.005)

    closes = list(CLOSES)
    for ex in sorted(ex for ex in DIVIDENDS if ex > T0):
        held = sum((t.quantity for t in recorded if isinstance(t, Fill)), D(0))
        price = CLOSES[closes[closes.index(ex) + 1]] - DIVIDENDS[ex]  # the file is newest-first
        quantity = held * DIVIDENDS[ex] / price  # the dividend's cash, all of it
        recorded.append(
            Fill(txn_id=f"r{ex:%Y%m%d}", ts=ex, symbol="SPY", side=Side.BUY, quantity=quantity, price=price)
        )
    reinvested = with_store_dividends(Ledger.replay("reinvest", recorded, inception=T0), spy_store)
    valuation = value_ledger(reinvested, panel)
    assert len(reinvested.dividends_frame()) == 23
    assert valuation.equity[-1] == pytest.approx(
        float(200 * CLOSES[T0]) * adjusted.iloc[-1] / adjusted.iloc[0], abs=0.01
    )
    # and day by day: the portfolio's time-weighted returns are the adjusted close's
    np.testing.assert_allclose(valuation.returns().to_numpy()[1:], adjusted.pct_change().to_numpy()[1:], atol=1e-10)


def test_cli_portfolio_show_credits_the_stores_dividends(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert bifrost(home, "data", "ingest", "csv", str(SPY), "--symbol", "SPY").returncode == 0
    txns = tmp_path / "t.csv"
    header = "txn_id,ts,type,symbol,quantity,price,amount\n"
    txns.write_text(f"{header}1,2015-01-02,deposit,,,,50000\n2,2015-01-02,buy,SPY,200,{CLOSES[T0]},\n")
    assert bifrost(home, "portfolio", "import", "core", str(txns)).returncode == 0
    expected = _by_hand([_fill("2", T0, Side.BUY, 200)])
    shown = bifrost(home, "portfolio", "show", "core")
    assert shown.returncode == 0, shown.stderr
    assert f"dividends       {expected:,.2f}" in shown.stdout and "dividends       0.00" not in shown.stdout
    assert "23 credited from the store" in shown.stdout
    off = bifrost(home, "portfolio", "show", "core", "--no-store-dividends")
    assert "dividends       0.00" in off.stdout
    listed = json.loads(bifrost(home, "portfolio", "dividends", "core", "--json").stdout)
    assert len(listed) == 23 and listed[0]["ts"].startswith("2015-03-20") and listed[0]["origin"] == "store"
    assert listed[0]["amount"] == pytest.approx(200 * 0.9308)
    none = bifrost(home, "portfolio", "dividends", "core", "--no-store-dividends")
    assert none.returncode == 0 and "no dividends" in none.stdout


def test_store_dividends_on_every_backend(store: BarStore) -> None:
    ingest(store, CsvSource(SPY, symbol="SPY"), start="2019-06-01")
    create_portfolio(store, "core", inception="2019-06-01")
    fills = [_fill("b", _day("2019-06-03"), Side.BUY, 10)]
    record_transactions(store, "core", fills)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        book = load_portfolio(store, "core")
    assert (
        book.totals()["dividends"]
        == _by_hand(fills, _day("2019-06-03"))
        == 10 * (D("1.4316") + D("1.3836") + D("1.5700") + D("1.4056") + D("1.3662") + D("1.3392"))
    )


def test_a_dividend_of_unknown_origin_is_refused() -> None:
    book = Ledger("o", inception="2015-01-01")
    book.append(_fill("b", T0, Side.BUY, 1))
    odd = Dividend(txn_id="x", ts=_day("2015-03-20"), symbol="SPY", per_share=D("0.93"), origin="broker")  # type: ignore[arg-type]
    with pytest.raises(TransactionRejected, match="origin must be 'recorded' or 'store', got 'broker'"):
        book.append(odd)
    assert book.dividends_frame().empty


def test_a_store_dividend_the_ledger_refuses_says_how_to_leave_them_out(spy_store: EmbeddedStore) -> None:
    # bought at $1 (a price the ledger takes): the store's 0.9308 of 2015-03-20 is below it, 1.0301 of 2015-06-19 not
    cheap = Fill(txn_id="b", ts=T0, symbol="SPY", side=Side.BUY, quantity=D(1), price=D(1))
    _portfolio(spy_store, "cheap", [cheap])
    with pytest.raises(TransactionRejected, match=r"'store-dividend:SPY:2015-06-19'.*--no-store-dividends\)$"):
        load_portfolio(spy_store, "cheap")
    assert load_portfolio(spy_store, "cheap", store_dividends=False).totals()["dividends"] == 0
