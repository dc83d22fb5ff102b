"""``bifrost serve``: bifrost's services over HTTP."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from bifrost.config import load_settings

NAME = "serve"
app = typer.Typer(help="Serve bifrost's models over HTTP (BentoML).")


@app.command("risk")
def serve_risk(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
) -> None:
    """Start the risk service until interrupted: POST /var, /stress, /limits; /docs."""
    from bifrost._serving import serve_service

    settings = load_settings()  # resolved here: the service runs in its own folder
    env = {**os.environ, "BIFROST_HOME": str(settings.home)}
    if settings.config_file is not None:
        env["BIFROST_CONFIG"] = str(settings.config_file.resolve())
    banner = f"serving risk on http://{host}:{port} from {settings.home} (Ctrl-C stops)"
    raise typer.Exit(serve_service("risk", host=host, port=port, env=env, banner=banner))
