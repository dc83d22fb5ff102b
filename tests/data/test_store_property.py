"""The store against a plain in-memory model: random ingests, partial revisions, compactions.

A `RuleBasedStateMachine` applies random sequences of ingests (new symbols, partial
revisions of some symbols of a segment, some fields only: a source without adj_close),
corporate actions and compactions to a real store, and applies the same merge rule to a
dict of ``(symbol, ts) -> row`` (the rule the README states: a revised bar replaces the
fields its source provides, the others, such as adj_close, are kept). After every step
every read path is compared with the model: ``read_bars`` of one, some and all symbols,
with and without date bounds, and ``read_panel`` with every field set, symbols None or a
list, each adjustment and each frequency.

Prices are multiples of 1/8 and volumes integers, so raw reads and weekly sums are exact.
The same machine runs on the embedded store and on PostgreSQL. It found the stale and
duplicate rows of issue 10 item 1 (a read that took more than half of a segment kept the
dead rows of symbols revised into a newer segment) in its first few examples.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from bifrost.data import ADJUSTMENTS, BarColumns, BarStore, EmbeddedStore, ingest, record_actions
from bifrost.data._postgres import PostgresStore
from bifrost.testing import FrameBarSource

SYMBOLS = ("A", "B", "BRK.B", "C", "D")
# 25 sessions over two months (two monthly buckets, a few weekly ones, two PostgreSQL partitions)
CALENDAR = pd.bdate_range("2020-01-20", periods=25, tz="UTC")
FIELDS = ("open", "high", "low", "close", "volume", "adj_close")
DEFAULT_FIELDS = ["open", "high", "low", "close", "volume"]
_NS_PER_DAY = 86_400 * 10**9

PROPERTY_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=10,
    deadline=None,
    database=None,  # the CI run is the record; a failure prints its steps
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


_days = st.integers(0, len(CALENDAR) - 1)


def _symbol_sets(symbols: Sequence[str], max_size: int = len(SYMBOLS)) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(symbols), min_size=1, max_size=min(max_size, len(symbols)), unique=True)


def _bar(level: int, day: int) -> dict[str, float]:
    # a valid bar; the level decides whether a re-ingest revises (new level) or repeats it
    close = 10.0 + 2 * level + day / 8
    open_ = close - (level % 2) / 4
    return {
        "open": open_,
        "high": max(open_, close) + 0.5,
        "low": min(open_, close) - 0.5,
        "close": close,
        "volume": float(1000 * (level + 1) + day),
        "adj_close": close / 2 + level / 8,
    }


class StoreModel(RuleBasedStateMachine):
    """One store, one model; each rule changes or reads both."""

    def __init__(self, open_store: Callable[[], tuple[BarStore, Callable[[], None]]]) -> None:
        super().__init__()
        self.store, self._dispose = open_store()
        self.bars: dict[tuple[str, pd.Timestamp], dict[str, float]] = {}
        self.actions: dict[tuple[str, pd.Timestamp, str], float] = {}
        self._cached: pd.DataFrame | None = None

    def teardown(self) -> None:
        try:
            check = self.store.verify()
            assert check.ok, str(check)
            assert check.rows == len(self.bars) and check.removed == ()  # no orphan survives a write
        finally:
            self._dispose()

    # -- changes ---------------------------------------------------------------------
    @initialize(data=st.data())
    def first_ingest(self, data: st.DataObject) -> None:
        self._ingest(data, data.draw(_symbol_sets(SYMBOLS), label="symbols"))

    @rule(data=st.data())
    def ingest_bars(self, data: st.DataObject) -> None:
        self._ingest(data, data.draw(_symbol_sets(SYMBOLS), label="symbols"))

    @rule(data=st.data())
    def revise_some(self, data: st.DataObject) -> None:
        # a partial revision: a few of the stored symbols, new values and maybe new dates
        stored = sorted({s for s, _ in self.bars})
        self._ingest(data, data.draw(_symbol_sets(stored, max_size=2), label="revised"))

    def _ingest(self, data: st.DataObject, symbols: Sequence[str]) -> None:
        with_adj = data.draw(st.booleans(), label="with adj_close")
        rows = []
        for sym in symbols:
            level = data.draw(st.integers(0, 2), label=f"{sym} level")
            first, last = sorted(data.draw(st.tuples(_days, _days), label=f"{sym} days"))
            for day in range(first, last + 1):
                bar = _bar(level, day)
                if not with_adj:
                    del bar["adj_close"]
                rows.append({"symbol": sym, "ts": CALENDAR[day], **bar})
        frame = pd.DataFrame(rows)
        ingest(self.store, FrameBarSource(frame))
        for row in rows:
            key = (row["symbol"], row["ts"])
            stored = self.bars.get(key, {"adj_close": np.nan})
            self.bars[key] = {**stored, **{f: row[f] for f in FIELDS if f in row}}
        self._cached = None

    @rule(data=st.data())
    def record_action(self, data: st.DataObject) -> None:
        stored = sorted({s for s, _ in self.bars})
        if not stored:
            return
        sym = data.draw(st.sampled_from(stored))
        first = min(ts for s, ts in self.bars if s == sym)  # an ex-date falls on or after the first bar
        day = data.draw(st.sampled_from([d for d in CALENDAR if d >= first]))
        kind, value = data.draw(
            st.sampled_from([("split", 2.0), ("split", 0.5), ("dividend", 0.25), ("dividend", 1.0)])
        )
        record_actions(self.store, pd.DataFrame([{"symbol": sym, "ts": day, "kind": kind, "value": value}]))
        self.actions[(sym, day, kind)] = value

    @rule()
    def compact(self) -> None:
        self.store.compact()

    # -- reads -----------------------------------------------------------------------
    @invariant()
    def all_symbols_read_as_the_model(self) -> None:
        model = self._frame()
        got = self.store.read_bars(None, fields=list(FIELDS))
        assert not got.index.duplicated().any(), "read_bars(None) returned duplicate (symbol, ts) rows"
        _assert_bars(got, model)
        listing = self.store.list_symbols()
        counts = model.groupby(level="symbol").size()
        assert dict(zip(listing["symbol"], listing["rows"], strict=True)) == {str(k): int(v) for k, v in counts.items()}
        panel = self.store.read_panel(None, fields=list(FIELDS))
        _assert_panel(panel, model, sorted(counts.index), list(FIELDS))

    @rule(data=st.data())
    def read_as_the_model(self, data: st.DataObject) -> None:
        stored = sorted({s for s, _ in self.bars})
        if not stored:
            return
        symbols: list[str] | None = data.draw(
            st.none() | st.lists(st.sampled_from(stored), min_size=1, max_size=len(stored), unique=True)
        )
        start = data.draw(st.none() | st.integers(0, len(CALENDAR) - 1).map(lambda d: CALENDAR[d]))
        end = data.draw(st.none() | st.integers(1, len(CALENDAR)).map(lambda d: CALENDAR[0] + pd.Timedelta(days=d * 2)))
        if start is not None and end is not None and end <= start:
            end = None
        fields = data.draw(st.none() | st.lists(st.sampled_from(FIELDS), min_size=1, unique=True))
        adjustment = data.draw(st.sampled_from(ADJUSTMENTS))
        frequency = data.draw(st.sampled_from(["1d", "1w", "1mo"]))
        names = sorted(stored if symbols is None else symbols)
        wanted = DEFAULT_FIELDS if fields is None else list(fields)
        want = self._expected(names, start, end, wanted, adjustment, frequency)
        asked: str | list[str] | None = symbols
        if symbols is not None and len(symbols) == 1 and data.draw(st.booleans(), label="as a string"):
            asked = symbols[0]
        kwargs = {"fields": fields, "adjustment": adjustment, "frequency": frequency}
        got = self.store.read_bars(asked, start, end, **kwargs)  # type: ignore[arg-type]
        _assert_bars(got, want, exact=adjustment == "raw")
        panel = self.store.read_panel(asked, start, end, **kwargs)  # type: ignore[arg-type]
        assert panel.adjustment == adjustment
        # a raw or split-adjusted panel of the default fields carries each ex-date's dividend per share too
        with_dividends = fields is None and adjustment != "adjusted"
        _assert_panel(panel, want, names, wanted + ["dividend"] * with_dividends, exact=adjustment == "raw")
        if with_dividends and adjustment == "raw" and frequency == "1d":
            self._assert_dividends(panel, want, names)

    def _assert_dividends(self, panel: object, want: pd.DataFrame, names: Sequence[str]) -> None:
        from bifrost.data import Panel

        assert isinstance(panel, Panel)
        held = want["close"].unstack("symbol").reindex(index=list(panel.ts), columns=list(names)).notna().to_numpy()
        expected = np.zeros(held.shape)
        for i, ts in enumerate(panel.ts):
            for j, sym in enumerate(names):
                expected[i, j] = self.actions.get((sym, ts, "dividend"), 0.0)
        np.testing.assert_array_equal(panel["dividend"][held], expected[held], err_msg="panel field dividend")

    # -- the model's reads -----------------------------------------------------------
    def _frame(self) -> pd.DataFrame:
        if self._cached is None:
            self._cached = self._build_frame()
        return self._cached

    def _build_frame(self) -> pd.DataFrame:
        if not self.bars:
            index = pd.MultiIndex.from_arrays(
                [pd.Index([], dtype=object), pd.DatetimeIndex([], tz="UTC")], names=["symbol", "ts"]
            )
            return pd.DataFrame({f: pd.Series(dtype=np.float64) for f in FIELDS}, index=index)
        keys = sorted(self.bars)
        index = pd.MultiIndex.from_tuples(keys, names=["symbol", "ts"])
        return pd.DataFrame([self.bars[k] for k in keys], index=index)[list(FIELDS)]

    def _expected(
        self,
        names: Sequence[str],
        start: pd.Timestamp | None,
        end: pd.Timestamp | None,
        fields: list[str],
        adjustment: str,
        frequency: str,
    ) -> pd.DataFrame:
        frame = self._frame()
        frame = frame[frame.index.get_level_values("symbol").isin(names)]
        ts = frame.index.get_level_values("ts")
        if start is not None:
            frame = frame[ts >= start]
        if adjustment != "raw":
            # back-adjustment needs the bars after `end` (the close before a later dividend)
            actions = pd.DataFrame(
                [{"symbol": s, "ts": t, "kind": k, "value": v} for (s, t, k), v in sorted(self.actions.items())],
                columns=["symbol", "ts", "kind", "value"],
            )
            actions = actions[actions["symbol"].isin(names)]
            cols = BarColumns.from_frame(frame).adjusted(actions, adjustment)  # type: ignore[arg-type]
            frame = cols.to_frame()[list(FIELDS)]
        if end is not None:
            frame = frame[frame.index.get_level_values("ts") < end]
        if frequency != "1d" and len(frame):
            frame = _resample(frame, frequency)
        return frame[fields]


def _resample(frame: pd.DataFrame, frequency: str) -> pd.DataFrame:
    ts = frame.index.get_level_values("ts")
    if frequency == "1w":
        bucket = ts.normalize() - pd.to_timedelta(ts.day_of_week, unit="D")  # weeks from Monday
    else:
        bucket = ts.tz_localize(None).to_period("M").to_timestamp().tz_localize("UTC")
    grouped = frame.groupby([frame.index.get_level_values("symbol"), bucket], sort=True)
    out = grouped.agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum", "adj_close": "last"}
    )
    # "last" skips NaN in pandas; the store's last is the last bar's value, NaN or not
    out["adj_close"] = grouped["adj_close"].nth(-1).to_numpy()
    return out.rename_axis(["symbol", "ts"])


def _keys(frame: pd.DataFrame) -> tuple[list[str], list[int]]:
    sym = frame.index.get_level_values("symbol")
    ts = pd.DatetimeIndex(frame.index.get_level_values("ts")).as_unit("ns").asi8
    return [str(s) for s in sym], ts.tolist()


def _assert_bars(got: pd.DataFrame, want: pd.DataFrame, *, exact: bool = True) -> None:
    assert list(got.columns) == list(want.columns)
    assert _keys(got) == _keys(want), "the (symbol, ts) rows differ from the model's"
    np.testing.assert_allclose(
        got.to_numpy(dtype=np.float64),
        want.to_numpy(dtype=np.float64),
        rtol=0 if exact else 1e-12,
        err_msg=f"fields {list(want.columns)}",
    )


def _assert_panel(
    panel: object, want: pd.DataFrame, names: Sequence[str], fields: list[str], *, exact: bool = True
) -> None:
    from bifrost.data import Panel

    assert isinstance(panel, Panel)
    calendar = sorted(set(want.index.get_level_values("ts")))
    assert panel.symbols == tuple(names)
    assert list(panel.ts) == calendar
    assert list(panel.fields) == fields
    for f in (f for f in fields if f != "dividend"):  # the model's dividends are checked on their own
        expected = (
            want[f].unstack("symbol").reindex(index=calendar, columns=list(names)).to_numpy(dtype=np.float64)
            if len(want)
            else np.empty((0, len(names)))
        )
        np.testing.assert_allclose(panel[f], expected, rtol=0 if exact else 1e-12, err_msg=f"panel field {f}")


def _embedded() -> tuple[BarStore, Callable[[], None]]:
    home = Path(tempfile.mkdtemp(prefix="bifrost-prop-"))
    store = EmbeddedStore(home / "home")

    def dispose() -> None:
        store.close()
        shutil.rmtree(home, ignore_errors=True)

    return store, dispose


@pytest.mark.filterwarnings("ignore::bifrost.errors.DataQualityWarning")  # values are compared, not notes
def test_store_random_ingests_revisions_and_compactions_read_as_the_model_embedded() -> None:
    run_state_machine_as_test(lambda: StoreModel(_embedded), settings=PROPERTY_SETTINGS)


@pytest.mark.postgres
@pytest.mark.filterwarnings("ignore::bifrost.errors.DataQualityWarning")  # values are compared, not notes
def test_store_random_ingests_revisions_and_compactions_read_as_the_model_postgres(pg_url: str) -> None:
    def open_pg() -> tuple[BarStore, Callable[[], None]]:
        schema = f"p_{uuid.uuid4().hex[:12]}"
        home = Path(tempfile.mkdtemp(prefix="bifrost-prop-"))
        store = PostgresStore(pg_url, home=home, schema=schema, pool_size=1, timescale=False)

        def dispose() -> None:
            store.close()
            with psycopg.connect(pg_url, autocommit=True) as con:
                con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            shutil.rmtree(home, ignore_errors=True)

        return store, dispose

    run_state_machine_as_test(lambda: StoreModel(open_pg), settings=PROPERTY_SETTINGS)
