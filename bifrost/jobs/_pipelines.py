"""The daily pipeline's steps: a job notebook's parameters → a frozen config → one library call.

Each job notebook in ``papermill_jobs/`` has a ``parameters`` cell of plain literals; the next
cell builds its config here (``DailyIngestConfig.from_parameters(...)``), which checks every
parameter once and names the one that is wrong (an `InvalidInputError`), and every later cell
calls a step below and shows what it returns:

- `ingest_step`: bars from the synthetic demo market, a CSV file or folder (any layout
  ``bifrost data ingest csv`` reads: the same `CsvSource`) or Yahoo, then `check_quality`;
- `backtest_step`: for each configured strategy a sweep of its grid on every symbol, the
  best set backtested on the universe as one portfolio; the best strategy's walk-forward
  and tearsheet; `sync_demo_portfolio` stores the best backtest's ledger as a portfolio so
  that risk measures something real;
- `risk_step`: for each stored portfolio VaR/ES by method, stress, its limits checked
  (alerts recorded as episodes) and the HTML risk report;
- `chain_summary` / `DailySummary`: what the ``daily`` job and ``bifrost run`` show.

The demo portfolio is **replaced by appending, never duplicated**: the portfolio package keeps
an append-only ledger, so a daily run whose backtest repeats yesterday's fills records nothing
(``unchanged``), one that extends them (more bars) appends the new fills (``extended``), and
one whose fills differ from what is stored (another strategy won) keeps the stored portfolio
and says so (``kept``) rather than rewriting history.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar, get_args

import numpy as np
import pandas as pd

from bifrost._checks import as_choice, as_finite_float, as_positive_int, as_utc_timestamp, check_symbol, quote
from bifrost._files import read_header
from bifrost._typing import FloatArray
from bifrost.data import (
    BarStore,
    CsvSource,
    IngestReport,
    OnError,
    Panel,
    QualityReport,
    Store,
    SyntheticMarket,
    YahooSource,
    check_quality,
    ingest,
)
from bifrost.errors import BifrostError, ChainFailedError, DataSourceError, InvalidInputError
from bifrost.execution import Order, OrderStatus, Side, check_client_order_id
from bifrost.jobs._history import RunRecord, job_history
from bifrost.portfolio import CashFlow, CashKind, list_portfolios, load_portfolio, record_transactions
from bifrost.risk import (
    DEFAULT_LOOKBACK_DAYS,
    MAX_HORIZON_DAYS,
    MAX_LOOKBACK_DAYS,
    MIN_LOOKBACK_DAYS,
    LimitReport,
    Method,
    RiskReport,
    book_from_store,
    check_limits,
    risk_report,
    store_sectors,
)
from bifrost.strategy import (
    STRATEGIES,
    BacktestResult,
    Commission,
    FillModel,
    SweepResult,
    WalkForwardResult,
    backtest,
    parse_grid,
    parse_params,
    sweep,
    walk_forward,
)

__all__ = [
    "DEMO_PORTFOLIO",
    "PAPER_PORTFOLIO",
    "BacktestStep",
    "ChainFailedError",
    "DailyIngestConfig",
    "DailySummary",
    "IngestSourceName",
    "IngestStep",
    "NightlyBacktestConfig",
    "PaperRebalanceConfig",
    "PortfolioRisk",
    "PortfolioSync",
    "RebalanceStep",
    "RiskReportConfig",
    "RiskStep",
    "StrategyRun",
    "backtest_step",
    "chain_summary",
    "daily_summary",
    "ingest_step",
    "rebalance_step",
    "risk_step",
    "sync_demo_portfolio",
    "target_weights",
]

DEMO_PORTFOLIO = "demo"
PAPER_PORTFOLIO = "paper"  # the portfolio paper_rebalance trades by default
IngestSourceName = Literal["synthetic", "csv", "yahoo"]
_SOURCES: tuple[IngestSourceName, ...] = get_args(IngestSourceName)
_ON_ERROR: tuple[OnError, ...] = get_args(OnError)
_METHODS: tuple[Method, ...] = get_args(Method)
_P = ParamSpec("_P")
_T = TypeVar("_T")
_CSV_SUFFIXES = (".csv", ".txt", ".gz", ".bz2", ".xz", ".zip")


# -- parameter checks: each names the job and the parameter -------------------------------------------------


def _named(job: str, check: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    # the library's checks already name the parameter they were given; the job is added in front
    try:
        return check(*args, **kwargs)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{job}: {exc}") from None


def _texts(job: str, value: object, name: str) -> tuple[str, ...]:
    # a list of names from a parameter: "A,B" (the command line's -p) or a list of strings
    if value is None:
        return ()
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        return tuple(p for p in parts if p)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise InvalidInputError(f"{job}: {name} must be names separated by commas or a list of them, got {quote(value)}")


def _date(job: str, value: object, name: str) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{job}: {name} must be a date such as 2016-01-04, got {quote(value)}")
    return _named(job, as_utc_timestamp, value, name)


def _int(job: str, value: object, name: str, *, minimum: int = 1, maximum: int, unit: str = "") -> int:
    return _named(job, as_positive_int, value, name, minimum=minimum, maximum=maximum, unit=unit)


def _float(job: str, value: object, name: str, *, minimum: float, maximum: float) -> float:
    if isinstance(value, bool):
        raise InvalidInputError(f"{job}: {name} must be a number, got {quote(value)}")
    return _named(job, as_finite_float, value, name, minimum=minimum, maximum=maximum)


def _bool(job: str, value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{job}: {name} must be True or False, got {quote(value)}")
    return value


def _output_dir(job: str, value: object) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | Path):
        raise InvalidInputError(f"{job}: output_dir must be a folder's path, got {quote(value)}")
    return Path(value)


def _config_html(config: Any) -> str:
    # a config in a notebook: one row per field, what the job will do at a glance
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(f.name)}</th><td style='text-align:left'>"
        f"{html.escape(_shown(getattr(config, f.name)))}</td></tr>"
        for f in fields(config)
    )
    return f"<b>{type(config).__name__}</b><table>{rows}</table>"


def _shown(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, Mapping) and value and all(isinstance(v, Mapping) for v in value.values()):  # grids
        shown = (f"{k} ({'; '.join(f'{p}={_shown(v)}' for p, v in grid.items())})" for k, grid in value.items())
        return " | ".join(shown)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_shown(v)}" for k, v in value.items()) or "-"
    if isinstance(value, tuple | list | range):
        return ", ".join(_shown(v) for v in value) or "-"
    return "-" if value is None else str(value)


# -- daily_ingest --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyIngestConfig:
    """What ``daily_ingest`` loads: the demo market, a CSV file or folder, or Yahoo symbols.

    Attributes
    ----------
    source
        ``synthetic`` (the seeded demo market of ``n_symbols`` × ``n_days``), ``csv``
        (``path``: one file, or a folder whose CSV files are each ingested) or ``yahoo``
        (``symbols`` from ``start``).
    path
        The CSV file or folder (``source="csv"`` only).
    symbol
        The symbol of a one-symbol CSV file. Without it, a file without a symbol column (one
        file, or each of a folder's) is taken to be named after its symbol: its name's stem in
        upper case, less a date range written after it (``orcl.csv``, ``orcl-1995-2014.txt`` →
        ``ORCL``; ``GSPC_2000-2017.csv`` → ``GSPC``).
    symbols
        Yahoo: the symbols to download; CSV: only these rows of a long file.
    start, end
        Yahoo's range (``start`` required) or a cut of a CSV file, half-open; a synthetic
        market starts on ``start`` (default 2015-01-02).
    on_error
        ``strict`` (a bad row refuses the whole load) or ``repair`` (quarantine it).
    """

    source: IngestSourceName = "synthetic"
    path: Path | None = None
    symbol: str | None = None
    symbols: tuple[str, ...] = ()
    n_symbols: int = 20
    n_days: int = 750
    seed: int = 7
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    on_error: OnError = "strict"

    @classmethod
    def from_parameters(
        cls,
        *,
        source: object = "synthetic",
        path: object = None,
        symbol: object = None,
        symbols: object = None,
        n_symbols: object = 20,
        n_days: object = 750,
        seed: object = 7,
        start: object = None,
        end: object = None,
        on_error: object = "strict",
    ) -> DailyIngestConfig:
        """Build the config from a notebook's parameters, checking each once.

        Raises
        ------
        InvalidInputError
            Naming the parameter: an unknown source, a csv source without ``path`` (or a
            path that does not exist), a yahoo source without ``symbols`` or ``start``, a
            bad symbol, size, seed or date, an unknown ``on_error``.
        """
        job = "daily_ingest"
        chosen = _named(job, as_choice, source, "source", _SOURCES)
        where = None
        if path is not None and path != "":
            if not isinstance(path, str | Path):
                raise InvalidInputError(f"{job}: path must be a file or folder path, got {quote(path)}")
            where = Path(path).expanduser()
        if chosen == "csv":
            if where is None:
                raise InvalidInputError(f"{job}: path is required with source='csv' (a CSV file or a folder of them)")
            if not where.exists():
                raise InvalidInputError(f"{job}: path {quote(str(where))} does not exist")
        one = None if symbol is None or symbol == "" else _named(job, check_symbol, symbol, "symbol")
        names = _texts(job, symbols, "symbols")
        for name in names:
            _named(job, check_symbol, name, "symbols")
        first, last = _date(job, start, "start"), _date(job, end, "end")
        if first is not None and last is not None and last <= first:
            raise InvalidInputError(f"{job}: end {last:%Y-%m-%d} must be after start {first:%Y-%m-%d}")
        if chosen == "yahoo" and (not names or first is None):
            raise InvalidInputError(f"{job}: source='yahoo' needs symbols (e.g. 'AAPL,MSFT') and start (a date)")
        config = cls(
            source=chosen,
            path=where,
            symbol=one,
            symbols=names,
            n_symbols=_int(job, n_symbols, "n_symbols", maximum=5_000),
            n_days=_int(job, n_days, "n_days", minimum=2, maximum=100_000, unit="trading days"),
            seed=_int(job, seed, "seed", minimum=0, maximum=2**63 - 1),
            start=first,
            end=last,
            on_error=_named(job, as_choice, on_error, "on_error", _ON_ERROR),
        )
        if chosen == "synthetic":  # the market checks its own size (at most 10 million bars)
            _named(job, config._market)
        return config

    def _repr_html_(self) -> str:
        return _config_html(self)

    def _market(self) -> SyntheticMarket:
        start = "2015-01-02" if self.start is None else f"{self.start:%Y-%m-%d}"
        return SyntheticMarket(n_symbols=self.n_symbols, n_days=self.n_days, seed=self.seed, start=start)


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestStep:
    """What ``daily_ingest`` loaded and what the quality checks found."""

    config: DailyIngestConfig
    reports: tuple[IngestReport, ...]
    listing: pd.DataFrame  # the store's rows for the symbols loaded (`BarStore.list_symbols`)
    quality: QualityReport

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols loaded, in order."""
        return tuple(dict.fromkeys(s for r in self.reports for s in r.symbols))

    @property
    def rows_read(self) -> int:
        """Rows read from the source (every file)."""
        return sum(r.rows_read for r in self.reports)

    @property
    def rows_stored(self) -> int:
        """Bars the store now holds for the symbols loaded."""
        return int(self.listing["rows"].sum()) if len(self.listing) else 0

    def result(self) -> dict[str, Any]:
        """Return the headline numbers a run records (`bifrost.jobs.record_result`)."""
        return {
            "source": self.config.source,
            "origin": [r.origin for r in self.reports],
            "symbols": len(self.symbols),
            "rows_read": self.rows_read,
            "rows_new": sum(r.rows_new for r in self.reports),
            "rows_quarantined": sum(r.rows_quarantined for r in self.reports),
            "rows_stored": self.rows_stored,
            "findings": self.quality.counts(),
        }

    def summary(self) -> str:
        """Return two lines: what was ingested, and the quality findings."""
        return "\n".join([*(r.summary() for r in self.reports), f"quality: {self.quality.summary()}"])

    def __repr__(self) -> str:
        return (
            f"IngestStep({self.config.source}: {len(self.symbols)} symbol(s), {self.rows_read} rows read, "
            f"{self.rows_stored} stored; quality: {self.quality.summary()})"
        )

    def figure(self, store: BarStore, *, max_symbols: int = 10) -> Any:
        """Return the loaded symbols' total-return closes, each rebased to 1 at its first bar (a static plotly figure).

        At most ``max_symbols`` (the first loaded) are drawn, read back from ``store`` (``adjusted``).
        """
        from bifrost.figures import NotebookFigure

        shown = list(self.symbols[: as_positive_int(max_symbols, "max_symbols", maximum=100)])
        fig = NotebookFigure()
        if shown:
            close = store.read_panel(shown, fields=["close"], adjustment="adjusted").frame("close")
            for symbol in shown:
                series = close[symbol].dropna()
                if len(series):
                    fig.add_scatter(x=series.index, y=series / series.iloc[0], mode="lines", name=symbol)
        more = f" (first {len(shown)} of {len(self.symbols)})" if len(self.symbols) > len(shown) else ""
        return fig.update_layout(
            title=f"Total-return close, rebased to 1{more}", xaxis_title="date", yaxis_title="growth of 1", height=420
        )

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(r.summary())}</li>" for r in self.reports)
        return (
            f"<b>Ingest</b> ({self.config.source})<ul>{items}</ul><b>Quality</b>: {html.escape(self.quality.summary())}"
        )


