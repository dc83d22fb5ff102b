"""Figures for notebooks: `NotebookFigure`, a plotly Figure shown as self-contained HTML.

A notebook that draws a chart of its own (the library's results bring theirs) builds it as a
`NotebookFigure`: its output is HTML that JupyterLab, nbconvert's HTML export and Voila all
keep, with plotly.js sent once per kernel and never fetched from a CDN. Importing this module
imports plotly.
"""

from __future__ import annotations

from bifrost._plotly import NotebookFigure

__all__ = ["NotebookFigure"]
