"""Limits and alerts: measures checked independently on the real files, persisted on every backend."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, EmbeddedStore, ingest
from bifrost.errors import InvalidInputError, NotFoundError
from bifrost.portfolio import CashFlow, CashKind, Fill, Side, create_portfolio, record_transactions
from bifrost.risk import (
    DEFAULT_LIMITS,
    Limit,
    book_from_store,
    book_risk,
    check_limits,
    evaluate_limits,
    get_limits,
    limits_from_toml,
    portfolio_drawdown,
    read_alert_history,
    read_alerts,
    set_limits,
)
from tests.cli import bifrost
from tests.conftest import NVDA, ORCL, ROOT, YHOO

T0 = pd.Timestamp("2014-01-02", tz="UTC")
HOLDINGS = {"ORCL": 1000, "NVDA": 500, "YHOO": -300}
FILES = {"ORCL": ORCL, "NVDA": NVDA, "YHOO": YHOO}
SECTORS = {"ORCL": "software", "NVDA": "semiconductors", "YHOO": "software"}


def _closes() -> pd.DataFrame:
    frames = {s: pd.read_csv(f, parse_dates=["Date"], index_col="Date")["Close"] for s, f in FILES.items()}
    return pd.DataFrame(frames).sort_index()


def _fill(i: int, symbol: str, qty: int) -> Fill:
    side = Side.BUY if qty > 0 else Side.SELL
    return Fill(txn_id=f"f{i}", ts=T0, symbol=symbol, side=side, quantity=Decimal(abs(qty)), price=Decimal("30"))


def _load(store: BarStore) -> None:
    for symbol, file in FILES.items():
        ingest(store, CsvSource(file, symbol=symbol), start="2012-01-01")
    txns = [CashFlow(txn_id="d", ts=T0, kind=CashKind.DEPOSIT, amount=Decimal(100_000))]
    txns += [_fill(i, s, q) for i, (s, q) in enumerate(HOLDINGS.items())]
    record_transactions(store, "book", txns, create=True)
    create_portfolio(store, "empty", inception=T0)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("limits-home")
    with EmbeddedStore(path) as store:
        _load(store)
    return path


@pytest.fixture(scope="module")
def measures() -> dict[str, float]:
    """The book's exposures and drawdown, computed here from the files alone."""
    closes = _closes()
    last = closes.iloc[-1]
    values = pd.Series({s: q * last[s] for s, q in HOLDINGS.items()})
    cash = 100_000 - sum(q * 30 for q in HOLDINGS.values())
    equity = cash + values.sum()
    daily = cash + (closes.loc["2014-01-02":] * pd.Series(HOLDINGS)).sum(axis=1)  # no flows after day one
    return {
        "equity": equity,
        "gross": values.abs().sum() / equity,
        "net": abs(values.sum()) / equity,
        **{s: abs(v) / equity for s, v in values.items()},
        "software": (abs(values["ORCL"]) + abs(values["YHOO"])) / equity,
        "semiconductors": abs(values["NVDA"]) / equity,
        "drawdown": 1 - daily.iloc[-1] / daily.max(),
        "peak": daily.idxmax(),
    }


def test_exposures_and_concentrations_equal_the_files(home: Path, measures: dict[str, float]) -> None:
    with EmbeddedStore(home) as store:
        book = book_from_store(store, "book")
    limits = [
        Limit(name="gross", metric="gross_exposure", threshold=1.0),
        Limit(name="net", metric="net_exposure", threshold=1.0),
        Limit(name="name", metric="single_name", threshold=1.0),
        Limit(name="sector", metric="sector", threshold=1.0),
    ]
    checks = evaluate_limits(book, limits, sectors=SECTORS).set_index(["limit_name", "subject"])["value"]
    assert checks[("gross", "")] == pytest.approx(measures["gross"], rel=1e-12)
    assert checks[("net", "")] == pytest.approx(measures["net"], rel=1e-12)
    for symbol in HOLDINGS:
        assert checks[("name", symbol)] == pytest.approx(measures[symbol], rel=1e-12)
    for sector in ("software", "semiconductors"):
        assert checks[("sector", sector)] == pytest.approx(measures[sector], rel=1e-12)


