"""JSON that every parser reads: a number that is not finite is written as ``null``.

Python's `json` writes ``NaN``, ``Infinity`` and ``-Infinity`` by default, which are not JSON
(RFC 8259) and break `jq`, JavaScript's ``JSON.parse`` and most other readers. Every JSON
writer of bifrost goes through :func:`dumps`: NaN and ±inf become ``null`` (the usual
"no value"), numpy scalars become plain numbers, and the encoder runs with
``allow_nan=False`` so that no other path can slip a non-JSON token through.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["dumps", "finite_or_none"]


def finite_or_none(value: Any) -> Any:
    """Return ``value`` with every non-finite float (at any depth) replaced by None.

    Examples
    --------
    >>> finite_or_none({"a": [1.5, float("inf")], "b": float("nan")})
    {'a': [1.5, None], 'b': None}
    """
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, Mapping):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    if isinstance(value, np.ndarray):
        return [finite_or_none(v) for v in value.tolist()]
    return value


def dumps(value: Any) -> str:
    """Return ``value`` as JSON text, non-finite numbers as ``null``.

    Examples
    --------
    >>> dumps({"sharpe": float("nan"), "profit_factor": float("inf"), "n": 3})
    '{"sharpe": null, "profit_factor": null, "n": 3}'
    """
    return json.dumps(finite_or_none(value), allow_nan=False)
