"""``bifrost dashboard``: the trader dashboards (widgets/*.ipynb) served by Voila on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

NAME = "dashboard"
app = typer.Typer(help="Serve the dashboards (Voila).")


@app.command("dashboard")
def dashboard(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8866,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open a browser.")] = False,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Folder of dashboard notebooks (default: the checkout's widgets/).")
    ] = None,
    pool_size: Annotated[
        int, typer.Option(help="Preheated kernels kept per dashboard (0: render each page on demand).", min=0, max=16)
    ] = 1,
    cull_idle_s: Annotated[
        int, typer.Option(help="Seconds before the kernel of a closed page is shut down.", min=1, max=86400)
    ] = 600,
) -> None:
    """Serve the dashboards at http://127.0.0.1:PORT/voila/render/NAME.ipynb until interrupted."""
    from bifrost import _voila
    from bifrost.config import load_settings

    settings = _voila.DashboardSettings(
        root=_voila.widgets_dir(folder),
        port=port,
        open_browser=not no_browser,
        pool_size=pool_size,
        cull_idle_s=cull_idle_s,
        cull_interval_s=min(60, cull_idle_s),
    )
    store = load_settings()  # resolved here: the kernels run in the notebooks' folder
    env = _voila.dashboard_environment(settings, home=store.home, config_file=store.config_file)
    names = _voila.dashboards_in(settings.root)
    pages = "\n".join(f"  {_voila.dashboard_url(settings, n)}" for n in names)
    where = f"the embedded store at {store.home}" if store.backend == "embedded" else "PostgreSQL"
    typer.echo(f"serving {len(names)} dashboards from {settings.root} on {where} (Ctrl-C stops):")
    typer.echo(pages)
    raise typer.Exit(_voila.serve(settings, env))
