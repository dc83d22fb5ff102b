"""The order ticket in a real browser: `bifrost dashboard` (Voila) on tests/ui's store, Debian's headless Chromium.

1. A limit order priced 20% above the last close: Check shows the default rules' price collar (10%) blocking it, in
   red with its reason; Submit is rejected by the order manager with that reason, shown in the page and the blotter.
2. An allowed market order (IOC, the ticket's default): Submit → FILLED by the paper broker at the last close, in
   the ticket's status, its blotter and fills; then the portfolio monitor shows the new position and the order.

The fixtures are tests/widgets/conftest.py's (one server and one store per module, stopped by pid after; screenshots
copied to BIFROST_SCREENSHOTS_DIR when set).
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bifrost._voila import widgets_dir
from bifrost.testing._voila import RunningDashboard
from tests.widgets.conftest import Watched

EXCEPTION = re.compile(r"\b\w+(Error|Exception|Warning)\b: ")
YHOO_CLOSE = Decimal("50.509998")  # yhoo-1996-2014.txt, 2014-12-31: the store's last close of YHOO


def _page(dashboard: RunningDashboard, open_page: Any, name: str) -> Watched:
    if not (widgets_dir() / f"{name}.ipynb").exists():
        pytest.fail(f"widgets/{name}.ipynb is missing")
    watched: Watched = open_page(dashboard.url(name), wait_for=f".bf-page-{name}", timeout_s=90)
    return watched


def _assert_no_error_text(watched: Watched) -> None:
    page = watched.page
    text = page.inner_text("body")
    assert "Traceback" not in text and not EXCEPTION.search(text), text[:3000]
    assert page.locator(".bf-error-shown").count() == 0, page.inner_text(".bf-error-shown")
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0


def _shot(watched: Watched, folder: Path, name: str, *, full_page: bool = False) -> None:
    path = folder / f"{name}.png"
    watched.page.screenshot(path=str(path), full_page=full_page)
    print(f"screenshot: {path}")


def _enter(page: Any, *, symbol: str, quantity: str, order_type: str, tif: str, limit: str | None = None) -> None:
    page.select_option(".bf-ticket-portfolio select", "desk")
    page.fill(".bf-ticket-symbol input", symbol)
    page.fill(".bf-ticket-quantity input", quantity)
    page.select_option(".bf-ticket-type select", order_type)
    if limit is not None:
        page.wait_for_selector(".bf-ticket-limit input:not([disabled])", timeout=10_000)
        page.fill(".bf-ticket-limit input", limit)
    page.select_option(".bf-ticket-tif select", tif)
    page.press(".bf-ticket-quantity input", "Tab")


def test_order_ticket_limit_priced_20_percent_away_is_blocked_by_the_collar_with_its_reason_in_the_page(
    dashboard: RunningDashboard, open_page: Any, screenshots: Path
) -> None:
    watched = _page(dashboard, open_page, "order_ticket")
    page = watched.page
    _assert_no_error_text(watched)
    limit = (YHOO_CLOSE * Decimal("1.2")).quantize(Decimal("0.01"))  # 60.61: 20.0% above the last close
    _enter(page, symbol="YHOO", quantity="10", order_type="limit", tif="day", limit=str(limit))
    page.click("button.bf-ticket-check")
    page.wait_for_selector(".bf-ticket-verdict.bf-verdict-block", timeout=30_000)
    collar = page.locator(".bf-checks tr.bf-breach:has(td[data-col='kind']:text-is('price_collar'))")
    assert collar.count() == 1, page.inner_text(".bf-checks")
    rule = collar.locator("td[data-col='rule']").inner_text()
    reason = collar.locator("td[data-col='reason']").inner_text()
    assert rule and reason and collar.locator("td[data-col='verdict']").inner_text().lower() == "block"
    assert collar.locator("td[data-col='version']").inner_text() not in ("", "–")
    banner = page.inner_text(".bf-ticket-verdict")
    assert banner.startswith("BLOCKED") and f"{rule}: {reason}" in banner, banner
    # the banner is red: the block is seen, not only read
    color = page.eval_on_selector(".bf-ticket-verdict", "e => getComputedStyle(e).color")
    assert color == "rgb(134, 24, 29)", color
    _assert_no_error_text(watched)
    _shot(watched, screenshots, "order_ticket_blocked")
    # Submit anyway: the order manager runs the same rules and rejects it, the collar's reason shown
    page.click("button.bf-ticket-submit")
    page.wait_for_selector(".bf-ticket-order-line[data-status='rejected']", timeout=30_000)
    status = page.inner_text(".bf-ticket-status")
    assert "rejected" in status.lower() and rule in status and reason in status, status
    client_order_id = page.get_attribute(".bf-ticket-order-line", "data-client-order-id")
    row = f".bf-orders tr.bf-rejected[data-key='{client_order_id}']"
    page.wait_for_selector(row, timeout=20_000)
    assert rule in page.inner_text(f"{row} td[data-col='reasons']")
    _assert_no_error_text(watched)
    _shot(watched, screenshots, "order_ticket_rejected")
    watched.assert_clean()


def test_order_ticket_allowed_market_order_is_filled_and_shows_in_blotter_and_portfolio_monitor(
    dashboard: RunningDashboard, open_page: Any, screenshots: Path
) -> None:
    watched = _page(dashboard, open_page, "order_ticket")
    page = watched.page
    _enter(page, symbol="YHOO", quantity="10", order_type="market", tif="ioc")
    page.click("button.bf-ticket-check")
    page.wait_for_selector(".bf-ticket-verdict[data-verdict='pass'], .bf-ticket-verdict[data-verdict='warn']",
                           timeout=30_000)  # fmt: skip
    assert page.locator(".bf-checks tr.bf-breach").count() == 0, page.inner_text(".bf-checks")
    page.click("button.bf-ticket-submit")
    page.wait_for_selector(".bf-ticket-order-line[data-status='filled']", timeout=30_000)
    line = ".bf-ticket-order-line"
    client_order_id = page.get_attribute(line, "data-client-order-id")
    assert client_order_id
    prices = page.eval_on_selector_all(f"{line} .bf-ticket-filled [data-value]", "es => es.map(e => e.dataset.value)")
    assert [float(p) for p in prices] == [10.0, float(YHOO_CLOSE)]
    assert "(last close)" in page.inner_text(line)
    # today's blotter and fills of desk, redrawn by the page's watcher
    row = f".bf-orders tr[data-key='{client_order_id}']"
    page.wait_for_selector(f"{row} .bf-order-status.bf-order-filled", timeout=20_000)
    assert page.inner_text(f"{row} td[data-col='symbol']") == "YHOO"
    assert float(page.get_attribute(f"{row} td[data-col='filled_quantity']", "data-value") or "nan") == 10.0
    fill = f".bf-fills tr[data-key^='{client_order_id}/']"
    page.wait_for_selector(fill, timeout=20_000)
    assert float(page.get_attribute(f"{fill} td[data-col='price']", "data-value") or "nan") == float(YHOO_CLOSE)
    assert page.inner_text(f"{fill} td[data-col='basis']") == "last close"
    _assert_no_error_text(watched)
    _shot(watched, screenshots, "order_ticket_filled")
    watched.assert_clean()
    # the portfolio monitor (another page, another kernel) shows the position and the order
    monitor = _page(dashboard, open_page, "portfolio_monitor")
    mpage = monitor.page
    mpage.select_option(".bf-portfolio-picker select", "desk")
    position = ".bf-positions tr[data-key='YHOO']"
    mpage.wait_for_selector(position, timeout=30_000)
    assert float(mpage.get_attribute(f"{position} td[data-col='quantity']", "data-value") or "nan") == 10.0
    mpage.wait_for_selector(f".bf-orders tr[data-key='{client_order_id}'] .bf-order-filled", timeout=20_000)
    mpage.wait_for_selector(f".bf-fills tr[data-key^='{client_order_id}/']", timeout=20_000)
    mpage.wait_for_timeout(1500)  # the charts' scripts run after the widgets appear
    _assert_no_error_text(monitor)
    _shot(monitor, screenshots, "portfolio_monitor_ticket_fill")
    monitor.assert_clean()
