"""Built-in strategies, the strategy contract, and `backtest` / `simulate`.

A strategy is a plain function: the panel first, its parameters keyword-only with
defaults, returning :class:`Signals` or :class:`Orders` computed with vectorised
indicators. It sees the whole panel, so it must only use data up to each bar for that
bar's signal; :func:`bifrost.strategy.check_lookahead` proves it does.

>>> def above_average(panel, *, period: int = 20) -> Signals:
...     close = panel["close"]
...     mid = sma(close, period)
...     return Signals(entries=close > mid, exits=close < mid, size=10)
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import typing
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

import numpy as np

from bifrost._checks import as_positive_int, is_number
from bifrost._typing import FloatArray
from bifrost.data import Panel
from bifrost.errors import InsufficientDataError, InvalidInputError
from bifrost.strategy._declare import declare, violated_constraints
from bifrost.strategy._engine import (
    MAX_AMOUNT,
    DividendMode,
    FillModel,
    Orders,
    Signals,
    annual_bars,
    check_dividends,
    check_periods_per_year,
    prepare,
    rule_arrays,
    run_kernel,
    warn_raw_splits,
)
from bifrost.strategy._indicators import MAX_DEVFACTOR, MAX_PERIOD, bollinger, crossover, rsi, sma
from bifrost.strategy._result import BacktestResult

if TYPE_CHECKING:
    from bifrost.compliance._compile import CompiledRules
    from bifrost.compliance._rules import RuleSet

__all__ = [
    "MAX_INT_PARAM",
    "STRATEGIES",
    "SignalModel",
    "Strategy",
    "backtest",
    "buy_and_hold",
    "check_constraints",
    "compile_for",
    "mean_reversion",
    "model_signals",
    "momentum",
    "resolve_strategy",
    "simulate",
    "sma_cross",
    "strategy_params",
]


Strategy: TypeAlias = Callable[..., Signals | Orders]
"""A strategy: ``(panel, *, **params) -> Signals | Orders``."""


MAX_INT_PARAM = 1_000_000_000
"""The largest integer parameter (in absolute value) any strategy takes; a bar count is at most MAX_PERIOD."""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:40]}… ({len(text)} characters)"


def _check_int(strategy: str, name: str, value: Any, low: int, high: int) -> int:
    return as_positive_int(value, f"{strategy}: {name}", minimum=low, maximum=high, kind="a whole number of bars")


def _check_devfactor(strategy: str, value: Any) -> float:
    if not is_number(value) or not 0.0 < value <= MAX_DEVFACTOR:
        raise InvalidInputError(
            f"{strategy}: devfactor must be a number of standard deviations in (0, {MAX_DEVFACTOR:g}], "
            f"got {_short(value)}"
        )
    return float(value)


class SignalModel(Protocol):
    """A fitted model that scores every bar and symbol from data up to that bar."""

    def predict(self, panel: Panel) -> FloatArray:
        """Return scores, time × symbols (higher: more bullish), NaN where it has no view."""
        ...


@declare("fast < slow", warmup=lambda p: max(p["fast"], p["slow"]))
def sma_cross(
    panel: Panel,
    *,
    fast: int = 10,
    slow: int = 30,
    size: float = 100.0,
    size_type: Literal["shares", "value", "percent"] = "shares",
) -> Signals:
    """Go long when SMA(fast) crosses above SMA(slow); close when it crosses below.

    backtrader's canonical ``SmaCross`` (``CrossOver`` of two ``SMA``), long only. Declares
    ``fast < slow`` (a sweep skips the rest) and a warm-up of ``max(fast, slow)`` bars: the
    first bar whose crossover compares two defined averages.
    """
    fast = _check_int("sma_cross", "fast", fast, 1, MAX_PERIOD)
    slow = _check_int("sma_cross", "slow", slow, 1, MAX_PERIOD)
    close = panel["close"]
    cross = crossover(sma(close, fast), sma(close, slow))
    return Signals(entries=cross > 0.0, exits=cross < 0.0, size=size, size_type=size_type)


@declare("skip < lookback", warmup=lambda p: p["lookback"])
def momentum(
    panel: Panel, *, lookback: int = 126, skip: int = 0, top_n: int = 10, rebalance: int = 21, gross: float = 0.99
) -> Orders:
    """Hold the ``top_n`` symbols by trailing return in equal weights, rebalanced every ``rebalance`` bars.

    The trailing return runs from ``lookback`` bars ago to ``skip`` bars ago (``skip=21``
    gives the classic 12–1 month momentum). ``gross`` (< 1) leaves room for costs.
    Declares ``skip < lookback`` and a warm-up of ``lookback`` bars.
    """
    for name, value in (("lookback", lookback), ("top_n", top_n), ("rebalance", rebalance)):
        _check_int("momentum", name, value, 1, MAX_PERIOD)
    if isinstance(skip, bool) or not isinstance(skip, int | np.integer) or not 0 <= skip < lookback:
        raise InvalidInputError(f"momentum: skip must be in [0, lookback), got {skip!r}")
    if not 0.0 < gross <= 1.0:
        raise InvalidInputError(f"momentum: gross must be in (0, 1], got {gross!r}")
    close = panel["close"]
    n_t, n_sym = close.shape
    size = np.full((n_t, n_sym), np.nan)
    n = min(int(top_n), n_sym)
    for t in range(int(lookback), n_t, int(rebalance)):
        with np.errstate(divide="ignore", invalid="ignore"):
            score = close[t - skip] / close[t - lookback] - 1.0
        ok = np.isfinite(score) & np.isfinite(close[t])
        weights = np.zeros(n_sym)
        if ok.any():
            ranked = np.flatnonzero(ok)[np.argsort(-score[ok], kind="stable")][:n]
            weights[ranked] = gross / n
        size[t] = np.where(np.isfinite(close[t]), weights, np.nan)
    return Orders(size=size, size_type="target_percent")


@declare("lower < upper", warmup=lambda p: p["period"] + 1)
def mean_reversion(
    panel: Panel,
    *,
    method: Literal["rsi", "bollinger"] = "rsi",
    period: int = 14,
    lower: float = 30.0,
    upper: float = 70.0,
    devfactor: float = 2.0,
    size: float | None = None,
) -> Signals:
    """Buy the oversold, sell when it has reverted.

    ``rsi``: enter when RSI(period) falls below ``lower``, exit above ``upper``.
    ``bollinger``: enter when the close falls below the lower band, exit above the middle.
    Each entry takes ``size`` of equity (default: an equal share, 0.99 / symbols).
    Declares ``lower < upper`` and a warm-up of ``period + 1`` bars (the RSI's first move
    and its ``period``-bar seed).
    """
    period = _check_int("mean_reversion", "period", period, 1, MAX_PERIOD)
    close = panel["close"]
    if size is None:
        size = 0.99 / close.shape[1]
    if method == "rsi":
        if not 0.0 <= lower < upper <= 100.0:
            raise InvalidInputError(f"mean_reversion: need 0 <= lower < upper <= 100, got {lower!r}, {upper!r}")
        r = rsi(close, period)
        return Signals(entries=r < lower, exits=r > upper, size=size, size_type="percent")
    if method == "bollinger":
        mid, _, low = bollinger(close, period, _check_devfactor("mean_reversion", devfactor))
        return Signals(entries=close < low, exits=close > mid, size=size, size_type="percent")
    raise InvalidInputError(f"mean_reversion: method must be 'rsi' or 'bollinger', got {method!r}")


def buy_and_hold(panel: Panel, *, gross: float = 0.99) -> Orders:
    """Buy every symbol in equal weights on its first bar and hold: the benchmark."""
    if not 0.0 < gross <= 1.0:
        raise InvalidInputError(f"buy_and_hold: gross must be in (0, 1], got {gross!r}")
    close = panel["close"]
    n_t, n_sym = close.shape
    size = np.full((n_t, n_sym), np.nan)
    listed = np.isfinite(close)
    first = np.where(listed.any(axis=0), listed.argmax(axis=0), -1)
    for j, t in enumerate(first):
        if t >= 0:
            size[t, j] = gross / n_sym
    return Orders(size=size, size_type="target_percent")


@declare("exit <= entry")
def model_signals(
    panel: Panel, *, model: SignalModel, entry: float = 0.0, exit: float = 0.0, size: float | None = None
) -> Signals:
    """Trade a model's scores: enter long above ``entry``, exit below ``exit``.

    The hook for `bifrost.ml`: any object with ``predict(panel) -> scores`` (time ×
    symbols) plugs in. The look-ahead guard applies to it like to any strategy.
    """
    if exit > entry:
        raise InvalidInputError(f"model_signals: exit ({exit}) must not be above entry ({entry})")
    scores = np.asarray(model.predict(panel), dtype=np.float64)
    if scores.shape != panel.shape:
        raise InvalidInputError(f"model_signals: the model returned shape {scores.shape}, the panel is {panel.shape}")
    if size is None:
        size = 0.99 / panel.shape[1]
    return Signals(entries=scores > entry, exits=scores < exit, size=size, size_type="percent")


STRATEGIES: Mapping[str, Strategy] = MappingProxyType(
    {"sma_cross": sma_cross, "momentum": momentum, "mean_reversion": mean_reversion, "buy_and_hold": buy_and_hold}
)

# the built-ins' bar counts, checked with the other parameters before anything runs (a sweep
# checks every set up front); the functions check them too, for a direct call
_BAR_PARAMS: Mapping[Strategy, Mapping[str, tuple[int, int]]] = MappingProxyType({
    sma_cross: {"fast": (1, MAX_PERIOD), "slow": (1, MAX_PERIOD)},
    momentum: {"lookback": (1, MAX_PERIOD), "skip": (0, MAX_PERIOD - 1), "top_n": (1, MAX_PERIOD),
               "rebalance": (1, MAX_PERIOD)},
    mean_reversion: {"period": (1, MAX_PERIOD)},
})  # fmt: skip


def resolve_strategy(strategy: str | Strategy) -> tuple[str, Strategy]:
    """Return ``(name, function)`` for a built-in's name or a strategy function."""
    if isinstance(strategy, str):
        try:
            return strategy, STRATEGIES[strategy]
        except KeyError:
            raise InvalidInputError(f"no strategy {strategy!r}; built-ins are {sorted(STRATEGIES)}") from None
    if not callable(strategy):
        raise InvalidInputError(f"strategy must be a name or a function, got {type(strategy).__name__}")
    return getattr(strategy, "__name__", "strategy"), strategy


