"""Post-trade surveillance on real closes: breaches by trade and by price move, dated rules, wash sales.

The store holds the real daily closes of AAPL, JNJ, JPM, MSFT and NVDA from the 505-stock file
(sp500_5yr, 2016-01-04 … 2016-03-31). Every fill is at that day's real close, so each number
asserted here follows from the file by the arithmetic written beside it (tolerance 1e-9
relative for shares of NAV, exact cents for the wash-sale Decimals).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bifrost.compliance import SurveillanceReport, surveil, verify_audit
from bifrost.compliance._rules import RuleSet, default_rules, load_rules, parse_rules
from bifrost.compliance._surveil import BREACH_COLUMNS, DRIFT_COLUMNS, WASH_SALE_COLUMNS
from bifrost.data import AUDIT_SCHEMA, BarStore, CsvSource, EmbeddedStore, import_symbols, ingest
from bifrost.errors import InvalidInputError, NotFoundError
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, Transaction, create_portfolio, record_transactions
from tests.conftest import SP500, embedded_and_postgres

SYMBOLS = ["AAPL", "JNJ", "JPM", "MSFT", "NVDA"]
SECTORS = {  # GICS sectors as published for the S&P 500
    "AAPL": "Information Technology",
    "JNJ": "Health Care",
    "JPM": "Financials",
    "MSFT": "Information Technology",
    "NVDA": "Information Technology",
}

BOOK_RULES = """
[[rule]]
id = "single_name"
kind = "max_position_pct_nav"
max_fraction = 0.21

[[rule]]
id = "sectors"
kind = "sector_concentration"
max_fraction = 0.30

[[rule]]
id = "issuers"
kind = "issuer_concentration"
max_fraction = 0.25
issuers = { NVDA = "NVIDIA Corp" }

[[rule]]
id = "gross"
kind = "gross_exposure"
max_fraction = 0.70
warn_at = 0.9
"""

DATED_RULES = """
[[rule]]
id = "tight"
kind = "max_position_pct_nav"
max_fraction = 0.10
severity = "warn"
effective_from = 2016-03-15

[[rule]]
id = "cap"
kind = "max_position_pct_nav"
max_fraction = 0.30
effective_to = 2016-02-29

