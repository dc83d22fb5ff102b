"""Stress tests: history replayed on today's positions, and hypothetical shocks.

Positions are market values (money, negative for shorts) per symbol. A historical scenario
is a window of days; each position moves by its symbol's compounded return over the
window, ``Π(1 + rₜ) − 1``. The worst windows are searched over every start date and kept
non-overlapping (the worst, then the worst that does not overlap it, ...), so the list
is of distinct episodes, not one crash counted five times.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bifrost.errors import InvalidInputError

__all__ = ["StressResult", "historical_stress", "shock_stress", "shocks_from_toml", "stress_positions"]


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


def _positions(positions: Mapping[str, float]) -> pd.Series:
    if not isinstance(positions, Mapping) or not positions:
        raise InvalidInputError("positions must map at least one symbol to its market value")
    values = pd.Series({str(k): v for k, v in positions.items()}, dtype=np.float64)
    if not np.isfinite(values.to_numpy()).all():
        raise InvalidInputError(f"position values must be finite, got {dict(values)}")
    return values


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


def historical_stress(
    returns: pd.DataFrame,
    positions: Mapping[str, float],
    *,
    window_days: Sequence[int] = (1, 5, 20),
    worst: int = 3,
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
    named
        Scenarios by name: ``{"GFC": ("2008-09-01", "2009-03-09")}``, inclusive dates.

    Raises
    ------
    InvalidInputError
        On a symbol without returns, a window longer than the history, an empty named
        window, or a named window outside the data.
    """
    values = _positions(positions)
    if not isinstance(returns, pd.DataFrame) or not isinstance(returns.index, pd.DatetimeIndex):
        raise InvalidInputError("returns must be a DataFrame of daily returns on a DatetimeIndex")
    missing = sorted(set(values.index) - set(map(str, returns.columns)))
    if missing:
        raise InvalidInputError(f"no returns for {', '.join(missing)}")
    r = returns.rename(columns=str)[list(values.index)].astype(np.float64)
    if (r <= -1).any().any():
        raise InvalidInputError("returns must be simple returns above -1")
    rows: list[tuple[str, pd.Timestamp, pd.Timestamp, pd.Series]] = []
    for days in window_days:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= len(r):
            raise InvalidInputError(f"window_days must be integers in [1, {len(r)}], got {days!r}")
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
    for name, (start, stop) in (named or {}).items():
        try:
            a, b = pd.Timestamp(start), pd.Timestamp(stop)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"named scenario {name!r}: dates must be ISO dates: {exc}") from None
        if pd.isna(a) or pd.isna(b):
            raise InvalidInputError(f"named scenario {name!r}: dates must be ISO dates, got {start!r}, {stop!r}")
        a, b = (_on(t, pd.DatetimeIndex(r.index).tz) for t in (a, b))
        part = r.loc[a:b]
        if part.empty:
            raise InvalidInputError(f"named scenario {name!r}: no returns between {start} and {stop}")
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
    sector_of = dict(sectors or {})
    rows = {}
    for name, shocks in scenarios.items():
        for key, shock in shocks.items():
            if not isinstance(shock, int | float) or not np.isfinite(shock) or shock < -1:
                raise InvalidInputError(f"scenario {name!r}: shock {key!r} must be a return >= -1, got {shock!r}")
        moves = []
        for symbol in values.index:
            sector_key = f"sector:{sector_of[symbol]}" if symbol in sector_of else None
            if symbol in shocks:
                moves.append(shocks[symbol])
            elif sector_key is not None and sector_key in shocks:
                moves.append(shocks[sector_key])
            else:
                moves.append(shocks.get("market", 0.0))
        rows[str(name)] = pd.Series(moves, index=values.index) * values
    pnl = pd.DataFrame(rows).T
    windows = pd.DataFrame({"start": pd.NaT, "end": pd.NaT}, index=pnl.index)
    return StressResult(pnl=pnl, windows=windows)


def shocks_from_toml(path: str | Path) -> dict[str, dict[str, float]]:
    """Read hypothetical scenarios from TOML: one table per scenario, ``[crash] market = -0.2``.

    Raises
    ------
    InvalidInputError
        If the file cannot be read, or is not a set of tables (the values are checked by
        `shock_stress`).
    """
    path = Path(path)
    try:
        scenarios = tomllib.loads(path.read_text(encoding="utf-8"))
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
    parts = []
    if window_days or named:
        if returns is None or not isinstance(returns.index, pd.DatetimeIndex):
            raise InvalidInputError("historical scenarios need returns on dates")
        parts.append(historical_stress(returns, positions, window_days=window_days, worst=worst, named=named))
    if shocks:
        parts.append(shock_stress(positions, shocks, sectors=sectors))
    if not parts:
        raise InvalidInputError("no scenario: give window_days, named windows or shocks")
    return StressResult(
        pnl=pd.concat([p.pnl for p in parts]),
        windows=pd.concat([p.windows for p in parts]).astype("datetime64[ns, UTC]"),
    )
