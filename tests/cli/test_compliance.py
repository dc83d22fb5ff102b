"""`bifrost compliance` (rules, check, surveil, replay) on ORCL's real bars (the library: tests/compliance).

Each test gets its own copy of one store: ORCL's backtrader file (last close 44.970001 on
2014-12-31), portfolio P1 (a 100,000 deposit and 100 ORCL bought at 37.84 on 2014-01-02) and
portfolio P2 (a wash sale: 100 ORCL bought at 37.84 on 2014-01-02, sold at the close of
2014-02-03, 35.84, and bought back the next day at its close, 35.96). Commands run in process
through `bifrost.cli.main`, as the console script does; one runs as a real subprocess.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bifrost.cli import main
from bifrost.compliance import export_audit
from bifrost.data import AUDIT_SCHEMA, EmbeddedStore, append_audit
from tests.cli import bifrost
from tests.conftest import ORCL

P1_TXNS = (
    "txn_id,ts,type,symbol,quantity,price,amount\n1,2014-01-02,deposit,,,,100000\n2,2014-01-02,buy,ORCL,100,37.84,\n"
)
P2_TXNS = (
    "txn_id,ts,type,symbol,quantity,price,amount\n"
    "1,2014-01-02,deposit,,,,100000\n"
    "2,2014-01-02,buy,ORCL,100,37.84,\n"
    "3,2014-02-03,sell,ORCL,100,35.84,\n"
    "4,2014-02-04,buy,ORCL,100,35.96,\n"
)
LAST_CLOSE = 44.970001  # ORCL's close on 2014-12-31, the file's last line
FAR = "35.98"  # 20.0% below the last close: beyond the default collar's 10%
NEAR = "42.72"  # 5.0% below it: inside
CHECK = ["compliance", "check", "--portfolio", "P1", "--symbol", "ORCL", "--side", "buy", "--quantity", "10"]

RESTRICTED = """\
[[rule]]
id = "restricted"
kind = "restricted_list"
symbols = ["ORCL"]
"""
TYPO = """\
version = 1

[[rule]]
id = "collar"
kind = "price_collar"
max_deviaton = 0.10
"""
DATED = """\
version = 1

