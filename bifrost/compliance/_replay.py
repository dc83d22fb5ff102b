"""Replay the recorded pre-trade compliance decisions under the rule versions of their day.

The order manager's `bifrost.execution.ComplianceCheck` records, in the audit trail:

- ``compliance.rules`` (once per rules text, before the first decision under it):
  ``{hash, source, previous_hash, text}``;
- ``pretrade.decision`` with ``check == "compliance"`` (one per order): the verdict, the
  reason and the inputs ``{rules_hash, ts, portfolio, rules: [{rule, kind, version, verdict,
  reason, inputs}, ...]}``.

`replay_decisions` reads both from the log (nothing else: not the execution package's
tables), rebuilds each rules text with `parse_rules` (checking that the text still has its
hash), and for every decision:

1. checks that its results are exactly the rule versions in force for its portfolio on
   its session date (a rule left out or added is a mismatch);
2. re-decides each result: the rule found by ``(id, version)`` in its rules, then
   `bifrost.compliance._engine.judge` (the kind's ``decide`` and the rule's severity) on
   the recorded inputs, compared with the recorded verdict and reason;
3. compares the decision's own verdict and reason with the worst of the replayed results.

Anything that cannot be replayed (a rules hash with no ``compliance.rules`` record, a text
that no longer parses or no longer has its hash, a version its rules do not have, inputs
its kind cannot read) is reported as a mismatch, never raised.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from bifrost.compliance._audit import AuditVerification, verify_audit
from bifrost.compliance._engine import ComplianceEngine, judge
from bifrost.compliance._model import Decision, RuleResult
from bifrost.compliance._rules import RuleSet, parse_rules
from bifrost.compliance._schema import RULES_AUDIT_KIND
from bifrost.data import AUDIT_SCHEMA, Store
from bifrost.errors import BifrostError
from bifrost.portfolio import require_portfolio
from bifrost.portfolio._ledger import check_portfolio_name
from bifrost.portfolio._schema import PORTFOLIO_SCHEMA

__all__ = ["DECISION_AUDIT_KIND", "MISMATCH_COLUMNS", "ReplayReport", "replay_decisions"]

DECISION_AUDIT_KIND: Final = "pretrade.decision"
CHECK_NAME: Final = "compliance"  # the pre-trade check whose decisions are the rules'
MISMATCH_COLUMNS: Final = ["seq", "client_order_id", "rule", "version", "recorded", "replayed"]
_PAGE: Final = 5_000
_DECISION_ROW: Final = "(decision)"  # the ``rule`` of a mismatch about the decision as a whole


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayReport:
    """What `replay_decisions` found.

    Attributes
    ----------
    n_decisions
        The compliance decisions replayed (one per order checked).
    n_results
        The rule results among them (one per rule in force per order).
    mismatches
        One row per result (or decision) whose replay differs from the record, or that
        could not be replayed: ``seq`` (the audit record), ``client_order_id``, ``rule``
        (``"(decision)"`` for the decision as a whole), ``version``, ``recorded`` and
        ``replayed`` (``"<verdict>: <reason>"``, or what went wrong).
    portfolio
        The portfolio replayed (None: every one).
    rules_hashes
        The rules texts found in the audit trail, oldest first.
    audit
        The audit trail's own verification (`verify_audit`, with ``expect_head`` when
        given): a replay of an altered or cut-off trail proves nothing, so ``ok`` needs it.
    """

    n_decisions: int
    n_results: int
    mismatches: pd.DataFrame
    portfolio: str | None = None
    rules_hashes: tuple[str, ...] = ()
    audit: AuditVerification | None = None

    @property
    def ok(self) -> bool:
        """Whether the audit trail is intact and every recorded decision was reproduced."""
        return self.mismatches.empty and (self.audit is None or self.audit.ok)

    @property
    def n_rules(self) -> int:
        """The rule results replayed (the contract's name for `n_results`)."""
        return self.n_results

    def summary(self) -> pd.DataFrame:
        """Return one row: ``portfolio, n_decisions, n_results, n_rulesets, n_mismatches, ok``."""
        return pd.DataFrame(
            [
                {
                    "portfolio": self.portfolio or "(all)",
                    "n_decisions": self.n_decisions,
                    "n_results": self.n_results,
                    "n_rulesets": len(self.rules_hashes),
                    "n_mismatches": len(self.mismatches),
                    "ok": self.ok,
                }
            ]
        )

    def to_dict(self) -> dict[str, object]:
        """Return the report as JSON-ready data (what ``bifrost compliance replay --json`` prints)."""
        return {
            "ok": self.ok,
            "portfolio": self.portfolio,
            "n_decisions": self.n_decisions,
            "n_results": self.n_results,
            "rules_hashes": list(self.rules_hashes),
            "audit": None if self.audit is None else self.audit.to_dict(),
            "mismatches": [
                {k: (int(v) if k == "seq" else v) for k, v in row.items()}
                for row in self.mismatches.to_dict(orient="records")
            ],
        }

    def __str__(self) -> str:
        head = (
            f"{self.n_decisions:,} compliance decision(s), {self.n_results:,} rule result(s) replayed under "
            f"{len(self.rules_hashes)} rules text(s)"
        )
        said = "every one reproduced" if self.mismatches.empty else f"{len(self.mismatches):,} mismatch(es)"
        if self.audit is not None and not self.audit.ok:
            said += f"; but the audit trail is not intact ({self.audit}): the replay proves nothing"
        return f"{head}: {said}"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        head = f'<p style="color:{colour}"><b>{html.escape(str(self))}</b></p>'
        if self.ok:
            return head
        shown = self.mismatches.head(50)
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in MISMATCH_COLUMNS) + "</tr>"
            for row in shown.to_dict(orient="records")
        )
        more = f"<p>and {len(self.mismatches) - 50:,} more</p>" if len(self.mismatches) > 50 else ""
        header = "".join(f"<th>{c}</th>" for c in MISMATCH_COLUMNS)
        return f"{head}<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>{more}"


