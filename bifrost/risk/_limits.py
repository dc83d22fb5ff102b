"""Risk limits and the alerts their evaluation raises, kept in the store.

A limit caps one measure of a book as a fraction of its equity: VaR or expected shortfall
(with a method, confidence and horizon), the current drawdown, gross or net exposure,
any single name, or any sector. Evaluating the limits gives one check per limit (per name
or sector for the concentration limits) with a severity: ``breach`` above the threshold,
``warning`` above ``warn_at × threshold``, ``ok`` below, ``n/a`` where the data to measure
it is missing (no sector known). Warnings and breaches are alerts, and an alert is an
*episode*: `check_limits` (through `record_alerts`) opens one in the store when a limit and
subject (a name, a sector, or the whole book) first warns or breaches, updates it while it
stays above the warning level (a check that finds it unchanged adds nothing), and closes it
when a check finds it cleared; re-running a check never duplicates it. Each episode keeps
its history (opened, updated, escalated to a breach, eased to a warning, closed).
Dashboards and compliance read the episodes with `read_alerts` and their history with
`read_alert_history`. A subject measured ``n/a`` is not cleared: its episode stays open.

Limits are set per stored portfolio (`set_limits`); a portfolio with none set is held to
`DEFAULT_LIMITS`.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from bifrost._checks import as_choice, as_fraction, as_positive_int, as_utc_timestamp, is_number, quote
from bifrost._json import finite_or_none
from bifrost.data import StateDb, Store, append_audit, read_symbols
from bifrost.errors import InvalidInputError
from bifrost.portfolio import Fill, load_portfolio, require_portfolio, value_ledger
from bifrost.risk._book import Book, HistoryWindow, _book_history, _portfolio, book_from_store
from bifrost.risk._market import DEFAULT_LOOKBACK_DAYS
from bifrost.risk._portfolio import METHODS, Method, _portfolio_risk
from bifrost.risk._schema import RISK_SCHEMA
from bifrost.risk._var import _check

__all__ = [
    "DEFAULT_LIMITS",
    "Limit",
    "LimitReport",
    "alerts_marker",
    "check_limits",
    "evaluate_limits",
    "get_limits",
    "limit_report",
    "limits_from_toml",
    "portfolio_drawdown",
    "read_alert_history",
    "read_alerts",
    "record_alerts",
    "set_limits",
    "store_sectors",
]

Metric = Literal["var", "es", "drawdown", "gross_exposure", "net_exposure", "single_name", "sector"]
METRICS: tuple[str, ...] = get_args(Metric)
_ALERT_COLUMNS = (
    "ts", "as_of", "portfolio", "limit_name", "metric", "subject", "value", "threshold", "severity", "message",
)  # fmt: skip
_CHECK_COLUMNS = ("limit_name", "metric", "subject", "value", "threshold", "warn_level", "utilisation", "severity")
# one row per episode: opened by a check, then ts/as_of/value/threshold/severity/message of the latest check
_EPISODE_COLUMNS = (
    "id", "opened", "ts", "as_of", "closed", "portfolio", "limit_name", "metric", "subject", "value", "threshold",
    "severity", "worst_value", "worst_severity", "message",
)  # fmt: skip
_EVENT_COLUMNS = ("ts", "as_of", "change", "value", "threshold", "severity", "message")
Change = Literal["opened", "updated", "escalated", "eased", "unchanged", "closed"]
_RANK = {"warning": 1, "breach": 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """One limit: ``metric`` may not exceed ``threshold`` (a fraction of equity).

    ``method``, ``confidence`` and ``horizon_days`` apply to the ``var`` and ``es``
    metrics. A warning is raised from ``warn_at × threshold`` (``warn_at`` in (0, 1]).
    """

    name: str
    metric: Metric
    threshold: float
    warn_at: float = 0.8
    method: Method = "historical"
    confidence: float = 0.99
    horizon_days: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInputError(f"a limit needs a non-empty name, got {quote(self.name)}")
        if len(self.name) > 100 or not self.name.isprintable():
            raise InvalidInputError(
                f"a limit's name must be printable text of at most 100 characters, got {quote(self.name)}"
            )
        where = f"limit {self.name!r}"
        if not is_number(self.threshold) or not math.isfinite(self.threshold) or self.threshold <= 0:
            raise InvalidInputError(f"{where}: threshold must be a positive fraction of equity, got {self.threshold!r}")
        if not is_number(self.warn_at) or not 0 < self.warn_at <= 1:
            raise InvalidInputError(f"{where}: warn_at must be in (0, 1], got {self.warn_at!r}")
        try:
            as_choice(self.metric, "metric", METRICS)
            as_choice(self.method, "method", METHODS)
            _check(self.confidence, self.horizon_days)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: {exc}") from None


DEFAULT_LIMITS: tuple[Limit, ...] = (
    Limit(name="var_99_1d", metric="var", threshold=0.03),
    Limit(name="es_975_1d", metric="es", threshold=0.04, confidence=0.975),
    Limit(name="drawdown", metric="drawdown", threshold=0.15),
    Limit(name="gross", metric="gross_exposure", threshold=2.0),
    Limit(name="net", metric="net_exposure", threshold=1.0),
    Limit(name="single_name", metric="single_name", threshold=0.10),
    Limit(name="sector", metric="sector", threshold=0.30),
)


def limits_from_toml(path: str | Path) -> tuple[Limit, ...]:
    """Read limits from a TOML file of ``[[limits]]`` tables (the fields of `Limit`).

    Raises
    ------
    InvalidInputError
        If the file cannot be read or is not UTF-8 text, has no limits, an unknown or missing key, a repeated
        name, or a value a `Limit` refuses; the message names the file and the limit.
    """
    path = Path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a leading BOM is allowed
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{path}: cannot read limits: is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read limits: {exc}") from exc
    entries = table.get("limits")
    if not isinstance(entries, list) or not entries:
        raise InvalidInputError(f"{path}: no [[limits]] tables")
    known = {f.name for f in fields(Limit)}
    out = []
    for i, entry in enumerate(entries, start=1):
        unknown = sorted(set(entry) - known)
        if unknown:
            raise InvalidInputError(f"{path}: limit #{i}: unknown key(s) {unknown}; known: {sorted(known)}")
        missing = sorted({"name", "metric", "threshold"} - set(entry))
        if missing:
            raise InvalidInputError(f"{path}: limit #{i}: missing {missing}")
        try:
            out.append(Limit(**entry))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{path}: limit #{i}: {exc}") from None
    return _unique(out, str(path))


def _unique(limits: Iterable[Limit], where: str) -> tuple[Limit, ...]:
    if isinstance(limits, str | bytes | Limit) or not isinstance(limits, Iterable):
        raise InvalidInputError(f"{where}: expected a list of Limit objects, got {type(limits).__name__}")
    out = tuple(limits)
    if not out:
        # an empty list would report "nothing breached" having measured nothing: never a silent all-clear
        raise InvalidInputError(
            f"{where}: no limits given; give at least one (or none at all for the portfolio's own or the defaults)"
        )
    for limit in out:
        if not isinstance(limit, Limit):
            raise InvalidInputError(f"{where}: expected Limit objects, got {type(limit).__name__}")
    names = [limit.name for limit in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInputError(f"{where}: limit names must be unique; repeated: {repeated}")
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitReport:
    """The checks of one evaluation and the alerts among them."""

    portfolio: str
    as_of: pd.Timestamp  # the last market date the measures use
    ts: pd.Timestamp  # when the evaluation ran (UTC)
    checks: pd.DataFrame  # limit_name, metric, subject, value, threshold, warn_level, utilisation, severity
    window: HistoryWindow | None = None  # the return history measured (lookback and first/last date)
    # the episodes this evaluation opened, updated or closed, once recorded (`record_alerts`); None if not
    episodes: pd.DataFrame | None = None

    @property
    def alerts(self) -> pd.DataFrame:
        """The warnings and breaches, one row each with its message."""
        rows = self.checks[self.checks["severity"].isin(["warning", "breach"])]
        out = pd.DataFrame(
            {
                "ts": self.ts,
                "as_of": self.as_of,
                "portfolio": self.portfolio,
                "limit_name": rows["limit_name"],
                "metric": rows["metric"],
                "subject": rows["subject"],
                "value": rows["value"],
                "threshold": rows["threshold"],
                "severity": rows["severity"],
                "message": [_message(self.portfolio, r) for r in rows.itertuples()],
            },
            columns=list(_ALERT_COLUMNS),
        )
        return out.reset_index(drop=True)

    @property
    def breached(self) -> bool:
        """Whether any limit is breached."""
        return bool((self.checks["severity"] == "breach").any())

    def summary(self) -> pd.DataFrame:
        """One row per limit: its worst subject (the largest utilisation)."""
        ordered = self.checks.assign(_u=self.checks["utilisation"].fillna(-1.0))
        worst = ordered.sort_values("_u", ascending=False, kind="stable").groupby("limit_name", sort=False).head(1)
        order = {n: i for i, n in enumerate(dict.fromkeys(self.checks["limit_name"]))}
        return worst.drop(columns="_u").sort_values("limit_name", key=lambda s: s.map(order)).reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: portfolio, times, the history window, the per-limit summary, the
        alerts and (once recorded) the episodes they opened, updated or closed."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            clean = frame.astype(object).where(frame.notna(), None)
            return [
                {str(k): (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
                for row in clean.to_dict(orient="records")
            ]

        window = (self.window or HistoryWindow(lookback_days=None, start=None, end=None, observations=0)).to_dict()
        return {
            "portfolio": self.portfolio,
            "as_of": self.as_of.isoformat(),
            "ts": self.ts.isoformat(),
            **window,
            "breached": self.breached,
            "limits": records(self.summary()),
            "alerts": records(self.alerts),
            "episodes": None if self.episodes is None else records(self.episodes),
        }

    def _repr_html_(self) -> str:
        colour = {"breach": "#c0392b", "warning": "#d68910", "ok": "#1e8449", "n/a": "#7f8c8d"}
        s = self.summary()
        rows = "".join(
            f"<tr><td>{name}</td><td>{metric}</td><td>{subject}</td><td>{_pct(value)}</td><td>{_pct(threshold)}</td>"
            f"<td style='color:{colour[str(severity)]};font-weight:bold'>{severity}</td></tr>"
            for name, metric, subject, value, threshold, severity in zip(
                s["limit_name"], s["metric"], s["subject"], s["value"], s["threshold"], s["severity"], strict=True
            )
        )
        window = "" if self.window is None else f" ({self.window})"
        return (
            f"<b>Limits of {self.portfolio}</b> as of {self.as_of.date()}{window}"
            "<table><tr><th>limit</th><th>metric</th><th>worst</th><th>value</th><th>threshold</th>"
            f"<th>status</th></tr>{rows}</table>"
        )


def _pct(value: object) -> str:
    return f"{value:.2%}" if isinstance(value, float) and math.isfinite(value) else "n/a"


def _message(portfolio: str, row: Any) -> str:
    subject = f" {row.subject}" if row.subject else ""
    level = row.threshold if row.severity == "breach" else row.warn_level
    word = "limit" if row.severity == "breach" else "warning level"
    return (
        f"{portfolio}: {row.metric}{subject} at {row.value:.2%} of equity is above the {word} {level:.2%} "
        f"of limit {row.limit_name!r} ({row.threshold:.2%})"
    )


def evaluate_limits(
    book: Book,
    limits: Sequence[Limit] = DEFAULT_LIMITS,
    *,
    drawdown: float | None = None,
    sectors: Mapping[str, str] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Measure ``book`` against each limit; return one check row per limit and subject.

    ``drawdown`` is the book's current drawdown (a fraction; `portfolio_drawdown`), needed
    only by drawdown limits; ``sectors`` maps symbols to sectors for sector limits. A
    measure that cannot be taken (no drawdown given, no sector known) is a row of severity
    ``n/a``.
    """
    limits = _unique(limits, "limits")
    if drawdown is not None:
        drawdown = as_fraction(drawdown, "drawdown", open_interval=False)
    seed = as_positive_int(seed, "seed", minimum=0, maximum=2**63 - 1)
    if sectors is not None and not isinstance(sectors, Mapping):
        raise InvalidInputError(f"sectors must map symbols to sector names, got {type(sectors).__name__}")
    exposure = book.values / book.equity
    rows: list[tuple[str, str, str, float]] = []  # limit, metric, subject, value
    risk_cache: dict[tuple[str, float, int], tuple[float, float]] = {}
    # the book's history is checked once here; each limit's options were checked when it was made
    history = _book_history(book) if any(limit.metric in ("var", "es") for limit in limits) else None
    for limit in limits:
        m = limit.metric
        if m in ("var", "es") and history is not None:
            key = (limit.method, limit.confidence, limit.horizon_days)
            if key not in risk_cache:
                r = _portfolio_risk(
                    *history, method=limit.method, confidence=float(limit.confidence),
                    horizon_days=int(limit.horizon_days), n_scenarios=100_000, seed=seed,
                )  # fmt: skip
                risk_cache[key] = (r.var, r.es)
            rows.append((limit.name, m, "", risk_cache[key][0 if m == "var" else 1]))
        elif m == "drawdown":
            rows.append((limit.name, m, "", math.nan if drawdown is None else float(drawdown)))
        elif m == "gross_exposure":
            rows.append((limit.name, m, "", float(exposure.abs().sum())))
        elif m == "net_exposure":
            rows.append((limit.name, m, "", abs(float(exposure.sum()))))
        elif m == "single_name":
            rows += [(limit.name, m, str(s), float(abs(v))) for s, v in exposure.items()]
        else:
            known = {s: sectors[s] for s in exposure.index if sectors and sectors.get(s)}
            if not known:
                rows.append((limit.name, m, "", math.nan))
                continue
            by_sector = exposure[list(known)].abs().groupby(pd.Series(known)).sum()
            rows += [(limit.name, m, str(sector), float(v)) for sector, v in by_sector.items()]
    frame = pd.DataFrame(rows, columns=["limit_name", "metric", "subject", "value"])
    frame["value"] = frame["value"].astype(np.float64)
    by_name = {limit.name: limit for limit in limits}
    frame["threshold"] = frame["limit_name"].map(lambda n: by_name[n].threshold).astype(np.float64)
    frame["warn_level"] = frame["limit_name"].map(lambda n: by_name[n].threshold * by_name[n].warn_at)
    frame["utilisation"] = frame["value"] / frame["threshold"]
    value = frame["value"].to_numpy()
    frame["severity"] = np.select(
        [np.isnan(value), value > frame["threshold"].to_numpy(), value > frame["warn_level"].to_numpy()],
        ["n/a", "breach", "warning"],
        "ok",
    )
    return frame[list(_CHECK_COLUMNS)]


