"""Portfolio components in process: the numbers shown are the library's for the same store."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from bifrost import analytics
from bifrost.data import EmbeddedStore
from bifrost.portfolio import (
    Fill,
    Side,
    create_portfolio,
    load_portfolio,
    mark_to_latest,
    record_transactions,
    value_ledger,
)
from bifrost.ui import (
    EquityChart,
    ExposureTable,
    PortfolioMetrics,
    PortfolioPicker,
    PositionsTable,
    portfolio_monitor,
    portfolio_returns,
)


def test_positions_table_desk_shows_mark_to_latest_values(ui_store: EmbeddedStore) -> None:
    table = PositionsTable(ui_store, "desk")
    table.refresh()
    marked = mark_to_latest(load_portfolio(ui_store, "desk"), ui_store)
    assert table.error.message == ""
    for row in marked.positions.itertuples():
        assert f"data-key='{row.symbol}'" in table.positions_html.value
        assert f"data-col='unrealized' data-value='{float(row.unrealized)!r}'" in table.positions_html.value
    # orcl-1995-2014.txt's last close 44.970001 × 1000 + nvda's 20.049999 × 2000 + cash 100,000 - 34,689.999 - 25,440
    assert float(marked.totals["equity"]) == 124_940.0
    assert "data-value='124940.0'" in table.totals_html.value
    # the last day's P&L: orcl-1995-2014.txt closes 2014-12-30 45.340000, 2014-12-31 44.970001 (× 1000 shares)
    valuation = value_ledger(load_portfolio(ui_store, "desk"), ui_store.read_panel(["NVDA", "ORCL"], "2013-01-02"))
    orcl = float(valuation.pnl[-1][list(valuation.symbols).index("ORCL")])
    assert abs(orcl - (44.970001 - 45.34) * 1000) < 1e-6
    assert f"data-col='day_pnl' data-value='{orcl!r}'" in table.positions_html.value


def test_portfolio_metrics_desk_equal_perf_stats_against_spy(ui_store: EmbeddedStore) -> None:
    metrics = PortfolioMetrics(ui_store, "desk", benchmark="SPY")
    metrics.refresh()
    returns = portfolio_returns(ui_store, "desk").iloc[1:]
    spy = ui_store.read_panel(["SPY"], fields=["close"], adjustment="adjusted").frame("close")["SPY"]
    bench = spy.pct_change(fill_method=None).reindex(returns.index).fillna(0.0)
    expected = analytics.perf_stats(returns.to_numpy(), bench.to_numpy()).to_frame().iloc[:, 0]
    assert metrics.values["sharpe_ratio"] == float(expected["sharpe_ratio"])
    assert metrics.values["beta"] == float(expected["beta"])
    assert metrics.values["max_drawdown"] == float(analytics.max_drawdown(returns))
    assert f"data-value='{metrics.values['sharpe_ratio']!r}'" in metrics.table.html.value


def test_equity_chart_desk_draws_portfolio_benchmark_and_drawdown(ui_store: EmbeddedStore) -> None:
    chart = EquityChart(ui_store, "desk", benchmark="SPY")
    chart.refresh()
    assert [t.name for t in chart.figure.data] == ["desk", "SPY", "drawdown"]
    (shown,) = chart.output.outputs
    assert "application/vnd.plotly.v1+json" in shown["data"]
    returns = portfolio_returns(ui_store, "desk")
    assert chart.figure.data[0].y[-1] == float(analytics.cum_returns(returns, starting_value=1.0).iloc[-1])


def test_equity_chart_benchmark_missing_from_the_store_is_not_named_in_the_title(ui_store: EmbeddedStore) -> None:
    for benchmark in ("QQQ", None):
        chart = EquityChart(ui_store, "desk", benchmark=benchmark)
        chart.refresh()
        assert [t.name for t in chart.figure.data] == ["desk", "drawdown"]
        assert chart.figure.layout.title.text == "desk: growth of 1, time-weighted"
    chart = EquityChart(ui_store, "desk", benchmark="SPY")
    chart.refresh()
    assert chart.figure.layout.title.text == "desk: growth of 1, time-weighted, against SPY (total return)"


def test_portfolio_monitor_totals_never_shrink_and_the_positions_take_the_page_width(
    ui_store: EmbeddedStore,
) -> None:
    page = portfolio_monitor(ui_store, watch=False)
    positions = page.components["positions"]
    assert isinstance(positions, PositionsTable)
    # the totals keep their own width (flex 0 0 auto, at least 240 px); the positions shrink and scroll
    assert (positions.totals_html.layout.flex, positions.totals_html.layout.min_width) == ("0 0 auto", "240px")
    assert (positions.positions_html.layout.flex, positions.positions_html.layout.min_width) == ("0 1 auto", "0")
    assert positions.widget.layout.width == "100%"
    exposure = page.components["exposure"].widget
    (right,) = [box for row in page.children[2:] for box in row.children if exposure in getattr(box, "children", ())]
    assert page.components["metrics"].widget in right.children
    assert "data-key='equity'" in positions.totals_html.value


def test_exposure_table_desk_is_long_only_without_leverage(ui_store: EmbeddedStore) -> None:
    exposure = ExposureTable(ui_store, "desk")
    exposure.refresh()
    # ORCL 44,970.001 + NVDA 40,099.998 over equity 124,940
    assert exposure.values["gross"] == exposure.values["net"] == exposure.values["long"]
    assert abs(exposure.values["gross"] - 85_069.999 / 124_940.0) < 1e-9
    assert exposure.values["short"] == 0.0


def test_portfolio_picker_new_portfolio_appears_on_refresh(ui_store: EmbeddedStore) -> None:
    picked: list[str | None] = []
    picker = PortfolioPicker(ui_store, on_pick=picked.append)
    picker.refresh()
    assert list(picker.dropdown.options) == ["desk"] and picker.value == "desk"
    create_portfolio(ui_store, "alpha", inception="2013-01-02")
    picker.refresh()
    assert list(picker.dropdown.options) == ["alpha", "desk"]
    assert picker.value == "desk"  # the choice is kept
    picker.dropdown.value = "alpha"
    assert picked == ["desk", "alpha"]  # the first portfolio shown, then the user's pick


def test_portfolio_monitor_transaction_from_another_store_object_redraws_positions(ui_store: EmbeddedStore) -> None:
    page = portfolio_monitor(ui_store, watch=False)
    positions = page.components["positions"]
    assert "data-key='YHOO'" not in positions.positions_html.value
    assert page.watcher.poll() == []  # nothing changed: nothing redrawn
    other = EmbeddedStore(ui_store.home)  # as another process would open it
    try:
        # yhoo-1996-2014.txt 2014-06-02 close 33.639999
        buy = Fill(txn_id="f3", ts=pd.Timestamp("2014-06-02", tz="UTC"), symbol="YHOO", side=Side.BUY,
                   quantity=Decimal(100), price=Decimal("33.639999"))  # fmt: skip
        record_transactions(other, "desk", [buy])
    finally:
        other.close()
    refreshed = page.watcher.poll()
    assert positions in refreshed and page.components["equity"] in refreshed
    assert "data-key='YHOO'" in positions.positions_html.value
    assert "data-col='quantity' data-value='100.0'" in positions.positions_html.value
    assert "portfolios changed" in page.status.value
    assert page.watcher.poll() == []