[[rule]]
id = "cap"
kind = "max_position_pct_nav"
max_fraction = 0.20
effective_from = 2016-03-01
"""

WASH_RULES = """
[[rule]]
id = "wash"
kind = "wash_sale"
window_days = 30
"""


def _ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def _deposit(day: str, amount: int = 100_000) -> CashFlow:
    return CashFlow(txn_id=f"deposit-{day}", ts=_ts(day), kind=CashKind.DEPOSIT, amount=Decimal(amount))


def _fill(txn_id: str, day: str, symbol: str, side: Side, quantity: int, price: str) -> Fill:
    return Fill(txn_id=txn_id, ts=_ts(day), symbol=symbol, side=side, quantity=Decimal(quantity), price=Decimal(price))


B, S = Side.BUY, Side.SELL

# the concentration book: 790 NVDA at 25.30 (= 19,987.00, cash left 80,013.00), then 400 JNJ at 107.22
# (= 42,888.00, cash left 37,125.00) on 2016-03-01; both at the day's real close
BOOK: list[Transaction] = [
    _deposit("2016-02-11"),
    _fill("nvda", "2016-02-11", "NVDA", B, 790, "25.30"),
    _fill("jnj", "2016-03-01", "JNJ", B, 400, "107.22"),
]

# the wash-sale book (fills at the day's real close)
WASH: list[Transaction] = [
    _deposit("2016-01-04"),
    _fill("aapl-1", "2016-01-04", "AAPL", B, 100, "105.35"),
    _fill("jpm-1", "2016-01-04", "JPM", B, 100, "63.62"),
    _fill("aapl-sell-1", "2016-01-20", "AAPL", S, 100, "96.79"),  # loss 8.56 a share
    _fill("jpm-2", "2016-01-20", "JPM", B, 50, "55.51"),  # bought 9 days before the JPM loss sale
    _fill("jpm-sell", "2016-01-29", "JPM", S, 100, "59.50"),  # FIFO: the 63.62 lot, loss 4.12 a share
    _fill("aapl-2", "2016-02-05", "AAPL", B, 60, "94.02"),  # 16 days after: replaces 60 of the 100
    _fill("aapl-sell-2", "2016-02-24", "AAPL", S, 60, "96.10"),  # below the adjusted 102.58: loss 6.48
    _fill("aapl-3", "2016-03-01", "AAPL", B, 60, "100.53"),  # 6 days after: replaces all 60
]


@pytest.fixture(scope="module")
def q1_bars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file's rows of the five stocks for 2016-Q1, as a small CSV of the same layout (read once)."""
    frame = pd.read_csv(SP500)
    rows = frame[frame["Name"].isin(SYMBOLS) & (frame["date"] >= "2016-01-01") & (frame["date"] < "2016-04-01")]
    path = tmp_path_factory.mktemp("bars") / "sp500_2016q1.csv"
    rows.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory, q1_bars: Path) -> Iterator[EmbeddedStore]:
    """A store of the five stocks' real bars for 2016-Q1 with their sectors, and the two books."""
    store = EmbeddedStore(tmp_path_factory.mktemp("surveil") / "home")
    try:
        ingest(store, CsvSource(q1_bars))
        import_symbols(store, _reference())
        record_transactions(store, "book", BOOK, create=True)
        record_transactions(store, "wash", WASH, create=True)
        yield store
    finally:
        store.close()


def _reference() -> pd.DataFrame:
    return pd.DataFrame(
        [{"symbol": s, "name": s, "sector": x, "industry": "", "currency": "USD", "lot_size": 1, "tick_size": 0.01}
         for s, x in SECTORS.items()]
    )  # fmt: skip


@pytest.fixture(scope="module")
def book_report(market: EmbeddedStore) -> SurveillanceReport:
    return surveil(market, "book", rules=parse_rules(BOOK_RULES))


def _rows(report: SurveillanceReport, rule: str, subject: str | None = None) -> pd.DataFrame:
    b = report.breaches
    mine = b[(b["rule"] == rule) & ((b["subject"] == subject) if subject is not None else True)]
    return mine.reset_index(drop=True)


def _records(store: BarStore, kind: str) -> list[dict[str, Any]]:
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        rows = db.rows("SELECT subject, payload FROM {t}audit_log WHERE kind = ? ORDER BY seq", (kind,))
    return [{"about": subject, **json.loads(payload)} for subject, payload in rows]


# -- breaches ------------------------------------------------------------------------------------
def test_surveil_position_grown_by_price_move_breaches_with_cause_price_move(book_report: SurveillanceReport) -> None:
    nvda = _rows(book_report, "single_name", "NVDA")
    # 2016-02-12, close 25.73: 790 × 25.73 = 20,326.70 of NAV 100,339.70 = 20.26% (within 21%): no row;
    # 2016-02-16, close 26.99: 790 × 26.99 = 21,322.10 of NAV 80,013 + 21,322.10 = 101,335.10 = 21.04%
    first = nvda.iloc[0]
    assert first["ts"] == _ts("2016-02-16")
    assert first["measured"] == pytest.approx(21_322.10 / 101_335.10, rel=1e-9)
    assert first["nav"] == pytest.approx(101_335.10, rel=1e-12)
    assert (first["limit"], first["verdict"], first["cause"]) == (0.21, "block", "price move")
    assert first["reason"] == "position in NVDA is 21.04% of NAV at the close (at most 21.00%)"
    assert set(nvda["cause"]) == {"price move"}  # the book never traded NVDA after 2016-02-11
    assert list(book_report.breaches.columns) == list(BREACH_COLUMNS)


