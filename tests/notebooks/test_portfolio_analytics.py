"""notebooks/03_portfolio_analytics: a ledger on real prices, its tearsheet against SPY, Fama-French regression."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bifrost.analytics import factor_regression, portfolio_tearsheet
from bifrost.data import EmbeddedStore, read_fama_french
from bifrost.portfolio import load_portfolio, mark_to_latest, value_ledger
from tests.conftest import DATA
from tests.notebooks._execute import Executed, execute

START, END = "2015-01-01", "2017-01-01"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    folder = tmp_path_factory.mktemp("portfolio")
    return execute("03_portfolio_analytics", folder, home=str(folder / "home"), symbols=["AAPL", "XOM"],
                   benchmark="SPY", start=START, end=END, deposit=100_000, sell_date="2016-06-01")  # fmt: skip


def test_portfolio_ledger_buys_whole_shares_at_the_first_close_and_sells_half(run: Executed) -> None:
    # all_stocks_5yr.csv.gz: 2015-01-02 closes AAPL 109.33, XOM 92.83; 2016-06-01 XOM 89.24
    # 45,000 each: 411 AAPL, 484 XOM; half the XOM sold: 242 left, realized 242 × (89.24 − 92.83)
    assert run.summary["quantities"] == {"AAPL": 411.0, "XOM": 242.0}
    assert run.summary["realized_pnl"] == pytest.approx(float(Decimal(242) * (Decimal("89.24") - Decimal("92.83"))))
    assert run.summary["transactions"] == 4


def test_portfolio_valuation_and_tearsheet_equal_the_library(run: Executed) -> None:
    with EmbeddedStore(run.path.parent / "home") as store:
        ledger = load_portfolio(store, "core")
        marked = mark_to_latest(ledger, store)
        stats = portfolio_tearsheet(store, "core", benchmark="SPY").stats
        returns = value_ledger(ledger, store.read_panel(["AAPL", "XOM"], START, END)).returns()
    assert run.summary["equity"] == float(marked.totals["equity"])
    assert run.summary["cash"] == pytest.approx(100_000 - 411 * 109.33 - 484 * 92.83 + 242 * 89.24)
    assert run.summary["sharpe_ratio"] == stats.loc["sharpe_ratio", "core"]
    assert run.summary["benchmark_sharpe_ratio"] == stats.loc["sharpe_ratio", "SPY"]
    assert run.summary["beta"] == stats.loc["beta", "core"]
    regression = factor_regression(returns, read_fama_french(DATA / "factors" / "F-F_Research_Data_Factors_daily.CSV"))
    assert run.summary["ff_alpha_annual"] == regression.alpha_annual
    assert run.summary["ff_betas"] == regression.betas.to_dict()
    assert run.summary["ff_n_obs"] == regression.n_obs == len(returns.dropna())  # 2015 and 2016, less the first day
    assert 0.5 < run.summary["ff_betas"]["Mkt-RF"] < 1.5 and 0 < run.summary["ff_r_squared"] < 1


def test_portfolio_notebook_shows_the_tearsheet_figures(run: Executed) -> None:
    html = "".join(run.outputs("text/html"))
    for title in ("core: equity (cash + positions at the close)", "Cumulative returns", "Monthly returns"):
        assert title in html, title
    assert not run.outputs("application/vnd.plotly.v1+json")