def limit_report(
    book: Book,
    limits: Sequence[Limit] = DEFAULT_LIMITS,
    *,
    drawdown: float | None = None,
    sectors: Mapping[str, str] | None = None,
    now: pd.Timestamp | None = None,
) -> LimitReport:
    """Evaluate ``limits`` on ``book`` (see `evaluate_limits`) into a report stamped ``now``.

    The report is as of the book's last return date (``now`` when its history has no dates).
    """
    checks = evaluate_limits(book, limits, drawdown=drawdown, sectors=sectors)
    stamp = pd.Timestamp.now(tz="UTC") if now is None else now
    last = book.returns.index[-1]
    as_of = last if isinstance(last, pd.Timestamp) else stamp
    return LimitReport(portfolio=book.name, as_of=as_of, ts=stamp, checks=checks, window=book.window)


def portfolio_drawdown(store: Store, name: str) -> tuple[float, pd.Timestamp]:
    """Return the current drawdown of stored portfolio ``name`` and the date of its peak.

    The drawdown is that of the time-weighted return index (deposits and withdrawals do not
    count as gains or losses), valued at every raw close in the store since inception.
    """
    ledger = load_portfolio(store, _portfolio(name))
    symbols = sorted({t.symbol for t in ledger.transactions if isinstance(t, Fill)})
    if not symbols:
        raise InvalidInputError(f"portfolio {name!r} has never held a position: no drawdown to measure")
    panel = store.read_panel(symbols, ledger.inception, fields=["close"])
    returns = value_ledger(ledger, panel).returns().fillna(0.0)
    wealth = np.cumprod(1.0 + returns.to_numpy())
    peak = int(np.argmax(wealth))
    running_max = np.maximum.accumulate(wealth)
    return float(1.0 - wealth[-1] / running_max[-1]), returns.index[peak]


