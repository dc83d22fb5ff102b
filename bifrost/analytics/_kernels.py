"""Compiled kernel behind `perf_stats`: every metric of a complete series in a few passes.

One series at a time (in parallel across series), held in cache: sums use Neumaier
compensated summation so results match numpy's pairwise sums (and empyrical) to ~1e-15;
order statistics come from O(n) selection (``np.partition``), not sorting. Its reference
is the numpy implementation of each metric in `bifrost.analytics._metrics`; the tests
compare the two on real and synthetic data.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from bifrost._jit import kernel, njit  # compiled on first use, cached in the user's cache folder
from bifrost._typing import FloatArray

__all__ = ["STATS", "column_stats"]

STATS = (
    "cum_returns_final", "annual_return", "annual_volatility", "sharpe_ratio", "sortino_ratio",
    "downside_risk", "calmar_ratio", "omega_ratio", "max_drawdown", "max_drawdown_duration",
    "tail_ratio", "stability_of_timeseries", "value_at_risk", "conditional_value_at_risk",
    "alpha", "beta", "excess_sharpe", "up_capture", "down_capture",
)  # fmt: skip


@njit(cache=True, inline="always")
def _add(total: float, carry: float, value: float) -> tuple[float, float]:
    # Neumaier's compensated summation: returns the new (total, carry)
    t = total + value
    if abs(total) >= abs(value):
        carry += (total - t) + value
    else:
        carry += (value - t) + total
    return t, carry


@njit(cache=True)
def _percentile(values: FloatArray, pos: float) -> float:
    # linear interpolation between order statistics floor(pos) and ceil(pos), as numpy
    lo = int(np.floor(pos))
    below = np.partition(values, lo)
    a = float(below[lo])
    if pos == lo:
        return a
    b = float(np.min(below[lo + 1 :]))
    return a + (b - a) * (pos - lo)


@kernel(parallel=True, error_model="numpy")  # IEEE division: x/0 is ±inf or NaN, as numpy
def column_stats(x: FloatArray, f: FloatArray, has_factor: bool, ann: float, rf: float) -> FloatArray:
    """Return a (len(STATS), n_series) array for series ``x`` (n_series × n_times, no NaN)."""
    n_series, n = x.shape
    out = np.full((len(STATS), n_series), np.nan)
    k_cvar = int((n - 1) * 0.05) + 1
    xs_mean = (n - 1) / 2.0
    for j in prange(n_series):
        r = x[j]
        b = f[j]
        # pass 1: sums, product, drawdown, duration, omega, captures, cumulative logs
        s, sc = 0.0, 0.0
        lo, hi = r[0], r[0]
        growth = 1.0
        wealth, peak = 100.0, 100.0
        mdd = 0.0
        run, longest = 0, 0
        gains, gc, losses, lc = 0.0, 0.0, 0.0, 0.0
        down2, dc = 0.0, 0.0
        y = np.empty(n)
        cum = 0.0
        ys, ysc = 0.0, 0.0
        up_r, up_f, dn_r, dn_f = 1.0, 1.0, 1.0, 1.0
        n_up, n_dn = 0, 0
        fs, fsc = 0.0, 0.0
        a_s, a_sc = 0.0, 0.0
        a_lo, a_hi = r[0] - b[0], r[0] - b[0]
        for t in range(n):
            v = r[t]
            s, sc = _add(s, sc, v)
            lo = min(lo, v)
            hi = max(hi, v)
            growth *= 1.0 + v
            wealth = growth * 100.0  # as the reference: cumprod(1 + r) * 100, bit for bit
            peak = max(peak, wealth)
            dd = (wealth - peak) / peak
            mdd = min(mdd, dd)
            run = run + 1 if dd < 0 else 0
            longest = max(longest, run)
            e = v - rf
            if e > 0:
                gains, gc = _add(gains, gc, e)
            elif e < 0:
                losses, lc = _add(losses, lc, -e)
            if v < 0:
                down2, dc = _add(down2, dc, v * v)
            cum += np.log1p(v)
            y[t] = cum
            ys, ysc = _add(ys, ysc, cum)
            if has_factor:
                w = b[t]
                fs, fsc = _add(fs, fsc, w)
                a = v - w
                a_s, a_sc = _add(a_s, a_sc, a)
                a_lo = min(a_lo, a)
                a_hi = max(a_hi, a)
                if w > 0:
                    up_r *= 1.0 + v
                    up_f *= 1.0 + w
                    n_up += 1
                elif w < 0:
                    dn_r *= 1.0 + v
                    dn_f *= 1.0 + w
                    n_dn += 1
        mean = (s + sc) / n
        y_mean = (ys + ysc) / n
        # pass 2: centred sums
        v2, v2c, sxy, sxyc, syy, syyc = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        f_mean = (fs + fsc) / n
        a_mean = (a_s + a_sc) / n
        fv, fvc, cov, covc, av, avc = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        for t in range(n):
            d = r[t] - mean
            v2, v2c = _add(v2, v2c, d * d)
            dx = t - xs_mean
            dy = y[t] - y_mean
            sxy, sxyc = _add(sxy, sxyc, dx * dy)
            syy, syyc = _add(syy, syyc, dy * dy)
            if has_factor:
                fr = b[t] - f_mean
                fv, fvc = _add(fv, fvc, fr * fr)
                cov, covc = _add(cov, covc, fr * r[t])
                ad = (r[t] - b[t]) - a_mean
                av, avc = _add(av, avc, ad * ad)
        std = 0.0 if lo == hi else np.sqrt((v2 + v2c) / (n - 1))
        annual = growth ** (ann / n) - 1.0
        downside = np.sqrt((down2 + dc) / n) * np.sqrt(ann)
        out[0, j] = growth - 1.0
        out[1, j] = annual
        out[2, j] = std * np.sqrt(ann)
        out[3, j] = (mean - rf) / std * np.sqrt(ann)
        out[4, j] = mean * ann / downside
        out[5, j] = downside
        calmar = annual / abs(mdd) if mdd < 0 else np.nan
        out[6, j] = calmar if np.isfinite(calmar) else np.nan
        out[7, j] = (gains + gc) / (losses + lc) if losses + lc > 0 else np.nan
        out[8, j] = mdd
        out[9, j] = longest
        sxx = n * (n * n - 1) / 12.0  # sum of (t - mean)^2 over 0..n-1
        syy_t = syy + syyc
        rho = 0.0 if syy_t == 0 else (sxy + sxyc) / np.sqrt(sxx * syy_t)
        out[11, j] = min(max(rho, -1.0), 1.0) ** 2
        # order statistics on a copy: the 5th and 95th percentiles, the worst k
        work = r.copy()
        p5 = _percentile(work, 0.05 * (n - 1))
        p95 = _percentile(work, 0.95 * (n - 1))
        worst = np.partition(work, k_cvar - 1)[:k_cvar]
        out[10, j] = abs(p95) / abs(p5)
        out[12, j] = p5
        out[13, j] = np.mean(worst)
        if has_factor:
            variance = (fv + fvc) / n
            beta = (cov + covc) / n / variance if variance >= 1e-30 else np.nan
            # alpha: the mean of the daily series (r - rf) - beta (f - rf), compounded; summing
            # the series (not mean(r) - beta mean(f)) avoids cancelling two close numbers
            al, alc = 0.0, 0.0
            for t in range(n):
                al, alc = _add(al, alc, (r[t] - rf) - beta * (b[t] - rf))
            alpha_daily = (al + alc) / n
            a_std = 0.0 if a_lo == a_hi else np.sqrt((av + avc) / (n - 1))
            out[14, j] = (alpha_daily + 1.0) ** ann - 1.0
            out[15, j] = beta
            out[16, j] = a_mean / a_std
            if n_up > 0:
                out[17, j] = (up_r ** (ann / n_up) - 1.0) / (up_f ** (ann / n_up) - 1.0)
            if n_dn > 0:
                out[18, j] = (dn_r ** (ann / n_dn) - 1.0) / (dn_f ** (ann / n_dn) - 1.0)
    return out
