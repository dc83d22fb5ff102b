"""The compiled simulation loop: orders, fills, cash, positions and round trips, bar by bar.

One loop serves both shapes of backtest. Columns are grouped: the columns of a group share
one cash account (a multi-symbol portfolio is one group); independent backtests (a sweep:
every parameter set × symbol) are one column per group, and groups run in parallel.

For each bar ``t`` of each group, in this order:

0. Dividends going ex on bar ``t`` are credited to the positions held at the previous
   close (shares × dividend per share; a short pays it), before anything trades. With
   ``reinvest`` a long position buys shares with it, rounded down to the lot, at the
   previous close less the dividend (the price a total-return adjustment assumes:
   ``1 - dividend / previous close``), without commission; what the lot leaves stays cash.
1. Pending orders try to fill on bar ``t`` — exposure-reducing orders first, so a
   rebalance frees cash before it spends it. Market orders fill at the open; limit and
   stop orders when the bar's range reaches them, at the open when it gaps through.
2. Stop-loss, take-profit and trailing stops attached to open positions are checked
   against the bar (a stop gapped through fills at the open).
3. The strategy's signal (or order) for bar ``t`` becomes a pending order; with
   ``fill at close`` a market order fills at this bar's close instead of waiting. With
   compliance rules (compiled by `bifrost.compliance.compile_rules`), the new order is
   first judged by the rule versions in force that day, at this close, on the book at this
   close (its shares at the close: sized at the fill otherwise), as the order manager
   judges a paper order sent at the close: one a rule blocks is REJECTED (reason
   COMPLIANCE) and never becomes pending; the rules' verdicts are recorded (`_screen`).
   Without rules the loop does none of this.
4. Positions are marked at the close; the equity curve and the online metrics advance.

Quantities given as a value, a share of equity or a target weight are converted to shares
at the fill price (rounded towards zero to the lot size), so a sizing never overshoots
because the price moved overnight. An order whose cost (with commission) the account
cannot carry is rejected and recorded, never resized.

The code tables below (size types, statuses, reasons, record columns) are the contract
with `bifrost.strategy._engine` and `bifrost.strategy._result`, which turn records into
frames (`_result` maps every status and reason code onto the order vocabulary of
`bifrost.execution`). The fill rules themselves — the order-type codes, the ``CFG_*``
layout of the fill model, where an order fills on a bar, slippage, commission, lot
rounding — are `bifrost.execution._fills`', which the paper broker calls as well: one
fill model for the backtest and paper trading.
"""

from __future__ import annotations

import numpy as np
from numba import prange, types

from bifrost._jit import kernel, njit
from bifrost._typing import BoolArray, FloatArray, IntArray
from bifrost.execution._fills import (
    CFG_ALLOW_SHORT,
    CFG_DIVIDENDS,
    CFG_FILL_AT_CLOSE,
    CFG_LEVERAGE,
    CFG_LOT,
    CFG_PERIODS_PER_YEAR,
    CFG_VALID_BARS,
    CFG_VOLUME_CAP,
    LIMIT,
    MARKET,
    STOP,
    STOP_LIMIT,
)
from bifrost.execution._fills import commission as _commission
from bifrost.execution._fills import fill_price as _fill_price
from bifrost.execution._fills import round_lot as _round_lot
from bifrost.execution._fills import slipped as _slipped

# size types (CLOSE is internal: the whole position, at fill time)
SHARES, VALUE, PERCENT, TARGET_PERCENT, TARGET_SHARES, CLOSE = 0, 1, 2, 3, 4, 5
# order statuses (bifrost.strategy._result.ORDER_FATES names each in the order vocabulary)
OPEN, FILLED, CANCELED, REJECTED, EXPIRED = range(5)
N_STATUSES = 5
# reasons an order ended without (fully) filling (COMPLIANCE: a compliance rule blocked it when it was created)
NO_REASON, NO_CASH, NO_SHORT, REPLACED, STOPPED_OUT, COMPLIANCE = range(6)
N_REASONS = 6
# who created the order
BY_STRATEGY, BY_STOP_LOSS, BY_TAKE_PROFIT, BY_TRAILING_STOP = 0, 1, 2, 3

# how dividends (the `dividend` input) are treated: CFG_DIVIDENDS holds one of these
DIV_NONE, DIV_CASH, DIV_REINVEST = 0, 1, 2
REINVEST_ORDER_ID = -1  # the order id of the fill that reinvests a dividend

# order records: one row per order once it ends (or is still open at the end)
(O_ID, O_COL, O_T_CREATED, O_T_DONE, O_TYPE, O_ORIGIN, O_SIZE, O_SIZE_TYPE, O_FILLED,
 O_AVG_PRICE, O_LIMIT, O_STOP, O_STATUS, O_REASON, O_SIDE) = range(15)  # fmt: skip
N_ORDER_FIELDS = 15
# fill records
F_ORDER_ID, F_COL, F_T, F_QTY, F_PRICE, F_COMMISSION = range(6)
N_FILL_FIELDS = 6
# round-trip records
(R_COL, R_T_ENTRY, R_T_EXIT, R_QTY, R_ENTRY_PRICE, R_EXIT_PRICE, R_PNL, R_PNL_NET,
 R_COMMISSION) = range(9)  # fmt: skip
N_TRADE_FIELDS = 9
# counters
C_ORDERS, C_FILLS, C_TRADES, C_NEXT_ID, C_OVERFLOW, C_SCREENED = range(6)
N_COUNTS = 6

# online metrics, one row per group
(M_FINAL_VALUE, M_TOTAL_RETURN, M_ANNUAL_RETURN, M_ANNUAL_VOLATILITY, M_SHARPE, M_MAX_DRAWDOWN,
 M_N_TRADES, M_WIN_RATE, M_PROFIT_FACTOR, M_N_FILLS, M_N_REJECTED, M_COMMISSION,
 M_EXPOSURE) = range(13)  # fmt: skip
METRICS = (
    "final_value", "total_return", "annual_return", "annual_volatility", "sharpe_ratio",
    "max_drawdown", "n_trades", "win_rate", "profit_factor", "n_fills", "n_rejected",
    "commission", "exposure",
)  # fmt: skip
# with compliance rules the metrics row has two more values (METRICS + RULE_METRICS): the orders
# the rules blocked, and the orders they let through with a warning
M_N_BLOCKED, M_N_WARNED = 13, 14
RULE_METRICS = ("n_blocked", "n_warned")

# -- compliance rules compiled for the kernel (bifrost.compliance._compile builds these) ----------
# the rule kinds the kernel checks
(RK_RESTRICTED, RK_QUANTITY, RK_NOTIONAL, RK_POSITION, RK_SECTOR, RK_ISSUER, RK_GROSS, RK_SHORT_SALE,
 RK_COLLAR, RK_DAILY_LOSS) = range(10)  # fmt: skip
# one row of `rules` per compiled rule version: its kind, its limit (shares, money, a fraction or a
# deviation), the fraction of the limit where it starts to warn (NaN: never), whether it blocks (1) or
# only warns (0) when it trips, and the side it applies to (restricted list: 0 both, +1 buys, -1 sells)
RC_KIND, RC_LIMIT, RC_WARN_AT, RC_BLOCKS, RC_SIDE = range(5)
N_RULE_FIELDS = 5
# verdicts, as the screened orders' records hold them
V_PASS, V_WARN, V_BLOCK = 0, 1, 2
# screened-order records: one row per order a rule warned about or blocked; its verdicts (one per
# rule) and the book's positions (one per column of its group) in two arrays of the same rows
(X_ORDER_ID, X_COL, X_T, X_QTY, X_LAST, X_CASH, X_EQUITY, X_SOD, X_BLOCKED) = range(9)  # fmt: skip
N_SCREEN_FIELDS = 9

