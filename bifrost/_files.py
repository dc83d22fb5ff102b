"""Reading user files: a bounded header check and one mapping of file errors to `DataSourceError`.

Every CSV reader (bars, transactions, LOBSTER messages) reads through these, so that a
missing, unreadable, non-UTF-8, truncated or corrupt file says so in the same words.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from bifrost._checks import quote
from bifrost.errors import DataSourceError, SchemaError

__all__ = ["MAX_HEADER_CHARS", "file_errors", "open_text", "read_header"]

# A CSV header names a few dozen columns; these bounds refuse anything else before pandas
# spends seconds and gigabytes on it (a 5 MB single line, 300,000 columns).
MAX_HEADER_CHARS = 64 * 1024
_MAX_COLUMNS = 64
# what a truncated or corrupt compressed file raises, by codec
_CORRUPT = (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError, zipfile.BadZipFile)
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


@contextmanager
def file_errors(path: Path) -> Iterator[None]:
    """Turn what reading ``path`` raises into `DataSourceError` naming the file and the cause.

    A missing file, a folder, text that is not UTF-8, a truncated or corrupt archive,
    what pandas' parser refuses (a `ValueError`), and any other `OSError`.
    """
    try:
        yield
    except FileNotFoundError as exc:
        raise DataSourceError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise DataSourceError(f"{path}: is a folder, not a CSV file") from exc
    except UnicodeDecodeError as exc:
        raise DataSourceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except _CORRUPT as exc:
        raise DataSourceError(
            f"{path}: cannot be read: the file is truncated or corrupt ({type(exc).__name__}: "
            f"{quote(str(exc), 200)}); download or copy it again"
        ) from exc
    except ValueError as exc:  # pandas' ParserError is a ValueError
        raise DataSourceError(f"{path}: cannot read as CSV: {quote(str(exc), 200)}") from exc
    except OSError as exc:
        raise DataSourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def read_header(path: Path, *, what: str, example: str, max_columns: int = _MAX_COLUMNS) -> str:
    """Return the first line of a CSV file (read bounded, through its codec), checked for size.

    Raises
    ------
    DataSourceError
        If the file is missing, a folder, unreadable, or a truncated or corrupt archive.
    SchemaError
        If the first line is longer than 64 KiB or names more than ``max_columns`` columns:
        it cannot be the header of ``what``, and pandas would spend seconds and gigabytes
        finding that out.
    """
    with file_errors(path), open_text(path) as handle:
        line = handle.readline(MAX_HEADER_CHARS + 1)
    if len(line) > MAX_HEADER_CHARS:
        raise SchemaError(
            f"{path}: the first line is longer than {MAX_HEADER_CHARS:,} characters, so it is not the "
            f"header of {what} (at most {max_columns} columns, e.g. {example})"
        )
    n_columns = len(line.split(","))
    if n_columns > max_columns:
        raise SchemaError(
            f"{path}: the header has {n_columns:,} columns; {what} has at most {max_columns} (e.g. {example})"
        )
    return line.rstrip("\r\n")


def open_text(path: Path) -> IO[str]:
    """Open ``path`` as UTF-8 text (a BOM skipped), through gzip, bz2, xz or a zip's first member."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        archive = zipfile.ZipFile(path)
        members = [n for n in archive.namelist() if not n.endswith("/")]
        if not members:
            archive.close()
            raise zipfile.BadZipFile("the archive holds no file")
        return io.TextIOWrapper(archive.open(members[0]), encoding="utf-8-sig", errors="replace")
    opener = _OPENERS.get(suffix)
    if opener is not None:
        return opener(path, "rt", encoding="utf-8-sig", errors="replace")  # type: ignore[no-any-return, operator]
    return path.open(encoding="utf-8-sig", errors="replace")
