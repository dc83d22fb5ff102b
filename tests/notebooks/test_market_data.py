"""notebooks/02_market_data: the 505-stock file's unadjusted DISCA split found, recorded and adjusted."""

from __future__ import annotations

import pytest

from bifrost.data import CsvSource, EmbeddedStore, check_quality, load_bars
from tests.conftest import ORCL, SP500
from tests.notebooks._execute import Executed, execute

START, END = "2014-06-01", "2014-10-01"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    folder = tmp_path_factory.mktemp("market_data")
    return execute("02_market_data", folder, home=str(folder / "home"), symbols=["DISCA", "XOM"], start=START, end=END,
                   split_symbol="DISCA", split_date="2014-08-07", split_ratio=2.0)  # fmt: skip


def test_market_data_ingests_every_row_of_both_files_in_range(run: Executed) -> None:
    sp500 = load_bars(CsvSource(SP500), ["DISCA", "XOM"], START, END, on_error="repair").bars
    orcl = load_bars(CsvSource(ORCL, symbol="ORCL"), start=START, end=END).bars
    assert run.summary["rows_new"] == len(sp500) + len(orcl)
    assert run.summary["rows_quarantined"] == 0
    assert run.summary["symbols"] == ["DISCA", "ORCL", "XOM"]


def test_market_data_quality_report_finds_the_unrecorded_split_until_it_is_recorded(run: Executed) -> None:
    assert {"symbol": "DISCA", "check": "unrecorded-split"} in run.summary["findings_before"]
    assert run.summary["findings_after"] == []
    with EmbeddedStore(run.path.parent / "home") as store:  # the store the notebook left
        assert check_quality(store).findings.empty


def test_market_data_raw_and_adjusted_closes_around_the_split(run: Executed) -> None:
    # all_stocks_5yr.csv.gz: 2014-08-06,83.78,83.78,82.31,83.02,2550026,DISCA and 2014-08-07,...,40.975,...
    assert run.summary["split_day_before"] == "2014-08-06"
    assert run.summary["raw_close_before"] == 83.02 == run.summary["unrecorded_close_before"]
    assert run.summary["raw_close_ex_date"] == 40.975
    assert run.summary["adjusted_close_before"] == pytest.approx(83.02 / 2, rel=1e-12)
    html = "".join(run.outputs("text/html"))
    assert "DISCA around its 2-for-1 split of 2014-08-07" in html