_EPS = 1e-9  # a position smaller than this many shares is flat
# the relative tolerance of an "at most" limit and of a warning level, as the rule kinds decide
# (bifrost.compliance._kinds.LIMIT_TOLERANCE: a test holds them equal)
_LIMIT_TOL = 1e-9


@njit()
def _above(value: float, limit: float) -> bool:
    # an "at most" limit trips (bifrost.compliance._kinds._above)
    return value > limit * (1.0 + _LIMIT_TOL)


@njit()
def _reaches(value: float, level: float) -> bool:
    # a measure is at or past a level (bifrost.compliance._kinds._reaches)
    return value >= level * (1.0 - _LIMIT_TOL)


@njit()
def _wanted(stype: int, size: float, pos: float, px: float, equity: float, lot: float) -> float:
    # signed shares an order asks for at fill price `px`
    if stype == SHARES:
        q = size
    elif stype == VALUE:
        q = size / px
    elif stype == PERCENT:
        q = size * equity / px
    elif stype == TARGET_PERCENT:
        q = size * equity / px - pos
    elif stype == TARGET_SHARES:
        q = size - pos
    else:  # CLOSE
        return -pos
    return _round_lot(q, lot)


# per-column state of the pending order (one per column), packed in a float64 row
# (P_SIDE: +1 buy, -1 sell, the side of the last quantity the order asked for; 0: it asks for nothing)
# (P_EST: signed shares the compliance rules estimated for it when it was created; NaN: not estimated)
(P_ON, P_ID, P_T0, P_TYPE, P_ORIGIN, P_STYPE, P_SIZE, P_REQ, P_FILLED, P_VALUE, P_LIM, P_STOP,
 P_TRIG, P_SIDE, P_EST) = range(15)  # fmt: skip
N_PENDING = 15
# per-column position and open round trip
(B_POS, B_MARK, B_T0, B_AVG, B_QTY, B_PNL, B_COMM, B_EXIT_QTY, B_EXIT_VALUE, B_STOP_FROM,
 B_PEAK) = range(11)  # fmt: skip
N_BOOK = 11
# per-group running totals
S_CASH, S_N_TRADES, S_WINS, S_GROSS_WIN, S_GROSS_LOSS, S_N_FILLS, S_N_REJECTED, S_COMM, S_N_BLOCKED, S_N_WARNED = range(
    10
)
N_STATS = 10


@njit(inline="always")
def _reinvested(amount: float, mark: float, d: float, lot: float) -> tuple[float, float]:
    # (shares, price) a dividend of `amount` buys at the previous close `mark` less the dividend `d`
    px = mark - d
    if not px > 0.0:
        return 0.0, px
    q = _round_lot(amount / px, lot)
    return (q, px) if q > 0.0 else (0.0, px)


@njit(inline="always")
def _at(a: FloatArray, t: int, c: int) -> float:
    # a (1|T) × (1|C) input broadcast against (T, C)
    return a[t if a.shape[0] > 1 else 0, c if a.shape[1] > 1 else 0]  # type: ignore[no-any-return]


@njit(inline="always")
def _flag(a: BoolArray, t: int, c: int) -> bool:
    return a[t if a.shape[0] > 1 else 0, c if a.shape[1] > 1 else 0]  # type: ignore[no-any-return]


@njit()
def _record_order(orders: FloatArray, counts: IntArray, pend: FloatArray, k: int, col: int, t_done: int,
                  status: int, reason: int) -> None:  # fmt: skip
    if pend[k, P_SIDE] == 0.0:
        return  # it asks for nothing (a target already held): it would lapse unfilled, it is no order
    i = counts[C_ORDERS]
    if i >= orders.shape[0]:
        counts[C_OVERFLOW] = 1
        return
    row = orders[i]
    row[O_ID] = pend[k, P_ID]
    row[O_COL] = col
    row[O_T_CREATED] = pend[k, P_T0]
    row[O_T_DONE] = t_done
    row[O_TYPE] = pend[k, P_TYPE]
    row[O_ORIGIN] = pend[k, P_ORIGIN]
    row[O_SIZE] = pend[k, P_REQ] if not np.isnan(pend[k, P_REQ]) else pend[k, P_SIZE]
    row[O_SIZE_TYPE] = pend[k, P_STYPE] if np.isnan(pend[k, P_REQ]) else SHARES
    row[O_FILLED] = pend[k, P_FILLED]
    row[O_AVG_PRICE] = pend[k, P_VALUE] / pend[k, P_FILLED] if pend[k, P_FILLED] != 0.0 else np.nan
    row[O_LIMIT] = pend[k, P_LIM]
    row[O_STOP] = pend[k, P_STOP]
    row[O_STATUS] = status
    row[O_REASON] = reason
    row[O_SIDE] = pend[k, P_SIDE]
    counts[C_ORDERS] = i + 1


@njit()
def _end_order(pend: FloatArray, k: int, col: int, t: int, status: int, reason: int, record: bool,
               orders: FloatArray, counts: IntArray) -> None:  # fmt: skip
    if pend[k, P_ON] > 0.0:
        if record:
            _record_order(orders, counts, pend, k, col, t, status, reason)
        pend[k, P_ON] = 0.0


@njit()
def _new_order(pend: FloatArray, k: int, t: int, counts: IntArray, otype: int, origin: int, stype: int,
               size: float, lim: float, stp: float, side: float) -> None:  # fmt: skip
    p = pend[k]
    p[P_ON] = 1.0
    p[P_ID] = counts[C_NEXT_ID]
    counts[C_NEXT_ID] += 1
    p[P_T0] = t
    p[P_TYPE] = otype
    p[P_ORIGIN] = origin
    p[P_STYPE] = stype
    p[P_SIZE] = size
    p[P_REQ] = np.nan
    p[P_FILLED] = 0.0
    p[P_VALUE] = 0.0
    p[P_LIM] = lim
    p[P_STOP] = stp
    p[P_TRIG] = 0.0
    p[P_SIDE] = side
    p[P_EST] = np.nan


@njit(inline="always")
def _order_type(lim: float, stp: float) -> int:
    if np.isnan(lim):
        return MARKET if np.isnan(stp) else STOP
    return LIMIT if np.isnan(stp) else STOP_LIMIT


@njit()
def _record_trade(trades: FloatArray, counts: IntArray, col: int, t: int, b: FloatArray, sign: float) -> None:
    i = counts[C_TRADES]
    if i >= trades.shape[0]:
        counts[C_OVERFLOW] = 1
        return
    row = trades[i]
    row[R_COL] = col
    row[R_T_ENTRY] = b[B_T0]
    row[R_T_EXIT] = t
    row[R_QTY] = sign * b[B_QTY]
    row[R_ENTRY_PRICE] = b[B_AVG]
    row[R_EXIT_PRICE] = b[B_EXIT_VALUE] / b[B_EXIT_QTY]
    row[R_PNL] = b[B_PNL]
    row[R_PNL_NET] = b[B_PNL] - b[B_COMM]
    row[R_COMMISSION] = b[B_COMM]
    counts[C_TRADES] = i + 1