def test_surveil_position_bought_above_the_limit_breaches_with_cause_trade(book_report: SurveillanceReport) -> None:
    jnj = _rows(book_report, "single_name", "JNJ")
    # 2016-03-01: 400 × 107.22 = 42,888 of NAV 37,125 + 42,888 + 790 × 32.75 (25,872.50) = 105,885.50
    assert jnj["ts"].iloc[0] == _ts("2016-03-01") and jnj["cause"].iloc[0] == "trade"
    assert jnj["measured"].iloc[0] == pytest.approx(42_888 / 105_885.50, rel=1e-9)
    assert set(jnj["cause"].iloc[1:]) == {"price move"}  # the next sessions: no JNJ trade
    # the sector (Health Care: JNJ alone) breaches from the same trade; IT (NVDA) stays within 30%
    sectors = _rows(book_report, "sectors")
    assert set(sectors["subject"]) == {"Health Care"}
    assert (sectors["ts"].iloc[0], sectors["cause"].iloc[0]) == (_ts("2016-03-01"), "trade")


def test_surveil_issuer_map_and_gross_warning_follow_the_kinds(book_report: SurveillanceReport) -> None:
    issuers = _rows(book_report, "issuers")
    assert set(issuers["subject"]) == {"NVIDIA Corp", "JNJ"}  # the rule's map names NVDA's issuer
    nvidia = issuers[issuers["subject"] == "NVIDIA Corp"]
    assert (nvidia["measured"] > 0.25).all() and set(nvidia["cause"]) == {"price move"}
    gross = _rows(book_report, "gross")
    # from 2016-03-01: (42,888 + 25,872.50) / 105,885.50 = 64.94%, above the warning level 0.9 × 70% = 63%
    assert gross["ts"].iloc[0] == _ts("2016-03-01") and set(gross["verdict"]) == {"warn"}
    assert gross["measured"].iloc[0] == pytest.approx(68_760.50 / 105_885.50, rel=1e-9)
    assert set(gross["subject"]) == {""} and gross["cause"].iloc[0] == "trade"


def test_surveil_breaches_form_episodes_and_the_summary_counts_them(book_report: SurveillanceReport) -> None:
    episodes = book_report.episodes
    nvda = episodes[(episodes["rule"] == "single_name") & (episodes["subject"] == "NVDA")]
    assert len(nvda) == 1  # NVDA stayed above 21% to the end of March
    assert (nvda["first"].iloc[0], nvda["last"].iloc[0]) == (_ts("2016-02-16"), _ts("2016-03-31"))
    assert nvda["sessions"].iloc[0] == len(_rows(book_report, "single_name", "NVDA"))
    summary = book_report.summary().set_index("rule")
    assert list(summary.index) == ["single_name", "sectors", "issuers", "gross"]
    sessions = len(book_report.drift)  # 2016-02-11 … 2016-03-31
    assert sessions == 34 and book_report.start == _ts("2016-02-11") and book_report.end == _ts("2016-03-31")
    # one check per held name per session: NVDA every session, JNJ from 2016-03-01 (22 sessions)
    assert summary.loc["single_name", "checks"] == sessions + 22
    assert summary.loc["single_name", "breaches"] == len(_rows(book_report, "single_name"))
    assert summary.loc["gross", "worst"] == "warn" and summary.loc["single_name", "worst"] == "block"
    assert book_report.n_breaches == sum(summary["breaches"])


def test_surveil_drift_names_the_largest_name_and_sector_each_session(book_report: SurveillanceReport) -> None:
    drift = book_report.drift.set_index("ts")
    assert list(book_report.drift.columns) == list(DRIFT_COLUMNS)
    day = drift.loc[_ts("2016-03-01")]
    assert (day["top_symbol"], day["top_sector"], day["n_positions"]) == ("JNJ", "Health Care", 2)
    assert day["top_symbol_share"] == pytest.approx(42_888 / 105_885.50, rel=1e-9)
    assert day["gross_exposure"] == pytest.approx(68_760.50 / 105_885.50, rel=1e-9)
    before = drift.loc[_ts("2016-02-11")]
    assert (before["top_symbol"], before["top_sector"], before["nav"]) == ("NVDA", "Information Technology", 100_000)


