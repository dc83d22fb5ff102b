"""A spy on the risk package's boundary checks: which inputs were checked, and how often."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

_CHECKS = ("as_fraction", "as_positive_int", "as_float_array_1d", "_return_matrix_problem")


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count each boundary check a risk call makes, by check and field (``as_fraction:confidence``).

    Every ``bifrost.risk`` module's own reference to a check is wrapped (modules import the
    checks by name, so patching `bifrost._checks` alone would see none of the calls). The
    return-series checks count under ``returns``: ``as_float_array_1d`` of one series and
    ``_return_matrix_problem`` of a days × assets matrix.
    """
    calls: Counter[str] = Counter()

    def spy(name: str, check: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            field = "returns" if name == "_return_matrix_problem" else str(args[1])
            calls[f"{name}:{field}"] += 1
            return check(*args, **kwargs)

        return counted

    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("bifrost.risk") and module is not None:
            for name in _CHECKS:
                if hasattr(module, name):
                    monkeypatch.setattr(module, name, spy(name, getattr(module, name)))
    return calls
