"""``bifrost compliance``: the rules in force, a dry run of an order, surveillance of a book, replay.

- ``rules`` prints the effective rule set (the ``--rules`` file, else the ``compliance_rules``
  setting, else ``BIFROST_HOME/compliance.toml``, else the documented default) with its
  source and hash; ``rules --check FILE`` validates a file without using it.
- ``check`` runs the pre-trade rules on an order that is not sent (nothing is written to
  the store): each rule's verdict, version and reason, and the verdict of them all.
- ``surveil`` re-measures a portfolio's book-level rules over its ledger, session by session
  (breaches, wash sales, concentration drift); ``--html`` writes the report as a page.
- ``replay`` re-decides every recorded pre-trade decision under the rule version of its day.

Exit status: ``check`` 0 pass or warn, 1 block; ``replay`` 0 when every decision
reproduces, 1 on a mismatch; 2 for bad input (an unknown portfolio, a bad quantity, a rules
file that does not parse: one line on stderr naming the field, or the file's line and key),
as every verb.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bifrost.cli._common import JsonOpt, echo_json, iso, records, store
from bifrost.execution import OrderType, Side

if TYPE_CHECKING:
    from bifrost.compliance import Decision, Rule, RuleResult, RuleSet

NAME = "compliance"
app = typer.Typer(
    help="Compliance rules: show or check the rules file, dry-run an order, surveil a book, replay decisions."
)

RulesOpt = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="The rules file (TOML; default: the compliance_rules setting, else BIFROST_HOME/compliance.toml, "
        "else the built-in default rules).",
    ),
]


def _load(path: Path | None) -> RuleSet:
    # the rules the order manager would apply: the file given, else the setting, else the home's file,
    # else the default (a missing file given by name is an error naming it, never the default instead)
    from bifrost.compliance import load_rules

    return load_rules(path)


def _plain(value: object) -> Any:
    # a rule's parameter as JSON: dates in ISO 8601, Decimals as numbers, tuples as lists
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _param_text(value: object) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_param_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_param_text(v) for v in value) + "]"
    return str(_plain(value))


def _effective(rule: Rule) -> str:
    start, end = rule.effective_from, rule.effective_to
    if start is None and end is None:
        return "always"
    if start is None:
        return f"to {end}"
    return f"from {start}" if end is None else f"{start} to {end}"


def _rule_record(rule: Rule, rule_set: RuleSet) -> dict[str, Any]:
    return {
        "id": rule.id,
        "kind": rule.kind,
        "version": rule.version,
        "severity": rule.severity,
        "effective_from": _plain(rule.effective_from),
        "effective_to": _plain(rule.effective_to),
        "portfolios": list(rule.portfolios),
        "params": _plain(rule.params),
        "line": rule.line,
        "description": rule_set.descriptions.get((rule.id, rule.version), ""),
    }


def _table(rows: Sequence[Mapping[str, str]]) -> str:
    # a plain text table, columns padded to their widest cell (the last column is not padded)
    if not rows:
        return ""
    names = list(rows[0])
    widths = {n: max(len(n), *(len(r[n]) for r in rows)) for n in names}
    lines = [[n for n in names], *([r[n] for n in names] for r in rows)]
    return "\n".join(
        " ".join(cell if i == len(names) - 1 else cell.ljust(widths[names[i]]) for i, cell in enumerate(line)).rstrip()
        for line in lines
    )


def _count(rule_set: RuleSet) -> tuple[int, int]:
    # (rules, versions): a rule with dated versions is one rule
    return len({r.id for r in rule_set.rules}), len(rule_set.rules)


@app.command("rules")
def compliance_rules(
    check: Annotated[
        Path | None,
        typer.Option(
            "--check",
            help="Validate this rules file and say so (exit 0), or name its bad line and key (exit 2); "
            "nothing uses it.",
        ),
    ] = None,
    rules: RulesOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print the effective rule set: its source, hash, and each rule version's kind, dates and params.

    With ``--check FILE``: validate FILE and print ``FILE: ok, N rules (M versions), hash H``
    (exit 0), or one line naming the line and key that is wrong (exit 2).
    """
    from bifrost.errors import InvalidInputError

    if check is not None and rules is not None:
        raise InvalidInputError("bifrost compliance rules: give --check FILE (validate it) or --rules FILE (show it)")
    rule_set = _load(check if check is not None else rules)
    n_rules, n_versions = _count(rule_set)
    if check is not None:
        if json_out:
            echo_json({"file": str(check), "ok": True, "rules": n_rules, "versions": n_versions, "hash": rule_set.hash})
        else:
            typer.echo(f"{check}: ok, {n_rules} rules ({n_versions} versions), hash {rule_set.hash}")
        return
    if json_out:
        echo_json(
            {
                "source": rule_set.source,
                "hash": rule_set.hash,
                "rules": [_rule_record(r, rule_set) for r in rule_set.rules],
            }
        )
        return
    typer.echo(f"rules: {rule_set.source}, hash {rule_set.hash}: {n_rules} rules ({n_versions} versions)")
    rows = [
        {
            "id": r.id,
            "kind": r.kind,
            "version": r.version,
            "severity": r.severity,
            "effective": _effective(r),
            "portfolios": ", ".join(r.portfolios) or "all",
            "params": ", ".join(f"{k}={_param_text(v)}" for k, v in r.params.items() if v is not None),
        }
        for r in rule_set.rules
    ]
    if rows:
        typer.echo(_table(rows))


