"""Recording corporate actions by hand (a split or dividend the bar source did not carry)."""

from __future__ import annotations

import math

import pandas as pd

from bifrost._checks import PRICE_MAX, as_utc_timestamp, finite_in_range, quote, symbol_problem
from bifrost.data._action_checks import warn_contradicted
from bifrost.data._report import IngestReport, new_ingest_id
from bifrost.data._store import BarStore
from bifrost.data._validate import ACTION_KINDS, SPLIT_MAX, SPLIT_MIN, ValidatedBars, empty_actions
from bifrost.errors import InvalidInputError

__all__ = ["record_actions", "remove_actions"]


def record_actions(store: BarStore, actions: pd.DataFrame, *, origin: str = "manual") -> IngestReport:
    """Record corporate actions: a frame of ``symbol, ts, kind, value``.

    ``kind`` is ``split`` (value: new shares per old share, 2.0 for 2-for-1) or ``dividend``
    (value: cash per share in the bars' currency). ``ts`` is the ex-date. The symbol must
    already have bars. Re-recording the same (symbol, ts, kind) replaces its value.

    Actions are validated as bars are: a split ratio is finite, not 1, and within
    1/1000 … 1000; a dividend is finite, positive, and below the close of the last bar
    before its ex-date (the bar on the ex-date when the store has none before), since
    the total-return factor ``1 - dividend / close`` must stay positive.

    Each action is then checked against the stored raw closes around its ex-date
    (`bifrost.data._action_checks`): one they contradict (a 2-for-1 split with no ~50%
    fall, on a file that is already split-adjusted) is recorded, and a
    `DataQualityWarning` names it; ``check_quality`` keeps reporting it.

    Raises
    ------
    InvalidInputError
        On an unknown kind, a value outside those rules, a bad date (outside 1678 … 2261),
        an ex-date before the symbol's first bar or after today, or a symbol with no bars;
        nothing is recorded.
    """
    if not isinstance(actions, pd.DataFrame):
        raise InvalidInputError(f"{origin}: corporate actions must be a DataFrame, got {type(actions).__name__}")
    missing = [c for c in ("symbol", "ts", "kind", "value") if c not in actions.columns]
    if missing:
        raise InvalidInputError(f"{origin}: corporate actions need columns {missing}")
    listed = store.list_symbols()
    first_bar: dict[str, pd.Timestamp] = dict(zip(listed["symbol"], listed["first"], strict=True))
    known = set(first_bar)
    today = pd.Timestamp.now(tz="UTC").normalize()
    frame = empty_actions()
    rows = []
    for i, (sym, ts, kind, value) in enumerate(actions[["symbol", "ts", "kind", "value"]].itertuples(index=False)):
        where = f"{origin}: row {i + 1} ({quote(sym, 40)} {quote(ts, 40)})"
        if symbol_problem(sym) is not None:
            raise InvalidInputError(f"{where}: symbol {quote(sym)} is not a valid symbol: {symbol_problem(sym)}")
        if sym not in known:
            raise InvalidInputError(f"{where}: symbol {sym!r} has no bars in the store")
        if kind not in ACTION_KINDS:
            raise InvalidInputError(f"{where}: kind must be one of {ACTION_KINDS}, got {quote(kind)}")
        stamp = as_utc_timestamp(ts, f"{where}: bad date: the ex-date").normalize()
        first = first_bar[sym].normalize()
        if not first <= stamp <= today:
            # an action before the first bar adjusts nothing; one not yet happened would
            # rewrite every adjusted price of today
            raise InvalidInputError(
                f"{where}: the ex-date {stamp.date()} must fall between {sym}'s first bar ({first.date()}) "
                f"and today ({today.date()})"
            )
        value_f = _action_value(store, str(sym), stamp, str(kind), value, where)
        rows.append({"symbol": sym, "ts": stamp, "kind": kind, "value": value_f})
    if rows:
        frame = pd.DataFrame(rows).astype({"ts": "datetime64[ns, UTC]"})
    validated = ValidatedBars(origin=origin, bars=_no_bars(), actions=frame, issues=(), rows_read=0)
    report = store.write(validated, ingest_id=new_ingest_id(), source="manual")
    # recorded as asked (the user may know better), but a split the prices do not show is named
    warn_contradicted(store, frame)
    return report


