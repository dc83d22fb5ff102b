"""`BacktestResult`: one backtest's equity, orders, fills and round trips, and what follows."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from bifrost._json import dumps
from bifrost.analytics import PerfStats, TradeStats, perf_stats, trade_stats
from bifrost.data import Panel
from bifrost.execution._fills import ORDER_TYPES
from bifrost.execution._order import CancelReason, OrderStatus, RejectReason, Side
from bifrost.portfolio import CashFlow, CashKind, Dividend, Fill, Ledger
from bifrost.portfolio._transactions import to_decimal
from bifrost.strategy import _kernel as K
from bifrost.strategy._costs import costs_label
from bifrost.strategy._engine import DividendMode, FillModel, KernelRecords

if TYPE_CHECKING:
    from bifrost.analytics import Tearsheet
    from bifrost.compliance._compile import CompiledRules

__all__ = ["ORDER_FATES", "BacktestResult"]

_COUNTS = frozenset({"n_trades", "n_fills", "n_rejected", "n_blocked", "n_warned"})
COMPLIANCE_COLUMNS = ("order_id", "ts", "symbol", "side", "quantity", "order_type", "limit_price", "rule", "reason")
_FRACTIONS = frozenset({"total_return", "annual_return", "annual_volatility", "max_drawdown", "win_rate", "exposure"})
_MONEY = frozenset({"final_value", "commission"})

_SIZE_TYPES = ("shares", "value", "percent", "target_percent", "target_shares", "close")
_ORIGINS = ("strategy", "stop_loss", "take_profit", "trailing_stop")

ORDER_FATES: Final[Mapping[tuple[int, int], tuple[OrderStatus, RejectReason | CancelReason | None]]] = (
    MappingProxyType({
        (K.FILLED, K.NO_REASON): (OrderStatus.FILLED, None),
        (K.CANCELED, K.REPLACED): (OrderStatus.CANCELED, CancelReason.REPLACED),
        (K.CANCELED, K.STOPPED_OUT): (OrderStatus.CANCELED, CancelReason.STOPPED_OUT),
        (K.REJECTED, K.NO_CASH): (OrderStatus.REJECTED, RejectReason.INSUFFICIENT_CASH),
        (K.REJECTED, K.NO_SHORT): (OrderStatus.REJECTED, RejectReason.SHORT_NOT_ALLOWED),
        (K.REJECTED, K.COMPLIANCE): (OrderStatus.REJECTED, RejectReason.COMPLIANCE),
        (K.EXPIRED, K.NO_REASON): (OrderStatus.EXPIRED, None),
        (K.OPEN, K.NO_REASON): (OrderStatus.ACCEPTED, None),  # PARTIALLY_FILLED when part of it filled
    })
)  # fmt: skip
"""The kernel's (status, reason) codes of an order record, in the order vocabulary of
`bifrost.execution`: the one place they are decoded (every pair the kernel records is here)."""


def _fate_table(i: int) -> np.ndarray:
    # ORDER_FATES as an array indexed by status * N_REASONS + reason: the frame decodes in one take
    table = np.full(K.N_STATUSES * K.N_REASONS, None, dtype=object)
    for (status, reason), fate in ORDER_FATES.items():
        table[status * K.N_REASONS + reason] = "" if fate[i] is None else str(fate[i])
    return table


_FATE_STATUS: Final = _fate_table(0)
_FATE_REASON: Final = _fate_table(1)
_TYPE_NAMES: Final = np.array([str(t) for t in ORDER_TYPES], dtype=object)


def _order_fates(status: np.ndarray, reason: np.ndarray, filled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    key = status.astype(np.int64) * K.N_REASONS + reason.astype(np.int64)
    statuses, reasons = _FATE_STATUS[key], _FATE_REASON[key]
    if (unknown := np.flatnonzero(statuses == None)).size:  # noqa: E711 (elementwise)
        pair = (int(status[unknown[0]]), int(reason[unknown[0]]))
        raise RuntimeError(f"the kernel recorded an order fate {pair} that ORDER_FATES does not name")
    statuses[(status == K.OPEN) & (filled != 0.0)] = str(OrderStatus.PARTIALLY_FILLED)
    return statuses, reasons


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestResult:
    """What one backtest produced.

    Attributes
    ----------
    equity, cash
        Cash plus positions at each close, and cash alone (Series on the bar dates).
    positions
        Shares held at each close, one column per symbol.
    orders
        Every order with its fate, in the order vocabulary of `bifrost.execution`:
        ``order_id, ts_created, symbol, side`` (a `Side` value), ``order_type`` (an
        `OrderType` value), ``origin`` (``strategy``, ``stop_loss``, ``take_profit``,
        ``trailing_stop``), ``size, size_type, limit_price, stop_price``, ``status`` (an
        `OrderStatus` value: ``filled``, ``rejected``, ``canceled``, ``expired``, or, still
        working at the end, ``accepted`` or ``partially_filled``), ``reason`` (a
        `RejectReason` — ``insufficient_cash``, ``short_not_allowed`` — or `CancelReason`
        — ``replaced``, ``stopped_out`` — value; ``""`` when none), ``filled`` (signed
        shares), ``avg_price`` and ``ts_done`` (NaT: still working). An order's ``side`` is
        the side it traded, or, unfilled, the side it asked for when it last could (a
        target order: at the close it was placed on); an order that asks for nothing (a
        target already held) is no order and is not listed.
    fills
        Every fill in time order: ``ts, symbol, side, quantity, price, commission, order_id``.
    trades
        Closed round trips: entry and exit dates and average prices, P&L gross and net
        (from prices: dividends are income of their own, in ``dividend_events``).
    metrics
        The engine's headline numbers (final value, Sharpe, drawdown, trade counts …),
        from the equity, which holds the dividends received.
    dividends
        What was done with the panel's dividends: ``cash``, ``reinvest`` or ``ignore``
        (`bifrost.strategy.DividendMode`); a reinvestment is a fill with ``order_id`` -1.
    dividend_events
        Every dividend credited: ``ts`` (the ex-date's bar), ``symbol``, ``shares`` (held
        at the close before it; negative: a short, which pays), ``per_share`` and ``amount``.
    measured
        How the returns are measured, in words: "total return, dividends as cash",
        "price return, dividends ignored", ...
    compliance
        With compliance rules (``rules=``): every order a rule blocked, one row each:
        ``order_id, ts`` (the bar it was created on), ``symbol, side, quantity`` (shares, as
        the rules saw it at that close), ``order_type, limit_price``, ``rule`` (the blocking
        rules' ids, ``"; "``-joined) and ``reason`` (``"<rule>: <why>; ..."``, the order
        manager's wording). Such an order is in `orders` too, ``rejected`` for reason
        ``compliance``, with the same ``rule`` and a ``message`` as the order manager
        words it (``"compliance: <reason>"``); `orders` has those two columns only when
        rules were given.
    compliance_warnings
        The orders let through with a warning, in the same columns.
    rules_hash
        The rule set's hash (None: no rules were given).
    rules_skipped
        The rule versions in force over the backtest that a backtest cannot apply, and why.
    """

    strategy: str
    params: Mapping[str, Any]
    ts: pd.DatetimeIndex
    symbols: tuple[str, ...]
    initial_cash: float
    fill_model: FillModel
    equity: pd.Series
    cash: pd.Series
    positions: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame
    trades: pd.DataFrame
    metrics: Mapping[str, float]
    adjustment: str = "raw"
    notes: tuple[str, ...] = field(default=())
    periods_per_year: float = 252.0  # the bars a year its annual figures use (`bifrost.data.periods_per_year`)
    dividends: DividendMode = "cash"
    dividend_events: pd.DataFrame = field(default_factory=lambda: _dividend_frame([], [], [], [], []))
    measured: str = "price return, the panel carries no dividends"
    compliance: pd.DataFrame = field(default_factory=lambda: _NO_SCREENED.copy())
    compliance_warnings: pd.DataFrame = field(default_factory=lambda: _NO_SCREENED.copy())
    rules_hash: str | None = None
    rules_skipped: tuple[str, ...] = ()

    @classmethod
    def from_records(
        cls,
        records: KernelRecords,
        panel: Panel,
        *,
        strategy: str,
        params: Mapping[str, Any],
        cash: float,
        fill: FillModel,
        periods_per_year: float = 252.0,
        dividends: DividendMode = "cash",
        rules: CompiledRules | None = None,
    ) -> BacktestResult:
        """Turn the kernel's arrays into frames on the panel's dates and symbols (``rules``: the
        compliance rules the run obeyed)."""
        ts = panel.ts
        symbols = np.array(panel.symbols, dtype=object)
        f = records.fills
        fills = pd.DataFrame(
            {
                "ts": ts[f[:, K.F_T].astype(np.int64)],
                "symbol": symbols[f[:, K.F_COL].astype(np.int64)],
                "side": np.where(f[:, K.F_QTY] > 0, "buy", "sell"),
                "quantity": np.abs(f[:, K.F_QTY]),
                "price": f[:, K.F_PRICE],
                "commission": f[:, K.F_COMMISSION],
                "order_id": f[:, K.F_ORDER_ID].astype(np.int64),
            }
        )
        o = records.orders[np.argsort(records.orders[:, K.O_ID], kind="stable")]
        done = o[:, K.O_T_DONE].astype(np.int64)
        statuses, reasons = _order_fates(o[:, K.O_STATUS], o[:, K.O_REASON], o[:, K.O_FILLED])
        orders = pd.DataFrame(
            {
                "order_id": o[:, K.O_ID].astype(np.int64),
                "ts_created": ts[o[:, K.O_T_CREATED].astype(np.int64)],
                "symbol": symbols[o[:, K.O_COL].astype(np.int64)],
                "side": np.where(o[:, K.O_SIDE] > 0, str(Side.BUY), str(Side.SELL)).astype(object),
                "order_type": _TYPE_NAMES[o[:, K.O_TYPE].astype(np.int64)],
                "origin": np.array(_ORIGINS, dtype=object)[o[:, K.O_ORIGIN].astype(np.int64)],
                "size": o[:, K.O_SIZE],
                "size_type": np.array(_SIZE_TYPES, dtype=object)[o[:, K.O_SIZE_TYPE].astype(np.int64)],
                "limit_price": o[:, K.O_LIMIT],
                "stop_price": o[:, K.O_STOP],
                "status": statuses,
                "reason": reasons,
                "filled": o[:, K.O_FILLED],
                "avg_price": o[:, K.O_AVG_PRICE],
                "ts_done": pd.Series(ts[np.maximum(done, 0)]).where(done >= 0),  # NaT: still open
            }
        )
        r = records.trades
        trades = pd.DataFrame(
            {
                "symbol": symbols[r[:, K.R_COL].astype(np.int64)],
                "ts_entry": ts[r[:, K.R_T_ENTRY].astype(np.int64)],
                "ts_exit": ts[r[:, K.R_T_EXIT].astype(np.int64)],
                "quantity": r[:, K.R_QTY],
                "entry_price": r[:, K.R_ENTRY_PRICE],
                "exit_price": r[:, K.R_EXIT_PRICE],
                "pnl": r[:, K.R_PNL],
                "pnl_net": r[:, K.R_PNL_NET],
                "commission": r[:, K.R_COMMISSION],
                "bars_held": (r[:, K.R_T_EXIT] - r[:, K.R_T_ENTRY]).astype(np.int64),
            }
        )
        names = K.METRICS + (K.RULE_METRICS if records.metrics.shape[1] > len(K.METRICS) else ())
        metrics = {name: float(v) for name, v in zip(names, records.metrics[0], strict=True)}
        blocked, warned = _NO_SCREENED.copy(), _NO_SCREENED.copy()
        if rules is not None:
            for name in K.RULE_METRICS:  # rules given, none the kernel applies: nothing blocked
                metrics.setdefault(name, 0.0)
            blocked, warned = _screened(records, panel, rules, fill, o)
            rule_of = dict(zip(blocked["order_id"].tolist(), blocked["rule"].tolist(), strict=True))
            why = dict(zip(blocked["order_id"].tolist(), blocked["reason"].tolist(), strict=True))
            ids = orders["order_id"].tolist()
            orders["rule"] = np.array([rule_of.get(i, "") for i in ids], dtype=object)
            # the order manager's wording of a rejection: "<check>: <rule>: <why>; <rule>: <why>"
            orders["message"] = np.array([f"compliance: {why[i]}" if i in why else "" for i in ids], dtype=object)
        events = _NO_DIVIDENDS.copy()
        if records.dividends is not None and records.dividends.any():
            j, t = np.nonzero(records.dividends.T)  # symbol-major, then time: sorted below
            order = np.lexsort((j, t))
            t, j = t[order], j[order]
            per_share = np.asarray(panel["dividend"])[t, j]
            amount = records.dividends[t, j]
            events = _dividend_frame(ts[t], symbols[j], records.positions[t - 1, j], per_share, amount)
        return cls(
            strategy=strategy,
            params=dict(params),
            ts=ts,
            symbols=tuple(panel.symbols),
            initial_cash=float(cash),
            fill_model=fill,
            equity=pd.Series(records.equity[:, 0], index=ts, name="equity"),
            cash=pd.Series(records.cash[:, 0], index=ts, name="cash"),
            positions=pd.DataFrame(records.positions, index=ts, columns=list(panel.symbols)),
            orders=orders,
            fills=fills,
            trades=trades,
            metrics=metrics,
            adjustment=panel.adjustment,
            notes=tuple(panel.notes),
            periods_per_year=periods_per_year,
            dividends=dividends,
            dividend_events=events,
            measured=_measured(panel, dividends),
            compliance=blocked,
            compliance_warnings=warned,
            rules_hash=None if rules is None else rules.rules_hash,
            rules_skipped=() if rules is None else tuple(rules.notes()),
        )

    # -- headline numbers ---------------------------------------------------------------------
    @property
    def final_value(self) -> float:
        """Cash plus open positions at the last close."""
        return float(self.equity.iloc[-1])

    @property
    def n_trades(self) -> int:
        """Closed round trips."""
        return len(self.trades)

    @property
    def dividend_cash(self) -> float:
        """Dividends received, net of those paid on short positions (money)."""
        return float(self.dividend_events["amount"].sum())

    @property
    def dividend_income(self) -> pd.Series:
        """Dividends received (paid: negative) on each bar, every symbol together."""
        income = self.dividend_events.groupby("ts")["amount"].sum()
        return income.reindex(self.ts, fill_value=0.0).rename("dividend_income")

    @property
    def returns(self) -> pd.Series:
        """Simple returns of equity, one a bar (the first against the initial cash)."""
        prev = self.equity.shift(1)
        prev.iloc[0] = self.initial_cash
        return (self.equity / prev - 1.0).rename("returns")

    def stats(self, benchmark: pd.Series | None = None) -> PerfStats:
        """Return `bifrost.analytics.perf_stats` of the returns (against ``benchmark``),
        annualised with `periods_per_year` bars a year, as `metrics` are."""
        factor = None if benchmark is None else benchmark.reindex(self.ts).to_numpy()
        return perf_stats(self.returns.to_numpy(), factor, names=[self.strategy], annualization=self.periods_per_year)

    def trade_stats(self) -> TradeStats:
        """Return `bifrost.analytics.trade_stats` of the closed round trips (net P&L, bars held)."""
        return trade_stats(self.trades["pnl_net"].to_numpy(), self.trades["bars_held"].to_numpy())

    # -- the same ledger a live portfolio keeps -----------------------------------------------------
    def ledger(self, name: str | None = None) -> Ledger:
        """Return the fills as a `bifrost.portfolio.Ledger`: a deposit of the cash, then every
        fill and every dividend credited (a `bifrost.portfolio.Dividend` on its ex-date,
        before that bar's fills, so that it goes to the shares held at the close before).

        Risk, compliance and the portfolio reports read it like any other portfolio.
        """
        label = name or f"backtest-{self.strategy}"
        inception = self.ts[0]
        ledger = Ledger(label, inception=inception, long_only=not self.fill_model.allow_short)
        txns: list[Any] = [
            CashFlow(
                txn_id=f"{label}-deposit",
                ts=inception,
                kind=CashKind.DEPOSIT,
                amount=to_decimal(self.initial_cash, "cash"),
            )
        ]
        paid = _rows(self.dividend_events)
        k = 0
        for i, row in enumerate(_rows(self.fills)):
            while k < len(paid) and paid[k].ts <= row.ts:
                txns.append(_dividend_txn(label, paid[k]))
                k += 1
            txns.append(
                Fill(
                    txn_id=f"{label}-{row.order_id}-{i}",
                    ts=row.ts,
                    symbol=row.symbol,
                    side=Side.BUY if row.side == "buy" else Side.SELL,
                    quantity=to_decimal(float(row.quantity), "quantity"),
                    price=to_decimal(float(row.price), "price"),
                    commission=to_decimal(float(row.commission), "commission") if row.commission else Decimal(0),
                )
            )
        txns.extend(_dividend_txn(label, d) for d in paid[k:])
        ledger.extend(txns)
        return ledger

    # -- output -----------------------------------------------------------------------------------
    def to_dict(self, *, fills: bool = True, trades: bool = True) -> dict[str, Any]:
        """Return a JSON-ready summary: settings, metrics, and the fill and trade lists."""
        out: dict[str, Any] = {
            "strategy": self.strategy,
            "params": dict(self.params),
            "symbols": list(self.symbols),
            "start": self.ts[0].isoformat(),
            "end": self.ts[-1].isoformat(),
            "adjustment": self.adjustment,
            "dividends": self.dividends,
            "dividend_cash": self.dividend_cash,
            "measured": self.measured,
            "cash": self.initial_cash,
            "final_value": self.final_value,
            "n_trades": self.n_trades,
            "metrics": {k: _json_number(v) for k, v in self.metrics.items()},
            "rejected_orders": int((self.orders["status"] == OrderStatus.REJECTED).sum()),
            "costs": costs_label(self.fill_model),
        }
        if self.rules_hash is not None:
            out["compliance"] = {
                "rules_hash": self.rules_hash,
                "blocked_orders": len(self.compliance),
                "warned_orders": len(self.compliance_warnings),
                "not_applied": list(self.rules_skipped),
                "blocked": [
                    {"ts": r.ts.isoformat(), "symbol": r.symbol, "side": r.side, "quantity": float(r.quantity),
                     "rule": r.rule, "reason": r.reason}
                    for r in _rows(self.compliance)
                ],
            }  # fmt: skip
        if fills:
            out["fills"] = [
                {
                    "ts": r.ts.isoformat(),
                    "symbol": r.symbol,
                    "side": r.side,
                    "quantity": float(r.quantity),
                    "price": float(r.price),
                    "commission": float(r.commission),
                }
                for r in _rows(self.fills)
            ]
        if trades:
            out["trades"] = [
                {
                    "symbol": r.symbol,
                    "ts_entry": r.ts_entry.isoformat(),
                    "ts_exit": r.ts_exit.isoformat(),
                    "quantity": float(r.quantity),
                    "entry_price": float(r.entry_price),
                    "exit_price": float(r.exit_price),
                    "pnl": float(r.pnl),
                    "pnl_net": float(r.pnl_net),
                }
                for r in _rows(self.trades)
            ]
        return out

    def to_json(self, **options: bool) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return dumps(self.to_dict(fills=options.get("fills", True), trades=options.get("trades", True)))

    def tearsheet(self, benchmark: pd.Series | None = None) -> Tearsheet:
        """Return the full tearsheet (`bifrost.analytics.tearsheet`) with exposure and contributors."""
        from bifrost.analytics import tearsheet

        # the value held is equity less cash, exactly; as a fraction of equity, and when the
        # book never went short that is its long and gross exposure too (the result keeps no
        # per-bar prices to split a long/short book)
        equity = self.equity.where(self.equity > 0)
        net = ((self.equity - self.cash) / equity).rename("net")
        long_only = bool((self.positions.to_numpy() >= 0).all())
        exposure = pd.DataFrame({"gross": net, "net": net} if long_only else {"net": net}, index=self.ts)
        contributions = self.trades.groupby("symbol")["pnl_net"].sum() if len(self.trades) else None
        params = ", ".join(f"{name}={value}" for name, value in dict(self.params).items())
        return tearsheet(
            self.returns,
            benchmark,
            exposure=exposure,
            contributions=contributions,
            title=f"Backtest: {self.strategy}" + (f" ({params})" if params else ""),
            annualization=self.periods_per_year,
            notes=(
                f"Returns: {self.measured}."
                + (" The benchmark is compared as given: measure it the same way." if benchmark is not None else ""),
                f"Costs: {costs_label(self.fill_model)}.",
            ),
        )

    def _metric_rows(self) -> list[tuple[str, str]]:
        # the headline numbers as a person reads them: counts as integers, fractions in percent
        rows = []
        for k, v in self.metrics.items():
            if not np.isfinite(v):
                continue
            if k in _COUNTS:
                text = f"{round(v):,}"
            elif k in _FRACTIONS:
                text = f"{v:.2%}"
            elif k in _MONEY:
                text = f"{v:,.2f}"
            else:
                text = f"{v:.2f}"
            rows.append((k, text))
        return rows

    def _headline(self) -> str:
        symbols = ", ".join(self.symbols[:8]) + (" …" if len(self.symbols) > 8 else "")
        return (
            f"{self.strategy} {dict(self.params)} on {symbols}, {_stamp(self.ts[0])} … {_stamp(self.ts[-1])}, "
            f"{len(self.ts):,} bars, {self.adjustment} prices"
        )

    def _costs(self) -> str:
        # the model's costs in words ("no costs" without commission and slippage), and what they came to
        paid = self.metrics.get("commission", 0.0)
        label = costs_label(self.fill_model)
        return label if not paid else f"{label} (commission paid {paid:,.2f})"

    def compliance_summary(self) -> pd.DataFrame:
        """Return, per rule, the orders it blocked and those it warned about: ``rule, blocked, warned``.

        Empty without rules. An order blocked by two rules counts for each.
        """
        counts: dict[str, list[int]] = {}
        for i, frame in enumerate((self.compliance, self.compliance_warnings)):
            for ids in frame["rule"]:
                for rule in str(ids).split("; "):
                    if rule:
                        counts.setdefault(rule, [0, 0])[i] += 1
        return pd.DataFrame(
            [{"rule": r, "blocked": b, "warned": w} for r, (b, w) in counts.items()],
            columns=["rule", "blocked", "warned"],
        )

    def _compliance_line(self) -> str | None:
        # "N orders blocked by compliance ..." when rules were given (None: they were not)
        if self.rules_hash is None:
            return None
        n, w = len(self.compliance), len(self.compliance_warnings)
        text = f"{n:,} order{'s' if n != 1 else ''} blocked by compliance"
        if w:
            text += f", {w:,} let through with a warning"
        text += f" (rules {self.rules_hash[:12]})"
        if self.rules_skipped:
            text += f"; {len(self.rules_skipped)} rule version(s) not applied: " + "; ".join(self.rules_skipped)
        return text

    def __str__(self) -> str:
        m = self.metrics
        ret = m.get("total_return", np.nan)
        lines = [
            f"Backtest {self._headline()}",
            f"  final value {self.final_value:,.2f} from {self.initial_cash:,.2f} ({ret:+.2%}),"
            f" Sharpe {m.get('sharpe_ratio', np.nan):.2f}, max drawdown {m.get('max_drawdown', np.nan):.2%}",
            f"  {self.n_trades:,} trades, {len(self.fills):,} fills, {self._costs()}",
        ]
        if (line := self._compliance_line()) is not None:
            lines.append(f"  {line}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<BacktestResult {self.strategy} {dict(self.params)} {len(self.symbols)} symbols, "
            f"{_stamp(self.ts[0])} … {_stamp(self.ts[-1])}, final value {self.final_value:,.2f}>"
        )

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in self._metric_rows())
        chart = _equity_svg(self.equity)
        line = self._compliance_line()
        rules = "" if line is None else f"<p>{html.escape(line)}</p>"
        return (
            f"<div><p><b>Backtest</b> {html.escape(self._headline())}; {self._costs()}</p>{rules}"
            f"<div style='display:flex;gap:2em;align-items:flex-start'>{chart}"
            f"<table style='text-align:right'>{rows}</table></div></div>"
        )


def _screened_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COMPLIANCE_COLUMNS))
    if not rows:
        frame["ts"] = pd.DatetimeIndex([], tz="UTC")
    return frame.astype({"order_id": np.int64, "quantity": np.float64, "limit_price": np.float64})


_NO_SCREENED: Final[pd.DataFrame] = _screened_frame([])


def _screened(
    records: KernelRecords, panel: Panel, rules: CompiledRules, fill: FillModel, orders: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    # the orders the rules blocked, and those they warned about, each with the rules' reasons in
    # the order manager's words: each rule's own gather and decide on the book rebuilt as the
    # kernel saw it (bifrost.compliance._compile says what the kernel measured)
    x = records.screened
    if x.shape[0] == 0:
        return _NO_SCREENED.copy(), _NO_SCREENED.copy()
    by_id = {int(row[K.O_ID]): row for row in orders}
    closes = pd.DataFrame(np.asarray(panel["close"], dtype=np.float64)).ffill().to_numpy()
    symbols = panel.symbols
    blocked: list[dict[str, Any]] = []
    warned: list[dict[str, Any]] = []
    for i in range(x.shape[0]):
        row = x[i]
        order_id, col, t, q = int(row[K.X_ORDER_ID]), int(row[K.X_COL]), int(row[K.X_T]), float(row[K.X_QTY])
        rec = by_id.get(order_id)
        otype = int(rec[K.O_TYPE]) if rec is not None else 0
        limit = float(rec[K.O_LIMIT]) if rec is not None else np.nan
        stop = float(rec[K.O_STOP]) if rec is not None else np.nan
        wanted = K.V_BLOCK if row[K.X_BLOCKED] > 0.0 else K.V_WARN
        chosen = [r for r in range(rules.n_rules) if records.verdicts[i, r] == wanted]
        texts = explain(
            rules, [rules.rules[r] for r in chosen], symbol=symbols[col], ts=panel.ts[t], quantity=q,
            order_type=_TYPE_NAMES[otype], limit_price=limit, stop_price=stop, held=records.held[i], symbols=symbols,
            prices=closes[t], cash=float(row[K.X_CASH]), equity=float(row[K.X_EQUITY]), sod=float(row[K.X_SOD]),
            long_only=not fill.allow_short,
        )  # fmt: skip
        entry = {
            "order_id": order_id, "ts": panel.ts[t], "symbol": symbols[col],
            "side": str(Side.BUY) if q > 0 else str(Side.SELL), "quantity": abs(q), "order_type": _TYPE_NAMES[otype],
            "limit_price": limit, "rule": "; ".join(rules.rules[r].id for r in chosen),
            "reason": "; ".join(f"{rules.rules[r].id}: {text}" for r, text in zip(chosen, texts, strict=True)),
        }  # fmt: skip
        (blocked if wanted == K.V_BLOCK else warned).append(entry)
    return _screened_frame(blocked), _screened_frame(warned)


def explain(
    compiled: CompiledRules,
    rules: list[Any],
    *,
    symbol: str,
    ts: pd.Timestamp,
    quantity: float,
    order_type: str,
    limit_price: float,
    stop_price: float,
    held: np.ndarray,
    symbols: tuple[str, ...],
    prices: np.ndarray,
    cash: float,
    equity: float,
    sod: float,
    long_only: bool,
) -> list[str]:
    """Return each of ``rules``' reason for an order the kernel judged, in the rule kind's own words.

    The order and its book are rebuilt as the kernel saw them (the positions ``held`` then,
    the last closes ``prices``, cash, equity, the previous session's equity ``sod``), and
    each rule's kind gathers its inputs and decides on them as the order manager's check
    does (`bifrost.compliance._engine.judge`).
    """
    from bifrost.compliance._engine import judge
    from bifrost.compliance._kinds import RULE_KINDS
    from bifrost.compliance._model import BookState, Measures, ProposedOrder

    def dec(v: float) -> Decimal | None:
        return None if not np.isfinite(v) else Decimal(repr(float(v)))

    order = ProposedOrder(
        portfolio=compiled.portfolio, symbol=symbol, side=Side.BUY if quantity > 0 else Side.SELL,
        quantity=Decimal(repr(abs(quantity))), order_type=order_type,  # type: ignore[arg-type]
        limit_price=dec(limit_price), stop_price=dec(stop_price),
    )  # fmt: skip
    positions = {symbols[j]: float(held[j]) for j in range(min(len(held), len(symbols))) if held[j] != 0.0}
    known = {
        s: float(prices[j]) for j, s in enumerate(symbols) if (s in positions or s == symbol) and np.isfinite(prices[j])
    }
    book = BookState(
        portfolio=compiled.portfolio, ts=ts, positions=positions, cash=cash,
        equity=equity if np.isfinite(equity) else None, prices=known,
        start_of_day_equity=sod if np.isfinite(sod) else None, sectors=dict(compiled.sectors),
        issuers=dict(compiled.issuers), long_only=long_only,
    )  # fmt: skip
    price = known.get(symbol)
    if price is None:
        price = float(order.limit_price) if order.limit_price is not None else (
            float(order.stop_price) if order.stop_price is not None else None)  # fmt: skip
    out = []
    for rule in rules:
        measures = Measures(order, book, price)
        inputs = RULE_KINDS[rule.kind].gather(rule, order, book, measures)
        _, reason = judge(rule, inputs)
        out.append(reason)
    return out


def _rows(frame: pd.DataFrame) -> list[Any]:
    return list(frame.itertuples(index=False))


def _dividend_frame(ts: Any, symbol: Any, shares: Any, per_share: Any, amount: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": pd.DatetimeIndex(ts, tz="UTC") if len(ts) == 0 else ts,
            "symbol": np.asarray(symbol, dtype=object),
            "shares": np.asarray(shares, dtype=np.float64),
            "per_share": np.asarray(per_share, dtype=np.float64),
            "amount": np.asarray(amount, dtype=np.float64),
        }
    )


_NO_DIVIDENDS: Final = _dividend_frame([], [], [], [], [])  # copied for each result: built once (0.4 ms)


def _dividend_txn(label: str, row: Any) -> Dividend:
    return Dividend(
        txn_id=f"{label}-dividend-{row.symbol}-{row.ts.date()}",
        ts=row.ts,
        symbol=row.symbol,
        per_share=to_decimal(float(row.per_share), "per_share"),
    )


def _measured(panel: Panel, dividends: DividendMode) -> str:
    # the words a tearsheet and the CLI print: what the returns hold
    if panel.adjustment == "adjusted":
        return "total return, dividends in the adjusted prices"
    if dividends == "ignore":
        return "price return, dividends ignored"
    if "dividend" not in panel.fields:
        return "price return, the panel carries no dividends"
    paid: np.ndarray = np.asarray(np.nan_to_num(np.asarray(panel["dividend"], dtype=np.float64)).any(axis=0))
    without = [s for s, p in zip(panel.symbols, paid.tolist(), strict=True) if not p]
    if not paid.any():
        # found by QA: a store that records no dividends for a payer is not a total return
        return f"price return: no dividends recorded for {_names(without)}"
    how = "total return, dividends reinvested" if dividends == "reinvest" else "total return, dividends as cash"
    return how + (f" (none recorded for {_names(without)})" if without else "")


def _names(symbols: list[str], shown: int = 5) -> str:
    more = f" and {len(symbols) - shown} more" if len(symbols) > shown else ""
    return ", ".join(symbols[:shown]) + more


def _json_number(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _stamp(ts: pd.Timestamp) -> str:
    return str(ts.date()) if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")


def _equity_svg(equity: pd.Series, width: int = 480, height: int = 200) -> str:
    # the equity curve as a small inline SVG with its axes (three value ticks, first/middle/last
    # date): no plotting library and no plotly.js needed to show a result
    values = equity.to_numpy(dtype=np.float64)
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return ""
    left, right, top, bottom = 70, 10, 20, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    v, ts = values[ok], equity.index[ok]
    lo, hi = float(v.min()), float(v.max())  # of every bar: the thinned line keeps the last
    step = max(1, v.size // plot_w)
    v, ts = np.r_[v[:-1:step], v[-1]], ts[np.r_[np.arange(0, v.size - 1, step), v.size - 1]]
    span = hi - lo or 1.0
    x = left + np.linspace(0, plot_w, v.size)
    y = top + plot_h - (v - lo) / span * plot_h
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y, strict=True))
    parts = [
        f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif"'
        ' font-size="11" role="img"><title>equity</title>',
        f'<text x="{left}" y="12" font-weight="bold">equity</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#555"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        ty = top + plot_h - frac * plot_h
        parts.append(f'<line x1="{left - 4}" y1="{ty:.1f}" x2="{left}" y2="{ty:.1f}" stroke="#555"/>')
        parts.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{lo + frac * span:,.0f}</text>')
    for i, anchor in ((0, "start"), (v.size // 2, "middle"), (v.size - 1, "end")):
        tick = f'x1="{x[i]:.1f}" y1="{top + plot_h}" x2="{x[i]:.1f}" y2="{top + plot_h + 4}"'
        parts.append(f'<line {tick} stroke="#555"/>')
        parts.append(
            f'<text x="{x[i]:.1f}" y="{top + plot_h + 16}" text-anchor="{anchor}">{_stamp(pd.Timestamp(ts[i]))}</text>'
        )
    parts.append(f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{points}"/></svg>')
    return "".join(parts)
