"""Multi-asset risk: covariance estimators, Monte Carlo VaR/ES, and the VaR decomposition.

Monte Carlo draws ``n_scenarios`` joint returns over the horizon from a multivariate
normal or Student-t with the estimated mean and covariance (the t scaled so that its
covariance is the estimate), values the portfolio linearly (``w · r``) and reads the VaR
and ES off the simulated distribution with the historical quantile convention. It runs
on numpy, or on PyTorch (on the GPU when one is present); the two use different random
streams and agree within Monte Carlo error.

References
----------
O. Ledoit, M. Wolf, "A well-conditioned estimator for large-dimensional covariance
matrices" (2004); J. P. Morgan/Reuters, *RiskMetrics — Technical Document* (1996);
M. Garman, "Improving on VaR" (1996) for marginal and component VaR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Final, Literal, get_args

import numpy as np
import pandas as pd

from bifrost._checks import as_choice, as_fraction, as_positive_int, deprecated_positional, is_number
from bifrost._typing import FloatArray
from bifrost.errors import InsufficientDataError, InvalidInputError
from bifrost.risk._var import _check, _return_matrix_problem

__all__ = [
    "Covariance",
    "VarDecomposition",
    "covariance",
    "montecarlo_var_es",
    "var_decomposition",
]

Covariance = Literal["sample", "ewma", "ledoit_wolf"]
McDistribution = Literal["normal", "t"]
Backend = Literal["auto", "numpy", "torch"]
_N = NormalDist()
MAX_ASSETS: Final = 2_000  # a 2,000² covariance is 32 MB and factors in well under a second
MAX_SCENARIOS: Final = 10_000_000  # 80 MB of simulated P&L; the standard error of a 99% VaR is far below 1% by then


def _matrix(returns: Any, name: str = "returns") -> FloatArray:
    if isinstance(returns, pd.DataFrame):
        returns = returns.to_numpy()
    try:
        r = np.asarray(returns, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numeric") from exc
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2:
        raise InvalidInputError(f"{name} must be time × assets with at least 2 days, got shape {r.shape}")
    if r.shape[0] < 2 or r.shape[1] < 1:
        raise InsufficientDataError(f"{name} must be time × assets with at least 2 days, got shape {r.shape}")
    _check_assets(r.shape[1], name)
    bad = ~np.isfinite(r)
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise InvalidInputError(f"{name} must be finite; day {t} of asset {j} is {r[t, j]}")
    problem = _return_matrix_problem(r, None)
    if problem is not None:
        raise InvalidInputError(problem)
    return r


def _check_assets(n_assets: int, name: str = "returns") -> None:
    if n_assets > MAX_ASSETS:
        raise InvalidInputError(
            f"{name} has {n_assets:,} assets; a covariance takes at most {MAX_ASSETS:,} (it needs assets² memory "
            "and assets³ time to factor): use the historical or parametric VaR of the portfolio's returns"
        )


def _weights(weights: Any, n_assets: int) -> FloatArray:
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.size != n_assets:
        raise InvalidInputError(f"weights has {w.size} entries for {n_assets} assets")
    if not np.isfinite(w).all():
        raise InvalidInputError("weights must be finite")
    return w


@deprecated_positional("method")
def covariance(returns: Any, *, method: Covariance = "sample", decay: float = 0.94) -> FloatArray:
    """Estimate the daily covariance of ``returns`` (time × assets).

    ``sample``: unbiased sample covariance. ``ewma``: RiskMetrics, zero mean,
    ``Σ = Σₜ (1−λ) λ^(n−1−t) rₜ rₜᵀ / (1 − λⁿ)``. ``ledoit_wolf``: the sample covariance
    (maximum likelihood) shrunk towards a scaled identity with the Ledoit–Wolf optimal
    intensity (as ``sklearn.covariance.ledoit_wolf``).
    """
    r = _matrix(returns)
    return _covariance(r, as_choice(method, "covariance method", get_args(Covariance)), as_fraction(decay, "decay"))


def _covariance(r: FloatArray, method: Covariance, decay: float = 0.94) -> FloatArray:
    # the estimator on a checked matrix (`_matrix`) with a checked decay
    n, p = r.shape
    if method == "sample":
        return np.atleast_2d(np.cov(r, rowvar=False, ddof=1))
    if method == "ewma":
        w = (1.0 - decay) * decay ** np.arange(n - 1, -1, -1, dtype=np.float64)
        w /= w.sum()
        return np.asarray((r * w[:, None]).T @ r, dtype=np.float64)
    x = r - r.mean(axis=0)  # ledoit_wolf
    s = x.T @ x / n
    mu = np.trace(s) / p
    delta = float(((s - mu * np.eye(p)) ** 2).sum()) / p
    x2 = x**2
    beta_bar = float((x2.T @ x2).sum() / n - (s**2).sum()) / (p * n)
    beta = min(beta_bar, delta)
    shrink = 0.0 if delta == 0 else beta / delta
    return np.asarray(shrink * mu * np.eye(p) + (1.0 - shrink) * s, dtype=np.float64)


def _portfolio_draws_numpy(
    mean: FloatArray, chol: FloatArray, w: FloatArray, n: int, dof: float | None, seed: int, chunk: int
) -> FloatArray:
    rng = np.random.default_rng(seed)
    b = chol.T @ w  # w · (L z) = (Lᵀ w) · z: the portfolio needs one dot product per scenario
    out = np.empty(n)
    for a in range(0, n, chunk):
        m = min(chunk, n - a)
        z = rng.standard_normal((m, chol.shape[0]))
        x = z @ b
        if dof is not None:
            x *= np.sqrt((dof - 2.0) / rng.chisquare(dof, m))
        out[a : a + m] = x + float(mean @ w)
    return out


def _portfolio_draws_torch(
    mean: FloatArray, chol: FloatArray, w: FloatArray, n: int, dof: float | None, seed: int, chunk: int
) -> FloatArray:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=device).manual_seed(seed)
    # the t's chi-squared mixing draws come from numpy (torch's sampler takes no generator)
    mixing = np.random.default_rng(seed + 1).chisquare(dof, n) if dof is not None else None
    b = torch.as_tensor(chol.T @ w, dtype=torch.float64, device=device)
    parts = []
    for a in range(0, n, chunk):
        m = min(chunk, n - a)
        z = torch.randn((m, chol.shape[0]), generator=gen, dtype=torch.float64, device=device)
        x = z @ b
        if mixing is not None:
            x = x * torch.sqrt((float(dof or 0.0) - 2.0) / torch.as_tensor(mixing[a : a + m], device=device))
        parts.append(x + float(mean @ w))
    return np.asarray(torch.cat(parts).cpu().numpy(), dtype=np.float64)


def _mc_options(
    n_scenarios: object, seed: object, distribution: object, dof: object, backend: object
) -> tuple[int, int, McDistribution, float | None, Backend]:
    # the simulation's options, checked once; dof is None for the normal
    n = as_positive_int(
        n_scenarios, "n_scenarios", minimum=100, maximum=MAX_SCENARIOS, why="memory: 8 bytes a scenario"
    )
    seed_ = as_positive_int(seed, "seed", minimum=0, maximum=2**63 - 1)
    dist = as_choice(distribution, "distribution", get_args(McDistribution))
    nu: float | None = None
    if dist == "t":
        if not is_number(dof) or not 2.0 < float(dof) < math.inf:  # type: ignore[arg-type]
            raise InvalidInputError(f"dof must be > 2 and finite, for a finite covariance, got {dof!r}")
        nu = float(dof)  # type: ignore[arg-type]
    return n, seed_, dist, nu, as_choice(backend, "backend", get_args(Backend))


@deprecated_positional("confidence", "horizon_days")
def montecarlo_var_es(
    returns: Any,
    weights: Any,
    *,
    confidence: float = 0.99,
    horizon_days: int = 1,
    n_scenarios: int = 100_000,
    distribution: McDistribution = "normal",
    dof: float = 5.0,
    cov: Covariance = "sample",
    seed: int = 0,
    backend: Backend = "auto",
) -> tuple[float, float]:
    """Estimate ``(VaR, ES)`` of a portfolio by Monte Carlo simulation.

    Parameters
    ----------
    returns : array_like or DataFrame
        Daily simple returns, time × assets.
    weights : array_like
        Portfolio weights (fractions of value; they need not sum to 1 — a long/short book).
    n_scenarios : int
        Simulated horizons.
    distribution, dof
        Multivariate ``normal``, or Student-``t`` with ``dof`` > 2 degrees of freedom.
    cov
        Covariance estimator (:func:`covariance`); the mean is the sample mean.
    backend
        ``numpy``; ``torch`` (GPU when available); ``auto``: torch if a GPU is present.

    Returns
    -------
    (float, float)
        VaR and ES as positive loss fractions of portfolio value.
    """
    r = _matrix(returns)
    w = _weights(weights, r.shape[1])
    c, h = _check(confidence, horizon_days)
    n, seed_, _, nu, engine = _mc_options(n_scenarios, seed, distribution, dof, backend)
    return _montecarlo(
        r, w, c, h, n_scenarios=n, dof=nu, cov=as_choice(cov, "cov", get_args(Covariance)), seed=seed_, backend=engine
    )


def _montecarlo(
    r: FloatArray,
    w: FloatArray,
    confidence: float,
    horizon_days: int,
    *,
    n_scenarios: int,
    dof: float | None,
    cov: Covariance,
    seed: int,
    backend: Backend,
) -> tuple[float, float]:
    # the kernel: a checked matrix and weights, checked options (`_mc_options`); dof None draws normals
    sigma = _covariance(r, cov) * horizon_days
    mean = np.asarray(r.mean(axis=0) * horizon_days, dtype=np.float64)
    # Cholesky of a PSD matrix: jitter the diagonal if a zero-variance asset makes it singular
    jitter = 0.0
    while True:
        try:
            chol: FloatArray = np.asarray(np.linalg.cholesky(sigma + jitter * np.eye(sigma.shape[0])), dtype=np.float64)
            break
        except np.linalg.LinAlgError:
            jitter = max(jitter * 10, 1e-16 * max(float(np.trace(sigma)), 1e-300))
    use_torch = backend == "torch"
    if backend == "auto":
        try:
            import torch

            use_torch = bool(torch.cuda.is_available())
        except ImportError:
            use_torch = False
    draw = _portfolio_draws_torch if use_torch else _portfolio_draws_numpy
    pnl = draw(mean, chol, w, n_scenarios, dof, seed, 20_000)
    q = float(np.quantile(pnl, 1.0 - confidence, method="lower"))
    return max(-q, 0.0), max(-float(pnl[pnl <= q].mean()), 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class VarDecomposition:
    """Parametric (normal) VaR of a portfolio and its split by position."""

    var: float
    marginal: pd.Series  # ∂VaR/∂wᵢ
    component: pd.Series  # wᵢ ∂VaR/∂wᵢ: sums to the VaR
    incremental: pd.Series  # VaR − VaR without position i

    def frame(self) -> pd.DataFrame:
        """Return marginal, component, incremental VaR and each component's share of the total."""
        share = self.component / self.var if self.var else self.component * np.nan
        return pd.DataFrame(
            {"marginal": self.marginal, "component": self.component, "incremental": self.incremental, "share": share}
        )

    def _repr_html_(self) -> str:
        return f"<b>VaR decomposition</b> total {self.var:.4%}<br>" + self.frame().to_html(
            float_format=lambda v: f"{v:.6f}"
        )


