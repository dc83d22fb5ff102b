"""The rule kinds: a worked example of pass, warn and block for each, with its reason and inputs.

Prices are real closes of 2014-12-31 from ../shared/data/backtrader (ORCL 44.970001,
NVDA 20.049999, YHOO 50.509998), read from the files; GOOGL and GOOG are the closes of
2018-02-07 in ../shared/data/sp500_5yr/all_stocks_5yr.csv.gz (1055.41 and 1048.58).
Every judgement also checks replayability: ``decide`` on the JSON round trip of the inputs
gives the same verdict and reason.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bifrost.compliance._engine import ComplianceEngine, reference_price
from bifrost.compliance._kinds import (
    INTRADAY_MARGIN_PHASE_IN,
    PACKS,
    RULE_KINDS,
    WASH_SALE_WINDOW_DAYS,
    _business_days_back,
    book_exposure,
    reduces,
    session_date,
)
from bifrost.compliance._model import BookState, Measures, ProposedOrder, RecentOrder, Rule, Severity
from bifrost.compliance._rules import parse_rules
from bifrost.errors import InvalidInputError, RulesFileError
from bifrost.portfolio import Side
from tests.conftest import NVDA, ORCL, YHOO

T0 = pd.Timestamp("2026-05-15 15:00", tz="UTC")  # a Friday session
GOOGL_CLOSE = 1055.41  # all_stocks_5yr.csv.gz, 2018-02-07
GOOG_CLOSE = 1048.58


def _last_close(path: Path) -> float:
    frame = pd.read_csv(path)
    return float(frame["Close"].iloc[-1])


@pytest.fixture(scope="module")
def closes() -> dict[str, float]:
    return {"ORCL": _last_close(ORCL), "NVDA": _last_close(NVDA), "YHOO": _last_close(YHOO)}


def test_closes_are_the_real_2014_year_end_closes(closes: dict[str, float]) -> None:
    assert closes == {"ORCL": 44.970001, "NVDA": 20.049999, "YHOO": 50.509998}


def make_rule(kind: str, *, severity: Severity = "block", **params: object) -> Rule:
    # a rule as the loader makes it: the kind's defaults filled in
    full = {p.name: p.default for p in RULE_KINDS[kind].params if not p.required}
    full.update(params)
    return Rule(id=kind, kind=kind, params=full, severity=severity)


def make_order(
    symbol: str = "ORCL",
    side: Side = Side.BUY,
    quantity: str = "100",
    *,
    order_type: str = "market",
    limit: str | None = None,
    stop: str | None = None,
    client_order_id: str | None = None,
) -> ProposedOrder:
    return ProposedOrder(
        portfolio="paper",
        symbol=symbol,
        side=side,
        quantity=Decimal(quantity),
        order_type=order_type,  # type: ignore[arg-type]
        limit_price=None if limit is None else Decimal(limit),
        stop_price=None if stop is None else Decimal(stop),
        client_order_id=client_order_id,
    )


def make_book(closes: Mapping[str, float], **overrides: object) -> BookState:
    # 1,000 ORCL (44,970.00), 2,000 NVDA (40,100.00), 300 YHOO (15,153.00): NAV 200,000
    fields: dict[str, object] = {
        "portfolio": "paper",
        "ts": T0,
        "positions": {"ORCL": 1000.0, "NVDA": 2000.0, "YHOO": 300.0},
        "cash": 99_777.0,
        "equity": 200_000.0,
        "prices": dict(closes),
        "sectors": {"ORCL": "Information Technology", "NVDA": "Information Technology"},
    }
    fields.update(overrides)
    return BookState(**fields)  # type: ignore[arg-type]


def _json_only(value: object) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_only(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_only(v) for k, v in value.items())
    return False


def judge(rule: Rule, order: ProposedOrder, book: BookState) -> tuple[str, str, dict[str, object]]:
    # gather then decide, as the engine does; and decide again on the recorded (JSON) inputs, as replay does
    kind = RULE_KINDS[rule.kind]
    inputs = kind.gather(rule, order, book, Measures(order, book, reference_price(order, book)))
    assert _json_only(inputs), inputs
    verdict, reason = kind.decide(rule, inputs)
    recorded = json.loads(json.dumps(inputs, allow_nan=False))
    assert kind.decide(rule, recorded) == (verdict, reason)
    return verdict, reason, inputs


# ------------------------------------------------------------------------------------ the kinds' table


def test_rule_kinds_names_are_the_contracts() -> None:
    assert set(RULE_KINDS) == {
        "restricted_list", "max_order_quantity", "max_order_notional", "max_position_pct_nav",
        "sector_concentration", "issuer_concentration", "gross_exposure", "short_sale", "price_collar",
        "duplicate_order", "order_rate", "daily_loss_limit", "pattern_day_trader", "intraday_margin", "wash_sale",
    }  # fmt: skip
    assert all(k.name == name for name, k in RULE_KINDS.items())


def test_rule_kinds_compilable_are_the_contracts() -> None:
    assert {n for n, k in RULE_KINDS.items() if k.compilable} == {
        "restricted_list", "max_order_quantity", "max_order_notional", "max_position_pct_nav",
        "sector_concentration", "issuer_concentration", "gross_exposure", "short_sale", "price_collar",
        "daily_loss_limit",
    }  # fmt: skip


def test_rule_kinds_stages_wash_sale_post_trade_book_rules_both() -> None:
    stages = {n: k.stage for n, k in RULE_KINDS.items()}
    assert stages.pop("wash_sale") == "post_trade"
    both = {"max_position_pct_nav", "sector_concentration", "issuer_concentration", "gross_exposure"}
    assert {n for n, s in stages.items() if s == "both"} == both
    assert all(s == "pre_trade" for n, s in stages.items() if n not in both)


def test_rule_kinds_measuring_a_limit_take_an_optional_warn_at() -> None:
    with_warn = {n for n, k in RULE_KINDS.items() if any(p.name == "warn_at" for p in k.params)}
    assert with_warn == {
        "max_order_quantity", "max_order_notional", "max_position_pct_nav", "sector_concentration",
        "issuer_concentration", "gross_exposure", "price_collar", "order_rate", "daily_loss_limit", "intraday_margin",
    }  # fmt: skip
    for kind in with_warn:
        (warn_at,) = [p for p in RULE_KINDS[kind].params if p.name == "warn_at"]
        assert (warn_at.required, warn_at.default, warn_at.minimum, warn_at.maximum) == (False, None, 0.0, 1.0)


def test_rule_kinds_params_are_documented_unique_and_defaults_of_their_type() -> None:
    types = {"float": (int, float), "int": (int,), "str": (str,), "date": (dt.date,), "bool": (bool,)}
    for kind in RULE_KINDS.values():
        names = [p.name for p in kind.params]
        assert len(names) == len(set(names)), kind.name
        for p in kind.params:
            assert p.doc, (kind.name, p.name)
            if p.default is not None:
                assert isinstance(p.default, types[p.type]), (kind.name, p.name)
                assert not p.choices or p.default in p.choices


# ------------------------------------------------------------------------------------ restricted_list


def test_restricted_list_listed_symbol_blocks(closes: dict[str, float]) -> None:
    rule = make_rule("restricted_list", symbols=["YHOO", "orcl"])
    verdict, reason, inputs = judge(rule, make_order("ORCL", Side.BUY), make_book(closes))
    assert (verdict, reason) == ("block", "ORCL is on the restricted list")
    assert inputs == {"symbol": "ORCL", "side": "buy"}


def test_restricted_list_other_symbol_passes(closes: dict[str, float]) -> None:
    rule = make_rule("restricted_list", symbols=["YHOO"])
    assert judge(rule, make_order("ORCL"), make_book(closes))[:2] == ("pass", "ORCL is not on the restricted list")


def test_restricted_list_sells_only_blocks_a_sell_and_passes_a_buy(closes: dict[str, float]) -> None:
    rule = make_rule("restricted_list", symbols=["ORCL"], sides="sell")
    book = make_book(closes)
    assert judge(rule, make_order("ORCL", Side.SELL), book)[:2] == ("block", "ORCL is on the restricted list for sells")
    assert judge(rule, make_order("ORCL", Side.BUY), book)[:2] == (
        "pass",
        "ORCL is on the restricted list for sells only",
    )


def test_restricted_list_severity_warn_still_says_block_for_the_engine_to_downgrade(closes: dict[str, float]) -> None:
    # the kind reports the trip; the engine turns a tripped rule of severity "warn" into a warning
    rule = make_rule("restricted_list", severity="warn", symbols=["ORCL"])
    assert judge(rule, make_order("ORCL"), make_book(closes))[0] == "block"


# ------------------------------------------------------------------------------------ max_order_quantity


@pytest.mark.parametrize(
    ("quantity", "verdict", "reason"),
    [
        ("500", "pass", "500 shares of ORCL (at most 1,000)"),
        ("900", "warn", "900 shares of ORCL is past 80% of the limit of 1,000 shares per order"),
        ("1000", "warn", "1,000 shares of ORCL is past 80% of the limit of 1,000 shares per order"),
        ("1500", "block", "1,500 shares of ORCL is above the limit of 1,000 shares per order"),
    ],
)
def test_max_order_quantity_worked_examples(closes: dict[str, float], quantity: str, verdict: str, reason: str) -> None:
    rule = make_rule("max_order_quantity", max_shares=1000, warn_at=0.8)
    got = judge(rule, make_order("ORCL", quantity=quantity), make_book(closes))
    assert got == (verdict, reason, {"symbol": "ORCL", "quantity": float(quantity)})


def test_max_order_quantity_without_warn_at_never_warns(closes: dict[str, float]) -> None:
    rule = make_rule("max_order_quantity", max_shares=1000)
    assert judge(rule, make_order("ORCL", quantity="999.5"), make_book(closes))[:2] == (
        "pass",
        "999.5 shares of ORCL (at most 1,000)",
    )


# ------------------------------------------------------------------------------------ max_order_notional


def test_max_order_notional_market_order_at_the_last_close_warns(closes: dict[str, float]) -> None:
    rule = make_rule("max_order_notional", max_notional_usd=50_000, warn_at=0.8)
    verdict, reason, inputs = judge(rule, make_order("ORCL", quantity="1000"), make_book(closes))
    assert verdict == "warn"
    assert (
        reason == "order worth 44,970.00 USD (1,000 ORCL at 44.97, the last price), past 80% of the limit 50,000.00 USD"
    )
    assert inputs == {
        "symbol": "ORCL",
        "quantity": 1000.0,
        "price": 44.970001,
        "price_source": "last",
        "notional": pytest.approx(44_970.001),
        "reduces": False,
    }


def test_max_order_notional_limit_order_at_its_limit_blocks(closes: dict[str, float]) -> None:
    rule = make_rule("max_order_notional", max_notional_usd=50_000, warn_at=0.8)
    order = make_order("ORCL", quantity="1200", order_type="limit", limit="45.00")
    assert judge(rule, order, make_book(closes))[:2] == (
        "block",
        "order worth 54,000.00 USD (1,200 ORCL at 45.00, the limit price), above the limit 50,000.00 USD",
    )


def test_max_order_notional_small_order_passes(closes: dict[str, float]) -> None:
    rule = make_rule("max_order_notional", max_notional_usd=50_000, warn_at=0.8)
    assert judge(rule, make_order("NVDA", quantity="100"), make_book(closes))[:2] == (
        "pass",
        "order worth 2,005.00 USD (100 NVDA at 20.05, the last price): at most 50,000.00 USD",
    )


def test_max_order_notional_no_price_blocks_a_buy_and_passes_a_reducing_sell(closes: dict[str, float]) -> None:
    rule = make_rule("max_order_notional", max_notional_usd=50_000)
    book = make_book(closes, positions={"ZZZZ": 100.0}, prices={}, equity=None)
    assert judge(rule, make_order("ZZZZ", Side.BUY, "10"), book)[:2] == ("block", "cannot measure: no price for ZZZZ")
    assert judge(rule, make_order("ZZZZ", Side.SELL, "10"), book)[:2] == (
        "pass",
        "cannot measure (no price for ZZZZ), but the order only reduces the position",
    )


# ------------------------------------------------------------------------------------ max_position_pct_nav


@pytest.mark.parametrize(
    ("symbol", "quantity", "verdict", "reason"),
    [
        ("YHOO", "100", "pass", "position in YHOO would be 10.1% of NAV (at most 25.0%)"),
        ("ORCL", "100", "warn", "position in ORCL would be 24.7% of NAV, past the warning level 20.0% (at most 25.0%)"),
        ("ORCL", "200", "block", "position in ORCL would be 27.0% of NAV (at most 25.0%)"),
    ],
)
def test_max_position_pct_nav_worked_examples(
    closes: dict[str, float], symbol: str, quantity: str, verdict: str, reason: str
) -> None:
    rule = make_rule("max_position_pct_nav", max_fraction=0.25, warn_at=0.8)
    assert judge(rule, make_order(symbol, quantity=quantity), make_book(closes))[:2] == (verdict, reason)


def test_max_position_pct_nav_inputs_are_the_exposures_before_and_after(closes: dict[str, float]) -> None:
    rule = make_rule("max_position_pct_nav", max_fraction=0.25)
    inputs = judge(rule, make_order("ORCL", quantity="200"), make_book(closes))[2]
    assert inputs == {
        "symbol": "ORCL",
        "price": 44.970001,
        "equity": 200_000.0,
        "exposure_before": pytest.approx(44_970.001),
        "exposure_after": pytest.approx(53_964.0012),
        "reduces": False,
        "cannot_measure": None,
    }


def test_max_position_pct_nav_pending_buys_count_towards_the_position(closes: dict[str, float]) -> None:
    # 1,000 held + 200 being bought + 10 = 1,210 ORCL = 54,413.70 = 27.2% of NAV
    rule = make_rule("max_position_pct_nav", max_fraction=0.25)
    book = make_book(closes, pending={"ORCL": 200.0})
    assert judge(rule, make_order("ORCL", quantity="10"), book)[:2] == (
        "block",
        "position in ORCL would be 27.2% of NAV (at most 25.0%)",
    )


def test_max_position_pct_nav_sell_lowering_a_position_above_the_limit_passes(closes: dict[str, float]) -> None:
    rule = make_rule("max_position_pct_nav", max_fraction=0.25)
    book = make_book(closes, positions={"ORCL": 1200.0, "NVDA": 2000.0, "YHOO": 300.0})
    assert judge(rule, make_order("ORCL", Side.SELL, "10"), book)[:2] == (
        "pass",
        "position in ORCL would be 26.8% of NAV, above the limit 25.0%, but the order lowers it from 27.0%",
    )


def test_max_position_pct_nav_unknown_equity_blocks_a_buy_passes_a_reducing_sell(closes: dict[str, float]) -> None:
    rule = make_rule("max_position_pct_nav", max_fraction=0.25)
    book = make_book(closes, equity=None)
    assert judge(rule, make_order("ORCL", Side.BUY, "10"), book)[:2] == (
        "block",
        "cannot measure: the book's equity is unknown",
    )
    assert judge(rule, make_order("ORCL", Side.SELL, "10"), book)[:2] == (
        "pass",
        "cannot measure (the book's equity is unknown), but the order only reduces the position",
    )


def test_max_position_pct_nav_negative_equity_blocks(closes: dict[str, float]) -> None:
    rule = make_rule("max_position_pct_nav", max_fraction=0.25)
    book = make_book(closes, equity=-5_000.0)
    assert judge(rule, make_order("ORCL"), book)[:2] == ("block", "cannot measure: the book's equity is -5,000.00")


def test_max_position_pct_nav_order_without_any_price_blocks(closes: dict[str, float]) -> None:
    rule = make_rule("max_position_pct_nav", max_fraction=0.25)
    assert judge(rule, make_order("ZZZZ"), make_book(closes))[:2] == ("block", "cannot measure: no price for ZZZZ")


def test_max_position_pct_nav_sell_crossing_to_short_is_not_reducing(closes: dict[str, float]) -> None:
    # 1,000 long, sell 7,000: 6,000 short = 269,820.01 = 134.9% of NAV
    rule = make_rule("max_position_pct_nav", max_fraction=0.25)
    verdict, reason, inputs = judge(rule, make_order("ORCL", Side.SELL, "7000"), make_book(closes))
    assert (verdict, reason, inputs["reduces"]) == (
        "block",
        "position in ORCL would be 134.9% of NAV (at most 25.0%)",
        False,
    )


# ------------------------------------------------------------------------------------ sector_concentration


@pytest.mark.parametrize(
    ("symbol", "quantity", "verdict", "reason"),
    [
        # IT = ORCL 44,970.00 + NVDA 40,100.00 = 85,070.00 = 42.5% of NAV
        ("NVDA", "10", "pass", "sector Information Technology would be 42.6% of NAV (at most 45.0%)"),
        (
            "NVDA",
            "300",
            "warn",
            "sector Information Technology would be 45.5% of NAV, past the warning level 45.0% (at most 50.0%)",
        ),
        ("ORCL", "400", "block", "sector Information Technology would be 51.5% of NAV (at most 50.0%)"),
    ],
)
def test_sector_concentration_worked_examples(
    closes: dict[str, float], symbol: str, quantity: str, verdict: str, reason: str
) -> None:
    limit, warn_at = (0.45, None) if verdict == "pass" else (0.50, 0.9)
    rule = make_rule("sector_concentration", max_fraction=limit, warn_at=warn_at)
    assert judge(rule, make_order(symbol, quantity=quantity), make_book(closes))[:2] == (verdict, reason)


def test_sector_concentration_inputs_name_the_sector(closes: dict[str, float]) -> None:
    rule = make_rule("sector_concentration", max_fraction=0.5)
    inputs = judge(rule, make_order("NVDA", quantity="10"), make_book(closes))[2]
    assert inputs["sector"] == "Information Technology"
    assert inputs["exposure_before"] == pytest.approx(85_069.999)
    assert inputs["exposure_after"] == pytest.approx(85_270.49899)


def test_sector_concentration_symbol_without_a_sector_passes(closes: dict[str, float]) -> None:
    rule = make_rule("sector_concentration", max_fraction=0.01)
    assert judge(rule, make_order("YHOO", quantity="1000"), make_book(closes))[:3] == (
        "pass",
        "no sector known for YHOO",
        {"symbol": "YHOO", "sector": None},
    )


def test_sector_concentration_unpriced_symbol_in_the_sector_blocks_a_buy(closes: dict[str, float]) -> None:
    rule = make_rule("sector_concentration", max_fraction=0.5)
    book = make_book(
        closes,
        positions={"ORCL": 1000.0, "MSFT": 10.0, "YHOO": 300.0},
        sectors={"ORCL": "Information Technology", "MSFT": "Information Technology"},
        equity=None,
    )
    assert judge(rule, make_order("ORCL", quantity="10"), book)[:2] == ("block", "cannot measure: no price for MSFT")


# ------------------------------------------------------------------------------------ issuer_concentration


def _alphabet_book() -> BookState:
    # 40 GOOGL (42,216.40) + 30 GOOG (31,457.40) of one issuer: 73,673.80 of a NAV of 200,000 = 36.8%
    return BookState(
        portfolio="paper",
        ts=T0,
        positions={"GOOGL": 40.0, "GOOG": 30.0},
        cash=126_326.2,
        equity=200_000.0,
        prices={"GOOGL": GOOGL_CLOSE, "GOOG": GOOG_CLOSE},
        issuers={"GOOGL": "Alphabet", "GOOG": "Alphabet"},
    )


@pytest.mark.parametrize(
    ("quantity", "verdict", "reason"),
    [
        ("1", "pass", "issuer Alphabet would be 37.4% of NAV (at most 40.0%)"),
        ("4", "warn", "issuer Alphabet would be 38.9% of NAV, past the warning level 38.0% (at most 40.0%)"),
        ("10", "block", "issuer Alphabet would be 42.1% of NAV (at most 40.0%)"),
    ],
)
def test_issuer_concentration_share_classes_count_together(quantity: str, verdict: str, reason: str) -> None:
    warn_at = None if verdict == "pass" else 0.95
    rule = make_rule("issuer_concentration", max_fraction=0.40, warn_at=warn_at)
    got = judge(rule, make_order("GOOG", quantity=quantity), _alphabet_book())
    assert got[:2] == (verdict, reason)
    assert got[2]["issuer"] == "Alphabet"


def test_issuer_concentration_without_issuers_each_symbol_is_its_own_issuer() -> None:
    book = BookState(
        portfolio="paper",
        ts=T0,
        positions={"GOOGL": 40.0, "GOOG": 30.0},
        cash=126_326.2,
        equity=200_000.0,
        prices={"GOOGL": GOOGL_CLOSE, "GOOG": GOOG_CLOSE},
    )
    rule = make_rule("issuer_concentration", max_fraction=0.40)
    assert judge(rule, make_order("GOOG", quantity="10"), book)[:2] == (
        "pass",
        "issuer GOOG would be 21.0% of NAV (at most 40.0%)",
    )
    # the rule's own map joins them
    joined = make_rule("issuer_concentration", max_fraction=0.40, issuers={"GOOGL": "Alphabet", "GOOG": "Alphabet"})
    assert judge(joined, make_order("GOOG", quantity="10"), book)[:2] == (
        "block",
        "issuer Alphabet would be 42.1% of NAV (at most 40.0%)",
    )


def test_issuer_concentration_rule_map_overrides_the_books() -> None:
    rule = make_rule("issuer_concentration", max_fraction=0.40, issuers={"GOOGL": "Alphabet A"})
    assert judge(rule, make_order("GOOG", quantity="10"), _alphabet_book())[:2] == (
        "pass",
        "issuer Alphabet would be 21.0% of NAV (at most 40.0%)",
    )


# ------------------------------------------------------------------------------------ gross_exposure


@pytest.mark.parametrize(
    ("side", "quantity", "limit", "verdict", "reason"),
    [
        # gross 100,223.00 = 50.1% of NAV
        (Side.BUY, "10", 1.0, "pass", "gross exposure would be 50.3% of NAV (at most 100.0%)"),
        (
            Side.BUY,
            "10",
            0.55,
            "warn",
            "gross exposure would be 50.3% of NAV, past the warning level 49.5% (at most 55.0%)",
        ),
        (Side.BUY, "2000", 0.55, "block", "gross exposure would be 95.1% of NAV (at most 55.0%)"),
    ],
)
def test_gross_exposure_worked_examples(
    closes: dict[str, float], side: Side, quantity: str, limit: float, verdict: str, reason: str
) -> None:
    rule = make_rule("gross_exposure", max_fraction=limit, warn_at=0.9)
    assert judge(rule, make_order("ORCL", side, quantity), make_book(closes))[:2] == (verdict, reason)


def test_gross_exposure_counts_shorts_by_their_absolute_value(closes: dict[str, float]) -> None:
    # sell 3,000 of 2,000 NVDA: 1,000 short; gross 44,970.00 + 20,050.00 + 15,153.00 = 80,173.00 = 40.1%
    rule = make_rule("gross_exposure", max_fraction=0.3)
    verdict, reason, inputs = judge(rule, make_order("NVDA", Side.SELL, "3000"), make_book(closes))
    assert inputs["exposure_after"] == pytest.approx(80_172.99803)
    assert (verdict, reason) == (
        "pass",
        "gross exposure would be 40.1% of NAV, above the limit 30.0%, but the order lowers it from 50.1%",
    )


def test_gross_exposure_unpriced_holding_blocks_a_buy(closes: dict[str, float]) -> None:
    rule = make_rule("gross_exposure", max_fraction=2.0)
    book = make_book(closes, positions={"ORCL": 1000.0, "ZZZZ": 5.0, "YYYY": 1.0}, equity=None)
    assert judge(rule, make_order("ORCL"), book)[:2] == ("block", "cannot measure: no price for ZZZZ (and 1 more)")


def test_book_exposure_is_measured_once_per_evaluation(closes: dict[str, float]) -> None:
    order, book = (
        make_order("ORCL"),
        make_book(closes, pending={"NVDA": -500.0, "XOM": 10.0}, prices=closes | {"XOM": 76.94}),
    )
    measures = Measures(order, book, closes["ORCL"])
    first = book_exposure(order, book, measures)
    assert book_exposure(order, book, measures) is first
    # NVDA 1,500 × 20.049999 + YHOO 300 × 50.509998 + XOM (pending only) 10 × 76.94
    assert first.gross_others == pytest.approx(1500 * 20.049999 + 300 * 50.509998 + 769.4)
    assert first.sector_others == pytest.approx(1500 * 20.049999)
    assert (first.held_before, first.held_after, first.reduces) == (1000.0, 1100.0, False)


# ------------------------------------------------------------------------------------ short_sale


def test_short_sale_sell_of_the_whole_long_passes(closes: dict[str, float]) -> None:
    verdict, reason, inputs = judge(make_rule("short_sale"), make_order("ORCL", Side.SELL, "1000"), make_book(closes))
    assert (verdict, reason) == ("pass", "sells 1,000 of a long holding of 1,000 ORCL")
    assert inputs == {
        "symbol": "ORCL",
        "side": "sell",
        "quantity": 1000.0,
        "position": 1000.0,
        "pending": 0.0,
        "long_only": True,
    }


def test_short_sale_sell_beyond_the_long_blocks(closes: dict[str, float]) -> None:
    assert judge(make_rule("short_sale"), make_order("ORCL", Side.SELL, "1001"), make_book(closes))[:2] == (
        "block",
        "selling 1,001 ORCL would go short (holding 1,000): the book is long-only",
    )


def test_short_sale_working_sells_count(closes: dict[str, float]) -> None:
    book = make_book(closes, pending={"ORCL": -500.0})
    assert judge(make_rule("short_sale"), make_order("ORCL", Side.SELL, "600"), book)[:2] == (
        "block",
        "selling 600 ORCL would go short (holding 1,000 with -500 pending): the book is long-only",
    )


def test_short_sale_book_that_may_short_and_buys_pass(closes: dict[str, float]) -> None:
    rule = make_rule("short_sale")
    assert judge(rule, make_order("ORCL", Side.SELL, "5000"), make_book(closes, long_only=False))[:2] == (
        "pass",
        "the book may sell short",
    )
    assert judge(rule, make_order("ORCL", Side.BUY, "5000"), make_book(closes))[:2] == (
        "pass",
        "a buy of ORCL is not a short sale",
    )


def test_short_sale_severity_warn_still_says_block_for_the_engine_to_downgrade(closes: dict[str, float]) -> None:
    rule = make_rule("short_sale", severity="warn")
    assert judge(rule, make_order("YHOO", Side.SELL, "301"), make_book(closes))[0] == "block"


# ------------------------------------------------------------------------------------ price_collar


@pytest.mark.parametrize(
    ("order_type", "limit", "verdict", "reason"),
    [
        ("limit", "45.00", "pass", "limit 45.00 is 0.1% from the last price 44.97 (at most 10.0%)"),
        (
            "limit",
            "41.00",
            "warn",
            "limit 41.00 is 8.8% from the last price 44.97, past the warning level 8.0% (at most 10.0%)",
        ),
        ("limit", "50.00", "block", "limit 50.00 is 11.2% from the last price 44.97 (at most 10.0%)"),
        ("stop_limit", "36.00", "block", "limit 36.00 is 19.9% from the last price 44.97 (at most 10.0%)"),
    ],
)
def test_price_collar_worked_examples(
    closes: dict[str, float], order_type: str, limit: str, verdict: str, reason: str
) -> None:
    rule = make_rule("price_collar", max_deviation=0.10, warn_at=0.8)
    order = make_order("ORCL", order_type=order_type, limit=limit, stop="40.00" if order_type == "stop_limit" else None)
    assert judge(rule, order, make_book(closes))[:2] == (verdict, reason)


def test_price_collar_inputs(closes: dict[str, float]) -> None:
    rule = make_rule("price_collar", max_deviation=0.10)
    inputs = judge(rule, make_order("ORCL", order_type="limit", limit="50.00"), make_book(closes))[2]
    assert inputs == {
        "symbol": "ORCL",
        "order_type": "limit",
        "limit_price": 50.0,
        "last_price": 44.970001,
        "deviation": pytest.approx(50.0 / 44.970001 - 1.0),
    }


def test_price_collar_market_and_stop_orders_pass(closes: dict[str, float]) -> None:
    rule = make_rule("price_collar", max_deviation=0.10)
    book = make_book(closes)
    assert judge(rule, make_order("ORCL"), book)[:2] == ("pass", "a market order has no limit price to collar")
    assert judge(rule, make_order("ORCL", Side.SELL, order_type="stop", stop="30"), book)[:2] == (
        "pass",
        "a stop order has no limit price to collar",
    )


def test_price_collar_no_last_price_warns(closes: dict[str, float]) -> None:
    rule = make_rule("price_collar", max_deviation=0.10)
    assert judge(rule, make_order("ZZZZ", order_type="limit", limit="10"), make_book(closes))[:2] == (
        "warn",
        "no last price for ZZZZ: the limit 10.00 is not checked",
    )


def test_price_collar_deviation_equal_to_the_limit_passes() -> None:
    rule = make_rule("price_collar", max_deviation=0.25)
    inputs = {"symbol": "X", "order_type": "limit", "limit_price": 150.0, "last_price": 120.0, "deviation": 0.25}
    assert RULE_KINDS["price_collar"].decide(rule, inputs) == (
        "pass",
        "limit 150.00 is 25.0% from the last price 120.00 (at most 25.0%)",
    )


# ------------------------------------------------------------------------------------ duplicate_order


def _recent(
    seconds_ago: float, cid: str, *, quantity: str = "100", limit: str | None = "45.00", status: str = "accepted"
) -> RecentOrder:
    return RecentOrder(
        ts=T0 - pd.Timedelta(seconds=seconds_ago),
        client_order_id=cid,
        symbol="ORCL",
        side=Side.BUY,
        quantity=Decimal(quantity),
        order_type="limit" if limit is not None else "market",
        limit_price=None if limit is None else Decimal(limit),
        status=status,
    )


def test_duplicate_order_same_order_in_the_window_blocks(closes: dict[str, float]) -> None:
    book = make_book(
        closes, recent_orders=(_recent(90, "c-0"), _recent(30, "c-1"), _recent(10, "c-2", status="rejected"))
    )
    order = make_order("ORCL", quantity="100", order_type="limit", limit="45.00", client_order_id="c-3")
    verdict, reason, inputs = judge(make_rule("duplicate_order", window_seconds=60), order, book)
    assert (verdict, reason) == ("block", "same order (buy 100 ORCL limit 45.00) sent 30.0 s ago as c-1 (within 60 s)")
    assert inputs["matches"] == [{"client_order_id": "c-1", "age_seconds": 30.0}]


def test_duplicate_order_other_quantity_rejected_or_older_passes(closes: dict[str, float]) -> None:
    book = make_book(
        closes,
        recent_orders=(_recent(90, "c-0"), _recent(10, "c-2", status="rejected"), _recent(5, "c-4", quantity="101")),
    )
    order = make_order("ORCL", quantity="100", order_type="limit", limit="45.00")
    assert judge(make_rule("duplicate_order", window_seconds=60), order, book)[:2] == (
        "pass",
        "no identical order (buy 100 ORCL limit 45.00) in the last 60 s",
    )


def test_duplicate_order_market_orders_none_limit_equals_none(closes: dict[str, float]) -> None:
    book = make_book(closes, recent_orders=(_recent(2.5, "m-1", limit=None),))
    assert judge(make_rule("duplicate_order"), make_order("ORCL", quantity="100"), book)[:2] == (
        "block",
        "same order (buy 100 ORCL) sent 2.5 s ago as m-1 (within 60 s)",
    )


def test_duplicate_order_the_order_itself_is_not_its_duplicate(closes: dict[str, float]) -> None:
    book = make_book(closes, recent_orders=(_recent(1, "c-1"),))
    order = make_order("ORCL", quantity="100", order_type="limit", limit="45", client_order_id="c-1")
    assert judge(make_rule("duplicate_order"), order, book)[0] == "pass"


def test_duplicate_order_severity_warn_still_says_block(closes: dict[str, float]) -> None:
    book = make_book(closes, recent_orders=(_recent(1, "c-1"),))
    order = make_order("ORCL", quantity="100", order_type="limit", limit="45")
    assert judge(make_rule("duplicate_order", severity="warn"), order, book)[0] == "block"


# ------------------------------------------------------------------------------------ order_rate


@pytest.mark.parametrize(
    ("n_recent", "verdict", "reason"),
    [
        (2, "pass", "2 orders in the last 1 s (at most 5)"),
        (3, "warn", "3 orders in the last 1 s (at most 5): this one is order 4 of 5"),  # from 0.8 x 5 on
        (4, "warn", "4 orders in the last 1 s (at most 5): this one is order 5 of 5"),
        (5, "block", "5 orders in the last 1 s (at most 5)"),
    ],
)
def test_order_rate_worked_examples(closes: dict[str, float], n_recent: int, verdict: str, reason: str) -> None:
    old = (_recent(2.0, "old"),)  # outside the window
    recent = tuple(_recent(0.9 - 0.2 * i, f"c-{i}") for i in range(n_recent))
    book = make_book(closes, recent_orders=old + recent)
    rule = make_rule("order_rate", max_orders=5, per_seconds=1, warn_at=0.8)
    assert judge(rule, make_order("ORCL"), book) == (
        verdict,
        reason,
        {"orders_in_window": n_recent, "per_seconds": 1.0},
    )


# ------------------------------------------------------------------------------------ daily_loss_limit


@pytest.mark.parametrize(
    ("equity", "side", "verdict", "reason"),
    [
        (
            202_000.0,
            Side.BUY,
            "pass",
            "the book is up 1.0% today (equity 202,000.00 from 200,000.00) (the loss limit is 5.0%)",
        ),
        (
            194_000.0,
            Side.BUY,
            "warn",
            "the book is down 3.0% today (equity 194,000.00 from 200,000.00), past 50% of the loss limit 5.0%",
        ),
        (
            189_000.0,
            Side.BUY,
            "block",
            "the book is down 5.5% today (equity 189,000.00 from 200,000.00): the loss limit is 5.0%, "
            "only orders that reduce a position may be sent",
        ),
        (
            189_000.0,
            Side.SELL,
            "pass",
            "the book is down 5.5% today (equity 189,000.00 from 200,000.00), past the loss limit 5.0%, "
            "but the order only reduces the position",
        ),
    ],
)
def test_daily_loss_limit_worked_examples(
    closes: dict[str, float], equity: float, side: Side, verdict: str, reason: str
) -> None:
    rule = make_rule("daily_loss_limit", max_loss_fraction=0.05, warn_at=0.5)
    book = make_book(closes, equity=equity, start_of_day_equity=200_000.0)
    got = judge(rule, make_order("ORCL", side, "100"), book)
    assert got[:2] == (verdict, reason)
    assert got[2]["loss"] == pytest.approx(1 - equity / 200_000)


def test_daily_loss_limit_loss_exactly_at_the_limit_blocks(closes: dict[str, float]) -> None:
    rule = make_rule("daily_loss_limit", max_loss_fraction=0.05)
    inputs = {"symbol": "ORCL", "equity": 190_000.0, "start_of_day_equity": 200_000.0, "loss": 0.05, "reduces": False}
    assert RULE_KINDS["daily_loss_limit"].decide(rule, inputs)[0] == "block"


def test_daily_loss_limit_without_start_of_day_equity_passes(closes: dict[str, float]) -> None:
    rule = make_rule("daily_loss_limit", max_loss_fraction=0.05)
    assert judge(rule, make_order("ORCL"), make_book(closes, equity=1.0))[:2] == ("pass", "no start-of-day equity")


def test_daily_loss_limit_crossing_sell_is_not_reducing(closes: dict[str, float]) -> None:
    rule = make_rule("daily_loss_limit", max_loss_fraction=0.05)
    book = make_book(closes, equity=150_000.0, start_of_day_equity=200_000.0)
    assert judge(rule, make_order("ORCL", Side.SELL, "1500"), book)[0] == "block"


def test_daily_loss_limit_unknown_equity_blocks_a_buy(closes: dict[str, float]) -> None:
    rule = make_rule("daily_loss_limit", max_loss_fraction=0.05)
    book = make_book(closes, equity=None, start_of_day_equity=200_000.0)
    assert judge(rule, make_order("ORCL"), book)[:2] == ("block", "cannot measure: the book's equity is unknown")


# ------------------------------------------------------------------------------------ pattern_day_trader


def _day_trader_book(closes: Mapping[str, float], *, earlier: int, equity: float, ts: pd.Timestamp = T0) -> BookState:
    # day trades on Fri 2026-05-08 (outside the 5-session window of Fri 2026-05-15), then `earlier` inside it
    inside = [dt.date(2026, 5, 11), dt.date(2026, 5, 13), dt.date(2026, 5, 14)][:earlier]
    return make_book(
        closes, ts=ts, equity=equity, opened_today={"ORCL": 100.0}, day_trades=(dt.date(2026, 5, 8), *inside)
    )


@pytest.mark.parametrize(
    ("earlier", "equity", "verdict", "reason"),
    [
        (1, 20_000.0, "pass", "day trade 2 in 5 sessions (at most 3 with equity 20,000.00 under 25,000.00 USD)"),
        (2, 20_000.0, "warn", "day trade 3 in 5 sessions, the last allowed with equity 20,000.00 under 25,000.00 USD"),
        (
            3,
            20_000.0,
            "block",
            "day trade 4 in 5 sessions (at most 3 with equity 20,000.00 under 25,000.00 USD): a pattern day trader",
        ),
        (3, 30_000.0, "pass", "day trade 4 in 5 sessions, with equity 30,000.00 of at least 25,000.00 USD"),
    ],
)
def test_pattern_day_trader_worked_examples(
    closes: dict[str, float], earlier: int, equity: float, verdict: str, reason: str
) -> None:
    book = _day_trader_book(closes, earlier=earlier, equity=equity)
    got = judge(make_rule("pattern_day_trader"), make_order("ORCL", Side.SELL, "100"), book)
    assert got == (
        verdict,
        reason,
        {
            "symbol": "ORCL",
            "side": "sell",
            "opened_today": 100.0,
            "day_trade": True,
            "session": "2026-05-15",
            "window_start": "2026-05-11",
            "day_trades_in_window": earlier,
            "equity": equity,
        },
    )


def test_pattern_day_trader_an_order_closing_nothing_opened_today_passes(closes: dict[str, float]) -> None:
    book = _day_trader_book(closes, earlier=3, equity=1_000.0)
    rule = make_rule("pattern_day_trader")
    assert judge(rule, make_order("ORCL", Side.BUY, "100"), book)[:2] == (
        "pass",
        "not a day trade: it closes nothing of ORCL opened today",
    )
    assert judge(rule, make_order("NVDA", Side.SELL, "100"), book)[0] == "pass"


def test_pattern_day_trader_short_opened_today_then_bought_is_a_day_trade(closes: dict[str, float]) -> None:
    book = make_book(closes, equity=1_000.0, opened_today={"NVDA": -50.0}, day_trades=(dt.date(2026, 5, 14),) * 3)
    assert judge(make_rule("pattern_day_trader"), make_order("NVDA", Side.BUY, "50"), book)[0] == "block"


def test_pattern_day_trader_window_is_business_days_over_the_weekend(closes: dict[str, float]) -> None:
    # Monday 2026-05-18: the window is Tue 05-12 … Mon 05-18, so 05-11 drops out: 2 earlier, this is the 3rd
    monday = pd.Timestamp("2026-05-18 14:45", tz="UTC")
    book = _day_trader_book(closes, earlier=3, equity=20_000.0, ts=monday)
    verdict, _, inputs = judge(make_rule("pattern_day_trader"), make_order("ORCL", Side.SELL, "100"), book)
    assert (verdict, inputs["window_start"], inputs["day_trades_in_window"]) == ("warn", "2026-05-12", 2)


def test_pattern_day_trader_params_change_the_count_and_the_minimum(closes: dict[str, float]) -> None:
    book = _day_trader_book(closes, earlier=1, equity=40_000.0)
    rule = make_rule("pattern_day_trader", max_day_trades=1, min_equity_usd=50_000)
    assert judge(rule, make_order("ORCL", Side.SELL, "100"), book)[:2] == (
        "block",
        "day trade 2 in 5 sessions (at most 1 with equity 40,000.00 under 50,000.00 USD): a pattern day trader",
    )


def test_session_date_is_the_utc_date() -> None:
    assert session_date(pd.Timestamp("2026-05-15 20:59", tz="UTC")) == dt.date(2026, 5, 15)
    assert session_date(pd.Timestamp("2026-05-15 16:00", tz="America/New_York")) == dt.date(2026, 5, 15)


# ------------------------------------------------------------------------------------ intraday_margin


def _margin_book(closes: Mapping[str, float], equity: float) -> BookState:
    # 2,000 ORCL (89,940.00) + 1,000 NVDA (20,050.00): gross 109,990.00
    return make_book(
        closes, positions={"ORCL": 2000.0, "NVDA": 1000.0}, equity=equity, cash=equity - 109_990.0, long_only=False
    )


@pytest.mark.parametrize(
    ("side", "quantity", "equity", "verdict", "reason"),
    [
        (
            Side.BUY,
            "10",
            50_000.0,
            "pass",
            "equity 50,000.00 against 27,609.93 required (25.0% of the gross exposure 110,439.70 after the order)",
        ),
        (
            Side.BUY,
            "100",
            30_000.0,
            "warn",
            "equity 30,000.00 against 28,621.75 required (25.0% of the gross exposure 114,487.00 after the order): "
            "past 90% of the equity",
        ),
        (
            Side.BUY,
            "500",
            30_000.0,
            "block",
            "equity 30,000.00 against 33,118.75 required (25.0% of the gross exposure 132,475.00 after the order)",
        ),
        (
            Side.SELL,
            "500",
            20_000.0,
            "pass",
            "equity 20,000.00 against 21,876.25 required (25.0% of the gross exposure 87,505.00 after the order): "
            "the order does not raise the gross exposure",
        ),
    ],
)
def test_intraday_margin_worked_examples(
    closes: dict[str, float], side: Side, quantity: str, equity: float, verdict: str, reason: str
) -> None:
    rule = make_rule("intraday_margin", warn_at=0.9)
    got = judge(rule, make_order("ORCL", side, quantity), _margin_book(closes, equity))
    assert got[:2] == (verdict, reason)


def test_intraday_margin_inputs(closes: dict[str, float]) -> None:
    inputs = judge(make_rule("intraday_margin"), make_order("ORCL", Side.BUY, "500"), _margin_book(closes, 30_000.0))[2]
    assert inputs == {
        "symbol": "ORCL",
        "price": 44.970001,
        "equity": 30_000.0,
        "exposure_before": pytest.approx(109_990.001),
        "exposure_after": pytest.approx(132_475.0015),
        "reduces": False,
        "cannot_measure": None,
    }


def test_intraday_margin_unpriced_holding_blocks_a_buy_passes_a_sell(closes: dict[str, float]) -> None:
    book = make_book(closes, positions={"ORCL": 100.0, "ZZZZ": 1.0}, equity=None, long_only=False)
    rule = make_rule("intraday_margin")
    assert judge(rule, make_order("ORCL", Side.BUY), book)[:2] == ("block", "cannot measure: no price for ZZZZ")
    assert judge(rule, make_order("ORCL", Side.SELL, "50"), book)[:2] == (
        "pass",
        "cannot measure (no price for ZZZZ), but the order does not raise the gross exposure",
    )


# ------------------------------------------------------------------------------------ wash_sale


def test_wash_sale_is_post_trade_with_a_30_day_window(closes: dict[str, float]) -> None:
    kind = RULE_KINDS["wash_sale"]
    assert kind.stage == "post_trade" and not kind.compilable
    assert (
        [(p.name, p.default) for p in kind.params] == [("window_days", WASH_SALE_WINDOW_DAYS)] == [("window_days", 30)]
    )
    assert judge(make_rule("wash_sale"), make_order("ORCL", Side.SELL), make_book(closes))[:2] == (
        "pass",
        "wash sales are flagged after the trade (surveillance), not before it",
    )


# ------------------------------------------------------------------------------------ reduces


@pytest.mark.parametrize(
    ("position", "pending", "side", "quantity", "expected"),
    [
        (1000.0, 0.0, Side.SELL, "1000", True),
        (1000.0, 0.0, Side.SELL, "1001", False),  # crosses zero
        (1000.0, -900.0, Side.SELL, "200", False),  # the working sell already takes 900
        (0.0, 0.0, Side.SELL, "1", False),
        (-50.0, 0.0, Side.BUY, "50", True),
        (-50.0, 0.0, Side.SELL, "1", False),
    ],
)
def test_reduces_counts_the_working_orders(
    closes: dict[str, float], position: float, pending: float, side: Side, quantity: str, expected: bool
) -> None:
    book = make_book(closes, positions={"ORCL": position}, pending={"ORCL": pending})
    assert reduces(make_order("ORCL", side, quantity), book) is expected


# ------------------------------------------------------------------------------------ pack finra_day_trading


def _pack_rules(**pack_params: object) -> dict[str, Rule]:
    tables = PACKS["finra_day_trading"].expand(pack_params)
    rules = {}
    for table in tables:
        kind = str(table["kind"])
        params = {p.name: p.default for p in RULE_KINDS[kind].params if not p.required}
        params.update((k, v) for k, v in table.items() if k not in ("id", "kind", "effective_from", "effective_to"))
        rules[str(table["id"])] = Rule(
            id=str(table["id"]),
            kind=kind,
            params=params,
            effective_from=table.get("effective_from"),  # type: ignore[arg-type]
            effective_to=table.get("effective_to"),  # type: ignore[arg-type]
        )
    return rules


def test_finra_day_trading_default_switches_on_2026_06_01() -> None:
    tables = PACKS["finra_day_trading"].expand({})
    assert tables == (
        {"id": "pattern_day_trader", "kind": "pattern_day_trader", "effective_to": dt.date(2026, 5, 31)},
        {"id": "intraday_margin", "kind": "intraday_margin", "effective_from": dt.date(2026, 6, 1)},
    )
    assert [p.name for p in PACKS["finra_day_trading"].params] == [
        "switch_on",
        "min_equity_usd",
        "maintenance_fraction",
    ]


def test_finra_day_trading_passes_its_params_through() -> None:
    tables = PACKS["finra_day_trading"].expand(
        {"switch_on": dt.date(2027, 1, 4), "min_equity_usd": 30_000.0, "maintenance_fraction": 0.3}
    )
    assert tables == (
        {
            "id": "pattern_day_trader",
            "kind": "pattern_day_trader",
            "effective_to": dt.date(2027, 1, 3),
            "min_equity_usd": 30_000.0,
        },
        {
            "id": "intraday_margin",
            "kind": "intraday_margin",
            "effective_from": dt.date(2027, 1, 4),
            "maintenance_fraction": 0.3,
        },
    )


@pytest.mark.parametrize("switch_on", [dt.date(2026, 6, 1), dt.date(2027, 10, 1)])
def test_finra_day_trading_switch_on_at_the_phase_in_bounds_is_accepted(switch_on: dt.date) -> None:
    assert (dt.date(2026, 6, 1), dt.date(2027, 10, 1)) == INTRADAY_MARGIN_PHASE_IN
    assert len(PACKS["finra_day_trading"].expand({"switch_on": switch_on})) == 2


@pytest.mark.parametrize("switch_on", [dt.date(2026, 5, 31), dt.date(2027, 10, 2)])
def test_finra_day_trading_switch_on_outside_the_phase_in_raises(switch_on: dt.date) -> None:
    with pytest.raises(
        InvalidInputError, match=rf"switch_on must lie within 2026-06-01 … 2027-10-01 .*got {switch_on}"
    ):
        PACKS["finra_day_trading"].expand({"switch_on": switch_on})


def test_finra_day_trading_switch_on_not_a_date_raises() -> None:
    with pytest.raises(InvalidInputError, match="switch_on must be a date, got '2026-09-01'"):
        PACKS["finra_day_trading"].expand({"switch_on": "2026-09-01"})


def test_finra_day_trading_rules_on_each_side_of_switch_on(closes: dict[str, float]) -> None:
    # the same day trade by a USD 20,000 account, on the last legacy session and on the first amended one
    rules = _pack_rules(switch_on=dt.date(2026, 9, 1))
    legacy, amended = rules["pattern_day_trader"], rules["intraday_margin"]
    before, on = dt.date(2026, 8, 31), dt.date(2026, 9, 1)
    assert (legacy.applies("paper", before), amended.applies("paper", before)) == (True, False)
    assert (legacy.applies("paper", on), amended.applies("paper", on)) == (False, True)
    for day, rule, verdict in [(before, legacy, "block"), (on, amended, "pass")]:
        ts = pd.Timestamp(day).tz_localize("UTC") + pd.Timedelta(hours=15)
        book = make_book(
            closes,
            ts=ts,
            equity=20_000.0,
            positions={"ORCL": 100.0},
            opened_today={"ORCL": 100.0},
            day_trades=(day - dt.timedelta(days=1),) * 3,
        )
        # a day trade that lowers the gross: blocked by the legacy minimum, allowed under intraday margin
        assert judge(rule, make_order("ORCL", Side.SELL, "100"), book)[0] == verdict


# ---------------------------------------------------------------------- through the rules file and the engine

PACK_FILE = """\
version = 1

