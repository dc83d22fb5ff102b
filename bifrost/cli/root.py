"""``bifrost config`` and ``bifrost run``: the verbs at the top of the tree."""

from __future__ import annotations

from typing import Annotated

import typer

from bifrost.cli._common import JsonOpt, echo_json, store
from bifrost.config import load_settings

app = typer.Typer()


@app.command()
def config(json_out: JsonOpt = False) -> None:
    """Show the effective settings (secrets masked)."""
    shown = load_settings().masked()
    if json_out:
        echo_json(shown)
        return
    width = max(map(len, shown))
    for key, value in shown.items():
        typer.echo(f"{key:{width}} {value}")


@app.command()
def run(
    n_symbols: Annotated[
        int | None,
        typer.Option(
            "--n-symbols", "--symbols", help="Symbols in the demo market (default: jobs.toml's).", min=1, max=5_000
        ),
    ] = None,
    n_days: Annotated[
        int | None,
        typer.Option(
            "--n-days", "--days", help="Trading days in the demo market (default: jobs.toml's).", min=2, max=100_000
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the demo market (default: jobs.toml's).", min=0)] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run the daily pipeline (``daily``): ingest, backtest, demo portfolio, paper trades, risk; print the summary.

    Exit status 0 when every step succeeded, 1 when one did not (the summary names it).
    """
    from bifrost.jobs import DailyIngestConfig
    from bifrost.jobs._main import run_daily

    given = {k: v for k, v in (("n_symbols", n_symbols), ("n_days", n_days), ("seed", seed)) if v is not None}
    if given:  # refused here, before any kernel starts (the market's own size bound included)
        DailyIngestConfig.from_parameters(**given)
    with store(create=True) as bars:
        typer.echo(
            "bifrost: running the daily job (daily_ingest, nightly_backtest, paper_rebalance, risk_report, "
            "compliance_surveillance; about a minute); `bifrost jobs history` shows its steps as they run",
            err=True,
        )
        summary = run_daily(bars, parameters={"daily_ingest": given} if given else None)
    if json_out:
        echo_json(summary.to_dict())
    else:
        typer.echo(summary.text())
    if str(summary.run.status) != "succeeded":
        raise typer.Exit(1)
