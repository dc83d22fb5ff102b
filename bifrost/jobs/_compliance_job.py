"""The ``compliance_surveillance`` job's step: a notebook's parameters → a frozen config → `surveil` per portfolio.

The job runs after ``risk_report`` in the ``daily`` chain: each portfolio the pipeline keeps
(the paper book ``paper_rebalance`` trades and the demo book ``nightly_backtest`` stores, where
they exist; or those named) is surveyed under the rules file by
`bifrost.compliance.surveil` — the book-level rules re-measured at every session's close
(breaches, whether a trade or a price move caused them), wash sales and concentration
drift — and each report is written as a self-contained HTML page in the run's folder. The
surveillance itself records its summary to the audit trail (``compliance.surveillance``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bifrost._checks import quote
from bifrost.errors import InvalidInputError, NotFoundError
from bifrost.jobs._pipelines import (
    DEMO_PORTFOLIO,
    PAPER_PORTFOLIO,
    _config_html,
    _date,
    _file_part,
    _int,
    _named,
    _output_dir,
    _texts,
)
from bifrost.portfolio import list_portfolios

if TYPE_CHECKING:
    from bifrost.compliance._surveil import SurveillanceReport
    from bifrost.data import Store

__all__ = [
    "DEFAULT_SURVEILLED",
    "ComplianceSurveillanceConfig",
    "PortfolioSurveillance",
    "SurveillanceStep",
    "surveillance_step",
]

JOB = "compliance_surveillance"
DEFAULT_SURVEILLED: tuple[str, ...] = (PAPER_PORTFOLIO, DEMO_PORTFOLIO)  # what the daily pipeline keeps
MAX_LOOKBACK_DAYS = 36_600  # a hundred years of calendar days


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceSurveillanceConfig:
    """What ``compliance_surveillance`` surveys: which portfolios, under which rules, over which sessions.

    Attributes
    ----------
    portfolios
        The stored portfolios to survey (empty: those of `DEFAULT_SURVEILLED` — the paper
        book and the demo book — that the store holds).
    rules
        The rules file (TOML); None: `bifrost.compliance.load_rules`'s choice (the
        ``compliance_rules`` setting, else ``BIFROST_HOME/compliance.toml``, else the
        documented default rule set).
    start, end
        The sessions surveyed (inclusive; None: from the portfolio's first, to the store's last).
    lookback_days
        Without ``start``: survey only the last ``lookback_days`` calendar days before
        ``end`` (or the store's last daily bar). None: the whole ledger.
    output_dir
        Where each report's HTML goes (``compliance_<name>.html``); the runner fills it in.
    """

    portfolios: tuple[str, ...] = ()
    rules: Path | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    lookback_days: int | None = None
    output_dir: Path | None = None

    @classmethod
    def from_parameters(
        cls,
        *,
        portfolios: object = None,
        rules: object = None,
        start: object = None,
        end: object = None,
        lookback_days: object = None,
        output_dir: object = None,
    ) -> ComplianceSurveillanceConfig:
        """Build the config from a notebook's parameters, checking each once.

        ``portfolios`` takes a list or comma-separated text (``"paper,demo"``),
        ``lookback_days`` a whole number or its digits (the command line's text). The rules
        file must exist here; its contents are read (and a bad one refused, naming its line)
        when the step runs.

        Raises
        ------
        InvalidInputError
            Naming the parameter: a bad portfolio name, a rules path that is not a file, a
            date that does not parse, ``end`` before ``start``, a ``lookback_days`` out of
            range or given together with ``start``.
        """
        from bifrost.portfolio._ledger import check_portfolio_name

        names = _texts(JOB, portfolios, "portfolios")
        for name in names:
            _named(JOB, check_portfolio_name, name)
        path = None
        if rules is not None and rules != "":
            if not isinstance(rules, str | Path):
                raise InvalidInputError(f"{JOB}: rules must be a rules file's path (TOML), got {quote(rules)}")
            path = Path(rules).expanduser()
            if not path.is_file():
                raise InvalidInputError(f"{JOB}: rules file {quote(str(path))} does not exist (or is not a file)")
        first, last = _date(JOB, start, "start"), _date(JOB, end, "end")
        if first is not None and last is not None and last < first:
            raise InvalidInputError(f"{JOB}: end {last:%Y-%m-%d} is before start {first:%Y-%m-%d}")
        days = None
        if lookback_days is not None and lookback_days != "":
            if first is not None:
                raise InvalidInputError(f"{JOB}: give start or lookback_days, not both (start {first:%Y-%m-%d})")
            if isinstance(lookback_days, str) and re.fullmatch(r"[0-9]{1,6}", lookback_days.strip()):
                lookback_days = int(lookback_days)  # the command line's -p lookback_days=90 (declared None: text)
            days = _int(JOB, lookback_days, "lookback_days", maximum=MAX_LOOKBACK_DAYS, unit="days")
        return cls(
            portfolios=names, rules=path, start=first, end=last, lookback_days=days,
            output_dir=_output_dir(JOB, output_dir),
        )  # fmt: skip

    def _repr_html_(self) -> str:
        return _config_html(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioSurveillance:
    """One portfolio's surveillance report, and where its HTML page was written."""

    name: str
    report: SurveillanceReport
    html_path: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SurveillanceStep:
    """What ``compliance_surveillance`` found: each portfolio's report under one rule set.

    Attributes
    ----------
    config
        The job's config.
    rules_hash, rules_source
        The SHA-256 of the rules file's text and where it came from (a path, or ``default``).
    portfolios
        The reports, in the order surveyed.
    skipped
        Portfolios of the default set the store does not hold, with why.
    """

    config: ComplianceSurveillanceConfig
    rules_hash: str
    rules_source: str
    portfolios: tuple[PortfolioSurveillance, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{p.name}: {p.report.n_breaches} breach(es), {p.report.n_wash_sales} wash sale(s)" for p in self.portfolios
        )
        return f"SurveillanceStep({shown or 'nothing surveyed'}; rules {self.rules_hash[:12]} from {self.rules_source})"

    def table(self) -> pd.DataFrame:
        """One row per portfolio: its sessions, breaches (by cause), episodes, wash sales and loss disallowed."""
        rows = [{"portfolio": p.name, **_counts(p.report)} for p in self.portfolios]
        columns = ["start", "end", "breaches", "by_trade", "by_price_move", "episodes", "wash_sales", "disallowed_loss"]
        return pd.DataFrame(rows, columns=["portfolio", *columns]).set_index("portfolio")

    def result(self) -> dict[str, Any]:
        """Return the headline numbers a run records (`bifrost.jobs.record_result`)."""
        each = {
            p.name: {**_counts(p.report), "report": None if p.html_path is None else str(p.html_path)}
            for p in self.portfolios
        }
        return {
            "rules_hash": self.rules_hash,
            "rules_source": self.rules_source,
            "portfolios": each,
            "breaches": sum(int(v["breaches"]) for v in each.values()),
            "wash_sales": sum(int(v["wash_sales"]) for v in each.values()),
            "reports": [str(p.html_path) for p in self.portfolios if p.html_path is not None],
            "skipped": dict(self.skipped),
        }


def _counts(report: SurveillanceReport) -> dict[str, Any]:
    breaches, wash = report.breaches, report.wash_sales
    cause = breaches["cause"] if "cause" in breaches else pd.Series([], dtype=object)
    loss = float(wash["disallowed_loss"].sum()) if "disallowed_loss" in wash and len(wash) else 0.0
    return {
        "start": None if report.start is None else f"{pd.Timestamp(report.start):%Y-%m-%d}",
        "end": None if report.end is None else f"{pd.Timestamp(report.end):%Y-%m-%d}",
        "breaches": int(report.n_breaches),
        "by_trade": int((cause == "trade").sum()),
        "by_price_move": int((cause == "price move").sum()),
        "episodes": len(report.episodes),
        "wash_sales": int(report.n_wash_sales),
        "disallowed_loss": loss if math.isfinite(loss) else None,
    }


def surveillance_step(store: Store, config: ComplianceSurveillanceConfig) -> SurveillanceStep:
    """Survey each configured portfolio under the rules file and write each report's HTML.

    The same call as ``bifrost compliance surveil NAME``: the rules from ``config.rules``
    (`bifrost.compliance.load_rules`), then `bifrost.compliance.surveil` over the stored
    ledger and closes from ``start`` (or ``end`` less ``lookback_days``) to ``end``, its
    HTML written to ``output_dir/compliance_<name>.html``. With no ``portfolios``
    configured, the paper and demo books are surveyed where the store holds them (the
    others listed in ``skipped``); a named portfolio the store does not hold raises.

    Raises
    ------
    NotFoundError
        If a named portfolio is not stored, or the rules file is missing.
    RulesFileError
        If the rules file is refused (its message names the line and the key).
    """
    from bifrost.compliance._rules import load_rules
    from bifrost.compliance._surveil import surveil

    rules = load_rules(config.rules)
    stored = set(list_portfolios(store)["name"])
    if config.portfolios:
        missing = [n for n in config.portfolios if n not in stored]
        if missing:
            have = ", ".join(sorted(stored)[:20]) or "none"
            raise NotFoundError(f"{JOB}: no stored portfolio {', '.join(map(quote, missing))}; stored: {have}")
        names = list(config.portfolios)
        skipped: dict[str, str] = {}
    else:
        names = [n for n in DEFAULT_SURVEILLED if n in stored]
        skipped = {n: "not stored" for n in DEFAULT_SURVEILLED if n not in stored}
    start, end = config.start, config.end
    if start is None and config.lookback_days is not None:
        last = end if end is not None else _last_session(store)
        start = None if last is None else last - pd.Timedelta(days=config.lookback_days)
    if config.output_dir is not None:
        config.output_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for name in names:
        report = surveil(store, name, rules=rules, start=start, end=end)
        path = None
        if config.output_dir is not None:
            path = config.output_dir / f"compliance_{_file_part(name)}.html"
            path.write_text(report.to_html(), encoding="utf-8")
        done.append(PortfolioSurveillance(name=name, report=report, html_path=path))
    return SurveillanceStep(
        config=config, rules_hash=rules.hash, rules_source=rules.source, portfolios=tuple(done), skipped=skipped
    )


def _last_session(store: Store) -> pd.Timestamp | None:
    listing = store.list_symbols()
    if "frequency" in listing:
        listing = listing[listing["frequency"] == "1d"]
    if not len(listing):
        return None
    return pd.Timestamp(listing["last"].max()).normalize()
