"""The compliance rules in the order manager (ComplianceCheck) on ORCL's real bars with the real paper broker.

ORCL closes (backtrader's orcl-1995-2014.txt): 2010-01-04 24.85, 2010-01-05 24.82 (open 24.719999),
2010-01-06 24.459999; the file's last bar is 2014-12-31 (close 44.970001).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bifrost.compliance import replay_decisions, verify_audit
from bifrost.compliance._rules import default_rules
from bifrost.compliance._schema import COMPLIANCE_SCHEMA
from bifrost.data import AUDIT_SCHEMA, BarStore, CsvSource, Store, ingest
from bifrost.errors import InvalidInputError, NotFoundError, RulesFileError
from bifrost.execution._checks import TradingState, TradingStateCheck, trading_state
from bifrost.execution._compliance import ComplianceCheck, _count_day_trades, dry_run
from bifrost.execution._manager import OrderManager
from bifrost.execution._order import OrderRequest, OrderStatus, OrderType, RejectReason, Side, TimeInForce
from bifrost.execution._paper import PaperBroker
from bifrost.execution._schema import EXECUTION_SCHEMA
from bifrost.portfolio import CashFlow, CashKind, Fill, create_portfolio, load_portfolio, record_transactions
from tests.conftest import ORCL, embedded_and_postgres
from tests.execution._crash_child import Clock, day, seed

MONDAY = day(0, 0)  # 2010-01-04 21:00 UTC, after the close (24.85)


@pytest.fixture
def seeded(store: BarStore) -> BarStore:
    seed(store, 1)  # ORCL, and P0 with a deposit of 1,000,000
    return store


def order(quantity: int = 10, *, side: Side = Side.BUY, **kw: Any) -> OrderRequest:
    return OrderRequest(portfolio=kw.pop("portfolio", "P0"), symbol="ORCL", side=side, quantity=Decimal(quantity), **kw)


def limit(price: str, quantity: int = 10, **kw: Any) -> OrderRequest:
    return order(quantity, order_type=OrderType.LIMIT, limit_price=Decimal(price), time_in_force=TimeInForce.GTC, **kw)


def manager_at(store: Store, clock: Clock, **kw: Any) -> OrderManager:
    return OrderManager(store, PaperBroker(store, clock=clock), clock=clock, **kw)


def decisions(store: Store, check: str = "compliance") -> list[tuple[str, str, str, dict[str, Any]]]:
    with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        rows = db.rows(
            "SELECT client_order_id, verdict, reason, inputs FROM {t}pretrade_decisions WHERE check_name = ? "
            "ORDER BY id",
            (check,),
        )
    return [(str(c), str(v), str(r), json.loads(i)) for c, v, r, i in rows]


def audit_rows(store: Store, kind: str | None = None) -> list[dict[str, Any]]:
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        rows = db.rows("SELECT kind, subject, payload FROM {t}audit_log ORDER BY seq")
    return [{"kind": k, "subject": s, "payload": json.loads(p)} for k, s, p in rows if kind in (None, k)]


def write_rules(path: Path, text: str) -> Path:
    # a rules file edited in place: the check sees the change by its modification time and size
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))
    return path


COLLAR_WARN = """\
[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.10
warn_at = 0.5
"""

DAILY_LOSS = """\
[[rule]]
id = "kill_switch"
kind = "daily_loss_limit"
max_loss_fraction = 0.01
"""


# -- the collar: block, warn, and what is recorded -------------------------------------------------
@embedded_and_postgres
def test_compliance_limit_20pct_above_last_close_is_rejected_with_the_collar_reason(seeded: BarStore) -> None:
    # Arrange: the default rules; 29.82 is 20% above Monday's close 24.85 (the collar allows 10%)
    clock = Clock(MONDAY)
    broker = PaperBroker(seeded, clock=clock)
    manager = OrderManager(seeded, broker, clock=clock)
    # Act
    rejected = manager.submit(limit("29.82", client_order_id="fat1"))
    # Assert: rejected for compliance, the rule and its reason visible; the broker never saw it
    assert rejected.status is OrderStatus.REJECTED and rejected.reject_reason is RejectReason.COMPLIANCE
    collar = "price_collar: limit 29.82 is 20.0% from the last price 24.85 (at most 10.0%)"
    assert rejected.reasons == (f"compliance: {collar}",)
    assert broker.get_order("fat1") is None
    # the decision and its inputs are stored: the rules' hash, the time, every rule in force with its version
    ((coid, verdict, reason, inputs),) = decisions(seeded)
    assert (coid, verdict) == ("fat1", "block")
    assert reason == collar
    rules = default_rules()
    assert inputs["rules_hash"] == rules.hash and inputs["portfolio"] == "P0"
    assert pd.Timestamp(inputs["ts"]) == MONDAY
    in_force = [r for r in rules.effective("P0", MONDAY.date()) if r.kind != "wash_sale"]
    assert [(r["rule"], r["version"]) for r in inputs["rules"]] == [(r.id, r.version) for r in in_force]
    recorded = inputs["rules"][0]
    assert recorded["verdict"] == "block" and recorded["kind"] == "price_collar"
    assert recorded["inputs"]["limit_price"] == 29.82 and recorded["inputs"]["last_price"] == 24.85
    assert recorded["inputs"]["deviation"] == pytest.approx(29.82 / 24.85 - 1, rel=1e-12)
    # the rules text was stored and audited once, before the decision; the chain is intact
    kinds = [r["kind"] for r in audit_rows(seeded)]
    assert kinds.count("compliance.rules") == 1 and kinds.index("compliance.rules") < kinds.index("pretrade.decision")
    with seeded.transaction(schema=COMPLIANCE_SCHEMA, read_only=True) as db:
        assert db.rows("SELECT hash, source FROM {t}compliance_rulesets") == [(rules.hash, "default")]
    assert verify_audit(seeded).ok


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_compliance_warning_passes_the_order_and_records_the_warning(seeded: BarStore, tmp_path: Path) -> None:
    # Arrange: a collar that warns from half its 10%; 23.00 is 7.4% under the close 24.85
    rules = write_rules(tmp_path / "compliance.toml", COLLAR_WARN)
    clock = Clock(MONDAY)
    manager = manager_at(seeded, clock, checks=[TradingStateCheck(), ComplianceCheck(seeded, rules)])
    # Act
    working = manager.submit(limit("23.00", client_order_id="w1"))
    # Assert: sent and working; the warning is recorded with the decision
    assert working.status is OrderStatus.ACCEPTED and working.reasons == ()
    ((_, verdict, reason, inputs),) = decisions(seeded)
    assert verdict == "warn"
    assert (
        reason == "collar: limit 23.00 is 7.4% from the last price 24.85, past the warning level 5.0% (at most 10.0%)"
    )
    assert [r["verdict"] for r in inputs["rules"]] == ["warn"]


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_compliance_resend_within_5s_warns_duplicate_order_and_later_passes(seeded: BarStore) -> None:
    clock = Clock(MONDAY)
    manager = manager_at(seeded, clock)
    manager.submit(order(10, client_order_id="d1"))
    # Act: the same order 2 s later, then 10 s after that
    clock.now += pd.Timedelta(seconds=2)
    again = manager.submit(order(10, client_order_id="d2"))
    clock.now += pd.Timedelta(seconds=10)
    later = manager.submit(order(10, client_order_id="d3"))
    # Assert: the default duplicate filter warns only: both are sent
    assert again.status is OrderStatus.ACCEPTED and later.status is OrderStatus.ACCEPTED
    found = {c: (v, r) for c, v, r, _ in decisions(seeded)}
    assert found["d1"] == ("pass", "")
    assert found["d2"] == ("warn", "duplicate_order: same order (buy 10 ORCL) sent 2.0 s ago as d1 (within 5 s)")
    assert found["d3"] == ("pass", "")


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_compliance_duplicate_in_one_batch_warns_before_either_is_stored(seeded: BarStore) -> None:
    manager = manager_at(seeded, Clock(MONDAY))
    # Act: one batch; its intents are stored after every order of it was checked
    first, second = manager.submit_many([order(7, client_order_id="b1"), order(7, client_order_id="b2")])
    # Assert
    assert first.status is second.status is OrderStatus.ACCEPTED
    found = {c: (v, r) for c, v, r, _ in decisions(seeded)}
    assert found["b1"] == ("pass", "")
    assert found["b2"] == ("warn", "duplicate_order: same order (buy 7 ORCL) sent 0.0 s ago as b1 (within 5 s)")


# -- the kill switch ---------------------------------------------------------------------------------
@embedded_and_postgres
def test_compliance_daily_loss_limit_blocks_and_halts_the_book_once(seeded: BarStore, tmp_path: Path) -> None:
    # Arrange: 35,000 ORCL bought Monday after the close, filled at Tuesday's open 24.719999 (cash 134,800.035);
    # Wednesday ORCL closes 24.459999 from Tuesday's 24.82: equity 990,900.00 from 1,003,500.035, down 1.26%
    rules = write_rules(tmp_path / "compliance.toml", DAILY_LOSS)
    clock = Clock(MONDAY)
    broker = PaperBroker(seeded, clock=clock)
    manager = OrderManager(seeded, broker, clock=clock, checks=[TradingStateCheck(), ComplianceCheck(seeded, rules)])
    assert manager.submit(order(35_000, client_order_id="big")).status is OrderStatus.ACCEPTED
    clock.now = day(0, 1)
    broker.advance(clock.now)
    manager.process_events()
    clock.now = day(0, 2)  # Wednesday after the close
    # Act: a buy (blocked: it does not reduce), then a reducing sell (the book is halted by then)
    buy = manager.submit(order(10, client_order_id="more"))
    sell = manager.submit(order(100, side=Side.SELL, client_order_id="less"))
    # Assert: the buy is rejected by the rule, the book halted with the rule and the loss as the reason
    assert buy.status is OrderStatus.REJECTED and buy.reject_reason is RejectReason.COMPLIANCE
    assert buy.reasons[0].startswith(
        "compliance: kill_switch: the book is down 1.3% today (equity 990,900.00 from 1,003,500.04): the loss limit"
    )
    assert trading_state(seeded, "P0") is TradingState.HALTED
    with seeded.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
        history = db.rows("SELECT state, previous, reason FROM {t}book_state_history ORDER BY id")
    assert len(history) == 1 and history[0][:2] == ("halted", "active")
    assert history[0][2].startswith(
        "compliance rule 'kill_switch' (daily loss limit): equity 990,900.00 is -1.26% from the start of day's "
        "1,003,500.04; the book is down 1.3% today"
    )
    # the sell only reduces: the rule lets it through, the halted book does not (and is not halted again)
    assert sell.status is OrderStatus.REJECTED and sell.reject_reason is RejectReason.TRADING_HALTED
    (_, _, _, sold) = decisions(seeded)[-1]
    assert sold["rules"][0]["verdict"] == "pass" and sold["rules"][0]["inputs"]["reduces"] is True
    # the start of day: the deposit less the fill (ledger before Wednesday) at Tuesday's close
    (_, _, _, bought) = decisions(seeded)[-2]
    assert bought["rules"][0]["inputs"]["start_of_day_equity"] == pytest.approx(
        1_000_000 - 35_000 * 24.719999 + 35_000 * 24.82, abs=1e-6
    )
    assert bought["rules"][0]["inputs"]["equity"] == pytest.approx(1_000_000 - 35_000 * 24.719999 + 35_000 * 24.459999)


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_compliance_daily_loss_without_halting_blocks_but_leaves_the_book_active(
    seeded: BarStore, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path / "compliance.toml", DAILY_LOSS)
    clock = Clock(MONDAY)
    broker = PaperBroker(seeded, clock=clock)
    check = ComplianceCheck(seeded, rules, halt_on_daily_loss=False)
    manager = OrderManager(seeded, broker, clock=clock, checks=[TradingStateCheck(), check])
    manager.submit(order(35_000))
    clock.now = day(0, 1)
    broker.advance(clock.now)
    manager.process_events()
    clock.now = day(0, 2)
    assert manager.submit(order(10)).reject_reason is RejectReason.COMPLIANCE
    assert trading_state(seeded, "P0") is TradingState.ACTIVE


# -- day trades, long-only books ---------------------------------------------------------------------
@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_compliance_fourth_day_trade_below_25k_is_blocked_by_the_pattern_day_trader_rule(store: BarStore) -> None:
    # Arrange: a 20,000 book trading after ORCL's last bar (orders fill at once at the last close, 44.970001),
    # on 2015-01-05, when the default rules' pattern-day-trader minimum (until 2026-05-31) is in force
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    deposit = CashFlow(txn_id="dep", ts=pd.Timestamp("2014-12-01", tz="UTC"), kind=CashKind.DEPOSIT,
                       amount=Decimal(20_000))  # fmt: skip
    record_transactions(store, "S", [deposit], create=True)
    clock = Clock(pd.Timestamp("2015-01-05 15:00", tz="UTC"))
    manager = manager_at(store, clock)
    statuses = []
    # Act: buy then sell 10 ORCL, four times in the session
    for i in range(4):
        for side in (Side.BUY, Side.SELL):
            clock.now += pd.Timedelta(minutes=1)
            statuses.append(manager.submit(order(10, side=side, portfolio="S", client_order_id=f"{side}{i}")).status)
    # Assert: three round trips fill (the third warns); the fourth sale would be the 4th day trade in 5 sessions
    assert statuses == [OrderStatus.FILLED] * 7 + [OrderStatus.REJECTED]
    found = {c: (v, r) for c, v, r, _ in decisions(store)}
    assert found["sell2"] == (
        "warn",
        "pattern_day_trader: day trade 3 in 5 sessions, the last allowed with equity 20,000.00 under 25,000.00 USD",
    )
    assert found["sell3"] == (
        "block",
        "pattern_day_trader: day trade 4 in 5 sessions (at most 3 with equity 20,000.00 under 25,000.00 USD): "
        "a pattern day trader",
    )
    assert found["buy3"][0] == "pass"  # opening is no day trade


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_compliance_short_sale_in_a_long_only_portfolio_is_blocked(seeded: BarStore, tmp_path: Path) -> None:
    # Arrange: the short-sale rule; a long-only portfolio and P0 (not long-only), both flat
    rules = write_rules(tmp_path / "compliance.toml", '[[rule]]\nid = "no_shorts"\nkind = "short_sale"\n')
    create_portfolio(seeded, "LONG", inception="2009-01-01", long_only=True)
    sell = order(10, side=Side.SELL, portfolio="LONG")
    # Act
    decided = dry_run(seeded, sell, rules=rules, now=MONDAY)
    other = dry_run(seeded, order(10, side=Side.SELL), rules=rules, now=MONDAY)
    # Assert
    assert decided.verdict == "block" and decided.blocks[0].rule == "no_shorts"
    assert decided.blocks[0].inputs["long_only"] is True
    assert other.verdict == "pass"


# -- the rules file --------------------------------------------------------------------------------
@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_compliance_broken_rules_file_at_construction_raises_naming_line_and_key(
    seeded: BarStore, tmp_path: Path
) -> None:
    path = write_rules(tmp_path / "compliance.toml", COLLAR_WARN.replace("max_deviation", "max_deviaton"))
    with pytest.raises(RulesFileError, match=r"compliance.toml:4: .*unknown key 'max_deviaton'"):
        ComplianceCheck(seeded, path)
    with pytest.raises(NotFoundError, match=r"nosuch\.toml"):
        ComplianceCheck(seeded, tmp_path / "nosuch.toml")


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_compliance_rules_file_too_long_for_the_audit_trail_is_refused(seeded: BarStore, tmp_path: Path) -> None:
    # the loader reads up to 8 MB; the audit record of a text keeps at most 1,000,000 characters of JSON
    path = write_rules(tmp_path / "compliance.toml", COLLAR_WARN + ("# " + "x" * 98 + "\n") * 10_001)
    too_long = r"compliance\.toml: the rules file is 1,020,\d{3} characters .* at most 1,000,000"
    with pytest.raises(RulesFileError, match=too_long):
        ComplianceCheck(seeded, path)


@pytest.mark.parametrize(
    ("rules", "halt", "message"),
    [
        (42, True, "rules is a RuleSet, a rules file's path or None"),
        (None, "yes", "halt_on_daily_loss is True or False"),
    ],
)
@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_compliance_check_bad_argument_raises(seeded: BarStore, rules: Any, halt: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        ComplianceCheck(seeded, rules, halt_on_daily_loss=halt)


@embedded_and_postgres
def test_compliance_rules_file_changed_is_reread_and_audited_and_a_refused_one_keeps_the_rules(
    seeded: BarStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: a 10% collar, then tightened to 5% while the manager runs
    path = write_rules(tmp_path / "compliance.toml", COLLAR_WARN.replace("warn_at = 0.5\n", ""))
    clock = Clock(MONDAY)
    check = ComplianceCheck(seeded, path)
    manager = manager_at(seeded, clock, checks=[check])
    first = manager.submit(limit("23.00", client_order_id="c1"))  # 7.4% under 24.85: inside 10%
    tight = COLLAR_WARN.replace("0.10", "0.05").replace("warn_at = 0.5\n", "")
    write_rules(path, tight)
    # Act
    second = manager.submit(limit("23.00", client_order_id="c2"))
    write_rules(path, "[[rule]]\nid = 'collar'\nkind = 'price_collar'\nmax_deviaton = 0.2\n")  # a typo: refused
    with caplog.at_level(logging.ERROR, logger="bifrost"):
        third = manager.submit(limit("23.00", client_order_id="c3"))
    # Assert: the new rules apply at once; the refused file changes nothing but the log
    assert first.status is OrderStatus.ACCEPTED
    assert second.status is third.status is OrderStatus.REJECTED
    assert "collar: limit 23.00 is 7.4% from the last price 24.85 (at most 5.0%)" in third.reasons[0]
    assert "refused" in caplog.text and "max_deviaton" in caplog.text
    records = [r["payload"] for r in audit_rows(seeded, "compliance.rules")]
    texts = [COLLAR_WARN.replace("warn_at = 0.5\n", ""), tight]
    assert [r["text"] for r in records] == texts  # the refused text was never applied
    assert records[0]["previous_hash"] is None and records[1]["previous_hash"] == records[0]["hash"]
    assert records[1]["source"] == str(path) and check.rules.hash == records[1]["hash"]
    hashes = [d[3]["rules_hash"] for d in decisions(seeded)]
    assert hashes == [records[0]["hash"], records[1]["hash"], records[1]["hash"]]
    with seeded.transaction(schema=COMPLIANCE_SCHEMA, read_only=True) as db:
        assert int(db.rows("SELECT count(*) FROM {t}compliance_rulesets")[0][0]) == 2
    assert verify_audit(seeded).ok


# -- the dry run and the manager's precheck --------------------------------------------------------
@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_dry_run_and_precheck_judge_as_submit_does_and_record_nothing(seeded: BarStore) -> None:
    clock = Clock(MONDAY)
    manager = manager_at(seeded, clock)
    fat = limit("29.82", client_order_id="p1")
    before = len(audit_rows(seeded))
    # Act
    decision = dry_run(seeded, fat, now=MONDAY)
    checked = manager.precheck(fat)
    # Assert: the same verdicts, nothing written (no order, no decision, no audit record, no rules row)
    assert decision.verdict == "block" and [r.rule for r in decision.blocks] == ["price_collar"]
    assert [(c.check, c.verdict) for c in checked] == [
        ("risk_limits", "pass"), ("trading_state", "pass"), ("compliance", "block"),
    ]  # fmt: skip
    assert len(audit_rows(seeded)) == before and decisions(seeded) == []
    # what submit records is what the precheck showed
    manager.submit(fat)
    ((_, verdict, reason, inputs),) = decisions(seeded)
    assert (verdict, reason) == (checked[2].verdict, checked[2].reason)
    assert inputs == json.loads(json.dumps(dict(checked[2].inputs)))
    assert [r.to_dict() for r in decision.results] == inputs["rules"]


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_dry_run_of_an_unknown_portfolio_raises_not_found(seeded: BarStore) -> None:
    with pytest.raises(NotFoundError, match="NOSUCH"):
        dry_run(seeded, order(1, portfolio="NOSUCH"))


def test_day_trades_count_closing_orders_of_shares_opened_the_same_session() -> None:
    # fills (ts, order, symbol, signed shares) of 2015-01-05 and 06; positions now: 0 ORCL, -5 NVDA, 100 YHOO
    t = pd.Timestamp("2015-01-05 15:00", tz="UTC")
    minute = pd.Timedelta(minutes=1)
    fills = [
        (t, "o1", "ORCL", 10.0),  # opens
        (t + minute, "o2", "ORCL", -4.0),  # closes 4 opened today: a day trade
        (t + 2 * minute, "o2", "ORCL", -6.0),  # the same order's second fill: still one day trade
        (t + 3 * minute, "o3", "YHOO", -50.0),  # sells shares held overnight: no day trade
        (t + 4 * minute, "o4", "NVDA", -5.0),  # a short opened today
        (t + pd.Timedelta(days=1), "o5", "YHOO", 50.0),  # the next session: buys back
    ]
    positions = {"ORCL": 0.0, "NVDA": -5.0, "YHOO": 100.0}
    # Act
    trades, opened = _count_day_trades(fills, positions, dt.date(2015, 1, 6))
    # Assert: one day trade on the 5th; on the 6th, YHOO's 50 were opened that session
    assert trades == [dt.date(2015, 1, 5)]
    assert opened == {"YHOO": 50.0}
    # the same fills seen from the 5th: the NVDA short is open, closing it today would be a day trade
    trades, opened = _count_day_trades(fills[:5], {"ORCL": 0.0, "NVDA": -5.0, "YHOO": 50.0}, dt.date(2015, 1, 5))
    assert trades == [dt.date(2015, 1, 5)] and opened == {"NVDA": -5.0}


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_day_trades_walked_once_per_fill_equal_a_walk_of_the_whole_window(store: BarStore) -> None:
    # Arrange: buys and sells of varied sizes over two sessions after ORCL's last bar, and a ledger entry
    # that is no execution fill between them
    ingest(store, CsvSource(ORCL, symbol="ORCL"))
    deposit = CashFlow(txn_id="dep", ts=pd.Timestamp("2014-12-01", tz="UTC"), kind=CashKind.DEPOSIT,
                       amount=Decimal(1_000_000))  # fmt: skip
    record_transactions(store, "S", [deposit], create=True)
    clock = Clock(pd.Timestamp("2015-01-05 15:00", tz="UTC"))
    check = ComplianceCheck(store)
    manager = manager_at(store, clock, checks=[check])
    sizes = [30, -10, -15, 25, 5, -5, -20, 60, -15]
    for i, size in enumerate(sizes):
        if i == 5:
            clock.now = pd.Timestamp("2015-01-06 15:00", tz="UTC")  # the next session
            by_hand = Fill(txn_id="by-hand", ts=clock.now, symbol="ORCL", side=Side.BUY, quantity=Decimal(7),
                           price=Decimal("44.97"))  # fmt: skip
            record_transactions(store, "S", [by_hand])
        clock.now += pd.Timedelta(minutes=1)
        side = Side.BUY if size > 0 else Side.SELL
        assert manager.submit(order(abs(size), side=side, portfolio="S")).status is OrderStatus.FILLED
        # Act: the check's incremental walk, and a walk of every fill of the window from the book's positions
        held = {"ORCL": float(load_portfolio(store, "S", store_dividends=False).position("ORCL").quantity)}
        walked = check._day_trades("S", clock.now.date(), held)
        with store.transaction(schema=EXECUTION_SCHEMA, read_only=True) as db:
            rows = db.rows("SELECT ts, client_order_id, symbol, side, quantity FROM {t}execution_fills ORDER BY id")
        fills = [(pd.Timestamp(ts), c, s, float(q) * (1 if d == "buy" else -1)) for ts, c, s, d, q in rows]
        # Assert
        assert walked == _count_day_trades(fills, held, clock.now.date()), i
    # two sales of shares bought on the 5th, that day; on the 6th only the last sale closes shares bought that day
    assert walked == ([dt.date(2015, 1, 5), dt.date(2015, 1, 5), dt.date(2015, 1, 6)], {"ORCL": 45.0})


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_compliance_check_without_rules_watches_the_homes_compliance_toml(
    seeded: BarStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: no setting; <BIFROST_HOME>/compliance.toml holds a 10% collar, later tightened to 5%
    for name in ("BIFROST_CONFIG", "BIFROST_COMPLIANCE_RULES"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "bifrost-home"
    home.mkdir()
    monkeypatch.setenv("BIFROST_HOME", str(home))
    path = write_rules(home / "compliance.toml", COLLAR_WARN.replace("warn_at = 0.5\n", ""))
    manager = manager_at(seeded, Clock(MONDAY))  # the default checks
    # Act
    first = manager.submit(limit("23.00"))
    write_rules(path, COLLAR_WARN.replace("warn_at = 0.5\n", "").replace("0.10", "0.05"))
    second = manager.submit(limit("23.00"))
    # Assert: the home's file applies, and its change is seen by the running manager
    assert first.status is OrderStatus.ACCEPTED and second.reject_reason is RejectReason.COMPLIANCE
    assert [r["payload"]["source"] for r in audit_rows(seeded, "compliance.rules")] == [str(path)] * 2


def test_compliance_default_rules_see_a_homes_compliance_toml_written_while_the_manager_runs(
    seeded: BarStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: no rules file anywhere (the default rules: a 10% collar); the manager runs (found by QA: never seen)
    for name in ("BIFROST_CONFIG", "BIFROST_COMPLIANCE_RULES"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "bifrost-home"
    home.mkdir()
    monkeypatch.setenv("BIFROST_HOME", str(home))
    manager = manager_at(seeded, Clock(MONDAY))
    first = manager.submit(limit("23.00"))  # 7.4% under 24.85: inside the default 10%
    # Act: the desk writes its own rules, a 5% collar
    path = write_rules(home / "compliance.toml", COLLAR_WARN.replace("warn_at = 0.5\n", "").replace("0.10", "0.05"))
    second = manager.submit(limit("23.00"))
    # Assert
    assert first.status is OrderStatus.ACCEPTED and second.reject_reason is RejectReason.COMPLIANCE
    assert [r["payload"]["source"] for r in audit_rows(seeded, "compliance.rules")] == ["default", str(path)]


def test_compliance_rules_edit_keeping_size_and_mtime_is_still_reread(seeded: BarStore, tmp_path: Path) -> None:
    # cp -p, rsync -a, or two same-size writes in one clock tick: the size and the mtime say nothing changed
    path = write_rules(tmp_path / "compliance.toml", COLLAR_WARN.replace("warn_at = 0.5\n", ""))
    manager = manager_at(seeded, Clock(MONDAY), checks=[ComplianceCheck(seeded, path)])
    assert manager.submit(limit("23.00")).status is OrderStatus.ACCEPTED
    before = path.stat()
    tightened = COLLAR_WARN.replace("warn_at = 0.5\n", "").replace("0.10", "0.01")  # the same length
    assert len(tightened) == len(path.read_text())
    path.write_text(tightened)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    refused = manager.submit(limit("23.00"))  # 7.4% away: inside the old 10%, outside the 1% now on disk
    assert refused.reject_reason is RejectReason.COMPLIANCE and "(at most 1.0%)" in refused.reasons[0]


def test_compliance_rules_changed_back_are_audited_again(seeded: BarStore, tmp_path: Path) -> None:
    # A, B, then A again: the trail shows each change (found by QA: the return to A left no record)
    a = COLLAR_WARN.replace("warn_at = 0.5\n", "")
    b = a.replace("0.10", "0.05")
    path = write_rules(tmp_path / "compliance.toml", a)
    manager = manager_at(seeded, Clock(MONDAY), checks=[ComplianceCheck(seeded, path)])
    statuses = []
    for text in (a, b, a):
        write_rules(path, text)
        statuses.append(manager.submit(limit("23.00")).status)
    assert statuses == [OrderStatus.ACCEPTED, OrderStatus.REJECTED, OrderStatus.ACCEPTED]
    records = [r["payload"] for r in audit_rows(seeded, "compliance.rules")]
    assert [r["text"] for r in records] == [a, b, a]
    assert [r["previous_hash"] for r in records] == [None, records[0]["hash"], records[1]["hash"]]
    with seeded.transaction(schema=COMPLIANCE_SCHEMA, read_only=True) as db:
        assert int(db.rows("SELECT count(*) FROM {t}compliance_rulesets")[0][0]) == 2  # each text stored once
    assert verify_audit(seeded).ok
    replayed = replay_decisions(seeded)
    assert replayed.ok and replayed.n_decisions == 3, replayed.mismatches


@embedded_and_postgres
def test_compliance_daily_loss_limit_takes_todays_withdrawal_as_no_loss(seeded: BarStore, tmp_path: Path) -> None:
    # P0: 1,000,000 cash since before Monday; Wednesday 100,000 is withdrawn (10%, ten times the 1% limit).
    # Without the flow the book reads "down 10.0% today" and halts (found by QA); with it the loss is 0.
    rules = write_rules(tmp_path / "compliance.toml", DAILY_LOSS)
    clock = Clock(day(0, 2))
    out = CashFlow(txn_id="w1", ts=day(0, 2) - pd.Timedelta(hours=2), kind=CashKind.WITHDRAWAL, amount=Decimal(100_000))
    record_transactions(seeded, "P0", [out])
    manager = OrderManager(
        seeded,
        PaperBroker(seeded, clock=clock),
        clock=clock,
        checks=[TradingStateCheck(), ComplianceCheck(seeded, rules)],
    )
    bought = manager.submit(order(10))
    assert bought.status is OrderStatus.ACCEPTED and trading_state(seeded, "P0") is TradingState.ACTIVE
    (_, _, _, decided) = decisions(seeded)[-1]
    inputs = decided["rules"][0]["inputs"]
    assert inputs["start_of_day_equity"] == pytest.approx(900_000.0) and inputs["equity"] == pytest.approx(900_000.0)
    assert inputs["loss"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_load_decisions_reads_every_checks_decision_of_an_order_and_names_an_unknown_one(seeded: BarStore) -> None:
    from bifrost.execution import load_decisions

    manager = manager_at(seeded, Clock(MONDAY))
    placed = manager.submit(limit("27.50", client_order_id="far"))  # 10.7% above 24.85: the collar blocks
    decided = load_decisions(seeded, "far")
    assert list(decided["check"]) == ["risk_limits", "trading_state", "compliance"]
    assert list(decided["verdict"]) == ["pass", "pass", "block"] and placed.status is OrderStatus.REJECTED
    assert decided["reason"].iloc[2].startswith("price_collar: limit 27.50 is 10.7% from the last price 24.85")
    assert decided["inputs"].iloc[2]["rules"][0]["rule"] == "price_collar"
    assert (decided["ts"] == MONDAY).all()
    with pytest.raises(NotFoundError, match="no order with order id or client order id 'nosuch'"):
        load_decisions(seeded, "nosuch")
