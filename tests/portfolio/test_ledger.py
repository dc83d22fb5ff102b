"""The ledger: hand-worked accounting, every rejection rule, and the P&L invariant."""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bifrost.errors import InvalidInputError, TransactionRejected
from bifrost.portfolio import CashFlow, CashKind, Dividend, Fill, Ledger, Side, Split, to_decimal

T0 = pd.Timestamp("2020-01-02", tz="UTC")


def day(n: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=n)


def fill(i: int, side: Side, qty: str, price: str, symbol: str = "ORCL", commission: str = "0") -> Fill:
    return Fill(
        txn_id=f"t{i}", ts=day(i), symbol=symbol, side=side, quantity=D(qty), price=D(price), commission=D(commission)
    )


@pytest.mark.parametrize(("basis", "realized", "left_price"), [("fifo", D(650), D(12)), ("average", D(600), D(11))])
def test_ledger_fifo_and_average_cost_hand_worked(basis: str, realized: D, left_price: D) -> None:
    # buy 100 @ 10, buy 100 @ 12, sell 150 @ 15
    # FIFO: 100 × (15 − 10) + 50 × (15 − 12) = 650, 50 left @ 12
    # average: entry 11, 150 × (15 − 11) = 600, 50 left @ 11
    book = Ledger("p", inception=T0, cost_basis=basis)  # type: ignore[arg-type]
    book.extend([fill(1, Side.BUY, "100", "10"), fill(2, Side.BUY, "100", "12"), fill(3, Side.SELL, "150", "15")])
    pos = book.position("ORCL")
    assert pos.realized_pnl == realized and pos.quantity == 50 and pos.avg_price == left_price
    assert book.cash == -1000 - 1200 + 2250


def test_ledger_short_then_cover_and_cross_through_zero() -> None:
    book = Ledger("p", inception=T0)
    book.extend([fill(1, Side.SELL, "10", "20"), fill(2, Side.BUY, "4", "15")])  # short 10 @ 20, cover 4 @ 15
    assert book.position("ORCL").realized_pnl == 20 and book.position("ORCL").quantity == -6
    book.append(fill(3, Side.BUY, "10", "18"))  # cover 6 @ 18 (+12), then long 4 @ 18
    pos = book.position("ORCL")
    assert pos.realized_pnl == 32 and pos.quantity == 4 and pos.avg_price == 18


def test_ledger_split_adjusts_quantity_and_basis_without_pnl() -> None:
    book = Ledger("p", inception=T0)
    book.extend([fill(1, Side.BUY, "100", "50"), Split(txn_id="s", ts=day(2), symbol="ORCL", ratio=D(2))])
    pos = book.position("ORCL")
    assert (pos.quantity, pos.avg_price, pos.cost_basis, pos.realized_pnl) == (200, 25, 5000, 0)
    assert book.equity({"ORCL": D(25)}) == book.cash + 5000


@pytest.mark.parametrize(("side", "cash", "dividends"), [(Side.BUY, -1000 + 50, 50), (Side.SELL, 1000 - 50, -50)])
def test_ledger_dividends_credit_longs_and_debit_shorts(side: Side, cash: int, dividends: int) -> None:
    book = Ledger("p", inception=T0)
    book.extend([fill(1, side, "100", "10"), Dividend(txn_id="d", ts=day(2), symbol="ORCL", per_share=D("0.5"))])
    assert book.cash == cash and book.position("ORCL").dividends == dividends


def _loaded() -> Ledger:
    book = Ledger("p", inception=T0, long_only=True, symbols={"ORCL", "NVDA"})
    book.extend(
        [CashFlow(txn_id="c", ts=day(0), kind=CashKind.DEPOSIT, amount=D(10000)), fill(1, Side.BUY, "50", "10")]
    )
    return book


BAD = {
    "oversell in long-only": (fill(5, Side.SELL, "60", "11"), "sells 60 but holds 50 in a long-only portfolio"),
    "unknown symbol": (fill(5, Side.BUY, "1", "1", symbol="AAPL"), "unknown symbol 'AAPL'"),
    "NaN quantity": (
        Fill(txn_id="x", ts=day(5), symbol="ORCL", side=Side.BUY, quantity=D("NaN"), price=D(1)),
        "quantity must be a positive finite Decimal",
    ),
    "negative price": (fill(5, Side.BUY, "1", "-3"), "price must be a positive finite Decimal"),
    "negative commission": (fill(5, Side.BUY, "1", "3", commission="-1"), "commission must be a non-negative"),
    "before inception": (
        Fill(txn_id="x", ts=T0 - pd.Timedelta(days=1), symbol="ORCL", side=Side.BUY, quantity=D(1), price=D(1)),
        "dated before the portfolio's inception",
    ),
    "duplicate id": (
        Fill(txn_id="t1", ts=day(5), symbol="ORCL", side=Side.BUY, quantity=D(1), price=D(1)),
        "duplicate transaction id",
    ),
    "back-dated": (
        Fill(txn_id="x", ts=day(0), symbol="ORCL", side=Side.BUY, quantity=D(1), price=D(1)),
        "dated before the latest transaction",
    ),
    "naive timestamp": (
        Fill(txn_id="x", ts=pd.Timestamp("2020-02-01"), symbol="ORCL", side=Side.BUY, quantity=D(1), price=D(1)),
        "timezone-aware",
    ),
    "zero deposit": (CashFlow(txn_id="x", ts=day(5), kind=CashKind.DEPOSIT, amount=D(0)), "amount must be a positive"),
    "split ratio 1": (Split(txn_id="x", ts=day(5), symbol="ORCL", ratio=D(1)), "split ratio of 1"),
    "other currency": (
        CashFlow(txn_id="x", ts=day(5), kind=CashKind.DEPOSIT, amount=D(1), currency="EUR"),
        "currency EUR is not the base currency USD",
    ),
}