def test_var_and_es_limits_measure_what_book_risk_measures(home: Path) -> None:
    with EmbeddedStore(home) as store:
        book = book_from_store(store, "book")
    limits = [
        Limit(name="v", metric="var", threshold=0.5, method="parametric", confidence=0.975, horizon_days=10),
        Limit(name="e", metric="es", threshold=0.5, method="parametric", confidence=0.975, horizon_days=10),
    ]
    checks = evaluate_limits(book, limits).set_index("limit_name")["value"]
    expected = book_risk(book, method="parametric", confidence=0.975, horizon_days=10)
    assert checks["v"] == pytest.approx(expected.var, rel=1e-12)
    assert checks["e"] == pytest.approx(expected.es, rel=1e-12)


def test_drawdown_is_that_of_the_equity_since_inception(home: Path, measures: dict[str, float]) -> None:
    with EmbeddedStore(home) as store:
        drawdown, peak = portfolio_drawdown(store, "book")
        with pytest.raises(InvalidInputError, match="never held a position"):
            portfolio_drawdown(store, "empty")
    assert drawdown == pytest.approx(measures["drawdown"], rel=1e-10)
    assert peak.tz_convert(None) == measures["peak"]
    assert 0 < drawdown < 1


def test_severity_is_breach_above_the_threshold_warning_above_warn_at(home: Path, measures: dict[str, float]) -> None:
    with EmbeddedStore(home) as store:
        book = book_from_store(store, "book")
    gross = measures["gross"]
    limits = [
        Limit(name="over", metric="gross_exposure", threshold=gross * 0.99),
        Limit(name="near", metric="gross_exposure", threshold=gross * 1.01, warn_at=0.9),
        Limit(name="at", metric="gross_exposure", threshold=gross * 1.000001, warn_at=1.0),
        Limit(name="under", metric="gross_exposure", threshold=gross * 2, warn_at=0.9),
        Limit(name="dd", metric="drawdown", threshold=0.5),
        Limit(name="sector", metric="sector", threshold=0.5),
    ]
    checks = evaluate_limits(book, limits).set_index("limit_name")
    assert checks["severity"].to_dict() == {
        "over": "breach",
        "near": "warning",
        "at": "ok",
        "under": "ok",
        "dd": "n/a",
        "sector": "n/a",
    }  # fmt: skip  (no drawdown given, no sectors known: measured as n/a, never as ok)
    assert checks.loc["over", "utilisation"] == pytest.approx(1 / 0.99)
    assert math.isnan(checks.loc["dd", "value"])


def test_check_limits_records_alerts_that_read_alerts_returns(tmp_path: Path, measures: dict[str, float]) -> None:
    with EmbeddedStore(tmp_path) as store:
        _load(store)
        assert get_limits(store, "book") == DEFAULT_LIMITS
        limits = [
            Limit(name="concentration", metric="single_name", threshold=measures["ORCL"] * 0.999),
            Limit(name="drawdown", metric="drawdown", threshold=measures["drawdown"] * 1.05, warn_at=0.9),
            Limit(name="gross", metric="gross_exposure", threshold=10.0),
        ]
        set_limits(store, "book", limits)
        assert get_limits(store, "book") == tuple(sorted(limits, key=lambda x: x.name))
        now = pd.Timestamp("2015-01-02 07:00", tz="UTC")
        report = check_limits(store, "book", sectors=SECTORS, now=now)
        assert report.breached and report.as_of == pd.Timestamp("2014-12-31", tz="UTC")
        alerts = read_alerts(store, "book")
        assert alerts[["limit_name", "subject", "severity"]].values.tolist() == [
            ["concentration", "ORCL", "breach"],
            ["drawdown", "", "warning"],
        ]
        assert (alerts["ts"] == now).all() and alerts["value"].iloc[0] == pytest.approx(measures["ORCL"])
        assert "ORCL at" in alerts["message"].iloc[0] and "above the limit" in alerts["message"].iloc[0]
        assert "above the warning level" in alerts["message"].iloc[1]
        # a dry run records nothing; filters
        dry = check_limits(store, "book", record=False)
        assert dry.episodes is None and json.loads(json.dumps(dry.to_dict()))["episodes"] is None
        assert len(read_alerts(store)) == 2
        assert len(read_alerts(store, severity="breach")) == 1
        assert read_alerts(store, since="2015-01-03").empty and read_alerts(store, "other").empty
        summary = report.summary()
        assert summary["limit_name"].tolist() == ["concentration", "drawdown", "gross"]
        assert summary.loc[0, "subject"] == "ORCL"  # the worst name is the one shown
        assert json.loads(json.dumps(report.to_dict()))["alerts"][0]["severity"] == "breach"
        assert "breach" in report._repr_html_()


