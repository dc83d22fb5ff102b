"""``bifrost config`` and ``bifrost run``: the verbs at the top of the tree."""

from __future__ import annotations

from typing import Annotated

import typer

from bifrost.cli._common import JsonOpt, echo_json, ingest_record, records, store
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
    n_symbols: Annotated[int, typer.Option("--n-symbols", "--symbols", help="Symbols in the demo market.")] = 50,
    n_days: Annotated[int, typer.Option("--n-days", "--days", help="Trading days in the demo market.")] = 1260,
    seed: Annotated[int, typer.Option(help="Seed of the demo market.", min=0)] = 7,
    json_out: JsonOpt = False,
) -> None:
    """Run the main job: ingest the demo market into the store and report on it."""
    from bifrost.jobs import run_main_job

    with store(create=True) as bars:
        report = run_main_job(bars, n_symbols=n_symbols, n_days=n_days, seed=seed)
    if json_out:
        echo_json(
            {
                "store": report.store, "ingest": ingest_record(report.ingest), "symbols": records(report.symbols),
                "quality": report.quality.counts(),
            }
        )  # fmt: skip
    else:
        typer.echo(report.summary())
