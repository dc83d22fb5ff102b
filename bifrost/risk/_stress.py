"""Stress tests: history replayed on today's positions, and hypothetical shocks.

Positions are market values (money, negative for shorts) per symbol. A historical scenario
is a window of days; each position moves by its symbol's compounded return over the
window, ``Π(1 + rₜ) − 1``. The worst windows are searched over every start date and kept
non-overlapping (the worst, then the worst that does not overlap it, ...), so the list
is of distinct episodes, not one crash counted five times.
"""

from __future__ import annotations

import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from bifrost._checks import (
    as_positive_int,
    as_utc_index,
    as_utc_timestamp,
    check_symbol,
    finite_in_range,
    is_number,
    quote,
)
from bifrost.errors import InvalidInputError
from bifrost.risk._var import MAX_DAILY_RETURN, MONEY_MAX

__all__ = [
    "MAX_SHOCK",
    "MAX_WINDOW_LENGTHS",
    "MAX_WORST",
    "StressResult",
    "historical_stress",
    "shock_stress",
    "shocks_from_toml",
    "stress_positions",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class StressResult:
    """P&L per scenario and position (money), with each scenario's total and window."""

    pnl: pd.DataFrame  # scenarios × positions
    windows: pd.DataFrame  # per scenario: start, end (NaT for hypothetical shocks)

    @property
    def total(self) -> pd.Series:
        """Portfolio P&L per scenario."""
        return self.pnl.sum(axis=1).rename("total")

    def frame(self) -> pd.DataFrame:
        """Return one row per scenario: window, total, then each position's P&L."""
        return pd.concat([self.windows, self.total, self.pnl], axis=1)

    def records(self, equity: float | None = None) -> list[dict[str, Any]]:
        """Return one JSON-ready dict per scenario: name, start, end (ISO dates or None),
        total, total as a fraction of ``equity`` (if given), and P&L per position."""
        out = []
        for name in self.pnl.index:
            start, end = self.windows.loc[name, "start"], self.windows.loc[name, "end"]
            total = float(self.pnl.loc[name].sum())
            out.append(
                {
                    "name": str(name),
                    "start": None if pd.isna(start) else pd.Timestamp(start).date().isoformat(),
                    "end": None if pd.isna(end) else pd.Timestamp(end).date().isoformat(),
                    "total": total,
                    "total_fraction": None if equity is None else total / equity,
                    "pnl": {str(s): float(v) for s, v in self.pnl.loc[name].items()},
                }
            )
        return out

    def _repr_html_(self) -> str:
        return "<b>Stress tests</b><br>" + self.frame().to_html(float_format=lambda v: f"{v:,.2f}")


MAX_WORST: Final = 100
"""The most distinct worst windows kept per window length."""

MAX_WINDOW_LENGTHS: Final = 50
"""The most window lengths searched in one call (each is a pass over the whole history)."""

MAX_SHOCK: Final = 10.0
"""The largest hypothetical return a shock may apply (+1,000%); the smallest is −1 (−100%)."""


def _positions(positions: Mapping[str, float]) -> pd.Series:
    if not isinstance(positions, Mapping) or not positions:
        raise InvalidInputError("positions must map at least one symbol to its market value")
    for key, value in positions.items():
        check_symbol(key, "positions")
        finite_in_range(value, f"the position value of {key}", lo=-MONEY_MAX, hi=MONEY_MAX)
    return pd.Series({str(k): float(v) for k, v in positions.items()}, dtype=np.float64)


def _scenario_name(name: object, what: str) -> str:
    # a scenario's name is a row label in results, JSON and reports: short, printable text
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or not name.isprintable():
        raise InvalidInputError(f"{what} names must be printable text of 1-100 characters, got {quote(name)}")
    return name


def _compounded(returns: pd.DataFrame, days: int) -> pd.DataFrame:
    # compounded return of every window of `days` ending at each date (NaN where any day is missing)
    growth = pd.DataFrame(np.log1p(returns.to_numpy()), index=returns.index, columns=returns.columns)
    summed = growth.rolling(days, min_periods=days).sum()
    return pd.DataFrame(np.expm1(summed.to_numpy()), index=returns.index, columns=returns.columns)


def _on(t: pd.Timestamp, tz: Any) -> pd.Timestamp:
    # a date on the index's clock: naive dates are read in the index's zone
    if tz is None:
        return t.tz_convert(None) if t.tzinfo is not None else t
    return t.tz_localize(tz) if t.tzinfo is None else t.tz_convert(tz)


def _window_lengths(window_days: object, n_days: int) -> list[int]:
    if isinstance(window_days, str | bytes) or not isinstance(window_days, Sequence):
        raise InvalidInputError(f"window_days must be a list of integers, got {quote(window_days)}")
    if len(window_days) > MAX_WINDOW_LENGTHS:
        raise InvalidInputError(f"window_days may list at most {MAX_WINDOW_LENGTHS} lengths, got {len(window_days)}")
    out: list[int] = []
    for days in window_days:
        length = as_positive_int(days, "window_days", maximum=n_days, why="the days of history")
        if length in out:
            raise InvalidInputError(f"window_days lists {days} twice: each length once")
        out.append(length)
    return out


def _worst(worst: object) -> int:
    return as_positive_int(worst, "worst (windows kept per length)", maximum=MAX_WORST)


def _periods_alias(
    periods: Mapping[str, tuple[Any, Any]] | None, named: Mapping[str, tuple[Any, Any]] | None
) -> Mapping[str, tuple[Any, Any]] | None:
    # `named=` was this option's first name; one name per concept (the CLI's --period, the service's periods)
    if named is None:
        return periods
    if periods is not None:
        raise InvalidInputError("give periods= only (named= is its old spelling), not both")
    warnings.warn("named= is now periods=; named= will be removed in the next release", DeprecationWarning, 3)
    return named


def historical_stress(
    returns: pd.DataFrame,
    positions: Mapping[str, float],
    *,
    window_days: Sequence[int] = (1, 5, 20),
    worst: int = 3,
    periods: Mapping[str, tuple[Any, Any]] | None = None,
    named: Mapping[str, tuple[Any, Any]] | None = None,
) -> StressResult:
    """Replay history on ``positions``: the worst windows of each length, and named windows.

    Parameters
    ----------
    returns
        Daily simple returns, dates × symbols (every position's symbol needs a column).
    positions
        Market value per symbol today (money; negative for a short).
    window_days
        Window lengths to search, in trading days.
    worst
        Distinct (non-overlapping) worst windows kept per length.
    periods
        Named historical periods: ``{"GFC": ("2008-09-01", "2009-03-09")}``, inclusive dates
        (the CLI's ``--period``, the service's ``periods``).
    named
        Deprecated spelling of ``periods`` (warns; removed in the next release).

    Raises
    ------
    InvalidInputError
        On a symbol without returns, a window longer than the history, an empty named
        window, or a named window outside the data.
    """
    named = _periods_alias(periods, named)
    values = _positions(positions)
    if not isinstance(returns, pd.DataFrame) or not isinstance(returns.index, pd.DatetimeIndex):
        raise InvalidInputError("returns must be a DataFrame of daily returns on a DatetimeIndex")
    if not returns.index.is_monotonic_increasing or returns.index.has_duplicates:
        raise InvalidInputError("returns must be on strictly increasing dates (sort the index, drop repeated days)")
    missing = sorted(set(values.index) - set(map(str, returns.columns)))
    if missing:
        raise InvalidInputError(f"no returns for {', '.join(missing[:10])}")
    try:
        r = returns.rename(columns=str)[list(values.index)].astype(np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError("returns must be numbers") from None
    data = r.to_numpy()
    if (data <= -1).any() or np.isinf(data).any() or (data > MAX_DAILY_RETURN).any():
        raise InvalidInputError(
            f"returns must be simple daily returns above -1 and at most {MAX_DAILY_RETURN:g} (NaN for a missing day)"
        )
    lengths = _window_lengths(window_days, len(r))
    worst = _worst(worst)
    rows: list[tuple[str, pd.Timestamp, pd.Timestamp, pd.Series]] = []
    for days in lengths:
        moves = _compounded(r, days)
        totals = (moves * values).sum(axis=1, min_count=len(values)).to_numpy()
        order = np.argsort(totals, kind="stable")
        taken: list[int] = []
        for end in order:
            if len(taken) == worst or np.isnan(totals[end]):
                break
            if all(abs(int(end) - t) >= days for t in taken):
                taken.append(int(end))
        for rank, end in enumerate(taken, 1):
            rows.append((f"worst {days}d #{rank}", r.index[end - days + 1], r.index[end], moves.iloc[end] * values))
    if named is not None and not isinstance(named, Mapping):
        raise InvalidInputError(f"named scenarios must map names to (first day, last day), got {type(named).__name__}")
    for name, window in (named or {}).items():
        _scenario_name(name, "named scenario")
        if isinstance(window, str | bytes) or not isinstance(window, Sequence) or len(window) != 2:
            raise InvalidInputError(f"named scenario {name!r}: give [first day, last day], got {quote(window)}")
        start, stop = window
        a = as_utc_timestamp(start, f"named scenario {name!r}: the first day")
        b = as_utc_timestamp(stop, f"named scenario {name!r}: the last day")
        if a > b:
            raise InvalidInputError(f"named scenario {name!r}: the first day {start} is after the last day {stop}")
        a, b = (_on(t, pd.DatetimeIndex(r.index).tz) for t in (a, b))
        part = r.loc[a:b]
        if part.empty:
            held = f"{r.index[0].date()} to {r.index[-1].date()}" if len(r) else "none"
            raise InvalidInputError(
                f"named scenario {name!r}: no returns between {start} and {stop} (the history holds {held}; "
                "a longer lookback_days reaches further back)"
            )
        growth = pd.Series(np.log1p(part.to_numpy()).sum(axis=0), index=part.columns)
        move = pd.Series(np.expm1(growth.to_numpy()), index=part.columns)
        rows.append((str(name), part.index[0], part.index[-1], move * values))
    pnl = pd.DataFrame([row[3] for row in rows], index=[row[0] for row in rows])
    windows = pd.DataFrame({"start": [row[1] for row in rows], "end": [row[2] for row in rows]}, index=pnl.index)
    return StressResult(pnl=pnl, windows=windows)


def shock_stress(
    positions: Mapping[str, float],
    scenarios: Mapping[str, Mapping[str, float]],
    *,
    sectors: Mapping[str, str] | None = None,
) -> StressResult:
    """Apply hypothetical shocks: per scenario, a return for symbols, sectors or the market.

    Each scenario maps keys to returns (-0.2 = a 20% fall): a symbol's own key wins, then
    ``"sector:<name>"`` for its sector (from ``sectors``), then ``"market"``; a position
    with none of these is unchanged.

    Examples
    --------
    >>> r = shock_stress({"AAPL": 1000.0, "XOM": -500.0}, {"crash": {"market": -0.2, "XOM": -0.3}})
    >>> float(r.total["crash"])
    -50.0
    """
    values = _positions(positions)
    if not isinstance(scenarios, Mapping):
        raise InvalidInputError(f"shocks must map scenario names to tables of returns, got {type(scenarios).__name__}")
    if sectors is not None and not isinstance(sectors, Mapping):
        raise InvalidInputError(f"sectors must map symbols to sector names, got {type(sectors).__name__}")
    sector_of = {str(k): v for k, v in (sectors or {}).items() if isinstance(v, str) and v}
    held_sectors = sorted({sector_of[s] for s in values.index if s in sector_of})
    rows = {}
    for name, shocks in scenarios.items():
        _scenario_name(name, "shock scenario")
        if not isinstance(shocks, Mapping) or not shocks:
            raise InvalidInputError(
                f'scenario {name!r}: give at least one shock, e.g. {{"market": -0.2}}, got {quote(shocks)}'
            )
        for key, shock in shocks.items():
            if not is_number(shock) or not -1 <= shock <= MAX_SHOCK:  # NaN fails the comparison
                raise InvalidInputError(
                    f"scenario {name!r}: shock {quote(key)} must be a return >= -1 and <= {MAX_SHOCK:g}, "
                    f"got {quote(shock)}"
                )
        unknown = [
            str(key) for key in shocks
            if key != "market" and key not in values.index
            and not (isinstance(key, str) and key.startswith("sector:") and key[len("sector:"):] in held_sectors)
        ]  # fmt: skip
        if unknown:
            sector_keys = _keys([f"sector:{x}" for x in held_sectors]) if held_sectors else "no sector is known"
            raise InvalidInputError(
                f"scenario {name!r}: {_keys(unknown)} shock(s) nothing the book holds; shock a held symbol "
                f"({_keys(list(values.index))}), 'sector:<name>' of a held sector ({sector_keys}), or 'market'"
            )
        moves = []
        for symbol in values.index:
            sector_key = f"sector:{sector_of[symbol]}" if symbol in sector_of else None
            if symbol in shocks:
                moves.append(float(shocks[symbol]))
            elif sector_key is not None and sector_key in shocks:
                moves.append(float(shocks[sector_key]))
            else:
                moves.append(float(shocks.get("market", 0.0)))
        rows[str(name)] = pd.Series(moves, index=values.index) * values
    if not rows:
        raise InvalidInputError('shocks has no scenario: give at least one, e.g. {"crash": {"market": -0.2}}')
    pnl = pd.DataFrame(rows).T
    never = pd.Series(pd.NaT, index=pnl.index, dtype="datetime64[ns, UTC]")
    windows = pd.DataFrame({"start": never, "end": never})
    return StressResult(pnl=pnl, windows=windows)


def _utc(column: pd.Series) -> pd.Series:
    # windows on the clock of their returns (naive, UTC or another zone) as one UTC column
    return pd.Series(as_utc_index(column), index=column.index, name=column.name)


def _keys(keys: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(quote(k, 40) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def shocks_from_toml(path: str | Path) -> dict[str, dict[str, float]]:
    """Read hypothetical scenarios from TOML: one table per scenario, ``[crash] market = -0.2``.

    Raises
    ------
    InvalidInputError
        If the file cannot be read or is not UTF-8 text, or is not a set of tables (the values are checked by
        `shock_stress`).
    """
    path = Path(path)
    try:
        scenarios = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a leading BOM is allowed
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{path}: cannot read shocks: is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read shocks: {exc}") from exc
    if not scenarios or not all(isinstance(v, dict) for v in scenarios.values()):
        raise InvalidInputError(f"{path}: every scenario must be a table of returns, e.g. [crash] market = -0.2")
    return scenarios


def stress_positions(
    positions: Mapping[str, float],
    returns: pd.DataFrame | None = None,
    *,
    window_days: Sequence[int] = (1, 5, 20),
    worst: int = 3,
    periods: Mapping[str, tuple[Any, Any]] | None = None,
    named: Mapping[str, tuple[Any, Any]] | None = None,
    shocks: Mapping[str, Mapping[str, float]] | None = None,
    sectors: Mapping[str, str] | None = None,
) -> StressResult:
    """Run every scenario asked for on ``positions``: the worst historical windows and named
    windows (on ``returns``, dated), then the hypothetical ``shocks``; one result.

    Raises
    ------
    InvalidInputError
        If no scenario is asked for, or historical ones are asked for without dated returns.
    """
    named = _periods_alias(periods, named)
    parts = []
    if window_days or named:
        if returns is None or not isinstance(returns.index, pd.DatetimeIndex):
            raise InvalidInputError("historical scenarios need returns on dates")
        parts.append(historical_stress(returns, positions, window_days=window_days, worst=worst, periods=named))
    else:
        _worst(worst)
    if shocks:
        parts.append(shock_stress(positions, shocks, sectors=sectors))
    if not parts:
        raise InvalidInputError("no scenario: give window_days, named windows or shocks")
    names = [str(n) for p in parts for n in p.pnl.index]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInputError(
            f"scenario names must be unique across windows, periods and shocks; repeated: {_keys(repeated)}"
        )
    windows = pd.concat([pd.DataFrame({c: _utc(p.windows[c]) for c in ("start", "end")}) for p in parts])
    return StressResult(pnl=pd.concat([p.pnl for p in parts]), windows=windows)
