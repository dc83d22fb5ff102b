"""Every job notebook of papermill_jobs/ executed by the runner with small inputs, on real files and the demo market.

Each run is a real papermill kernel (about 5 s each on these machines): three for the steps on
ORCL/NVDA/YHOO, one for a CSV file that fails validation; `tests/cli/test_root.py` runs the
whole `daily` chain on the demo market through `bifrost run`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bifrost.data import EmbeddedStore
from bifrost.jobs import RunStatus, job_history, load_jobs, run_chain, run_job
from bifrost.portfolio import load_portfolio
from bifrost.risk import book_from_store, book_risk, read_alerts
from bifrost.strategy import FillModel, backtest
from bifrost.strategy._engine import Commission
from tests.conftest import NVDA, ORCL, YHOO

GRIDS = {"sma_cross": {"fast": [5, 10], "slow": [30, 60], "size": 0.2, "size_type": "percent"}}


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[EmbeddedStore]:
    # the repository's papermill_jobs/ on a fresh embedded store (the kernels inherit it from the runner)
    for name in ("BIFROST_DATABASE_URL", "BIFROST_CONFIG", "BIFROST_JOBS_DIR", "BIFROST_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BIFROST_HOME", str(tmp_path / "home"))
    opened = EmbeddedStore(tmp_path / "home")
    try:
        yield opened
    finally:
        opened.close()


def test_jobs_toml_declares_the_six_jobs_and_daily_chains_the_others() -> None:
    jobs = load_jobs()
    steps = ("daily_ingest", "nightly_backtest", "paper_rebalance", "risk_report", "compliance_surveillance")
    assert set(jobs) == {*steps, "daily"}
    assert jobs["daily"].steps == steps
    assert jobs["daily"].schedule == "30 6 * * 1-5" and jobs["daily"].timezone == "America/New_York"
    for spec in jobs.values():
        notebook = json.loads(spec.notebook.read_text())
        tagged = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, spec.name
        assert all(c.get("outputs", []) == [] for c in notebook["cells"] if c["cell_type"] == "code"), spec.name
        assert spec.notebook.with_suffix(".py").is_file(), spec.name  # the jupytext pair


def test_step_notebooks_on_real_files_equal_the_library_on_the_same_store(store: EmbeddedStore, tmp_path: Path) -> None:
    folder = tmp_path / "bars"
    folder.mkdir()
    for path, name in ((ORCL, "orcl.txt"), (NVDA, "nvda.txt"), (YHOO, "yhoo.txt")):
        (folder / name).symlink_to(path)
    parameters = {
        "daily_ingest": {"source": "csv", "path": str(folder), "start": "2011-01-01", "end": "2015-01-01"},
        "nightly_backtest": {"grids": GRIDS, "slippage_bps": 0.0, "train_bars": 250, "test_bars": 250},
        "risk_report": {"methods": ["historical", "parametric"]},
    }
    ingest_run, nightly_run, risk_run = run_chain(
        store, ["daily_ingest", "nightly_backtest", "risk_report"], parent_run_id=None, parameters=parameters
    )
    for run in (ingest_run, nightly_run, risk_run):
        assert run.status is RunStatus.SUCCEEDED, run.error
        assert run.notebook is not None and run.notebook.is_file() and run.html is not None and run.html.is_file()

    # daily_ingest: every line of each real file dated 2011-2014 (read off the files), as the store holds it
    listing = store.list_symbols().set_index("symbol")["rows"].to_dict()
    assert (
        ingest_run.result["rows_stored"]
        == sum(listing.values())
        == sum(
            len([line for line in p.read_text().splitlines()[1:] if line[:4] in ("2011", "2012", "2013", "2014")])
            for p in (ORCL, NVDA, YHOO)
        )
    )

    # nightly_backtest: the best set's Sharpe is backtest()'s on the store's panel; its fills are the demo portfolio
    best = nightly_run.result
    panel = store.read_panel(["NVDA", "ORCL", "YHOO"], frequency="1d")
    fill = FillModel(commission=Commission(percent=0.001), slippage_bps=0.0)
    direct = backtest(panel, "sma_cross", best["best_params"], cash=1_000_000.0, fill=fill)  # type: ignore[arg-type]
    assert best["best_sharpe"] == pytest.approx(direct.metrics["sharpe_ratio"], rel=1e-9)
    stored = load_portfolio(store, "demo", store_dividends=False)
    assert len(stored.transactions) == len(direct.ledger("demo").transactions)
    assert Path(str(best["tearsheet"])).is_file()

    # risk_report: the demo portfolio's VaR is book_risk()'s; its breaches and warnings are open alerts
    measured = risk_run.result["portfolios"]["demo"]  # type: ignore[index]
    book = book_from_store(store, "demo")
    assert measured["var_historical"] == pytest.approx(book_risk(book, method="historical").var, rel=1e-12)
    assert measured["var_parametric"] == pytest.approx(book_risk(book, method="parametric").var, rel=1e-12)
    assert len(read_alerts(store, "demo", status="open")) == measured["breaches"] + measured["warnings"]
    assert Path(measured["report"]).stat().st_size > 10_000


def test_daily_ingest_notebook_on_an_invalid_csv_fails_with_the_validation_message(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    lines = ORCL.read_text().splitlines()
    lines[10] = lines[10].split(",")[0] + ",abc,1,1,1,1,100"  # line 11: an open that is not a number
    bad = tmp_path / "orcl_bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    run = run_job(store, "daily_ingest", {"source": "csv", "path": str(bad), "symbol": "ORCL"})
    assert run.status is RunStatus.FAILED
    assert run.error_name == "ValidationError"
    assert "orcl_bad.csv:11: ORCL 1995-01-16 open: non-numeric 'abc'" in (run.error or "")
    assert store.list_symbols().empty
    assert run.notebook is not None and "ValidationError" in run.notebook.read_text()  # the notebook shows it
    (shown,) = job_history(store, "daily_ingest")
    assert shown.run_id == run.run_id and shown.status is RunStatus.FAILED


def test_daily_notebook_with_a_failing_step_cancels_the_rest_and_fails_naming_it(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    from bifrost.jobs._main import run_daily

    missing = tmp_path / "bars"  # a folder without a CSV file: daily_ingest fails, the steps after it never start
    missing.mkdir()
    summary = run_daily(store, parameters={"daily_ingest": {"source": "csv", "path": str(missing)}})
    assert summary.run.status is RunStatus.FAILED
    assert summary.run.error_name == "ChainFailedError"
    assert [(s.job, s.status) for s in summary.steps] == [
        ("daily_ingest", RunStatus.FAILED),
        ("nightly_backtest", RunStatus.CANCELED),
        ("paper_rebalance", RunStatus.CANCELED),
        ("risk_report", RunStatus.CANCELED),
        ("compliance_surveillance", RunStatus.CANCELED),
    ]
    assert all(s.parent_run_id == summary.run.run_id for s in summary.steps)
    assert "no CSV files in the folder" in (summary.steps[0].error or "")
    assert "daily: daily_ingest failed (cell " in (summary.run.error or "")
    assert "not started: nightly_backtest, paper_rebalance, risk_report, compliance_surveillance" in (
        summary.run.error or ""
    )
    text = summary.text()
    assert text.startswith(f"daily {summary.run.run_id}: failed in ")
    assert "DataSourceError" in text and "best strategy" not in text
    timeline = summary.figure()  # the chain as the daily notebook draws it: a bar per step, by status
    names = [
        "daily_ingest: failed", "nightly_backtest: canceled", "paper_rebalance: canceled", "risk_report: canceled",
        "compliance_surveillance: canceled",
    ]  # fmt: skip
    assert [t.name for t in timeline.data] == names
    assert timeline.data[0].x[0] == pytest.approx(summary.steps[0].duration_s * 1000.0)
    recorded = summary.run.result["steps"]
    assert [s["status"] for s in recorded] == ["failed", "canceled", "canceled", "canceled", "canceled"]  # type: ignore[index]
