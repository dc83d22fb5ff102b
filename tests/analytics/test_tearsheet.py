"""The tearsheet: what a pyfolio or quantstats user expects, its numbers checked against
empyrical (and quantstats' drawdown table), and the HTML file rendering offline in Chromium."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
import quantstats as qs
from PIL import Image
from plotly.offline import get_plotlyjs

from bifrost.analytics import Tearsheet, tearsheet
from bifrost.data import CsvSource, load_bars
from bifrost.errors import InvalidInputError
from tests.cli import bifrost
from tests.conftest import ORCL, ROOT, SPY
from tests.portfolio.test_persist import CSV

CHROMIUM = [
    "/usr/bin/chromium",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AAPL_5M = ROOT / "tests" / "fixtures" / "yfinance_history_aapl_5m_2024-03.csv"


def _returns(path: Path, symbol: str, column: str = "close"):  # type: ignore[no-untyped-def]
    return load_bars(CsvSource(path, symbol=symbol)).bars[column].droplevel("symbol").pct_change().rename(symbol)


@pytest.fixture(scope="module")
def orcl_spy() -> tuple[pd.Series, pd.Series]:
    return _returns(ORCL, "ORCL").loc["2010":"2014"].dropna(), _returns(SPY, "SPY", "adj_close")


@pytest.fixture(scope="module")
def sheet(orcl_spy: tuple[pd.Series, pd.Series]) -> Tearsheet:
    orcl, spy = orcl_spy
    return tearsheet(orcl, spy, title="ORCL")


def _figure(sheet: Tearsheet, prefix: str):  # type: ignore[no-untyped-def]
    (fig,) = [f for name, f in sheet.figures if name.startswith(prefix)]
    return fig


def test_tearsheet_of_real_returns_has_every_figure_and_no_network_reference(sheet: Tearsheet) -> None:
    names = [name for name, _ in sheet.figures]
    assert names == [
        "Cumulative returns", "Drawdown (underwater)", "Monthly returns", "Annual returns",
        "Rolling volatility (126 days)", "Rolling Sharpe ratio (126 days)", "Rolling beta to SPY (126 days)",
        "Distribution of daily returns",
    ]  # fmt: skip
    assert 0.5 < sheet.stats.loc["beta", "ORCL"] < 1.5  # ORCL against SPY, 2010–2014
    page = sheet.to_html()
    assert not re.search(r"<script[^>]*\bsrc=", page)  # every script inline: plotly.js is embedded
    # the one CDN address is inside plotly.js itself (geo maps' default topojson), unused here
    assert page.replace(get_plotlyjs(), "").count("cdn.plot.ly") == 0
    assert page.count(get_plotlyjs()) == 1
    assert "Sharpe ratio" in page and "fig-Monthly-returns" in page and "Worst drawdown periods" in page
    assert "ORCL" in sheet._repr_html_()


def test_tearsheet_figures_carry_their_titles_and_axis_labels(sheet: Tearsheet) -> None:
    for name, fig in sheet.figures:
        assert fig.layout.title.text == name  # in the figure itself, not only the page around it
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text, name
        assert fig.layout.height  # a fixed height: never the window's


def test_tearsheet_metrics_in_percent_beside_the_benchmark_with_dates(
    sheet: Tearsheet, orcl_spy: tuple[pd.Series, pd.Series]
) -> None:
    orcl, spy = orcl_spy
    bench = spy.reindex(orcl.index).fillna(0.0)
    table = sheet.metrics_table()
    assert list(table.columns) == ["ORCL", "SPY"]
    assert table.loc["Start", "ORCL"] == "2010-01-04" and table.loc["End", "SPY"] == "2014-12-31"
    assert table.loc["Periods (daily)", "ORCL"] == f"{len(orcl):,}"
    # each number against empyrical, and shown in percent where it is a fraction
    for column, r in (("ORCL", orcl), ("SPY", bench)):
        assert sheet.stats.loc["sharpe_ratio", column] == pytest.approx(ep.sharpe_ratio(r), rel=1e-10)
        assert sheet.stats.loc["annual_return", column] == pytest.approx(ep.annual_return(r), rel=1e-10)
        assert sheet.stats.loc["max_drawdown", column] == pytest.approx(ep.max_drawdown(r), rel=1e-10)
        assert sheet.stats.loc["beta", column] == pytest.approx(ep.beta(r, bench), rel=1e-10)
        assert table.loc["Annual return (CAGR)", column] == f"{ep.annual_return(r):.2%}"
        assert table.loc["Max drawdown", column] == f"{ep.max_drawdown(r):.2%}"
        assert table.loc["Sharpe ratio", column] == f"{ep.sharpe_ratio(r):.2f}"
    assert table.loc["Alpha (annual)", "ORCL"] == f"{ep.alpha(orcl, bench):.2%}"
    assert table.loc["Longest drawdown (periods)", "ORCL"].replace(",", "").isdigit()


def test_tearsheet_worst_drawdown_periods_agree_with_quantstats(
    sheet: Tearsheet, orcl_spy: tuple[pd.Series, pd.Series]
) -> None:
    orcl, _ = orcl_spy
    d = sheet.drawdowns
    assert len(d) == 5 and d["drawdown"].is_monotonic_increasing
    assert d["drawdown"].iloc[0] == pytest.approx(ep.max_drawdown(orcl), rel=1e-12)
    details = qs.stats.drawdown_details(qs.stats.to_drawdown_series(orcl)).sort_values("max drawdown").head(5)
    index = orcl.index
    for (_, mine), (_, theirs) in zip(d.iterrows(), details.iterrows(), strict=True):
        assert mine["drawdown"] == pytest.approx(theirs["max drawdown"] / 100, rel=1e-9)
        assert str(mine["valley"].date()) == theirs["valley"]
        # quantstats names the first and last bar under water; we name the peak and the recovery
        assert str(index[index.get_loc(mine["peak"]) + 1].date()) == theirs["start"]
        assert str(index[index.get_loc(mine["recovery"]) - 1].date()) == theirs["end"]
    shown = sheet.drawdown_table()
    assert shown.loc[1, "drawdown"] == f"{d['drawdown'].iloc[0]:.2%}" and shown.loc[1, "peak"] == "2011-05-02"


def test_tearsheet_annual_and_monthly_returns_agree_with_empyrical(
    sheet: Tearsheet, orcl_spy: tuple[pd.Series, pd.Series]
) -> None:
    orcl, _ = orcl_spy
    yearly = ep.aggregate_returns(orcl, "yearly")
    np.testing.assert_allclose(sheet.annual_returns["ORCL"].to_numpy(), yearly.to_numpy(), rtol=1e-12)
    bars = _figure(sheet, "Annual returns")
    assert [t.name for t in bars.data] == ["ORCL", "SPY"] and list(bars.data[0].x) == [str(y) for y in yearly.index]
    heat = _figure(sheet, "Monthly returns").data[0]
    assert list(heat.x) == ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Year"]
    monthly = ep.aggregate_returns(orcl, "monthly")
    z = np.asarray(heat.z, dtype=float)
    np.testing.assert_allclose(z[:, :12].ravel(), monthly.to_numpy(), rtol=1e-12)  # five full years
    np.testing.assert_allclose(z[:, 12], yearly.to_numpy(), rtol=1e-12)
    assert heat.texttemplate == "%{text}" and heat.text[0][0] == f"{monthly.iloc[0]:.1%}"  # numbers in the cells


def test_tearsheet_rolling_volatility_sharpe_and_beta_are_separate_and_agree_with_empyrical(
    sheet: Tearsheet, orcl_spy: tuple[pd.Series, pd.Series]
) -> None:
    orcl, spy = orcl_spy
    bench = spy.reindex(orcl.index).fillna(0.0)
    vol = _figure(sheet, "Rolling volatility").data
    sharpe = _figure(sheet, "Rolling Sharpe").data
    beta = _figure(sheet, "Rolling beta").data
    assert [t.name for t in vol] == ["ORCL", "SPY"] and len(beta) == 1
    np.testing.assert_allclose(vol[0].y, ep.roll_annual_volatility(orcl, window=126).to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(sharpe[0].y, ep.roll_sharpe_ratio(orcl, window=126).to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(beta[0].y, np.asarray(ep.roll_beta(orcl, bench, window=126)), rtol=1e-10)
    assert pd.Timestamp(vol[0].x[0]) == orcl.index[125]


def test_intraday_tearsheet_hides_the_nights_and_names_its_bars() -> None:
    bars = load_bars(CsvSource(AAPL_5M, symbol="AAPL")).bars
    r = bars["close"].droplevel("symbol").pct_change().rename("AAPL")
    sheet = tearsheet(r, annualization=78 * 252, title="AAPL 5m")
    names = [name for name, _ in sheet.figures]
    assert "Distribution of 5-minute returns" in names and "Rolling volatility (126 bars)" in names
    hist = _figure(sheet, "Distribution").data[0]
    assert hist.name == "5-minute returns"
    growth = _figure(sheet, "Cumulative returns")
    breaks = growth.layout.xaxis.rangebreaks
    # one gap between the sessions: Friday 2024-03-08's last bar to Monday's first
    assert len(breaks) == 1 and list(breaks[0].bounds) == ["2024-03-08 20:55:00", "2024-03-11 13:25:00"]
    assert sheet.metrics_table().loc["Start", "AAPL"] == "2024-03-08 14:35"


def test_tearsheet_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="returns must be a pandas Series on a DatetimeIndex"):
        tearsheet([0.1, 0.2])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="at least 2 returns"):
        tearsheet(_returns(ORCL, "ORCL").iloc[:2])
    r = _returns(ORCL, "ORCL").iloc[1:50]
    with pytest.raises(InvalidInputError, match="benchmark must be a pandas Series on a DatetimeIndex, got list"):
        tearsheet(r, [0.0] * 49)  # type: ignore[arg-type]
    bad = r.copy()
    bad.iloc[3] = np.inf
    with pytest.raises(InvalidInputError, match=re.escape(f"returns must be finite: inf at {bad.index[3]}")):
        tearsheet(bad)
    with pytest.raises(InvalidInputError, match="benchmark must be finite"):
        tearsheet(r, bad)
    with pytest.raises(InvalidInputError, match="returns must be numbers: 'x' at"):
        tearsheet(r.astype(object).where(r.index != r.index[2], "x"))
    with pytest.raises(InvalidInputError, match="returns must be on increasing, unique timestamps"):
        tearsheet(r.iloc[::-1])


def test_portfolio_tearsheet_renders_offline_in_chromium(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for path, sym in ((ORCL, "ORCL"), (SPY, "SPY")):
        assert bifrost(home, "data", "ingest", "csv", str(path), "--symbol", sym).returncode == 0
    csv = tmp_path / "t.csv"
    csv.write_text(CSV)
    assert bifrost(home, "portfolio", "create", "core", "--inception", "2014-01-01").returncode == 0
    assert bifrost(home, "portfolio", "import", "core", str(csv)).returncode == 0
    report = tmp_path / "report.html"
    done = bifrost(home, "report", "tearsheet", "core", "-o", str(report), "--benchmark", "SPY")
    assert done.returncode == 0, done.stderr
    assert "10 figures" in done.stdout
    profile = tmp_path / "chromium-profile"
    dom = subprocess.run(
        [*CHROMIUM, f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    # plotly has drawn every figure: each becomes a js-plotly-plot holding its SVG layers
    assert dom.stdout.count('class="plot-container plotly"') == 10
    assert dom.stdout.count("main-svg") >= 20
    assert "Exposure (fraction of equity)" in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            *CHROMIUM,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=15000",
            "--window-size=1280,3000",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=180,
        check=True,
    )
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (3000, 1280) and pixels.std() > 10  # charts, not a blank page


def test_portfolio_tearsheet_exposure_is_a_fraction_of_equity(tmp_path: Path) -> None:
    from bifrost.analytics import portfolio_tearsheet
    from bifrost.data import EmbeddedStore, ingest
    from bifrost.portfolio import read_transactions_csv, record_transactions

    csv = tmp_path / "t.csv"
    csv.write_text(CSV)
    with EmbeddedStore(tmp_path / "home") as store:
        ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2013-06-01")
        record_transactions(store, "core", read_transactions_csv(csv), create=True)
        sheet = portfolio_tearsheet(store, "core")
    exposure = _figure(sheet, "Exposure")
    gross = next(t for t in exposure.data if t.name == "gross")
    assert 0.0 < np.nanmax(gross.y) <= 1.0 + 1e-9  # a cash account: at most fully invested
    assert exposure.layout.yaxis.tickformat == ".0%"
