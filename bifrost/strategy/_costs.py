"""`costs_label`: the trading costs a result was computed with, in words a user sees beside it.

Commission and slippage default to zero everywhere (`FillModel()`), which flatters every
result; so every place a result is shown (the CLI's text and JSON, a sweep's table, a
backtest's summary and tearsheet) says which costs it carries, and ``"no costs"`` when it
carries none.

>>> from bifrost.strategy import Commission, FillModel
>>> costs_label(FillModel())
'no costs'
>>> costs_label(FillModel(commission=Commission(percent=0.001), slippage_bps=5))
'commission 0.1% of value; slippage 5 bps'
"""

from __future__ import annotations

from bifrost.strategy._engine import FillModel

__all__ = ["NO_COSTS", "costs_label"]

NO_COSTS = "no costs"
"""The label of a result computed without commission or slippage."""


def costs_label(fill: FillModel | None) -> str:
    """Describe the commission and slippage of ``fill`` (None: the default model, ``"no costs"``)."""
    if fill is None:
        return NO_COSTS
    c = fill.commission
    parts = []
    if c.percent:
        parts.append(f"commission {c.percent * 100:g}% of value")
    if c.per_share:
        minimum = f" (minimum {c.minimum:g})" if c.minimum else ""
        parts.append(f"commission {c.per_share:g} a share{minimum}")
    elif c.minimum:
        parts.append(f"minimum commission {c.minimum:g}")
    if c.fixed:
        parts.append(f"commission {c.fixed:g} a fill")
    if fill.slippage_bps:
        parts.append(f"slippage {fill.slippage_bps:g} bps")
    if fill.slippage_range:
        parts.append(f"slippage {fill.slippage_range * 100:g}% of the bar's range")
    return "; ".join(parts) if parts else NO_COSTS