def test_surveil_dated_rules_breach_only_while_in_force(market: EmbeddedStore) -> None:
    rules = parse_rules(DATED_RULES)
    report = surveil(market, "book", rules=rules)
    tight = _rows(report, "tight")
    assert tight["ts"].min() == _ts("2016-03-15") and set(tight["verdict"]) == {"warn"}
    cap = _rows(report, "cap")
    # February's version (30%) never trips (NVDA peaks at 23.95% on 2016-02-25); March's (20%) does
    assert cap["ts"].min() == _ts("2016-03-01")
    march = rules.effective("book", _ts("2016-03-01").date())
    assert set(cap["version"]) == {next(r.version for r in march if r.id == "cap")}
    assert set(cap["limit"]) == {0.20}
    summary = report.summary().set_index("rule")
    assert summary.loc["tight", "checks"] == 2 * 12  # NVDA and JNJ on the 12 sessions from 2016-03-15


def test_surveil_start_and_end_bound_the_sessions(market: EmbeddedStore) -> None:
    report = surveil(market, "book", rules=parse_rules(BOOK_RULES), start="2016-03-01", end="2016-03-04")
    assert list(report.drift["ts"]) == [_ts(d) for d in ("2016-03-01", "2016-03-02", "2016-03-03", "2016-03-04")]
    assert report.breaches["ts"].between(_ts("2016-03-01"), _ts("2016-03-04")).all()
    assert (report.start, report.end) == (_ts("2016-03-01"), _ts("2016-03-04"))


# -- wash sales ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wash_report(market: EmbeddedStore) -> SurveillanceReport:
    return surveil(market, "wash", rules=parse_rules(WASH_RULES))


def test_surveil_wash_sale_disallows_the_replaced_part_of_the_loss(wash_report: SurveillanceReport) -> None:
    w = wash_report.wash_sales.set_index("sale_txn_id")
    assert list(wash_report.wash_sales.columns) == list(WASH_SALE_COLUMNS)
    aapl = w.loc["aapl-sell-1"]
    # sold 100 AAPL at 96.79 bought at 105.35: loss 8.56 a share, 856.00 in all; 60 shares bought back
    # on 2016-02-05 (16 days later) at 94.02 → disallowed 60 × 8.56 = 513.60 (the other 40 × 8.56 =
    # 342.40 stays allowed); their basis 60 × 94.02 + 513.60 = 5,641.20 + 513.60 = 6,154.80
    # (94.02 + 8.56 = 102.58 a share); holding period: the 16 days (01-04 → 01-20) the sold shares were held
    assert (aapl["replacement_txn_id"], aapl["replacement_shares"]) == ("aapl-2", 60)
    assert aapl["loss_per_share"] == pytest.approx(8.56, abs=1e-9)
    assert aapl["disallowed_loss"] == pytest.approx(513.60, abs=1e-9)
    assert aapl["adjusted_basis"] == pytest.approx(6_154.80, abs=1e-9)
    assert aapl["adjusted_basis_per_share"] == pytest.approx(102.58, abs=1e-9)
    assert aapl["holding_period_days_added"] == 16 and aapl["verdict"] == "warn"
    assert "IRS Pub. 550" in aapl["note"]


