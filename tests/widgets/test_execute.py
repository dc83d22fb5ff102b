"""Each dashboard notebook in widgets/ executes top to bottom (nbclient) on a small real store, and
the widgets it leaves hold the library's numbers for that store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from bifrost.data import EmbeddedStore
from bifrost.jobs import load_jobs
from bifrost.portfolio import load_portfolio, mark_to_latest
from bifrost.risk import book_from_store, book_risk
from tests.conftest import ROOT
from tests.ui.conftest import fill_store

WIDGETS = ROOT / "widgets"
PAGES = ("portfolio_monitor", "order_ticket", "risk_monitor", "backtest_explorer", "job_monitor", "data_explorer")
_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("widgets") / "home"
    fill_store(folder).close()
    return folder


def _execute(name: str, home: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(WIDGETS / f"{name}.ipynb", as_version=4)
    env = {k: v for k, v in os.environ.items() if k not in ("BIFROST_DATABASE_URL", "BIFROST_CONFIG")}
    env["BIFROST_HOME"] = str(home)
    client = NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(WIDGETS)}})
    client.execute(env=env)
    return nb


def _states(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    saved = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return [m["state"] for m in saved.values()]


def _with_class(nb: nbformat.NotebookNode, css: str) -> list[dict[str, Any]]:
    return [s for s in _states(nb) if css in s.get("_dom_classes", ())]


def _html(nb: nbformat.NotebookNode, css: str) -> str:
    (state,) = _with_class(nb, css)
    return str(state["value"])


@pytest.mark.parametrize("name", PAGES)
def test_widgets_notebook_is_three_cells_without_outputs(name: str) -> None:
    nb = nbformat.read(WIDGETS / f"{name}.ipynb", as_version=4)
    assert [c.cell_type for c in nb.cells] == ["code"] * 3
    assert all(not c.get("outputs") for c in nb.cells)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert (WIDGETS / f"{name}.py").is_file()


@pytest.fixture(scope="module")
def executed(home: Path) -> dict[str, nbformat.NotebookNode]:
    return {name: _execute(name, home) for name in PAGES}


@pytest.mark.parametrize("name", PAGES)
def test_widgets_notebook_executes_and_shows_one_page_without_error(
    executed: dict[str, nbformat.NotebookNode], name: str
) -> None:
    nb = executed[name]
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"] == []
    (page,) = [o for o in outputs if _VIEW in o.get("data", {})]
    root = [s for s in _states(nb) if f"bf-page-{name}" in s.get("_dom_classes", ())]
    assert len(root) == 1 and "bf-page" in root[0]["_dom_classes"]
    assert page.data[_VIEW]["model_id"]
    assert _with_class(nb, "bf-error-shown") == []  # no component failed to draw


def test_widgets_portfolio_monitor_shows_the_library_positions_and_equity(
    executed: dict[str, nbformat.NotebookNode], home: Path
) -> None:
    with EmbeddedStore(home) as store:
        marked = mark_to_latest(load_portfolio(store, "desk"), store)
    positions = _html(executed["portfolio_monitor"], "bf-positions")
    totals = _html(executed["portfolio_monitor"], "bf-totals")
    for row in marked.positions.itertuples():
        assert f"data-key='{row.symbol}'" in positions
        assert f"data-col='market_value' data-value='{float(row.market_value)!r}'" in positions
    assert f"data-value='{float(marked.totals['equity'])!r}'" in totals


def test_widgets_risk_monitor_shows_the_library_var_by_method(
    executed: dict[str, nbformat.NotebookNode], home: Path
) -> None:
    with EmbeddedStore(home) as store:
        book = book_from_store(store, "desk")
        var = {m: book_risk(book, method=m).var for m in ("historical", "parametric", "filtered_historical")}
    table = _html(executed["risk_monitor"], "bf-var-table")
    for method, value in var.items():
        assert f"data-key='{method}'" in table
        assert f"data-col='var' data-value='{value!r}'" in table
    assert "bf-limit" in _html(executed["risk_monitor"], "bf-limits")


def test_widgets_backtest_explorer_form_starts_on_the_first_stored_symbol(
    executed: dict[str, nbformat.NotebookNode], home: Path
) -> None:
    (symbols,) = _with_class(executed["backtest_explorer"], "bf-symbols")
    with EmbeddedStore(home) as store:
        assert symbols["value"] == str(store.list_symbols()["symbol"].iloc[0])
    (strategy,) = _with_class(executed["backtest_explorer"], "bf-strategy")
    assert strategy["_options_labels"][strategy["index"]] == "sma_cross"


def test_widgets_job_monitor_lists_the_declared_jobs_and_no_runs(executed: dict[str, nbformat.NotebookNode]) -> None:
    (picker,) = _with_class(executed["job_monitor"], "bf-job-picker")
    assert list(picker["_options_labels"]) == sorted(load_jobs())
    assert "no runs yet" in _html(executed["job_monitor"], "bf-runs")


def test_widgets_data_explorer_shows_each_symbols_coverage(
    executed: dict[str, nbformat.NotebookNode], home: Path
) -> None:
    with EmbeddedStore(home) as store:
        listed = store.list_symbols()
    coverage = _html(executed["data_explorer"], "bf-coverage")
    for symbol, rows in zip(listed["symbol"], listed["rows"], strict=True):
        assert f"data-key='{symbol}'" in coverage
        assert f"data-col='rows' data-value='{float(rows)!r}'" in coverage