def store_sectors(store: Store) -> dict[str, str]:
    """Return the sector of each symbol in ``store`` that has one.

    The store's symbol reference data (`bifrost.data.import_symbols`) gives the sector; a
    symbol it has none for keeps the sector its bars' source gave (a synthetic market's).
    """
    listed = store.list_symbols()
    sectors = {str(s): x for s, x in zip(listed["symbol"], listed["sector"], strict=True) if isinstance(x, str) and x}
    reference = read_symbols(store)
    sectors.update({str(s): x for s, x in zip(reference["symbol"], reference["sector"], strict=True) if x})
    return sectors


def set_limits(store: Store, portfolio: str, limits: Sequence[Limit]) -> tuple[Limit, ...]:
    """Replace the limits of stored portfolio ``portfolio`` with ``limits`` (all or none).

    The open alert episodes of a limit no longer among them are closed ("limit removed").
    """
    portfolio = _portfolio(portfolio)
    limits = _unique(limits, f"limits of {portfolio!r}")
    with store.transaction(schema=RISK_SCHEMA, lock=f"portfolio:{portfolio}") as db:
        require_portfolio(db, portfolio)
        _close_removed(db, portfolio, {x.name for x in limits})
        db.run("DELETE FROM {t}risk_limits WHERE portfolio = ?", (portfolio,))
        db.many(
            "INSERT INTO {t}risk_limits (portfolio, name, metric, threshold, warn_at, method, confidence, "
            "horizon_days) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (portfolio, x.name, x.metric, float(x.threshold), float(x.warn_at), x.method,
                 float(x.confidence), int(x.horizon_days))
                for x in limits
            ],
        )  # fmt: skip
    return limits


