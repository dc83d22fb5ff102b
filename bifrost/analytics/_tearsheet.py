"""The tearsheet: plotly figures of a return series, in Jupyter and as one offline HTML file.

What a pyfolio or quantstats user looks for, with empyrical's numbers (`bifrost.analytics`):
the metric table in percent with the benchmark's column beside the portfolio's and the
dates it covers, the worst drawdown periods, annual and monthly returns (numbers in the
cells, a yearly column), rolling volatility, rolling Sharpe and rolling beta on charts of
their own, the distribution of returns, exposure as fractions of equity and P&L by symbol.
Every figure carries its title and axis labels; intraday returns are drawn without the
nights and weekends between sessions (plotly rangebreaks at each gap between bars).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bifrost._checks import as_finite_float
from bifrost._figures import figures_html, notebook_styles, offline_page
from bifrost.analytics import _metrics as m
from bifrost.analytics._summary import perf_stats
from bifrost.data import Store
from bifrost.errors import InsufficientDataError, InvalidInputError

__all__ = ["Tearsheet", "portfolio_tearsheet", "tearsheet"]

_WINDOW = 126  # rolling statistics over about six months of trading days (or 126 bars)
_TOP_DRAWDOWNS = 5

# the metric table as a user reads it: label, and whether the value is a fraction shown in percent
_LABELS: dict[str, tuple[str, bool]] = {
    "cum_returns_final": ("Cumulative return", True),
    "annual_return": ("Annual return (CAGR)", True),
    "annual_volatility": ("Annual volatility", True),
    "sharpe_ratio": ("Sharpe ratio", False),
    "sortino_ratio": ("Sortino ratio", False),
    "calmar_ratio": ("Calmar ratio", False),
    "omega_ratio": ("Omega ratio", False),
    "max_drawdown": ("Max drawdown", True),
    "max_drawdown_duration": ("Longest drawdown (periods)", False),
    "downside_risk": ("Downside risk", True),
    "stability_of_timeseries": ("Stability", False),
    "tail_ratio": ("Tail ratio", False),
    "value_at_risk": ("Value at risk (95%, one period)", True),
    "conditional_value_at_risk": ("Expected shortfall (95%, one period)", True),
    "alpha": ("Alpha (annual)", True),
    "beta": ("Beta", False),
    "excess_sharpe": ("Excess Sharpe", False),
    "up_capture": ("Up capture", False),
    "down_capture": ("Down capture", False),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Tearsheet:
    """Named plotly figures and the tables beside them; ``to_html`` writes a self-contained page.

    Attributes
    ----------
    stats
        Every metric (rows, `perf_stats`'s names) of the portfolio and, when given, the
        benchmark (columns): decimals, as the functions of `bifrost.analytics` return them.
    drawdowns
        The worst drawdown periods: ``peak``, ``valley``, ``recovery`` (NaT while still
        under water), ``drawdown`` (a negative fraction) and ``periods`` (bars from peak to
        recovery, or to the end).
    annual_returns
        Compounded returns per calendar year, one column per series.
    start, end
        The first and last return's timestamp.
    notes
        Lines shown under the title (how the returns were measured, costs, ...).
    """

    title: str
    figures: tuple[tuple[str, Any], ...]  # (name, plotly Figure with that title)
    stats: pd.DataFrame
    drawdowns: pd.DataFrame = field(default_factory=pd.DataFrame)
    annual_returns: pd.DataFrame = field(default_factory=pd.DataFrame)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    periods: int = 0
    frequency: str = "daily"
    notes: tuple[str, ...] = ()

    def metrics_table(self) -> pd.DataFrame:
        """Return the metric table as shown: labels, percent where a metric is a fraction, dates first."""
        rows: dict[str, list[str]] = {}
        columns = [str(c) for c in self.stats.columns]
        if self.start is not None and self.end is not None:
            rows["Start"] = [_stamp(self.start)] * len(columns)
            rows["End"] = [_stamp(self.end)] * len(columns)
            rows[f"Periods ({self.frequency})"] = [f"{self.periods:,}"] * len(columns)
        for key, values in self.stats.iterrows():
            label, percent = _LABELS.get(str(key), (str(key), False))
            if str(key) == "max_drawdown_duration":
                rows[label] = [_integer(v) for v in values]
            else:
                rows[label] = [_percent(v) if percent else _ratio(v) for v in values]
        return pd.DataFrame.from_dict(rows, orient="index", columns=columns)

    def drawdown_table(self) -> pd.DataFrame:
        """Return the worst drawdown periods as shown: dates, percent, length."""
        d = self.drawdowns
        if d.empty:
            return pd.DataFrame(columns=["peak", "valley", "recovery", "drawdown", "periods"])
        return pd.DataFrame(
            {
                "peak": [_stamp(t) for t in d["peak"]],
                "valley": [_stamp(t) for t in d["valley"]],
                "recovery": [_stamp(t) if pd.notna(t) else "not recovered" for t in d["recovery"]],
                "drawdown": [_percent(v) for v in d["drawdown"]],
                "periods": [_integer(v) for v in d["periods"]],
            },
            index=pd.RangeIndex(1, len(d) + 1, name="rank"),
        )

    def _tables_html(self, heading: str) -> str:
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return (
            f"{heading}{notes}"
            "<div style='display:flex;flex-wrap:wrap;gap:2em;align-items:flex-start'>"
            f"<div><h4>Performance</h4>{self.metrics_table().to_html(classes='stats')}</div>"
            f"<div><h4>Worst drawdown periods</h4>{self.drawdown_table().to_html()}</div></div>"
        )

    def to_html(self, path: str | Path | None = None) -> str:
        """Return (and optionally write) one HTML page with plotly.js embedded: no CDN, no network."""
        return offline_page(self.title, self._tables_html(""), self.figures, path)

    def _repr_html_(self) -> str:
        heading = f"<h3>{html.escape(self.title)}</h3>"
        return (
            f"{notebook_styles()}<div class='bifrost-report'>{self._tables_html(heading)}"
            f"{figures_html(self.figures)}</div>"
        )


def tearsheet(
    returns: pd.Series,
    benchmark: pd.Series | None = None,
    *,
    exposure: pd.DataFrame | None = None,
    contributions: pd.Series | None = None,
    title: str = "Tearsheet",
    annualization: float | None = None,
    notes: Sequence[str] = (),
) -> Tearsheet:
    """Build the tearsheet of simple ``returns`` (a Series on a DatetimeIndex), daily by default.

    Parameters
    ----------
    returns
        The portfolio's simple returns, one a period; NaN (a first day) is dropped.
    benchmark
        The benchmark's simple returns (a Series on a DatetimeIndex), compared on the
        portfolio's dates (a date it lacks counts as 0).
    exposure
        Columns such as long, short, gross, net as **fractions of equity** (1.0 = fully invested).
    contributions
        P&L by symbol (money), the 15 largest by size are drawn.
    title
        The page's title and the tearsheet's name.
    annualization
        The returns' periods a year (default 252, daily; for intraday returns
        `bifrost.data.periods_per_year` of their frequency).
    notes
        Lines shown under the title: how returns were measured, costs, ...

    Raises
    ------
    InvalidInputError
        If ``returns`` or ``benchmark`` is not a Series on a DatetimeIndex, holds an infinite
        value (named with its timestamp), or ``annualization`` is outside 1..1e8.
    InsufficientDataError
        If fewer than 2 returns remain after dropping NaN.
    """
    import plotly.graph_objects as go

    r = _series(returns, "returns").dropna()
    if annualization is not None:
        annualization = as_finite_float(annualization, "annualization", minimum=1.0, maximum=1e8)
    if len(r) < 2:
        raise InsufficientDataError(f"a tearsheet needs at least 2 returns, got {len(r)}")
    b = None if benchmark is None else _series(benchmark, "benchmark").reindex(r.index).fillna(0.0)
    ann = 252.0 if annualization is None else annualization
    name = str(r.name) if r.name not in (None, "returns") else "strategy"
    bench_name = None if b is None else (str(b.name) if b.name not in (None, "returns", name) else "benchmark")
    spacing = _spacing(pd.DatetimeIndex(r.index))
    intraday = spacing < pd.Timedelta(hours=20)
    frequency = _frequency_label(spacing)
    unit = "days" if annualization in (None, 252) and not intraday else "bars"
    x_axis = _time_axis(pd.DatetimeIndex(r.index)) if intraday else {"title": {"text": "date"}}
    series = [(name, r)] + ([] if b is None else [(str(bench_name), b)])
    figures: list[tuple[str, Any]] = []

    def add(title: str, fig: Any, *, y: str, x: dict[str, Any] | None = None, y_format: str | None = None) -> None:
        fig.update_layout(
            title={"text": title}, xaxis=x if x is not None else x_axis, yaxis={"title": {"text": y}},
            legend={"orientation": "h", "y": -0.2}, margin={"t": 50, "b": 40}, height=380,
        )  # fmt: skip
        if y_format:
            fig.update_yaxes(tickformat=y_format)
        figures.append((title, fig))

    growth = go.Figure(
        [go.Scatter(x=s.index, y=m.cum_returns(s.to_numpy(), starting_value=1.0), name=label) for label, s in series]
    )
    add("Cumulative returns", growth, y="growth of 1")

    underwater = go.Figure(go.Scatter(x=r.index, y=m.drawdown_series(r.to_numpy()), fill="tozeroy", name=name))
    add("Drawdown (underwater)", underwater, y="drawdown from peak", y_format=".0%")

    grid = _monthly_grid(r)
    z = grid.to_numpy()
    heat = go.Figure(
        go.Heatmap(
            z=z, x=list(grid.columns), y=[str(i) for i in grid.index], colorscale="RdYlGn", zmid=0,
            text=[[f"{v:.1%}" if np.isfinite(v) else "" for v in row] for row in z], texttemplate="%{text}",
            hovertemplate="%{y} %{x}: %{text}<extra></extra>", colorbar={"tickformat": ".0%"},
        )
    )  # fmt: skip
    add("Monthly returns", heat, y="year", x={"title": {"text": "month"}, "side": "top", "type": "category"})
    heat.update_yaxes(autorange="reversed", type="category")
    heat.update_layout(height=max(260, 60 + 28 * len(grid)))

    annual = _annual(series)
    years = [str(y) for y in annual.index]
    bars = go.Figure([go.Bar(x=years, y=annual[c].to_numpy(), name=str(c)) for c in annual.columns])
    add("Annual returns", bars, y="return", x={"title": {"text": "year"}, "type": "category"}, y_format=".0%")

    ends = r.index[_WINDOW - 1 :] if len(r) >= _WINDOW else r.index[:0]
    vol = go.Figure()
    sharpe = go.Figure()
    for label, s in series:
        if len(ends):
            v = m.roll_annual_volatility(s.to_numpy(), window=_WINDOW) * np.sqrt(ann / 252.0)
            vol.add_trace(go.Scatter(x=ends, y=v, name=label))
            sr = m.roll_sharpe_ratio(s.to_numpy(), window=_WINDOW, annualization=annualization)
            sharpe.add_trace(go.Scatter(x=ends, y=sr, name=label))
    add(f"Rolling volatility ({_WINDOW} {unit})", vol, y="annualised volatility", y_format=".0%")
    add(f"Rolling Sharpe ratio ({_WINDOW} {unit})", sharpe, y="Sharpe ratio (annualised)")
    if b is not None:
        beta = go.Figure()
        if len(ends):
            beta.add_trace(go.Scatter(x=ends, y=m.roll_beta(r.to_numpy(), b.to_numpy(), window=_WINDOW), name=name))
        add(f"Rolling beta to {bench_name} ({_WINDOW} {unit})", beta, y="beta")

    hist = go.Figure(go.Histogram(x=r.to_numpy(), nbinsx=60, name=f"{frequency} returns"))
    add(f"Distribution of {frequency} returns", hist, y="count", x={"title": {"text": "return"}}, y_format=None)
    hist.update_xaxes(tickformat=".1%")

    if exposure is not None:
        exp_fig = go.Figure([go.Scatter(x=exposure.index, y=exposure[c], name=str(c)) for c in exposure.columns])
        add("Exposure (fraction of equity)", exp_fig, y="fraction of equity", y_format=".0%")
    if contributions is not None:
        top = contributions.reindex(contributions.abs().sort_values(ascending=False).index[:15])
        bar = go.Figure(go.Bar(x=[str(i) for i in top.index], y=top.to_numpy(), name="P&L"))
        add("Top contributors (P&L by symbol)", bar, y="P&L", x={"title": {"text": "symbol"}, "type": "category"})

    columns = np.column_stack([s.to_numpy() for _, s in series])
    factor = None if b is None else np.column_stack([b.to_numpy()] * len(series))
    stats = perf_stats(columns, factor, names=[label for label, _ in series], annualization=annualization).to_frame()
    return Tearsheet(
        title=title,
        figures=tuple(figures),
        stats=stats.replace([np.inf, -np.inf], np.nan),
        drawdowns=_drawdown_periods(r, top=_TOP_DRAWDOWNS),
        annual_returns=annual,
        start=pd.Timestamp(r.index[0]),
        end=pd.Timestamp(r.index[-1]),
        periods=len(r),
        frequency=frequency,
        notes=tuple(notes),
    )


def _drawdown_periods(returns: pd.Series, *, top: int = 5) -> pd.DataFrame:
    # each spell below the running peak: the peak it fell from (the last bar at the high-water
    # mark, or the first bar when the series starts under water), its deepest bar, and the
    # first bar back at the peak; the deepest `top`, as pyfolio's and quantstats' tables
    r = returns.to_numpy()
    dd = m.drawdown_series(r)
    index = pd.DatetimeIndex(returns.index)
    rows = []
    start = None
    for i in range(len(dd) + 1):
        under = i < len(dd) and dd[i] < 0
        if under and start is None:
            start = i
        elif not under and start is not None:
            valley = start + int(np.argmin(dd[start:i]))
            peak = max(start - 1, 0)
            recovered = i < len(dd)
            rows.append(
                {
                    "peak": index[peak],
                    "valley": index[valley],
                    "recovery": index[i] if recovered else pd.NaT,
                    "drawdown": float(dd[valley]),
                    "periods": (i if recovered else len(dd) - 1) - peak,
                }
            )
            start = None
    frame = pd.DataFrame(rows, columns=["peak", "valley", "recovery", "drawdown", "periods"])
    return frame.sort_values("drawdown", kind="stable").head(top).reset_index(drop=True)


def portfolio_tearsheet(store: Store, name: str, *, benchmark: str | None = None) -> Tearsheet:
    """The tearsheet of a stored portfolio: valued at the store's raw closes since inception,
    time-weighted returns, exposure (fractions of equity) and P&L by symbol; ``benchmark`` is
    a stored symbol, measured as the portfolio is: total return with its dividends as cash
    (one share held since inception plus the store's dividends on their ex-dates, not
    reinvested), which the tearsheet states under its title."""
    from bifrost.portfolio import load_portfolio, value_ledger

    ledger = load_portfolio(store, name)
    symbols = sorted({p.symbol for p in ledger.positions()})
    if not symbols:
        raise InvalidInputError(f"portfolio {name!r} has no trades to report on")
    panel = store.read_panel(symbols, ledger.inception, fields=["close"])
    valuation = value_ledger(ledger, panel)
    returns = valuation.returns().rename(name)
    bench = None
    notes = ["Portfolio: total return, the store's dividends as cash on their ex-dates (not reinvested)."]
    if benchmark is not None:
        # the same measure for the benchmark: a share's close plus the dividends it has received
        held = store.read_panel(benchmark, ledger.inception, fields=["close", "dividend"])
        received = np.cumsum(np.r_[0.0, held["dividend"][1:, 0]])
        value = pd.Series(held["close"][:, 0] + received, index=held.ts)
        bench = value.pct_change().rename(benchmark)
        notes.append(f"Benchmark {benchmark}: measured the same way (its close plus its dividends as cash).")
    frame = valuation.frame()
    equity = frame["equity"].where(frame["equity"] > 0)
    exposure = frame[["long", "short", "gross", "net"]].div(equity, axis=0)
    return tearsheet(returns, bench, exposure=exposure, contributions=valuation.attribution(), title=name, notes=notes)


def _series(values: object, what: str) -> pd.Series:
    if not isinstance(values, pd.Series) or not isinstance(values.index, pd.DatetimeIndex):
        raise InvalidInputError(f"{what} must be a pandas Series on a DatetimeIndex, got {type(values).__name__}")
    numbers = pd.to_numeric(values, errors="coerce")
    if bool(numbers.isna().gt(values.isna()).any()):
        bad = values.index[numbers.isna() & values.notna()][0]
        raise InvalidInputError(f"{what} must be numbers: {values[bad]!r} at {bad}")
    infinite = np.isinf(numbers.to_numpy(dtype=np.float64))
    if infinite.any():
        at = int(np.argmax(infinite))
        raise InvalidInputError(f"{what} must be finite: {numbers.iloc[at]} at {values.index[at]}")
    if not values.index.is_monotonic_increasing or values.index.has_duplicates:
        raise InvalidInputError(f"{what} must be on increasing, unique timestamps")
    return numbers.astype(np.float64)


def _spacing(index: pd.DatetimeIndex) -> pd.Timedelta:
    return pd.Timedelta(np.median(np.diff(index.asi8))) if len(index) > 1 else pd.Timedelta(days=1)


def _frequency_label(spacing: pd.Timedelta) -> str:
    if spacing >= pd.Timedelta(days=25):
        return "monthly"
    if spacing >= pd.Timedelta(days=5):
        return "weekly"
    if spacing >= pd.Timedelta(hours=20):
        return "daily"
    if spacing >= pd.Timedelta(hours=1):
        return f"{spacing.total_seconds() / 3600:g}-hour"
    return f"{spacing.total_seconds() / 60:g}-minute"


def _time_axis(index: pd.DatetimeIndex) -> dict[str, Any]:
    # intraday bars: hide every gap longer than a few bars (nights, weekends, holidays), so a
    # line does not cross the closed market; each gap is one rangebreak from bar to bar
    stamps = index.asi8
    step = int(np.median(np.diff(stamps)))
    gaps = np.flatnonzero(np.diff(stamps) > 4 * step)
    fmt = "%Y-%m-%d %H:%M:%S"
    breaks = [
        {"bounds": [index[int(g)].strftime(fmt), (index[int(g) + 1] - pd.Timedelta(step, "ns")).strftime(fmt)]}
        for g in gaps
    ]
    return {"title": {"text": "time (UTC)"}, "rangebreaks": breaks}


def _monthly_grid(r: pd.Series) -> pd.DataFrame:
    when = pd.DatetimeIndex(r.index)
    monthly = (1 + r).groupby([when.year, when.month]).prod() - 1
    grid = monthly.unstack().reindex(columns=range(1, 13))
    grid.columns = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    grid["Year"] = (1 + r).groupby(when.year).prod() - 1
    return grid


def _annual(series: Sequence[tuple[str, pd.Series]]) -> pd.DataFrame:
    out = {}
    for label, s in series:
        when = pd.DatetimeIndex(s.index)
        out[label] = (1 + s).groupby(when.year).prod() - 1
    frame = pd.DataFrame(out)
    frame.index.name = "year"
    return frame


def _stamp(ts: Any) -> str:
    t = pd.Timestamp(ts)
    return str(t.date()) if t == t.normalize() else t.strftime("%Y-%m-%d %H:%M")


def _percent(v: float) -> str:
    return f"{v:.2%}" if np.isfinite(v) else "–"


def _ratio(v: float) -> str:
    return f"{v:.2f}" if np.isfinite(v) else "–"


def _integer(v: float) -> str:
    return f"{int(v):,}" if np.isfinite(v) else "–"
