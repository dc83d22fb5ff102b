"""`bifrost orders` and `bifrost book state` on the paper broker and ORCL's real bars (flows: tests/execution).

Each test gets its own copy of one store (ORCL's backtrader file, portfolio P1: a 100,000 deposit
and 100 ORCL bought at 37.84 on 2014-01-02), and runs the command in process through
`bifrost.cli.main`, as the console script does; one test runs it as a real subprocess. The
store's last bar is 2014-12-31: a market order now has no later bar and fills at that close.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bifrost.cli import main
from bifrost.compliance import export_audit
from bifrost.data import EmbeddedStore
from bifrost.execution import OrderManager, OrderRequest, PaperBroker
from bifrost.portfolio import CashFlow, CashKind, record_transactions
from bifrost.testing import AlpacaStandIn
from tests.cli import bifrost
from tests.conftest import ORCL

TXNS = "txn_id,ts,type,symbol,quantity,price,amount\n1,2014-01-02,deposit,,,,100000\n2,2014-01-02,buy,ORCL,100,37.84,\n"
LAST_CLOSE = 44.970001  # ORCL's close on 2014-12-31, the file's last line
BUY = ["orders", "submit", "--portfolio", "P1", "--symbol", "ORCL", "--side", "buy"]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _json(*argv: str, code: int = 0) -> Any:
    done, out, err = _run(*argv, "--json")
    assert done == code, f"{argv}: exit {done}, stderr {err!r}"
    return json.loads(out)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cli-orders")
    (base / "txns.csv").write_text(TXNS)
    assert bifrost(base / "home", "data", "ingest", "csv", str(ORCL), "--symbol", "ORCL").returncode == 0
    assert bifrost(base / "home", "portfolio", "import", "P1", str(base / "txns.csv")).returncode == 0
    return base / "home"


@pytest.fixture
def home(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # a copy of the template store for this test alone, the embedded backend and the paper broker
    copy = tmp_path / "home"
    shutil.copytree(template, copy)
    monkeypatch.setenv("BIFROST_HOME", str(copy))
    for name in ("BIFROST_DATABASE_URL", "BIFROST_CONFIG", "BIFROST_BROKER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return copy


def _audit(home: Path) -> list[dict[str, Any]]:
    out = io.StringIO()
    with EmbeddedStore(home) as store:
        export_audit(store, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _position(symbol: str = "ORCL") -> float:
    shown = _json("portfolio", "show", "P1")
    return float(next(p["quantity"] for p in shown["positions"] if p["symbol"] == symbol))


def test_cli_orders_submit_market_fills_at_the_last_close_and_the_ledger_holds_it(home: Path) -> None:
    answer = _json(*BUY, "--quantity", "10")
    assert answer["status"] == "filled" and answer["reasons"] == []
    assert answer["filled_quantity"] == 10 and answer["fill_basis"] == "last_close"
    assert answer["avg_fill_price"] == pytest.approx(LAST_CLOSE, abs=0.005)
    assert answer["client_order_id"] and answer["order_id"]
    assert _position() == 110  # 100 imported + 10 filled: the fill is in the portfolio's ledger
    (listed,) = _json("orders", "list")
    assert {k: listed[k] for k in ("order_id", "client_order_id", "symbol", "side", "status")} == {
        "order_id": answer["order_id"], "client_order_id": answer["client_order_id"], "symbol": "ORCL",
        "side": "buy", "status": "filled",
    }  # fmt: skip
    assert listed["quantity"] == listed["filled_quantity"] == 10


def test_cli_orders_submit_after_a_job_advanced_the_venue_to_a_past_day_still_fills_at_the_last_close(
    home: Path,
) -> None:
    # a job (paper_rebalance) steps the paper venue to its day's session end; the command line's now is
    # the wall clock, so a market order fills at the last close at once, not at the next past open
    day_end = pd.Timestamp("2014-06-02 23:00", tz="UTC")
    with EmbeddedStore(home) as store:
        venue = PaperBroker(store, clock=lambda: day_end)
        working = OrderRequest.create(
            portfolio="P1", symbol="ORCL", side="buy", quantity=1, order_type="limit", limit_price="38.00",
            time_in_force="gtc",
        )  # fmt: skip
        OrderManager(store, venue, clock=lambda: day_end).submit(working)  # inside the 10% collar (close 41.97)
        venue.advance(day_end)
    answer = _json(*BUY, "--quantity", "3")
    assert answer["status"] == "filled" and answer["fill_basis"] == "last_close"
    assert answer["avg_fill_price"] == LAST_CLOSE


def test_cli_orders_submit_text_says_what_filled_and_at_what(home: Path) -> None:
    code, out, err = _run(*BUY, "--quantity", "5")
    assert code == 0 and err == ""
    assert out.startswith("order ") and out.endswith(": buy 5 ORCL market day: filled 5 at 44.970001 (last close)\n")


def test_cli_orders_submit_rejected_by_a_risk_limit_exits_1_with_the_reason(home: Path) -> None:
    # 1,000 ORCL is about 45,000 on a book of about 107,000: above the default 10% single-name limit
    answer = _json(*BUY, "--quantity", "1000", code=1)
    assert answer["status"] == "rejected" and answer["filled_quantity"] == 0
    assert any("single_name" in r for r in answer["reasons"]), answer["reasons"]
    assert _position() == 100
    (listed,) = _json("orders", "list", "--portfolio", "P1")
    assert listed["status"] == "rejected"  # a rejection is an order, recorded and visible


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--quantity", "nan"], "quantity"),
        (["--quantity", "0"], "quantity"),
        (["--quantity", "-5"], "quantity"),
        (["--quantity", "1e308"], "quantity"),
        (["--quantity", "ten"], "quantity"),
        (["--quantity", "1", "--type", "limit"], "limit_price"),
        (["--quantity", "1", "--type", "limit", "--limit-price", "44.123"], "tick"),
        (["--quantity", "1", "--type", "stop_limit", "--limit-price", "44.10"], "stop_price"),
        (["--quantity", "1", "--type", "limit", "--limit-price", "inf"], "limit_price"),
    ],
)
def test_cli_orders_submit_invalid_request_exits_2_naming_the_field_and_changes_no_order(
    home: Path, extra: list[str], field: str
) -> None:
    before = _audit(home)
    code, out, err = _run(*BUY, *extra, "--json")
    assert code == 2 and out == "", (code, out, err)
    assert err.count("\n") == 1 and err.startswith("bifrost: error: ") and field in err, err
    assert _json("orders", "list") == []
    assert _position() == 100
    (refused,) = _audit(home)[len(before) :]  # nothing changed but the audit trail: one order.refused record
    assert refused["kind"] == "order.refused" and field in refused["payload"]["error"]
    asked = refused["payload"]["request"]  # as given, not as reprs; an id not given is null (QA: "None", "'44.123'")
    assert asked["client_order_id"] is None and asked["quantity"] == extra[1] and asked["symbol"] == "ORCL"


def test_cli_orders_submit_unknown_symbol_exits_2_naming_it(home: Path) -> None:
    code, _, err = _run(*[a if a != "ORCL" else "NOPE" for a in BUY], "--quantity", "1")
    assert code == 2 and err.count("\n") == 1 and "NOPE" in err, err
    assert _json("orders", "list") == []


def test_cli_orders_submit_unknown_portfolio_exits_2_naming_it(home: Path) -> None:
    code, _, err = _run(*[a if a != "P1" else "NOSUCH" for a in BUY], "--quantity", "1")
    assert code == 2 and err.count("\n") == 1 and "NOSUCH" in err, err


def test_cli_orders_submit_same_client_order_id_returns_the_first_order(home: Path) -> None:
    first = _json(*BUY, "--quantity", "3", "--client-order-id", "mine-1")
    again = _json(*BUY, "--quantity", "3", "--client-order-id", "mine-1")
    assert again["order_id"] == first["order_id"] and again["client_order_id"] == "mine-1"
    assert len(_json("orders", "list")) == 1
    assert _position() == 103  # filled once


def test_cli_orders_limit_rests_then_show_lists_its_events_and_cancel_cancels_it(home: Path) -> None:
    # below the last close 44.97, inside the default 10% price collar: it rests (no later bar)
    working = _json(*BUY, "--quantity", "2", "--type", "limit", "--limit-price", "41.00", "--tif", "gtc")
    assert working["status"] == "accepted" and working["filled_quantity"] == 0 and working["fill_basis"] is None
    shown = _json("orders", "show", working["order_id"])
    assert [e["type"] for e in shown["events"]][:2] == ["submitted", "accepted"]
    assert shown["limit_price"] == 41.0 and shown["time_in_force"] == "gtc"
    canceled = _json("orders", "cancel", working["client_order_id"])  # by its client id too
    assert canceled["order_id"] == working["order_id"] and canceled["status"] in ("canceled", "pending_cancel")
    assert _json("orders", "show", working["order_id"])["status"] == "canceled"
    assert _json("orders", "cancel", working["order_id"])["status"] == "canceled"  # again: as it is


def test_cli_orders_submit_shows_a_compliance_warning_and_show_lists_every_checks_decision(home: Path) -> None:
    # the default rules warn on the same order again within 5 s (duplicate_order): it passes, and says so
    first = _json(*BUY, "--quantity", "3")
    assert first["status"] == "filled" and first["warnings"] == []
    code, out, _ = _run(*BUY, "--quantity", "3")
    assert code == 0, out
    line = out.splitlines()[1]
    assert line.startswith("  warning: compliance: duplicate_order: same order (buy 3 ORCL) sent ")
    assert line.endswith(f"as {first['order_id']} (within 5 s)")
    shown = _json("orders", "show", first["order_id"])
    assert [(c["check"], c["verdict"]) for c in shown["checks"]] == [
        ("risk_limits", "pass"), ("trading_state", "pass"), ("compliance", "pass"),
    ]  # fmt: skip
    code, out, _ = _run("orders", "show", first["order_id"])
    assert code == 0 and "pre-trade checks:" in out and "compliance" in out


def test_cli_orders_limit_20pct_from_the_last_close_exits_1_with_the_collar_rule_in_reasons(home: Path) -> None:
    # the default compliance rules' price collar: a limit more than 10% from the last close (44.97) is blocked
    blocked = _json(*BUY, "--quantity", "2", "--type", "limit", "--limit-price", "53.96", code=1)
    assert blocked["status"] == "rejected" and blocked["filled_quantity"] == 0
    assert blocked["reasons"] == [
        "compliance: price_collar: limit 53.96 is 20.0% from the last price 44.97 (at most 10.0%)"
    ]
    assert _position() == 100  # nothing was sent
    kinds = [r["kind"] for r in _audit(home)]
    assert "compliance.rules" in kinds and "fill" not in kinds[kinds.index("compliance.rules") :]


def test_cli_orders_submit_with_a_typo_in_the_homes_rules_file_exits_2_naming_line_and_key(home: Path) -> None:
    (home / "compliance.toml").write_text('[[rule]]\nid = "collar"\nkind = "price_collar"\nmax_deviaton = 0.1\n')
    code, out, err = _run(*BUY, "--quantity", "1")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "compliance.toml:4" in err and "max_deviaton" in err
    assert _json("orders", "list") == [] and _position() == 100  # nothing was sent


def test_cli_orders_cancel_of_a_filled_order_exits_1_and_leaves_it_filled(home: Path) -> None:
    filled = _json(*BUY, "--quantity", "1")
    again = _json("orders", "cancel", filled["order_id"], code=1)
    assert again["status"] == "filled" and again["filled_quantity"] == 1


def test_cli_orders_show_and_cancel_of_an_unknown_order_exit_2(home: Path) -> None:
    for verb in ("show", "cancel"):
        code, _, err = _run("orders", verb, "NOSUCH-ORDER")
        assert code == 2 and err.count("\n") == 1 and "NOSUCH-ORDER" in err, err


def test_cli_orders_list_of_an_unknown_portfolio_exits_2(home: Path) -> None:
    code, _, err = _run("orders", "list", "--portfolio", "NOSUCH")
    assert code == 2 and "NOSUCH" in err and err.count("\n") == 1, err


def test_cli_book_state_halted_rejects_new_orders_and_reducing_passes_only_sells(home: Path) -> None:
    assert _json("book", "state") == [{"portfolio": "P1", "state": "active"}]
    assert _json("book", "state", "P1", "--set", "halted", "--reason", "test halt") == {
        "portfolio": "P1", "state": "halted",
    }  # fmt: skip
    halted = _json(*BUY, "--quantity", "1", code=1)
    assert halted["status"] == "rejected" and any("halted" in r for r in halted["reasons"]), halted
    assert _json("book", "state", "P1", "--set", "reducing")["state"] == "reducing"
    assert _json(*BUY, "--quantity", "1", code=1)["status"] == "rejected"  # a buy grows the long
    sell = [a if a != "buy" else "sell" for a in BUY]
    assert _json(*sell, "--quantity", "40")["status"] == "filled"  # a sell reduces it
    assert _position() == 60
    code, out, _ = _run("book", "state", "P1")
    assert code == 0 and out.split() == ["P1", "reducing"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["book", "state", "--set", "halted"], "--set needs the PORTFOLIO"),
        (["book", "state", "P1", "--reason", "why"], "--reason goes with --set"),
        (["book", "state", "NOSUCH"], "no portfolio 'NOSUCH'"),
        (["book", "state", "P1", "--set", "paused"], "Invalid value for '--set'"),
    ],
)
def test_cli_book_state_bad_request_exits_2(home: Path, argv: list[str], message: str) -> None:
    code, _, err = _run(*argv)
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_cli_orders_on_alpaca_without_keys_exits_2_naming_the_settings(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIFROST_BROKER", "alpaca")
    for name in ("BIFROST_ALPACA_KEY_ID", "BIFROST_ALPACA_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = _run(*BUY, "--quantity", "1")
    assert code == 2 and err.count("\n") == 1 and "BIFROST_ALPACA_KEY_ID" in err, err


# the Alpaca account is new: its portfolio holds cash only (P1's 100 imported ORCL are not at Alpaca, and a
# manager reconciles before it sends: the broker's positions are authoritative, so P1 would be refused)
ALP_BUY = ["orders", "submit", "--portfolio", "ALP", "--symbol", "ORCL", "--side", "buy"]


def _on_alpaca(monkeypatch: pytest.MonkeyPatch, alpaca: AlpacaStandIn) -> None:
    deposit = CashFlow(
        txn_id="d1", ts=pd.Timestamp("2014-01-02", tz="UTC"), kind=CashKind.DEPOSIT, amount=Decimal(100_000)
    )
    with EmbeddedStore(Path(os.environ["BIFROST_HOME"])) as store:
        record_transactions(store, "ALP", [deposit], create=True)
    monkeypatch.setenv("BIFROST_BROKER", "alpaca")
    monkeypatch.setenv("BIFROST_ALPACA_KEY_ID", alpaca.key_id)
    monkeypatch.setenv("BIFROST_ALPACA_SECRET_KEY", alpaca.secret_key)
    monkeypatch.setenv("BIFROST_ALPACA_BASE_URL", alpaca.base_url)


def test_cli_orders_on_alpaca_go_to_its_api_with_the_client_order_id(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Alpaca's documented orders API, served by the local stand-in (these machines cannot reach Alpaca)
    with AlpacaStandIn() as alpaca:
        _on_alpaca(monkeypatch, alpaca)
        limit = ["--type", "limit", "--limit-price", "41.00", "--tif", "gtc", "--client-order-id", "alp-1"]
        sent = _json(*ALP_BUY, "--quantity", "2", *limit)
        assert sent["status"] == "accepted" and sent["client_order_id"] == "alp-1" and sent["broker_order_id"]
        assert _json("orders", "cancel", "alp-1")["status"] == "pending_cancel"  # Alpaca confirms on its stream
        posts = [r.body for r in alpaca.requests if (r.method, r.path) == ("POST", "/v2/orders")]
    assert len(posts) == 1 and posts[0] is not None
    assert posts[0]["client_order_id"] == "alp-1" and posts[0]["limit_price"] == "41.00"
    assert ("DELETE", f"/v2/orders/{sent['broker_order_id']}") in [(r.method, r.path) for r in alpaca.requests]


def test_cli_orders_on_alpaca_a_5xx_leaves_the_order_in_doubt_until_the_next_command_asks_for_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with AlpacaStandIn() as alpaca:
        _on_alpaca(monkeypatch, alpaca)
        alpaca.fail_next(503, method="POST", path="/v2/orders", process=True)  # placed, but the answer is lost
        doubt = _json(*ALP_BUY, "--quantity", "2", "--client-order-id", "alp-2", code=1)
        assert doubt["in_doubt"] is True and doubt["status"] == "submitted"
        assert _json("orders", "show", "alp-2")["in_doubt"] is True
        _json(*ALP_BUY, "--quantity", "1", "--client-order-id", "alp-3")  # asks Alpaca for alp-2 before it sends
        resolved = _json("orders", "show", "alp-2")
        posts = [r.body for r in alpaca.requests if (r.method, r.path) == ("POST", "/v2/orders")]
    assert resolved["in_doubt"] is False and resolved["status"] == "accepted"
    assert [p["client_order_id"] for p in posts if p] == ["alp-2", "alp-3"]  # alp-2 was never sent again


def test_cli_orders_submit_as_a_subprocess_prints_the_contract_json(home: Path) -> None:
    done = bifrost(home, *BUY, "--quantity", "1", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert {"order_id", "client_order_id", "status", "reasons", "filled_quantity", "avg_fill_price",
            "fill_basis"} <= set(answer)  # fmt: skip
    assert answer["status"] == "filled" and answer["fill_basis"] == "last_close"


class _Killed(BaseException):
    pass


def _die_at(step: str) -> Any:
    def on_step(name: str) -> None:
        if name == step:
            raise _Killed(name)  # as a SIGKILL there would: nothing after this step happens

    return on_step


def test_cli_orders_next_command_reconciles_an_order_a_killed_process_left_submitted(home: Path) -> None:
    # the process died after the intent was durable and before the broker heard of it (QA: such orders
    # stayed `submitted` forever, since only a reconcile settles them): the next command reconciles first
    with EmbeddedStore(home) as store, contextlib.suppress(_Killed):
        request = OrderRequest.create(portfolio="P1", symbol="ORCL", side="buy", quantity=1, client_order_id="k1")
        OrderManager(store, PaperBroker(store), on_step=_die_at("intent_durable")).submit(request)
    assert _json("orders", "show", "k1")["status"] == "submitted"  # reading settles nothing
    assert _json(*BUY, "--quantity", "2", "--client-order-id", "k2")["status"] == "filled"
    settled = _json("orders", "show", "k1")
    assert settled["status"] == "rejected" and "never received" in " ".join(settled["reasons"])
    assert [o["client_order_id"] for o in _json("orders", "list") if o["status"] == "filled"] == ["k2"]
    assert "reconcile" in [r["kind"] for r in _audit(home)]


def test_cli_orders_client_order_id_that_is_another_orders_id_exits_2(home: Path) -> None:
    # found by QA: the new order was then unreachable by the id its sender chose (show/cancel found the other)
    first = _json(*BUY, "--quantity", "1", "--client-order-id", "c1")
    code, _, err = _run(*BUY, "--quantity", "2", "--client-order-id", first["order_id"], "--json")
    assert code == 2 and "is the order id of another order" in err, err
    assert [o["order_id"] for o in _json("orders", "list")] == [first["order_id"]]