def _csv_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(_CSV_SUFFIXES))
    if not files:
        raise DataSourceError(f"{folder}: no CSV files in the folder (looked for {', '.join(_CSV_SUFFIXES)})")
    return files


# a file's name after its symbol: the stem, less a date range written after it (GSPC_2000-2017, orcl-1995-2014)
_NAMED_RANGE = re.compile(r"([A-Za-z^.]+)[-_]\d.*")


def symbol_from_file_name(path: Path) -> str:
    """Return the symbol a one-symbol bar file is named after: ``orcl.csv``, ``orcl-1995-2014.txt`` → ``ORCL``."""
    stem = path.name.split(".")[0]
    named = _NAMED_RANGE.fullmatch(stem)
    return check_symbol((named[1] if named else stem).upper(), f"symbol of {path.name}")


def _csv_source(path: Path, symbol: str | None) -> CsvSource:
    if symbol is not None:
        return CsvSource(path, symbol=symbol)
    # a one-symbol file (no Name/symbol/ticker column) is named after its symbol
    header = read_header(path, what="a bar file", example="Date,Open,High,Low,Close,Volume")
    if {c.strip().strip('"').lower() for c in header.split(",")} & {"name", "symbol", "ticker"}:
        return CsvSource(path)
    return CsvSource(path, symbol=symbol_from_file_name(path))


def ingest_step(store: BarStore, config: DailyIngestConfig) -> IngestStep:
    """Ingest the configured source into ``store`` and check the quality of what it loaded.

    CSV files go through the same `CsvSource` as ``bifrost data ingest csv``, so a file
    that cannot be read or fails validation raises the library's error (`DataSourceError`,
    `SchemaError`, `ValidationError`) with its message naming the file, line and field.
    A folder's files are ingested one after the other, in name order, each validated whole
    and stored or refused on its own: a bad file stops the step, the files before it stay
    stored (ingesting them again changes nothing). With ``symbols``, a folder's one-symbol
    files of other symbols are left out.
    """
    reports: list[IngestReport] = []
    symbols = list(config.symbols) or None
    if config.source == "synthetic":
        reports.append(ingest(store, config._market(), on_error=config.on_error))
    elif config.source == "yahoo":
        reports.append(ingest(store, YahooSource(), symbols, config.start, config.end, on_error=config.on_error))
    else:
        if config.path is None:  # from_parameters requires it; a config built by hand may lack it
            raise InvalidInputError("daily_ingest: path is required with source='csv' (a CSV file or a folder of them)")
        folder = config.path.is_dir()
        for path in _csv_files(config.path) if folder else [config.path]:
            source = _csv_source(path, config.symbol)
            wanted = symbols
            if folder and source.symbol is not None and symbols is not None:
                if source.symbol not in symbols:
                    continue  # a folder's one-symbol file of a symbol not asked for
                wanted = None
            reports.append(ingest(store, source, wanted, config.start, config.end, on_error=config.on_error))
    loaded = list(dict.fromkeys(s for r in reports for s in r.symbols))
    listing = store.list_symbols()
    listing = listing[listing["symbol"].isin(loaded)].reset_index(drop=True)
    quality = check_quality(store, loaded) if loaded else check_quality(store, [])
    return IngestStep(config=config, reports=tuple(reports), listing=listing, quality=quality)