def test_surveil_wash_sale_replacement_bought_before_the_sale(wash_report: SurveillanceReport) -> None:
    jpm = wash_report.wash_sales.set_index("sale_txn_id").loc["jpm-sell"]
    # FIFO sells the 100 bought at 63.62 for 59.50: loss 4.12 a share; the 50 bought 9 days before
    # (2016-01-20, at 55.51, still held) replace 50: disallowed 50 × 4.12 = 206.00, their basis
    # 50 × (55.51 + 4.12) = 2,981.50; the sold shares were held 25 days (01-04 → 01-29)
    assert (jpm["replacement_txn_id"], jpm["replacement_shares"]) == ("jpm-2", 50)
    assert jpm["disallowed_loss"] == pytest.approx(206.00, abs=1e-9)
    assert jpm["adjusted_basis"] == pytest.approx(2_981.50, abs=1e-9)
    assert jpm["holding_period_days_added"] == 25


def test_surveil_wash_sale_of_replacement_shares_uses_their_adjusted_basis(wash_report: SurveillanceReport) -> None:
    again = wash_report.wash_sales.set_index("sale_txn_id").loc["aapl-sell-2"]
    # the 60 replacement shares (adjusted basis 102.58) sold at 96.10: loss 6.48 a share; bought back
    # 6 days later at 100.53 → disallowed 60 × 6.48 = 388.80, basis 100.53 + 6.48 = 107.01 a share; the
    # holding period carries 19 days (02-05 → 02-24) plus the 16 the first lot added
    assert again["sold_basis_per_share"] == pytest.approx(102.58, abs=1e-9)
    assert again["disallowed_loss"] == pytest.approx(388.80, abs=1e-9)
    assert again["adjusted_basis_per_share"] == pytest.approx(107.01, abs=1e-9)
    assert again["holding_period_days_added"] == 19 + 16
    assert wash_report.n_wash_sales == 3 and len(wash_report.wash_sales) == 3
    row = wash_report.summary().set_index("rule").loc["wash"]
    assert (row["checks"], row["breaches"], row["worst"]) == (3, 3, "warn")
    assert row["worst_measured"] == pytest.approx(513.60, abs=1e-9)


def test_surveil_loss_sale_without_repurchase_or_gain_sale_is_no_wash_sale(market: EmbeddedStore) -> None:
    record_transactions(
        market,
        "clean",
        [
            _deposit("2016-01-04"),
            _fill("m1", "2016-01-04", "MSFT", B, 100, "54.80"),
            _fill("m2", "2016-01-19", "MSFT", S, 100, "50.56"),  # a loss, never bought back
            _fill("j1", "2016-01-20", "JNJ", B, 100, "95.75"),
            _fill("j2", "2016-02-01", "JNJ", S, 100, "104.37"),  # a gain, bought back 4 days later
            _fill("j3", "2016-02-05", "JNJ", B, 100, "100.54"),
        ],
        create=True,
    )
    report = surveil(market, "clean", rules=parse_rules(WASH_RULES))
    assert report.n_wash_sales == 0 and report.wash_sales.empty
    row = report.summary().set_index("rule").loc["wash"]
    assert (row["checks"], row["breaches"], row["worst"]) == (1, 0, "pass")  # the one loss sale examined