def _close_removed(db: StateDb, portfolio: str, kept: set[str]) -> None:
    now = pd.Timestamp.now(tz="UTC").isoformat()
    rows = db.rows(
        "SELECT id, limit_name, subject, as_of, threshold FROM {t}risk_alerts WHERE portfolio = ? AND closed IS NULL",
        (portfolio,),
    )
    for alert_id, name, subject, as_of, threshold in rows:
        if name in kept:
            continue
        db.run("UPDATE {t}risk_alerts SET ts = ?, closed = ? WHERE id = ?", (now, now, alert_id))
        message = f"{portfolio}: limit {name!r}{' ' + subject if subject else ''} closed: the limit was removed"
        _event(
            db,
            int(alert_id),
            (now, as_of, "closed", None, float(threshold), "n/a", message),
            (portfolio, name, subject),
        )


def get_limits(store: Store, portfolio: str) -> tuple[Limit, ...]:
    """Return the limits set on ``portfolio``, or `DEFAULT_LIMITS` if none are."""
    portfolio = _portfolio(portfolio)
    with store.transaction(schema=RISK_SCHEMA, read_only=True) as db:
        require_portfolio(db, portfolio)
        rows = db.rows(
            "SELECT name, metric, threshold, warn_at, method, confidence, horizon_days FROM {t}risk_limits "
            "WHERE portfolio = ? ORDER BY name",
            (portfolio,),
        )
    if not rows:
        return DEFAULT_LIMITS
    keys = ("name", "metric", "threshold", "warn_at", "method", "confidence", "horizon_days")
    return tuple(Limit(**dict(zip(keys, row, strict=True))) for row in rows)


