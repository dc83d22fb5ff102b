"""The risk service: VaR and expected shortfall, stress tests and limits, over HTTP.

BentoML 1.4 new-style service on the shared serving code (`bifrost._serving`). It validates
the request (pydantic, then the library's own checks), calls `bifrost.risk`, and answers with
typed JSON; the schema's bounds and option names are the library's. Errors are answered with
the status `bifrost._serving.http_status` gives them: 400 bad input, 404 a portfolio or symbol
that does not exist, 409 a refused transaction, 503 (with ``Retry-After``) a store that cannot
be read or an overloaded worker, 500 only for a bug (its answer names the request id and
nothing else). `bifrost._serving.Guard` sits in front: request ids (``X-Request-ID``),
admission (a bounded number of calls running and waiting), JSON bodies with a Content-Length
of at most 64 MiB, and the bearer token when one is set (``BIFROST_RISK_SERVICE_TOKEN`` or
``[keys] risk_service_token``). Settings are read once, when the worker starts.

    cd bentos/risk && bentoml serve service:RiskService --port 3000
    bifrost serve risk --port 3000            # the same, from anywhere (an installed wheel too)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import bentoml
import pandas as pd
from pydantic import BaseModel, Field

from bifrost._serving import Guard, answers_errors, service_settings, settle_heap
from bifrost.data import open_store
from bifrost.errors import InvalidInputError
from bifrost.risk import (
    DEFAULT_LIMITS,
    DEFAULT_LOOKBACK_DAYS,
    MAX_HORIZON_DAYS,
    MAX_LOOKBACK_DAYS,
    MAX_WINDOW_LENGTHS,
    MAX_WORST,
    MIN_LOOKBACK_DAYS,
    Book,
    Limit,
    MarketData,
    Method,
    Metric,
    book_from_positions,
    book_risk,
    check_limits,
    limit_report,
    portfolio_risk,
    store_sectors,
    stress_positions,
)

SETTINGS = service_settings("risk")  # once, when the worker imports the service

Confidence = Annotated[
    # inclusive bounds here (OpenAPI 3.0 has no numeric exclusiveMaximum); the library refuses exactly 0 and 1
    float,
    Field(ge=0.0, le=1.0, description="VaR level in (0, 1), e.g. 0.99"),
]
# the library's own bounds, shown in the schema; the library checks them again with its message
Horizon = Annotated[int, Field(ge=1, le=MAX_HORIZON_DAYS, description="Horizon in trading days (at most a year)")]
Positions = Annotated[
    dict[str, float] | None,
    Field(
        description="Shares per symbol, positive long and negative short; priced at `prices` or the store's latest "
        "closes (equity is cash plus their values: a short's proceeds are in the cash)"
    ),
]
Prices = Annotated[dict[str, float] | None, Field(description="Price per symbol; default: the store's latest close")]
Returns = Annotated[
    dict[str, list[float]] | None,
    Field(description="Daily simple returns per symbol, oldest first, equal lengths; default: the store's history"),
]
Dates = Annotated[list[str] | None, Field(description="ISO date of each posted return (needed by historical stress)")]
Cash = Annotated[float, Field(description="Cash held beside the positions (equity = cash + positions)")]
Lookback = Annotated[
    int,
    Field(
        ge=MIN_LOOKBACK_DAYS, le=MAX_LOOKBACK_DAYS,
        description="Days of store history used when no returns are posted (the same default for every endpoint, "
        "the library's and the CLI's)",
    ),
]  # fmt: skip


class Window(BaseModel):
    """The return history measured: the lookback asked for and the days it covers."""

    lookback_days: int | None = Field(None, description="Days of store history asked for; none for posted returns")
    window_start: str | None = Field(None, description="First day of the history measured (none when undated)")
    window_end: str | None = Field(None, description="Last day of the history measured (none when undated)")


class VarResponse(Window):
    """VaR and ES as positive loss fractions of the portfolio's value (and in money for positions)."""

    var: float = Field(description="Value at Risk: the loss not exceeded with the given confidence")
    es: float = Field(description="Expected shortfall: the mean loss beyond the VaR")
    method: str
    confidence: float
    horizon_days: int
    observations: int = Field(description="Days of return history used")
    symbols: list[str]
    equity: float | None = Field(None, description="Cash plus positions (posted positions only)")
    var_money: float | None = Field(None, description="VaR times equity (posted positions only)")
    es_money: float | None = Field(None, description="ES times equity (posted positions only)")


class Scenario(BaseModel):
    """One stress scenario: P&L in money, per position and in total."""

    name: str
    start: str | None = Field(None, description="First day of a historical window (none for a shock)")
    end: str | None = Field(None, description="Last day of a historical window")
    total: float
    total_fraction: float | None = Field(description="Total P&L as a fraction of equity")
    pnl: dict[str, float]


