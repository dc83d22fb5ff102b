"""notebooks/01_quickstart: ingest ORCL, backtest sma_cross, tearsheet and VaR, checked against the library."""

from __future__ import annotations

import numpy as np
import pytest

from bifrost.data import CsvSource, EmbeddedStore, load_bars
from bifrost.risk import historical_var, parametric_var
from bifrost.strategy import backtest
from tests.conftest import ORCL
from tests.notebooks._execute import Executed, execute

START, END = "2012-01-01", "2014-01-01"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    folder = tmp_path_factory.mktemp("quickstart")
    return execute("01_quickstart", folder, home=str(folder / "home"), symbol="ORCL", start=START, end=END, fast=10,
                   slow=30)  # fmt: skip


def test_quickstart_ingest_reads_every_row_of_the_file_in_range(run: Executed) -> None:
    # grep -c "^201[23]-" orcl-1995-2014.txt: 502 lines
    rows = len(load_bars(CsvSource(ORCL, symbol="ORCL"), start=START, end=END).bars)
    assert run.summary["rows_new"] == rows == run.summary["bars"] == 502


def test_quickstart_backtest_equals_the_library_on_the_same_store(run: Executed) -> None:
    with EmbeddedStore(run.path.parent / "home") as store:
        result = backtest(store.read_panel(["ORCL"], START, END), "sma_cross", {"fast": 10, "slow": 30, "size": 100})
    assert run.summary["final_value"] == result.final_value
    assert run.summary["sharpe_ratio"] == result.metrics["sharpe_ratio"]
    assert run.summary["n_trades"] == result.n_trades > 0
    daily = result.returns.dropna()
    assert run.summary["var_99_historical"] == historical_var(daily, confidence=0.99) > 0
    assert np.isclose(run.summary["var_99_parametric"], parametric_var(daily, confidence=0.99), rtol=1e-12)


def test_quickstart_shows_its_figures_as_html_without_plotly_mimetype(run: Executed) -> None:
    html = "".join(run.outputs("text/html"))
    assert not run.outputs("application/vnd.plotly.v1+json")  # nothing needs plotly's JupyterLab extension
    assert "ORCL: the last 120 daily bars" in html and "Cumulative returns" in html
    assert html.count("* plotly.js v") == 1  # plotly.js sent once for the whole notebook
