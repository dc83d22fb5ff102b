"""The data-source protocol, and `load_bars` / `ingest`, the validated ways in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol, runtime_checkable

import pandas as pd

from bifrost._checks import check_symbol, escape_csv_cell, quote
from bifrost.data._action_checks import warn_contradicted
from bifrost.data._columns import Frequency, find_seams, format_ts
from bifrost.data._report import IngestReport, new_ingest_id
from bifrost.data._store import BarStore, TimeLike
from bifrost.data._validate import OnError, ValidatedBars, validate_bars
from bifrost.errors import InvalidInputError

__all__ = ["BarSource", "ingest", "load_bars", "write_quarantine"]


@runtime_checkable
class BarSource(Protocol):
    """Serve daily or intraday OHLCV bars. Satisfy it structurally; do not inherit.

    ``bars`` returns a long frame with ``symbol, ts, open, high, low, close, volume``
    (optionally ``adj_close, dividend, split`` and ``line``) or the same on a
    ``(symbol, ts)`` index; values may be raw, `load_bars` validates them.
    ``metadata`` returns ``symbol, sector, synthetic`` (any subset of columns but symbol).
    ``frequency`` is what the bars are (``1d``, or an intraday frequency), or None for
    validation to infer it from their timestamps (`validate_bars`).
    """

    @property
    def name(self) -> str: ...

    @property
    def origin(self) -> str: ...

    @property
    def frequency(self) -> Frequency | None: ...

    def bars(
        self, symbols: Sequence[str] | None = None, start: TimeLike = None, end: TimeLike = None
    ) -> pd.DataFrame: ...

    def metadata(self) -> pd.DataFrame: ...


def load_bars(
    source: BarSource,
    symbols: Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    *,
    on_error: OnError = "strict",
) -> ValidatedBars:
    """Fetch bars from ``source`` and validate them at its frequency (see `validate_bars`)."""
    raw = source.bars(symbols, start, end)
    return validate_bars(raw, origin=source.origin, on_error=on_error, frequency=source.frequency)


def write_quarantine(validated: ValidatedBars, directory: Path, ingest_id: str) -> Path | None:
    """Write every issue of a repaired load to ``directory/ingest_id.csv``; None if clean.

    Text a spreadsheet would run as a formula (a cell starting with ``=``, ``+``, ``-``,
    ``@``, a TAB or a CR, such as a hostile symbol) is written with a leading ``'``.
    """
    if not validated.issues:
        return None
    path = Path(directory) / f"{ingest_id}.csv"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_issues(validated, path)
    except OSError as exc:
        if path.is_file():  # a half-written report (a full disk) is not left behind
            path.unlink()
        raise InvalidInputError(
            f"cannot write the quarantine report {path}: {exc.strerror or exc}; nothing was stored "
            "(pass a writable quarantine folder)"
        ) from exc
    return path


def _write_issues(validated: ValidatedBars, path: Path) -> None:
    pd.DataFrame(
        [
            {
                "origin": escape_csv_cell(i.origin),
                "line": i.line,
                "symbol": escape_csv_cell(i.symbol),
                "ts": escape_csv_cell(i.ts),
                "field": i.field,
                "reason": escape_csv_cell(i.reason),
                "action": i.action,
            }
            for i in validated.issues
        ]
    ).to_csv(path, index=False)


_MAX_SECTOR_CHARS = 64


def _checked_metadata(meta: object, origin: str) -> pd.DataFrame:
    # symbol metadata goes into the store as text: the same rules on both backends
    if not isinstance(meta, pd.DataFrame) or "symbol" not in meta.columns:
        raise InvalidInputError(f"{origin}: metadata must be a DataFrame with a symbol column")
    for sym in meta["symbol"]:
        check_symbol(sym, f"{origin}: metadata symbol")
    if "sector" in meta.columns:
        for sector in meta["sector"]:
            if sector is None or (isinstance(sector, float) and pd.isna(sector)):
                continue
            if not isinstance(sector, str) or not sector.isprintable() or not 0 < len(sector) <= _MAX_SECTOR_CHARS:
                raise InvalidInputError(
                    f"{origin}: a sector is 1-{_MAX_SECTOR_CHARS} printable characters, got {quote(sector)}"
                )
    return meta


def ingest(
    store: BarStore,
    source: BarSource,
    symbols: Sequence[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    *,
    on_error: OnError = "strict",
    quarantine_dir: Path | None = None,
) -> IngestReport:
    """Load bars from ``source``, validate them, and merge them into ``store``.

    In ``strict`` mode any bad row raises `ValidationError` and the store is untouched.
    In ``repair`` mode bad rows are dropped and listed, with their reasons, in a CSV
    quarantine report under ``quarantine_dir`` (default: ``<store home>/quarantine``).
    Re-ingesting the same data changes nothing; overlapping ranges merge; revised rows
    replace old ones and each revised field is recorded (`BarStore.revisions`).

    Where the merge leaves a symbol with ``adj_close`` on some bars and not others (two
    sources that disagree about adjustment), the report's ``seams`` names each place they
    meet; adjusted reads are made consistent there (`bifrost.data._columns.source_factor`).
    """
    validated = load_bars(source, symbols, start, end, on_error=on_error)
    meta = _checked_metadata(source.metadata(), source.origin)
    ingest_id = new_ingest_id()
    if quarantine_dir is None:
        quarantine_dir = Path(getattr(store, "home", Path(".bifrost"))) / "quarantine"
    qpath = write_quarantine(validated, quarantine_dir, ingest_id)
    stored = set(store.list_symbols()["symbol"])
    report = store.write(
        validated,
        ingest_id=ingest_id,
        source=source.name,
        quarantine_path=str(qpath) if qpath else None,
        symbol_meta=meta,
    )
    if len(validated.actions):
        warn_contradicted(store, validated.actions)  # a source's split its own closes do not show
    seams = _seams(store, [s for s in report.symbols if s in stored])
    return replace(report, seams=seams) if seams else report


def _seams(store: BarStore, merged: Sequence[str]) -> tuple[str, ...]:
    # only a symbol that had bars before this ingest can now hold two sources
    if not merged:
        return ()
    names = sorted(merged)
    own = store._finest(names, store._symbol_frequencies(), None)
    cols = replace(store._read_columns(names, None, None, ["close", "adj_close"]), frequency=own)
    actions = store.read_actions(list(merged))
    with_dividends = set(actions.loc[actions["kind"] == "dividend", "symbol"])
    return tuple(
        f"{sym} {format_ts(ts_ns, cols.frequency)}: {detail}"
        for sym, ts_ns, detail in find_seams(cols)
        if sym not in with_dividends
    )
