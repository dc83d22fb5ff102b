"""The bars' change marker: one small query that moves with every ingest, on every backend."""

from __future__ import annotations

import pandas as pd

from bifrost.data import BarStore, CsvSource, ingest, record_actions, remove_actions
from tests.conftest import NVDA, ORCL


def test_ingest_marker_ingest_and_actions_change_it_reads_do_not(store: BarStore) -> None:
    empty = store.ingest_marker()
    ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2014-01-01")
    first = store.ingest_marker()
    store.read_bars("ORCL")
    store.list_symbols()
    assert first != empty
    assert store.ingest_marker() == first  # reading changes nothing
    ingest(store, CsvSource(NVDA, symbol="NVDA"), start="2014-06-01")
    second = store.ingest_marker()
    assert second not in (empty, first)
    # a recorded and a removed action each reach the ingest log, so the marker moves with them
    dividend = pd.DataFrame({"symbol": ["ORCL"], "ts": [pd.Timestamp("2014-04-08", tz="UTC")], "kind": ["dividend"],
                             "value": [0.12]})  # fmt: skip
    record_actions(store, dividend)
    recorded = store.ingest_marker()
    remove_actions(store, dividend[["symbol", "ts", "kind"]])
    assert len({empty, first, second, recorded, store.ingest_marker()}) == 5
    assert len(store.ingest_log()) == 4


def test_ingest_marker_another_store_object_sees_the_same_text(store: BarStore) -> None:
    ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2014-01-01")
    assert store.ingest_marker().startswith("ingests:1:")
