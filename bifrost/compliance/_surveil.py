"""Post-trade surveillance: the stored ledger re-measured against the rules of each session.

`surveil` replays a stored portfolio (`bifrost.portfolio.load_portfolio`) over the store's
raw closes, session by session, and reports

- **breaches**: every book-level rule in force that session (``max_position_pct_nav``,
  ``sector_concentration``, ``issuer_concentration``, ``gross_exposure``) re-measured at
  the close, with the pre-trade kinds' maths and thresholds, and each warn or block it
  would give named with its cause: ``trade`` when the book traded the subject that session,
  ``price move`` when it did not (the breach came from the market, not from an order);
- **episodes**: the first and last session of each continuing breach;
- **drift**: per session, the largest single name and sector as a share of NAV, and the
  gross exposure;
- **wash sales**: under a ``wash_sale`` rule in force on the sale's date, a sale at a loss
  with a purchase of the same symbol within ``window_days`` before or after it. The loss on
  the replacement shares is disallowed and added to their basis (IRS Publication 550).

Conventions: shares of NAV are decimals (0.25 = 25%), measured on the closes the store
holds (a held symbol without a close that session keeps its last one); NAV is cash plus
the positions at those closes, store dividends credited as `load_portfolio` credits them.
A session's positions are those after every transaction dated that day (or on the days
since the previous session).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from bifrost._checks import as_utc_timestamp
from bifrost._figures import figures_html, notebook_styles, offline_page
from bifrost._paths import output_path
from bifrost._typing import BoolArray, FloatArray
from bifrost.compliance._engine import judge
from bifrost.compliance._kinds import WASH_SALE_WINDOW_DAYS
from bifrost.compliance._model import Rule, Verdict, worst
from bifrost.compliance._rules import RuleSet, load_rules
from bifrost.data import AUDIT_SCHEMA, Panel, Store, append_audit
from bifrost.errors import InvalidInputError
from bifrost.portfolio import Fill, Ledger, Side, Split, Transaction, Valuation, load_portfolio, value_ledger

__all__ = [
    "BOOK_KINDS",
    "BREACH_COLUMNS",
    "DRIFT_COLUMNS",
    "EPISODE_COLUMNS",
    "WASH_SALE_COLUMNS",
    "SurveillanceReport",
    "surveil",
]

BOOK_KINDS: Final[tuple[str, ...]] = (
    "max_position_pct_nav",
    "sector_concentration",
    "issuer_concentration",
    "gross_exposure",
)
BREACH_COLUMNS: Final[tuple[str, ...]] = (
    "ts", "rule", "kind", "version", "subject", "measured", "limit", "nav", "verdict", "cause", "reason",
)  # fmt: skip
EPISODE_COLUMNS: Final[tuple[str, ...]] = (
    "rule", "kind", "version", "subject", "first", "last", "sessions", "worst_measured", "limit", "verdict",
)  # fmt: skip
DRIFT_COLUMNS: Final[tuple[str, ...]] = (
    "ts", "nav", "cash", "n_positions", "top_symbol", "top_symbol_share", "top_sector", "top_sector_share",
    "gross_exposure",
)  # fmt: skip
WASH_SALE_COLUMNS: Final[tuple[str, ...]] = (
    "ts", "rule", "version", "verdict", "symbol", "sale_txn_id", "sale_price", "acquired", "sold_basis_per_share",
    "loss_per_share", "replacement_txn_id", "replacement_ts", "replacement_shares", "replacement_price",
    "disallowed_loss", "adjusted_basis", "adjusted_basis_per_share", "holding_period_days_added", "note",
)  # fmt: skip
SUMMARY_COLUMNS: Final[tuple[str, ...]] = (
    "rule", "kind", "checks", "breaches", "worst", "worst_measured", "worst_limit", "worst_ts",
)  # fmt: skip
_HELD: Final = 1e-12  # |shares| below this is flat (the float mirror of a Decimal zero)
_BREACH_ROWS_SHOWN: Final = 500  # the HTML page lists at most this many breach rows
# the page's tables: one line a row, but for the reason (the last column of the breaches)
_STYLE: Final = (
    "<style>table.summary td,table.episodes td,table.breaches td,table.wash-sales td{white-space:nowrap}"
    " table.breaches td:last-child{white-space:normal;text-align:left;min-width:24em}"
    " .bf-scroll{max-width:100%;overflow-x:auto}</style>"
)


def _frame(rows: Sequence[Mapping[str, object]], columns: Sequence[str], dated: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(columns))
    for col in dated:
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


@dataclass(frozen=True, slots=True, kw_only=True)
class SurveillanceReport:
    """What post-trade surveillance found in one portfolio over ``[start, end]``.

    Attributes
    ----------
    portfolio
        The portfolio surveilled.
    rules_hash, rules_source
        The SHA-256 of the rules file's text and where it came from (``"default"``).
    start, end
        The first and last session surveilled (UTC midnight); None when the ledger had
        nothing to value (no transactions, or no fills).
    breaches
        One row per rule, session and subject that warns or blocks, in the columns
        `BREACH_COLUMNS`: ``ts`` (the session), ``rule``, ``kind``, ``version``, ``subject``
        (the symbol, sector or issuer; ``""`` for gross exposure), ``measured`` (the share of
        NAV), ``limit`` (the rule's ``max_fraction``), ``nav``, ``verdict`` (``warn`` or
        ``block``), ``cause`` (``trade``: the book traded the subject that session, else
        ``price move``) and ``reason``.
    wash_sales
        One row per loss sale matched with replacement shares (`WASH_SALE_COLUMNS`): the
        sale (``ts``, ``sale_txn_id``, ``sale_price``, the sold lot's ``acquired`` and
        ``sold_basis_per_share``, ``loss_per_share``), the replacement purchase
        (``replacement_txn_id``, ``replacement_ts``, ``replacement_shares``,
        ``replacement_price``), the ``disallowed_loss`` (positive USD), the replacement
        shares' ``adjusted_basis`` (total and per share) and ``holding_period_days_added``.
    drift
        One row per session (`DRIFT_COLUMNS`): NAV, cash, the number of positions, the
        largest name and sector and their shares of NAV, the gross exposure over NAV.
    episodes
        The breaches grouped into runs of consecutive sessions per rule version and subject
        (`EPISODE_COLUMNS`).
    checks
        One row per rule in force on some session: ``rule, kind, checks`` (measurements taken;
        loss sales examined for ``wash_sale``) and the largest measure's ``worst_ts``,
        ``worst_measured`` and ``worst_limit`` (what `summary` shows for a rule that never
        breached).
    notes
        What the reader should know about the run (no close after the first transaction:
        nothing measured, the wash sales still found).
    """

    portfolio: str
    rules_hash: str
    rules_source: str
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    breaches: pd.DataFrame
    wash_sales: pd.DataFrame
    drift: pd.DataFrame
    episodes: pd.DataFrame = field(default_factory=lambda: _frame([], EPISODE_COLUMNS, ("first", "last")))
    checks: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["rule", "kind", "checks", "worst_ts", "worst_measured", "worst_limit"]
        )
    )
    notes: tuple[str, ...] = ()

    @property
    def n_breaches(self) -> int:
        """The number of breach rows (rule × session × subject that warned or blocked)."""
        return len(self.breaches)

    @property
    def n_wash_sales(self) -> int:
        """The number of sales with a disallowed loss (a sale matched to several purchases counts once)."""
        return int(self.wash_sales["sale_txn_id"].nunique()) if len(self.wash_sales) else 0

    def summary(self) -> pd.DataFrame:
        """One row per rule: ``rule, kind, checks, breaches, worst, worst_measured, worst_limit, worst_ts``.

        ``checks`` counts the measurements (sessions × subjects; for ``wash_sale`` the loss
        sales examined), ``breaches`` those that warned or blocked (wash sales: the sales with
        a disallowed loss), ``worst`` the most severe verdict, ``worst_measured`` the largest
        measure (wash sales: the largest disallowed loss of one sale, USD) with its
        ``worst_limit`` and session ``worst_ts``.
        """
        rows: list[dict[str, object]] = []
        c: dict[Any, Any]
        for c in self.checks.to_dict(orient="records"):
            rule, kind = str(c["rule"]), str(c["kind"])
            if kind == "wash_sale":
                mine = self.wash_sales[self.wash_sales["rule"] == rule]
                by_sale = mine.groupby("sale_txn_id")["disallowed_loss"].sum()
                verdicts: list[Verdict] = [v for v in mine["verdict"]]
                top = str(by_sale.idxmax()) if len(by_sale) else None
                rows.append(
                    {"rule": rule, "kind": kind, "checks": int(c["checks"]), "breaches": len(by_sale),
                     "worst": worst(verdicts), "worst_measured": float(by_sale.max()) if top else math.nan,
                     "worst_limit": math.nan,
                     "worst_ts": mine.loc[mine["sale_txn_id"] == top, "ts"].iloc[0] if top else pd.NaT}
                )  # fmt: skip
                continue
            mine = self.breaches[self.breaches["rule"] == rule]
            measured_rows = mine[mine["measured"].notna()]  # a NAV not positive measures nothing
            if len(measured_rows):
                top_row = measured_rows.iloc[int(measured_rows["measured"].to_numpy().argmax())]
                measured, limit, ts = float(top_row["measured"]), float(top_row["limit"]), top_row["ts"]
            else:
                measured, limit, ts = float(c["worst_measured"]), float(c["worst_limit"]), c["worst_ts"]
            rows.append(
                {"rule": rule, "kind": kind, "checks": int(c["checks"]), "breaches": len(mine),
                 "worst": worst(list(mine["verdict"])), "worst_measured": measured, "worst_limit": limit,
                 "worst_ts": ts}
            )  # fmt: skip
        return _frame(rows, SUMMARY_COLUMNS, ("worst_ts",))

    # -- HTML --------------------------------------------------------------------------------
    def _title(self) -> str:
        return f"Compliance surveillance of {self.portfolio}"

    def _period(self) -> str:
        if self.start is None or self.end is None:
            return "none"
        return f"{self.start.date().isoformat()} to {self.end.date().isoformat()}"

    def _tables(self) -> str:
        e = html.escape
        parts = [
            f"<p>Portfolio <b>{e(self.portfolio)}</b>, sessions {e(self._period())}.<br>"
            f"Rules: {e(self.rules_source)}, hash <code class='rules-hash'>{e(self.rules_hash)}</code>.<br>"
            f"{self.n_breaches} breach row(s), {len(self.episodes)} episode(s), "
            f"{self.n_wash_sales} wash sale(s).</p>",
            *(f"<p class='note'>{e(n)}.</p>" for n in self.notes),
            _STYLE,
            "<h2>Summary</h2>",
            _table(self.summary(), "summary"),
            "<h2>Episodes</h2>",
            "<p>Each run of consecutive sessions a rule version found a subject in breach.</p>",
            _table(self.episodes, "episodes"),
            "<h2>Breaches</h2>",
        ]
        if len(self.breaches) > _BREACH_ROWS_SHOWN:
            parts.append(f"<p>The first {_BREACH_ROWS_SHOWN} of {len(self.breaches)} rows.</p>")
        parts.append(_table(self.breaches.head(_BREACH_ROWS_SHOWN), "breaches"))
        parts += [
            "<h2>Wash sales</h2>",
            "<p>A loss sale with a purchase of the same symbol within the rule's window before or after it: the "
            "loss on the replacement shares is disallowed and added to their basis, and their holding period "
            "includes the sold shares' (IRS Publication 550, <i>Wash Sales</i>).</p>",
            _table(self.wash_sales.drop(columns=["note"]), "wash-sales"),
            "<h2>Concentration drift</h2>",
        ]
        if self.drift.empty:
            parts.append("<p class='drift'>None.</p>")
        return "\n".join(parts)

    def _figures(self) -> list[tuple[str, Any]]:
        if self.drift.empty:
            return []
        import plotly.graph_objects as go

        fig = go.Figure()
        x = self.drift["ts"]
        for col, name in (
            ("top_symbol_share", "largest name / NAV"),
            ("top_sector_share", "largest sector / NAV"),
            ("gross_exposure", "gross exposure / NAV"),
        ):
            if col == "top_sector_share" and not (self.drift["top_sector"] != "").any():
                continue  # no symbol of the book has a sector: no line at 0% (found by QA)
            fig.add_trace(go.Scatter(x=x, y=self.drift[col], mode="lines", name=name))
        fig.update_layout(
            title=f"Concentration drift of {self.portfolio}", yaxis_title="share of NAV", yaxis_tickformat=".0%",
            height=380,
        )  # fmt: skip
        return [("drift", fig)]

    def to_html(self, path: str | Path | None = None) -> str:
        """Return (and optionally write) the report as one self-contained HTML page.

        The page holds the rules hash, the summary, the breaches (the first 500 rows), the
        episodes, the wash sales and a chart of the drift (plotly.js embedded: no network).

        Raises
        ------
        InvalidInputError
            If ``path`` cannot be written (checked before anything is built).
        """
        if path is not None:
            output_path(path, "the surveillance page")  # refused before the page is built
        return offline_page(self._title(), self._tables(), self._figures(), path)

    def _repr_html_(self) -> str:
        body = f"<h3>{html.escape(self._title())}</h3>" + self._tables() + figures_html(self._figures())
        return f"{notebook_styles()}<div class='bifrost-report'>{body}</div>"


def _table(frame: pd.DataFrame, css: str) -> str:
    if frame.empty:
        return f"<p class='{css}'>None.</p>"
    shown = frame.copy()
    for col in shown.columns:
        if isinstance(shown[col].dtype, pd.DatetimeTZDtype):
            shown[col] = [v.date().isoformat() if not pd.isna(v) else "" for v in shown[col]]
    table = shown.to_html(index=False, classes=css, float_format=lambda v: f"{v:,.4f}", na_rep="", escape=True)
    return f"<div class='bf-scroll'>{table}</div>"  # a wide table scrolls in its box, not off the page


# -- the public entry point --------------------------------------------------------------------
def surveil(
    store: Store,
    portfolio: str,
    *,
    rules: RuleSet | None = None,
    start: object = None,
    end: object = None,
) -> SurveillanceReport:
    """Surveil stored ``portfolio`` session by session and record the run in the audit trail.

    Parameters
    ----------
    store
        The store holding the portfolio, its symbols' daily closes and the audit trail.
    portfolio
        The portfolio's name.
    rules
        The rule set (`bifrost.compliance.load_rules`); default: ``load_rules()`` (the
        config's file, ``BIFROST_HOME/compliance.toml``, else the built-in default). The
        versions in force each session (`RuleSet.effective`) apply.
    start, end
        The first and last session to surveil (dates; ``end`` included). Default: the
        session of the first transaction, and the last close the store holds for the
        portfolio's symbols (the wash sales, which need no close: the whole ledger).
        Transactions after ``end`` are not read (a report as of ``end`` is the same
        whenever it runs): a sale in the last ``window_days`` before ``end`` may still
        become a wash sale.

    Returns
    -------
    SurveillanceReport
        Its breaches, episodes, drift and wash sales; an empty report for a portfolio
        without fills.

    Raises
    ------
    NotFoundError
        If the store holds no portfolio ``portfolio``.
    InvalidInputError
        If ``start`` or ``end`` is not a date (naming which), ``start`` is after ``end``,
        ``rules`` is not a rule set, or a held symbol has no close in the store.

    Notes
    -----
    Each measure is the pre-trade kind's, taken on the book at the close with no order:
    ``max_position_pct_nav`` is ``|q·p| / NAV`` per held symbol, ``sector_concentration``
    a sector's ``Σ|q·p| / NAV`` (symbols without a known sector are not counted),
    ``issuer_concentration`` the same per issuer (the rule's ``issuers`` map, else the
    symbol), ``gross_exposure`` ``Σ|q·p| / NAV``. A measure above ``max_fraction`` gives
    the rule's severity; one above ``warn_at × max_fraction`` (when the rule has
    ``warn_at``) a warning. A NAV that is not positive while positions are held gives
    the severity with an undefined (NaN) measure.

    Wash sales (IRS Publication 550, "Wash Sales"): the sold shares are the ledger's fills
    taken first in, first out; a sale's shares sold below their (adjusted) basis are matched,
    in the order the replacement shares were acquired, with shares of the same symbol bought
    within ``window_days`` calendar days before the sale (still held after it, and not the
    rest of a purchase the sale sells from: Rev. Rul. 56-602) or after it. Each replacement
    share is used once; the disallowed loss is the loss per share × the matched shares (a
    partial replacement disallows that part of the loss), and is added to the replacement
    shares' basis (which a later sale of them is measured against); their holding period
    includes the sold shares'. Sales before ``start`` are not reported but still adjust the
    basis of their replacements. Prices are the fills' (commissions and fees apart, as the
    ledger keeps its P&L), whatever the ledger's cost basis; long positions only.

    References
    ----------
    IRS Publication 550, *Investment Income and Expenses*, "Wash Sales":
    https://www.irs.gov/publications/p550
    """
    start_ts = None if start is None else as_utc_timestamp(start, "start").normalize()
    end_ts = None if end is None else as_utc_timestamp(end, "end").normalize()
    if start_ts is not None and end_ts is not None and start_ts > end_ts:
        raise InvalidInputError(
            f"start ({start_ts.date()}) is after end ({end_ts.date()}): give a start on or before the end"
        )
    rule_set = _rules(rules)
    ledger = load_portfolio(store, portfolio)  # NotFoundError for an unknown portfolio
    report = _survey(store, ledger, rule_set, start_ts, end_ts)
    payload: dict[str, object] = {
        "portfolio": report.portfolio,
        "rules_hash": report.rules_hash,
        "rules_source": report.rules_source,
        "start": None if report.start is None else report.start.date().isoformat(),
        "end": None if report.end is None else report.end.date().isoformat(),
        "sessions": len(report.drift),
        "n_breaches": report.n_breaches,
        "n_episodes": len(report.episodes),
        "n_wash_sales": report.n_wash_sales,
        "disallowed_loss": round(float(report.wash_sales["disallowed_loss"].sum()), 2),
    }
    with store.transaction(schema=AUDIT_SCHEMA, lock="compliance.surveillance") as db:
        append_audit(db, "compliance.surveillance", report.portfolio, payload)
    return report


def _rules(rules: object) -> RuleSet:
    if rules is None:
        return load_rules()
    if not isinstance(rules, RuleSet):
        raise InvalidInputError(
            f"rules must be a RuleSet (bifrost.compliance.load_rules / parse_rules), got {type(rules).__name__}"
        )
    return rules


_FIRST: Final = pd.Timestamp.min.tz_localize("UTC")
_LAST: Final = pd.Timestamp.max.tz_localize("UTC")


def _cut(ledger: Ledger, end: pd.Timestamp | None) -> Ledger:
    # the ledger as of ``end``'s close: later transactions are not read
    if end is None or all(t.ts.normalize() <= end for t in ledger.transactions):
        return ledger
    kept = [t for t in ledger.transactions if t.ts.normalize() <= end]
    return Ledger.replay(
        ledger.name, kept, inception=ledger.inception, cost_basis=ledger.cost_basis, long_only=ledger.long_only,
        base_currency=ledger.base_currency,
    )  # fmt: skip


def _empty(
    ledger: Ledger, rules: RuleSet, start: pd.Timestamp | None, end: pd.Timestamp | None, note: str = ""
) -> SurveillanceReport:
    # no session to measure: the wash sales (which need no close) over the ledger up to ``end``
    rows: list[dict[str, object]] = []
    checks: list[dict[str, object]] = []
    if any(isinstance(t, Fill) for t in ledger.transactions):
        rows, counted = _wash_sales(_cut(ledger, end), rules, start or _FIRST, end or _LAST)
        checks = [{"rule": r, "kind": k, "checks": n, "worst_ts": pd.NaT, "worst_measured": math.nan,
                   "worst_limit": math.nan} for (r, k), n in counted.items()]  # fmt: skip
    return SurveillanceReport(
        portfolio=ledger.name, rules_hash=rules.hash, rules_source=rules.source, start=start, end=end,
        breaches=_frame([], BREACH_COLUMNS, ("ts",)),
        wash_sales=_frame(rows, WASH_SALE_COLUMNS, ("ts", "acquired", "replacement_ts")),
        drift=_frame([], DRIFT_COLUMNS, ("ts",)),
        checks=pd.DataFrame(checks, columns=["rule", "kind", "checks", "worst_ts", "worst_measured", "worst_limit"]),
        notes=(note,) if note else (),
    )  # fmt: skip


def _survey(
    store: Store, full: Ledger, rules: RuleSet, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> SurveillanceReport:
    name = full.name
    symbols = sorted({t.symbol for t in full.transactions if isinstance(t, Fill)})
    if not symbols:
        return _empty(full, rules, start, end)
    first_day = min(t.ts for t in full.transactions).normalize()
    # a few days before the first transaction, so an entry dated on a weekend has a session to fall on
    read_from = first_day - pd.Timedelta(days=7)
    read_to = None if end is None else end + pd.Timedelta(days=1)
    panel = store.read_panel(symbols, read_from, read_to, fields=["close"])
    no_close = (
        f"no session measured: the store holds no close of {', '.join(symbols)} from the first transaction "
        f"({first_day.date()}){'' if end is None else f' to {end.date()}'}"
    )
    if not len(panel.ts) or panel.ts[-1] < first_day:
        return _empty(full, rules, start, end, no_close)
    last_close = panel.ts[-1].normalize()
    horizon = last_close if end is None else min(end, last_close)
    ledger = _cut(full, horizon)  # what the closes value: the ledger as of the last session's close
    kept = ledger.transactions
    close = pd.DataFrame(np.asarray(panel["close"]), index=panel.ts, columns=list(panel.symbols))
    if first_day < panel.ts[0]:
        # entries (a deposit) dated before the first bar: a row of no closes for them to fall on
        # (a position held there has no price, which value_ledger refuses naming it)
        close = pd.concat([pd.DataFrame(np.nan, index=pd.DatetimeIndex([first_day]), columns=close.columns), close])
    days = pd.DatetimeIndex(close.index)
    filled = close.ffill()  # a held symbol without a bar that session keeps its last close
    marked = Panel(ts=days, symbols=panel.symbols, fields={"close": np.asfortranarray(filled.to_numpy())})
    try:
        valuation = value_ledger(ledger, marked)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"portfolio {name!r}: {exc} (surveillance values the book at the store's closes: ingest its symbols' "
            "bars from its first transaction on)"
        ) from exc
    first = max(first_day, start) if start is not None else first_day
    bars = days >= panel.ts[0]
    day_index = np.flatnonzero(bars & (days >= first) & (days <= horizon + pd.Timedelta(hours=23)))
    if not len(day_index):
        return _empty(full, rules, start, end, no_close if start is None else f"no session from {start.date()}")
    from bifrost.risk import store_sectors  # on first use: importing bifrost.compliance stays light

    sectors = store_sectors(store)
    traded = _traded_by_session(kept, days)
    book = _Book.of(valuation, sectors)
    breach_rows: list[dict[str, object]] = []
    checks: dict[tuple[str, str], list[Any]] = {}  # (rule, kind) → [checks, worst ts, worst measure, its limit]
    sessions = days[day_index]
    for d in map(int, day_index):
        ts = days[d]
        nav = float(book.nav[d])
        day_traded = traded.get(d, frozenset())
        for rule in rules.effective(name, ts.date()):
            if rule.kind == "wash_sale":  # listed in the summary, checked once the sales are known
                checks.setdefault((rule.id, rule.kind), [0, pd.NaT, -math.inf, math.nan])
            if rule.kind not in BOOK_KINDS:
                continue
            tally = checks.setdefault((rule.id, rule.kind), [0, pd.NaT, -math.inf, math.nan])
            limit = float(_param(rule, "max_fraction"))
            names, gross, members = book.subjects(rule, d)
            tally[0] += len(names)
            if not len(names):
                continue
            if nav > 0:
                measured = gross / nav
                top = int(np.argmax(measured))
                if measured[top] > tally[2]:
                    tally[1], tally[2], tally[3] = ts, float(measured[top]), limit
                warn_at = _param(rule, "warn_at")
                low = limit if warn_at is None else min(limit, float(warn_at) * limit)
                # below the lower of the limit and the warning level every kind passes: decide only the rest
                candidates = np.flatnonzero(measured > low * (1.0 - 1e-9))
            else:
                measured = np.full(len(names), math.nan)
                candidates = np.arange(len(names))
            for k in map(int, candidates):
                verdict, reason = _decide(rule, names[k], float(gross[k]), nav, members[k])
                if verdict == "pass":
                    continue
                breach_rows.append(
                    {"ts": ts, "rule": rule.id, "kind": rule.kind, "version": rule.version, "subject": names[k],
                     "measured": float(measured[k]), "limit": limit, "nav": nav, "verdict": verdict,
                     "cause": "trade" if members[k] & day_traded else "price move", "reason": reason}
                )  # fmt: skip
    drift_rows = [book.drift(d, days[d]) for d in map(int, day_index)]
    breaches = _frame(breach_rows, BREACH_COLUMNS, ("ts",))
    # wash sales need no close: up to ``end`` when given, else the whole ledger (trades after the last close too)
    wash_rows, wash_checks = _wash_sales(_cut(full, end), rules, first, end or _LAST)
    for (rule_id, kind), n in wash_checks.items():
        checks.setdefault((rule_id, kind), [0, pd.NaT, -math.inf, math.nan])[0] += n
    check_frame = pd.DataFrame(
        [{"rule": r, "kind": k, "checks": c[0], "worst_ts": c[1],
          "worst_measured": c[2] if c[2] > -math.inf else math.nan, "worst_limit": c[3]}
         for (r, k), c in checks.items()],
        columns=["rule", "kind", "checks", "worst_ts", "worst_measured", "worst_limit"],
    )  # fmt: skip
    return SurveillanceReport(
        portfolio=name, rules_hash=rules.hash, rules_source=rules.source, start=sessions[0], end=sessions[-1],
        breaches=breaches, wash_sales=_frame(wash_rows, WASH_SALE_COLUMNS, ("ts", "acquired", "replacement_ts")),
        drift=_frame(drift_rows, DRIFT_COLUMNS, ("ts",)), episodes=_episodes(breaches, sessions), checks=check_frame,
    )  # fmt: skip


def _traded_by_session(transactions: Sequence[Transaction], days: pd.DatetimeIndex) -> dict[int, frozenset[str]]:
    # the symbols each session's fills traded (a fill between sessions counts on the session before,
    # as value_ledger books it)
    day_ns = days.as_unit("ns").asi8
    out: dict[int, set[str]] = {}
    for t in transactions:
        if isinstance(t, Fill):
            d = int(np.searchsorted(day_ns, t.ts.normalize().value, side="right")) - 1
            out.setdefault(d, set()).add(t.symbol)
    return {d: frozenset(s) for d, s in out.items()}


def _param(rule: Rule, name: str) -> Any:
    return rule.params.get(name)


# a grouping of the symbols (sectors, issuers): its names, each one's symbols, and per session
# (days × groups) the gross exposure and whether any of its symbols is held
_Grouping = tuple[tuple[str, ...], list[frozenset[str]], FloatArray, BoolArray]


class _Book:
    # the book at every close as float arrays (days × symbols), with the sector and issuer groupings
    # the rules measure: one pass of numpy per session and rule, whatever the number of names

    def __init__(self, symbols: tuple[str, ...], exposure: FloatArray, held: BoolArray, nav: FloatArray,
                 cash: FloatArray, sectors: Mapping[str, str]) -> None:  # fmt: skip
        self.symbols = symbols
        self.exposure = exposure  # |shares × close|, 0 where flat
        self.held = held
        self.nav = nav
        self.cash = cash
        self.sector_names, self.sector_onehot = _grouping([sectors.get(s) or None for s in symbols])
        self.sector_exposure = exposure @ self.sector_onehot
        self.sector_held = (held.astype(np.float64) @ self.sector_onehot) > 0
        self.sector_members = self._members(self.sector_onehot)
        self._issuers: dict[tuple[tuple[str, str], ...], _Grouping] = {}

    @classmethod
    def of(cls, valuation: Valuation, sectors: Mapping[str, str]) -> _Book:
        held = np.abs(valuation.holdings) > _HELD
        exposure = np.where(held, np.abs(valuation.market_value), 0.0)
        nav = valuation.cash + valuation.market_value.sum(axis=1)
        return cls(valuation.symbols, exposure, held, nav, valuation.cash, sectors)

    def _members(self, onehot: FloatArray) -> list[frozenset[str]]:
        return [frozenset(self.symbols[j] for j in np.flatnonzero(onehot[:, g])) for g in range(onehot.shape[1])]

    def subjects(self, rule: Rule, d: int) -> tuple[list[str], FloatArray, list[frozenset[str]]]:
        # the subjects one rule measures on session d: names, gross exposure (USD), the symbols of each
        held = self.held[d]
        if rule.kind == "max_position_pct_nav":
            cols = np.flatnonzero(held)
            names = [self.symbols[j] for j in cols]
            return names, self.exposure[d, cols], [frozenset((n,)) for n in names]
        if rule.kind == "gross_exposure":
            return [""], np.array([self.exposure[d].sum()]), [frozenset(self.symbols)]
        if rule.kind == "sector_concentration":
            grouping = (self.sector_names, self.sector_members, self.sector_exposure, self.sector_held)
        else:
            grouping = self._issuer_grouping(rule)
        labels, members, gross, present = grouping
        groups = np.flatnonzero(present[d])
        return [labels[g] for g in groups], gross[d, groups], [members[g] for g in groups]

    def _issuer_grouping(self, rule: Rule) -> _Grouping:
        raw = _param(rule, "issuers")
        overrides = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
        key = tuple(sorted(overrides.items()))
        found = self._issuers.get(key)
        if found is None:
            names, onehot = _grouping([overrides.get(s) or s for s in self.symbols])
            found = (names, self._members(onehot), self.exposure @ onehot, (self.held.astype(np.float64) @ onehot) > 0)
            self._issuers[key] = found
        return found

    def drift(self, d: int, ts: pd.Timestamp) -> dict[str, object]:
        nav = float(self.nav[d])
        share = (lambda v: v / nav) if nav > 0 else (lambda v: math.nan)
        top_symbol, top_value = "", 0.0
        if self.held[d].any():
            j = int(np.argmax(self.exposure[d]))  # the first of equals, in symbol order
            top_symbol, top_value = self.symbols[j], float(self.exposure[d, j])
        top_sector, sector_value = "", 0.0
        if self.sector_held[d].any():
            g = int(np.argmax(np.where(self.sector_held[d], self.sector_exposure[d], -1.0)))
            top_sector, sector_value = self.sector_names[g], float(self.sector_exposure[d, g])
        return {
            "ts": ts, "nav": nav, "cash": float(self.cash[d]), "n_positions": int(self.held[d].sum()),
            "top_symbol": top_symbol, "top_symbol_share": share(top_value), "top_sector": top_sector,
            "top_sector_share": share(sector_value), "gross_exposure": share(float(self.exposure[d].sum())),
        }  # fmt: skip


def _grouping(labels: Sequence[str | None]) -> tuple[tuple[str, ...], FloatArray]:
    # the distinct labels, sorted, and the symbols × labels one-hot matrix (None: in no group)
    names = tuple(sorted({x for x in labels if x}))
    index = {x: g for g, x in enumerate(names)}
    onehot = np.zeros((len(labels), len(names)))
    for j, x in enumerate(labels):
        if x:
            onehot[j, index[x]] = 1.0
    return names, onehot


def _decide(rule: Rule, subject: str, gross: float, nav: float, members: frozenset[str]) -> tuple[Verdict, str]:
    # the pre-trade kind's own decision on the book at the close: no order, so the exposure
    # "before" is nil and "after" is the book's (decide then judges the level against the limit)
    why = None if nav > 0 else f"the book's equity is {nav:,.2f}"
    inputs: dict[str, object] = {
        "symbol": subject if rule.kind == "max_position_pct_nav" else min(members, default=""),
        "price": None, "equity": nav, "exposure_before": None if why else 0.0, "exposure_after": None if why else gross,
        "reduces": False, "cannot_measure": why,
    }  # fmt: skip
    if rule.kind == "sector_concentration":
        inputs["sector"] = subject
    elif rule.kind == "issuer_concentration":
        inputs["issuer"] = subject
    verdict, _ = judge(rule, inputs)  # the engine's own decision: the kind's verdict, then the rule's severity
    limit = float(_param(rule, "max_fraction"))
    what = {
        "max_position_pct_nav": f"position in {subject}",
        "sector_concentration": f"sector {subject}",
        "issuer_concentration": f"issuer {subject}",
        "gross_exposure": "gross exposure",
    }[rule.kind]
    if why is not None:
        reason = f"{what}: cannot measure, {why}"
    else:
        warn_at = _param(rule, "warn_at")
        reason = f"{what} is {gross / nav:.2%} of NAV at the close (at most {limit:.2%}"
        reason += f", warning from {float(warn_at) * limit:.2%})" if warn_at is not None else ")"
    return verdict, reason


def _episodes(breaches: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    # runs of consecutive sessions in breach, per rule version and subject
    position = {ts: i for i, ts in enumerate(sessions)}
    rows: list[dict[str, object]] = []
    for (rule, kind, version, subject), group in breaches.groupby(["rule", "kind", "version", "subject"], sort=False):
        index = [position[ts] for ts in group["ts"]]
        run_start = 0
        for i in range(1, len(index) + 1):
            if i == len(index) or index[i] != index[i - 1] + 1:
                run = group.iloc[run_start:i]
                verdicts: list[Verdict] = list(run["verdict"])
                rows.append(
                    {"rule": rule, "kind": kind, "version": version, "subject": subject, "first": run["ts"].iloc[0],
                     "last": run["ts"].iloc[-1], "sessions": len(run),
                     "worst_measured": float(run["measured"].max()), "limit": float(run["limit"].iloc[-1]),
                     "verdict": worst(verdicts)}
                )  # fmt: skip
                run_start = i
    frame = _frame(rows, EPISODE_COLUMNS, ("first", "last"))
    return frame.sort_values(["first", "rule", "subject"], kind="stable").reset_index(drop=True)


# -- wash sales --------------------------------------------------------------------------------
@dataclass(slots=True, eq=False)
class _Piece:
    # part of an open long lot: shares of one purchase with one basis
    buy_id: str
    bought: pd.Timestamp  # the purchase's time
    shares: Decimal
    price: Decimal  # what was paid per share
    adjustment: Decimal  # disallowed loss added to the basis, per share
    held_days_added: int  # days of an earlier holding period it carries (a replacement's)
    replaced: bool  # already used as replacement shares: a share replaces once


@dataclass(slots=True)
class _Pending:
    # replacement shares of a purchase still to come: their basis adjustment, applied when it is booked
    shares: Decimal
    adjustment: Decimal
    held_days_added: int


def _wash_rule(rules: RuleSet, portfolio: str, day: dt.date) -> Rule | None:
    for rule in rules.effective(portfolio, day):
        if rule.kind == "wash_sale":
            return rule
    return None


def _wash_sales(
    ledger: Ledger, rules: RuleSet, first: pd.Timestamp, horizon: pd.Timestamp
) -> tuple[list[dict[str, object]], dict[tuple[str, str], int]]:
    # the ledger's fills (already cut at the horizon) as FIFO long lots; each loss sale dated in
    # [first, horizon] under a wash_sale rule is matched with replacement purchases
    rows: list[dict[str, object]] = []
    checked: dict[tuple[str, str], int] = {}
    txns = ledger.transactions
    buys: dict[str, list[tuple[int, Fill]]] = {}
    for i, t in enumerate(txns):
        if isinstance(t, Fill) and t.side is Side.BUY:
            buys.setdefault(t.symbol, []).append((i, t))
    lots: dict[str, list[_Piece]] = {}
    shorts: dict[str, Decimal] = {}
    pending: dict[str, list[_Pending]] = {}  # by buy txn id
    used: dict[str, Decimal] = {}  # replacement shares taken of a purchase still to come, by buy txn id
    for i, t in enumerate(txns):
        if isinstance(t, Split):
            for piece in lots.get(t.symbol, []):
                piece.shares *= t.ratio
                piece.price /= t.ratio
                piece.adjustment /= t.ratio
            if t.symbol in shorts:
                shorts[t.symbol] *= t.ratio
            continue
        if not isinstance(t, Fill):
            continue
        book = lots.setdefault(t.symbol, [])
        if t.side is Side.BUY:
            quantity = t.quantity
            covered = min(shorts.get(t.symbol, Decimal(0)), quantity)  # a buy first covers a short
            if covered:
                shorts[t.symbol] -= covered
                quantity -= covered
            for p in pending.pop(t.txn_id, []):
                take = min(p.shares, quantity)
                if take > 0:
                    book.append(_Piece(t.txn_id, t.ts, take, t.price, p.adjustment, p.held_days_added, True))
                    quantity -= take
            if quantity > 0:
                book.append(_Piece(t.txn_id, t.ts, quantity, t.price, Decimal(0), 0, False))
            continue
        # a sale: FIFO over the long lots, what is left opens a short
        remaining = t.quantity
        sold: list[tuple[_Piece, Decimal]] = []
        while remaining > 0 and book:
            piece = book[0]
            take = min(piece.shares, remaining)
            sold.append((piece, take))
            piece.shares -= take
            remaining -= take
            if piece.shares == 0:
                book.pop(0)
        if remaining > 0:
            shorts[t.symbol] = shorts.get(t.symbol, Decimal(0)) + remaining
        day = t.ts.normalize()
        losses = [(p, q) for p, q in sold if t.price < p.price + p.adjustment]
        rule = _wash_rule(rules, ledger.name, day.date()) if losses else None
        if rule is None:
            continue
        # a sale before the first session surveilled is not reported, but its wash sale still moves
        # the loss into the replacement shares' basis (which a later sale of them reads)
        shown = first <= day <= horizon
        if shown:
            key = (rule.id, rule.kind)
            checked[key] = checked.get(key, 0) + 1
        window = pd.Timedelta(days=int(_param(rule, "window_days") or WASH_SALE_WINDOW_DAYS))
        sold_from = {p.buy_id for p, _ in sold}
        for piece, shares in losses:
            basis = piece.price + piece.adjustment
            loss_per_share = basis - t.price
            held_days = (day - piece.bought.normalize()).days + piece.held_days_added
            left = shares
            # replacement shares in the order acquired: open lots bought in the window before the
            # sale (not yet used, and not what is left of a purchase this sale sells from: shares
            # bought together are one block, Rev. Rul. 56-602), then purchases after it in the window
            earlier = [
                c for c in book if not c.replaced and c.buy_id not in sold_from and c.bought.normalize() >= day - window
            ]
            for candidate in earlier:
                if left == 0:
                    break
                take = min(left, candidate.shares)
                if take < candidate.shares:  # split: the replaced shares carry the adjustment
                    rest = _Piece(candidate.buy_id, candidate.bought, candidate.shares - take, candidate.price,
                                  candidate.adjustment, candidate.held_days_added, False)  # fmt: skip
                    book.insert(next(k for k, c in enumerate(book) if c is candidate) + 1, rest)
                candidate.shares = take
                prior = candidate.adjustment
                candidate.adjustment += loss_per_share
                candidate.held_days_added += held_days
                candidate.replaced = True
                if shown:
                    rows.append(_wash_row(t, rule, piece, basis, loss_per_share, candidate.buy_id, candidate.bought,
                                          take, candidate.price, prior, held_days))  # fmt: skip
                left -= take
            for j, later in buys.get(t.symbol, []):
                if left == 0:
                    break
                if j <= i or later.ts.normalize() > day + window:
                    continue
                free = later.quantity - used.get(later.txn_id, Decimal(0))
                take = min(left, free)
                if take <= 0:
                    continue
                used[later.txn_id] = used.get(later.txn_id, Decimal(0)) + take
                pending.setdefault(later.txn_id, []).append(_Pending(take, loss_per_share, held_days))
                if shown:
                    rows.append(_wash_row(t, rule, piece, basis, loss_per_share, later.txn_id, later.ts, take,
                                          later.price, Decimal(0), held_days))  # fmt: skip
                left -= take
    return rows, checked


def _wash_row(
    sale: Fill, rule: Rule, sold: _Piece, basis: Decimal, loss_per_share: Decimal, buy_id: str,
    bought: pd.Timestamp, shares: Decimal, price: Decimal, prior: Decimal, held_days: int,
) -> dict[str, object]:  # fmt: skip
    disallowed = shares * loss_per_share
    adjusted = shares * (price + prior + loss_per_share)
    return {
        "ts": sale.ts, "rule": rule.id, "version": rule.version, "verdict": "warn", "symbol": sale.symbol,
        "sale_txn_id": sale.txn_id, "sale_price": float(sale.price), "acquired": sold.bought,
        "sold_basis_per_share": float(basis), "loss_per_share": float(loss_per_share),
        "replacement_txn_id": buy_id, "replacement_ts": bought, "replacement_shares": float(shares),
        "replacement_price": float(price), "disallowed_loss": float(disallowed), "adjusted_basis": float(adjusted),
        "adjusted_basis_per_share": float(price + prior + loss_per_share), "holding_period_days_added": held_days,
        "note": (
            f"loss of {float(disallowed):,.2f} on {shares} {sale.symbol} sold {sale.ts.date()} disallowed: added to "
            f"the basis of {shares} shares bought {bought.date()} ({buy_id}); their holding period includes the "
            f"{held_days} days the sold shares were held (IRS Pub. 550)"
        ),
    }  # fmt: skip
