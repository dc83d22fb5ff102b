"""``bifrost report``: tearsheets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bifrost._paths import output_path
from bifrost.cli._common import store

NAME = "report"
app = typer.Typer(help="Reports: tearsheets.")


@app.command("tearsheet")
def report_tearsheet(
    name: Annotated[str, typer.Argument(help="Portfolio name.")],
    out: Annotated[Path, typer.Option("--out", "-o", "--output", help="HTML file to write.")] = Path("tearsheet.html"),
    benchmark: Annotated[str | None, typer.Option(help="A stored symbol to compare against (total return).")] = None,
) -> None:
    """Write a portfolio's tearsheet as one HTML file that opens offline."""
    from bifrost.analytics import portfolio_tearsheet

    output_path(out, "--out")  # before the work, not after it
    with store() as bars:
        sheet = portfolio_tearsheet(bars, name, benchmark=benchmark)
    sheet.to_html(out)
    typer.echo(f"wrote {out} ({len(sheet.figures)} figures)")
