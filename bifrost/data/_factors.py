"""Fama–French factor files (Kenneth R. French Data Library) as decimal returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

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
        If no header with ``Mkt-RF`` is found, or a row has a bad date or value (the
        message names the file and line).
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise DataSourceError(f"{p}: cannot read: {exc}") from exc
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
            raise SchemaError(f"{p}:{number}: expected {len(columns) + 1} fields, got {len(fields)}")
        try:
            rows.append([float(v) / 100.0 for v in fields[1:]])
        except ValueError as exc:
            raise SchemaError(f"{p}:{number}: non-numeric factor value in {fields[1:]}") from exc
        dates.append(fields[0])
    if not rows:
        raise SchemaError(f"{p}: no data rows after the header on line {header_at + 1}")
    width = {len(d) for d in dates}
    if width not in ({8}, {6}):
        raise SchemaError(f"{p}: dates must all be YYYYMMDD or all YYYYMM, got lengths {sorted(width)}")
    fmt = "%Y%m%d" if width == {8} else "%Y%m"
    index = pd.to_datetime(pd.Index(dates), format=fmt, errors="coerce")
    if index.isna().any():
        bad = dates[int(np.flatnonzero(index.isna())[0])]
        raise SchemaError(f"{p}: unparseable date {bad!r}")
    frame = pd.DataFrame(rows, index=index.tz_localize("UTC").rename("ts"), columns=columns)
    frame.attrs["frequency"] = "1d" if fmt == "%Y%m%d" else "1mo"
    return frame
