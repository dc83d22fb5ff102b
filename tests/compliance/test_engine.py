"""The rule engine: the rules in force on the decision's session date, severity, file order, inputs recorded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from bifrost.compliance._engine import ComplianceEngine, judge, reference_price
from bifrost.compliance._kinds import RULE_KINDS
from bifrost.compliance._model import BookState, OrderTypeName, ProposedOrder, Rule
from bifrost.compliance._rules import RuleSet, default_rules, load_rules, parse_rules
from bifrost.data import CsvSource, load_bars
from bifrost.errors import InvalidInputError, RulesFileError
from bifrost.portfolio import Side

ORCL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "backtrader" / "orcl-1995-2014.txt"
NOW = pd.Timestamp("2026-12-02 15:00", tz="UTC")


@pytest.fixture(scope="module")
def orcl_close() -> float:
    """ORCL's last close in the file: 44.970001 on 2014-12-31 (Yahoo, unadjusted)."""
    closes = load_bars(CsvSource(ORCL, symbol="ORCL")).bars["close"].xs("ORCL")
    assert closes.index[-1] == pd.Timestamp("2014-12-31", tz="UTC")
    return float(closes.iloc[-1])


def book(price: float | None, *, ts: pd.Timestamp = NOW, portfolio: str = "paper", **extra: object) -> BookState:
    prices = {} if price is None else {"ORCL": price}
    return BookState(portfolio=portfolio, ts=ts, positions={}, cash=1_000_000.0, equity=1_000_000.0, prices=prices,
                     start_of_day_equity=1_000_000.0, **extra)  # type: ignore[arg-type]  # fmt: skip


def limit_order(limit: str, *, quantity: int = 100, portfolio: str = "paper", **extra: object) -> ProposedOrder:
    return ProposedOrder(portfolio=portfolio, symbol="ORCL", side=Side.BUY, quantity=Decimal(quantity),
                         order_type="limit", limit_price=Decimal(limit), **extra)  # type: ignore[arg-type]  # fmt: skip


def test_engine_default_collar_blocks_a_limit_11pct_from_the_last_close(orcl_close: float) -> None:
    assert orcl_close == pytest.approx(44.970001, abs=1e-6)
    engine = ComplianceEngine(default_rules())
    decision = engine.evaluate(limit_order("49.92"), book(orcl_close))  # 49.92 / 44.970001 - 1 = 11.0%
    assert decision.verdict == "block" and [r.rule for r in decision.blocks] == ["price_collar"]
    collar = decision.results[0]
    assert collar.inputs["deviation"] == pytest.approx(49.92 / 44.970001 - 1, rel=1e-12)
    assert collar.reason == "limit 49.92 is 11.0% from the last price 44.97 (at most 10.0%)"
    assert decision.reason() == "price_collar: " + collar.reason
    assert decision.ts == NOW and decision.rules_hash == default_rules().hash
    assert [r.rule for r in decision.results] == [
        "price_collar", "max_order_notional", "max_order_quantity", "duplicate_order", "intraday_margin",
    ]  # fmt: skip
    in_force = default_rules().effective("paper", NOW.date())
    assert [r.version for r in decision.results] == [r.version for r in in_force if r.kind != "wash_sale"]


def test_engine_default_passes_a_limit_9pct_from_the_last_close(orcl_close: float) -> None:
    decision = ComplianceEngine(default_rules()).evaluate(limit_order("49.02"), book(orcl_close))  # +9.0%
    assert decision.verdict == "pass" and decision.reason() == ""
    assert decision.results[0].inputs["deviation"] == pytest.approx(49.02 / 44.970001 - 1, rel=1e-12)
    assert decision.results[1].inputs["notional"] == pytest.approx(4_902.0)
    json.dumps([r.to_dict() for r in decision.results], allow_nan=False)  # what the audit trail records


def test_engine_default_blocks_an_order_over_a_million_shares_and_ten_million_usd(orcl_close: float) -> None:
    decision = ComplianceEngine(default_rules()).evaluate(limit_order("44.97", quantity=1_000_001), book(orcl_close))
    # 44,970,044.97 USD; and a gross of 45 M on 1 M of equity fails the intraday margin
    assert [r.rule for r in decision.blocks] == ["max_order_notional", "max_order_quantity", "intraday_margin"]


def test_engine_severity_warn_turns_a_block_into_a_warn(orcl_close: float) -> None:
    text = '[[rule]]\nid = "watch"\nkind = "restricted_list"\nsymbols = ["ORCL"]\nseverity = "warn"\n'
    text += '[[rule]]\nid = "banned"\nkind = "restricted_list"\nsymbols = ["ORCL"]\n'
    rules = parse_rules(text)
    decision = ComplianceEngine(rules).evaluate(limit_order("45.00"), book(orcl_close))
    watch, banned = decision.results
    assert (watch.verdict, banned.verdict) == ("warn", "block") and watch.reason == banned.reason
    kind = RULE_KINDS["restricted_list"]
    assert kind.decide(rules.rules[0], watch.inputs)[0] == "block"  # the kind trips ...
    assert judge(rules.rules[0], watch.inputs) == ("warn", watch.reason)  # ... the severity makes it a warning
    assert judge(rules.rules[1], banned.inputs) == ("block", banned.reason)
    assert decision.verdict == "block" and [r.rule for r in decision.warnings] == ["watch"]