def record_alerts(store: Store, report: LimitReport) -> pd.DataFrame:
    """Record the report's alerts as episodes; return the episodes it touched.

    An alert of a limit and subject with no open episode opens one; one with an open
    episode updates it (``escalated`` from a warning to a breach, ``eased`` back,
    ``updated`` when the value, threshold or market date moved, ``unchanged`` when the
    same check runs again: only its ``ts`` moves and no history is added). An open
    episode whose limit and subject the report measured below the warning level, or whose
    subject that limit no longer measures (the name no longer held), is ``closed``; one of
    a limit measured ``n/a`` (no drawdown, no sector known) stays open, and so does one of
    a limit the report did not evaluate (`set_limits` closes those of a limit it removes).
    All in one transaction.

    Returns
    -------
    DataFrame
        One row per episode touched, in the columns of `read_alerts` plus ``change``.
    """
    portfolio = _portfolio(report.portfolio)
    alerts = report.alerts
    checks: dict[tuple[str, str], Any] = {(str(r.limit_name), str(r.subject)): r for r in report.checks.itertuples()}
    # a limit measured n/a (no drawdown, no sector known) has cleared nothing
    unmeasured = {str(r.limit_name) for r in report.checks.itertuples() if r.severity == "n/a"}
    evaluated = {str(name) for name in report.checks["limit_name"]}
    ts, as_of = report.ts.isoformat(), report.as_of.isoformat()
    changes: dict[int, str] = {}
    with store.transaction(schema=RISK_SCHEMA, lock="risk_alerts") as db:
        open_rows = db.rows(
            f"SELECT {', '.join(_EPISODE_COLUMNS)} FROM {{t}}risk_alerts WHERE portfolio = ? AND closed IS NULL "
            "ORDER BY id",
            (portfolio,),
        )
        episodes = {(str(r[6]), str(r[8])): dict(zip(_EPISODE_COLUMNS, r, strict=True)) for r in open_rows}
        seen: set[tuple[str, str]] = set()
        a: Any
        for a in alerts.itertuples(index=False):
            key = (str(a.limit_name), str(a.subject))
            seen.add(key)
            value, threshold, severity, message = float(a.value), float(a.threshold), str(a.severity), str(a.message)
            episode = episodes.get(key)
            if episode is None:
                (new_id,) = db.rows(
                    "INSERT INTO {t}risk_alerts (opened, ts, as_of, portfolio, limit_name, metric, subject, value, "
                    "threshold, severity, worst_value, worst_severity, message) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (ts, ts, as_of, portfolio, key[0], str(a.metric), key[1], value, threshold, severity, value,
                     severity, message),
                )[0]  # fmt: skip
                changes[int(new_id)] = "opened"
                _event(db, int(new_id), (ts, as_of, "opened", value, threshold, severity, message), (portfolio, *key))
                continue
            change = _change(episode, as_of=report.as_of, value=value, threshold=threshold, severity=severity)
            worst = (_RANK.get(str(episode["worst_severity"]), 0), float(episode["worst_value"] or 0.0))
            if (_RANK[severity], value) > worst:
                episode["worst_value"], episode["worst_severity"] = value, severity
            db.run(
                "UPDATE {t}risk_alerts SET ts = ?, as_of = ?, value = ?, threshold = ?, severity = ?, message = ?, "
                "worst_value = ?, worst_severity = ? WHERE id = ?",
                (
                    *(ts, as_of, value, threshold, severity, message),
                    *(episode["worst_value"], episode["worst_severity"], episode["id"]),
                ),
            )
            changes[int(episode["id"])] = change
            if change != "unchanged":
                _event(
                    db, int(episode["id"]), (ts, as_of, change, value, threshold, severity, message), (portfolio, *key)
                )
        for key, episode in episodes.items():
            if key in seen or key[0] not in evaluated:
                continue  # a limit this report did not evaluate (limits given for one check) is not judged
            measured = checks.get(key)
            closing: float | None
            if key[0] in unmeasured:
                continue  # not measured is not cleared
            if measured is None:
                closing, threshold, severity = None, float(episode["threshold"]), "n/a"
                message = f"{portfolio}: limit {key[0]!r}{' ' + key[1] if key[1] else ''} is no longer checked"
            else:
                closing, threshold, severity = float(measured.value), float(measured.threshold), "ok"
                subject = f" {key[1]}" if key[1] else ""
                message = (
                    f"{portfolio}: {measured.metric}{subject} back at {closing:.2%} of equity, below the warning "
                    f"level {float(measured.warn_level):.2%} of limit {key[0]!r} ({threshold:.2%})"
                )
            db.run(
                "UPDATE {t}risk_alerts SET ts = ?, as_of = ?, closed = ? WHERE id = ?", (ts, as_of, ts, episode["id"])
            )
            changes[int(episode["id"])] = "closed"
            _event(
                db, int(episode["id"]), (ts, as_of, "closed", closing, threshold, severity, message), (portfolio, *key)
            )
        ids = sorted(changes)
        touched = (
            db.rows(
                f"SELECT {', '.join(_EPISODE_COLUMNS)} FROM {{t}}risk_alerts WHERE id IN ({', '.join('?' * len(ids))}) "
                "ORDER BY id",
                ids,
            )
            if ids
            else []
        )
    frame = _episodes(touched)
    frame["change"] = [changes[int(i)] for i in frame["id"]]
    return frame