def test_ledger_extend_is_all_or_nothing() -> None:
    book = _loaded()
    before = (book.transactions, book.totals(), book.positions())
    with pytest.raises(TransactionRejected, match="t7"):
        book.extend([fill(6, Side.BUY, "10", "10"), fill(7, Side.SELL, "500", "10"), fill(8, Side.BUY, "1", "10")])
    assert (book.transactions, book.totals(), book.positions()) == before


def test_ledger_replay_reproduces_state_exactly() -> None:
    book = _loaded()
    book.extend([fill(6, Side.BUY, "10", "12.5"), Dividend(txn_id="d", ts=day(7), symbol="ORCL", per_share=D("0.25"))])
    again = Ledger.replay("p", book.transactions, inception=T0, long_only=True, symbols={"ORCL", "NVDA"})
    assert again.totals() == book.totals() and again.positions() == book.positions()


def test_to_decimal_takes_floats_by_their_shortest_repr_and_rejects_nan() -> None:
    assert to_decimal(44.970001, "price") == D("44.970001")
    with pytest.raises(InvalidInputError, match="price must be a finite number"):
        to_decimal(float("nan"), "price")
    with pytest.raises(InvalidInputError, match="qty must be a number"):
        to_decimal("ten", "qty")


# -- the invariant ---------------------------------------------------------------------------------
cents = st.integers(min_value=1, max_value=50_000).map(lambda c: D(c) / 100)
shares = st.integers(min_value=1, max_value=500).map(D)
symbols = st.sampled_from(["AAA", "BBB", "CCC"])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), cents.map(lambda v: v * 100)),
        st.tuples(st.just("withdraw"), cents),
        st.tuples(st.just("fee"), cents),
        st.tuples(st.just("interest"), cents),
        st.tuples(
            st.just("trade"),
            symbols,
            st.sampled_from([Side.BUY, Side.SELL]),
            shares,
            cents,
            cents.map(lambda v: v / 10),
        ),
        st.tuples(st.just("dividend"), symbols, cents.map(lambda v: v / 10)),
        st.tuples(st.just("split"), symbols, st.sampled_from([D(2), D(3), D("0.5")])),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(steps, st.sampled_from(["fifo", "average"]))
def test_ledger_equity_changes_only_by_pnl_flows_and_costs(script: list[tuple[object, ...]], basis: str) -> None:
    book = Ledger("h", inception=T0, cost_basis=basis)  # type: ignore[arg-type]
    marks: dict[str, D] = {}
    for i, step in enumerate(script):
        ts = day(i)
        kind = step[0]
        if kind == "trade":
            _, sym, side, qty, price, commission = step
            book.append(
                Fill(
                    txn_id=str(i),
                    ts=ts,
                    symbol=sym,
                    side=side,
                    quantity=qty,
                    price=price,  # type: ignore[arg-type]
                    commission=commission,
                )
            )  # type: ignore[arg-type]
            marks[sym] = price  # type: ignore[index,assignment]
        elif kind == "dividend":
            if step[1] in marks and step[2] >= marks[step[1]]:  # type: ignore[index,operator]
                continue  # a dividend is below the share's price (the ledger refuses it)
            book.append(Dividend(txn_id=str(i), ts=ts, symbol=step[1], per_share=step[2]))  # type: ignore[arg-type]
        elif kind == "split":
            book.append(Split(txn_id=str(i), ts=ts, symbol=step[1], ratio=step[2]))  # type: ignore[arg-type]
            if step[1] in marks:
                marks[step[1]] = marks[step[1]] / step[2]  # type: ignore[operator]
        else:
            flow = {
                "deposit": CashKind.DEPOSIT,
                "withdraw": CashKind.WITHDRAWAL,
                "fee": CashKind.FEE,
                "interest": CashKind.INTEREST,
            }[kind]  # type: ignore[index]
            book.append(CashFlow(txn_id=str(i), ts=ts, kind=flow, amount=step[1]))  # type: ignore[arg-type]
        t = book.totals()
        lhs = book.equity(marks) - t["deposits"] + t["withdrawals"]
        rhs = (
            t["realized_pnl"]
            + book.unrealized_pnl(marks)
            + t["dividends"]
            + t["interest"]
            - t["commissions"]
            - t["fees"]
        )
        assert abs(lhs - rhs) < D("1e-12"), (i, step, lhs, rhs)