def test_engine_warn_at_zone_warns_and_severity_keeps_it_a_warn(orcl_close: float) -> None:
    text = '[[rule]]\nid = "collar"\nkind = "price_collar"\nmax_deviation = 0.10\nwarn_at = 0.5\n'
    decision = ComplianceEngine(parse_rules(text)).evaluate(limit_order("48.12"), book(orcl_close))  # +7.0%
    assert decision.verdict == "warn"
    assert decision.reason() == (
        "collar: limit 48.12 is 7.0% from the last price 44.97, past the warning level 5.0% (at most 10.0%)"
    )


DATED = """\
[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.05
effective_to = 2026-06-30

[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.20
effective_from = 2026-07-01
"""


@pytest.mark.parametrize(
    ("ts", "verdict", "max_deviation"),
    [
        (pd.Timestamp("2026-06-30 00:00", tz="UTC"), "block", 0.05),
        (pd.Timestamp("2026-06-30 23:59:59.999999", tz="UTC"), "block", 0.05),
        (pd.Timestamp("2026-07-01 00:00", tz="UTC"), "pass", 0.20),
        (pd.Timestamp("2026-06-30 20:30", tz="America/New_York"), "pass", 0.20),  # 00:30 UTC on 07-01
        (pd.Timestamp("2026-06-30 19:30", tz="America/New_York"), "block", 0.05),  # 23:30 UTC on 06-30
        (pd.Timestamp("2026-06-30 23:00"), "block", 0.05),  # naive: taken as UTC
    ],
)
def test_engine_dated_versions_follow_the_utc_session_date(
    orcl_close: float, ts: pd.Timestamp, verdict: str, max_deviation: float
) -> None:
    rules = parse_rules(DATED)
    decision = ComplianceEngine(rules).evaluate(limit_order("49.02"), book(orcl_close, ts=ts))  # +9.0%
    (result,) = decision.results
    assert result.verdict == verdict and decision.ts == ts
    assert rules.rule("collar", result.version).params["max_deviation"] == max_deviation


def test_engine_portfolio_rules_apply_only_to_their_portfolios(orcl_close: float) -> None:
    text = '[[rule]]\nid = "restricted"\nkind = "restricted_list"\nsymbols = ["ORCL"]\nportfolios = ["paper"]\n'
    engine = ComplianceEngine(parse_rules(text))
    assert engine.evaluate(limit_order("45.00"), book(orcl_close)).verdict == "block"
    live = engine.evaluate(limit_order("45.00", portfolio="live"), book(orcl_close, portfolio="live"))
    assert live.verdict == "pass" and live.results == ()


def test_engine_runs_pre_trade_and_both_stages_not_post_trade(orcl_close: float) -> None:
    text = (
        '[[rule]]\nid = "wash"\nkind = "wash_sale"\n'
        '[[rule]]\nid = "position"\nkind = "max_position_pct_nav"\nmax_fraction = 0.001\n'
    )
    engine = ComplianceEngine(parse_rules(text))
    assert RULE_KINDS["wash_sale"].stage == "post_trade" and RULE_KINDS["max_position_pct_nav"].stage == "both"
    decision = engine.evaluate(limit_order("45.00"), book(orcl_close))  # 4,545 of 1,000,000 NAV > 0.1%
    assert [(r.rule, r.verdict) for r in decision.results] == [("position", "block")]
    assert [r.id for r in engine.plan("paper", NOW.date())] == ["position"]


def test_engine_no_rules_passes_everything(orcl_close: float) -> None:
    decision = ComplianceEngine(parse_rules("")).evaluate(limit_order("99.00"), book(orcl_close))
    assert decision.verdict == "pass" and decision.results == () and decision.reason() == ""


def sell(order_type: OrderTypeName, *, limit: Decimal | None = None, stop: Decimal | None = None) -> ProposedOrder:
    return ProposedOrder(portfolio="paper", symbol="ORCL", side=Side.SELL, quantity=Decimal(5), order_type=order_type,
                         limit_price=limit, stop_price=stop)  # fmt: skip