def test_repeated_checks_keep_one_episode_per_breach_and_its_history_on_every_backend(
    store: BarStore, measures: dict[str, float]
) -> None:
    # issue 12, item 5: three runs of one check left three alert rows per breach
    _load(store)
    limits = [Limit(name="names", metric="single_name", threshold=0.01), Limit(name="v", metric="var", threshold=1.0)]
    set_limits(store, "book", limits)
    assert get_limits(store, "book") == tuple(limits)
    days = [pd.Timestamp(d, tz="UTC") for d in ("2015-01-02", "2015-01-05", "2015-01-06")]
    reports = [check_limits(store, "book", now=day) for day in days]
    assert [list(r.episodes["change"]) for r in reports] == [["opened"] * 3, ["unchanged"] * 3, ["unchanged"] * 3]
    episodes = read_alerts(store, "book")
    assert len(episodes) == 3 and list(episodes["subject"]) == sorted(HOLDINGS)  # every name breaches 1%, once
    assert (episodes["status"] == "open").all() and episodes["closed"].isna().all()
    assert (episodes["opened"] == days[0]).all() and (episodes["ts"] == days[-1]).all()
    np.testing.assert_allclose(episodes["value"], [measures[s] for s in sorted(HOLDINGS)], rtol=1e-12)
    history = read_alert_history(store, "book")
    assert list(history["change"]) == ["opened"] * 3  # re-running the same check adds no history
    # cleared: each episode closes, with the value that cleared it; then a new breach is a new episode
    set_limits(store, "book", [Limit(name="names", metric="single_name", threshold=10.0)])
    closing = check_limits(store, "book", now=pd.Timestamp("2015-01-07", tz="UTC"))
    assert list(closing.episodes["change"]) == ["closed"] * 3 and closing.alerts.empty
    assert read_alerts(store, "book", status="open").empty and len(read_alerts(store, status="closed")) == 3
    orcl_id = int(episodes.loc[episodes["subject"] == "ORCL", "id"].iloc[0])
    closed = read_alert_history(store, "book", alert_id=orcl_id)
    assert list(closed["change"]) == ["opened", "closed"] and closed["severity"].iloc[-1] == "ok"
    assert closed["value"].iloc[-1] == pytest.approx(measures["ORCL"]) and "back at" in closed["message"].iloc[-1]
    set_limits(store, "book", limits)
    again = check_limits(store, "book", now=pd.Timestamp("2015-01-08", tz="UTC"))
    assert list(again.episodes["change"]) == ["opened"] * 3 and set(again.episodes["id"]).isdisjoint(episodes["id"])
    assert len(read_alerts(store, "book")) == 6 and len(read_alerts(store, since="2015-01-08")) == 3
    # a warning that becomes a breach is the same episode, escalated; its worst is kept when it eases
    near = measures["ORCL"]
    for threshold, now in ((near * 1.1, "2015-01-09"), (near * 0.9, "2015-01-12"), (near * 1.1, "2015-01-13")):
        set_limits(store, "book", [Limit(name="orcl", metric="single_name", threshold=threshold, warn_at=0.5)])
        report = check_limits(store, "book", now=pd.Timestamp(now, tz="UTC"))
    orcl = read_alerts(store, "book").query("limit_name == 'orcl' and subject == 'ORCL'")
    assert len(orcl) == 1 and orcl["severity"].iloc[0] == "warning" and orcl["worst_severity"].iloc[0] == "breach"
    steps = read_alert_history(store, alert_id=int(orcl["id"].iloc[0]))
    assert list(steps["change"]) == ["opened", "escalated", "eased"]
    assert list(steps["severity"]) == ["warning", "breach", "warning"]
    assert report.to_dict()["episodes"][0]["change"] in ("eased", "updated", "unchanged", "closed", "opened")
    assert len(read_alerts(store, "book", severity="breach")) == 7  # the six names' episodes and the escalated one
    # the names limit was removed by set_limits: its episodes closed then, saying so
    removed = read_alert_history(store, "book", alert_id=int(again.episodes["id"].iloc[0]))
    assert list(removed["change"]) == ["opened", "closed"] and "the limit was removed" in removed["message"].iloc[-1]
    assert read_alerts(store, "book", status="open")["limit_name"].tolist() == ["orcl"]


