"""``bifrost risk``: VaR/ES, stress tests, VaR backtests, reports, limits and alerts of a stored portfolio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from bifrost._paths import output_path
from bifrost.cli._common import JsonOpt, echo_json, finite, store
from bifrost.errors import InvalidInputError, NotFoundError
from bifrost.risk import DEFAULT_LOOKBACK_DAYS, Method

NAME = "risk"
app = typer.Typer(help="Risk of a stored portfolio: VaR/ES, stress tests, VaR backtests.")

PortfolioArg = Annotated[str, typer.Argument(help="Portfolio name.")]
MethodOpt = Annotated[Method, typer.Option(help="Estimation method.")]
ConfidenceOpt = Annotated[float, typer.Option(help="VaR level in (0, 1).", callback=finite)]


# the library's name (lookback_days); --lookback is the old spelling; one default for every verb (the library's)
LookbackOpt = Annotated[
    int,
    typer.Option(
        "--lookback-days", "--lookback", help="Days of return history (the same default for every risk verb)."
    ),
]


@app.command("var")
def risk_var(
    name: PortfolioArg,
    method: MethodOpt = "historical",
    confidence: ConfidenceOpt = 0.99,
    horizon_days: Annotated[int, typer.Option("--horizon-days", "--horizon", help="Horizon in days.")] = 1,
    lookback_days: LookbackOpt = DEFAULT_LOOKBACK_DAYS,
    json_out: JsonOpt = False,
) -> None:
    """Value at Risk and expected shortfall of a portfolio, from its positions and stored prices."""
    from bifrost.risk import book_from_store, book_risk

    with store() as bars:
        book = book_from_store(bars, name, lookback_days=lookback_days)
    risk = book_risk(book, method=method, confidence=confidence, horizon_days=horizon_days)
    out = {
        **risk.to_dict(),
        **book.window.to_dict(),
        "equity": book.equity,
        "var_money": risk.var * book.equity,
        "es_money": risk.es * book.equity,
    }
    if json_out:
        echo_json(out)
    else:
        typer.echo(
            f"{name}: {method} VaR {risk.var:.4%} ({out['var_money']:,.2f}), ES {risk.es:.4%} "
            f"({out['es_money']:,.2f}) at {confidence:.1%} over {horizon_days} day(s); equity {book.equity:,.2f}; "
            f"{book.window}"
        )


def _periods(texts: list[str]) -> dict[str, tuple[str, str]]:
    named = {}
    for text in texts:
        label, _, span = text.partition("=")
        start, _, end = span.partition(":")
        if not (label and start and end):
            raise InvalidInputError(f"--period must look like NAME=START:END, got {text!r}")
        if label in named:
            raise InvalidInputError(f"--period {label} is given twice; give each period once")
        named[label] = (start, end)
    return named


@app.command("stress")
def risk_stress(
    name: PortfolioArg,
    window_days: Annotated[
        list[int] | None, typer.Option("--window-days", "--window", help="Window lengths in days (repeat).")
    ] = None,
    worst: Annotated[int, typer.Option(help="Distinct worst windows per length.")] = 3,
    period: Annotated[
        list[str] | None, typer.Option(help="A named window NAME=START:END, e.g. GFC=2008-09-01:2009-03-09 (repeat).")
    ] = None,
    shocks: Annotated[
        Path | None, typer.Option(help="TOML file of hypothetical scenarios: [name] SYMBOL|'sector:X'|market = return.")
    ] = None,
    lookback_days: LookbackOpt = DEFAULT_LOOKBACK_DAYS,
    json_out: JsonOpt = False,
) -> None:
    """Replay the worst historical windows and named periods on today's positions, and apply shocks."""
    from bifrost.risk import book_from_store, shocks_from_toml, store_sectors, stress_positions

    named = _periods(period or [])
    scenarios = None if shocks is None else shocks_from_toml(shocks)
    with store() as bars:
        book = book_from_store(bars, name, lookback_days=lookback_days)
        sectors = store_sectors(bars) if scenarios else None
    values = {str(k): float(v) for k, v in book.values.items()}
    result = stress_positions(
        values, book.returns, window_days=tuple(window_days or (1, 5, 20)), worst=worst, periods=named,
        shocks=scenarios, sectors=sectors,
    )  # fmt: skip
    if json_out:
        echo_json({"equity": book.equity, **book.window.to_dict(), "scenarios": result.records(book.equity)})
    else:
        typer.echo(f"{name}: stress on today's positions; {book.window}")
        # a hypothetical shock has no window: shown as "-", not NaT (found by QA)
        typer.echo(result.frame().to_string(float_format=lambda v: f"{v:,.2f}", na_rep="-"))