def test_engine_reference_price_is_last_else_limit_else_stop(orcl_close: float) -> None:
    stop_limit = sell("stop_limit", limit=Decimal("44.00"), stop=Decimal("44.50"))
    stop = sell("stop", stop=Decimal("44.50"))
    market = sell("market")
    assert reference_price(stop_limit, book(orcl_close)) == orcl_close
    assert reference_price(stop_limit, book(None)) == 44.0
    assert reference_price(stop, book(None)) == 44.5
    assert reference_price(market, book(None)) is None
    assert reference_price(market, book(float("nan"))) is None


def test_engine_without_last_price_the_collar_warns(orcl_close: float) -> None:
    decision = ComplianceEngine(default_rules()).evaluate(limit_order("45.00"), book(None))
    assert decision.results[0].verdict == "warn"
    assert decision.results[0].reason == "no last price for ORCL: the limit 45.00 is not checked"


def test_engine_evaluation_is_repeatable_and_leaves_rules_alone(orcl_close: float) -> None:
    rules = default_rules()
    versions = [(r.id, r.version) for r in rules.rules]
    engine = ComplianceEngine(rules)
    first = engine.evaluate(limit_order("49.92"), book(orcl_close))
    assert engine.evaluate(limit_order("49.92"), book(orcl_close)) == first
    assert [(r.id, r.version) for r in rules.rules] == versions and engine.rules is rules


def test_engine_keeps_its_rules_when_a_new_file_is_refused(tmp_path: Path, orcl_close: float) -> None:
    path = tmp_path / "compliance.toml"
    path.write_text(DATED, encoding="utf-8")
    engine = ComplianceEngine(load_rules(path))
    before = engine.evaluate(limit_order("49.02"), book(orcl_close))
    path.write_text(DATED.replace("max_deviation = 0.20", "max_deviaton = 0.20"), encoding="utf-8")
    with pytest.raises(RulesFileError, match=r"compliance\.toml:10: rule 'collar' \(price_collar\): unknown key"):
        engine = ComplianceEngine(load_rules(path))
    assert engine.evaluate(limit_order("49.02"), book(orcl_close)) == before


def test_engine_refuses_mismatched_portfolio_and_other_stages(orcl_close: float) -> None:
    engine = ComplianceEngine(default_rules())
    with pytest.raises(InvalidInputError, match="the order is for portfolio 'live' but the book is 'paper'"):
        engine.evaluate(limit_order("45.00", portfolio="live"), book(orcl_close))
    with pytest.raises(InvalidInputError, match="stage must be 'pre_trade'"):
        engine.evaluate(limit_order("45.00"), book(orcl_close), stage="post_trade")  # type: ignore[arg-type]
    with pytest.raises(
        InvalidInputError, match=r"order ORCL: quantity must be a positive finite Decimal of at most 1e15"
    ):
        engine.evaluate(limit_order("45.00", quantity=0), book(orcl_close))


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", Decimal("1e400")), ("quantity", Decimal("NaN")), ("quantity", Decimal("-5")),
     ("limit_price", Decimal("1e16")), ("limit_price", Decimal("Infinity")), ("limit_price", Decimal(0)),
     ("stop_price", Decimal("-1"))],
)  # fmt: skip
def test_engine_refuses_order_numbers_out_of_range_before_any_rule(
    orcl_close: float, field: str, value: Decimal
) -> None:
    order = limit_order("45.00", client_order_id="c-1", stop_price=Decimal("44.00"))
    bad = dataclasses.replace(order, **{field: value})  # type: ignore[arg-type]
    with pytest.raises(
        InvalidInputError, match=rf"^order c-1: {field} must be a positive finite Decimal of at most 1e15"
    ):
        ComplianceEngine(default_rules()).evaluate(bad, book(orcl_close))


def test_engine_refuses_what_is_not_a_rule_set_or_an_unknown_kind() -> None:
    with pytest.raises(InvalidInputError, match="ComplianceEngine needs a RuleSet"):
        ComplianceEngine("compliance.toml")  # type: ignore[arg-type]
    alien = RuleSet(rules=(Rule(id="x", kind="astrology", params={}),), hash="0" * 64, source="<hand>", text="")
    with pytest.raises(InvalidInputError, match=r"rule 'x' .* has kind 'astrology', which this Bifrost does not know"):
        ComplianceEngine(alien)


def test_engine_plan_is_cached_per_portfolio_and_day() -> None:
    engine = ComplianceEngine(parse_rules(DATED))
    june = engine.plan("paper", dt.date(2026, 6, 30))
    assert engine.plan("paper", dt.date(2026, 6, 30)) == june and len(june) == 1
    assert june[0].params["max_deviation"] == 0.05
    assert engine.plan("paper", dt.date(2026, 7, 1))[0].params["max_deviation"] == 0.20


def test_engine_refuses_a_book_time_that_is_not_a_timestamp(orcl_close: float) -> None:
    state = book(orcl_close, ts=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"book\.ts must be a pandas Timestamp"):
        ComplianceEngine(default_rules()).evaluate(limit_order("45.00"), state)
