"""Recording corporate actions by hand (a split or dividend the bar source did not carry)."""

from __future__ import annotations

import pandas as pd

from bifrost.data._report import IngestReport, new_ingest_id
from bifrost.data._store import BarStore
from bifrost.data._validate import ACTION_KINDS, ValidatedBars, empty_actions
from bifrost.errors import InvalidInputError

__all__ = ["record_actions"]


def record_actions(store: BarStore, actions: pd.DataFrame, *, origin: str = "manual") -> IngestReport:
    """Record corporate actions: a frame of ``symbol, ts, kind, value``.

    ``kind`` is ``split`` (value: new shares per old share, 2.0 for 2-for-1) or ``dividend``
    (value: cash per share in the bars' currency). ``ts`` is the ex-date. The symbol must
    already have bars. Re-recording the same (symbol, ts, kind) replaces its value.

    Raises
    ------
    InvalidInputError
        On an unknown kind, a non-positive value, a bad date, or a symbol with no bars.
    """
    missing = [c for c in ("symbol", "ts", "kind", "value") if c not in actions.columns]
    if missing:
        raise InvalidInputError(f"{origin}: corporate actions need columns {missing}")
    known = set(store.list_symbols()["symbol"])
    frame = empty_actions()
    rows = []
    for i, (sym, ts, kind, value) in enumerate(actions[["symbol", "ts", "kind", "value"]].itertuples(index=False)):
        where = f"{origin}: row {i + 1} ({sym} {ts})"
        if sym not in known:
            raise InvalidInputError(f"{where}: symbol {sym!r} has no bars in the store")
        if kind not in ACTION_KINDS:
            raise InvalidInputError(f"{where}: kind must be one of {ACTION_KINDS}, got {kind!r}")
        try:
            stamp = pd.Timestamp(ts)
            value_f = float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{where}: bad date or value: {exc}") from exc
        if not value_f > 0 or (kind == "split" and value_f == 1.0):
            raise InvalidInputError(f"{where}: {kind} value must be positive (and not 1 for a split), got {value!r}")
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        rows.append({"symbol": sym, "ts": stamp.normalize(), "kind": kind, "value": value_f})
    if rows:
        frame = pd.DataFrame(rows).astype({"ts": "datetime64[ns, UTC]"})
    empty_bars = pd.DataFrame(
        {c: pd.Series(dtype="float64") for c in ("open", "high", "low", "close", "volume")},
        index=pd.MultiIndex.from_arrays(
            [pd.Index([], dtype=object), pd.DatetimeIndex([], tz="UTC")], names=["symbol", "ts"]
        ),
    )
    validated = ValidatedBars(origin=origin, bars=empty_bars, actions=frame, issues=(), rows_read=0)
    return store.write(validated, ingest_id=new_ingest_id(), source="manual")