@app.command("backtest")
def risk_backtest(
    name: PortfolioArg,
    method: Annotated[Method, typer.Option(help="VaR method (not montecarlo).")] = "historical",
    confidence: ConfidenceOpt = 0.99,
    window: Annotated[int, typer.Option(help="Days each forecast looks back.")] = 250,
    lookback_days: LookbackOpt = DEFAULT_LOOKBACK_DAYS,
    json_out: JsonOpt = False,
) -> None:
    """Backtest one-day VaR on today's weights over the stored history: exceptions, tests, zone."""
    from bifrost.risk import book_from_store, var_backtest

    if method == "montecarlo":
        raise InvalidInputError("risk backtest takes historical, parametric or filtered_historical")
    with store() as bars:
        book = book_from_store(bars, name, lookback_days=lookback_days)
    pnl = book.returns[list(book.weights.index)] @ book.weights
    bt = var_backtest(pnl, method=method, confidence=confidence, window=window)
    out = {
        "exceptions": bt.n_exceptions, "days": len(bt.exceptions), "expected": bt.expected_exceptions,
        "kupiec_p": bt.kupiec[1], "christoffersen_p": bt.christoffersen[1], "zone": bt.zone,
        "zone_last_250": bt.zone_last_250, "exception_days": [d.isoformat() for d in bt.report().index],
        **book.window.to_dict(),
    }  # fmt: skip
    if json_out:
        echo_json(out)
    else:
        typer.echo(
            f"{name}: {out['exceptions']} exceptions in {out['days']} days (expected {out['expected']:.1f}); "
            f"Kupiec p {out['kupiec_p']:.3f}, Christoffersen p {out['christoffersen_p']:.3f}; zone {bt.zone} "
            f"(last 250 days: {bt.zone_last_250}); {book.window}"
        )


@app.command("report")
def risk_report_cmd(
    name: PortfolioArg,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="HTML file to write (self-contained, plotly embedded).")
    ] = Path("risk-report.html"),
    confidence: ConfidenceOpt = 0.99,
    lookback_days: LookbackOpt = DEFAULT_LOOKBACK_DAYS,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the report's VaR/ES per method and its window as JSON too.")
    ] = False,
) -> None:
    """Write the portfolio's risk report: VaR/ES by method, contributions, backtest, stress, limits."""
    from bifrost.risk import book_from_store, check_limits, risk_report, store_sectors

    output_path(out, "--out")
    with store() as bars:
        book = book_from_store(bars, name, lookback_days=lookback_days)
        limits = check_limits(bars, name, record=False, lookback_days=lookback_days)
        sectors = store_sectors(bars)
    report = risk_report(book, confidence=confidence, sectors=sectors, limits=limits)
    report.to_html(out)
    if json_out:
        echo_json({**report.to_dict(), "out": str(out)})
    else:
        typer.echo(f"{name}: risk report written to {out} ({book.window})")


