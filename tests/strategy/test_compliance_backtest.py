"""Compliance-aware backtests: rules compiled into the engine block the orders they should, and only those.

Real series (ORCL, NVDA, YHOO from the backtrader files, tests/strategy/conftest.py). Each
rule's expected blocks are computed here independently, with pandas, from the prices and the
result's own book (positions, equity at each close: with fills at the next open, the book at
a bar's close is the book the order was judged on), and compared with what the kernel
rejected. A Python reference — the rule engine itself (`bifrost.compliance.ComplianceEngine`)
on books rebuilt from the result — must agree with the kernel on every order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bifrost.compliance._compile import COMPILED_KINDS, compile_rules
from bifrost.compliance._engine import ComplianceEngine
from bifrost.compliance._model import BookState, ProposedOrder
from bifrost.compliance._rules import RuleSet, parse_rules
from bifrost.data import EmbeddedStore, Panel
from bifrost.errors import InvalidInputError
from bifrost.portfolio import Side
from bifrost.strategy import Orders, Signals, backtest, optimize, simulate, sweep, walk_forward
from bifrost.strategy import _kernel as K
from bifrost.strategy._result import BacktestResult
from bifrost.strategy.indicators import crossover, sma

SMA = {"fast": 10, "slow": 30, "size": 100}


def rules_of(text: str) -> RuleSet:
    return parse_rules(text, source="test.toml")


@pytest.fixture(scope="module")
def orcl10(real_store: EmbeddedStore) -> Panel:
    return real_store.read_panel(["ORCL"], "2010-01-01")


@pytest.fixture(scope="module")
def three(real_store: EmbeddedStore) -> Panel:
    return real_store.read_panel(["NVDA", "ORCL", "YHOO"], "2010-01-01")


def closes(panel: Panel) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(panel["close"]), index=panel.ts, columns=list(panel.symbols)).ffill()


def cross_ups(panel: Panel, fast: int, slow: int) -> pd.DatetimeIndex:
    # backtrader's CrossOver, with pandas: the difference turns positive from a negative last non-zero value
    close = closes(panel).iloc[:, 0]
    d = close.rolling(fast).mean() - close.rolling(slow).mean()
    prev = d.where(d != 0).ffill().shift(1)
    return pd.DatetimeIndex(close.index[(d > 0) & (prev < 0)])


def strategy_orders(r: BacktestResult) -> pd.DataFrame:
    orders = r.orders
    return orders[orders["origin"] == "strategy"].reset_index(drop=True)


def blocked_ids(r: BacktestResult) -> set[int]:
    orders = r.orders
    return set(orders.loc[orders["reason"] == "compliance", "order_id"].astype(int))


# -- (a) a restricted list over a date window -------------------------------------------------------

RESTRICTED_2011 = """
[[rule]]
id = "no_orcl_buys"
kind = "restricted_list"
symbols = ["orcl"]
sides = "buy"
effective_from = 2011-01-01
effective_to = 2011-12-31
"""


def test_restricted_list_window_rejects_the_entries_inside_it_and_none_outside(orcl10: Panel) -> None:
    # Arrange
    rules = rules_of(RESTRICTED_2011)
    window = (pd.Timestamp("2011-01-01", tz="UTC"), pd.Timestamp("2011-12-31", tz="UTC"))
    ups = cross_ups(orcl10, 10, 30)
    inside = ups[(ups >= window[0]) & (ups <= window[1])]
    # Act
    plain = backtest(orcl10, "sma_cross", SMA)
    r = backtest(orcl10, "sma_cross", SMA, rules=rules)
    # Assert: every entry signal inside the window, and only those, rejected by the rule
    assert len(inside) >= 3
    assert list(r.compliance["ts"]) == list(inside)
    assert set(r.compliance["rule"]) == {"no_orcl_buys"} and set(r.compliance["side"]) == {"buy"}
    assert set(r.compliance["reason"]) == {"no_orcl_buys: ORCL is on the restricted list for buys"}
    rejected = r.orders[r.orders["status"] == "rejected"]
    assert set(rejected["reason"]) == {"compliance"} and len(rejected) == len(inside)
    assert set(rejected["message"]) == {"compliance: no_orcl_buys: ORCL is on the restricted list for buys"}
    assert set(r.orders.loc[r.orders["status"] != "rejected", "rule"]) == {""}
    # outside the window the strategy entered as it does without the rule
    buys = r.orders[(r.orders["side"] == "buy") & (r.orders["status"] != "rejected")]["ts_created"]
    plain_buys = plain.orders[plain.orders["side"] == "buy"]["ts_created"]
    outside = ~plain_buys.between(*window)
    assert list(buys) == list(plain_buys[outside])
    assert r.metrics["n_blocked"] == len(inside) and r.metrics["n_rejected"] == len(inside)


def test_rules_of_another_portfolio_do_not_apply(orcl10: Panel) -> None:
    rules = rules_of(RESTRICTED_2011.replace('sides = "buy"', 'sides = "buy"\nportfolios = ["paper"]'))
    assert len(backtest(orcl10, "sma_cross", SMA, rules=rules).compliance) == 0
    assert len(backtest(orcl10, "sma_cross", SMA, rules=rules, portfolio="paper").compliance) > 0


# -- (b) caps: order quantity (dated versions), position share of NAV, gross and sector exposure -------

QUANTITY = """
[[rule]]
id = "qty"
kind = "max_order_quantity"
max_shares = 100
effective_to = 2012-06-30

