"""`NotebookFigure`: a plotly Figure that a notebook shows as HTML (imported only with plotly)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from bifrost._figures import figures_html

__all__ = ["NotebookFigure"]


class NotebookFigure(go.Figure):  # type: ignore[misc]  # plotly ships no type information
    """A `plotly.graph_objects.Figure` whose notebook output is HTML, not plotly's own mimetype.

    A bare Figure's cell holds only ``application/vnd.plotly.v1+json``, which nbconvert drops
    (with a warning) and which needs plotly's JupyterLab extension; this one's cell is the
    HTML of `bifrost._figures` (plotly.js once per kernel), kept by JupyterLab, nbconvert and
    Voila alike. Everything else is plotly's Figure: ``update_layout``, ``write_html``, ...
    """

    def _repr_html_(self) -> str:
        return figures_html([("figure", self)])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, str]:
        return {"text/html": self._repr_html_()}

    def _ipython_display_(self) -> None:
        # plotly's Figure defines this hook, which IPython calls before any _repr_*_ method
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)  # type: ignore[no-untyped-call]
