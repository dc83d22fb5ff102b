"""Fama–French factor files (Kenneth R. French Data Library) as decimal returns."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bifrost._checks import TS_MAX, TS_MIN, quote
from bifrost.errors import DataSourceError, SchemaError

__all__ = ["read_fama_french"]


def read_fama_french(path: str | Path) -> pd.DataFrame:
    """Read a Fama–French factors CSV: daily (``YYYYMMDD``) or monthly (``YYYYMM``) rows.

    Accepts the library's raw layout (notes above the header, right-aligned values, a
    copyright footer, further blocks such as annual factors after a blank line: only the
    first block is read) and plain CSVs with a ``Date`` column. Values are converted from
    percent to decimals (0.10 → 0.001). Dates are UTC: the day, or the first of the month.

    Raises
    ------
    SchemaError
        If no header with ``Mkt-RF`` is found, or a row has a bad date, a non-numeric or
        non-finite value, or a return of 100% or more in magnitude (the message names the
        file and line).
    DataSourceError
        If the file cannot be read or is not UTF-8 text.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DataSourceError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start}); is it compressed?") from exc
    except OSError as exc:
        raise DataSourceError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    header_at = next((i for i, line in enumerate(lines) if "Mkt-RF" in line), None)
    if header_at is None:
        raise SchemaError(f"{p}: no header line with 'Mkt-RF' (is this a Fama–French factors file?)")
    columns = [c.strip() for c in lines[header_at].split(",")][1:]
    dates: list[str] = []
    rows: list[list[float]] = []
    for number, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        if not line.strip():
            break  # end of the first block
        fields = [f.strip() for f in line.split(",")]
        if not fields[0].isdigit():
            break  # a footer or the title of the next block
        if len(fields) != len(columns) + 1:
            raise SchemaError(f"{p}:{number}: expected {len(columns) + 1} fields, got {len(fields):,}")
        try:
            values = [float(v) for v in fields[1:]]
        except ValueError as exc:
            raise SchemaError(f"{p}:{number}: non-numeric factor value in {quote(fields[1:])}") from exc
        # percent returns: a factor (or the risk-free rate) never moves 100% in a period
        bad = next((v for v in values if not math.isfinite(v) or abs(v) >= 100.0), None)
        if bad is not None:
            raise SchemaError(
                f"{p}:{number}: factor value {bad:g} is not a percent return (finite, below 100 in magnitude)"
            )
        rows.append([v / 100.0 for v in values])
        dates.append(fields[0])
    if not rows:
        raise SchemaError(f"{p}: no data rows after the header on line {header_at + 1}")
    width = {len(d) for d in dates}
    if width not in ({8}, {6}):
        raise SchemaError(f"{p}: dates must all be YYYYMMDD or all YYYYMM, got lengths {sorted(width)}")
    fmt = "%Y%m%d" if width == {8} else "%Y%m"
    index = pd.to_datetime(pd.Index(dates), format=fmt, errors="coerce")
    outside = (index < TS_MIN.tz_localize(None)) | (index > TS_MAX.tz_localize(None))
    if index.isna().any() or outside.any():
        unread = dates[int(np.flatnonzero(index.isna() | outside)[0])]
        raise SchemaError(f"{p}: unparseable date {quote(unread)} (dates are from 1678 to 2261)")
    frame = pd.DataFrame(rows, index=index.tz_localize("UTC").rename("ts"), columns=columns)
    frame.attrs["frequency"] = "1d" if fmt == "%Y%m%d" else "1mo"
    return frame
