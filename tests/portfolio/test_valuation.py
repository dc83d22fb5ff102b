"""Float64 valuation against the Decimal ledger, to the cent, on a long real ledger."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.errors import InvalidInputError
from bifrost.portfolio import CashFlow, CashKind, Dividend, Fill, Ledger, Side, Split, to_decimal, value_ledger
from tests.conftest import SP500, SPY


@pytest.fixture(scope="module")
def real_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ledger, EmbeddedStore, list[D]]:
    """SPY 1999-11-01 … 2020-11-25 with its 85 real dividends, and DISCA's raw 2013–2018 bars
    with its real 2-for-1 split (2014-08-07) as a ledger Split: over 10,000 seeded fills at
    real closes, long and short. Returns the ledger, the store, and the Decimal equity at
    every close, computed by the ledger itself as it grows."""
    store = EmbeddedStore(tmp_path_factory.mktemp("val"))
    ingest(store, CsvSource(SPY, symbol="SPY"))
    ingest(store, CsvSource(SP500, symbol="DISCA"))
    panel = store.read_panel(["DISCA", "SPY"], fields=["close"])
    close = panel.frame("close")
    dividends = store.read_actions(["SPY"]).set_index("ts")["value"]
    rng = np.random.default_rng(20261124)
    book = Ledger("real", inception=panel.ts[0], cost_basis="fifo")
    book.append(CashFlow(txn_id="d0", ts=panel.ts[0], kind=CashKind.DEPOSIT, amount=D(1_000_000)))
    equity: list[D] = []
    held = {"SPY": D(0), "DISCA": D(0)}
    n = 0
    last_disca = close["DISCA"].last_valid_index()
    for ts, row in close.iterrows():
        todays = []
        if ts in dividends.index:
            todays.append(
                Dividend(txn_id=f"v{ts:%Y%m%d}", ts=ts, symbol="SPY", per_share=to_decimal(float(dividends[ts]), "d"))
            )
        if ts == pd.Timestamp("2014-08-07", tz="UTC"):
            todays.append(Split(txn_id="split", ts=ts, symbol="DISCA", ratio=D(2)))
            held["DISCA"] *= 2
        for sym in ("SPY", "DISCA"):
            if np.isnan(row[sym]):
                continue
            for _ in range(int(rng.integers(1, 4))):
                qty = D(int(rng.integers(1, 60)))
                side = Side.BUY if rng.random() < 0.5 else Side.SELL
                if sym == "DISCA" and ts == last_disca:  # close out before its bars end
                    if held[sym] == 0:
                        break
                    side, qty = (Side.SELL, held[sym]) if held[sym] > 0 else (Side.BUY, -held[sym])
                n += 1
                price = to_decimal(float(row[sym]), "close")
                todays.append(
                    Fill(txn_id=f"f{n}", ts=ts, symbol=sym, side=side, quantity=qty, price=price, commission=D("1.00"))
                )
                held[sym] += qty if side is Side.BUY else -qty
                if sym == "DISCA" and ts == last_disca:
                    break
        book.extend(todays)
        marks = {s: to_decimal(float(row[s]), s) for s in ("SPY", "DISCA") if not np.isnan(row[s])}
        equity.append(book.equity(marks))
    return book, store, equity


def test_valuation_equals_the_decimal_ledger_to_the_cent_every_day(
    real_ledger: tuple[Ledger, EmbeddedStore, list[D]],
) -> None:
    book, store, decimal_equity = real_ledger
    fills = sum(isinstance(t, Fill) for t in book.transactions)
    assert fills >= 10_000 and sum(isinstance(t, Dividend) for t in book.transactions) == 85
    valuation = value_ledger(book, store.read_panel(["DISCA", "SPY"], fields=["close"]))
    ours = valuation.equity
    theirs = np.array([float(e) for e in decimal_equity])
    assert ours.shape == theirs.shape == (5303,)
    assert np.max(np.abs(ours - theirs)) < 0.005  # to the cent, on every one of 5,303 days
    assert valuation.holdings[-1, 0] == 0  # DISCA closed out


def test_attribution_sums_to_trading_pnl_plus_dividends(real_ledger: tuple[Ledger, EmbeddedStore, list[D]]) -> None:
    book, store, _ = real_ledger
    valuation = value_ledger(book, store.read_panel(["DISCA", "SPY"], fields=["close"]))
    spy_mark = to_decimal(float(store.read_bars("SPY", fields=["close"])["close"].iloc[-1]), "close")
    totals = book.totals()
    expected = totals["realized_pnl"] + book.unrealized_pnl({"SPY": spy_mark}) + totals["dividends"]
    assert abs(valuation.attribution().sum() - float(expected)) < 0.005
    disca = book.position("DISCA")
    assert abs(valuation.attribution()["DISCA"] - float(disca.realized_pnl + disca.dividends)) < 0.005
    by_sector = valuation.attribution(pd.Series({"SPY": "Index", "DISCA": "Media"}))
    assert set(by_sector.index) == {"Index", "Media"}
    frame = valuation.frame()
    assert (frame["gross"] >= frame["net"].abs() - 1e-9).all()
    np.testing.assert_allclose(valuation.weights().sum(axis=1) + frame["cash"] / frame["equity"], 1.0, rtol=1e-12)


def test_valuation_refuses_transactions_outside_the_panel(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    ingest(store, CsvSource(SPY, symbol="SPY"), start="2020-01-01")
    panel = store.read_panel(["SPY"], fields=["close"])
    book = Ledger("x", inception="2019-01-01")
    book.append(
        Fill(
            txn_id="1",
            ts=pd.Timestamp("2019-06-03", tz="UTC"),
            symbol="SPY",
            side=Side.BUY,
            quantity=D(1),
            price=D(280),
        )
    )
    with pytest.raises(InvalidInputError, match="'1' on 2019-06-03 is outside the panel's dates"):
        value_ledger(book, panel)
    other = Ledger("y", inception="2020-01-01")
    other.append(
        Fill(
            txn_id="1", ts=pd.Timestamp("2020-06-01", tz="UTC"), symbol="QQQ", side=Side.BUY, quantity=D(1), price=D(1)
        )
    )
    with pytest.raises(InvalidInputError, match="QQQ is not in the panel"):
        value_ledger(other, panel)


def test_turnover_is_traded_notional_over_equity(real_ledger: tuple[Ledger, EmbeddedStore, list[D]]) -> None:
    book, store, _ = real_ledger
    valuation = value_ledger(book, store.read_panel(["DISCA", "SPY"], fields=["close"]))
    frame = valuation.frame()
    first_day = [t for t in book.transactions if isinstance(t, Fill) and t.ts == frame.index[0]]
    notional = sum(float(t.quantity * t.price) for t in first_day)
    assert frame["turnover"].iloc[0] == pytest.approx(notional / frame["equity"].iloc[0], rel=1e-12)
    # this random long/short ledger loses more than its capital late on: there, no ratio
    positive = frame["equity"] > 0
    assert (~positive).any() and positive.sum() > 1000
    assert (frame.loc[positive, "turnover"] >= 0).all() and frame.loc[
        ~positive, ["turnover", "leverage"]
    ].isna().all().all()


def test_valuation_late_last_close_books_a_fill_after_the_last_bar_on_the_last_close(tmp_path: Path) -> None:
    # today's paper fill before today's bar is ingested: valued at the last real close (SPY 2020-11-25 in the file)
    store = EmbeddedStore(tmp_path)
    ingest(store, CsvSource(SPY, symbol="SPY"), start="2020-11-01")
    panel = store.read_panel(["SPY"], fields=["close"])
    last_close = float(panel.frame("close")["SPY"].iloc[-1])
    book = Ledger("paper", inception=panel.ts[0])
    book.append(CashFlow(txn_id="d0", ts=panel.ts[0], kind=CashKind.DEPOSIT, amount=D(100_000)))
    late = pd.Timestamp("2026-12-02 15:00", tz="UTC")
    book.append(Fill(txn_id="f1", ts=late, symbol="SPY", side=Side.BUY, quantity=D(10), price=D(360)))
    with pytest.raises(InvalidInputError, match="'f1' on 2026-12-02 is outside the panel's dates"):
        value_ledger(book, panel)  # the default still refuses it
    valued = value_ledger(book, panel, late="last_close")
    assert valued.equity[-1] == pytest.approx(100_000 - 10 * 360 + 10 * last_close, abs=1e-9)
    assert valued.equity[-2] == pytest.approx(100_000)  # nothing moves before the last close
    with pytest.raises(InvalidInputError, match="late must be 'raise' or 'last_close', got 'clip'"):
        value_ledger(book, panel, late="clip")  # type: ignore[arg-type]