@njit()
def _open_trade(b: FloatArray, t: int, qty: float, px: float, comm: float, live_from: int) -> None:
    b[B_T0] = t
    b[B_AVG] = px
    b[B_QTY] = qty
    b[B_PNL] = 0.0
    b[B_COMM] = comm
    b[B_EXIT_QTY] = 0.0
    b[B_EXIT_VALUE] = 0.0
    b[B_STOP_FROM] = live_from
    b[B_PEAK] = px


@njit()
def _execute(
    k: int,
    c0: int,
    t: int,
    q: float,
    px: float,
    volume: float,
    use_cap: bool,
    at_open: bool,
    cfg: FloatArray,
    pend: FloatArray,
    book: FloatArray,
    stats: FloatArray,
    record: bool,
    fills: FloatArray,
    orders: FloatArray,
    trades: FloatArray,
    counts: IntArray,
) -> None:
    # fill (part of) column k's pending order: q signed shares at px; or reject it
    col = c0 + k
    lot = cfg[CFG_LOT]
    vcap = cfg[CFG_VOLUME_CAP]
    b = book[k]
    prev = b[B_POS]
    if use_cap and vcap > 0.0:
        cap = _round_lot(vcap * volume, lot) if volume > 0.0 else 0.0
        if cap <= 0.0:
            return  # nothing may trade on this bar: the order waits
        if abs(q) > cap:
            q = np.copysign(cap, q)
    new = prev + q
    if new < -_EPS and cfg[CFG_ALLOW_SHORT] <= 0.0:
        stats[S_N_REJECTED] += 1.0
        _end_order(pend, k, col, t, REJECTED, NO_SHORT, record, orders, counts)
        return
    comm = _commission(q, px, cfg)
    cash = stats[S_CASH]
    new_cash = cash - q * px - comm
    increases = abs(new) > abs(prev) + _EPS or new * prev < 0.0
    if increases:
        leverage = cfg[CFG_LEVERAGE]
        if leverage == 1.0 and cfg[CFG_ALLOW_SHORT] <= 0.0:
            ok = new_cash >= 0.0
        else:
            gross = abs(new * px)
            equity = new_cash + new * px
            for j in range(book.shape[0]):
                if j != k and book[j, B_POS] != 0.0:
                    gross += abs(book[j, B_POS] * book[j, B_MARK])
                    equity += book[j, B_POS] * book[j, B_MARK]
            ok = gross <= leverage * equity
        if not ok:
            stats[S_N_REJECTED] += 1.0
            _end_order(pend, k, col, t, REJECTED, NO_CASH, record, orders, counts)
            return
    stats[S_CASH] = new_cash
    stats[S_N_FILLS] += 1.0
    stats[S_COMM] += comm
    p = pend[k]
    if record:
        i = counts[C_FILLS]
        if i < fills.shape[0]:
            f = fills[i]
            f[F_ORDER_ID] = p[P_ID]
            f[F_COL] = col
            f[F_T] = t
            f[F_QTY] = q
            f[F_PRICE] = px
            f[F_COMMISSION] = comm
            counts[C_FILLS] = i + 1
        else:
            counts[C_OVERFLOW] = 1
    p[P_FILLED] += q
    p[P_VALUE] += q * px
    live_from = t if at_open else t + 1
    # the round trip
    if abs(prev) <= _EPS:
        _open_trade(b, t, abs(q), px, comm, live_from)
    elif prev * q > 0.0:
        b[B_AVG] = (b[B_AVG] * abs(prev) + px * abs(q)) / abs(new)
        b[B_QTY] += abs(q)
        b[B_COMM] += comm
    else:
        closed = min(abs(q), abs(prev))
        sign = 1.0 if prev > 0.0 else -1.0
        b[B_PNL] += closed * (px - b[B_AVG]) * sign
        share = closed / abs(q)
        b[B_COMM] += comm * share
        b[B_EXIT_QTY] += closed
        b[B_EXIT_VALUE] += closed * px
        if abs(new) <= _EPS or new * prev < 0.0:
            net = b[B_PNL] - b[B_COMM]
            stats[S_N_TRADES] += 1.0
            if net > 0.0:
                stats[S_WINS] += 1.0
                stats[S_GROSS_WIN] += net
            else:
                stats[S_GROSS_LOSS] -= net
            if record:
                _record_trade(trades, counts, col, t, b, sign)
            if new * prev < 0.0 and abs(new) > _EPS:
                _open_trade(b, t, abs(new), px, comm * (1.0 - share), live_from)
    if abs(new) <= _EPS:
        new = 0.0
    b[B_POS] = new
    # the order: done, or partly filled and waiting for the rest (now a fixed share count)
    if np.isnan(p[P_REQ]) or abs(p[P_REQ] - p[P_FILLED]) <= _EPS:
        _end_order(pend, k, col, t, FILLED, NO_REASON, record, orders, counts)
    else:
        p[P_STYPE] = SHARES
        p[P_SIZE] = p[P_REQ] - p[P_FILLED]


@njit()
def _equity(stats: FloatArray, book: FloatArray, px: FloatArray, c0: int, col_symbol: IntArray, t: int) -> float:
    # cash plus positions at this bar's `px` (open or close), else at the last mark
    equity = stats[S_CASH]
    for k in range(book.shape[0]):
        if book[k, B_POS] != 0.0:
            v = px[t, col_symbol[c0 + k]]
            equity += book[k, B_POS] * (v if not np.isnan(v) else book[k, B_MARK])
    return float(equity)


@njit(inline="always")
def _slot_price(book: FloatArray, c_px: FloatArray, col_symbol: IntArray, c0: int, j: int, t: int) -> float:
    # the last price of book slot j at bar t's close: its close, else its last mark (the order
    # manager's market: the last close at or before the order's time)
    v = c_px[t, col_symbol[c0 + j]]
    return v if not np.isnan(v) else book[j, B_MARK]  # type: ignore[no-any-return]


@njit(inline="always")
def _holding(book: FloatArray, pend: FloatArray, j: int) -> float:
    # slot j's position plus what its working order would still add (its shares as the rules
    # estimated them when it was created; 0 for an order the rules never saw), as the order
    # manager's book counts a working order's leaves
    h = book[j, B_POS]
    if pend[j, P_ON] > 0.0 and not np.isnan(pend[j, P_EST]):
        h += pend[j, P_EST] - pend[j, P_FILLED]
    return h  # type: ignore[no-any-return]


@njit()
def _others(book: FloatArray, pend: FloatArray, c_px: FloatArray, col_symbol: IntArray, c0: int, k: int, t: int,
            groups: IntArray, r: int, g: int) -> float:  # fmt: skip
    # Σ |holding × price| over the book's slots other than k, in group g of rule r's codes (g < 0: all)
    total = 0.0
    for j in range(book.shape[0]):
        if j == k or (g >= 0 and groups[r, col_symbol[c0 + j]] != g):
            continue
        h = _holding(book, pend, j)
        if h != 0.0:
            total += abs(h * _slot_price(book, c_px, col_symbol, c0, j, t))
    return total


