"""Files bifrost writes for a user (a tearsheet, a report, a heatmap): checked before any work.

A path whose folder does not exist, that names a folder, or that cannot be written is an
`InvalidInputError` naming the path and the fix, raised before a long computation rather
than after it. A write goes to a temporary file next to the target and is renamed into
place, so a full disk never leaves a truncated page behind (a device or a pipe, such as
``/dev/stdout``, is written to directly and never renamed over).
"""

from __future__ import annotations

import os
from pathlib import Path

from bifrost.errors import InvalidInputError

__all__ = ["output_path", "write_text"]


def output_path(path: str | os.PathLike[str], what: str = "output file") -> Path:
    """Return ``path`` as a `Path` once a file can be written there.

    Parameters
    ----------
    path
        The file to write (it may exist: it will be replaced).
    what
        What the file is, for the message (``"--output"``, ``"tearsheet"``).

    Raises
    ------
    InvalidInputError
        If the path is empty, names a folder, or its folder does not exist or is not writable.
    """
    if not str(path).strip():
        raise InvalidInputError(f"{what}: expected a file path, got an empty one")
    target = Path(path).expanduser()
    if target.is_dir():
        raise InvalidInputError(f"{what}: {target} is a folder; give a file name inside it")
    folder = target.parent
    if not folder.exists():
        raise InvalidInputError(
            f"{what}: cannot write {target}: the folder {folder} does not exist; create it or choose another path"
        )
    if not folder.is_dir():
        raise InvalidInputError(f"{what}: cannot write {target}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise InvalidInputError(f"{what}: cannot write {target}: permission denied; choose another path")
    return target


def write_text(path: str | os.PathLike[str], text: str, what: str = "output file") -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all; return the path written.

    Raises
    ------
    InvalidInputError
        If :func:`output_path` refuses the path, or the write fails (a full disk): the
        target is then left as it was.
    """
    target = output_path(path, what)
    real = target.resolve() if target.is_symlink() else target  # write through a link, not over it
    try:
        if real.exists() and not real.is_file():
            # a device or a pipe (/dev/stdout): written to, never renamed over
            with real.open("w", encoding="utf-8") as stream:
                stream.write(text)
            return target
        partial = real.with_name(f".{real.name}.{os.getpid()}.tmp")
        try:
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, real)
        finally:
            partial.unlink(missing_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"{what}: cannot write {target}: {exc.strerror or exc}") from exc
    return target
