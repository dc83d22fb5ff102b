"""VaR and ES of a portfolio given as weights on assets with a return history."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from bifrost._checks import check_symbol, quote
from bifrost.errors import InvalidInputError
from bifrost.risk._montecarlo import montecarlo_var_es
from bifrost.risk._var import (
    _check,
    _return_matrix_problem,
    filtered_historical_es,
    filtered_historical_var,
    historical_es,
    historical_var,
    parametric_es,
    parametric_var,
)

__all__ = ["Method", "PortfolioRisk", "portfolio_risk"]

Method = Literal["historical", "parametric", "montecarlo", "filtered_historical"]
METHODS: tuple[str, ...] = get_args(Method)


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
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}, got {method!r}")
    _check(confidence, horizon_days)
    frame = _frame(returns)
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
        raise InvalidInputError(f"the return history needs at least 2 days, got {r.shape[0]}")
    problem = _return_matrix_problem(r, symbols)
    if problem is not None:
        raise InvalidInputError(problem)
    if method == "montecarlo":
        var, es = montecarlo_var_es(r, w, confidence, horizon_days, n_scenarios=n_scenarios, seed=seed)
    else:
        pnl = r @ w
        if (pnl <= -1.0).any():
            raise InvalidInputError("the portfolio loses everything on some day of the history: check the weights")
        pairs: dict[str, tuple[Callable[..., float], Callable[..., float]]] = {
            "historical": (historical_var, historical_es),
            "parametric": (parametric_var, parametric_es),
            "filtered_historical": (filtered_historical_var, filtered_historical_es),
        }
        var_fn, es_fn = pairs[method]
        var = var_fn(pnl, confidence, horizon_days)
        es = es_fn(pnl, confidence, horizon_days)
    if not (math.isfinite(var) and math.isfinite(es)):
        raise InvalidInputError("the history is degenerate: VaR is not finite")
    return PortfolioRisk(
        var=var, es=es, method=method, confidence=confidence, horizon_days=horizon_days, observations=r.shape[0],
        symbols=symbols,
    )  # fmt: skip
