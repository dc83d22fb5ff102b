"""The backtest form in process: a click runs the library's backtest; bad input is a message, never a traceback."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from bifrost.data import EmbeddedStore
from bifrost.strategy import Commission, FillModel, backtest, sweep
from bifrost.ui import BacktestForm, backtest_explorer


def _form(store: EmbeddedStore) -> BacktestForm:
    page = backtest_explorer(store, symbols="ORCL")
    form = page.components["form"]
    assert isinstance(form, BacktestForm)
    return form


def test_backtest_form_run_click_shows_the_library_backtest_metrics(ui_store: EmbeddedStore) -> None:
    form = _form(ui_store)
    form.symbols.value = "ORCL, NVDA"
    form.params.value = "fast=10, slow=30"
    form.start.value, form.end.value = dt.date(2012, 6, 1), dt.date(2014, 6, 30)
    form.commission.value, form.slippage.value = 0.001, 2.0
    form.run_button.click()
    assert form.form_error.message == ""
    panel = ui_store.read_panel(["ORCL", "NVDA"], "2012-06-01", pd.Timestamp("2014-07-01", tz="UTC"))
    expected = backtest(panel, "sma_cross", {"fast": 10, "slow": 30},
                        fill=FillModel(commission=Commission(percent=0.001), slippage_bps=2.0))  # fmt: skip
    assert form.result is not None and form.result.ts[-1] == pd.Timestamp("2014-06-30", tz="UTC")
    assert form.metrics.values["sharpe_ratio"] == expected.metrics["sharpe_ratio"]
    assert form.metrics.values["final_value"] == expected.final_value
    html = form.metrics.html.value
    assert f"data-key='sharpe_ratio'><td class='bf-text'>Sharpe</td><td class='bf-num' data-col='value' " \
           f"data-value='{expected.metrics['sharpe_ratio']!r}'" in html  # fmt: skip
    assert "bf-result-done" in form.results._dom_classes
    assert "bf-busy" not in form.form._dom_classes and not form.run_button.disabled
    assert len(form.chart.outputs) == 1 and f"{len(expected.trades):,} round trips" in form.trades.value


def test_backtest_form_bad_input_shows_one_line_each(ui_store: EmbeddedStore) -> None:
    form = _form(ui_store)
    cases = [
        ({"symbols": "ORCL, NOPE"}, "no bars in the embedded store for ['NOPE']"),
        ({"params": "fast=30, slow=10"}, "sma_cross: fast=30, slow=10 violate its constraint fast < slow"),
        ({"params": "fast=ten"}, "fast"),
        ({"symbols": " "}, "symbols: name at least one symbol"),
    ]
    for values, message in cases:
        form.symbols.value, form.params.value = "ORCL", "fast=10, slow=30"
        for name, value in values.items():
            getattr(form, name).value = value
        assert form.run() is None
        assert message in form.form_error.message, (values, form.form_error.message)
        assert "Traceback" not in form.form_error.widget.value
        assert "bf-error-shown" in form.form_error.widget._dom_classes
    form.symbols.value, form.params.value = "ORCL", "fast=10, slow=30"
    form.start.value, form.end.value = dt.date(2014, 5, 1), dt.date(2014, 4, 1)
    assert form.run() is None
    assert form.form_error.message.startswith("empty date range: end 2014-04-01 is before start 2014-05-01")
    form.start.value, form.end.value = dt.date(2016, 1, 1), dt.date(2016, 2, 1)  # after every stored bar
    assert form.run() is None
    assert form.form_error.message.startswith("empty date range: no bars of ORCL")
    form.start.value = form.end.value = None
    assert form.run() is not None
    assert form.form_error.message == "" and "bf-error-shown" not in form.form_error.widget._dom_classes


def test_backtest_form_sweep_draws_the_heatmap_of_the_library_sweep(ui_store: EmbeddedStore) -> None:
    form = _form(ui_store)
    form.params.value = "fast=10, slow=30"
    form.grid.value = "fast=5:15:5 slow=30,50"
    form.commission.value = 0.0
    form.sweep_button.click()
    assert form.form_error.message == ""
    expected = sweep(ui_store.read_panel(["ORCL"]), "sma_cross", {"fast": [5, 10, 15], "slow": [30, 50]},
                     fill=FillModel(commission=Commission(percent=0.0)))  # fmt: skip
    assert form.sweep_result is not None and form.sweep_result.best() == expected.best()
    (shown,) = form.heatmap.outputs
    assert "application/vnd.plotly.v1+json" in shown["data"]
    best = expected.best()
    assert f"data-key='fast={best['fast']},slow={best['slow']}'" in form.sweep_table.value
    # the best set is written into the form and backtested: its metrics are shown
    assert form.params.value == f"fast={best['fast']}, slow={best['slow']}"
    no_costs = FillModel(commission=Commission(percent=0.0))
    again = backtest(ui_store.read_panel(["ORCL"]), "sma_cross", best, fill=no_costs)
    assert form.result is not None and form.metrics.values["sharpe_ratio"] == again.metrics["sharpe_ratio"]


def test_backtest_form_out_of_range_costs_are_refused_and_the_last_result_marked_stale(
    ui_store: EmbeddedStore,
) -> None:
    form = _form(ui_store)
    assert form.commission.description.startswith("commission (fraction of value, 0.001 = 0.1%")
    first = form.run()
    assert first is not None and "bf-stale" not in form.results._dom_classes
    assert form.stale_note.layout.display == "none"
    cases = [
        ("commission", 500.0, "commission: 500 is not a fraction of the traded value"),
        ("commission", -0.001, "Commission.percent must be a non-negative number at most 1"),
        ("slippage", 20_000.0, "FillModel.slippage_bps must be a non-negative number at most 10000"),
        ("cash", -1.0, "cash must be a positive number"),
    ]
    for name, value, message in cases:
        form.commission.value, form.slippage.value, form.cash.value = 0.001, 0.0, 100_000.0
        getattr(form, name).value = value
        assert form.run() is None and form.run_sweep() is None
        assert getattr(form, name).value == value  # refused, never clamped to a bound
        assert message in form.form_error.message, (name, form.form_error.message)
        assert form.result is first  # the shown result is the previous inputs'
        assert "bf-stale" in form.results._dom_classes and form.stale_note.layout.display is None
        assert "from the previous inputs (sma_cross fast=10 slow=30 on ORCL)" in form.stale_note.value
    form.commission.value, form.slippage.value, form.cash.value = 0.002, 0.0, 100_000.0
    again = form.run()
    assert again is not None and again.metrics["commission"] > first.metrics["commission"]
    assert "bf-stale" not in form.results._dom_classes and form.stale_note.layout.display == "none"
    assert form.form_error.message == ""


def test_backtest_form_refused_input_before_any_run_marks_nothing_stale(ui_store: EmbeddedStore) -> None:
    form = _form(ui_store)
    form.commission.value = 2.0
    assert form.run() is None and form.result is None
    assert "bf-stale" not in form.results._dom_classes and form.stale_note.layout.display == "none"