@njit()
def _screen(
    k: int,
    c0: int,
    t: int,
    q: float,
    lim: float,
    stp: float,
    otype: int,
    sod: float,
    long_only: bool,
    book: FloatArray,
    pend: FloatArray,
    stats: FloatArray,
    c_px: FloatArray,
    col_symbol: IntArray,
    rules: FloatArray,
    rule_on: BoolArray,
    rule_sym: BoolArray,
    rule_group: IntArray,
    record: bool,
    order_id: float,
    screened: FloatArray,
    verdicts: FloatArray,
    held: FloatArray,
    counts: IntArray,
) -> int:
    # The compiled compliance rules in force on bar t against a new order of slot k (q signed
    # shares) at bar t's close, on the book at that close: the verdict of them all (V_PASS,
    # V_WARN, V_BLOCK); each rule's verdict is recorded when any warns or blocks. Each kind
    # decides as its `gather`/`decide` in bifrost.compliance._kinds do, in the same float
    # expressions: a limit is "at most"; a NAV fraction blocks only an order that raises it
    # above the limit; a rule that cannot measure (no price, no positive equity) blocks an
    # order that does not only reduce; a tripped rule of severity warn only warns.
    n_rules = rules.shape[0]
    n = book.shape[0]
    s = col_symbol[c0 + k]
    pos = book[k, B_POS]  # the slot's own working order was just replaced: its holding is its position
    after = pos + q
    # closing to exactly flat reduces from either side (bifrost.compliance._kinds.reduces, execution.reduces)
    reduces = pos != 0.0 and (after == 0.0 or (pos > 0.0) == (after > 0.0)) and abs(after) < abs(pos)
    last = _slot_price(book, c_px, col_symbol, c0, k, t)
    # the reference price (bifrost.compliance._engine.reference_price): last, else limit, else stop
    ref = last if last > 0.0 else (lim if lim > 0.0 else (stp if stp > 0.0 else np.nan))
    equity = stats[S_CASH]
    for j in range(n):
        if book[j, B_POS] != 0.0:
            equity += book[j, B_POS] * _slot_price(book, c_px, col_symbol, c0, j, t)
    measurable = not np.isnan(ref) and equity > 0.0
    worst = V_PASS
    i = counts[C_SCREENED]
    row_ok = record and i < screened.shape[0]
    for r in range(n_rules):
        if not rule_on[t, r]:
            if row_ok:
                verdicts[i, r] = -1.0  # not in force
            continue
        kind = int(rules[r, RC_KIND])
        limit = rules[r, RC_LIMIT]
        wa = rules[r, RC_WARN_AT]
        tripped = False
        warned = False
        if kind == RK_RESTRICTED:
            side = rules[r, RC_SIDE]
            tripped = rule_sym[r, s] and (side == 0.0 or side * q > 0.0)
        elif kind == RK_QUANTITY:
            value = abs(q)
            tripped = _above(value, limit)
            warned = not np.isnan(wa) and _reaches(value, wa * limit)
        elif kind == RK_NOTIONAL:
            px = lim if not np.isnan(lim) else (last if not np.isnan(last) else stp)
            if np.isnan(px):
                tripped = not reduces  # cannot measure
            else:
                value = abs(q) * px
                tripped = _above(value, limit)
                warned = not np.isnan(wa) and _reaches(value, wa * limit)
        elif kind == RK_POSITION or kind == RK_SECTOR or kind == RK_ISSUER or kind == RK_GROSS:  # noqa: SIM109 (numba)
            g = -1
            if kind == RK_SECTOR or kind == RK_ISSUER:  # noqa: SIM109 (numba)
                g = rule_group[r, s]
            if g < 0 and kind == RK_SECTOR:
                pass  # no sector known: the order adds to no sector
            elif not measurable:
                tripped = not reduces
            else:
                others = (
                    0.0 if kind == RK_POSITION else _others(book, pend, c_px, col_symbol, c0, k, t, rule_group, r, g)
                )
                frac_after = (others + abs(after * ref)) / equity
                frac_before = (others + abs(pos * ref)) / equity
                if frac_after > frac_before:
                    tripped = _above(frac_after, limit)
                    warned = not np.isnan(wa) and _reaches(frac_after, wa * limit)
        elif kind == RK_SHORT_SALE:
            tripped = long_only and q < 0.0 and -q > pos
        elif kind == RK_COLLAR:
            if otype == LIMIT or otype == STOP_LIMIT:  # noqa: SIM109 (numba)
                if not last > 0.0:
                    warned = True  # no last price: the limit is not checked
                else:
                    value = abs(lim / last - 1.0)
                    tripped = _above(value, limit)
                    warned = not np.isnan(wa) and _reaches(value, wa * limit)
        elif kind == RK_DAILY_LOSS and not np.isnan(sod):  # a new book (no previous session) passes
            if not (sod > 0.0) or np.isnan(equity):
                tripped = not reduces  # cannot measure
            else:
                loss = 1.0 - equity / sod
                if _reaches(loss, limit):
                    tripped = not reduces
                else:
                    warned = not np.isnan(wa) and _reaches(loss, wa * limit)
        verdict = V_PASS
        if tripped:
            verdict = V_BLOCK if rules[r, RC_BLOCKS] > 0.0 else V_WARN
        elif warned:
            verdict = V_WARN
        if verdict > worst:
            worst = verdict
        if row_ok:
            verdicts[i, r] = verdict
    if worst == V_BLOCK:
        stats[S_N_BLOCKED] += 1.0
    elif worst == V_WARN:
        stats[S_N_WARNED] += 1.0
    if record and worst != V_PASS:
        if not row_ok:
            counts[C_OVERFLOW] = 1
            return worst
        x = screened[i]
        x[X_ORDER_ID] = order_id
        x[X_COL] = c0 + k
        x[X_T] = t
        x[X_QTY] = q
        x[X_LAST] = last
        x[X_CASH] = stats[S_CASH]
        x[X_EQUITY] = equity
        x[X_SOD] = sod
        x[X_BLOCKED] = 1.0 if worst == V_BLOCK else 0.0
        for j in range(n):
            held[i, j] = book[j, B_POS] if j == k else _holding(book, pend, j)
        counts[C_SCREENED] = i + 1
    return worst