# -- nightly_backtest ----------------------------------------------------------------------------------------

_DEFAULT_GRIDS: Mapping[str, tuple[str, ...]] = {
    "sma_cross": ("fast=5:20:5", "slow=40:100:20", "size=0.1", "size_type=percent"),
    "momentum": ("lookback=60,120", "top_n=3,5"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class NightlyBacktestConfig:
    """What ``nightly_backtest`` runs.

    Attributes
    ----------
    grids
        Strategy name → its sweep's grid, parsed by `bifrost.strategy.parse_grid`
        (``fast=5:20:5`` a range, stop included; ``slow=40,80`` a list; one value: fixed).
    symbols
        The universe (default: every daily symbol in the store).
    start, end
        The bars read, half-open (default: all).
    commission, slippage_bps
        Costs: a fraction of each fill's value, and basis points of slippage.
    cash
        The starting cash of every backtest.
    train_bars, test_bars, anchored
        The best strategy's walk-forward folds.
    objective
        The metric that ranks parameter sets and strategies (``sharpe_ratio``).
    portfolio
        The portfolio the best backtest's fills are stored as (`sync_demo_portfolio`);
        empty: none.
    """

    grids: Mapping[str, Mapping[str, Sequence[Any]]]
    symbols: tuple[str, ...] = ()
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    commission: float = 0.001
    slippage_bps: float = 2.0
    cash: float = 1_000_000.0
    train_bars: int = 250
    test_bars: int = 125
    anchored: bool = False
    objective: str = "sharpe_ratio"
    portfolio: str = DEMO_PORTFOLIO
    output_dir: Path | None = None

    @classmethod
    def from_parameters(
        cls,
        *,
        grids: object = None,
        symbols: object = None,
        start: object = None,
        end: object = None,
        commission: object = 0.001,
        slippage_bps: object = 2.0,
        cash: object = 1_000_000.0,
        train_bars: object = 250,
        test_bars: object = 125,
        anchored: object = False,
        objective: object = "sharpe_ratio",
        portfolio: object = DEMO_PORTFOLIO,
        output_dir: object = None,
    ) -> NightlyBacktestConfig:
        """Build the config from a notebook's parameters, checking each once.

        ``grids`` maps each strategy to its parameters' values, ``{"sma_cross": {"fast":
        "5:20:5", "slow": [40, 80], "size": 0.1}}`` (a range text, a list, or one value), or
        to spec texts ``["fast=5:20:5", "slow=40,80"]``; JSON text of either is read too (the
        command line's ``-p grids=...``). None: the default grids of ``sma_cross`` and
        ``momentum``.

        Raises
        ------
        InvalidInputError
            Naming the parameter: an unknown strategy, a grid spec the strategy refuses
            (naming its parameter), a bad symbol, date, cost, cash or fold size.
        """
        job = "nightly_backtest"
        specs = _grid_specs(job, grids)
        parsed: dict[str, Mapping[str, Sequence[Any]]] = {}
        for name, texts in specs.items():
            if name not in STRATEGIES:
                raise InvalidInputError(f"{job}: grids names strategy {quote(name)}; known: {', '.join(STRATEGIES)}")
            parsed[name] = _named(job, parse_grid, name, list(texts))
        names = _texts(job, symbols, "symbols")
        for name in names:
            _named(job, check_symbol, name, "symbols")
        first, last = _date(job, start, "start"), _date(job, end, "end")
        if first is not None and last is not None and last <= first:
            raise InvalidInputError(f"{job}: end {last:%Y-%m-%d} must be after start {first:%Y-%m-%d}")
        fee = _float(job, commission, "commission", minimum=0.0, maximum=1.0)
        slip = _float(job, slippage_bps, "slippage_bps", minimum=0.0, maximum=10_000.0)
        _named(job, FillModel, commission=Commission(percent=fee), slippage_bps=slip)
        from bifrost.strategy._kernel import METRICS  # the engine's metrics, which a sweep ranks by

        if not isinstance(objective, str) or objective not in METRICS:
            raise InvalidInputError(
                f"{job}: objective must be one of the engine's metrics {', '.join(METRICS)}, got {quote(objective)}"
            )
        if not isinstance(portfolio, str):
            raise InvalidInputError(f"{job}: portfolio must be a name (empty: store none), got {quote(portfolio)}")
        if portfolio:
            from bifrost.portfolio._ledger import check_portfolio_name

            _named(job, check_portfolio_name, portfolio)
        return cls(
            grids=parsed,
            symbols=names,
            start=first,
            end=last,
            commission=fee,
            slippage_bps=slip,
            cash=_float(job, cash, "cash", minimum=1.0, maximum=1e15),
            train_bars=_int(job, train_bars, "train_bars", minimum=2, maximum=100_000, unit="bars"),
            test_bars=_int(job, test_bars, "test_bars", minimum=2, maximum=100_000, unit="bars"),
            anchored=_bool(job, anchored, "anchored"),
            objective=objective,
            portfolio=portfolio,
            output_dir=_output_dir(job, output_dir),
        )

    def _repr_html_(self) -> str:
        return _config_html(self)

    @property
    def fill(self) -> FillModel:
        """The costs every backtest pays."""
        return FillModel(commission=Commission(percent=self.commission), slippage_bps=self.slippage_bps)


def _grid_specs(job: str, grids: object) -> dict[str, tuple[str, ...]]:
    if grids is None or grids == "":
        return dict(_DEFAULT_GRIDS)
    if isinstance(grids, str):
        try:
            grids = json.loads(grids)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{job}: grids must be a mapping or its JSON text ({exc.msg})") from None
    if not isinstance(grids, Mapping) or not grids:
        raise InvalidInputError(f"{job}: grids must map each strategy to its grid specs, got {quote(grids)}")
    out: dict[str, tuple[str, ...]] = {}
    for name, specs in grids.items():
        if isinstance(specs, Mapping):  # {"fast": "5:20:5", "slow": [40, 80], "size": 0.1}: a spec per parameter
            specs = [f"{k}={_grid_text(v)}" for k, v in specs.items()]
        elif isinstance(specs, str):
            specs = [specs]
        if not isinstance(specs, list | tuple) or not specs or not all(isinstance(s, str) for s in specs):
            raise InvalidInputError(
                f"{job}: grids[{quote(name)}] must map each parameter to its values "
                "({'fast': '5:20:5', 'slow': [40, 80]}) or list specs such as 'fast=5:20:5'"
            )
        out[str(name)] = tuple(specs)
    return out


def _grid_text(value: object) -> str:
    # a parameter's values as parse_grid reads them: a range text, a list, or one value
    if isinstance(value, list | tuple):
        return ",".join(_grid_text(v) for v in value)
    return str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyRun:
    """One strategy's sweep and the backtest of its best parameter set on the whole universe."""

    strategy: str
    sweep: SweepResult
    params: Mapping[str, Any]
    result: BacktestResult

    @property
    def sharpe(self) -> float:
        """The best backtest's Sharpe ratio."""
        return float(self.result.metrics.get("sharpe_ratio", math.nan))

    def heatmap(self) -> Any | None:
        """The sweep's heatmap over its first two swept parameters (None with fewer)."""
        swept = [p for p in self.sweep.params if self.sweep.frame[p].nunique() > 1]
        if len(swept) < 2:
            return None
        return self.sweep.heatmap(swept[0], swept[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioSync:
    """What `sync_demo_portfolio` did: ``created``, ``extended``, ``unchanged`` or ``kept``."""

    name: str
    action: Literal["created", "extended", "unchanged", "kept"]
    transactions: int  # recorded now in the stored portfolio
    added: int
    detail: str = ""

    def summary(self) -> str:
        """Return one line."""
        tail = f": {self.detail}" if self.detail else ""
        return f"portfolio {self.name}: {self.action}, {self.transactions} transactions (+{self.added}){tail}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestStep:
    """What ``nightly_backtest`` found: every strategy's run, the best, its walk-forward."""

    config: NightlyBacktestConfig
    symbols: tuple[str, ...]
    runs: tuple[StrategyRun, ...]
    walk_forward: WalkForwardResult | None
    tearsheet_path: Path | None = None
    portfolio: PortfolioSync | None = None
    notes: tuple[str, ...] = ()

    @property
    def best(self) -> StrategyRun:
        """The run whose best backtest has the highest Sharpe ratio (NaN last)."""
        return max(self.runs, key=lambda r: -math.inf if math.isnan(r.sharpe) else r.sharpe)

    def __repr__(self) -> str:
        best = self.best
        return (
            f"BacktestStep({len(self.runs)} strategies on {len(self.symbols)} symbols; best {best.strategy} "
            f"{dict(best.params)}, Sharpe {best.sharpe:.3f})"
        )

    def table(self) -> pd.DataFrame:
        """One row per strategy: its best parameters and that backtest's headline metrics."""
        rows = []
        for run in self.runs:
            m = run.result.metrics
            rows.append(
                {
                    "strategy": run.strategy,
                    "params": ", ".join(f"{k}={v}" for k, v in run.params.items()),
                    "sets": run.sweep.n_sets,
                    "sharpe_ratio": run.sharpe,
                    "total_return": float(m.get("total_return", math.nan)),
                    "max_drawdown": float(m.get("max_drawdown", math.nan)),
                    "trades": run.result.n_trades,
                    "final_value": run.result.final_value,
                }
            )
        return pd.DataFrame(rows).set_index("strategy")

    def result(self) -> dict[str, Any]:
        """Return the headline numbers a run records (`bifrost.jobs.record_result`)."""
        best = self.best
        return {
            "best_strategy": best.strategy,
            "best_params": {k: _plain(v) for k, v in best.params.items()},
            "best_sharpe": _finite(best.sharpe),
            "best_final_value": _finite(best.result.final_value),
            "symbols": len(self.symbols),
            "strategies": {r.strategy: _finite(r.sharpe) for r in self.runs},
            "walk_forward_return": None if self.walk_forward is None else _finite(self.walk_forward.total_return),
            "tearsheet": None if self.tearsheet_path is None else str(self.tearsheet_path),
            "portfolio": None if self.portfolio is None else self.portfolio.name,
            "portfolio_action": None if self.portfolio is None else self.portfolio.action,
        }


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _daily_symbols(store: BarStore, wanted: tuple[str, ...], *, job: str = "nightly_backtest") -> list[str]:
    listing = store.list_symbols()
    if "frequency" in listing:
        listing = listing[listing["frequency"] == "1d"]
    have = list(listing["symbol"])
    if not wanted:
        if not have:
            raise InvalidInputError(f"{job}: the store has no daily bars; run daily_ingest first")
        return have
    missing = [s for s in wanted if s not in have]
    if missing:
        raise InvalidInputError(f"{job}: symbols {', '.join(missing[:5])} have no daily bars in the store")
    return list(wanted)


def backtest_step(store: BarStore, config: NightlyBacktestConfig) -> BacktestStep:
    """Sweep each strategy's grid, backtest its best set on the universe, walk the best forward.

    Every sweep runs each parameter set on each symbol on its own (`bifrost.strategy.sweep`,
    ranked by the mean objective across symbols); the best set is then backtested on the
    whole universe as one portfolio with shared cash, and the strategy with the best
    Sharpe ratio is walked forward (`bifrost.strategy.walk_forward`) over the same grid
    and its tearsheet written to ``output_dir/tearsheet.html``. With ``portfolio`` set,
    the best backtest's ledger is stored (`sync_demo_portfolio`).
    """
    symbols = _daily_symbols(store, config.symbols)
    panel = store.read_panel(symbols, config.start, config.end, adjustment="split_adjusted", frequency="1d")
    fill = config.fill
    runs: list[StrategyRun] = []
    for name, grid in config.grids.items():
        swept = sweep(panel, name, grid, cash=config.cash, fill=fill, objective=config.objective)
        params = swept.best()
        result = backtest(panel, name, params, cash=config.cash, fill=fill)
        runs.append(StrategyRun(strategy=name, sweep=swept, params=params, result=result))
    step = BacktestStep(config=config, symbols=tuple(symbols), runs=tuple(runs), walk_forward=None)
    best = step.best
    notes: list[str] = []
    wf = None
    if config.train_bars + config.test_bars <= panel.shape[0]:
        wf = walk_forward(
            panel, best.strategy, config.grids[best.strategy], train_bars=config.train_bars,
            test_bars=config.test_bars, anchored=config.anchored, objective=config.objective, cash=config.cash,
            fill=fill,
        )  # fmt: skip
    else:
        notes.append(
            f"walk-forward skipped: {panel.shape[0]} bars, fewer than train_bars + test_bars "
            f"({config.train_bars} + {config.test_bars})"
        )
    path = None
    if config.output_dir is not None:
        config.output_dir.mkdir(parents=True, exist_ok=True)
        path = config.output_dir / "tearsheet.html"
        best.result.tearsheet().to_html(path)
    synced = sync_demo_portfolio(store, best.result, name=config.portfolio) if config.portfolio else None
    return BacktestStep(
        config=config, symbols=tuple(symbols), runs=tuple(runs), walk_forward=wf, tearsheet_path=path,
        portfolio=synced, notes=tuple(notes),
    )  # fmt: skip


def sync_demo_portfolio(store: Store, result: BacktestResult, *, name: str = DEMO_PORTFOLIO) -> PortfolioSync:
    """Store ``result``'s ledger as portfolio ``name``, idempotently across daily runs.

    A new name is created with every transaction; a stored portfolio whose transactions
    are the first ones of the ledger (same ids, in order) gains the rest (``extended``, or
    ``unchanged`` when there is none); one that differs (another strategy, other fills)
    is ``kept`` as it is: a ledger is append-only, and history is not rewritten.
    """
    ledger = result.ledger(name)
    wanted = list(ledger.transactions)
    stored = list_portfolios(store)
    if name not in set(stored["name"]):
        record_transactions(store, name, wanted, create=True, long_only=ledger.long_only)
        return PortfolioSync(name=name, action="created", transactions=len(wanted), added=len(wanted))
    have = load_portfolio(store, name, store_dividends=False).transactions
    ids = [t.txn_id for t in have]
    if ids != [t.txn_id for t in wanted[: len(ids)]]:
        return PortfolioSync(
            name=name, action="kept", transactions=len(ids), added=0,
            detail="its stored transactions are not this backtest's; delete it to rebuild it from today's best",
        )  # fmt: skip
    new = wanted[len(ids) :]
    if not new:
        return PortfolioSync(name=name, action="unchanged", transactions=len(ids), added=0)
    record_transactions(store, name, new)
    return PortfolioSync(name=name, action="extended", transactions=len(wanted), added=len(new))


# -- risk_report -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskReportConfig:
    """What ``risk_report`` measures.

    Attributes
    ----------
    portfolios
        The stored portfolios to measure (empty: every stored portfolio that holds a
        position).
    methods
        VaR/ES methods (`bifrost.risk.Method`).
    confidence, horizon_days, lookback_days
        As everywhere in `bifrost.risk`.
    stress_windows
        Window lengths (days) of the worst historical windows replayed.
    periods
        Named historical periods ``{name: (start, end)}`` replayed on today's positions.
    record_alerts
        Record the limit checks' warnings and breaches as alert episodes.
    """

    portfolios: tuple[str, ...] = ()
    methods: tuple[Method, ...] = _METHODS
    confidence: float = 0.99
    horizon_days: int = 1
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    stress_windows: tuple[int, ...] = (1, 5, 20)
    periods: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]] = field(default_factory=dict)
    record_alerts: bool = True
    output_dir: Path | None = None

    @classmethod
    def from_parameters(
        cls,
        *,
        portfolios: object = None,
        methods: object = None,
        confidence: object = 0.99,
        horizon_days: object = 1,
        lookback_days: object = DEFAULT_LOOKBACK_DAYS,
        stress_windows: object = None,
        periods: object = None,
        record_alerts: object = True,
        output_dir: object = None,
    ) -> RiskReportConfig:
        """Build the config from a notebook's parameters, checking each once.

        ``methods`` and ``stress_windows`` take lists or comma-separated text
        (``"historical,parametric"``, ``"1,5,20"``); ``periods`` a mapping
        ``{name: [start, end]}`` or the command line's ``NAME=START:END,...`` text.

        Raises
        ------
        InvalidInputError
            Naming the parameter: an unknown method, a confidence outside (0, 1), a horizon,
            lookback or window out of range, a period whose dates do not parse or are out
            of order, a bad portfolio name.
        """
        job = "risk_report"
        from bifrost.portfolio._ledger import check_portfolio_name

        names = _texts(job, portfolios, "portfolios")
        for name in names:
            _named(job, check_portfolio_name, name)
        chosen = _texts(job, methods, "methods") or _METHODS
        picked = tuple(_named(job, as_choice, m, "methods", _METHODS) for m in chosen)
        if isinstance(confidence, bool):
            raise InvalidInputError(f"{job}: confidence must be a number in (0, 1), got {quote(confidence)}")
        level = _float(job, confidence, "confidence", minimum=0.0, maximum=1.0)
        if not 0.0 < level < 1.0:
            raise InvalidInputError(f"{job}: confidence must be in (0, 1), got {quote(confidence)}")
        windows = _windows(job, stress_windows)
        return cls(
            portfolios=names,
            methods=picked,
            confidence=level,
            horizon_days=_int(job, horizon_days, "horizon_days", maximum=MAX_HORIZON_DAYS, unit="days"),
            lookback_days=_int(
                job, lookback_days, "lookback_days", minimum=MIN_LOOKBACK_DAYS, maximum=MAX_LOOKBACK_DAYS, unit="days"
            ),
            stress_windows=windows,
            periods=_periods(job, periods),
            record_alerts=_bool(job, record_alerts, "record_alerts"),
            output_dir=_output_dir(job, output_dir),
        )

    def _repr_html_(self) -> str:
        return _config_html(self)


def _windows(job: str, value: object) -> tuple[int, ...]:
    if value is None or value == "":
        return (1, 5, 20)
    items: list[object]
    if isinstance(value, str):
        items = []
        for part in value.split(","):
            if not part.strip().isdigit():
                raise InvalidInputError(
                    f"{job}: stress_windows must be whole numbers of days such as 1,5,20, got {quote(value)}"
                )
            items.append(int(part))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise InvalidInputError(f"{job}: stress_windows must be a list of days such as [1, 5, 20], got {quote(value)}")
    return tuple(_int(job, v, "stress_windows", maximum=MAX_LOOKBACK_DAYS, unit="days") for v in items)


def _periods(job: str, value: object) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    if value is None or value == "":
        return {}
    pairs: dict[str, object] = {}
    if isinstance(value, str):
        for part in value.split(","):
            name, sep, span = part.partition("=")
            if not sep or ":" not in span or not name.strip():
                raise InvalidInputError(f"{job}: periods must be NAME=START:END separated by commas, got {quote(part)}")
            pairs[name.strip()] = span.split(":", 1)
    elif isinstance(value, Mapping):
        pairs = {str(k): v for k, v in value.items()}
    else:
        raise InvalidInputError(f"{job}: periods must map each name to [start, end], got {quote(value)}")
    out: dict[str, tuple[pd.Timestamp, pd.Timestamp]] = {}
    for label, dates in pairs.items():
        if not isinstance(dates, list | tuple) or len(dates) != 2:
            raise InvalidInputError(f"{job}: periods[{quote(label)}] must be [start, end], got {quote(dates)}")
        first, last = _date(job, dates[0], f"periods[{label}] start"), _date(job, dates[1], f"periods[{label}] end")
        if first is None or last is None or last <= first:
            raise InvalidInputError(f"{job}: periods[{quote(label)}] must be a start before an end, got {quote(dates)}")
        out[label] = (first, last)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioRisk:
    """One portfolio's risk report, its limit checks and where its HTML page was written."""

    name: str
    report: RiskReport
    limits: LimitReport
    html_path: Path | None = None

    @property
    def breaches(self) -> int:
        """Limit checks above their threshold."""
        return int((self.limits.checks["severity"] == "breach").sum())

    @property
    def warnings(self) -> int:
        """Limit checks above their warning level, below the threshold."""
        return int((self.limits.checks["severity"] == "warning").sum())

    def var(self, method: str = "historical") -> float:
        """VaR (fraction of equity) by ``method``; NaN if it was not measured."""
        risk = self.report.risk.get(method)
        return math.nan if risk is None else float(risk.var)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskStep:
    """What ``risk_report`` measured: each portfolio's report, and those it could not measure."""

    config: RiskReportConfig
    portfolios: tuple[PortfolioRisk, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)  # name → why (no position, too little history)

    def __repr__(self) -> str:
        measured = ", ".join(f"{p.name} VaR {p.var(self.config.methods[0]):.2%}" for p in self.portfolios) or "none"
        return f"RiskStep({measured}; {len(self.skipped)} skipped)"

    def table(self) -> pd.DataFrame:
        """One row per portfolio: equity, VaR and ES by method, breaches and warnings."""
        rows = []
        for p in self.portfolios:
            row: dict[str, Any] = {"portfolio": p.name, "equity": p.report.equity}
            for method, risk in p.report.risk.items():
                row[f"var_{method}"] = risk.var
                row[f"es_{method}"] = risk.es
            row["breaches"], row["warnings"] = p.breaches, p.warnings
            rows.append(row)
        return pd.DataFrame(rows).set_index("portfolio") if rows else pd.DataFrame()

    def result(self) -> dict[str, Any]:
        """Return the headline numbers a run records (`bifrost.jobs.record_result`)."""
        level = f"{self.config.confidence * 100:g}"
        return {
            "confidence": self.config.confidence,
            "horizon_days": self.config.horizon_days,
            "portfolios": {
                p.name: {
                    **{f"var_{m}": _finite(r.var) for m, r in p.report.risk.items()},
                    "equity": _finite(p.report.equity),
                    "breaches": p.breaches,
                    "warnings": p.warnings,
                    "report": None if p.html_path is None else str(p.html_path),
                }
                for p in self.portfolios
            },
            f"var_{level}": {p.name: _finite(p.var(self.config.methods[0])) for p in self.portfolios},
            "breaches": sum(p.breaches for p in self.portfolios),
            "warnings": sum(p.warnings for p in self.portfolios),
            "breached": [
                f"{p.name}: {r.limit_name}" + (f" {r.subject!s}" if r.subject else "")
                for p in self.portfolios
                for r in p.limits.checks.itertuples()
                if r.severity == "breach"
            ],
            "reports": [str(p.html_path) for p in self.portfolios if p.html_path is not None],
            "skipped": dict(self.skipped),
        }


def risk_step(store: Store, config: RiskReportConfig) -> RiskStep:
    """Measure each configured portfolio: VaR/ES by method, stress, limits (alerts recorded), HTML.

    The same calls as ``bifrost risk report NAME`` and ``bifrost risk limits NAME``: the
    book from the store over ``lookback_days``, `check_limits` (its own limits or
    `DEFAULT_LIMITS`; with ``record_alerts`` its warnings and breaches open, update or
    close alert episodes), `risk_report` with the store's sectors and the checks, written
    to ``output_dir/risk_<name>.html``. With no ``portfolios`` configured, every stored
    portfolio is measured and one that cannot be (no position, too little history) is
    listed in ``skipped`` with the reason; a named one that cannot be raises.
    """
    names = list(config.portfolios) or list(list_portfolios(store)["name"])
    sectors = store_sectors(store)
    done: list[PortfolioRisk] = []
    skipped: dict[str, str] = {}
    if config.output_dir is not None:
        config.output_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        try:
            book = book_from_store(store, name, lookback_days=config.lookback_days)
        except BifrostError as exc:
            if config.portfolios:
                raise
            skipped[name] = str(exc)
            continue
        limits = check_limits(store, name, record=config.record_alerts, lookback_days=config.lookback_days)
        report = risk_report(
            book, confidence=config.confidence, horizon_days=config.horizon_days, methods=config.methods,
            stress_windows=config.stress_windows, periods=dict(config.periods) or None, sectors=sectors,
            limits=limits,
        )  # fmt: skip
        path = None
        if config.output_dir is not None:
            path = config.output_dir / f"risk_{_file_part(name)}.html"
            report.to_html(path)
        done.append(PortfolioRisk(name=name, report=report, limits=limits, html_path=path))
    return RiskStep(config=config, portfolios=tuple(done), skipped=skipped)


def _file_part(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


# -- paper_rebalance -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperRebalanceConfig:
    """What ``paper_rebalance`` trades: a strategy's target weights today, on a paper portfolio.

    Attributes
    ----------
    strategy, params
        A built-in strategy and its parameters (`bifrost.strategy.STRATEGIES`; the
        strategy's defaults for those not given).
    symbols
        The universe (default: every daily symbol in the store).
    start
        The first bar the strategy's backtest reads (default: all of them).
    as_of
        The trading day (default: the store's last daily bar): the strategy's signals at its
        close are traded, the orders timed at its session's end.
    portfolio
        The paper portfolio; created with a deposit of ``cash`` on ``as_of`` when new.
    commission, slippage_bps
        The fill model of both the strategy's backtest and the paper broker.
    """

    strategy: str = "momentum"
    params: Mapping[str, Any] = field(default_factory=dict)
    symbols: tuple[str, ...] = ()
    start: pd.Timestamp | None = None
    as_of: pd.Timestamp | None = None
    portfolio: str = PAPER_PORTFOLIO
    cash: float = 1_000_000.0
    commission: float = 0.001
    slippage_bps: float = 2.0

    @classmethod
    def from_parameters(
        cls,
        *,
        strategy: object = "momentum",
        params: object = None,
        symbols: object = None,
        start: object = None,
        as_of: object = None,
        portfolio: object = PAPER_PORTFOLIO,
        cash: object = 1_000_000.0,
        commission: object = 0.001,
        slippage_bps: object = 2.0,
    ) -> PaperRebalanceConfig:
        """Build the config from a notebook's parameters, checking each once.

        ``params`` maps the strategy's parameters to values (``{"lookback": 60}``), or is
        its JSON text (the command line's ``-p params=...``); each is parsed by the type the
        strategy declares (`bifrost.strategy.parse_params`).

        Raises
        ------
        InvalidInputError
            Naming the parameter: an unknown strategy, a parameter the strategy does not
            take or of the wrong type, a bad symbol, date, portfolio name, cash or cost.
        """
        job = "paper_rebalance"
        if not isinstance(strategy, str) or strategy not in STRATEGIES:
            raise InvalidInputError(f"{job}: strategy must be one of {', '.join(STRATEGIES)}, got {quote(strategy)}")
        parsed = _named(job, parse_params, strategy, [f"{k}={_grid_text(v)}" for k, v in _mapping(job, params).items()])
        names = _texts(job, symbols, "symbols")
        for name in names:
            _named(job, check_symbol, name, "symbols")
        first, day = _date(job, start, "start"), _date(job, as_of, "as_of")
        if first is not None and day is not None and day <= first:
            raise InvalidInputError(f"{job}: as_of {day:%Y-%m-%d} must be after start {first:%Y-%m-%d}")
        if not isinstance(portfolio, str) or not portfolio:
            raise InvalidInputError(f"{job}: portfolio must be a portfolio's name, got {quote(portfolio)}")
        from bifrost.portfolio._ledger import check_portfolio_name

        _named(job, check_portfolio_name, portfolio)
        fee = _float(job, commission, "commission", minimum=0.0, maximum=1.0)
        slip = _float(job, slippage_bps, "slippage_bps", minimum=0.0, maximum=10_000.0)
        _named(job, FillModel, commission=Commission(percent=fee), slippage_bps=slip)
        return cls(
            strategy=strategy, params=parsed, symbols=names, start=first, as_of=day, portfolio=portfolio,
            cash=_float(job, cash, "cash", minimum=1.0, maximum=1e15), commission=fee, slippage_bps=slip,
        )  # fmt: skip

    def _repr_html_(self) -> str:
        return _config_html(self)

    @property
    def fill(self) -> FillModel:
        """The fill model of the strategy's backtest and of the paper broker."""
        return FillModel(commission=Commission(percent=self.commission), slippage_bps=self.slippage_bps)


def _mapping(job: str, value: object) -> Mapping[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{job}: params must be a mapping or its JSON text ({exc.msg})") from None
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{job}: params must map the strategy's parameters to values, got {quote(value)}")
    return value


def _with_close_bar(panel: Panel) -> Panel:
    # one more bar, a day after the last, priced flat at the last close: the orders the strategy
    # places at the last close fill on it at that close, so its positions there are its targets
    extra: dict[str, FloatArray] = {}
    for name, values in panel.fields.items():
        last = values[-1:]
        if name in ("open", "high", "low", "close", "adj_close"):
            last = panel.fields["adj_close" if name == "adj_close" else "close"][-1:]
        elif name != "volume":
            last = np.zeros_like(last)  # no dividend, no split on a bar that is not in the market
        extra[name] = np.asfortranarray(np.vstack([values, last]))
    ts = pd.DatetimeIndex([*panel.ts, panel.ts[-1] + pd.Timedelta(days=1)])
    return replace(panel, ts=ts, fields=extra)


def target_weights(
    panel: Panel,
    strategy: str,
    params: Mapping[str, Any] | None = None,
    *,
    cash: float = 1_000_000.0,
    fill: FillModel | None = None,
) -> pd.Series:
    """Return the weights (fractions of equity) a strategy holds once its last close's orders are filled.

    The strategy is backtested on ``panel`` as `bifrost.strategy.backtest` does, with one
    more bar after the last, flat at the last close: the orders its signals place at the
    last close fill there, at that close (by the fill model's own rules: sizing, lots,
    cash, volume cap), and the positions it then holds, at that close, over its equity,
    are its targets. Signals in shares, value or percent and target weights all give
    weights this way, and a strategy's targets on day t are exactly what its backtest
    trades at t+1's open.

    Parameters
    ----------
    panel
        Daily bars up to and including the trading day (its last bar).
    strategy, params
        A built-in strategy and its parameters.
    cash, fill
        The backtest's starting cash and fill model.

    Returns
    -------
    pandas.Series
        Weight per symbol of ``panel`` (0 where flat; negative: short), named by the last bar's date.
    """
    result = backtest(_with_close_bar(panel), strategy, dict(params or {}), cash=cash, fill=fill or FillModel())
    close = panel["close"][-1]
    value = np.nan_to_num(result.positions.iloc[-1].to_numpy(dtype=np.float64) * close)
    equity = float(result.equity.iloc[-1])
    weights = value / equity if equity > 0 else np.zeros_like(value)
    return pd.Series(weights, index=pd.Index(panel.symbols, name="symbol"), name=panel.ts[-1])


@dataclass(frozen=True, slots=True, kw_only=True)
class RebalanceStep:
    """What ``paper_rebalance`` did on one trading day: the targets, the orders sent, the day's blotter.

    Attributes
    ----------
    as_of
        The trading day (its bar's stamp).
    targets
        One row per symbol (the universe and what the book holds): ``weight`` (the
        strategy's target, a fraction of equity), ``price`` (the day's close, as traded),
        ``held`` and ``target`` (shares), ``order`` (signed shares sent: target - held).
    orders
        The day's rebalance orders, as the order manager returned them (rejected ones
        with their reasons), sells first.
    blotter
        The portfolio's orders updated on the day or after (`bifrost.execution` ``list_orders``).
    equity
        The book's value at the day's closes before the orders (cash plus positions).
    repeated
        The day had been rebalanced already: nothing was sent, ``orders`` are that run's.
    """

    config: PaperRebalanceConfig
    as_of: pd.Timestamp
    targets: pd.DataFrame
    orders: tuple[Order, ...]
    blotter: pd.DataFrame
    equity: float
    repeated: bool = False

    def __repr__(self) -> str:
        return (
            f"RebalanceStep({self.config.portfolio} on {self.as_of:%Y-%m-%d}: {len(self.orders)} order(s), "
            f"{self._count(OrderStatus.FILLED)} filled, {self._count(OrderStatus.REJECTED)} rejected"
            f"{'; already rebalanced' if self.repeated else ''})"
        )

    def _count(self, status: OrderStatus) -> int:
        return sum(1 for o in self.orders if o.status is status)

    def table(self) -> pd.DataFrame:
        """The targets, one row per symbol (the symbols with neither a position nor a target left out)."""
        kept = (self.targets["weight"] != 0) | (self.targets["held"] != 0) | (self.targets["order"] != 0)
        return self.targets[kept]

    def orders_table(self) -> pd.DataFrame:
        """The day's rebalance orders: client id, side, quantity, status, filled, average price, reasons."""
        rows = [
            {
                "client_order_id": o.client_order_id, "symbol": o.symbol, "side": str(o.side),
                "quantity": float(o.quantity), "status": str(o.status), "filled_quantity": float(o.filled_quantity),
                "avg_fill_price": math.nan if o.avg_fill_price is None else float(o.avg_fill_price),
                "reasons": "; ".join(o.reasons),
            }
            for o in self.orders
        ]  # fmt: skip
        columns = ["client_order_id", "symbol", "side", "quantity", "status", "filled_quantity", "avg_fill_price"]
        return pd.DataFrame(rows, columns=[*columns, "reasons"])

    def result(self) -> dict[str, Any]:
        """Return the headline numbers a run records (`bifrost.jobs.record_result`)."""
        return {
            "portfolio": self.config.portfolio,
            "as_of": f"{self.as_of:%Y-%m-%d}",
            "strategy": self.config.strategy,
            "params": {k: _plain(v) for k, v in self.config.params.items()},
            "equity": _finite(self.equity),
            "orders": len(self.orders),
            **{str(s): self._count(s) for s in (OrderStatus.FILLED, OrderStatus.REJECTED)},
            "working": sum(1 for o in self.orders if o.is_working),
            "repeated": self.repeated,
            "weights": {str(k): float(v) for k, v in self.targets["weight"].items() if v != 0},
            "rejections": [
                f"{o.symbol}: {'; '.join(o.reasons)}" for o in self.orders if o.status is OrderStatus.REJECTED
            ],
        }


def _session_end(day: pd.Timestamp) -> pd.Timestamp:
    # the last instant of a daily bar's session: after its bar (stamped at 00:00 UTC), before the next day's
    return day + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


def _rebalance_id(portfolio: str, day: pd.Timestamp, symbol: str) -> str:
    # one order per portfolio, day and symbol: a rerun of the day finds them instead of sending again.
    # Readable (rebal:20141231:paper:ORCL) when the names fit a client order id unambiguously (no ':'
    # in the portfolio's), else the day and a digest of the two names
    readable = f"rebal:{day:%Y%m%d}:{portfolio}:{symbol}"
    if ":" not in portfolio:
        try:
            return check_client_order_id(readable)
        except InvalidInputError:
            pass  # a name with characters a client order id cannot hold, or too long
    digest = hashlib.sha256(f"{portfolio}\x00{symbol}".encode()).hexdigest()[:32]
    return f"rebal:{day:%Y%m%d}:{digest}"


def rebalance_step(store: BarStore, config: PaperRebalanceConfig) -> RebalanceStep:
    """Trade the paper portfolio towards the strategy's target weights of the day, through the order manager.

    1. The paper broker's market steps to the day's close (`PaperBroker.advance`): orders
       of earlier days fill at the bars since; the order manager stores what it reports.
    2. The strategy's targets on the day (`target_weights`) become shares of the book's
       equity at the day's closes (as traded, raw), rounded towards zero to the fill
       model's lot; each symbol's difference from what the book holds is one market DAY
       order, sells first, sent at the day's session end through the pre-trade checks
       (`bifrost.execution.OrderManager`: the risk limits, the trading state) to the paper
       broker: it fills at the next day's open, or, when the store holds no later bar, at
       the day's close at once.
    3. The blotter: the portfolio's orders of the day.

    A new portfolio is created with a deposit of ``cash`` on the day (the broker's account
    is opened from its ledger). A day already rebalanced (its orders exist: each order's
    client id names the day, portfolio and symbol) sends nothing and reports those orders.

    Raises
    ------
    InvalidInputError
        If the store holds none of the symbols' daily bars on or before ``as_of``, or a
        symbol asked for has none, or ``as_of`` is before a day already rebalanced (the
        paper broker's market only moves forward: a backfill needs a venue of its own).
    """
    from bifrost.execution import OrderManager, OrderRequest, PaperBroker, TimeInForce, list_orders, load_order

    job = "paper_rebalance"
    symbols = _daily_symbols(store, config.symbols, job=job)
    end = None if config.as_of is None else config.as_of + pd.Timedelta(days=1)
    panel = store.read_panel(symbols, config.start, end, adjustment="split_adjusted", frequency="1d")
    if panel.shape[0] < 2:
        raise InvalidInputError(f"{job}: {panel.shape[0]} daily bar(s) up to {config.as_of or 'now'}; need two or more")
    day = panel.ts[-1]
    weights = target_weights(panel, config.strategy, config.params, cash=config.cash, fill=config.fill)
    name = config.portfolio
    if name not in set(list_portfolios(store)["name"]):
        deposit = CashFlow(txn_id=f"{name}-deposit", ts=day, kind=CashKind.DEPOSIT, amount=Decimal(repr(config.cash)))
        record_transactions(store, name, [deposit], create=True)
    clock = _session_end(day)
    broker = PaperBroker(store, fill_model=config.fill, clock=lambda: clock)
    manager = OrderManager(store, broker, clock=lambda: clock)
    broker.advance(clock)
    manager.process_events()
    ledger = load_portfolio(store, name, store_dividends=False)
    held = {p.symbol: p.quantity for p in ledger.positions() if p.quantity}
    universe = list(dict.fromkeys([*symbols, *sorted(held)]))
    last = store.read_panel(universe, day, day + pd.Timedelta(days=1), fields=["close"], frequency="1d")["close"][-1]
    price = {s: _dec(last[j]) for j, s in enumerate(universe) if np.isfinite(last[j])}
    missing = sorted(s for s in held if s not in price)
    if missing:
        raise InvalidInputError(f"{job}: the book holds {', '.join(missing)}, which have no close on {day:%Y-%m-%d}")
    equity = ledger.equity(price)
    rows, deltas = [], {}
    for symbol in universe:
        weight, mark, have = float(weights.get(symbol, 0.0)), price.get(symbol), held.get(symbol, Decimal(0))
        target = have if mark is None else _dec(config.fill.round_lot(weight * float(equity) / float(mark)))
        deltas[symbol] = target - have
        rows.append({"symbol": symbol, "weight": weight, "price": math.nan if mark is None else float(mark),
                     "held": float(have), "target": float(target), "order": float(target - have)})  # fmt: skip
    targets = pd.DataFrame(rows).set_index("symbol")
    ids = {s: _rebalance_id(name, day, s) for s in universe}
    stored = list_orders(store, portfolio=name)
    done = stored[stored["client_order_id"].isin(set(ids.values()))]
    if len(done):
        orders = tuple(load_order(store, cid) for cid in done["client_order_id"])
    else:
        sent = [
            manager.submit(
                OrderRequest(
                    portfolio=name, symbol=symbol, side=Side.BUY if delta > 0 else Side.SELL, quantity=abs(delta),
                    time_in_force=TimeInForce.DAY, client_order_id=ids[symbol],
                )
            )
            for symbol, delta in sorted(deltas.items(), key=lambda kv: (kv[1] > 0, kv[0]))  # sells first
            if delta != 0
        ]  # fmt: skip
        manager.process_events()
        orders = tuple(manager.order(o.client_order_id) for o in sent)
    blotter = list_orders(store, portfolio=name, since=day)
    return RebalanceStep(
        config=config, as_of=day, targets=targets, orders=orders, blotter=blotter, equity=float(equity),
        repeated=bool(len(done)),
    )  # fmt: skip


def _dec(value: float) -> Decimal:
    # a float by its shortest repr (37.84, not 37.8399999999999963…); a whole number without ".0"
    d = Decimal(repr(float(value)))
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d


# -- the daily chain -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DailySummary:
    """The ``daily`` run and its steps (its child runs, in order), as ``bifrost run`` prints them."""

    run: RunRecord
    steps: tuple[RunRecord, ...]

    def headline(self) -> dict[str, Any]:
        """The numbers the summary leads with: best strategy and Sharpe, the paper book's orders, demo VaR, breaches,
        and compliance surveillance's breaches and wash sales per portfolio."""
        by_job: dict[str, dict[str, Any]] = {s.job: dict(s.result or {}) for s in self.steps}
        nightly, risk = by_job.get("nightly_backtest", {}), by_job.get("risk_report", {})
        paper = by_job.get("paper_rebalance", {})
        surveillance = by_job.get("compliance_surveillance", {})
        portfolio = nightly.get("portfolio") or DEMO_PORTFOLIO
        measured = (risk.get("portfolios") or {}).get(portfolio) or {}
        return {
            "best_strategy": nightly.get("best_strategy"),
            "best_params": nightly.get("best_params"),
            "best_sharpe": nightly.get("best_sharpe"),
            "portfolio": portfolio,
            "portfolio_action": nightly.get("portfolio_action"),
            "paper": {k: paper.get(k) for k in ("portfolio", "as_of", "orders", "filled", "rejected", "repeated")}
            if paper
            else None,
            "var_99": measured.get("var_historical"),
            "confidence": risk.get("confidence"),
            "breaches": risk.get("breaches"),
            "breached": risk.get("breached") or [],
            "compliance": surveillance.get("portfolios") if surveillance else None,
            "rules_hash": surveillance.get("rules_hash"),
            "reports": [p for p in [nightly.get("tearsheet"), *(risk.get("reports") or []),
                                    *(surveillance.get("reports") or [])] if p],
        }  # fmt: skip

    @property
    def failed(self) -> tuple[RunRecord, ...]:
        """The steps that did not succeed (failed, timed out, kernel died, canceled ...)."""
        return tuple(s for s in self.steps if str(s.status) != "succeeded")

    def steps_table(self) -> pd.DataFrame:
        """One row per step: job, run id, status, duration, error, executed notebook."""
        rows = [
            {
                "job": s.job, "run_id": s.run_id, "status": str(s.status), "duration_s": s.duration_s,
                "error": s.error, "notebook": None if s.notebook is None else str(s.notebook),
            }
            for s in self.steps
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=["job", "run_id", "status", "duration_s", "error", "notebook"])

    def figure(self) -> Any:
        """Return the chain as a timeline (a static plotly figure): each step from its start to its end, by status."""
        import plotly.graph_objects as go

        from bifrost.figures import NotebookFigure

        colours = {"succeeded": "#2ca02c", "failed": "#d62728", "timed_out": "#ff7f0e", "kernel_died": "#9467bd"}
        fig = NotebookFigure()
        for s in self.steps:
            start, seconds = s.started, s.duration_s or 0.0
            fig.add_trace(
                go.Bar(
                    y=[s.job], x=[seconds * 1000.0], base=[start] if start is not None else None, orientation="h",
                    name=f"{s.job}: {s.status}", marker_color=colours.get(str(s.status), "#7f7f7f"),
                    hovertext=[f"{s.status}, {_seconds(s.duration_s)}"],
                )
            )  # fmt: skip
        fig.update_layout(
            title=f"{self.run.job} {self.run.run_id}: steps", xaxis={"type": "date", "title": "time (UTC)"},
            yaxis={"autorange": "reversed"}, height=140 + 40 * len(self.steps), showlegend=True, barmode="overlay",
        )  # fmt: skip
        return fig

    def chain_result(self) -> dict[str, Any]:
        """Return what the ``daily`` run records (`bifrost.jobs.record_result`): each step and the headline."""
        steps = [
            {"job": s.job, "run_id": s.run_id, "status": str(s.status), "duration_s": s.duration_s, "error": s.error}
            for s in self.steps
        ]
        return {"steps": steps, **self.headline()}

    def raise_for_failure(self) -> None:
        """Raise `ChainFailedError` naming each step that did not succeed (the ``daily`` run then fails)."""
        if self.failed:
            ended = [s for s in self.failed if str(s.status) != "canceled"]
            canceled = [s.job for s in self.failed if str(s.status) == "canceled"]
            shown = "; ".join(f"{s.job} {s.status}" + (f" ({s.error})" if s.error else "") for s in ended)
            if canceled:
                shown += ("; " if shown else "") + f"not started: {', '.join(canceled)}"
            raise ChainFailedError(f"{self.run.job}: {shown}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: the daily run, each step and the headline numbers."""
        return {
            "run": _record(self.run),
            "steps": [_record(s) for s in self.steps],
            **self.headline(),
        }

    def text(self) -> str:
        """Return the summary for a terminal."""
        head = self.headline()
        lines = [f"daily {self.run.run_id}: {self.run.status} in {_seconds(self.run.duration_s)}"]
        for s in self.steps:
            lines.append(f"  {s.job:<23} {s.status!s:<12} {_seconds(s.duration_s):>7}")
            if s.error:
                lines.append(f"    error: {s.error}")
        if self.run.error and not any(s.error for s in self.steps):
            lines.append(f"  error: {self.run.error}")
        if head["best_strategy"]:
            params = ", ".join(f"{k}={v}" for k, v in (head["best_params"] or {}).items())
            lines.append(f"best strategy : {head['best_strategy']} ({params}), Sharpe {_number(head['best_sharpe'])}")
        if head["portfolio_action"]:
            lines.append(f"demo portfolio: {head['portfolio']} {head['portfolio_action']} (the best backtest's fills)")
        paper = head["paper"]
        if paper:
            again = "; already rebalanced, nothing sent" if paper["repeated"] else ""
            lines.append(
                f"paper book    : {paper['portfolio']} on {paper['as_of']}: {paper['orders']} order(s), "
                f"{paper['filled']} filled, {paper['rejected']} rejected{again} (bifrost orders list)"
            )
        if head["var_99"] is not None:
            lines.append(
                f"{_level(head['confidence'])} VaR       : {head['var_99']:.2%} of equity, 1 day, historical "
                f"(portfolio {head['portfolio']})"
            )
        if head["breaches"] is not None:
            breached = list(head["breached"])
            shown = "; ".join(breached[:5]) + (f"; and {len(breached) - 5} more" if len(breached) > 5 else "")
            lines.append(f"limit breaches: {head['breaches']}" + (f" ({shown})" if shown else ""))
        if head["compliance"]:
            books = "; ".join(
                f"{name} {_plural(int(c.get('breaches') or 0), 'breach', 'breaches')}, "
                f"{_plural(int(c.get('wash_sales') or 0), 'wash sale', 'wash sales')}"
                for name, c in head["compliance"].items()
            )
            rules = str(head["rules_hash"])[:12]
            lines.append(f"compliance    : {books} (rules sha256 {rules}; bifrost compliance surveil)")
        if head["reports"]:
            lines.append("reports       :")
            lines.extend(f"  {p}" for p in head["reports"])
        notebooks = [r for r in (*self.steps, self.run) if r.notebook]
        if notebooks:
            lines.append("notebooks     :")
            lines.extend(
                f"  {r.job:<23} {r.notebook}" + (f"\n  {'':<23} {r.html}" if r.html else "") for r in notebooks
            )
        lines += [
            "dashboards    : make dashboard  (or: bifrost dashboard), then open "
            "http://127.0.0.1:8866/voila/render/risk_monitor.ipynb",
            "                (also portfolio_monitor, order_ticket, backtest_explorer, job_monitor, data_explorer)",
            "notebooks     : make lab        (JupyterLab on notebooks/, bound to localhost)",
            "history       : bifrost jobs history",
        ]
        return "\n".join(lines)


def _record(r: RunRecord) -> dict[str, Any]:
    return r.to_dict()


def _level(confidence: object) -> str:
    return f"{confidence * 100:g}%" if isinstance(confidence, float) else "99%"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _number(value: object) -> str:
    return "n/a" if not isinstance(value, int | float) or not math.isfinite(value) else f"{value:.2f}"


def chain_summary(run: RunRecord, steps: Sequence[RunRecord]) -> DailySummary:
    """Return the summary of the chain run ``run`` and its child runs ``steps``, in order."""
    return DailySummary(run=run, steps=tuple(steps))


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def daily_summary(store: Store, run: RunRecord, steps: Sequence[str] = ()) -> DailySummary:
    """Return the summary of chain run ``run`` read from the store's run history.

    Its child runs are those whose ``parent_run_id`` is ``run``'s id, in the order of
    ``steps`` (job names; default: the order the run recorded in its result, else the
    order they were queued), the newest attempt of each.
    """
    recorded = run.result.get("steps")
    order = list(steps) or (
        [str(s["job"]) for s in recorded if isinstance(s, Mapping)] if isinstance(recorded, list) else []
    )
    children = [r for r in job_history(store, limit=500) if r.parent_run_id == run.run_id]
    newest: dict[str, RunRecord] = {}
    for child in sorted(children, key=lambda r: (r.queued, r.attempt)):
        newest[child.job] = child  # a retried step: its last attempt
    ranked = {job: i for i, job in enumerate(order)}
    picked = sorted(newest.values(), key=lambda r: (ranked.get(r.job, len(ranked)), r.queued))
    return DailySummary(run=run, steps=tuple(picked))