def _change(
    episode: Mapping[str, Any], *, as_of: pd.Timestamp, value: float, threshold: float, severity: str
) -> Change:
    before = _RANK.get(str(episode["severity"]), 0)
    if _RANK[severity] > before:
        return "escalated"
    if _RANK[severity] < before:
        return "eased"
    same_day = pd.Timestamp(episode["as_of"]).tz_convert("UTC") == as_of
    if same_day and float(episode["value"]) == value and float(episode["threshold"]) == threshold:
        return "unchanged"
    return "updated"


def _event(db: StateDb, alert_id: int, row: tuple[object, ...], about: tuple[str, str, str]) -> None:
    # one change of an episode: its history row, and its `risk.alert` record in the audit trail
    db.run(
        f"INSERT INTO {{t}}risk_alert_events (alert_id, {', '.join(_EVENT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (alert_id, *row),
    )
    portfolio, limit_name, subject = about
    change = dict(zip(_EVENT_COLUMNS, row, strict=True))
    append_audit(
        db,
        "risk.alert",
        portfolio,
        finite_or_none(
            {"alert_id": alert_id, "portfolio": portfolio, "limit_name": limit_name, "subject": subject, **change}
        ),
        ts=pd.Timestamp(str(change["ts"])),
    )


def _episodes(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(_EPISODE_COLUMNS))
    for col in ("opened", "ts", "as_of", "closed"):
        frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
    frame.insert(5, "status", np.where(frame["closed"].isna(), "open", "closed"))
    return frame