@njit()
def _run_group(
    c0: int,
    c1: int,
    o_px: FloatArray,
    h_px: FloatArray,
    l_px: FloatArray,
    c_px: FloatArray,
    vol: FloatArray,
    div: FloatArray,
    col_symbol: IntArray,
    signal_mode: bool,
    entries: BoolArray,
    exits: BoolArray,
    short_entries: BoolArray,
    short_exits: BoolArray,
    size: FloatArray,
    size_type: int,
    limit_price: FloatArray,
    stop_price: FloatArray,
    stops: FloatArray,
    cash0: float,
    cfg: FloatArray,
    rules: FloatArray,
    rule_on: BoolArray,
    rule_sym: BoolArray,
    rule_group: IntArray,
    session_start: BoolArray,
    record: bool,
    equity_out: FloatArray,
    cash_out: FloatArray,
    pos_out: FloatArray,
    div_out: FloatArray,
    orders: FloatArray,
    fills: FloatArray,
    trades: FloatArray,
    screened: FloatArray,
    verdicts: FloatArray,
    held: FloatArray,
    counts: IntArray,
    metrics: FloatArray,
) -> None:
    n_t = c_px.shape[0]
    n = c1 - c0
    n_rules = rules.shape[0]
    long_only = cfg[CFG_ALLOW_SHORT] <= 0.0
    sod = np.nan  # the equity at the previous session's close (the daily loss limit's reference)
    fill_at_close = cfg[CFG_FILL_AT_CLOSE] > 0.0
    lot = cfg[CFG_LOT]
    valid = int(cfg[CFG_VALID_BARS])
    div_mode = int(cfg[CFG_DIVIDENDS])
    pend = np.zeros((n, N_PENDING))
    book = np.zeros((n, N_BOOK))
    book[:, B_MARK] = np.nan
    stats = np.zeros(N_STATS)
    stats[S_CASH] = cash0
    has_stops = False
    for k in range(n):
        for i in range(3):
            if not np.isnan(stops[c0 + k, i]):
                has_stops = True
    exposure = 0
    prev_eq = cash0
    peak_eq = cash0
    max_dd = 0.0
    # sums of returns and squared returns: a plain add per bar (a Welford update divides, and
    # its dependency chain dominated the loop); daily returns are small enough for this to
    # agree with numpy's two-pass variance to ~1e-12
    r_n = 0
    r_sum = 0.0
    r_sq = 0.0

    for t in range(n_t):
        # -- 0. dividends going ex today, to the positions held at the last close ---------------
        if div_mode != DIV_NONE:
            for k in range(n):
                b = book[k]
                if b[B_POS] == 0.0:
                    continue
                s = col_symbol[c0 + k]
                d = div[t, s]
                if not d > 0.0:
                    continue
                amount = b[B_POS] * d
                stats[S_CASH] += amount
                if record:
                    div_out[t, c0 + k] = amount
                if div_mode == DIV_REINVEST and b[B_POS] > 0.0:
                    q, px = _reinvested(amount, b[B_MARK], d, lot)
                    if q > 0.0:
                        prev = b[B_POS]
                        new = prev + q
                        stats[S_CASH] -= q * px
                        b[B_AVG] = (b[B_AVG] * abs(prev) + px * abs(q)) / abs(new)
                        b[B_QTY] += q
                        b[B_POS] = new
                        if record:
                            i = counts[C_FILLS]
                            if i < fills.shape[0]:
                                f = fills[i]
                                f[F_ORDER_ID] = REINVEST_ORDER_ID
                                f[F_COL] = c0 + k
                                f[F_T] = t
                                f[F_QTY] = q
                                f[F_PRICE] = px
                                f[F_COMMISSION] = 0.0
                                counts[C_FILLS] = i + 1
                            else:
                                counts[C_OVERFLOW] = 1
        # -- 1. pending orders against bar t: exposure-reducing ones first -------------------
        pending = 0
        for k in range(n):
            if pend[k, P_ON] > 0.0:
                pending += 1
        if pending:
            eq_open = _equity(stats, book, o_px, c0, col_symbol, t)
            for phase in range(2):
                for k in range(n):
                    p = pend[k]
                    if p[P_ON] == 0.0:
                        continue
                    col = c0 + k
                    if valid > 0 and t - p[P_T0] > valid:
                        _end_order(pend, k, col, t, EXPIRED, NO_REASON, record, orders, counts)
                        continue
                    s = col_symbol[col]
                    o = o_px[t, s]
                    h = h_px[t, s]
                    lo = l_px[t, s]
                    if np.isnan(o) or np.isnan(h) or np.isnan(lo):
                        continue  # no bar for this symbol today: the order waits
                    pos = book[k, B_POS]
                    stype = int(p[P_STYPE])
                    q_open = _wanted(stype, p[P_SIZE], pos, o, eq_open, lot)
                    if q_open == 0.0:
                        p[P_ON] = 0.0  # nothing to trade: the order lapses, unrecorded
                        continue
                    reducing = pos != 0.0 and q_open * pos < 0.0 and abs(q_open) <= abs(pos) + _EPS
                    if (phase == 0) != reducing:
                        continue
                    side = 1.0 if q_open > 0.0 else -1.0
                    p[P_SIDE] = side
                    otype = int(p[P_TYPE])
                    px, trig = _fill_price(side, otype, o, h, lo, p[P_LIM], p[P_STOP], p[P_TRIG] > 0.0)
                    p[P_TRIG] = 1.0 if trig else 0.0
                    if np.isnan(px):
                        continue
                    px = _slipped(px, side, h, lo, cfg)
                    if otype == LIMIT or otype == STOP_LIMIT:  # noqa: SIM109 (numba)
                        px = min(px, p[P_LIM]) if side > 0.0 else max(px, p[P_LIM])
                    q = _wanted(stype, p[P_SIZE], pos, px, eq_open, lot)
                    if q * side <= 0.0:
                        continue
                    if np.isnan(p[P_REQ]):
                        p[P_REQ] = q
                    _execute(k, c0, t, q, px, vol[t, s], True, px == o, cfg, pend, book, stats, record, fills,
                             orders, trades, counts)  # fmt: skip
        # -- 2. stop-loss, take-profit and trailing stops on open positions ----------------------
        if has_stops:
            for k in range(n):
                b = book[k]
                col = c0 + k
                if b[B_POS] == 0.0 or t < b[B_STOP_FROM]:
                    continue
                s = col_symbol[col]
                o = o_px[t, s]
                h = h_px[t, s]
                lo = l_px[t, s]
                if np.isnan(o) or np.isnan(h) or np.isnan(lo):
                    continue
                long = b[B_POS] > 0.0
                sgn = 1.0 if long else -1.0
                sl = stops[col, 0]
                tp = stops[col, 1]
                tr = stops[col, 2]
                stop_px = b[B_AVG] * (1.0 - sgn * sl) if not np.isnan(sl) else np.nan
                origin = BY_STOP_LOSS
                if not np.isnan(tr):
                    trail_px = b[B_PEAK] * (1.0 - sgn * tr)
                    if np.isnan(stop_px) or (trail_px > stop_px if long else trail_px < stop_px):
                        stop_px = trail_px
                        origin = BY_TRAILING_STOP
                tp_px = b[B_AVG] * (1.0 + sgn * tp) if not np.isnan(tp) else np.nan
                px = np.nan
                if not np.isnan(stop_px) and (o <= stop_px if long else o >= stop_px):
                    px = o  # gapped through the stop: out at the open
                elif not np.isnan(tp_px) and (o >= tp_px if long else o <= tp_px):
                    px = o
                    origin = BY_TAKE_PROFIT
                elif not np.isnan(stop_px) and (lo <= stop_px if long else h >= stop_px):
                    px = stop_px  # touched: the stop is assumed to come before the target
                elif not np.isnan(tp_px) and (h >= tp_px if long else lo <= tp_px):
                    px = tp_px
                    origin = BY_TAKE_PROFIT
                if np.isnan(px):
                    b[B_PEAK] = max(b[B_PEAK], h) if long else min(b[B_PEAK], lo)
                    continue
                if origin != BY_TAKE_PROFIT:
                    px = _slipped(px, -sgn, h, lo, cfg)
                _end_order(pend, k, col, t, CANCELED, STOPPED_OUT, record, orders, counts)
                _new_order(pend, k, t, counts, STOP if origin != BY_TAKE_PROFIT else LIMIT, origin, CLOSE, 0.0,
                           tp_px if origin == BY_TAKE_PROFIT else np.nan,
                           stop_px if origin != BY_TAKE_PROFIT else np.nan, -sgn)  # fmt: skip
                _execute(k, c0, t, -b[B_POS], px, vol[t, s], False, px == o, cfg, pend, book, stats, record,
                         fills, orders, trades, counts)  # fmt: skip
        # -- 3. the strategy's orders for bar t ------------------------------------------------
        eq_close = np.nan  # this close's equity before its fills, once a bar, for a target weight's side
        if n_rules > 0 and t > 0 and session_start[t]:
            sod = prev_eq
        for k in range(n):
            col = c0 + k
            pos = book[k, B_POS]
            created = False
            if signal_mode:
                if pos == 0.0:
                    long_in = _flag(entries, t, col)
                    short_in = _flag(short_entries, t, col) and cfg[CFG_ALLOW_SHORT] > 0.0
                    if long_in or short_in:
                        sz = _at(size, t, col)
                        if not np.isnan(sz) and sz != 0.0:
                            _end_order(pend, k, col, t, CANCELED, REPLACED, record, orders, counts)
                            lim = _at(limit_price, t, col)
                            stp = _at(stop_price, t, col)
                            _new_order(pend, k, t, counts, _order_type(lim, stp), BY_STRATEGY, size_type,
                                       abs(sz) if long_in else -abs(sz), lim, stp,
                                       1.0 if long_in else -1.0)  # fmt: skip
                            created = True
                elif (pos > 0.0 and _flag(exits, t, col)) or (pos < 0.0 and _flag(short_exits, t, col)):
                    _end_order(pend, k, col, t, CANCELED, REPLACED, record, orders, counts)
                    _new_order(pend, k, t, counts, MARKET, BY_STRATEGY, CLOSE, 0.0, np.nan, np.nan,
                               -1.0 if pos > 0.0 else 1.0)  # fmt: skip
                    created = True
            else:
                sz = _at(size, t, col)
                if not np.isnan(sz):
                    _end_order(pend, k, col, t, CANCELED, REPLACED, record, orders, counts)
                    lim = _at(limit_price, t, col)
                    stp = _at(stop_price, t, col)
                    want = sz
                    if size_type == TARGET_PERCENT or size_type == TARGET_SHARES:  # noqa: SIM109 (numba)
                        if size_type == TARGET_PERCENT and np.isnan(eq_close):
                            eq_close = _equity(stats, book, c_px, c0, col_symbol, t)
                        mark = c_px[t, col_symbol[col]]
                        want = _wanted(size_type, sz, pos, mark if not np.isnan(mark) else book[k, B_MARK],
                                       eq_close, lot)  # fmt: skip
                    side = 1.0 if want > 0.0 else (-1.0 if want < 0.0 else 0.0)
                    _new_order(pend, k, t, counts, _order_type(lim, stp), BY_STRATEGY, size_type, sz, lim, stp, side)
                    created = True
            if created and n_rules > 0:
                # the compliance rules judge the order now, as the order manager judges one sent at
                # this close: its shares at the close (sized at the fill otherwise), on the book now
                p = pend[k]
                stype = int(p[P_STYPE])
                eq_now = 0.0
                if stype == PERCENT or stype == TARGET_PERCENT:  # noqa: SIM109 (numba)
                    eq_now = _equity(stats, book, c_px, c0, col_symbol, t)
                q = _wanted(stype, p[P_SIZE], pos, _slot_price(book, c_px, col_symbol, c0, k, t), eq_now, lot)
                if q != 0.0 and not np.isnan(q):
                    verdict = _screen(k, c0, t, q, p[P_LIM], p[P_STOP], int(p[P_TYPE]), sod, long_only, book, pend,
                                      stats, c_px, col_symbol, rules, rule_on, rule_sym, rule_group, record, p[P_ID],
                                      screened, verdicts, held, counts)  # fmt: skip
                    p[P_EST] = q
                    if verdict == V_BLOCK:
                        p[P_SIDE] = 1.0 if q > 0.0 else -1.0
                        stats[S_N_REJECTED] += 1.0
                        _end_order(pend, k, col, t, REJECTED, COMPLIANCE, record, orders, counts)
                        continue
            if created and fill_at_close and pend[k, P_TYPE] == MARKET:
                s = col_symbol[col]
                cl = c_px[t, s]
                if np.isnan(cl):
                    continue
                p = pend[k]
                eq_fill = _equity(stats, book, c_px, c0, col_symbol, t)
                stype = int(p[P_STYPE])
                q = _wanted(stype, p[P_SIZE], pos, cl, eq_fill, lot)
                if q == 0.0:
                    p[P_ON] = 0.0
                    continue
                px = _slipped(cl, 1.0 if q > 0.0 else -1.0, h_px[t, s], l_px[t, s], cfg)
                q = _wanted(stype, p[P_SIZE], pos, px, eq_fill, lot)
                if q == 0.0:
                    p[P_ON] = 0.0
                    continue
                p[P_REQ] = q
                p[P_SIDE] = 1.0 if q > 0.0 else -1.0
                _execute(k, c0, t, q, px, vol[t, s], True, False, cfg, pend, book, stats, record, fills, orders,
                         trades, counts)  # fmt: skip
        # -- 4. mark to market at the close --------------------------------------------------------
        equity = stats[S_CASH]
        invested = False
        for k in range(n):
            b = book[k]
            cl = c_px[t, col_symbol[c0 + k]]
            if not np.isnan(cl):
                b[B_MARK] = cl
            if b[B_POS] != 0.0:
                equity += b[B_POS] * b[B_MARK]
                invested = True
            if record:
                pos_out[t, c0 + k] = b[B_POS]
        exposure += invested
        if prev_eq > 0.0:
            r = equity / prev_eq - 1.0
            r_n += 1
            r_sum += r
            r_sq += r * r
        prev_eq = equity
        if equity > peak_eq:
            peak_eq = equity
        elif equity < peak_eq * (1.0 + max_dd) and peak_eq > 0.0:
            max_dd = equity / peak_eq - 1.0
        if record:
            equity_out[t] = equity
            cash_out[t] = stats[S_CASH]

    for k in range(n):
        if record and pend[k, P_ON] > 0.0:
            _record_order(orders, counts, pend, k, c0 + k, -1, OPEN, NO_REASON)
    _finish(metrics, stats, cash0, prev_eq, r_n, r_sum, r_sq, max_dd, exposure, n_t, cfg[CFG_PERIODS_PER_YEAR])


