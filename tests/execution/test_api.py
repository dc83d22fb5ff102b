"""bifrost.execution's public names: each resolves, and the order vocabulary loads no engine."""

from __future__ import annotations

import subprocess
import sys

import pytest

import bifrost.execution


def test_execution_public_names_resolve_and_are_sorted() -> None:
    assert all(getattr(bifrost.execution, name) is not None for name in bifrost.execution.__all__)
    assert bifrost.execution.__all__ == sorted(bifrost.execution.__all__, key=lambda n: (not n.isupper(), n))


def test_execution_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchBroker'"):
        _ = bifrost.execution.NoSuchBroker


def test_execution_vocabulary_loads_neither_numba_nor_alpaca_until_asked() -> None:
    code = (
        "import sys, bifrost.execution as e; e.OrderRequest, e.OrderStatus, e.TradingState; "
        "print(sorted(m for m in ('numba', 'alpaca', 'bifrost.execution._paper') if m in sys.modules)); "
        "e.PaperBroker; print('numba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "True"]
