"""A seeded synthetic market for demos and scale tests (never for proving correctness)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bifrost._checks import TS_MAX, as_choice, as_positive_int, as_utc_timestamp, check_symbols, quote
from bifrost.data._columns import Frequency, bar_ns, is_intraday
from bifrost.data._store import TimeLike, within
from bifrost.errors import InvalidInputError

__all__ = ["DEFAULT_SECTORS", "SESSION_OPEN_UTC", "SYNTHETIC_FREQUENCIES", "SyntheticMarket"]

DEFAULT_SECTORS: tuple[str, ...] = (
    "Technology",
    "Financials",
    "Health Care",
    "Energy",
    "Industrials",
    "Consumer Staples",
    "Consumer Discretionary",
    "Utilities",
)
# symbols × bars: 10 million bars take about 2 GB while they are generated
MAX_BARS = 10_000_000
# an intraday market trades 14:30-21:00 UTC (New York's 09:30-16:00 in winter) on weekdays;
# its frequencies are those whose bars tile the 6.5-hour session
SESSION_OPEN_UTC = pd.Timedelta(hours=14, minutes=30)
_SESSION = pd.Timedelta(hours=6, minutes=30)
SYNTHETIC_FREQUENCIES: tuple[Frequency, ...] = ("1s", "10s", "1m", "5m", "15m", "30m", "1d")


class SyntheticMarket:
    """A deterministic multi-asset daily market: same seed, same bars, bit for bit.

    Total daily log returns follow a factor model ``beta * market + gamma * sector +
    idiosyncratic``, each factor a GARCH(1,1) process with Student-t(4) shocks (fat tails,
    volatility clustering). Raw prices then carry occasional splits (2:1, 3:1, 3:2) and
    quarterly cash dividends for about 60% of names, so that ``adjusted`` reads give back
    the total-return path. Volumes are log-normal around a per-name level and rise with
    the size of the move. Every bar it produces is marked synthetic in the store.

    At an intraday ``frequency`` the same model runs per bar (volatility and drift scaled
    to the bar, a day's first bar opening on an overnight gap) over sessions of
    14:30–21:00 UTC on weekdays, 78 bars a day at ``5m``, each stamped at its open; an
    intraday market has no dividends or splits.

    Parameters
    ----------
    n_symbols, n_days
        Size of the market; trading days are weekdays from ``start``. At most
        ``MAX_BARS`` (10 million) bars in all.
    frequency
        ``1d`` (the default), or an intraday frequency that tiles the session:
        ``1s, 10s, 1m, 5m, 15m, 30m``.
    start
        The first trading day, a date such as ``2015-01-02``.
    seed
        Seed of numpy's PCG64 generator.

    Raises
    ------
    InvalidInputError
        On a size below one symbol and two days or above ``MAX_BARS``, a ``start`` that is
        not a date, a ``frequency`` not in ``SYNTHETIC_FREQUENCIES``, or a market that
        would run past 2261.
    """

    name = "synthetic"

    def __init__(
        self,
        *,
        n_symbols: int = 50,
        n_days: int = 1260,
        start: str = "2015-01-02",
        seed: int = 7,
        sectors: Sequence[str] = DEFAULT_SECTORS,
        frequency: Frequency = "1d",
    ) -> None:
        n_symbols = as_positive_int(n_symbols, "n_symbols", maximum=MAX_BARS)
        n_days = as_positive_int(n_days, "n_days", minimum=2, maximum=MAX_BARS, unit="trading days")
        seed = as_positive_int(seed, "seed", minimum=0, maximum=2**63 - 1)
        frequency = as_choice(frequency, "frequency", SYNTHETIC_FREQUENCIES)
        per_day = _SESSION.value // bar_ns(frequency) if is_intraday(frequency) else 1
        if n_symbols * n_days * per_day > MAX_BARS:
            raise InvalidInputError(
                f"a synthetic market of {n_symbols:,} symbols × {n_days:,} days"
                + (f" × {per_day:,} {frequency} bars a day" if per_day > 1 else "")
                + f" is {n_symbols * n_days * per_day:,} bars; "
                f"at most {MAX_BARS:,} are generated at once (fewer symbols or days)"
            )
        if isinstance(sectors, str) or not sectors:
            raise InvalidInputError("sectors must be a non-empty list of sector names")
        for sector in sectors:
            # the first three letters of a sector start its symbols (TEC003)
            prefix = sector.replace(" ", "")[:3] if isinstance(sector, str) else ""
            if not (prefix.isascii() and prefix.isalnum()) or len(sector) > 64 or not sector.isprintable():
                raise InvalidInputError(
                    f"a sector name is up to 64 printable characters starting with ASCII letters or digits, "
                    f"got {quote(sector)}"
                )
        first = as_utc_timestamp(start, "start").normalize()
        # weekdays: n_days of them span at most n_days * 7 / 5 calendar days, plus a weekend
        if first + pd.Timedelta(days=n_days * 7 // 5 + 3) > TS_MAX:
            raise InvalidInputError(
                f"a synthetic market of {n_days:,} days from {first.date()} runs past {TS_MAX.date()}, "
                "the last date a bar can have; start earlier or use fewer days"
            )
        self.n_symbols = int(n_symbols)
        self.n_days = int(n_days)
        self.start = first.tz_localize(None)
        self.seed = int(seed)
        self.sectors = tuple(sectors)
        self.frequency: Frequency = frequency
        self._bars_per_day = int(per_day)
        self._cache: tuple[pd.DataFrame, pd.DataFrame, np.ndarray] | None = None

    @property
    def origin(self) -> str:
        at = f", frequency={self.frequency}" if self.frequency != "1d" else ""
        return f"synthetic(seed={self.seed}, symbols={self.n_symbols}, days={self.n_days}{at})"

    @property
    def symbols(self) -> tuple[str, ...]:
        """The generated tickers: a sector prefix and a number, e.g. ``TEC003``."""
        return tuple(self._generate()[1]["symbol"])

    def metadata(self) -> pd.DataFrame:
        """Return ``symbol, sector, synthetic`` (always True)."""
        return self._generate()[1]

    def bars(self, symbols: Sequence[str] | None = None, start: TimeLike = None, end: TimeLike = None) -> pd.DataFrame:
        frame = self._generate()[0]
        if symbols is not None:
            frame = frame[frame["symbol"].isin(check_symbols(symbols, "symbols"))]
        return frame[within(frame["ts"], start, end)].reset_index(drop=True)

    def total_log_returns(self) -> np.ndarray:
        """Return the total (dividend-reinvested) log returns of each bar, bars × symbols."""
        return self._generate()[2].copy()

    def _generate(self) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
        if self._cache is not None:
            return self._cache
        rng = np.random.Generator(np.random.PCG64(self.seed))
        per_day = self._bars_per_day
        n, t = self.n_symbols, self.n_days * per_day
        per_year = 252 * per_day
        k = len(self.sectors)
        sector_of = rng.integers(0, k, size=n)
        beta = rng.uniform(0.6, 1.4, size=n)
        gamma = rng.uniform(0.3, 1.0, size=n)
        # annual vols: market 16%, sectors 10%, names 18–40%; drift about 7% a year
        vol = np.concatenate([[0.16], np.full(k, 0.10), rng.uniform(0.18, 0.40, size=n)]) / np.sqrt(per_year)
        shocks = _garch_t(rng, t, vol)
        market, sector, idio = shocks[:, 0], shocks[:, 1 : k + 1], shocks[:, k + 1 :]
        drift = rng.normal(0.07, 0.05, size=n) / per_year
        total = drift + beta * market[:, None] + gamma * sector[:, sector_of] + idio
        total[0] = 0.0
        days = pd.bdate_range(self.start, periods=self.n_days)
        if per_day > 1:
            offsets = SESSION_OPEN_UTC + pd.to_timedelta(np.arange(per_day) * bar_ns(self.frequency), unit="ns")
            dates = np.add.outer(days.to_numpy(), offsets.to_numpy()).ravel()
        else:
            dates = days.to_numpy()
        # corporate actions (daily markets only)
        split = np.ones((t, n))
        dividend_yield = np.zeros((t, n))
        for j in range(n if per_day == 1 else 0):
            if rng.random() < 0.6:  # quarterly payers, 1–4% a year
                q = rng.uniform(0.01, 0.04) / 4
                first = int(rng.integers(20, 83))
                dividend_yield[first::63, j] = q
            n_splits = rng.poisson(0.04 * t / 252)
            for day in rng.integers(60, t, size=n_splits):
                split[day, j] = rng.choice([2.0, 3.0, 1.5])
        raw_log = total + np.log1p(-dividend_yield) - np.log(split)
        p0 = np.exp(rng.uniform(np.log(15), np.log(300), size=n))
        close = p0 * np.exp(np.cumsum(raw_log, axis=0))
        prev_close = np.vstack([p0[None, :], close[:-1]])
        dividend = dividend_yield * prev_close
        # split each day's move into overnight (30%) and intraday (70%) parts; intraday, only a
        # day's first bar opens on an overnight gap, the others at about the previous close
        gap_sigma = np.full((t, 1), 0.002)
        if per_day > 1:
            gap_sigma = np.where((np.arange(t) % per_day == 0)[:, None], 0.002, 0.0002)
        # a split and an ex-dividend drop happen whole at the open (the bar opens at post-split,
        # ex-dividend prices); only the market's own move is shared between the two parts
        gap = rng.normal(0, 1.0, size=(t, n)) * gap_sigma
        overnight = 0.3 * total + np.log1p(-dividend_yield) - np.log(split) + gap
        open_ = prev_close * np.exp(overnight)
        daily_sigma = np.abs(total).mean(axis=0)
        high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.6, size=(t, n))) * daily_sigma)
        low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.6, size=(t, n))) * daily_sigma)
        base_volume = np.exp(rng.normal(14.0, 1.0, size=n)) / per_day
        shares_factor = np.cumprod(split, axis=0)  # more shares after a split
        # volume rises with the size of the move, up to 20x on a 10-sigma day: Student-t
        # shocks have moves far beyond that, and exp() of them is no volume a market prints
        move = np.minimum(np.abs(total) / daily_sigma.clip(1e-9), 10.0)
        volume = np.maximum(
            np.round(base_volume * shares_factor * np.exp(rng.normal(0, 0.3, size=(t, n)) + 0.3 * move)), 1.0
        )
        prefix = [s.replace(" ", "")[:3].upper() for s in self.sectors]
        symbols = [f"{prefix[sector_of[j]]}{j:03d}" for j in range(n)]
        frame = pd.DataFrame(
            {
                "symbol": np.repeat(np.asarray(symbols, dtype=object), t),
                "ts": pd.DatetimeIndex(np.tile(dates, n)).tz_localize("UTC"),
                "open": open_.T.ravel(),
                "high": high.T.ravel(),
                "low": low.T.ravel(),
                "close": close.T.ravel(),
                "volume": volume.T.ravel(),
                "dividend": dividend.T.ravel(),
                "split": split.T.ravel(),
            }
        )
        meta = pd.DataFrame({"symbol": symbols, "sector": [self.sectors[s] for s in sector_of], "synthetic": True})
        self._cache = (frame, meta, total)
        return self._cache


def _garch_t(rng: np.random.Generator, t: int, vol: np.ndarray) -> np.ndarray:
    # GARCH(1,1) with unit-variance Student-t(4) shocks; alpha + beta = 0.98 keeps
    # volatility clusters that decay over weeks, with long-run variance vol**2.
    alpha, beta_g = 0.08, 0.90
    omega = vol**2 * (1 - alpha - beta_g)
    z = rng.standard_t(4, size=(t, vol.size)) / np.sqrt(2.0)
    out = np.empty((t, vol.size))
    sigma2 = vol**2
    for i in range(t):
        eps = np.sqrt(sigma2) * z[i]
        out[i] = eps
        sigma2 = omega + alpha * eps**2 + beta_g * sigma2
    return out