def _normal_var(w: FloatArray, mean: FloatArray, sigma: FloatArray, z: float, h: int) -> float:
    sd = math.sqrt(max(float(w @ sigma @ w), 0.0))
    return -float(w @ mean) * h + z * sd * math.sqrt(h)


@deprecated_positional("confidence", "horizon_days")
def var_decomposition(
    returns: Any,
    weights: Any,
    *,
    confidence: float = 0.99,
    horizon_days: int = 1,
    cov: Covariance = "sample",
    names: Any = None,
) -> VarDecomposition:
    """Split the parametric VaR ``−wᵀμ h + z √(wᵀΣw) √h`` by position.

    Marginal VaR is its gradient ``−μᵢ h + z √h (Σw)ᵢ / σₚ``; component VaR ``wᵢ`` times it,
    which sums to the VaR exactly (Euler: the VaR is homogeneous of degree one in ``w``);
    incremental VaR is the change in VaR from removing the position. Not floored at zero.
    """
    r = _matrix(returns)
    w = _weights(weights, r.shape[1])
    confidence, h = _check(confidence, horizon_days)
    method = as_choice(cov, "cov", get_args(Covariance))
    labels = (
        list(names)
        if names is not None
        else (list(returns.columns) if isinstance(returns, pd.DataFrame) else list(range(r.shape[1])))
    )
    if len(labels) != r.shape[1]:
        raise InvalidInputError(f"names has {len(labels)} entries for {r.shape[1]} assets")
    sigma = _covariance(r, method)
    mean = np.asarray(r.mean(axis=0), dtype=np.float64)
    z = _N.inv_cdf(confidence)
    total = _normal_var(w, mean, sigma, z, h)
    sd = math.sqrt(max(float(w @ sigma @ w), 0.0))
    if sd == 0.0:
        raise InsufficientDataError("the portfolio has zero variance: nothing to decompose")
    marginal = -mean * h + z * math.sqrt(h) * (sigma @ w) / sd
    incremental = np.array(
        [total - _normal_var(np.where(np.arange(w.size) == i, 0.0, w), mean, sigma, z, h) for i in range(w.size)]
    )
    return VarDecomposition(
        var=total,
        marginal=pd.Series(marginal, index=labels, name="marginal"),
        component=pd.Series(w * marginal, index=labels, name="component"),
        incremental=pd.Series(incremental, index=labels, name="incremental"),
    )
