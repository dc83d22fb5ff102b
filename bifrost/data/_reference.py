"""Symbol reference data: name, sector, industry, currency, lot size and tick size per symbol.

One row per symbol in the table ``symbol_reference`` (the ``reference`` schema, applied by
the store's migration runner on every backend). A file or frame is checked whole before
anything is written, then merged in one transaction: a symbol already there is updated
(upsert by symbol; an empty name, sector or industry keeps the stored one), a new one
added; with ``replace`` the table becomes exactly the file.

The fields, every one a column of the file (``REFERENCE_COLUMNS``):

- ``symbol``: a symbol as everywhere in bifrost (`bifrost._checks.check_symbol`), once per file.
- ``name``, ``sector``, ``industry``: printable text of at most ``NAME_MAX_CHARS`` /
  ``LABEL_MAX_CHARS`` characters, or empty (not known: a symbol without a sector is left
  out of sector limits and sector shocks).
- ``currency``: the code of the currency its prices are quoted in, three upper-case letters
  as in ISO 4217 (``USD``).
- ``lot_size``: the shares of one round lot, a whole number from 1 to ``LOT_SIZE_MAX``.
- ``tick_size``: the smallest price increment, a finite decimal from ``PRICE_MIN`` to
  ``PRICE_MAX`` (``0.01``); kept as exact decimal text, so that a price can be checked
  against it exactly (`tick_size` returns a `~decimal.Decimal`).

A symbol may have reference data before (or without) bars: the report names those the bar
store does not hold.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pandas as pd

from bifrost._checks import (
    PRICE_MAX,
    PRICE_MIN,
    as_finite_float,
    as_positive_int,
    check_symbol,
    check_symbols,
    quote,
)
from bifrost._files import file_errors, read_header
from bifrost.data._schema import Migration, Schema, StateDb, register_schema
from bifrost.data._store import Store
from bifrost.errors import InvalidInputError, NotFoundError

__all__ = [
    "LABEL_MAX_CHARS",
    "LOT_SIZE_MAX",
    "NAME_MAX_CHARS",
    "REFERENCE_COLUMNS",
    "REFERENCE_SCHEMA",
    "SymbolReference",
    "SymbolsReport",
    "import_symbols",
    "read_symbols",
    "symbol_reference",
    "tick_size",
]

REFERENCE_COLUMNS: Final = ("symbol", "name", "sector", "industry", "currency", "lot_size", "tick_size")
NAME_MAX_CHARS: Final = 200
LABEL_MAX_CHARS: Final = 100  # a sector or an industry
LOT_SIZE_MAX: Final = 1_000_000
_TEXT_LIMITS: Final = {"name": NAME_MAX_CHARS, "sector": LABEL_MAX_CHARS, "industry": LABEL_MAX_CHARS}
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")
_DIGITS_RE: Final = re.compile(r"[0-9]{1,7}")
_DECIMAL_RE: Final = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")
_DECIMAL_MAX_DIGITS: Final = 28
# what read_symbols returns, on every backend
_READ_COLUMNS: Final = (*REFERENCE_COLUMNS, "source", "updated")

# the data package's reference table; append only: a released migration never changes
REFERENCE_SCHEMA = register_schema(
    Schema(
        "reference",
        (
            Migration(
                1,
                """
                CREATE TABLE {t}symbol_reference (
                    symbol TEXT PRIMARY KEY, name TEXT, sector TEXT, industry TEXT,
                    currency TEXT NOT NULL, lot_size {bigint} NOT NULL, tick_size TEXT NOT NULL,
                    source TEXT NOT NULL, updated {timestamp} NOT NULL
                )
                """,
            ),
        ),
    )
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolReference:
    """One symbol's reference data; ``tick_size`` exact, as an order's price is checked against it."""

    symbol: str
    name: str | None
    sector: str | None
    industry: str | None
    currency: str
    lot_size: int
    tick_size: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolsReport:
    """What `import_symbols` did: symbols added, updated, unchanged and removed."""

    source: str
    rows: int
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]  # with replace: stored symbols the file does not name
    not_in_store: tuple[str, ...]  # symbols of the file without bars in the store (allowed)
    replace: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready values."""
        return {
            "source": self.source, "rows": self.rows, "replace": self.replace, "added": list(self.added),
            "updated": list(self.updated), "unchanged": list(self.unchanged), "removed": list(self.removed),
            "not_in_store": list(self.not_in_store),
        }  # fmt: skip

    def warning(self) -> str | None:
        """Return the line that names the symbols without bars, or None when every one has bars."""
        if not self.not_in_store:
            return None
        shown = ", ".join(self.not_in_store[:10]) + (
            f", … ({len(self.not_in_store)} in all)" if len(self.not_in_store) > 10 else ""
        )
        return f"{len(self.not_in_store)} symbol(s) have reference data but no bars in the store: {shown}"

    def summary(self) -> str:
        """Return a one-paragraph, human-readable account of the import."""
        text = (
            f"symbols {self.source}{' (replace)' if self.replace else ''}: {self.rows} row(s): "
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged"
            + (f", {len(self.removed)} removed" if self.replace else "")
        )
        warning = self.warning()
        return text + (f"; {warning}" if warning else "")

    def _repr_html_(self) -> str:
        return f"<pre>{self.summary()}</pre>"


