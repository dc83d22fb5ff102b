"""VaR and ES of a portfolio given as weights on assets with a return history."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from bifrost._checks import as_choice, check_symbol, quote
from bifrost._typing import FloatArray
from bifrost.errors import InsufficientDataError, InvalidInputError
from bifrost.risk._montecarlo import _check_assets, _mc_options, _montecarlo
from bifrost.risk._var import (
    _check,
    _filtered_historical_es,
    _filtered_historical_var,
    _historical_es,
    _historical_var,
    _parametric_es,
    _parametric_var,
    _return_matrix_problem,
)

__all__ = ["Method", "PortfolioRisk", "portfolio_risk"]

Method = Literal["historical", "parametric", "montecarlo", "filtered_historical"]
METHODS: tuple[Method, ...] = get_args(Method)


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioRisk:
    """VaR and ES of a portfolio, as positive loss fractions of its value."""

    var: float
    es: float
    method: str
    confidence: float
    horizon_days: int
    observations: int
    symbols: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "var": self.var, "es": self.es, "method": self.method, "confidence": self.confidence,
            "horizon_days": self.horizon_days, "observations": self.observations, "symbols": list(self.symbols),
        }  # fmt: skip

    def _repr_html_(self) -> str:
        return (
            f"<b>{self.method} VaR</b> {self.var:.4%}, ES {self.es:.4%} at {self.confidence:.1%} over "
            f"{self.horizon_days} day(s), from {self.observations} days of {len(self.symbols)} assets"
        )


def _frame(returns: Mapping[str, Sequence[float]] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(returns, pd.DataFrame):
        return returns
    if not isinstance(returns, Mapping) or not returns:
        raise InvalidInputError("returns must map at least one symbol to its list of daily returns")
    for symbol, values in returns.items():
        check_symbol(symbol, "returns")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray | pd.Series):
            raise InvalidInputError(f"returns of {symbol} must be a list of numbers, got {type(values).__name__}")
    lengths = {s: len(v) for s, v in returns.items()}
    if len(set(lengths.values())) > 1:
        shown = dict(list(lengths.items())[:10])
        raise InvalidInputError(f"every symbol needs the same number of returns; got {shown}")
    try:
        return pd.DataFrame({s: np.asarray(v, dtype=np.float64) for s, v in returns.items()})
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"returns must be numbers: {quote(str(exc))}") from None


def _names(symbols: Sequence[str], limit: int = 10) -> str:
    # at most `limit` names, each quoted short: a message never echoes a huge request
    shown = ", ".join(quote(s, 40) if len(s) > 40 else s for s in symbols[:limit])
    return shown + (f" and {len(symbols) - limit} more" if len(symbols) > limit else "")


def portfolio_risk(
    returns: Mapping[str, Sequence[float]] | pd.DataFrame,
    weights: Mapping[str, float],
    *,
    confidence: float = 0.99,
    horizon_days: int = 1,
    method: Method = "historical",
    n_scenarios: int = 100_000,
    seed: int = 0,
) -> PortfolioRisk:
    """Return the VaR and ES of the portfolio ``weights`` (symbol → fraction of value).

    Parameters
    ----------
    returns
        Daily simple returns per symbol, oldest first, all the same length (a mapping of
        lists, or a DataFrame with one column per symbol).
    weights
        Fraction of the portfolio's value in each symbol (negative for a short). Every
        weighted symbol needs a return history; symbols without a weight are ignored.
    method
        ``historical`` and ``parametric`` (normal) on the portfolio's return series,
        ``filtered_historical`` (EWMA), or ``montecarlo`` (multivariate normal, sample
        covariance, ``n_scenarios`` draws seeded by ``seed``).

    Raises
    ------
    InvalidInputError
        On an unknown method or symbol, NaN or infinite values, mismatched lengths, an
        empty history, or a confidence outside (0, 1).
    """
    method = as_choice(method, "method", METHODS)
    confidence, horizon_days = _check(confidence, horizon_days)
    if method == "montecarlo":
        n_scenarios, seed = _mc_options(n_scenarios, seed, "normal", None, "auto")[:2]
    r, w, symbols = _weighted_history(_frame(returns), weights)
    return _portfolio_risk(
        r, w, symbols, method=method, confidence=confidence, horizon_days=horizon_days, n_scenarios=n_scenarios,
        seed=seed,
    )  # fmt: skip


def _weighted_history(
    frame: pd.DataFrame, weights: Mapping[str, float]
) -> tuple[FloatArray, FloatArray, tuple[str, ...]]:
    # the boundary check of a portfolio: (days × symbols returns, weights, symbols), each weighted symbol once
    if not isinstance(weights, Mapping) or not weights:
        raise InvalidInputError("weights must map at least one symbol to its weight")
    unknown = sorted(map(str, set(weights) - set(frame.columns)))
    if unknown:
        have = sorted(map(str, frame.columns))
        raise InvalidInputError(f"no return history for {_names(unknown)}; have {_names(have)}")
    symbols = tuple(str(s) for s in weights)
    try:
        w = np.array([weights[s] for s in weights], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(f"weights must be numbers, got {quote(dict(weights))}") from None
    if w.ndim != 1 or not np.isfinite(w).all():
        raise InvalidInputError("weights must be finite numbers")
    try:
        r = frame[list(weights)].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError("returns must be numbers") from None
    if r.shape[0] < 2:
        raise InsufficientDataError(f"the return history needs at least 2 days, got {r.shape[0]}")
    problem = _return_matrix_problem(r, symbols)
    if problem is not None:
        raise InvalidInputError(problem)
    return r, w, symbols


_PAIRS: dict[str, tuple[Callable[..., float], Callable[..., float]]] = {
    "historical": (_historical_var, _historical_es),
    "parametric": (_parametric_var, _parametric_es),
    "filtered_historical": (_filtered_historical_var, _filtered_historical_es),
}


def _portfolio_risk(
    r: FloatArray,
    w: FloatArray,
    symbols: tuple[str, ...],
    *,
    method: Method,
    confidence: float,
    horizon_days: int,
    n_scenarios: int,
    seed: int,
) -> PortfolioRisk:
    # the kernel of `portfolio_risk`: checked history and weights (`_weighted_history`), checked options
    if method == "montecarlo":
        _check_assets(r.shape[1])  # a resource bound, not a check of the history: the covariance is assets²
        var, es = _montecarlo(
            r, w, confidence, horizon_days, n_scenarios=n_scenarios, dof=None, cov="sample", seed=seed, backend="auto"
        )
    else:
        pnl = r @ w
        if (pnl <= -1.0).any():
            raise InvalidInputError("the portfolio loses everything on some day of the history: check the weights")
        var_fn, es_fn = _PAIRS[method]
        var = var_fn(pnl, confidence, horizon_days)
        es = es_fn(pnl, confidence, horizon_days)
    if not (math.isfinite(var) and math.isfinite(es)):
        raise InsufficientDataError("the history is degenerate: VaR is not finite")
    return PortfolioRisk(
        var=var, es=es, method=method, confidence=confidence, horizon_days=horizon_days, observations=r.shape[0],
        symbols=symbols,
    )  # fmt: skip
