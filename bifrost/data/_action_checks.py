"""Recorded splits and dividends checked against the raw closes around them.

A split of ``ratio`` new shares per old share makes the raw close fall to about
``1 / ratio`` of the close before it on its ex-date (a 2-for-1: about -50%). A file that
is already split-adjusted (the 505-stock file: IEX served split-adjusted history) shows
no such move, and recording the split there adjusts the prices twice. The rules, stated
once (each a finding of `bifrost.data.check_quality` and a `DataQualityWarning` when such
an action is recorded):

- ``action-contradicted``, a split: the raw close's move from the last bar before the
  ex-date to the first bar on or after it is nearer to no split than to the split, in log
  terms: ``|log(r * ratio)| >= |log(ratio)| / 2`` for a close ratio ``r`` (a 2-for-1 is
  confirmed by a close ratio in 0.354 … 0.707).
- ``action-contradicted``, a dividend: its ex-date has no bar of the symbol within the
  symbol's bars (a weekend or a typo: the adjustment then lands on the next bar); or it is
  at least 10% of the close before it (a special dividend, large enough to see through a
  day's noise) and the close fell by less than half of it.
- ``unrecorded-split``: a close ratio within 5% (in log terms) of the move a common split
  makes (2, 3, 4, 5, 7, 8, 10 or 20 for 1, and the same reverse splits) on a day with no
  split recorded: record it if it is one (``bifrost data split``), or re-ingest from a
  split-adjusted source. A 3-for-2 is not looked for (a -33% day is as often a crash).
  Ordinary dividends are too small to tell from a day's move and are not judged.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bifrost._typing import FloatArray, IntArray
from bifrost.data._columns import warn_data_quality
from bifrost.data._store import BarStore

__all__ = ["SPLIT_SHAPED_MIN", "contradiction", "split_name", "split_shaped", "warn_contradicted"]

# the moves common splits make, as new shares per old share
# (3-for-2 is left out: a -33% day is as often a crash, and the 505-stock file has seven)
_COMMON_RATIOS = (2.0, 3.0, 4.0, 5.0, 7.0, 8.0, 10.0, 20.0, 0.5, 1 / 3, 0.25, 0.2, 0.125, 0.1, 0.05)
_SPLIT_TOLERANCE = 0.05  # |log(r * ratio)| within which a close ratio is a split's
SPLIT_SHAPED_MIN = math.log(1.5)  # smaller moves are no common split's
_SPECIAL_DIVIDEND = 0.10  # a dividend at least this fraction of the close is visible in the prices


def _around(ts: IntArray, close: FloatArray, ex_ns: int) -> tuple[int, int] | None:
    # the last bar with a close before the ex-date and the first on or after it
    have = np.isfinite(close)
    k = int(np.searchsorted(ts, ex_ns, side="left"))
    before = np.flatnonzero(have[:k])
    after = np.flatnonzero(have[k:])
    if not before.size or not after.size:
        return None
    return int(before[-1]), k + int(after[0])


def contradiction(ts: IntArray, close: FloatArray, kind: str, value: float, ex_ns: int) -> str | None:
    """Return why the raw closes contradict one recorded action, or None when they do not.

    ``ts`` (int64 ns, sorted) and ``close`` are one symbol's raw bars; ``kind`` is
    ``split`` (``value`` new shares per old share) or ``dividend`` (cash per share).
    An action the bars cannot judge (before the first bar, after the last) is not contradicted.
    """
    day = str(pd.Timestamp(ex_ns, tz="UTC").date())
    around = _around(ts, close, ex_ns)
    if around is None or not (np.isfinite(value) and value > 0):
        return None  # no bar on one side, or a value the action check reports
    i, j = around
    move = close[j] / close[i]
    day_i, day_j = (pd.Timestamp(int(ts[k]), tz="UTC").date() for k in (i, j))
    shown = f"the raw close moved {move - 1:+.1%} ({close[i]:g} on {day_i} to {close[j]:g} on {day_j})"
    if kind == "split":
        if value == 1.0 or abs(math.log(move * value)) < abs(math.log(value)) / 2:
            return None
        return (
            f"split {value:g} on {day}: {shown}, not the {1 / value - 1:+.0%} a {split_name(value)} split makes; "
            "the prices are probably already split-adjusted (recording the split adjusts them twice): "
            "check the source, and if so remove it (`bifrost data unrecord SYMBOL DATE split`, or remove_actions)"
        )
    if kind == "dividend":
        on_bar = bool((ts == ex_ns).any())
        if not on_bar:
            return (
                f"dividend {value:g} on {day}: no bar on its ex-date (the bars around it are {day_i} and {day_j}), "
                "so it adjusts from the next bar: check the date"
            )
        size = value / close[i]
        if size >= _SPECIAL_DIVIDEND and move - 1 > -size / 2:
            return (
                f"dividend {value:g} on {day} is {size:.0%} of the close before it, but {shown}, not about "
                f"{-size:+.0%}: the prices may already be dividend-adjusted, or the amount is wrong"
            )
    return None


def split_shaped(move: float) -> float | None:
    """Return the split ratio a raw close ratio ``move`` looks like, or None (see the module's rules)."""
    if not (np.isfinite(move) and move > 0) or abs(math.log(move)) < SPLIT_SHAPED_MIN:
        return None
    for ratio in _COMMON_RATIOS:
        if abs(math.log(move * ratio)) < _SPLIT_TOLERANCE:
            return ratio
    return None


def split_name(value: float) -> str:
    """Return a split ratio as traders say it: 2 is ``2-for-1``, 0.1 ``1-for-10``, 1.5 ``3-for-2``."""
    for new, old in ((value, 1.0), (1.0, 1.0 / value), (value * 2, 2.0), (2.0, 2.0 / value)):
        if abs(new - round(new)) < 1e-9 and abs(old - round(old)) < 1e-9:
            return f"{round(new)}-for-{round(old)}"
    return f"{value:g}-for-1"


def warn_contradicted(store: BarStore, actions: pd.DataFrame) -> None:
    """Warn `DataQualityWarning` naming each of ``actions`` (just recorded) that the stored raw closes contradict."""
    problems: list[str] = []
    for sym, group in actions.groupby("symbol", sort=True):
        bars = store.read_bars(str(sym), fields=["close"])
        ts = pd.DatetimeIndex(bars.index.get_level_values("ts")).as_unit("ns").asi8
        close = bars["close"].to_numpy(dtype=np.float64)
        for stamp, kind, value in group[["ts", "kind", "value"]].itertuples(index=False):
            why = contradiction(ts, close, str(kind), float(value), pd.Timestamp(stamp).as_unit("ns").value)
            if why is not None:
                problems.append(f"{sym} {why}")
    if problems:
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        warn_data_quality(
            f"recorded, but the prices contradict it: {'; '.join(problems[:3])}{more} "
            "(`bifrost data check` lists each as action-contradicted)"
        )
