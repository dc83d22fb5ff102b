"""The tearsheet: figures on real returns, and the HTML file rendering offline in Chromium."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from plotly.offline import get_plotlyjs

from bifrost.analytics import tearsheet
from bifrost.data import CsvSource, load_bars
from bifrost.errors import InvalidInputError
from tests.cli import bifrost
from tests.conftest import ORCL, SPY
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


def _returns(path: Path, symbol: str, column: str = "close"):  # type: ignore[no-untyped-def]
    return load_bars(CsvSource(path, symbol=symbol)).bars[column].droplevel("symbol").pct_change().rename(symbol)


def test_tearsheet_of_real_returns_has_every_figure_and_no_network_reference() -> None:
    orcl = _returns(ORCL, "ORCL").loc["2010":"2014"]
    spy = _returns(SPY, "SPY", "adj_close")
    sheet = tearsheet(orcl, spy, title="ORCL")
    names = [name for name, _ in sheet.figures]
    assert names == ["Equity", "Drawdown", "Monthly returns", "Rolling Sharpe and beta", "Return distribution"]
    assert 0.5 < sheet.stats.loc["beta", "ORCL"] < 1.5  # ORCL against SPY, 2010–2014
    page = sheet.to_html()
    assert not re.search(r"<script[^>]*\bsrc=", page)  # every script inline: plotly.js is embedded
    # the one CDN address is inside plotly.js itself (geo maps' default topojson), unused here
    assert page.replace(get_plotlyjs(), "").count("cdn.plot.ly") == 0
    assert "sharpe_ratio" in page and "<h2>Monthly returns</h2>" in page
    assert "ORCL" in sheet._repr_html_()


def test_tearsheet_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="returns must be a pandas Series on a DatetimeIndex"):
        tearsheet([0.1, 0.2])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="at least 2 returns"):
        tearsheet(_returns(ORCL, "ORCL").iloc[:2])


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
    assert "7 figures" in done.stdout
    profile = tmp_path / "chromium-profile"
    dom = subprocess.run(
        [*CHROMIUM, f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    # plotly has drawn every figure: each becomes a js-plotly-plot holding its SVG layers
    assert dom.stdout.count('class="plot-container plotly"') == 7
    assert dom.stdout.count("main-svg") >= 14
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