def read_alerts(
    store: Store,
    portfolio: str | None = None,
    *,
    since: object = None,
    severity: Literal["warning", "breach"] | None = None,
    status: Literal["open", "closed"] | None = None,
) -> pd.DataFrame:
    """Return the stored alert episodes, oldest first.

    One row per episode: ``id``, ``opened`` (when a check first found it), ``ts`` and
    ``as_of`` (the run time and market date of the latest check that found it, or closed
    it), ``closed`` (NaT while open), ``status`` (``open`` | ``closed``), ``portfolio``,
    ``limit_name``, ``metric``, ``subject``, the latest ``value``, ``threshold``,
    ``severity`` and ``message``, and ``worst_value`` / ``worst_severity`` over the episode.
    `read_alert_history` gives each episode's history.

    Parameters
    ----------
    portfolio
        Only this portfolio's episodes.
    since
        Only episodes checked (or closed) at or after this date/time.
    severity
        ``breach``: episodes that reached a breach; ``warning``: episodes that never went past a warning.
    status
        Only ``open`` or only ``closed`` episodes.
    """
    where, params = [], []
    start = None if since is None else as_utc_timestamp(since, "since")
    if portfolio is not None:
        _portfolio(portfolio)
        where.append("portfolio = ?")
        params.append(portfolio)
    if severity is not None:
        if severity not in ("warning", "breach"):
            raise InvalidInputError(f"severity must be 'warning' or 'breach', got {severity!r}")
        where.append("worst_severity = ?")
        params.append(severity)
    if status is not None:
        if status not in ("open", "closed"):
            raise InvalidInputError(f"status must be 'open' or 'closed', got {status!r}")
        where.append("closed IS NULL" if status == "open" else "closed IS NOT NULL")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    with store.transaction(schema=RISK_SCHEMA, read_only=True) as db:
        rows = db.rows(f"SELECT {', '.join(_EPISODE_COLUMNS)} FROM {{t}}risk_alerts{clause} ORDER BY id", params)
    frame = _episodes(rows)
    if start is not None:
        frame = frame[frame["ts"] >= start]
    return frame.reset_index(drop=True)