[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.10
effective_to = 2026-06-30

[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.05
effective_from = 2026-07-01

[[rule]]
id = "restricted"
kind = "restricted_list"
symbols = ["NVDA"]
portfolios = ["P1"]
"""
WARN_COLLAR = """\
[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.10
severity = "warn"
"""
# P1's 100 ORCL are 3.8% of its NAV on 2014-01-02 and pass 4% once ORCL closes above about 40.09
# (2014-03-31: 40.91) with no trade that day: a breach by a price move
SURVEIL = """\
[[rule]]
id = "position"
kind = "max_position_pct_nav"
max_fraction = 0.04

[[rule]]
id = "wash"
kind = "wash_sale"
window_days = 30
"""


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _json(*argv: str, code: int = 0) -> Any:
    done, out, err = _run(*argv, "--json")
    assert done == code, f"{argv}: exit {done}, stderr {err!r}"
    return json.loads(out)


def _bad(*argv: str) -> str:
    # a refused command: exit 2, nothing on stdout, one line on stderr (no traceback); returns that line
    code, out, err = _run(*argv)
    assert code == 2 and out == "", (code, out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # built in process (the subprocess path is tested once below): the commands as users type them
    base = tmp_path_factory.mktemp("cli-compliance")
    (base / "p1.csv").write_text(P1_TXNS)
    (base / "p2.csv").write_text(P2_TXNS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIFROST_HOME", str(base / "home"))
        for name in ("BIFROST_DATABASE_URL", "BIFROST_CONFIG", "BIFROST_BROKER", "BIFROST_COMPLIANCE_RULES"):
            patch.delenv(name, raising=False)
        made = _run("data", "ingest", "csv", str(ORCL), "--symbol", "ORCL")
        assert made[0] == 0, made
        for name in ("P1", "P2"):
            done = _run("portfolio", "import", name, str(base / f"{name.lower()}.csv"))
            assert done[0] == 0, done
    return base / "home"


@pytest.fixture
def home(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # a copy of the template store for this test alone, the embedded backend, the paper broker, no rules setting
    copy = tmp_path / "home"
    shutil.copytree(template, copy)
    monkeypatch.setenv("BIFROST_HOME", str(copy))
    for name in ("BIFROST_DATABASE_URL", "BIFROST_CONFIG", "BIFROST_BROKER", "BIFROST_COMPLIANCE_RULES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return copy


def _file(tmp_path: Path, text: str, name: str = "compliance.toml") -> Path:
    path = tmp_path / "rules" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _state() -> tuple[Any, int]:
    # what a dry run must leave as it was: the audit trail's head and the stored orders
    return _json("audit", "head"), len(_json("orders", "list"))


# --- rules ------------------------------------------------------------------------------------


def test_cli_compliance_rules_without_a_file_shows_the_default_with_its_collar(home: Path) -> None:
    from bifrost.compliance import DEFAULT_RULES_TOML

    shown = _json("compliance", "rules")
    assert shown["source"] == "default" and shown["hash"] == _sha256(DEFAULT_RULES_TOML)
    (collar,) = [r for r in shown["rules"] if r["id"] == "price_collar"]
    assert collar["kind"] == "price_collar" and collar["severity"] == "block" and collar["version"]
    assert collar["params"]["max_deviation"] == 0.10 and collar["portfolios"] == []
    code, out, err = _run("compliance", "rules")
    assert code == 0 and err == ""
    head, *table = out.splitlines()
    assert head.startswith(f"rules: default, hash {shown['hash']}: ")
    assert table[0].split() == ["id", "kind", "version", "severity", "effective", "portfolios", "params"]
    (row,) = [line for line in table if line.startswith("price_collar ")]
    assert "max_deviation=0.1" in row and " all " in row


def test_cli_compliance_rules_reads_the_homes_compliance_toml_then_the_rules_option(home: Path, tmp_path: Path) -> None:
    (home / "compliance.toml").write_text(RESTRICTED)
    shown = _json("compliance", "rules")
    assert shown["source"] == str(home / "compliance.toml") and shown["hash"] == _sha256(RESTRICTED)
    assert [(r["id"], r["kind"], r["params"]["symbols"]) for r in shown["rules"]] == [
        ("restricted", "restricted_list", ["ORCL"])
    ]
    dated = _json("compliance", "rules", "--rules", str(_file(tmp_path, DATED)))
    assert [(r["id"], r["effective_from"], r["effective_to"]) for r in dated["rules"]] == [
        ("collar", None, "2026-06-30"), ("collar", "2026-07-01", None), ("restricted", None, None),
    ]  # fmt: skip
    assert dated["rules"][0]["version"] != dated["rules"][1]["version"]  # two versions of one rule
    assert dated["rules"][2]["portfolios"] == ["P1"]


def test_cli_compliance_rules_check_of_a_good_file_counts_rules_and_versions(home: Path, tmp_path: Path) -> None:
    path = _file(tmp_path, DATED)
    code, out, err = _run("compliance", "rules", "--check", str(path))
    assert code == 0 and err == ""
    assert out == f"{path}: ok, 2 rules (3 versions), hash {_sha256(DATED)}\n"
    checked = _json("compliance", "rules", "--check", str(path))
    assert checked == {"file": str(path), "ok": True, "rules": 2, "versions": 3, "hash": _sha256(DATED)}


def test_cli_compliance_rules_check_of_a_typo_exits_2_naming_the_line_and_the_key(home: Path, tmp_path: Path) -> None:
    path = _file(tmp_path, TYPO)
    err = _bad("compliance", "rules", "--check", str(path))
    assert err.startswith("bifrost: error: ") and "compliance.toml:6: " in err, err  # the key's line
    assert "'max_deviaton'" in err and "max_deviation" in err, err  # the key, and what it should be


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[[rule]]\nid = "collar"\nkind = "price_collar"\nmax_deviation = nan\n', "max_deviation"),
        ('[[rule]]\nid = "collar"\nkind = "price_colar"\nmax_deviation = 0.1\n', "price_colar"),
        ('[[rule]]\nid = "collar"\nkind = "price_collar"\n', "max_deviation"),
        ('[[rule]]\nid = "collar"\nkind = "price_collar"\nmax_deviation = 0.1\nseverity = "stop"\n', "severity"),
        ("[[rule]\n", "compliance.toml:1"),
    ],
)
def test_cli_compliance_rules_check_of_a_bad_file_exits_2_naming_what(
    home: Path, tmp_path: Path, text: str, named: str
) -> None:
    err = _bad("compliance", "rules", "--check", str(_file(tmp_path, text)))
    assert named in err and "compliance.toml" in err, err


def test_cli_compliance_rules_check_of_a_missing_file_exits_2_naming_it(home: Path, tmp_path: Path) -> None:
    err = _bad("compliance", "rules", "--check", str(tmp_path / "nosuch.toml"))
    assert "nosuch.toml" in err, err


def test_cli_compliance_rules_check_and_rules_together_exit_2(home: Path, tmp_path: Path) -> None:
    path = str(_file(tmp_path, DATED))
    assert "--check" in _bad("compliance", "rules", "--check", path, "--rules", path)


# --- check ------------------------------------------------------------------------------------


def test_cli_compliance_check_limit_20_percent_off_is_blocked_by_the_default_collar_and_writes_nothing(
    home: Path,
) -> None:
    before = _state()
    decided = _json(*CHECK, "--type", "limit", "--limit-price", FAR, code=1)
    assert decided["verdict"] == "block" and decided["rules_source"] == "default"
    (collar,) = [r for r in decided["results"] if r["rule"] == "price_collar"]
    assert collar["verdict"] == "block" and collar["kind"] == "price_collar" and collar["version"]
    assert collar["inputs"]["last_price"] == LAST_CLOSE  # the store's last close is the reference
    assert collar["inputs"]["deviation"] == pytest.approx(1 - 35.98 / LAST_CLOSE, rel=1e-12)  # 0.19991 > 0.10
    assert "price_collar" in decided["reason"]
    assert decided["order"] == {
        "portfolio": "P1", "symbol": "ORCL", "side": "buy", "order_type": "limit", "quantity": 10.0,
        "limit_price": 35.98, "stop_price": None,
    }  # fmt: skip
    assert [r["rule"] for r in decided["results"] if r["verdict"] == "block"] == ["price_collar"]
    code, out, err = _run(*CHECK, "--type", "limit", "--limit-price", FAR)
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("buy 10 ORCL limit at 35.98 in P1: rules default, hash ")
    assert lines[1].split() == ["rule", "kind", "version", "verdict", "reason"]
    assert any(line.startswith("price_collar ") and " block " in line for line in lines[2:-1]), out
    assert lines[-1].startswith("verdict: block (price_collar: ")
    assert _state() == before  # a dry run: no audit record, no order


def test_cli_compliance_check_limit_5_percent_off_passes_the_collar_exit_0(home: Path) -> None:
    before = _state()
    decided = _json(*CHECK, "--type", "limit", "--limit-price", NEAR)
    assert decided["verdict"] in ("pass", "warn")
    (collar,) = [r for r in decided["results"] if r["rule"] == "price_collar"]
    assert collar["verdict"] != "block"
    code, out, _ = _run(*CHECK, "--type", "limit", "--limit-price", NEAR)
    assert code == 0 and out.splitlines()[-1].startswith(f"verdict: {decided['verdict']}")
    assert _state() == before


def test_cli_compliance_check_with_a_restricted_list_file_blocks_the_symbol(home: Path, tmp_path: Path) -> None:
    path = _file(tmp_path, RESTRICTED)
    decided = _json(*CHECK, "--rules", str(path), code=1)
    assert decided["rules_hash"] == _sha256(RESTRICTED) and decided["rules_source"] == str(path)
    assert [(r["rule"], r["verdict"]) for r in decided["results"]] == [("restricted", "block")]
    assert decided["reason"].startswith("restricted: ") and "ORCL" in decided["reason"]
    other = [a if a != "P1" else "P2" for a in CHECK]  # the same file, another portfolio: still restricted
    assert _json(*other, "--rules", str(path), code=1)["verdict"] == "block"


def test_cli_compliance_check_a_warn_rule_that_trips_exits_0_with_verdict_warn(home: Path, tmp_path: Path) -> None:
    path = _file(tmp_path, WARN_COLLAR)
    decided = _json(*CHECK, "--type", "limit", "--limit-price", FAR, "--rules", str(path))
    assert decided["verdict"] == "warn" and [r["verdict"] for r in decided["results"]] == ["warn"]
    assert decided["reason"].startswith("collar: ")
    code, out, _ = _run(*CHECK, "--type", "limit", "--limit-price", FAR, "--rules", str(path))
    assert code == 0 and out.splitlines()[-1].startswith("verdict: warn (collar: ")


def test_cli_compliance_check_uses_the_compliance_rules_setting(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIFROST_COMPLIANCE_RULES", str(_file(tmp_path, RESTRICTED)))
    decided = _json(*CHECK, code=1)
    assert decided["rules_hash"] == _sha256(RESTRICTED) and decided["results"][0]["rule"] == "restricted"
    assert _json("compliance", "rules")["hash"] == _sha256(RESTRICTED)


def test_cli_compliance_check_under_an_empty_rules_file_passes_with_no_rule(home: Path, tmp_path: Path) -> None:
    empty = "version = 1\n"
    path = _file(tmp_path, empty)
    assert (
        _run("compliance", "rules", "--check", str(path))[1]
        == f"{path}: ok, 0 rules (0 versions), hash {_sha256(empty)}\n"
    )
    code, out, _ = _run(*CHECK, "--rules", str(path))
    assert code == 0 and out.splitlines()[1:] == ["no rule applies to this order", "verdict: pass"]


def test_cli_compliance_check_with_a_typo_rules_file_exits_2_naming_line_and_key(home: Path, tmp_path: Path) -> None:
    before = _state()
    err = _bad(*CHECK, "--rules", str(_file(tmp_path, TYPO)))
    assert "compliance.toml:" in err and "max_deviaton" in err, err
    assert _state() == before


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        ([*CHECK[:-1], "-5"], "quantity"),
        ([*CHECK[:-1], "0"], "quantity"),
        ([*CHECK[:-1], "nan"], "quantity"),
        ([*CHECK[:-1], "inf"], "quantity"),
        ([*CHECK[:-1], "ten"], "quantity"),
        ([a if a != "buy" else "short" for a in CHECK], "--side"),
        ([a if a != "P1" else "NOSUCH" for a in CHECK], "NOSUCH"),
        ([a if a != "ORCL" else "NOPE" for a in CHECK], "NOPE"),
        ([*CHECK, "--type", "limit"], "limit_price"),
        ([*CHECK, "--type", "limit", "--limit-price", "nan"], "limit_price"),
        ([*CHECK, "--type", "limit", "--limit-price", "44.123"], "limit_price 44.123 is off the tick"),  # as submit
        ([*CHECK, "--type", "stop_limit", "--limit-price", "44.10"], "stop_price"),
        ([*CHECK, "--type", "bracket"], "--type"),
        ([*CHECK, "--rules", "nosuch.toml"], "nosuch.toml"),
    ],
)
def test_cli_compliance_check_bad_input_exits_2_naming_the_field(home: Path, argv: list[str], named: str) -> None:
    before = _state()
    err = _bad(*argv)
    assert named in err, err
    assert _state() == before


def test_cli_compliance_check_as_a_subprocess_prints_the_decision_json(home: Path) -> None:
    done = bifrost(home, *CHECK, "--type", "limit", "--limit-price", FAR, "--json")
    assert done.returncode == 1, done.stderr
    decided = json.loads(done.stdout)
    assert {"verdict", "reason", "ts", "rules_hash", "rules_source", "order", "results"} <= set(decided)
    assert decided["verdict"] == "block"
    assert {"rule", "kind", "version", "verdict", "reason", "inputs"} <= set(decided["results"][0])


@pytest.mark.postgres
def test_cli_compliance_check_on_postgres_blocks_by_the_collar_and_writes_nothing(
    tmp_path: Path, pg_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the store the other commands open: BIFROST_DATABASE_URL switches every verb to PostgreSQL
    for name, value in (("BIFROST_HOME", str(tmp_path)), ("BIFROST_DATABASE_URL", pg_url),
                        ("BIFROST_DATABASE_SCHEMA", pg_schema)):  # fmt: skip
        monkeypatch.setenv(name, value)
    for name in ("BIFROST_CONFIG", "BIFROST_BROKER", "BIFROST_COMPLIANCE_RULES"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "p1.csv").write_text(P1_TXNS)
    assert _run("data", "ingest", "csv", str(ORCL), "--symbol", "ORCL")[0] == 0
    assert _run("portfolio", "import", "P1", str(tmp_path / "p1.csv"))[0] == 0
    before = _state()
    far = _json(*CHECK, "--type", "limit", "--limit-price", FAR, code=1)
    assert far["verdict"] == "block" and far["reason"].startswith("price_collar: ")
    assert _json(*CHECK, "--type", "limit", "--limit-price", NEAR)["verdict"] in ("pass", "warn")
    assert _state() == before


# --- surveil ----------------------------------------------------------------------------------


def test_cli_compliance_surveil_writes_the_html_and_counts_the_breaches_and_wash_sales(
    home: Path, tmp_path: Path
) -> None:
    rules = str(_file(tmp_path, SURVEIL))
    page = tmp_path / "out" / "p2.html"
    page.parent.mkdir()
    before = len(_audit(home))
    code, out, err = _run("compliance", "surveil", "P2", "--rules", rules, "--html", str(page))
    (recorded,) = _audit(home)[before:]  # the run is in the audit trail, with its counts and rules hash
    assert recorded["kind"] == "compliance.surveillance" and recorded["payload"]["rules_hash"] == _sha256(SURVEIL)
    assert code == 0 and err == "", err
    assert out.startswith("surveillance of P2, sessions 2014-01-02 to 2014-12-31 (rules "), out
    assert out.endswith(f"wrote the report to {page}\n"), out
    text = page.read_text()
    assert text.lstrip().lower().startswith("<!doctype html") and "P2" in text
    report = _json("compliance", "surveil", "P2", "--rules", rules)
    assert report["portfolio"] == "P2" and report["rules_hash"] == _sha256(SURVEIL)
    assert report["n_wash_sales"] == 1 == len(report["wash_sales"])
    (wash,) = report["wash_sales"]  # 100 sold at 35.84 from a 37.84 basis, 100 bought back the next day at 35.96
    assert (wash["sale_txn_id"], wash["replacement_txn_id"], wash["replacement_shares"]) == ("3", "4", 100)
    assert wash["disallowed_loss"] == pytest.approx(200.0, abs=1e-9)  # 100 x (37.84 - 35.84)
    assert wash["adjusted_basis_per_share"] == pytest.approx(37.96, abs=1e-9)  # 35.96 + 2.00
    assert report["n_breaches"] == len(report["breaches"]) > 0
    assert report["html"] is None


def test_cli_compliance_surveil_over_a_window_and_a_price_move_breach(home: Path, tmp_path: Path) -> None:
    rules = str(_file(tmp_path, SURVEIL))
    quiet = _json("compliance", "surveil", "P1", "--rules", rules, "--start", "2014-01-02", "--end", "2014-01-31")
    assert quiet["n_breaches"] == 0 and quiet["n_wash_sales"] == 0
    spring = _json("compliance", "surveil", "P1", "--rules", rules, "--start", "2014-03-01", "--end", "2014-04-30")
    assert spring["n_breaches"] > 0
    assert {b["cause"] for b in spring["breaches"]} == {"price move"}  # P1 traded only on 2014-01-02
    first = spring["breaches"][0]  # the first close above 40.09: 2014-03-31, 40.91 (100 x 40.91 / 100,307)
    assert first["ts"].startswith("2014-03-31") and (first["rule"], first["subject"]) == ("position", "ORCL")
    assert first["measured"] == pytest.approx(4091 / (100_000 - 3784 + 4091), rel=1e-9)


def test_cli_compliance_surveil_html_into_a_missing_folder_exits_2_before_it_runs(home: Path, tmp_path: Path) -> None:
    before = _state()
    err = _bad("compliance", "surveil", "P2", "--html", str(tmp_path / "nosuch" / "p2.html"))
    assert "--html" in err and "does not exist" in err, err
    assert _state() == before  # not surveilled: no compliance.surveillance record


def test_cli_compliance_surveil_of_an_unknown_portfolio_exits_2_naming_it(home: Path) -> None:
    assert "NOSUCH" in _bad("compliance", "surveil", "NOSUCH")


# --- replay -----------------------------------------------------------------------------------


def _submit_two(home: Path) -> None:
    # one order filled, one blocked by the default collar: each gets a compliance decision in the audit trail
    buy = ["orders", "submit", "--portfolio", "P1", "--symbol", "ORCL", "--side", "buy"]
    assert _json(*buy, "--quantity", "5")["status"] == "filled"
    blocked = _json(*buy, "--quantity", "5", "--type", "limit", "--limit-price", FAR, code=1)
    assert any("price_collar" in r for r in blocked["reasons"]), blocked["reasons"]


def _audit(home: Path) -> list[dict[str, Any]]:
    out = io.StringIO()
    with EmbeddedStore(home) as store:
        export_audit(store, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_cli_compliance_replay_reproduces_the_decisions_of_orders_submitted(home: Path) -> None:
    _submit_two(home)
    replayed = _json("compliance", "replay")
    assert replayed["ok"] is True and replayed["mismatches"] == []
    assert replayed["n_decisions"] == 2 and replayed["n_results"] >= 2
    assert replayed["rules_hashes"] == [_json("compliance", "rules")["hash"]]  # the default's text, audited once
    code, out, err = _run("compliance", "replay", "--portfolio", "P1")
    assert code == 0 and err == "" and out.count("\n") == 1 and out.endswith(": every one reproduced\n"), out
    assert out.startswith("2 compliance decision(s), ")
    assert _json("compliance", "replay", "--portfolio", "P2")["n_decisions"] == 0


def test_cli_compliance_replay_of_an_unknown_portfolio_exits_2_naming_it(home: Path) -> None:
    assert "NOSUCH" in _bad("compliance", "replay", "--portfolio", "NOSUCH")


def test_cli_compliance_replay_of_a_decision_its_rules_do_not_reproduce_exits_1_naming_it(home: Path) -> None:
    _submit_two(home)
    (blocked,) = [
        r for r in _audit(home)
        if r["kind"] == "pretrade.decision" and r["payload"]["check"] == "compliance"
        and r["payload"]["verdict"] == "block"
    ]  # fmt: skip
    forged = json.loads(json.dumps(blocked["payload"]))
    (collar,) = [r for r in forged["inputs"]["rules"] if r["rule"] == "price_collar"]
    collar["verdict"] = "pass"  # recorded as passing: its inputs (20% off) say block
    with EmbeddedStore(home) as store, store.transaction(schema=AUDIT_SCHEMA, lock="test-forge") as db:
        seq = append_audit(db, "pretrade.decision", "forged-1", forged)
    replayed = _json("compliance", "replay", code=1)
    assert replayed["ok"] is False and replayed["n_decisions"] == 3
    rows = [(m["seq"], m["client_order_id"], m["rule"]) for m in replayed["mismatches"]]
    assert (seq, "forged-1", "price_collar") in rows and {m["seq"] for m in replayed["mismatches"]} == {seq}
    (row,) = [m for m in replayed["mismatches"] if m["rule"] == "price_collar"]
    assert row["recorded"].startswith("pass: ") and row["replayed"].startswith("block: ")
    code, out, err = _run("compliance", "replay")
    assert code == 1 and err == "" and "mismatch" in out.splitlines()[0] and "forged-1" in out, out


def test_cli_compliance_replay_of_an_altered_or_cut_off_trail_exits_1_saying_so(home: Path) -> None:
    # every decision still reproduces, but the trail it was read from is not intact: the replay proves nothing
    _submit_two(home)
    head = _json("audit", "head")["hash"]
    with EmbeddedStore(home) as store, store.transaction(schema=AUDIT_SCHEMA, lock="test-cut") as db:
        last = int(db.rows("SELECT max(seq) FROM {t}audit_log")[0][0])
        db.run("DELETE FROM {t}audit_log WHERE seq = ?", (last,))  # the newest record cut off the end
    replayed = _json("compliance", "replay", "--expect-head", head, code=1)
    assert replayed["ok"] is False and replayed["mismatches"] == [] and replayed["audit"]["ok"] is False
    code, out, _ = _run("compliance", "replay", "--expect-head", head)
    assert code == 1 and "every one reproduced; but the audit trail is not intact" in out, out


def test_cli_compliance_replay_of_a_trail_altered_in_place_exits_1_naming_the_record(home: Path) -> None:
    _submit_two(home)
    with EmbeddedStore(home) as store, store.transaction(schema=AUDIT_SCHEMA, lock="test-alter") as db:
        (seq,) = db.rows("SELECT min(seq) FROM {t}audit_log WHERE payload LIKE '%ORCL%'")[0]
        db.run("UPDATE {t}audit_log SET payload = replace(payload, 'ORCL', 'ORCX') WHERE seq = ?", (seq,))
    altered = _json("compliance", "replay", code=1)
    assert altered["ok"] is False and altered["audit"]["first_bad"]["seq"] == seq


# --- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "says"),
    [
        ("rules", "--check"),
        ("check", "Exit status 0"),
        ("surveil", "--html"),
        ("replay", "Exit status 0"),
    ],
)
def test_cli_compliance_each_command_has_help(home: Path, verb: str, says: str) -> None:
    code, out, _ = _run("compliance", verb, "--help")
    assert code == 0 and says in " ".join(out.split()), out
