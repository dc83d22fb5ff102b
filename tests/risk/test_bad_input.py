"""Bad input to risk's public functions: each is refused at the boundary with a message naming it.

The service (bentos/risk) answers what these functions raise as a 400, so every case here is
also a request that must never be a 500. The last tests feed the functions arbitrary JSON-like
values (what a request can carry) and accept only a result or an `InvalidInputError`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bifrost.data import EmbeddedStore
from bifrost.errors import InvalidInputError
from bifrost.risk import (
    DEFAULT_LIMITS,
    MAX_HORIZON_DAYS,
    Limit,
    book_from_positions,
    evaluate_limits,
    historical_es,
    historical_stress,
    historical_var,
    limit_report,
    montecarlo_var_es,
    parametric_var,
    portfolio_risk,
    read_alerts,
    shock_stress,
    stress_positions,
    traffic_light,
    var_es_many,
)
from tests.conftest import embedded_and_postgres

# a store's history: nanosecond timestamps (what `MarketData.returns` gives), 80 business days
_rng = np.random.default_rng(7)
DATES = pd.date_range("2020-01-01", periods=80, freq="B", tz="UTC", unit="ns")
RETURNS = pd.DataFrame(_rng.normal(0, 0.02, (80, 2)), index=DATES, columns=["A", "B"])
VALUES = {"A": 1_000.0, "B": 500.0}
RANGE = "1678-01-01 to 2261-12-31"


def _book() -> Any:
    returns = {s: list(RETURNS[s]) for s in RETURNS}
    dates = [d.date().isoformat() for d in DATES]
    return book_from_positions({"A": 10, "B": 5}, prices={"A": 100.0, "B": 100.0}, returns=returns, dates=dates)


# -- item 21: dates outside what a timestamp can hold, an empty list of limits ------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("1600-01-01", "2300-01-01"),
        ("2020-01-01", "2300-01-01"),
        ("0001-01-01", "2020-02-01"),
        ("1677-01-01", "2020-03-01"),
    ],
)
def test_stress_named_period_outside_the_timestamp_range_is_refused_with_the_range(start: str, end: str) -> None:
    # was: KeyError "Cannot get left slice bound for non-monotonic index" from pandas (a 500 from the service)
    with pytest.raises(InvalidInputError, match=f"named scenario 'x'.*must be a date from {RANGE}"):
        stress_positions(VALUES, RETURNS, window_days=(1,), periods={"x": (start, end)})


def test_stress_named_period_inside_the_range_but_around_the_data_covers_all_of_it() -> None:
    result = stress_positions(VALUES, RETURNS, window_days=(), periods={"all": ("1700-01-01", "2200-01-01")})
    assert result.windows.loc["all", "start"] == DATES[0] and result.windows.loc["all", "end"] == DATES[-1]


@pytest.mark.parametrize(
    ("window", "match"),
    [
        (("2020-03-01", "2020-02-01"), "the first day 2020-03-01 is after the last day 2020-02-01"),
        (("2020-03-01",), r"give \[first day, last day\]"),
        ("2020-03-01", r"give \[first day, last day\]"),
        (("2020-03-01", 5), "must be a date such as"),
        (("2020-03-01", "2020-13-45"), "must be a date such as"),
    ],
)
def test_stress_named_period_that_is_not_a_pair_of_dates_in_order_is_refused(window: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        historical_stress(RETURNS, VALUES, window_days=(), periods={"x": window})


def test_limit_report_with_an_empty_list_of_limits_is_refused_not_an_all_clear() -> None:
    # was: TypeError "ufunc 'isnan' not supported" from evaluate_limits (a 500 from the service's /limits)
    book = _book()
    for call in (lambda: evaluate_limits(book, []), lambda: limit_report(book, []), lambda: limit_report(book, ())):
        with pytest.raises(InvalidInputError, match="no limits given; give at least one"):
            call()
    assert not limit_report(book, DEFAULT_LIMITS).checks.empty  # the defaults still evaluate


def test_posted_dates_outside_the_timestamp_range_are_refused_naming_the_day() -> None:
    returns = {"A": [0.01, -0.02, 0.005]}
    with pytest.raises(InvalidInputError, match=rf"dates\[2\] must be a date from {RANGE}, got '2300-01-01'"):
        book_from_positions(
            {"A": 1}, prices={"A": 10.0}, returns=returns, dates=["2020-01-01", "2020-01-02", "2300-01-01"]
        )
    with pytest.raises(InvalidInputError, match="dates must be a list"):
        book_from_positions({"A": 1}, prices={"A": 10.0}, returns=returns, dates="2020-01-01")  # type: ignore[arg-type]


def test_historical_stress_on_returns_out_of_date_order_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="strictly increasing dates"):
        historical_stress(RETURNS.iloc[::-1], VALUES, window_days=(1,))


def test_read_alerts_since_outside_the_timestamp_range_is_refused(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path) as store:
        with pytest.raises(InvalidInputError, match=f"since must be a date from {RANGE}"):
            read_alerts(store, since="1500-01-01")
        with pytest.raises(InvalidInputError, match="a portfolio name must be printable text"):
            read_alerts(store, "desk\x00")
        assert read_alerts(store, since="2020-01-01").empty


# -- item 18, risk side: the horizon, the number of worst windows, shocks on nothing held -------


@pytest.mark.parametrize("horizon", [0, -1, MAX_HORIZON_DAYS + 1, 1_000_000_000, 2.5, True])
def test_horizon_outside_one_day_to_a_year_is_refused_by_every_measure(horizon: Any) -> None:
    r = RETURNS["A"].to_numpy()
    calls = [
        lambda: historical_var(r, confidence=0.99, horizon_days=horizon),
        lambda: historical_es(r, confidence=0.99, horizon_days=horizon),
        lambda: parametric_var(r, confidence=0.99, horizon_days=horizon),
        lambda: montecarlo_var_es(RETURNS, [0.5, 0.5], confidence=0.99, horizon_days=horizon, n_scenarios=1000),
        lambda: var_es_many(RETURNS, confidence=0.99, horizon_days=horizon),
        lambda: portfolio_risk(RETURNS, {"A": 1.0}, horizon_days=horizon),
        lambda: Limit(name="v", metric="var", threshold=0.1, horizon_days=horizon),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError, match="horizon_days must be an integer from 1 to 250 trading days"):
            call()


def test_horizon_of_a_year_is_the_longest_accepted() -> None:
    # 250 trading days: the one-day VaR scaled by sqrt(250)
    r = RETURNS["A"].to_numpy()
    year = historical_var(r, confidence=0.99, horizon_days=MAX_HORIZON_DAYS)
    assert year == pytest.approx(historical_var(r, confidence=0.99) * math.sqrt(250))


@pytest.mark.parametrize("worst", [0, -1, 101, 2.5, True, "3"])
def test_stress_number_of_worst_windows_outside_one_to_a_hundred_is_refused(worst: Any) -> None:
    # was: worst=0 silently dropped every historical window, worst=-1 kept all of them
    with pytest.raises(InvalidInputError, match=r"worst .* must be an integer from 1 to 100"):
        stress_positions(VALUES, RETURNS, window_days=(1, 5), worst=worst)
    with pytest.raises(InvalidInputError, match="worst"):
        stress_positions(VALUES, None, window_days=(), shocks={"c": {"market": -0.1}}, worst=worst)


@pytest.mark.parametrize(
    ("shocks", "sectors", "named"),
    [
        ({"c": {"NOSUCH": -0.5}}, None, ["'NOSUCH'"]),
        ({"c": {"market": -0.1, "APPL": -0.5, "B": -0.2}}, None, ["'APPL'"]),
        ({"c": {"sector:Energy": -0.3}}, {"A": "Tech", "Z": "Energy"}, ["'sector:Energy'", "'sector:Tech'"]),
        ({"c": {"sector:Tech": -0.3}}, None, ["'sector:Tech'", "no sector is known"]),
        ({"c": {"sector:": -0.3}}, {"A": "Tech"}, ["'sector:'"]),
    ],
)
def test_shocks_on_symbols_or_sectors_the_book_does_not_hold_are_refused_naming_them(
    shocks: Any, sectors: Any, named: list[str]
) -> None:
    # was: silently ignored, so a typo reported a loss of zero
    with pytest.raises(InvalidInputError, match=r"scenario 'c': .*shock\(s\) nothing the book holds") as info:
        shock_stress(VALUES, shocks, sectors=sectors)
    for text in named:
        assert text in str(info.value)


def test_shocks_on_held_symbols_sectors_and_the_market_still_apply() -> None:
    result = shock_stress(VALUES, {"c": {"sector:Tech": -0.3, "B": 0.1}, "m": {"market": -0.2}}, sectors={"A": "Tech"})
    assert result.pnl.loc["c"].to_dict() == {"A": -300.0, "B": 50.0}
    assert result.total["m"] == pytest.approx(-300.0)


@pytest.mark.parametrize(
    ("shocks", "match"),
    [
        ({"c": {"market": 1e300}}, "must be a return >= -1 and <= 10"),
        ({"c": {"market": float("inf")}}, "must be a return >= -1 and <= 10"),
        ({"c": {"market": float("nan")}}, "must be a return >= -1 and <= 10"),
        ({"c": {"market": True}}, "must be a return >= -1 and <= 10"),
        ({"c": {"market": -1.5}}, "must be a return >= -1 and <= 10"),
        ({"c": {}}, "give at least one shock"),
        ({"c": -0.2}, "give at least one shock"),
        ({"": {"market": -0.2}}, "names must be printable text"),
        ({"a\x00": {"market": -0.2}}, "names must be printable text"),
    ],
)
def test_shocks_that_are_not_plausible_returns_are_refused(shocks: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        shock_stress(VALUES, shocks)


def test_repeated_window_lengths_and_scenario_names_are_refused() -> None:
    # was: accepted, then a crash when the result was turned into records (a 500 from /stress)
    with pytest.raises(InvalidInputError, match="window_days lists 1 twice"):
        stress_positions(VALUES, RETURNS, window_days=(1, 1))
    with pytest.raises(InvalidInputError, match=r"repeated: 'crash'"):
        stress_positions(
            VALUES,
            RETURNS,
            window_days=(),
            periods={"crash": ("2020-01-01", "2020-02-01")},
            shocks={"crash": {"market": -0.2}},
        )
    with pytest.raises(InvalidInputError, match=r"repeated: 'worst 1d #1'"):
        stress_positions(VALUES, RETURNS, window_days=(1,), periods={"worst 1d #1": ("2020-01-01", "2020-02-01")})
    with pytest.raises(InvalidInputError, match="at most 50 lengths"):
        stress_positions(VALUES, RETURNS, window_days=tuple(range(1, 60)))


# -- numbers no market produces, symbols no market lists -----------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: historical_var([0.01, 1e308]), "at most 100"),
        (lambda: portfolio_risk({"A": [0.01, 1e308]}, {"A": 1.0}), "A day 1 is 1e"),
        (lambda: var_es_many([[0.01, 0.0], [0.02, 1e308]]), "series 1 day 1"),
        (lambda: montecarlo_var_es([[0.01], [1e308]], [1.0]), "at most 100"),
        (lambda: montecarlo_var_es(RETURNS, [0.5, 0.5], n_scenarios=10**12), "n_scenarios must be an integer from 100"),
        (lambda: montecarlo_var_es(RETURNS, [0.5, 0.5], seed=-1), "seed must be an integer"),
        (lambda: montecarlo_var_es(RETURNS, [0.5, 0.5], distribution="t", dof=math.inf), "dof must be > 2"),
        (lambda: book_from_positions({"A": 1e300}, prices={"A": 1.0}), r"quantity of A must be between -1e\+15 and"),
        (lambda: book_from_positions({"A": 1}, prices={"A": 1e300}), "price of A must be between"),
        (lambda: book_from_positions({"A": 1}, prices={"A": 1.0}, cash=1e300), "cash must be between"),
        (lambda: book_from_positions({"A": 1e15}, prices={"A": 1e8}), "worth at most 1e"),
        (lambda: stress_positions({"A": 1e300}, RETURNS), "the position value of A must be between"),
        (lambda: book_from_positions({"A\x00": 1}, prices={"A\x00": 1.0}), "positions 'A\\\\x00'"),
        (lambda: book_from_positions({"X" * 9000: 1}, prices={"X" * 9000: 1.0}), "at most 32 characters"),
        (lambda: book_from_positions({"=cmd": 1}, prices={"=cmd": 1.0}), "not starting with ="),
        (lambda: portfolio_risk({"A\t": [0.01, 0.02]}, {"A\t": 1.0}), "returns 'A\\\\t'"),
        (lambda: traffic_light(10, 10**9), "observations must be at most 1,000,000 days"),
        (
            lambda: montecarlo_var_es(np.zeros((3, 20_000)), np.ones(20_000)),
            "20,000 assets; a covariance takes at most",
        ),
        (
            lambda: portfolio_risk(
                {f"S{i}": [0.01, 0.0] for i in range(2_001)},
                {f"S{i}": 1 / 2_001 for i in range(2_001)},
                method="montecarlo",
            ),
            "2,001 assets; a covariance takes at most 2,000",
        ),
        # found by the fuzz below
        (lambda: parametric_var(RETURNS["A"], confidence=1e-320), r"confidence must be in \(0, 1\)"),
        (lambda: Limit(name="a\x00", metric="var", threshold=0.1), "printable text of at most 100"),
        (lambda: Limit(name="x" * 5000, metric="var", threshold=0.1), "printable text of at most 100"),
    ],
)
def test_numbers_and_names_no_market_produces_are_refused(call: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_messages_never_echo_a_huge_request() -> None:
    positions = {f"S{i}": -1.0 for i in range(10_000)}
    with pytest.raises(InvalidInputError) as info:
        book_from_positions(positions, prices=dict.fromkeys(positions, 1.0))
    assert len(str(info.value)) < 500


# -- anything a request can carry: a result or an InvalidInputError, never another exception ----

_number = (
    st.floats(-0.2, 0.2)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(10**20), 10**20)
    | st.sampled_from([0, 1, -1, 1e308, -1e308, 1e-320, 250, 251])
    | st.text(max_size=3)
    | st.none()
    | st.booleans()
)
_symbol = st.sampled_from(["A", "B", "C"]) | st.text(max_size=4)
_date = (
    st.sampled_from(["2020-01-01", "2020-02-03", "1600-01-01", "2300-01-01", "0001-01-01", "9999-12-31", "soon", ""])
    | st.dates().map(str)
    | st.text(max_size=12)
    | _number
)


@st.composite
def _request(draw: st.DrawFn) -> dict[str, Any]:
    # every field has a plausible value and a hostile one; a request makes at most two fields hostile,
    # so that most requests get past the book and reach the risk, stress and limit code
    symbols = draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=3, unique=True))
    n = draw(st.integers(2, 40))
    daily = st.floats(-0.1, 0.1)
    hostile = draw(st.sets(st.sampled_from(sorted(_PLAUSIBLE)), max_size=2))
    out: dict[str, Any] = {}
    for field, plausible in _PLAUSIBLE.items():
        strategy = _HOSTILE[field] if field in hostile else plausible
        out[field] = draw(strategy(symbols, n, daily))
    return out


def _dates(n: int) -> list[str]:
    return [str(d.date()) for d in DATES[:n]]


_Field = Any  # (symbols, n, daily) -> strategy
_PLAUSIBLE: dict[str, _Field] = {
    "positions": lambda syms, n, d: st.fixed_dictionaries({s: st.floats(0, 1000) for s in syms}),
    "prices": lambda syms, n, d: st.fixed_dictionaries({s: st.floats(1, 500) for s in syms}),
    "returns": lambda syms, n, d: st.fixed_dictionaries({s: st.lists(d, min_size=n, max_size=n) for s in syms}),
    "dates": lambda syms, n, d: st.sampled_from([_dates(n), _dates(n), _dates(n), None]),
    "cash": lambda syms, n, d: st.floats(-100, 1e4),
    "method": lambda syms, n, d: st.sampled_from(["historical", "parametric", "montecarlo", "filtered_historical"]),
    "confidence": lambda syms, n, d: st.floats(0.5, 0.999),
    "horizon_days": lambda syms, n, d: st.integers(1, 250),
    "window_days": lambda syms, n, d: st.lists(st.integers(1, n), min_size=1, max_size=3, unique=True) | st.just([]),
    "worst": lambda syms, n, d: st.integers(1, 5),
    "named": lambda syms, n, d: (
        st.none()
        | st.dictionaries(
            st.text("abc", min_size=1, max_size=3), st.tuples(st.sampled_from(_dates(n)), st.sampled_from(_dates(n)))
        )
    ),
    "shocks": lambda syms, n, d: (
        st.none()
        | st.dictionaries(
            st.text("xyz", min_size=1, max_size=3),
            st.dictionaries(st.sampled_from([*syms, "market", "sector:T"]), st.floats(-1, 1), min_size=1, max_size=3),
            max_size=2,
        )
    ),
    "sectors": lambda syms, n, d: st.none() | st.fixed_dictionaries({s: st.sampled_from(["T", "U"]) for s in syms}),
    "drawdown": lambda syms, n, d: st.none() | st.floats(0, 1),
    "limits": lambda syms, n, d: (
        st.none()
        | st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.text("lmn", min_size=1, max_size=3),
                    "metric": st.sampled_from(["var", "es", "sector", "single_name", "gross_exposure"]),
                    "threshold": st.floats(0.01, 2),
                    "horizon_days": st.integers(1, 250),
                }
            ),
            min_size=1,
            max_size=3,
            unique_by=lambda x: x["name"],
        )
    ),
}
_HOSTILE: dict[str, _Field] = {
    "positions": lambda syms, n, d: st.dictionaries(_symbol, _number, max_size=3),
    "prices": lambda syms, n, d: st.none() | st.dictionaries(_symbol, _number, max_size=3),
    "returns": lambda syms, n, d: (
        st.none()
        | st.dictionaries(_symbol, st.lists(d | _number, max_size=n + 1), max_size=3)
        | st.fixed_dictionaries({s: st.lists(d | _number, min_size=n, max_size=n) for s in syms})
    ),
    "dates": lambda syms, n, d: st.lists(_date, min_size=n, max_size=n) | st.lists(_date, max_size=n + 1) | _number,
    "cash": lambda syms, n, d: _number,
    "method": lambda syms, n, d: st.sampled_from(["garch", ""]) | _number,
    "confidence": lambda syms, n, d: _number,
    "horizon_days": lambda syms, n, d: _number,
    "window_days": lambda syms, n, d: st.lists(st.integers(-2, 100) | _number, max_size=4) | _number,
    "worst": lambda syms, n, d: _number,
    "named": lambda syms, n, d: (
        st.dictionaries(
            st.text(max_size=4), st.tuples(_date, _date) | st.lists(_date, max_size=3) | _number, max_size=2
        )
        | _number
    ),
    "shocks": lambda syms, n, d: (
        st.dictionaries(
            st.text(max_size=4),
            st.dictionaries(_symbol | st.sampled_from(["market", "sector:T", "sector:"]), _number, max_size=3)
            | _number,
            max_size=2,
        )
        | _number
    ),
    "sectors": lambda syms, n, d: (
        st.dictionaries(_symbol, st.sampled_from(["T", "U", ""]) | _number, max_size=3) | _number
    ),
    "drawdown": lambda syms, n, d: _number,
    "limits": lambda syms, n, d: st.lists(
        st.fixed_dictionaries(
            {
                "name": st.text(max_size=4),
                "metric": st.sampled_from(["var", "es", "sector", "beta"]) | _number,
                "threshold": _number,
                "horizon_days": st.integers(-1, 300) | _number,
            }
        ),
        max_size=3,
    ),
}


def _refused_or_done(call: Any) -> Any:
    try:
        return call()
    except InvalidInputError:
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_request())
def test_any_posted_request_is_answered_or_refused_never_crashes(request: dict[str, Any]) -> None:
    q = request
    book = _refused_or_done(
        lambda: book_from_positions(
            q["positions"], prices=q["prices"], returns=q["returns"], dates=q["dates"], cash=q["cash"]
        )
    )
    if book is None:
        return
    risk = _refused_or_done(
        lambda: portfolio_risk(
            book.returns,
            book.weights.to_dict(),
            method=q["method"],
            confidence=q["confidence"],
            horizon_days=q["horizon_days"],
            n_scenarios=1000,
        )
    )
    event(f"book built; risk {'measured' if risk is not None else 'refused'}")
    if risk is not None:
        assert math.isfinite(risk.var) and math.isfinite(risk.es) and risk.var >= 0
    dated = isinstance(book.returns.index, pd.DatetimeIndex)
    stress = _refused_or_done(
        lambda: stress_positions(
            {str(k): float(v) for k, v in book.values.items()},
            book.returns if dated else None,
            window_days=q["window_days"],
            worst=q["worst"],
            periods=q["named"],
            shocks=q["shocks"],
            sectors=q["sectors"],
        )
    )
    event(f"stress {'run' if stress is not None else 'refused'}")
    if stress is not None:
        assert all(math.isfinite(r["total"]) for r in stress.records(book.equity))
    limits = None if q["limits"] is None else _refused_or_done(lambda: [Limit(**x) for x in q["limits"]])
    report = _refused_or_done(
        lambda: limit_report(book, DEFAULT_LIMITS if limits is None else limits, drawdown=q["drawdown"])
    )
    event(f"limits {'evaluated' if report is not None else 'refused'}")
    if report is not None:
        report.to_dict()


@embedded_and_postgres
@pytest.mark.parametrize("name", ["desk\x00", "", "a\tb", "N" * 257])
def test_limits_and_alerts_refuse_a_portfolio_name_no_backend_can_hold(store: Any, name: str) -> None:
    # before the name reaches a query: PostgreSQL answered a NUL with a psycopg.DataError traceback
    from bifrost.risk import check_limits, get_limits, set_limits

    for call in (
        lambda: get_limits(store, name),
        lambda: set_limits(store, name, DEFAULT_LIMITS),
        lambda: read_alerts(store, name),
        lambda: check_limits(store, name),
    ):
        with pytest.raises(InvalidInputError, match="a portfolio name must be printable text of 1-256 characters"):
            call()
