"""Compliance: reading, verifying and proving the audit trail the other packages append to.

The writer is `bifrost.data.append_audit` (called inside each change's own transaction);
this package only reads::

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

__all__ = [
    "PROBLEMS",
    "PROOF_VERSION",
    "AuditHead",
    "AuditVerification",
    "BadRecord",
    "Problem",
    "audit_head",
    "check_proof",
    "export_audit",
    "prove_inclusion",
    "read_proof",
    "verify_audit",
]
