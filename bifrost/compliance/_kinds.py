"""The rule kinds: what each kind of rule measures on an order and the book, and how it decides.

Every kind is a small object satisfying `bifrost.compliance.RuleKind`: its ``params`` (what
the rules file may set), its ``stage``, whether it is ``compilable`` (its inputs depend only
on prices, positions, cash and dates, so a backtest can apply it per bar), ``gather`` (the
inputs, a JSON-able mapping of finite floats, ints, strings, booleans and None) and
``decide`` (the verdict and a reason a person can read, from ``rule.params`` and the inputs
alone: replaying a recorded decision re-runs ``decide`` on its recorded inputs).

Conventions, stated once for every kind:

- A tripped rule says ``block``; the engine turns it into ``warn`` for a rule whose severity
  is ``warn``. Kinds that measure against a limit take an optional ``warn_at`` in (0, 1):
  the fraction of the limit from which they ``warn`` (absent: no warning zone).
- The book after the order counts the working orders: a symbol's holding is its position
  plus its pending shares (``BookState.pending``), as `bifrost.execution.reduces` counts
  them, and the order is added to that. This holds for the exposures (gross, sector,
  issuer, the order's position), for the short-sale rule and for "reduces".
- Exposures are ``|holding × price|`` at the book's last prices; the order's symbol is at
  ``Measures.price`` (the last price, else the limit, else the stop). NAV is
  ``BookState.equity``. A limit is "at most": a measure equal to it passes, and so does one
  within `LIMIT_TOLERANCE` (relative) above it, float rounding; a warning zone starts at
  ``warn_at × limit`` inclusive (with the same tolerance), for every kind.
- An order that only **reduces** a holding (`reduces`: it moves the holding towards zero
  without crossing it) is never blocked by a measure it lowers; when a rule cannot measure
  (no price for a symbol it needs, equity unknown or not positive) it blocks an order that
  does not only reduce ("cannot measure: no price for X") and passes one that does, as
  `bifrost.execution.RiskLimitCheck` does.
- A concentration or exposure limit blocks only an order that takes its measure above the
  limit *and* raises it: an order that lowers a measure already above its limit passes.

The book-wide numbers (the gross exposure, the order's sector and issuer gross) come from
one pass over the book, made on first use and kept in the evaluation's `Measures`
(`book_exposure`), so twenty rules on a 1,000-symbol book cost that pass once.

Pack ``finra_day_trading`` (`PACKS`) expands into the two day-trading regimes with their
dates: FINRA Rule 4210(f)(8)(B)'s pattern-day-trader minimum up to the day before its
``switch_on``, and the amended Rule 4210's intraday margin standard from it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final, Literal, Protocol

import pandas as pd

from bifrost.compliance._model import BookState, Measures, Param, ProposedOrder, Rule, RuleKind, Verdict
from bifrost.errors import InvalidInputError
from bifrost.portfolio import Side

__all__ = [
    "FINRA_DAY_TRADING",
    "INTRADAY_MARGIN_PHASE_IN",
    "LIMIT_TOLERANCE",
    "MAX_DAY_TRADE_SESSIONS",
    "MAX_DEVIATION",
    "MAX_MONEY_USD",
    "MAX_NAV_FRACTION",
    "MAX_WASH_SALE_WINDOW_DAYS",
    "MAX_WINDOW_SECONDS",
    "MIN_WINDOW_SECONDS",
    "PACKS",
    "PRICE_COLLAR",
    "RESTRICTED_LIST",
    "RULE_KINDS",
    "WASH_SALE_WINDOW_DAYS",
    "BookExposure",
    "DailyLossLimit",
    "DuplicateOrder",
    "FinraDayTrading",
    "GrossExposure",
    "IntradayMargin",
    "IssuerConcentration",
    "MaxOrderNotional",
    "MaxOrderQuantity",
    "MaxPositionPctNav",
    "OrderRate",
    "PatternDayTrader",
    "PriceCollar",
    "RestrictedList",
    "RulePack",
    "SectorConcentration",
    "ShortSale",
    "WashSale",
    "book_exposure",
    "reduces",
    "session_date",
]

Stage = Literal["pre_trade", "post_trade", "both"]

WASH_SALE_WINDOW_DAYS: Final = 30
"""The wash-sale window: a loss sale with a purchase of the same symbol this many calendar days
before or after it (26 U.S.C. § 1091(a): "within a period beginning 30 days before the date of
such sale or disposition and ending 30 days after such date")."""

INTRADAY_MARGIN_PHASE_IN: Final = (dt.date(2026, 6, 1), dt.date(2027, 10, 1))
"""The first and last day a book may switch to the amended Rule 4210's intraday margin standard.

The dates are those of issue 15 (FINRA's amendment of Rule 4210, approved by the SEC in April
2026, effective from June 2026 and phased in to October 2027); check them against FINRA's
regulatory notice before relying on them."""

MAX_MONEY_USD: Final = 1e15
"""The largest amount of money a rule's param may name (a limit beyond it limits nothing)."""

MAX_NAV_FRACTION: Final = 100.0
"""The largest NAV fraction a concentration or exposure limit may name (100 = 10,000% of NAV)."""

MAX_DEVIATION: Final = 10.0
"""The largest price collar (10 = a limit 1,000% from the last price)."""

MAX_WINDOW_SECONDS: Final = 86_400.0
"""The longest lookback of ``duplicate_order`` and ``order_rate``: one day (the order manager
loads the orders of that window for every decision)."""

MIN_WINDOW_SECONDS: Final = 0.001
"""The shortest lookback of ``duplicate_order`` and ``order_rate``: one millisecond."""

MAX_DAY_TRADE_SESSIONS: Final = 10
"""The longest ``pattern_day_trader`` window, in sessions: the order manager loads this many
sessions of fills to count day trades (``bifrost.execution``'s ``DAY_TRADE_SESSIONS``)."""

MAX_WASH_SALE_WINDOW_DAYS: Final = 366
"""The longest wash-sale window, in calendar days (the statute's is 30)."""

LIMIT_TOLERANCE: Final = 1e-9
"""The relative tolerance of every "at most" limit and warning level: a measure within
``LIMIT_TOLERANCE`` of a limit is at the limit (55.00 against a last price of 50.00 is exactly
10%, though ``abs(55 / 50 - 1)`` is 0.10000000000000009 in float). The backtest kernel decides
with the same tolerance."""

_WARN_AT: Final = Param(
    name="warn_at",
    type="float",
    doc="the fraction of the limit from which the rule warns, in (0, 1) (absent: no warning zone)",
    required=False,
    default=None,
    minimum=0.0,
    maximum=1.0,
    exclusive=True,
)


# --------------------------------------------------------------------------------------------
# reading params and inputs (the loader validated the params; inputs are what gather wrote)


def _param_float(rule: Rule, name: str) -> float:
    value = rule.params[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"rule {rule.id!r} ({rule.kind}): {name} must be a number, got {value!r}")
    return float(value)


def _param_warn_at(rule: Rule) -> float | None:
    return None if rule.params.get("warn_at") is None else _param_float(rule, "warn_at")


def _float(inputs: Mapping[str, object], name: str) -> float | None:
    value = inputs.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int(inputs: Mapping[str, object], name: str) -> int:
    value = inputs.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(inputs: Mapping[str, object], name: str) -> str:
    value = inputs.get(name)
    return value if isinstance(value, str) else ""


def _finite(value: float | Decimal | None) -> float | None:
    # a price or equity the rules can measure with: a finite float, else None
    if value is None:
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _above(value: float, limit: float) -> bool:
    # an "at most" limit trips: the measure is above it by more than the tolerance
    return value > limit * (1.0 + LIMIT_TOLERANCE)


def _reaches(value: float, level: float) -> bool:
    # a measure is at or past a level ("from warn_at x limit on", "at or beyond the loss limit")
    return value >= level * (1.0 - LIMIT_TOLERANCE)


_MAX_ORDER_NUMBER: Final = 1e15


def _order_number(order: ProposedOrder, what: Literal["quantity", "limit_price", "stop_price"]) -> float | None:
    # an order's quantity or price as the finite float the inputs record; a value a float cannot
    # hold (Decimal("1e400") is a finite Decimal) is bad input, never an inf in the audit trail
    value: Decimal | None = getattr(order, what)
    if value is None:
        return None
    x = float(value)
    if not (math.isfinite(x) and abs(x) <= _MAX_ORDER_NUMBER):
        raise InvalidInputError(
            f"order {order.client_order_id or order.symbol}: {what} {value} is out of range "
            f"(expected a finite number of magnitude at most {_MAX_ORDER_NUMBER:g})"
        )
    return x


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _pct_apart(x: float, limit: float) -> str:
    # x as a percentage with enough digits to differ from the limit's 0.1% (10.01% above 10.0%)
    for digits in range(1, 8):
        shown = f"{x:.{digits}%}"
        if shown != f"{limit:.{digits}%}":
            return shown
    return f"{x:.1%}"


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _price(x: float) -> str:
    # a price as the tick shows it (SEC Rule 612: cents at and above 1.00, 0.0001 below)
    return f"{x:,.2f}" if abs(x) >= 1.0 else f"{x:,.4f}"


def _shares(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    if x == int(x):
        return f"{int(x):,}"
    return f"{x:,.6f}".rstrip("0")


# --------------------------------------------------------------------------------------------
# shared book maths


_EPOCH: Final = dt.date(1970, 1, 1)
_NS_PER_DAY: Final = 86_400_000_000_000


def session_date(ts: pd.Timestamp) -> dt.date:
    """Return the session date of a decision time: its UTC calendar date.

    US equity sessions (09:30-16:00 New York) lie within one UTC day, so the UTC date of any
    time in a session is that session's date. A naive ``ts`` is taken as UTC.

    Parameters
    ----------
    ts
        The decision time (``BookState.ts``).

    Returns
    -------
    datetime.date

    Examples
    --------
    >>> session_date(pd.Timestamp("2026-05-15 16:00", tz="America/New_York"))
    datetime.date(2026, 5, 15)
    """
    return _EPOCH + dt.timedelta(days=ts.value // _NS_PER_DAY)  # .value: UTC nanoseconds


def reduces(order: ProposedOrder, book: BookState) -> bool:
    """Return whether ``order`` only reduces its symbol's holding, counting the working orders.

    The holding is the position plus the pending shares (as `bifrost.execution.reduces`
    counts them): a sell of at most a long holding, a buy of at most a short one. An order
    that would cross zero, or one on a flat holding, does not only reduce; a buy covering a
    short to exactly zero reduces, as a sell closing a long does (as in
    `bifrost.execution.reduces` and the backtest kernel).

    Parameters
    ----------
    order, book
        The order and the book it would trade in.

    Returns
    -------
    bool
    """
    held = book.position(order.symbol) + book.pending.get(order.symbol, 0.0)
    after = held + order.signed_quantity
    return held != 0 and (after == 0 or (held > 0) == (after > 0)) and abs(after) < abs(held)


def _business_days_back(day: dt.date, n: int) -> dt.date:
    # the business day (Monday-Friday) n business days before `day` (a weekend day first rolls
    # back to its Friday); what numpy.busday_offset(day, -n, roll="backward") gives, without numpy
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    weeks, rest = divmod(n, 5)
    day -= dt.timedelta(weeks=weeks)
    for _ in range(rest):
        day -= dt.timedelta(days=3 if day.weekday() == 0 else 1)
    return day


@dataclass(frozen=True, slots=True, kw_only=True)
class BookExposure:
    """The book around one order, measured once per evaluation (`book_exposure`).

    Attributes
    ----------
    price
        The order's symbol's reference price (`Measures.price`), None when unknown.
    equity
        The book's NAV, None when unknown or not finite.
    held_before, held_after
        The order's symbol's holding (position + pending) before and after the order.
    reduces
        Whether the order only reduces that holding (`reduces`).
    gross_others
        Σ|holding × price| over the other symbols that have a price.
    unpriced
        The other held symbols without a price, in book order.
    sector, sector_others
        The order's symbol's sector (None when unknown) and the others' gross in it.
    issuer, issuer_others
        Its issuer (``BookState.issuers``, else the symbol) and the others' gross of it.
    """

    price: float | None
    equity: float | None
    held_before: float
    held_after: float
    reduces: bool
    gross_others: float
    unpriced: tuple[str, ...]
    sector: str | None
    sector_others: float
    issuer: str
    issuer_others: float

    @property
    def symbol_before(self) -> float | None:
        """|holding × price| of the order's symbol before the order (None without a price)."""
        return None if self.price is None else abs(self.held_before * self.price)

    @property
    def symbol_after(self) -> float | None:
        """|holding × price| of the order's symbol after the order (None without a price)."""
        return None if self.price is None else abs(self.held_after * self.price)


_EXPOSURE_KEY: Final = "kinds.book_exposure"


def book_exposure(order: ProposedOrder, book: BookState, measures: Measures) -> BookExposure:
    """Return the book's exposures around ``order``, computed once per evaluation.

    One pass over the book's holdings (positions plus pending shares) sums the gross
    exposure of the symbols other than the order's, and the part of it in the order's
    sector and of its issuer; the result is kept in ``measures`` for every later rule.

    Parameters
    ----------
    order, book
        The order and the book it would trade in.
    measures
        The evaluation's shared numbers (its ``price`` is the order's reference price).

    Returns
    -------
    BookExposure
    """
    cached = measures.get(_EXPOSURE_KEY)
    if isinstance(cached, BookExposure):
        return cached
    symbol = order.symbol
    sectors, issuers = book.sectors, book.issuers
    sector = sectors.get(symbol)
    issuer = issuers.get(symbol, symbol)
    held = _holdings(book)
    # the hot loop of an evaluation (1,000 symbols): bound lookups, no finiteness test per
    # symbol (a non-finite price makes the sum non-finite, then the careful pass names it)
    price_of, sector_of, issuer_of = book.prices.get, sectors.get, issuers.get
    # without a sector the order adds to none; without issuers each symbol is its own issuer
    by_sector, by_issuer = sector is not None, bool(issuers)
    unpriced: list[str] = []
    gross = sector_gross = issuer_gross = 0.0
    for s, q in held.items():
        p = price_of(s)
        if p is None:
            if q and s != symbol:
                unpriced.append(s)
            continue
        if s == symbol:
            continue
        e = abs(q * p)
        gross += e
        if by_sector and sector_of(s) == sector:
            sector_gross += e
        if by_issuer and issuer_of(s, s) == issuer:
            issuer_gross += e
    if not math.isfinite(gross):
        gross, sector_gross, issuer_gross, unpriced = _careful_pass(held, book, symbol, sector, issuer)
    quantity = _order_number(order, "quantity") or 0.0
    before = held.get(symbol, 0.0)
    after = before + (quantity if order.side is Side.BUY else -quantity)
    result = BookExposure(
        price=_finite(measures.price),
        equity=_finite(book.equity),
        held_before=before,
        held_after=after,
        reduces=before != 0 and (after == 0 or (before > 0) == (after > 0)) and abs(after) < abs(before),
        gross_others=gross,
        unpriced=tuple(unpriced),
        sector=sector,
        sector_others=sector_gross if sector is not None else 0.0,
        issuer=issuer,
        issuer_others=issuer_gross,
    )
    measures.put(_EXPOSURE_KEY, result)
    return result


def _holdings(book: BookState) -> Mapping[str, float]:
    # position + pending per symbol (the positions themselves when nothing is pending)
    if not book.pending:
        return book.positions
    held = dict(book.positions)
    for s, q in book.pending.items():
        held[s] = held.get(s, 0.0) + q
    return held


def _careful_pass(
    held: Mapping[str, float], book: BookState, symbol: str, sector: str | None, issuer: str
) -> tuple[float, float, float, list[str]]:
    # the slow pass, when some price is not finite: such a symbol counts as unpriced
    gross = sector_gross = issuer_gross = 0.0
    unpriced: list[str] = []
    for s, q in held.items():
        if s == symbol or not q:
            continue
        p = _finite(book.prices.get(s))
        e = None if p is None else abs(q * p)
        if e is None or not math.isfinite(e):
            unpriced.append(s)
            continue
        gross += e
        if book.sectors.get(s) == sector:
            sector_gross += e
        if book.issuers.get(s, s) == issuer:
            issuer_gross += e
    return gross, sector_gross, issuer_gross, unpriced


def _cannot_measure(order: ProposedOrder, x: BookExposure, unpriced: Sequence[str]) -> str | None:
    # why a rule measuring exposure against NAV cannot measure (None: it can)
    if x.price is None:
        return f"no price for {order.symbol}"
    if unpriced:
        more = f" (and {len(unpriced) - 1} more)" if len(unpriced) > 1 else ""
        return f"no price for {unpriced[0]}{more}"
    if x.equity is None:
        return "the book's equity is unknown"
    if x.equity <= 0:
        return f"the book's equity is {_money(x.equity)}"
    return None


def _exposure_inputs(
    order: ProposedOrder, x: BookExposure, before: float | None, after: float | None, unpriced: Sequence[str]
) -> dict[str, object]:
    why = _cannot_measure(order, x, unpriced)
    return {
        "symbol": order.symbol,
        "price": x.price,
        "equity": x.equity,
        "exposure_before": None if why else before,
        "exposure_after": None if why else after,
        "reduces": x.reduces,
        "cannot_measure": why,
    }


def _limit_decision(rule: Rule, inputs: Mapping[str, object], limit_name: str, what: str) -> tuple[Verdict, str]:
    # the shared decision of the NAV-fraction limits: measure after vs before vs the limit
    limit = _param_float(rule, limit_name)
    why = inputs.get("cannot_measure")
    if isinstance(why, str):
        if inputs.get("reduces") is True:
            return "pass", f"cannot measure ({why}), but the order only reduces the position"
        return "block", f"cannot measure: {why}"
    equity = _float(inputs, "equity") or 0.0
    if equity <= 0:  # gather says so in cannot_measure; inputs built elsewhere (surveillance) may not
        return (
            "pass" if inputs.get("reduces") is True else "block"
        ), f"cannot measure: the book's equity is {_money(equity)}"
    after = (_float(inputs, "exposure_after") or 0.0) / equity
    before = (_float(inputs, "exposure_before") or 0.0) / equity
    said = f"{what} would be {_pct(after)} of NAV"
    if after <= before:
        if _above(after, limit):
            said = f"{what} would be {_pct_apart(after, limit)} of NAV"
            return "pass", f"{said}, above the limit {_pct(limit)}, but the order lowers it from {_pct(before)}"
        return "pass", f"{said} (at most {_pct(limit)})"
    if _above(after, limit):
        return "block", f"{what} would be {_pct_apart(after, limit)} of NAV (at most {_pct(limit)})"
    warn_at = _param_warn_at(rule)
    if warn_at is not None and _reaches(after, warn_at * limit):
        return "warn", f"{said}, past the warning level {_pct(warn_at * limit)} (at most {_pct(limit)})"
    return "pass", f"{said} (at most {_pct(limit)})"


# --------------------------------------------------------------------------------------------
# the kinds


class _Kind:
    # the attributes every kind has (RuleKind); subclasses set them
    name: str = ""
    params: tuple[Param, ...] = ()
    stage: Stage = "pre_trade"
    compilable: bool = False

    def __repr__(self) -> str:
        return f"<rule kind {self.name}>"


_SYMBOL_SETS: dict[int, tuple[object, frozenset[str]]] = {}


def _symbol_set(listed: object) -> frozenset[str]:
    # a rule's symbols, upper-cased, as a set: made once per params object (a restricted list
    # may hold thousands), remembered by identity (the `is` test guards against a reused id)
    hit = _SYMBOL_SETS.get(id(listed))
    if hit is not None and hit[0] is listed:
        return hit[1]
    found = (
        frozenset(str(x).upper() for x in listed) if isinstance(listed, (list, tuple, frozenset, set)) else frozenset()
    )
    if len(_SYMBOL_SETS) >= 256:
        _SYMBOL_SETS.clear()
    _SYMBOL_SETS[id(listed)] = (listed, found)
    return found


class RestrictedList(_Kind):
    """Block orders in restricted symbols (``restricted_list``).

    Params: ``symbols`` (the restricted symbols) and ``sides`` (``both``, the default:
    any order; ``buy`` or ``sell``: only orders of that side).

    Examples
    --------
    >>> rule = Rule(id="restricted", kind="restricted_list", params={"symbols": ["ORCL"], "sides": "both"})
    >>> RESTRICTED_LIST.decide(rule, {"symbol": "ORCL", "side": "buy"})
    ('block', 'ORCL is on the restricted list')
    """

    name = "restricted_list"
    params: tuple[Param, ...] = (
        Param(name="symbols", type="str_list", doc="the restricted symbols"),
        Param(
            name="sides",
            type="str",
            doc="the sides restricted: both, buy or sell",
            required=False,
            default="both",
            choices=("both", "buy", "sell"),
        ),
    )
    compilable = True

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the order's symbol and side."""
        return {"symbol": order.symbol, "side": str(order.side)}

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block when the symbol is listed (for the order's side)."""
        symbol, side = _str(inputs, "symbol"), _str(inputs, "side")
        symbols = _symbol_set(rule.params.get("symbols"))
        sides = str(rule.params.get("sides") or "both")
        if symbol.upper() not in symbols:
            return "pass", f"{symbol} is not on the restricted list"
        if sides != "both" and sides != side:
            return "pass", f"{symbol} is on the restricted list for {sides}s only"
        suffix = "" if sides == "both" else f" for {sides}s"
        return "block", f"{symbol} is on the restricted list{suffix}"


class MaxOrderQuantity(_Kind):
    """Block orders of more than ``max_shares`` shares (``max_order_quantity``)."""

    name = "max_order_quantity"
    params: tuple[Param, ...] = (
        Param(
            name="max_shares",
            type="float",
            doc="the most shares one order may have",
            minimum=0.0,
            maximum=1e15,
            exclusive=True,
        ),
        _WARN_AT,
    )
    compilable = True

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the order's symbol and quantity."""
        return {"symbol": order.symbol, "quantity": _order_number(order, "quantity")}

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block above ``max_shares``; warn from ``warn_at × max_shares``."""
        limit = _param_float(rule, "max_shares")
        quantity = _float(inputs, "quantity") or 0.0
        said = f"{_shares(quantity)} {'share' if quantity == 1 else 'shares'} of {_str(inputs, 'symbol')}"
        if _above(quantity, limit):
            return "block", f"{said} is above the limit of {_shares(limit)} shares per order"
        warn_at = _param_warn_at(rule)
        if warn_at is not None and _reaches(quantity, warn_at * limit):
            return "warn", f"{said} is past {warn_at:.0%} of the limit of {_shares(limit)} shares per order"
        return "pass", f"{said} (at most {_shares(limit)})"


class MaxOrderNotional(_Kind):
    """Block orders worth more than ``max_notional_usd`` (``max_order_notional``).

    The order's price is its limit price, else the last price, else its stop price; without
    any, an order that does not only reduce is blocked (cannot measure).
    """

    name = "max_order_notional"
    params: tuple[Param, ...] = (
        Param(
            name="max_notional_usd",
            type="float",
            doc="the most one order may be worth, in USD",
            minimum=0.0,
            maximum=MAX_MONEY_USD,
            exclusive=True,
        ),
        _WARN_AT,
    )
    compilable = True

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the quantity, the price used (and where it came from) and the notional."""
        price, source = _order_number(order, "limit_price"), "limit"
        if price is None:
            price, source = _finite(book.prices.get(order.symbol)), "last"
        if price is None:
            price, source = _order_number(order, "stop_price"), "stop"
        quantity = _order_number(order, "quantity") or 0.0
        return {
            "symbol": order.symbol,
            "quantity": quantity,
            "price": price,
            "price_source": source if price is not None else None,
            "notional": None if price is None else abs(quantity * price),
            "reduces": reduces(order, book),
        }

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block above ``max_notional_usd``; warn from ``warn_at`` of it."""
        limit = _param_float(rule, "max_notional_usd")
        notional = _float(inputs, "notional")
        symbol = _str(inputs, "symbol")
        if notional is None:
            if inputs.get("reduces") is True:
                return "pass", f"cannot measure (no price for {symbol}), but the order only reduces the position"
            return "block", f"cannot measure: no price for {symbol}"
        said = f"order worth {_money(notional)} USD ({_shares(_float(inputs, 'quantity') or 0.0)} {symbol} at "
        said += f"{_price(_float(inputs, 'price') or 0.0)}, the {_str(inputs, 'price_source')} price)"
        if _above(notional, limit):
            return "block", f"{said}, above the limit {_money(limit)} USD"
        warn_at = _param_warn_at(rule)
        if warn_at is not None and _reaches(notional, warn_at * limit):
            return "warn", f"{said}, past {warn_at:.0%} of the limit {_money(limit)} USD"
        return "pass", f"{said}: at most {_money(limit)} USD"


class MaxPositionPctNav(_Kind):
    """Limit a position to ``max_fraction`` of NAV (``max_position_pct_nav``).

    Measure: |holding after × price| / NAV, the holding being position + pending + the order.
    """

    name = "max_position_pct_nav"
    params: tuple[Param, ...] = (
        Param(
            name="max_fraction",
            type="float",
            doc="the largest position, a fraction of NAV",
            minimum=0.0,
            maximum=MAX_NAV_FRACTION,
            exclusive=True,
        ),
        _WARN_AT,
    )
    stage: Stage = "both"
    compilable = True

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the order symbol's exposure before and after the order, the price and NAV."""
        x = book_exposure(order, book, measures)
        return _exposure_inputs(order, x, x.symbol_before, x.symbol_after, ())

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block a rise above ``max_fraction``; warn from ``warn_at`` of it."""
        return _limit_decision(rule, inputs, "max_fraction", f"position in {_str(inputs, 'symbol')}")


class SectorConcentration(_Kind):
    """Limit a sector's gross exposure to ``max_fraction`` of NAV (``sector_concentration``).

    The order's symbol's sector comes from ``BookState.sectors``; an order in a symbol of no
    known sector passes (it adds to no sector). Other symbols without a price block an order
    only when they are in the order's sector.
    """

    name = "sector_concentration"
    params: tuple[Param, ...] = (
        Param(
            name="max_fraction",
            type="float",
            doc="the largest sector, a fraction of NAV",
            minimum=0.0,
            maximum=MAX_NAV_FRACTION,
            exclusive=True,
        ),
        _WARN_AT,
    )
    stage: Stage = "both"
    compilable = True

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the sector's gross before and after the order, the price and NAV."""
        x = book_exposure(order, book, measures)
        if x.sector is None:
            return {"symbol": order.symbol, "sector": None}
        unpriced = [s for s in x.unpriced if book.sectors.get(s) == x.sector]
        before = after = None
        if x.symbol_before is not None and x.symbol_after is not None:
            before, after = x.sector_others + x.symbol_before, x.sector_others + x.symbol_after
        return {"sector": x.sector} | _exposure_inputs(order, x, before, after, unpriced)

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block a rise above ``max_fraction``; warn from ``warn_at`` of it."""
        sector = inputs.get("sector")
        if not isinstance(sector, str):
            return "pass", f"no sector known for {_str(inputs, 'symbol')}"
        return _limit_decision(rule, inputs, "max_fraction", f"sector {sector}")


class IssuerConcentration(_Kind):
    """Limit one issuer's gross exposure to ``max_fraction`` of NAV (``issuer_concentration``).

    A symbol's issuer is the rule's ``issuers`` map's (which adds to and overrides the book's),
    else ``BookState.issuers``', else the symbol itself: share classes (GOOGL, GOOG) count
    together once they map to one issuer.
    """

    name = "issuer_concentration"
    params: tuple[Param, ...] = (
        Param(
            name="max_fraction",
            type="float",
            doc="the largest issuer, a fraction of NAV",
            minimum=0.0,
            maximum=MAX_NAV_FRACTION,
            exclusive=True,
        ),
        Param(
            name="issuers",
            type="str_map",
            doc="symbol → issuer, adding to and overriding the book's issuers",
            required=False,
            default=None,
        ),
        _WARN_AT,
    )
    stage: Stage = "both"
    compilable = True

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the issuer's gross before and after the order, the price and NAV."""
        x = book_exposure(order, book, measures)
        overrides = rule.params.get("issuers")
        if isinstance(overrides, Mapping) and overrides:
            names = {str(k): str(v) for k, v in overrides.items()}
            issuer = names.get(order.symbol) or book.issuers.get(order.symbol, order.symbol)
            # the rule groups symbols its own way: a pass of its own over the priced holdings
            others, prices = 0.0, book.prices
            for s, q in _holdings(book).items():
                p = _finite(prices.get(s))
                if s != order.symbol and q and p is not None and (names.get(s) or book.issuers.get(s, s)) == issuer:
                    others += abs(q * p)
            if not math.isfinite(others):  # finite prices, yet an overflowing sum: cannot measure
                return {"issuer": issuer} | _exposure_inputs(order, x, None, None, [issuer])
            unpriced = [s for s in x.unpriced if (names.get(s) or book.issuers.get(s, s)) == issuer]
        else:
            issuer, others = x.issuer, x.issuer_others
            unpriced = [s for s in x.unpriced if book.issuers.get(s, s) == issuer]
        before = after = None
        if x.symbol_before is not None and x.symbol_after is not None:
            before, after = others + x.symbol_before, others + x.symbol_after
        return {"issuer": issuer} | _exposure_inputs(order, x, before, after, unpriced)

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block a rise above ``max_fraction``; warn from ``warn_at`` of it."""
        return _limit_decision(rule, inputs, "max_fraction", f"issuer {_str(inputs, 'issuer')}")


class GrossExposure(_Kind):
    """Limit the book's gross exposure Σ|holding × price| to ``max_fraction`` of NAV (``gross_exposure``)."""

    name = "gross_exposure"
    params: tuple[Param, ...] = (
        Param(
            name="max_fraction",
            type="float",
            doc="the largest gross exposure, a fraction of NAV (1.5 = 150%)",
            minimum=0.0,
            maximum=MAX_NAV_FRACTION,
            exclusive=True,
        ),
        _WARN_AT,
    )
    stage: Stage = "both"
    compilable = True

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the gross exposure before and after the order, the price and NAV."""
        x = book_exposure(order, book, measures)
        before = after = None
        if x.symbol_before is not None and x.symbol_after is not None:
            before, after = x.gross_others + x.symbol_before, x.gross_others + x.symbol_after
        return _exposure_inputs(order, x, before, after, x.unpriced)

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block a rise above ``max_fraction``; warn from ``warn_at`` of it."""
        return _limit_decision(rule, inputs, "max_fraction", "gross exposure")


class ShortSale(_Kind):
    """Block short sales in a long-only book (``short_sale``).

    A sell may take at most the long holding: the position plus the pending shares (working
    sells lower it; working buys, as `bifrost.execution.reduces` counts them, raise it).
    Books that may sell short (``BookState.long_only`` false) pass.
    """

    name = "short_sale"
    compilable = True

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the side, the quantity, the position, the pending shares and whether the book is long-only."""
        return {
            "symbol": order.symbol,
            "side": str(order.side),
            "quantity": _order_number(order, "quantity"),
            "position": book.position(order.symbol),
            "pending": book.pending.get(order.symbol, 0.0),
            "long_only": book.long_only,
        }

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block a sell beyond the long holding in a long-only book."""
        symbol = _str(inputs, "symbol")
        if inputs.get("long_only") is not True:
            return "pass", "the book may sell short"
        if _str(inputs, "side") != "sell":
            return "pass", f"a buy of {symbol} is not a short sale"
        quantity = _float(inputs, "quantity") or 0.0
        position = _float(inputs, "position") or 0.0
        pending = _float(inputs, "pending") or 0.0
        held = position + pending
        if quantity <= held:
            return "pass", f"sells {_shares(quantity)} of a long holding of {_shares(held)} {symbol}"
        holding = f"{_shares(position)}" if pending == 0 else f"{_shares(position)} with {_shares(pending)} pending"
        return (
            "block",
            f"selling {_shares(quantity)} {symbol} would go short (holding {holding}): the book is long-only",
        )


class PriceCollar(_Kind):
    """Block limit orders priced too far from the last price: the fat finger (``price_collar``).

    Limit and stop-limit orders: deviation = |limit / last − 1|; above ``max_deviation`` the
    order is blocked. Market and stop orders have no limit price and pass. Without a last
    price the collar cannot be checked and warns.

    Examples
    --------
    >>> rule = Rule(id="collar", kind="price_collar", params={"max_deviation": 0.10})
    >>> PRICE_COLLAR.decide(rule, {"symbol": "ORCL", "order_type": "limit", "limit_price": 150.0,
    ...                            "last_price": 120.0, "deviation": 0.25})
    ('block', 'limit 150.00 is 25.0% from the last price 120.00 (at most 10.0%)')
    """

    name = "price_collar"
    params: tuple[Param, ...] = (
        Param(
            name="max_deviation",
            type="float",
            doc="the largest |limit / last − 1| (0.10 = 10%)",
            minimum=0.0,
            maximum=MAX_DEVIATION,
            exclusive=True,
        ),
        _WARN_AT,
    )
    compilable = True

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the order type, its limit price, the last price and the deviation."""
        limit = _order_number(order, "limit_price") if order.order_type in ("limit", "stop_limit") else None
        last = _finite(book.prices.get(order.symbol))
        deviation = None
        if limit is not None and last is not None and last > 0:
            deviation = abs(limit / last - 1.0)
            if not math.isfinite(deviation):
                deviation = None
        return {
            "symbol": order.symbol,
            "order_type": str(order.order_type),
            "limit_price": limit,
            "last_price": last,
            "deviation": deviation,
        }

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block above ``max_deviation``; warn from ``warn_at`` of it, or without a last price."""
        limit = _param_float(rule, "max_deviation")
        limit_price = _float(inputs, "limit_price")
        symbol = _str(inputs, "symbol")
        if limit_price is None:
            return "pass", f"a {_str(inputs, 'order_type').replace('_', '-')} order has no limit price to collar"
        deviation = _float(inputs, "deviation")
        last = _float(inputs, "last_price")
        if deviation is None or last is None:
            return "warn", f"no last price for {symbol}: the limit {_price(limit_price)} is not checked"
        said = f"limit {_price(limit_price)} is {_pct(deviation)} from the last price {_price(last)}"
        if _above(deviation, limit):
            said = f"limit {_price(limit_price)} is {_pct_apart(deviation, limit)} from the last price {_price(last)}"
            return "block", f"{said} (at most {_pct(limit)})"
        warn_at = _param_warn_at(rule)
        if warn_at is not None and _reaches(deviation, warn_at * limit):
            return "warn", f"{said}, past the warning level {_pct(warn_at * limit)} (at most {_pct(limit)})"
        return "pass", f"{said} (at most {_pct(limit)})"


class DuplicateOrder(_Kind):
    """Block an order identical to a recent one: same symbol, side, quantity and limit price (``duplicate_order``).

    Among ``BookState.recent_orders`` sent within ``window_seconds`` before the decision,
    rejected ones excluded (they never left), and the order itself (same client order id)
    excluded; a limit price of None equals None.
    """

    name = "duplicate_order"
    params: tuple[Param, ...] = (
        Param(
            name="window_seconds",
            type="float",
            doc="how far back an identical order counts as a duplicate, in seconds (at most a day)",
            required=False,
            default=60.0,
            minimum=MIN_WINDOW_SECONDS,
            maximum=MAX_WINDOW_SECONDS,
        ),
    )

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the identical recent orders (client order id, age in seconds) within the window."""
        window = _param_float(rule, "window_seconds")
        matches: list[dict[str, object]] = []
        now = book.ts.value  # UTC nanoseconds (Timestamp arithmetic is slow, and this is per order)
        for r in book.recent_orders:
            if (
                r.symbol != order.symbol
                or r.side != order.side
                or r.quantity != order.quantity
                or r.limit_price != order.limit_price
                or r.status == "rejected"
                or (order.client_order_id is not None and r.client_order_id == order.client_order_id)
            ):
                continue
            age = (now - r.ts.value) / 1e9
            if 0.0 <= age <= window:
                matches.append({"client_order_id": r.client_order_id, "age_seconds": age})
        return {
            "symbol": order.symbol,
            "side": str(order.side),
            "quantity": _order_number(order, "quantity"),
            "limit_price": _order_number(order, "limit_price"),
            "matches": matches,
        }

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block when an identical order was sent within ``window_seconds``."""
        window = _param_float(rule, "window_seconds")
        found = inputs.get("matches")
        matches = [m for m in found if isinstance(m, Mapping)] if isinstance(found, list) else []
        inside = [m for m in matches if (_float(m, "age_seconds") or 0.0) <= window]
        limit = _float(inputs, "limit_price")
        what = f"{_str(inputs, 'side')} {_shares(_float(inputs, 'quantity') or 0.0)} {_str(inputs, 'symbol')}"
        what += f" limit {_price(limit)}" if limit is not None else ""
        if not inside:
            return "pass", f"no identical order ({what}) in the last {window:g} s"
        last = min(inside, key=lambda m: _float(m, "age_seconds") or 0.0)
        age = _float(last, "age_seconds") or 0.0
        return (
            "block",
            f"same order ({what}) sent {age:.1f} s ago as {_str(last, 'client_order_id')} (within {window:g} s)",
        )


class OrderRate(_Kind):
    """Throttle: at most ``max_orders`` orders per ``per_seconds`` (``order_rate``).

    Counts ``BookState.recent_orders`` sent within ``per_seconds`` before the decision
    (whatever their status): with ``max_orders`` there already, the order is blocked.
    """

    name = "order_rate"
    params: tuple[Param, ...] = (
        Param(name="max_orders", type="int", doc="the most orders in a window", minimum=1, maximum=1_000_000),
        Param(
            name="per_seconds",
            type="float",
            doc="the window, in seconds (at most a day)",
            required=False,
            default=1.0,
            minimum=MIN_WINDOW_SECONDS,
            maximum=MAX_WINDOW_SECONDS,
        ),
        _WARN_AT,
    )

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return how many recent orders lie within the window."""
        window = _param_float(rule, "per_seconds")
        now = book.ts.value  # UTC nanoseconds
        count = 0
        for r in reversed(book.recent_orders):  # oldest first: walk back from the newest
            age = (now - r.ts.value) / 1e9
            if age > window:
                break
            if age >= 0.0:
                count += 1
        return {"orders_in_window": count, "per_seconds": window}

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block with ``max_orders`` already in the window; warn when this order reaches ``warn_at`` of it."""
        limit = _param_float(rule, "max_orders")
        window = _param_float(rule, "per_seconds")
        count = _int(inputs, "orders_in_window")
        said = f"{count} orders in the last {window:g} s (at most {limit:g})"
        if count >= limit:
            return "block", said
        warn_at = _param_warn_at(rule)
        if warn_at is not None and _reaches(count + 1, warn_at * limit):
            return "warn", f"{said}: this one is order {count + 1} of {limit:g}"
        return "pass", said


class DailyLossLimit(_Kind):
    """Only let reducing orders through once the day's loss reaches a limit: the kill switch (``daily_loss_limit``).

    Loss = 1 − equity / start-of-day equity (``BookState.start_of_day_equity``, the NAV at
    the previous session's close). At or beyond the limit an order that does not only reduce
    (`reduces`) is blocked; the execution adapter then halts the book. A book without a
    start-of-day equity (a new book) passes.
    """

    name = "daily_loss_limit"
    params: tuple[Param, ...] = (
        Param(
            name="max_loss_fraction",
            type="float",
            doc="the day's loss at which only reducing orders pass, in (0, 1)",
            minimum=0.0,
            maximum=1.0,
            exclusive=True,
        ),
        _WARN_AT,
    )
    compilable = True

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the equity, the start-of-day equity, the loss and whether the order only reduces."""
        equity, start = _finite(book.equity), _finite(book.start_of_day_equity)
        loss = None
        if equity is not None and start is not None and start > 0:
            loss = _finite(1.0 - equity / start)  # None when it overflows (start 1e-309: found by Hypothesis)
        return {
            "symbol": order.symbol,
            "equity": equity,
            "start_of_day_equity": start,
            "loss": loss,
            "reduces": reduces(order, book),
        }

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block at or beyond the limit unless the order only reduces; warn from ``warn_at`` of it."""
        limit = _param_float(rule, "max_loss_fraction")
        start = _float(inputs, "start_of_day_equity")
        if start is None:
            return "pass", "no start-of-day equity"
        loss = _float(inputs, "loss")
        only_reduces = inputs.get("reduces") is True
        if loss is None:
            why = ("the book's equity is unknown" if _float(inputs, "equity") is None
                   else f"no loss measurable from a start-of-day equity of {start:g}")  # fmt: skip
            if only_reduces:
                return "pass", f"cannot measure ({why}), but the order only reduces the position"
            return "block", f"cannot measure: {why}"
        said = f"the book is {'down' if loss >= 0 else 'up'} {_pct(abs(loss))} today"
        said += f" (equity {_money(_float(inputs, 'equity') or 0.0)} from {_money(start)})"
        if _reaches(loss, limit):
            if only_reduces:
                return "pass", f"{said}, past the loss limit {_pct(limit)}, but the order only reduces the position"
            return "block", f"{said}: the loss limit is {_pct(limit)}, only orders that reduce a position may be sent"
        warn_at = _param_warn_at(rule)
        if warn_at is not None and _reaches(loss, warn_at * limit):
            return "warn", f"{said}, past {warn_at:.0%} of the loss limit {_pct(limit)}"
        return "pass", f"{said} (the loss limit is {_pct(limit)})"


class PatternDayTrader(_Kind):
    """The legacy pattern-day-trader minimum (``pattern_day_trader``): FINRA Rule 4210(f)(8)(B).

    A customer who executes four or more day trades within five business days is a
    pattern day trader (Rule 4210(f)(8)(B)(ii); the rule also requires those day trades to
    be more than six percent of the customer's trades in the period, which is not checked
    here: the count alone decides, the stricter reading), and must keep at least USD 25,000
    of equity in the account on any day they day trade (Rule 4210(f)(8)(B)(iv)).

    The rule blocks an order that would be a day trade when it would make the day trades
    within the last ``sessions`` business days (this one included) exceed
    ``max_day_trades`` (3: the 4th day trade in 5 sessions is blocked) and the equity is
    below ``min_equity_usd`` (or unknown). The last allowed one warns.

    An order is a day trade when it closes shares opened today: a sell when
    ``BookState.opened_today`` of its symbol is positive (bought today), a buy when negative
    (sold short today). The window is the session date of the decision and the
    ``sessions − 1`` business days (Monday-Friday; exchange holidays are not removed) before
    it; ``BookState.day_trades`` gives the earlier day trades' dates.

    Superseded by the amended Rule 4210's intraday margin standard (`IntradayMargin`);
    pack ``finra_day_trading`` dates the two.

    References
    ----------
    FINRA Rule 4210(f)(8)(B), "Day Trading" (pattern day trader, USD 25,000 minimum equity).
    """

    name = "pattern_day_trader"
    params: tuple[Param, ...] = (
        Param(
            name="max_day_trades",
            type="int",
            doc="the most day trades within the window for an account below min_equity_usd",
            required=False,
            default=3,
            minimum=0,
            maximum=100,
        ),
        Param(
            name="sessions",
            type="int",
            doc="the window, in business days (this session included; at most 10)",
            required=False,
            default=5,
            minimum=1,
            maximum=MAX_DAY_TRADE_SESSIONS,
        ),
        Param(
            name="min_equity_usd",
            type="float",
            doc="the equity from which a pattern day trader may day trade",
            required=False,
            default=25_000.0,
            minimum=0.0,
            maximum=MAX_MONEY_USD,
        ),
    )

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return whether the order is a day trade, the earlier day trades in the window and the equity."""
        sessions = int(_param_float(rule, "sessions"))
        opened = book.opened_today.get(order.symbol, 0.0)
        day_trade = (opened > 0 and order.side is Side.SELL) or (opened < 0 and order.side is Side.BUY)
        today = session_date(book.ts)
        start = _business_days_back(today, sessions - 1)
        earlier = sum(1 for d in book.day_trades if start <= d <= today)
        return {
            "symbol": order.symbol,
            "side": str(order.side),
            "opened_today": opened,
            "day_trade": day_trade,
            "session": today.isoformat(),
            "window_start": start.isoformat(),
            "day_trades_in_window": earlier,
            "equity": _finite(book.equity),
        }

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block the day trade beyond ``max_day_trades`` below ``min_equity_usd``; warn on the last allowed one."""
        symbol = _str(inputs, "symbol")
        if inputs.get("day_trade") is not True:
            return "pass", f"not a day trade: it closes nothing of {symbol} opened today"
        limit = int(_param_float(rule, "max_day_trades"))
        sessions = int(_param_float(rule, "sessions"))
        minimum = _param_float(rule, "min_equity_usd")
        count = _int(inputs, "day_trades_in_window") + 1
        equity = _float(inputs, "equity")
        said = f"day trade {count} in {sessions} sessions"
        if equity is not None and equity >= minimum:
            return "pass", f"{said}, with equity {_money(equity)} of at least {_money(minimum)} USD"
        under = "unknown equity" if equity is None else f"equity {_money(equity)} under {_money(minimum)} USD"
        if count > limit:
            return "block", f"{said} (at most {limit} with {under}): a pattern day trader"
        if count == limit:
            return "warn", f"{said}, the last allowed with {under}"
        return "pass", f"{said} (at most {limit} with {under})"


class IntradayMargin(_Kind):
    """The amended Rule 4210's intraday margin standard (``intraday_margin``).

    Blocks an order that raises the book's gross exposure Σ|holding × price| when the
    equity would be below ``maintenance_fraction`` of the gross exposure after it (margin
    use = maintenance × gross after / equity above 1). ``warn_at`` warns from that fraction
    of margin use. Orders that do not raise the gross pass.

    References
    ----------
    FINRA's amendment of Rule 4210 (margin requirements), which replaces the pattern day
    trading minimum equity of Rule 4210(f)(8)(B) with intraday margin standards: approved by
    the SEC in April 2026, effective from June 2026, phased in to October 2027. These dates
    come from issue 15 and should be checked against FINRA's regulatory notice.
    """

    name = "intraday_margin"
    params: tuple[Param, ...] = (
        Param(
            name="maintenance_fraction",
            type="float",
            doc="the equity required, a fraction of the gross exposure after the order",
            required=False,
            default=0.25,
            minimum=0.0,
            maximum=1.0,
            exclusive=True,
        ),
        _WARN_AT,
    )

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the gross exposure before and after the order and the equity."""
        x = book_exposure(order, book, measures)
        before = after = None
        if x.symbol_before is not None and x.symbol_after is not None:
            before, after = x.gross_others + x.symbol_before, x.gross_others + x.symbol_after
        inputs = _exposure_inputs(order, x, before, after, x.unpriced)
        inputs["reduces"] = x.reduces or abs(x.held_after) <= abs(x.held_before)
        return inputs

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Block a rise of gross when equity < maintenance × gross after; warn from ``warn_at`` of it."""
        maintenance = _param_float(rule, "maintenance_fraction")
        why = inputs.get("cannot_measure")
        if isinstance(why, str):
            if inputs.get("reduces") is True:
                return "pass", f"cannot measure ({why}), but the order does not raise the gross exposure"
            return "block", f"cannot measure: {why}"
        equity = _float(inputs, "equity") or 0.0
        after = _float(inputs, "exposure_after") or 0.0
        before = _float(inputs, "exposure_before") or 0.0
        needed = maintenance * after
        said = f"equity {_money(equity)} against {_money(needed)} required ({_pct(maintenance)} of the gross"
        said += f" exposure {_money(after)} after the order)"
        if after <= before:
            return "pass", f"{said}: the order does not raise the gross exposure"
        if _above(needed, equity):
            return "block", said
        warn_at = _param_warn_at(rule)
        if warn_at is not None and _reaches(needed, warn_at * equity):
            return "warn", f"{said}: past {warn_at:.0%} of the equity"
        return "pass", said


class WashSale(_Kind):
    """The wash-sale rule (``wash_sale``): a post-trade flag, never a pre-trade block.

    A sale at a loss with a purchase of the same symbol within ``window_days`` (30) calendar
    days before or after it: the loss is disallowed and moves into the replacement lot's
    basis (26 U.S.C. § 1091). Surveillance (`bifrost.compliance.surveil`) finds them over the
    ledger; the engine never runs this kind before a trade, so ``gather`` and ``decide`` only
    say so.
    """

    name = "wash_sale"
    params: tuple[Param, ...] = (
        Param(
            name="window_days",
            type="int",
            doc="calendar days before and after a loss sale in which a purchase makes it a wash sale",
            required=False,
            default=WASH_SALE_WINDOW_DAYS,
            minimum=1,
            maximum=MAX_WASH_SALE_WINDOW_DAYS,
        ),
    )
    stage: Stage = "post_trade"

    def gather(self, rule: Rule, order: ProposedOrder, book: BookState, measures: Measures) -> dict[str, object]:
        """Return the order's symbol (the rule is judged after the trade)."""
        return {"symbol": order.symbol}

    def decide(self, rule: Rule, inputs: Mapping[str, object]) -> tuple[Verdict, str]:
        """Pass: wash sales are found after the trade, by surveillance."""
        return "pass", "wash sales are flagged after the trade (surveillance), not before it"


RESTRICTED_LIST: Final = RestrictedList()
PRICE_COLLAR: Final = PriceCollar()

RULE_KINDS: Final[Mapping[str, RuleKind]] = MappingProxyType(
    {
        k.name: k
        for k in (
            RESTRICTED_LIST,
            MaxOrderQuantity(),
            MaxOrderNotional(),
            MaxPositionPctNav(),
            SectorConcentration(),
            IssuerConcentration(),
            GrossExposure(),
            ShortSale(),
            PRICE_COLLAR,
            DuplicateOrder(),
            OrderRate(),
            DailyLossLimit(),
            PatternDayTrader(),
            IntradayMargin(),
            WashSale(),
        )
    }
)
"""Every rule kind by the name the rules file gives it (``kind = "price_collar"``)."""


# --------------------------------------------------------------------------------------------
# packs


class RulePack(Protocol):
    """A named bundle of rules (``[[pack]]`` in the rules file) that expands into dated rule tables."""

    name: str
    params: tuple[Param, ...]

    def expand(self, params: Mapping[str, object]) -> tuple[dict[str, object], ...]:
        """Return the rule tables (as ``[[rule]]`` tables read from TOML) for validated ``params``."""
        ...


class FinraDayTrading:
    """Pack ``finra_day_trading``: the legacy pattern-day-trader rule, then intraday margin, dated.

    Params: ``switch_on`` (a date in `INTRADAY_MARGIN_PHASE_IN`, default 2026-06-01: the
    first session of the amended rule for this book), ``min_equity_usd`` (passed to
    ``pattern_day_trader``), ``maintenance_fraction`` (passed to ``intraday_margin``).
    Expands into two rules:

    - ``pattern_day_trader`` (kind ``pattern_day_trader``), effective to ``switch_on − 1 day``;
    - ``intraday_margin`` (kind ``intraday_margin``), effective from ``switch_on``.

    Notes
    -----
    FINRA Rule 4210(f)(8)(B) (pattern day trader: 4 day trades in 5 business days, USD 25,000
    minimum equity) was replaced by the intraday margin standards of FINRA's Rule 4210
    amendment, approved by the SEC in April 2026, effective from June 2026, phased in to
    October 2027. The dates are those of issue 15: check them against FINRA's regulatory
    notice.

    Examples
    --------
    >>> [t["id"] for t in FINRA_DAY_TRADING.expand({"switch_on": dt.date(2026, 9, 1)})]
    ['pattern_day_trader', 'intraday_margin']
    """

    name = "finra_day_trading"
    params: tuple[Param, ...] = (
        Param(
            name="switch_on",
            type="date",
            doc="the first session under intraday margin, within 2026-06-01 … 2027-10-01",
            required=False,
            default=INTRADAY_MARGIN_PHASE_IN[0],
        ),
        Param(
            name="min_equity_usd",
            type="float",
            doc="pattern_day_trader's minimum equity (default 25,000)",
            required=False,
            default=None,
            minimum=0.0,
            maximum=MAX_MONEY_USD,
        ),
        Param(
            name="maintenance_fraction",
            type="float",
            doc="intraday_margin's maintenance fraction (default 0.25)",
            required=False,
            default=None,
            minimum=0.0,
            maximum=1.0,
            exclusive=True,
        ),
    )

    def expand(self, params: Mapping[str, object]) -> tuple[dict[str, object], ...]:
        """Return the two dated rule tables.

        Raises
        ------
        InvalidInputError
            If ``switch_on`` is not a date within the phase-in.
        """
        switch_on = params.get("switch_on", INTRADAY_MARGIN_PHASE_IN[0])
        if switch_on is None:
            switch_on = INTRADAY_MARGIN_PHASE_IN[0]
        if not isinstance(switch_on, dt.date) or isinstance(switch_on, dt.datetime):
            raise InvalidInputError(f"pack finra_day_trading: switch_on must be a date, got {switch_on!r}")
        first, last = INTRADAY_MARGIN_PHASE_IN
        if not first <= switch_on <= last:
            raise InvalidInputError(
                f"pack finra_day_trading: switch_on must lie within {first} … {last} (the amended Rule 4210's "
                f"phase-in), got {switch_on}"
            )
        legacy: dict[str, object] = {
            "id": "pattern_day_trader",
            "kind": "pattern_day_trader",
            "effective_to": switch_on - dt.timedelta(days=1),
        }
        if params.get("min_equity_usd") is not None:
            legacy["min_equity_usd"] = params["min_equity_usd"]
        amended: dict[str, object] = {
            "id": "intraday_margin",
            "kind": "intraday_margin",
            "effective_from": switch_on,
        }
        if params.get("maintenance_fraction") is not None:
            amended["maintenance_fraction"] = params["maintenance_fraction"]
        return legacy, amended


FINRA_DAY_TRADING: Final = FinraDayTrading()

PACKS: Final[Mapping[str, RulePack]] = MappingProxyType({FINRA_DAY_TRADING.name: FINRA_DAY_TRADING})
"""Every rule pack by the name the rules file gives it (``[[pack]] name = "finra_day_trading"``)."""
