"""The compliance_surveillance step in process: its config, and surveil per portfolio on a real series.

The store holds ORCL's real bars (backtrader's file, 2014) and a paper book with a worked
example: 1,000 ORCL bought at the 2014-01-02 close (37.84; 37.8% of a 100,000 NAV, over a 30%
position rule), sold at the 2014-02-03 close (35.84: a 2,000 loss) and bought back at the
2014-02-04 close (35.96), inside the wash-sale rule's 30 days: the 2,000 loss is disallowed and
moved into the replacement lot's basis (37.96 a share).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.errors import InvalidInputError, NotFoundError, RulesFileError
from bifrost.jobs._compliance_job import ComplianceSurveillanceConfig, surveillance_step
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, record_transactions
from tests.conftest import ORCL

RULES = """\
version = 1

[[rule]]
id = "position_30"
kind = "max_position_pct_nav"
max_fraction = 0.30

[[rule]]
id = "wash"
kind = "wash_sale"
window_days = 30
"""


def _day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _book() -> list[Any]:
    def fill(txn: str, day: str, side: Side, price: str) -> Fill:
        return Fill(txn_id=txn, ts=_day(day), symbol="ORCL", side=side, quantity=Decimal(1000), price=Decimal(price))

    return [
        CashFlow(txn_id="deposit", ts=_day("2014-01-02"), kind=CashKind.DEPOSIT, amount=Decimal(100_000)),
        fill("buy-1", "2014-01-02", Side.BUY, "37.84"),
        fill("sell-1", "2014-02-03", Side.SELL, "35.84"),
        fill("buy-2", "2014-02-04", Side.BUY, "35.96"),
    ]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("surveillance") / "home"
    with EmbeddedStore(home) as store:
        ingest(store, CsvSource(ORCL, symbol="ORCL"), None, "2014-01-01", "2014-04-01")
        record_transactions(store, "paper", _book(), create=True)
    return home


@pytest.fixture
def store(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedStore]:
    for name in ("BIFROST_CONFIG", "BIFROST_COMPLIANCE_RULES", "BIFROST_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BIFROST_HOME", str(tmp_path / "home"))
    shutil.copytree(template, tmp_path / "home")
    opened = EmbeddedStore(tmp_path / "home")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "compliance.toml"
    path.write_text(RULES)
    return path


# -- the config ----------------------------------------------------------------------------------------------


def test_compliance_surveillance_config_defaults_survey_the_pipelines_books_under_the_default_rules() -> None:
    config = ComplianceSurveillanceConfig.from_parameters()
    assert config.portfolios == () and config.rules is None
    assert (config.start, config.end, config.lookback_days, config.output_dir) == (None, None, None, None)
    assert "ComplianceSurveillanceConfig" in config._repr_html_()


def test_compliance_surveillance_config_parses_names_dates_and_paths(rules: Path, tmp_path: Path) -> None:
    config = ComplianceSurveillanceConfig.from_parameters(
        portfolios="paper, demo", rules=str(rules), start="2014-01-02", end="2014-03-31", output_dir=str(tmp_path)
    )
    assert config.portfolios == ("paper", "demo") and config.rules == rules
    assert (config.start, config.end) == (_day("2014-01-02"), _day("2014-03-31"))
    assert config.output_dir == tmp_path
    assert ComplianceSurveillanceConfig.from_parameters(portfolios=["paper"], lookback_days=30).lookback_days == 30
    assert ComplianceSurveillanceConfig.from_parameters(lookback_days="90").lookback_days == 90  # -p lookback_days=90


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"portfolios": 5}, "portfolios must be names"),
        ({"portfolios": ["A\x00B"]}, "compliance_surveillance"),
        ({"rules": 3}, "rules must be a rules file's path"),
        ({"rules": "/nonexistent/compliance.toml"}, "rules file '/nonexistent/compliance.toml' does not exist"),
        ({"start": "someday"}, "start"),
        ({"end": 20140101}, "end must be a date"),
        ({"start": "2014-03-01", "end": "2014-01-01"}, "end 2014-01-01 is before start 2014-03-01"),
        ({"lookback_days": 0}, "lookback_days"),
        ({"lookback_days": "ninety"}, "lookback_days"),
        ({"lookback_days": "١٠"}, "lookback_days"),
        ({"lookback_days": float("nan")}, "lookback_days"),
        ({"lookback_days": 10**9}, "lookback_days"),
        ({"start": "2014-01-02", "lookback_days": 30}, "give start or lookback_days, not both"),
        ({"output_dir": 7}, "output_dir must be a folder's path"),
    ],
)
def test_compliance_surveillance_config_bad_parameter_is_refused_naming_it(given: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInputError, match="compliance_surveillance") as caught:
        ComplianceSurveillanceConfig.from_parameters(**given)
    assert named in str(caught.value)


def test_compliance_surveillance_config_rules_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist \\(or is not a file\\)"):
        ComplianceSurveillanceConfig.from_parameters(rules=str(tmp_path))


# -- the step ------------------------------------------------------------------------------------------------


def test_surveillance_step_named_portfolio_not_stored_raises_naming_it(store: EmbeddedStore, rules: Path) -> None:
    config = ComplianceSurveillanceConfig.from_parameters(portfolios=["nope"], rules=str(rules))
    with pytest.raises(NotFoundError, match="compliance_surveillance: no stored portfolio 'nope'; stored: paper"):
        surveillance_step(store, config)


def test_surveillance_step_refused_rules_file_names_the_line_and_surveys_nothing(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    bad = tmp_path / "typo.toml"
    bad.write_text(RULES.replace("max_fraction = 0.30", "max_fractoin = 0.30"))
    config = ComplianceSurveillanceConfig.from_parameters(rules=str(bad), output_dir=str(tmp_path / "out"))
    with pytest.raises(RulesFileError, match=r"typo.toml:\d+: .*max_fractoin"):
        surveillance_step(store, config)
    assert not (tmp_path / "out" / "compliance_paper.html").exists()


def _closes(start: str, end: str) -> dict[str, float]:
    # ORCL's closes read off backtrader's file itself, for the sessions [start, end]
    rows = [line.split(",") for line in ORCL.read_text().splitlines()[1:]]
    return {r[0]: float(r[4]) for r in rows if start <= r[0] <= end}


def _expected_breaches(start: str = "2014-01-02") -> list[tuple[str, str]]:
    # (session, cause) where 1,000 ORCL held is over 30% of NAV: every session it is held
    out = []
    for day, close in _closes(start, "2014-03-31").items():
        if day == "2014-02-03":  # sold at that close: flat after the session's transactions
            continue
        cash = 100_000 - 37_840 + (35_840 - 35_960 if day >= "2014-02-04" else 0)
        if 1000 * close / (cash + 1000 * close) > 0.30:
            out.append((day, "trade" if day in ("2014-01-02", "2014-02-04") else "price move"))
    return out


def test_surveillance_step_defaults_survey_the_paper_book_and_write_its_html(
    store: EmbeddedStore, rules: Path, tmp_path: Path
) -> None:
    config = ComplianceSurveillanceConfig.from_parameters(rules=str(rules), output_dir=str(tmp_path / "out"))
    step = surveillance_step(store, config)
    assert [p.name for p in step.portfolios] == ["paper"] and step.skipped == {"demo": "not stored"}
    (paper,) = step.portfolios
    expected = _expected_breaches()
    assert len(expected) == 60  # 21 sessions in January, 18 from 4 February, 21 in March
    breaches = paper.report.breaches
    assert list(zip(breaches["ts"].dt.strftime("%Y-%m-%d"), breaches["cause"], strict=True)) == expected
    assert set(breaches["rule"]) == {"position_30"} and set(breaches["verdict"]) == {"block"}
    # the wash sale: the 2,000 loss of 3 February is disallowed, added to the shares bought back on 4 February
    (wash,) = paper.report.wash_sales.itertuples()
    assert wash.disallowed_loss == pytest.approx(2_000.0) and wash.adjusted_basis_per_share == pytest.approx(37.96)
    row = step.table().loc["paper"]
    assert (row["start"], row["end"]) == ("2014-01-02", "2014-03-31")
    assert (row["breaches"], row["by_trade"], row["by_price_move"], row["episodes"]) == (60, 2, 58, 2)
    assert (row["wash_sales"], row["disallowed_loss"]) == (1, pytest.approx(2_000.0))
    # the page on disk is the report's, and the run's result names it
    assert paper.html_path == tmp_path / "out" / "compliance_paper.html"
    page = paper.html_path.read_text()
    assert page == paper.report.to_html() and step.rules_hash in page
    result = step.result()
    assert result["reports"] == [str(paper.html_path)] and result["breaches"] == 60 and result["wash_sales"] == 1
    assert result["rules_hash"] == paper.report.rules_hash and result["rules_source"] == str(rules)
    assert "paper: 60 breach(es), 1 wash sale(s)" in repr(step)


def test_surveillance_step_lookback_surveys_only_the_last_days(store: EmbeddedStore, rules: Path) -> None:
    config = ComplianceSurveillanceConfig.from_parameters(portfolios=["paper"], rules=str(rules), lookback_days=30)
    (paper,) = surveillance_step(store, config).portfolios
    # 30 days before the store's last bar (2014-03-31): from 1 March, whose first session is the 3rd
    assert (paper.report.start, paper.report.end) == (_day("2014-03-03"), _day("2014-03-31"))
    assert paper.report.n_breaches == len(_expected_breaches("2014-03-01")) == 21  # March's sessions, by price moves
    assert set(paper.report.breaches["cause"]) == {"price move"} and paper.report.n_wash_sales == 0


def test_surveillance_step_without_a_rules_file_applies_the_default_rule_set(store: EmbeddedStore) -> None:
    from bifrost.compliance._rules import DEFAULT_RULES_TOML, parse_rules

    step = surveillance_step(store, ComplianceSurveillanceConfig.from_parameters())
    assert step.rules_source == "default" and step.rules_hash == parse_rules(DEFAULT_RULES_TOML).hash
    assert [p.name for p in step.portfolios] == ["paper"] and step.portfolios[0].html_path is None


def test_surveillance_step_with_no_book_of_the_pipeline_surveys_nothing(tmp_path: Path, rules: Path) -> None:
    with EmbeddedStore(tmp_path / "empty") as empty:
        step = surveillance_step(empty, ComplianceSurveillanceConfig.from_parameters(rules=str(rules)))
    assert step.portfolios == () and step.skipped == {"paper": "not stored", "demo": "not stored"}
    assert step.table().empty and step.result()["breaches"] == 0 and "nothing surveyed" in repr(step)


@pytest.mark.postgres
def test_surveillance_step_on_postgresql_finds_the_same_breaches_and_wash_sale(
    pg_url: str, pg_schema: str, tmp_path: Path, rules: Path
) -> None:
    from bifrost.data._postgres import PostgresStore

    with PostgresStore(pg_url, home=tmp_path / "pg", schema=pg_schema, timescale=False) as pg:
        ingest(pg, CsvSource(ORCL, symbol="ORCL"), None, "2014-01-01", "2014-04-01")
        record_transactions(pg, "paper", _book(), create=True)
        step = surveillance_step(pg, ComplianceSurveillanceConfig.from_parameters(rules=str(rules)))
    row = step.table().loc["paper"]
    assert (row["breaches"], row["by_trade"], row["by_price_move"], row["episodes"]) == (60, 2, 58, 2)
    assert (row["wash_sales"], row["disallowed_loss"]) == (1, pytest.approx(2_000.0))