class StressResponse(Window):
    """Stress results on today's positions."""

    equity: float
    scenarios: list[Scenario]


class LimitModel(BaseModel):
    """A limit: ``metric`` may not exceed ``threshold`` (a fraction of equity)."""

    name: str
    metric: Metric
    threshold: float = Field(description="Largest allowed value, as a fraction of equity")
    warn_at: float = Field(0.8, description="Warn from this fraction of the threshold, in (0, 1]")
    method: Method = "historical"
    confidence: Confidence = 0.99
    horizon_days: Horizon = 1


class LimitCheck(BaseModel):
    """A limit's worst subject and its status."""

    limit_name: str
    metric: str
    subject: str = Field(description="The symbol or sector measured, empty for whole-book measures")
    value: float | None = Field(description="The measure, a fraction of equity; none if it cannot be taken")
    threshold: float
    warn_level: float
    utilisation: float | None
    severity: Literal["ok", "warning", "breach", "n/a"]


class Alert(BaseModel):
    """A warning or a breach."""

    ts: str
    as_of: str
    portfolio: str
    limit_name: str
    metric: str
    subject: str
    value: float
    threshold: float
    severity: Literal["warning", "breach"]
    message: str


class Episode(BaseModel):
    """An alert episode in the store: opened by a check, updated while it lasts, closed when it clears."""

    id: int
    change: Literal["opened", "updated", "escalated", "eased", "unchanged", "closed"] = Field(
        description="What this evaluation did to it"
    )
    opened: str = Field(description="When a check first found it (UTC)")
    ts: str = Field(description="When the latest check found it, or closed it (UTC)")
    as_of: str
    closed: str | None = Field(description="When a check found it cleared; none while open")
    status: Literal["open", "closed"]
    portfolio: str
    limit_name: str
    metric: str
    subject: str
    value: float
    threshold: float
    severity: Literal["warning", "breach"]
    worst_value: float
    worst_severity: Literal["warning", "breach"]
    message: str


class LimitsResponse(Window):
    """The evaluation of a book's limits."""

    portfolio: str
    as_of: str = Field(description="Last market date of the data measured")
    ts: str = Field(description="When the evaluation ran (UTC)")
    breached: bool
    limits: list[LimitCheck]
    alerts: list[Alert]
    episodes: list[Episode] | None = Field(
        None, description="With record: the episodes this evaluation opened, updated or closed"
    )