def test_ledger_records_realized_pnl_of_each_closing_fill() -> None:
    book = Ledger("p", inception=T0)
    book.extend(
        [
            fill(1, Side.BUY, "100", "10"),
            fill(2, Side.BUY, "100", "12"),
            fill(3, Side.SELL, "150", "15"),
            fill(4, Side.SELL, "50", "11"),
        ]
    )
    # FIFO: t3 closes 100 @ 10 and 50 @ 12 → 650; t4 closes 50 @ 12 at 11 → −50; buys close nothing
    assert book.realized_by_transaction() == {"t3": D(650), "t4": D(-50)}
    assert sum(book.realized_by_transaction().values()) == book.position("ORCL").realized_pnl


# -- the market's bounds: a number no market produces is refused, never booked -------------------
MARKET_BAD = {
    "price above 1e9": (fill(5, Side.BUY, "1", "5000000000"), r"price must be within \[1e-08, 1e\+09\]"),
    "price below 1e-8": (fill(5, Side.BUY, "1", "0.0000000001"), r"price must be within \[1e-08, 1e\+09\]"),
    "commission 1e12 on $100": (
        fill(5, Side.BUY, "1", "100", commission="1e12"),
        r"commission 1E\+12 exceeds the traded value 100 \(quantity × price\) plus 10000",
    ),
    "fees 1e12 on $100": (
        Fill(txn_id="x", ts=day(5), symbol="ORCL", side=Side.BUY, quantity=D(1), price=D(100), fees=D("1e12")),
        r"fees 1E\+12 exceeds the traded value 100",
    ),
    "dividend of 1,000,000 on a $10 share": (
        Dividend(txn_id="x", ts=day(5), symbol="ORCL", per_share=D(1_000_000)),
        r"per_share 1000000 is not below the last trade price 10 of ORCL",
    ),
    "dividend above 1e9": (
        Dividend(txn_id="x", ts=day(5), symbol="NVDA", per_share=D("2e9")),
        r"per_share must be within \[1e-08, 1e\+09\]",
    ),
    "split 1,000,000 for 1": (
        Split(txn_id="x", ts=day(5), symbol="ORCL", ratio=D(1_000_000)),
        r"split ratio must be within \[0.001, 1000\] new shares per old share, got Decimal\('1000000'\)",
    ),
    "split 1 for 1,000,000": (
        Split(txn_id="x", ts=day(5), symbol="ORCL", ratio=D("0.000001")),
        r"split ratio must be within \[0.001, 1000\]",
    ),
    "dated in the future": (
        CashFlow(txn_id="x", ts=pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=2), kind=CashKind.DEPOSIT, amount=D(1)),
        r"dated in the future \(after now \+ 1 day\)",
    ),
}


@pytest.mark.parametrize("rule", [*BAD, *MARKET_BAD])
def test_ledger_rejects_bad_transaction_and_changes_nothing(rule: str) -> None:
    # the ledger's rules (BAD) and the market's bounds (MARKET_BAD): each refused, the book unchanged
    book = _loaded()  # long-only, 50 ORCL bought at 10
    before = (book.transactions, book.totals(), book.positions())
    txn, message = {**BAD, **MARKET_BAD}[rule]
    with pytest.raises(TransactionRejected, match=message):
        book.append(txn)
    assert (book.transactions, book.totals(), book.positions()) == before


def test_ledger_market_bounds_admit_their_edges_and_follow_splits() -> None:
    book = _loaded()
    book.extend(
        [
            fill(2, Side.BUY, "1", "1000000000"),  # 1e9: the top of the price range
            fill(3, Side.BUY, "1", "0.00000001", commission="10000"),  # 1e-8, a $10,000 minimum charge
            fill(4, Side.SELL, "1", "10", commission="10010"),  # the traded value plus the allowance
            Split(txn_id="s", ts=day(5), symbol="ORCL", ratio=D(1000)),  # the last price 10 becomes 0.01
        ]
    )
    with pytest.raises(TransactionRejected, match=r"per_share 0.01 is not below the last trade price 0.01"):
        book.append(Dividend(txn_id="d", ts=day(6), symbol="ORCL", per_share=D("0.01")))
    book.append(Dividend(txn_id="d", ts=day(6), symbol="ORCL", per_share=D("0.005")))
    assert book.position("ORCL").quantity == 51_000  # (50 + 1 + 1 - 1) × 1000