@pytest.mark.parametrize(
    ("case", "transactions", "wash"),
    [
        # sold 100 MSFT on 2016-01-19 at 50.56 (bought at 54.80: loss 4.24); 50 bought back at the close
        # of day 30 (2016-02-18, 52.19) → 50 × 4.24 = 212.00 disallowed; day 31 (2016-02-19) → none
        ("after-day-30", [("2016-01-04", B, 100, "54.80"), ("2016-01-19", S, 100, "50.56"),
                          ("2016-02-18", B, 50, "52.19")], 212.00),
        ("after-day-31", [("2016-01-04", B, 100, "54.80"), ("2016-01-19", S, 100, "50.56"),
                          ("2016-02-19", B, 50, "51.82")], None),
        # sold the 54.80 lot on 2016-02-19 at 51.82 (loss 2.98); 50 more bought 30 days before
        # (2016-01-20, 50.79) → 50 × 2.98 = 149.00; 31 days before (2016-01-19, 50.56) → none
        ("before-day-30", [("2016-01-04", B, 100, "54.80"), ("2016-01-20", B, 50, "50.79"),
                           ("2016-02-19", S, 100, "51.82")], 149.00),
        ("before-day-31", [("2016-01-04", B, 100, "54.80"), ("2016-01-19", B, 50, "50.56"),
                           ("2016-02-19", S, 100, "51.82")], None),
    ],
)  # fmt: skip
def test_surveil_wash_sale_window_includes_day_30_and_excludes_day_31(
    market: EmbeddedStore, case: str, transactions: list[tuple[str, Side, int, str]], wash: float | None
) -> None:
    fills = [_fill(f"{case}-{i}", day, "MSFT", side, q, p) for i, (day, side, q, p) in enumerate(transactions)]
    record_transactions(market, case, [_deposit("2016-01-04"), *fills], create=True)
    report = surveil(market, case, rules=parse_rules(WASH_RULES))
    if wash is None:
        assert report.wash_sales.empty
    else:
        assert report.n_wash_sales == 1 and report.wash_sales["replacement_shares"].iloc[0] == 50
        assert report.wash_sales["disallowed_loss"].iloc[0] == pytest.approx(wash, abs=1e-9)


def test_surveil_wash_sale_replacement_share_is_used_once(market: EmbeddedStore) -> None:
    record_transactions(
        market,
        "once",
        [
            _deposit("2016-01-04"),
            _fill("o1", "2016-01-04", "MSFT", B, 200, "54.80"),  # one block of 200
            _fill("o2", "2016-01-15", "MSFT", S, 100, "50.99"),  # loss 3.81 a share
            _fill("o3", "2016-01-19", "MSFT", S, 100, "50.56"),  # loss 4.24 a share
            _fill("o4", "2016-01-29", "MSFT", B, 100, "55.09"),  # within 30 days of both sales
        ],
        create=True,
    )
    report = surveil(market, "once", rules=parse_rules(WASH_RULES))
    # the 100 left of the 200-share block are no replacement for the first sale (bought together:
    # Rev. Rul. 56-602); the 100 bought on 2016-01-29 replace the first sale's 100 (100 × 3.81 =
    # 381.00), and none are left for the second sale, whose 424.00 loss stays allowed
    assert list(report.wash_sales["sale_txn_id"]) == ["o2"] and report.n_wash_sales == 1
    assert report.wash_sales["disallowed_loss"].iloc[0] == pytest.approx(381.00, abs=1e-9)
    assert report.wash_sales["adjusted_basis_per_share"].iloc[0] == pytest.approx(55.09 + 3.81, abs=1e-9)


def test_surveil_wash_sale_before_start_still_adjusts_the_basis(market: EmbeddedStore) -> None:
    report = surveil(market, "wash", rules=parse_rules(WASH_RULES), start="2016-02-01")
    # the January sales are not reported, but the 60 AAPL they replaced still carry the basis 102.58
    assert list(report.wash_sales["sale_txn_id"]) == ["aapl-sell-2"]
    assert report.wash_sales["sold_basis_per_share"].iloc[0] == pytest.approx(102.58, abs=1e-9)


def test_surveil_wash_sales_only_under_a_wash_sale_rule_in_force(market: EmbeddedStore) -> None:
    assert surveil(market, "wash", rules=parse_rules(BOOK_RULES)).wash_sales.empty  # no wash_sale rule
    dated = parse_rules(WASH_RULES + "effective_from = 2016-01-25\n")
    report = surveil(market, "wash", rules=dated)
    # the AAPL sale of 2016-01-20 predates the rule: no loss moves into the 60 bought on 2016-02-05, so
    # selling them at 96.10 (bought at 94.02) is a gain; only the JPM sale of 2016-01-29 is a wash sale
    assert list(report.wash_sales["sale_txn_id"]) == ["jpm-sell"]


