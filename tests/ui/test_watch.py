"""ChangeWatcher: only the components whose markers moved are refreshed."""

from __future__ import annotations

import threading
from typing import ClassVar

import pytest

from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.errors import InvalidInputError
from bifrost.risk import Limit, set_limits
from bifrost.ui import ChangeWatcher, Component, Marker
from tests.conftest import DATA


class Counting(Component):
    def __init__(self, store: EmbeddedStore, markers: tuple[Marker, ...]) -> None:
        super().__init__(store)
        self.markers = markers  # type: ignore[misc]  # per instance, for the test
        self.draws = 0

    markers: ClassVar[tuple[Marker, ...]] = ()

    def _draw(self) -> None:
        self.draws += 1


def test_change_watcher_refreshes_only_what_depends_on_the_changed_marker(ui_store: EmbeddedStore) -> None:
    bars, alerts, portfolios = (Counting(ui_store, (m,)) for m in ("bars", "alerts", "portfolios"))
    watcher = ChangeWatcher(ui_store, [bars, alerts, portfolios])
    assert watcher.poll() == []
    # 2006-day-001.txt: backtrader's sample daily file, ingested by another writer of the store
    ingest(ui_store, CsvSource(DATA / "backtrader" / "2006-day-001.txt", symbol="BT"))
    assert watcher.poll() == [bars]
    set_limits(ui_store, "desk", (Limit(name="name", metric="single_name", threshold=0.5),))
    assert watcher.poll() == [alerts]
    assert (bars.draws, alerts.draws, portfolios.draws) == (1, 1, 0)


def test_change_watcher_thread_polls_until_stopped(ui_store: EmbeddedStore) -> None:
    seen = threading.Event()
    watcher = ChangeWatcher(ui_store, [Counting(ui_store, ("bars",))], interval_s=0.05,
                            on_change=lambda markers: seen.set())  # fmt: skip
    watcher.start()
    try:
        assert watcher.running
        ingest(ui_store, CsvSource(DATA / "backtrader" / "2006-day-001.txt", symbol="BT"))
        assert seen.wait(30)
    finally:
        watcher.stop()
    assert not watcher.running


def test_change_watcher_bad_interval_is_refused(ui_store: EmbeddedStore) -> None:
    with pytest.raises(InvalidInputError, match="interval_s"):
        ChangeWatcher(ui_store, [], interval_s=0)


class Live(Counting):
    def live(self) -> bool:
        return True


def test_change_watcher_live_component_is_redrawn_every_poll(ui_store: EmbeddedStore) -> None:
    still, moving = Counting(ui_store, ("runs",)), Live(ui_store, ("runs",))
    watcher = ChangeWatcher(ui_store, [still, moving])
    assert watcher.poll() == [moving]
    assert watcher.poll() == [moving]
    assert (still.draws, moving.draws) == (0, 2)