@app.command("limits")
def risk_limits(
    name: PortfolioArg,
    set_file: Annotated[
        Path | None, typer.Option("--set", help="Replace the portfolio's limits with those of a TOML file first.")
    ] = None,
    record: Annotated[bool, typer.Option(help="Record warnings and breaches as alerts in the store.")] = True,
    strict: Annotated[bool, typer.Option(help="Exit with status 1 when a limit is breached.")] = False,
    lookback_days: LookbackOpt = DEFAULT_LOOKBACK_DAYS,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate the portfolio's limits (its own, or the defaults) and record the alerts."""
    from bifrost.risk import check_limits, limits_from_toml, set_limits

    with store() as bars:
        if set_file is not None:
            set_limits(bars, name, limits_from_toml(set_file))
        report = check_limits(bars, name, record=record, lookback_days=lookback_days)
    if json_out:
        echo_json(report.to_dict())
    else:
        shown = report.summary().assign(
            value=lambda f: f["value"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.2%}"),
            threshold=lambda f: f["threshold"].map(lambda v: f"{v:.2%}"),
        )
        typer.echo(f"{name}: limits as of {report.as_of.date()} (worst subject per limit); {report.window}")
        typer.echo(shown[["limit_name", "metric", "subject", "value", "threshold", "severity"]].to_string(index=False))
        if report.episodes is None:  # not recorded: the alerts as measured
            for message in report.alerts["message"]:
                typer.echo(f"ALERT {message}")
        else:
            for row in report.episodes.itertuples():
                typer.echo(f"{_episode_line(row)} {row.message}")
    if strict and report.breached:
        raise typer.Exit(1)


def _episode_line(row: Any) -> str:
    # how one alert episode reads in `risk limits` and `risk alerts`: its change or state, and since when
    since = f"since {row.opened:%Y-%m-%d %H:%M}Z"
    if row.status == "closed":
        state = f"CLEARED (open {row.opened:%Y-%m-%d %H:%M}Z to {row.closed:%Y-%m-%d %H:%M}Z)"
    elif getattr(row, "change", None) == "opened":
        state = f"ALERT opened #{row.id}"
    elif getattr(row, "change", None) in ("escalated", "eased"):
        state = f"ALERT {row.change} #{row.id}, {since}"
    else:
        state = f"ALERT open #{row.id}, {since}"
    return state


@app.command("alerts")
def risk_alerts(
    name: Annotated[str | None, typer.Argument(help="Portfolio name (all portfolios if omitted).")] = None,
    since: Annotated[str | None, typer.Option(help="Only episodes checked at or after this date/time.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only the episodes still open.")] = False,
    history: Annotated[bool, typer.Option(help="Each episode's history: opened, updated, ..., closed.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List the limit alerts, one episode each (opened on a breach or warning, closed when it clears), oldest first."""
    from bifrost.portfolio import list_portfolios
    from bifrost.risk import read_alert_history, read_alerts

    with store() as bars:
        alerts = read_alerts(bars, name, since=since, status="open" if open_only else None)
        events = read_alert_history(bars, name) if history else None
        if name is not None and alerts.empty:
            known = list(list_portfolios(bars)["name"])
            if name not in known:
                shown = ", ".join(known[:20]) + (" …" if len(known) > 20 else "") if known else "none"
                raise NotFoundError(f"no portfolio {name!r} in the store (portfolios: {shown})")
    if events is not None:
        events = events[events["alert_id"].isin(alerts["id"])]
    if json_out:
        if events is None:
            typer.echo(alerts.to_json(orient="records", date_format="iso"))
        else:
            episodes = json.loads(alerts.to_json(orient="records", date_format="iso"))
            changes = json.loads(events.to_json(orient="records", date_format="iso"))
            for episode in episodes:
                episode["history"] = [e for e in changes if e["alert_id"] == episode["id"]]
            echo_json(episodes)
    elif alerts.empty:
        typer.echo("no alerts")
    else:
        for row in alerts.itertuples():
            typer.echo(f"{row.ts:%Y-%m-%d %H:%M:%S}Z {row.severity:7} {_episode_line(row)} {row.message}")
            if events is not None:
                for e in events[events["alert_id"] == row.id].itertuples():
                    typer.echo(f"    {e.ts:%Y-%m-%d %H:%M:%S}Z {e.change:9} {e.severity:7} {e.message}")
