"""`ChangeWatcher`: poll the store's cheap change markers and refresh only the components that changed.

Each marker is one small query (`bifrost.data.BarStore.ingest_marker`,
`bifrost.portfolio.portfolios_marker`, `bifrost.risk.alerts_marker`,
`bifrost.jobs.runs_marker`, `bifrost.execution.orders_marker`): another process that ingests
bars, records a transaction, sets limits, checks them, runs a job or sends an order (or the
broker fills it) changes one, and the components that declared it
(`Component.markers`) redraw; nothing else on the page does. The watcher polls from a
daemon thread in the dashboard's kernel (every ``interval_s``, 1 s by default), or once per
`poll` call (tests drive it so, with no sleeping).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from bifrost.data import Store
from bifrost.errors import InvalidInputError
from bifrost.execution import orders_marker
from bifrost.portfolio import portfolios_marker
from bifrost.risk import alerts_marker
from bifrost.ui._base import Component, Marker, describe_error

__all__ = ["MARKERS", "ChangeWatcher", "runs_marker"]

log = logging.getLogger("bifrost.ui")


def _bars_marker(store: Store) -> str:
    return store.ingest_marker()


def runs_marker(store: Store) -> str:
    """Return `bifrost.jobs.runs_marker` of ``store`` (a constant where this bifrost has no run history)."""
    jobs: Any = importlib.import_module("bifrost.jobs")
    marker = getattr(jobs, "runs_marker", None)
    return "runs:none" if marker is None else str(marker(store))


MARKERS: Mapping[Marker, Callable[[Store], str]] = {
    "bars": _bars_marker,
    "portfolios": portfolios_marker,
    "alerts": alerts_marker,
    "runs": runs_marker,
    "orders": orders_marker,
}


class ChangeWatcher:
    """Refresh components when the store markers they depend on change (and live ones every poll).

    Parameters
    ----------
    store
        The store the markers are read from (the components' own).
    components
        What to refresh; each declares its markers in ``markers``.
    interval_s
        Seconds between two polls of the thread `start` runs.
    on_change
        Called after a poll that refreshed something, with the markers that changed (the
        page's status line).

    The markers' values are read once when the watcher is made: a change after that (and
    after the page's first draw) is seen by the next poll.
    """

    def __init__(
        self,
        store: Store,
        components: Sequence[Component] = (),
        *,
        interval_s: float = 1.0,
        on_change: Callable[[tuple[Marker, ...]], None] | None = None,
    ) -> None:
        if not interval_s > 0:
            raise InvalidInputError(f"interval_s must be a positive number of seconds, got {interval_s!r}")
        self.store = store
        self.components = list(components)
        self.interval_s = float(interval_s)
        self.on_change = on_change
        self.polls = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[Marker, str | None] = {m: self._read(m) for m in self._wanted()}

    def _wanted(self) -> list[Marker]:
        return list(dict.fromkeys(m for c in self.components for m in c.markers))

    def _read(self, marker: Marker) -> str | None:
        try:
            return MARKERS[marker](self.store)
        except Exception as exc:  # a store that is busy or away now: try again next poll
            self.last_error = describe_error(exc)
            log.warning("change marker %s could not be read: %s", marker, self.last_error)
            return None

    def add(self, component: Component) -> None:
        """Watch ``component`` too (its markers are read now)."""
        self.components.append(component)
        for m in component.markers:
            if m not in self._seen:
                self._seen[m] = self._read(m)

    def poll(self) -> list[Component]:
        """Read every marker once; refresh the components of those that changed; return them."""
        self.polls += 1
        changed: list[Marker] = []
        for m in self._wanted():
            now = self._read(m)
            if now is not None and now != self._seen.get(m):
                self._seen[m] = now
                changed.append(m)
        due = [c for c in self.components if set(c.markers) & set(changed) or c.live()]
        for component in due:
            component.refresh()
        if changed and self.on_change is not None:
            self.on_change(tuple(changed))
        return due

    def start(self) -> ChangeWatcher:
        """Poll every ``interval_s`` from a daemon thread until `stop`; return self."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bifrost-ui-watcher", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll()
            except Exception:  # a watcher never dies of one bad poll
                log.exception("change watcher poll failed")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the polling thread (after the poll it may be in)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        """Whether the polling thread runs."""
        return self._thread is not None and self._thread.is_alive()


def now_text() -> str:
    """Return the time of day in UTC, for a status line."""
    return pd.Timestamp.now(tz="UTC").strftime("%H:%M:%S UTC")
