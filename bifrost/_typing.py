"""Array aliases (the one boundary conversion, `as_float_array_1d`, lives in `bifrost._checks`)."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
ArrayLike1D: TypeAlias = npt.ArrayLike

__all__ = ["ArrayLike1D", "BoolArray", "FloatArray", "IntArray"]