[[rule]]
id = "qty"
kind = "max_order_quantity"
max_shares = 80
effective_from = 2012-07-01
"""


def test_max_order_quantity_dated_versions_block_the_orders_above_the_cap_of_their_day(orcl10: Panel) -> None:
    # entries of USD 3,000: floor(3000 / close) shares at the signal's close; exits sell the position
    r = backtest(orcl10, "sma_cross", {"fast": 10, "slow": 30, "size": 3000.0, "size_type": "value"},
                 rules=rules_of(QUANTITY))  # fmt: skip
    close = closes(orcl10)["ORCL"]
    orders = strategy_orders(r)
    t = orders["ts_created"]
    shares = np.where(
        orders["side"] == "buy",
        np.trunc(3000.0 / close[t].to_numpy() + 1e-9),
        r.positions["ORCL"][t].abs().to_numpy(),
    )
    cap = np.where(t <= pd.Timestamp("2012-06-30", tz="UTC"), 100.0, 80.0)
    expected = set(orders.loc[shares > cap, "order_id"].astype(int))
    assert len(expected) >= 3 and len(expected) < len(orders)
    assert blocked_ids(r) == expected
    assert (r.compliance["quantity"].to_numpy() > np.where(r.compliance["ts"] <= "2012-06-30", 100, 80)).all()
    assert "above the limit of 80 shares per order" in " ".join(r.compliance["reason"])


def test_max_position_pct_nav_blocks_the_entries_worth_more_than_the_share_of_nav(orcl10: Panel) -> None:
    rules = rules_of('[[rule]]\nid = "pos"\nkind = "max_position_pct_nav"\nmax_fraction = 0.035\n')
    r = backtest(orcl10, "sma_cross", SMA, rules=rules)
    close = closes(orcl10)["ORCL"]
    orders = strategy_orders(r)
    t = orders["ts_created"]
    fraction = 100.0 * close[t].to_numpy() / r.equity[t].to_numpy()
    buys = (orders["side"] == "buy").to_numpy()
    expected = set(orders.loc[buys & (fraction > 0.035), "order_id"].astype(int))  # exits lower it: never blocked
    assert 2 <= len(expected) < buys.sum()
    assert blocked_ids(r) == expected


def _exposure_blocks(
    r: BacktestResult, panel: Panel, *, share: float, limit: float, groups: dict[str, str] | None
) -> set[int]:
    # entries of `share` of equity on a 3-symbol book: the kernel's order of judging is the panel's column
    # order within a bar, and an order passed earlier in the bar is pending (its shares count as held)
    px = closes(panel).to_numpy()
    positions, equity = r.positions.to_numpy(), r.equity.to_numpy()
    symbols = list(panel.symbols)
    orders = strategy_orders(r)
    orders["t"] = panel.ts.get_indexer(pd.DatetimeIndex(orders["ts_created"]))
    orders["j"] = [symbols.index(s) for s in orders["symbol"]]
    out: set[int] = set()
    bar, pending = -1, np.zeros(len(symbols))
    for t, j, side, order_id in sorted(zip(orders["t"], orders["j"], orders["side"], orders["order_id"], strict=True)):
        if t != bar:
            bar, pending = t, np.zeros(len(symbols))
        held = positions[t] + pending
        q = float(np.trunc(share * equity[t] / px[t, j] + 1e-9)) if side == "buy" else -float(held[j])
        same = [
            k for k in range(len(symbols)) if k != j and (groups is None or groups[symbols[k]] == groups[symbols[j]])
        ]
        others = float(sum(abs(held[k] * px[t, k]) for k in same))
        before = (others + abs(held[j] * px[t, j])) / equity[t]
        after = (others + abs((held[j] + q) * px[t, j])) / equity[t]
        if after > before and after > limit:
            out.add(int(order_id))
        else:
            pending[j] += q
    return out


def test_gross_exposure_blocks_the_entry_that_takes_the_book_above_the_cap(three: Panel) -> None:
    rules = rules_of('[[rule]]\nid = "gross"\nkind = "gross_exposure"\nmax_fraction = 0.7\n')
    params = {"fast": 10, "slow": 30, "size": 0.3, "size_type": "percent"}
    r = backtest(three, "sma_cross", params, rules=rules)
    expected = _exposure_blocks(r, three, share=0.3, limit=0.7, groups=None)
    assert len(expected) >= 3
    assert blocked_ids(r) == expected
    assert all("gross exposure would be" in reason for reason in r.compliance["reason"])


def test_sector_concentration_blocks_only_within_the_orders_sector(three: Panel) -> None:
    sectors = {"NVDA": "technology", "YHOO": "technology", "ORCL": "software"}
    rules = rules_of('[[rule]]\nid = "sector"\nkind = "sector_concentration"\nmax_fraction = 0.5\n')
    params = {"fast": 10, "slow": 30, "size": 0.3, "size_type": "percent"}
    r = backtest(three, "sma_cross", params, rules=rules, sectors=sectors)
    expected = _exposure_blocks(r, three, share=0.3, limit=0.5, groups=sectors)
    assert len(expected) >= 2
    assert blocked_ids(r) == expected
    assert set(r.compliance["symbol"]) <= {"NVDA", "YHOO"}  # ORCL alone is 30% of its sector: never above 50%
    assert all("sector technology would be" in reason for reason in r.compliance["reason"])


# -- (c) the price collar on limit orders ------------------------------------------------------------


def low_limit_cross(panel: Panel, *, fast: int = 5, slow: int = 20, size: float = 100.0) -> Signals:
    """sma_cross entering with a limit at the lowest low of the last three bars (on the cent)."""
    low = pd.DataFrame(panel["low"]).rolling(3, min_periods=1).min().to_numpy()
    cross = crossover(sma(panel["close"], fast), sma(panel["close"], slow))
    return Signals(entries=cross > 0.0, exits=cross < 0.0, size=size, limit_price=np.round(low, 2))


def test_price_collar_blocks_limit_orders_too_far_from_the_close_and_warns_near_it(orcl10: Panel) -> None:
    rules = rules_of('[[rule]]\nid = "collar"\nkind = "price_collar"\nmax_deviation = 0.03\nwarn_at = 0.5\n')
    r = backtest(orcl10, low_limit_cross, rules=rules)
    close = closes(orcl10)["ORCL"]
    orders = strategy_orders(r)
    limits = orders["order_type"] == "limit"
    deviation = (orders["limit_price"] / close[orders["ts_created"]].to_numpy() - 1.0).abs()
    above = deviation > 0.03 * (1 + 1e-9)  # "at most", within the rules' relative tolerance
    expected = set(orders.loc[limits & above, "order_id"].astype(int))
    warned = set(orders.loc[limits & (deviation >= 0.015 * (1 - 1e-9)) & ~above, "order_id"].astype(int))
    assert len(expected) >= 5 and len(warned) >= 3
    assert blocked_ids(r) == expected
    assert set(r.compliance_warnings["order_id"]) == warned
    assert (orders.loc[~limits, "reason"] != "compliance").all()  # market exits have no limit to collar
    summary = r.compliance_summary().set_index("rule")
    assert [summary.at["collar", "blocked"], summary.at["collar", "warned"]] == [len(expected), len(warned)]


# -- (d) the daily loss limit -------------------------------------------------------------------------


def test_daily_loss_limit_blocks_the_orders_of_the_days_the_book_is_down_by_the_limit(
    real_store: EmbeddedStore,
) -> None:
    # buy 5 shares at every close: the book holds more and more ORCL, and loses on its down days
    panel = real_store.read_panel(["ORCL"], "2012-01-01", "2014-01-01")
    rules = rules_of('[[rule]]\nid = "loss"\nkind = "daily_loss_limit"\nmax_loss_fraction = 0.01\nwarn_at = 0.5\n')
    r = simulate(panel, Orders(size=np.full(panel.shape, 5.0)), rules=rules)
    loss = 1.0 - r.equity / r.equity.shift(1)  # the close's equity against the previous session's
    orders = strategy_orders(r).set_index("ts_created")
    expected = set(orders.loc[loss[orders.index] >= 0.01, "order_id"].astype(int))
    warned = set(orders.loc[(loss[orders.index] >= 0.005) & (loss[orders.index] < 0.01), "order_id"].astype(int))
    assert len(expected) >= 3 and len(warned) >= 5
    assert blocked_ids(r) == expected
    assert set(r.compliance_warnings["order_id"]) == warned
    assert all("only orders that reduce a position may be sent" in reason for reason in r.compliance["reason"])


# -- (e) no rules: the engine as it was ------------------------------------------------------------------

LENIENT = """
[[rule]]
id = "qty"
kind = "max_order_quantity"
max_shares = 1000000