# -- the page, the audit trail -------------------------------------------------------------------
class _Balance(HTMLParser):
    # every element opened is closed in order (void elements excepted)
    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def test_surveil_html_page_holds_the_rules_hash_and_the_breaches(
    book_report: SurveillanceReport, tmp_path: Path
) -> None:
    path = tmp_path / "surveillance.html"
    page = book_report.to_html(path)
    assert path.read_text(encoding="utf-8") == page
    assert page.startswith("<!DOCTYPE html>") and "<title>Compliance surveillance of book</title>" in page
    assert book_report.rules_hash in page and len(book_report.rules_hash) == 64
    first = _rows(book_report, "single_name", "NVDA").iloc[0]
    assert "<td>2016-02-16</td>" in page and f"<td>{first['reason']}</td>" in page and "price move" in page
    assert "fig-drift" in page  # the drift chart
    parser = _Balance()
    parser.feed(page)
    parser.close()
    assert parser.problems == [] and parser.stack == []
    cell = book_report._repr_html_()
    assert book_report.rules_hash in cell and "bifrost-report" in cell


@embedded_and_postgres
def test_surveil_run_is_one_audit_record_and_the_trail_verifies(store: BarStore, q1_bars: Path) -> None:
    ingest(store, CsvSource(q1_bars), ["JNJ", "NVDA"])
    record_transactions(store, "book", BOOK, create=True)
    rules = parse_rules(BOOK_RULES)
    report = surveil(store, "book", rules=rules, end="2016-03-04")
    (record,) = _records(store, "compliance.surveillance")
    assert record["about"] == "book" and record["rules_hash"] == rules.hash
    assert (record["start"], record["end"]) == ("2016-02-11", "2016-03-04")
    assert (record["n_breaches"], record["n_wash_sales"]) == (report.n_breaches, 0) and report.n_breaches > 0
    assert verify_audit(store).ok


def test_surveil_default_rules_are_load_rules(market: EmbeddedStore) -> None:
    report = surveil(market, "book")
    default: RuleSet = load_rules()
    assert (report.rules_hash, report.rules_source) == (default.hash, default.source)


def test_surveil_built_in_default_reports_wash_sales(market: EmbeddedStore) -> None:
    report = surveil(market, "wash", rules=default_rules())
    assert report.rules_source == "default" and report.n_wash_sales == 3  # its wash_sale rule: 30 days, warn
    assert set(report.wash_sales["verdict"]) == {"warn"}


