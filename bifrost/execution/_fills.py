"""Fill models: how an order becomes a fill, in one place for the backtest and the paper broker.

`FillModel` and `Commission` are the settings (validated once, on construction); the
compiled helpers below are the rules. The backtest kernel (`bifrost.strategy._kernel`)
calls them inside its loop, and the paper broker calls the same compiled functions
through the methods of `FillModel` (`fill_price`, `slipped`, `commission_of`,
`round_lot`), so a paper fill is the backtest's fill by construction, not by a second
implementation kept in step.

The rules, for one order on one bar (open ``o``, high ``h``, low ``lo``):

* market: at the open (or the close, with ``fill_at="close"``, placed on that bar);
* limit: at the open when the bar opens through the limit (a gap), else at the limit
  when the bar's range reaches it, else no fill;
* stop: at the open when the bar gaps through the stop, else at the stop when the range
  reaches it (it then trades as a market order);
* stop-limit: once the stop is touched (as a stop) it is a limit order from the trigger
  price on, on the same bar and later ones;
* slippage (market and stop fills, and a limit's fill up to its limit): adverse,
  ``slippage_bps`` of the price plus ``slippage_range`` of the bar's range, and never
  outside the bar (a fill cannot be at a price that did not trade);
* commission: ``percent × value + max(per_share × shares, minimum) + fixed`` per fill.

The settings travel to the kernel as one float64 vector (`FillModel.vector`) whose
layout is the ``CFG_*`` indices; the kernel's own entries (bars a year, dividends) ride
in the same vector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

from bifrost import _jit
from bifrost._checks import is_number
from bifrost._jit import njit
from bifrost._typing import FloatArray
from bifrost.errors import InvalidInputError
from bifrost.execution._order import OrderType, Side

__all__ = ["Commission", "FillAt", "FillModel"]

FillAt = Literal["open", "close"]  # market orders fill at the next bar's open or this bar's close

# order types as the kernel codes them (OrderType in order: ORDER_TYPES[code])
MARKET, LIMIT, STOP, STOP_LIMIT = 0, 1, 2, 3
ORDER_TYPES: Final[tuple[OrderType, ...]] = (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT)
_TYPE_CODE: Final = {t: code for code, t in enumerate(ORDER_TYPES)}

# fill-model settings and the kernel's own (bars a year, dividends), packed in one float64 vector
(CFG_FILL_AT_CLOSE, CFG_SLIP_BPS, CFG_SLIP_RANGE, CFG_VOLUME_CAP, CFG_COMM_PCT, CFG_COMM_SHARE,
 CFG_COMM_MIN, CFG_COMM_FIXED, CFG_LOT, CFG_ALLOW_SHORT, CFG_LEVERAGE, CFG_VALID_BARS,
 CFG_PERIODS_PER_YEAR, CFG_DIVIDENDS) = range(14)  # fmt: skip
N_CFG = 14

# Upper bounds no market produces past: a commission of the whole traded value, slippage of
# the whole price or past the bar's range, a fee or lot beyond 1e9, leverage beyond 100.
_MONEY_MAX = 1e9


@njit(inline="always")
def round_lot(q: float, lot: float) -> float:
    # towards zero to a multiple of `lot` (0: fractional); the 1e-9 forgives 2.9999999999 lots
    if lot > 0.0:
        return float(np.trunc(q / lot + np.copysign(1e-9, q)) * lot)
    return q


@njit(inline="always")
def commission(q: float, px: float, cfg: FloatArray) -> float:
    a = abs(q)
    per_share = a * cfg[CFG_COMM_SHARE]
    if per_share < cfg[CFG_COMM_MIN]:
        per_share = cfg[CFG_COMM_MIN]
    return float(a * px * cfg[CFG_COMM_PCT] + per_share + cfg[CFG_COMM_FIXED])


@njit(inline="always")
def slipped(px: float, side: float, h: float, lo: float, cfg: FloatArray) -> float:
    # adverse slippage, kept inside the bar's range (a fill cannot be outside what traded)
    bps = cfg[CFG_SLIP_BPS]
    rng = cfg[CFG_SLIP_RANGE]
    if bps == 0.0 and rng == 0.0:
        return px
    if side > 0:
        return float(min(px * (1.0 + bps * 1e-4) + rng * (h - lo), h))
    return float(max(px * (1.0 - bps * 1e-4) - rng * (h - lo), lo))


@njit()
def fill_price(
    side: float, otype: int, o: float, h: float, lo: float, lim: float, stp: float, triggered: bool
) -> tuple[float, bool]:
    # where an order of `otype` fills on a bar (NaN: it does not), and whether its stop fired
    if otype == MARKET:
        return o, triggered
    if otype == STOP or (otype == STOP_LIMIT and not triggered):
        if side > 0:
            if o >= stp:
                px = o
            elif h >= stp:
                px = stp
            else:
                return np.nan, False
        else:
            if o <= stp:
                px = o
            elif lo <= stp:
                px = stp
            else:
                return np.nan, False
        if otype == STOP:
            return px, True
        # a triggered stop-limit becomes a limit order from the trigger price on
        if side > 0:
            if px <= lim:
                return px, True
            if lo <= lim:
                return lim, True
        else:
            if px >= lim:
                return px, True
            if h >= lim:
                return lim, True
        return np.nan, True
    if side > 0:
        if o <= lim:
            return o, triggered
        if lo <= lim:
            return lim, triggered
    else:
        if o >= lim:
            return o, triggered
        if h >= lim:
            return lim, triggered
    return np.nan, triggered


def _non_negative(owner: str, name: str, value: float, *, upper: float = _MONEY_MAX) -> None:
    ok = is_number(value) and math.isfinite(value)
    if not ok or not 0 <= value <= upper:
        raise InvalidInputError(f"{owner}.{name} must be a non-negative number at most {upper:g}, got {value!r}")


def check_fraction(owner: str, name: str, value: float | None, *, upper: float = 1.0) -> None:
    # a setting in (0, upper] (None: unset), named `owner.name` in the error
    if value is None:
        return
    ok = is_number(value) and math.isfinite(value)
    if not ok or not 0.0 < value <= upper:
        raise InvalidInputError(f"{owner}.{name} must be in (0, {upper:g}], got {value!r}")


def _price(name: str, value: object) -> float:
    # a bar price or an order price handed to a helper: finite and positive
    if not is_number(value) or not math.isfinite(value) or not value > 0:  # type: ignore[arg-type, operator]
        raise InvalidInputError(f"{name} must be a positive finite price, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _quantity(name: str, value: object) -> float:
    if not is_number(value) or not math.isfinite(value):  # type: ignore[arg-type]
        raise InvalidInputError(f"{name} must be a finite number of shares, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _sign(side: object) -> float:
    if not isinstance(side, Side):
        raise InvalidInputError(f"side must be a Side (buy or sell), got {side!r}")
    return 1.0 if side is Side.BUY else -1.0


def _bar(open_: object, high: object, low: object) -> tuple[float, float, float]:
    o, h, lo = _price("open", open_), _price("high", high), _price("low", low)
    if not lo <= o <= h:
        raise InvalidInputError(f"a bar must have low <= open <= high, got open {o!r}, high {h!r}, low {lo!r}")
    return o, h, lo


@dataclass(frozen=True, slots=True, kw_only=True)
class Commission:
    """What a fill costs: ``percent × value + max(per_share × shares, minimum) + fixed``.

    Parameters
    ----------
    percent
        Share of the traded value (0.001 = 0.1%).
    per_share
        Money per share traded, with ``minimum`` per fill.
    minimum
        The least the per-share part of a fill costs.
    fixed
        Money per fill.
    """

    percent: float = 0.0
    per_share: float = 0.0
    minimum: float = 0.0
    fixed: float = 0.0

    def __post_init__(self) -> None:
        _non_negative("Commission", "percent", self.percent, upper=1.0)
        for name in ("per_share", "minimum", "fixed"):
            _non_negative("Commission", name, getattr(self, name))

    def _pack(self, cfg: FloatArray) -> FloatArray:
        cfg[CFG_COMM_PCT] = self.percent
        cfg[CFG_COMM_SHARE] = self.per_share
        cfg[CFG_COMM_MIN] = self.minimum
        cfg[CFG_COMM_FIXED] = self.fixed
        return cfg

    def of(self, quantity: float, price: float) -> float:
        """Return the commission on one fill of ``quantity`` shares (either sign) at ``price``.

        The backtest kernel's own computation (one compiled function).

        >>> Commission(percent=0.001, per_share=0.005, minimum=1.0).of(100, 50.0)
        6.0
        """
        _jit.ready()
        return float(commission(_quantity("quantity", quantity), _price("price", price), self._pack(np.zeros(N_CFG))))


@dataclass(frozen=True, slots=True, kw_only=True)
class FillModel:
    """How orders become fills (the backtest's and the paper broker's; see the module's notes).

    Parameters
    ----------
    fill_at
        ``open``: a market order placed on a bar's close fills at the next bar's open
        (backtrader's default). ``close``: it fills at the same bar's close.
    slippage_bps
        Adverse slippage on market and stop fills, in basis points of the price.
    slippage_range
        Further adverse slippage as a share of the bar's high–low range. A slipped price
        never leaves the bar's range, nor a limit order's limit.
    volume_cap
        Most of a bar's volume one order may take (0.1 = 10%); the rest waits for the
        next bars (a partial fill). None: no cap.
    commission
        The commission schedule.
    lot_size
        Shares trade in multiples of this (1: whole shares; 0: fractional). Sizes given as
        value, percent or target are rounded towards zero.
    allow_short
        Whether a sell may open or grow a short position (else it is rejected).
    leverage
        Gross exposure allowed as a multiple of equity. 1.0 without shorting is a cash
        account: a buy must be paid for in cash, commission included.
    valid_bars
        Bars a limit or stop order stays live before it expires (0: good till cancelled).

    Examples
    --------
    A buy stop at 10 on a bar that gaps up to open at 10.5 fills at the open, slipped by
    10 bps; the same order on a bar that opens at 9.8 and trades up to 10.4 fills at 10:

    >>> from bifrost.execution._order import OrderType, Side
    >>> m = FillModel(slippage_bps=10)
    >>> px, fired = m.fill_price(Side.BUY, OrderType.STOP, 10.5, 11.0, 10.2, stop=10.0)
    >>> px, fired, round(m.slipped(px, Side.BUY, 11.0, 10.2), 6)
    (10.5, True, 10.5105)
    >>> m.fill_price(Side.BUY, OrderType.STOP, 9.8, 10.4, 9.7, stop=10.0)
    (10.0, True)
    """

    fill_at: FillAt = "open"
    slippage_bps: float = 0.0
    slippage_range: float = 0.0
    volume_cap: float | None = None
    commission: Commission = field(default_factory=Commission)
    lot_size: float = 1.0
    allow_short: bool = False
    leverage: float = 1.0
    valid_bars: int = 0

    def __post_init__(self) -> None:
        if self.fill_at not in ("open", "close"):
            raise InvalidInputError(f"FillModel.fill_at must be 'open' or 'close', got {self.fill_at!r}")
        _non_negative("FillModel", "slippage_bps", self.slippage_bps, upper=10_000.0)
        _non_negative("FillModel", "slippage_range", self.slippage_range, upper=1.0)
        check_fraction("FillModel", "volume_cap", self.volume_cap)
        _non_negative("FillModel", "lot_size", self.lot_size)
        if not isinstance(self.commission, Commission):
            raise InvalidInputError(f"FillModel.commission must be a Commission, got {self.commission!r}")
        if not is_number(self.leverage) or not math.isfinite(self.leverage) or not 1.0 <= self.leverage <= 100.0:
            raise InvalidInputError(f"FillModel.leverage must be a number from 1 to 100, got {self.leverage!r}")
        if isinstance(self.valid_bars, bool) or not isinstance(self.valid_bars, int) or self.valid_bars < 0:
            raise InvalidInputError(f"FillModel.valid_bars must be a non-negative integer, got {self.valid_bars!r}")

    def vector(self, *, per_year: float) -> FloatArray:
        """Return the settings packed as the kernel reads them, with ``per_year`` bars a year.

        Parameters
        ----------
        per_year
            The bars a year that annualise the backtest's metrics (``CFG_PERIODS_PER_YEAR``).

        Returns
        -------
        numpy.ndarray
            ``N_CFG`` float64 values at the ``CFG_*`` indices (dividends: none).
        """
        cfg = self.commission._pack(np.zeros(N_CFG))
        cfg[CFG_FILL_AT_CLOSE] = self.fill_at == "close"
        cfg[CFG_SLIP_BPS] = self.slippage_bps
        cfg[CFG_SLIP_RANGE] = self.slippage_range
        cfg[CFG_VOLUME_CAP] = self.volume_cap if self.volume_cap is not None else np.nan
        cfg[CFG_LOT] = self.lot_size
        cfg[CFG_ALLOW_SHORT] = self.allow_short
        cfg[CFG_LEVERAGE] = self.leverage
        cfg[CFG_VALID_BARS] = self.valid_bars
        cfg[CFG_PERIODS_PER_YEAR] = per_year
        return cfg

    # -- the kernel's rules, callable from Python (the paper broker fills with these) ---------------
    def fill_price(
        self,
        side: Side,
        order_type: OrderType,
        open: float,
        high: float,
        low: float,
        limit: float | None = None,
        stop: float | None = None,
        triggered: bool = False,
    ) -> tuple[float, bool]:
        """Return where an order fills on a bar, before slippage, and whether its stop has fired.

        Parameters
        ----------
        side, order_type
            The order's.
        open, high, low
            The bar (``low <= open <= high``).
        limit, stop
            The order's prices; the ones its type needs are required, the others ignored.
        triggered
            Whether a stop-limit's stop fired on an earlier bar (it is a limit order since).

        Returns
        -------
        tuple of (float, bool)
            The fill price (NaN: the order does not fill on this bar) and whether the stop
            has fired (for a stop-limit that fired but whose limit the bar did not reach, the
            price is NaN and ``triggered`` True: pass it on the next bar).

        Raises
        ------
        InvalidInputError
            If ``side`` or ``order_type`` is not one of the enums, a bar price is not a
            positive finite number or the bar is not ``low <= open <= high``, or a price the
            type needs is missing or not positive and finite.
        """
        sign = _sign(side)
        if not isinstance(order_type, OrderType):
            raise InvalidInputError(f"order_type must be an OrderType, got {order_type!r}")
        o, h, lo = _bar(open, high, low)
        needs_limit = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        lim = _price(f"limit (a {order_type} order's)", limit) if needs_limit else math.nan
        stp = _price(f"stop (a {order_type} order's)", stop) if needs_stop else math.nan
        if not isinstance(triggered, bool):
            raise InvalidInputError(f"triggered must be True or False, got {triggered!r}")
        _jit.ready()
        px, fired = fill_price(sign, _TYPE_CODE[order_type], o, h, lo, lim, stp, triggered)
        return float(px), bool(fired)

    def slipped(self, price: float, side: Side, high: float, low: float) -> float:
        """Return ``price`` moved against ``side`` by the model's slippage, kept inside ``[low, high]``.

        Raises
        ------
        InvalidInputError
            If a price is not positive and finite, or ``low > high``.
        """
        px, sign = _price("price", price), _sign(side)
        h, lo = _price("high", high), _price("low", low)
        if lo > h:
            raise InvalidInputError(f"a bar must have low <= high, got high {h!r}, low {lo!r}")
        _jit.ready()
        return float(slipped(px, sign, h, lo, self.vector(per_year=1.0)))

    def commission_of(self, quantity: float, price: float) -> float:
        """Return the commission on one fill of ``quantity`` shares (either sign) at ``price``.

        Raises
        ------
        InvalidInputError
            If ``quantity`` is not finite or ``price`` not positive and finite.
        """
        return self.commission.of(quantity, price)

    def round_lot(self, quantity: float) -> float:
        """Return ``quantity`` rounded towards zero to a multiple of ``lot_size`` (0: unchanged).

        Raises
        ------
        InvalidInputError
            If ``quantity`` is not finite.
        """
        q = _quantity("quantity", quantity)
        _jit.ready()
        return float(round_lot(q, self.lot_size))
