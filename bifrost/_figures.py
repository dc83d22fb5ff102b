"""Plotly figures as HTML: one offline page (plotly.js embedded, no network), or a notebook cell.

A notebook cell carries plotly.js (about 4.6 MB) only the first time a kernel shows a figure,
as plotly's own ``notebook`` renderer does (``init_notebook_mode``): later cells draw with the
``window.Plotly`` that first cell defined, so a notebook of many tearsheets, risk reports and
heatmaps holds one copy of the bundle. Every figure is a ``<div class="bifrost-figure">`` and a
script that waits for plotly.js and for its div, so the cells render alike in JupyterLab
(trusted outputs), in nbconvert's HTML and in Voila, none of which needs plotly's own
JupyterLab extension. Titles and axis labels live in each figure's layout, not in the page
around it, so a figure shown alone says what it is.
"""

from __future__ import annotations

import html
import itertools
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bifrost._paths import output_path, write_text

__all__ = ["figure_html", "figures_html", "offline_page", "plotlyjs_html"]

FIGURE_HEIGHT_PX = 420  # a figure without a layout height: a fixed height, never the window's

_STYLE = (
    "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
    " table{border-collapse:collapse;margin:0.5em 0 1em 0} td,th{padding:2px 8px;text-align:right}"
    " th{background:#f2f2f2} h2{margin-top:1.5em} .bifrost-figure{margin:0.5em 0 1.5em 0}</style>"
)

# whether this process (a notebook's kernel) has sent plotly.js to its page yet, and in which cell
_SENT: dict[str, Any] = {"plotlyjs": False, "cell": None}
_MISSING = (
    "plotly.js is not on this page: the first chart a kernel shows carries it. Re-run that cell, "
    "or restart the kernel and run all cells."
)
_COUNTER = itertools.count()


def plotlyjs_html() -> str:
    """Return plotly.js in a script tag that defines ``window.Plotly`` once (also under require.js)."""
    from plotly.offline import get_plotlyjs

    # a page with require.js (nbconvert's classic template) would take the bundle as an AMD
    # module and leave window.Plotly undefined: hide `define` while the bundle runs
    return (
        "<script type='text/javascript'>if (!window.Plotly) {"
        "var __bifrost_define = window.define; window.define = undefined;\n"
        f"{get_plotlyjs()}\n"
        "window.define = __bifrost_define;}</script>"
    )


def figure_html(fig: Any, div_id: str | None = None) -> str:
    """Return one figure as a div of fixed height and the script that draws it with plotly.js."""
    div_id = div_id or f"bifrost-fig-{uuid.uuid4().hex[:12]}-{next(_COUNTER)}"
    height = fig.layout.height or FIGURE_HEIGHT_PX
    spec = fig.to_json().replace("</", "<\\/")  # a title holding '</script>' cannot end the script
    target = json.dumps(div_id)
    return (
        f"<div id='{html.escape(div_id, quote=True)}' class='bifrost-figure'"
        f" style='height:{int(height)}px;width:100%'></div>"
        "<script type='text/javascript'>(function () {"
        f"var spec = {spec}; var tries = 0;"
        "function draw() {"
        f"var el = document.getElementById({target});"
        "if (!window.Plotly || !el) { if (tries++ < 600) { setTimeout(draw, 50); }"
        f" else if (el) {{ el.style.height = 'auto'; el.textContent = {json.dumps(_MISSING)}; }} return; }}"
        "window.Plotly.newPlot(el, spec.data, spec.layout, {responsive: true, displaylogo: false});"
        "} draw();})();</script>"
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
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        plotlyjs_html(),
        _STYLE + "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        header_html,
    ]
    for name, fig in figures:
        parts.append(figure_html(fig, div_id=f"fig-{name.replace(' ', '-')}"))
    parts.append("</body></html>")
    page = "\n".join(parts)
    if path is not None:
        write_text(path, page, f"the page {title!r}")
    return page


def figures_html(figures: Sequence[tuple[str, Any]]) -> str:
    """Return the figures for a notebook cell, with plotly.js only if this kernel has not sent it.

    It is sent again when the cell that carried it runs again (JupyterLab names each cell it
    runs): running a cell clears its old output, plotly.js with it.
    """
    parts = [figure_html(fig) for _, fig in figures]
    cell = _current_cell()
    if parts and (not _SENT["plotlyjs"] or (cell is not None and cell == _SENT["cell"])):
        _SENT["plotlyjs"], _SENT["cell"] = True, cell
        parts.insert(0, plotlyjs_html())
    return "".join(parts)


def _current_cell() -> str | None:
    # the id of the notebook cell the kernel is running, where the front end says it (JupyterLab and
    # Notebook 7 put it in the execute request's metadata; nbclient and papermill run each cell once)
    import sys

    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    header = getattr(shell, "parent_header", None)
    if not isinstance(header, dict):
        return None
    cell = header.get("metadata", {}).get("cellId")
    return cell if isinstance(cell, str) and cell else None


def notebook_styles() -> str:
    """Return the few CSS rules that keep a cell's headings, text and tables apart."""
    return (
        "<style>.bifrost-report h3,.bifrost-report h4{margin:1em 0 0.4em 0}"
        " .bifrost-report p{margin:0.3em 0 0.6em 0} .bifrost-report table{margin:0.3em 0 1em 0}</style>"
    )