def test_alert_episodes_of_an_unmeasured_subject_stay_open(tmp_path: Path, measures: dict[str, float]) -> None:
    # n/a is not "cleared": a sector limit without sectors leaves its episode open
    with EmbeddedStore(tmp_path) as store:
        _load(store)
        set_limits(store, "book", [Limit(name="sector", metric="sector", threshold=0.01)])
        opened = check_limits(store, "book", sectors=SECTORS, now=pd.Timestamp("2015-01-02", tz="UTC"))
        assert sorted(opened.episodes["subject"]) == ["semiconductors", "software"]
        unmeasured = check_limits(store, "book", sectors={}, now=pd.Timestamp("2015-01-05", tz="UTC"))
        assert unmeasured.episodes.empty and (read_alerts(store)["status"] == "open").all()


def test_v3_store_alert_rows_become_episodes_with_their_history(tmp_path: Path) -> None:
    # a store an older bifrost wrote (tests/fixtures/stores), with the rows three runs of one check appended
    home = tmp_path / "home"
    shutil.copytree(ROOT / "tests" / "fixtures" / "stores" / "v3-embedded", home)
    con = sqlite3.connect(home / "state.sqlite")
    columns = "ts, as_of, portfolio, limit_name, metric, subject, value, threshold, severity, message"
    (row,) = con.execute(f"SELECT {columns} FROM risk_alerts").fetchall()
    for ts, severity in (("1999-04-02T12:00:00+00:00", "breach"), ("1999-04-05T12:00:00+00:00", "warning")):
        con.execute(f"INSERT INTO risk_alerts ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (ts, *row[1:8], severity, row[9]))  # fmt: skip
    con.commit()
    con.close()
    with EmbeddedStore(home) as store:
        (episode,) = read_alerts(store, "core").itertuples()
        assert episode.opened == pd.Timestamp("1999-04-01T12:00:00", tz="UTC") and episode.status == "open"
        assert episode.ts == pd.Timestamp("1999-04-05T12:00:00", tz="UTC") and episode.severity == "warning"
        assert episode.worst_severity == "breach" and episode.value == pytest.approx(0.00328863849529902)
        history = read_alert_history(store, "core")
        assert list(history["change"]) == ["opened", "escalated", "eased"] and (history["alert_id"] == episode.id).all()
        # the next check on the upgraded store updates that episode: no second row
        report = check_limits(store, "core", lookback_days=30, now=pd.Timestamp("1999-04-06T12:00:00", tz="UTC"))
        assert list(report.episodes["id"]) == [episode.id] and len(read_alerts(store)) == 1


def test_bad_limits_are_refused_with_what_was_wrong() -> None:
    for kwargs, message in [
        ({"name": " ", "metric": "var", "threshold": 0.1}, "non-empty name"),
        ({"name": "x", "metric": "beta", "threshold": 0.1}, "metric must be one of"),
        ({"name": "x", "metric": "var", "threshold": 0.0}, "threshold must be a positive"),
        ({"name": "x", "metric": "var", "threshold": float("nan")}, "threshold must be a positive"),
        ({"name": "x", "metric": "var", "threshold": True}, "threshold must be a positive"),
        ({"name": "x", "metric": "var", "threshold": 0.1, "warn_at": 1.5}, r"warn_at must be in \(0, 1\]"),
        ({"name": "x", "metric": "var", "threshold": 0.1, "warn_at": 0}, r"warn_at must be in \(0, 1\]"),
        ({"name": "x", "metric": "var", "threshold": 0.1, "method": "garch"}, "method must be one of"),
        ({"name": "x", "metric": "var", "threshold": 0.1, "confidence": 1.0}, "limit 'x': confidence"),
        ({"name": "x", "metric": "var", "threshold": 0.1, "horizon_days": 0}, "limit 'x': horizon_days"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            Limit(**kwargs)  # type: ignore[arg-type]


def test_bad_limit_files_and_arguments_name_the_problem(home: Path, tmp_path: Path) -> None:
    def toml(text: str) -> Path:
        path = tmp_path / "limits.toml"
        path.write_text(text)
        return path

    head = '[[limits]]\nname = "a"\nmetric = "var"\n'
    cases = [
        ("limits = [", "cannot read limits"),
        ("[other]\nx = 1", "no \\[\\[limits\\]\\] tables"),
        (head + 'threshold = 0.1\ncolour = "red"', r"limit #1: unknown key\(s\) \['colour'\]"),
        (head, r"limit #1: missing \['threshold'\]"),
        (head + "threshold = -1", "limit #1: limit 'a': threshold"),
        (head + "threshold = 0.1\n" + head + "threshold = 0.2", r"repeated: \['a'\]"),
    ]  # fmt: skip
    for text, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            limits_from_toml(toml(text))
    with pytest.raises(InvalidInputError, match="cannot read limits"):
        limits_from_toml(tmp_path / "missing.toml")
    with EmbeddedStore(home) as store:
        before = get_limits(store, "book")
        with pytest.raises(NotFoundError, match=r"no portfolio 'nope' in the store \(portfolios: book, empty\)"):
            set_limits(store, "nope", DEFAULT_LIMITS)
        with pytest.raises(InvalidInputError, match="repeated"):
            set_limits(store, "book", [DEFAULT_LIMITS[0], DEFAULT_LIMITS[0]])
        assert get_limits(store, "book") == before  # nothing changed
        book = book_from_store(store, "book")
        with pytest.raises(InvalidInputError, match=r"drawdown must be in \[0, 1\], got 1.5"):
            evaluate_limits(book, DEFAULT_LIMITS, drawdown=1.5)
        with pytest.raises(InvalidInputError, match="severity must be"):
            read_alerts(store, severity="fatal")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="since must be a date"):
            read_alerts(store, since="yesterday-ish")
        with pytest.raises(NotFoundError, match=r"no portfolio 'nope' in the store \(portfolios: book, empty\)"):
            get_limits(store, "nope")


def test_cli_limits_sets_evaluates_records_and_lists_alerts(tmp_path: Path, measures: dict[str, float]) -> None:
    with EmbeddedStore(tmp_path) as store:
        _load(store)
    file = tmp_path / "limits.toml"
    file.write_text(
        f'[[limits]]\nname = "names"\nmetric = "single_name"\nthreshold = {measures["ORCL"] * 0.999}\n'
        '[[limits]]\nname = "var"\nmetric = "var"\nthreshold = 0.5\nmethod = "parametric"\n'
    )
    run = bifrost(tmp_path, "risk", "limits", "book", "--set", str(file), "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["breached"] and [a["subject"] for a in out["alerts"]] == ["ORCL"]
    assert [row["limit_name"] for row in out["limits"]] == ["names", "var"]
    strict = bifrost(tmp_path, "risk", "limits", "book", "--strict")  # the stored limits again
    assert strict.returncode == 1 and "breach" in strict.stdout and "ORCL" in strict.stdout
    listed = bifrost(tmp_path, "risk", "alerts", "book", "--json")
    assert listed.returncode == 0, listed.stderr
    # two runs, one episode (it was two alert rows); the second run shows it as open since the first
    assert [a["subject"] for a in json.loads(listed.stdout)] == ["ORCL"]
    assert out["episodes"][0]["change"] == "opened" and "ALERT open #1, since" in strict.stdout
    dry = bifrost(tmp_path, "risk", "limits", "book", "--no-record")
    assert dry.returncode == 0 and "ALERT book: single_name ORCL" in dry.stdout
    assert len(json.loads(bifrost(tmp_path, "risk", "alerts", "--json").stdout)) == 1
    history = bifrost(tmp_path, "risk", "alerts", "book", "--history")
    assert history.returncode == 0 and "opened" in history.stdout and history.stdout.count("\n") == 2
    nested = json.loads(bifrost(tmp_path, "risk", "alerts", "--open", "--history", "--json").stdout)
    assert [e["change"] for e in nested[0]["history"]] == ["opened"]
    (tmp_path / "loose.toml").write_text('[[limits]]\nname = "names"\nmetric = "single_name"\nthreshold = 5\n')
    cleared = bifrost(tmp_path, "risk", "limits", "book", "--set", str(tmp_path / "loose.toml"))
    assert cleared.returncode == 0 and "CLEARED" in cleared.stdout, cleared.stdout + cleared.stderr
    assert json.loads(bifrost(tmp_path, "risk", "alerts", "book", "--open", "--json").stdout) == []
    bad = bifrost(tmp_path, "risk", "limits", "book", "--set", str(tmp_path / "none.toml"))
    assert bad.returncode == 2 and "cannot read limits" in bad.stderr


def test_limits_from_toml_not_utf8_raises_naming_the_file(tmp_path: Path) -> None:
    good = '[[limits]]\nname = "gross"\nmetric = "gross_exposure"\nthreshold = 2.0\n'
    for name, data in [("latin.toml", b"\xff[x]\n"), ("utf16.toml", good.encode("utf-16"))]:
        bad = tmp_path / name
        bad.write_bytes(data)
        with pytest.raises(InvalidInputError, match=rf"{name}: cannot read limits: is not UTF-8 text"):
            limits_from_toml(bad)
    bom = tmp_path / "bom.toml"
    bom.write_bytes(good.encode("utf-8-sig"))  # a BOM, as Windows editors write
    assert [limit.name for limit in limits_from_toml(bom)] == ["gross"]
    home = tmp_path / "home"
    assert bifrost(home, "portfolio", "create", "book", "--inception", "2014-01-01").returncode == 0
    for args in (["stress", "book", "--shocks"], ["limits", "book", "--set"]):
        out = bifrost(home, "risk", *args, str(tmp_path / "latin.toml"))
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert out.stderr.strip().count("\n") == 0 and "is not UTF-8 text" in out.stderr


def test_check_limits_checks_the_history_once_and_each_limit_once(tmp_path: Path, checked: Counter[str]) -> None:
    limits = [
        Limit(name=f"{m}_{method}", metric=m, threshold=0.5, method=method, confidence=0.975, horizon_days=10)
        for m in ("var", "es")
        for method in ("historical", "parametric", "montecarlo", "filtered_historical")
    ]
    assert checked["as_fraction:confidence"] == len(limits)  # each limit's confidence when it is made
    with EmbeddedStore(tmp_path / "home") as store:
        _load(store)
        set_limits(store, "book", limits)
        checked.clear()
        report = check_limits(store, "book", record=False)
    assert len(report.checks) == len(limits) and report.checks["value"].gt(0).all()
    assert checked["as_fraction:confidence"] == len(limits)  # read back from the store: each limit once, no more
    assert checked["as_positive_int:horizon_days"] == len(limits)
    assert checked["_return_matrix_problem:returns"] == 1  # the book's history once, for all eight measures
    assert checked["as_float_array_1d:returns"] == 0
