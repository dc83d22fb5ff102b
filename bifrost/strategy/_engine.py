"""The fast backtest engine: what a strategy asks for, the fill model, and `simulate`.

A strategy turns a :class:`~bifrost.data.Panel` into either

* :class:`Signals` — entries and exits per bar and symbol (the engine sizes the entry and
  closes the whole position on the exit, as ``if not self.position: self.buy()`` and
  ``self.close()`` do in backtrader), or
* :class:`Orders` — an order per bar and symbol (NaN for none): shares, a cash amount, a
  share of equity, or a target weight or share count, which makes rebalancing one line.

Either may carry limit and stop prices (a stop-limit when both are set) and stop-loss,
take-profit and trailing-stop levels attached to the positions it opens. The engine
(:mod:`bifrost.strategy._kernel`) fills them under a :class:`FillModel`, which lives with
its fill rules in `bifrost.execution._fills` (the paper broker fills with the same code)
and is re-exported here and from `bifrost.strategy`.

Dividends (`DividendMode`): a panel's ``dividend`` field (a store's raw or split-adjusted
read carries the recorded dividends, cash per share on each ex-date) is credited on the
ex-date to the shares held at the close before it, before anything trades; a short pays
it. ``cash`` keeps it as cash, ``reinvest`` buys the long position more shares with it at
the close before the ex-date less the dividend (rounded down to the lot; no commission),
which is the price the total-return adjustment ``1 - dividend / previous close`` assumes:
a raw backtest that reinvests equals the same backtest on ``adjusted`` prices (with
fractional shares, ``lot_size=0``), and one that keeps cash differs from it only by what
the reinvested dividends would have earned. ``ignore`` credits nothing: the price return.
An adjusted panel holds its dividends in its prices and carries no ``dividend`` field.
"""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import numpy as np
import pandas as pd

from bifrost._checks import as_finite_float, is_number
from bifrost._typing import BoolArray, FloatArray, IntArray
from bifrost.data import Panel, is_intraday, periods_per_year
from bifrost.errors import DataQualityWarning, InsufficientDataError, InvalidInputError
from bifrost.execution._fills import CFG_DIVIDENDS, Commission, FillAt, FillModel, check_fraction
from bifrost.strategy import _kernel as K

if TYPE_CHECKING:
    from bifrost.compliance._compile import CompiledRules

__all__ = [
    "DIVIDEND_MODES",
    "NO_RULES",
    "Commission",
    "DividendMode",
    "FillAt",
    "FillModel",
    "Orders",
    "RuleArrays",
    "Signals",
    "SizeType",
    "annual_bars",
    "check_dividends",
    "check_periods_per_year",
    "dividend_grid",
    "prepare",
    "rule_arrays",
    "run_kernel",
]