def _result_row(result: RuleResult) -> dict[str, str]:
    return {
        "rule": result.rule,
        "kind": result.kind,
        "version": result.version,
        "verdict": result.verdict,
        "reason": result.reason,
    }


def _decision_record(decision: Decision, rule_set: RuleSet, order: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "verdict": decision.verdict,
        "reason": decision.reason(),
        "ts": iso(decision.ts),
        "rules_hash": decision.rules_hash,
        "rules_source": rule_set.source,
        "order": dict(order),
        "results": [r.to_dict() for r in decision.results],
    }


@app.command("check")
def compliance_check(
    portfolio: Annotated[str, typer.Option("--portfolio", help="The portfolio the order would trade in.")],
    symbol: Annotated[str, typer.Option(help="The symbol, as the store names it.")],
    side: Annotated[Side, typer.Option(help="buy or sell.")],
    quantity: Annotated[str, typer.Option(help="Shares (> 0).")],
    order_type: Annotated[OrderType, typer.Option("--type", help="The order type.")] = OrderType.MARKET,
    limit_price: Annotated[str | None, typer.Option(help="Limit price (limit, stop_limit).")] = None,
    stop_price: Annotated[str | None, typer.Option(help="Stop (trigger) price (stop, stop_limit).")] = None,
    rules: RulesOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Dry-run the pre-trade rules on an order that is not sent: each rule's verdict, version and reason.

    The order is judged on the portfolio's book now (its positions, working orders and the
    store's last closes), exactly as ``bifrost orders submit`` would judge it, but nothing is
    sent and nothing is written. Exit status 0 when the rules pass or only warn, 1 when one
    blocks, 2 when the request or the rules file is invalid.
    """
    from bifrost.execution import OrderRequest, dry_run

    # the library parses the loose fields and names a bad one (quantity, limit_price, ...)
    request = OrderRequest.create(
        portfolio=portfolio,
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        limit_price=limit_price,
        stop_price=stop_price,
    )
    rule_set = _load(rules)
    with store() as bars:
        decision = dry_run(bars, request, rules=rule_set)
    order = {
        "portfolio": request.portfolio,
        "symbol": request.symbol,
        "side": str(request.side),
        "order_type": str(request.order_type),
        "quantity": _plain(request.quantity),
        "limit_price": _plain(request.limit_price),
        "stop_price": _plain(request.stop_price),
    }
    if json_out:
        echo_json(_decision_record(decision, rule_set, order))
    else:
        stop = f" stop {request.stop_price}" if request.stop_price is not None else ""
        limit = f" at {request.limit_price}" if request.limit_price is not None else ""
        typer.echo(
            f"{request.side} {request.quantity} {request.symbol} {request.order_type}{stop}{limit} in "
            f"{request.portfolio}: rules {rule_set.source}, hash {decision.rules_hash}"
        )
        if decision.results:
            typer.echo(_table([_result_row(r) for r in decision.results]))
        else:
            typer.echo("no rule applies to this order")
        reason = decision.reason()
        typer.echo(f"verdict: {decision.verdict}" + (f" ({reason})" if reason else ""))
    if decision.verdict == "block":
        raise typer.Exit(1)


@app.command("surveil")
def compliance_surveil(
    portfolio: Annotated[str, typer.Argument(metavar="PORTFOLIO", help="The portfolio to surveil.")],
    start: Annotated[str | None, typer.Option(help="First session date (default: the ledger's first).")] = None,
    end: Annotated[str | None, typer.Option(help="Last session date, included (default: the last close).")] = None,
    rules: RulesOpt = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the report as a self-contained HTML page here.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Surveil a portfolio after the fact: rule breaches per session (by trade or price move), wash sales, drift.

    The book-level rules in force each session (position share of NAV, sector and issuer
    concentration, gross exposure) are re-measured at that session's close over the stored
    ledger; the run is recorded in the audit trail. Prints the summary and the counts.
    """
    from bifrost._paths import output_path
    from bifrost.compliance import surveil

    if html is not None:
        html = output_path(html, "--html")  # refused before the run is surveilled and audited
    rule_set = _load(rules)
    with store() as bars:
        # the library parses the dates (and names a bad one)
        report = surveil(bars, portfolio, rules=rule_set, start=start, end=end)
    if html is not None:
        report.to_html(html)
    first = None if report.start is None else report.start.date().isoformat()
    last = None if report.end is None else report.end.date().isoformat()
    if json_out:
        echo_json(
            {
                "portfolio": report.portfolio,
                "rules_hash": report.rules_hash,
                "rules_source": report.rules_source,
                "start": first,
                "end": last,
                "n_breaches": report.n_breaches,
                "n_episodes": len(report.episodes),
                "n_wash_sales": report.n_wash_sales,
                "summary": records(report.summary()),
                "breaches": records(report.breaches),
                "episodes": records(report.episodes),
                "wash_sales": records(report.wash_sales),
                "drift": records(report.drift),
                "html": None if html is None else str(html),
            }
        )
        return
    period = "no fills to surveil" if first is None else f"sessions {first} to {last}"
    typer.echo(
        f"surveillance of {report.portfolio}, {period} (rules {report.rules_source}, hash {report.rules_hash}): "
        f"{report.n_breaches} breach(es) in {len(report.episodes)} episode(s), {report.n_wash_sales} wash sale(s)"
    )
    summary = report.summary()
    if not summary.empty:
        typer.echo(summary.to_string(index=False))
    if html is not None:
        typer.echo(f"wrote the report to {html}")


@app.command("replay")
def compliance_replay(
    portfolio: Annotated[str | None, typer.Option("--portfolio", help="Only this portfolio's decisions.")] = None,
    expect_head: Annotated[
        str | None,
        typer.Option("--expect-head", help="A head hash seen earlier (`bifrost audit head`): detects cut-off records."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Re-decide every recorded pre-trade decision under the rule version of its day.

    Reads the audit trail (the rules files by hash and the compliance decisions) and decides
    each rule result again from its recorded inputs; the trail itself is verified too (an
    altered or cut-off trail proves nothing). Exit status 0 when the trail is intact and every
    decision reproduces, 1 otherwise (the mismatches are printed).
    """
    from bifrost.compliance import replay_decisions

    with store() as bars:
        report = replay_decisions(bars, portfolio=portfolio, expect_head=expect_head)
    if json_out:
        echo_json(report.to_dict())
    else:
        typer.echo(str(report))
        if not report.mismatches.empty:
            typer.echo(report.mismatches.to_string(index=False))
    if not report.ok:
        raise typer.Exit(1)
