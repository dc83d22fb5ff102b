"""Data components in process: coverage, quality findings and candlesticks are the store's own."""

from __future__ import annotations

import pandas as pd

from bifrost.data import EmbeddedStore, check_quality
from bifrost.ui import CandlestickChart, CoverageTable, QualityFindings, data_explorer


def test_coverage_table_lists_every_symbol_with_its_rows(ui_store: EmbeddedStore) -> None:
    table = CoverageTable(ui_store)
    table.refresh()
    listed = ui_store.list_symbols()
    assert list(listed["symbol"]) == ["NVDA", "ORCL", "SPY", "YHOO"]
    for symbol, rows in zip(listed["symbol"], listed["rows"], strict=True):
        assert f"data-key='{symbol}'" in table.html.value
        assert f"data-col='rows' data-value='{float(rows)!r}'" in table.html.value


def test_quality_findings_are_check_quality_of_the_store(ui_store: EmbeddedStore) -> None:
    findings = QualityFindings(ui_store)
    findings.refresh()
    report = check_quality(ui_store)
    assert findings.report is not None and findings.report.summary() == report.summary()
    assert report.summary() in findings.summary.value
    assert findings.html.value.count("<tr class=") == min(len(report.findings), 200)


def test_candlestick_adjustment_toggle_redraws_with_adjusted_prices(ui_store: EmbeddedStore) -> None:
    chart = CandlestickChart(ui_store, symbol="ORCL", bars=250)
    chart.refresh()
    assert chart.picker.value == "ORCL"
    raw = ui_store.read_bars("ORCL").tail(250)
    assert chart.shown is not None and chart.shown["close"].equals(raw["close"])
    chart.adjustment.value = "adjusted"
    adjusted = ui_store.read_bars("ORCL", adjustment="adjusted").tail(250)
    assert chart.shown["close"].equals(adjusted["close"])
    # orcl-1995-2014.txt carries Adj Close: the adjusted close is below the raw one before the last dividend
    assert float(adjusted["close"].iloc[0]) < float(raw["close"].iloc[0])
    assert list(chart.figure.data[0].close) == list(adjusted["close"])
    assert chart.figure.layout.title.text == "ORCL: last 250 bars, adjusted prices"
    chart.picker.value = "NVDA"
    assert chart.shown.index.get_level_values("symbol")[0] == "NVDA"
    assert pd.Timestamp(chart.shown.index.get_level_values("ts")[-1]) == pd.Timestamp("2014-12-31", tz="UTC")


def test_data_explorer_page_draws_each_part_without_error(ui_store: EmbeddedStore) -> None:
    page = data_explorer(ui_store, watch=False)
    assert set(page.components) == {"coverage", "quality", "candles"}
    assert all(c.error.message == "" and c.refreshed == 1 for c in page.components.values())
    assert "bf-page-data_explorer" in page._dom_classes
