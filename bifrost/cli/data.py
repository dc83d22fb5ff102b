"""``bifrost data``: ingest, list, show, check, info, corporate actions and symbol reference data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import typer

from bifrost.cli._common import (
    FormatOpt,
    JsonOpt,
    echo_json,
    end_bound,
    finite,
    ingest_record,
    one_line,
    records,
    store,
    wants_json,
)
from bifrost.data import Adjustment, BarFrequency, Frequency, IngestReport, OnError
from bifrost.errors import InvalidInputError

NAME = "data"
app = typer.Typer(help="Market data: ingest, list, show, check.")
ingest_app = typer.Typer(help="Ingest bars from a source into the store.")
app.add_typer(ingest_app, name="ingest")
symbols_app = typer.Typer(help="Symbol reference data: name, sector, industry, currency, lot size, tick size.")
app.add_typer(symbols_app, name="symbols")

OnErrorOpt = Annotated[OnError, typer.Option(help="strict: reject the load; repair: quarantine bad rows.")]
ActionKind = Literal["split", "dividend"]
FrequencyOpt = Annotated[BarFrequency, typer.Option(help="Bar size of the source (intraday bars keep their time).")]


def _print_ingest(report: IngestReport, what: str, json_out: bool) -> None:
    if report.rows_read == 0 and report.actions == 0:
        raise InvalidInputError(f"{what}: no rows (only a header?); nothing was stored")
    if json_out:
        echo_json(ingest_record(report))
    else:
        typer.echo(report.summary())


@ingest_app.command("csv")
def ingest_csv(
    file: Annotated[Path, typer.Argument(help="CSV file (gzip etc. read directly).")],
    symbol: Annotated[str | None, typer.Option(help="Symbol of a one-symbol file.")] = None,
    on_error: OnErrorOpt = "strict",
    date_format: Annotated[str | None, typer.Option(help="strptime format when dates are not ISO.")] = None,
    frequency: Annotated[
        BarFrequency | None, typer.Option(help="Bar size of the file (default: read from the bars' spacing).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Ingest a Yahoo, backtrader or long (symbol column) CSV file, daily or intraday (a Datetime column)."""
    from bifrost.data import CsvSource, ingest

    with store(create=True) as bars:
        source = CsvSource(file, symbol=symbol, date_format=date_format, frequency=frequency)
        _print_ingest(ingest(bars, source, on_error=on_error), str(file), json_out)


@ingest_app.command("yahoo")
def ingest_yahoo(
    symbols: Annotated[list[str], typer.Argument(help="Ticker symbols.")],
    start: Annotated[str | None, typer.Option(help="First date.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date (exclusive).")] = None,
    on_error: OnErrorOpt = "strict",
    frequency: FrequencyOpt = "1d",
    json_out: JsonOpt = False,
) -> None:
    """Ingest raw bars (daily: with dividends and splits) from Yahoo Finance."""
    from bifrost.data import YahooSource, ingest

    with store(create=True) as bars:
        source = YahooSource(progress=True, frequency=frequency)
        _print_ingest(ingest(bars, source, symbols, start, end, on_error=on_error), "yahoo", json_out)


@ingest_app.command("synthetic")
def ingest_synthetic(
    n_symbols: Annotated[int, typer.Option("--n-symbols", "--symbols", help="Number of symbols.")] = 50,
    n_days: Annotated[int, typer.Option("--n-days", "--days", help="Number of trading days.")] = 1260,
    seed: Annotated[int, typer.Option(help="Random seed.", min=0)] = 7,
    start: Annotated[str, typer.Option(help="First date.")] = "2015-01-02",
    frequency: FrequencyOpt = "1d",
    json_out: JsonOpt = False,
) -> None:
    """Ingest a seeded synthetic market (marked synthetic everywhere it is shown)."""
    from bifrost.data import SyntheticMarket, ingest

    with store(create=True) as bars:
        market = SyntheticMarket(n_symbols=n_symbols, n_days=n_days, seed=seed, start=start, frequency=frequency)
        _print_ingest(ingest(bars, market), "synthetic", json_out)


@app.command("list")
def data_list(json_out: JsonOpt = False, fmt: FormatOpt = "table") -> None:
    """List stored symbols with their first and last date, row count and every other column the store keeps."""
    with store() as bars:
        frame = bars.list_symbols()
    if wants_json(json_out, fmt):
        echo_json(records(frame))
    elif frame.empty:
        typer.echo("the store is empty: ingest data with `bifrost data ingest ...`")
    else:
        typer.echo(frame.assign(first=_shown_ts(frame["first"]), last=_shown_ts(frame["last"])).to_string(index=False))


def _shown_ts(stamps: pd.Series) -> pd.Series:
    # a date where every stamp is midnight (daily bars), the time of day otherwise (intraday)
    daily = bool((stamps.dropna() == stamps.dropna().dt.normalize()).all())
    return pd.Series(stamps.dt.strftime("%Y-%m-%d" if daily else "%Y-%m-%dT%H:%M:%SZ"), index=stamps.index)


