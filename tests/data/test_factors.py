"""Fama–French factor files: raw daily, raw monthly (multi-block), cleaned daily."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bifrost.data import read_fama_french
from bifrost.errors import SchemaError
from tests.conftest import DATA

FACTORS = DATA / "factors"


def test_raw_daily_file_reads_every_row_as_decimals() -> None:
    ff = read_fama_french(FACTORS / "F-F_Research_Data_Factors_daily.CSV")
    assert len(ff) == 24391 and list(ff.columns) == ["Mkt-RF", "SMB", "HML", "RF"]
    assert ff.index[0] == pd.Timestamp("1926-07-01", tz="UTC") and ff.index[-1] == pd.Timestamp("2018-12-31", tz="UTC")
    np.testing.assert_allclose(
        ff.iloc[0], [0.0010, -0.0024, -0.0028, 0.00009], rtol=1e-12
    )  # 0.10, -0.24, -0.28, 0.009 %
    assert ff.attrs["frequency"] == "1d"


def test_raw_monthly_file_reads_only_the_monthly_block() -> None:
    ff = read_fama_french(FACTORS / "F-F_Research_Data_Factors.CSV")  # CRLF, then an annual block
    assert len(ff) == 1110 and ff.attrs["frequency"] == "1mo"
    assert ff.index[0] == pd.Timestamp("1926-07-01", tz="UTC") and ff.index[-1] == pd.Timestamp("2018-12-01", tz="UTC")
    np.testing.assert_allclose(ff.iloc[0], [0.0296, -0.0230, -0.0287, 0.0022], rtol=1e-12)


def test_cleaned_file_agrees_with_raw_vintage_within_a_basis_point() -> None:
    raw = read_fama_french(FACTORS / "F-F_Research_Data_Factors_daily.CSV")
    cleaned = read_fama_french(FACTORS / "F-F_Research_Data_Factors_daily_1926-2022_cleaned.csv")
    assert len(cleaned) == 25210
    both = raw.loc["2013":"2018"].merge(cleaned, left_index=True, right_index=True, suffixes=("", "_c"))
    assert len(both) == 1510
    assert (both["Mkt-RF"] - both["Mkt-RF_c"]).abs().max() <= 0.0001 + 1e-12  # French's revisions
    assert (both["RF"] - both["RF_c"]).abs().max() == 0.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Date,Open,Close\n20200102,1,2\n", "no header line with 'Mkt-RF'"),
        (",Mkt-RF,SMB,HML,RF\n20200102, 0.1, x, 0.2, 0.01\n", r":2: non-numeric factor value"),
        (",Mkt-RF,SMB,HML,RF\n20200102, 0.1, 0.2, 0.01\n", r":2: expected 5 fields, got 4"),
        (",Mkt-RF,SMB,HML,RF\n20201345, 0.1, 0.2, 0.3, 0.01\n", "unparseable date '20201345'"),
        (",Mkt-RF,SMB,HML,RF\n\n", "no data rows after the header on line 1"),
    ],
)
def test_bad_factor_file_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "ff.csv"
    path.write_text(text)
    with pytest.raises(SchemaError, match=message):
        read_fama_french(path)
