"""Array aliases and the one boundary conversion for numeric inputs."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from bifrost.errors import InvalidInputError

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
ArrayLike1D: TypeAlias = npt.ArrayLike

__all__ = ["ArrayLike1D", "BoolArray", "FloatArray", "IntArray", "as_float_array_1d"]


def as_float_array_1d(values: Any, name: str, *, min_obs: int = 1) -> FloatArray:
    """Convert ``values`` to a 1-D float64 array, or raise InvalidInputError naming ``name``.

    Text is not a number here (``"1"`` is refused: parse at the edge that reads text), and
    an integer beyond float64's range is refused rather than raising OverflowError.
    Non-finite values pass: the caller states whether NaN or inf mean something to it.
    """
    if isinstance(values, str | bytes):
        raise InvalidInputError(f"{name} must be numeric, got {type(values).__name__}")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(f"{name} must be numeric, got {type(values).__name__}") from exc
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size < min_obs:
        raise InvalidInputError(f"{name} needs at least {min_obs} observations, got {arr.size}")
    return arr
