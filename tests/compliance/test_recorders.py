"""What the packages record in the audit trail, in the transaction of each change: risk alerts, job runs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bifrost.compliance import verify_audit
from bifrost.data import AUDIT_SCHEMA, BarStore, CsvSource, EmbeddedStore, ingest
from bifrost.jobs import JobHistory, RunStatus
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, record_transactions
from bifrost.risk import Limit, check_limits, read_alert_history, set_limits
from tests.conftest import ORCL

T0 = pd.Timestamp("2014-01-02", tz="UTC")


def _records(store: BarStore, kind: str) -> list[dict[str, Any]]:
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        rows = db.rows("SELECT seq, ts, subject, payload FROM {t}audit_log WHERE kind = ? ORDER BY seq", (kind,))
    return [{"seq": s, "record_ts": ts, "about": subject, **json.loads(payload)} for s, ts, subject, payload in rows]


@pytest.fixture
def embedded(tmp_path: Path) -> Any:
    with EmbeddedStore(tmp_path / "home") as store:
        yield store


def test_risk_alert_each_episode_change_is_one_record(embedded: EmbeddedStore) -> None:
    ingest(embedded, CsvSource(ORCL, symbol="ORCL"), start="2013-06-01")
    deposit = CashFlow(txn_id="d", ts=T0, kind=CashKind.DEPOSIT, amount=Decimal(100_000))
    buy = Fill(txn_id="f", ts=T0, symbol="ORCL", side=Side.BUY, quantity=Decimal(1000), price=Decimal("37.84"))
    record_transactions(embedded, "book", [deposit, buy], create=True)
    set_limits(embedded, "book", [Limit(name="names", metric="single_name", threshold=0.01)])
    for day in ("2014-06-02", "2014-06-03"):  # opened, then unchanged: one record
        check_limits(embedded, "book", now=pd.Timestamp(day, tz="UTC"))
    assert [(r["change"], r["about"]) for r in _records(embedded, "risk.alert")] == [("opened", "book")]
    set_limits(embedded, "book", [Limit(name="names", metric="single_name", threshold=10.0)])
    check_limits(embedded, "book", now=pd.Timestamp("2014-06-04", tz="UTC"))  # cleared: closed
    set_limits(embedded, "book", [Limit(name="names", metric="single_name", threshold=0.01)])
    check_limits(embedded, "book", now=pd.Timestamp("2014-06-05", tz="UTC"))  # a new episode
    set_limits(embedded, "book", [Limit(name="gross", metric="gross_exposure", threshold=10.0)])  # closed: removed
    records = _records(embedded, "risk.alert")
    history = read_alert_history(embedded, "book").sort_values(["ts", "alert_id"], kind="stable")
    assert [r["change"] for r in records] == ["opened", "closed", "opened", "closed"]
    assert sorted(r["change"] for r in records) == sorted(history["change"])
    assert "the limit was removed" in records[-1]["message"] and records[-1]["severity"] == "n/a"
    opened, closed = records[:2]
    assert opened["limit_name"] == "names" and opened["subject"] == "ORCL" and opened["severity"] == "breach"
    assert opened["value"] == pytest.approx(float(history["value"].iloc[0]), rel=1e-12)
    assert opened["record_ts"] == "2014-06-02T00:00:00.000000+00:00" and opened["alert_id"] == closed["alert_id"]
    assert closed["severity"] == "ok" and "back at" in closed["message"]
    assert verify_audit(embedded).ok


def test_job_run_records_when_queued_and_when_ended(embedded: EmbeddedStore) -> None:
    history = embedded.part(JobHistory)
    history.create(run_id="r1", job="daily_ingest", parameters={"source": "orcl.csv"}, version="1")
    history.create(run_id="r1-again", job="daily_ingest", parameters={}, version="1", idempotency_key="k")
    history.create(run_id="r1-twice", job="daily_ingest", parameters={}, version="1", idempotency_key="k")  # exists
    history.start("r1")
    history.finish("r1", RunStatus.FAILED, error_cell=3, error_name="ValueError", error_message="bad row")
    history.cancel("r1-again", "scheduler stopped")
    history.cancel("r1", "too late")  # already ended: nothing changes, nothing is recorded
    records = _records(embedded, "job.run")
    assert [(r["about"], r["event"], r["status"]) for r in records] == [
        ("r1", "queued", "queued"),
        ("r1-again", "queued", "queued"),
        ("r1", "ended", "failed"),
        ("r1-again", "ended", "canceled"),
    ]
    assert records[0]["parameters"] == {"source": "orcl.csv"} and records[0]["job"] == "daily_ingest"
    assert records[2]["error"] == "cell 3: ValueError: bad row" and records[2]["started"] is not None
    assert records[1]["idempotency_key"] == "k"
    assert verify_audit(embedded).ok
