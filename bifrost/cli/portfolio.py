"""``bifrost portfolio``: create, import transactions, list, show, dividends."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bifrost.cli._common import FormatOpt, JsonOpt, echo_json, records, store, wants_json
from bifrost.portfolio import CostBasis

NAME = "portfolio"
app = typer.Typer(help="Portfolios: create, import transactions, list, show, dividends.")


@app.command("create")
def portfolio_create(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    inception: Annotated[str, typer.Option(help="No transaction may be dated before it.")],
    cost_basis: Annotated[CostBasis, typer.Option(help="How a sale's cost is taken from the lots.")] = "fifo",
    long_only: Annotated[bool, typer.Option(help="Refuse selling more than is held.")] = False,
) -> None:
    """Create an empty portfolio."""
    from bifrost.portfolio import create_portfolio

    with store(create=True) as bars:
        create_portfolio(bars, name, inception=inception, cost_basis=cost_basis, long_only=long_only)
    typer.echo(f"created portfolio {name} ({cost_basis}{', long-only' if long_only else ''}) from {inception}")


@app.command("import")
def portfolio_import(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    file: Annotated[Path, typer.Argument(help="CSV: txn_id, ts, type, symbol, quantity, price, ...")],
    cost_basis: Annotated[CostBasis, typer.Option(help="For a new portfolio: how a sale's cost is taken.")] = "fifo",
    long_only: Annotated[bool, typer.Option(help="For a new portfolio: refuse selling more than is held.")] = False,
) -> None:
    """Append a CSV file's transactions to a portfolio (created if new): all of them, or none."""
    from bifrost.portfolio import read_transactions_csv, record_transactions

    transactions = read_transactions_csv(file)
    with store(create=True) as bars:
        ledger = record_transactions(bars, name, transactions, create=True, cost_basis=cost_basis, long_only=long_only)
    typer.echo(f"{name}: {len(transactions)} transaction(s) imported, {len(ledger.transactions)} in all")


@app.command("list")
def portfolio_list(json_out: JsonOpt = False, fmt: FormatOpt = "table") -> None:
    """List portfolios."""
    from bifrost.portfolio import list_portfolios

    with store() as bars:
        frame = list_portfolios(bars)
    if wants_json(json_out, fmt):
        typer.echo(frame.assign(inception=frame["inception"].map(lambda t: t.isoformat())).to_json(orient="records"))
    else:
        typer.echo(frame.to_string(index=False) if len(frame) else "no portfolios yet: `bifrost portfolio create`")


StoreDividendsOpt = Annotated[
    bool,
    typer.Option(
        "--store-dividends/--no-store-dividends",
        help="Credit the store's dividends on their ex-dates (shares held at the close before; shorts pay).",
    ),
]


@app.command("show")
def portfolio_show(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    json_out: JsonOpt = False,
    fmt: FormatOpt = "table",
    store_dividends: StoreDividendsOpt = True,
) -> None:
    """Show positions, cash and P&L, marked at each symbol's latest close in the store."""
    from bifrost.portfolio import load_portfolio, mark_to_latest

    with store() as bars:
        ledger = load_portfolio(bars, name, store_dividends=store_dividends)
        report = mark_to_latest(ledger, bars)
    typer.echo(report.to_json() if wants_json(json_out, fmt) else report.to_text())


@app.command("dividends")
def portfolio_dividends(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    json_out: JsonOpt = False,
    store_dividends: StoreDividendsOpt = True,
) -> None:
    """List the dividend entries: ex-date, symbol, per share, shares held, amount, origin (store or recorded)."""
    from bifrost.portfolio import load_portfolio

    with store() as bars:
        frame = load_portfolio(bars, name, store_dividends=store_dividends).dividends_frame()
    if json_out:
        echo_json(records(frame))
    elif frame.empty:
        typer.echo(f"{name}: no dividends")
    else:
        shown = frame.assign(ts=frame["ts"].dt.date).rename(columns={"ts": "ex_date"})
        typer.echo(shown.to_string(index=False))
        typer.echo(f"{len(frame)} dividend(s), {frame['amount'].sum():,.2f} in all")
