"""The look-ahead guard: cut the future off and check that no past signal changes.

A strategy sees the whole panel, so nothing stops it from reading tomorrow's close
(``np.roll(close, -1)``), normalising with full-sample statistics, or fitting on the
whole history. Each of these makes some past signal depend on data that was not known
then. Rerunning the strategy on the panel truncated at a point ``c`` must reproduce,
for every bar before ``c``, exactly what the full run produced; any difference is
look-ahead, reported with the first bar, symbol and field that changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bifrost._checks import as_positive_int
from bifrost.data import Panel
from bifrost.errors import InsufficientDataError, LookaheadError
from bifrost.strategy._engine import Orders, Signals, as_grid
from bifrost.strategy._strategies import Strategy, check_params, resolve_strategy

__all__ = ["MAX_TRIALS", "LookaheadReport", "assert_no_lookahead", "check_lookahead"]

MAX_TRIALS = 10_000
"""The most cut points one check reruns the strategy at."""

_FIELDS = ("entries", "exits", "short_entries", "short_exits", "size", "limit_price", "stop_price")


@dataclass(frozen=True, slots=True, kw_only=True)
class LookaheadReport:
    """Where the strategy was cut, and the first past value that changed (if any)."""

    strategy: str
    cuts: tuple[pd.Timestamp, ...]
    ok: bool
    ts: pd.Timestamp | None = None
    symbol: str | None = None
    field: str | None = None
    full_value: Any = None
    truncated_value: Any = None

    def __str__(self) -> str:
        if self.ok:
            return f"{self.strategy}: no look-ahead found at {len(self.cuts)} cut points"
        return (
            f"{self.strategy} looks ahead: its {self.field} for {self.symbol} on {self.ts} is "
            f"{self.full_value!r} with the whole history but {self.truncated_value!r} when the data "
            "ends soon after; a past signal must not depend on later bars"
        )


def _truncate(panel: Panel, end: int) -> Panel:
    return Panel(
        ts=panel.ts[:end], symbols=panel.symbols, fields={f: v[:end] for f, v in panel.fields.items()},
        adjustment=panel.adjustment,
    )  # fmt: skip


def _values(request: Signals | Orders, name: str, shape: tuple[int, int]) -> np.ndarray | None:
    value = getattr(request, name, None)
    return None if value is None else np.broadcast_to(as_grid(value, shape), shape)


def check_lookahead(
    panel: Panel,
    strategy: str | Strategy,
    params: Mapping[str, Any] | None = None,
    *,
    trials: int = 8,
    seed: int = 0,
    min_bars: int = 2,
) -> LookaheadReport:
    """Rerun ``strategy`` on ``panel`` cut at ``trials`` random points; compare every past signal.

    Parameters
    ----------
    trials
        Cut points, 1 to ``MAX_TRIALS``: always the last bar dropped, and ``trials - 1``
        distinct random ones (drawn with ``seed``); fewer when the panel has fewer bars.
    min_bars
        The earliest cut (a strategy may need some bars to run at all).

    Returns
    -------
    LookaheadReport
        ``ok`` and, on failure, the first bar, symbol and field that changed.
    """
    name, fn = resolve_strategy(strategy)
    chosen = check_params(name, fn, params or {})
    n = len(panel.ts)
    trials = as_positive_int(trials, "trials", maximum=MAX_TRIALS, why="cut points", kind="a whole number")
    min_bars = as_positive_int(min_bars, "min_bars")
    if n < min_bars + 1:
        raise InsufficientDataError(f"the panel has {n} bars; cutting needs more than min_bars ({min_bars})")
    full = fn(panel, **chosen)
    rng = np.random.default_rng(seed)
    # the last bar dropped, and trials - 1 distinct cuts among the earlier ones
    earlier = max(0, n - 1 - int(min_bars))
    drawn = rng.choice(earlier, size=min(int(trials) - 1, earlier), replace=False) + int(min_bars)
    cuts = sorted({n - 1, *drawn.tolist()})
    for cut in cuts:
        part = fn(_truncate(panel, cut), **chosen)
        shape = (cut, panel.shape[1])
        for field in _FIELDS:
            whole = _values(full, field, panel.shape)
            cut_values = _values(part, field, shape)
            if whole is None and cut_values is None:
                continue
            if whole is None or cut_values is None:
                return _failure(name, panel, cuts, 0, 0, field, whole, cut_values)
            head = whole[:cut]
            same = (head == cut_values) | (_isnan(head) & _isnan(cut_values))
            if not same.all():
                t, j = np.argwhere(~same)[0]
                return _failure(name, panel, cuts, int(t), int(j), field, head[t, j], cut_values[t, j])
    return LookaheadReport(strategy=name, cuts=tuple(panel.ts[c] for c in cuts), ok=True)


def _isnan(a: np.ndarray) -> np.ndarray:
    return np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, dtype=bool)


def _failure(name: str, panel: Panel, cuts: list[int], t: int, j: int, field: str, a: Any, b: Any) -> LookaheadReport:
    return LookaheadReport(
        strategy=name, cuts=tuple(panel.ts[c] for c in cuts), ok=False, ts=panel.ts[t], symbol=panel.symbols[j],
        field=field, full_value=_plain(a), truncated_value=_plain(b),
    )  # fmt: skip


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def assert_no_lookahead(
    panel: Panel, strategy: str | Strategy, params: Mapping[str, Any] | None = None, *, trials: int = 8, seed: int = 0
) -> LookaheadReport:
    """Run :func:`check_lookahead` and raise `LookaheadError` naming the first changed signal (for tests)."""
    report = check_lookahead(panel, strategy, params, trials=trials, seed=seed)
    if not report.ok:
        raise LookaheadError(str(report))
    return report
