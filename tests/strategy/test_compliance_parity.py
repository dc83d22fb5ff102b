"""Compliance parity: a compliance-aware backtest rejects the orders the order manager rejects, for the same rules.

The acceptance test of issue 15's compliance-aware backtests. ORCL 2013-2014 (split-adjusted
and raw are the same there: its last split is of 2000), an SMA(5)/SMA(20) crossover that
enters with a limit order at the low of the last three bars (on the cent), under three rules
that each block orders on that series:

- ``restricted``: ORCL restricted for buys from 2013-04-01 to 2013-06-30;
- ``max_qty``: dated versions: 1,000 shares per order until 2013-12-31, 50 shares in 2014-Q1,
  then no version (unbounded);
- ``collar``: a limit price more than 3% from the last close.

The same strategy runs through `backtest(rules=R)` and through `paper_trade` with the order
manager's checks ``[RiskLimitCheck(store), TradingStateCheck(), ComplianceCheck(store, R)]``
and the paper broker: the rejected orders are the same (bar, symbol, side, quantity) with the
same blocking rule ids and the same message, and the fills are the same to the bit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from bifrost.compliance._rules import RuleSet, parse_rules
from bifrost.data import CsvSource, EmbeddedStore, Panel, ingest
from bifrost.execution._checks import PreTradeCheck, RiskLimitCheck, TradingStateCheck
from bifrost.execution._compliance import ComplianceCheck
from bifrost.execution._manager import list_orders
from bifrost.execution._schema import EXECUTION_SCHEMA
from bifrost.strategy import Signals, backtest
from bifrost.strategy._paper import paper_trade
from bifrost.strategy.indicators import crossover, sma
from tests.conftest import ORCL

START = "2013-01-01"
RULES_TOML = """
[[rule]]
id = "restricted"
kind = "restricted_list"
symbols = ["ORCL"]
sides = "buy"
effective_from = 2013-04-01
effective_to = 2013-06-30

[[rule]]
id = "max_qty"
kind = "max_order_quantity"
max_shares = 1000
effective_to = 2013-12-31

[[rule]]
id = "max_qty"
kind = "max_order_quantity"
max_shares = 50
effective_from = 2014-01-01
effective_to = 2014-03-31

[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.03
"""
FILL_COLUMNS = ["ts", "side", "quantity", "price", "commission"]


def low_cross(panel: Panel, *, fast: int = 5, slow: int = 20, size: float = 100.0) -> Signals:
    """sma_cross entering with a limit at the lowest low of the last three bars (on the cent)."""
    close = panel["close"]
    low = pd.DataFrame(panel["low"]).rolling(3, min_periods=1).min().to_numpy()
    cross = crossover(sma(close, fast), sma(close, slow))
    return Signals(entries=cross > 0.0, exits=cross < 0.0, size=size, limit_price=np.round(low, 2))


@pytest.fixture(scope="module")
def orcl_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path_factory.mktemp("compliance-parity") / "home")
    ingest(store, CsvSource(ORCL, symbol="ORCL"), start=START)
    yield store
    store.close()


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return parse_rules(RULES_TOML, source="parity.toml")


def _paper_rejections(store: EmbeddedStore, portfolio: str) -> pd.DataFrame:
    # the order manager's rejected orders, with the blocking rule ids from its recorded decisions
    orders = list_orders(store, portfolio=portfolio)
    with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        rows = db.rows(
            "SELECT client_order_id, inputs FROM {t}pretrade_decisions WHERE check_name = ? AND verdict = ?",
            ("compliance", "block"),
        )
    blocking = {
        coid: "; ".join(r["rule"] for r in json.loads(inputs)["rules"] if r["verdict"] == "block")
        for coid, inputs in rows
    }
    rejected = orders[orders["status"] == "rejected"].copy()
    rejected["rule"] = rejected["client_order_id"].map(blocking)
    return rejected.reset_index(drop=True)


def test_compliance_backtest_and_order_manager_reject_the_same_orders_for_the_same_rules(
    orcl_store: EmbeddedStore, rules: RuleSet
) -> None:
    # Arrange
    portfolio = f"parity-{uuid.uuid4().hex[:8]}"
    panel = orcl_store.read_panel(["ORCL"], START, adjustment="split_adjusted")
    checks: list[PreTradeCheck] = [RiskLimitCheck(orcl_store), TradingStateCheck(), ComplianceCheck(orcl_store, rules)]
    # Act
    expected = backtest(panel, low_cross, rules=rules, portfolio=portfolio)
    run = paper_trade(orcl_store, low_cross, "ORCL", start=START, portfolio=portfolio, checks=checks)
    # Assert: every rule blocks orders on this series, in both
    blocked = expected.compliance
    by_rule = {rule: int(blocked["rule"].str.contains(rule).sum()) for rule in ("restricted", "max_qty", "collar")}
    assert all(n >= 2 for n in by_rule.values()), by_rule
    assert len(blocked) >= 10
    paper = _paper_rejections(orcl_store, portfolio)
    ours = blocked.assign(ts=blocked["ts"].dt.tz_convert("UTC"))
    left = ours[["ts", "symbol", "side", "quantity", "rule"]].reset_index(drop=True)
    right = paper.rename(columns={"ts_created": "ts"})[["ts", "symbol", "side", "quantity", "rule"]]
    pd.testing.assert_frame_equal(left, right, check_dtype=False)
    # the order manager's words: its Rejected message is the backtest order's message
    rejected = expected.orders[expected.orders["reason"] == "compliance"].reset_index(drop=True)
    assert rejected["message"].tolist() == paper["reasons"].tolist()
    # and what was not blocked traded the same: the same fills to the bit
    pd.testing.assert_frame_equal(
        run.fills[FILL_COLUMNS].reset_index(drop=True), expected.fills[FILL_COLUMNS].reset_index(drop=True),
        check_exact=True,
    )  # fmt: skip
    assert run.final_value == expected.final_value


def test_compliance_backtest_without_the_rules_trades_what_they_blocked(
    orcl_store: EmbeddedStore, rules: RuleSet
) -> None:
    # what compliance costs the strategy: the plain run fills orders the rules rejected
    panel = orcl_store.read_panel(["ORCL"], START, adjustment="split_adjusted")
    plain = backtest(panel, low_cross)
    ruled = backtest(panel, low_cross, rules=rules)
    assert (plain.orders["status"] == "rejected").sum() == 0
    assert (ruled.orders["reason"] == "compliance").sum() == len(ruled.compliance) > 0
    assert len(ruled.fills) < len(plain.fills)
    assert ruled.metrics["n_blocked"] == len(ruled.compliance)
