"""Sectors for a real book: the store's symbol reference data feeds sector limits and sector shocks.

The book holds five stocks of the 505-stock file (AAPL, MSFT, XOM, JPM, JNJ) bought on
2016-01-04; its exposures are computed here from the file's last closes (2018-02-07). The
sectors are the companies' GICS sectors as published for the S&P 500.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, EmbeddedStore, SyntheticMarket, import_symbols, ingest
from bifrost.errors import InvalidInputError
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, record_transactions
from bifrost.risk import Limit, book_from_store, check_limits, store_sectors, stress_positions
from tests.conftest import SP500

T0 = pd.Timestamp("2016-01-04", tz="UTC")
HOLDINGS = {"AAPL": 2000, "MSFT": 3000, "XOM": 1500, "JPM": -1000, "JNJ": 1200}
DEPOSIT = 1_000_000
PRICE = 100  # every fill's price: the cash left is the deposit less 100 × the net shares bought
SECTORS = {
    "AAPL": ("Information Technology", "Technology Hardware, Storage & Peripherals"),
    "MSFT": ("Information Technology", "Software"),
    "XOM": ("Energy", "Oil, Gas & Consumable Fuels"),
    "JPM": ("Financials", "Banks"),
    "JNJ": ("Health Care", "Pharmaceuticals"),
}
SECTOR_LIMIT = Limit(name="sector", metric="sector", threshold=0.30)


def _reference() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"symbol": s, "name": s, "sector": sector, "industry": industry, "currency": "USD", "lot_size": 100,
             "tick_size": 0.01}
            for s, (sector, industry) in SECTORS.items()
        ]
    )  # fmt: skip


def _load(store: BarStore) -> None:
    ingest(store, CsvSource(SP500), list(HOLDINGS), start="2016-01-01")
    txns: list[CashFlow | Fill] = [CashFlow(txn_id="d", ts=T0, kind=CashKind.DEPOSIT, amount=Decimal(DEPOSIT))]
    for i, (symbol, qty) in enumerate(HOLDINGS.items()):
        side = Side.BUY if qty > 0 else Side.SELL
        txns.append(
            Fill(txn_id=f"f{i}", ts=T0, symbol=symbol, side=side, quantity=Decimal(abs(qty)), price=Decimal(PRICE))
        )
    record_transactions(store, "book", txns, create=True)


@pytest.fixture(scope="module")
def values() -> pd.Series:
    """Each position's value at the file's last close, from the file alone."""
    frame = pd.read_csv(SP500, parse_dates=["date"])
    last = frame[frame["date"] == frame["date"].max()].set_index("Name")["close"]
    return pd.Series({s: q * float(last[s]) for s, q in HOLDINGS.items()})


def test_sector_limit_is_na_before_the_reference_import_and_measured_after(tmp_path: Path, values: pd.Series) -> None:
    equity = DEPOSIT - PRICE * sum(HOLDINGS.values()) + values.sum()
    with EmbeddedStore(tmp_path / "home") as store:
        _load(store)
        before = check_limits(store, "book", limits=[SECTOR_LIMIT], record=False).checks
        assert list(before["severity"]) == ["n/a"] and store_sectors(store) == {}
        import_symbols(store, _reference())
        assert store_sectors(store) == {s: sector for s, (sector, _) in SECTORS.items()}
        after = check_limits(store, "book", limits=[SECTOR_LIMIT], record=False).checks.set_index("subject")
    expected = {
        "Information Technology": (abs(values["AAPL"]) + abs(values["MSFT"])) / equity,
        "Energy": abs(values["XOM"]) / equity,
        "Financials": abs(values["JPM"]) / equity,  # a short counts by its size
        "Health Care": abs(values["JNJ"]) / equity,
    }
    assert sorted(after.index) == sorted(expected)
    for sector, exposure in expected.items():
        assert after.loc[sector, "value"] == pytest.approx(exposure, rel=1e-12)
    # by hand from the file's 2018-02-07 lines: AAPL 2000 x 159.54 + MSFT 3000 x 89.61 = 587,910 of
    # equity 330,000 cash + 748,154 held (XOM 1500 x 76.94, JPM -1000 x 112.87, JNJ 1200 x 131.42)
    assert after.loc["Information Technology", "value"] == pytest.approx(587_910 / 1_078_154, rel=1e-12)
    assert after.loc["Information Technology", "severity"] == "breach"  # 0.545 > 0.30
    assert set(after.drop(index="Information Technology")["severity"]) == {"ok"}  # each 0.105 to 0.146


def test_sector_shock_applies_to_a_real_book_once_sectors_are_imported(tmp_path: Path, values: pd.Series) -> None:
    shocks = {"tech sell-off": {"sector:Information Technology": -0.20, "market": -0.05}}
    with EmbeddedStore(tmp_path / "home") as store:
        _load(store)
        book = book_from_store(store, "book")
        positions = {str(k): float(v) for k, v in book.values.items()}
        with pytest.raises(InvalidInputError, match="no sector is known"):
            stress_positions(positions, window_days=(), shocks=shocks, sectors=store_sectors(store))
        import_symbols(store, _reference())
        result = stress_positions(positions, window_days=(), shocks=shocks, sectors=store_sectors(store))
    pnl = result.pnl.loc["tech sell-off"]
    assert pnl["AAPL"] == pytest.approx(-0.20 * values["AAPL"], rel=1e-12)
    assert pnl["MSFT"] == pytest.approx(-0.20 * values["MSFT"], rel=1e-12)
    for other in ("XOM", "JPM", "JNJ"):  # the market's shock; JPM is short and gains
        assert pnl[other] == pytest.approx(-0.05 * values[other], rel=1e-12)
    assert pnl["JPM"] > 0


def test_store_sectors_keeps_the_sources_sectors_where_the_reference_has_none(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "home") as store:
        ingest(store, SyntheticMarket(n_symbols=3, n_days=30, seed=7))
        listed = dict(zip(store.list_symbols()["symbol"], store.list_symbols()["sector"], strict=True))
        assert store_sectors(store) == listed and all(listed.values())  # as before: the source's sectors
        first, *rest = sorted(listed)
        reference = _reference().iloc[:1].assign(symbol=first, sector="Utilities")
        import_symbols(store, pd.concat([reference, _reference().iloc[1:2].assign(symbol="EXTRA", sector=None)]))
        assert store_sectors(store) == {first: "Utilities", **{s: listed[s] for s in rest}}