MAX_AMOUNT = 1e15
"""Largest cash or order size (shares, money) the engine takes: sums of such stay exact to the cent."""
SizeType = Literal["shares", "value", "percent", "target_percent", "target_shares"]
SIZE_TYPES: tuple[str, ...] = get_args(SizeType)
DividendMode = Literal["cash", "reinvest", "ignore"]  # what a backtest does with the panel's dividends
DIVIDEND_MODES: tuple[DividendMode, ...] = get_args(DividendMode)
_DIVIDEND_CODE = {"cash": K.DIV_CASH, "reinvest": K.DIV_REINVEST, "ignore": K.DIV_NONE}
_SIZE_CODE = {
    "shares": K.SHARES, "value": K.VALUE, "percent": K.PERCENT,
    "target_percent": K.TARGET_PERCENT, "target_shares": K.TARGET_SHARES,
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class _Exits:
    stop_loss: float | None = None  # below (above, short) the entry price, as a fraction
    take_profit: float | None = None
    trailing_stop: float | None = None  # below the best price since entry

    def _check_exits(self, owner: str) -> None:
        check_fraction(owner, "stop_loss", self.stop_loss)
        check_fraction(owner, "take_profit", self.take_profit, upper=math.inf)
        check_fraction(owner, "trailing_stop", self.trailing_stop)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signals(_Exits):
    """Entries and exits, time × symbols booleans (or 1-D for one symbol).

    An entry opens a position of ``size`` (in ``size_type`` units) when the symbol is
    flat; an exit closes a long position, a short exit a short one. ``limit_price`` and
    ``stop_price`` (NaN where unused) turn entries into limit, stop or stop-limit orders.
    """

    entries: Any
    exits: Any = None
    short_entries: Any = None
    short_exits: Any = None
    size: Any = 1.0
    size_type: Literal["shares", "value", "percent"] = "shares"
    limit_price: Any = None
    stop_price: Any = None

    def __post_init__(self) -> None:
        if self.size_type not in ("shares", "value", "percent"):
            raise InvalidInputError(
                f"Signals.size_type must be 'shares', 'value' or 'percent', got {self.size_type!r}"
                " (target sizes need Orders)"
            )
        self._check_exits("Signals")


@dataclass(frozen=True, slots=True, kw_only=True)
class Orders(_Exits):
    """An order per bar and symbol: ``size`` in ``size_type`` units, NaN for no order.

    Positive sizes buy, negative sell (for ``target_*`` the size is the target itself).
    A new order on a symbol replaces its unfilled one.
    """

    size: Any
    size_type: SizeType = "shares"
    limit_price: Any = None
    stop_price: Any = None

    def __post_init__(self) -> None:
        if self.size_type not in SIZE_TYPES:
            raise InvalidInputError(f"Orders.size_type must be one of {SIZE_TYPES}, got {self.size_type!r}")
        self._check_exits("Orders")


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleArrays:
    """Compliance rules as the kernel reads them (`bifrost.compliance.CompiledRules` laid out; none: no rows)."""

    table: FloatArray  # (rules, N_RULE_FIELDS): kind code, limit, warn_at, blocks, side
    active: BoolArray  # (bars, rules)
    listed: BoolArray  # (rules, symbols)
    groups: IntArray  # (rules, symbols)
    session_start: BoolArray  # (bars,)

    @property
    def n_rules(self) -> int:
        return int(self.table.shape[0])

    def args(self) -> tuple[Any, ...]:
        return self.table, self.active, self.listed, self.groups, self.session_start

    def subset(self, a: int, b: int) -> RuleArrays:
        # the rules of a chunk of symbols a:b (a sweep's)
        if not self.n_rules:
            return self
        listed, groups = np.ascontiguousarray(self.listed[:, a:b]), np.ascontiguousarray(self.groups[:, a:b])
        return RuleArrays(
            table=self.table, active=self.active, listed=listed, groups=groups, session_start=self.session_start
        )


NO_RULES: Final = RuleArrays(
    table=np.zeros((0, K.N_RULE_FIELDS)), active=np.zeros((1, 0), dtype=np.bool_), listed=np.zeros((0, 1), np.bool_),
    groups=np.zeros((0, 1), dtype=np.int64), session_start=np.zeros(1, dtype=np.bool_),
)  # fmt: skip
"""No compliance rules: the kernel's loop does no extra work."""


def rule_arrays(compiled: CompiledRules) -> RuleArrays:
    """Lay out compiled compliance rules for the kernel (`bifrost.compliance.compile_rules`)."""
    n = compiled.n_rules
    if n == 0:
        return NO_RULES
    table = np.zeros((n, K.N_RULE_FIELDS))
    # the kernel's kind codes are COMPILED_KINDS' order (RK_RESTRICTED = 0 ... RK_DAILY_LOSS = 9)
    table[:, K.RC_KIND] = compiled.kinds
    table[:, K.RC_LIMIT] = compiled.limits
    table[:, K.RC_WARN_AT] = compiled.warn_at
    table[:, K.RC_BLOCKS] = compiled.blocks
    table[:, K.RC_SIDE] = compiled.sides
    return RuleArrays(
        table=table, active=np.ascontiguousarray(compiled.active), listed=np.ascontiguousarray(compiled.listed),
        groups=np.ascontiguousarray(compiled.groups), session_start=np.ascontiguousarray(compiled.session_start),
    )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelInputs:
    """Everything the kernel reads, validated and laid out (see :func:`prepare`)."""

    prices: tuple[FloatArray, ...]  # open, high, low, close, volume, dividend (per share, on the ex-date)
    col_symbol: IntArray
    group_start: IntArray
    signal_mode: bool
    flags: tuple[BoolArray, BoolArray, BoolArray, BoolArray]
    size: FloatArray
    size_type: int
    limit_price: FloatArray
    stop_price: FloatArray
    stops: FloatArray
    cash: FloatArray
    cfg: FloatArray
    rules: RuleArrays = NO_RULES

    def args(self) -> tuple[Any, ...]:
        return (
            *self.prices, self.col_symbol, self.group_start, self.signal_mode, *self.flags, self.size,
            self.size_type, self.limit_price, self.stop_price, self.stops, self.cash, self.cfg, *self.rules.args(),
        )  # fmt: skip


def as_grid(value: Any, shape: tuple[int, int]) -> np.ndarray:
    """Return a request field as an array that broadcasts against the panel (a 1-D series of
    one symbol becomes a column), without validating it (see :func:`prepare`)."""
    arr = np.asarray(value.to_numpy() if isinstance(value, pd.DataFrame | pd.Series) else value)
    return arr[:, None] if arr.ndim == 1 and shape[1] == 1 and arr.shape[0] == shape[0] else arr


def _grid(value: Any, name: str, shape: tuple[int, int], dtype: type, fill: Any) -> Any:
    # a (1|T) × (1|S) array that broadcasts against the panel's (T, S)
    if value is None:
        return np.full((1, 1), fill, dtype=dtype)
    if isinstance(value, pd.DataFrame | pd.Series):
        value = value.to_numpy()
    try:
        arr: Any = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be {np.dtype(dtype).name} values: {exc}") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        if shape[1] == 1 and arr.shape[0] == shape[0]:
            arr = arr.reshape(-1, 1)
        elif arr.shape[0] == shape[1]:
            arr = arr.reshape(1, -1)
        else:
            raise InvalidInputError(
                f"{name} has {arr.shape[0]} values; expected one per bar ({shape[0]}) for one symbol, "
                f"or one per symbol ({shape[1]})"
            )
    if arr.ndim != 2 or arr.shape[0] not in (1, shape[0]) or arr.shape[1] not in (1, shape[1]):
        raise InvalidInputError(f"{name} has shape {arr.shape}; it must broadcast to the panel's {shape}")
    if dtype is np.float64 and name.endswith("price") and (arr[np.isfinite(arr)] <= 0).any():
        raise InvalidInputError(f"{name} must be positive where set")
    return arr


def annual_bars(panel: Panel, per_year: float | None) -> float:
    """Return the bars a year that annualise metrics on ``panel``: ``per_year`` if given
    (checked by the caller), else its frequency's (`bifrost.data.periods_per_year`)."""
    return float(periods_per_year(panel.frequency)) if per_year is None else per_year


def check_periods_per_year(value: float | None) -> float | None:
    """Return a ``periods_per_year=`` override as a float (None: the panel's frequency decides)."""
    # from a bar a year up to a bar a second around the clock (31,536,000) with room to spare
    return None if value is None else as_finite_float(value, "periods_per_year", minimum=1.0, maximum=1e8)


def check_dividends(value: object) -> DividendMode:
    """Return ``value`` as a `DividendMode`, or raise `InvalidInputError` naming the choices."""
    if not isinstance(value, str) or value not in DIVIDEND_MODES:
        raise InvalidInputError(
            f"dividends must be one of {', '.join(map(repr, DIVIDEND_MODES))} (what a backtest on raw prices does "
            f"with the dividends going ex: keep them as cash, buy more shares, or leave them out), got {value!r}"
        )
    return value


def dividend_grid(panel: Panel, mode: DividendMode) -> FloatArray | None:
    """Return the panel's ``dividend`` field as the kernel credits it under ``mode`` (None: nothing to credit).

    Raises
    ------
    InvalidInputError
        If a dividend is NaN, infinite or negative (naming the symbol and the bar), or the
        panel's prices are ``adjusted`` (they hold the dividends already: crediting them
        again would count them twice).
    """
    div = panel.fields.get("dividend")
    if mode == "ignore" or div is None:
        return None
    if panel.adjustment == "adjusted":
        raise InvalidInputError(
            "the panel has a 'dividend' field but its adjusted prices already hold the dividends: credit them on "
            "raw or split-adjusted prices, or pass dividends='ignore'"
        )
    arr = np.asarray(div, dtype=np.float64)
    if arr.shape != panel.shape:
        raise InvalidInputError(f"the panel's dividend field has shape {arr.shape}; its prices have {panel.shape}")
    with np.errstate(invalid="ignore"):
        bad = ~(arr >= 0.0) | np.isinf(arr)
    if bad.any():
        t, j = np.argwhere(bad)[0]
        when = panel.ts[t].isoformat() if is_intraday(panel.frequency) else str(panel.ts[t].date())
        raise InvalidInputError(
            f"the panel's dividend of {panel.symbols[j]} on {when} is "
            f"{float(arr[t, j])!r} ({int(bad.sum()):,} such value(s)): a dividend is cash per share, finite and not "
            "negative (0 where none goes ex)"
        )
    return arr if arr.any() else None


def warn_raw_splits(panel: Panel) -> None:
    """Warn (`DataQualityWarning`, at the caller's line) where ``panel`` is raw across a recorded split.

    A store's raw read lists the splits going ex inside its span (``Panel.raw_splits``):
    a backtest on those prices holds the pre-split shares at the post-split prices, a
    loss of 1 - 1/ratio on the split day that no account ever had.
    """
    if panel.adjustment != "raw" or not panel.raw_splits:
        return
    shown = ", ".join(
        f"{symbol} {_ratio(ratio)} split on {ts:%Y-%m-%d}" for symbol, ts, ratio in panel.raw_splits[:3]
    ) + (f" and {len(panel.raw_splits) - 3} more" if len(panel.raw_splits) > 3 else "")
    warnings.warn(
        f"the panel's prices are raw across recorded splits ({shown}): the backtest keeps the pre-split "
        "share count at post-split prices, a false loss on each split day; read the bars with "
        "adjustment='split_adjusted' (use adjustment='split_adjusted'; --adjustment split_adjusted on the CLI)",
        DataQualityWarning,
        stacklevel=_caller_stacklevel(),
    )


def _ratio(value: float) -> str:
    # 3.0 -> 3:1, 1.5 -> 3:2, 0.5 -> 1:2 (a reverse split)
    f = Fraction(value).limit_denominator(100)
    return f"{f.numerator}:{f.denominator}" if math.isclose(float(f), value, rel_tol=1e-9) else f"{value:g}:1"


def _caller_stacklevel() -> int:
    # the stacklevel of the first frame outside bifrost.strategy: the line that called the library
    level, frame = 1, sys._getframe(1)
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("bifrost.strategy"):
        level, frame = level + 1, frame.f_back  # type: ignore[assignment]
    return level


def prepare(
    panel: Panel,
    request: Signals | Orders,
    *,
    cash: float,
    fill: FillModel,
    per_year: float | None = None,
    dividends: DividendMode = "cash",
) -> KernelInputs:
    """Validate a strategy's request against ``panel`` and lay it out for the kernel (one group).

    ``per_year`` bars a year annualise the metrics (None: the panel's frequency's, see `annual_bars`);
    ``dividends`` says what the panel's dividends do (see the module's notes).
    """
    mode = check_dividends(dividends)
    if not isinstance(request, Signals | Orders):
        raise InvalidInputError(f"a strategy must return Signals or Orders, got {type(request).__name__}")
    if not is_number(cash) or not math.isfinite(cash) or not 0 < cash <= MAX_AMOUNT:
        # beyond 1e15 the equity arithmetic overflows to inf without a word
        raise InvalidInputError(f"cash must be a positive number up to {MAX_AMOUNT:.0e}, got {cash!r}")
    for f in ("open", "high", "low", "close"):
        if f not in panel.fields:
            raise InvalidInputError(f"the panel needs an {f!r} field to fill orders; it has {list(panel.fields)}")
    shape = panel.shape
    if shape[0] == 0 or shape[1] == 0:
        raise InsufficientDataError(f"the panel is empty ({shape[0]} bars × {shape[1]} symbols)")
    volume = panel.fields.get("volume")
    prices = tuple(
        np.asarray(a, dtype=np.float64)
        for a in (panel["open"], panel["high"], panel["low"], panel["close"], volume if volume is not None else np.inf)
    )
    if prices[4].ndim == 0:
        prices = (*prices[:4], np.broadcast_to(prices[4], shape))
    div = dividend_grid(panel, mode)
    prices = (*prices, np.zeros((1, 1)) if div is None else div)
    if fill.volume_cap is not None and volume is None:
        raise InvalidInputError("FillModel.volume_cap needs a 'volume' field in the panel")
    signal_mode = isinstance(request, Signals)
    if isinstance(request, Signals):
        flags = tuple(
            _grid(getattr(request, n), f"Signals.{n}", shape, np.bool_, False)
            for n in ("entries", "exits", "short_entries", "short_exits")
        )
        size = _grid(request.size, "Signals.size", shape, np.float64, np.nan)
    else:
        flags = tuple(np.zeros((1, 1), dtype=np.bool_) for _ in range(4))
        size = _grid(request.size, "Orders.size", shape, np.float64, np.nan)
    if np.isinf(size).any() or (np.abs(size[np.isfinite(size)]) > MAX_AMOUNT).any():
        raise InvalidInputError(f"{type(request).__name__}.size must be finite and at most {MAX_AMOUNT:.0e} where set")
    if signal_mode and (size[np.isfinite(size)] < 0).any():
        # an entry's side is its flag (entries, short_entries); a negative size would be
        # silently traded as its absolute value (0 or NaN: no order on that bar)
        raise InvalidInputError(
            f"Signals.size must not be negative (entries buy, short_entries sell), "
            f"got {float(size[np.isfinite(size)].min())!r}"
        )
    n_sym = shape[1]
    stops = np.empty((n_sym, 3))
    for i, level in enumerate((request.stop_loss, request.take_profit, request.trailing_stop)):
        stops[:, i] = np.nan if level is None else level
    return KernelInputs(
        prices=prices,
        col_symbol=np.arange(n_sym, dtype=np.int64),
        group_start=np.array([0, n_sym], dtype=np.int64),
        signal_mode=signal_mode,
        flags=flags,
        size=size,
        size_type=_SIZE_CODE[request.size_type],
        limit_price=_grid(request.limit_price, f"{type(request).__name__}.limit_price", shape, np.float64, np.nan),
        stop_price=_grid(request.stop_price, f"{type(request).__name__}.stop_price", shape, np.float64, np.nan),
        stops=stops,
        cash=np.array([float(cash)]),
        cfg=_with_dividends(fill.vector(per_year=annual_bars(panel, per_year)), K.DIV_NONE if div is None else mode),
    )


def _with_dividends(cfg: FloatArray, mode: DividendMode | int) -> FloatArray:
    cfg[CFG_DIVIDENDS] = mode if isinstance(mode, int) else _DIVIDEND_CODE[mode]
    return cfg


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelRecords:
    """What a recorded run produced, still as arrays."""

    equity: FloatArray
    cash: FloatArray
    positions: FloatArray
    orders: FloatArray
    fills: FloatArray
    trades: FloatArray
    metrics: FloatArray
    dividends: FloatArray | None = None  # cash each position received (paid, short) on each bar; None: none
    # the orders the compliance rules warned about or blocked (K.X_* fields), each rule's verdict on
    # each (K.V_*; -1: not in force) and the group's positions when it was created
    screened: FloatArray = field(default_factory=lambda: np.zeros((0, K.N_SCREEN_FIELDS)))
    verdicts: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    held: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))


