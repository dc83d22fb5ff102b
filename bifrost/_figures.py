"""Plotly figures as HTML: one offline page (plotly.js embedded, no network), or inline in Jupyter."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bifrost._paths import output_path, write_text

__all__ = ["figures_html", "offline_page"]

_STYLE = (
    "<style>body{font-family:sans-serif;margin:2em} table{border-collapse:collapse}"
    " td,th{padding:2px 8px;text-align:right}</style>"
)


def offline_page(
    title: str, header_html: str, figures: Sequence[tuple[str, Any]], path: str | Path | None = None
) -> str:
    """Return (and optionally write) one HTML page: title, ``header_html``, then each named figure.

    Raises
    ------
    InvalidInputError
        If ``path`` cannot be written (its folder does not exist, ...): checked first.
    """
    if path is not None:
        output_path(path, f"the page {title!r}")
    from plotly.offline import get_plotlyjs

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        f"<script type='text/javascript'>{get_plotlyjs()}</script>",
        _STYLE + "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        header_html,
    ]
    for name, fig in figures:
        parts.append(f"<h2>{html.escape(name)}</h2>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{name.replace(' ', '-')}"))
    parts.append("</body></html>")
    page = "\n".join(parts)
    if path is not None:
        write_text(path, page, f"the page {title!r}")
    return page


def figures_html(figures: Sequence[tuple[str, Any]]) -> str:
    """Return the figures for a notebook cell: plotly.js with the first, required by the rest."""
    return "".join(
        fig.to_html(full_html=False, include_plotlyjs="require" if i else True) for i, (_, fig) in enumerate(figures)
    )
