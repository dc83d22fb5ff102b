"""The ``bifrost`` command: one verb group per package.

A `BifrostError` or a usage error becomes one line on stderr and exit status 2; anything
else is a bug and shows its traceback.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from bifrost._json import dumps
from bifrost._paths import output_path
from bifrost.config import load_settings, mask_secrets
from bifrost.data import BarStore, IngestReport
from bifrost.errors import BifrostError

# no_args_is_help stays off: a group called without its command is a usage error (one line,
# exit 2, the commands named), not forty lines of help
app = typer.Typer(help="Bifrost: research and trading platform.", add_completion=False)
data_app = typer.Typer(help="Market data: ingest, list, show, check.")
ingest_app = typer.Typer(help="Ingest bars from a source into the store.")
portfolio_app = typer.Typer(help="Portfolios: create, import transactions, list, show.")
app.add_typer(data_app, name="data")
app.add_typer(portfolio_app, name="portfolio")
report_app = typer.Typer(help="Reports: tearsheets.")
app.add_typer(report_app, name="report")
risk_app = typer.Typer(help="Risk of a stored portfolio: VaR/ES, stress tests, VaR backtests.")
app.add_typer(risk_app, name="risk")
serve_app = typer.Typer(help="Serve bifrost's models over HTTP (BentoML).")
app.add_typer(serve_app, name="serve")
backtest_app = typer.Typer(help="Backtest a built-in strategy on stored bars; check one for look-ahead.")
app.add_typer(backtest_app, name="backtest")
data_app.add_typer(ingest_app, name="ingest")


class OnErrorOpt(StrEnum):
    strict = "strict"
    repair = "repair"


class AdjustmentOpt(StrEnum):
    raw = "raw"
    split_adjusted = "split_adjusted"
    adjusted = "adjusted"


class FrequencyOpt(StrEnum):
    day = "1d"
    week = "1w"
    month = "1mo"


class Format(StrEnum):
    table = "table"
    json = "json"


def _store(*, create: bool = False) -> BarStore:
    # only the commands that bring data in create a store: a read (or a change to what is
    # stored) on a mistyped BIFROST_HOME is "no store at ...", not a new empty store there
    from bifrost.data import open_store

    return open_store(load_settings(), create=create)


def _echo_json(value: Any) -> None:
    # every JSON the command prints: non-finite numbers as null, never NaN or Infinity
    typer.echo(dumps(value))


def _finite(value: float | None) -> float | None:
    # a number on the command line is one a market produces: never inf or nan
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"expected a finite number, got {value!r}")
    return value


@app.command()
def config() -> None:
    """Show the effective settings (secrets masked)."""
    shown = load_settings().masked()
    width = max(map(len, shown))
    for key, value in shown.items():
        typer.echo(f"{key:{width}} {value}")


@app.command()
def run(
    symbols: Annotated[int, typer.Option(help="Symbols in the demo market.")] = 50,
    days: Annotated[int, typer.Option(help="Trading days in the demo market.")] = 1260,
    seed: Annotated[int, typer.Option(help="Seed of the demo market.", min=0)] = 7,
) -> None:
    """Run the main job: ingest the demo market into the store and report on it."""
    from bifrost.jobs import run_main_job

    with _store(create=True) as store:
        report = run_main_job(store, n_symbols=symbols, n_days=days, seed=seed)
    typer.echo(report.summary())


def _print_ingest(report: IngestReport) -> None:
    typer.echo(report.summary())


@ingest_app.command("csv")
def ingest_csv(
    file: Annotated[Path, typer.Argument(help="CSV file (gzip etc. read directly).")],
    symbol: Annotated[str | None, typer.Option(help="Symbol of a one-symbol file.")] = None,
    on_error: Annotated[
        OnErrorOpt, typer.Option(help="strict: reject the load; repair: quarantine bad rows.")
    ] = OnErrorOpt.strict,
    date_format: Annotated[str | None, typer.Option(help="strptime format when dates are not ISO.")] = None,
) -> None:
    """Ingest a Yahoo, backtrader or long (symbol column) CSV file."""
    from bifrost.data import CsvSource, ingest

    with _store(create=True) as store:
        _print_ingest(ingest(store, CsvSource(file, symbol=symbol, date_format=date_format), on_error=on_error.value))


@ingest_app.command("yahoo")
def ingest_yahoo(
    symbols: Annotated[list[str], typer.Argument(help="Ticker symbols.")],
    start: Annotated[str | None, typer.Option(help="First date.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date (exclusive).")] = None,
    on_error: Annotated[OnErrorOpt, typer.Option()] = OnErrorOpt.strict,
) -> None:
    """Ingest raw daily bars, dividends and splits from Yahoo Finance."""
    from bifrost.data import YahooSource, ingest

    with _store(create=True) as store:
        _print_ingest(ingest(store, YahooSource(progress=True), symbols, start, end, on_error=on_error.value))


@ingest_app.command("synthetic")
def ingest_synthetic(
    symbols: Annotated[int, typer.Option(help="Number of symbols.")] = 50,
    days: Annotated[int, typer.Option(help="Number of trading days.")] = 1260,
    seed: Annotated[int, typer.Option(help="Random seed.", min=0)] = 7,
    start: Annotated[str, typer.Option(help="First date.")] = "2015-01-02",
) -> None:
    """Ingest a seeded synthetic market (marked synthetic everywhere it is shown)."""
    from bifrost.data import SyntheticMarket, ingest

    with _store(create=True) as store:
        _print_ingest(ingest(store, SyntheticMarket(n_symbols=symbols, n_days=days, seed=seed, start=start)))


@data_app.command("list")
def data_list(fmt: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """List stored symbols with their first and last date and row count."""
    with _store() as store:
        frame = store.list_symbols()
    if fmt is Format.json:
        records: list[dict[str, Any]] = frame.to_dict(orient="records")  # type: ignore[assignment]
        out = [
            {
                "symbol": r["symbol"],
                "first": r["first"].isoformat(),
                "last": r["last"].isoformat(),
                "rows": int(r["rows"]),
                "sector": r["sector"],
                "synthetic": bool(r["synthetic"]),
            }
            for r in records
        ]
        _echo_json(out)
    elif frame.empty:
        typer.echo("the store is empty: ingest data with `bifrost data ingest ...`")
    else:
        shown = frame.assign(first=frame["first"].dt.strftime("%Y-%m-%d"), last=frame["last"].dt.strftime("%Y-%m-%d"))
        typer.echo(shown.to_string(index=False))


def _end_inclusive(end: str | None) -> pd.Timestamp | None:
    from bifrost.data._store import to_utc_ns

    ns = to_utc_ns(end, "--end")
    return None if ns is None else pd.Timestamp(ns, tz="UTC") + pd.Timedelta(days=1)


@data_app.command("show")
def data_show(
    symbol: Annotated[str, typer.Argument(help="Symbol.")],
    start: Annotated[str | None, typer.Option(help="First date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Last date (inclusive).")] = None,
    adjustment: Annotated[AdjustmentOpt, typer.Option(help="Price adjustment.")] = AdjustmentOpt.raw,
    frequency: Annotated[FrequencyOpt, typer.Option(help="Bar size: 1d, 1w (from Monday), 1mo.")] = FrequencyOpt.day,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Show one symbol's bars, raw unless --adjustment says otherwise."""
    with _store() as store:
        frame = store.read_bars(
            symbol, start, _end_inclusive(end), adjustment=adjustment.value, frequency=frequency.value
        )
    for note in frame.attrs.get("notes", []):
        typer.echo(f"note: {note}", err=True)
    frame = frame.droplevel("symbol")
    if fmt is Format.json:
        stamps: list[pd.Timestamp] = list(frame.index)
        rows: list[dict[str, float]] = frame.to_dict(orient="records")  # type: ignore[assignment]
        _echo_json([{"ts": ts.isoformat(), **row} for ts, row in zip(stamps, rows, strict=True)])
    else:
        typer.echo(frame.to_string())