# -- bad input, empty books -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"portfolio": "nobody"}, NotFoundError, "no portfolio 'nobody'"),
        ({"start": "2016-03-02", "end": "2016-03-01"}, InvalidInputError, r"start \(2016-03-02\) is after end"),
        ({"start": "2016-13-45"}, InvalidInputError, "start"),
        ({"end": "not a date"}, InvalidInputError, "end"),
        ({"rules": "compliance.toml"}, InvalidInputError, "rules must be a RuleSet"),
    ],
)
def test_surveil_bad_input_raises_and_records_nothing(
    market: EmbeddedStore, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    before = len(_records(market, "compliance.surveillance"))
    call: dict[str, Any] = {"portfolio": "book", "rules": parse_rules(BOOK_RULES)} | kwargs
    with pytest.raises(error, match=match):
        surveil(market, call.pop("portfolio"), **call)
    assert len(_records(market, "compliance.surveillance")) == before


def test_surveil_deposit_before_the_first_bar_starts_at_the_first_session(market: EmbeddedStore) -> None:
    record_transactions(
        market, "early", [_deposit("2015-12-28"), _fill("e1", "2016-01-04", "NVDA", B, 100, "32.37")], create=True
    )
    report = surveil(market, "early", rules=parse_rules(BOOK_RULES))
    assert report.start == _ts("2016-01-04")  # the store's first close
    first = report.drift.iloc[0]
    assert (first["nav"], first["top_symbol"]) == (100_000, "NVDA")
    assert first["top_symbol_share"] == pytest.approx(3_237 / 100_000, rel=1e-12)  # 100 × 32.37 of 100,000


def test_surveil_position_before_the_first_bar_raises_naming_it(market: EmbeddedStore) -> None:
    record_transactions(
        market, "unpriced", [_deposit("2015-12-28"), _fill("u1", "2015-12-29", "NVDA", B, 100, "32.00")], create=True
    )
    with pytest.raises(InvalidInputError, match=r"portfolio 'unpriced': NVDA is held on .* but has no close"):
        surveil(market, "unpriced", rules=parse_rules(BOOK_RULES))


def test_surveil_book_trading_after_the_last_close_reports_its_wash_sales_only(market: EmbeddedStore) -> None:
    # fills at April 2016's real NVDA closes, after the store's last close (2016-03-31): no session to
    # measure; the wash sale needs no close: 100 × (35.80 − 35.43) = 37.00 disallowed, basis 35.88 + 0.37
    record_transactions(
        market,
        "late",
        [
            _deposit("2016-04-04"),
            _fill("l1", "2016-04-04", "NVDA", B, 100, "35.80"),
            _fill("l2", "2016-04-07", "NVDA", S, 100, "35.43"),
            _fill("l3", "2016-04-11", "NVDA", B, 100, "35.88"),
        ],
        create=True,
    )
    report = surveil(market, "late", rules=parse_rules(BOOK_RULES + WASH_RULES))
    assert report.breaches.empty and report.drift.empty and (report.start, report.end) == (None, None)
    assert report.notes == ("no session measured: the store holds no close of NVDA from the first transaction "
                            "(2016-04-04)",)  # fmt: skip
    assert report.wash_sales["disallowed_loss"].iloc[0] == pytest.approx(37.00, abs=1e-9)
    assert report.wash_sales["adjusted_basis_per_share"].iloc[0] == pytest.approx(36.25, abs=1e-9)
    assert report.summary().set_index("rule").loc["wash", "breaches"] == 1
    assert report.notes[0] in report.to_html()


def test_surveil_wash_sale_after_the_last_close_is_found_unless_end_cuts_it(market: EmbeddedStore) -> None:
    record_transactions(
        market,
        "straddle",
        [
            _deposit("2016-03-30"),
            _fill("s1", "2016-03-30", "NVDA", B, 100, "35.76"),
            _fill("s2", "2016-04-07", "NVDA", S, 100, "35.43"),  # loss 0.33 a share, after the last close
            _fill("s3", "2016-04-11", "NVDA", B, 100, "35.88"),
        ],
        create=True,
    )
    report = surveil(market, "straddle", rules=parse_rules(WASH_RULES))
    assert (report.start, report.end, len(report.drift)) == (_ts("2016-03-30"), _ts("2016-03-31"), 2)
    assert report.wash_sales["disallowed_loss"].iloc[0] == pytest.approx(33.00, abs=1e-9)  # 100 × 0.33
    assert surveil(market, "straddle", rules=parse_rules(WASH_RULES), end="2016-04-08").wash_sales.empty


def test_surveil_portfolio_without_transactions_is_an_empty_report(market: EmbeddedStore) -> None:
    create_portfolio(market, "empty", inception="2016-01-01")
    record_transactions(market, "cash_only", [_deposit("2016-01-04")], create=True)
    for name in ("empty", "cash_only"):
        report = surveil(market, name, rules=parse_rules(BOOK_RULES + WASH_RULES))
        assert (report.n_breaches, report.n_wash_sales, report.start, report.end) == (0, 0, None, None)
        assert report.drift.empty and report.summary().empty
        assert report.rules_hash in report.to_html()
    assert _records(market, "compliance.surveillance")[-1]["about"] == "cash_only"
