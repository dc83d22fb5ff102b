"""Risk components in process: VaR by method, limit bars with a breach, alerts recorded by "check now"."""

from __future__ import annotations

import html

from bifrost.data import EmbeddedStore
from bifrost.portfolio import create_portfolio
from bifrost.risk import Limit, book_from_store, book_risk, read_alerts, set_limits, stress_positions
from bifrost.ui import LimitBars, StressTable, VarTable, risk_monitor
from bifrost.ui._base import PAGE_CSS


def test_var_table_desk_equals_book_risk_for_each_method(ui_store: EmbeddedStore) -> None:
    table = VarTable(ui_store, "desk")
    table.refresh()
    book = book_from_store(ui_store, "desk")
    assert [r["method"] for r in table.rows] == ["historical", "parametric", "montecarlo", "filtered_historical"]
    for row in table.rows:
        expected = book_risk(book, method=row["method"])
        assert (row["var"], row["es"]) == (expected.var, expected.es)
        assert f"data-col='var' data-value='{expected.var!r}'" in table.html.value
    assert "500 days" in table.note.value


def test_limit_bars_tight_single_name_limit_is_a_highlighted_breach(ui_store: EmbeddedStore) -> None:
    set_limits(ui_store, "desk", (Limit(name="name", metric="single_name", threshold=0.05),
                                  Limit(name="gross", metric="gross_exposure", threshold=2.0)))  # fmt: skip
    bars = LimitBars(ui_store, "desk")
    bars.refresh()
    assert bars.checks is not None
    keys = bars.checks["limit_name"] + ":" + bars.checks["subject"]
    assert dict(zip(keys, bars.checks["severity"], strict=True)) == {
        "name:NVDA": "breach", "name:ORCL": "breach", "gross:": "ok"}  # fmt: skip
    assert "class='bf-limit bf-breach' data-key='name:ORCL'" in bars.html.value
    assert "class='bf-limit bf-ok' data-key='gross:'" in bars.html.value
    assert read_alerts(ui_store, "desk").empty  # drawing records nothing


def test_risk_monitor_check_limits_now_records_and_lists_the_breaches(ui_store: EmbeddedStore) -> None:
    set_limits(ui_store, "desk", (Limit(name="name", metric="single_name", threshold=0.05),))
    page = risk_monitor(ui_store, watch=False)
    alerts = page.components["alerts"]
    assert "no recorded alerts: the limits above are evaluated live" in alerts.html.value
    page.check_button.click()
    recorded = read_alerts(ui_store, "desk", status="open")
    assert sorted(recorded["subject"]) == ["NVDA", "ORCL"]
    for alert_id in recorded["id"]:
        assert f"class='bf-alert bf-breach' data-key='{alert_id}'" in alerts.html.value
    assert alerts in page.watcher.poll()  # the watcher saw the alerts move


def test_alerts_list_rows_are_one_line_with_the_message_as_their_tooltip(ui_store: EmbeddedStore) -> None:
    set_limits(ui_store, "desk", (Limit(name="name", metric="single_name", threshold=0.05),))
    page = risk_monitor(ui_store, watch=False)
    page.check_button.click()
    alerts = page.components["alerts"]
    recorded = read_alerts(ui_store, "desk", status="open")
    assert len(recorded) == 2
    for alert_id, message in zip(recorded["id"], recorded["message"], strict=True):
        assert message and f"data-key='{alert_id}' title='{html.escape(message, quote=True)}'" in alerts.html.value
    assert "bf-wrap" not in alerts.html.value  # nothing wraps into a tall row
    assert (
        "class='bf-text' data-col='subject' title='ORCL'><span class='bf-trunc' style='max-width:110px'>ORCL</span><"
        in alerts.html.value
    )
    # wide tables (the stress table's per-symbol columns) scroll inside their card, one line a row
    assert ".bf-page .widget-html{max-width:100%;overflow-x:auto}" in PAGE_CSS
    assert (
        ".bf-table td{padding:2px 6px;border-bottom:1px solid #eef0f2;text-align:right;white-space:nowrap}" in PAGE_CSS
    )


def test_stress_table_desk_equals_stress_positions(ui_store: EmbeddedStore) -> None:
    table = StressTable(ui_store, "desk")
    table.refresh()
    book = book_from_store(ui_store, "desk")
    expected = stress_positions({str(k): float(v) for k, v in book.values.items()}, book.returns,
                                window_days=(1, 5, 20), worst=2)  # fmt: skip
    assert table.frame is not None
    assert list(table.frame["total"]) == list(expected.total)
    assert f"data-value='{float(expected.total.iloc[0])!r}'" in table.html.value


def test_var_table_portfolio_without_positions_says_so_in_its_error_area(ui_store: EmbeddedStore) -> None:
    create_portfolio(ui_store, "empty", inception="2013-01-02")
    table = VarTable(ui_store, "empty")
    table.refresh()
    assert table.error.message == "portfolio 'empty' holds no position: nothing to measure"
    assert "bf-error-shown" in table.error.widget._dom_classes
