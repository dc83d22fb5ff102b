"""The engine annualises with the panel's bar frequency: intraday metrics by hand, daily ones unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bifrost.data import EmbeddedStore, LobsterSource, Panel, SyntheticMarket, ingest, periods_per_year
from bifrost.errors import InvalidInputError
from bifrost.strategy import Commission, FillModel, Orders, backtest, optimize, simulate, sweep, walk_forward
from bifrost.strategy import _kernel as K
from bifrost.strategy._bridge import equity_metrics, run_backtrader
from bifrost.strategy._result import BacktestResult
from tests.conftest import DATA
from tests.strategy.conftest import SmaCross

MESSAGES = DATA / "microstructure" / "AAPL_2012-06-21_34200000_57600000_message_10_head999.csv"
FILL = FillModel(commission=Commission(percent=0.001))
PARAMS = {"fast": 5, "slow": 20, "size": 10}


@pytest.fixture(scope="module")
def five_minute() -> Panel:
    # 20 sessions of 78 five-minute bars, 3 symbols
    return Panel.from_bars(SyntheticMarket(n_symbols=3, n_days=20, seed=3, frequency="5m").bars(), frequency="5m")


@pytest.fixture(scope="module")
def aapl_seconds(tmp_path_factory: pytest.TempPathFactory) -> Panel:
    # one-second bars of AAPL's executions, 2012-06-21 from 09:30:00 New York, through the store
    store = EmbeddedStore(tmp_path_factory.mktemp("lobster-store"))
    ingest(store, LobsterSource(MESSAGES))
    return store.read_panel(["AAPL"])


def _by_hand(result: BacktestResult, per_year: float) -> tuple[float, float, float]:
    # (annual return, annual volatility, Sharpe ratio) of the equity curve, with numpy
    equity = result.equity.to_numpy()
    previous = np.concatenate([[result.initial_cash], equity[:-1]])
    returns = equity / previous - 1.0
    std = returns.std(ddof=1)
    annual_return = (equity[-1] / result.initial_cash) ** (per_year / returns.size) - 1.0
    return annual_return, std * np.sqrt(per_year), returns.mean() / std * np.sqrt(per_year)


def _annual(result: BacktestResult) -> tuple[float, float, float]:
    return tuple(result.metrics[m] for m in ("annual_return", "annual_volatility", "sharpe_ratio"))  # type: ignore[return-value]


def test_five_minute_backtest_annualises_with_78_bars_a_session(five_minute: Panel) -> None:
    assert five_minute.frequency == "5m" and five_minute.shape == (20 * 78, 3)
    r = backtest(five_minute, "sma_cross", PARAMS, fill=FILL)
    assert len(r.fills) > 100
    np.testing.assert_allclose(_annual(r), _by_hand(r, 78 * 252), rtol=1e-10)
    # 252 bars a year would understate the volatility by sqrt(78)
    assert r.metrics["annual_volatility"] == pytest.approx(_by_hand(r, 252)[1] * np.sqrt(78), rel=1e-10)


def test_lobster_one_second_backtest_annualises_with_23400_bars_a_session(aapl_seconds: Panel) -> None:
    assert aapl_seconds.frequency == "1s" and aapl_seconds.shape == (26, 1)
    r = backtest(aapl_seconds, "sma_cross", {"fast": 2, "slow": 4, "size": 10})
    assert r.n_trades >= 1
    np.testing.assert_allclose(_annual(r), _by_hand(r, 23_400 * 252), rtol=1e-10)


def test_lobster_ten_second_bars_annualise_with_2340_bars_a_session() -> None:
    panel = Panel.from_bars(LobsterSource(MESSAGES, frequency="10s").bars())
    assert panel.frequency == "10s" and panel.shape == (5, 1)
    size = np.full(5, np.nan)
    size[0], size[2] = 100.0, -100.0  # in at the second bar's open, out at the fourth's
    r = simulate(panel, Orders(size=size), fill=FILL)
    assert r.n_trades == 1
    np.testing.assert_allclose(_annual(r), _by_hand(r, 2_340 * 252), rtol=1e-10)


def test_daily_backtest_metrics_are_bit_identical_to_the_252_day_engine(orcl: Panel) -> None:
    # the bits the engine gave before it read the frequency (252 hard-coded), for this backtest
    r = backtest(orcl, "sma_cross", {"fast": 10, "slow": 30, "size": 100}, fill=FILL)
    assert orcl.frequency == "1d"
    assert [v.hex() for v in _annual(r)] == ["0x1.2ac1ca8568c00p-10", "0x1.8e74f9abeff53p-8", "0x1.85e52cf861d99p-3"]
    assert _annual(backtest(orcl, "sma_cross", {"fast": 10, "slow": 30, "size": 100}, fill=FILL,
                            periods_per_year=252)) == _annual(r)  # fmt: skip
    np.testing.assert_allclose(_annual(r), _by_hand(r, 252), rtol=1e-10)


def test_sweep_on_five_minute_bars_equals_single_backtests(five_minute: Panel) -> None:
    grid = {"fast": [5, 10], "slow": [20, 40], "size": [10]}
    result = sweep(five_minute, "sma_cross", grid, fill=FILL, chunk_symbols=2)
    assert len(result.frame) == 4 * 3
    for row in result.frame.itertuples(index=False):
        # each symbol alone: the sweep's backtests are independent, one per symbol
        alone = backtest(five_minute_symbol(five_minute, row.symbol), "sma_cross",
                         {"fast": row.fast, "slow": row.slow, "size": 10}, fill=FILL)  # fmt: skip
        got = np.array([getattr(row, m) for m in K.METRICS], dtype=np.float64)
        want = np.array([alone.metrics[m] for m in K.METRICS])
        assert np.array_equal(got, want, equal_nan=True), (row.symbol, row.fast, row.slow, got - want)
    best = optimize(five_minute, "sma_cross", grid, fill=FILL)
    assert best.frame.equals(result.frame)


def five_minute_symbol(panel: Panel, symbol: str) -> Panel:
    j = panel.symbols.index(symbol)
    return Panel(
        ts=panel.ts, symbols=(symbol,), fields={f: v[:, j : j + 1] for f, v in panel.fields.items()},
        frequency=panel.frequency,
    )  # fmt: skip


def test_sweep_with_kept_equity_agrees_with_the_metrics_only_kernel(five_minute: Panel) -> None:
    grid = {"fast": [5, 10], "slow": [20], "size": [10]}
    plain = sweep(five_minute, "sma_cross", grid, fill=FILL)
    kept = sweep(five_minute, "sma_cross", grid, fill=FILL, keep_equity=True)
    pd.testing.assert_frame_equal(plain.frame, kept.frame)


def test_ray_sweep_on_five_minute_bars_is_bit_identical_to_in_process(five_minute: Panel, local_ray: None) -> None:
    grid = {"fast": [5, 10], "slow": [20], "size": [10]}
    here = sweep(five_minute, "sma_cross", grid, fill=FILL)
    there = sweep(five_minute, "sma_cross", grid, fill=FILL, backend="ray", chunk_symbols=1)
    pd.testing.assert_frame_equal(here.frame, there.frame, check_exact=True)


def test_walk_forward_chooses_by_the_five_minute_sharpe(five_minute: Panel) -> None:
    space = {"fast": [5, 10], "slow": [20], "size": [10]}
    wf = walk_forward(five_minute, "sma_cross", space, train_bars=780, test_bars=390, fill=FILL)
    first = sweep(_head(five_minute, 780), "sma_cross", space, fill=FILL)
    assert wf.folds["in_sample_sharpe_ratio"].iloc[0] == float(first.summary()["sharpe_ratio"].iloc[0])
    daily_factor = sweep(_head(five_minute, 780), "sma_cross", space, fill=FILL, periods_per_year=252)
    assert float(first.summary()["sharpe_ratio"].iloc[0]) == pytest.approx(
        float(daily_factor.summary()["sharpe_ratio"].iloc[0]) * np.sqrt(78), rel=1e-12
    )


def _head(panel: Panel, n: int) -> Panel:
    return Panel(
        ts=panel.ts[:n], symbols=panel.symbols, fields={f: v[:n] for f, v in panel.fields.items()},
        frequency=panel.frequency,
    )  # fmt: skip


def test_periods_per_year_override_for_a_market_open_around_the_clock(five_minute: Panel) -> None:
    around_the_clock = 12 * 24 * 365  # five-minute bars of a market that never closes
    r = backtest(five_minute, "sma_cross", PARAMS, fill=FILL)
    crypto = backtest(five_minute, "sma_cross", PARAMS, fill=FILL, periods_per_year=around_the_clock)
    np.testing.assert_allclose(_annual(crypto), _by_hand(r, around_the_clock), rtol=1e-10)
    assert crypto.final_value == r.final_value and crypto.fills.equals(r.fills)
    swept = sweep(five_minute, "sma_cross", [PARAMS], fill=FILL, periods_per_year=around_the_clock)
    alone = backtest(five_minute_symbol(five_minute, five_minute.symbols[0]), "sma_cross", PARAMS, fill=FILL,
                     periods_per_year=around_the_clock)  # fmt: skip
    assert swept.frame["sharpe_ratio"].iloc[0] == alone.metrics["sharpe_ratio"]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (0, "must be between 1 and 1e\\+08, got 0"),
        (float("nan"), "must be a finite number, got nan"),
        (True, "must be a number, got bool"),
        ("252", "must be a number, got str"),
        (1e9, "must be between 1 and 1e\\+08, got 1000000000"),
    ],
)
def test_periods_per_year_that_is_no_count_of_bars_is_invalid_input(five_minute: Panel, value: object,
                                                                    match: str) -> None:  # fmt: skip
    with pytest.raises(InvalidInputError, match=f"periods_per_year {match}"):
        backtest(five_minute, "sma_cross", PARAMS, periods_per_year=value)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="periods_per_year"):
        sweep(five_minute, "sma_cross", [PARAMS], periods_per_year=value)  # type: ignore[arg-type]


def test_backtrader_bridge_on_five_minute_bars_reproduces_the_engine(five_minute: Panel) -> None:
    one = five_minute_symbol(five_minute, five_minute.symbols[0])
    ours = backtest(one, "sma_cross", {"fast": 10, "slow": 30, "size": 100}, fill=FILL)
    theirs = run_backtrader(one, SmaCross, {"fast": 10, "slow": 30}, fill=FILL)
    assert len(ours.fills) == len(theirs.fills) > 20
    assert (ours.fills["ts"] == theirs.fills["ts"]).all()  # each fill on its five-minute bar
    np.testing.assert_allclose(ours.equity, theirs.equity, rtol=1e-9)
    np.testing.assert_allclose(_annual(theirs), _by_hand(theirs, periods_per_year("5m")), rtol=1e-10)
    np.testing.assert_allclose(_annual(ours), _annual(theirs), rtol=1e-9)


def test_equity_metrics_reference_takes_the_bars_a_year(five_minute: Panel) -> None:
    r = backtest(five_minute, "sma_cross", PARAMS, fill=FILL)
    reference = equity_metrics(
        r.equity.to_numpy(), r.initial_cash, r.trades["pnl_net"].to_numpy(), len(r.fills),
        int((r.orders["status"] == "rejected").sum()), float(r.fills["commission"].sum()),
        float((r.positions != 0).any(axis=1).mean()), periods_per_year=periods_per_year("5m"),
    )  # fmt: skip
    np.testing.assert_allclose(np.array([r.metrics[m] for m in K.METRICS]), reference, rtol=1e-9)


def test_stats_and_tearsheet_of_five_minute_bars_annualise_as_the_metrics(five_minute: Panel, orcl: Panel) -> None:
    assert backtest(orcl, "sma_cross", {"fast": 10, "slow": 30}).periods_per_year == 252
    r = backtest(five_minute, "sma_cross", PARAMS, fill=FILL)
    assert r.periods_per_year == 78 * 252
    stats = r.stats().to_frame()[r.strategy]
    _, volatility, sharpe = _by_hand(r, 78 * 252)
    assert stats["annual_volatility"] == pytest.approx(volatility, rel=1e-9)
    assert stats["sharpe_ratio"] == pytest.approx(sharpe, rel=1e-9)
    sheet = r.tearsheet()
    assert sheet.stats.loc["annual_volatility"].iloc[0] == pytest.approx(volatility, rel=1e-9)
    assert "Rolling Sharpe ratio (126 bars)" in sheet.to_html()
