"""Replaying the recorded pre-trade compliance decisions (replay_decisions) from the audit trail.

Orders go through the order manager with the real paper broker on ORCL's real bars (backtrader's
orcl-1995-2014.txt: closes 2010-01-04 24.85, 2010-01-07 24.379999); the rules file has a collar in two
dated versions (10% to 2010-01-06, 5% from 2010-01-07) and is edited while the manager runs.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bifrost.compliance import verify_audit
from bifrost.compliance._replay import MISMATCH_COLUMNS, ReplayReport, replay_decisions
from bifrost.data import AUDIT_SCHEMA, BarStore, Store, append_audit
from bifrost.errors import InvalidInputError, NotFoundError
from bifrost.execution import OrderManager, OrderRequest, OrderStatus, OrderType, PaperBroker, Side, TimeInForce
from bifrost.execution._checks import PreTradeCheck, RiskLimitCheck, TradingStateCheck
from bifrost.execution._compliance import ComplianceCheck
from tests.conftest import embedded_and_postgres
from tests.execution._crash_child import Clock, day, seed

RULES = """\
[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.10
effective_to = 2010-01-06

[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.05
effective_from = 2010-01-07

[[rule]]
id = "duplicate_order"
kind = "duplicate_order"
window_seconds = 5
severity = "warn"

[[rule]]
id = "big_orders"
kind = "max_order_quantity"
max_shares = 1000
"""
EDITED = RULES.replace("max_shares = 1000", "max_shares = 500")


def _write(path: Path, text: str) -> None:
    # edited in place: a later modification time, as an editor saving it would leave
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def _order(coid: str, quantity: int = 100, price: str | None = None, portfolio: str = "P0") -> OrderRequest:
    kind = {} if price is None else {"order_type": OrderType.LIMIT, "limit_price": Decimal(price),
                                     "time_in_force": TimeInForce.GTC}  # fmt: skip
    return OrderRequest(portfolio=portfolio, symbol="ORCL", side=Side.BUY, quantity=Decimal(quantity),
                        client_order_id=coid, **kind)  # type: ignore[arg-type]  # fmt: skip


def _run(store: Store, path: Path, portfolio: str = "P0") -> dict[str, OrderStatus]:
    # a week of varied orders: passes, warnings and blocks under two collar versions and two rules texts
    _write(path, RULES)
    clock = Clock(day(0, 0))  # Monday 2010-01-04 after the close (24.85): the 10% collar
    broker = PaperBroker(store, clock=clock)
    checks: list[PreTradeCheck] = [RiskLimitCheck(store), TradingStateCheck(), ComplianceCheck(store, path)]
    manager = OrderManager(store, broker, clock=clock, checks=checks)
    p = portfolio.lower()
    sent = {}

    def send(request: OrderRequest) -> None:
        request = OrderRequest(
            **{**{f: getattr(request, f) for f in request.__dataclass_fields__}, "portfolio": portfolio}
        )
        sent[request.client_order_id or ""] = manager.submit(request).status

    send(_order(f"{p}-a"))  # pass
    clock.now += pd.Timedelta(seconds=2)
    send(_order(f"{p}-b"))  # the same 2 s later: warns (duplicate)
    send(_order(f"{p}-c", 10, "23.00"))  # 7.4% under: inside 10%
    send(_order(f"{p}-d", 10, "29.82"))  # 20% over: collar blocks
    send(_order(f"{p}-e", 2000))  # above 1,000 shares: blocks
    clock.now = day(0, 3)  # Thursday 2010-01-07 (24.379999): the 5% collar
    broker.advance(clock.now)
    manager.process_events()
    send(_order(f"{p}-f", 10, "23.00"))  # 5.7% under: blocked now
    send(_order(f"{p}-g", 10, "23.50"))  # 3.6% under: passes
    _write(path, EDITED)  # the file is edited while the manager runs: 500 shares at most
    send(_order(f"{p}-h", 800))  # blocked under the edited rules
    send(_order(f"{p}-i", 400))  # passes
    clock.now += pd.Timedelta(seconds=1)
    send(_order(f"{p}-j", 400))  # the same 1 s later: warns
    return sent


def _compliance_records(store: Store) -> list[dict[str, Any]]:
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        rows = db.rows("SELECT seq, kind, subject, payload FROM {t}audit_log ORDER BY seq")
    return [
        {"seq": int(s), "kind": k, "subject": sub, "payload": json.loads(p)}
        for s, k, sub, p in rows
        if k == "compliance.rules" or (k == "pretrade.decision" and json.loads(p)["check"] == "compliance")
    ]


@embedded_and_postgres
def test_replay_of_a_varied_run_under_two_rule_versions_reproduces_every_decision(
    seeded: BarStore, tmp_path: Path
) -> None:
    # Arrange
    sent = _run(seeded, tmp_path / "compliance.toml")
    assert [sent[k] is OrderStatus.REJECTED for k in sorted(sent)] == [
        False, False, False, True, True, True, False, True, False, False,
    ]  # fmt: skip
    records = _compliance_records(seeded)
    decisions = [r["payload"] for r in records if r["kind"] == "pretrade.decision"]
    assert [d["verdict"] for d in decisions] == [
        "pass", "warn", "pass", "block", "block", "block", "pass", "block", "pass", "warn",
    ]  # fmt: skip
    versions = {(r["rule"], r["version"]) for d in decisions for r in d["inputs"]["rules"]}
    assert len(versions) == 5  # collar 10% and 5%, the duplicate filter, the 1,000- and 500-share limits
    # Act
    report = replay_decisions(seeded)
    # Assert: every decision and every rule result reproduced, under the two rules texts
    assert report.ok and report.mismatches.empty, report.mismatches.to_string()
    assert (report.n_decisions, report.n_results, report.n_rules) == (10, 30, 30)
    rules = [r["payload"] for r in records if r["kind"] == "compliance.rules"]
    assert report.rules_hashes == tuple(r["hash"] for r in rules) and len(rules) == 2
    # the rules file's change is audited by its hash, with the text and the hash it replaced
    assert [r["text"] for r in rules] == [RULES, EDITED]
    assert rules[1]["previous_hash"] == rules[0]["hash"] and rules[0]["previous_hash"] is None
    assert verify_audit(seeded).ok


@pytest.fixture
def seeded(store: BarStore) -> BarStore:
    seed(store, 2)  # ORCL; P0 and P1 with 1,000,000 each
    return store


def _forge(store: Store, subject: str, payload: dict[str, Any]) -> None:
    # a decision appended through the audit trail's own writer: the chain stays intact, the content is wrong
    with store.transaction(schema=AUDIT_SCHEMA, lock="forgery") as db:
        append_audit(db, "pretrade.decision", subject, payload)


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_replay_of_tampered_decisions_reports_each_mismatch_without_raising(seeded: BarStore, tmp_path: Path) -> None:
    _run(seeded, tmp_path / "compliance.toml")
    real = [r for r in _compliance_records(seeded) if r["kind"] == "pretrade.decision"]
    fat = real[3]["payload"]  # p0-d: the collar's block
    # (1) a decision under a rules text whose hash was never recorded
    unknown = json.loads(json.dumps(fat))
    unknown["inputs"]["rules_hash"] = "f" * 64
    _forge(seeded, "x-unknown-hash", unknown)
    # (2) a known rules text, a version it does not have
    version = json.loads(json.dumps(fat))
    version["inputs"]["rules"][0]["version"] = "000000000000"
    _forge(seeded, "x-unknown-version", version)
    # (3) the recorded verdict turned into a pass
    lenient = json.loads(json.dumps(fat))
    lenient["verdict"], lenient["reason"] = "pass", ""
    lenient["inputs"]["rules"][0]["verdict"] = "pass"
    _forge(seeded, "x-lenient", lenient)
    # (4) a rule left out of the decision
    short = json.loads(json.dumps(real[0]["payload"]))
    short["inputs"]["rules"] = short["inputs"]["rules"][1:]
    _forge(seeded, "x-rule-left-out", short)
    # (5) inputs that are not what the kind gathered
    garbled = json.loads(json.dumps(fat))
    garbled["inputs"]["rules"][0]["inputs"] = {"limit_price": "a lot"}
    _forge(seeded, "x-garbled", garbled)
    # Act
    report = replay_decisions(seeded)
    # Assert: reported, not raised; the chain itself is intact (the forgeries went through the writer)
    assert not report.ok and report.n_decisions == 15
    found = report.mismatches
    assert list(found.columns) == MISMATCH_COLUMNS and found["seq"].dtype == "int64"
    rows: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in found.to_dict(orient="records")]

    def of(coid: str, rule: str | None = None) -> list[dict[str, Any]]:
        return [r for r in rows if r["client_order_id"] == coid and rule in (None, r["rule"])]

    assert {r["client_order_id"] for r in rows} == {
        "x-unknown-hash", "x-unknown-version", "x-lenient", "x-rule-left-out", "x-garbled",
    }  # fmt: skip
    unknown_hash = of("x-unknown-hash")
    assert len(unknown_hash) == 3  # each of its three results
    assert all("no compliance.rules record of the rules hash" in r["replayed"] for r in unknown_hash)
    (missing,) = of("x-unknown-version", "collar")
    assert "has no version '000000000000'" in missing["replayed"]
    (collar,) = of("x-lenient", "collar")
    assert collar["recorded"] == "pass: limit 29.82 is 20.0% from the last price 24.85 (at most 10.0%)"
    assert collar["replayed"] == "block: limit 29.82 is 20.0% from the last price 24.85 (at most 10.0%)"
    (decision,) = of("x-lenient", "(decision)")
    assert decision["recorded"] == "pass: " and decision["replayed"].startswith("block: collar: limit 29.82")
    (left_out,) = of("x-rule-left-out")
    assert left_out["rule"] == "(decision)" and left_out["replayed"].startswith("in force on 2010-01-04: collar@")
    (garbled_collar,) = of("x-garbled", "collar")  # read as an order without a limit price
    assert garbled_collar["recorded"].startswith("block: ") and garbled_collar["replayed"].startswith("pass: ")
    assert verify_audit(seeded).ok


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_replay_of_one_portfolio_counts_only_its_decisions(seeded: BarStore, tmp_path: Path) -> None:
    _run(seeded, tmp_path / "p0.toml", "P0")
    _run(seeded, tmp_path / "p1.toml", "P1")
    # Act
    one = replay_decisions(seeded, portfolio="P1")
    every = replay_decisions(seeded)
    # Assert
    assert one.ok and every.ok
    assert (one.n_decisions, one.n_results, every.n_decisions) == (10, 30, 20)
    assert one.summary().to_dict(orient="records") == [
        {"portfolio": "P1", "n_decisions": 10, "n_results": 30, "n_rulesets": 2, "n_mismatches": 0, "ok": True}
    ]
    with pytest.raises(InvalidInputError):
        replay_decisions(seeded, portfolio="")
    with pytest.raises(NotFoundError, match=r"no portfolio 'NOSUCH' in the store \(portfolios: P0, P1\)"):
        replay_decisions(seeded, portfolio="NOSUCH")


def test_replay_report_shows_its_mismatches_in_html_and_json() -> None:
    # Arrange: a report as replay_decisions makes one, with one mismatch
    frame = pd.DataFrame(
        [{"seq": 7, "client_order_id": "o<1>", "rule": "collar", "version": "abc", "recorded": "pass: ",
          "replayed": "block: limit 29.82 is 20.0% from the last price 24.85"}],
        columns=MISMATCH_COLUMNS,
    )  # fmt: skip
    report = ReplayReport(n_decisions=1, n_results=1, mismatches=frame, rules_hashes=("h",))
    # Act / Assert
    assert not report.ok and str(report).endswith("1 mismatch(es)")
    assert "o&lt;1&gt;" in report._repr_html_() and "<table>" in report._repr_html_()
    data: dict[str, Any] = report.to_dict()
    assert data["ok"] is False and data["mismatches"][0]["seq"] == 7
    assert json.loads(json.dumps(data)) == data
