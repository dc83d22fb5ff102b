"""PostgreSQL binary COPY, encoded with numpy instead of row by row in Python.

Format (PostgreSQL docs, "COPY ... Binary Format"): an 11-byte signature, int32 flags,
int32 header-extension length; then per tuple an int16 field count and, per field, an
int32 byte length (-1 for NULL) followed by the value in network byte order; a trailing
int16 -1. timestamptz is int64 microseconds since 2000-01-01 00:00 UTC; float8 is IEEE.
Tuples may come in any order, so rows are grouped by symbol (fixed text length) and by
whether adj_close is NULL, and each group is one structured array.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bifrost.data._columns import BarColumns

__all__ = ["COPY_COLUMNS", "HEADER", "TRAILER", "encode_bars"]

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
COPY_COLUMNS = ("symbol", "ts", "open", "high", "low", "close", "volume", "adj_close")
_FLOATS = ("open", "high", "low", "close", "volume")
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds


def _dtype(symbol_len: int, with_adj: bool) -> np.dtype:
    fields: list[tuple[str, str]] = [("n", ">i2"), ("sl", ">i4"), ("s", f"S{symbol_len}"), ("tl", ">i4"), ("t", ">i8")]
    for f in _FLOATS:
        fields += [(f + "_l", ">i4"), (f, ">f8")]
    fields += [("adj_l", ">i4")] + ([("adj", ">f8")] if with_adj else [])
    return np.dtype(fields)


def encode_bars(cols: BarColumns) -> Iterator[bytes]:
    """Yield the binary COPY stream (header, tuples, trailer) for ``COPY_COLUMNS``."""
    yield HEADER
    us = cols.ts // 1000 - _PG_EPOCH_US
    adj = cols.values.get("adj_close")
    for code, a, b in cols.blocks():
        name = cols.symbols[code].encode()
        has_adj = np.isfinite(adj[a:b]) if adj is not None else np.zeros(b - a, dtype=bool)
        for with_adj in (True, False):
            rows = np.flatnonzero(has_adj == with_adj) + a
            if rows.size == 0:
                continue
            rec = np.empty(rows.size, dtype=_dtype(len(name), with_adj))
            rec["n"] = len(COPY_COLUMNS)
            rec["sl"] = len(name)
            rec["s"] = name
            rec["tl"] = 8
            rec["t"] = us[rows]
            for f in _FLOATS:
                rec[f + "_l"] = 8
                rec[f] = cols.values[f][rows]
            if with_adj:
                assert adj is not None
                rec["adj_l"] = 8
                rec["adj"] = adj[rows]
            else:
                rec["adj_l"] = -1
            yield rec.tobytes()
    yield TRAILER