def read_alert_history(store: Store, portfolio: str | None = None, *, alert_id: int | None = None) -> pd.DataFrame:
    """Return the history of alert episodes, oldest first: one row per change of one episode.

    Columns: ``alert_id`` (the episode's ``id`` in `read_alerts`), ``portfolio``,
    ``limit_name``, ``subject``, ``ts``, ``as_of``, ``change`` (``opened``, ``updated``,
    ``escalated``, ``eased``, ``closed``), ``value`` (NaN when the subject is no longer
    measured), ``threshold``, ``severity`` (``ok`` or ``n/a`` on closing) and ``message``.
    Optionally of one portfolio, or of one episode (``alert_id``).
    """
    where: list[str] = []
    params: list[object] = []
    if portfolio is not None:
        _portfolio(portfolio)
        where.append("a.portfolio = ?")
        params.append(portfolio)
    if alert_id is not None:
        where.append("e.alert_id = ?")
        params.append(as_positive_int(alert_id, "alert_id", minimum=1))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    cols = ", ".join(f"e.{c}" for c in _EVENT_COLUMNS)
    with store.transaction(schema=RISK_SCHEMA, read_only=True) as db:
        rows = db.rows(
            f"SELECT e.alert_id, a.portfolio, a.limit_name, a.subject, {cols} FROM {{t}}risk_alert_events e "
            f"JOIN {{t}}risk_alerts a ON a.id = e.alert_id{clause} ORDER BY e.id",
            params,
        )
    frame = pd.DataFrame(rows, columns=["alert_id", "portfolio", "limit_name", "subject", *_EVENT_COLUMNS])
    for col in ("ts", "as_of"):
        frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
    frame["value"] = frame["value"].astype(np.float64)
    return frame


def check_limits(
    store: Store,
    portfolio: str,
    *,
    limits: Sequence[Limit] | None = None,
    record: bool = True,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    sectors: Mapping[str, str] | None = None,
    now: pd.Timestamp | None = None,
) -> LimitReport:
    """Evaluate the limits of stored ``portfolio`` (its own, or ``limits``) and record the alerts.

    Positions come from the ledger at the latest closes, returns (the last ``lookback_days``
    days) and the drawdown from the store, sectors from the store's symbol table unless
    ``sectors`` is given. With ``record``, the alerts open, update or close their episodes
    (`record_alerts`) and the report's ``episodes`` says which.
    """
    portfolio = _portfolio(portfolio)
    chosen = get_limits(store, portfolio) if limits is None else _unique(limits, "limits")
    book = book_from_store(store, portfolio, lookback_days=lookback_days)
    needs = {limit.metric for limit in chosen}
    drawdown = portfolio_drawdown(store, portfolio)[0] if "drawdown" in needs else None
    if sectors is None and "sector" in needs:
        sectors = store_sectors(store)
    report = limit_report(book, chosen, drawdown=drawdown, sectors=sectors, now=now)
    if record:
        report = replace(report, episodes=record_alerts(store, report))
    return report


def alerts_marker(store: Store) -> str:
    """Return a short text that changes whenever limits are set or an alert episode changes.

    Two small queries: the alert episodes' latest check time and the count and last id of
    their history (every check that records moves the first; a change adds to the second),
    and a digest of the limits table (a few rows per portfolio). For a dashboard that polls
    the store and reads limits and alerts again only when this changed.
    """
    with store.transaction(schema=RISK_SCHEMA, read_only=True) as db:
        checked, episodes, events, last_event = db.rows(
            "SELECT (SELECT max(ts) FROM {t}risk_alerts), (SELECT count(*) FROM {t}risk_alerts), "
            "(SELECT count(*) FROM {t}risk_alert_events), (SELECT max(id) FROM {t}risk_alert_events)"
        )[0]
        limits = db.rows(
            "SELECT portfolio, name, metric, threshold, warn_at, method, confidence, horizon_days "
            "FROM {t}risk_limits ORDER BY portfolio, name"
        )
    digest = hashlib.blake2b(repr(limits).encode(), digest_size=8).hexdigest()
    return f"alerts:{checked}:{int(episodes)}:{int(events)}:{last_event}:limits:{len(limits)}:{digest}"
