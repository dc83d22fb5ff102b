"""The boundary checks: each rule, its edges, and the messages they give."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Literal, get_args

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bifrost._checks import (
    as_bounded_decimal,
    as_choice,
    as_finite_float,
    as_float_array_1d,
    as_fraction,
    as_positive_int,
    as_price,
    as_utc_index,
    as_utc_ns,
    as_utc_timestamp,
    as_volume,
    check_symbol,
    check_symbols,
    escape_csv_cell,
    is_number,
    quote,
)
from bifrost.errors import InvalidInputError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2014-01-31", "2014-01-31 00:00:00+00:00"),
        ("2014-01-31T09:30:00-05:00", "2014-01-31 14:30:00+00:00"),
        (pd.Timestamp("2020-01-01", tz="America/New_York"), "2020-01-01 05:00:00+00:00"),
        (dt.date(2020, 1, 1), "2020-01-01 00:00:00+00:00"),
        (np.datetime64("2020-01-01"), "2020-01-01 00:00:00+00:00"),
        ("1678-01-01", "1678-01-01 00:00:00+00:00"),
        ("2261-12-31", "2261-12-31 00:00:00+00:00"),
    ],
)
def test_as_utc_timestamp_date_likes_become_utc(value: object, expected: str) -> None:
    assert str(as_utc_timestamp(value, "start")) == expected


@pytest.mark.parametrize(
    "value",
    ["1600-01-01", "1677-12-31", "2262-01-01", "2300-01-01", dt.datetime(1500, 1, 1), np.datetime64("1500-01-01")],
)
def test_as_utc_timestamp_outside_nanosecond_range_names_field_and_range(value: object) -> None:
    with pytest.raises(InvalidInputError, match=r"^--end must be a date from 1678-01-01 to 2261-12-31, got "):
        as_utc_timestamp(value, "--end")


@pytest.mark.parametrize("value", ["garbage", "", "   ", "99999-01-01", None, 20200101, 1.5, True, pd.NaT])
def test_as_utc_timestamp_non_dates_are_invalid_input(value: object) -> None:
    with pytest.raises(InvalidInputError, match=r"^start must be a date such as 2014-01-31"):
        as_utc_timestamp(value, "start")


def test_as_utc_timestamp_huge_text_is_quoted_capped() -> None:
    with pytest.raises(InvalidInputError) as info:
        as_utc_timestamp("9" * 5_000_000, "ts")
    assert len(str(info.value)) < 200 and "5,000,000 characters" in str(info.value)


def test_as_utc_ns_is_nanoseconds_since_epoch() -> None:
    assert as_utc_ns("1970-01-02", "ts") == 86_400 * 10**9


@pytest.mark.parametrize("symbol", ["BRK/B", "BRK.B", "^GSPC", "BF-B", "ES=F", "EURUSD=X", "aapl", "7203.T", "X" * 32])
def test_check_symbol_real_symbols_are_kept_as_given(symbol: str) -> None:
    assert check_symbol(symbol) == symbol


@pytest.mark.parametrize(
    "symbol", ["", "A B", "A\tB", "A\x00B", "X" * 33, "X" * 9000, "=HYPERLINK(1)", "+1", "-1", "@SUM", "A,B", 'A"', 5]
)
def test_check_symbol_invalid_symbols_are_refused_with_rule(symbol: object) -> None:
    with pytest.raises(InvalidInputError, match="symbol") as info:
        check_symbol(symbol)
    assert len(str(info.value)) < 300


def test_check_symbols_accepts_one_or_many_and_refuses_bytes() -> None:
    assert check_symbols("ORCL") == ["ORCL"]
    assert check_symbols(("ORCL", "NVDA")) == ["ORCL", "NVDA"]
    assert check_symbols({"ORCL": 1}.keys()) == ["ORCL"]
    with pytest.raises(InvalidInputError, match="a list of symbols"):
        check_symbols(b"ORCL")


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (as_price, float("inf")),
        (as_price, float("nan")),
        (as_price, 1e308),
        (as_price, 0.0),
        (as_price, "Infinity"),
        (as_volume, 1e400),
        (as_volume, -1.0),
        (as_volume, 1e16),
    ],
)
def test_price_and_volume_outside_plausible_range_are_refused_with_range(check: object, value: object) -> None:
    with pytest.raises(InvalidInputError, match=r"finite|between"):
        check(value)  # type: ignore[operator]


def test_price_and_volume_in_range_pass() -> None:
    assert as_price("712000.5") == 712000.5 and as_price(1e-8) == 1e-8 and as_volume(0) == 0.0


@pytest.mark.parametrize(
    "value",
    ["1e999999", "-1e999999", 1e308, float("inf"), "NaN", "sNaN", "abc", 10**20, "0." + "1" * 40, "1e-30", True],
)
def test_as_bounded_decimal_refuses_unbounded_values(value: object) -> None:
    with pytest.raises(InvalidInputError, match=r"^quantity "):
        as_bounded_decimal(value, "quantity")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.5", Decimal("12.5")),
        (0.1, Decimal("0.1")),
        (100, Decimal(100)),
        ("1e15", Decimal("1e15")),
        ("-5", Decimal(-5)),
    ],
)
def test_as_bounded_decimal_keeps_exact_values(value: object, expected: Decimal) -> None:
    assert as_bounded_decimal(value, "quantity") == expected


@given(st.floats(min_value=-1e15, max_value=1e15).filter(lambda x: x == 0 or abs(x) >= 1e-18))
def test_as_bounded_decimal_every_float_in_range_round_trips(x: float) -> None:
    assert float(as_bounded_decimal(x, "price")) == x


def test_quote_caps_long_text_with_its_length() -> None:
    shown = quote("1" * 5_000_000)
    assert shown.startswith("'111") and shown.endswith("… (5,000,000 characters)") and len(shown) < 120
    assert quote("ORCL") == "'ORCL'"


@pytest.mark.parametrize(
    ("cell", "escaped"), [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A", "'@A"), ("AB", "AB")]
)
def test_escape_csv_cell_prefixes_formula_starts(cell: str, escaped: str) -> None:
    assert escape_csv_cell(cell) == escaped


@pytest.mark.parametrize("values", [[10**400], [1 + 2j], "1.5", [[1.0, 2.0], [3.0]], {"a": 1}])
def test_as_float_array_1d_non_numbers_are_invalid_input_never_overflow(values: object) -> None:
    with pytest.raises(InvalidInputError, match="returns must be numeric"):
        as_float_array_1d(values, "returns")


# -- numbers and options ---------------------------------------------------------------------
NOT_NUMBERS = [True, False, np.bool_(True), "1", b"1", None, 1j, [1.0], object()]


@pytest.mark.parametrize(
    "value", [0, -3, 2.5, 1e308, Decimal("0.1"), Fraction(1, 3), np.int64(7), np.float32(0.5), float("nan")]
)
def test_is_number_real_numbers_are_numbers(value: object) -> None:
    assert is_number(value)


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_is_number_bools_text_and_complex_are_not(value: object) -> None:
    assert not is_number(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1e308, 1e308), (-2, -2.0), (Decimal("0.25"), 0.25), (np.float64(0.5), 0.5), (np.int32(3), 3.0)],
)
def test_as_finite_float_finite_numbers_become_floats(value: object, expected: float) -> None:
    out = as_finite_float(value, "x")
    assert out == expected and type(out) is float


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), -np.inf, 1e309, 10**400, Decimal("1e400"), Decimal("NaN"), np.float64("nan")]
)
def test_as_finite_float_non_finite_is_refused_naming_field(value: object) -> None:
    with pytest.raises(InvalidInputError, match="threshold must be a finite number, got"):
        as_finite_float(value, "threshold")


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_as_finite_float_non_numbers_and_bools_are_refused(value: object) -> None:
    with pytest.raises(InvalidInputError, match="x must be a number, got"):
        as_finite_float(value, "x")


def test_as_finite_float_bounds_are_inclusive_and_named() -> None:
    assert as_finite_float(0.0, "x", minimum=0.0, maximum=1.0) == 0.0
    assert as_finite_float(1, "x", minimum=0.0, maximum=1.0) == 1.0
    with pytest.raises(InvalidInputError, match=r"x must be between 0 and 1, got -0.1"):
        as_finite_float(-0.1, "x", minimum=0.0, maximum=1.0)
    with pytest.raises(InvalidInputError, match=r"x must be at least 2, got 1"):
        as_finite_float(1, "x", minimum=2.0)
    with pytest.raises(InvalidInputError, match=r"x must be at most 2, got 3"):
        as_finite_float(3, "x", maximum=2.0)


@pytest.mark.parametrize(
    "value", [0.99, 0.5, 1e-10, 1 - 1e-16, Decimal("0.975"), Fraction(1, 2), np.float64(0.95), np.float32(0.9)]
)
def test_as_fraction_inside_open_interval_passes(value: object) -> None:
    assert as_fraction(value, "confidence") == float(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", [0, 1, 0.0, 1.0, -0.5, 1.5, 1e308, 1 - 1e-320, float("nan"), float("inf"), 10**400, True, False, "0.9"]
)
def test_as_fraction_outside_open_interval_or_not_a_number_is_refused(value: object) -> None:
    with pytest.raises(InvalidInputError, match=r"confidence must be in \(0, 1\), got"):
        as_fraction(value, "confidence")


def test_as_fraction_closed_interval_takes_its_ends_not_beyond() -> None:
    assert as_fraction(0, "drawdown", open_interval=False) == 0.0
    assert as_fraction(np.float64(1.0), "drawdown", open_interval=False) == 1.0
    for bad in (-1e-12, 1.0000001, float("nan"), True):
        with pytest.raises(InvalidInputError, match=r"drawdown must be in \[0, 1\]"):
            as_fraction(bad, "drawdown", open_interval=False)


@pytest.mark.parametrize(("value", "expected"), [(1, 1), (250, 250), (np.int64(10), 10), (np.uint8(3), 3)])
def test_as_positive_int_integers_in_range_become_int(value: object, expected: int) -> None:
    out = as_positive_int(value, "horizon_days", maximum=250)
    assert out == expected and type(out) is int


@pytest.mark.parametrize(
    "value", [0, -1, 251, 10**400, 5.0, 1e308, float("nan"), float("inf"), True, np.bool_(True), Decimal(5), "5", None]
)
def test_as_positive_int_outside_range_floats_and_bools_are_refused(value: object) -> None:
    with pytest.raises(InvalidInputError, match="horizon_days must be an integer from 1 to 250 trading days"):
        as_positive_int(value, "horizon_days", maximum=250, unit="trading days")


def test_as_positive_int_without_maximum_has_only_the_lower_bound() -> None:
    assert as_positive_int(10**30, "lookback_days", minimum=20) == 10**30
    with pytest.raises(InvalidInputError, match=r"^lookback_days must be an integer >= 20, got 19$"):
        as_positive_int(19, "lookback_days", minimum=20)


def test_as_positive_int_message_names_the_kind_expected() -> None:
    with pytest.raises(InvalidInputError, match=r"^fast must be a whole number of bars from 1 to 10, got 11$"):
        as_positive_int(11, "fast", maximum=10, kind="a whole number of bars")


def test_as_positive_int_message_says_unit_and_why() -> None:
    with pytest.raises(InvalidInputError, match=r"^n must be an integer from 100 to 1,000 \(memory\), got 5$"):
        as_positive_int(5, "n", minimum=100, maximum=1_000, why="memory")


Shape = Literal["flat", "round"]


def test_as_choice_returns_the_literal_value() -> None:
    assert as_choice("round", "shape", get_args(Shape)) == "round"
    assert as_choice(1, "n", (1, 2)) == 1


@pytest.mark.parametrize("value", ["Round", " round", "", None, 1, True, ["flat"], np.float64("nan")])
def test_as_choice_other_values_are_refused_listing_choices(value: object) -> None:
    with pytest.raises(InvalidInputError, match="shape must be one of 'flat', 'round'; got"):
        as_choice(value, "shape", get_args(Shape))


def test_as_choice_true_is_not_the_choice_one() -> None:
    with pytest.raises(InvalidInputError, match="n must be one of 1, 2; got True"):
        as_choice(True, "n", (1, 2))


def test_as_utc_index_naive_is_utc_and_zoned_is_converted_to_the_same_instant() -> None:
    naive = pd.DatetimeIndex(["2014-01-31", "2014-02-03"]).as_unit("s")
    assert list(as_utc_index(naive)) == [pd.Timestamp("2014-01-31", tz="UTC"), pd.Timestamp("2014-02-03", tz="UTC")]
    ny = pd.Series(pd.DatetimeIndex(["2014-01-31 09:30"], tz="America/New_York"))
    out = as_utc_index(ny)
    assert str(out.tz) == "UTC" and out.unit == "ns" and out[0] == ny.iloc[0]


@pytest.mark.parametrize("text", ["１０", "١٠", "1_0", "1_000.5", "0x10"])
def test_as_bounded_decimal_other_digits_and_groupings_are_refused_naming_the_field(text: str) -> None:
    # Decimal reads other scripts' digits and '_' groups; a quantity or amount is written with 0-9 (found by QA)
    with pytest.raises(InvalidInputError, match=r"quantity must be (a plain number|a number)"):
        as_bounded_decimal(text, "quantity")


@pytest.mark.parametrize(("text", "value"), [(" 10 ", "10"), ("1.5e1", "15"), (".5", "0.5"), ("-3", "-3")])
def test_as_bounded_decimal_plain_numbers_still_parse(text: str, value: str) -> None:
    assert as_bounded_decimal(text, "quantity") == Decimal(value)
