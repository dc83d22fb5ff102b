"""The compliance_surveillance job notebook run by the runner on real bars: each book's report, its HTML, its result.

One real papermill kernel (about 5 s): the job once on a paper book of ORCL (backtrader's file,
2014) with a breach of the position rule every session it is held and one wash sale; the step
itself (its config, lookback, defaults) is tested in process in tests/jobs/test_compliance_job.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from bifrost.data import CsvSource, EmbeddedStore, ingest
from bifrost.jobs import RunStatus, load_jobs, run_job
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


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[EmbeddedStore]:
    # the repository's papermill_jobs/ on a fresh embedded store (the kernels inherit it from the runner)
    for name in ("BIFROST_DATABASE_URL", "BIFROST_CONFIG", "BIFROST_JOBS_DIR", "BIFROST_LOG_FORMAT",
                 "BIFROST_COMPLIANCE_RULES"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BIFROST_HOME", str(tmp_path / "home"))
    opened = EmbeddedStore(tmp_path / "home")
    try:
        ingest(opened, CsvSource(ORCL, symbol="ORCL"), None, "2014-01-01", "2014-04-01")
        fills = [
            Fill(txn_id=txn, ts=_day(day), symbol="ORCL", side=side, quantity=Decimal(1000), price=Decimal(price))
            for txn, day, side, price in (
                ("buy-1", "2014-01-02", Side.BUY, "37.84"),
                ("sell-1", "2014-02-03", Side.SELL, "35.84"),  # a 2,000 loss, bought back the next day
                ("buy-2", "2014-02-04", Side.BUY, "35.96"),
            )
        ]
        deposit = CashFlow(txn_id="deposit", ts=_day("2014-01-02"), kind=CashKind.DEPOSIT, amount=Decimal(100_000))
        record_transactions(opened, "paper", [deposit, *fills], create=True)
        yield opened
    finally:
        opened.close()


def test_jobs_toml_declares_compliance_surveillance_and_daily_runs_it_after_the_risk_report() -> None:
    jobs = load_jobs()
    assert jobs["compliance_surveillance"].config == "ComplianceSurveillanceConfig"
    steps = jobs["daily"].steps
    assert steps.index("risk_report") < steps.index("compliance_surveillance")
    assert steps.index("paper_rebalance") < steps.index("compliance_surveillance")  # it surveys the day's trades


def test_compliance_surveillance_job_writes_each_report_and_records_the_librarys_numbers(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    rules = tmp_path / "compliance.toml"
    rules.write_text(RULES)
    run = run_job(store, "compliance_surveillance", {"rules": str(rules)})
    assert run.status is RunStatus.SUCCEEDED, run.error
    result = run.result
    assert result["skipped"] == {"demo": "not stored"}
    paper = result["portfolios"]["paper"]  # type: ignore[index]
    assert (paper["start"], paper["end"]) == ("2014-01-02", "2014-03-31")
    assert (paper["breaches"], paper["by_trade"], paper["by_price_move"], paper["episodes"]) == (60, 2, 58, 2)
    assert (paper["wash_sales"], paper["disallowed_loss"]) == (1, pytest.approx(2_000.0))

    # the same numbers as the step in process on the same store, under the same rules (by their hash)
    direct = surveillance_step(store, ComplianceSurveillanceConfig.from_parameters(rules=str(rules)))
    assert result["rules_hash"] == direct.rules_hash
    expected = direct.result()["portfolios"]["paper"]
    assert {k: v for k, v in paper.items() if k != "report"} == {k: v for k, v in expected.items() if k != "report"}

    # the report's page is in the run's folder, and the executed notebook shows the report
    assert run.notebook is not None and run.html is not None and run.html.is_file()
    page = Path(str(paper["report"]))
    assert page == run.notebook.parent / "compliance_paper.html" and page.is_file()
    assert direct.rules_hash in page.read_text() and page.stat().st_size > 10_000
    assert "position_30" in run.notebook.read_text()
