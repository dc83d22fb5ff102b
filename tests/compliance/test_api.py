"""bifrost.compliance's public names: each resolves, sorted, and importing it compiles no engine."""

from __future__ import annotations

import subprocess
import sys

import bifrost.compliance


def test_compliance_public_names_resolve_and_are_sorted() -> None:
    assert all(getattr(bifrost.compliance, name) is not None for name in bifrost.compliance.__all__)
    assert bifrost.compliance.__all__ == sorted(bifrost.compliance.__all__, key=lambda n: (not n.isupper(), n))


def test_compliance_import_loads_neither_numba_nor_execution() -> None:
    # the rule engine sits left of execution (DESIGN.md's layers) and needs no compiled kernel
    code = (
        "import sys, bifrost.compliance as c; c.load_rules, c.ComplianceEngine, c.surveil, c.replay_decisions; "
        "print(sorted(m for m in ('numba', 'bifrost.execution', 'bifrost.strategy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]"]
