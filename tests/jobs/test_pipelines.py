"""bifrost.jobs' pipeline steps in process: the configs refuse bad parameters by name; the steps on real files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.errors import InvalidInputError, ValidationError
from bifrost.jobs._pipelines import (
    DailyIngestConfig,
    NightlyBacktestConfig,
    RiskReportConfig,
    backtest_step,
    ingest_step,
    risk_step,
    symbol_from_file_name,
    sync_demo_portfolio,
)
from bifrost.portfolio import list_portfolios, load_portfolio
from bifrost.risk import book_from_store, book_risk, read_alerts
from bifrost.strategy import FillModel, backtest
from bifrost.strategy._engine import Commission
from tests.conftest import DATA, NVDA, ORCL, YHOO


def _data_lines(path: Path) -> int:
    # bars in a Yahoo file: its lines less the header (read off the file itself)
    with path.open() as handle:
        return sum(1 for line in handle if line.strip()) - 1


# -- configs: each bad parameter is refused, named -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"source": "ftp"}, "source must be one of"),
        ({"source": "csv"}, "path is required"),
        ({"source": "csv", "path": "/nonexistent/bars.csv"}, "path '/nonexistent/bars.csv' does not exist"),
        ({"symbol": "=BAD"}, "symbol"),
        ({"symbols": ["AAPL", "-X"]}, "symbols"),
        ({"n_days": 1}, "n_days must be an integer from 2"),
        ({"n_days": "750"}, "n_days must be an integer"),
        ({"n_symbols": True}, "n_symbols must be an integer"),
        ({"seed": -1}, "seed must be an integer from 0"),
        ({"start": "2015-13-45"}, "start"),
        ({"start": "2016-01-01", "end": "2015-01-01"}, "end 2015-01-01 must be after start 2016-01-01"),
        ({"source": "yahoo", "symbols": ["AAPL"]}, "source='yahoo' needs symbols"),
        ({"on_error": "ignore"}, "on_error must be one of"),
        ({"n_symbols": 5_000, "n_days": 100_000}, "daily_ingest:"),  # the market's own bound: 10 million bars
    ],
)
def test_daily_ingest_config_bad_parameter_raises_naming_it(given: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^daily_ingest: ") as caught:
        DailyIngestConfig.from_parameters(**given)  # type: ignore[arg-type]
    assert named in str(caught.value)


def test_daily_ingest_config_defaults_are_the_demo_market() -> None:
    config = DailyIngestConfig.from_parameters(symbols="AAPL, MSFT", start="2015-01-02")
    assert (config.source, config.n_symbols, config.n_days, config.seed) == ("synthetic", 20, 750, 7)
    assert config.symbols == ("AAPL", "MSFT") and config.start is not None and config.start.tz is not None


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"grids": {"sma_crosss": {"fast": [5]}}}, "grids names strategy 'sma_crosss'"),
        ({"grids": {"sma_cross": {"fastest": [5]}}}, "fastest"),
        ({"grids": {"sma_cross": {"fast": "5.5:9:1"}}}, "fast"),
        ({"grids": {"sma_cross": 5}}, "grids['sma_cross'] must map each parameter"),
        ({"grids": "{not json"}, "grids must be a mapping or its JSON text"),
        ({"symbols": "ORCL,=X"}, "symbols"),
        ({"start": "yesterday"}, "start"),
        ({"commission": -0.1}, "commission"),
        ({"commission": "0.1"}, "commission"),
        ({"slippage_bps": 20_000.0}, "slippage_bps"),
        ({"cash": 0.0}, "cash"),
        ({"train_bars": 1}, "train_bars must be an integer from 2"),
        ({"test_bars": 2.5}, "test_bars"),
        ({"anchored": "yes"}, "anchored must be True or False"),
        ({"objective": ""}, "objective"),
        ({"objective": "alpha"}, "objective must be one of the engine's metrics"),
        ({"portfolio": 7}, "portfolio must be a name"),
    ],
)
def test_nightly_backtest_config_bad_parameter_raises_naming_it(given: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^nightly_backtest: ") as caught:
        NightlyBacktestConfig.from_parameters(**given)  # type: ignore[arg-type]
    assert named in str(caught.value)


def test_nightly_backtest_config_reads_grids_per_parameter_specs_and_json() -> None:
    by_param = NightlyBacktestConfig.from_parameters(grids={"sma_cross": {"fast": "5:15:5", "slow": [40, 80]}})
    by_spec = NightlyBacktestConfig.from_parameters(grids={"sma_cross": ["fast=5:15:5", "slow=40,80"]})
    by_json = NightlyBacktestConfig.from_parameters(grids='{"sma_cross": {"fast": "5:15:5", "slow": [40, 80]}}')
    for config in (by_param, by_spec, by_json):
        assert list(config.grids["sma_cross"]["fast"]) == [5, 10, 15]
        assert list(config.grids["sma_cross"]["slow"]) == [40, 80]
        assert "sma_cross (fast=5, 10, 15; slow=40, 80)" in config._repr_html_()  # what the notebook shows


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"methods": ["historical", "garch"]}, "methods must be one of"),
        ({"confidence": 1.5}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"horizon_days": 0}, "horizon_days must be an integer from 1"),
        ({"lookback_days": 5}, "lookback_days"),
        ({"stress_windows": "1,five"}, "stress_windows"),
        ({"stress_windows": [1, 0]}, "stress_windows"),
        ({"periods": {"GFC": ["2008-09-01"]}}, "periods['GFC'] must be [start, end]"),
        ({"periods": {"GFC": ["2009-03-09", "2008-09-01"]}}, "periods['GFC'] must be a start before an end"),
        ({"periods": "GFC=2008-13-01:2009-03-09"}, "periods[GFC] start"),
        ({"record_alerts": 1}, "record_alerts must be True or False"),
        ({"portfolios": ["ok", "tab\there"]}, "a portfolio name must be printable"),
    ],
)
def test_risk_report_config_bad_parameter_raises_naming_it(given: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^risk_report: ") as caught:
        RiskReportConfig.from_parameters(**given)  # type: ignore[arg-type]
    assert named in str(caught.value)


def test_risk_report_config_reads_the_command_lines_texts() -> None:
    config = RiskReportConfig.from_parameters(
        methods="historical,parametric", stress_windows="1,10", periods="Q1=2015-01-02:2015-04-01"
    )
    assert config.methods == ("historical", "parametric") and config.stress_windows == (1, 10)
    assert [f"{d:%Y-%m-%d}" for d in config.periods["Q1"]] == ["2015-01-02", "2015-04-01"]


# -- ingest ------------------------------------------------------------------------------------------------


def test_ingest_step_csv_file_stores_every_line_of_the_file(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "home")
    step = ingest_step(store, DailyIngestConfig.from_parameters(source="csv", path=str(ORCL), symbol="ORCL"))
    assert step.symbols == ("ORCL",)
    assert step.rows_read == _data_lines(ORCL) == step.rows_stored
    assert step.result()["rows_stored"] == _data_lines(ORCL)
    assert step.quality.symbols == 1
    (line,) = step.figure(store).data  # ORCL's adjusted close rebased to 1 at its first bar
    adjusted = store.read_panel(["ORCL"], fields=["close"], adjustment="adjusted").frame("close")["ORCL"]
    assert line.y[0] == 1.0 and line.y[-1] == pytest.approx(adjusted.iloc[-1] / adjusted.iloc[0], rel=1e-12)


def test_ingest_step_one_csv_file_without_symbol_takes_it_from_the_file_name(tmp_path: Path) -> None:
    # what `bifrost jobs run daily_ingest -p source=csv -p path=FILE` does with a one-symbol file
    gspc = DATA / "sp500_5yr" / "GSPC_2000-2017.csv"
    store = EmbeddedStore(tmp_path / "home")
    step = ingest_step(store, DailyIngestConfig.from_parameters(source="csv", path=str(gspc)))
    assert step.symbols == ("GSPC",)
    assert step.rows_stored == _data_lines(gspc) == len(store.read_bars("GSPC"))


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("orcl.csv", "ORCL"),
        ("orcl-1995-2014.txt", "ORCL"),
        ("GSPC_2000-2017.csv", "GSPC"),
        ("BRK-B.csv", "BRK-B"),
        ("^GSPC.csv.gz", "^GSPC"),
        ("nvda_daily.csv", "NVDA_DAILY"),
    ],
)
def test_symbol_from_file_name_drops_a_date_range_after_the_symbol(name: str, symbol: str) -> None:
    assert symbol_from_file_name(Path(name)) == symbol


def test_ingest_step_csv_folder_takes_each_files_symbol_from_its_name(tmp_path: Path) -> None:
    folder = tmp_path / "bars"
    folder.mkdir()
    (folder / "orcl.txt").symlink_to(ORCL)
    (folder / "nvda.txt").symlink_to(NVDA)
    (folder / "README.md").write_text("not a bar file\n")
    store = EmbeddedStore(tmp_path / "home")
    step = ingest_step(store, DailyIngestConfig.from_parameters(source="csv", path=str(folder)))
    assert sorted(step.symbols) == ["NVDA", "ORCL"]
    rows = dict(zip(step.listing["symbol"], step.listing["rows"], strict=True))
    assert rows == {"ORCL": _data_lines(ORCL), "NVDA": _data_lines(NVDA)}
    only = ingest_step(
        EmbeddedStore(tmp_path / "other"),
        DailyIngestConfig.from_parameters(source="csv", path=str(folder), symbols=["NVDA"]),
    )
    assert only.symbols == ("NVDA",) and only.rows_stored == _data_lines(NVDA)


def test_ingest_step_invalid_csv_raises_the_validation_message_and_stores_nothing(tmp_path: Path) -> None:
    lines = ORCL.read_text().splitlines()
    lines[10] = lines[10].split(",")[0] + ",abc,1,1,1,1,100"  # line 11: an open that is not a number
    bad = tmp_path / "orcl_bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    store = EmbeddedStore(tmp_path / "home")
    config = DailyIngestConfig.from_parameters(source="csv", path=str(bad), symbol="ORCL")
    with pytest.raises(ValidationError, match=r"orcl_bad\.csv:11: ORCL 1995-01-16 open: non-numeric 'abc'"):
        ingest_step(store, config)
    assert store.list_symbols().empty


def test_ingest_step_synthetic_market_stores_n_symbols_by_n_days(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "home")
    step = ingest_step(store, DailyIngestConfig.from_parameters(n_symbols=3, n_days=60, seed=1))
    assert len(step.symbols) == 3 and step.rows_stored == 180
    again = ingest_step(store, DailyIngestConfig.from_parameters(n_symbols=3, n_days=60, seed=1))
    assert again.reports[0].rows_new == 0 and again.rows_stored == 180  # re-ingesting changes nothing


# -- nightly backtest and risk on real bars ----------------------------------------------------------------


@pytest.fixture
def real_store(tmp_path: Path) -> EmbeddedStore:
    # ORCL, NVDA and YHOO 2011-2014 from backtrader's real Yahoo files
    store = EmbeddedStore(tmp_path / "home")
    for path, symbol in ((ORCL, "ORCL"), (NVDA, "NVDA"), (YHOO, "YHOO")):
        ingest(store, CsvSource(path, symbol=symbol), start="2011-01-01", end="2015-01-01")
    return store


_GRIDS = {"sma_cross": {"fast": [5, 10], "slow": [30, 60], "size": 0.2, "size_type": "percent"}}


def test_backtest_and_risk_steps_on_real_bars_equal_the_library_called_directly(
    real_store: EmbeddedStore, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    config = NightlyBacktestConfig.from_parameters(
        grids=_GRIDS, commission=0.001, slippage_bps=0.0, train_bars=250, test_bars=125, output_dir=str(out)
    )
    step = backtest_step(real_store, config)
    best = step.best
    panel = real_store.read_panel(["NVDA", "ORCL", "YHOO"], frequency="1d")
    fill = FillModel(commission=Commission(percent=0.001), slippage_bps=0.0)
    direct = backtest(panel, "sma_cross", best.params, cash=1_000_000.0, fill=fill)
    assert best.sharpe == pytest.approx(direct.metrics["sharpe_ratio"], rel=1e-12)
    assert step.result()["best_sharpe"] == pytest.approx(direct.metrics["sharpe_ratio"], rel=1e-12)
    assert best.sweep.n_sets == 4 and step.walk_forward is not None
    assert (out / "tearsheet.html").stat().st_size > 10_000
    # the demo portfolio is the best backtest's ledger; a second night with the same bars adds nothing
    assert step.portfolio is not None and step.portfolio.action == "created"
    stored = load_portfolio(real_store, "demo", store_dividends=False)
    assert [t.txn_id for t in stored.transactions] == [t.txn_id for t in direct.ledger("demo").transactions]
    again = backtest_step(real_store, config)
    assert again.portfolio is not None and again.portfolio.action == "unchanged"
    assert len(load_portfolio(real_store, "demo", store_dividends=False).transactions) == len(stored.transactions)

    risk_config = RiskReportConfig.from_parameters(methods=["historical", "parametric"], output_dir=str(out))
    risk = risk_step(real_store, risk_config)
    (measured,) = risk.portfolios
    book = book_from_store(real_store, "demo")
    for method in ("historical", "parametric"):
        assert measured.var(method) == pytest.approx(book_risk(book, method=method, confidence=0.99).var, rel=1e-12)
    assert (out / "risk_demo.html").stat().st_size > 10_000
    alerts = read_alerts(real_store, "demo", status="open")
    assert len(alerts) == measured.breaches + measured.warnings
    assert risk.result()["breaches"] == measured.breaches
    assert math.isfinite(risk.result()["portfolios"]["demo"]["var_historical"])


def test_sync_demo_portfolio_keeps_a_stored_portfolio_of_other_fills(real_store: EmbeddedStore) -> None:
    panel = real_store.read_panel(["ORCL"], frequency="1d")
    first = backtest(panel, "sma_cross", {"fast": 10, "slow": 30})
    other = backtest(panel, "sma_cross", {"fast": 5, "slow": 60})
    assert sync_demo_portfolio(real_store, first).action == "created"
    kept = sync_demo_portfolio(real_store, other)
    assert kept.action == "kept" and "delete it" in kept.detail
    assert list_portfolios(real_store)["transactions"].tolist() == [len(first.ledger("demo").transactions)]


def test_risk_step_all_portfolios_skips_one_without_positions_and_a_named_one_raises(
    real_store: EmbeddedStore,
) -> None:
    from bifrost.portfolio import create_portfolio

    create_portfolio(real_store, "empty", inception="2011-01-03")
    step = risk_step(real_store, RiskReportConfig.from_parameters(methods=["historical"], record_alerts=False))
    assert step.portfolios == () and "holds no position" in step.skipped["empty"]
    with pytest.raises(InvalidInputError, match="holds no position"):
        risk_step(real_store, RiskReportConfig.from_parameters(portfolios=["empty"], record_alerts=False))


@pytest.mark.postgres
def test_pipeline_steps_on_postgresql_equal_the_library_there(pg_url: str, pg_schema: str, tmp_path: Path) -> None:
    from bifrost.data._postgres import PostgresStore

    store = PostgresStore(pg_url, home=tmp_path / "home", schema=pg_schema, timescale=False)
    try:
        ingested = ingest_step(store, DailyIngestConfig.from_parameters(n_symbols=4, n_days=300, seed=3))
        assert ingested.rows_stored == 1200
        grids = {"momentum": {"lookback": [20, 40], "top_n": [2], "rebalance": [10]}}
        nightly = backtest_step(store, NightlyBacktestConfig.from_parameters(grids=grids, train_bars=150, test_bars=75))
        assert nightly.portfolio is not None and nightly.portfolio.action == "created"
        again = backtest_step(store, NightlyBacktestConfig.from_parameters(grids=grids, train_bars=150, test_bars=75))
        assert again.portfolio is not None and again.portfolio.action == "unchanged"
        risk = risk_step(store, RiskReportConfig.from_parameters(methods=["historical"], lookback_days=250))
        (measured,) = risk.portfolios
        book = book_from_store(store, "demo", lookback_days=250)
        assert measured.var("historical") == pytest.approx(book_risk(book, method="historical").var, rel=1e-12)
        assert len(read_alerts(store, "demo", status="open")) == measured.breaches + measured.warnings
    finally:
        store.close()
