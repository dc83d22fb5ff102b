"""`warm`: compile the engine's kernels once, into the user's numba cache, before a user waits on them.

The kernels compile on their first call (`bifrost._jit`), and numba keeps what it compiled
in the cache folder (`bifrost._jit.cache_dir`), so only the first backtest on a machine —
or the first after an upgrade changed a kernel — pays the compilation (about half a minute
for the engine). ``make install`` and ``make run`` call ``bifrost warm`` so that nobody's
first backtest is that one; on a warm cache it loads the kernels and returns in a second or
two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bifrost import _jit

__all__ = ["WarmReport", "warm"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmReport:
    """What :func:`warm` did: the cache folder, kernel versions loaded and compiled, the time it took."""

    cache_dir: Path | None  # None: the folder could not be written, nothing is cached
    loaded: int
    compiled: int
    seconds: float

    def __str__(self) -> str:
        where = f"in {self.cache_dir}" if self.cache_dir is not None else "(not cached: cannot write the cache folder)"
        if self.compiled == 0:
            what = f"all {self.loaded} kernels loaded from the cache"
        else:
            what = f"{self.compiled} kernels compiled, {self.loaded} loaded from the cache"
        return f"numba kernels {where}: {what}, {self.seconds:.1f} s"


def warm() -> WarmReport:
    """Compile, or load from numba's cache, the kernels of backtests, sweeps, metrics and fills.

    Runs every built-in strategy, a sweep and the metrics table on a small synthetic
    panel, and the fill model's rules as the paper broker calls them; the kernels
    compiled go to `bifrost._jit.cache_dir` (``BIFROST_NUMBA_CACHE_DIR``,
    ``NUMBA_CACHE_DIR``, else ``$XDG_CACHE_HOME/bifrost/numba``).

    Returns
    -------
    WarmReport
        The cache folder, and how many kernel versions this call took from the cache
        and how many it compiled (what an earlier call in this process did is included).
    """
    from bifrost.data import Panel, SyntheticMarket
    from bifrost.execution._fills import FillModel
    from bifrost.execution._order import OrderType, Side
    from bifrost.strategy._optimize import sweep
    from bifrost.strategy._strategies import STRATEGIES, backtest

    start = time.perf_counter()
    panel = Panel.from_bars(SyntheticMarket(n_symbols=2, n_days=80, seed=7).bars())
    one = Panel(
        ts=panel.ts, symbols=panel.symbols[:1], fields={f: v[:, :1] for f, v in panel.fields.items()},
        frequency=panel.frequency,
    )  # fmt: skip
    small = {"sma_cross": {"fast": 3, "slow": 8}, "momentum": {"lookback": 10, "rebalance": 5, "top_n": 1}}
    for data in (panel, one):  # the 2-D kernels and the serial one-column ones
        for name in STRATEGIES:
            backtest(data, name, small.get(name, {})).stats()
        backtest(data, "mean_reversion", {"method": "bollinger", "period": 10})
        sweep(data, "sma_cross", {"fast": [3], "slow": [8, 13]})
    model = FillModel(slippage_bps=1.0)  # the paper broker's first order need not compile them
    model.fill_price(Side.BUY, OrderType.STOP_LIMIT, 10.0, 10.5, 9.5, limit=10.0, stop=10.0)
    model.slipped(10.0, Side.BUY, 10.5, 9.5)
    model.commission_of(1.0, 10.0)
    model.round_lot(1.5)
    loaded, compiled = _jit.compile_counts()
    return WarmReport(
        cache_dir=_jit.cache_enabled(), loaded=loaded, compiled=compiled, seconds=time.perf_counter() - start
    )