@app.command("show")
def data_show(
    symbol: Annotated[str, typer.Argument(help="Symbol.")],
    start: Annotated[str | None, typer.Option(help="First date or time (inclusive).")] = None,
    end: Annotated[
        str | None, typer.Option(help="Last date (inclusive), or a time of day (exclusive at that instant).")
    ] = None,
    adjustment: Annotated[Adjustment, typer.Option(help="Price adjustment.")] = "raw",
    frequency: Annotated[Frequency | None, typer.Option(help="Bar size (default: as stored; 1w from Monday).")] = None,
    json_out: JsonOpt = False,
    fmt: FormatOpt = "table",
) -> None:
    """Show one symbol's bars, raw unless --adjustment says otherwise."""
    with store() as bars:
        # no frequency: the symbol's own (a store before intraday bars reads "1d" by default)
        frame = (
            bars.read_bars(symbol, start, end_bound(end), adjustment=adjustment)
            if frequency is None
            else bars.read_bars(symbol, start, end_bound(end), adjustment=adjustment, frequency=frequency)
        )
    for note in frame.attrs.get("notes", []):
        typer.echo(f"note: {note}", err=True)
    frame = frame.droplevel("symbol")
    if wants_json(json_out, fmt):
        echo_json(records(frame.reset_index()))
    else:
        typer.echo(frame.to_string())


@app.command("check")
def data_check(
    symbols: Annotated[list[str] | None, typer.Argument(help="Symbols (default: all).")] = None,
    json_out: JsonOpt = False,
    fmt: FormatOpt = "table",
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
        raise InvalidInputError("--repair goes with --store")
    if verify:
        if symbols:
            raise InvalidInputError(f"--store verifies the whole store; it takes no symbols, got {symbols}")
        _verify_store(wants_json(json_out, fmt), repair=repair)
        return
    with store() as bars:
        report = check_quality(bars, symbols or None)
    if wants_json(json_out, fmt):
        echo_json({"summary": report.counts(), "findings": records(report.findings)})
    else:
        typer.echo(report.summary())
        if not report.findings.empty:
            typer.echo(report.findings.to_string(index=False, max_rows=60))


def _verify_store(as_json: bool, *, repair: bool) -> None:
    with store() as bars:
        check = bars.verify(repair=repair)
    if as_json:
        echo_json(
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


@app.command("info")
def data_info(json_out: JsonOpt = False) -> None:
    """Show which store is active and in which mode (embedded, partitioned, TimescaleDB)."""
    with store() as bars:
        described = bars.describe()
    if json_out:
        echo_json({str(k): v for k, v in described.items()})
        return
    for key, value in described.items():
        typer.echo(f"{key:15} {value}")


def _record(symbol: str, date: str, kind: str, value: float, json_out: bool) -> None:
    from bifrost.data import record_actions

    with store() as bars:
        report = record_actions(
            bars, pd.DataFrame([{"symbol": symbol, "ts": date, "kind": kind, "value": value}]), origin="cli"
        )
    if json_out:
        echo_json(ingest_record(report))
    else:
        typer.echo(report.summary())


@app.command("split")
def data_split(
    symbol: Annotated[str, typer.Argument()],
    date: Annotated[str, typer.Argument(help="Ex-date.")],
    ratio: Annotated[float, typer.Argument(help="New shares per old share (2 for 2-for-1).", callback=finite)],
    json_out: JsonOpt = False,
) -> None:
    """Record a stock split the source did not carry."""
    _record(symbol, date, "split", ratio, json_out)


@app.command("dividend")
def data_dividend(
    symbol: Annotated[str, typer.Argument()],
    date: Annotated[str, typer.Argument(help="Ex-date.")],
    amount: Annotated[float, typer.Argument(help="Cash per share.", callback=finite)],
    json_out: JsonOpt = False,
) -> None:
    """Record a cash dividend the source did not carry."""
    _record(symbol, date, "dividend", amount, json_out)


@app.command("unrecord")
def data_unrecord(
    symbol: Annotated[str, typer.Argument()],
    date: Annotated[str, typer.Argument(help="Ex-date of the recorded action.")],
    kind: Annotated[ActionKind, typer.Argument(help="Which action of that day.")],
    json_out: JsonOpt = False,
) -> None:
    """Remove a recorded split or dividend (one the prices already carry: `data check` says action-contradicted)."""
    from bifrost.data import remove_actions

    with store() as bars:
        removed = remove_actions(bars, pd.DataFrame([{"symbol": symbol, "ts": date, "kind": kind}]), origin="cli")
    if json_out:
        echo_json({"symbol": symbol, "ts": str(pd.Timestamp(date).date()), "kind": kind, "removed": removed})
    else:
        typer.echo(f"removed the {kind} of {symbol} on {pd.Timestamp(date).date()}")


@symbols_app.command("import")
def symbols_import(
    file: Annotated[Path, typer.Argument(help="CSV file: symbol,name,sector,industry,currency,lot_size,tick_size.")],
    replace: Annotated[
        bool, typer.Option(help="Make the stored reference data exactly this file (others are removed).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import symbol reference data (upsert by symbol, all or nothing); symbols without bars are allowed and named."""
    from bifrost.data import import_symbols

    with store(create=True) as bars:
        report = import_symbols(bars, file, replace=replace)
    if json_out:
        echo_json(report.to_dict())
        warning = report.warning()
        if warning:
            typer.echo(f"bifrost: warning: {one_line(warning)}", err=True)
    else:
        typer.echo(report.summary())


@symbols_app.command("list")
def symbols_list(
    symbols: Annotated[list[str] | None, typer.Argument(help="Symbols (default: all).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the stored symbol reference data, one row per symbol."""
    from bifrost.data import read_symbols

    with store() as bars:
        frame = read_symbols(bars, symbols or None)
    if json_out:
        echo_json(records(frame))
    elif frame.empty:
        typer.echo("no symbol reference data: import a file with `bifrost data symbols import FILE`")
    else:
        shown = frame.drop(columns=["source"]).assign(updated=frame["updated"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        typer.echo(shown.to_string(index=False))