def _action_value(store: BarStore, symbol: str, ex_date: pd.Timestamp, kind: str, value: object, where: str) -> float:
    # the same rules validate_bars applies to a source's dividend and split columns; the
    # bounds are the kind's, below, with their own advice
    value_f = finite_in_range(value, f"{where}: the {kind} value", lo=-math.inf, hi=math.inf)
    if kind == "split":
        if not SPLIT_MIN <= value_f <= SPLIT_MAX or value_f == 1.0:
            raise InvalidInputError(
                f"{where}: a split ratio must be positive and within [{SPLIT_MIN:g}, {SPLIT_MAX:g}] new shares "
                f"per old share (2 for 2-for-1, 0.1 for 1-for-10) and not 1, got {quote(value)}"
            )
        return value_f
    if not 0.0 < value_f <= PRICE_MAX:
        raise InvalidInputError(
            f"{where}: a dividend must be a positive cash amount per share (at most {PRICE_MAX:g}), got {quote(value)}"
        )
    close = _close_before(store, symbol, ex_date)
    if close is not None and value_f >= close[1]:
        raise InvalidInputError(
            f"{where}: a dividend of {value_f:g} is not below {symbol}'s close of {close[1]:g} on {close[0].date()}, "
            "the last bar before its ex-date (cash per share, in the bars' currency: check the amount)"
        )
    return value_f


def _close_before(store: BarStore, symbol: str, ex_date: pd.Timestamp) -> tuple[pd.Timestamp, float] | None:
    # the close the adjustment divides the dividend by; the ex-date's own bar when the
    # store has nothing earlier; None when it has neither
    bars = store.read_bars(symbol, fields=["close"])
    ts = pd.DatetimeIndex(bars.index.get_level_values("ts"))
    before = int(ts.searchsorted(ex_date, side="left"))
    if before == 0 and (len(ts) == 0 or ts[0] != ex_date):
        return None
    k = max(before - 1, 0)
    return ts[k], float(bars["close"].iloc[k])


def remove_actions(store: BarStore, actions: pd.DataFrame, *, origin: str = "manual") -> int:
    """Remove recorded corporate actions: a frame of ``symbol, ts, kind``; return how many were removed.

    For an action recorded by mistake (a split the prices already carry: `check_quality`
    reports it as ``action-contradicted``). Every row must name an action the store holds;
    they are removed in one transaction, and the store's ingest log notes the change (so a
    server's cached prices are read again).

    Raises
    ------
    InvalidInputError
        On a bad symbol, kind or date, or an action the store does not hold (the message lists
        what it holds for that symbol); nothing is removed.
    """
    if not isinstance(actions, pd.DataFrame):
        raise InvalidInputError(f"{origin}: corporate actions must be a DataFrame, got {type(actions).__name__}")
    missing = [c for c in ("symbol", "ts", "kind") if c not in actions.columns]
    if missing:
        raise InvalidInputError(f"{origin}: corporate actions to remove need columns {missing}")
    held = store.read_actions()
    keys: list[tuple[str, str, str]] = []
    for i, (sym, ts, kind) in enumerate(actions[["symbol", "ts", "kind"]].itertuples(index=False)):
        where = f"{origin}: row {i + 1} ({quote(sym, 40)} {quote(ts, 40)})"
        if symbol_problem(sym) is not None:
            raise InvalidInputError(f"{where}: symbol {quote(sym)} is not a valid symbol: {symbol_problem(sym)}")
        if kind not in ACTION_KINDS:
            raise InvalidInputError(f"{where}: kind must be one of {ACTION_KINDS}, got {quote(kind)}")
        stamp = as_utc_timestamp(ts, f"{where}: bad date: the ex-date").normalize()
        mine = held[held["symbol"] == sym]
        if not ((mine["ts"] == stamp) & (mine["kind"] == kind)).any():
            shown = ", ".join(f"{k} {v:g} on {t.date()}" for t, k, v in mine[["ts", "kind", "value"]].itertuples(
                index=False)) or "none"  # fmt: skip
            raise InvalidInputError(f"{where}: no {kind} of {sym} on {stamp.date()} is recorded (recorded: {shown})")
        keys.append((str(sym), stamp.isoformat(), str(kind)))
    if not keys:
        return 0
    with store.transaction(lock="bars") as db:
        for sym, stamp_text, kind in keys:
            # both backends compare the ex-date as a timestamp (SQLite keeps the ISO text actions_rows wrote)
            db.run(
                "DELETE FROM {t}corporate_actions WHERE symbol = ? AND ts = ? AND kind = ?"
                if not db.postgres
                else "DELETE FROM {t}corporate_actions WHERE symbol = ? AND ts = ?::timestamptz AND kind = ?",
                (sym, stamp_text, kind),
            )
    noted = ValidatedBars(origin=f"{origin}: removed {len(keys)} action(s)", bars=_no_bars(), actions=empty_actions(),
                          issues=(), rows_read=0)  # fmt: skip
    store.write(noted, ingest_id=new_ingest_id(), source="manual")
    return len(keys)


def _no_bars() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="float64") for c in ("open", "high", "low", "close", "volume")},
        index=pd.MultiIndex.from_arrays(
            [pd.Index([], dtype=object), pd.DatetimeIndex([], tz="UTC")], names=["symbol", "ts"]
        ),
    )