def strategy_params(strategy: Strategy) -> dict[str, inspect.Parameter]:
    """Return a strategy's keyword parameters (name → ``inspect.Parameter``)."""
    sig = inspect.signature(strategy)
    return {n: p for n, p in sig.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def check_params(name: str, strategy: Strategy, params: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse parameters the strategy does not take, or of the wrong kind; return them as a dict.

    A parameter takes a value of its default's kind (an integer for an integer default, a
    finite number for a number, one of a ``Literal``'s values), and a ``size`` is a
    positive, finite number: the side of a trade comes from the strategy's signals, never
    from the sign of its size.

    Raises
    ------
    InvalidInputError
        Naming the strategy, the parameter, what it takes and what it got.
    """
    accepted = strategy_params(strategy)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise InvalidInputError(
            f"{name} takes no parameter {', '.join(map(repr, unknown))}; it takes {sorted(accepted)}"
        )
    hints = _hints(strategy)
    bars = _BAR_PARAMS.get(strategy, {})
    for key, value in params.items():
        if key in bars and is_number(value) and isinstance(value, int | np.integer):  # the specific bound first
            _check_int(name, key, value, *bars[key])
        _check_param(name, key, value, accepted[key].default, hints.get(key))
        if key == "devfactor" and strategy is mean_reversion:
            _check_devfactor(name, value)
    return dict(params)


def check_constraints(name: str, strategy: Strategy, params: Mapping[str, Any]) -> None:
    """Refuse parameters that violate a constraint the strategy declares (`declare`).

    Raises
    ------
    InvalidInputError
        Naming the strategy, the constraints violated and the values that violate them.
    """
    broken = violated_constraints(strategy, params)
    if broken:
        rules = " and ".join(str(c) for c in broken)
        raise InvalidInputError(f"{name}: {_values(strategy, params, broken)} violate its constraint {rules}")


def _values(strategy: Strategy, params: Mapping[str, Any], rules: tuple[Any, ...]) -> str:
    defaults = {n: p.default for n, p in strategy_params(strategy).items()}
    names = dict.fromkeys(n for rule in rules for n in rule.names)
    return ", ".join(f"{n}={params.get(n, defaults.get(n))!r}" for n in names)


@functools.lru_cache(maxsize=64)  # a sweep checks every parameter set against the same function
def _hints(strategy: Strategy) -> dict[str, Any]:
    # a user's strategy may annotate with names this module cannot resolve: no hints then
    try:
        return typing.get_type_hints(strategy)
    except Exception:
        return {}


def _check_param(strategy: str, name: str, value: Any, default: Any, hint: Any) -> None:
    choices = _literal_choices(hint)
    if choices and value not in choices:
        raise InvalidInputError(f"{strategy}: parameter {name} must be one of {list(choices)}, got {value!r}")
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        if not -MAX_INT_PARAM <= value <= MAX_INT_PARAM:
            raise InvalidInputError(
                f"{strategy}: parameter {name} must be at most {MAX_INT_PARAM:,} in size, got {_short(value)}"
            )
    elif is_number(value) and not math.isfinite(float(value)):
        raise InvalidInputError(f"{strategy}: parameter {name} must be a finite number, got {value!r}")
    if name == "size" and value is not None and not (is_number(value) and 0 < value <= MAX_AMOUNT):
        raise InvalidInputError(
            f"{strategy}: size must be a positive number up to {MAX_AMOUNT:.0e} (the signals give the side), "
            f"got {value!r}"
        )
    if default is inspect.Parameter.empty or default is None or choices:
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool | np.bool_)
    elif isinstance(default, int):
        ok = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    elif isinstance(default, float):
        ok = is_number(value)
    else:
        return
    if not ok:
        raise InvalidInputError(
            f"{strategy}: parameter {name} must be {type(default).__name__}, got {value!r} ({type(value).__name__})"
        )


def _literal_choices(hint: Any) -> tuple[Any, ...]:
    # Literal["a", "b"] or Optional[Literal[...]]
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    choices: tuple[Any, ...] = ()
    for arg in typing.get_args(hint):
        if typing.get_origin(arg) is Literal:
            choices += typing.get_args(arg)
    return choices


def compile_for(
    panel: Panel,
    rules: RuleSet,
    portfolio: str,
    *,
    sectors: Mapping[str, str] | None = None,
    issuers: Mapping[str, str] | None = None,
) -> CompiledRules:
    """Compile compliance ``rules`` for a backtest of ``portfolio`` on ``panel`` (`bifrost.compliance.compile_rules`).

    Raises
    ------
    InvalidInputError
        If ``rules`` is not a `bifrost.compliance.RuleSet`, ``portfolio`` not a non-empty
        name, or ``sectors``/``issuers`` not mappings of symbol to name.
    """
    from bifrost.compliance._compile import compile_rules
    from bifrost.compliance._rules import RuleSet

    if not isinstance(rules, RuleSet):
        raise InvalidInputError(
            "rules must be a bifrost.compliance.RuleSet (bifrost.compliance.parse_rules or load_rules), "
            f"got {type(rules).__name__}"
        )
    if not isinstance(portfolio, str) or not portfolio.strip():
        raise InvalidInputError(f"portfolio must be a non-empty name (the rules' portfolios), got {portfolio!r}")
    for label, value in (("sectors", sectors), ("issuers", issuers)):
        if value is not None and (
            not isinstance(value, Mapping)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            raise InvalidInputError(f"{label} must map symbols to names (str → str), got {type(value).__name__}")
    return compile_rules(rules, portfolio=portfolio, symbols=panel.symbols, ts=panel.ts, sectors=sectors,
                         issuers=issuers)  # fmt: skip


def simulate(
    panel: Panel,
    request: Signals | Orders,
    *,
    cash: float = 100_000.0,
    fill: FillModel | None = None,
    strategy: str = "custom",
    params: Mapping[str, Any] | None = None,
    periods_per_year: float | None = None,
    dividends: DividendMode = "cash",
    rules: RuleSet | None = None,
    portfolio: str = "backtest",
    sectors: Mapping[str, str] | None = None,
    issuers: Mapping[str, str] | None = None,
) -> BacktestResult:
    """Fill ``request`` (signals or orders) on ``panel`` with one shared cash account.

    Parameters
    ----------
    panel
        Bars with at least open, high, low and close (volume for a volume cap).
    request
        What the strategy asks for, shaped like the panel (or broadcastable to it).
    cash
        Starting cash.
    fill
        The fill model (default: next bar's open, no costs, cash account).
    periods_per_year
        Bars a year that annualise the return, volatility and Sharpe ratio (default: the
        panel's frequency's, `bifrost.data.periods_per_year`: 252 on daily bars, 19,656 on
        5-minute bars of US equities' regular session); give your own for a market with
        another year, such as one that trades around the clock.
    dividends
        What the panel's ``dividend`` field (a store's raw read carries the recorded
        dividends) does on each ex-date: ``cash`` (the default) credits shares held at the
        close before it × the dividend (a short pays it), ``reinvest`` also buys the long
        position more shares with it at that close less the dividend, ``ignore`` leaves it
        out (the price return). See `bifrost.strategy._engine` for the convention.
    rules
        Compliance rules (`bifrost.compliance.RuleSet`) the orders must pass: each order
        the strategy creates is judged when it is created, at the bar's close on the book at
        that close, by the rule versions in force that day for ``portfolio`` (as the order
        manager judges a paper order sent at that close); one a rule blocks is rejected with
        reason ``compliance`` and never trades (`BacktestResult.compliance` lists them). The
        rules that read an order flow or intraday trades are not applied, and the result
        says which (`BacktestResult.rules_skipped`). Attached stops are not judged. A daily
        loss limit blocks the orders that do not only reduce while the session's loss is at
        its limit, but does not halt the book as the order manager's `ComplianceCheck` does
        (a halted book waits for a person): each session is judged afresh. The book is
        long-only for the short-sale rule unless the fill model allows shorts.
    portfolio
        The portfolio the backtest stands for, for the rules' ``portfolios``.
    sectors, issuers
        Symbol → sector and symbol → issuer, for the sector and issuer concentration rules.

    Raises
    ------
    InvalidInputError
        On a malformed request, fill model, panel, ``periods_per_year`` or ``dividends``,
        a dividend field on adjusted prices (which hold the dividends already), or ``rules``
        that are not a `bifrost.compliance.RuleSet`.

    Warns
    -----
    DataQualityWarning
        On a store's raw read spanning a recorded split (``Panel.raw_splits``): its
        prices drop by the split and the position keeps its pre-split shares; read with
        ``adjustment='split_adjusted'``.
    """
    model = fill if fill is not None else FillModel()
    per_year = annual_bars(panel, check_periods_per_year(periods_per_year))
    inputs = prepare(panel, request, cash=cash, fill=model, per_year=per_year, dividends=dividends)
    compiled = None
    if rules is not None:
        compiled = compile_for(panel, rules, portfolio, sectors=sectors, issuers=issuers)
        inputs = dataclasses.replace(inputs, rules=rule_arrays(compiled))
    warn_raw_splits(panel)
    records = run_kernel(inputs)
    return BacktestResult.from_records(
        records, panel, strategy=strategy, params=params or {}, cash=cash, fill=model, periods_per_year=per_year,
        dividends=dividends, rules=compiled,
    )  # fmt: skip


def backtest(
    panel: Panel,
    strategy: str | Strategy,
    params: Mapping[str, Any] | None = None,
    *,
    cash: float = 100_000.0,
    fill: FillModel | None = None,
    periods_per_year: float | None = None,
    dividends: DividendMode = "cash",
    rules: RuleSet | None = None,
    portfolio: str = "backtest",
    sectors: Mapping[str, str] | None = None,
    issuers: Mapping[str, str] | None = None,
) -> BacktestResult:
    """Run ``strategy`` (a built-in's name or a function) on ``panel`` and fill its orders.

    The metrics are annualised with ``periods_per_year`` bars a year (default: the
    panel's frequency's; see `simulate`). ``dividends`` (``cash``, ``reinvest`` or
    ``ignore``) says what the panel's dividends do, as in `simulate`: on a store's raw
    read, ``cash`` makes the total return, ``ignore`` the price return. With ``rules``
    (a `bifrost.compliance.RuleSet`) the orders obey the compliance rules in force for
    ``portfolio``, as in `simulate`: those a rule blocks are rejected (reason
    ``compliance``) and listed in `BacktestResult.compliance`.

    Examples
    --------
    >>> from bifrost.data import Panel, SyntheticMarket
    >>> panel = Panel.from_bars(SyntheticMarket(n_symbols=2, n_days=300, seed=1).bars())
    >>> result = backtest(panel, "sma_cross", {"fast": 5, "slow": 20})
    >>> result.final_value > 0 and result.n_trades == len(result.trades)
    True
    """
    name, fn = resolve_strategy(strategy)
    chosen = check_params(name, fn, params or {})
    check_constraints(name, fn, chosen)
    if isinstance(panel, Panel) and 0 in panel.shape:  # before the strategy: its signals of nothing would fail
        raise InsufficientDataError(
            f"the panel is empty ({panel.shape[0]} bars × {panel.shape[1]} symbols): read a date range that holds bars"
        )
    check_dividends(dividends)  # before the strategy runs
    if rules is not None:
        compile_for(panel, rules, portfolio, sectors=sectors, issuers=issuers)  # refused before the strategy runs
    request = fn(panel, **chosen)
    return simulate(
        panel, request, cash=cash, fill=fill, strategy=name, params=chosen, periods_per_year=periods_per_year,
        dividends=dividends, rules=rules, portfolio=portfolio, sectors=sectors, issuers=issuers,
    )  # fmt: skip