[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.5
"""


def test_no_rules_and_rules_that_never_trip_give_the_plain_backtest_to_the_bit(orcl: Panel) -> None:
    plain = backtest(orcl, "sma_cross", SMA)
    ruled = backtest(orcl, "sma_cross", SMA, rules=rules_of(LENIENT))
    assert plain.final_value == pytest.approx(102646.0652, abs=1e-6)  # backtrader's (test_parity.py)
    assert np.array_equal(plain.equity.to_numpy(), ruled.equity.to_numpy())
    pd.testing.assert_frame_equal(plain.fills, ruled.fills, check_exact=True)
    assert "rule" not in plain.orders and plain.rules_hash is None and len(plain.compliance) == 0
    assert set(ruled.orders["rule"]) == {""} and len(ruled.compliance) == 0
    assert {k: v for k, v in ruled.metrics.items() if k in plain.metrics} == plain.metrics
    assert ruled.metrics["n_blocked"] == 0 and "n_blocked" not in plain.metrics
    assert "0 orders blocked by compliance" in str(ruled) and "compliance" not in str(plain)


def test_sweep_with_rules_equals_each_recorded_backtest_and_plain_sweep_is_unchanged(orcl10: Panel) -> None:
    grid: dict[str, list[Any]] = {"fast": [5, 10], "slow": [20, 30], "size": [100.0]}
    rules = rules_of(QUANTITY.replace("max_shares = 100", "max_shares = 150").replace("= 80", "= 90")
                     + '[[rule]]\nid = "pos"\nkind = "max_position_pct_nav"\nmax_fraction = 0.035\n')  # fmt: skip
    plain = sweep(orcl10, "sma_cross", grid)
    ruled = sweep(orcl10, "sma_cross", grid, rules=rules)
    assert "n_blocked" not in plain.frame and ruled.frame["n_blocked"].sum() > 0
    for row in ruled.frame.itertuples():
        one = backtest(orcl10, "sma_cross", {"fast": row.fast, "slow": row.slow, "size": 100.0}, rules=rules)
        names = list(K.METRICS) + list(K.RULE_METRICS)
        np.testing.assert_array_equal([getattr(row, m) for m in names], [one.metrics[m] for m in names])
    lenient = sweep(orcl10, "sma_cross", grid, rules=rules_of(LENIENT))
    pd.testing.assert_frame_equal(lenient.frame[plain.frame.columns], plain.frame, check_exact=True)
    assert any("orders blocked" in note for note in ruled.notes())


# -- (f) the kernel against a Python reference: the rule engine on the rebuilt books ---------------------

MANY = """
[[rule]]
id = "restricted"
kind = "restricted_list"
symbols = ["ORCL"]
effective_from = 2012-09-01
effective_to = 2012-10-31

[[rule]]
id = "qty"
kind = "max_order_quantity"
max_shares = 110
warn_at = 0.9

[[rule]]
id = "notional"
kind = "max_order_notional"
max_notional_usd = 2950
warn_at = 0.98
effective_from = 2013-01-01

[[rule]]
id = "position"
kind = "max_position_pct_nav"
max_fraction = 0.0299
warn_at = 0.95

[[rule]]
id = "gross"
kind = "gross_exposure"
max_fraction = 0.029
severity = "warn"

[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.025
warn_at = 0.6

[[rule]]
id = "loss"
kind = "daily_loss_limit"
max_loss_fraction = 0.0002
"""


def value_limit_cross(panel: Panel, *, fast: int = 5, slow: int = 20) -> Signals:
    """USD 3,000 entries at a limit at the lowest low of the last two bars."""
    low = pd.DataFrame(panel["low"]).rolling(2, min_periods=1).min().to_numpy()
    cross = crossover(sma(panel["close"], fast), sma(panel["close"], slow))
    return Signals(entries=cross > 0.0, exits=cross < 0.0, size=3000.0, size_type="value",
                   limit_price=np.round(low, 2))  # fmt: skip


def accumulate(panel: Panel) -> Orders:
    """Buy 5 shares at every close: a book that grows, and loses on its down days."""
    return Orders(size=np.full(panel.shape, 5.0))


@pytest.mark.parametrize(
    ("strategy", "fired"),
    [
        (value_limit_cross, {"restricted", "qty", "notional", "position", "gross", "collar"}),
        (accumulate, {"restricted", "position", "gross", "loss"}),
    ],
    ids=["value-limit-signals", "accumulating-orders"],
)
def test_kernel_decisions_equal_the_rule_engines_on_every_order(
    real_store: EmbeddedStore, strategy: object, fired: set[str]
) -> None:
    # the rule engine judges each order on the book rebuilt from the result (fills at the next open:
    # the book at the order's close is the result's positions, cash and equity there)
    panel = real_store.read_panel(["ORCL"], "2011-06-01", "2014-06-01")
    rules = rules_of(MANY)
    r = backtest(panel, strategy, rules=rules)  # type: ignore[arg-type]
    engine = ComplianceEngine(rules)
    close = closes(panel)["ORCL"]
    want_blocks: dict[int, str] = {}
    want_warns: dict[int, str] = {}
    row: Any
    for row in strategy_orders(r).itertuples():
        t = row.ts_created
        i = int(panel.ts.get_loc(t))  # type: ignore[arg-type]
        position = float(r.positions["ORCL"].to_numpy()[i])
        if strategy is accumulate:
            q = 5.0
        else:
            q = np.trunc(3000.0 / close[t] + 1e-9) if row.side == "buy" else abs(position)
        limit = None if np.isnan(row.limit_price) else Decimal(repr(float(row.limit_price)))
        order = ProposedOrder(
            portfolio="backtest", symbol="ORCL", side=Side(row.side), quantity=Decimal(repr(float(q))),
            order_type=row.order_type, limit_price=limit,
        )  # fmt: skip
        book = BookState(
            portfolio="backtest", ts=t, positions={"ORCL": position} if position else {}, cash=float(r.cash[t]),
            equity=float(r.equity[t]), prices={"ORCL": float(close[t])},
            start_of_day_equity=float(r.equity.iloc[i - 1]) if i > 0 else None, long_only=True,
        )  # fmt: skip
        decision = engine.evaluate(order, book)
        if decision.blocks:
            want_blocks[row.order_id] = "; ".join(x.rule for x in decision.blocks)
            assert decision.reason() == r.compliance.set_index("order_id").at[row.order_id, "reason"]
        elif decision.warnings:
            want_warns[row.order_id] = "; ".join(x.rule for x in decision.warnings)
    assert dict(zip(r.compliance["order_id"], r.compliance["rule"], strict=True)) == want_blocks
    assert dict(zip(r.compliance_warnings["order_id"], r.compliance_warnings["rule"], strict=True)) == want_warns
    assert {rule for ids in [*want_blocks.values(), *want_warns.values()] for rule in ids.split("; ")} >= fired


def test_compiled_kinds_are_the_kernels_codes_and_the_others_are_listed_as_not_applied(orcl10: Panel) -> None:
    codes = (K.RK_RESTRICTED, K.RK_QUANTITY, K.RK_NOTIONAL, K.RK_POSITION, K.RK_SECTOR, K.RK_ISSUER, K.RK_GROSS,
             K.RK_SHORT_SALE, K.RK_COLLAR, K.RK_DAILY_LOSS)  # fmt: skip
    assert [COMPILED_KINDS.index(k) for k in COMPILED_KINDS] == list(codes)
    rules = rules_of(
        '[[rule]]\nid = "dup"\nkind = "duplicate_order"\n[[rule]]\nid = "rate"\nkind = "order_rate"\nmax_orders = 5\n'
        '[[pack]]\nname = "finra_day_trading"\n' + RESTRICTED_2011
    )
    compiled = compile_rules(rules, portfolio="backtest", symbols=orcl10.symbols, ts=orcl10.ts)
    assert [r.id for r in compiled.rules] == ["no_orcl_buys"]
    assert [r.id for r, _ in compiled.skipped] == ["dup", "rate", "pattern_day_trader"]  # intraday_margin: after 2014
    r = backtest(orcl10, "sma_cross", SMA, rules=rules)
    assert len(r.rules_skipped) == 3 and "order flow" in r.rules_skipped[0]
    assert "not applied" in str(r) and "blocked by compliance" in r._repr_html_()
    assert r.to_dict()["compliance"]["blocked_orders"] == len(r.compliance) > 0
    # only rules a backtest cannot apply: nothing blocked, and it says which were not applied
    only = rules_of('[[rule]]\nid = "dup"\nkind = "duplicate_order"\n')
    plain = backtest(orcl10, "sma_cross", SMA)
    r = backtest(orcl10, "sma_cross", SMA, rules=only)
    assert r.metrics["n_blocked"] == 0 and r.rules_skipped and r.final_value == plain.final_value
    swept = sweep(orcl10, "sma_cross", {"fast": [5], "slow": [20]}, rules=only)
    assert swept.frame["n_blocked"].tolist() == [0] and any("dup" in note for note in swept.notes())


# -- (g) bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"rules": "compliance.toml"}, "rules must be a bifrost.compliance.RuleSet"),
        ({"rules": {"qty": 1}}, "rules must be a bifrost.compliance.RuleSet"),
        ({"rules": rules_of(LENIENT), "portfolio": ""}, "portfolio must be a non-empty name"),
        ({"rules": rules_of(LENIENT), "sectors": [("ORCL", "software")]}, "sectors must map symbols"),
        ({"rules": rules_of(LENIENT), "issuers": {"ORCL": 1}}, "issuers must map symbols"),
    ],
)
def test_backtest_refuses_rules_of_another_type(orcl10: Panel, kw: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        backtest(orcl10, "sma_cross", SMA, **kw)  # type: ignore[arg-type]


def test_sweep_and_simulate_refuse_rules_of_another_type(orcl10: Panel) -> None:
    with pytest.raises(InvalidInputError, match="RuleSet"):
        sweep(orcl10, "sma_cross", {"fast": [5], "slow": [20]}, rules=[LENIENT])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="RuleSet"):
        simulate(orcl10, Signals(entries=np.zeros(orcl10.shape, bool)), rules=42)  # type: ignore[arg-type]


def test_walk_forward_and_optimize_obey_the_rules(orcl10: Panel) -> None:
    # every buy of ORCL restricted: no fold may trade, and every search counts the blocked entries
    rules = rules_of('[[rule]]\nid = "never"\nkind = "restricted_list"\nsymbols = ["ORCL"]\nsides = "buy"\n')
    space: dict[str, list[Any]] = {"fast": [5, 10], "slow": [20, 30]}
    result = walk_forward(orcl10, "sma_cross", space, train_bars=500, test_bars=250, rules=rules)
    assert (result.equity == 100_000.0).all() and len(result.folds) >= 2
    found = optimize(orcl10, "sma_cross", space, method="random", n_iter=2, rules=rules)
    assert (found.frame["n_blocked"] > 0).all() and (found.frame["n_fills"] == 0).all()


def test_sweep_with_rules_on_ray_equals_the_local_sweep(three: Panel, local_ray: None) -> None:
    rules = rules_of(QUANTITY + '[[rule]]\nid = "gross"\nkind = "gross_exposure"\nmax_fraction = 0.03\n')
    grid: dict[str, list[Any]] = {"fast": [5, 10], "slow": [20, 30], "size": [100.0]}
    local = sweep(three, "sma_cross", grid, rules=rules)
    remote = sweep(three, "sma_cross", grid, rules=rules, backend="ray", chunk_symbols=1)
    assert local.frame["n_blocked"].sum() > 0
    pd.testing.assert_frame_equal(local.frame, remote.frame, check_exact=True)


@pytest.mark.parametrize(("cover", "blocked"), [(1000.0, False), (1001.0, True)])
def test_daily_loss_limit_passes_a_buy_covering_a_short_to_exactly_flat(
    real_store: EmbeddedStore, cover: float, blocked: bool
) -> None:
    # short 1,000 ORCL, then buy on the first later close where the short lost over 0.1% of the book: covering
    # to exactly flat only reduces (as the order manager's reduces() says), one share more opens a long
    from bifrost.strategy import FillModel

    panel = real_store.read_panel(["ORCL"], "2013-01-01", "2013-06-01")
    close = closes(panel)["ORCL"].to_numpy()
    size = np.full(panel.shape, np.nan)
    size[0, 0] = -1000.0
    rules = rules_of('[[rule]]\nid = "loss"\nkind = "daily_loss_limit"\nmax_loss_fraction = 0.001\n')
    probe = simulate(panel, Orders(size=size), rules=rules, fill=FillModel(allow_short=True))
    loss = (1.0 - probe.equity / probe.equity.shift(1)).to_numpy()
    day = next(i for i in range(2, len(close)) if loss[i] >= 0.001)  # the short is held and lost that day
    size[day, 0] = cover
    r = simulate(panel, Orders(size=size), rules=rules, fill=FillModel(allow_short=True))
    orders = strategy_orders(r)
    cover_order = orders[orders["ts_created"] == panel.ts[day]]
    assert len(cover_order) == 1
    assert (cover_order["reason"].iloc[0] == "compliance") is blocked
    assert len(r.compliance) == int(blocked)


def _flat_panel(price: float, n: int) -> Panel:
    from types import MappingProxyType

    fields = {name: np.full((n, 1), price, order="F") for name in ("open", "high", "low", "close")}
    fields["volume"] = np.full((n, 1), 1e6, order="F")
    ts = pd.date_range("2014-12-01", periods=n, freq="B", tz="UTC", name="ts")
    return Panel(ts=ts, symbols=("TST",), fields=MappingProxyType(fields))


def test_price_collar_exactly_at_the_limit_passes_on_both_sides_as_the_rule_engine_says() -> None:
    # QA F5: abs(55 / 50 - 1) is 0.10000000000000009 in float; 55.00 and 45.00 are both exactly 10% from 50.00
    panel = _flat_panel(50.0, 8)
    size = np.full(panel.shape, np.nan)
    limit = np.full(panel.shape, np.nan)
    for t, (q, px) in enumerate([(10.0, 55.00), (-10.0, 45.00), (10.0, 55.01), (10.0, 52.50), (10.0, 52.49)], 1):
        size[t, 0], limit[t, 0] = q, px
    rules = rules_of('[[rule]]\nid = "c"\nkind = "price_collar"\nmax_deviation = 0.10\nwarn_at = 0.5\n')
    r = simulate(panel, Orders(size=size, limit_price=limit), rules=rules)
    orders = strategy_orders(r).set_index("limit_price")
    assert list(orders.index) == [55.00, 45.00, 55.01, 52.50, 52.49]
    assert [orders.at[p, "reason"] == "compliance" for p in orders.index] == [False, False, True, False, False]
    warned = set(r.compliance_warnings["order_id"])
    assert {orders.at[p, "order_id"] for p in (55.00, 45.00, 52.50)} == warned  # from 5% on, inclusive
    engine = ComplianceEngine(rules)
    for px, verdict in [(55.00, "warn"), (45.00, "warn"), (55.01, "block"), (52.50, "warn"), (52.49, "pass")]:
        order = ProposedOrder(
            portfolio="backtest", symbol="TST", side=Side.BUY, quantity=Decimal(10),
            order_type="limit", limit_price=Decimal(f"{px:.2f}"),
        )  # fmt: skip
        book = BookState(portfolio="backtest", ts=panel.ts[1], positions={}, cash=1e5, equity=1e5,
                         prices={"TST": 50.0})  # fmt: skip
        assert engine.evaluate(order, book).verdict == verdict, px