# -- reading and checking the input --------------------------------------------------------------
def _read_csv(path: Path) -> pd.DataFrame:
    header = read_header(path, what="a symbol reference file", example=",".join(REFERENCE_COLUMNS), max_columns=32)
    named = next(csv.reader([header]), [])
    repeated = sorted({c.strip() for c in named if [x.strip() for x in named].count(c.strip()) > 1})
    if repeated:  # pandas would rename the second one (sector.1)
        raise InvalidInputError(f"{path}: repeated column(s) {repeated}; give each column once")
    with file_errors(path):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    if not isinstance(frame.index, pd.RangeIndex):
        raise InvalidInputError(
            f"{path}: rows have more fields than the header (an unquoted comma in a name?); "
            "quote a field that holds a comma"
        )
    return frame


def _check_columns(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in REFERENCE_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in REFERENCE_COLUMNS]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if missing or unknown or repeated:
        problems = [f"missing column(s) {missing}"] if missing else []
        if unknown:
            shown = ", ".join(quote(c, 40) for c in unknown[:10]) + (
                f", … ({len(unknown)} in all)" if len(unknown) > 10 else ""
            )
            problems.append(f"unknown column(s) [{shown}]")
        if repeated:
            problems.append(f"repeated column(s) {repeated}")
        raise InvalidInputError(f"{origin}: {'; '.join(problems)}; expected the columns {list(REFERENCE_COLUMNS)}")
    out = frame.copy()
    out.columns = columns
    return out


def _blank(value: object) -> bool:
    # an empty cell: "" from a file, None or NaN from a frame
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def _text(value: object, column: str) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{column} must be text, got {type(value).__name__} {quote(value)}")
    text = value.strip()
    limit = _TEXT_LIMITS[column]
    if len(text) > limit or not text.isprintable():
        raise InvalidInputError(f"{column} must be printable text of at most {limit} characters, got {quote(value)}")
    return text


def _currency(value: object) -> str:
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or _CURRENCY_RE.fullmatch(text) is None:
        raise InvalidInputError(
            f"currency must be three upper-case letters as in ISO 4217 (USD, EUR), got {quote(value)}"
        )
    return text


def _lot_size(value: object) -> int:
    # text (a file's cell) is digits only: "100.0", "1e2" and "1_000" are refused, as a float is
    if isinstance(value, str):
        text = value.strip()
        if _DIGITS_RE.fullmatch(text) is None:
            raise InvalidInputError(
                f"lot_size must be a whole number of shares from 1 to {LOT_SIZE_MAX:,} (digits only), "
                f"got {quote(value)}"
            )
        value = int(text)
    return as_positive_int(value, "lot_size", maximum=LOT_SIZE_MAX, unit="shares", kind="a whole number")


def _tick_size(value: object) -> Decimal:
    # text is read as an exact decimal; a number (a frame's float) by its shortest repr
    if isinstance(value, str):
        text = value.strip()
        if _DECIMAL_RE.fullmatch(text) is None:
            raise InvalidInputError(f"tick_size must be a positive decimal number such as 0.01, got {quote(value)}")
        exact = Decimal(text)
        if not Decimal(repr(PRICE_MIN)) <= exact <= Decimal(repr(PRICE_MAX)):
            raise InvalidInputError(f"tick_size must be between {PRICE_MIN:g} and {PRICE_MAX:g}, got {quote(value)}")
    else:
        number = as_finite_float(value, "tick_size", minimum=PRICE_MIN, maximum=PRICE_MAX)
        exact = value if isinstance(value, Decimal) else Decimal(repr(number))
    digits = "".join(map(str, exact.as_tuple().digits)).strip("0")
    if len(digits) > _DECIMAL_MAX_DIGITS:  # counted before normalize(), which rounds to 28 digits
        raise InvalidInputError(f"tick_size has at most {_DECIMAL_MAX_DIGITS} significant digits, got {quote(value)}")
    exact = exact.normalize()
    return exact.quantize(Decimal(1)) if exact == exact.to_integral_value() else exact


