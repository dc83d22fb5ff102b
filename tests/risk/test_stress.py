"""Stress tests: real history replayed on positions, and hypothetical shocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bifrost.data import CsvSource, load_bars
from bifrost.errors import InvalidInputError
from bifrost.risk import historical_stress, shock_stress, stress_positions
from tests.conftest import NVDA, ORCL, YHOO


@pytest.fixture(scope="module")
def returns() -> pd.DataFrame:
    closes = {
        s: load_bars(CsvSource(p, symbol=s)).bars["close"].droplevel("symbol")
        for s, p in (("ORCL", ORCL), ("NVDA", NVDA), ("YHOO", YHOO))
    }
    return pd.DataFrame(closes).pct_change(fill_method=None).loc["2000-01-01":]


POSITIONS = {"ORCL": 50_000.0, "NVDA": 30_000.0, "YHOO": -20_000.0}


def test_worst_one_day_is_the_worst_weighted_day_in_the_data(returns: pd.DataFrame) -> None:
    result = historical_stress(returns, POSITIONS, window_days=(1,), worst=3)
    daily = (returns[list(POSITIONS)] * pd.Series(POSITIONS)).sum(axis=1, min_count=3).dropna()
    expected = daily.nsmallest(3)
    assert list(result.total) == pytest.approx(list(expected))
    assert list(result.windows["end"]) == list(expected.index)
    assert (result.windows["start"] == result.windows["end"]).all()


def test_worst_windows_are_distinct_episodes(returns: pd.DataFrame) -> None:
    result = historical_stress(returns, POSITIONS, window_days=(20,), worst=3)
    ends = [returns.index.get_loc(e) for e in result.windows["end"]]
    assert all(abs(a - b) >= 20 for i, a in enumerate(ends) for b in ends[i + 1 :])
    # each scenario is the compounded move of every position over its window
    first = result.windows.iloc[0]
    window = returns.loc[first["start"] : first["end"], list(POSITIONS)]
    assert len(window) == 20
    moves = (1 + window).prod() - 1
    np.testing.assert_allclose(result.pnl.iloc[0], moves * pd.Series(POSITIONS), rtol=1e-10)
    assert result.total.is_monotonic_increasing


def test_named_windows_replay_the_period(returns: pd.DataFrame) -> None:
    result = historical_stress(returns, POSITIONS, window_days=(), periods={"GFC": ("2008-09-01", "2009-03-09")})
    window = returns.loc["2008-09-01":"2009-03-09", list(POSITIONS)]
    expected = ((1 + window).prod() - 1) * pd.Series(POSITIONS)
    np.testing.assert_allclose(result.pnl.loc["GFC"], expected, rtol=1e-10)
    # 1 September 2008 was Labor Day: the window starts on the 2nd
    assert result.windows.loc["GFC", "start"] == pd.Timestamp("2008-09-02", tz="UTC")
    assert "GFC" in result._repr_html_()


def test_shocks_apply_symbol_then_sector_then_market() -> None:
    result = shock_stress(
        {"AAPL": 1_000.0, "MSFT": 2_000.0, "XOM": -500.0},
        {"tech": {"sector:tech": -0.3}, "crash": {"market": -0.2, "XOM": 0.1}, "aapl": {"AAPL": -0.5}},
        sectors={"AAPL": "tech", "MSFT": "tech", "XOM": "energy"},
    )
    assert result.pnl.loc["tech"].tolist() == [-300.0, -600.0, 0.0]
    assert result.pnl.loc["crash"].tolist() == [-200.0, -400.0, -50.0]
    assert result.total.to_dict() == {"tech": -900.0, "crash": -650.0, "aapl": -500.0}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: historical_stress(r, {"MSFT": 1.0}), "no returns for MSFT"),
        (lambda r: historical_stress(r, {}), "at least one symbol"),
        (lambda r: historical_stress(r, {"ORCL": float("nan")}), "must be a finite number"),
        (
            lambda r: historical_stress(r, {"ORCL": 1.0}, window_days=(0,)),
            r"window_days must be an integer from 1 to \d[\d,]* \(the days of history\), got 0",
        ),
        (
            lambda r: historical_stress(r, {"ORCL": 1.0}, periods={"x": ("1990-01-01", "1990-02-01")}),
            "no returns between",
        ),
        (lambda r: historical_stress(r.reset_index(drop=True), {"ORCL": 1.0}), "DatetimeIndex"),
        (lambda r: shock_stress({"A": 1.0}, {"s": {"A": -2.0}}), "must be a return >= -1"),
    ],
)
def test_bad_stress_input_is_refused(returns: pd.DataFrame, call: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call(returns)


def test_stress_positions_runs_every_scenario_asked_for(returns: pd.DataFrame) -> None:
    from bifrost.risk import stress_positions

    shocks = {"crash": {"market": -0.2, "sector:chips": -0.35}}
    result = stress_positions(
        POSITIONS, returns, window_days=(5,), worst=2, periods={"GFC": ("2008-09-01", "2009-03-09")}, shocks=shocks,
        sectors={"NVDA": "chips"},
    )  # fmt: skip
    history = historical_stress(
        returns, POSITIONS, window_days=(5,), worst=2, periods={"GFC": ("2008-09-01", "2009-03-09")}
    )
    shock = shock_stress(POSITIONS, shocks, sectors={"NVDA": "chips"})
    assert list(result.pnl.index) == ["worst 5d #1", "worst 5d #2", "GFC", "crash"]
    np.testing.assert_allclose(result.pnl.iloc[:3], history.pnl, rtol=1e-15)
    assert result.total["crash"] == shock.total["crash"] == -0.2 * 50_000 - 0.35 * 30_000 + 0.2 * 20_000
    records = result.records(equity=200_000.0)
    assert records[2]["name"] == "GFC" and records[2]["start"] == "2008-09-02" and records[2]["end"] == "2009-03-09"
    assert records[3]["start"] is None and records[3]["total_fraction"] == pytest.approx(-16_500 / 200_000)
    assert records[3]["pnl"] == {"ORCL": -10_000.0, "NVDA": -10_500.0, "YHOO": 4_000.0}
    with pytest.raises(InvalidInputError, match="no scenario"):
        stress_positions(POSITIONS, returns, window_days=())
    with pytest.raises(InvalidInputError, match="historical scenarios need returns on dates"):
        stress_positions(POSITIONS, returns.reset_index(drop=True), window_days=(1,))


def test_shocks_are_read_from_toml_and_bad_files_are_named(tmp_path: Path) -> None:
    from bifrost.risk import shocks_from_toml

    good = tmp_path / "shocks.toml"
    good.write_text('[crash]\nmarket = -0.2\n"sector:chips" = -0.35\n[rally]\nNVDA = 0.1\n')
    assert shocks_from_toml(good) == {"crash": {"market": -0.2, "sector:chips": -0.35}, "rally": {"NVDA": 0.1}}
    for text, match in [("[crash\n", "cannot read shocks"), ("market = -0.2\n", "every scenario must be a table"),
                        ("", "every scenario must be a table")]:  # fmt: skip
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(InvalidInputError, match=match):
            shocks_from_toml(bad)
    with pytest.raises(InvalidInputError, match=r"missing\.toml: cannot read shocks"):
        shocks_from_toml(tmp_path / "missing.toml")


def test_shocks_from_toml_not_utf8_raises_naming_the_file(tmp_path: Path) -> None:
    from bifrost.risk import shocks_from_toml

    for name, data in [("latin.toml", b"\xff[x]\n"), ("utf16.toml", "[crash]\nmarket = -0.2\n".encode("utf-16"))]:
        bad = tmp_path / name
        bad.write_bytes(data)
        with pytest.raises(InvalidInputError, match=rf"{name}: cannot read shocks: is not UTF-8 text"):
            shocks_from_toml(bad)
    bom = tmp_path / "bom.toml"
    bom.write_bytes("[crash]\nmarket = -0.2\n".encode("utf-8-sig"))  # a BOM, as Windows editors write
    assert shocks_from_toml(bom) == {"crash": {"market": -0.2}}


def test_stress_named_is_the_old_spelling_of_periods_and_warns(returns: pd.DataFrame) -> None:
    window = {"GFC": ("2008-09-01", "2009-03-09")}
    expected = historical_stress(returns, POSITIONS, window_days=(), periods=window).pnl
    with pytest.warns(DeprecationWarning, match="named= is now periods="):
        old = historical_stress(returns, POSITIONS, window_days=(), named=window).pnl
    pd.testing.assert_frame_equal(old, expected)
    with pytest.warns(DeprecationWarning, match="named= is now periods="):
        stress_positions(POSITIONS, returns, window_days=(), named=window)
    with pytest.raises(InvalidInputError, match="not both"):
        historical_stress(returns, POSITIONS, periods=window, named=window)
