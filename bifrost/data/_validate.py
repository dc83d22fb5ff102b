"""Validation of bars on every way in: one pass, every problem named with its place."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from bifrost._checks import (
    PRICE_MAX,
    PRICE_MIN,
    QUOTE_CHARS,
    TS_MAX,
    TS_MIN,
    VOLUME_MAX,
    quote,
    symbol_problem,
)
from bifrost._typing import BoolArray
from bifrost.data._columns import (
    INTRADAY_FREQUENCIES,
    PRICE_COLUMNS,
    REQUIRED_COLUMNS,
    STORED_FREQUENCIES,
    Frequency,
    bar_ns,
    infer_frequency,
    is_intraday,
)
from bifrost.errors import InvalidInputError, SchemaError, ValidationError

__all__ = [
    "ACTION_KINDS",
    "CLEARABLE",
    "OPTIONAL_COLUMNS",
    "PRICE_COLUMNS",
    "REQUIRED_COLUMNS",
    "SPLIT_MAX",
    "SPLIT_MIN",
    "Issue",
    "OnError",
    "ValidatedBars",
    "check_bar_columns",
    "validate_bars",
]

OnError = Literal["strict", "repair"]
OPTIONAL_COLUMNS = ("adj_close", "dividend", "split")
# the fields repair clears (keeping the bar) rather than drop the bar for; see validate_bars' Notes
CLEARABLE = frozenset(("open", "high", "low", "adj_close"))
ACTION_KINDS = ("dividend", "split")
_KEY_COLUMNS = ("symbol", "ts")
_ALLOWED = frozenset((*_KEY_COLUMNS, *REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "line"))
_MAX_IN_MESSAGE = 5
_MAX_NAMES_IN_MESSAGE = 20
# a split ratio (new shares per old share) outside 1-for-1000 .. 1000-for-1 is a typo
SPLIT_MIN = 1e-3
SPLIT_MAX = 1e3
_PRICE_RANGE = f"[{PRICE_MIN:g}, {PRICE_MAX:g}]"
_TS_RANGE = f"{TS_MIN.date()} to {TS_MAX.date()}"
# names a file may use for a canonical column, to suggest a fix for a misnamed one
_SPELLINGS = {
    "ts": ("ts", "date", "datetime", "timestamp", "time"),
    "symbol": ("symbol", "name", "ticker"),
    "adj_close": ("adj_close", "adj close", "adjclose", "adjusted_close"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Issue:
    """One problem found in one row of a load."""

    origin: str
    line: int | None
    symbol: str | None
    ts: str | None
    field: str | None
    reason: str
    # what was done to the row: rejected (strict), dropped, sorted, or "cleared": the bar
    # was kept without this field (repair's per-field policy, `validate_bars` Notes)
    action: Literal["rejected", "dropped", "sorted", "cleared"]

    def where(self) -> str:
        """Return the place of the issue as ``origin:line: SYMBOL DATE field``."""
        place = f"{self.origin}:{self.line}" if self.line is not None else self.origin
        parts = [p for p in (self.symbol, self.ts, self.field) if p]
        return f"{place}: {' '.join(parts)}" if parts else place

    def __str__(self) -> str:
        return f"{self.where()}: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatedBars:
    """Bars that passed validation, the corporate actions found in them, and the issues."""

    origin: str
    bars: pd.DataFrame  # canonical: (symbol, ts) index, float64 columns
    actions: pd.DataFrame  # symbol, ts, kind, value
    issues: tuple[Issue, ...]
    rows_read: int
    rows_dropped: int = 0  # input rows not stored (one row may have several issues)
    policy: OnError = "strict"
    frequency: Frequency = "1d"  # what the bars are: 1d (session dates) or intraday (bar opens, UTC)


def validate_bars(
    raw: pd.DataFrame, *, origin: str, on_error: OnError = "strict", frequency: Frequency | None = None
) -> ValidatedBars:
    """Validate a long frame of daily or intraday bars and return it in canonical form.

    Parameters
    ----------
    raw
        Columns ``symbol, ts, open, high, low, close, volume`` (or a ``(symbol, ts)``
        MultiIndex), optionally ``adj_close, dividend, split`` and ``line`` (the source
        line number, used in messages). Values may still be strings.
    origin
        Where the rows came from (a file path, ``yahoo``, ...), used in every message.
    on_error
        ``strict`` raises on the first load with any bad row; ``repair`` keeps what is
        valid (the per-field policy in Notes), drops the rest, sorts out-of-order rows, and
        lists each issue in ``issues`` with what was done (``action``).
    frequency
        What the bars are: ``1d`` or an intraday frequency (``1s`` … ``1h``); by default,
        what the timestamps show (see Notes). ``1w`` and ``1mo`` are read frequencies,
        not stored ones.

    Returns
    -------
    ValidatedBars
        Bars on a sorted ``(symbol, ts)`` index: daily bars stamped at their session date
        (00:00 UTC), intraday bars at their open in UTC with their time; ``frequency`` says which.

    Notes
    -----
    A row is bad when its symbol is not a symbol (`bifrost._checks`: 1-32 characters,
    no spaces or control characters), its date is unreadable or outside 1678-01-01 …
    2261-12-31, a value is non-numeric or non-finite (``inf``, ``1e309``), a price is not
    positive or outside ``[1e-8, 1e9]``, high/low do not bracket open and close, a
    volume is negative or above ``1e15``, a dividend is negative or not below the close
    before its ex-date, or a split ratio is outside ``[1/1000, 1000]``. Messages quote at
    most 80 characters of any field.

    Repair's policy, per field (``strict`` rejects the load for any of these):

    - ``open``, ``high``, ``low``, ``adj_close`` missing, non-numeric, non-finite, not
      positive or implausible: the bar is kept without that field (stored missing, NaN;
      issue action ``cleared``). A close is the bar: DHR 2015-07-17 in the 505-stock
      file has a close, high and low and no open. A backtest fills no order on a bar
      without open, high or low (it waits for the next), and values positions at the close.
    - ``close``, ``volume``, the date or the symbol bad, or ``high``/``low`` that do not
      bracket the open and close (which one is wrong is unknown), a duplicate, or a bad
      dividend or split: the row is dropped (``dropped``); a field cleared on a row that
      is dropped anyway is reported ``dropped`` too.
    - rows out of date order are sorted (``sorted``).

    The frequency, when not given, is inferred from the timestamps read with their times
    (`bifrost.data._columns.infer_frequency`): the most common gap between a symbol's
    consecutive bars. A gap of a day or more, or a single bar, makes a daily file: a daily
    file with times (yfinance's ``2014-12-01 00:00:00-05:00``, or ``2014-12-01 16:00``)
    is normalised to the session date, the date in the file's own time zone, as it always
    was. A gap under a day makes an intraday file at the frequency of exactly that length;
    its times are kept, converted to UTC by each row's offset (a time without an offset
    is UTC; offsets may differ across a daylight-saving change, but a file mixing rows
    with and without one is refused). A gap of no frequency's length (2 minutes) refuses
    the file, naming the gap: pass ``frequency`` then. The header does not decide: a
    ``Datetime`` column of one bar a day is a daily file, as it always was.

    Intraday bars are also checked against their bar grid: each symbol's bars must start
    at the same offset into each bar (``:30`` past each hour for NYSE hourly bars), and
    one that does not is reported; gaps (overnight, weekends, no trades) are normal.

    Raises
    ------
    SchemaError
        If required columns are missing or unknown columns are present.
    ValidationError
        In ``strict`` mode, if any row is bad; ``.issues`` lists all of them. In either
        mode, if no ``frequency`` is given and the bars' spacing matches none.
    InvalidInputError
        If ``on_error`` or ``frequency`` is not one of its values.
    """
    if on_error not in ("strict", "repair"):
        raise InvalidInputError(f"on_error must be 'strict' or 'repair', got {on_error!r}")
    if frequency is not None and frequency not in STORED_FREQUENCIES:
        raise InvalidInputError(
            f"frequency must be one of {STORED_FREQUENCIES} (bars are stored daily or intraday; "
            f"1w and 1mo are resampled reads), got {quote(frequency)}"
        )
    frame = _as_long(raw, origin)
    n = len(frame)
    lines = pd.to_numeric(frame["line"], errors="coerce").to_numpy() if "line" in frame else None
    drop_action: Literal["rejected", "dropped"] = "dropped" if on_error == "repair" else "rejected"
    collector = _Collector(origin, lines, drop_action)

    symbols = frame["symbol"].astype("string").str.strip()
    missing_sym = (symbols.isna() | (symbols == "")).to_numpy(dtype=bool)
    collector.add(missing_sym, symbols, None, "symbol", "missing symbol")
    bad_sym, why = _bad_symbols(symbols, missing_sym)
    collector.add(bad_sym, symbols, None, "symbol", "{note}", note=why)
    ts, frequency = _parse_ts(frame["ts"], collector, symbols, frequency, origin)
    collector.ts_text = ts.dt.strftime("%Y-%m-%dT%H:%M:%S" if is_intraday(frequency) else "%Y-%m-%d").to_numpy(
        dtype=object
    )
    if is_intraday(frequency):
        _check_grid(ts, frequency, collector, symbols)

    values: dict[str, np.ndarray] = {}
    present_optional = [c for c in OPTIONAL_COLUMNS if c in frame]
    for col in (*REQUIRED_COLUMNS, *present_optional):
        values[col] = _parse_numeric(frame[col], col, collector, symbols)

    for col in (*PRICE_COLUMNS, *(["adj_close"] if "adj_close" in values else [])):
        v = values[col]
        clears = col in CLEARABLE
        collector.add(np.isnan(v) & ~collector.non_numeric[col], symbols, v, col, f"missing {col}", clears=clears)
        collector.add(v <= 0, symbols, v, col, f"non-positive {col} {{value}}", clears=clears)
        collector.add(
            (v > 0) & ((v < PRICE_MIN) | (v > PRICE_MAX)),
            symbols,
            v,
            col,
            f"implausible {col} {{value}}: a price must be within {_PRICE_RANGE}",
            clears=clears,
        )
        if col in collector.cleared:
            # repair keeps the bar without this field: stored missing (NaN), checked no further
            values[col] = np.where(collector.cleared[col], np.nan, v)
    o, h, lo, c = (values[k] for k in PRICE_COLUMNS)
    with np.errstate(invalid="ignore"):
        top = np.fmax(o, c)
        bottom = np.fmin(o, c)
        collector.add(h < top, symbols, h, "high", "high {value} is below max(open, close) {ref}", ref=top)
        collector.add(lo > bottom, symbols, lo, "low", "low {value} is above min(open, close) {ref}", ref=bottom)
        collector.add(h < lo, symbols, h, "high", "high {value} is below low {ref}", ref=lo)
        vol = values["volume"]
        collector.add(np.isnan(vol) & ~collector.non_numeric["volume"], symbols, vol, "volume", "missing volume")
        collector.add(vol < 0, symbols, vol, "volume", "negative volume {value}")
        collector.add(
            vol > VOLUME_MAX,
            symbols,
            vol,
            "volume",
            f"implausible volume {{value}}: a volume must be within [0, {VOLUME_MAX:g}] shares",
        )
        if "dividend" in values:
            d = values["dividend"]
            collector.add(d < 0, symbols, d, "dividend", "negative dividend {value}")
            # the ex-date's factor is 1 - dividend / previous close: it must stay positive
            prev_close = _previous_close(symbols, ts, c)
            collector.add(
                (d > 0) & (d >= prev_close),
                symbols,
                d,
                "dividend",
                "dividend {value} is not below the close before its ex-date {ref}",
                ref=prev_close,
            )
            values["dividend"] = np.where(np.isnan(d), 0.0, d)
        if "split" in values:
            s = values["split"]
            collector.add(s <= 0, symbols, s, "split", "non-positive split ratio {value}")
            collector.add(
                (s > 0) & ((s < SPLIT_MIN) | (s > SPLIT_MAX)),
                symbols,
                s,
                "split",
                f"implausible split ratio {{value}}: a ratio must be within [{SPLIT_MIN:g}, {SPLIT_MAX:g}]"
                " new shares per old share",
            )
            values["split"] = np.where(np.isnan(s) | (s == 0.0), 1.0, s)

    keep = ~collector.bad
    collector.settle()
    sym_arr = symbols.to_numpy(dtype=object)
    ts_arr = ts.to_numpy()
    # duplicates: the last occurrence wins (a later row is the vendor's correction)
    key = pd.DataFrame({"symbol": sym_arr, "ts": ts_arr})
    dup = key.duplicated(keep="last").to_numpy() & keep
    if dup.any():
        later = _later_line_of_duplicate(key, lines, dup)
        what = "time" if is_intraday(frequency) else "date"
        collector.add(
            dup,
            symbols,
            None,
            "ts",
            f"duplicate {what}; a later row{{later}} has the same symbol and {what}",
            later=later,
        )
        keep &= ~dup
    # order: dates must rise within each symbol in file order
    kept = key[keep]
    prev = kept.groupby("symbol", sort=False)["ts"].shift()
    out_of_order = np.zeros(n, dtype=bool)
    out_of_order[np.flatnonzero(keep)] = (kept["ts"] < prev).to_numpy()
    if out_of_order.any():
        collector.add(
            out_of_order,
            symbols,
            None,
            "ts",
            "date out of order: comes after a later date",
            action="sorted" if on_error == "repair" else "rejected",
            drops=False,
        )

    issues = tuple(collector.issues)
    if issues and on_error == "strict":
        shown = "; ".join(str(i) for i in issues[:_MAX_IN_MESSAGE])
        more = f" (and {len(issues) - _MAX_IN_MESSAGE} more)" if len(issues) > _MAX_IN_MESSAGE else ""
        raise ValidationError(
            f"{origin}: {len(issues)} problem(s), nothing was stored: {shown}{more}. "
            "Fix the source, or load with on_error='repair' (--on-error repair) to drop "
            "bad rows into a quarantine report.",
            issues,
        )

    index = pd.MultiIndex.from_arrays(
        [pd.Index(sym_arr[keep], dtype=object, name="symbol"), pd.DatetimeIndex(ts_arr[keep], name="ts")]
    )
    bar_cols = [*REQUIRED_COLUMNS, *(["adj_close"] if "adj_close" in values else [])]
    bars = pd.DataFrame({c: values[c][keep] for c in bar_cols}, index=index).sort_index()
    actions = _actions(values, sym_arr[keep], ts_arr[keep], keep)
    return ValidatedBars(
        origin=origin,
        bars=bars,
        actions=actions,
        issues=issues,
        rows_read=n,
        rows_dropped=int((~keep).sum()),
        policy=on_error,
        frequency=frequency,
    )


class _Collector:
    """Accumulates issues row by row; ``bad`` marks rows that must not be stored."""

    def __init__(self, origin: str, lines: np.ndarray | None, drop_action: Literal["rejected", "dropped"]) -> None:
        self.origin = origin
        self.lines = lines
        self.drop_action = drop_action
        self.issues: list[Issue] = []
        self.bad: BoolArray = np.zeros(0, dtype=bool)
        self.ts_text: np.ndarray | None = None
        self.non_numeric: dict[str, BoolArray] = {}
        self.repair = drop_action == "dropped"
        self.cleared: dict[str, BoolArray] = {}
        self._rows: list[int] = []  # the row of each issue, to say at the end what became of it

    def add(
        self,
        mask: BoolArray,
        symbols: pd.Series,
        value: np.ndarray | None,
        field: str | None,
        template: str,
        *,
        ref: np.ndarray | None = None,
        later: np.ndarray | None = None,
        note: np.ndarray | None = None,
        action: Literal["rejected", "dropped", "sorted"] | None = None,
        drops: bool = True,
        clears: bool = False,
    ) -> None:
        if self.bad.size == 0:
            self.bad = np.zeros(len(symbols), dtype=bool)
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        for i in np.flatnonzero(mask):
            line = None if self.lines is None or np.isnan(self.lines[i]) else int(self.lines[i])
            sym = symbols.iloc[i]
            reason = template.format(
                value=_fmt(value[i]) if value is not None else "",
                ref=_fmt(ref[i]) if ref is not None else "",
                later=f" (line {int(later[i])})" if later is not None and not np.isnan(later[i]) else "",
                note=note[i] if note is not None else "",
            )
            ts = self.ts_text[i] if self.ts_text is not None else None
            self._rows.append(int(i))
            self.issues.append(
                Issue(
                    origin=self.origin,
                    line=line,
                    symbol=_shown_symbol(sym),
                    ts=None if ts is None or pd.isna(ts) else str(ts),
                    field=field,
                    reason=reason,
                    action="cleared" if clears and self.repair else action or self.drop_action,
                )
            )
        if clears and self.repair and field is not None:
            self.cleared[field] = self.cleared.get(field, np.zeros(len(symbols), dtype=bool)) | mask
        elif drops:
            self.bad |= mask

    def settle(self) -> None:
        # a field cleared on a row that was dropped anyway was dropped with it
        for k, (row, issue) in enumerate(zip(self._rows, self.issues, strict=True)):
            if issue.action == "cleared" and self.bad[row]:
                self.issues[k] = replace(issue, action="dropped")


def _fmt(v: object) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):.10g}"
    return quote(v)  # user text in a message is capped: a 5 MB field is not echoed whole


def _shown_symbol(sym: object) -> str | None:
    # an Issue names the row's symbol; an invalid one is shown quoted and capped
    if sym is None or pd.isna(sym) or sym == "":  # type: ignore[call-overload]
        return None
    text = str(sym)
    return text if symbol_problem(text) is None else quote(text)


def _bad_symbols(symbols: pd.Series, missing: BoolArray) -> tuple[BoolArray, np.ndarray]:
    # each distinct symbol is judged once: a long file has few symbols and many rows
    codes, uniques = pd.factorize(symbols, use_na_sentinel=True)
    problems = np.array(
        [f"invalid symbol: {p}" if (p := symbol_problem(str(u))) else "" for u in uniques] + [""], dtype=object
    )
    why = problems[np.where(codes < 0, len(uniques), codes)]
    bad = (why != "") & ~missing
    return bad, why


def _previous_close(symbols: pd.Series, ts: pd.Series, close: np.ndarray) -> np.ndarray:
    # the close of the bar before each row in date order within its symbol; the row's own
    # close for a symbol's first bar (a source that starts on an ex-date)
    order = pd.DataFrame({"s": symbols.to_numpy(dtype=object), "t": ts.to_numpy(), "c": close})
    order = order.sort_values(["s", "t"], kind="stable", na_position="last")
    prev = order.groupby("s", sort=False, dropna=False)["c"].shift()
    out = np.empty(len(close))
    out[order.index.to_numpy()] = prev.fillna(order["c"]).to_numpy(dtype=np.float64)
    return out


def _as_long(raw: pd.DataFrame, origin: str) -> pd.DataFrame:
    if not isinstance(raw, pd.DataFrame):
        raise InvalidInputError(f"{origin}: bars must be a pandas DataFrame, got {type(raw).__name__}")
    frame = raw
    if isinstance(frame.index, pd.MultiIndex) and list(frame.index.names) == ["symbol", "ts"]:
        frame = frame.reset_index()
    frame = frame.rename(columns=lambda c: str(c).strip())
    check_bar_columns(list(frame.columns), origin)
    return frame.reset_index(drop=True)


def check_bar_columns(columns: Sequence[object], origin: str, *, hint: str = "") -> None:
    """Raise the SchemaError `validate_bars` raises if ``columns`` are not a bar frame's.

    Sources call it before they filter rows by date or symbol, so that a file without a
    recognisable date column fails with this message rather than in the filter.
    ``hint`` is appended to the message (a source's guess at the cause).
    """
    cols = {str(c).strip() for c in columns}
    missing = [c for c in (*_KEY_COLUMNS, *REQUIRED_COLUMNS) if c not in cols]
    unknown = sorted(cols - _ALLOWED)
    if not missing and not unknown:
        return
    hints = []
    for m in missing:
        hints.append(f"{m!r}" + (f" (found {quote(found)}: misnamed?)" if (found := _misnamed(m, unknown)) else ""))
    parts = []
    if missing:
        parts.append("missing column(s) " + ", ".join(hints))
    if unknown:
        parts.append(f"unexpected column(s) {_names(unknown)}")
    raise SchemaError(
        f"{origin}: {'; '.join(parts)}. Expected {list(_KEY_COLUMNS) + list(REQUIRED_COLUMNS)}"
        f" and optionally {list(OPTIONAL_COLUMNS)}; found {_names(sorted(cols))}.{hint}"
    )


def _misnamed(wanted: str, unknown: Sequence[str]) -> str | None:
    # the unknown column most like one of the wanted column's usual spellings
    spellings = _SPELLINGS.get(wanted, (wanted,))
    lowered = {u.lower(): u for u in unknown[:1000] if len(u) <= 64}
    for spelling in spellings:
        found = difflib.get_close_matches(spelling, list(lowered), n=1, cutoff=0.6)
        if found:
            return lowered[found[0]]
    prefixed = [u for u in unknown if any(u.lower().startswith(sp) for sp in spellings)]
    return prefixed[0] if prefixed else None


def _names(names: Sequence[str]) -> str:
    # a column list in a message: each name capped, at most _MAX_NAMES_IN_MESSAGE of them
    shown = ", ".join(quote(n, QUOTE_CHARS // 2) for n in names[:_MAX_NAMES_IN_MESSAGE])
    more = f", … ({len(names):,} in all)" if len(names) > _MAX_NAMES_IN_MESSAGE else ""
    return f"[{shown}{more}]"


def _parse_ts(
    raw: pd.Series, collector: _Collector, symbols: pd.Series, frequency: Frequency | None, origin: str
) -> tuple[pd.Series, Frequency]:
    # Each stamp is read twice: as its instant in UTC (an intraday bar's open) and as its
    # session date, the date in its own time zone (a daily bar's stamp); the frequency,
    # given or inferred from the instants, chooses which is kept.
    n = len(raw)
    shown: np.ndarray | None = None
    zones: pd.Series | None = None
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        exact = raw.dt.tz_convert("UTC")
        session = raw.dt.tz_localize(None).dt.normalize().dt.tz_localize("UTC")
    elif pd.api.types.is_datetime64_dtype(raw.dtype):
        exact = raw.dt.tz_localize("UTC")
        session = raw.dt.normalize().dt.tz_localize("UTC")
    else:
        text = raw.astype("string").str.strip()
        zones = pd.Series([""] * n, dtype="string")
        if n and (text.str.len().max() or 0) > 10:
            zones = text.str.extract(r"(Z|[+-]\d\d:?\d\d)$", expand=False).fillna("")
            text = text.str.replace(r"(Z|[+-]\d\d:?\d\d)$", "", regex=True)
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        bad = (parsed.isna() & text.notna()).to_numpy(dtype=bool) | text.isna().to_numpy(dtype=bool)
        if bad.any():
            collector.add(bad, symbols, text.to_numpy(dtype=object), "ts", "unparseable date {value}")
        exact = (parsed - _utc_offsets(zones)).dt.tz_localize("UTC")
        session = parsed.dt.normalize().dt.tz_localize("UTC")
        shown = text.to_numpy(dtype=object)
    if frequency is None:
        frequency = _inferred_frequency(exact, symbols, origin)
    if zones is not None:
        _check_zones(zones, raw, collector, symbols, intraday=is_intraday(frequency))
    return _in_range(exact if is_intraday(frequency) else session, collector, symbols, shown), frequency


def _utc_offsets(zones: pd.Series) -> pd.Series:
    # "+05:30" / "-0400" / "Z" / "" (none: UTC) as a timedelta to subtract from the local time;
    # a file has a zone or two, so each distinct one is read once
    codes, uniques = pd.factorize(zones.fillna(""))
    minutes = np.zeros(len(uniques) + 1, dtype=np.int64)
    for i, zone in enumerate(uniques):
        if len(zone) > 1:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            minutes[i] = sign * (int(digits[:2]) * 60 + int(digits[2:4]))
    return pd.Series(pd.to_timedelta(minutes[codes], unit="min"), index=zones.index)


def _check_zones(
    zones: pd.Series, raw: pd.Series, collector: _Collector, symbols: pd.Series, *, intraday: bool
) -> None:
    # a daily file names its session dates in one zone; an intraday file's offsets change
    # with daylight saving, and only a row without one beside rows with one is ambiguous
    first = zones.iloc[0] if len(zones) else ""
    differs = (zones != "") != (first != "") if intraday else zones != first
    mixed = differs.to_numpy(dtype=bool) & raw.notna().to_numpy(dtype=bool)
    if mixed.any():
        saved = collector.ts_text
        collector.ts_text = raw.astype("string").str.strip().str.slice(0, 19 if intraday else 10).to_numpy(dtype=object)
        labels = zones.mask(zones == "", "no time zone").to_numpy(dtype=object)
        collector.add(
            mixed,
            symbols,
            labels,
            "ts",
            f"mixed time zones: {{value}} differs from the first row's {labels[0]!r}",
        )
        collector.ts_text = saved


def _inferred_frequency(exact: pd.Series, symbols: pd.Series, origin: str) -> Frequency:
    # stamps outside the range a bar can have are reported by _in_range, and decide nothing
    known = (exact.notna() & (exact >= TS_MIN) & (exact <= TS_MAX)).to_numpy(dtype=bool)
    codes, _ = pd.factorize(symbols, use_na_sentinel=True)
    inferred = infer_frequency(pd.DatetimeIndex(exact[known]).as_unit("ns").asi8, codes[known])
    if isinstance(inferred, str):
        return inferred
    gap = _duration(inferred)
    issue = Issue(
        origin=origin,
        line=None,
        symbol=None,
        ts=None,
        field="ts",
        reason=f"bars are most often {gap} apart, which is no bar frequency",
        action="rejected",
    )
    raise ValidationError(
        f"{origin}: the bars are most often {gap} apart, the length of no bar frequency bifrost knows "
        f"({', '.join(INTRADAY_FREQUENCIES)} or 1d for a day or more); nothing was stored. Pass the "
        "frequency the bars are (frequency=, --frequency), which also checks them against its grid.",
        (issue,),
    )


def _duration(ns: int) -> str:
    # a gap or an offset as a message shows it: 2m, 90s, 1.5s, 0s
    for unit, length in (("h", 3600 * 10**9), ("m", 60 * 10**9), ("s", 10**9)):
        if ns and ns % length == 0:
            return f"{ns // length}{unit}"
    return f"{ns / 1e9:g}s"


def _check_grid(ts: pd.Series, frequency: Frequency, collector: _Collector, symbols: pd.Series) -> None:
    # every bar of a symbol starts at the same offset into its bar length (the symbol's most
    # common one): 09:30 New York opens put hourly bars at :30 past each UTC hour
    step = bar_ns(frequency)
    known = ts.notna().to_numpy(dtype=bool)
    phase = np.full(len(ts), -1, dtype=np.int64)
    phase[known] = pd.DatetimeIndex(ts).as_unit("ns").asi8[known] % step
    frame = pd.DataFrame({"s": symbols.fillna("").to_numpy(dtype=object), "p": phase})[known]
    if frame.empty:
        return
    counts = frame.groupby(["s", "p"]).size().rename("n").reset_index()
    # the most common offset of each symbol, the smallest on a tie
    modal = counts.sort_values(["s", "n", "p"], ascending=[True, False, True]).drop_duplicates("s")
    expected = np.full(len(ts), -1, dtype=np.int64)
    expected[known] = frame["s"].map(dict(zip(modal["s"], modal["p"], strict=True))).to_numpy(dtype=np.int64)
    off = known & (phase != expected)
    if off.any():
        at = np.full(len(ts), "", dtype=object)
        at[off] = [_duration(int(p)) for p in expected[off]]
        collector.add(
            off,
            symbols,
            None,
            "ts",
            f"not on the symbol's {frequency} bar grid: its other bars start {{note}} past each {frequency} boundary",
            note=at,
        )


def _in_range(ts: pd.Series, collector: _Collector, symbols: pd.Series, shown: np.ndarray | None = None) -> pd.Series:
    # pandas reads 1600-01-01 at a coarser unit; a nanosecond timestamp cannot hold it
    outside = ((ts < TS_MIN) | (ts > TS_MAX)).to_numpy(dtype=bool)
    if outside.any():
        text = shown if shown is not None else ts.astype("string").to_numpy(dtype=object)
        collector.add(outside, symbols, text, "ts", f"date {{value}} outside the supported range {_TS_RANGE}")
        ts = ts.mask(pd.Series(outside, index=ts.index))
    return ts.astype("datetime64[ns, UTC]")


def _parse_numeric(raw: pd.Series, col: str, collector: _Collector, symbols: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        non_numeric = np.zeros(len(raw), dtype=bool)
    else:
        stripped = raw.astype("string").str.strip()
        coerced = pd.to_numeric(stripped, errors="coerce")
        values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
        non_numeric = (
            np.isnan(values)
            & stripped.notna().to_numpy(dtype=bool)
            & (stripped != "").fillna(False).to_numpy(dtype=bool)
        )
        if non_numeric.any():
            # pandas gives up on numbers it cannot hold (a 5 MB run of digits): Python's
            # float reads them, as inf, so they are reported as the numbers they are
            text = stripped.to_numpy(dtype=object)
            for i in np.flatnonzero(non_numeric):
                values[i] = _float_or_nan(text[i])
            non_numeric &= np.isnan(values)
        if non_numeric.any():
            collector.add(
                non_numeric, symbols, raw.to_numpy(dtype=object), col, "non-numeric {value}", clears=col in CLEARABLE
            )
    # inf, Infinity, 1e309: no market prints them; reported here, then treated as absent
    # so that the price-order checks do not report them a second time
    infinite = np.isinf(values)
    if infinite.any():
        shown = raw.to_numpy(dtype=object) if raw.dtype == object or isinstance(raw.dtype, pd.StringDtype) else values
        collector.add(infinite, symbols, shown, col, f"non-finite {col} {{value}}", clears=col in CLEARABLE)
        values = np.where(infinite, np.nan, values)
        non_numeric = non_numeric | infinite
    collector.non_numeric[col] = non_numeric
    return values


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _later_line_of_duplicate(key: pd.DataFrame, lines: np.ndarray | None, dup: BoolArray) -> np.ndarray:
    out = np.full(len(key), np.nan)
    if lines is None:
        return out
    last_line = key.assign(line=lines).groupby(["symbol", "ts"], sort=False)["line"].transform("last")
    out[dup] = last_line.to_numpy(dtype=np.float64)[dup]
    return out


def _actions(values: dict[str, np.ndarray], symbols: np.ndarray, ts: np.ndarray, keep: BoolArray) -> pd.DataFrame:
    parts = []
    for kind, neutral in (("dividend", 0.0), ("split", 1.0)):
        if kind in values:
            v = values[kind][keep]
            hit = v != neutral
            parts.append(pd.DataFrame({"symbol": symbols[hit], "ts": ts[hit], "kind": kind, "value": v[hit]}))
    if not parts:
        return empty_actions()
    return pd.concat(parts, ignore_index=True).sort_values(["symbol", "ts", "kind"], ignore_index=True)


def empty_actions() -> pd.DataFrame:
    """Return an empty corporate-actions frame with the canonical columns and dtypes."""
    return pd.DataFrame(
        {
            "symbol": pd.Series(dtype=object),
            "ts": pd.Series(dtype="datetime64[ns, UTC]"),
            "kind": pd.Series(dtype=object),
            "value": pd.Series(dtype=np.float64),
        }
    )
