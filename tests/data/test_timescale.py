"""TimescaleDB mode: bars live in a hypertable, chunked by time."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest

from bifrost.data import CsvSource, ingest
from bifrost.data._postgres import PostgresStore
from tests.conftest import ORCL

pytestmark = pytest.mark.timescale


def test_timescale_bars_are_a_hypertable_chunked_by_year(timescale_url: str, tmp_path: Path) -> None:
    store = PostgresStore(timescale_url, home=tmp_path, schema="ts_hyper", pool_size=1)  # detected, not forced
    try:
        assert store.describe()["mode"] == "timescaledb hypertable"
        ingest(store, CsvSource(ORCL, symbol="ORCL"))
        with store.pool.connection() as con:
            hyper = con.execute(
                "SELECT hypertable_schema, hypertable_name FROM timescaledb_information.hypertables "
                "WHERE hypertable_schema = 'ts_hyper'"
            ).fetchall()
            ranges = con.execute(
                "SELECT range_start, range_end FROM timescaledb_information.chunks "
                "WHERE hypertable_schema = 'ts_hyper' ORDER BY range_start"
            ).fetchall()
        assert hyper == [("ts_hyper", "bars")]
        # fixed one-year chunks from TimescaleDB's epoch, not calendar years: 1995-01-03 …
        # 2014-12-31 straddles 21 of them, contiguous and covering every bar
        assert len(ranges) == 21
        assert {(end - start).days for start, end in ranges} == {365}
        assert all(a[1] == b[0] for a, b in pairwise(ranges))
        assert ranges[0][0] <= pd.Timestamp("1995-01-03", tz="UTC") and ranges[-1][1] > pd.Timestamp(
            "2014-12-31", tz="UTC"
        )
    finally:
        with store.pool.connection() as con:
            con.execute("DROP SCHEMA ts_hyper CASCADE")
        store.close()