@bentoml.service(name="bifrost_risk", **SETTINGS.bento_options())
class RiskService:
    """Portfolio risk: VaR/ES, stress tests and limits, on posted or stored portfolios."""

    def __init__(self) -> None:
        self.settings = SETTINGS.settings
        self._market: MarketData | None = None
        # everything imported so far lives as long as the worker: keep it out of the cyclic
        # collector, whose full passes over it otherwise pause requests for tens of ms (each
        # endpoint's first call settles what it imported and cached the same way)
        settle_heap()

    @property
    def market(self) -> MarketData:
        """The store's closes and histories, opened on first use and cached."""
        if self._market is None:
            self._market = MarketData(open_store(self.settings))
        return self._market

    def _book(
        self, positions: dict[str, float], prices: Any, returns: Any, dates: Any, cash: float, lookback: int
    ) -> Book:
        needs_store = prices is None or returns is None
        return book_from_positions(
            positions, market=self.market if needs_store else None, prices=prices, returns=returns, dates=dates,
            cash=cash, lookback_days=lookback,
        )  # fmt: skip

    @bentoml.api(route="/var")
    @answers_errors
    def var(
        self,
        returns: Returns = None,
        weights: Annotated[
            dict[str, float] | None, Field(description="Fraction of portfolio value per symbol (with `returns`)")
        ] = None,
        positions: Positions = None,
        prices: Prices = None,
        cash: Cash = 0.0,
        lookback_days: Lookback = DEFAULT_LOOKBACK_DAYS,
        confidence: Confidence = 0.99,
        horizon_days: Horizon = 1,
        method: Method = "historical",
    ) -> VarResponse:
        """VaR and ES of ``weights`` on posted ``returns``, or of ``positions`` (prices and
        history posted or from the store)."""
        if weights is not None and positions is None:
            if returns is None:
                raise InvalidInputError("weights need returns: post a return history per symbol")
            risk = portfolio_risk(
                returns, weights, confidence=confidence, horizon_days=horizon_days, method=method, n_scenarios=20_000
            )
            return VarResponse(**risk.to_dict())
        if positions is None or weights is not None:
            raise InvalidInputError("post either weights (with returns) or positions, not both or neither")
        book = self._book(positions, prices, returns, None, cash, lookback_days)
        # the book's history was checked once when it was built; book_risk does not check it again
        risk = book_risk(book, method=method, confidence=confidence, horizon_days=horizon_days, n_scenarios=20_000)
        return VarResponse(
            **{**risk.to_dict(), **book.window.to_dict()}, equity=book.equity, var_money=risk.var * book.equity,
            es_money=risk.es * book.equity,
        )  # fmt: skip

    @bentoml.api(route="/stress")
    @answers_errors
    def stress(
        self,
        positions: Annotated[dict[str, float], Field(description="Shares per symbol, negative for a short")],
        prices: Prices = None,
        returns: Returns = None,
        dates: Dates = None,
        cash: Cash = 0.0,
        lookback_days: Lookback = DEFAULT_LOOKBACK_DAYS,
        window_days: Annotated[
            tuple[int, ...],
            Field(max_length=MAX_WINDOW_LENGTHS, description="Window lengths searched for the worst episodes"),
        ] = (1, 5, 20),
        worst: Annotated[int, Field(ge=1, le=MAX_WORST, description="Distinct worst windows kept per length")] = 3,
        periods: Annotated[
            dict[str, tuple[str, str]] | None, Field(description="Named windows: name -> [first day, last day]")
        ] = None,
        shocks: Annotated[
            dict[str, dict[str, float]] | None,
            Field(description="Hypothetical scenarios: name -> {symbol | 'sector:<name>' | 'market': return}"),
        ] = None,
        sectors: Annotated[dict[str, str] | None, Field(description="Sector per symbol, for sector shocks")] = None,
    ) -> StressResponse:
        """Worst historical windows, named periods and hypothetical shocks on today's positions."""
        book = self._book(positions, prices, returns, dates, cash, lookback_days)
        values = {str(k): float(v) for k, v in book.values.items()}
        if shocks and sectors is None and returns is None:
            with self.market.lock:
                sectors = store_sectors(self.market.store)
        result = stress_positions(
            values, book.returns if isinstance(book.returns.index, pd.DatetimeIndex) else None,
            window_days=window_days, worst=worst, periods=periods, shocks=shocks, sectors=sectors,
        )  # fmt: skip
        scenarios = [Scenario(**row) for row in result.records(book.equity)]
        window = book.window.to_dict()
        del window["observations"]
        return StressResponse(equity=book.equity, scenarios=scenarios, **window)

    @bentoml.api(route="/limits")
    @answers_errors
    def limits(
        self,
        portfolio: Annotated[str | None, Field(description="A stored portfolio, measured from its ledger")] = None,
        positions: Positions = None,
        prices: Prices = None,
        returns: Returns = None,
        cash: Cash = 0.0,
        lookback_days: Lookback = DEFAULT_LOOKBACK_DAYS,
        limits: Annotated[
            list[LimitModel] | None,
            Field(description="Limits to evaluate; default: the portfolio's own, or the defaults"),
        ] = None,
        drawdown: Annotated[
            float | None, Field(ge=0.0, le=1.0, description="Current drawdown of posted positions, if known")
        ] = None,
        record: Annotated[bool, Field(description="Record the alerts in the store (stored portfolios only)")] = False,
    ) -> LimitsResponse:
        """Evaluate limits on a stored portfolio, or on posted positions."""
        chosen = None if limits is None else [Limit(**m.model_dump()) for m in limits]
        if portfolio is not None and positions is None:
            with self.market.lock:
                report = check_limits(
                    self.market.store, portfolio, limits=chosen, record=record, lookback_days=lookback_days
                )
        elif positions is not None and portfolio is None:
            if record:
                raise InvalidInputError("only a stored portfolio's alerts can be recorded")
            book = self._book(positions, prices, returns, None, cash, lookback_days)
            report = limit_report(book, chosen if chosen is not None else DEFAULT_LIMITS, drawdown=drawdown)
        else:
            raise InvalidInputError("post either a stored portfolio's name or positions, not both or neither")
        return LimitsResponse(**report.to_dict())


# the token from BIFROST_RISK_SERVICE_TOKEN or [keys] risk_service_token in bifrost.toml, and the limits
DESCRIPTION = (
    "Value at risk and expected shortfall, stress tests and limits of a book: posted positions or a stored "
    "portfolio, priced from the service's store. Errors are answered as "
    '`{"error": message, "detail": [{"field", "message"}], "request_id": id}`.'
)
RiskService.add_asgi_middleware(Guard, **Guard.options(SETTINGS, description=DESCRIPTION))