class _Rules:
    # the rules texts of the audit trail by hash: a RuleSet, or why it cannot be used
    def __init__(self) -> None:
        self.sets: dict[str, RuleSet | str] = {}
        self.engines: dict[str, ComplianceEngine] = {}

    def add(self, payload: Mapping[str, Any]) -> None:
        digest, text, source = payload.get("hash"), payload.get("text"), payload.get("source")
        if not isinstance(digest, str) or not isinstance(text, str):
            return
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
            self.sets[digest] = "the recorded rules text does not have its hash"
            return
        try:
            self.sets[digest] = parse_rules(text, source=str(source or "<audit>"))
        except BifrostError as exc:
            self.sets[digest] = f"the recorded rules text no longer parses: {exc}"

    def engine(self, rules: RuleSet) -> ComplianceEngine:
        found = self.engines.get(rules.hash)
        if found is None:
            found = self.engines[rules.hash] = ComplianceEngine(rules)
        return found


def _said(verdict: object, reason: object) -> str:
    return f"{verdict}: {reason}"


def replay_decisions(store: Store, *, portfolio: str | None = None, expect_head: str | None = None) -> ReplayReport:
    """Re-decide every recorded pre-trade compliance decision under the rule versions of its day.

    See the module's docstring for what is read and compared.

    Parameters
    ----------
    store
        The store whose audit trail holds the decisions (`bifrost.execution.OrderManager`
        with its `ComplianceCheck`).
    portfolio
        Only this portfolio's decisions (None: every one).
    expect_head
        A head hash published earlier (`bifrost.compliance.audit_head`): the trail must
        still hold it, so records cut off its end are found (`verify_audit`).

    Returns
    -------
    ReplayReport
        Counts, and the mismatches (none: ``ok``).

    Raises
    ------
    InvalidInputError
        If ``portfolio`` is not a portfolio name.
    NotFoundError
        If ``portfolio`` is given and the store holds no such portfolio.

    Examples
    --------
    >>> import tempfile
    >>> from bifrost.data import EmbeddedStore
    >>> with tempfile.TemporaryDirectory() as home:
    ...     store = EmbeddedStore(home)
    ...     print(replay_decisions(store))
    ...     store.close()
    0 compliance decision(s), 0 rule result(s) replayed under 0 rules text(s): every one reproduced
    """
    if portfolio is not None:
        check_portfolio_name(portfolio)
        with store.transaction(schema=PORTFOLIO_SCHEMA, read_only=True) as db:
            require_portfolio(db, portfolio)  # an unknown portfolio is named, never an empty replay
    rules = _Rules()
    mismatches: list[dict[str, object]] = []
    n_decisions = n_results = 0
    after = 0
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        while True:
            page = db.rows(
                "SELECT seq, kind, subject, payload FROM {t}audit_log WHERE seq > ? AND kind IN (?, ?) "
                f"ORDER BY seq LIMIT {_PAGE}",
                (after, RULES_AUDIT_KIND, DECISION_AUDIT_KIND),
            )
            if not page:
                break
            after = int(page[-1][0])
            for seq, kind, subject, text in page:
                try:
                    payload = json.loads(text)
                except ValueError:
                    payload = None
                if not isinstance(payload, dict):
                    if kind == DECISION_AUDIT_KIND:
                        mismatches.append(_row(seq, subject, _DECISION_ROW, "", "(unreadable)", "not JSON"))
                    continue
                if kind == RULES_AUDIT_KIND:
                    rules.add(payload)
                    continue
                if payload.get("check") != CHECK_NAME:
                    continue
                inputs = payload.get("inputs")
                inputs = inputs if isinstance(inputs, dict) else {}
                if portfolio is not None and inputs.get("portfolio") != portfolio:
                    continue
                n_decisions += 1
                results = inputs.get("rules")
                results = [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []
                n_results += len(results)
                mismatches += _replay_one(int(seq), str(subject), payload, inputs, results, rules)
    frame = pd.DataFrame(mismatches, columns=MISMATCH_COLUMNS)
    frame["seq"] = frame["seq"].astype("int64")
    return ReplayReport(
        n_decisions=n_decisions,
        n_results=n_results,
        mismatches=frame,
        portfolio=portfolio,
        rules_hashes=tuple(rules.sets),
        audit=verify_audit(store, expect_head=expect_head),
    )


def _row(seq: object, coid: object, rule: object, version: object, recorded: str, replayed: str) -> dict[str, object]:
    return {
        "seq": int(seq),  # type: ignore[call-overload]
        "client_order_id": str(coid),
        "rule": str(rule),
        "version": str(version),
        "recorded": recorded,
        "replayed": replayed,
    }


def _replay_one(
    seq: int,
    coid: str,
    payload: Mapping[str, Any],
    inputs: Mapping[str, Any],
    results: list[dict[str, Any]],
    rules: _Rules,
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    recorded_decision = _said(payload.get("verdict"), payload.get("reason"))
    digest = inputs.get("rules_hash")
    found = rules.sets.get(digest) if isinstance(digest, str) else None
    if not isinstance(found, RuleSet):
        why = found if isinstance(found, str) else f"no compliance.rules record of the rules hash {digest!r}"
        for r in results:
            out.append(_row(seq, coid, r.get("rule"), r.get("version"), _said(r.get("verdict"), r.get("reason")), why))
        if not results:
            out.append(_row(seq, coid, _DECISION_ROW, "", recorded_decision, why))
        return out
    # 1. the results are the rule versions in force for the portfolio on the session date
    portfolio, day = inputs.get("portfolio"), _day(inputs.get("ts"))
    if isinstance(portfolio, str) and day is not None:
        try:
            expected = [(r.id, r.version) for r in rules.engine(found).plan(portfolio, day)]
        except BifrostError as exc:
            expected = None
            out.append(_row(seq, coid, _DECISION_ROW, "", recorded_decision, f"cannot plan the rules: {exc}"))
        got = [(str(r.get("rule")), str(r.get("version"))) for r in results]
        if expected is not None and got != expected:
            out.append(
                _row(
                    seq,
                    coid,
                    _DECISION_ROW,
                    "",
                    f"rules {', '.join(f'{i}@{v}' for i, v in got) or 'none'}",
                    f"in force on {day}: {', '.join(f'{i}@{v}' for i, v in expected) or 'none'}",
                )
            )
    else:
        out.append(_row(seq, coid, _DECISION_ROW, "", recorded_decision, "the decision has no portfolio or time"))
    # 2. each result re-decided under its version
    replayed: list[RuleResult] = []
    for r in results:
        rule_id, version = str(r.get("rule")), str(r.get("version"))
        recorded = _said(r.get("verdict"), r.get("reason"))
        try:
            rule = found.rule(rule_id, version)
        except BifrostError as exc:
            out.append(_row(seq, coid, rule_id, version, recorded, str(exc)))
            continue
        rule_inputs = r.get("inputs")
        if not isinstance(rule_inputs, dict):
            out.append(_row(seq, coid, rule_id, version, recorded, "no recorded inputs"))
            continue
        try:
            verdict, reason = judge(rule, rule_inputs)
        except Exception as exc:  # a kind that cannot read the recorded inputs: reported, never raised
            out.append(_row(seq, coid, rule_id, version, recorded, f"cannot decide: {type(exc).__name__}: {exc}"))
            continue
        if r.get("kind") != rule.kind or verdict != r.get("verdict") or reason != r.get("reason"):
            kind_note = "" if r.get("kind") == rule.kind else f" (kind {rule.kind}, recorded {r.get('kind')})"
            out.append(_row(seq, coid, rule_id, version, recorded, _said(verdict, reason) + kind_note))
        replayed.append(
            RuleResult(rule=rule_id, kind=rule.kind, version=version, verdict=verdict, reason=reason, inputs={})
        )
    # 3. the decision's verdict and reason from the replayed results
    if len(replayed) == len(results):
        decision = Decision(ts=pd.Timestamp(0, tz="UTC"), rules_hash=found.hash, results=tuple(replayed))
        if payload.get("verdict") != decision.verdict or payload.get("reason") != decision.reason():
            out.append(
                _row(seq, coid, _DECISION_ROW, "", recorded_decision, _said(decision.verdict, decision.reason()))
            )
    return out


def _day(value: object) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if pd.isna(stamp) or stamp.tzinfo is None:
        return None
    utc = stamp.tz_convert("UTC")
    return dt.date(utc.year, utc.month, utc.day)
