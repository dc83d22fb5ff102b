"""Risk of a stored portfolio: positions from its ledger, prices from the store, and the CLI."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.errors import InvalidInputError, NotFoundError, SymbolNotFoundError
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, create_portfolio, record_transactions
from bifrost.risk import (
    DEFAULT_LIMITS,
    MarketData,
    book_from_positions,
    book_from_store,
    book_risk,
    historical_var,
    limit_report,
    var_backtest,
)
from tests.cli import bifrost
from tests.conftest import DATA, NVDA, ORCL, YHOO

T0 = pd.Timestamp("2014-01-02", tz="UTC")
HOLDINGS = {"ORCL": 1000, "NVDA": 500, "YHOO": -300}


def _file(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
    return frame.sort_index()


def _fill(i: int, symbol: str, qty: int) -> Fill:
    side = Side.BUY if qty > 0 else Side.SELL
    return Fill(txn_id=f"f{i}", ts=T0, symbol=symbol, side=side, quantity=Decimal(abs(qty)), price=Decimal("30"))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("risk-home")
    store = EmbeddedStore(path)
    for symbol, file in (("ORCL", ORCL), ("NVDA", NVDA), ("YHOO", YHOO)):
        ingest(store, CsvSource(file, symbol=symbol))
    txns = [CashFlow(txn_id="d", ts=T0, kind=CashKind.DEPOSIT, amount=Decimal(100_000))]
    txns += [_fill(i, s, q) for i, (s, q) in enumerate(HOLDINGS.items())]
    record_transactions(store, "book", txns, create=True)
    create_portfolio(store, "empty", inception=T0)
    store.close()
    return path


def test_book_values_positions_at_the_latest_close_and_uses_total_returns(home: Path) -> None:
    store = EmbeddedStore(home)
    book = book_from_store(store, "book", lookback_days=500)
    last = {s: _file(f)["Close"].iloc[-1] for s, f in (("ORCL", ORCL), ("NVDA", NVDA), ("YHOO", YHOO))}
    expected_values = pd.Series({s: q * last[s] for s, q in HOLDINGS.items()})
    np.testing.assert_allclose(book.values[expected_values.index], expected_values, rtol=1e-12)
    cash = 100_000 - sum(q * 30 for q in HOLDINGS.values())
    assert book.equity == pytest.approx(cash + expected_values.sum(), rel=1e-12)
    adj = pd.DataFrame({s: _file(f)["Adj Close"] for s, f in (("ORCL", ORCL), ("NVDA", NVDA), ("YHOO", YHOO))})
    reference = adj.pct_change().iloc[1:].dropna().tail(500)
    assert len(book.returns) == 500 and (book.returns.index.tz_convert(None) == reference.index).all()
    np.testing.assert_allclose(book.returns[reference.columns], reference, rtol=1e-9, atol=1e-15)
    risk = book_risk(book, confidence=0.99)
    pnl = reference[list(book.weights.index)].to_numpy() @ book.weights.to_numpy()
    assert risk.var == pytest.approx(historical_var(pnl, confidence=0.99), rel=1e-9)
    store.close()


def test_book_refuses_what_it_cannot_measure(home: Path) -> None:
    store = EmbeddedStore(home)
    with pytest.raises(InvalidInputError, match="holds no position"):
        book_from_store(store, "empty")
    with pytest.raises(NotFoundError, match="no portfolio 'nope'"):
        book_from_store(store, "nope")
    with pytest.raises(InvalidInputError, match="lookback_days must be an integer >= 20"):
        book_from_store(store, "book", lookback_days=5)
    store.close()


def test_cli_risk_commands(home: Path, tmp_path: Path) -> None:
    run = bifrost(
        home, "risk", "var", "book", "--method", "parametric", "--confidence", "0.975", "--horizon", "5", "--json"
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    store = EmbeddedStore(home)
    book = book_from_store(store, "book")
    store.close()
    expected = book_risk(book, method="parametric", confidence=0.975, horizon_days=5)
    assert out["var"] == pytest.approx(expected.var, rel=1e-12) and out["var_money"] == pytest.approx(
        expected.var * book.equity
    )
    shocks = tmp_path / "shocks.toml"
    shocks.write_text("[crash]\nmarket = -0.2\nNVDA = -0.4\n")
    stress = bifrost(
        home, "risk", "stress", "book", "--window", "1", "--worst", "2", "--period", "GFC=2008-09-01:2009-03-09",
        "--shocks", str(shocks), "--json",
    )  # fmt: skip
    assert stress.returncode == 0, stress.stderr
    scenarios = json.loads(stress.stdout)
    assert [s["name"] for s in scenarios] == ["worst 1d #1", "worst 1d #2", "GFC", "crash"]
    store = EmbeddedStore(home)
    stressed = book_from_store(store, "book", lookback_days=5000)
    store.close()
    crash = -0.2 * (stressed.values["ORCL"] + stressed.values["YHOO"]) - 0.4 * stressed.values["NVDA"]
    assert scenarios[3]["total"] == pytest.approx(crash, rel=1e-12)
    gfc = (1 + stressed.returns.loc["2008-09-01":"2009-03-09"]).prod() - 1
    assert scenarios[2]["total"] == pytest.approx(float((gfc * stressed.values).sum()), rel=1e-9)
    bad = bifrost(home, "risk", "stress", "book", "--period", "GFC")
    assert bad.returncode == 2 and "NAME=START:END" in bad.stderr
    backtest = bifrost(home, "risk", "backtest", "book", "--json")
    assert backtest.returncode == 0, backtest.stderr
    bt = json.loads(backtest.stdout)
    store = EmbeddedStore(home)
    long_book = book_from_store(store, "book", lookback_days=5000)  # the command's default lookback
    store.close()
    pnl = long_book.returns[list(long_book.weights.index)] @ long_book.weights
    assert bt["exceptions"] == var_backtest(pnl).n_exceptions and bt["zone"] in ("green", "yellow", "red")
    empty = bifrost(home, "risk", "var", "empty")
    assert empty.returncode == 2 and "holds no position" in empty.stderr


def test_posted_positions_are_priced_and_given_history_by_the_store(home: Path) -> None:

    store = EmbeddedStore(home)
    market = MarketData(store, refresh_seconds=0.0)
    book = book_from_positions({"ORCL": 1000, "NVDA": 500}, market=market, cash=5000.0, lookback_days=250)
    last = {s: _file(f)["Close"].iloc[-1] for s, f in (("ORCL", ORCL), ("NVDA", NVDA))}
    assert book.values.to_dict() == pytest.approx({"ORCL": 1000 * last["ORCL"], "NVDA": 500 * last["NVDA"]})
    assert book.equity == pytest.approx(5000 + 1000 * last["ORCL"] + 500 * last["NVDA"])
    adj = pd.DataFrame({s: _file(f)["Adj Close"] for s, f in (("ORCL", ORCL), ("NVDA", NVDA))})
    reference = adj.pct_change().iloc[1:].dropna().tail(250)
    np.testing.assert_allclose(book.returns, reference, rtol=1e-9, atol=1e-15)
    # served from memory the second time; a new ingest is seen
    assert market.returns(["ORCL", "NVDA"], 250) is book.returns
    with pytest.raises(SymbolNotFoundError, match=r"unknown symbol\(s\) \['GSPC'\]: not in the store"):
        market.latest_closes(["ORCL", "GSPC"])
    ingest(store, CsvSource(DATA / "sp500_5yr" / "GSPC_2018.csv", symbol="GSPC"))
    assert market.latest_closes(["GSPC"]).iloc[0] == _file(DATA / "sp500_5yr" / "GSPC_2018.csv")["Close"].iloc[-1]
    assert market.returns(["ORCL", "NVDA"], 250) is not book.returns
    # posted prices and returns need no store
    posted = book_from_positions(
        {"A": 10, "B": 0}, prices={"A": 50.0, "B": 20.0}, returns={"A": [0.01, -0.02, 0.0], "B": [0.0, 0.01, 0.02]},
        dates=["2024-01-02", "2024-01-03", "2024-01-04"],
    )  # fmt: skip
    assert posted.equity == 500.0 and posted.weights.to_dict() == {"A": 1.0, "B": 0.0}
    assert posted.returns.index[-1] == pd.Timestamp("2024-01-04", tz="UTC")
    store.close()


def test_posted_positions_refuse_bad_input_naming_it() -> None:
    from bifrost.risk import book_from_positions

    ok_returns = {"A": [0.01, 0.02, -0.01]}
    price = {"A": 10.0}
    cases: list[tuple[dict[str, object], str]] = [
        ({"positions": {}}, "at least one symbol"),
        ({"positions": {"A": "ten"}}, "quantity of A must be a number, got str 'ten'"),
        ({"positions": {"A": float("nan")}}, "quantity of A must be a finite number"),
        ({"positions": {"A": -5}}, r"negative quantity for \['A'\]"),
        ({"positions": {"A": 0}}, "every quantity is zero"),
        ({"positions": {"A": 1}, "cash": float("inf")}, "cash must be a finite number"),
        ({"positions": {"A": 1}}, "prices are needed"),
        ({"positions": {"A": 1}, "prices": {"B": 1.0}}, r"no price for \['A'\]"),
        ({"positions": {"A": 1}, "prices": {"A": 0.0}}, "prices must be positive"),
        ({"positions": {"A": 1}, "prices": {"A": 10.0}, "cash": -20.0}, "equity .* is -10.00"),
        ({"positions": {"A": 1}, "prices": {"A": 10.0}}, "a return history is needed"),
        ({"positions": {"A": 1}, "prices": price, "returns": {"B": [0.1, 0.2]}}, r"no return history for \['A'\]"),
        ({"positions": {"A": 1}, "prices": {"A": 10.0}, "returns": {"A": [0.1], "B": [0.1, 0.2]}}, "same number"),
        ({"positions": {"A": 1}, "prices": {"A": 10.0}, "returns": {"A": [0.1]}}, "at least 2 days"),
        ({"positions": {"A": 1}, "prices": {"A": 10.0}, "returns": {"A": [0.1, float("nan")]}}, "A day 1 is nan"),
        ({"positions": {"A": 1}, "prices": {"A": 10.0}, "returns": {"A": ["x", 0.1]}}, "returns must be numbers"),
        ({"positions": {"A": 1}, "prices": {"A": 10.0}, "returns": ok_returns, "dates": ["2024-01-02"]},
         "1 dates for 3 days"),
        ({"positions": {"A": 1}, "prices": {"A": 10.0}, "returns": ok_returns, "dates": ["a", "b", "c"]},
         r"dates\[0\] must be a date such as 2014-01-31"),
        ({"positions": {"A": 1}, "prices": {"A": 10.0}, "returns": ok_returns,
          "dates": ["2024-01-03", "2024-01-02", "2024-01-04"]}, "strictly increasing"),
    ]  # fmt: skip
    for kwargs, message in cases:
        positions = kwargs.pop("positions")
        with pytest.raises(InvalidInputError, match=message):
            book_from_positions(positions, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "shocks", "message"),
    [
        # issue 10, item 18: `--horizon 1000000000` answered "VaR 30988%"; the library's bound now holds everywhere
        (["risk", "var", "book", "--horizon", "1000000000"], None, "horizon_days must be an integer from 1 to 250"),
        (["risk", "var", "book", "--horizon", "251"], None, "horizon_days must be an integer from 1 to 250"),
        (["risk", "stress", "book", "--worst", "0"], None, "worst (windows kept per length) must be an integer"),
        (["risk", "stress", "book", "--window", "1", "--window", "1"], None, "window_days lists 1 twice"),
        (["risk", "stress", "book", "--period", "X=1600-01-01:2300-01-01"], None, "from 1678-01-01 to 2261-12-31"),
        (["risk", "stress", "book", "--window", "1"], "[typo]\nAPPL = -0.5\n", "'APPL' shock(s) nothing the book"),
        (["risk", "stress", "book", "--window", "1"], '[t]\n"sector:none" = -0.5\n', "'sector:none' shock(s)"),
        (["risk", "stress", "book", "--window", "1"], "[big]\nmarket = 1e300\n", "must be a return >= -1 and <= 10"),
    ],
)
def test_cli_risk_refuses_bounds_the_library_sets_in_one_line(
    home: Path, tmp_path: Path, args: list[str], shocks: str | None, message: str
) -> None:
    if shocks is not None:
        (tmp_path / "shocks.toml").write_text(shocks)
        args = [*args, "--shocks", str(tmp_path / "shocks.toml")]
    run = bifrost(home, *args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_posted_book_history_is_checked_once_for_every_measure_of_it(checked: Counter[str]) -> None:
    # the service's path: a book from posted positions and returns, then VaR by each method and the limits
    r = _file(ORCL)["Adj Close"].pct_change().iloc[1:].tail(300).to_list()
    s = _file(NVDA)["Adj Close"].pct_change().iloc[1:].tail(300).to_list()
    book = book_from_positions(
        {"ORCL": 100, "NVDA": 50}, prices={"ORCL": 40.0, "NVDA": 20.0}, returns={"ORCL": r, "NVDA": s}
    )
    assert checked["_return_matrix_problem:returns"] == 1  # refused here if bad, naming the symbol and day
    for method in ("historical", "parametric", "montecarlo", "filtered_historical"):
        assert book_risk(book, method=method, confidence=0.975, horizon_days=10, n_scenarios=1_000).var > 0
    report = limit_report(book, DEFAULT_LIMITS)
    assert len(report.checks) >= len(DEFAULT_LIMITS)
    assert checked["_return_matrix_problem:returns"] == 1 and checked["as_float_array_1d:returns"] == 0
    assert checked["as_fraction:confidence"] == 4  # one per book_risk call; the limits' own when they were made


def test_stored_book_history_is_checked_by_its_first_measure_only(home: Path, checked: Counter[str]) -> None:
    with EmbeddedStore(home) as store:
        book = book_from_positions({"ORCL": 1000, "NVDA": 500}, market=MarketData(store), lookback_days=250)
    assert checked["_return_matrix_problem:returns"] == 0  # the store's bars were checked when ingested
    book_risk(book, method="historical")
    book_risk(book, method="parametric")
    assert checked["_return_matrix_problem:returns"] == 1