def run_kernel(inputs: KernelInputs) -> KernelRecords:
    """Run one recorded simulation, growing the record buffers until everything fits."""
    n_t = inputs.prices[3].shape[0]
    n_cols = inputs.col_symbol.shape[0]
    n_groups = inputs.group_start.shape[0] - 1
    events = int(inputs.flags[0].sum() + inputs.flags[1].sum()) + int(np.isfinite(inputs.size).sum())
    events += int(np.count_nonzero(inputs.prices[5]))  # a reinvested dividend is a fill
    capacity = min(events, n_t * n_cols) + 2 * n_cols + 64
    n_rules = inputs.rules.n_rules
    widest = int(np.diff(inputs.group_start).max()) if n_groups else 0
    while True:
        equity = np.zeros((n_t, n_groups))
        cash = np.zeros((n_t, n_groups))
        positions = np.zeros((n_t, n_cols))
        dividends = np.zeros((n_t, n_cols))
        orders = np.zeros((capacity, K.N_ORDER_FIELDS))
        fills = np.zeros((capacity * 2, K.N_FILL_FIELDS))
        trades = np.zeros((capacity, K.N_TRADE_FIELDS))
        screened_rows = capacity if n_rules else 0
        screened = np.zeros((screened_rows, K.N_SCREEN_FIELDS))
        verdicts = np.zeros((screened_rows, n_rules))
        held = np.zeros((screened_rows, widest if n_rules else 0))
        counts = np.zeros(K.N_COUNTS, dtype=np.int64)
        metrics = np.zeros((n_groups, len(K.METRICS) + (len(K.RULE_METRICS) if n_rules else 0)))
        K.simulate_recorded(*inputs.args(), equity, cash, positions, dividends, orders, fills, trades, screened,  # type: ignore[call-arg]
                            verdicts, held, counts, metrics)  # fmt: skip
        if not counts[K.C_OVERFLOW]:
            break
        capacity *= 4
    return KernelRecords(
        equity=equity,
        cash=cash,
        positions=positions,
        orders=orders[: counts[K.C_ORDERS]],
        fills=fills[: counts[K.C_FILLS]],
        trades=trades[: counts[K.C_TRADES]],
        metrics=metrics,
        dividends=dividends,
        screened=screened[: counts[K.C_SCREENED]],
        verdicts=verdicts[: counts[K.C_SCREENED]],
        held=held[: counts[K.C_SCREENED]],
    )
