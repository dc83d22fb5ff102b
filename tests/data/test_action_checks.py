"""Recorded splits and dividends checked against the raw closes around them (issue 12, item 3).

The 505-stock file is split-adjusted (IEX history): LNT's real 2-for-1 of 2016-05-19 does not
show in it, so recording it adjusts the prices twice. DISCA's 2-for-1 of 2014-08-07 (a Class C
share for each share) is not adjusted in the same file: the raw close halves, with no split.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from bifrost.data import BarStore, CsvSource, EmbeddedStore, check_quality, ingest, record_actions, remove_actions
from bifrost.data._action_checks import contradiction, split_name, split_shaped
from bifrost.errors import DataQualityWarning, InvalidInputError
from bifrost.testing import FrameBarSource
from tests.conftest import ORCL, SP500, SPY


@pytest.fixture(scope="module")
def sp500() -> pd.DataFrame:
    # LNT's and DISCA's real rows of the 505-stock file, parsed once for the module
    frame = CsvSource(SP500).bars(["LNT", "DISCA"])
    return frame


def _action(symbol: str, day: str, kind: str, value: float) -> pd.DataFrame:
    return pd.DataFrame([{"symbol": symbol, "ts": day, "kind": kind, "value": value}])


def _checks(store: BarStore, symbol: str) -> dict[str, list[str]]:
    findings = check_quality(store, [symbol]).findings
    return {c: [str(t.date()) for t in g["ts"]] for c, g in findings.groupby("check")}


def test_a_split_recorded_on_split_adjusted_lnt_warns_and_is_a_finding(store: BarStore, sp500: pd.DataFrame) -> None:
    # LNT's 2016-05-19 bar is a bad print (close 17.87 below its low 35.085): repair leaves it out
    ingest(store, FrameBarSource(sp500[sp500["symbol"] == "LNT"], origin="sp500"), on_error="repair")
    assert "action-contradicted" not in _checks(store, "LNT")
    with pytest.warns(DataQualityWarning, match=r"LNT split 2 on 2016-05-19: the raw close moved \+1\.6% "
                      r"\(35\.35 on 2016-05-18 to 35\.91 on 2016-05-20\), not the -50% a 2-for-1 split makes; "
                      r"the prices are probably already split-adjusted") as caught:  # fmt: skip
        record_actions(store, _action("LNT", "2016-05-19", "split", 2.0))
    assert caught[0].filename == __file__  # at the line that recorded it
    assert len(store.read_actions(["LNT"])) == 1  # recorded as asked: the user may know better
    checks = _checks(store, "LNT")
    assert checks["action-contradicted"] == ["2016-05-19"]
    assert "bifrost data unrecord" in str(caught[0].message)  # found by QA: it said re-ingesting, which kept it
    adjusted = store.read_bars("LNT", adjustment="split_adjusted")["close"].droplevel("symbol")
    assert adjusted.loc[:"2016-05-18"].iloc[-1] == pytest.approx(35.35 / 2)  # adjusted twice
    logged = len(store.ingest_log())
    assert remove_actions(store, _action("LNT", "2016-05-19", "split", 2.0)) == 1
    assert store.read_actions(["LNT"]).empty and "action-contradicted" not in _checks(store, "LNT")
    again = store.read_bars("LNT", adjustment="split_adjusted")["close"].droplevel("symbol")
    assert again.loc[:"2016-05-18"].iloc[-1] == 35.35
    assert len(store.ingest_log()) == logged + 1  # noted, so a server's cache reads the store again


def test_removing_an_action_the_store_does_not_hold_names_what_it_holds_and_changes_nothing(
    store: BarStore, sp500: pd.DataFrame
) -> None:
    ingest(store, FrameBarSource(sp500[sp500["symbol"] == "DISCA"], origin="sp500"))
    record_actions(store, _action("DISCA", "2014-08-07", "split", 2.0))
    before = store.read_actions()
    for frame, match in (
        (_action("DISCA", "2014-08-08", "split", 2.0), r"no split of DISCA on 2014-08-08 is recorded "
                                                        r"\(recorded: split 2 on 2014-08-07\)"),
        (_action("DISCA", "2014-08-07", "dividend", 1.0), "no dividend of DISCA on 2014-08-07"),
        (_action("NOPE", "2014-08-07", "split", 2.0), r"no split of NOPE on 2014-08-07 is recorded \(recorded: none\)"),
        (_action("DISCA", "2014-08-07", "merger", 2.0), "kind must be one of"),
        (_action("DISCA", "yesterday-ish", "split", 2.0), "bad date"),
        (_action("DIS CA", "2014-08-07", "split", 2.0), "not a valid symbol"),
    ):  # fmt: skip
        with pytest.raises(InvalidInputError, match=match):
            remove_actions(store, pd.concat([_action("DISCA", "2014-08-07", "split", 2.0), frame]))
    with pytest.raises(InvalidInputError, match=r"need columns \['ts', 'kind'\]"):
        remove_actions(store, pd.DataFrame({"symbol": ["DISCA"]}))
    pd.testing.assert_frame_equal(store.read_actions(), before)  # a bad row anywhere removes nothing


def test_a_halving_with_no_split_recorded_is_an_unrecorded_split_until_it_is_recorded(
    store: BarStore, sp500: pd.DataFrame
) -> None:
    ingest(store, FrameBarSource(sp500[sp500["symbol"] == "DISCA"], origin="sp500"))
    checks = _checks(store, "DISCA")
    assert checks["unrecorded-split"] == ["2014-08-07"]  # 83.02 -> 40.975: -50.6%
    assert "2014-08-07" not in checks.get("outlier", [])  # one finding, not two
    detail = check_quality(store, ["DISCA"]).findings.set_index("check").loc["unrecorded-split", "detail"]
    assert "2-for-1 split" in detail and "`bifrost data split DISCA 2014-08-07 2`" in detail
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the prices confirm it: no warning
        record_actions(store, _action("DISCA", "2014-08-07", "split", 2.0))
    checks = _checks(store, "DISCA")
    assert "unrecorded-split" not in checks and "action-contradicted" not in checks
    adjusted = store.read_bars("DISCA", "2014-08-06", "2014-08-08", adjustment="split_adjusted")["close"]
    assert adjusted.tolist() == pytest.approx([83.02 / 2, 40.975])


def test_spys_real_dividends_are_not_contradicted(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ingest(store, CsvSource(SPY, symbol="SPY"))
    assert (store.read_actions(["SPY"])["kind"] == "dividend").sum() == 85
    checks = _checks(store, "SPY")
    assert "action-contradicted" not in checks and "unrecorded-split" not in checks


@pytest.mark.parametrize(
    ("day", "amount", "message"),
    [
        # a Saturday: the adjustment lands on the Monday
        ("2014-12-06", 0.12, r"dividend 0\.12 on 2014-12-06: no bar on its ex-date \(the bars around it are "
         r"2014-12-05 and 2014-12-08\)"),
        # 12% of the close before it, and the close fell 0.8%
        ("2014-12-01", 5.0, r"dividend 5 on 2014-12-01 is 12% of the close before it, but the raw close moved "
         r"-0\.8% \(42\.41 on 2014-11-28 to 42\.08 on 2014-12-01\), not about -12%"),
    ],
)  # fmt: skip
def test_a_dividend_the_orcl_closes_contradict_warns(tmp_path: Path, day: str, amount: float, message: str) -> None:
    store = EmbeddedStore(tmp_path)
    ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2014-11-01")
    with pytest.warns(DataQualityWarning, match=message):
        record_actions(store, _action("ORCL", day, "dividend", amount))
    assert _checks(store, "ORCL")["action-contradicted"] == [day]


def test_an_ordinary_orcl_dividend_is_not_judged(tmp_path: Path) -> None:
    # ORCL's 0.12 of 2014-10-08 (1/3 of a day's noise) on a trading day: nothing to say
    store = EmbeddedStore(tmp_path)
    ingest(store, CsvSource(ORCL, symbol="ORCL"), start="2014-09-01")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        record_actions(store, _action("ORCL", "2014-10-08", "dividend", 0.12))
    assert "action-contradicted" not in _checks(store, "ORCL")


def test_split_rules_on_hand_computed_moves() -> None:
    ts = pd.DatetimeIndex(["2020-01-02", "2020-01-03", "2020-01-06"], tz="UTC").as_unit("ns").asi8
    ex = int(ts[1])
    halved = pd.Series([100.0, 50.5, 51.0]).to_numpy()
    flat = pd.Series([100.0, 101.0, 102.0]).to_numpy()
    assert contradiction(ts, halved, "split", 2.0, ex) is None
    assert contradiction(ts, flat, "split", 2.0, ex) is not None
    # the boundary: a 2-for-1 is confirmed by a close ratio within (1/(2*sqrt 2), sqrt(2)/2)
    assert contradiction(ts, pd.Series([100.0, 70.0, 70.0]).to_numpy(), "split", 2.0, ex) is None
    assert contradiction(ts, pd.Series([100.0, 71.0, 71.0]).to_numpy(), "split", 2.0, ex) is not None
    assert contradiction(ts, flat, "split", 2.0, int(ts[0])) is None  # no bar before it: nothing to judge
    assert (split_shaped(0.5), split_shaped(0.52), split_shaped(2.0), split_shaped(0.67), split_shaped(0.6)) == (
        2.0, 2.0, 0.5, None, None,
    )  # fmt: skip
    assert (split_name(2.0), split_name(0.1), split_name(1.5), split_name(7.0)) == (
        "2-for-1", "1-for-10", "3-for-2", "7-for-1",
    )  # fmt: skip