def _row(record: dict[str, object]) -> SymbolReference:
    # each field checked in the file's column order; the first bad one is named
    column = "symbol"
    try:
        symbol = check_symbol(record["symbol"].strip() if isinstance(record["symbol"], str) else record["symbol"])
        column = "name"
        name = _text(record["name"], "name")
        column = "sector"
        sector = _text(record["sector"], "sector")
        column = "industry"
        industry = _text(record["industry"], "industry")
        column = "currency"
        currency = _currency(record["currency"])
        column = "lot_size"
        lot = _lot_size(record["lot_size"])
        column = "tick_size"
        tick = _tick_size(record["tick_size"])
    except InvalidInputError as exc:
        raise _AtColumn(column, str(exc)) from None
    return SymbolReference(
        symbol=symbol, name=name, sector=sector, industry=industry, currency=currency, lot_size=lot, tick_size=tick
    )


class _AtColumn(Exception):
    # a field's problem, before the caller adds the file and row
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def _checked(frame: pd.DataFrame, origin: str, *, lines: bool) -> list[SymbolReference]:
    # every row checked before anything is written; rows are file lines (header = line 1) or frame rows
    frame = _check_columns(frame, origin)
    if frame.empty:
        raise InvalidInputError(f"{origin}: no rows (only a header?); nothing was imported")
    out: list[SymbolReference] = []
    seen: dict[str, str] = {}
    for i, record in enumerate(frame[list(REFERENCE_COLUMNS)].to_dict(orient="records")):
        where = f"{origin}: line {i + 2}" if lines else f"{origin}: row {i + 1} (index {quote(frame.index[i], 40)})"
        try:
            ref = _row({str(k): v for k, v in record.items()})
        except _AtColumn as exc:
            raise InvalidInputError(f"{where}, column {exc.column}: {exc}") from None
        if ref.symbol in seen:
            raise InvalidInputError(
                f"{where}, column symbol: {ref.symbol!r} is repeated ({seen[ref.symbol]} names it too); "
                "give each symbol once"
            )
        seen[ref.symbol] = f"line {i + 2}" if lines else f"row {i + 1}"
        out.append(ref)
    return out


# -- the store -----------------------------------------------------------------------------------
def _stored_row(ref: SymbolReference) -> tuple[object, ...]:
    return (ref.symbol, ref.name, ref.sector, ref.industry, ref.currency, ref.lot_size, format(ref.tick_size, "f"))


def _read_rows(db: StateDb) -> list[tuple[Any, ...]]:
    cols = ", ".join(_READ_COLUMNS)
    return db.rows(f"SELECT {cols} FROM {{t}}symbol_reference")


def import_symbols(store: Store, symbols: pd.DataFrame | str | Path, *, replace: bool = False) -> SymbolsReport:
    """Import symbol reference data from a CSV file or a frame; upsert by symbol, all or nothing.

    Parameters
    ----------
    store
        The store (embedded, PostgreSQL or TimescaleDB).
    symbols
        A CSV file (gzip etc. read directly) or a frame, with exactly the columns
        ``symbol, name, sector, industry, currency, lot_size, tick_size`` (see the module's
        rules; ``name``, ``sector`` and ``industry`` may be empty).
    replace
        Make the table exactly this input: stored symbols it does not name are removed.
        Default: add new symbols, update those already stored, keep the others.

    Returns
    -------
    SymbolsReport
        The symbols added, updated, unchanged (and removed), and those without bars in the
        store (allowed: reference data may come first).

    Raises
    ------
    InvalidInputError
        On a missing, unknown or repeated column, no rows, a bad field (naming the file,
        the line or row, and the column) or a symbol given twice (naming both lines);
        nothing is written.
    DataSourceError
        If the file cannot be read.
    StoreError
        If the store cannot be written; nothing changed.
    """
    if not isinstance(replace, bool):
        raise InvalidInputError(f"replace must be True or False, got {type(replace).__name__}")
    if isinstance(symbols, pd.DataFrame):
        source = "frame"
        refs = _checked(symbols, source, lines=False)
    elif isinstance(symbols, str | Path):
        path = Path(symbols)
        source = str(path)
        refs = _checked(_read_csv(path), source, lines=True)
    else:
        raise InvalidInputError(
            f"symbols must be a CSV file's path or a DataFrame of {list(REFERENCE_COLUMNS)}, "
            f"got {type(symbols).__name__}"
        )
    with_bars = set(store.list_symbols()["symbol"])
    now = pd.Timestamp.now(tz="UTC").isoformat()
    with store.transaction(schema=REFERENCE_SCHEMA, lock="reference:symbols") as db:
        stored = {str(r[0]): tuple(r[:7]) for r in _read_rows(db)}
        rows = {r.symbol: _stored_row(r) for r in refs}
        if not replace:
            # found by QA: an empty name, sector or industry erased the stored one; in a merge it means
            # "not given here" and keeps what is stored (with replace the table becomes the file)
            rows = {sym: _kept(row, stored.get(sym)) for sym, row in rows.items()}
        added = [r for r in refs if r.symbol not in stored]
        changed = [r for r in refs if r.symbol in stored and stored[r.symbol] != rows[r.symbol]]
        named = {r.symbol for r in refs}
        removed = sorted(s for s in stored if s not in named) if replace else []
        for chunk in (removed, [r.symbol for r in changed]):
            db.many("DELETE FROM {t}symbol_reference WHERE symbol = ?", [(s,) for s in chunk])
        db.many(
            "INSERT INTO {t}symbol_reference (symbol, name, sector, industry, currency, lot_size, tick_size, "
            "source, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*rows[r.symbol], source, now) for r in (*added, *changed)],
        )
    changed_names = {r.symbol for r in changed}
    return SymbolsReport(
        source=source,
        rows=len(refs),
        added=tuple(sorted(r.symbol for r in added)),
        updated=tuple(sorted(changed_names)),
        unchanged=tuple(sorted(r.symbol for r in refs if r.symbol in stored and r.symbol not in changed_names)),
        removed=tuple(removed),
        not_in_store=tuple(sorted(named - with_bars)),
        replace=replace,
    )