@data_app.command("check")
def data_check(
    symbols: Annotated[list[str] | None, typer.Argument(help="Symbols (default: all).")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    verify: Annotated[
        bool, typer.Option("--store", help="Verify the store against its manifest instead (exit 1 if damaged).")
    ] = False,
    repair: Annotated[
        bool, typer.Option(help="With --store: forget symbols whose bars are lost, so they can be ingested again.")
    ] = False,
) -> None:
    """Report data quality: calendar gaps, stale prices, outlier returns; or, with --store, damage."""
    from bifrost.data import check_quality

    if repair and not verify:
        from bifrost.errors import InvalidInputError

        raise InvalidInputError("--repair goes with --store")
    if verify:
        if symbols:
            from bifrost.errors import InvalidInputError

            raise InvalidInputError(f"--store verifies the whole store; it takes no symbols, got {symbols}")
        _verify_store(fmt, repair=repair)
        return
    with _store() as store:
        report = check_quality(store, symbols or None)
    if fmt is Format.json:
        findings = report.findings.assign(ts=report.findings["ts"].map(lambda t: t.isoformat()))
        _echo_json({"summary": report.counts(), "findings": findings.to_dict(orient="records")})
    else:
        typer.echo(report.summary())
        if not report.findings.empty:
            typer.echo(report.findings.to_string(index=False, max_rows=60))


def _verify_store(fmt: Format, *, repair: bool) -> None:
    with _store() as store:
        check = store.verify(repair=repair)
    if fmt is Format.json:
        _echo_json(
            {
                "backend": check.backend, "location": check.location, "symbols": check.symbols, "rows": check.rows,
                "segments": check.segments, "ok": check.ok, "problems": list(check.problems),
                "removed": list(check.removed), "repaired": list(check.repaired),
            }
        )  # fmt: skip
    else:
        typer.echo(str(check))
    if not check.ok:
        if check.repaired:
            hint = f"; forgot {len(check.repaired)} symbol(s): ingest them again"
        elif not repair:
            hint = "; `bifrost data check --store --repair` forgets the symbols whose bars are lost"
        else:
            hint = ""
        typer.echo(f"bifrost: the store is damaged: {len(check.problems)} problem(s){hint}", err=True)
        raise typer.Exit(1)


@data_app.command("info")
def data_info() -> None:
    """Show which store is active and in which mode (embedded, partitioned, TimescaleDB)."""
    with _store() as store:
        for key, value in store.describe().items():
            typer.echo(f"{key:15} {value}")


@data_app.command("split")
def data_split(
    symbol: Annotated[str, typer.Argument()],
    date: Annotated[str, typer.Argument(help="Ex-date.")],
    ratio: Annotated[float, typer.Argument(help="New shares per old share (2 for 2-for-1).", callback=_finite)],
) -> None:
    """Record a stock split the source did not carry."""
    from bifrost.data import record_actions

    with _store() as store:
        _print_ingest(
            record_actions(
                store, pd.DataFrame([{"symbol": symbol, "ts": date, "kind": "split", "value": ratio}]), origin="cli"
            )
        )


@data_app.command("dividend")
def data_dividend(
    symbol: Annotated[str, typer.Argument()],
    date: Annotated[str, typer.Argument(help="Ex-date.")],
    amount: Annotated[float, typer.Argument(help="Cash per share.", callback=_finite)],
) -> None:
    """Record a cash dividend the source did not carry."""
    from bifrost.data import record_actions

    with _store() as store:
        _print_ingest(
            record_actions(
                store, pd.DataFrame([{"symbol": symbol, "ts": date, "kind": "dividend", "value": amount}]), origin="cli"
            )
        )


class CostBasisOpt(StrEnum):
    fifo = "fifo"
    average = "average"


@portfolio_app.command("create")
def portfolio_create(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    inception: Annotated[str, typer.Option(help="No transaction may be dated before it.")],
    cost_basis: Annotated[CostBasisOpt, typer.Option(help="fifo or average.")] = CostBasisOpt.fifo,
    long_only: Annotated[bool, typer.Option(help="Refuse selling more than is held.")] = False,
) -> None:
    """Create an empty portfolio."""
    from bifrost.portfolio import create_portfolio

    with _store(create=True) as store:
        create_portfolio(store, name, inception=inception, cost_basis=cost_basis.value, long_only=long_only)
    typer.echo(f"created portfolio {name} ({cost_basis.value}{', long-only' if long_only else ''}) from {inception}")


@portfolio_app.command("import")
def portfolio_import(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    file: Annotated[Path, typer.Argument(help="CSV: txn_id, ts, type, symbol, quantity, price, ...")],
    cost_basis: Annotated[CostBasisOpt, typer.Option(help="For a new portfolio: fifo or average.")] = CostBasisOpt.fifo,
    long_only: Annotated[bool, typer.Option(help="For a new portfolio: refuse selling more than is held.")] = False,
) -> None:
    """Append a CSV file's transactions to a portfolio (created if new): all of them, or none."""
    from bifrost.portfolio import read_transactions_csv, record_transactions

    transactions = read_transactions_csv(file)
    with _store(create=True) as store:
        ledger = record_transactions(
            store, name, transactions, create=True, cost_basis=cost_basis.value, long_only=long_only
        )
    typer.echo(f"{name}: {len(transactions)} transaction(s) imported, {len(ledger.transactions)} in all")


@portfolio_app.command("list")
def portfolio_list(fmt: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """List portfolios."""
    from bifrost.portfolio import list_portfolios

    with _store() as store:
        frame = list_portfolios(store)
    if fmt is Format.json:
        typer.echo(frame.assign(inception=frame["inception"].map(lambda t: t.isoformat())).to_json(orient="records"))
    else:
        typer.echo(frame.to_string(index=False) if len(frame) else "no portfolios yet: `bifrost portfolio create`")


@portfolio_app.command("show")
def portfolio_show(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Show positions, cash and P&L, marked at each symbol's latest close in the store."""
    from bifrost.portfolio import load_portfolio, mark_to_latest

    with _store() as store:
        ledger = load_portfolio(store, name)
        report = mark_to_latest(ledger, store)
    if fmt is Format.json:
        typer.echo(report.to_json())
    else:
        typer.echo(report.to_text())


@report_app.command("tearsheet")
def report_tearsheet(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.")] = Path("tearsheet.html"),
    benchmark: Annotated[str | None, typer.Option(help="A stored symbol to compare against (total return).")] = None,
) -> None:
    """Write a portfolio's tearsheet as one HTML file that opens offline."""
    from bifrost.analytics import portfolio_tearsheet

    output_path(output, "--output")  # before the work, not after it
    with _store() as store:
        sheet = portfolio_tearsheet(store, name, benchmark=benchmark)
    sheet.to_html(output)
    typer.echo(f"wrote {output} ({len(sheet.figures)} figures)")


# -- backtests ---------------------------------------------------------------------------------

# the built-in strategies (bifrost.strategy.STRATEGIES; a test keeps the two equal): named
# here so that the CLI starts without compiling the engine
BUILTIN_STRATEGIES = ("sma_cross", "momentum", "mean_reversion", "buy_and_hold")


class FillAtOpt(StrEnum):
    open = "open"
    close = "close"


class BackendOpt(StrEnum):
    local = "local"
    ray = "ray"


class MethodOpt(StrEnum):
    grid = "grid"
    random = "random"


SymbolsOpt = Annotated[list[str], typer.Option("--symbols", help="Symbols (repeat, or comma-separated).")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="A strategy parameter, name=value (repeat).")]
CashOpt = Annotated[float, typer.Option(help="Starting cash.", callback=_finite)]
SizeOpt = Annotated[
    float | None, typer.Option(help="Trade a fixed number of shares (strategies with a size).", callback=_finite)
]
CommissionOpt = Annotated[
    float, typer.Option(help="Commission as a share of traded value (0.001 = 0.1%).", callback=_finite)
]
PerShareOpt = Annotated[float, typer.Option(help="Commission per share.", callback=_finite)]
MinimumOpt = Annotated[float, typer.Option(help="Minimum commission per fill (with --per-share).", callback=_finite)]
FillAtArg = Annotated[FillAtOpt, typer.Option(help="Market orders fill at the next open or this close.")]
SlippageOpt = Annotated[float, typer.Option(help="Adverse slippage in basis points.", callback=_finite)]
StartOpt = Annotated[str | None, typer.Option(help="First date (inclusive).")]
EndOpt = Annotated[str | None, typer.Option(help="Last date (inclusive).")]
AdjustmentArg = Annotated[AdjustmentOpt, typer.Option(help="Price adjustment of the bars traded.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _symbols(values: list[str]) -> list[str]:
    out = [s.strip() for v in values for s in v.split(",") if s.strip()]
    if not out:
        raise typer.BadParameter("give at least one symbol", param_hint="--symbols")
    return out


def _coerce(strategy: str, name: str, raw: str, default: Any) -> Any:
    from bifrost.errors import InvalidInputError

    kind: type[Any] = type(default) if default is not None else float
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
        if kind is int:
            value = float(raw)
            if not value.is_integer():
                raise ValueError(raw)
            return int(value)
        return kind(raw)
    except ValueError:
        raise InvalidInputError(f"{strategy}: parameter {name} must be {kind.__name__}, got {raw!r}") from None


def _params(strategy: str, pairs: list[str] | None, size: float | None) -> dict[str, Any]:
    from bifrost.errors import InvalidInputError
    from bifrost.strategy._strategies import resolve_strategy, strategy_params

    _, fn = resolve_strategy(strategy)
    accepted = strategy_params(fn)
    out: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidInputError(f"--param takes name=value, got {pair!r}")
        if name not in accepted:
            raise InvalidInputError(f"{strategy} takes no parameter {name!r}; it takes {sorted(accepted)}")
        if name in out:
            raise InvalidInputError(f"--param {name} is given twice; give each parameter once")
        out[name] = _coerce(strategy, name, raw.strip(), accepted[name].default)
    if size is not None:
        if "size" not in accepted:
            raise InvalidInputError(f"{strategy} sizes its own positions; --size does not apply")
        if "size" in out:
            raise InvalidInputError("size is given twice (--size and --param size=...); give it once")
        out["size"] = size
        if "size_type" in accepted:
            out["size_type"] = "shares"
    return out


def _panel(symbols: list[str], start: str | None, end: str | None, adjustment: AdjustmentOpt) -> Any:
    with _store() as store:
        panel = store.read_panel(_symbols(symbols), start, _end_inclusive(end), adjustment=adjustment.value)
    for note in panel.notes:
        typer.echo(f"note: {note}", err=True)
    return panel


def _fill(commission: float, per_share: float, minimum: float, fill_at: FillAtOpt, slippage_bps: float) -> Any:
    from bifrost.strategy import Commission, FillModel

    return FillModel(
        fill_at=fill_at.value,
        slippage_bps=slippage_bps,
        commission=Commission(percent=commission, per_share=per_share, minimum=minimum),
    )


def _print_result(result: Any) -> None:
    typer.echo(f"{result.strategy} {dict(result.params)} on {', '.join(result.symbols)}")
    typer.echo(f"{result.ts[0].date()} … {result.ts[-1].date()}, {len(result.ts)} bars, {result.adjustment} prices")
    for name, value in result.metrics.items():
        typer.echo(f"  {name:18} {value:,.6g}")
    typer.echo(f"final value {result.final_value:,.4f}  trades {result.n_trades}  fills {len(result.fills)}")


def _backtest_command(strategy: str) -> None:
    def command(
        symbols: SymbolsOpt,
        param: ParamOpt = None,
        cash: CashOpt = 100_000.0,
        size: SizeOpt = None,
        commission: CommissionOpt = 0.0,
        per_share: PerShareOpt = 0.0,
        minimum: MinimumOpt = 0.0,
        fill_at: FillAtArg = FillAtOpt.open,
        slippage_bps: SlippageOpt = 0.0,
        start: StartOpt = None,
        end: EndOpt = None,
        adjustment: AdjustmentArg = AdjustmentOpt.raw,
        tearsheet: Annotated[Path | None, typer.Option(help="Also write the tearsheet to this HTML file.")] = None,
        json_out: JsonOpt = False,
    ) -> None:
        from bifrost.strategy import backtest

        if tearsheet is not None:
            output_path(tearsheet, "--tearsheet")
        params = _params(strategy, param, size)
        fill = _fill(commission, per_share, minimum, fill_at, slippage_bps)
        result = backtest(_panel(symbols, start, end, adjustment), strategy, params, cash=cash, fill=fill)
        if tearsheet is not None:
            result.tearsheet().to_html(tearsheet)
        if json_out:
            typer.echo(result.to_json())
        else:
            _print_result(result)

    command.__doc__ = f"Backtest {strategy} on stored bars: metrics, trades and final value (--json: all fills)."
    backtest_app.command(strategy)(command)


for _name in BUILTIN_STRATEGIES:
    _backtest_command(_name)


@backtest_app.command("check-lookahead")
def backtest_check_lookahead(
    strategy: Annotated[str, typer.Argument(help="A built-in strategy.")],
    symbols: SymbolsOpt,
    param: ParamOpt = None,
    trials: Annotated[int, typer.Option(help="Random cut points.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the cut points.", min=0)] = 0,
    start: StartOpt = None,
    end: EndOpt = None,
    adjustment: AdjustmentArg = AdjustmentOpt.raw,
) -> None:
    """Rerun a strategy on data cut at random points; fail (exit 1) if a past signal changes."""
    from bifrost.strategy import check_lookahead

    report = check_lookahead(
        _panel(symbols, start, end, adjustment), strategy, _params(strategy, param, None), trials=trials, seed=seed
    )
    typer.echo(str(report))
    if not report.ok:
        raise typer.Exit(1)


@app.command("optimize")
def optimize_command(
    strategy: Annotated[str, typer.Argument(help="A built-in strategy.")],
    symbols: SymbolsOpt,
    grid: Annotated[list[str], typer.Option("--grid", help="name=start:stop:step (stop included) or name=a,b,c.")],
    param: ParamOpt = None,
    objective: Annotated[str, typer.Option(help="The metric to maximise.")] = "sharpe_ratio",
    method: Annotated[MethodOpt, typer.Option(help="Every grid point, or --n-iter random ones.")] = MethodOpt.grid,
    n_iter: Annotated[int | None, typer.Option(help="Random points to try (with --method random).", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random search.", min=0)] = 0,
    backend: Annotated[BackendOpt, typer.Option(help="In process, or on Ray.")] = BackendOpt.local,
    address: Annotated[str | None, typer.Option(help="Ray cluster address (default: a local Ray).")] = None,
    cash: CashOpt = 100_000.0,
    size: SizeOpt = None,
    commission: CommissionOpt = 0.0,
    fill_at: FillAtArg = FillAtOpt.open,
    start: StartOpt = None,
    end: EndOpt = None,
    adjustment: AdjustmentArg = AdjustmentOpt.raw,
    top: Annotated[int, typer.Option(help="Rows of the ranking to print.", min=1)] = 10,
    heatmap: Annotated[Path | None, typer.Option(help="Write the objective's heatmap (HTML) here.")] = None,
    max_backtests: Annotated[
        int | None,
        typer.Option(help="Refuse a sweep of more backtests (default: max_backtests setting, or 1,000,000).", min=1),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Sweep a strategy's parameters on every symbol; rank by the objective."""
    from bifrost._paths import write_text
    from bifrost.errors import InvalidInputError
    from bifrost.strategy import optimize
    from bifrost.strategy._optimize import MAX_BACKTESTS, grid_values
    from bifrost.strategy._strategies import resolve_strategy, strategy_params

    if heatmap is not None:
        output_path(heatmap, "--heatmap")
        if len(grid) < 2:
            raise InvalidInputError(f"--heatmap needs two --grid parameters, got {len(grid)}")
    fixed = _params(strategy, param, size)
    accepted = strategy_params(resolve_strategy(strategy)[1])
    space: dict[str, Any] = {}
    for spec in grid:
        name, sep, values = spec.partition("=")
        if not sep or name not in accepted:
            raise InvalidInputError(
                f"--grid takes name=values with a parameter of {strategy} {sorted(accepted)}, got {_quote(spec)}"
            )
        if name in space or name in fixed:
            raise InvalidInputError(f"{name} is given twice (--grid and --param, or two --grid); give it once")
        space[name] = _grid_of(strategy, name, grid_values(values), accepted[name].default)
    space.update({k: [v] for k, v in fixed.items()})
    settings = load_settings()
    memory_mb = settings.max_sweep_memory_mb
    result = optimize(
        _panel(symbols, start, end, adjustment), strategy, space, method=method.value, n_iter=n_iter, seed=seed,
        objective=objective, cash=cash, fill=_fill(commission, 0.0, 0.0, fill_at, 0.0), backend=backend.value,
        address=address, progress=not json_out and sys.stderr.isatty(),
        max_backtests=max_backtests or settings.max_backtests or MAX_BACKTESTS,
        max_memory_bytes=None if memory_mb is None else memory_mb * 2**20,
    )  # fmt: skip
    if heatmap is not None:
        write_text(heatmap, result.heatmap().to_html(include_plotlyjs=True), "--heatmap")
    if json_out:
        rows = json.loads(result.frame.to_json(orient="records"))
        _echo_json({"best": result.best(), "objective": objective, "rows": rows})
    else:
        typer.echo(result.summary().head(top).to_string())
        typer.echo(f"best by {objective}: {result.best()}")


def _grid_of(strategy: str, name: str, values: Any, default: Any) -> Any:
    # a listed grid is coerced to the parameter's kind value by value; a range stays lazy (the
    # sweep counts it before it runs), and only an integer range suits an integer parameter
    from bifrost.errors import InvalidInputError

    if isinstance(values, list):
        return [_coerce(strategy, name, repr(v), default) for v in values]
    if isinstance(default, int) and not isinstance(default, bool) and not isinstance(values, range):
        raise InvalidInputError(f"{strategy}: parameter {name} must be int, got the range {values!r}")
    return values


# -- risk --------------------------------------------------------------------------------------


class RiskMethodOpt(StrEnum):
    historical = "historical"
    parametric = "parametric"
    montecarlo = "montecarlo"
    filtered_historical = "filtered_historical"


LookbackOpt = Annotated[int, typer.Option(help="Days of return history.")]
ConfidenceOpt = Annotated[float, typer.Option(help="VaR level in (0, 1).", callback=_finite)]


@risk_app.command("var")
def risk_var(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    method: Annotated[RiskMethodOpt, typer.Option(help="Estimation method.")] = RiskMethodOpt.historical,
    confidence: ConfidenceOpt = 0.99,
    horizon: Annotated[int, typer.Option(help="Horizon in days.")] = 1,
    lookback: LookbackOpt = 500,
    json_out: JsonOpt = False,
) -> None:
    """Value at Risk and expected shortfall of a portfolio, from its positions and stored prices."""
    from bifrost.risk import book_from_store, book_risk

    with _store() as store:
        book = book_from_store(store, name, lookback_days=lookback)
    risk = book_risk(book, method=method.value, confidence=confidence, horizon_days=horizon)
    out = {
        **risk.to_dict(),
        "equity": book.equity,
        "var_money": risk.var * book.equity,
        "es_money": risk.es * book.equity,
    }
    if json_out:
        _echo_json(out)
    else:
        typer.echo(
            f"{name}: {method.value} VaR {risk.var:.4%} ({out['var_money']:,.2f}), ES {risk.es:.4%} "
            f"({out['es_money']:,.2f}) at {confidence:.1%} over {horizon} day(s); equity {book.equity:,.2f}, "
            f"{risk.observations} days of history"
        )


@risk_app.command("stress")
def risk_stress(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    window: Annotated[list[int] | None, typer.Option(help="Window lengths in days (repeat).")] = None,
    worst: Annotated[int, typer.Option(help="Distinct worst windows per length.")] = 3,
    period: Annotated[
        list[str] | None, typer.Option(help="A named window NAME=START:END, e.g. GFC=2008-09-01:2009-03-09 (repeat).")
    ] = None,
    shocks: Annotated[
        Path | None, typer.Option(help="TOML file of hypothetical scenarios: [name] SYMBOL|'sector:X'|market = return.")
    ] = None,
    lookback: LookbackOpt = 5000,
    json_out: JsonOpt = False,
) -> None:
    """Replay the worst historical windows and named periods on today's positions, and apply shocks."""
    from bifrost.errors import InvalidInputError
    from bifrost.risk import book_from_store, shocks_from_toml, store_sectors, stress_positions

    named = {}
    for text in period or []:
        label, _, span = text.partition("=")
        start, _, end = span.partition(":")
        if not (label and start and end):
            raise InvalidInputError(f"--period must look like NAME=START:END, got {text!r}")
        named[label] = (start, end)
    scenarios = None if shocks is None else shocks_from_toml(shocks)
    with _store() as store:
        book = book_from_store(store, name, lookback_days=lookback)
        sectors = store_sectors(store) if scenarios else None
    values = {str(k): float(v) for k, v in book.values.items()}
    result = stress_positions(
        values, book.returns, window_days=tuple(window or (1, 5, 20)), worst=worst, named=named, shocks=scenarios,
        sectors=sectors,
    )  # fmt: skip
    if json_out:
        _echo_json(result.records(book.equity))
    else:
        typer.echo(result.frame().to_string(float_format=lambda v: f"{v:,.2f}"))


@risk_app.command("backtest")
def risk_backtest(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    method: Annotated[RiskMethodOpt, typer.Option(help="VaR method (not montecarlo).")] = RiskMethodOpt.historical,
    confidence: ConfidenceOpt = 0.99,
    window: Annotated[int, typer.Option(help="Days each forecast looks back.")] = 250,
    lookback: LookbackOpt = 5000,
    json_out: JsonOpt = False,
) -> None:
    """Backtest one-day VaR on today's weights over the stored history: exceptions, tests, zone."""
    from bifrost.errors import InvalidInputError
    from bifrost.risk import book_from_store, var_backtest

    if method is RiskMethodOpt.montecarlo:
        raise InvalidInputError("risk backtest takes historical, parametric or filtered_historical")
    with _store() as store:
        book = book_from_store(store, name, lookback_days=lookback)
    pnl = book.returns[list(book.weights.index)] @ book.weights
    bt = var_backtest(pnl, method=method.value, confidence=confidence, window=window)  # type: ignore[arg-type]
    out = {
        "exceptions": bt.n_exceptions, "days": len(bt.exceptions), "expected": bt.expected_exceptions,
        "kupiec_p": bt.kupiec[1], "christoffersen_p": bt.christoffersen[1], "zone": bt.zone,
        "zone_last_250": bt.zone_last_250, "exception_days": [d.isoformat() for d in bt.report().index],
    }  # fmt: skip
    if json_out:
        _echo_json(out)
    else:
        typer.echo(
            f"{name}: {out['exceptions']} exceptions in {out['days']} days (expected {out['expected']:.1f}); "
            f"Kupiec p {out['kupiec_p']:.3f}, Christoffersen p {out['christoffersen_p']:.3f}; zone {bt.zone} "
            f"(last 250 days: {bt.zone_last_250})"
        )


@risk_app.command("report")
def risk_report_cmd(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    out: Annotated[Path, typer.Option(help="HTML file to write (self-contained, plotly embedded).")] = Path(
        "risk-report.html"
    ),
    confidence: ConfidenceOpt = 0.99,
    lookback: LookbackOpt = 1000,
) -> None:
    """Write the portfolio's risk report: VaR/ES by method, contributions, backtest, stress, limits."""
    from bifrost.risk import book_from_store, check_limits, risk_report, store_sectors

    output_path(out, "--out")
    with _store() as store:
        book = book_from_store(store, name, lookback_days=lookback)
        limits = check_limits(store, name, record=False, lookback_days=lookback)
        sectors = store_sectors(store)
    report = risk_report(book, confidence=confidence, sectors=sectors, limits=limits)
    report.to_html(out)
    typer.echo(f"{name}: risk report written to {out}")


@risk_app.command("limits")
def risk_limits(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    set_file: Annotated[
        Path | None, typer.Option("--set", help="Replace the portfolio's limits with those of a TOML file first.")
    ] = None,
    record: Annotated[bool, typer.Option(help="Record warnings and breaches as alerts in the store.")] = True,
    strict: Annotated[bool, typer.Option(help="Exit with status 1 when a limit is breached.")] = False,
    lookback: LookbackOpt = 500,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate the portfolio's limits (its own, or the defaults) and record the alerts."""
    from bifrost.risk import check_limits, limits_from_toml, set_limits

    with _store() as store:
        if set_file is not None:
            set_limits(store, name, limits_from_toml(set_file))
        report = check_limits(store, name, record=record, lookback_days=lookback)
    if json_out:
        _echo_json(report.to_dict())
    else:
        shown = report.summary().assign(
            value=lambda f: f["value"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.2%}"),
            threshold=lambda f: f["threshold"].map(lambda v: f"{v:.2%}"),
        )
        typer.echo(f"{name}: limits as of {report.as_of.date()} (worst subject per limit)")
        typer.echo(shown[["limit_name", "metric", "subject", "value", "threshold", "severity"]].to_string(index=False))
        for message in report.alerts["message"]:
            typer.echo(f"ALERT {message}")
    if strict and report.breached:
        raise typer.Exit(1)


@risk_app.command("alerts")
def risk_alerts(
    name: Annotated[str | None, typer.Argument(help="Portfolio name (all portfolios if omitted).")] = None,
    since: Annotated[str | None, typer.Option(help="Only alerts raised at or after this date/time.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the recorded limit alerts, oldest first."""
    from bifrost.risk import read_alerts

    with _store() as store:
        alerts = read_alerts(store, name, since=since)
    if json_out:
        typer.echo(alerts.to_json(orient="records", date_format="iso"))
    elif alerts.empty:
        typer.echo("no alerts")
    else:
        for row in alerts.itertuples():
            typer.echo(f"{row.ts:%Y-%m-%d %H:%M:%S}Z {row.severity:7} {row.message}")


# -- services ----------------------------------------------------------------------------------


@serve_app.command("risk")
def serve_risk(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
) -> None:
    """Start the risk service (bentos/risk) until interrupted: POST /var, /stress, /limits; /docs."""
    from bifrost._serving import serve_bento

    settings = load_settings()  # resolved here: the service runs in its own folder
    env = {**os.environ, "BIFROST_HOME": str(settings.home)}
    if settings.config_file is not None:
        env["BIFROST_CONFIG"] = str(settings.config_file.resolve())
    folder = Path(__file__).resolve().parents[1] / "bentos" / "risk"
    banner = f"serving risk on http://{host}:{port} from {settings.home} (Ctrl-C stops)"
    raise typer.Exit(serve_bento(folder, "service:RiskService", host=host, port=port, env=env, banner=banner))


_MESSAGE_LIMIT = 2000  # characters of one error line: a hostile argument is not echoed whole


def _one_line(text: str) -> str:
    # one line, capped, and no credential (a URL or DSN quoted by an error)
    line = mask_secrets(" ".join(text.split()))
    if len(line) > _MESSAGE_LIMIT:
        line = f"{line[:_MESSAGE_LIMIT]}… ({len(line) - _MESSAGE_LIMIT} more characters)"
    return line


def _usage_line(exc: typer.TyperException) -> str:
    # a usage error of typer's own click (typer >= 0.20 vendors it as typer._click, so the
    # separate click package's exceptions never match): one line with the usage hint
    message = exc.format_message().replace("Value error, ", "")
    errors_of = getattr(exc.__cause__, "errors", None)
    if callable(errors_of):  # typer coerces with pydantic, whose error holds what arrived
        errors = errors_of()
        given = errors[0].get("input") if errors else None
        if isinstance(given, str | int | float) and repr(given) not in message:
            message = f"{message.rstrip('.')}, got {_quote(given)}"
    if not message.endswith((".", "?", ")")):
        message += "."
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return f"bifrost: error: {_one_line(message)}"
    path = ctx.command_path
    if message.startswith("Missing command") and hasattr(ctx.command, "list_commands"):
        message = f"Missing command (one of: {', '.join(ctx.command.list_commands(ctx))})."
    return f"{path}: {_one_line(message)} Try '{path} --help'."


def _quote(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bifrost`` command; returns the exit status.

    A `BifrostError` or a usage error (unknown command or option, missing or malformed
    argument, bad choice) is one line on stderr and exit status 2.
    """
    command = _command()
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _run(command, argv)


@functools.cache
def _command() -> Any:
    # built once per process (typer reads every command's signature): in-process callers
    # such as the tests call main() many times
    return typer.main.get_command(app)


def _show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    # a warning (a repaired row, a derived field) is one line too, not the source line that raised it
    print(f"bifrost: warning: {_one_line(str(message))}", file=sys.stderr)


def _run(command: Any, argv: list[str] | None) -> int:
    try:
        result = command.main(args=argv, prog_name="bifrost", standalone_mode=False)
    except BifrostError as exc:
        print(f"bifrost: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except typer.TyperException as exc:
        print(_usage_line(exc), file=sys.stderr)
        return 2
    except typer.Abort:
        print("bifrost: aborted", file=sys.stderr)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except BrokenPipeError:
        # the reader went away (`bifrost data show X | head`): not an error of ours
        sys.stderr.close()
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