@njit()
def _finish(metrics: FloatArray, stats: FloatArray, cash0: float, final: float, r_n: int, r_sum: float, r_sq: float,
            max_dd: float, exposure: int, n_t: int, per_year: float) -> None:  # fmt: skip
    # the metrics row from the running totals (both loops end here, so they agree to the bit);
    # `per_year` bars a year annualise (252 on daily bars: bifrost.data.periods_per_year)
    metrics[M_FINAL_VALUE] = final
    metrics[M_TOTAL_RETURN] = final / cash0 - 1.0
    ratio = final / cash0
    metrics[M_ANNUAL_RETURN] = ratio ** (per_year / r_n) - 1.0 if r_n > 0 and ratio > 0.0 else np.nan
    r_mean = r_sum / r_n if r_n > 0 else np.nan
    std = np.sqrt(max(r_sq - r_sum * r_mean, 0.0) / (r_n - 1)) if r_n > 1 else np.nan
    metrics[M_ANNUAL_VOLATILITY] = std * np.sqrt(per_year)
    metrics[M_SHARPE] = r_mean / std * np.sqrt(per_year) if r_n > 1 and std > 0.0 else np.nan
    metrics[M_MAX_DRAWDOWN] = max_dd
    n_trades = stats[S_N_TRADES]
    metrics[M_N_TRADES] = n_trades
    metrics[M_WIN_RATE] = stats[S_WINS] / n_trades if n_trades > 0 else np.nan
    gl = stats[S_GROSS_LOSS]
    metrics[M_PROFIT_FACTOR] = stats[S_GROSS_WIN] / gl if gl > 0.0 else (np.inf if stats[S_GROSS_WIN] > 0 else np.nan)
    metrics[M_N_FILLS] = stats[S_N_FILLS]
    metrics[M_N_REJECTED] = stats[S_N_REJECTED]
    metrics[M_COMMISSION] = stats[S_COMM]
    metrics[M_EXPOSURE] = exposure / n_t if n_t > 0 else np.nan
    if metrics.shape[0] > M_N_WARNED:
        metrics[M_N_BLOCKED] = stats[S_N_BLOCKED]
        metrics[M_N_WARNED] = stats[S_N_WARNED]