def _kept(row: tuple[Any, ...], stored: tuple[Any, ...] | None) -> tuple[Any, ...]:
    # name, sector and industry (fields 1-3) left empty keep the stored value
    if stored is None:
        return row
    pairs = enumerate(zip(row, stored, strict=True))
    return tuple(old if i in (1, 2, 3) and new is None else new for i, (new, old) in pairs)


def read_symbols(store: Store, symbols: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Return the stored reference data, one row per symbol, sorted by symbol.

    Columns: ``symbol, name, sector, industry, currency, lot_size`` (int64), ``tick_size``
    (float64; `tick_size` gives the exact decimal), ``source`` (the file or ``frame`` it
    came from) and ``updated`` (UTC). An unknown field is None.

    Raises
    ------
    NotFoundError
        If ``symbols`` names a symbol with no reference data (naming each).
    InvalidInputError
        If ``symbols`` holds something that is not a symbol.
    """
    wanted = None if symbols is None else check_symbols(symbols)
    with store.transaction(schema=REFERENCE_SCHEMA, read_only=True) as db:
        rows = _read_rows(db)
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(_READ_COLUMNS), dtype=object)
    frame["lot_size"] = frame["lot_size"].astype("int64")
    frame["tick_size"] = pd.Series(
        [float(Decimal(str(v))) for v in frame["tick_size"]], index=frame.index, dtype="float64"
    )
    frame["updated"] = pd.to_datetime(frame["updated"], utc=True, format="ISO8601")
    for col in ("symbol", "currency", "source"):
        frame[col] = frame[col].astype(object)
    frame = frame.sort_values("symbol", kind="stable").reset_index(drop=True)
    if wanted is not None:
        missing = [s for s in dict.fromkeys(wanted) if s not in set(frame["symbol"])]
        if missing:
            raise NotFoundError(
                f"no reference data for {', '.join(missing)}: import it with "
                "`bifrost data symbols import FILE` (import_symbols)"
            )
        frame = frame.set_index("symbol").loc[list(dict.fromkeys(wanted))].reset_index()
    return frame


def symbol_reference(store: Store, symbol: str) -> SymbolReference:
    """Return one symbol's reference data, its tick size an exact `~decimal.Decimal`.

    Raises
    ------
    NotFoundError
        If the symbol has no reference data.
    """
    symbol = check_symbol(symbol)
    with store.transaction(schema=REFERENCE_SCHEMA, read_only=True) as db:
        found = db.rows(
            "SELECT symbol, name, sector, industry, currency, lot_size, tick_size "
            "FROM {t}symbol_reference WHERE symbol = ?",
            (symbol,),
        )
    if not found:
        raise NotFoundError(
            f"no reference data for {symbol}: import it with `bifrost data symbols import FILE` (import_symbols)"
        )
    s, name, sector, industry, currency, lot, tick = found[0]
    return SymbolReference(
        symbol=str(s), name=name, sector=sector, industry=industry, currency=str(currency), lot_size=int(lot),
        tick_size=Decimal(str(tick)),
    )  # fmt: skip


def tick_size(store: Store, symbol: str) -> Decimal:
    """Return the smallest price increment of ``symbol``, exactly (what an order's price is checked against).

    Raises
    ------
    NotFoundError
        If the symbol has no reference data.
    """
    return symbol_reference(store, symbol).tick_size
