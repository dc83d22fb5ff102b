"""Reusable ipywidgets components and the dashboard pages that ``widgets/*.ipynb`` display.

Every component takes a store explicitly and has ``refresh()``; a :class:`ChangeWatcher`
polls the store's cheap change markers and refreshes only what changed.  Only the
surfaces (Voila dashboards, notebooks) import this package.
"""

__all__: list[str] = []
