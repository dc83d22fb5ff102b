"""Compliance: the rule engine (pre-trade and post-trade) and the audit trail's reader.

The rules are declared in a TOML file (``compliance.toml`` in ``BIFROST_HOME``, or the
``compliance_rules`` setting; the documented `DEFAULT_RULES_TOML` otherwise), each rule in
dated versions; the engine judges one order against the book (pass, warn or block, with a
reason, the rule's version and its inputs). The order manager runs it as a pre-trade check
(`bifrost.execution.ComplianceCheck`), a backtest can run under it
(``bifrost.strategy.backtest(..., rules=...)``), and `surveil` re-measures a stored book
after the fact::

    from bifrost.compliance import load_rules, ComplianceEngine, surveil, replay_decisions
    rules = load_rules()                             # the file, or the default rule set
    rules.summary()                                  # every rule version, its window, its params
    report = surveil(store, "paper")                 # breaches, wash sales, concentration drift
    replay_decisions(store).ok                       # every recorded decision reproduces

The audit trail's writer is `bifrost.data.append_audit` (called inside each change's own
transaction); this package reads, verifies and proves it::

    from bifrost.compliance import verify_audit, audit_head, prove_inclusion, check_proof
    verify_audit(store).ok                          # chain and Merkle checkpoints recomputed
    head = audit_head(store)                        # publish head.hash / head.checkpoint_root
    proof = prove_inclusion(store, 42)              # a few KB, checked without the log
    check_proof(proof, root=head.checkpoint_root)
"""

from __future__ import annotations

from bifrost.compliance._audit import (
    PROBLEMS,
    PROOF_VERSION,
    AuditHead,
    AuditVerification,
    BadRecord,
    Problem,
    audit_head,
    check_proof,
    export_audit,
    prove_inclusion,
    read_proof,
    verify_audit,
)
from bifrost.compliance._compile import COMPILED_KINDS, CompiledRules, compile_rules
from bifrost.compliance._engine import ComplianceEngine, judge, reference_price
from bifrost.compliance._kinds import PACKS, RULE_KINDS
from bifrost.compliance._model import (
    BookState,
    Decision,
    Param,
    ProposedOrder,
    RecentOrder,
    Rule,
    RuleKind,
    RuleResult,
    Severity,
    Verdict,
)
from bifrost.compliance._replay import ReplayReport, replay_decisions
from bifrost.compliance._rules import (
    DEFAULT_RULES_TOML,
    RULES_FILE_NAME,
    RuleSet,
    default_rules,
    load_rules,
    parse_rules,
    rules_file_doc,
)
from bifrost.compliance._schema import COMPLIANCE_SCHEMA
from bifrost.compliance._surveil import SurveillanceReport, surveil

__all__ = [
    "COMPILED_KINDS",
    "COMPLIANCE_SCHEMA",
    "DEFAULT_RULES_TOML",
    "PACKS",
    "PROBLEMS",
    "PROOF_VERSION",
    "RULES_FILE_NAME",
    "RULE_KINDS",
    "AuditHead",
    "AuditVerification",
    "BadRecord",
    "BookState",
    "CompiledRules",
    "ComplianceEngine",
    "Decision",
    "Param",
    "Problem",
    "ProposedOrder",
    "RecentOrder",
    "ReplayReport",
    "Rule",
    "RuleKind",
    "RuleResult",
    "RuleSet",
    "Severity",
    "SurveillanceReport",
    "Verdict",
    "audit_head",
    "check_proof",
    "compile_rules",
    "default_rules",
    "export_audit",
    "judge",
    "load_rules",
    "parse_rules",
    "prove_inclusion",
    "read_proof",
    "reference_price",
    "replay_decisions",
    "rules_file_doc",
    "surveil",
    "verify_audit",
]