@njit(inline="always")
def _simple_fill(
    stype: int, p_size: float, pos: float, cash: float, ref: float, h: float, lo: float, eq: float, at_open: bool,
    avg: float, pnl: float, comm_trade: float, stats: FloatArray, cfg: FloatArray,
) -> tuple[int, float, float, float, float, float]:  # fmt: skip
    # one market order of _run_simple at `ref` (this bar's open or close): returns
    # (pending: 1 still waiting, 0 done), pos, cash, avg, pnl, comm_trade
    lot = cfg[CFG_LOT]
    q = _wanted(stype, p_size, pos, ref, eq, lot)
    if q == 0.0:
        return 0, pos, cash, avg, pnl, comm_trade
    side = 1.0 if q > 0.0 else -1.0
    px = _slipped(ref, side, h, lo, cfg)
    q = _wanted(stype, p_size, pos, px, eq, lot)
    if at_open and q * side <= 0.0:
        return 1, pos, cash, avg, pnl, comm_trade
    if q == 0.0:
        return 0, pos, cash, avg, pnl, comm_trade
    new = pos + q
    if new < -_EPS:
        stats[S_N_REJECTED] += 1.0
        return 0, pos, cash, avg, pnl, comm_trade
    comm = _commission(q, px, cfg)
    new_cash = cash - q * px - comm
    if (abs(new) > abs(pos) + _EPS or new * pos < 0.0) and not new_cash >= 0.0:
        stats[S_N_REJECTED] += 1.0
        return 0, pos, cash, avg, pnl, comm_trade
    stats[S_N_FILLS] += 1.0
    stats[S_COMM] += comm
    if abs(pos) <= _EPS:
        avg = px
        pnl = 0.0
        comm_trade = comm
    else:
        closed = min(abs(q), abs(pos))
        pnl += closed * (px - avg) * 1.0
        comm_trade += comm * (closed / abs(q))
        if abs(new) <= _EPS:
            net = pnl - comm_trade
            stats[S_N_TRADES] += 1.0
            if net > 0.0:
                stats[S_WINS] += 1.0
                stats[S_GROSS_WIN] += net
            else:
                stats[S_GROSS_LOSS] -= net
    return 0, (0.0 if abs(new) <= _EPS else new), new_cash, avg, pnl, comm_trade


@njit()
def _run_simple(
    c: int,
    o_px: FloatArray,
    h_px: FloatArray,
    l_px: FloatArray,
    c_px: FloatArray,
    div: FloatArray,
    s: int,
    entries: BoolArray,
    exits: BoolArray,
    size: FloatArray,
    size_type: int,
    cash0: float,
    cfg: FloatArray,
    col_symbol: IntArray,
    rules: FloatArray,
    rule_on: BoolArray,
    rule_sym: BoolArray,
    rule_group: IntArray,
    session_start: BoolArray,
    metrics: FloatArray,
) -> None:
    # The sweep's common case, one column: long-only signals, market orders, a cash account,
    # no attached stops or volume cap. The same steps and the same floating-point expressions
    # as _run_group (tests compare the two bit for bit), with the state kept in registers.
    n_t = c_px.shape[0]
    n_rules = rules.shape[0]
    sod = np.nan
    # the compliance screen reads the book as _run_group keeps it: one slot, filled when it runs
    slot = np.zeros((1 if n_rules > 0 else 0, N_BOOK))
    slot_pend = np.zeros((1 if n_rules > 0 else 0, N_PENDING))  # no working order counts: it was replaced
    no_rows = np.empty((0, 0))
    screen_counts = np.zeros(N_COUNTS, dtype=np.int64)
    fill_at_close = cfg[CFG_FILL_AT_CLOSE] > 0.0
    div_mode = int(cfg[CFG_DIVIDENDS])
    lot = cfg[CFG_LOT]
    stats = np.zeros(N_STATS)
    cash = cash0
    pos = 0.0
    mark = np.nan
    pending = 0  # 1: an entry of p_size (size_type units); -1: close the position
    p_size = 0.0
    avg = 0.0
    pnl = 0.0
    comm_trade = 0.0
    exposure = 0
    prev_eq = cash0
    peak_eq = cash0
    max_dd = 0.0
    r_n = 0
    r_sum = 0.0
    r_sq = 0.0
    e_t, e_c = entries.shape[0] > 1, entries.shape[1] > 1
    x_t, x_c = exits.shape[0] > 1, exits.shape[1] > 1
    z_t, z_c = size.shape[0] > 1, size.shape[1] > 1
    for t in range(n_t):
        if div_mode != DIV_NONE and pos != 0.0:  # the same step 0 as _run_group's
            d = div[t, s]
            if d > 0.0:
                amount = pos * d
                cash += amount
                if div_mode == DIV_REINVEST and pos > 0.0:
                    q, px = _reinvested(amount, mark, d, lot)
                    if q > 0.0:
                        new = pos + q
                        cash -= q * px
                        avg = (avg * abs(pos) + px * abs(q)) / abs(new)
                        pos = new
        if pending != 0:
            o = o_px[t, s]
            h = h_px[t, s]
            lo = l_px[t, s]
            if not (np.isnan(o) or np.isnan(h) or np.isnan(lo)):
                eq = cash
                if pos != 0.0:
                    eq += pos * o
                stype = size_type if pending > 0 else CLOSE
                keep, pos, cash, avg, pnl, comm_trade = _simple_fill(
                    stype, p_size, pos, cash, o, h, lo, eq, True, avg, pnl, comm_trade, stats, cfg
                )
                if not keep:
                    pending = 0
        created = False
        if pos == 0.0:
            if entries[t if e_t else 0, c if e_c else 0]:
                sz = size[t if z_t else 0, c if z_c else 0]
                if not np.isnan(sz) and sz != 0.0:
                    pending = 1
                    p_size = abs(sz)
                    created = True
        elif pos > 0.0 and exits[t if x_t else 0, c if x_c else 0]:
            pending = -1
            created = True
        cl = c_px[t, s]
        if n_rules > 0:  # the compliance screen of _run_group's step 3
            if t > 0 and session_start[t]:
                sod = prev_eq
            if created:
                last = cl if not np.isnan(cl) else mark
                eq = cash
                if pos != 0.0:
                    eq += pos * last
                q = _wanted(size_type, p_size, pos, last, eq, lot) if pending > 0 else -pos
                if q != 0.0 and not np.isnan(q):
                    slot[0, B_POS] = pos
                    slot[0, B_MARK] = mark
                    stats[S_CASH] = cash
                    verdict = _screen(0, c, t, q, np.nan, np.nan, MARKET, sod, True, slot, slot_pend, stats, c_px,
                                      col_symbol,
                                      rules, rule_on, rule_sym, rule_group, False, 0.0, no_rows, no_rows, no_rows,
                                      screen_counts)  # fmt: skip
                    if verdict == V_BLOCK:
                        stats[S_N_REJECTED] += 1.0
                        pending = 0
                        created = False
        if created and fill_at_close and not np.isnan(cl):
            eq = cash
            if pos != 0.0:
                eq += pos * cl
            stype = size_type if pending > 0 else CLOSE
            _, pos, cash, avg, pnl, comm_trade = _simple_fill(
                stype, p_size, pos, cash, cl, h_px[t, s], l_px[t, s], eq, False, avg, pnl, comm_trade, stats, cfg
            )
            pending = 0
        if not np.isnan(cl):
            mark = cl
        equity = cash
        if pos != 0.0:
            equity += pos * mark
            exposure += 1
        if prev_eq > 0.0:
            r = equity / prev_eq - 1.0
            r_n += 1
            r_sum += r
            r_sq += r * r
        prev_eq = equity
        if equity > peak_eq:
            peak_eq = equity
        elif equity < peak_eq * (1.0 + max_dd) and peak_eq > 0.0:
            max_dd = equity / peak_eq - 1.0
    stats[S_CASH] = cash
    _finish(metrics, stats, cash0, prev_eq, r_n, r_sum, r_sq, max_dd, exposure, n_t, cfg[CFG_PERIODS_PER_YEAR])