[[rule]]
id = "restricted"
kind = "restricted_list"
symbols = ["ORCL"]
severity = "warn"

[[pack]]
name = "finra_day_trading"
switch_on = 2026-09-01
min_equity_usd = 30_000
"""


def test_rules_file_with_the_pack_parses_into_two_dated_rules() -> None:
    rules = parse_rules(PACK_FILE, source="compliance.toml")
    by_id = {r.id: r for r in rules.rules}
    assert list(by_id) == ["restricted", "pattern_day_trader", "intraday_margin"]
    legacy, amended = by_id["pattern_day_trader"], by_id["intraday_margin"]
    assert (legacy.kind, legacy.effective_from, legacy.effective_to) == (
        "pattern_day_trader",
        None,
        dt.date(2026, 8, 31),
    )
    assert (amended.kind, amended.effective_from, amended.effective_to) == (
        "intraday_margin",
        dt.date(2026, 9, 1),
        None,
    )
    assert dict(legacy.params) == {"max_day_trades": 3, "sessions": 5, "min_equity_usd": 30_000.0}
    assert dict(amended.params) == {"maintenance_fraction": 0.25, "warn_at": None}
    assert [r.id for r in rules.effective("paper", dt.date(2026, 8, 31))] == ["restricted", "pattern_day_trader"]
    assert [r.id for r in rules.effective("paper", dt.date(2026, 9, 1))] == ["restricted", "intraday_margin"]


def test_rules_file_with_switch_on_outside_the_phase_in_is_refused_naming_the_line() -> None:
    text = PACK_FILE.replace("switch_on = 2026-09-01", "switch_on = 2027-10-02")
    with pytest.raises(
        RulesFileError, match=r"compliance.toml:11: pack 'finra_day_trading': switch_on must lie within"
    ):
        parse_rules(text, source="compliance.toml")


def test_engine_applies_the_pack_by_session_date_and_the_severity(closes: dict[str, float]) -> None:
    engine = ComplianceEngine(parse_rules(PACK_FILE, source="compliance.toml"))
    order = make_order("ORCL", Side.SELL, "100")
    for day, expected in [
        ("2026-08-31", {"restricted": "warn", "pattern_day_trader": "block"}),
        ("2026-09-01", {"restricted": "warn", "intraday_margin": "pass"}),
    ]:
        book = make_book(
            closes,
            ts=pd.Timestamp(f"{day} 15:00", tz="UTC"),
            equity=20_000.0,
            opened_today={"ORCL": 100.0},
            day_trades=(dt.date(2026, 8, 28),) * 3,
        )
        decision = engine.evaluate(order, book)
        assert {r.rule: r.verdict for r in decision.results} == expected
    # the restricted list's block is only a warning under severity "warn"; its reason is the kind's
    assert decision.results[0].reason == "ORCL is on the restricted list"


def test_rules_file_every_kind_with_its_required_params_parses() -> None:
    required = {
        "restricted_list": 'symbols = ["ORCL"]',
        "max_order_quantity": "max_shares = 1000",
        "max_order_notional": "max_notional_usd = 50000",
        "max_position_pct_nav": "max_fraction = 0.1",
        "sector_concentration": "max_fraction = 0.3",
        "issuer_concentration": 'max_fraction = 0.3\nissuers = { GOOG = "Alphabet", GOOGL = "Alphabet" }',
        "gross_exposure": "max_fraction = 1.5\nwarn_at = 0.9",
        "short_sale": "",
        "price_collar": "max_deviation = 0.1",
        "duplicate_order": "",
        "order_rate": "max_orders = 10",
        "daily_loss_limit": "max_loss_fraction = 0.05",
        "pattern_day_trader": "",
        "intraday_margin": "",
        "wash_sale": "",
    }
    assert set(required) == set(RULE_KINDS)
    text = "".join(f'[[rule]]\nid = "{k}"\nkind = "{k}"\n{params}\n\n' for k, params in required.items())
    rules = parse_rules(text)
    assert [r.kind for r in rules.rules] == list(required)
    assert rules.rule("gross_exposure", rules.rules[6].version).params["warn_at"] == 0.9


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("warn_at = 1.0", "warn_at"),
        ("warn_at = 0", "warn_at"),
        ("max_deviation = 0", "max_deviation"),
        ("max_deviation = -0.1", "max_deviation"),
    ],
)
def test_rules_file_price_collar_out_of_bounds_params_are_refused(line: str, message: str) -> None:
    text = f'[[rule]]\nid = "collar"\nkind = "price_collar"\nmax_deviation = 0.1\n{line}\n'
    if line.startswith("max_deviation"):
        text = f'[[rule]]\nid = "collar"\nkind = "price_collar"\n{line}\n'
    with pytest.raises(RulesFileError, match=message):
        parse_rules(text)


def test_book_exposure_non_finite_price_counts_as_unpriced(closes: dict[str, float]) -> None:
    book = make_book(closes, prices=closes | {"NVDA": math.nan, "YHOO": math.inf}, equity=200_000.0)
    order = make_order("ORCL")
    x = book_exposure(order, book, Measures(order, book, closes["ORCL"]))
    assert (x.gross_others, x.unpriced) == (0.0, ("NVDA", "YHOO"))
    assert judge(make_rule("gross_exposure", max_fraction=2.0), order, book)[:2] == (
        "block",
        "cannot measure: no price for NVDA (and 1 more)",
    )
    # the position rule needs only ORCL's price and the NAV
    assert judge(make_rule("max_position_pct_nav", max_fraction=0.5), order, book)[0] == "pass"


def test_issuer_concentration_rule_map_counts_pending_shares() -> None:
    book = BookState(
        portfolio="paper",
        ts=T0,
        positions={"GOOGL": 40.0},
        pending={"GOOG": 30.0},
        cash=126_326.2,
        equity=200_000.0,
        prices={"GOOGL": GOOGL_CLOSE, "GOOG": GOOG_CLOSE},
    )
    rule = make_rule("issuer_concentration", max_fraction=0.40, issuers={"GOOGL": "Alphabet", "GOOG": "Alphabet"})
    assert judge(rule, make_order("GOOGL", quantity="8"), book)[:2] == (
        "block",
        "issuer Alphabet would be 41.1% of NAV (at most 40.0%)",
    )


def test_business_days_back_matches_numpy_busday_offset() -> None:
    start = dt.date(2026, 5, 1)
    for offset in range(21):
        day = start + dt.timedelta(days=offset)
        for n in range(12):
            expected = pd.Timestamp(np.busday_offset(np.datetime64(day, "D"), -n, roll="backward")).date()
            assert _business_days_back(day, n) == expected, (day, n)


def test_limit_decision_on_inputs_with_no_equity_blocks_without_dividing_by_zero() -> None:
    rule = make_rule("gross_exposure", max_fraction=1.0)
    inputs = {"symbol": "ORCL", "price": 44.97, "equity": 0.0, "exposure_before": 0.0, "exposure_after": 10.0,
              "reduces": False, "cannot_measure": None}  # fmt: skip
    assert RULE_KINDS["gross_exposure"].decide(rule, inputs) == ("block", "cannot measure: the book's equity is 0.00")


# ---------------------------------------------------------------------------------------- properties

_SYMBOLS = ("ORCL", "NVDA", "YHOO", "ZZZZ")
_RULES = (
    make_rule("restricted_list", symbols=["ORCL"]),
    make_rule("max_order_quantity", max_shares=500, warn_at=0.5),
    make_rule("max_order_notional", max_notional_usd=20_000, warn_at=0.5),
    make_rule("max_position_pct_nav", max_fraction=0.2, warn_at=0.5),
    make_rule("sector_concentration", max_fraction=0.3, warn_at=0.5),
    make_rule("issuer_concentration", max_fraction=0.2, issuers={"NVDA": "ORCL"}),
    make_rule("gross_exposure", max_fraction=1.0, warn_at=0.5),
    make_rule("short_sale"),
    make_rule("price_collar", max_deviation=0.1, warn_at=0.5),
    make_rule("duplicate_order"),
    make_rule("order_rate", max_orders=3, per_seconds=10),
    make_rule("daily_loss_limit", max_loss_fraction=0.05, warn_at=0.5),
    make_rule("pattern_day_trader"),
    make_rule("intraday_margin", warn_at=0.5),
    make_rule("wash_sale"),
)
_money_st = st.floats(-1e7, 1e7, allow_nan=False)
_price_st = st.one_of(st.none(), st.floats(0.01, 5_000), st.sampled_from([math.nan, math.inf, 0.0]))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[ProposedOrder, BookState]:
    symbol = draw(st.sampled_from(_SYMBOLS))
    order_type = draw(st.sampled_from(["market", "limit", "stop", "stop_limit"]))
    limit = draw(st.decimals("0.01", "10000", places=2)) if order_type in ("limit", "stop_limit") else None
    stop = draw(st.decimals("0.01", "10000", places=2)) if order_type in ("stop", "stop_limit") else None
    order = ProposedOrder(
        portfolio="paper",
        symbol=symbol,
        side=draw(st.sampled_from(list(Side))),
        quantity=draw(st.decimals("0.001", "1000000", places=3)),
        order_type=order_type,  # type: ignore[arg-type]
        limit_price=limit,
        stop_price=stop,
    )
    shares = st.floats(-5_000, 5_000, allow_nan=False)
    recent = tuple(
        RecentOrder(
            ts=T0 - pd.Timedelta(seconds=draw(st.floats(-5, 120))),
            client_order_id=f"r{i}",
            symbol=draw(st.sampled_from(_SYMBOLS)),
            side=draw(st.sampled_from(list(Side))),
            quantity=order.quantity,
            order_type=order.order_type,
            limit_price=order.limit_price,
            status=draw(st.sampled_from(["filled", "rejected", "accepted"])),
        )
        for i in range(draw(st.integers(0, 5)))
    )
    book = BookState(
        portfolio="paper",
        ts=T0,
        positions=draw(st.dictionaries(st.sampled_from(_SYMBOLS), shares, max_size=4)),
        pending=draw(st.dictionaries(st.sampled_from(_SYMBOLS), shares, max_size=2)),
        prices={s: p for s in _SYMBOLS if (p := draw(_price_st)) is not None},
        cash=draw(_money_st),
        equity=draw(st.one_of(st.none(), _money_st)),
        start_of_day_equity=draw(st.one_of(st.none(), _money_st)),
        sectors={"ORCL": "Information Technology", "NVDA": "Information Technology"},
        recent_orders=recent,
        day_trades=tuple(draw(st.lists(st.dates(dt.date(2026, 5, 1), dt.date(2026, 5, 15)), max_size=5))),
        opened_today=draw(st.dictionaries(st.sampled_from(_SYMBOLS), shares, max_size=2)),
        long_only=draw(st.booleans()),
    )
    return order, book


@settings(max_examples=60, deadline=None)
@given(_cases())
def test_every_kind_on_any_book_gives_finite_json_inputs_and_replays(case: tuple[ProposedOrder, BookState]) -> None:
    order, book = case
    for rule in _RULES:
        verdict, reason, _ = judge(rule, order, book)  # judge asserts JSON-only inputs and the replay
        assert verdict in ("pass", "warn", "block") and reason


@settings(max_examples=40, deadline=None)
@given(_cases(), st.decimals("0.001", "1000", places=3))
def test_exposure_limits_a_larger_buy_never_turns_a_block_into_a_pass(
    case: tuple[ProposedOrder, BookState], extra: Decimal
) -> None:
    order, book = case
    if order.side is not Side.BUY:
        return
    bigger = ProposedOrder(
        portfolio=order.portfolio,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity + extra,
        order_type=order.order_type,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
    )
    for kind in (
        "max_position_pct_nav",
        "gross_exposure",
        "max_order_notional",
        "max_order_quantity",
        "intraday_margin",
    ):
        (rule,) = [r for r in _RULES if r.kind == kind]
        if (
            judge(rule, order, book)[0] == "block"
            and book.position(order.symbol) + book.pending.get(order.symbol, 0) >= 0
        ):
            assert judge(rule, bigger, book)[0] == "block", kind


@pytest.mark.parametrize(
    "kind", ["max_order_quantity", "max_order_notional", "max_position_pct_nav", "gross_exposure", "short_sale"]
)
def test_order_quantity_a_float_cannot_hold_raises_naming_it(closes: dict[str, float], kind: str) -> None:
    # Decimal("1e400") is a finite Decimal but an infinite float: never an inf in the inputs
    order = make_order("ORCL", quantity="1e400", client_order_id="c-9")
    params = {p.name: 1.0 if p.required else p.default for p in RULE_KINDS[kind].params}
    rule = Rule(id=kind, kind=kind, params=params)
    with pytest.raises(InvalidInputError, match=r"order c-9: quantity 1E\+400 is out of range \(expected a finite"):
        RULE_KINDS[kind].gather(rule, order, make_book(closes), Measures(order, make_book(closes), 44.97))


def test_order_limit_price_out_of_range_raises_naming_it(closes: dict[str, float]) -> None:
    order = make_order("ORCL", order_type="limit", limit="1e16")
    rule = make_rule("price_collar", max_deviation=0.1)
    with pytest.raises(InvalidInputError, match=r"order ORCL: limit_price 1E\+16 is out of range"):
        judge(rule, order, make_book(closes))


def test_daily_loss_limit_start_of_day_equity_too_small_to_measure_is_finite_and_blocks(
    closes: dict[str, float],
) -> None:
    # equity / 1e-309 overflows to inf: the inputs stay finite JSON and the rule cannot measure (found by Hypothesis)
    rule = make_rule("daily_loss_limit", max_loss_fraction=0.05)
    book = make_book(closes, equity=1.0, start_of_day_equity=2.2e-309)
    verdict, reason, inputs = judge(rule, make_order("ORCL", quantity="10"), book)
    assert inputs["loss"] is None and json.loads(json.dumps(inputs, allow_nan=False)) == inputs
    assert verdict == "block" and reason == "cannot measure: no loss measurable from a start-of-day equity of 2.2e-309"


# ------------------------------------------------------- QA F5/F14: "at most" and "from" at the boundary


@pytest.mark.parametrize("limit", ["55.00", "45.00"])
def test_price_collar_exactly_at_the_limit_passes_both_sides(closes: dict[str, float], limit: str) -> None:
    # abs(55 / 50 - 1) is 0.10000000000000009 in float: exactly 10% all the same, as 45.00 is
    rule = make_rule("price_collar", max_deviation=0.10)
    book = make_book(closes, prices={"TST": 50.0})
    verdict, reason, _ = judge(rule, make_order("TST", quantity="10", order_type="limit", limit=limit), book)
    assert (verdict, reason) == ("pass", f"limit {limit} is 10.0% from the last price 50.00 (at most 10.0%)")


@pytest.mark.parametrize(("limit", "shown"), [("55.01", "10.02%"), ("44.99", "10.02%")])
def test_price_collar_just_past_the_limit_blocks_showing_why(closes: dict[str, float], limit: str, shown: str) -> None:
    rule = make_rule("price_collar", max_deviation=0.10)
    book = make_book(closes, prices={"TST": 50.0})
    verdict, reason, _ = judge(rule, make_order("TST", quantity="10", order_type="limit", limit=limit), book)
    assert (verdict, reason) == ("block", f"limit {limit} is {shown} from the last price 50.00 (at most 10.0%)")


@pytest.mark.parametrize(("limit", "verdict"), [("52.50", "warn"), ("47.50", "warn"), ("52.49", "pass")])
def test_price_collar_warns_from_the_warning_level_inclusive(
    closes: dict[str, float], limit: str, verdict: str
) -> None:
    rule = make_rule("price_collar", max_deviation=0.10, warn_at=0.5)
    book = make_book(closes, prices={"TST": 50.0})
    assert judge(rule, make_order("TST", quantity="10", order_type="limit", limit=limit), book)[0] == verdict


@pytest.mark.parametrize(("quantity", "verdict"), [("179", "pass"), ("180", "warn"), ("200", "warn"), ("201", "block")])
def test_max_order_quantity_warns_from_warn_at_inclusive(closes: dict[str, float], quantity: str, verdict: str) -> None:
    rule = make_rule("max_order_quantity", max_shares=200, warn_at=0.9)
    assert judge(rule, make_order("ORCL", quantity=quantity), make_book(closes))[0] == verdict


@pytest.mark.parametrize(("quantity", "verdict"), [("179", "pass"), ("180", "warn"), ("200", "warn"), ("201", "block")])
def test_max_order_notional_warns_from_warn_at_inclusive(closes: dict[str, float], quantity: str, verdict: str) -> None:
    # limit 55.55: 180 x 55.55 = 9,999.00 is exactly 90% of 11,110 (in float 9998.999999999998)
    rule = make_rule("max_order_notional", max_notional_usd=11_110.0, warn_at=0.9)
    order = make_order("ORCL", quantity=quantity, order_type="limit", limit="55.55")
    assert judge(rule, order, make_book(closes))[0] == verdict


def test_max_position_exactly_at_the_limit_passes_just_above_blocks(closes: dict[str, float]) -> None:
    # flat book, equity 10,000: 19 shares at 10.56 = 2.0064% of NAV (0.020064000000000002 in float)
    rule = make_rule("max_position_pct_nav", max_fraction=0.020064, warn_at=0.5)
    book = make_book(closes, positions={}, cash=10_000.0, equity=10_000.0, prices={"TST": 10.56})
    verdict, reason, _ = judge(rule, make_order("TST", quantity="19"), book)
    assert (verdict, reason) == (
        "warn",
        "position in TST would be 2.0% of NAV, past the warning level 1.0% (at most 2.0%)",
    )
    verdict, reason, _ = judge(rule, make_order("TST", quantity="20"), book)
    assert (verdict, reason) == ("block", "position in TST would be 2.1% of NAV (at most 2.0%)")
    narrow = make_rule("max_position_pct_nav", max_fraction=0.02)  # 2.0064% against 2%: digits enough to differ
    assert judge(narrow, make_order("TST", quantity="19"), book)[:2] == (
        "block",
        "position in TST would be 2.01% of NAV (at most 2.0%)",
    )


def test_daily_loss_exactly_at_the_limit_blocks_and_warns_from_warn_at(closes: dict[str, float]) -> None:
    rule = make_rule("daily_loss_limit", max_loss_fraction=0.07, warn_at=0.5)
    at = make_book(closes, equity=93_000.0, start_of_day_equity=100_000.0)  # 1 - 0.93 = 0.06999999999999995
    assert judge(rule, make_order("ORCL"), at)[0] == "block"
    warn = make_book(closes, equity=96_500.0, start_of_day_equity=100_000.0)  # 3.5%, exactly 0.5 x 7%
    assert judge(rule, make_order("ORCL"), warn)[0] == "warn"


def test_limit_tolerance_is_the_kernels() -> None:
    from bifrost.compliance._kinds import LIMIT_TOLERANCE
    from bifrost.strategy import _kernel

    assert _kernel._LIMIT_TOL == LIMIT_TOLERANCE == 1e-9