_RF2 = types.Array(types.float64, 2, "A", readonly=True)
_RB2 = types.Array(types.boolean, 2, "A", readonly=True)
_RI1 = types.Array(types.int64, 1, "A", readonly=True)
_RF1 = types.Array(types.float64, 1, "A", readonly=True)
_RI2 = types.Array(types.int64, 2, "A", readonly=True)
_RB1 = types.Array(types.boolean, 1, "A", readonly=True)
_INPUTS = (
    _RF2, _RF2, _RF2, _RF2, _RF2, _RF2, _RI1, _RI1, types.boolean, _RB2, _RB2, _RB2, _RB2, _RF2, types.int64,
    _RF2, _RF2, _RF2, _RF1, _RF1, _RF2, _RB2, _RB2, _RI2, _RB1,
)  # fmt: skip


@kernel(types.void(*_INPUTS, types.float64[:, :]), parallel=True)
def simulate_metrics(
    o_px: FloatArray,
    h_px: FloatArray,
    l_px: FloatArray,
    c_px: FloatArray,
    vol: FloatArray,
    div: FloatArray,
    col_symbol: IntArray,
    group_start: IntArray,
    signal_mode: bool,
    entries: BoolArray,
    exits: BoolArray,
    short_entries: BoolArray,
    short_exits: BoolArray,
    size: FloatArray,
    size_type: int,
    limit_price: FloatArray,
    stop_price: FloatArray,
    stops: FloatArray,
    cash0: FloatArray,
    cfg: FloatArray,
    rules: FloatArray,
    rule_on: BoolArray,
    rule_sym: BoolArray,
    rule_group: IntArray,
    session_start: BoolArray,
    metrics: FloatArray,
) -> None:
    """Run every group (in parallel) and keep only its metrics row: memory stays O(groups).

    ``rules`` … ``session_start`` are the compiled compliance rules (no rows: none); a
    metrics row of ``len(METRICS) + len(RULE_METRICS)`` values also gets the rules' counts.
    """
    n_groups = group_start.shape[0] - 1
    no_f1 = np.empty(0)
    no_f2 = np.empty((0, 0))
    simple = (
        signal_mode
        and size_type <= PERCENT
        and limit_price.shape == (1, 1) and np.isnan(limit_price[0, 0])
        and stop_price.shape == (1, 1) and np.isnan(stop_price[0, 0])
        and np.isnan(stops).all()
        and not cfg[CFG_VOLUME_CAP] > 0.0
        and cfg[CFG_ALLOW_SHORT] <= 0.0
        and cfg[CFG_LEVERAGE] == 1.0
    )  # fmt: skip
    for g in prange(n_groups):
        c0 = group_start[g]
        if simple and group_start[g + 1] - c0 == 1:
            _run_simple(c0, o_px, h_px, l_px, c_px, div, col_symbol[c0], entries, exits, size, size_type, cash0[g], cfg,
                        col_symbol, rules, rule_on, rule_sym, rule_group, session_start, metrics[g])  # fmt: skip
            continue
        counts = np.zeros(N_COUNTS, dtype=np.int64)
        _run_group(group_start[g], group_start[g + 1], o_px, h_px, l_px, c_px, vol, div, col_symbol, signal_mode,
                   entries, exits, short_entries, short_exits, size, size_type, limit_price, stop_price, stops,
                   cash0[g], cfg, rules, rule_on, rule_sym, rule_group, session_start, False, no_f1, no_f1, no_f2,
                   no_f2, no_f2, no_f2, no_f2, no_f2, no_f2, no_f2, counts, metrics[g])  # fmt: skip


@kernel(
    types.void(*_INPUTS, types.float64[:, :], types.float64[:, :], types.float64[:, :], types.float64[:, :],
               types.float64[:, :], types.float64[:, :], types.float64[:, :], types.float64[:, :],
               types.float64[:, :], types.float64[:, :], types.int64[:], types.float64[:, :]),
)  # fmt: skip
def simulate_recorded(
    o_px: FloatArray,
    h_px: FloatArray,
    l_px: FloatArray,
    c_px: FloatArray,
    vol: FloatArray,
    div: FloatArray,
    col_symbol: IntArray,
    group_start: IntArray,
    signal_mode: bool,
    entries: BoolArray,
    exits: BoolArray,
    short_entries: BoolArray,
    short_exits: BoolArray,
    size: FloatArray,
    size_type: int,
    limit_price: FloatArray,
    stop_price: FloatArray,
    stops: FloatArray,
    cash0: FloatArray,
    cfg: FloatArray,
    rules: FloatArray,
    rule_on: BoolArray,
    rule_sym: BoolArray,
    rule_group: IntArray,
    session_start: BoolArray,
    equity: FloatArray,
    cash: FloatArray,
    positions: FloatArray,
    dividends: FloatArray,
    orders: FloatArray,
    fills: FloatArray,
    trades: FloatArray,
    screened: FloatArray,
    verdicts: FloatArray,
    held: FloatArray,
    counts: IntArray,
    metrics: FloatArray,
) -> None:
    """Run every group in turn, recording equity, cash, positions, dividends, orders, fills and trades,
    and the orders the compliance rules warned about or blocked (``screened``, with each rule's
    verdict in ``verdicts`` and the group's positions then in ``held``)."""
    for g in range(group_start.shape[0] - 1):
        _run_group(group_start[g], group_start[g + 1], o_px, h_px, l_px, c_px, vol, div, col_symbol, signal_mode,
                   entries, exits, short_entries, short_exits, size, size_type, limit_price, stop_price, stops,
                   cash0[g], cfg, rules, rule_on, rule_sym, rule_group, session_start, True, equity[:, g], cash[:, g],
                   positions, dividends, orders, fills, trades, screened, verdicts, held, counts,
                   metrics[g])  # fmt: skip
